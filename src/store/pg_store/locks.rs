//! Lock state of usernames (failed password and FIDO attempts), shared by every node.
//!
//! Table `locks`: (`tenant`, `username`) → `failures`, `locked_until`, `updated_at`, and
//! `expires_at`: when the entry stops counting toward a lock (its lock's end, or
//! `LockPolicy::failure_window` after its last counted attempt). An expired entry counts
//! nothing, as in the sled backend.
//!
//! Each call is one transaction over the name's row (`SELECT … FOR UPDATE`), so attempts on
//! several nodes at once are counted one after another. A name's first attempt inserts its row
//! (`ON CONFLICT DO NOTHING`, never an upsert, which would overwrite a count taken meanwhile);
//! two nodes inserting it at once conflict (nothing inserted, a unique violation, or 40001), and
//! the loser runs again. The table holds at most `LockPolicy::table_size` rows per tenant still
//! counting: a new name finding it full is refused (`TableFull`) rather than forget somebody's
//! failures; expired rows are removed then. While the table is far from full ([`RACE_ROOM`]
//! places free), new names are added at once; nearer, they are counted and added one at a time
//! per tenant, under the lock of the tenant's row in `lock_tables` (else two could both take
//! the last place). One lock for every new name of a tenant would make every first attempt of
//! the cluster queue on one row.

use chrono::{DateTime, Utc};

use super::{is_unique_violation, params, retry, Fail, PgStore};
use crate::domain::Username;
use crate::store::{LockPolicy, LockStore, Reservation, StoreResult};

/// How many new names may be in flight at once across every node (each holds a connection of
/// some node's pool while it is): below `table_size - RACE_ROOM` counting rows, new names take
/// their place without queueing.
const RACE_ROOM: usize = 4096;

/// A row as it counts at `now` (an expired row counts nothing).
#[derive(Clone, Copy, Default)]
struct State {
    failures: i32,
    locked_until: Option<DateTime<Utc>>,
}

/// Which change a transaction over a name's row makes.
#[derive(Clone, Copy)]
enum Attempt {
    /// `reserve_attempt`: count the attempt before it is verified.
    Reserve,
    /// `attempt_failed`: lock the name if its count reached the limit.
    Failed,
}

/// What the transaction decided.
enum Decided {
    Reservation(Reservation),
    Locked(Option<DateTime<Utc>>),
}

/// The new state of the row and the answer, or `None` when nothing is written.
fn decide(
    attempt: Attempt,
    current: Option<State>,
    policy: &LockPolicy,
    now: DateTime<Utc>,
) -> (Option<State>, Decided) {
    let max = policy.max_failures.min(i32::MAX as u32) as i32;
    let lock = now + policy.lock_duration;
    let locked = State {
        failures: 0,
        locked_until: Some(lock),
    };
    match attempt {
        Attempt::Reserve => {
            let state = current.unwrap_or_default();
            if let Some(until) = state.locked_until {
                return (None, Decided::Reservation(Reservation::Locked(until)));
            }
            if state.failures >= max {
                return (
                    Some(locked),
                    Decided::Reservation(Reservation::Locked(lock)),
                );
            }
            let counted = State {
                failures: state.failures + 1,
                locked_until: None,
            };
            (Some(counted), Decided::Reservation(Reservation::Granted))
        }
        Attempt::Failed => match current {
            None => (None, Decided::Locked(None)),
            Some(State {
                locked_until: Some(until),
                ..
            }) => (None, Decided::Locked(Some(until))),
            Some(state) if state.failures >= max => (Some(locked), Decided::Locked(Some(lock))),
            Some(_) => (None, Decided::Locked(None)),
        },
    }
}

impl PgStore {
    /// One transaction over `username`'s row (see the module's text).
    fn lock_transaction(
        &self,
        username: &Username,
        now: DateTime<Utc>,
        policy: &LockPolicy,
        attempt: Attempt,
    ) -> StoreResult<Decided> {
        let (tenant, name, policy) = (self.tenant(), username.as_str().to_string(), *policy);
        self.run(move |pool| async move {
            let (pool, tenant, name, policy) = (&pool, &tenant, &name, &policy);
            retry(move || async move {
                let mut client = pool.get().await?;
                let tx = client.transaction().await?;
                let select = tx
                    .prepare_cached(
                        "SELECT failures, locked_until, expires_at FROM locks \
                         WHERE tenant = $1 AND username = $2 FOR UPDATE",
                    )
                    .await?;
                let row = tx.query_opt(&select, &[tenant, name]).await?;
                let exists = row.is_some();
                let current = row.map(|r| {
                    if r.get::<_, DateTime<Utc>>(2) <= now {
                        State::default()
                    } else {
                        State {
                            failures: r.get(0),
                            locked_until: r.get(1),
                        }
                    }
                });
                let (write, answer) = decide(attempt, current, policy, now);
                let Some(state) = write else {
                    return Ok(answer);
                };
                if !exists {
                    let count = tx
                        .prepare_cached(
                            "SELECT count(*) FROM locks WHERE tenant = $1 AND expires_at > $2",
                        )
                        .await?;
                    let mut counting = tx
                        .query_one(&count, &[tenant, &now])
                        .await?
                        .get::<_, i64>(0);
                    // Far from full, new names of all nodes go ahead at once: even if every one
                    // of them in flight took a place, the table would not overflow. Near full,
                    // they queue on the tenant's `lock_tables` row and count again, so two
                    // cannot both take the last place.
                    if counting as usize + RACE_ROOM >= policy.table_size {
                        let guard = tx
                            .prepare_cached(
                                "INSERT INTO lock_tables (tenant) VALUES ($1) \
                                 ON CONFLICT (tenant) DO UPDATE SET tenant = excluded.tenant",
                            )
                            .await?;
                        tx.execute(&guard, &[tenant]).await?;
                        tx.execute(
                            "DELETE FROM locks WHERE tenant = $1 AND expires_at <= $2",
                            &[tenant, &now],
                        )
                        .await?;
                        counting = tx
                            .query_one(&count, &[tenant, &now])
                            .await?
                            .get::<_, i64>(0);
                        if counting as usize >= policy.table_size {
                            return Ok(Decided::Reservation(Reservation::TableFull));
                        }
                    }
                }
                let expires = state.locked_until.unwrap_or(now + policy.failure_window);
                let values: [&(dyn tokio_postgres::types::ToSql + Sync); 6] = [
                    tenant,
                    name,
                    &state.failures,
                    &state.locked_until,
                    &now,
                    &expires,
                ];
                if exists {
                    // The row read above, still locked by this transaction.
                    let update = tx
                        .prepare_cached(
                            "UPDATE locks SET failures = $3, locked_until = $4, \
                             updated_at = $5, expires_at = $6 \
                             WHERE tenant = $1 AND username = $2",
                        )
                        .await?;
                    tx.execute(&update, &values).await?;
                } else {
                    // Another transaction may insert the name's first row meanwhile: then this
                    // one wrote nothing and runs again, reading that row (an upsert here would
                    // overwrite its count with this one's).
                    let insert = tx
                        .prepare_cached(
                            "INSERT INTO locks (tenant, username, failures, locked_until, \
                             updated_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6) \
                             ON CONFLICT (tenant, username) DO NOTHING",
                        )
                        .await?;
                    match tx.execute(&insert, &values).await {
                        Ok(0) => return Err(Fail::Conflict),
                        Err(e) if is_unique_violation(&e) => return Err(Fail::Conflict),
                        other => other?,
                    };
                }
                tx.commit().await?;
                Ok(answer)
            })
            .await
        })
    }
}

impl LockStore for PgStore {
    fn reserve_attempt(
        &self,
        username: &Username,
        now: DateTime<Utc>,
        policy: &LockPolicy,
    ) -> StoreResult<Reservation> {
        match self.lock_transaction(username, now, policy, Attempt::Reserve)? {
            Decided::Reservation(r) => Ok(r),
            Decided::Locked(_) => unreachable!("a reservation decides a reservation"),
        }
    }

    fn attempt_failed(
        &self,
        username: &Username,
        now: DateTime<Utc>,
        policy: &LockPolicy,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        match self.lock_transaction(username, now, policy, Attempt::Failed)? {
            Decided::Locked(until) => Ok(until),
            Decided::Reservation(_) => Ok(None),
        }
    }

    fn attempt_succeeded(&self, username: &Username) -> StoreResult<()> {
        self.execute(
            "DELETE FROM locks WHERE tenant = $1 AND username = $2 AND locked_until IS NULL",
            params![self.tenant(), username.as_str().to_string()],
        )?;
        Ok(())
    }

    fn locked_until(
        &self,
        username: &Username,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let rows = self.rows(
            "SELECT locked_until FROM locks WHERE tenant = $1 AND username = $2 \
             AND locked_until > $3",
            params![self.tenant(), username.as_str().to_string(), now],
        )?;
        Ok(rows.first().map(|r| r.get(0)))
    }

    fn unlock(&self, username: &Username) -> StoreResult<bool> {
        let n = self.execute(
            "DELETE FROM locks WHERE tenant = $1 AND username = $2",
            params![self.tenant(), username.as_str().to_string()],
        )?;
        Ok(n > 0)
    }
}
