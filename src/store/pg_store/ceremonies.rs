//! Ceremonies.
//!
//! Table `ceremonies`: `id` → the JSON [`Ceremony`], with its `expires_at` for the purge. Shared
//! by every tenant (a ceremony names its tenant). A ceremony is taken exactly once, on whichever
//! node: `DELETE … RETURNING`. The purge (`mod.rs`) removes one [`GRACE`] after it expired.

use super::{decode, encode, params, PgStore};
use crate::store::{Ceremony, CeremonyStore, StoreError, StoreResult};

/// How long an expired ceremony is kept before the purge removes it (as in the sled backend):
/// an answer that comes late is told the ceremony timed out, not that it is unknown.
pub(super) const GRACE: chrono::Duration = chrono::Duration::hours(1);

impl CeremonyStore for PgStore {
    fn put_ceremony(&self, ceremony: &Ceremony) -> StoreResult<String> {
        let id = crate::store::new_ceremony_id();
        self.put_ceremony_at(&id, ceremony)?;
        Ok(id)
    }

    fn put_ceremony_at(&self, id: &str, ceremony: &Ceremony) -> StoreResult<()> {
        let inserted = self.insert(
            "INSERT INTO ceremonies (id, expires_at, record) VALUES ($1, $2, $3)",
            params![id.to_string(), ceremony.expires_at, encode(ceremony)?],
        )?;
        if !inserted {
            return Err(StoreError::Corrupt(format!("ceremony id {id} is in use")));
        }
        Ok(())
    }

    fn take_ceremony(&self, id: &str) -> StoreResult<Option<Ceremony>> {
        let rows = self.run_write_rows(
            "DELETE FROM ceremonies WHERE id = $1 RETURNING record",
            params![id.to_string()],
        )?;
        rows.first()
            .map(|r| decode(&r.get::<_, Vec<u8>>(0)))
            .transpose()
    }
}
