//! Unit tests of UAF verification: the TLV reader, every algorithm with keys the tests make,
//! the eBay vectors, and the server's checks on responses a tiny test-only authenticator builds
//! (`Authenticator` below; the full software UAF authenticator of the HTTP tests lives in
//! `tests/common/softuaf.rs`).

mod algorithms;
mod channel_binding;
mod fuzz;
mod messages;
mod policy;
mod tlv;
mod vectors;
mod verify;

use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED_SIGNING,
};
use serde_json::{json, Value};

use super::algorithms::{
    ALG_KEY_ECC_X962_RAW, ALG_SIGN_SECP256R1_ECDSA_SHA256_DER, ALG_SIGN_SECP256R1_ECDSA_SHA256_RAW,
};
use super::tlv::*;
use super::{Policy, StatusCode, UafRefusal};
use crate::domain::b64url;

pub const APP_ID: &str = "https://example.org/uaf/facets";
pub const FACET: &str = "https://example.org";
pub const CHALLENGE: &str = "Q2hhbGxlbmdlIGZvciB0aGUgdGVzdHM";
pub const AAID: &str = "FFFF#0001";

/// One TLV: little-endian tag and length, then the value.
pub fn tlv(tag: u16, value: &[u8]) -> Vec<u8> {
    let len = u16::try_from(value.len()).expect("a test TLV fits in 64 KiB");
    let mut out = Vec::with_capacity(4 + value.len());
    out.extend_from_slice(&tag.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(value);
    out
}

/// A composite TLV of `parts`.
pub fn composite(tag: u16, parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(tag, &parts.concat())
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

/// fcParams as a UAF client sends them: base64url of FinalChallengeParams JSON.
pub fn fc_params(app_id: &str, challenge: &str, facet: &str) -> String {
    let json = json!({
        "appID": app_id,
        "challenge": challenge,
        "facetID": facet,
        "channelBinding": {},
    });
    b64url(json.to_string().as_bytes())
}

/// A response message: `[{header, fcParams, assertions}]`.
pub fn response(op: &str, fc_params: &str, assertions: &[Vec<u8>]) -> Value {
    let assertions: Vec<Value> = assertions
        .iter()
        .map(|a| json!({ "assertionScheme": "UAFV1TLV", "assertion": b64url(a) }))
        .collect();
    json!([{
        "header": { "upv": { "major": 1, "minor": 1 }, "op": op, "appID": APP_ID },
        "fcParams": fc_params,
        "assertions": assertions,
    }])
}

/// Asserts a refusal's status code and check name.
#[track_caller]
pub fn refused<T: std::fmt::Debug>(
    result: Result<T, UafRefusal>,
    status: StatusCode,
    check: &str,
) -> UafRefusal {
    let refusal = result.expect_err("the input was accepted but should have been refused");
    assert_eq!(
        (refusal.status, refusal.check),
        (status, check),
        "refused for another reason: {}",
        refusal.detail
    );
    refusal
}

/// A P-256 key that signs `r || s` or DER.
pub struct P256(EcdsaKeyPair, EcdsaKeyPair);

impl P256 {
    pub fn generate() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        Self::from_pkcs8(pkcs8.as_ref())
    }

    pub fn from_pkcs8(der: &[u8]) -> Self {
        let rng = SystemRandom::new();
        Self(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng).unwrap(),
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, der, &rng).unwrap(),
        )
    }

    /// The uncompressed point (ALG_KEY_ECC_X962_RAW).
    pub fn point(&self) -> Vec<u8> {
        self.0.public_key().as_ref().to_vec()
    }

    /// The SubjectPublicKeyInfo (ALG_KEY_ECC_X962_DER).
    pub fn spki(&self) -> Vec<u8> {
        let mut out = hex("3059301306072a8648ce3d020106082a8648ce3d030107034200");
        out.extend_from_slice(&self.point());
        out
    }

    pub fn sign_raw(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        self.0.sign(&rng, message).unwrap().as_ref().to_vec()
    }

    pub fn sign_der(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        self.1.sign(&rng, message).unwrap().as_ref().to_vec()
    }
}

pub fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// The fields of a KRD or signed data, each settable so a test can break one.
#[derive(Clone)]
pub struct Fields {
    pub aaid: Vec<u8>,
    pub version: u16,
    pub mode: u8,
    pub sign_alg: u16,
    pub key_encoding: u16,
    pub fch: Vec<u8>,
    pub key_id: Vec<u8>,
    pub sign_counter: u32,
    pub reg_counter: u32,
    pub public_key: Vec<u8>,
    pub nonce: Vec<u8>,
    pub tch: Vec<u8>,
}

impl Fields {
    pub fn new(fch: Vec<u8>, public_key: Vec<u8>) -> Self {
        Self {
            aaid: AAID.as_bytes().to_vec(),
            version: 1,
            mode: 0x01,
            sign_alg: ALG_SIGN_SECP256R1_ECDSA_SHA256_RAW,
            key_encoding: ALG_KEY_ECC_X962_RAW,
            fch,
            key_id: vec![0x4B; 32],
            sign_counter: 0,
            reg_counter: 0,
            public_key,
            nonce: vec![0x4E; 16],
            tch: Vec::new(),
        }
    }

    /// The KRD TLV.
    pub fn krd(&self) -> Vec<u8> {
        let mut info = self.version.to_le_bytes().to_vec();
        info.push(self.mode);
        info.extend_from_slice(&self.sign_alg.to_le_bytes());
        info.extend_from_slice(&self.key_encoding.to_le_bytes());
        let mut counters = self.sign_counter.to_le_bytes().to_vec();
        counters.extend_from_slice(&self.reg_counter.to_le_bytes());
        composite(
            TAG_UAFV1_KRD,
            &[
                tlv(TAG_AAID, &self.aaid),
                tlv(TAG_ASSERTION_INFO, &info),
                tlv(TAG_FINAL_CHALLENGE_HASH, &self.fch),
                tlv(TAG_KEYID, &self.key_id),
                tlv(TAG_COUNTERS, &counters),
                tlv(TAG_PUB_KEY, &self.public_key),
            ],
        )
    }

    /// The SIGNED_DATA TLV.
    pub fn signed_data(&self) -> Vec<u8> {
        let mut info = self.version.to_le_bytes().to_vec();
        info.push(self.mode);
        info.extend_from_slice(&self.sign_alg.to_le_bytes());
        composite(
            TAG_UAFV1_SIGNED_DATA,
            &[
                tlv(TAG_AAID, &self.aaid),
                tlv(TAG_ASSERTION_INFO, &info),
                tlv(TAG_AUTHENTICATOR_NONCE, &self.nonce),
                tlv(TAG_FINAL_CHALLENGE_HASH, &self.fch),
                tlv(TAG_TRANSACTION_CONTENT_HASH, &self.tch),
                tlv(TAG_KEYID, &self.key_id),
                tlv(TAG_COUNTERS, &self.sign_counter.to_le_bytes()),
            ],
        )
    }
}

/// A registration assertion with surrogate attestation: the KRD signed by `key` itself.
pub fn surrogate_assertion(fields: &Fields, key: &P256) -> Vec<u8> {
    let krd = fields.krd();
    let signature = key.sign_raw(&krd);
    composite(
        TAG_UAFV1_REG_ASSERTION,
        &[
            krd,
            composite(
                TAG_ATTESTATION_BASIC_SURROGATE,
                &[tlv(TAG_SIGNATURE, &signature)],
            ),
        ],
    )
}

/// A registration assertion with basic full attestation: the KRD signed by `attestation_key`
/// (as `fields.sign_alg` says), whose certificate is `cert`.
pub fn basic_full_assertion(fields: &Fields, attestation_key: &P256, cert: &[u8]) -> Vec<u8> {
    let krd = fields.krd();
    let signature = if fields.sign_alg == ALG_SIGN_SECP256R1_ECDSA_SHA256_DER {
        attestation_key.sign_der(&krd)
    } else {
        attestation_key.sign_raw(&krd)
    };
    composite(
        TAG_UAFV1_REG_ASSERTION,
        &[
            krd,
            composite(
                TAG_ATTESTATION_BASIC_FULL,
                &[
                    tlv(TAG_SIGNATURE, &signature),
                    tlv(TAG_ATTESTATION_CERT, cert),
                ],
            ),
        ],
    )
}

/// An authentication assertion: the signed data signed by `key` as `fields.sign_alg` says.
pub fn auth_assertion(fields: &Fields, key: &P256) -> Vec<u8> {
    let signed = fields.signed_data();
    let signature = if fields.sign_alg == ALG_SIGN_SECP256R1_ECDSA_SHA256_DER {
        key.sign_der(&signed)
    } else {
        key.sign_raw(&signed)
    };
    composite(
        TAG_UAFV1_AUTH_ASSERTION,
        &[signed, tlv(TAG_SIGNATURE, &signature)],
    )
}

/// A self-signed P-256 attestation certificate and its key.
pub fn attestation_cert() -> (P256, Vec<u8>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "UAF test attestation");
    let cert = params.self_signed(&key).unwrap();
    (
        P256::from_pkcs8(&key.serialize_der()),
        cert.der().as_ref().to_vec(),
    )
}
