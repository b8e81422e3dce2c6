//! The imported FIDO metadata.
//!
//! Tree and its key encoding:
//! - `mds`: `current` → JSON [`MetadataRecord`]: the imported FIDO metadata BLOB (its JWS
//!   text, import time, serial number and parsed entries); replaced by each import.

use super::{decode, encode, SledStore};
use crate::store::{MetadataRecord, MetadataStore, StoreResult};

impl MetadataStore for SledStore {
    fn put_metadata(&self, record: &MetadataRecord) -> StoreResult<()> {
        self.mds.insert("current", encode(record)?)?;
        self.flush()
    }

    fn metadata(&self) -> StoreResult<Option<MetadataRecord>> {
        self.mds.get("current")?.map(|v| decode(&v)).transpose()
    }
}
