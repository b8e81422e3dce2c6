//! `fidoflow verify registration|authentication`: verifies one response offline, as the server
//! would, and prints every check with its outcome, the decoded response and the attestation's
//! certificate chain. Exit status 0 verified, 1 refused, 2 usage error. `fidoflow verify
//! transaction` (evidence documents) is handed to `verify_transaction`; the options are read by
//! `verify_args`.

use std::io::{Read, Write};

use chrono::{DateTime, Utc};
use serde_json::{json, Value as Json};

use super::metadata;
use super::usage_error;
use super::verify_args::{parse, AuthenticationArgs, Ceremony, Common, Refusal, RegistrationArgs};
use crate::clock::Clock;
use crate::domain::b64url_decode;
use crate::fido::{
    self, inspect, AttestationPolicy, AuthenticationExpectations, Check, CheckOutcome, Judgement,
    RegistrationError, RegistrationExpectations, TrustAnchors, REGISTRATION_CHECKS,
};

pub(super) fn run(
    args: &[String],
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    if args.first().map(String::as_str) == Some("transaction") {
        return super::verify_transaction::run(args.get(1..).unwrap_or_default(), stdin, out, err);
    }
    let (common, ceremony) = match parse(args) {
        Ok(parsed) => parsed,
        Err(Refusal::Help) => {
            let _ = out.write_all(super::USAGE.as_bytes());
            return 0;
        }
        Err(Refusal::Usage(message)) => return usage_error(err, &message),
    };
    let input = match read_input(common.file.as_deref(), stdin) {
        Ok(text) => text,
        Err(message) => return usage_error(err, &message),
    };
    let credential: Json = match serde_json::from_str(&input) {
        Ok(v) => v,
        Err(e) => return usage_error(err, &format!("the input is not JSON: {e}")),
    };
    let now = common.at.unwrap_or_else(|| Clock::system().now());
    let report = match &ceremony {
        Ceremony::Registration(r) => match registration(&common, r, &credential, now) {
            Ok(report) => report,
            Err(message) => return usage_error(err, &message),
        },
        Ceremony::Authentication(a) => authentication(&common, a, &credential),
    };
    let printed = if common.json {
        serde_json::to_writer_pretty(&mut *out, &report.to_json())
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(out))
    } else {
        report.print(out, now)
    };
    if printed.is_err() {
        return 2;
    }
    if report.ok {
        0
    } else {
        1
    }
}

fn read_input(file: Option<&str>, stdin: &mut dyn Read) -> Result<String, String> {
    match file {
        None | Some("-") => {
            let mut text = String::new();
            stdin
                .read_to_string(&mut text)
                .map_err(|e| format!("cannot read stdin: {e}"))?;
            Ok(text)
        }
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}")),
    }
}

/// The outcome of one run.
struct Report {
    kind: &'static str,
    ok: bool,
    summary: String,
    checks: Vec<Check>,
    described: Json,
    /// Registration: format, type and whether trusted (when verified).
    attestation_outcome: Option<Json>,
}

fn check(name: &str, outcome: CheckOutcome, detail: impl Into<String>) -> Check {
    Check {
        name: name.to_string(),
        outcome,
        detail: detail.into(),
    }
}

fn registration(
    common: &Common,
    args: &RegistrationArgs,
    credential: &Json,
    now: DateTime<Utc>,
) -> Result<Report, String> {
    let configured = match &args.trust_anchors {
        Some(dir) => TrustAnchors::from_dir(dir).map_err(|e| e.to_string())?,
        None => TrustAnchors::empty(),
    };
    let metadata = match &args.mds {
        Some(file) => Some(metadata::load(file, &args.mds_roots, &args.mds_crls, now)?),
        None => None,
    };
    let origins = &common.origins;
    // Every algorithm the server verifies (ML-DSA included), and RS1, which a TPM may attest.
    let algorithms: Vec<i64> = crate::domain::VERIFIABLE_ALGORITHMS
        .into_iter()
        .chain([fido::ALG_RS1])
        .collect();
    // Trust is judged after verification, as the server does: with the metadata roots of the
    // authenticator added to the configured anchors; --require-trusted applies to that judgement.
    let exp = RegistrationExpectations {
        challenge: common.challenge.as_deref().unwrap_or_default(),
        rp_id: common.rp_id.as_deref().unwrap_or_default(),
        origins,
        allow_cross_origin: common.allow_cross_origin,
        top_origins: &common.top_origins,
        client_data_types: &common.client_data_types(fido::WEBAUTHN_CREATE),
        require_user_verification: common.require_uv,
        algorithms: &algorithms,
        policy: AttestationPolicy::AcceptAny,
        trust_anchors: &configured,
        now,
        accept_unknown_formats: false,
        formats: args.format_policy(),
    };
    let mut checks = Vec::new();
    let verified = fido::verify_registration_observed(credential, &exp, &mut |c| checks.push(c));
    let judged = verified
        .as_ref()
        .ok()
        .map(|v| fido::judge(v, metadata.as_ref().map(|m| &m.blob), &configured, now));
    let result = match (verified, &judged) {
        (Ok(v), Some(judged)) => {
            report_trust(&mut checks, judged, args.require_trusted).map(|()| v)
        }
        (result, _) => result,
    };
    let no_anchors = configured.is_empty()
        && judged
            .as_ref()
            .and_then(|j| j.entry.as_ref())
            .is_none_or(|e| e.anchors().is_empty());
    if no_anchors {
        if let Some(trust) = checks.iter_mut().find(|c| c.name == "attestationTrust") {
            if trust.outcome == CheckOutcome::Skipped && !trust.detail.starts_with("not reached") {
                let missing = if metadata.is_some() {
                    "no --trust-anchors given and no metadata roots for this authenticator"
                } else {
                    "no --trust-anchors given"
                };
                trust.detail = format!("{missing}: {}", trust.detail);
            }
        }
    }
    checks.push(check(
        "credentialUnused",
        CheckOutcome::Skipped,
        "the tool keeps no credential store; the server refuses a credential id already registered",
    ));
    let status_refusal = metadata_checks(
        &mut checks,
        metadata.as_ref(),
        judged.as_ref(),
        result.is_ok(),
    );
    let (ok, summary, outcome) = match (&result, status_refusal) {
        (Ok(_), Some(why)) => (false, format!("REFUSED (metadataStatus): {why}"), None),
        (Ok(v), None) => {
            let judged = judged.as_ref();
            let trusted = judged.is_some_and(Judgement::trusted);
            (
                true,
                format!(
                    "VERIFIED: {} attestation ({}), {}",
                    v.format,
                    type_name(v.attestation_type),
                    if trusted { "trusted" } else { "untrusted" }
                ),
                Some(json!({
                    "format": v.format,
                    "type": v.attestation_type,
                    "trusted": trusted,
                    "model": judged.and_then(Judgement::model),
                    "certificationLevel": judged
                        .and_then(Judgement::certification_level)
                        .map(|l| l.as_str()),
                })),
            )
        }
        (Err(e), _) => (false, format!("REFUSED ({}): {e}", e.check()), None),
    };
    Ok(Report {
        kind: "registration",
        ok,
        summary,
        checks,
        described: inspect::describe_response(credential),
        attestation_outcome: outcome,
    })
}

/// Reports the judgement's trust as the `attestationTrust` check of a verified registration
/// (verification reported it with the configured anchors alone); with `--require-trusted`, an
/// untrusted attestation is refused as verification refuses it, the checks it did not report
/// then reported as not reached.
fn report_trust(
    checks: &mut Vec<Check>,
    judged: &Judgement,
    require_trusted: bool,
) -> Result<(), RegistrationError> {
    let (reported, refused) = match (&judged.trust, require_trusted) {
        (Ok(trusted), _) => (
            check(
                "attestationTrust",
                CheckOutcome::Pass,
                format!("trusted: {}", trusted.detail),
            ),
            None,
        ),
        (Err(reason), false) => (
            check(
                "attestationTrust",
                CheckOutcome::Skipped,
                format!("untrusted, which the policy accepts: {reason}"),
            ),
            None,
        ),
        (Err(reason), true) => {
            let e = RegistrationError::UntrustedAttestation(reason.clone());
            (
                check("attestationTrust", CheckOutcome::Fail, e.to_string()),
                Some(e),
            )
        }
    };
    checks.retain(|c| c.name != "attestationTrust");
    checks.push(reported);
    let Some(e) = refused else {
        return Ok(());
    };
    for name in REGISTRATION_CHECKS {
        if !checks.iter().any(|c| c.name == name) {
            checks.push(check(
                name,
                CheckOutcome::Skipped,
                "not reached: an earlier check failed",
            ));
        }
    }
    Err(e)
}

/// The metadata checks of a registration: the authenticator's entry and its status reports
/// (read only when every other check passed, as the server does). Returns why the status
/// reports refuse the authenticator, if they do.
fn metadata_checks(
    checks: &mut Vec<Check>,
    metadata: Option<&metadata::Metadata>,
    judged: Option<&Judgement>,
    verified: bool,
) -> Option<String> {
    let Some(metadata) = metadata else {
        for name in ["metadataEntry", "metadataStatus"] {
            checks.push(check(name, CheckOutcome::Skipped, "no --mds given"));
        }
        return None;
    };
    let Some(judged) = judged else {
        for name in ["metadataEntry", "metadataStatus"] {
            checks.push(check(
                name,
                CheckOutcome::Skipped,
                "not reached: an earlier check failed",
            ));
        }
        return None;
    };
    let Some(entry) = &judged.entry else {
        checks.push(check(
            "metadataEntry",
            CheckOutcome::Skipped,
            format!(
                "the metadata ({}) has no entry for this authenticator's AAGUID or attestation key identifiers",
                metadata.source
            ),
        ));
        checks.push(check(
            "metadataStatus",
            CheckOutcome::Skipped,
            "no metadata entry",
        ));
        return None;
    };
    let level = entry
        .certification_level
        .map(|l| format!(", certified {l}"))
        .unwrap_or_default();
    checks.push(check(
        "metadataEntry",
        CheckOutcome::Pass,
        format!(
            "\"{}\" with {} attestation root(s){level} ({})",
            entry.description.as_deref().unwrap_or("(no description)"),
            entry.attestation_roots.len(),
            metadata.source
        ),
    ));
    if !verified {
        checks.push(check(
            "metadataStatus",
            CheckOutcome::Skipped,
            "not reached: an earlier check failed",
        ));
        return None;
    }
    let refusal = judged.refusal.clone();
    checks.push(match &refusal {
        Some(why) => check("metadataStatus", CheckOutcome::Fail, why.clone()),
        None => check(
            "metadataStatus",
            CheckOutcome::Pass,
            "no status report refuses this authenticator",
        ),
    });
    refusal
}

fn type_name(t: fido::AttestationType) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn authentication(common: &Common, args: &AuthenticationArgs, credential: &Json) -> Report {
    let raw_id = credential
        .get("rawId")
        .and_then(Json::as_str)
        .and_then(|s| b64url_decode(s.trim_end_matches('=')).ok())
        .unwrap_or_default();
    let allowed = args.credential_ids.is_empty() || args.credential_ids.contains(&raw_id);
    let exp = AuthenticationExpectations {
        challenge: common.challenge.as_deref().unwrap_or_default(),
        rp_id: common.rp_id.as_deref().unwrap_or_default(),
        origins: &common.origins,
        allow_cross_origin: common.allow_cross_origin,
        top_origins: &common.top_origins,
        client_data_types: &common.client_data_types(fido::WEBAUTHN_GET),
        require_user_verification: common.require_uv,
        public_key: args.public_key.as_deref().unwrap_or_default(),
        credential_id: &raw_id,
        payment: None,
    };
    let mut checks = Vec::new();
    let result = fido::verify_authentication_observed(credential, &exp, &mut |c| checks.push(c));
    if let Some(c) = checks
        .iter_mut()
        .find(|c| c.name == "credentialId" && c.outcome == CheckOutcome::Pass)
    {
        *c = if args.credential_ids.is_empty() {
            check(
                "credentialId",
                CheckOutcome::Skipped,
                "no --credential-id given: any credential is accepted",
            )
        } else if allowed {
            check(
                "credentialId",
                CheckOutcome::Pass,
                "the credential is one of the --credential-id values",
            )
        } else {
            check(
                "credentialId",
                CheckOutcome::Fail,
                "the credential is none of the --credential-id values",
            )
        };
    }
    let mut refusal = result
        .as_ref()
        .err()
        .map(|e| format!("({}): {e}", e.check()));
    if !allowed && refusal.is_none() {
        refusal =
            Some("(credentialId): the credential is none of the --credential-id values".into());
    }
    match &result {
        Ok(v) => {
            let (outcome, detail) = match args.sign_count {
                None => (
                    CheckOutcome::Skipped,
                    format!("no --sign-count given (the response's counter is {})", v.sign_count),
                ),
                Some(0) if v.sign_count == 0 => (
                    CheckOutcome::Pass,
                    "both counters are 0: the authenticator keeps no counter".to_string(),
                ),
                Some(stored) if v.sign_count > stored => (
                    CheckOutcome::Pass,
                    format!("{} is greater than the stored {stored}", v.sign_count),
                ),
                Some(stored) => (
                    CheckOutcome::Fail,
                    format!(
                        "{} is not greater than the stored {stored}: the authenticator may be cloned",
                        v.sign_count
                    ),
                ),
            };
            if outcome == CheckOutcome::Fail && refusal.is_none() {
                refusal = Some(format!("(signCount): {detail}"));
            }
            checks.push(check("signCount", outcome, detail));
            let (outcome, detail) = match (&args.user_handle, &v.user_handle) {
                (None, _) => (
                    CheckOutcome::Skipped,
                    "no --user-handle given".to_string(),
                ),
                (Some(_), None) => (
                    CheckOutcome::Pass,
                    "the response has no user handle (allowed when the user was identified before the ceremony)".to_string(),
                ),
                (Some(want), Some(got)) if want == got => (
                    CheckOutcome::Pass,
                    "the response's user handle is the expected one".to_string(),
                ),
                (Some(_), Some(_)) => (
                    CheckOutcome::Fail,
                    "the response's user handle is not the expected one".to_string(),
                ),
            };
            if outcome == CheckOutcome::Fail && refusal.is_none() {
                refusal = Some(format!("(userHandle): {detail}"));
            }
            checks.push(check("userHandle", outcome, detail));
            let (outcome, detail) = match args.backup_eligible {
                None => (
                    CheckOutcome::Skipped,
                    format!(
                        "no --backup-eligible given (the BE flag is {})",
                        v.backup_eligible
                    ),
                ),
                Some(want) if want == v.backup_eligible => (
                    CheckOutcome::Pass,
                    format!("the BE flag is {want}, as stored"),
                ),
                Some(want) => (
                    CheckOutcome::Fail,
                    format!(
                        "the BE flag is {}, but the credential was registered with {want}",
                        v.backup_eligible
                    ),
                ),
            };
            if outcome == CheckOutcome::Fail && refusal.is_none() {
                refusal = Some(format!("(backupEligible): {detail}"));
            }
            checks.push(check("backupEligible", outcome, detail));
        }
        Err(_) => {
            for name in ["signCount", "userHandle", "backupEligible"] {
                checks.push(check(
                    name,
                    CheckOutcome::Skipped,
                    "not reached: an earlier check failed",
                ));
            }
        }
    }
    let (ok, summary) = match refusal {
        None => (true, "VERIFIED".to_string()),
        Some(why) => (false, format!("REFUSED {why}")),
    };
    Report {
        kind: "authentication",
        ok,
        summary,
        checks,
        described: inspect::describe_response(credential),
        attestation_outcome: None,
    }
}

impl Report {
    fn to_json(&self) -> Json {
        let mut attestation = self.described["attestation"].clone();
        if let (Some(outcome), Json::Object(map)) = (&self.attestation_outcome, &mut attestation) {
            map.insert("verified".into(), outcome.clone());
        }
        json!({
            "ok": self.ok,
            "ceremony": self.kind,
            "result": self.summary,
            "checks": self.checks,
            "clientData": self.described["clientData"],
            "authenticatorData": self.described["authenticatorData"],
            "attestation": attestation,
        })
    }

    fn print(&self, out: &mut dyn Write, now: DateTime<Utc>) -> std::io::Result<()> {
        writeln!(out, "fidoflow verify {}", self.kind)?;
        writeln!(out, "\nClient data:")?;
        let pretty =
            serde_json::to_string_pretty(&self.described["clientData"]).unwrap_or_default();
        for line in pretty.lines() {
            writeln!(out, "  {line}")?;
        }
        writeln!(out, "\nAuthenticator data:")?;
        let a = &self.described["authenticatorData"];
        if let Some(e) = a.get("error") {
            writeln!(out, "  error: {}", e.as_str().unwrap_or_default())?;
        } else {
            let f = &a["flags"];
            let bit = |n: &str| u8::from(f[n].as_bool().unwrap_or(false));
            writeln!(
                out,
                "  rpIdHash     {}",
                a["rpIdHash"].as_str().unwrap_or_default()
            )?;
            writeln!(
                out,
                "  flags        {}  UP={} UV={} BE={} BS={} AT={} ED={}",
                f["value"].as_str().unwrap_or_default(),
                bit("up"),
                bit("uv"),
                bit("be"),
                bit("bs"),
                bit("at"),
                bit("ed")
            )?;
            writeln!(out, "  signCount    {}", a["signCount"])?;
            if let Some(aaguid) = a["aaguid"].as_str() {
                writeln!(out, "  AAGUID       {aaguid}")?;
                writeln!(
                    out,
                    "  credentialId {}",
                    a["credentialId"].as_str().unwrap_or_default()
                )?;
                let key = &a["credentialPublicKey"];
                let described = key["description"]
                    .as_str()
                    .or_else(|| key["error"].as_str())
                    .unwrap_or_default();
                writeln!(out, "  publicKey    {described}")?;
            }
        }
        if !self.described["attestation"].is_null() {
            writeln!(out, "\nAttestation:")?;
            print_statement(out, &self.described["attestation"], now, "  ")?;
            if let Some(o) = &self.attestation_outcome {
                if let Some(model) = o["model"].as_str() {
                    writeln!(out, "  model        {model} (from the metadata)")?;
                }
                writeln!(
                    out,
                    "  verified     type {}, {}",
                    o["type"].as_str().unwrap_or_default(),
                    if o["trusted"] == Json::Bool(true) {
                        "trusted"
                    } else {
                        "untrusted"
                    }
                )?;
            }
        }
        writeln!(out, "\nChecks:")?;
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        for c in &self.checks {
            writeln!(
                out,
                "  {:<7} {:<width$}  {}",
                c.outcome.to_string(),
                c.name,
                c.detail
            )?;
        }
        writeln!(out, "\nResult: {}", self.summary)
    }
}

fn print_statement(
    out: &mut dyn Write,
    s: &Json,
    now: DateTime<Utc>,
    indent: &str,
) -> std::io::Result<()> {
    if let Some(e) = s.get("error").and_then(Json::as_str) {
        writeln!(out, "{indent}error: {e}")?;
    }
    writeln!(
        out,
        "{indent}format       {}",
        s["fmt"].as_str().unwrap_or("?")
    )?;
    if let Some(alg) = s.get("alg") {
        writeln!(out, "{indent}alg          {alg}")?;
    }
    if let Some(inner) = s.get("statements").and_then(Json::as_array) {
        for (i, st) in inner.iter().enumerate() {
            writeln!(out, "{indent}statement {}:", i + 1)?;
            print_statement(out, st, now, &format!("{indent}  "))?;
        }
    }
    match s.get("certificates") {
        Some(Json::Array(certs)) => {
            for (i, c) in certs.iter().enumerate() {
                let text = |k: &str| c[k].as_str().unwrap_or_default().to_string();
                let valid = match (
                    text("notBefore").parse::<DateTime<Utc>>(),
                    text("notAfter").parse::<DateTime<Utc>>(),
                ) {
                    (Ok(nb), Ok(na)) if nb <= now && now <= na => "valid at the verification time",
                    (Ok(nb), Ok(_)) if now < nb => "NOT YET VALID at the verification time",
                    _ => "EXPIRED at the verification time",
                };
                let subject = text("subject");
                writeln!(out, "{indent}certificate {}:", i + 1)?;
                writeln!(
                    out,
                    "{indent}  subject    {}",
                    if subject.is_empty() {
                        "(empty)"
                    } else {
                        &subject
                    }
                )?;
                writeln!(out, "{indent}  issuer     {}", text("issuer"))?;
                writeln!(
                    out,
                    "{indent}  validity   {} – {} ({valid})",
                    text("notBefore"),
                    text("notAfter")
                )?;
            }
        }
        Some(other) => {
            writeln!(out, "{indent}certificates: {other}")?;
        }
        None => {}
    }
    Ok(())
}
