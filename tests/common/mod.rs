#![allow(dead_code)]
pub mod app;
pub mod pki;
pub mod softauthn;
pub mod softuaf;
