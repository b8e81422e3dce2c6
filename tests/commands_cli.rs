//! The `fidoflow` command line (clap): `--version`, `--help` on every command, completion
//! scripts, and usage errors with exit status 2.

use std::process::{Command, Output};

/// The binary with `args`, without the test's own `FIDOFLOW_*` variables.
fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fidoflow"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("FIDOFLOW_") {
            command.env_remove(name);
        }
    }
    command.args(args);
    command
}

fn run(args: &[&str]) -> Output {
    command(args).output().expect("the fidoflow binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn version_prints_the_crate_version() {
    let out = run(&["--version"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        format!("fidoflow {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_lists_every_command() {
    let out = run(&["--help"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for command in ["serve", "verify", "mds", "audit", "migrate", "completions"] {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with(&format!("{command} "))),
            "{command} is not listed:\n{text}"
        );
    }
}

#[test]
fn every_command_has_help() {
    for args in [
        &["serve", "--help"][..],
        &["mds", "--help"],
        &["mds", "import", "--help"],
        &["audit", "--help"],
        &["audit", "verify", "--help"],
        &["migrate", "--help"],
        &["migrate", "sled-to-postgres", "--help"],
        &["completions", "--help"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).contains("Usage: fidoflow"), "{args:?}");
    }
    let out = run(&["audit", "verify", "--help"]);
    assert!(
        stdout(&out).contains("--data-dir <DIR>"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn verify_help_shows_the_ceremonies_and_their_options() {
    let out = run(&["verify", "--help"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for command in ["registration", "authentication", "transaction"] {
        assert!(text.contains(command), "{command}:\n{text}");
    }
    for option in [
        "--challenge B64URL",
        "--public-key",
        "--rp-id ID",
        "--key PEM",
    ] {
        assert!(text.contains(option), "{option}:\n{text}");
    }
    // Each ceremony's own help is the options of its parser.
    let out = run(&["verify", "authentication", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("--sign-count N"), "{}", stdout(&out));
}

#[test]
fn completions_print_a_script_for_the_shell() {
    let out = run(&["completions", "bash"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let script = stdout(&out);
    assert!(script.contains("_fidoflow()"), "{script}");
    assert!(script.contains("complete ") && script.contains("fidoflow"));
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = run(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        assert!(stdout(&out).contains("fidoflow"), "{shell}");
    }
    let out = run(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("invalid value 'tcsh'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_unknown_command_or_option_is_a_usage_error_with_status_2() {
    for args in [
        &["frobnicate"][..],
        &["--frobnicate"],
        &["mds"],
        &["mds", "import"],
        &["mds", "import", "a", "b"],
        &["audit", "verify", "--data-dir"],
        &["audit", "check"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("usage:"), "{args:?}: {err}");
        assert!(stdout(&out).is_empty(), "{args:?}");
    }
    let out = run(&["frobnicate"]);
    assert!(
        stderr(&out).contains("error: unrecognized subcommand 'frobnicate'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn migrate_brings_a_database_to_the_schema_and_needs_one() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    // Without a PostgreSQL database configured: an error that says what to set.
    let out = run(&["migrate"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("FIDOFLOW_STORE_URL"),
        "{}",
        stderr(&out)
    );
    let url = fidoflow::store::pg_testing::fresh_database_url();
    let out = command(&["migrate", "--to", &url])
        .env("FIDOFLOW_DATA_DIR", dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("schema version 2"),
        "{}",
        stdout(&out)
    );
    // A directory without a sled store is refused by name.
    let out = command(&["migrate", "sled-to-postgres", "--from", dir, "--to", &url])
        .env("FIDOFLOW_DATA_DIR", dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("holds no fidoflow store"),
        "{}",
        stderr(&out)
    );
}
