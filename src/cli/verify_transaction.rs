//! `fidoflow verify transaction EVIDENCE --key PEM [--json]`: verifies a transaction evidence
//! document offline against the server's evidence public key and prints what was approved, or
//! the check that refused it. Exit status 0 verified, 1 refused, 2 usage error.

use std::io::{Read, Write};

use serde_json::{json, Value as Json};

use super::usage_error;
use crate::fido::evidence::{
    verify_with, EvidenceError, EvidencePublicKey, VerifiedEvidence, EVIDENCE_CHECKS,
    MAX_EVIDENCE_BYTES,
};
use crate::fido::transaction::SignedContent;

#[derive(Debug, Default)]
struct Args {
    file: Option<String>,
    key: Option<String>,
    json: bool,
}

/// What `parse` may refuse: a request for help, or a usage error.
enum Refusal {
    Help,
    Usage(String),
}

/// Runs `fidoflow verify transaction` with `args` (the words after `transaction`).
pub(super) fn run(
    args: &[String],
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let args = match parse(args) {
        Ok(args) => args,
        Err(Refusal::Help) => {
            let _ = out.write_all(super::USAGE.as_bytes());
            return 0;
        }
        Err(Refusal::Usage(message)) => return usage_error(err, &message),
    };
    let key_path = args.key.as_deref().unwrap_or_default();
    let key = match std::fs::read_to_string(key_path) {
        Ok(pem) => match EvidencePublicKey::from_pem(&pem) {
            Ok(key) => key,
            Err(e) => {
                return usage_error(
                    err,
                    &format!("--key {key_path} is not an evidence public key: {e}"),
                )
            }
        },
        Err(e) => return usage_error(err, &format!("cannot read --key {key_path}: {e}")),
    };
    let evidence = match read_evidence(args.file.as_deref().unwrap_or("-"), stdin) {
        Ok(bytes) => bytes,
        Err(message) => return usage_error(err, &message),
    };
    if crate::uaf::evidence::is_uaf_evidence(&evidence) {
        return uaf_evidence(&evidence, &key, args.json, out);
    }
    let result = verify_with(&evidence, &key);
    let printed = if args.json {
        serde_json::to_writer_pretty(&mut *out, &report(&result))
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(out))
    } else {
        print(out, &result)
    };
    match (printed, &result) {
        (Err(_), _) => 2,
        (Ok(()), Ok(_)) => 0,
        (Ok(()), Err(_)) => 1,
    }
}

/// UAF transaction evidence (`mode: "uaf-transaction-confirmation"`), verified by `uaf`.
fn uaf_evidence(evidence: &[u8], key: &EvidencePublicKey, json: bool, out: &mut dyn Write) -> i32 {
    let result = crate::uaf::evidence::verify_with(evidence, key);
    let printed = match (&result, json) {
        (Ok(v), false) => writeln!(
            out,
            "evidence verifies: transaction {} approved by {} of {} at {} ({})\n  {}",
            v.transaction_id,
            v.user,
            v.tenant,
            v.validated_at,
            crate::uaf::evidence::MODE,
            match &v.transaction_text {
                Some(text) => format!(
                    "transactionText: {}",
                    serde_json::to_string(text).unwrap_or_default()
                ),
                None => "transactionImage: the PNG image in the evidence".into(),
            }
        ),
        (Err(e), false) => writeln!(out, "{e}"),
        (Ok(v), true) => writeln!(
            out,
            "{:#}",
            json!({"ok": true, "ceremony": "transaction", "result": {
                "transactionID": v.transaction_id, "user": v.user, "tenant": v.tenant,
                "validatedAt": v.validated_at, "mode": crate::uaf::evidence::MODE,
                "transactionText": v.transaction_text, "aaid": v.aaid,
            }})
        ),
        (Err(e), true) => writeln!(
            out,
            "{:#}",
            json!({"ok": false, "ceremony": "transaction", "check": e.check, "error": e.detail})
        ),
    };
    match (printed, &result) {
        (Err(_), _) => 2,
        (Ok(()), Ok(_)) => 0,
        (Ok(()), Err(_)) => 1,
    }
}

fn parse(args: &[String]) -> Result<Args, Refusal> {
    let usage = |m: String| Refusal::Usage(m);
    let mut parsed = Args::default();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "-h" | "--help" => return Err(Refusal::Help),
            "--json" if parsed.json => return Err(usage("--json is given twice".into())),
            "--json" => parsed.json = true,
            "--key" if parsed.key.is_some() => return Err(usage("--key is given twice".into())),
            "--key" => match rest.next() {
                Some(path) => parsed.key = Some(path.clone()),
                None => return Err(usage("--key needs a value".into())),
            },
            _ if arg.starts_with("--key=") => {
                if parsed.key.is_some() {
                    return Err(usage("--key is given twice".into()));
                }
                parsed.key = arg.strip_prefix("--key=").map(str::to_string);
            }
            _ if arg.starts_with("--") => return Err(usage(format!("unknown option {arg}"))),
            _ if parsed.file.is_some() => {
                return Err(usage(format!(
                    "more than one evidence file given (\"{arg}\")"
                )))
            }
            _ => parsed.file = Some(arg.clone()),
        }
    }
    if parsed.key.is_none() {
        return Err(usage(
            "--key is required: the server's evidence public key (PEM)".into(),
        ));
    }
    if parsed.file.is_none() {
        return Err(usage(
            "no evidence file given (\"-\" reads it from stdin)".into(),
        ));
    }
    Ok(parsed)
}

/// The evidence bytes, from `file` or from stdin for "-"; one byte more than `verify` reads is
/// enough for it to refuse a larger document.
fn read_evidence(file: &str, stdin: &mut dyn Read) -> Result<Vec<u8>, String> {
    let limit = u64::try_from(MAX_EVIDENCE_BYTES + 1).unwrap_or(u64::MAX);
    let mut bytes = Vec::new();
    let read = if file == "-" {
        stdin.take(limit).read_to_end(&mut bytes)
    } else {
        std::fs::File::open(file).and_then(|f| f.take(limit).read_to_end(&mut bytes))
    };
    match read {
        Ok(_) => Ok(bytes),
        Err(e) if file == "-" => Err(format!("cannot read stdin: {e}")),
        Err(e) => Err(format!("cannot read {file}: {e}")),
    }
}

/// The one-line outcome.
fn summary(result: &Result<VerifiedEvidence, EvidenceError>) -> String {
    match result {
        Ok(v) => format!(
            "evidence verifies: transaction {} approved by {} of {} at {} ({})",
            v.transaction_id, v.user, v.tenant, v.validated_at, v.mode
        ),
        Err(e) => e.to_string(),
    }
}

/// The signed content, one member a line, each in its canonical (JCS) form.
fn content_lines(content: &SignedContent) -> Vec<(&'static str, String)> {
    let canonical = |v: &Json| serde_json_canonicalizer::to_string(v).unwrap_or_default();
    let mut lines = Vec::new();
    if let Some(message) = &content.authentication_message {
        lines.push(("authenticationMessage", canonical(&json!(message))));
    }
    if let Some(transaction) = &content.transaction {
        lines.push(("transaction", canonical(transaction)));
    }
    if let Some(payment) = &content.payment {
        lines.push(("payment", canonical(payment)));
    }
    lines
}

fn print(
    out: &mut dyn Write,
    result: &Result<VerifiedEvidence, EvidenceError>,
) -> std::io::Result<()> {
    writeln!(out, "{}", summary(result))?;
    if let Ok(v) = result {
        for (name, value) in content_lines(&v.content) {
            writeln!(out, "  {name}: {value}")?;
        }
    }
    Ok(())
}

/// The `--json` report: the outcome, every check with its outcome (those after a refusal not
/// reached) and, when verified, what the evidence says.
fn report(result: &Result<VerifiedEvidence, EvidenceError>) -> Json {
    let failed = result.as_ref().err().map(|e| e.check);
    let mut reached = true;
    let checks: Vec<Json> = EVIDENCE_CHECKS
        .iter()
        .map(|name| {
            let (outcome, detail) = match (reached, failed) {
                (false, _) => (
                    "skipped",
                    "not reached: an earlier check failed".to_string(),
                ),
                (true, Some(check)) if check == *name => {
                    reached = false;
                    let detail = result.as_ref().err().map(|e| e.detail.clone());
                    ("fail", detail.unwrap_or_default())
                }
                (true, _) => ("pass", passed(name).to_string()),
            };
            json!({"name": name, "outcome": outcome, "detail": detail})
        })
        .collect();
    let evidence = result.as_ref().ok().map(|v| {
        let mut described = json!({
            "transactionID": v.transaction_id,
            "mode": v.mode.as_str(),
            "tenant": v.tenant,
            "user": v.user,
            "validatedAt": v.validated_at,
            "rpId": v.rp_id,
            "credentialId": crate::domain::b64url(&v.credential_id),
            "auditRecordSha256": v.audit_record_sha256,
        });
        if let (Json::Object(members), Ok(Json::Object(content))) =
            (&mut described, serde_json::to_value(&v.content))
        {
            members.extend(content);
        }
        described
    });
    json!({
        "ok": result.is_ok(),
        "ceremony": "transaction",
        "result": summary(result),
        "checks": checks,
        "evidence": evidence,
    })
}

/// What a passed check established.
fn passed(check: &str) -> &'static str {
    match check {
        "json" => "the evidence is one JSON object of at most 1 MiB",
        "members" => "every member present, known, of its type, canonically encoded and named once",
        "serverSignature" => "an ES256 JWS by the given key over the document's JCS",
        "challenge" => {
            "SHA-256(nonce ‖ SHA-256(JCS(content))) is the challenge member and the assertion's"
        }
        "clientData" => "the client data type fits the mode (for spc: it shows the signed payment)",
        "rpIdHash" => "the assertion was made for rpId",
        "userVerified" => "the UP and UV flags are set",
        "credentialBinding" => {
            "the registration attested credential.id and credential.publicKey for rpId"
        }
        "signature" => {
            "the assertion signature verifies over authenticatorData ‖ SHA-256(clientDataJSON)"
        }
        _ => "",
    }
}
