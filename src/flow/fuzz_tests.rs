//! Property-based fuzzing of flow file loading from arbitrary TOML text (proptest): no text
//! panics; with `FIDOFLOW_FUZZ_CASES` set in a release build, each load returns within 50 ms.
//! See `src/fido/tests/fuzz.rs` for the case counts.

use std::path::Path;
use std::time::{Duration, Instant};

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::Config;

use super::registry::Registry;

const SHIPPED: &[&str] = &[
    include_str!("../../flows/applications.toml"),
    include_str!("../../flows/self-service.toml"),
    include_str!("../../flows/sign-up.toml"),
];

fn long_run() -> Option<u32> {
    std::env::var("FIDOFLOW_FUZZ_CASES")
        .ok()
        .and_then(|n| n.trim().parse().ok())
}

fn config() -> Config {
    Config {
        cases: long_run().unwrap_or(256),
        failure_persistence: None,
        ..Config::default()
    }
}

fn load(texts: &[String]) {
    let start = Instant::now();
    if let Ok(registry) = Registry::from_sources(
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| (Path::new(["a.toml", "b.toml", "c.toml"][i % 3]), t.as_str())),
    ) {
        for flow in registry.flows() {
            for step in &flow.steps {
                let _ = (step.type_name(), step.grants());
            }
        }
        for app in registry.applications() {
            let _ = app.max_age.chrono();
        }
    }
    let took = start.elapsed();
    if long_run().is_some() && !cfg!(debug_assertions) {
        assert!(took <= Duration::from_millis(50), "loading took {took:?}");
    }
}

const KEYS: &[&str] = &[
    "id",
    "kind",
    "type",
    "steps",
    "grants",
    "max_age",
    "access",
    "authorization",
    "action",
    "allow_last_credential",
    "attestation",
    "resident_key",
    "user_verification",
    "timeout",
    "algorithms",
    "conditional_mediation",
    "tag",
    "flow",
    "application",
    "x",
];

const VALUES: &[&str] = &[
    "\"default\"",
    "\"self-service\"",
    "\"public\"",
    "\"password\"",
    "\"fido-authentication\"",
    "\"fido-passwordless\"",
    "\"fido-registration\"",
    "\"user-data\"",
    "\"credential-selection\"",
    "\"display-name-change\"",
    "\"fido-approval\"",
    "\"apply\"",
    "\"delete\"",
    "\"rename\"",
    "\"authenticated-within\"",
    "\"user-has-credential\"",
    "\"10m\"",
    "\"0s\"",
    "\"8h\"",
    "\"18446744073709551615s\"",
    "\"99999999999999999999h\"",
    "\"9223372036854775807d\"",
    "\"-1m\"",
    "\"m\"",
    "\"\"",
    "\"required\"",
    "\"preferred\"",
    "\"discouraged\"",
    "\"none\"",
    "\"direct\"",
    "\"PASSWORD_VERIFIED\"",
    "true",
    "false",
    "0",
    "-7",
    "9223372036854775807",
    "-9223372036854775808",
    "1e308",
    "[]",
    "[-7, -257]",
    "{}",
    "[\"A\", \"B\"]",
    "[{ type = \"password\" }]",
    "[{ type = \"authenticated-within\", max_age = \"1s\" }]",
];

/// Flow-file-like text: tables of shipped kinds with random members and values.
fn shaped_text() -> impl Strategy<Value = String> {
    let member = (select(KEYS), select(VALUES)).prop_map(|(k, v)| format!("{k} = {v}\n"));
    let inline_step = vec((select(KEYS), select(VALUES)), 0..4).prop_map(|members| {
        let inner: Vec<String> = members.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        format!("{{ {} }}", inner.join(", "))
    });
    let table = (
        select(
            &[
                "[[flow]]",
                "[[application]]",
                "[[flow.steps]]",
                "[flow]",
                "[[x]]",
            ][..],
        ),
        vec(member, 0..6),
        vec(inline_step, 0..4),
    )
        .prop_map(|(head, members, steps)| {
            format!(
                "{head}\n{}steps = [{}]\n",
                members.concat(),
                steps.join(", ")
            )
        });
    vec(table, 0..5).prop_map(|t| t.concat())
}

/// A shipped file with lines dropped, duplicated or bytes changed.
fn spoiled_shipped() -> impl Strategy<Value = String> {
    (
        0usize..SHIPPED.len(),
        vec((any::<Index>(), any::<u8>(), any::<u8>()), 0..6),
    )
        .prop_map(|(i, edits)| {
            let mut lines: Vec<String> = SHIPPED[i].lines().map(String::from).collect();
            for (at, byte, op) in edits {
                if lines.is_empty() {
                    break;
                }
                let n = at.index(lines.len());
                match op % 4 {
                    0 => {
                        lines.remove(n);
                    }
                    1 => {
                        let line = lines[n].clone();
                        lines.insert(n, line);
                    }
                    2 => {
                        let mut b = lines[n].clone().into_bytes();
                        let j = usize::from(byte) % (b.len() + 1);
                        b.insert(j, op.wrapping_mul(byte) % 128);
                        lines[n] = String::from_utf8_lossy(&b).into_owned();
                    }
                    _ => {
                        let cut = lines[n].len().min(usize::from(byte));
                        let cut = (0..=cut).rev().find(|c| lines[n].is_char_boundary(*c));
                        lines[n].truncate(cut.unwrap_or(0));
                    }
                }
            }
            lines.join("\n")
        })
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => shaped_text(),
        3 => spoiled_shipped(),
        1 => vec(any::<u8>(), 0..300).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        1 => Just(SHIPPED.concat()),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn flow_files_never_panic(texts in vec(text(), 1..4)) {
        load(&texts);
    }
}
