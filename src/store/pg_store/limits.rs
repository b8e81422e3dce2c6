//! What several nodes share that one node keeps in memory ([`SharedState`]): session claims
//! and rate-limit windows.
//!
//! Table `session_claims`: the session key of a request in progress → the claim's `token` and
//! until when it holds (a node that dies mid-request leaves a claim that expires). A claim is
//! taken by inserting its row, or by taking over an expired one; it is released by its token.
//!
//! Table `rate_windows`: a limit's key (what is limited, and for whom) → how many requests its
//! current fixed window counted and when that window ends. One upsert counts a request and
//! starts a new window when the last one ended.

use chrono::{DateTime, Utc};

use super::{params, PgStore};
use crate::store::{SharedState, StoreResult};

impl SharedState for PgStore {
    fn claim_session(
        &self,
        key: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Option<String>> {
        let token = crate::domain::hex(&rand::random::<[u8; 12]>());
        let claimed = self.execute(
            "INSERT INTO session_claims (key, token, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET token = excluded.token, \
             expires_at = excluded.expires_at WHERE session_claims.expires_at <= $4",
            params![key.to_string(), token.clone(), until, now],
        )?;
        Ok((claimed == 1).then_some(token))
    }

    fn end_claim(&self, key: &str, token: &str) -> StoreResult<()> {
        self.execute(
            "DELETE FROM session_claims WHERE key = $1 AND token = $2",
            params![key.to_string(), token.to_string()],
        )?;
        Ok(())
    }

    fn release_session(&self, key: &str, token: &str) {
        let store = self.clone();
        let (key, token) = (key.to_string(), token.to_string());
        self.spawn_detached(async move {
            let released = store
                .execute_async(
                    "DELETE FROM session_claims WHERE key = $1 AND token = $2",
                    params![key, token],
                )
                .await;
            if let Err(e) = released {
                tracing::warn!(error = %e, "a session claim was not released; it expires");
            }
        });
    }

    fn count_request(
        &self,
        key: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> StoreResult<(u32, DateTime<Utc>)> {
        let rows = self.run_write_rows(
            "INSERT INTO rate_windows (key, expires_at, count) VALUES ($1, $2, 1) \
             ON CONFLICT (key) DO UPDATE SET \
             count = CASE WHEN rate_windows.expires_at > $3 THEN rate_windows.count + 1 ELSE 1 END, \
             expires_at = CASE WHEN rate_windows.expires_at > $3 THEN rate_windows.expires_at \
             ELSE excluded.expires_at END \
             RETURNING count, expires_at",
            params![key.to_string(), now + window, now],
        )?;
        let row = rows.first().ok_or_else(|| {
            crate::store::StoreError::Database("an upsert returned no row".into())
        })?;
        Ok((row.get::<_, i32>(0).max(0) as u32, row.get(1)))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};

    use crate::store::SharedState;

    #[test]
    fn a_session_claimed_on_one_node_is_refused_on_another_until_it_ends_or_expires() {
        let (store, _dir) = super::super::testing::store();
        // Two nodes: two stores on one database.
        let other = store.tenant_view("default");
        let now = Utc::now();
        let until = now + Duration::minutes(2);
        let token = store
            .claim_session("k1", now, until)
            .unwrap()
            .expect("free");
        assert_eq!(other.claim_session("k1", now, until).unwrap(), None);
        assert!(other.claim_session("k2", now, until).unwrap().is_some());
        // Another's token does not end the claim; its own does.
        other.end_claim("k1", "not-the-token").unwrap();
        assert_eq!(other.claim_session("k1", now, until).unwrap(), None);
        store.end_claim("k1", &token).unwrap();
        let second = other
            .claim_session("k1", now, until)
            .unwrap()
            .expect("ended");
        // A claim whose node died expires and is taken over.
        let later = until + Duration::seconds(1);
        assert!(store
            .claim_session("k1", later, later + Duration::minutes(2))
            .unwrap()
            .is_some());
        // The old holder's late release does not end the new claim.
        other.end_claim("k1", &second).unwrap();
        assert_eq!(other.claim_session("k1", later, later).unwrap(), None);
    }
}
