//! fidoflow: a FIDO server and self-service flow engine.
//!
//! Dependencies run one way: `api -> engine -> {flow, fido, uaf, store} -> domain`, with `engine`
//! also reading `config` and `clock`; `store` reads neither (it is given the time). Above them
//! sit the composition roots, which build the pieces from the settings: `commands` (the clap
//! command line `main` runs, which picks one of the others), `startup` (the server), `mds_cli` (`fidoflow mds …`: opens the store and drives the
//! engine), `audit_cli` (`fidoflow audit verify`: opens the store and walks the audit hash
//! chain) and `migrate_cli` (`fidoflow migrate …`: the PostgreSQL schema, and copying a sled
//! directory into PostgreSQL). `tls` is part of `startup`: the HTTPS listener's rustls configuration. The other command-line tools (`cli`: `fidoflow verify …`) use `fido`, `uaf`,
//! `domain` and `clock` only. `bench` (`fidoflow bench`: the load generator) is an HTTP client
//! and uses none of them.
#![forbid(unsafe_code)]
pub mod api;
pub mod audit_cli;
pub mod bench;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod domain;
pub mod engine;
pub mod fido;
pub mod flow;
pub mod mds_cli;
pub mod migrate_cli;
pub mod startup;
pub mod store;
pub mod tls;
pub mod uaf;
