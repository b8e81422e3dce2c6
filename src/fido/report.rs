//! Observable verification: each check of §7.1 / §7.2 and §8 can be reported, with its outcome,
//! to a caller-supplied sink (the `fidoflow verify` tool). The server passes no sink, and then
//! no detail text is ever formatted: a report costs nothing when nobody listens.

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckOutcome {
    Pass,
    Fail,
    /// Not run, with the reason in the detail (no input to check against, not reached after an
    /// earlier failure, not applicable to this format).
    Skipped,
}

impl std::fmt::Display for CheckOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Skipped => "skipped",
        })
    }
}

/// One reported check: a short stable name (the failed-check names of the error enums, or
/// `<format>.<step>` for a format's own steps), its outcome and a sentence saying what was seen.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    pub name: String,
    pub outcome: CheckOutcome,
    pub detail: String,
}

/// The checks of a registration, in §7.1 order; a refusal reports those it did not reach as
/// skipped.
pub const REGISTRATION_CHECKS: [&str; 25] = [
    "credentialType",
    "id",
    "responseSize",
    "clientData",
    "type",
    "challenge",
    "origin",
    "crossOrigin",
    "topOrigin",
    "tokenBinding",
    "attestationObject",
    "authenticatorDataLength",
    "rpIdHash",
    "userPresent",
    "userVerified",
    "backupState",
    "extensions",
    "attestedCredentialData",
    "credentialId",
    "publicKey",
    "algorithm",
    "attestationFormat",
    "attestationStatement",
    "attestationSignature",
    "attestationTrust",
];

/// The checks of an authentication, in §7.2 order.
pub const AUTHENTICATION_CHECKS: [&str; 18] = [
    "credentialType",
    "id",
    "credentialId",
    "clientData",
    "type",
    "challenge",
    "origin",
    "crossOrigin",
    "topOrigin",
    "tokenBinding",
    "payment",
    "authenticatorDataLength",
    "rpIdHash",
    "userPresent",
    "userVerified",
    "backupState",
    "extensions",
    "signature",
];

/// Where checks go while verifying; `Observer::none()` drops them without formatting.
pub(crate) struct Observer<'a> {
    sink: Option<&'a mut dyn FnMut(Check)>,
    seen: Vec<&'static str>,
}

impl<'a> Observer<'a> {
    pub fn none() -> Self {
        Self {
            sink: None,
            seen: Vec::new(),
        }
    }

    pub fn new(sink: &'a mut dyn FnMut(Check)) -> Self {
        Self {
            sink: Some(sink),
            seen: Vec::new(),
        }
    }

    fn emit(&mut self, name: &'static str, outcome: CheckOutcome, detail: impl FnOnce() -> String) {
        if let Some(sink) = self.sink.as_mut() {
            self.seen.push(name);
            sink(Check {
                name: name.to_string(),
                outcome,
                detail: detail(),
            });
        }
    }

    pub fn pass(&mut self, name: &'static str, detail: impl FnOnce() -> String) {
        self.emit(name, CheckOutcome::Pass, detail);
    }

    pub fn skip(&mut self, name: &'static str, why: impl FnOnce() -> String) {
        self.emit(name, CheckOutcome::Skipped, why);
    }

    pub fn fail(&mut self, name: &'static str, detail: impl FnOnce() -> String) {
        self.emit(name, CheckOutcome::Fail, detail);
    }

    /// Reports a refusal: the failed check, then every listed check not yet reported as
    /// skipped.
    pub fn refused(&mut self, failed: &'static str, detail: String, all: &[&'static str]) {
        if self.sink.is_none() {
            return;
        }
        self.fail(failed, || detail);
        for name in all {
            if !self.seen.contains(name) {
                self.skip(name, || "not reached: an earlier check failed".into());
            }
        }
    }
}
