//! The `fido-u2f` attestation format (§8.6).

use super::{invalid, AttestationType, Statement, Verified};
use crate::fido::report::Observer;
use crate::fido::trust::{self, Hash, Scheme};
use crate::fido::RegistrationError;

pub(super) fn verify(
    statement: &Statement,
    obs: &mut Observer,
) -> Result<Verified, RegistrationError> {
    let sig = super::signature(statement.att_stmt)?;
    let chain =
        super::x5c(statement.att_stmt)?.ok_or_else(|| invalid("it has no \"x5c\" certificate"))?;
    let [leaf] = chain.as_slice() else {
        return Err(invalid("\"x5c\" must hold exactly one certificate"));
    };
    if !trust::has_p256_key(leaf) {
        return Err(RegistrationError::CertificateInvalid(
            "its public key is not an EC P-256 key".into(),
        ));
    }
    let point = statement
        .key
        .p256_point()
        .ok_or_else(|| invalid("the credential key of a U2F authenticator must be EC2 P-256"))?;
    let mut signed =
        Vec::with_capacity(1 + 32 + 32 + statement.credential.credential_id.len() + 65);
    signed.push(0x00);
    signed.extend_from_slice(statement.rp_id_hash);
    signed.extend_from_slice(statement.client_data_hash);
    signed.extend_from_slice(&statement.credential.credential_id);
    signed.extend_from_slice(point);
    if !trust::verify_with_cert(leaf, Scheme::Ecdsa(Hash::Sha256), &signed, sig) {
        return Err(RegistrationError::AttestationSignatureInvalid);
    }
    obs.pass("attestationSignature", || {
        "verifies over 0x00 || rpIdHash || clientDataHash || credentialId || publicKey with the certificate's P-256 key".into()
    });
    Ok(Verified {
        kind: AttestationType::Basic,
        chain,
    })
}
