//! The real-browser journeys: runs `node --test tests/browser/` (playwright-core driving Debian's
//! headless Chromium with a virtual authenticator) against the `fidoflow` binary cargo just built.
//!
//! Needs `/usr/bin/chromium` (or `FIDOFLOW_CHROMIUM`) and `node`; `npm ci` runs first when
//! `tests/browser/node_modules` is missing. `FIDOFLOW_SKIP_BROWSER_TESTS=1` skips the run on a
//! machine without a browser; otherwise a missing browser or node is a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The whole run; each journey has its own, shorter, limit inside node.
const RUN_LIMIT: Duration = Duration::from_secs(300);

fn skip_requested() -> bool {
    std::env::var("FIDOFLOW_SKIP_BROWSER_TESTS").is_ok_and(|v| v == "1")
}

fn chromium() -> PathBuf {
    std::env::var_os("FIDOFLOW_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

fn found(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs a command to its end or kills it after `limit`, returning its output.
fn run_bounded(mut command: Command, limit: Duration) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let read = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = read(Box::new(stdout));
    let err = read(Box::new(stderr));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the child") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let stdout = String::from_utf8_lossy(&out.join().unwrap_or_default()).into_owned();
            panic!("{command:?} did not finish within {limit:?}; its output so far:\n{stdout}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

#[test]
fn the_browser_journeys_pass_in_headless_chromium() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let suite = repo.join("tests").join("browser");
    let browser = chromium();
    let missing: Vec<String> = [
        (!browser.exists()).then(|| format!("Chromium at {}", browser.display())),
        (!found("node")).then(|| "node (Node.js 20 or newer)".to_string()),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !missing.is_empty() {
        if skip_requested() {
            eprintln!(
                "browser journeys SKIPPED (FIDOFLOW_SKIP_BROWSER_TESTS=1): missing {}",
                missing.join(" and ")
            );
            return;
        }
        panic!(
            "the browser journeys need {} (Debian: apt-get install chromium nodejs npm; .ci/run \
             installs Chromium). Set FIDOFLOW_SKIP_BROWSER_TESTS=1 to skip them on this machine.",
            missing.join(" and ")
        );
    }

    if !suite.join("node_modules").join("playwright-core").exists() {
        let mut npm = Command::new("npm");
        npm.args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&suite);
        let out = run_bounded(npm, Duration::from_secs(180));
        assert!(
            out.status.success(),
            "npm ci --prefix tests/browser failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let started = Instant::now();
    let mut node = Command::new("node");
    node.arg("--test")
        .arg("--test-reporter=spec")
        .arg(&suite)
        .current_dir(repo)
        .env("FIDOFLOW_BIN", env!("CARGO_BIN_EXE_fidoflow"))
        .env("FIDOFLOW_CHROMIUM", &browser);
    let out = run_bounded(node, RUN_LIMIT);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    println!(
        "browser journeys took {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        repo.join("target").join("browser-screenshots").display()
    );
    assert!(
        out.status.success(),
        "the browser journeys failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}
