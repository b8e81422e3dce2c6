//! Health of the running server, for `GET /health/ready` (and the shutdown's last flush): the
//! store takes writes, the flows and the FIDO metadata are loaded. The flows and the metadata are
//! read while the engine is made, before any listener opens, so a server that answers has them;
//! the readiness reports what it has. The store is probed on every call; a change of readiness
//! is logged (WARN with the reason when it is lost, INFO when it is back).

use std::sync::atomic::Ordering;

use super::{Engine, EngineResult};

/// One thing readiness depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    /// `store`, `flows` or `metadata`.
    pub name: &'static str,
    pub ok: bool,
    /// What was found: `writable`, `3 flows loaded`, or why it failed.
    pub detail: String,
}

/// Whether the server can serve requests, check by check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub checks: Vec<HealthCheck>,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    /// Every failed check, as `name: detail`, joined by `; `; `None` when ready.
    pub fn reason(&self) -> Option<String> {
        let failed: Vec<String> = self
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect();
        (!failed.is_empty()).then(|| failed.join("; "))
    }
}

impl Engine {
    /// Probes the store (a write and a read, no flush) and reports the loaded flows and
    /// metadata. Blocks on the store: call it off the async threads.
    pub fn readiness(&self) -> Readiness {
        let store = match self.store().probe() {
            Ok(()) => HealthCheck {
                name: "store",
                ok: true,
                detail: "writable".into(),
            },
            Err(e) => HealthCheck {
                name: "store",
                ok: false,
                detail: format!("the store does not take writes: {e}"),
            },
        };
        let flows = self.inner.registry.flows().count();
        let flows = HealthCheck {
            name: "flows",
            ok: true,
            detail: format!("{flows} flows loaded"),
        };
        let metadata = HealthCheck {
            name: "metadata",
            ok: true,
            detail: match self.metadata() {
                Some(m) if m.blob.is_stale(self.now()) => format!(
                    "BLOB number {} loaded (stale: past its nextUpdate)",
                    m.blob.number
                ),
                Some(m) => format!("BLOB number {} loaded", m.blob.number),
                None => "none imported".into(),
            },
        };
        let readiness = Readiness {
            checks: vec![store, flows, metadata],
        };
        // Probed every few seconds: logged when it changes, not on every probe.
        let was = self.inner.ready.swap(readiness.ready(), Ordering::Relaxed);
        match readiness.reason() {
            Some(reason) if was => tracing::warn!(%reason, "not ready"),
            None if !was => tracing::info!("ready again"),
            _ => {}
        }
        readiness
    }

    /// Writes everything the store holds to disk; the server's last step before it exits.
    pub fn flush(&self) -> EngineResult<()> {
        Ok(self.store().flush()?)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::TestEngine;

    #[test]
    fn a_working_engine_is_ready_and_names_what_it_loaded() {
        let t = TestEngine::new();
        let ready = t.engine.readiness();
        assert!(ready.ready(), "{ready:?}");
        assert_eq!(ready.reason(), None);
        assert_eq!(
            ready.checks.iter().map(|c| c.name).collect::<Vec<_>>(),
            ["store", "flows", "metadata"]
        );
        assert!(ready.checks[1].detail.ends_with("flows loaded"));
        assert_eq!(ready.checks[2].detail, "none imported");
    }
}
