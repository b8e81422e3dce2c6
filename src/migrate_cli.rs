//! `fidoflow migrate`: brings the configured PostgreSQL database to this build's schema, and
//! `fidoflow migrate sled-to-postgres --from DIR` copies a sled data directory into an empty
//! database, then counts what each side holds and fails unless they agree.
//!
//! What is copied: every tenant's users with their credentials (counters and all), the tenants
//! made through the admin API, validated transactions, the imported FIDO metadata and the audit
//! log as stored (its records' bytes, so its hash chain and checkpoint still verify). What is
//! not: sessions, ceremonies, lock and rate-limit counters — state of minutes, which users
//! make again by signing in. Like `startup`, a composition root.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{bail, Context};

use crate::config::{Settings, StoreBackend};
use crate::domain::DEFAULT_TENANT;
use crate::store::{
    MetadataStore, PgOptions, PgStore, SledStore, Storage, TenantStore, UserRecord,
};

/// Users read from sled at a time.
const PAGE: usize = 500;

/// The configured PostgreSQL database, migrated (`fidoflow migrate`); `url` instead when given.
fn connect(settings: &Settings, url: Option<&str>) -> anyhow::Result<PgStore> {
    let url = match (url, &settings.store.backend) {
        (Some(url), _) => url.to_string(),
        (None, StoreBackend::Postgres { url }) => url.clone(),
        (None, StoreBackend::Sled) => bail!(
            "no PostgreSQL database is configured: set FIDOFLOW_STORE_URL (or [store] url), or \
             pass --to URL"
        ),
    };
    let options = PgOptions {
        url,
        pool_size: 4,
        connect_timeout: settings.store.connect_timeout,
    };
    let shown = settings
        .store
        .url_for_logs()
        .unwrap_or_else(|| "--to".into());
    PgStore::connect(&options, &settings.server.data_dir)
        .with_context(|| format!("cannot use the database at {shown}"))
}

/// `fidoflow migrate`: applies the migrations the database lacks.
pub fn migrate(settings: &Settings, url: Option<&str>) -> anyhow::Result<String> {
    let store = connect(settings, url)?;
    Ok(format!(
        "the database is at schema version {}",
        store.schema_version()?
    ))
}

/// What one side holds, tenant by tenant.
#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    tenants: Vec<String>,
    /// (tenant, users, credentials, transactions)
    per_tenant: Vec<(String, usize, usize, usize)>,
    metadata: Option<u64>,
}

/// `fidoflow migrate sled-to-postgres --from DIR`.
pub fn sled_to_postgres(
    settings: &Settings,
    from: &Path,
    url: Option<&str>,
) -> anyhow::Result<String> {
    if !from.join("db").is_dir() {
        bail!(
            "{} holds no fidoflow store (no db directory)",
            from.display()
        );
    }
    let sled = SledStore::open(from).with_context(|| {
        format!(
            "cannot open the store in {}; if fidoflow is running there, stop it first",
            from.display()
        )
    })?;
    let pg = connect(settings, url)?;
    if !pg.is_empty()? {
        bail!("the database already holds users, tenants or audit records: copy into an empty one");
    }
    let tenants: BTreeSet<String> = sled
        .tenant_ids()?
        .into_iter()
        .chain(std::iter::once(DEFAULT_TENANT.to_string()))
        .collect();
    for record in sled.tenants()? {
        pg.put_tenant(&record, false)?;
    }
    for tenant in &tenants {
        copy_tenant(&sled.tenant_view(tenant)?, &pg.tenant_view(tenant))?;
    }
    if let Some(metadata) = sled.metadata()? {
        pg.put_metadata(&metadata)?;
    }
    let mut audit_records = 0;
    let mut after = 0;
    loop {
        let page = sled.export_audit_page(after, PAGE)?;
        let Some(&(last, _)) = page.records.last() else {
            if page.checkpoint.is_some() {
                pg.import_audit_page(&page)?;
            }
            break;
        };
        pg.import_audit_page(&page)?;
        audit_records += page.records.len();
        after = last;
    }
    let (before, after) = (count(&sled, &tenants)?, count(&pg, &tenants)?);
    if before != after {
        bail!("the copy does not match: sled holds {before:?}, PostgreSQL {after:?}");
    }
    let (users, credentials) = before
        .per_tenant
        .iter()
        .fold((0, 0), |(u, c), t| (u + t.1, c + t.2));
    Ok(format!(
        "copied {users} users with {credentials} credentials in {} tenants, {} stored tenants, \
         {} audit records{}; the counts match",
        tenants.len(),
        before.tenants.len(),
        audit_records,
        if before.metadata.is_some() {
            " and the FIDO metadata"
        } else {
            ""
        }
    ))
}

/// Calls `each` with every user of `store`, in username order, a page at a time.
fn for_each_user(
    store: &dyn Storage,
    mut each: impl FnMut(&UserRecord) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut after = None;
    loop {
        let users = store.list_users(None, after.as_ref(), PAGE)?;
        for user in &users {
            each(user)?;
        }
        match users.last() {
            Some(last) if users.len() == PAGE => after = Some(last.username.clone()),
            _ => return Ok(()),
        }
    }
}

fn copy_tenant(from: &dyn Storage, to: &dyn Storage) -> anyhow::Result<()> {
    for_each_user(from, |user| {
        let credentials = from.credentials_of(&user.username)?;
        to.insert_user_with_credentials(user, &credentials)
            .with_context(|| format!("user {}", user.username.as_str()))?;
        let mut transactions = from.transactions_of(&user.username, usize::MAX)?;
        transactions.reverse();
        for t in &transactions {
            to.insert_transaction(t)?;
        }
        Ok(())
    })
}

fn count(store: &dyn Storage, tenants: &BTreeSet<String>) -> anyhow::Result<Counts> {
    let mut counts = Counts {
        tenants: store.tenants()?.into_iter().map(|t| t.id).collect(),
        metadata: store.metadata_number()?,
        ..Counts::default()
    };
    for tenant in tenants {
        let view = store.for_tenant(tenant)?;
        let (mut users, mut credentials, mut transactions) = (0, 0, 0);
        for_each_user(view.as_ref(), |user| {
            users += 1;
            credentials += view.credentials_of(&user.username)?.len();
            transactions += view.transactions_of(&user.username, usize::MAX)?.len();
            Ok(())
        })?;
        counts
            .per_tenant
            .push((tenant.clone(), users, credentials, transactions));
    }
    Ok(counts)
}
