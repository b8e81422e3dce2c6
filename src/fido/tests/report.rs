//! Reporting checks to a sink: outcomes in order, a refusal skipping what was not reached, and
//! nothing at all without a sink.

use crate::fido::report::Observer;
use crate::fido::{Check, CheckOutcome};

fn names(checks: &[Check], outcome: CheckOutcome) -> Vec<&str> {
    checks
        .iter()
        .filter(|c| c.outcome == outcome)
        .map(|c| c.name.as_str())
        .collect()
}

#[test]
fn outcomes_display_as_lowercase_words() {
    assert_eq!(CheckOutcome::Pass.to_string(), "pass");
    assert_eq!(CheckOutcome::Fail.to_string(), "fail");
    assert_eq!(CheckOutcome::Skipped.to_string(), "skipped");
}

#[test]
fn checks_reach_the_sink_in_order_with_their_outcome_and_detail() {
    let mut checks = Vec::new();
    let mut sink = |c: Check| checks.push(c);
    let mut obs = Observer::new(&mut sink);
    obs.pass("type", || "webauthn.create".into());
    obs.skip("tokenBinding", || "absent".into());
    obs.fail("origin", || "not allowed".into());
    drop(obs);
    let seen: Vec<(&str, CheckOutcome, &str)> = checks
        .iter()
        .map(|c| (c.name.as_str(), c.outcome, c.detail.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("type", CheckOutcome::Pass, "webauthn.create"),
            ("tokenBinding", CheckOutcome::Skipped, "absent"),
            ("origin", CheckOutcome::Fail, "not allowed"),
        ]
    );
}

#[test]
fn a_refusal_reports_the_failed_check_then_skips_every_check_not_yet_reported() {
    let all = ["type", "challenge", "origin", "rpIdHash"];
    let mut checks = Vec::new();
    let mut sink = |c: Check| checks.push(c);
    let mut obs = Observer::new(&mut sink);
    obs.pass("type", String::new);
    obs.refused("origin", "the origin is wrong".into(), &all);
    drop(obs);
    assert_eq!(names(&checks, CheckOutcome::Pass), ["type"]);
    assert_eq!(names(&checks, CheckOutcome::Fail), ["origin"]);
    assert_eq!(
        names(&checks, CheckOutcome::Skipped),
        ["challenge", "rpIdHash"]
    );
    assert_eq!(checks[1].detail, "the origin is wrong");
    assert_eq!(checks[2].detail, "not reached: an earlier check failed");
}

#[test]
fn without_a_sink_no_detail_is_ever_formatted() {
    let mut obs = Observer::none();
    obs.pass("type", || unreachable!("formatted without a sink"));
    obs.fail("origin", || unreachable!("formatted without a sink"));
    obs.refused("origin", String::new(), &["type", "origin"]);
}
