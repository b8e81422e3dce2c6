//! Attestation PKI for the integration tests: root and intermediate CAs and
//! WebAuthn §8.2.1 attestation leaf certificates, made with rcgen (ring backend).
//!
//! Every certificate gets a random serial number, so chains made in the same
//! test never collide.

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, CustomExtension, DistinguishedName, DnType,
    IsCa, KeyPair, KeyUsagePurpose, SerialNumber, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384,
};

/// OID of the FIDO AAGUID certificate extension (id-fido-gen-ce-aaguid).
pub const FIDO_AAGUID_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 45724, 1, 1, 4];
/// A private-arc OID nobody understands, used for the unknown critical extension.
pub const UNKNOWN_CRITICAL_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 99999, 42, 1];
/// The OU that WebAuthn §8.2.1 requires in a packed attestation leaf.
pub const ATTESTATION_OU: &str = "Authenticator Attestation";

/// A certificate authority: its certificate plus what rcgen needs to sign children.
pub struct Ca {
    pub cert_der: Vec<u8>,
    pub cert_pem: String,
    /// The CA's P-256 key as PKCS#8 DER.
    pub key_pkcs8: Vec<u8>,
    cert: Certificate,
    key: KeyPair,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

/// An attestation key and its certificate chain, as it goes into `x5c`.
#[derive(Clone, Debug)]
pub struct AttestationChain {
    /// The leaf's P-256 private key as PKCS#8 DER (for ring's ECDSA_P256_SHA256_ASN1_SIGNING),
    /// or its P-384 key when `leaf_p384` is set.
    pub leaf_key_pkcs8: Vec<u8>,
    /// The leaf's key is P-384 (see [`LeafOptions::p384_key`]).
    pub leaf_p384: bool,
    /// DER certificates: the leaf first, then the intermediates given to [`attestation_chain`].
    pub x5c: Vec<Vec<u8>>,
}

impl AttestationChain {
    /// The leaf certificate (DER).
    pub fn leaf_der(&self) -> &[u8] {
        &self.x5c[0]
    }

    /// A metadata BLOB: `payload` as a compact JWS signed ES256 by the leaf, the leaf in `x5c`.
    pub fn sign_jws(&self, payload: &serde_json::Value) -> String {
        use base64::Engine as _;
        let url = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let leaf = base64::engine::general_purpose::STANDARD.encode(self.leaf_der());
        let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "x5c": [leaf]});
        let input = format!(
            "{}.{}",
            url(header.to_string().as_bytes()),
            url(payload.to_string().as_bytes())
        );
        let rng = ring::rand::SystemRandom::new();
        let key = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &self.leaf_key_pkcs8,
            &rng,
        )
        .expect("signer key");
        let signature = key.sign(&rng, input.as_bytes()).expect("sign");
        format!("{input}.{}", url(signature.as_ref()))
    }
}

/// A validity period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validity {
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

impl Validity {
    /// Valid from a day ago until five years from now.
    pub fn current() -> Self {
        let now = Utc::now();
        Validity {
            not_before: now - Duration::days(1),
            not_after: now + Duration::days(5 * 365),
        }
    }

    /// Valid from two years ago until yesterday.
    pub fn expired() -> Self {
        let now = Utc::now();
        Validity {
            not_before: now - Duration::days(2 * 365),
            not_after: now - Duration::days(1),
        }
    }

    /// Valid only from a year from now.
    pub fn not_yet_valid() -> Self {
        let now = Utc::now();
        Validity {
            not_before: now + Duration::days(365),
            not_after: now + Duration::days(2 * 365),
        }
    }

    fn apply(&self, params: &mut CertificateParams) {
        params.not_before = shift(rcgen::date_time_ymd(1970, 1, 1), self.not_before);
        params.not_after = shift(rcgen::date_time_ymd(1970, 1, 1), self.not_after);
    }
}

/// Options for the attestation leaf certificate.
#[derive(Clone, Debug, Default)]
pub struct LeafOptions {
    /// Add the FIDO AAGUID extension (1.3.6.1.4.1.45724.1.1.4, value `04 10 <aaguid>`).
    pub aaguid_extension: Option<[u8; 16]>,
    /// Wrongly mark the leaf as a CA (BasicConstraints CA=true).
    pub ca: bool,
    /// Validity; default [`Validity::current`].
    pub validity: Option<Validity>,
    /// Add a critical extension with an unknown OID.
    pub unknown_critical_extension: bool,
    /// Subject CN; default "fidoflow test attestation".
    pub common_name: Option<String>,
    /// Subject OU; default "Authenticator Attestation" (set something else to break §8.2.1).
    pub organizational_unit: Option<String>,
    /// Subject C; default "SE" (anything but two letters breaks §8.2.1).
    pub country: Option<String>,
    /// Mark the AAGUID extension critical (which §8.2.1 forbids).
    pub aaguid_extension_critical: bool,
    /// A P-384 leaf key instead of P-256 (fido-u2f allows P-256 only).
    pub p384_key: bool,
}

/// chrono → rcgen's `time::OffsetDateTime`, without depending on the `time` crate
/// directly: shift rcgen's own epoch value by a std duration.
fn shift<T>(epoch: T, t: DateTime<Utc>) -> T
where
    T: std::ops::Add<std::time::Duration, Output = T>
        + std::ops::Sub<std::time::Duration, Output = T>,
{
    let secs = t.timestamp();
    if secs >= 0 {
        epoch + std::time::Duration::from_secs(secs as u64)
    } else {
        epoch - std::time::Duration::from_secs(secs.unsigned_abs())
    }
}

fn random_serial() -> SerialNumber {
    let mut s = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut s);
    s[0] &= 0x7f; // positive
    s[0] |= 0x01; // no leading zero byte
    SerialNumber::from(s.to_vec())
}

fn ca_dn(name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "SE");
    dn.push(DnType::OrganizationName, "fidoflow tests");
    dn.push(DnType::CommonName, name);
    dn
}

fn ca_params(name: &str, validity: Validity) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = ca_dn(name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.serial_number = Some(random_serial());
    params.use_authority_key_identifier_extension = true;
    validity.apply(&mut params);
    params
}

fn new_key() -> KeyPair {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("generate P-256 key")
}

fn finish(cert: Certificate, key: KeyPair) -> Ca {
    Ca {
        cert_der: cert.der().to_vec(),
        cert_pem: cert.pem(),
        key_pkcs8: key.serialize_der(),
        cert,
        key,
    }
}

/// A self-signed root CA (P-256), valid from a year ago until ten years from now.
pub fn root_ca(name: &str) -> Ca {
    let now = Utc::now();
    let validity = Validity {
        not_before: now - Duration::days(365),
        not_after: now + Duration::days(3650),
    };
    let mut params = ca_params(name, validity);
    params.use_authority_key_identifier_extension = false;
    let key = new_key();
    let cert = params.self_signed(&key).expect("self-sign root CA");
    finish(cert, key)
}

/// An intermediate CA (P-256) signed by `parent`.
pub fn intermediate_ca(parent: &Ca, name: &str, validity: Validity) -> Ca {
    let params = ca_params(name, validity);
    let key = new_key();
    let cert = params
        .signed_by(&key, &parent.cert, &parent.key)
        .expect("sign intermediate CA");
    finish(cert, key)
}

/// A P-256 attestation leaf signed by `issuer`; `x5c` is the leaf followed by
/// `intermediates_in_x5c` (in the given order; the root normally isn't included).
pub fn attestation_chain(
    issuer: &Ca,
    intermediates_in_x5c: &[&Ca],
    opts: LeafOptions,
) -> AttestationChain {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, opts.country.as_deref().unwrap_or("SE"));
    dn.push(DnType::OrganizationName, "fidoflow tests");
    dn.push(
        DnType::OrganizationalUnitName,
        opts.organizational_unit
            .as_deref()
            .unwrap_or(ATTESTATION_OU),
    );
    dn.push(
        DnType::CommonName,
        opts.common_name
            .as_deref()
            .unwrap_or("fidoflow test attestation"),
    );
    params.distinguished_name = dn;
    params.is_ca = if opts.ca {
        IsCa::Ca(BasicConstraints::Unconstrained)
    } else {
        IsCa::ExplicitNoCa
    };
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.serial_number = Some(random_serial());
    params.use_authority_key_identifier_extension = true;
    opts.validity
        .unwrap_or_else(Validity::current)
        .apply(&mut params);
    if let Some(aaguid) = opts.aaguid_extension {
        let mut value = vec![0x04, 0x10];
        value.extend_from_slice(&aaguid);
        let mut ext = CustomExtension::from_oid_content(FIDO_AAGUID_OID, value);
        ext.set_criticality(opts.aaguid_extension_critical);
        params.custom_extensions.push(ext);
    }
    if opts.unknown_critical_extension {
        // DER NULL as the value.
        let mut ext = CustomExtension::from_oid_content(UNKNOWN_CRITICAL_OID, vec![0x05, 0x00]);
        ext.set_criticality(true);
        params.custom_extensions.push(ext);
    }
    let key = if opts.p384_key {
        KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).expect("generate P-384 key")
    } else {
        new_key()
    };
    let cert = params
        .signed_by(&key, &issuer.cert, &issuer.key)
        .expect("sign attestation leaf");
    let mut x5c = vec![cert.der().to_vec()];
    x5c.extend(intermediates_in_x5c.iter().map(|ca| ca.cert_der.clone()));
    AttestationChain {
        leaf_key_pkcs8: key.serialize_der(),
        leaf_p384: opts.p384_key,
        x5c,
    }
}

impl Ca {
    /// A PEM CRL issued by this CA (valid from a day ago for a week) listing the serial numbers
    /// of the given DER certificates.
    pub fn crl_revoking(&self, certs: &[&[u8]]) -> String {
        use der::Decode as _;
        let now = Utc::now();
        let epoch = rcgen::date_time_ymd(1970, 1, 1);
        let params = rcgen::CertificateRevocationListParams {
            this_update: shift(epoch, now - Duration::days(1)),
            next_update: shift(epoch, now + Duration::days(7)),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: certs
                .iter()
                .map(|der| {
                    let cert = x509_cert::Certificate::from_der(der).expect("a certificate");
                    rcgen::RevokedCertParams {
                        serial_number: SerialNumber::from(
                            cert.tbs_certificate.serial_number.as_bytes().to_vec(),
                        ),
                        revocation_time: shift(epoch, now - Duration::hours(1)),
                        reason_code: None,
                        invalidity_date: None,
                    }
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        params
            .signed_by(&self.cert, &self.key)
            .expect("sign CRL")
            .pem()
            .expect("CRL PEM")
    }
}
