//! fidoflow: a FIDO server and self-service flow engine.
//!
//! Dependencies run one way: `api -> engine -> {flow, fido, store} -> domain`; the command-line
//! tools (`cli`) use `fido` and `domain` only.
#![forbid(unsafe_code)]
pub mod api;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod engine;
pub mod fido;
pub mod flow;
pub mod mds_cli;
pub mod startup;
pub mod store;
