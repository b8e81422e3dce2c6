//! The command line of `fidoflow verify registration|authentication`: its options, parsed and
//! checked, and the verify policies the server takes from its settings (the accepted client data
//! types, the SafetyNet checks), as `fido` takes them.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::b64url_decode;
use crate::fido::{self, FormatPolicy};

/// The options both ceremonies take.
#[derive(Debug, Default)]
pub(super) struct Common {
    pub rp_id: Option<String>,
    pub origins: Vec<String>,
    pub require_uv: bool,
    pub allow_cross_origin: bool,
    pub top_origins: Vec<String>,
    /// `--expected-type`: checked, without duplicates; empty: the ceremony's WebAuthn type.
    pub expected_types: Vec<String>,
    pub at: Option<DateTime<Utc>>,
    pub json: bool,
    pub file: Option<String>,
    pub challenge: Option<Vec<u8>>,
}

impl Common {
    /// The client data types the ceremony accepts, as `fido` takes them.
    pub fn client_data_types<'a>(&'a self, webauthn: &'a str) -> Vec<&'a str> {
        if self.expected_types.is_empty() {
            return vec![webauthn];
        }
        self.expected_types.iter().map(String::as_str).collect()
    }
}

#[derive(Debug, Default)]
pub(super) struct RegistrationArgs {
    pub trust_anchors: Option<PathBuf>,
    pub mds: Option<PathBuf>,
    pub mds_roots: Vec<PathBuf>,
    pub mds_crls: Vec<PathBuf>,
    pub require_trusted: bool,
    /// `--no-safetynet-timestamp`.
    pub no_safetynet_timestamp: bool,
    /// `--safetynet-max-age SECONDS`.
    pub safetynet_max_age: Option<Duration>,
    /// `--no-cts-profile-match`.
    pub no_cts_profile_match: bool,
}

impl RegistrationArgs {
    /// The attestation format choices, as the server makes them from `[attestation]`.
    pub fn format_policy(&self) -> FormatPolicy {
        FormatPolicy {
            safetynet_check_timestamp: !self.no_safetynet_timestamp,
            safetynet_max_age: self.safetynet_max_age.unwrap_or(fido::SAFETYNET_MAX_AGE),
            safetynet_require_cts_profile_match: !self.no_cts_profile_match,
            ..FormatPolicy::default()
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct AuthenticationArgs {
    pub public_key: Option<Vec<u8>>,
    pub sign_count: Option<u32>,
    pub user_handle: Option<Vec<u8>>,
    pub credential_ids: Vec<Vec<u8>>,
    pub backup_eligible: Option<bool>,
}

pub(super) enum Ceremony {
    Registration(RegistrationArgs),
    Authentication(AuthenticationArgs),
}

/// What `parse` may refuse: a request for help, or a usage error.
pub(super) enum Refusal {
    Help,
    Usage(String),
}

/// The longest `--safetynet-max-age`, as `attestation.safetynet_max_age` allows.
const MAX_SAFETYNET_AGE_SECS: u64 = 24 * 60 * 60;

/// Options that may be given more than once.
const REPEATABLE: [&str; 6] = [
    "--origin",
    "--top-origin",
    "--credential-id",
    "--mds-root",
    "--mds-crl",
    "--expected-type",
];

/// Options that take no value.
const SWITCHES: [&str; 6] = [
    "--require-uv",
    "--allow-cross-origin",
    "--json",
    "--require-trusted",
    "--no-safetynet-timestamp",
    "--no-cts-profile-match",
];

/// Parses `registration|authentication` and its options.
pub(super) fn parse(args: &[String]) -> Result<(Common, Ceremony), Refusal> {
    let usage = |m: String| Refusal::Usage(m);
    let mut ceremony = match args.first().map(String::as_str) {
        Some("registration") => Ceremony::Registration(RegistrationArgs::default()),
        Some("authentication") => Ceremony::Authentication(AuthenticationArgs::default()),
        Some("-h" | "--help") => return Err(Refusal::Help),
        Some(other) => {
            return Err(usage(format!(
                "verify what? \"{other}\" is not registration, authentication or transaction"
            )))
        }
        None => {
            return Err(usage(
                "verify needs registration, authentication or transaction".into(),
            ))
        }
    };
    let mut common = Common::default();
    let mut rest = args.iter().skip(1);
    let mut seen: Vec<String> = Vec::new();
    while let Some(arg) = rest.next() {
        if arg == "-h" || arg == "--help" {
            return Err(Refusal::Help);
        }
        if !arg.starts_with("--") {
            if common.file.is_some() {
                return Err(usage(format!("more than one input file given (\"{arg}\")")));
            }
            common.file = Some(arg.clone());
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (arg.as_str(), None),
        };
        if !REPEATABLE.contains(&name) && seen.iter().any(|s| s == name) {
            return Err(usage(format!("{name} is given twice")));
        }
        seen.push(name.to_string());
        let value = if SWITCHES.contains(&name) {
            if inline.is_some() {
                return Err(usage(format!("{name} takes no value")));
            }
            String::new()
        } else {
            match inline.or_else(|| rest.next().cloned()) {
                Some(v) => v,
                None => return Err(usage(format!("{name} needs a value"))),
            }
        };
        match name {
            "--rp-id" => common.rp_id = Some(value.clone()),
            "--origin" => common.origins.push(value.clone()),
            "--top-origin" => common.top_origins.push(value.clone()),
            "--expected-type" => common.expected_types.push(value.clone()),
            "--require-uv" => common.require_uv = true,
            "--allow-cross-origin" => common.allow_cross_origin = true,
            "--json" => common.json = true,
            "--at" => {
                let at = DateTime::parse_from_rfc3339(&value)
                    .map_err(|_| usage(format!("--at \"{value}\" is not an RFC 3339 time")))?;
                common.at = Some(at.with_timezone(&Utc));
            }
            "--challenge" => {
                let challenge = b64url_decode(value.trim_end_matches('='))
                    .map_err(|_| usage("--challenge must be base64url".into()))?;
                common.challenge = Some(challenge);
            }
            _ => {
                let known = match &mut ceremony {
                    Ceremony::Registration(r) => registration_option(r, name, &value)?,
                    Ceremony::Authentication(a) => authentication_option(a, name, &value)?,
                };
                if !known {
                    return Err(usage(format!("unknown option {name}")));
                }
            }
        }
    }
    check(&mut common, &ceremony)?;
    Ok((common, ceremony))
}

/// Reads a registration's own option; false: `name` is none of them.
fn registration_option(r: &mut RegistrationArgs, name: &str, value: &str) -> Result<bool, Refusal> {
    match name {
        "--trust-anchors" => r.trust_anchors = Some(PathBuf::from(value)),
        "--mds" => r.mds = Some(PathBuf::from(value)),
        "--mds-root" => r.mds_roots.push(PathBuf::from(value)),
        "--mds-crl" => r.mds_crls.push(PathBuf::from(value)),
        "--require-trusted" => r.require_trusted = true,
        "--no-safetynet-timestamp" => r.no_safetynet_timestamp = true,
        "--no-cts-profile-match" => r.no_cts_profile_match = true,
        "--safetynet-max-age" => {
            let seconds = value
                .parse::<u64>()
                .ok()
                .filter(|s| (1..=MAX_SAFETYNET_AGE_SECS).contains(s))
                .ok_or_else(|| {
                    Refusal::Usage(format!(
                        "--safetynet-max-age \"{value}\" is not a number of seconds from 1 to \
                         {MAX_SAFETYNET_AGE_SECS} (--no-safetynet-timestamp skips the check)"
                    ))
                })?;
            r.safetynet_max_age = Some(Duration::from_secs(seconds));
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// Reads an authentication's own option; false: `name` is none of them.
fn authentication_option(
    a: &mut AuthenticationArgs,
    name: &str,
    value: &str,
) -> Result<bool, Refusal> {
    let usage = |m: String| Refusal::Usage(m);
    let b64 = |what: &str| {
        b64url_decode(value.trim_end_matches('='))
            .map_err(|_| usage(format!("{what} must be base64url")))
    };
    match name {
        "--public-key" => a.public_key = Some(b64("--public-key")?),
        "--sign-count" => {
            let n = value
                .parse()
                .map_err(|_| usage(format!("--sign-count \"{value}\" is not a 32-bit counter")))?;
            a.sign_count = Some(n);
        }
        "--user-handle" => a.user_handle = Some(b64("--user-handle")?),
        "--credential-id" => a.credential_ids.push(b64("--credential-id")?),
        "--backup-eligible" => {
            a.backup_eligible = Some(match value {
                "true" => true,
                "false" => false,
                _ => return Err(usage("--backup-eligible must be true or false".into())),
            });
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// What every run needs, and the options that only make sense together.
fn check(common: &mut Common, ceremony: &Ceremony) -> Result<(), Refusal> {
    let usage = |m: &str| Err(Refusal::Usage(m.to_string()));
    if common.challenge.is_none() {
        return usage("--challenge is required");
    }
    if common.rp_id.is_none() {
        return usage("--rp-id is required");
    }
    if common.origins.is_empty() {
        return usage("at least one --origin is required");
    }
    let (own, other) = match ceremony {
        Ceremony::Registration(_) => (fido::WEBAUTHN_CREATE, fido::WEBAUTHN_GET),
        Ceremony::Authentication(_) => (fido::WEBAUTHN_GET, fido::WEBAUTHN_CREATE),
    };
    if !common.expected_types.is_empty() {
        let given = std::mem::take(&mut common.expected_types);
        common.expected_types = crate::config::client_data_types(given, own, other)
            .map_err(|why| Refusal::Usage(format!("--expected-type: {why}")))?;
    }
    match ceremony {
        Ceremony::Authentication(a) if a.public_key.is_none() => usage("--public-key is required"),
        Ceremony::Registration(r)
            if r.mds.is_none() && !(r.mds_roots.is_empty() && r.mds_crls.is_empty()) =>
        {
            usage("--mds-root and --mds-crl verify an --mds FILE; none is given")
        }
        Ceremony::Registration(r) if r.no_safetynet_timestamp && r.safetynet_max_age.is_some() => {
            usage(
                "--safetynet-max-age sets the window of the timestamp check that \
                 --no-safetynet-timestamp skips; give one of them",
            )
        }
        _ => Ok(()),
    }
}
