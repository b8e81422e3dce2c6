//! `fidoflow audit verify [--data-dir DIR]`: walks the whole hash chain of the audit log (see
//! `store/sled_store/audit.rs` for its definition) and reports `OK` with the number of records
//! and the newest record's hash, or the first record (by its sequence number) that was changed,
//! removed or reordered.
//!
//! The store is opened as `fidoflow mds` opens it (sled has no read-only mode, and a running
//! server holds the store's lock): stop the server, verify, start it again. A data directory of
//! an older schema is migrated on opening, as the server would (the migration to schema version
//! 3 chains the records written before it). A directory without a store is refused, not made.
//!
//! Like `mds_cli`, a composition root: it opens the store, so it is not part of `cli` (whose
//! tools stay off the store). It uses `store` and `config`; never `startup`, `engine` or `api`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::config::Settings;
use crate::store::{AuditLog, ChainBreak, ChainReport, SledStore};

pub const USAGE: &str = "\
usage: fidoflow audit verify [--data-dir DIR]

Walks the audit log's hash chain in the store of DIR (default: the configured server.data_dir)
and reports OK with the number of records, or the first record that was changed, removed or
reordered. The server must not be running on DIR. Exit status: 0 intact, 1 broken, 2 usage
error or the store could not be read.
";

/// Runs `fidoflow audit …` with the arguments after `audit`; `settings` is only asked for the
/// data directory when `--data-dir` is not given. Returns the exit status.
pub fn run(
    args: &[String],
    settings: impl FnOnce() -> anyhow::Result<Settings>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let data_dir = match parse(args) {
        Ok(Some(dir)) => Ok(dir),
        Ok(None) => settings().map(|s| s.server.data_dir),
        Err(Parsed::Help) => {
            let _ = out.write_all(USAGE.as_bytes());
            return 0;
        }
        Err(Parsed::Usage(message)) => {
            let _ = writeln!(err, "fidoflow audit: {message}\n\n{USAGE}");
            return 2;
        }
    };
    let verdict = data_dir.and_then(|dir| verify(&dir).map(|v| (dir, v)));
    match verdict {
        Ok((dir, Ok(report))) => {
            let head = match &report.head {
                Some((seq, hash)) => format!(", newest record seq {seq} with hash {hash}"),
                None => String::new(),
            };
            let _ = writeln!(
                out,
                "OK: the audit log in {} holds {} records, hash-chained from the genesis value{head}",
                dir.display(),
                report.records
            );
            0
        }
        Ok((dir, Err(broken))) => {
            let _ = writeln!(
                out,
                "BROKEN: the audit log in {} fails at seq {}: {broken}",
                dir.display(),
                broken.seq()
            );
            1
        }
        Err(e) => {
            let _ = writeln!(err, "fidoflow audit verify: {e:#}");
            2
        }
    }
}

enum Parsed {
    Help,
    Usage(String),
}

/// `verify [--data-dir DIR | --data-dir=DIR]`: the directory, if given.
fn parse(args: &[String]) -> Result<Option<PathBuf>, Parsed> {
    match args.first().map(String::as_str) {
        Some("verify") => {}
        Some("-h" | "--help" | "help") => return Err(Parsed::Help),
        Some(other) => return Err(Parsed::Usage(format!("unknown command \"{other}\""))),
        None => return Err(Parsed::Usage("no command given".into())),
    }
    let mut data_dir = None;
    let mut rest = args[1..].iter();
    while let Some(arg) = rest.next() {
        let value = match arg.as_str() {
            "-h" | "--help" => return Err(Parsed::Help),
            "--data-dir" => rest
                .next()
                .ok_or_else(|| Parsed::Usage("--data-dir needs a directory".into()))?,
            other => match other.strip_prefix("--data-dir=") {
                Some(value) => value,
                None => return Err(Parsed::Usage(format!("unknown argument \"{other}\""))),
            },
        };
        if data_dir.replace(PathBuf::from(value)).is_some() {
            return Err(Parsed::Usage("--data-dir given twice".into()));
        }
    }
    Ok(data_dir)
}

/// Opens the store in `data_dir` (which must hold one) and walks the audit hash chain.
pub fn verify(data_dir: &Path) -> anyhow::Result<Result<ChainReport, ChainBreak>> {
    if !data_dir.join("db").is_dir() {
        bail!(
            "{} holds no fidoflow store (no db directory)",
            data_dir.display()
        );
    }
    let store = SledStore::open(data_dir).with_context(|| {
        format!(
            "cannot open the store in {}; if fidoflow is running there, stop it, run this \
             command, and start it again",
            data_dir.display()
        )
    })?;
    Ok(store.verify_chain()?)
}
