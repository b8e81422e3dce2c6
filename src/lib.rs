//! fidoflow: a FIDO server and self-service flow engine.
pub mod config;
pub mod domain;
