//! Shared helpers for the integration tests.
#![allow(dead_code)]

pub mod pki;
pub mod softauthn;
