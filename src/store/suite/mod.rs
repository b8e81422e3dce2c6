//! The store's behaviour, one test suite run against both backends: each test is a function of
//! `&dyn Storage`, and [`both!`] makes a sled and a PostgreSQL test of it (the PostgreSQL one on
//! a fresh database of the test server, see `pg_store/testing.rs`). The actix-session stores
//! have their own macro in `sessions.rs`. What only one backend has (sled's in-memory tables,
//! spill, lock index, group commit, durability, reopening) is tested in that backend's files.

pub(in crate::store) mod audit;
pub(super) mod ceremonies;
mod credentials;
mod locks;
mod metadata;
pub(in crate::store) mod sessions;
mod tenants;
mod transactions;
mod users;

/// `both!(name, body)`: the tests `name::sled` and `name::postgres`, each calling `body` with a
/// fresh store of that backend.
macro_rules! both {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn sled() {
                let store = crate::store::sled_store::temporary_store();
                ($body)(&store as &dyn crate::store::Storage);
            }

            #[test]
            fn postgres() {
                let (store, _dir) = crate::store::pg_store::testing::store();
                ($body)(&store as &dyn crate::store::Storage);
            }
        }
    };
}
pub(super) use both;

/// Records the suite's tests share (and the engine's unit tests).
pub(crate) mod fixtures {
    use chrono::Utc;

    use crate::domain::CredentialId;
    use crate::store::{Ceremony, CeremonyPurpose};

    pub use crate::store::sled_store::fixtures::{credential, user};

    pub fn id(raw: &[u8]) -> CredentialId {
        CredentialId::from_bytes(raw.to_vec()).unwrap()
    }

    pub fn ceremony() -> Ceremony {
        Ceremony {
            challenge: vec![7; 32],
            purpose: CeremonyPurpose::Authentication,
            tenant: None,
            username: None,
            user_handle: None,
            credential_name: None,
            require_user_verification: false,
            algorithms: vec![-7],
            allowed_credentials: vec![],
            expires_at: Utc::now() + chrono::Duration::minutes(5),
            signed: None,
            payment: false,
        }
    }
}
