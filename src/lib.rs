//! fidoflow: a FIDO server and self-service flow engine.
pub mod domain;
pub mod fido;
