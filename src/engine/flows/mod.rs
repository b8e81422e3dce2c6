//! The Loginapp flows: the use cases of the browser-facing REST API, one function per call. Each
//! loads the session's flow state, asks `flow::machine` whether the call fits the current step,
//! runs the ceremony core (`engine::registration`, `engine::assertion`) for the FIDO steps, and
//! answers a typed outcome (`StepDone`, `ChallengeIssued`, …) that `api::loginapp` renders as
//! JSON:API. Only the built-in tenant `default` runs flows.
//!
//! - `authentication.rs`: the password step, application access, the session view, logout.
//! - `fido_steps.rs`: the FIDO steps of authentication flows, and cancelled ceremonies.
//! - `self_service.rs`: the self-service flow list, selecting a flow, FIDO registration, the
//!   user's credential list.
//! - `signup.rs`: passkey sign-up.
//! - `manage.rs`: credential selection, renaming, approval and the `apply` step.
//! - `security_events.rs`: the user's own recent security events from the audit log.
//! - `account.rs`: the account view, its display name and password (current, new, removed).
//! - `sessions.rs`: the account's active sessions, signing one out or every other one.

mod account;
mod authentication;
mod fido_steps;
mod manage;
mod outcome;
mod security_events;
mod self_service;
mod sessions;
mod signup;

pub use outcome::{
    AccountSession, AccountView, ChallengeIssued, CredentialView, FlowOffer, SecurityEvent,
    SessionView, StepDone,
};
