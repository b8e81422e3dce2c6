//! fidoflow: a FIDO server and self-service flow engine.
//!
//! Dependencies run one way: `api -> engine -> {flow, fido, store} -> domain`.
#![forbid(unsafe_code)]
pub mod clock;
pub mod domain;
pub mod fido;
pub mod flow;
pub mod store;
