//! The command line of the `fidoflow` binary, defined with clap: which command runs, with what.
//! The commands themselves live elsewhere: `serve` in `startup`, `verify` in `cli` (whose own
//! parsers read the options after `verify registration|authentication|transaction`, so their
//! messages and exit statuses stay as they were: 0 verified, 1 refused, 2 usage error), `mds` in
//! `mds_cli` and `audit` in `audit_cli`. Like `startup`, a composition root: only `main` uses it.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::startup;

/// The usage lines of `verify`, shown by `fidoflow verify --help` (the options are read by
/// `cli`'s parsers, which print the same text on their own `--help`).
const VERIFY_HELP: &str = "\
Options of each ceremony (`fidoflow verify registration --help` and so on):
";

#[derive(Debug, Parser)]
#[command(
    name = "fidoflow",
    version,
    about = "Open-source FIDO server and self-service flow engine",
    long_about = "Open-source FIDO server and self-service flow engine. Without a command, runs \
        the server (configuration: FIDOFLOW_CONFIG, else ./fidoflow.toml, then the FIDOFLOW_* \
        environment).",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default without a command); SIGTERM or SIGINT stops it gracefully.
    Serve,
    /// Verify a WebAuthn response or a transaction evidence document offline.
    /// Exit status: 0 verified, 1 refused, 2 usage error.
    #[command(after_help = verify_after_help())]
    Verify {
        #[command(subcommand)]
        ceremony: Verify,
    },
    /// The FIDO Metadata Service BLOB in the data directory (stop the server first).
    Mds {
        #[command(subcommand)]
        command: Mds,
    },
    /// The audit log's hash chain in the data directory (stop the server first).
    /// Exit status: 0 intact, 1 broken, 2 usage error or the store could not be read.
    Audit {
        #[command(subcommand)]
        command: Audit,
    },
    /// Bring the PostgreSQL database (store.url, FIDOFLOW_STORE_URL) to this build's schema, as
    /// a server does at start; or copy a sled data directory into an empty database.
    Migrate {
        /// The database instead of the configured one.
        #[arg(long, value_name = "URL", global = true)]
        to: Option<String>,
        #[command(subcommand)]
        command: Option<Migrate>,
    },
    /// Print a completion script for SHELL to stdout (e.g. `fidoflow completions bash >
    /// /etc/bash_completion.d/fidoflow`).
    Completions {
        /// The shell to complete in.
        shell: clap_complete::Shell,
    },
    /// Load a server with real ceremonies and report throughput, latency and its CPU time per
    /// ceremony (`--spawn` starts one on a temporary data directory).
    Bench(crate::bench::BenchArgs),
}

/// The options after `verify registration|authentication|transaction`, read by `cli`'s parsers
/// (`--help` included, which prints every option).
#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub struct Passed {
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        num_args = 0..,
        value_name = "OPTIONS"
    )]
    pub args: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum Verify {
    /// Verify a registration response: --challenge B64URL [--trust-anchors DIR] [--mds FILE]
    /// [--mds-root PEM]... [--mds-crl PEM]... [--require-trusted]
    /// [--no-safetynet-timestamp | --safetynet-max-age SECONDS] [--no-cts-profile-match]
    /// COMMON [FILE]
    Registration(Passed),
    /// Verify an authentication response: --challenge B64URL --public-key B64URL_COSE_KEY
    /// [--sign-count N] [--user-handle B64URL] [--credential-id B64URL]...
    /// [--backup-eligible true|false] COMMON [FILE]
    Authentication(Passed),
    /// Verify a transaction evidence document: --key PEM [--json] EVIDENCE.json|-
    Transaction(Passed),
}

#[derive(Debug, Subcommand)]
pub enum Mds {
    /// Verify a metadata BLOB against mds.roots and mds.crls and store it.
    Import {
        /// The metadata BLOB (a JWS) the operator fetched.
        file: PathBuf,
    },
    /// Re-judge every stored credential's attestation against the stored metadata.
    Reevaluate,
}

#[derive(Debug, Subcommand)]
pub enum Migrate {
    /// Copy a sled data directory (stopped) into an empty PostgreSQL database, then check that
    /// both hold as many tenants, users, credentials, transactions and audit records.
    SledToPostgres {
        /// The sled data directory to copy.
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum Audit {
    /// Walk the audit log's hash chain and report OK, or the first record that was changed.
    Verify {
        /// The data directory (default: the configured server.data_dir).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// The audit signing public key (the text `public-key` printed, or a file holding it).
        #[arg(long, value_name = "FILE|BASE64")]
        public_key: Option<String>,
        /// Walk the log in this PostgreSQL database instead (default: FIDOFLOW_STORE_URL when
        /// set); the data directory then only holds the signing key.
        #[arg(long, value_name = "URL")]
        store_url: Option<String>,
    },
    /// Print the public key of the data directory's audit signing key (made if there is none).
    PublicKey {
        /// The data directory (default: the configured server.data_dir).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
}

fn verify_after_help() -> String {
    format!("{VERIFY_HELP}\n{}", crate::cli::USAGE)
}

/// Parses the process's arguments and runs the command; the exit status.
pub fn main() -> ExitCode {
    run(std::env::args_os())
}

/// Parses `args` (the program name first) and runs the command.
pub fn run(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => return refused(e),
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => status(startup::serve()),
        Command::Verify { ceremony } => {
            let (name, passed) = match ceremony {
                Verify::Registration(p) => ("registration", p),
                Verify::Authentication(p) => ("authentication", p),
                Verify::Transaction(p) => ("transaction", p),
            };
            let mut args = vec!["verify".to_string(), name.to_string()];
            args.extend(passed.args);
            let (mut stdin, mut out, mut err) =
                (std::io::stdin(), std::io::stdout(), std::io::stderr());
            exit(crate::cli::run(&args, &mut stdin, &mut out, &mut err))
        }
        Command::Mds { command } => {
            let args = match command {
                Mds::Import { file } => vec!["import".to_string(), file.display().to_string()],
                Mds::Reevaluate => vec!["reevaluate".to_string()],
            };
            status(startup::settings().and_then(|s| crate::mds_cli::run(s, args)))
        }
        Command::Audit { command } => {
            let mut args = Vec::new();
            let data_dir = match command {
                Audit::Verify {
                    data_dir,
                    public_key,
                    store_url,
                } => {
                    args.push("verify".to_string());
                    if let Some(key) = public_key {
                        args.extend(["--public-key".to_string(), key]);
                    }
                    if let Some(url) = store_url {
                        args.extend(["--store-url".to_string(), url]);
                    }
                    data_dir
                }
                Audit::PublicKey { data_dir } => {
                    args.push("public-key".to_string());
                    data_dir
                }
            };
            if let Some(dir) = data_dir {
                args.extend(["--data-dir".to_string(), dir.display().to_string()]);
            }
            let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
            exit(crate::audit_cli::run(
                &args,
                startup::settings,
                &mut out,
                &mut err,
            ))
        }
        Command::Migrate { to, command } => {
            let done = startup::settings().and_then(|settings| match command {
                None => crate::migrate_cli::migrate(&settings, to.as_deref()),
                Some(Migrate::SledToPostgres { from }) => {
                    crate::migrate_cli::sled_to_postgres(&settings, &from, to.as_deref())
                }
            });
            status(done.map(|line| println!("{line}")))
        }
        Command::Bench(args) => crate::bench::run(args),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "fidoflow",
                &mut std::io::stdout(),
            );
            ExitCode::SUCCESS
        }
    }
}

/// A command line clap refused, or `--help`/`--version`: clap's text (on stderr for a usage
/// error, with where to find the usage); exit status 0 for help, 2 for a usage error.
fn refused(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let _ = e.print();
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
        _ => {
            eprintln!("\nusage: `fidoflow --help` lists the commands, `fidoflow COMMAND --help` their options");
            ExitCode::from(2)
        }
    }
}

/// An error of `serve` or `mds`: its message (with its causes, `a: b`) on stderr, exit status 1;
/// never a backtrace, whatever `RUST_BACKTRACE` says.
fn status(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_command_is_serve_and_verify_passes_its_options_through() {
        assert!(Cli::try_parse_from(["fidoflow"]).unwrap().command.is_none());
        let cli = Cli::try_parse_from([
            "fidoflow",
            "verify",
            "registration",
            "--challenge",
            "AAAA",
            "--frobnicate",
            "-",
        ])
        .unwrap();
        match cli.command {
            Some(Command::Verify {
                ceremony: Verify::Registration(p),
            }) => assert_eq!(p.args, ["--challenge", "AAAA", "--frobnicate", "-"]),
            other => panic!("{other:?}"),
        }
    }
}
