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
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

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
            let recorder = PrometheusBuilder::new().build_recorder();
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
    /// use was imported, at `now`; `flushes`: the store's flushing so far.
    pub(super) fn render(
        &self,
        now: DateTime<Utc>,
        metadata_imported: Option<DateTime<Utc>>,
        flushes: FlushStats,
    ) -> String {
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
