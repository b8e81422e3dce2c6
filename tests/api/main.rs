//! The integration binary: every test boots the real server on port 0 with a temporary data
//! directory and drives it over HTTP with a software authenticator.

#[path = "../common/mod.rs"]
mod common;

mod account;
mod active_sessions;
mod assertions;
mod audit_chain;
mod audit_retention;
mod authfi;
mod authfi_refusals;
mod busy_log;
mod client_data_types;
mod cluster;
mod conformance;
mod durability;
mod first_run;
mod fuzz;
mod guards;
mod helpdesk;
mod helpdesk_audit;
mod import;
mod journeys;
mod legacy_data;
mod lifecycle;
mod mds;
mod memory;
mod metrics;
mod migrate;
mod onespan;
mod openapi;
mod operations;
mod pages;
mod post_quantum;
mod refusals;
mod rules;
mod sessions;
mod spc;
mod startup;
mod store_unavailable;
mod tenant_helpdesk;
mod tenants_admin;
mod tls;
mod transactions;
mod uaf;
mod uaf_policy;
mod uaf_transactions;
