//! The tpm, android-key, android-safetynet, apple and compound formats with self-made
//! statements and certificates: each verifies when right, and each check refuses what is wrong.

mod android_key;
mod apple;
mod compound;
mod judged;
mod safetynet;
mod tpm;

use base64::Engine as _;
use rcgen::{CertificateParams, CustomExtension, DistinguishedName, DnType, IsCa, SanType};
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::json;

use super::*;
use crate::fido::{
    verify_registration, verify_registration_observed, AttestationType, CheckOutcome, FormatPolicy,
    RegistrationError, TrustAnchors, VerifiedRegistration,
};

fn verify_with(
    reg: &Reg,
    formats: FormatPolicy,
    anchors: &TrustAnchors,
) -> Result<VerifiedRegistration, RegistrationError> {
    let origins = origins();
    let mut exp = expectations(&origins, anchors);
    exp.formats = formats;
    verify_registration(&reg.json(), &exp)
}

fn verify(reg: &Reg) -> Result<VerifiedRegistration, RegistrationError> {
    verify_with(reg, FormatPolicy::default(), &TrustAnchors::empty())
}

/// The refusal's check name and message.
fn refusal(reg: &Reg) -> (&'static str, String) {
    let e = verify(reg).expect_err("must be refused");
    (e.check(), e.to_string())
}

// --- DER by hand -------------------------------------------------------------------------

fn der_len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        vec![n as u8]
    } else if n < 0x100 {
        vec![0x81, n as u8]
    } else {
        vec![0x82, (n >> 8) as u8, n as u8]
    }
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(content.len()));
    out.extend_from_slice(content);
    out
}

/// `[number] EXPLICIT content`, high tag numbers included.
fn explicit(number: u32, content: &[u8]) -> Vec<u8> {
    let mut out = if number < 31 {
        vec![0xa0 | number as u8]
    } else {
        let mut digits = vec![(number & 0x7f) as u8];
        let mut n = number >> 7;
        while n > 0 {
            digits.push(0x80 | (n & 0x7f) as u8);
            n >>= 7;
        }
        digits.reverse();
        let mut out = vec![0xbf];
        out.extend(digits);
        out
    };
    out.extend(der_len(content.len()));
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn int_der(v: u8) -> Vec<u8> {
    tlv(0x02, &[v])
}

fn oid_der(oid: &str) -> Vec<u8> {
    let parsed = der::asn1::ObjectIdentifier::new_unwrap(oid);
    tlv(0x06, parsed.as_bytes())
}

fn signed_data(reg: &Reg) -> Vec<u8> {
    let mut signed = reg.auth_data();
    signed.extend_from_slice(&sha256(&reg.client_data()));
    signed
}

/// A registration whose credential key is the key of a fresh rcgen key pair, returned too.
fn reg_with_cert_key(fmt: &str) -> (Reg, rcgen::KeyPair) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut reg = Reg::with(Att::Raw {
        fmt: fmt.into(),
        stmt: Cbor::Map(vec![]),
    });
    reg.key = Key::from_pkcs8(&key.serialize_der());
    (reg, key)
}

fn leaf_with(key: &rcgen::KeyPair, ext: CustomExtension, ca: &Issued) -> rcgen::Certificate {
    let mut params = leaf_params(None);
    params.custom_extensions.push(ext);
    params.signed_by(key, &ca.cert, &ca.key).unwrap()
}

fn x5c(certs: &[Vec<u8>]) -> Cbor {
    Cbor::Array(certs.iter().map(|c| Cbor::Bytes(c.clone())).collect())
}
