//! Unit tests of WebAuthn verification with self-made authenticators and certificate chains.

mod asn1;
mod authentication;
mod cbor;
mod error;
mod evidence;
mod formats;
mod fuzz;
mod inspect;
mod judge;
mod mds_characteristics;
mod mds_parsing;
mod ml_dsa;
mod registration;
mod report;
mod transaction;
mod trust;
mod trust_keys;
mod trust_schemes;

use chrono::{DateTime, Utc};
use ciborium::value::Value as Cbor;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, IsCa, KeyPair,
    KeyUsagePurpose,
};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_ASN1_SIGNING};
use serde_json::{json, Value};

use super::{
    AttestationPolicy, FormatPolicy, RegistrationExpectations, TrustAnchors, WEBAUTHN_CREATE,
};
use crate::domain::b64url;

pub const CHALLENGE: [u8; 32] = [7; 32];
pub const RP_ID: &str = "example.org";
pub const ORIGIN: &str = "https://example.org";
pub const AAGUID: [u8; 16] = [0x11; 16];
pub const UP: u8 = 0x01;
pub const UV: u8 = 0x04;
pub const BE: u8 = 0x08;
pub const BS: u8 = 0x10;
pub const AT: u8 = 0x40;
pub const ED: u8 = 0x80;
pub const OFFERED: [i64; 5] = [-8, -7, -257, -35, -36];

pub fn now() -> DateTime<Utc> {
    "2025-06-01T12:00:00Z".parse().unwrap()
}

pub fn origins() -> Vec<String> {
    vec![ORIGIN.to_string()]
}

/// Expectations matching `Reg::new()`.
pub fn expectations<'a>(
    origins: &'a [String],
    anchors: &'a TrustAnchors,
) -> RegistrationExpectations<'a> {
    RegistrationExpectations {
        challenge: &CHALLENGE,
        rp_id: RP_ID,
        origins,
        allow_cross_origin: false,
        top_origins: &[],
        client_data_types: &[WEBAUTHN_CREATE],
        require_user_verification: false,
        algorithms: &OFFERED,
        policy: AttestationPolicy::AcceptAny,
        trust_anchors: anchors,
        now: now(),
        accept_unknown_formats: false,
        formats: FormatPolicy::default(),
    }
}

/// A software P-256 key.
pub struct Key(EcdsaKeyPair);

impl Key {
    pub fn generate() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        Self::from_pkcs8(pkcs8.as_ref())
    }

    pub fn from_pkcs8(der: &[u8]) -> Self {
        let rng = SystemRandom::new();
        Self(EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, der, &rng).unwrap())
    }

    pub fn point(&self) -> &[u8] {
        self.0.public_key().as_ref()
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.0
            .sign(&SystemRandom::new(), message)
            .unwrap()
            .as_ref()
            .to_vec()
    }

    /// The COSE_Key of this key with algorithm `alg` (ES256 unless a test lies).
    pub fn cose(&self, alg: i64) -> Vec<u8> {
        let point = self.point();
        cbor(&Cbor::Map(vec![
            (int(1), int(2)),
            (int(3), int(alg)),
            (int(-1), int(1)),
            (int(-2), Cbor::Bytes(point[1..33].to_vec())),
            (int(-3), Cbor::Bytes(point[33..65].to_vec())),
        ]))
    }
}

pub fn int(i: i64) -> Cbor {
    Cbor::Integer(i.into())
}

pub fn text(s: &str) -> Cbor {
    Cbor::Text(s.to_string())
}

pub fn cbor(value: &Cbor) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out).unwrap();
    out
}

/// The COSE_Key of an EC2 public key from its uncompressed SEC1 point (04 ‖ x ‖ y).
pub fn ec2_cose_key(alg: i64, crv: i64, point: &[u8]) -> Vec<u8> {
    let size = (point.len() - 1) / 2;
    cbor(&Cbor::Map(vec![
        (int(1), int(2)),
        (int(3), int(alg)),
        (int(-1), int(crv)),
        (int(-2), Cbor::Bytes(point[1..1 + size].to_vec())),
        (int(-3), Cbor::Bytes(point[1 + size..].to_vec())),
    ]))
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

/// How the attestation statement is made.
pub enum Att {
    None,
    /// Packed self attestation claiming `alg`.
    SelfPacked {
        alg: i64,
    },
    /// Packed x5c attestation signed by `signer` (the leaf key) with these certificates.
    Packed {
        x5c: Vec<Vec<u8>>,
        signer: Key,
    },
    /// fido-u2f attestation.
    U2f {
        x5c: Vec<Vec<u8>>,
        signer: Key,
    },
    /// A raw statement with the given format.
    Raw {
        fmt: String,
        stmt: Cbor,
    },
}

/// A registration response under construction; every part can be spoiled by a test.
pub struct Reg {
    pub key: Key,
    pub client_type: String,
    pub challenge: Vec<u8>,
    pub origin: String,
    pub cross_origin: Option<bool>,
    pub top_origin: Option<String>,
    /// `clientDataJSON.tokenBinding`, when set.
    pub token_binding: Option<Value>,
    pub rp_id: String,
    pub flags: u8,
    pub sign_count: u32,
    pub aaguid: [u8; 16],
    pub credential_id: Vec<u8>,
    pub cose_alg: i64,
    pub cose_key: Option<Vec<u8>>,
    pub extensions: Option<Vec<u8>>,
    pub trailing: Vec<u8>,
    pub att: Att,
    pub tamper_signature: bool,
}

impl Reg {
    pub fn new() -> Self {
        Self {
            key: Key::generate(),
            client_type: "webauthn.create".into(),
            challenge: CHALLENGE.to_vec(),
            origin: ORIGIN.into(),
            cross_origin: None,
            top_origin: None,
            token_binding: None,
            rp_id: RP_ID.into(),
            flags: UP | UV | AT,
            sign_count: 0,
            aaguid: AAGUID,
            credential_id: vec![0xc1; 32],
            cose_alg: -7,
            cose_key: None,
            extensions: None,
            trailing: Vec::new(),
            att: Att::None,
            tamper_signature: false,
        }
    }

    pub fn with(att: Att) -> Self {
        Self { att, ..Self::new() }
    }

    pub fn cose_key(&self) -> Vec<u8> {
        self.cose_key
            .clone()
            .unwrap_or_else(|| self.key.cose(self.cose_alg))
    }

    pub fn client_data(&self) -> Vec<u8> {
        let mut data = json!({
            "type": self.client_type,
            "challenge": b64url(&self.challenge),
            "origin": self.origin,
        });
        if let Some(cross) = self.cross_origin {
            data["crossOrigin"] = json!(cross);
        }
        if let Some(top) = &self.top_origin {
            data["topOrigin"] = json!(top);
        }
        if let Some(tb) = &self.token_binding {
            data["tokenBinding"] = tb.clone();
        }
        serde_json::to_vec(&data).unwrap()
    }

    pub fn auth_data(&self) -> Vec<u8> {
        let mut out = sha256(self.rp_id.as_bytes());
        out.push(self.flags);
        out.extend_from_slice(&self.sign_count.to_be_bytes());
        if self.flags & AT != 0 {
            out.extend_from_slice(&self.aaguid);
            out.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
            out.extend_from_slice(&self.credential_id);
            out.extend_from_slice(&self.cose_key());
        }
        if let Some(ext) = &self.extensions {
            out.extend_from_slice(ext);
        }
        out.extend_from_slice(&self.trailing);
        out
    }

    pub fn attestation_object(&self) -> Vec<u8> {
        let auth_data = self.auth_data();
        let client_data_hash = sha256(&self.client_data());
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&client_data_hash);
        let tamper = |mut sig: Vec<u8>| {
            if self.tamper_signature {
                if let Some(last) = sig.last_mut() {
                    *last ^= 1;
                }
            }
            Cbor::Bytes(sig)
        };
        let x5c =
            |certs: &[Vec<u8>]| Cbor::Array(certs.iter().map(|c| Cbor::Bytes(c.clone())).collect());
        let (fmt, stmt) = match &self.att {
            Att::None => ("none".to_string(), Cbor::Map(vec![])),
            Att::SelfPacked { alg } => (
                "packed".into(),
                Cbor::Map(vec![
                    (text("alg"), int(*alg)),
                    (text("sig"), tamper(self.key.sign(&signed))),
                ]),
            ),
            Att::Packed { x5c: certs, signer } => (
                "packed".into(),
                Cbor::Map(vec![
                    (text("alg"), int(-7)),
                    (text("sig"), tamper(signer.sign(&signed))),
                    (text("x5c"), x5c(certs)),
                ]),
            ),
            Att::U2f { x5c: certs, signer } => {
                let mut data = vec![0u8];
                data.extend_from_slice(&sha256(self.rp_id.as_bytes()));
                data.extend_from_slice(&client_data_hash);
                data.extend_from_slice(&self.credential_id);
                data.extend_from_slice(self.key.point());
                (
                    "fido-u2f".into(),
                    Cbor::Map(vec![
                        (text("sig"), tamper(signer.sign(&data))),
                        (text("x5c"), x5c(certs)),
                    ]),
                )
            }
            Att::Raw { fmt, stmt } => (fmt.clone(), stmt.clone()),
        };
        cbor(&Cbor::Map(vec![
            (text("fmt"), text(&fmt)),
            (text("attStmt"), stmt),
            (text("authData"), Cbor::Bytes(auth_data)),
        ]))
    }

    /// The RegistrationResponseJSON.
    pub fn json(&self) -> Value {
        let id = b64url(&self.credential_id);
        json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(&self.client_data()),
                "attestationObject": b64url(&self.attestation_object()),
                "transports": ["usb", "internal", "usb", "carrier-pigeon"],
            },
            "clientExtensionResults": {"credProps": {"rk": true}},
            "authenticatorAttachment": "cross-platform",
        })
    }
}

/// A certificate and its key, made with rcgen.
pub struct Issued {
    pub cert: rcgen::Certificate,
    pub key: KeyPair,
}

impl Issued {
    pub fn der(&self) -> Vec<u8> {
        self.cert.der().to_vec()
    }

    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// The ring key of this certificate, to sign attestations.
    pub fn signer(&self) -> Key {
        Key::from_pkcs8(&self.key.serialize_der())
    }

    /// A CRL this certificate issues, listing `revoked` serial numbers.
    pub fn crl(&self, revoked: &[&[u8]]) -> rcgen::CertificateRevocationList {
        signed_crl(&self.cert, &self.key, revoked)
    }
}

/// A CRL of `issuer` (valid through 2025) listing `revoked` serial numbers, revoked in
/// February 2025.
pub fn signed_crl(
    issuer: &rcgen::Certificate,
    key: &KeyPair,
    revoked: &[&[u8]],
) -> rcgen::CertificateRevocationList {
    rcgen::CertificateRevocationListParams {
        this_update: rcgen::date_time_ymd(2025, 1, 1),
        next_update: rcgen::date_time_ymd(2026, 1, 1),
        crl_number: rcgen::SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: revoked
            .iter()
            .map(|serial| rcgen::RevokedCertParams {
                serial_number: rcgen::SerialNumber::from(serial.to_vec()),
                revocation_time: rcgen::date_time_ymd(2025, 2, 1),
                reason_code: None,
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    }
    .signed_by(issuer, key)
    .unwrap()
}

/// Parameters of a CA certificate valid 2024–2030.
pub fn ca_params(cn: &str, path_len: Option<u8>) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn.push(DnType::OrganizationName, "Test Vendor");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(match path_len {
        Some(n) => BasicConstraints::Constrained(n),
        None => BasicConstraints::Unconstrained,
    });
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2030, 1, 1);
    params
}

/// Parameters of a packed attestation leaf (§8.2.1), with the AAGUID extension when given.
pub fn leaf_params(aaguid: Option<[u8; 16]>) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "CH");
    dn.push(DnType::OrganizationName, "Test Vendor");
    dn.push(DnType::OrganizationalUnitName, "Authenticator Attestation");
    dn.push(DnType::CommonName, "Test Authenticator");
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2030, 1, 1);
    if let Some(aaguid) = aaguid {
        params.custom_extensions.push(aaguid_extension(&aaguid));
    }
    params
}

/// The FIDO AAGUID extension (id-fido-gen-ce-aaguid): an OCTET STRING of the 16 bytes.
pub fn aaguid_extension(aaguid: &[u8; 16]) -> CustomExtension {
    let mut content = vec![0x04, 0x10];
    content.extend_from_slice(aaguid);
    CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 45724, 1, 1, 4], content)
}

/// An unknown extension marked critical.
pub fn unknown_critical_extension() -> CustomExtension {
    let mut ext = CustomExtension::from_oid_content(&[1, 2, 3, 4, 5, 6], vec![0x05, 0x00]);
    ext.set_criticality(true);
    ext
}

pub fn self_signed(params: CertificateParams) -> Issued {
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Issued { cert, key }
}

pub fn issue(params: CertificateParams, issuer: &Issued) -> Issued {
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer.cert, &issuer.key).unwrap();
    Issued { cert, key }
}

/// root → intermediate → leaf, the usual shape.
pub struct Pki {
    pub root: Issued,
    pub intermediate: Issued,
    pub leaf: Issued,
}

impl Pki {
    pub fn new() -> Self {
        let root = self_signed(ca_params("Test Root", None));
        let intermediate = issue(ca_params("Test Intermediate", Some(0)), &root);
        let leaf = issue(leaf_params(Some(AAGUID)), &intermediate);
        Self {
            root,
            intermediate,
            leaf,
        }
    }

    pub fn anchors(&self) -> TrustAnchors {
        TrustAnchors::from_pem(&self.root.pem()).unwrap()
    }

    /// A packed registration attested by `leaf` with `x5c` = leaf, intermediate.
    pub fn packed(&self) -> Reg {
        Reg::with(Att::Packed {
            x5c: vec![self.leaf.der(), self.intermediate.der()],
            signer: self.leaf.signer(),
        })
    }
}
