//! What the load measured: latencies in HDR histograms (bounded memory whatever the run's
//! length), completions and failures by kind with the first message of each.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

/// Latencies are kept in microseconds, from 1 µs to 10 minutes, with 3 significant digits.
const MAX_MICROS: u64 = 600_000_000;

pub fn histogram() -> Histogram<u64> {
    // Bounds and precision are constants that hdrhistogram accepts.
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid histogram bounds")
}

fn record(h: &mut Histogram<u64>, d: Duration) {
    let micros = (d.as_micros() as u64).clamp(1, MAX_MICROS);
    // Clamped into the histogram's range, so recording cannot fail.
    let _ = h.record(micros);
}

/// At most this many kinds of failure are told apart; further kinds are counted together.
const MAX_KINDS: usize = 64;
const OTHER_KINDS: &str = "other kinds (too many to tell apart)";

/// The failures of one kind.
pub struct ErrorKind {
    pub count: u64,
    pub first_message: String,
}

pub struct Stats {
    pub ok: u64,
    pub latency: Histogram<u64>,
    pub errors: BTreeMap<String, ErrorKind>,
    /// Per request (step) of the successful ceremonies.
    pub steps: BTreeMap<&'static str, Histogram<u64>>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            ok: 0,
            latency: histogram(),
            errors: BTreeMap::new(),
            steps: BTreeMap::new(),
        }
    }
}

impl Stats {
    pub fn success(&mut self, latency: Duration, steps: &[(&'static str, Duration)]) {
        self.ok += 1;
        record(&mut self.latency, latency);
        for (step, d) in steps {
            record(self.steps.entry(step).or_insert_with(histogram), *d);
        }
    }

    pub fn failure(&mut self, kind: String, message: String) {
        let kind = if self.errors.len() >= MAX_KINDS && !self.errors.contains_key(&kind) {
            OTHER_KINDS.to_owned()
        } else {
            kind
        };
        self.errors
            .entry(kind)
            .or_insert_with(|| ErrorKind {
                count: 0,
                first_message: message,
            })
            .count += 1;
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().map(|e| e.count).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_counted_by_kind_keeping_the_first_message() {
        let mut s = Stats::default();
        s.failure("a".into(), "first".into());
        s.failure("a".into(), "second".into());
        s.failure("b".into(), "other".into());
        assert_eq!(s.error_count(), 3);
        assert_eq!(s.errors["a"].count, 2);
        assert_eq!(s.errors["a"].first_message, "first");
        for i in 0..100 {
            s.failure(format!("k{i}"), String::new());
        }
        assert!(s.errors.len() <= MAX_KINDS + 1);
        assert_eq!(s.error_count(), 103);
    }

    #[test]
    fn latencies_out_of_range_are_clamped_not_lost() {
        let mut s = Stats::default();
        s.success(Duration::ZERO, &[("x", Duration::from_secs(100_000))]);
        assert_eq!(s.latency.len(), 1);
        assert_eq!(
            s.steps["x"].max(),
            s.steps["x"].highest_equivalent(MAX_MICROS)
        );
    }
}
