//! Importing users with their credentials from another FIDO server: JSON lines, one user per
//! line, each user written whole (user and credentials in one transaction) or not at all. A
//! refused line is reported with its number and reason and leaves nothing behind; the others
//! are imported. Credentials are checked strictly — the public key must be a COSE key fidoflow
//! can verify with, or for a FIDO UAF key (`uaf`) a key in the registry encoding named that fits
//! its signature algorithm — and are stored as `none` attestations, untrusted and enabled.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::{in_tenant, Actor};
use crate::domain::{b64url_decode, CredentialId, DisplayName, UserHandle, Username};
use crate::engine::tenant::Tenant;
use crate::engine::RequestCtx;
use crate::engine::{aaguid_string, AuditDraft, Engine, EngineError, EngineResult};
use crate::fido;
use crate::store::{AuditKind, CredentialRecord, Outcome, StoreError, UserRecord};

/// The most lines (users) one import call takes.
pub const MAX_IMPORT_LINES: usize = 10_000;

/// The audit event of a call lists at most this many refused line numbers.
const AUDITED_LINES: usize = 100;
const NO_AAGUID: &str = "00000000-0000-0000-0000-000000000000";

/// One line: a user and their credentials.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportedUser {
    user_handle: String,
    name: String,
    #[serde(default)]
    display_name: Option<String>,
    credentials: Vec<ImportedCredential>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportedCredential {
    credential_id: String,
    /// The COSE_Key, base64url.
    public_key: String,
    sign_count: u32,
    #[serde(default)]
    aaguid: Option<String>,
    #[serde(default)]
    transports: Option<Vec<String>>,
    #[serde(default)]
    backup_eligible: Option<bool>,
    #[serde(default)]
    backup_state: Option<bool>,
    /// RFC 3339.
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    name: Option<String>,
    /// A FIDO UAF key: `credential_id` is its KeyID, `public_key` the key in `key_encoding`.
    #[serde(default)]
    uaf: Option<ImportedUafKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportedUafKey {
    /// `VVVV#MMMM`.
    aaid: String,
    /// The registry's `ALG_KEY_*` (e.g. 256 = 0x0100, a raw X9.62 point).
    key_encoding: u16,
    /// The registry's `ALG_SIGN_*` (e.g. 1 = 0x0001, ECDSA P-256 raw).
    sign_alg: u16,
}

/// A line that was not imported.
use super::views::{ImportRefusal as Refused, ImportReport};

impl Engine {
    /// `POST /rest/admin/tenants/{tenant}/import` (admin): imports the users of `body`, JSON
    /// lines (blank lines skipped, at most [`MAX_IMPORT_LINES`]). Answers a report
    /// `{imported, refused: [{line, name?, reason}]}`; audited once per imported user and once
    /// per call.
    pub fn import_users(
        &self,
        actor: &Actor,
        cx: &RequestCtx,
        tenant: &str,
        body: &str,
    ) -> EngineResult<ImportReport> {
        actor.require_admin()?;
        let tenant = self.scoped_tenant(actor, tenant)?;
        let cx = &in_tenant(cx, &tenant.id);
        let body = body.strip_prefix('\u{feff}').unwrap_or(body);
        let lines: Vec<(usize, &str)> = body
            .lines()
            .enumerate()
            .map(|(i, line)| (i + 1, line.trim()))
            .filter(|(_, line)| !line.is_empty())
            .collect();
        if lines.is_empty() {
            return Err(EngineError::InvalidRequest(
                "the body holds no users: send one JSON object per line".into(),
            ));
        }
        if lines.len() > MAX_IMPORT_LINES {
            return Err(EngineError::InvalidRequest(format!(
                "the body holds {} users; at most {MAX_IMPORT_LINES} per call: split the file",
                lines.len()
            )));
        }
        let mut imported = 0usize;
        let mut refused: Vec<Refused> = Vec::new();
        for (line, text) in lines {
            match self.import_line(actor, cx, &tenant, line, text)? {
                Ok(()) => imported += 1,
                Err(refusal) => refused.push(refusal),
            }
        }
        let mut lines_refused: Vec<String> = refused
            .iter()
            .take(AUDITED_LINES)
            .map(|r| r.line.to_string())
            .collect();
        if refused.len() > AUDITED_LINES {
            lines_refused.push("…".into());
        }
        self.audit(AuditDraft {
            kind: AuditKind::UserImportFinished,
            actor: actor.label(),
            username: None,
            credential_id: None,
            outcome: if refused.is_empty() {
                Outcome::Success
            } else {
                Outcome::Failure
            },
            detail: if refused.is_empty() {
                format!("{imported} user(s) imported")
            } else {
                format!(
                    "{imported} user(s) imported; {} line(s) refused: {}",
                    refused.len(),
                    lines_refused.join(", ")
                )
            },
            cx,
        })?;
        Ok(ImportReport {
            tenant: tenant.id.clone(),
            imported,
            refused,
        })
    }

    /// Imports the user of line `line` (audited), or says why not; `Err` only when the store
    /// fails.
    fn import_line(
        &self,
        actor: &Actor,
        cx: &RequestCtx,
        tenant: &Tenant,
        line: usize,
        text: &str,
    ) -> EngineResult<Result<(), Refused>> {
        let value: Value = match serde_json::from_str(text) {
            Ok(value) => value,
            Err(e) => {
                return Ok(Err(Refused {
                    line,
                    name: None,
                    reason: format!("the line is not JSON: {e}"),
                }))
            }
        };
        let name = value.get("name").and_then(Value::as_str).map(str::to_owned);
        let refuse = |reason: String| {
            Ok(Err(Refused {
                line,
                name: name.clone(),
                reason,
            }))
        };
        let (user, credentials) = match self.imported_user(tenant, value) {
            Ok(parsed) => parsed,
            Err(reason) => return refuse(reason),
        };
        if let Some(i) = first_registered(tenant, &credentials)? {
            return refuse(format!(
                "credentials[{i}].credential_id: this credential is registered in this tenant \
                 already"
            ));
        }
        match tenant
            .store()
            .insert_user_with_credentials(&user, &credentials)
        {
            Ok(()) => {}
            Err(StoreError::UserExists) => {
                return refuse(format!(
                    "name: the user `{}` (or the user handle) exists in this tenant already",
                    user.username
                ))
            }
            // Registered meanwhile by another call.
            Err(StoreError::CredentialExists) => {
                return refuse(
                    "credentials: a credential id is registered in this tenant already".into(),
                )
            }
            Err(e) => return Err(e.into()),
        }
        self.audit(AuditDraft {
            kind: AuditKind::UserImported,
            actor: actor.label(),
            username: Some(&user.username),
            credential_id: None,
            outcome: Outcome::Success,
            detail: format!(
                "user imported (line {line}) with {} credential(s)",
                credentials.len()
            ),
            cx,
        })?;
        Ok(Ok(()))
    }

    /// The records of one line, or why it is refused (naming the member).
    fn imported_user(
        &self,
        tenant: &Tenant,
        value: Value,
    ) -> Result<(UserRecord, Vec<CredentialRecord>), String> {
        if !value.is_object() {
            return Err("the line is not a JSON object".into());
        }
        let line: ImportedUser =
            serde_json::from_value(value).map_err(|e| format!("the line is refused: {e}"))?;
        let handle = b64url_decode(&line.user_handle)
            .and_then(|bytes| UserHandle::from_bytes(&bytes))
            .map_err(|e| format!("user_handle: {e}"))?;
        let username = Username::parse(&line.name).map_err(|e| format!("name: {e}"))?;
        let display_name = line
            .display_name
            .as_deref()
            .map(DisplayName::parse)
            .transpose()
            .map_err(|e| format!("display_name: {e}"))?;
        if let Some(max) = tenant.max_keys_per_user {
            if line.credentials.len() > max as usize {
                return Err(format!(
                    "credentials: {} credentials, but this tenant allows at most {max} per user",
                    line.credentials.len()
                ));
            }
        }
        let now = self.now();
        let user = UserRecord {
            username,
            handle,
            display_name,
            password_hash: None,
            created_at: now,
        };
        let mut credentials: Vec<CredentialRecord> = Vec::with_capacity(line.credentials.len());
        for (i, c) in line.credentials.into_iter().enumerate() {
            let record = self
                .imported_credential(&user, c, i, now)
                .map_err(|reason| format!("credentials[{i}].{reason}"))?;
            if credentials.iter().any(|other| other.id == record.id) {
                return Err(format!(
                    "credentials[{i}].credential_id: listed twice for this user"
                ));
            }
            credentials.push(record);
        }
        Ok((user, credentials))
    }

    fn imported_credential(
        &self,
        user: &UserRecord,
        c: ImportedCredential,
        index: usize,
        now: DateTime<Utc>,
    ) -> Result<CredentialRecord, String> {
        let id =
            CredentialId::parse(&c.credential_id).map_err(|e| format!("credential_id: {e}"))?;
        let public_key = b64url_decode(&c.public_key).map_err(|e| format!("public_key: {e}"))?;
        if let Some(uaf) = c.uaf {
            return self.imported_uaf_key(user, id, public_key, c.sign_count, uaf, index, now);
        }
        let algorithm =
            fido::check_cose_key(&public_key).map_err(|e| format!("public_key: {e}"))?;
        let aaguid_bytes = match c.aaguid.as_deref() {
            None => [0u8; 16],
            Some(text) => fido::mds::parse_aaguid(text)
                .map_err(|e| format!("aaguid: {e}; write it as 36 characters, e.g. {NO_AAGUID}"))?,
        };
        let aaguid = aaguid_string(&aaguid_bytes);
        let mut transports: Vec<String> = Vec::new();
        for t in c.transports.unwrap_or_default() {
            if !fido::KNOWN_TRANSPORTS.contains(&t.as_str()) {
                return Err(format!(
                    "transports: `{t}` is not one of {}",
                    fido::KNOWN_TRANSPORTS.join(", ")
                ));
            }
            if !transports.contains(&t) {
                transports.push(t);
            }
        }
        let backup_eligible = c.backup_eligible.unwrap_or(false);
        let backup_state = c.backup_state.unwrap_or(false);
        if backup_state && !backup_eligible {
            return Err(
                "backup_state: a credential that is not backup eligible cannot be backed up".into(),
            );
        }
        let created_at = match c.created.as_deref() {
            None => now,
            Some(text) => DateTime::parse_from_rfc3339(text)
                .map(|t| t.with_timezone(&Utc))
                .ok()
                .filter(|t| *t <= now)
                .ok_or_else(|| {
                    format!("created: `{text}` is not an RFC 3339 time in the past, e.g. 2024-05-01T12:00:00Z")
                })?,
        };
        let metadata = self.metadata();
        let entry = metadata
            .as_ref()
            .and_then(|m| m.blob.find_for(&aaguid_bytes, &[]));
        let model = self.model_name_from(entry, &aaguid);
        let display_name = match c.name.as_deref() {
            Some(name) => DisplayName::parse(name).map_err(|e| format!("name: {e}"))?,
            None => model
                .as_deref()
                .and_then(|m| DisplayName::parse(&m.chars().take(64).collect::<String>()).ok())
                .map_or_else(|| DisplayName::parse(&format!("Passkey {}", index + 1)), Ok)
                .map_err(|e| format!("name: {e}"))?,
        };
        Ok(CredentialRecord {
            id,
            username: user.username.clone(),
            user_handle: user.handle.clone(),
            public_key,
            algorithm,
            sign_count: c.sign_count,
            aaguid,
            authenticator_name: model,
            attestation_format: "none".into(),
            attestation_trusted: false,
            attestation_object: Vec::new(),
            client_data_json: Vec::new(),
            transports,
            backup_eligible,
            backup_state,
            user_verified: false,
            discoverable: None,
            display_name,
            created_at,
            last_used_at: None,
            enabled: true,
            disabled_by: None,
            payment: false,
            uaf: None,
        })
    }
}

impl Engine {
    /// A UAF key of another server: its AAID, and a public key that fits the signature
    /// algorithm and encoding named (checked as a registration's would be).
    #[allow(clippy::too_many_arguments)]
    fn imported_uaf_key(
        &self,
        user: &UserRecord,
        id: CredentialId,
        public_key: Vec<u8>,
        sign_count: u32,
        key: ImportedUafKey,
        index: usize,
        now: DateTime<Utc>,
    ) -> Result<CredentialRecord, String> {
        if !crate::config::is_aaid(&key.aaid) {
            return Err(format!(
                "uaf.aaid: `{}` is not an AAID: four hex digits, #, four hex digits",
                key.aaid
            ));
        }
        if !(32..=2048).contains(&id.as_bytes().len()) {
            return Err("credential_id: a UAF KeyID is 32 to 2048 bytes".into());
        }
        crate::uaf::check_public_key(key.sign_alg, key.key_encoding, &public_key)
            .map_err(|e| format!("public_key: {}", e.detail))?;
        let display_name = DisplayName::parse(&format!("UAF key {}", index + 1))
            .map_err(|e| format!("name: {e}"))?;
        Ok(CredentialRecord {
            id,
            username: user.username.clone(),
            user_handle: user.handle.clone(),
            public_key,
            algorithm: 0,
            sign_count,
            aaguid: key.aaid.to_ascii_lowercase(),
            authenticator_name: None,
            attestation_format: "none".into(),
            attestation_trusted: false,
            attestation_object: Vec::new(),
            client_data_json: Vec::new(),
            transports: Vec::new(),
            backup_eligible: false,
            backup_state: false,
            user_verified: true,
            discoverable: None,
            display_name,
            created_at: now,
            last_used_at: None,
            enabled: true,
            disabled_by: None,
            payment: false,
            uaf: Some(crate::store::UafKey {
                aaid: key.aaid,
                key_encoding: key.key_encoding,
                sign_alg: key.sign_alg,
                authenticator_version: 0,
            }),
        })
    }
}

/// The index of the first of `credentials` whose id the tenant has already.
fn first_registered(
    tenant: &Tenant,
    credentials: &[CredentialRecord],
) -> EngineResult<Option<usize>> {
    for (i, c) in credentials.iter().enumerate() {
        if tenant.store().credential(&c.id)?.is_some() {
            return Ok(Some(i));
        }
    }
    Ok(None)
}
