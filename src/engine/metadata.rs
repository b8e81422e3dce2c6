//! FIDO metadata (MDS3) in use: the imported BLOB loaded at start (and replaced over HTTP), the
//! judgement of an attestation (`fido::judge`) with the configured anchors and that BLOB, the
//! attestation policies that count only trusted attestations, the status check at sign-in,
//! model icons, the helpdesk's view of the BLOB and the re-evaluation of stored credentials.
//! Also reads the configured attestation trust anchors (`trust_anchors`).

use anyhow::Context as _;
use chrono::{DateTime, Utc};

use std::sync::Arc;

use super::tenant::Tenant;
use super::{
    Actor, AuditDraft, Engine, EngineError, EngineResult, MetadataInUse, MetadataStatus, RequestCtx,
};
use crate::config::Settings;
use crate::fido::mds::{self, CertificationLevel, Crl, MetadataBlob, MetadataEntry};
use crate::fido::{self as webauthn, Judgement, TrustAnchors, TrustedBy, VerifiedRegistration};
use crate::store::{AuditKind, CredentialRecord, MetadataRecord, Outcome, Storage};

/// The imported BLOB as the server uses it.
#[derive(Debug, Clone)]
pub struct LoadedMetadata {
    pub blob: MetadataBlob,
    pub imported_at: DateTime<Utc>,
}

/// Reads the stored BLOB, if one was imported. The BLOB was verified at import; it is not
/// verified again here (the roots need not be on the server).
pub(super) fn load(
    store: &dyn Storage,
    now: DateTime<Utc>,
) -> EngineResult<Option<LoadedMetadata>> {
    let Some(record) = crate::store::MetadataStore::metadata(store)? else {
        return Ok(None);
    };
    let loaded = decode(&record)?;
    if loaded.blob.is_stale(now) {
        tracing::warn!(
            number = loaded.blob.number,
            next_update = %loaded.blob.next_update,
            "the imported FIDO metadata BLOB is past its nextUpdate; import a newer one"
        );
    } else {
        tracing::info!(
            number = loaded.blob.number,
            entries = loaded.blob.entries.len(),
            "FIDO metadata loaded"
        );
    }
    Ok(Some(loaded))
}

fn decode(record: &MetadataRecord) -> EngineResult<LoadedMetadata> {
    let blob: MetadataBlob = serde_json::from_value(record.blob.clone()).map_err(|e| {
        tracing::error!(error = %e, "the stored FIDO metadata cannot be read; import the BLOB again");
        EngineError::Internal(format!(
            "the stored FIDO metadata cannot be read ({e}); import the BLOB again"
        ))
    })?;
    Ok(LoadedMetadata {
        blob,
        imported_at: record.imported_at,
    })
}

/// The configured attestation trust anchors (`attestation.trust_anchors_dir`), read once at
/// start by the server and by `fidoflow mds reevaluate`, and handed to [`Engine::new`].
pub fn trust_anchors(settings: &Settings) -> anyhow::Result<TrustAnchors> {
    Ok(match &settings.attestation.trust_anchors_dir {
        Some(dir) => TrustAnchors::from_dir(dir)
            .with_context(|| format!("attestation.trust_anchors_dir: {}", dir.display()))?,
        None => TrustAnchors::empty(),
    })
}

/// Verifies a BLOB for import against `mds.roots` and `mds.crls` at `now`; `Err` says why it
/// is refused (or what is missing in the configuration).
pub fn verify_for_import(
    settings: &Settings,
    jwt: &str,
    now: DateTime<Utc>,
) -> Result<MetadataBlob, String> {
    if settings.mds.roots.is_empty() {
        return Err(
            "mds.roots is empty: configure the root certificate(s) the metadata BLOB's signer \
             chains to (for the FIDO Alliance's MDS3, its GlobalSign root) in [mds] roots or \
             FIDOFLOW_MDS_ROOTS"
                .into(),
        );
    }
    let mut roots = TrustAnchors::empty();
    for path in &settings.mds.roots {
        let found = TrustAnchors::from_pem_file(path).map_err(|e| format!("mds.roots: {e}"))?;
        roots = roots.merged(&found);
    }
    let mut crls = Vec::new();
    for path in &settings.mds.crls {
        crls.extend(Crl::from_file(path).map_err(|e| format!("mds.crls: {e}"))?);
    }
    mds::verify_blob(jwt, &roots, &crls, now).map_err(|e| e.to_string())
}

/// The record to store for a verified BLOB.
pub fn metadata_record(
    jwt: &str,
    blob: &MetadataBlob,
    imported_at: DateTime<Utc>,
) -> EngineResult<MetadataRecord> {
    Ok(MetadataRecord {
        jwt: jwt.trim().to_owned(),
        imported_at,
        number: blob.number,
        blob: serde_json::to_value(blob).map_err(|e| EngineError::Internal(e.to_string()))?,
    })
}

impl Engine {
    pub(super) fn metadata(&self) -> Option<Arc<LoadedMetadata>> {
        self.inner
            .metadata
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `PUT /rest/admin/mds` (admin): verifies a metadata BLOB as `fidoflow mds import` does,
    /// stores it and uses it at once, without a restart. A BLOB older than the one in use is
    /// refused. It serves every tenant, so a token limited to some tenants may not.
    pub fn import_metadata(
        &self,
        actor: &Actor,
        cx: &RequestCtx,
        jwt: &str,
    ) -> EngineResult<MetadataStatus> {
        actor.require_admin()?;
        actor.require_every_tenant()?;
        let now = self.now();
        let blob = verify_for_import(&self.inner.settings, jwt, now)
            .map_err(EngineError::MetadataRefused)?;
        let detail = format!(
            "FIDO metadata BLOB number {} imported ({} entries, nextUpdate {}{})",
            blob.number,
            blob.entries.len(),
            blob.next_update,
            if blob.is_stale(now) { ", STALE" } else { "" }
        );
        {
            // Held from the rollback check until the new BLOB is in use: imports never interleave.
            let mut current = self
                .inner
                .metadata
                .write()
                .unwrap_or_else(|e| e.into_inner());
            if let Some(in_use) = current.as_ref().filter(|m| m.blob.number > blob.number) {
                return Err(EngineError::MetadataRefused(format!(
                    "this is BLOB number {}, older than number {} in use; refusing to go back",
                    blob.number, in_use.blob.number
                )));
            }
            self.store()
                .put_metadata(&metadata_record(jwt, &blob, now)?)?;
            *current = Some(Arc::new(LoadedMetadata {
                blob,
                imported_at: now,
            }));
        }
        tracing::info!(actor = %actor.name, "{detail}");
        self.audit(AuditDraft {
            kind: AuditKind::MetadataImported,
            actor: actor.label(),
            username: None,
            credential_id: None,
            outcome: Outcome::Success,
            detail,
            cx,
        })?;
        self.metadata_status(actor)
    }

    /// Judges an attestation this server verified ([`webauthn::judge`]) with the configured
    /// anchors and the metadata in use.
    pub(super) fn judge_attestation(
        &self,
        configured: &TrustAnchors,
        verified: &VerifiedRegistration,
        now: DateTime<Utc>,
    ) -> Judgement {
        let metadata = self.metadata();
        let blob = metadata.as_ref().map(|m| &m.blob);
        let judged = webauthn::judge(verified, blob, configured, now);
        warn_if_stale(blob, &judged, now);
        judged
    }

    /// The model name of an authenticator: its metadata `description`, then the configured
    /// `authenticators.names`, then the built-in table.
    pub(super) fn model_name_from(
        &self,
        entry: Option<&MetadataEntry>,
        aaguid: &str,
    ) -> Option<String> {
        entry
            .and_then(MetadataEntry::model_name)
            .map(str::to_owned)
            .or_else(|| self.model_name(aaguid))
    }

    /// Applies `attestation.policy`, `aaguid_allow_list` and `minimum_certification_level` to
    /// a judged registration; `Err((check, reason))` refuses it.
    pub(super) fn attestation_policy_refusal(
        &self,
        attestation: &crate::config::AttestationSettings,
        aaguid: &str,
        judged: &Judgement,
    ) -> Result<(), (&'static str, String)> {
        if let Some(why) = &judged.refusal {
            return Err(("metadataStatus", why.clone()));
        }
        let untrusted = |check: &'static str, what: &str| {
            let reason = judged.trust.as_ref().err().cloned().unwrap_or_default();
            (
                check,
                format!("{what} counts only attestations that chain to a trust anchor, and this one does not: {reason}"),
            )
        };
        if attestation.policy == crate::config::AttestationPolicyKind::RequireTrusted {
            if let Err(reason) = &judged.trust {
                return Err((
                    "attestationTrust",
                    format!("the attestation is not trusted: {reason}"),
                ));
            }
        }
        if !attestation.aaguid_allow_list.is_empty() {
            if !judged.trusted() {
                return Err(untrusted("aaguidAllowList", "the AAGUID allow-list"));
            }
            if !attestation.aaguid_allow_list.iter().any(|a| a == aaguid) {
                return Err((
                    "aaguidAllowList",
                    format!("the authenticator model {aaguid} is not on the AAGUID allow-list"),
                ));
            }
        }
        if let Some(minimum) = attestation
            .minimum_certification_level
            .as_deref()
            .and_then(CertificationLevel::parse)
        {
            if !judged.trusted() {
                return Err(untrusted(
                    "certificationLevel",
                    "the minimum certification level",
                ));
            }
            match judged.certification_level() {
                Some(level) if level >= minimum => {}
                Some(level) => {
                    return Err((
                        "certificationLevel",
                        format!("the authenticator is certified {level}, below the required {minimum}"),
                    ))
                }
                None => {
                    return Err((
                        "certificationLevel",
                        format!("the FIDO metadata shows no certification for this authenticator; {minimum} is required"),
                    ))
                }
            }
        }
        Ok(())
    }

    /// The icon of a credential's authenticator model from the FIDO metadata: a `data:image/…`
    /// URL of at most 64 KiB, anything else left out.
    pub(super) fn authenticator_icon(&self, record: &CredentialRecord) -> Option<String> {
        let blob = &self.metadata()?.blob;
        let aaguid = mds::parse_aaguid(&record.aaguid).ok()?;
        let chain = if aaguid == [0; 16] {
            mds::attestation_certificates(&record.attestation_object).unwrap_or_default()
        } else {
            Vec::new()
        };
        let icon = blob.find_for(&aaguid, &chain)?.icon.as_deref()?;
        displayable_icon(icon).then(|| icon.to_owned())
    }

    /// Why a stored credential's authenticator is refused at sign-in by its metadata status
    /// (only with `mds.check_at_login`).
    pub(super) fn sign_in_refusal(&self, record: &CredentialRecord) -> Option<String> {
        if !self.inner.settings.mds.check_at_login {
            return None;
        }
        let blob = &self.metadata()?.blob;
        let aaguid = mds::parse_aaguid(&record.aaguid).ok()?;
        let chain = mds::attestation_certificates(&record.attestation_object);
        let entry = blob.find_for(&aaguid, chain.as_deref().unwrap_or_default())?;
        let leaf = chain.as_ref().and_then(|c| c.first()).map(Vec::as_slice);
        entry.refusal(None, leaf)
    }

    /// `POST /rest/admin/mds/reevaluate` (admin): [`Engine::reevaluate_trust`] on a running
    /// server, audited; the answer lists every change. It touches every tenant, so a token
    /// limited to some tenants may not.
    pub fn reevaluate_metadata(&self, actor: &Actor, cx: &RequestCtx) -> EngineResult<Vec<String>> {
        actor.require_admin()?;
        actor.require_every_tenant()?;
        let changes = self.reevaluate_trust()?;
        self.audit(AuditDraft {
            kind: AuditKind::MetadataReevaluated,
            actor: actor.label(),
            username: None,
            credential_id: None,
            outcome: Outcome::Success,
            detail: format!("{} line(s) of changes and refusals", changes.len()),
            cx,
        })?;
        Ok(changes)
    }

    /// `GET /rest/admin/mds`: the imported BLOB's number, `nextUpdate`, whether it is stale,
    /// when it was imported and how many entries it holds.
    pub fn metadata_status(&self, _actor: &Actor) -> EngineResult<MetadataStatus> {
        Ok(MetadataStatus {
            current: self.metadata_in_use(),
        })
    }

    /// The imported BLOB in use, if any (the start-up summary names it).
    pub fn metadata_in_use(&self) -> Option<MetadataInUse> {
        let now = self.now();
        self.metadata().map(|m| MetadataInUse {
            number: m.blob.number,
            next_update: m.blob.next_update.to_string(),
            stale: m.blob.is_stale(now),
            imported_at: m.imported_at,
            entries: m.blob.entries.len(),
            legal_header: m.blob.legal_header.clone(),
        })
    }

    /// Re-runs trust for every stored credential of every tenant from its kept attestation
    /// object against the tenant's configured anchors and the current metadata, and updates
    /// `attestationTrusted` and `authenticatorName` where they changed. Returns one line per
    /// change, and one per credential whose authenticator the metadata now refuses (a user of a
    /// tenant other than `default` is named `tenant/user`). Imported credentials, which have no attestation
    /// object, are left as they are.
    pub fn reevaluate_trust(&self) -> EngineResult<Vec<String>> {
        let mut report = Vec::new();
        for tenant in self.tenants() {
            self.reevaluate_tenant(&tenant, &mut report)?;
        }
        Ok(report)
    }

    fn reevaluate_tenant(&self, tenant: &Tenant, report: &mut Vec<String>) -> EngineResult<()> {
        let now = self.now();
        let metadata = self.metadata();
        let blob = metadata.as_ref().map(|m| &m.blob);
        let store = tenant.store();
        let owner = |user: &str| match tenant.is_default() {
            true => user.to_string(),
            false => format!("{}/{user}", tenant.id),
        };
        for record in store.all_credentials()? {
            // Every kept attestation object is one this server verified; one that cannot be
            // read again (none is) is left as it is.
            let Some(judged) =
                webauthn::judge_stored(&record.attestation_object, blob, &tenant.trust, now)
            else {
                continue;
            };
            warn_if_stale(blob, &judged, now);
            let trusted = judged.trusted();
            let name = self.model_name_from(judged.entry.as_ref(), &record.aaguid);
            let who = format!(
                "{} credential {}…",
                owner(record.username.as_str()),
                record.id.to_b64url().chars().take(8).collect::<String>()
            );
            if let Some(why) = &judged.refusal {
                report.push(format!("{who}: refused at sign-in: {why}"));
            }
            if trusted == record.attestation_trusted && name == record.authenticator_name {
                continue;
            }
            let mut changes = Vec::new();
            if trusted != record.attestation_trusted {
                changes.push(format!(
                    "attestationTrusted {} -> {trusted}",
                    record.attestation_trusted
                ));
            }
            if name != record.authenticator_name {
                changes.push(format!(
                    "authenticatorName {:?} -> {:?}",
                    record.authenticator_name, name
                ));
            }
            match store.update_credential(&record.id, &mut |current| {
                current.attestation_trusted = trusted;
                current.authenticator_name = name.clone();
                Ok(())
            }) {
                Ok(_) => report.push(format!("{who}: {}", changes.join(", "))),
                Err(crate::store::StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

/// Warns that the metadata a judgement consulted for trust is past its `nextUpdate`.
fn warn_if_stale(blob: Option<&MetadataBlob>, judged: &Judgement, now: DateTime<Utc>) {
    let consulted =
        judged.entry.is_some() && judged.trusted_by() != Some(TrustedBy::ConfiguredAnchor);
    if let Some(blob) = blob.filter(|b| consulted && b.is_stale(now)) {
        tracing::warn!(
            number = blob.number,
            "using FIDO metadata past its nextUpdate; import a newer BLOB"
        );
    }
}

/// An icon the pages can show in an `<img>` under their Content-Security-Policy (`img-src
/// 'self' data:`): an inline image, not too large.
fn displayable_icon(icon: &str) -> bool {
    const MAX_ICON: usize = 64 * 1024;
    icon.len() <= MAX_ICON && icon.starts_with("data:image/")
}

#[cfg(test)]
mod tests {
    use super::displayable_icon;

    #[test]
    fn only_inline_images_of_reasonable_size_are_shown_as_icons() {
        assert!(displayable_icon("data:image/png;base64,iVBORw0KGgo="));
        assert!(!displayable_icon("https://example.com/icon.png"));
        assert!(!displayable_icon("data:text/html;base64,PHNjcmlwdD4="));
        assert!(!displayable_icon(&format!(
            "data:image/png;base64,{}",
            "A".repeat(70_000)
        )));
    }
}
