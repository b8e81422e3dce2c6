//! A whole engine for unit tests: the shipped flows (and any extra flow files a test adds), a
//! sled store in a temporary directory, a clock the test moves by hand, random challenges and no
//! trust anchors. Only the engine is built; no server listens.

use std::ops::Deref;
use std::path::Path;

use chrono::Utc;

use super::{Challenges, Engine, RequestCtx};
use crate::clock::Clock;
use crate::config::Settings;
use crate::domain::{UserHandle, Username};
use crate::fido::TrustAnchors;
use crate::flow::registry::Registry;
use crate::store::{SledStore, UserRecord};

pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// The files of this crate's `flows/`.
const SHIPPED: [(&str, &str); 4] = [
    (
        "applications.toml",
        include_str!("../../flows/applications.toml"),
    ),
    (
        "self-service.toml",
        include_str!("../../flows/self-service.toml"),
    ),
    ("sign-up.toml", include_str!("../../flows/sign-up.toml")),
    ("account.toml", include_str!("../../flows/account.toml")),
];

pub(crate) struct TestEngine {
    pub engine: Engine,
    pub clock: Clock,
    /// The engine's store, for what the HTTP layer writes (sessions).
    pub sled: SledStore,
    _dir: tempfile::TempDir,
}

impl TestEngine {
    /// An engine with the shipped flows.
    pub fn new() -> Self {
        Self::with_flows(&[])
    }

    /// An engine with the shipped flows and `extra` (file name, TOML text) flow files.
    pub fn with_flows(extra: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = Settings::for_tests(dir.path());
        // Small hashes: these tests are about flows, not about the cost of a hash.
        settings.passwords.memory_kib = 1024;
        settings.passwords.iterations = 1;
        let registry = Registry::from_sources(
            SHIPPED
                .iter()
                .chain(extra)
                .map(|(file, text)| (Path::new(*file), *text)),
        )
        .expect("the flows are valid");
        let sled = SledStore::open(dir.path()).expect("the store");
        let store = std::sync::Arc::new(sled.clone());
        let clock = Clock::manual(Utc::now());
        let engine = Engine::new(
            settings,
            registry,
            store,
            clock.clone(),
            TrustAnchors::empty(),
            Challenges::random(),
        )
        .expect("the engine");
        Self {
            engine,
            clock,
            sled,
            _dir: dir,
        }
    }

    /// Stores a user with `password` (hashed with the engine's settings) and no credential.
    pub fn add_user(&self, name: &str, password: Option<&str>) -> Username {
        let username = Username::parse(name).expect("a username");
        let password_hash = password.map(|p| self.inner.passwords.hash(p).expect("a hash"));
        self.store()
            .insert_user(&UserRecord {
                username: username.clone(),
                handle: UserHandle::random(),
                display_name: None,
                password_hash,
                created_at: self.now(),
            })
            .expect("the user is stored");
        username
    }
}

impl Deref for TestEngine {
    type Target = Engine;

    fn deref(&self) -> &Engine {
        &self.engine
    }
}

/// A request from a browser at a fixed address.
pub(crate) fn cx() -> RequestCtx {
    RequestCtx {
        remote_address: Some("192.0.2.1".into()),
        user_agent: None,
        request_id: "unit-test".into(),
        tenant: None,
        api_key: None,
    }
}
