//! The audit trail as the helpdesk reads it: newest first, a page at a time, optionally one
//! tenant's or one user's, and filtered by event, outcome and time. A filtered page is found by
//! reading the log in bounded chunks, so memory stays bounded whatever the filter; a page that
//! reads [`SCAN_LIMIT`] records without filling up ends early with the cursor where it stopped.

use chrono::{DateTime, Utc};

use super::{Actor, AuditEntry, Listed, Page};
use crate::domain::{CredentialId, Username, DEFAULT_TENANT};
use crate::engine::{Engine, EngineError, EngineResult};
use crate::store::{AuditEvent, AuditKind, Outcome, StoreResult};

/// Records read in one go while filtering.
const CHUNK: usize = 200;
/// Records one call reads at most while filtering.
pub const SCAN_LIMIT: usize = 10_000;
/// Event names one `filter[event]` may list.
const MAX_EVENTS: usize = 32;

/// `GET /rest/admin/audit`'s query as the client sent it (`None`: absent).
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub tenant: Option<String>,
    pub username: Option<String>,
    /// Event names (`USER_LOCKED`), comma-separated.
    pub event: Option<String>,
    /// `success` or `failure`.
    pub outcome: Option<String>,
    /// RFC 3339: events at or after this time.
    pub from: Option<String>,
    /// RFC 3339: events before this time.
    pub to: Option<String>,
}

/// The checked filters of a query.
struct Filter {
    events: Option<Vec<AuditKind>>,
    outcome: Option<Outcome>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

impl Filter {
    fn parse(q: &AuditQuery) -> EngineResult<Self> {
        let bad = |m: String| EngineError::InvalidRequest(m);
        let events = q
            .event
            .as_deref()
            .map(|list| {
                let names: Vec<&str> = list.split(',').map(str::trim).collect();
                if names.len() > MAX_EVENTS {
                    return Err(bad(format!(
                        "`filter[event]` lists at most {MAX_EVENTS} events"
                    )));
                }
                names
                    .iter()
                    .map(|name| {
                        serde_json::from_value::<AuditKind>(serde_json::json!(name)).map_err(|_| {
                            bad(format!(
                                "`filter[event]`: `{}` is not an audit event name \
                                     (such as USER_LOCKED or FIDO_REGISTRATION)",
                                name.chars().take(64).collect::<String>()
                            ))
                        })
                    })
                    .collect::<EngineResult<Vec<_>>>()
            })
            .transpose()?;
        let outcome = match q.outcome.as_deref() {
            None => None,
            Some("success") => Some(Outcome::Success),
            Some("failure") => Some(Outcome::Failure),
            Some(_) => {
                return Err(bad(
                    "`filter[outcome]` must be `success` or `failure`".into()
                ))
            }
        };
        let time = |name: &str, v: &Option<String>| {
            v.as_deref()
                .map(|t| {
                    DateTime::parse_from_rfc3339(t)
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(|_| {
                            bad(format!(
                                "`filter[{name}]` must be an RFC 3339 time such as \
                                 2026-12-04T00:00:00Z"
                            ))
                        })
                })
                .transpose()
        };
        let (from, to) = (time("from", &q.from)?, time("to", &q.to)?);
        if let (Some(from), Some(to)) = (from, to) {
            if from >= to {
                return Err(bad("`filter[from]` must be before `filter[to]`".into()));
            }
        }
        Ok(Filter {
            events,
            outcome,
            from,
            to,
        })
    }

    fn is_empty(&self) -> bool {
        self.events.is_none() && self.outcome.is_none() && self.from.is_none() && self.to.is_none()
    }

    fn keeps(&self, e: &AuditEvent) -> bool {
        self.events.as_ref().is_none_or(|k| k.contains(&e.event))
            && self.outcome.is_none_or(|o| o == e.outcome)
            && self.from.is_none_or(|t| e.time >= t)
            && self.to.is_none_or(|t| e.time < t)
    }
}

impl Engine {
    /// `GET /rest/admin/audit?tenant=…&username=…&filter[…]=…&page[size]=…&page[after]=…`:
    /// newest first. Without `tenant`, a username is one of `default`'s users, and a token
    /// limited to some tenants sees only their events.
    pub fn audit_events(
        &self,
        actor: &Actor,
        q: &AuditQuery,
        page: &Page,
    ) -> EngineResult<Listed<AuditEntry>> {
        let size = page.size()?;
        let username = q
            .username
            .as_deref()
            .map(Username::parse)
            .transpose()
            .map_err(|e| EngineError::InvalidRequest(format!("`username`: {}", e.0)))?;
        let filter = Filter::parse(q)?;
        let before = page.audit_cursor()?;
        let tenant = q.tenant.as_deref();
        if tenant.is_some() || username.is_some() {
            actor.require_tenant(tenant.unwrap_or(DEFAULT_TENANT))?;
        }
        // The records of the tenant and user asked for, `limit` at a time below `before`.
        let fetch = |before: Option<u64>, limit: usize| -> StoreResult<Vec<AuditEvent>> {
            match (tenant, &username) {
                (Some(id), Some(user)) => match self.tenant(id) {
                    Some(t) => t.store().events(Some(user), before, limit),
                    // A deleted tenant's events are still in the log.
                    None => self.store().events_where(before, limit, &|e| {
                        e.belongs_to(id) && e.username.as_ref() == Some(user)
                    }),
                },
                (Some(id), None) => self
                    .store()
                    .events_where(before, limit, &|e| e.belongs_to(id)),
                (None, Some(user)) => self.store().events(Some(user), before, limit),
                (None, None) if actor.tenants.is_none() => self.store().events(None, before, limit),
                (None, None) => self.store().events_where(before, limit, &|e| {
                    actor.may_act_on(e.tenant.as_deref().unwrap_or(DEFAULT_TENANT))
                }),
            }
        };
        let (events, next) = if filter.is_empty() {
            let mut events = fetch(before, size + 1)?;
            let more = events.len() > size;
            events.truncate(size);
            let next = more.then(|| events.last().map(|e| e.seq)).flatten();
            (events, next)
        } else {
            scan(&filter, before, size, fetch)?
        };
        Ok(Listed {
            items: events.iter().map(|e| self.audit_entry(e)).collect(),
            next: next.map(|seq| seq.to_string()),
        })
    }

    fn audit_entry(&self, e: &AuditEvent) -> AuditEntry {
        let text = |v: serde_json::Result<serde_json::Value>| {
            v.ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        let tenant = e
            .tenant
            .clone()
            .unwrap_or_else(|| DEFAULT_TENANT.to_owned());
        AuditEntry {
            seq: e.seq,
            time: e.time,
            event: text(serde_json::to_value(e.event)),
            actor: e.actor.clone(),
            username: e.username.as_ref().map(ToString::to_string),
            credential_id: e.credential_id.as_ref().map(|id| id.to_b64url()),
            credential_name: e
                .credential_id
                .as_ref()
                .and_then(|id| self.credential_name(&tenant, id)),
            outcome: text(serde_json::to_value(e.outcome)),
            detail: e.detail.clone(),
            remote_address: e.remote_address.clone(),
            user_agent: e.user_agent.clone(),
            request_id: e.request_id.clone(),
            tenant,
            api_key: e.api_key.clone(),
            hash: e.hash.clone(),
            prev_hash: e.prev_hash.clone(),
        }
    }

    /// The current name of a credential the trail names, while it still exists.
    fn credential_name(&self, tenant: &str, id: &CredentialId) -> Option<String> {
        let record = self.tenant(tenant)?.store().credential(id).ok()??;
        Some(record.display_name.to_string())
    }
}

/// Reads the records `fetch` gives, newest first, a chunk at a time, keeping those `filter`
/// keeps, until a page and one more are found, the records run out or are older than
/// `filter[from]`, or [`SCAN_LIMIT`] records were read: then the cursor is the last record read.
fn scan(
    filter: &Filter,
    mut before: Option<u64>,
    size: usize,
    fetch: impl Fn(Option<u64>, usize) -> StoreResult<Vec<AuditEvent>>,
) -> EngineResult<(Vec<AuditEvent>, Option<u64>)> {
    let mut kept = Vec::new();
    let mut read = 0;
    loop {
        let chunk = fetch(before, CHUNK)?;
        let exhausted = chunk.len() < CHUNK;
        for event in chunk {
            read += 1;
            before = Some(event.seq);
            if filter.from.is_some_and(|from| event.time < from) {
                return Ok((kept, None));
            }
            if filter.keeps(&event) {
                if kept.len() == size {
                    let next = kept.last().map(|e: &AuditEvent| e.seq);
                    return Ok((kept, next));
                }
                kept.push(event);
            }
        }
        if exhausted {
            return Ok((kept, None));
        }
        if read >= SCAN_LIMIT {
            return Ok((kept, before));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// A log of `n` events, seq 1..=n, one a minute, every third a failure.
    fn log(n: u64) -> Vec<AuditEvent> {
        let start = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        (1..=n)
            .map(|seq| {
                let outcome = if seq % 3 == 0 {
                    Outcome::Failure
                } else {
                    Outcome::Success
                };
                let mut e = AuditEvent::new(
                    start + chrono::Duration::minutes(seq as i64),
                    AuditKind::PasswordCheck,
                    "anonymous",
                    outcome,
                    "",
                );
                e.seq = seq;
                e
            })
            .collect()
    }

    /// `fetch` over `log`, newest first.
    fn reader(log: &[AuditEvent]) -> impl Fn(Option<u64>, usize) -> StoreResult<Vec<AuditEvent>> {
        let log = log.to_vec();
        move |before, limit| {
            Ok(log
                .iter()
                .rev()
                .filter(|e| before.is_none_or(|b| e.seq < b))
                .take(limit)
                .cloned()
                .collect())
        }
    }

    fn filter(q: AuditQuery) -> Filter {
        Filter::parse(&q).unwrap()
    }

    fn failures() -> Filter {
        filter(AuditQuery {
            outcome: Some("failure".into()),
            ..Default::default()
        })
    }

    #[test]
    fn a_filtered_page_fills_up_and_names_the_last_event_as_the_cursor() {
        let (page, next) = scan(&failures(), None, 3, reader(&log(30))).unwrap();
        let seqs: Vec<u64> = page.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [30, 27, 24]);
        assert_eq!(next, Some(24));
        let (page, next) = scan(&failures(), next, 100, reader(&log(30))).unwrap();
        assert_eq!(page.len(), 7);
        assert_eq!(next, None, "the log ran out");
    }

    #[test]
    fn a_scan_stops_at_filter_from_and_at_the_scan_limit() {
        let from = filter(AuditQuery {
            from: Some("2026-12-01T00:25:00Z".into()),
            ..Default::default()
        });
        let (page, next) = scan(&from, None, 100, reader(&log(30))).unwrap();
        assert_eq!(page.len(), 6, "seq 25..=30");
        assert_eq!(next, None);

        // Nothing matches: the call reads SCAN_LIMIT records and hands back where it stopped.
        let none = filter(AuditQuery {
            event: Some("USER_LOCKED".into()),
            ..Default::default()
        });
        let total = SCAN_LIMIT as u64 + 500;
        let (page, next) = scan(&none, None, 20, reader(&log(total))).unwrap();
        assert!(page.is_empty());
        assert_eq!(next, Some(total - SCAN_LIMIT as u64 + 1));
        let (page, next) = scan(&none, next, 20, reader(&log(total))).unwrap();
        assert!(page.is_empty());
        assert_eq!(next, None, "the rest of the log is read to its start");
    }

    #[test]
    fn bad_filters_are_refused_and_times_are_ordered() {
        for q in [
            AuditQuery {
                event: Some("LOGIN".into()),
                ..Default::default()
            },
            AuditQuery {
                outcome: Some("Success".into()),
                ..Default::default()
            },
            AuditQuery {
                to: Some("2026-12-01".into()),
                ..Default::default()
            },
            AuditQuery {
                from: Some("2026-12-02T00:00:00Z".into()),
                to: Some("2026-12-01T00:00:00+01:00".into()),
                ..Default::default()
            },
        ] {
            assert!(
                matches!(Filter::parse(&q), Err(EngineError::InvalidRequest(_))),
                "{q:?}"
            );
        }
        let f = filter(AuditQuery {
            event: Some("PASSWORD_CHECK, USER_LOCKED".into()),
            ..Default::default()
        });
        assert_eq!(
            f.events,
            Some(vec![AuditKind::PasswordCheck, AuditKind::UserLocked])
        );
    }
}
