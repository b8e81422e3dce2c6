//! The `apple` anonymous attestation format (§8.8): an x5c chain whose leaf holds the credential
//! key and, in extension 1.2.840.113635.100.8.2, the nonce SHA-256(authData || clientDataHash).

use der::asn1::ObjectIdentifier as Oid;
use x509_cert::Certificate;

use super::{invalid, AttestationType, Statement, Verified};
use crate::fido::asn1;
use crate::fido::report::Observer;
use crate::fido::trust::{self, Hash};
use crate::fido::RegistrationError;

pub(crate) const OID_APPLE_NONCE: Oid = Oid::new_unwrap("1.2.840.113635.100.8.2");

pub(super) fn verify(
    statement: &Statement,
    obs: &mut Observer,
) -> Result<Verified, RegistrationError> {
    let chain =
        super::x5c(statement.att_stmt)?.ok_or_else(|| invalid("it has no \"x5c\" certificate"))?;
    let leaf = chain
        .first()
        .ok_or_else(|| invalid("\"x5c\" holds no certificate"))?;
    let expected = Hash::Sha256.digest(&statement.signed_data());
    let nonce = nonce(leaf).map_err(|e| invalid(&e))?;
    if nonce != expected.as_slice() {
        return Err(invalid(
            "the certificate nonce is not SHA-256(authenticatorData || clientDataHash)",
        ));
    }
    obs.pass("apple.nonce", || {
        "the leaf certificate's nonce extension equals SHA-256(authenticatorData || clientDataHash)"
            .into()
    });
    if !trust::key_matches(leaf, statement.key) {
        return Err(invalid(
            "the leaf certificate's public key is not the credential public key",
        ));
    }
    obs.pass("apple.publicKey", || {
        "the leaf certificate's public key is the credential public key".into()
    });
    obs.skip("attestationSignature", || {
        "an apple attestation has no signature: the nonce binds the certificate to this ceremony"
            .into()
    });
    Ok(Verified {
        kind: AttestationType::AnonCa,
        chain,
    })
}

/// The nonce: `SEQUENCE { [1] EXPLICIT OCTET STRING }`.
fn nonce(leaf: &Certificate) -> Result<&[u8], String> {
    let bad = || "the certificate's nonce extension is malformed".to_string();
    let value = trust::extension(leaf, &OID_APPLE_NONCE)
        .map_err(|e| format!("the leaf certificate {e}"))?
        .ok_or("the leaf certificate has no nonce extension (1.2.840.113635.100.8.2)")?;
    let (seq, rest) = asn1::read(value).ok_or_else(bad)?;
    if !rest.is_empty() || seq.tag != asn1::SEQUENCE {
        return Err(bad());
    }
    let (tagged, rest) = asn1::read(seq.value).ok_or_else(bad)?;
    if !rest.is_empty() || tagged.tag.class != 2 || tagged.tag.number != 1 {
        return Err(bad());
    }
    let (octets, rest) = asn1::read(tagged.value).ok_or_else(bad)?;
    if !rest.is_empty() || octets.tag != asn1::OCTET_STRING {
        return Err(bad());
    }
    Ok(octets.value)
}
