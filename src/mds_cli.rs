//! `fidoflow mds import FILE` and `fidoflow mds reevaluate`: the FIDO Metadata Service from the
//! command line. fidoflow never downloads metadata; the operator fetches the BLOB (for example
//! from https://mds3.fidoalliance.org/) and imports the file. Both commands open the data
//! directory's store, which a running server holds: stop the server, run the command, start it
//! again (the server reads the imported BLOB at start). A running server takes a new BLOB over
//! HTTP instead: `PUT /rest/admin/mds` and `POST /rest/admin/mds/reevaluate`.
//!
//! Like `startup`, a composition root: it opens the store and builds an engine, so it is not
//! part of `cli` (whose tools stay off the store and the engine). It uses `engine`, `store`,
//! `config`, `flow` and `clock`; never `startup` or `api`.

use std::path::Path;

use anyhow::{anyhow, bail, Context};
use chrono::{DateTime, Utc};

use crate::clock::Clock;
use crate::config::Settings;
use crate::engine::{metadata_record, trust_anchors, verify_for_import, Engine};
use crate::flow::Registry;
use crate::store::Storage;

const USAGE: &str = "usage: fidoflow mds import FILE | fidoflow mds reevaluate";

/// Runs `fidoflow mds …` with the arguments after `mds`, printing what it did.
pub fn run(settings: Settings, args: Vec<String>) -> anyhow::Result<()> {
    let message = match args.as_slice() {
        [command, file] if command == "import" => import(&settings, Path::new(file), Utc::now())?,
        [command] if command == "reevaluate" => reevaluate(settings)?,
        _ => bail!(USAGE),
    };
    println!("{message}");
    Ok(())
}

fn open_store(settings: &Settings) -> anyhow::Result<std::sync::Arc<dyn Storage>> {
    Ok(crate::startup::open_store(settings, &Clock::system())?.store)
}

/// Verifies the BLOB in `file` against `mds.roots` and `mds.crls` at `now` and stores it,
/// replacing the stored one. A BLOB with a lower serial number than the stored one is refused
/// (a rollback). Returns the message for the operator.
pub fn import(settings: &Settings, file: &Path, now: DateTime<Utc>) -> anyhow::Result<String> {
    let jwt = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the metadata BLOB {}", file.display()))?;
    let blob = verify_for_import(settings, &jwt, now)
        .map_err(|why| anyhow!("{} is refused: {why}", file.display()))?;
    let store = open_store(settings)?;
    if let Some(stored) = store.metadata()? {
        if stored.number > blob.number {
            bail!(
                "{} is BLOB number {}, older than the stored number {}; refusing to go back",
                file.display(),
                blob.number,
                stored.number
            );
        }
    }
    store.put_metadata(&metadata_record(&jwt, &blob, now)?)?;
    let stale = if blob.is_stale(now) {
        " (STALE: past its nextUpdate; fetch a newer BLOB soon)"
    } else {
        ""
    };
    Ok(format!(
        "imported FIDO metadata BLOB number {} with {} entries ({} unreadable left out), \
         nextUpdate {}{stale}. Start fidoflow to use it; `fidoflow mds reevaluate` re-judges \
         the stored credentials.",
        blob.number,
        blob.entries.len(),
        blob.skipped,
        blob.next_update,
    ))
}

/// Re-judges every stored credential's attestation against the configured anchors and the
/// stored metadata, updating `attestationTrusted` and `authenticatorName`.
pub fn reevaluate(settings: Settings) -> anyhow::Result<String> {
    let registry = Registry::load_or_shipped(settings.server.flows_dir.as_deref())?;
    let trust = trust_anchors(&settings)?;
    let store = open_store(&settings)?;
    let engine = Engine::new(
        settings,
        registry,
        store,
        Clock::system(),
        trust,
        crate::engine::Challenges::random(),
    )?;
    let lines = engine.reevaluate_trust()?;
    Ok(if lines.is_empty() {
        "no stored credential changed".to_string()
    } else {
        lines.join("\n")
    })
}
