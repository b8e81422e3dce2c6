//! The report: throughput, latency percentiles, errors by kind, the server's CPU time per
//! ceremony and its ratio to one ES256 verification timed here; as text or as JSON.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_ASN1,
    ECDSA_P256_SHA256_ASN1_SIGNING,
};
use serde::Serialize;

use super::load::Outcome;

/// How many verifications the ES256 baseline times.
pub const VERIFIES: u32 = 2_000;

/// The time of one P-256 ECDSA (ES256) signature verification with `ring`, averaged over
/// [`VERIFIES`] verifications of a WebAuthn-sized message (authenticatorData ‖ clientDataHash).
pub fn es256_verify_time() -> Result<Duration, String> {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
        .map_err(|_| "could not generate a P-256 key")?;
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
        .map_err(|_| "could not read the P-256 key")?;
    let message = [0x5a_u8; 37 + 32];
    let signature = key.sign(&rng, &message).map_err(|_| "could not sign")?;
    let public =
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, key.public_key().as_ref().to_vec());
    for _ in 0..VERIFIES / 10 {
        public
            .verify(&message, signature.as_ref())
            .map_err(|_| "the baseline signature does not verify")?;
    }
    let started = Instant::now();
    for _ in 0..VERIFIES {
        public
            .verify(std::hint::black_box(&message), signature.as_ref())
            .map_err(|_| "the baseline signature does not verify")?;
    }
    Ok(started.elapsed() / VERIFIES)
}

#[derive(Serialize)]
pub struct Latency {
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    pub mean_us: f64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Option<Latency> {
        (!h.is_empty()).then(|| Latency {
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
            mean_us: (h.mean() * 10.0).round() / 10.0,
        })
    }
}

#[derive(Serialize)]
pub struct ErrorReport {
    pub kind: String,
    pub count: u64,
    pub first_message: String,
}

#[derive(Serialize)]
pub struct StepReport {
    pub step: String,
    pub count: u64,
    pub p50_us: u64,
    pub p99_us: u64,
}

#[derive(Serialize)]
pub struct Report {
    pub scenario: String,
    pub url: String,
    pub spawned: bool,
    /// `closed` (workers back to back) or `open` (a fixed rate).
    pub mode: &'static str,
    pub concurrency: usize,
    pub rate: Option<f64>,
    pub warmup_s: f64,
    pub duration_s: f64,
    pub ceremonies: u64,
    pub errors: u64,
    pub ceremonies_per_second: f64,
    pub latency: Option<Latency>,
    pub errors_by_kind: Vec<ErrorReport>,
    /// Open loop: ceremonies scheduled in the measured phase that never finished.
    pub unfinished: u64,
    pub steps: Vec<StepReport>,
    pub server_pid: Option<u32>,
    pub server_cpu_s: Option<f64>,
    /// The server's CPU time per successful ceremony.
    pub server_cpu_us_per_ceremony: Option<f64>,
    pub server_cpu_error: Option<String>,
    /// Cores the server kept busy on average.
    pub server_cores_busy: Option<f64>,
    pub client_cpu_s: Option<f64>,
    pub es256_verify_us: Option<f64>,
    /// `server_cpu_us_per_ceremony` / `es256_verify_us`.
    pub cpu_per_ceremony_in_es256_verifies: Option<f64>,
    pub machine: Machine,
}

#[derive(Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: Option<String>,
}

impl Machine {
    pub fn this() -> Machine {
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        });
        Machine {
            nproc: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            cpu_model,
        }
    }
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

pub struct Context {
    pub scenario: String,
    pub url: String,
    pub spawned: bool,
    pub concurrency: usize,
    pub rate: Option<f64>,
    pub warmup: Duration,
    pub server_pid: Option<u32>,
    pub es256_verify: Option<Duration>,
}

pub fn build(c: Context, o: Outcome) -> Report {
    let secs = o.measured.as_secs_f64().max(1e-9);
    let ok = o.stats.ok;
    let (server_cpu, server_cpu_error) = match o.server_cpu {
        Some(Ok(d)) => (Some(d), None),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    let per_ceremony = server_cpu
        .filter(|_| ok > 0)
        .map(|d| d.as_secs_f64() * 1e6 / ok as f64);
    let verify_us = c.es256_verify.map(|d| d.as_secs_f64() * 1e6);
    let mut steps: Vec<StepReport> = o
        .stats
        .steps
        .iter()
        .map(|(step, h)| StepReport {
            step: step.to_string(),
            count: h.len(),
            p50_us: h.value_at_quantile(0.5),
            p99_us: h.value_at_quantile(0.99),
        })
        .collect();
    steps.sort_by_key(|s| std::cmp::Reverse(s.p50_us));
    Report {
        scenario: c.scenario,
        url: c.url,
        spawned: c.spawned,
        mode: if c.rate.is_some() { "open" } else { "closed" },
        concurrency: c.concurrency,
        rate: c.rate,
        warmup_s: c.warmup.as_secs_f64(),
        duration_s: round(secs, 3),
        ceremonies: ok,
        errors: o.stats.error_count(),
        ceremonies_per_second: round(ok as f64 / secs, 1),
        latency: Latency::of(&o.stats.latency),
        errors_by_kind: o
            .stats
            .errors
            .into_iter()
            .map(|(kind, e)| ErrorReport {
                kind,
                count: e.count,
                first_message: e.first_message,
            })
            .collect(),
        unfinished: o.unfinished,
        steps,
        server_pid: c.server_pid,
        server_cpu_s: server_cpu.map(|d| round(d.as_secs_f64(), 3)),
        server_cpu_us_per_ceremony: per_ceremony.map(|x| round(x, 1)),
        server_cpu_error,
        server_cores_busy: server_cpu.map(|d| round(d.as_secs_f64() / secs, 2)),
        client_cpu_s: o.client_cpu.map(|d| round(d.as_secs_f64(), 3)),
        es256_verify_us: verify_us.map(|x| round(x, 2)),
        cpu_per_ceremony_in_es256_verifies: per_ceremony
            .zip(verify_us)
            .filter(|(_, v)| *v > 0.0)
            .map(|(p, v)| round(p / v, 1)),
        machine: Machine::this(),
    }
}

fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

pub fn text(r: &Report) -> String {
    let mut s = String::new();
    let mode = match r.rate {
        Some(rate) => format!("open loop at {rate}/s, at most {} in flight", r.concurrency),
        None => format!("closed loop, concurrency {}", r.concurrency),
    };
    s.push_str(&format!(
        "scenario {} against {}{} ({mode}), measured {:.1} s after {:.1} s warm-up\n",
        r.scenario,
        r.url,
        if r.spawned { " (spawned)" } else { "" },
        r.duration_s,
        r.warmup_s
    ));
    s.push_str(&format!(
        "ceremonies: {} ok, {} errors — {} ceremonies/s\n",
        r.ceremonies, r.errors, r.ceremonies_per_second
    ));
    if let Some(l) = &r.latency {
        s.push_str(&format!(
            "latency{}: p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  mean {:.2} ms\n",
            if r.rate.is_some() {
                " (from scheduled start)"
            } else {
                ""
            },
            ms(l.p50_us),
            ms(l.p90_us),
            ms(l.p99_us),
            ms(l.p999_us),
            ms(l.max_us),
            l.mean_us / 1000.0
        ));
    }
    if r.unfinished > 0 {
        s.push_str(&format!(
            "unfinished (scheduled, never answered in time): {}\n",
            r.unfinished
        ));
    }
    for e in &r.errors_by_kind {
        s.push_str(&format!(
            "  error {} ×{}: first: {}\n",
            e.kind, e.count, e.first_message
        ));
    }
    if !r.steps.is_empty() {
        s.push_str("requests (p50 / p99):");
        for st in &r.steps {
            s.push_str(&format!(" {} {}/{}", st.step, ms(st.p50_us), ms(st.p99_us)));
        }
        s.push('\n');
    }
    match (&r.server_cpu_us_per_ceremony, &r.server_cpu_error) {
        (Some(per), _) => s.push_str(&format!(
            "server CPU (pid {}): {:.2} s over the phase, {:.2} cores busy, {per:.0} µs per ceremony{}\n",
            r.server_pid.unwrap_or(0),
            r.server_cpu_s.unwrap_or(0.0),
            r.server_cores_busy.unwrap_or(0.0),
            match (r.cpu_per_ceremony_in_es256_verifies, r.es256_verify_us) {
                (Some(x), Some(v)) => format!(" = {x} × one ES256 verification ({v:.1} µs with ring here)"),
                _ => String::new(),
            }
        )),
        (None, Some(e)) => s.push_str(&format!("server CPU: not measured: {e}\n")),
        (None, None) => {
            if let Some(v) = r.es256_verify_us {
                s.push_str(&format!(
                    "server CPU: not measured (give --server-pid or --spawn); one ES256 verification: {v:.1} µs\n"
                ));
            }
        }
    }
    if let Some(c) = r.client_cpu_s {
        s.push_str(&format!("load generator CPU: {c:.2} s over the phase\n"));
    }
    s.push_str(&format!(
        "machine: {} CPUs, {}\n",
        r.machine.nproc,
        r.machine.cpu_model.as_deref().unwrap_or("unknown model")
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_es256_verification_takes_some_microseconds() {
        let d = es256_verify_time().unwrap();
        assert!(d > Duration::ZERO && d < Duration::from_millis(50), "{d:?}");
    }
}
