//! The command-line tools that run beside the server (`fidoflow verify …`): argument parsing,
//! reading the input and printing reports. Verification itself belongs to `crate::fido` (and
//! `crate::uaf` for UAF transaction evidence); this module imports nothing from `engine`, `api`
//! or `store`.

mod metadata;
pub mod verify;
mod verify_args;
mod verify_transaction;

use std::io::{Read, Write};

/// The usage text of every command.
pub const USAGE: &str = "\
usage:
  fidoflow [serve]              run the server (configuration: FIDOFLOW_CONFIG or ./fidoflow.toml)
  fidoflow verify registration --challenge B64URL [--trust-anchors DIR] [--mds FILE]
                               [--mds-root PEM]... [--mds-crl PEM]... [--require-trusted]
                               [--no-safetynet-timestamp | --safetynet-max-age SECONDS]
                               [--no-cts-profile-match] [COMMON] [FILE]
  fidoflow verify authentication --challenge B64URL --public-key B64URL_COSE_KEY
                               [--sign-count N] [--user-handle B64URL] [--credential-id B64URL]...
                               [--backup-eligible true|false] [COMMON] [FILE]
  fidoflow verify transaction --key PEM [--json] EVIDENCE.json|-
  fidoflow mds import FILE | fidoflow mds reevaluate
  fidoflow audit verify [--data-dir DIR] | fidoflow audit public-key [--data-dir DIR]
  fidoflow completions bash|zsh|fish|elvish|powershell

COMMON: --rp-id ID --origin ORIGIN [--origin ORIGIN]... [--require-uv] [--allow-cross-origin]
        [--top-origin ORIGIN]... [--expected-type TYPE]... [--at RFC3339] [--json]

The response JSON (PublicKeyCredential.toJSON()) is read from FILE, or from stdin without FILE
or with \"-\". --mds takes a metadata BLOB (a JWS, verified against the --mds-root certificates
and --mds-crl lists at --at) or metadata statements in JSON (taken as given); the attestation
roots of the authenticator's entry count as trust anchors and its status reports can refuse it.

Verify policies, each with the server setting it stands for in brackets:
  --expected-type TYPE         accept this clientDataJSON.type instead of webauthn.create /
                               webauthn.get (e.g. payment.get); repeatable
                               [relying_party.expected_registration_types,
                               relying_party.expected_authentication_types]
  --no-safetynet-timestamp     do not check an android-safetynet timestampMs
                               [attestation.safetynet_timestamp = false]
  --safetynet-max-age SECONDS  how far timestampMs may be from --at: 1 to 86400, default 60
                               [attestation.safetynet_max_age]
  --no-cts-profile-match       accept a SafetyNet statement without ctsProfileMatch: true
                               (basicIntegrity: true is still required)
                               [attestation.safetynet_cts_profile_match = false]

verify transaction checks a transaction evidence document (from the file, or stdin for \"-\")
offline against the server's evidence public key (--key: the SPKI PEM the server serves at
/.well-known/fidoflow/evidence-key.pem) and prints what was approved, or the check that refused it.
Exit status: 0 verified, 1 refused, 2 usage error.
";

/// Runs the process's command line when it has arguments (with the real stdin, stdout and
/// stderr) and returns the exit status; `None` without arguments, when the server should run.
pub fn run_from_env() -> Option<i32> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        return None;
    }
    let (mut stdin, mut out, mut err) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    Some(run(&args, &mut stdin, &mut out, &mut err))
}

/// Runs the command line `args` (without the program name) and returns the exit status.
pub fn run(args: &[String], stdin: &mut dyn Read, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    match args.first().map(String::as_str) {
        Some("verify") => verify::run(args.get(1..).unwrap_or_default(), stdin, out, err),
        Some("-h" | "--help" | "help") => {
            let _ = out.write_all(USAGE.as_bytes());
            0
        }
        Some(other) => usage_error(err, &format!("unknown command \"{other}\"")),
        None => usage_error(err, "no command given"),
    }
}

/// Prints `message` and the usage to `err`; returns the usage-error status 2.
pub(crate) fn usage_error(err: &mut dyn Write, message: &str) -> i32 {
    let _ = writeln!(err, "fidoflow: {message}\n\n{USAGE}");
    2
}
