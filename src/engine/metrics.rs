//! The server's metrics: every metric's name, labels and help text (here, and nowhere else),
//! the counting functions the engine (and the api layer's refusal mapping) call, and the
//! Prometheus text `GET /metrics` serves. Emits through the `metrics` facade; the recorder is
//! `metrics-exporter-prometheus`'s, without its HTTP server (the api layer serves the text).
//!
//! The `metrics` facade has one recorder per process, so the first engine made installs it and
//! every later one (several servers in one test process) shares it: counters are per process,
//! not per server. Label values are fixed strings, never user input, so each metric has a
//! bounded number of series.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::ceremony::{CeremonyError, Channel, RefusalKind};
use crate::store::FlushStats;

/// `503 SERVER_BUSY` answers, by `reason` ([`Busy::label`]).
pub const SERVER_BUSY: &str = "fidoflow_server_busy_total";
/// WebAuthn ceremonies of the core, by `api` (`loginapp`, `authfi`, `conformance`), `kind`
/// (`registration`, `assertion`), `outcome` (`begun`, `succeeded`, `refused`, `failed`) and, for
/// `refused`, `refusal` (the [`RefusalKind`]).
pub const CEREMONIES: &str = "fidoflow_ceremonies_total";
/// Seconds since the FIDO metadata BLOB in use was imported (absent until one is).
pub const METADATA_AGE: &str = "fidoflow_metadata_age_seconds";
/// Flushes the store ran to make acknowledged writes durable (group commit: one per batch).
pub const STORE_FLUSHES: &str = "fidoflow_store_flushes_total";
/// Durable writes those flushes acknowledged: divided by the flushes, the batch size.
pub const STORE_FLUSHED_COMMITS: &str = "fidoflow_store_flushed_commits_total";
/// Microseconds spent in those flushes: divided by the flushes, the flush latency.
pub const STORE_FLUSH_MICROS: &str = "fidoflow_store_flush_microseconds_total";

/// Seconds from a request's arrival to its response's head, a histogram by `route` (the route
/// pattern the router matched, e.g. `/rest/admin/users/{username}`; `unmatched` when none did),
/// `method` (`GET`, …, `other`) and `status` (the class: `2xx`, `4xx`, …).
pub const HTTP_REQUEST_DURATION: &str = "fidoflow_http_request_duration_seconds";
/// Sessions in the store (signed in or in the middle of a flow), counted at each scrape; those
/// that expired since the last purge (at most a minute ago) included.
pub const ACTIVE_SESSIONS: &str = "fidoflow_active_sessions";
/// Locks the lockout engaged: a username locked after `lockout.max_failures` failures, by
/// `tenant`'s kind (`default` or `other`, to keep the series bounded).
pub const LOCKS_ENGAGED: &str = "fidoflow_locks_engaged_total";

/// The buckets of [`HTTP_REQUEST_DURATION`], in seconds: from a cached answer to a password
/// hash under load.
const DURATION_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The content type of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Why the server answered `503 SERVER_BUSY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// Every password hashing slot (`rate_limits.password_hash_concurrency`) is taken.
    PasswordHashing,
    /// The lockout table (`lockout.table_size`) is full of names still counting failures.
    LockTableFull,
}

impl Busy {
    pub fn label(self) -> &'static str {
        match self {
            Busy::PasswordHashing => "password_hashing",
            Busy::LockTableFull => "lock_table_full",
        }
    }
}

/// A WebAuthn ceremony's kind.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    Registration,
    Assertion,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Registration => "registration",
            Kind::Assertion => "assertion",
        }
    }
}

/// The process's Prometheus recorder.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
}

impl Metrics {
    /// The recorder of this process: made and installed as the global `metrics` recorder by the
    /// first call, shared by every later one. If another recorder was installed first (an
    /// embedding program's), ours renders only the metrics set through it here.
    pub fn global() -> Metrics {
        static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
        let handle = HANDLE.get_or_init(|| {
            let builder = PrometheusBuilder::new();
            // Without buckets the exporter renders a summary; with them, a histogram that
            // Prometheus can aggregate across servers. The only error is an empty bucket list.
            let builder = builder
                .set_buckets_for_metric(
                    Matcher::Full(HTTP_REQUEST_DURATION.to_string()),
                    &DURATION_BUCKETS,
                )
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            match metrics::set_global_recorder(recorder) {
                Ok(()) => describe(),
                Err(e) => tracing::warn!(error = %e, "metrics: another recorder is installed"),
            }
            handle
        });
        Metrics {
            handle: handle.clone(),
        }
    }

    /// Every metric in the Prometheus text format; `metadata_imported`: when the metadata in
    /// use was imported, at `now`; `flushes`: the store's flushing so far; `sessions`: the
    /// sessions in the store.
    pub(super) fn render(
        &self,
        now: DateTime<Utc>,
        metadata_imported: Option<DateTime<Utc>>,
        flushes: FlushStats,
        sessions: usize,
    ) -> String {
        metrics::gauge!(ACTIVE_SESSIONS).set(sessions as f64);
        if let Some(imported) = metadata_imported {
            let age = (now - imported).num_milliseconds().max(0) as f64 / 1000.0;
            metrics::gauge!(METADATA_AGE).set(age);
        }
        metrics::counter!(STORE_FLUSHES).absolute(flushes.flushes);
        metrics::counter!(STORE_FLUSHED_COMMITS).absolute(flushes.commits);
        metrics::counter!(STORE_FLUSH_MICROS).absolute(flushes.flush_micros);
        self.handle.render()
    }

    /// Housekeeping of the recorder (histogram buckets); run now and then.
    pub(super) fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

fn describe() {
    metrics::describe_counter!(SERVER_BUSY, "503 SERVER_BUSY answers, by reason");
    metrics::describe_counter!(
        CEREMONIES,
        "WebAuthn ceremonies begun, succeeded, refused (by refusal) or failed, by API and kind"
    );
    metrics::describe_gauge!(
        METADATA_AGE,
        "Seconds since the FIDO metadata BLOB in use was imported"
    );
    metrics::describe_counter!(
        STORE_FLUSHES,
        "Flushes the store ran to make acknowledged writes durable (one per group commit)"
    );
    metrics::describe_counter!(
        STORE_FLUSHED_COMMITS,
        "Durable writes the store's flushes acknowledged (per flush: the batch size)"
    );
    metrics::describe_counter!(
        STORE_FLUSH_MICROS,
        "Microseconds the store spent flushing since it opened"
    );
    metrics::describe_histogram!(
        HTTP_REQUEST_DURATION,
        metrics::Unit::Seconds,
        "Time from a request's arrival to its response, by matched route pattern, method and \
         status class"
    );
    metrics::describe_gauge!(
        ACTIVE_SESSIONS,
        "Sessions in the store (signed in or mid-flow), expired ones awaiting the purge included"
    );
    metrics::describe_counter!(
        LOCKS_ENGAGED,
        "Usernames the lockout locked after repeated failures"
    );
}

/// Times a request: `route` is the route pattern the router matched (`None`: none did), never
/// the request's path, so the series stay bounded.
pub fn http_request(method: &str, route: Option<&str>, status: u16, elapsed: std::time::Duration) {
    let method = match method {
        "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" => method.to_string(),
        _ => "other".to_string(),
    };
    let status = match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    metrics::histogram!(
        HTTP_REQUEST_DURATION,
        "route" => route.unwrap_or("unmatched").to_string(),
        "method" => method,
        "status" => status
    )
    .record(elapsed.as_secs_f64());
}

/// Counts a lock the lockout engaged; `default_tenant`: on a username of the built-in tenant.
pub(super) fn lock_engaged(default_tenant: bool) {
    let tenant = if default_tenant { "default" } else { "other" };
    metrics::counter!(LOCKS_ENGAGED, "tenant" => tenant).increment(1);
}

/// Counts a `503 SERVER_BUSY` answer.
pub fn server_busy(reason: Busy) {
    metrics::counter!(SERVER_BUSY, "reason" => reason.label()).increment(1);
}

fn api(channel: Channel) -> &'static str {
    match channel {
        Channel::Flow => "loginapp",
        Channel::AuthFi => "authfi",
        Channel::Conformance => "conformance",
        Channel::OneSpan => "onespan",
        Channel::Uaf => "uaf",
    }
}

/// Counts a ceremony the core began.
pub(super) fn begun(channel: Channel, kind: Kind) {
    metrics::counter!(CEREMONIES, "api" => api(channel), "kind" => kind.label(), "outcome" => "begun")
        .increment(1);
}

/// Counts how a ceremony ended: `succeeded`, `refused` with the refusal's kind, or `failed`
/// (the server could not finish it: storage, busy, …).
pub(super) fn finished<T>(channel: Channel, kind: Kind, result: &Result<T, CeremonyError>) {
    outcome(channel, kind, result.as_ref().map(|_| ()));
}

/// Counts a response a backend API refused before handing it to the core (its client data
/// unreadable, or no ceremony waiting for its challenge), and hands the refusal back.
pub(super) fn refused_early(channel: Channel, kind: Kind, e: CeremonyError) -> CeremonyError {
    outcome(channel, kind, Err(&e));
    e
}

fn outcome(channel: Channel, kind: Kind, result: Result<(), &CeremonyError>) {
    let api = api(channel);
    let kind = kind.label();
    match result {
        Ok(()) => {
            metrics::counter!(CEREMONIES, "api" => api, "kind" => kind, "outcome" => "succeeded")
                .increment(1)
        }
        Err(CeremonyError::Refused(r)) => metrics::counter!(
            CEREMONIES,
            "api" => api,
            "kind" => kind,
            "outcome" => "refused",
            "refusal" => refusal(r.kind)
        )
        .increment(1),
        Err(CeremonyError::Engine(_)) => {
            metrics::counter!(CEREMONIES, "api" => api, "kind" => kind, "outcome" => "failed")
                .increment(1)
        }
    }
}

fn refusal(kind: RefusalKind) -> &'static str {
    match kind {
        RefusalKind::Spent => "spent",
        RefusalKind::Expired => "expired",
        RefusalKind::WrongUser => "wrong_user",
        RefusalKind::Malformed => "malformed",
        RefusalKind::Attestation { .. } => "attestation",
        RefusalKind::Policy => "policy",
        RefusalKind::Check => "check",
        RefusalKind::AlreadyRegistered => "already_registered",
        RefusalKind::TooManyCredentials => "too_many_credentials",
        RefusalKind::UnknownCredential => "unknown_credential",
        RefusalKind::CredentialDisabled => "credential_disabled",
        RefusalKind::CounterRegression => "counter_regression",
        RefusalKind::Locked { .. } => "locked",
    }
}
