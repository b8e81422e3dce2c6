//! The audit log.
//!
//! Trees and their key encodings:
//! - `audit`: sequence number (u64 big-endian) → JSON [`AuditEvent`].
//! - `audit_by_user`: username ‖ 0x00 ‖ sequence (u64 BE) → empty.
//!
//! Sequence numbers come from sled's `generate_id` (+1), so they keep increasing across
//! restarts and 0 stays free as "no cursor".

use sled::Transactional;

use super::{decode, encode, tx, user_key, SledStore};
use crate::domain::Username;
use crate::store::{AuditEvent, AuditLog, StoreResult};

impl AuditLog for SledStore {
    fn append(&self, mut event: AuditEvent) -> StoreResult<u64> {
        // generate_id is monotonic across restarts; +1 keeps 0 free as "no cursor".
        let seq = self.db.generate_id()? + 1;
        event.seq = seq;
        let value = encode(&event)?;
        let index = event
            .username
            .as_ref()
            .map(|u| user_key(u, &seq.to_be_bytes()));
        tx(
            (&self.audit, &self.audit_by_user).transaction(|(audit, by_user)| {
                audit.insert(&seq.to_be_bytes(), value.as_slice())?;
                if let Some(index) = &index {
                    by_user.insert(index.as_slice(), &[])?;
                }
                Ok(())
            }),
        )?;
        self.flush()?;
        Ok(seq)
    }

    fn events(
        &self,
        username: Option<&Username>,
        before: Option<u64>,
        limit: usize,
    ) -> StoreResult<Vec<AuditEvent>> {
        let end = before.unwrap_or(u64::MAX);
        let mut out = Vec::new();
        match username {
            None => {
                for item in self.audit.range(..end.to_be_bytes()).rev().take(limit) {
                    out.push(decode(&item?.1)?);
                }
            }
            Some(user) => {
                let start = user_key(user, &0u64.to_be_bytes());
                let stop = user_key(user, &end.to_be_bytes());
                for item in self.audit_by_user.range(start..stop).rev().take(limit) {
                    let (key, _) = item?;
                    let seq = &key[key.len() - 8..];
                    if let Some(v) = self.audit.get(seq)? {
                        out.push(decode(&v)?);
                    }
                }
            }
        }
        Ok(out)
    }

    fn events_where(
        &self,
        before: Option<u64>,
        limit: usize,
        keep: &dyn Fn(&AuditEvent) -> bool,
    ) -> StoreResult<Vec<AuditEvent>> {
        let end = before.unwrap_or(u64::MAX);
        let mut out = Vec::new();
        for item in self.audit.range(..end.to_be_bytes()).rev() {
            if out.len() >= limit {
                break;
            }
            let event: AuditEvent = decode(&item?.1)?;
            if keep(&event) {
                out.push(event);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::store::{AuditKind, Outcome};

    #[test]
    fn the_audit_log_pages_newest_first_per_user() {
        let s = SledStore::temporary();
        let alice = Username::parse("alice").unwrap();
        for i in 0..5 {
            s.append(AuditEvent {
                seq: 0,
                time: Utc::now(),
                event: AuditKind::PasswordCheck,
                actor: "anonymous".into(),
                username: (i % 2 == 0).then(|| alice.clone()),
                credential_id: None,
                outcome: Outcome::Failure,
                detail: format!("{i}"),
                remote_address: None,
                user_agent: None,
                request_id: None,
                tenant: None,
                api_key: None,
            })
            .unwrap();
        }
        let all = s.events(None, None, 10).unwrap();
        assert_eq!(
            all.iter().map(|e| e.detail.as_str()).collect::<Vec<_>>(),
            ["4", "3", "2", "1", "0"]
        );
        let mine = s.events(Some(&alice), None, 2).unwrap();
        assert_eq!(
            mine.iter().map(|e| e.detail.as_str()).collect::<Vec<_>>(),
            ["4", "2"]
        );
        let next = s.events(Some(&alice), Some(mine[1].seq), 2).unwrap();
        assert_eq!(
            next.iter().map(|e| e.detail.as_str()).collect::<Vec<_>>(),
            ["0"]
        );
        let odd = |e: &AuditEvent| e.username.is_none();
        let kept = s.events_where(None, 1, &odd).unwrap();
        assert_eq!(kept[0].detail, "3");
        let kept = s.events_where(Some(kept[0].seq), 5, &odd).unwrap();
        assert_eq!(
            kept.iter().map(|e| e.detail.as_str()).collect::<Vec<_>>(),
            ["1"]
        );
    }
}
