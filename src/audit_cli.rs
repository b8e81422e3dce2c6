//! `fidoflow audit verify [--data-dir DIR] [--store-url URL] [--public-key FILE|BASE64]`: walks
//! the whole hash chain of the audit log (see `store/audit_chain/` for its definition), in the
//! sled store of the data directory or, with `--store-url` (or `FIDOFLOW_STORE_URL`), in
//! PostgreSQL (the data directory then only holds the signing key), and reports `OK`
//! with the number of records, the checkpoint it starts from (when retention removed the oldest
//! records) and the newest record's hash, or the first record (by its sequence number) that was
//! changed, removed or reordered, or the checkpoint whose signature fails.
//! `fidoflow audit public-key [--data-dir DIR]`: prints the public key of the data directory's
//! audit signing key (made there if there is none yet), to keep elsewhere and give to `verify`.
//!
//! The store is opened as `fidoflow mds` opens it (sled has no read-only mode, and a running
//! server holds the store's lock): stop the server, verify, start it again. A data directory of
//! an older schema is migrated on opening, as the server would (the migration to schema version
//! 3 chains the records written before it). A directory without a store is refused, not made.
//! PostgreSQL is read while the servers run (the walk reads one snapshot); a database of an
//! older schema is migrated on connecting, as a starting server would.
//!
//! Like `mds_cli`, a composition root: it opens the store, so it is not part of `cli` (whose
//! tools stay off the store). It uses `store` and `config`; never `startup`, `engine` or `api`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use base64::Engine as _;

use crate::config::{Settings, StoreBackend, StoreSettings};
use crate::store::{
    audit_public_key, AuditLog, ChainBreak, ChainReport, PgOptions, PgStore, SledStore,
};

/// The variable that gives `verify` a PostgreSQL store when `--store-url` does not.
const STORE_URL_VARIABLE: &str = "FIDOFLOW_STORE_URL";

pub const USAGE: &str = "\
usage: fidoflow audit verify [--data-dir DIR] [--store-url URL] [--public-key FILE|BASE64]
       fidoflow audit public-key [--data-dir DIR]

verify: walks the audit log's hash chain in the store of DIR (default: the configured
server.data_dir) and reports OK with the number of records, or the first record that was
changed, removed or reordered. When retention removed the oldest records, the chain starts
from their signed checkpoint, whose signature is checked with the public key given (the text
`public-key` printed, or a file holding it), else with DIR's audit-signing.key. The server must
not be running on DIR. With --store-url URL (or FIDOFLOW_STORE_URL), the log in that
PostgreSQL database is walked instead (while the servers run); DIR then only holds the key.
Exit status: 0 intact, 1 broken, 2 usage error or the store could not be read.

public-key: prints the public key of DIR's audit signing key (made there first if there is
none), base64. Keep it outside DIR and give it to `verify --public-key`.
";

/// Runs `fidoflow audit …` with the arguments after `audit`; `settings` is only asked for the
/// data directory when `--data-dir` is not given. Returns the exit status.
pub fn run(
    args: &[String],
    settings: impl FnOnce() -> anyhow::Result<Settings>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let parsed = match parse(args) {
        Ok(parsed) => parsed,
        Err(Parsed::Help) => {
            let _ = out.write_all(USAGE.as_bytes());
            return 0;
        }
        Err(Parsed::Usage(message)) => {
            let _ = writeln!(err, "fidoflow audit: {message}\n\n{USAGE}");
            return 2;
        }
    };
    let data_dir = match parsed.data_dir {
        Some(dir) => Ok(dir),
        None => settings().map(|s| s.server.data_dir),
    };
    match parsed.command {
        Command::PublicKey => match data_dir.and_then(|dir| public_key(&dir)) {
            Ok(key) => {
                let _ = writeln!(
                    out,
                    "{}",
                    base64::engine::general_purpose::STANDARD.encode(key)
                );
                0
            }
            Err(e) => {
                let _ = writeln!(err, "fidoflow audit public-key: {e:#}");
                2
            }
        },
        Command::Verify {
            public_key,
            store_url,
        } => {
            let store_url = store_url.or_else(|| {
                std::env::var(STORE_URL_VARIABLE)
                    .ok()
                    .filter(|url| !url.trim().is_empty())
            });
            let verdict = data_dir.and_then(|dir| {
                let key = public_key.as_deref();
                match &store_url {
                    None => verify(&dir, key).map(|v| (dir.display().to_string(), dir, v)),
                    Some(url) => verify_postgres(url, &dir, key)
                        .map(|v| (format!("the database {}", redacted(url)), dir, v)),
                }
            });
            report(verdict, public_key.is_some(), out, err)
        }
    }
}

/// `url` with its password hidden, for the report.
fn redacted(url: &str) -> String {
    StoreSettings {
        backend: StoreBackend::Postgres {
            url: url.to_string(),
        },
        pool_size: 2,
        connect_timeout: std::time::Duration::from_secs(10),
    }
    .url_for_logs()
    .unwrap_or_default()
}

/// `verdict`: where the log is (for the report), the data directory with the key, the walk.
fn report(
    verdict: anyhow::Result<(String, PathBuf, Result<ChainReport, ChainBreak>)>,
    key_given: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    match verdict {
        Ok((place, dir, Ok(report))) => {
            let head = match &report.head {
                Some((seq, hash)) => format!(", newest record seq {seq} with hash {hash}"),
                None => String::new(),
            };
            let start = match &report.checkpoint {
                None => "the genesis value".to_string(),
                Some(c) => format!(
                    "a checkpoint after seq {} (hash {}), signed {} with {} ({} older records \
                     removed by retention)",
                    c.seq,
                    c.hash,
                    c.time,
                    if key_given {
                        "the public key given".to_string()
                    } else {
                        format!(
                            "the key in {}",
                            dir.join(crate::store::SIGNING_KEY_FILE).display()
                        )
                    },
                    c.removed
                ),
            };
            let _ = writeln!(
                out,
                "OK: the audit log in {place} holds {} records, hash-chained from {start}{head}",
                report.records
            );
            0
        }
        Ok((place, _, Err(broken))) => {
            let _ = writeln!(
                out,
                "BROKEN: the audit log in {place} fails at seq {}: {broken}",
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

enum Command {
    Verify {
        public_key: Option<Vec<u8>>,
        store_url: Option<String>,
    },
    PublicKey,
}

struct Arguments {
    command: Command,
    data_dir: Option<PathBuf>,
}

/// `verify [--data-dir DIR] [--store-url URL] [--public-key KEY]` or `public-key [--data-dir DIR]` (each option
/// also as `--option=VALUE`).
fn parse(args: &[String]) -> Result<Arguments, Parsed> {
    let verify = match args.first().map(String::as_str) {
        Some("verify") => true,
        Some("public-key") => false,
        Some("-h" | "--help" | "help") => return Err(Parsed::Help),
        Some(other) => return Err(Parsed::Usage(format!("unknown command \"{other}\""))),
        None => return Err(Parsed::Usage("no command given".into())),
    };
    let mut data_dir = None;
    let mut key = None;
    let mut store_url = None;
    let mut rest = args[1..].iter();
    while let Some(arg) = rest.next() {
        if matches!(arg.as_str(), "-h" | "--help") {
            return Err(Parsed::Help);
        }
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (arg.as_str(), None),
        };
        let slot = match name {
            "--data-dir" => &mut data_dir,
            "--public-key" if verify => &mut key,
            "--store-url" if verify => &mut store_url,
            _ => return Err(Parsed::Usage(format!("unknown argument \"{arg}\""))),
        };
        let value = match inline {
            Some(value) => value,
            None => rest
                .next()
                .cloned()
                .ok_or_else(|| Parsed::Usage(format!("{name} needs a value")))?,
        };
        if slot.replace(value).is_some() {
            return Err(Parsed::Usage(format!("{name} given twice")));
        }
    }
    let command = if verify {
        let public_key = key.map(|key| read_public_key(&key)).transpose()?;
        Command::Verify {
            public_key,
            store_url,
        }
    } else {
        Command::PublicKey
    };
    Ok(Arguments {
        command,
        data_dir: data_dir.map(PathBuf::from),
    })
}

/// A raw Ed25519 public key from base64 (standard or URL-safe, padded or not), or from a file
/// holding that text.
fn read_public_key(given: &str) -> Result<Vec<u8>, Parsed> {
    let text = match std::fs::read_to_string(given) {
        Ok(text) => text,
        Err(_) if !Path::new(given).exists() => given.to_string(),
        Err(e) => {
            return Err(Parsed::Usage(format!(
                "--public-key: cannot read {given}: {e}"
            )))
        }
    };
    let text = text.trim().trim_end_matches('=');
    let decoded = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text));
    match decoded {
        Ok(key) if key.len() == 32 => Ok(key),
        _ => Err(Parsed::Usage(format!(
            "--public-key: `{given}` is neither a file nor the base64 of a 32-byte Ed25519 \
             public key (as `fidoflow audit public-key` prints it)"
        ))),
    }
}

/// The public key of the audit signing key in `data_dir`, made there first if there is none.
pub fn public_key(data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    if !data_dir.is_dir() {
        bail!("{} is not a directory", data_dir.display());
    }
    Ok(audit_public_key(data_dir, true)?.expect("a key made when there was none"))
}

/// Opens the store in `data_dir` (which must hold one) and walks the audit hash chain, checking
/// a retention checkpoint with `public_key` (raw Ed25519), else with the directory's own key.
pub fn verify(
    data_dir: &Path,
    public_key: Option<&[u8]>,
) -> anyhow::Result<Result<ChainReport, ChainBreak>> {
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
    Ok(store.verify_chain(public_key)?)
}

/// Connects to the PostgreSQL store at `url` and walks its audit hash chain, checking a
/// retention checkpoint with `public_key`, else with the key in `data_dir` (the one the
/// cluster's nodes share).
pub fn verify_postgres(
    url: &str,
    data_dir: &Path,
    public_key: Option<&[u8]>,
) -> anyhow::Result<Result<ChainReport, ChainBreak>> {
    let options = PgOptions {
        url: url.to_string(),
        pool_size: 2,
        connect_timeout: std::time::Duration::from_secs(10),
    };
    let store = PgStore::connect(&options, data_dir)
        .with_context(|| format!("cannot reach the store at {}", redacted(url)))?;
    Ok(store.verify_chain(public_key)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    fn usage(text: &str) -> String {
        match parse(&args(text)) {
            Err(Parsed::Usage(message)) => message,
            _ => panic!("`{text}` should be a usage error"),
        }
    }

    #[test]
    fn a_public_key_is_read_as_standard_or_url_safe_base64_or_from_a_file() {
        // 0xfb bytes: `+/v7` in standard base64, `-_v7` URL-safe.
        let key = vec![0xfb; 32];
        let standard = base64::engine::general_purpose::STANDARD.encode(&key);
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&key);
        assert_ne!(standard.trim_end_matches('='), url);
        for text in [&standard, &url] {
            match parse(&args(&format!("verify --public-key {text}"))) {
                Ok(Arguments {
                    command: Command::Verify { public_key, .. },
                    data_dir: None,
                }) => assert_eq!(public_key, Some(key.clone())),
                _ => panic!("{text}"),
            }
        }
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), format!("{standard}\n")).unwrap();
        let given = format!("--public-key={}", file.path().display());
        match parse(&args(&format!("verify {given} --data-dir /d"))) {
            Ok(Arguments {
                command: Command::Verify { public_key, .. },
                data_dir,
            }) => {
                assert_eq!(public_key, Some(key));
                assert_eq!(data_dir, Some(PathBuf::from("/d")));
            }
            _ => panic!("{given}"),
        }
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        assert!(usage("verify --public-key c2hvcnQ=").contains("32-byte Ed25519 public key"));
        assert!(usage("verify --public-key").contains("needs a value"));
        assert!(usage("public-key --public-key abc").contains("unknown argument"));
        assert!(usage("verify --data-dir a --data-dir b").contains("given twice"));
        assert!(usage("trim").contains("unknown command"));
        assert!(usage("public-key --store-url postgres://h/d").contains("unknown argument"));
        assert!(usage("verify --store-url").contains("needs a value"));
    }

    #[test]
    fn a_store_url_is_taken_for_verify() {
        match parse(&args(
            "verify --store-url postgres://u:secret@h/d --data-dir /d",
        )) {
            Ok(Arguments {
                command: Command::Verify { store_url, .. },
                ..
            }) => assert_eq!(store_url.as_deref(), Some("postgres://u:secret@h/d")),
            _ => panic!("--store-url"),
        }
        assert_eq!(redacted("postgres://u:secret@h/d"), "postgres://u:***@h/d");
    }
}
