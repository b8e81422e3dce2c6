//! fidoflow: a FIDO server and self-service flow engine.
#![forbid(unsafe_code)]
pub mod clock;
pub mod domain;
pub mod flow;
pub mod store;
