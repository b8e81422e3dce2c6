//! The store's behaviour, one test suite run against both backends: each test is a function of
//! `&dyn Storage`, and [`both!`] makes a sled and a PostgreSQL test of it (the PostgreSQL one on
//! a fresh database of the test server, see `pg_store/testing.rs`).

mod audit;
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

/// Records the suite's tests share.
pub(super) mod fixtures {
    pub use crate::store::sled_store::fixtures::{credential, user};
}
