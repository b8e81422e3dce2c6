//! Running the `fidoflow` binary in the CLI tests (`tests/verify_cli.rs`,
//! `tests/verify_transaction_cli.rs`), each of which includes this file on its own.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `fidoflow ARGS` with `input` on its stdin.
pub fn run_with_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fidoflow"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn fidoflow");
    match child.stdin.take().expect("stdin").write_all(input) {
        Ok(()) => {}
        // A program that refuses its arguments may exit before it reads its input.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => panic!("write stdin: {e}"),
    }
    child.wait_with_output().expect("wait")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
