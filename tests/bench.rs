//! `fidoflow bench` end to end: the built binary spawns itself as the server and drives real
//! ceremonies over HTTP; each run is short (about 2 s of load).

use std::process::Command;

use serde_json::Value;

fn bench(args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fidoflow"))
        .arg("bench")
        .args(args)
        .arg("--json")
        .arg("--quiet")
        .env("RUST_LOG", "warn,fidoflow=info")
        .output()
        .expect("run fidoflow bench");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not a JSON report ({e}): {stdout}\nstderr: {stderr}"));
    (out.status.code().unwrap_or(-1), report, stderr)
}

fn assert_clean_run(code: i32, r: &Value, stderr: &str) {
    assert_eq!(code, 0, "{r:#}\n{stderr}");
    assert!(r["ceremonies"].as_u64().unwrap() > 0, "{r:#}");
    assert_eq!(r["errors"], 0, "{r:#}");
    assert!(
        r["server_cpu_us_per_ceremony"].as_f64().unwrap() > 0.0,
        "{r:#}"
    );
    assert!(r["es256_verify_us"].as_f64().unwrap() > 0.0, "{r:#}");
    assert!(
        r["cpu_per_ceremony_in_es256_verifies"].as_f64().unwrap() > 0.0,
        "{r:#}"
    );
    assert!(r["latency"]["p99_us"].as_u64().unwrap() >= r["latency"]["p50_us"].as_u64().unwrap());
}

#[test]
fn passwordless_ceremonies_complete_and_the_servers_cpu_is_reported() {
    let (code, r, stderr) = bench(&[
        "--spawn",
        "--scenario",
        "passwordless",
        "--concurrency",
        "2",
        "--duration",
        "2",
    ]);
    assert_clean_run(code, &r, &stderr);
    assert_eq!(r["scenario"], "passwordless");
    assert_eq!(r["mode"], "closed");
    let steps: Vec<&str> = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    for step in ["access", "challenge", "assertion"] {
        assert!(steps.contains(&step), "{steps:?}");
    }
}

#[test]
fn registration_makes_a_user_and_passkey_each_ceremony() {
    let (code, r, stderr) = bench(&[
        "--spawn",
        "--scenario",
        "registration",
        "--concurrency",
        "2",
        "--duration",
        "1",
    ]);
    assert_clean_run(code, &r, &stderr);
}

#[test]
fn the_authfi_shape_is_loaded_through_the_spawned_tenant() {
    let (code, r, stderr) = bench(&[
        "--spawn",
        "--scenario",
        "authfi",
        "--concurrency",
        "2",
        "--duration",
        "1",
    ]);
    assert_clean_run(code, &r, &stderr);
}

#[test]
fn an_open_loop_run_reports_latency_from_the_schedule() {
    let (code, r, stderr) = bench(&[
        "--spawn",
        "--scenario",
        "passwordless",
        "--concurrency",
        "4",
        "--duration",
        "2",
        "--rate",
        "20",
        "--warmup",
        "0.5",
    ]);
    assert_clean_run(code, &r, &stderr);
    assert_eq!(r["mode"], "open");
    let n = r["ceremonies"].as_u64().unwrap();
    // 20/s for 2 s, give or take the edges of the window.
    assert!((35..=45).contains(&n), "{r:#}");
    assert!(r["latency"]["p99_us"].as_u64().unwrap() > 0);
}

#[test]
fn a_server_that_is_not_there_is_an_error_not_a_panic() {
    // Port 9 (discard) on loopback: nothing listens, every call is refused.
    let out = Command::new(env!("CARGO_BIN_EXE_fidoflow"))
        .args([
            "bench",
            "--url",
            "http://127.0.0.1:9",
            "--duration",
            "1",
            "--concurrency",
            "1",
        ])
        .output()
        .expect("run fidoflow bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("setup failed"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_options_are_refused_with_a_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_fidoflow"))
        .args(["bench", "--spawn", "--duration=0"])
        .output()
        .expect("run fidoflow bench");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--duration"), "{stderr}");
    let out = Command::new(env!("CARGO_BIN_EXE_fidoflow"))
        .args([
            "bench",
            "--url",
            "http://127.0.0.1:9",
            "--scenario",
            "authfi",
        ])
        .output()
        .expect("run fidoflow bench");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tenant-path"));
}
