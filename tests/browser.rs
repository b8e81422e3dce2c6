//! The real-browser journeys: runs `node --test tests/browser/` (playwright-core driving Debian's
//! headless Chromium with a virtual authenticator) against the `fidoflow` binary cargo just built.
//!
//! Needs `/usr/bin/chromium` (or `FIDOFLOW_CHROMIUM`) and `node`; `npm ci` runs first when
//! `tests/browser/node_modules` is missing. `FIDOFLOW_SKIP_BROWSER_TESTS=1` skips the run on a
//! machine without a browser; otherwise a missing browser or node is a failure.
//!
//! node reports TAP, which is parsed here: every journey is printed as its own line (`browser
//! journey passed: …`), and a journey that was skipped (e.g. the pages lack `id="signin"`) or
//! marked todo, or a run with no journey at all, fails the test; node itself exits 0 for those.

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

    // Screenshots go under the target directory: CARGO_TARGET_DIR's when set, else ./target.
    let screenshots = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| repo.join("target"), PathBuf::from)
        .join("browser-screenshots");
    let started = Instant::now();
    let started_at = std::time::SystemTime::now();
    let mut node = Command::new("node");
    // TAP on stdout, parsed below so that every journey shows as its own line and a skipped
    // journey, or a run with none, fails; the readable spec report goes to stderr.
    node.arg("--test")
        .args(["--test-reporter=tap", "--test-reporter-destination=stdout"])
        .args(["--test-reporter=spec", "--test-reporter-destination=stderr"])
        .arg(&suite)
        .current_dir(repo)
        .env("FIDOFLOW_BIN", env!("CARGO_BIN_EXE_fidoflow"))
        .env("FIDOFLOW_CHROMIUM", &browser)
        .env("BROWSER_SCREENSHOTS_DIR", &screenshots);
    let out = run_bounded(node, RUN_LIMIT);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    let journeys = journeys(&stdout);
    for j in &journeys {
        println!("browser journey {}: {}", j.outcome.word(), j.name);
    }
    println!(
        "browser journeys took {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        screenshots.display()
    );
    assert!(
        out.status.success(),
        "the browser journeys failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let fresh = std::fs::read_dir(&screenshots)
        .map(|dir| {
            dir.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "png"))
                .filter(|e| {
                    e.metadata()
                        .and_then(|m| m.modified())
                        .is_ok_and(|t| t >= started_at)
                })
                .count()
        })
        .unwrap_or(0);
    assert!(
        fresh > 0,
        "the journeys saved no screenshot in {}",
        screenshots.display()
    );
    assert!(
        !journeys.is_empty(),
        "node ran no browser journey (is tests/browser/*.test.mjs empty?):\n{stdout}\n{stderr}"
    );
    let not_run: Vec<String> = journeys
        .iter()
        .filter(|j| j.outcome != Outcome::Passed)
        .map(|j| format!("{} ({})", j.name, j.outcome.word()))
        .collect();
    assert!(
        not_run.is_empty(),
        "browser journeys did not run or did not pass, which counts as a failure:\n  {}\n{stdout}",
        not_run.join("\n  ")
    );
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Passed,
    Failed,
    Skipped,
    Todo,
}

impl Outcome {
    fn word(&self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "FAILED",
            Outcome::Skipped => "SKIPPED",
            Outcome::Todo => "TODO",
        }
    }
}

#[derive(Debug)]
struct Journey {
    name: String,
    outcome: Outcome,
}

/// The journeys in node's TAP output: every `ok N - name` / `not ok N - name` line (any
/// indentation) with its `# SKIP` / `# TODO` directive, less the lines node adds for a whole file.
fn journeys(tap: &str) -> Vec<Journey> {
    tap.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let (passed, rest) = if let Some(rest) = line.strip_prefix("not ok ") {
                (false, rest)
            } else {
                (true, line.strip_prefix("ok ")?)
            };
            let (number, rest) = rest.split_once(' ')?;
            if !number.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let rest = rest.strip_prefix("- ").unwrap_or(rest);
            let (name, directive) = match rest.find(" # ") {
                Some(at) => (&rest[..at], rest[at + 3..].to_ascii_uppercase()),
                None => (rest, String::new()),
            };
            let name = name.trim().replace("\\#", "#");
            if name.ends_with(".mjs") || name.ends_with(".js") {
                return None;
            }
            let outcome = if directive.starts_with("SKIP") {
                Outcome::Skipped
            } else if directive.starts_with("TODO") {
                Outcome::Todo
            } else if passed {
                Outcome::Passed
            } else {
                Outcome::Failed
            };
            Some(Journey { name, outcome })
        })
        .collect()
}

#[test]
fn a_skipped_or_todo_journey_is_told_apart_from_a_passed_one_in_tap() {
    let tap = "TAP version 13\n# Subtest: /r/tests/browser/portal.test.mjs\n    # Subtest: a journey\n    ok 1 - a journey\n      ---\n      ...\n    ok 2 - a skipped one # SKIP static/index.html is still the placeholder\n    not ok 3 - a broken one\n    ok 4 - later # TODO\nok 1 - /r/tests/browser/portal.test.mjs\n1..1\n# tests 4\n# skip 1\n";
    let found: Vec<(String, Outcome)> = journeys(tap)
        .into_iter()
        .map(|j| (j.name, j.outcome))
        .collect();
    assert_eq!(
        found,
        vec![
            ("a journey".to_string(), Outcome::Passed),
            ("a skipped one".to_string(), Outcome::Skipped),
            ("a broken one".to_string(), Outcome::Failed),
            ("later".to_string(), Outcome::Todo),
        ]
    );
    assert!(journeys("TAP version 13\n1..0\n# tests 0\n").is_empty());
}
