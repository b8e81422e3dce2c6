//! The imported FIDO metadata.
//!
//! Table `metadata`: `id = 1` → the JSON [`MetadataRecord`], with its BLOB serial `number` (so
//! a node can tell cheaply whether another node imported a newer BLOB).

use super::{decode, encode, params, PgStore};
use crate::store::{MetadataRecord, MetadataStore, StoreResult};

impl MetadataStore for PgStore {
    fn put_metadata(&self, record: &MetadataRecord) -> StoreResult<()> {
        self.execute(
            "INSERT INTO metadata (id, number, record) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET number = excluded.number, record = excluded.record",
            params![record.number as i64, encode(record)?],
        )?;
        Ok(())
    }

    fn metadata(&self) -> StoreResult<Option<MetadataRecord>> {
        let rows = self.rows("SELECT record FROM metadata WHERE id = 1", params![])?;
        rows.first()
            .map(|r| decode(&r.get::<_, Vec<u8>>(0)))
            .transpose()
    }

    fn metadata_number(&self) -> StoreResult<Option<u64>> {
        let rows = self.rows("SELECT number FROM metadata WHERE id = 1", params![])?;
        Ok(rows.first().map(|r| r.get::<_, i64>(0) as u64))
    }
}
