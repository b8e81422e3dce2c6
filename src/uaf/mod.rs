//! FIDO UAF 1.1 relying-party verification: the UAFV1TLV encoding (`tlv`), the registry's
//! signature algorithms and key encodings (`algorithms`), registration and authentication
//! assertions (`assertion`), the protocol messages and their parsing (`messages`), policies and
//! the judgement of an authenticator against them (`policy`), the server's checks of a response
//! (`verify`) and the status codes every refusal carries (`status`). Pure functions of their inputs: no HTTP, no storage, no clock. This module owns
//! UAF verification; it may use `fido` and `domain`, and imports nothing from `flow`, `store`,
//! `engine` or `api`.

pub mod algorithms;
pub mod assertion;
pub mod channel_binding;
pub mod evidence;
pub mod messages;
pub mod policy;
pub mod status;
pub mod tlv;
pub mod verify;

#[cfg(test)]
mod tests;

pub use algorithms::{challenge_hash, check_public_key, sign_alg_name, verify_signature};
pub use assertion::{
    parse_authentication, parse_registration, verify_attestation_signature,
    verify_authentication_signature, Attestation, AuthAssertion, RegAssertion,
};
pub use channel_binding::ChannelBindingPolicy;
pub use messages::{
    authentication_request, authentication_request_with, deregistration_request, parse_response,
    parse_response_accepting_v1_0, registration_request, FinalChallengeParams, Op, Response,
    TransactionContent,
};
pub use policy::{attestation_type, Authenticator, MatchCriteria, Policy, PolicyRefusal};
pub use status::{StatusCode, UafRefusal};
pub use verify::{
    verify_authentication, verify_authentications, verify_registration, Expectations, StoredKey,
    VerifiedAuthentication, VerifiedKey,
};
