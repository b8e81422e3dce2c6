//! Rate limits per client address and per username (fixed windows, a bounded table), and the
//! bound on concurrent password hashing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

use super::metrics::Busy;
use super::EngineError;
use crate::config::RateLimitSettings;
use crate::store::Storage;

/// Above this many tracked keys, expired windows are dropped.
const TABLE_BOUND: usize = 100_000;

pub struct RateLimiter {
    enabled: bool,
    window: Duration,
    per_address: u32,
    per_username: u32,
    windows: Mutex<HashMap<String, (DateTime<Utc>, u32)>>,
    /// A store several servers share: the windows are counted there, for all of them.
    shared: Option<Arc<dyn Storage>>,
}

/// What is being limited; each has its own counters.
#[derive(Debug, Clone, Copy)]
pub enum Limited {
    Attempt,
    Challenge,
    SignUp,
}

impl RateLimiter {
    /// Limits counted in memory, or in `shared` when it is a store several servers share.
    pub fn new(settings: &RateLimitSettings, shared: Option<Arc<dyn Storage>>) -> Self {
        Self {
            shared: shared.filter(|s| s.shared_state().is_some()),
            enabled: settings.enabled,
            window: Duration::from_std(settings.window).unwrap_or(Duration::seconds(60)),
            per_address: settings.per_address,
            per_username: settings.per_username,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request of `kind` from `address` (and for `username`); refuses it with
    /// `TOO_MANY_REQUESTS` over either limit.
    pub fn check(
        &self,
        kind: Limited,
        address: Option<&str>,
        username: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        if !self.enabled {
            return Ok(());
        }
        let mut windows = self.windows(now);
        let mut keys = Vec::new();
        if let Some(a) = address {
            keys.push((format!("{kind:?}/addr/{a}"), self.per_address));
        }
        if let Some(u) = username {
            keys.push((format!("{kind:?}/user/{u}"), self.per_username));
        }
        for (key, limit) in keys {
            self.count(&mut windows, key, limit, now)?;
        }
        Ok(())
    }

    /// The counters, with expired windows dropped once the table is over its bound.
    fn windows(
        &self,
        now: DateTime<Utc>,
    ) -> std::sync::MutexGuard<'_, HashMap<String, (DateTime<Utc>, u32)>> {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() > TABLE_BOUND {
            let window = self.window;
            windows.retain(|_, (start, _)| now - *start < window);
        }
        windows
    }

    /// Counts one request under `key` in its window; refuses it over `limit`.
    fn count(
        &self,
        windows: &mut HashMap<String, (DateTime<Utc>, u32)>,
        key: String,
        limit: u32,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        if let Some(shared) = self.shared.as_ref().and_then(|s| s.shared_state()) {
            let (count, ends) = shared.count_request(&key, now, self.window)?;
            if count > limit {
                // Whole seconds, rounded up (the database keeps microseconds).
                let retry = ((ends - now).num_milliseconds() + 999)
                    .div_euclid(1000)
                    .max(1) as u64;
                return Err(EngineError::TooManyRequests { retry_after: retry });
            }
            return Ok(());
        }
        let entry = windows.entry(key).or_insert((now, 0));
        if now - entry.0 >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= limit {
            let retry = (entry.0 + self.window - now).num_seconds().max(1) as u64;
            return Err(EngineError::TooManyRequests { retry_after: retry });
        }
        entry.1 += 1;
        Ok(())
    }
}

impl RateLimiter {
    /// Counts one call made with API key `key` of `tenant`; refuses it over `limit` per window.
    /// A relying party's backend calls from one address for all its users, so its calls are
    /// limited per key rather than per address.
    pub fn check_api_key(
        &self,
        tenant: &str,
        key: &str,
        limit: u32,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        if !self.enabled {
            return Ok(());
        }
        let mut windows = self.windows(now);
        self.count(&mut windows, format!("key/{tenant}/{key}"), limit, now)
    }
}

/// Bounded concurrency for password hashing: beyond it, `SERVER_BUSY`.
pub struct Permits {
    max: usize,
    used: AtomicUsize,
}

pub struct Permit<'a>(&'a Permits);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.0.used.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Permits {
    pub fn new(max: usize) -> Self {
        Self {
            max,
            used: AtomicUsize::new(0),
        }
    }

    pub fn acquire(&self) -> Result<Permit<'_>, EngineError> {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .map(|_| Permit(self))
            .map_err(|_| EngineError::ServerBusy(Busy::PasswordHashing))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> RateLimiter {
        RateLimiter {
            enabled: true,
            window: Duration::seconds(60),
            per_address: 3,
            per_username: 2,
            windows: Mutex::new(HashMap::new()),
            shared: None,
        }
    }

    #[test]
    fn servers_sharing_a_store_share_their_windows() {
        let (store, _dir) = crate::store::pg_testing::store();
        let store: Arc<dyn Storage> = Arc::new(store);
        // Two servers' limiters on one database: the limit holds for both together.
        let a = RateLimiter {
            shared: Some(store.clone()),
            ..limiter()
        };
        let b = RateLimiter {
            shared: Some(store),
            ..limiter()
        };
        let now = Utc::now();
        a.check(Limited::Attempt, None, Some("alice"), now).unwrap();
        b.check(Limited::Attempt, None, Some("alice"), now).unwrap();
        assert!(matches!(
            a.check(Limited::Attempt, None, Some("alice"), now),
            Err(EngineError::TooManyRequests { retry_after: 60 })
        ));
        assert!(b.check(Limited::Attempt, None, Some("bob"), now).is_ok());
        // A new window when the last one ended.
        let later = now + Duration::seconds(61);
        b.check(Limited::Attempt, None, Some("alice"), later)
            .unwrap();
    }

    #[test]
    fn a_username_over_its_limit_is_refused_until_the_window_ends() {
        let l = limiter();
        let now = Utc::now();
        l.check(Limited::Attempt, None, Some("a"), now).unwrap();
        l.check(Limited::Attempt, None, Some("a"), now).unwrap();
        assert!(matches!(
            l.check(Limited::Attempt, None, Some("a"), now),
            Err(EngineError::TooManyRequests { retry_after: 60 })
        ));
        l.check(
            Limited::Attempt,
            None,
            Some("a"),
            now + Duration::seconds(61),
        )
        .unwrap();
    }

    fn tracked(l: &RateLimiter) -> usize {
        l.windows.lock().unwrap().len()
    }

    #[test]
    fn a_full_table_drops_only_expired_windows_and_never_a_running_count() {
        let l = limiter();
        let t0 = Utc::now();
        let at = |s: i64| t0 + Duration::seconds(s);
        let attempt = |name: &str, t| l.check(Limited::Attempt, None, Some(name), t);
        for i in 0..TABLE_BOUND - 2 {
            attempt(&format!("u{i}"), t0).unwrap();
        }
        // The victim uses up her limit half-way through the window.
        attempt("victim", at(30)).unwrap();
        attempt("victim", at(30)).unwrap();
        attempt("w", t0).unwrap();
        assert_eq!(tracked(&l), TABLE_BOUND);
        // Exactly at the bound nothing is dropped yet.
        attempt("w", at(60)).unwrap();
        assert_eq!(tracked(&l), TABLE_BOUND);
        attempt("z", at(60)).unwrap();
        assert_eq!(tracked(&l), TABLE_BOUND + 1);
        // Over it, every window a full period old goes; the victim's running one stays, and
        // still refuses her.
        assert!(matches!(
            attempt("victim", at(60)),
            Err(EngineError::TooManyRequests { retry_after: 30 })
        ));
        assert_eq!(tracked(&l), 3, "victim, w and z");
    }

    #[test]
    fn permits_are_bounded_and_returned() {
        let p = Permits::new(1);
        let first = p.acquire().unwrap();
        assert!(matches!(
            p.acquire(),
            Err(EngineError::ServerBusy(Busy::PasswordHashing))
        ));
        drop(first);
        assert!(p.acquire().is_ok());
    }
}
