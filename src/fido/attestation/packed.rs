//! The `packed` attestation format (§8.2): self attestation, or x5c attestation with the §8.2.1
//! certificate requirements.

use der::asn1::ObjectIdentifier as Oid;
use x509_cert::certificate::Version;
use x509_cert::Certificate;

use super::{invalid, AttestationType, Statement, Verified};
use crate::fido::report::Observer;
use crate::fido::trust::{self, Scheme};
use crate::fido::{cbor, RegistrationError};

const OID_C: Oid = Oid::new_unwrap("2.5.4.6");
const OID_O: Oid = Oid::new_unwrap("2.5.4.10");
const OID_OU: Oid = Oid::new_unwrap("2.5.4.11");
const OID_CN: Oid = Oid::new_unwrap("2.5.4.3");

pub(super) fn verify(
    statement: &Statement,
    obs: &mut Observer,
) -> Result<Verified, RegistrationError> {
    let stmt = statement.att_stmt;
    let alg = cbor::text_key(stmt, "alg")
        .and_then(cbor::integer)
        .ok_or_else(|| invalid("it has no integer \"alg\""))?;
    let sig = super::signature(stmt)?;
    if cbor::text_key(stmt, "ecdaaKeyId").is_some() {
        return Err(invalid("ECDAA attestation is not supported"));
    }
    let mut signed = statement.auth_data.to_vec();
    signed.extend_from_slice(statement.client_data_hash);

    let Some(chain) = super::x5c(stmt)? else {
        if alg != statement.key.alg {
            return Err(invalid(
                "the self attestation algorithm differs from the credential's algorithm",
            ));
        }
        if !statement.key.verify(&signed, sig) {
            return Err(RegistrationError::AttestationSignatureInvalid);
        }
        obs.pass("attestationSignature", || {
            format!("self attestation: verifies with the credential key (alg {alg})")
        });
        return Ok(Verified {
            kind: AttestationType::Self_,
            chain: Vec::new(),
        });
    };
    let scheme = Scheme::from_cose(alg)
        .ok_or_else(|| invalid(&format!("the algorithm {alg} is not supported")))?;
    let leaf = chain
        .first()
        .ok_or_else(|| invalid("\"x5c\" holds no certificate"))?;
    if !trust::verify_with_cert(leaf, scheme, &signed, sig) {
        return Err(RegistrationError::AttestationSignatureInvalid);
    }
    obs.pass("attestationSignature", || {
        format!("verifies with the attestation certificate's key (alg {alg})")
    });
    check_certificate(leaf, &statement.credential.aaguid)
        .map_err(RegistrationError::CertificateInvalid)?;
    obs.pass("packed.certificate", || {
        "meets §8.2.1: version 3, subject C/O/OU=Authenticator Attestation/CN, not a CA, AAGUID extension (if any) matches".into()
    });
    Ok(Verified {
        kind: AttestationType::Basic,
        chain,
    })
}

/// §8.2.1 Packed attestation statement certificate requirements.
fn check_certificate(leaf: &Certificate, aaguid: &[u8; 16]) -> Result<(), String> {
    if leaf.tbs_certificate.version != Version::V3 {
        return Err("it is not an X.509 version 3 certificate".into());
    }
    let one = |oid: &Oid, what: &str| match trust::subject_values(leaf, oid).as_slice() {
        [value] if !value.is_empty() => Ok(value.clone()),
        _ => Err(format!("its subject needs exactly one non-empty {what}")),
    };
    let country = one(&OID_C, "country (C)")?;
    if country.len() != 2 || !country.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err("its subject country (C) is not a two-letter code".into());
    }
    one(&OID_O, "organization (O)")?;
    one(&OID_CN, "common name (CN)")?;
    if one(&OID_OU, "organizational unit (OU)")? != "Authenticator Attestation" {
        return Err("its subject OU is not \"Authenticator Attestation\"".into());
    }
    if let Some((cert_aaguid, critical)) = trust::aaguid_extension(leaf)? {
        if critical {
            return Err("its AAGUID extension is marked critical".into());
        }
        if &cert_aaguid != aaguid {
            return Err("its AAGUID extension differs from the authenticator's AAGUID".into());
        }
    }
    if trust::basic_constraints(leaf)?.is_some_and(|c| c.ca) {
        return Err("it is a CA certificate (basicConstraints CA is true)".into());
    }
    Ok(())
}
