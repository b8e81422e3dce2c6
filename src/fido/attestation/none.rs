//! The `none` attestation format (§8.7): the statement must be an empty map.

use super::{AttestationType, Statement, Verified};
use crate::fido::report::Observer;
use crate::fido::RegistrationError;

pub(super) fn verify(
    statement: &Statement,
    obs: &mut Observer,
) -> Result<Verified, RegistrationError> {
    if !statement.att_stmt.is_empty() {
        return Err(super::invalid(
            "a \"none\" attestation must have an empty statement",
        ));
    }
    obs.skip("attestationSignature", || {
        "a none attestation has no signature".into()
    });
    Ok(Verified {
        kind: AttestationType::None,
        chain: Vec::new(),
    })
}
