//! The `android-key` attestation format (§8.4): an x5c attestation whose leaf certificate holds
//! the credential key and an Android Key Attestation extension (KeyDescription) binding it to
//! this ceremony.
//!
//! KeyDescription is read with a lenient DER reader: the security levels are ENUMERATED in
//! Android's schema, but some authenticators (and the W3C vector) send INTEGER; both are
//! accepted since neither value is used. What §8.4 checks is enforced strictly.

use der::asn1::ObjectIdentifier as Oid;
use x509_cert::Certificate;

use super::{invalid, AttestationType, Statement, Verified};
use crate::fido::asn1::{self, Tlv};
use crate::fido::report::Observer;
use crate::fido::trust::{self, Scheme};
use crate::fido::RegistrationError;

pub(crate) const OID_KEY_DESCRIPTION: Oid = Oid::new_unwrap("1.3.6.1.4.1.11129.2.1.17");
const KM_ORIGIN_GENERATED: u64 = 0;
const KM_PURPOSE_SIGN: u64 = 2;
const TAG_PURPOSE: u32 = 1;
const TAG_ALL_APPLICATIONS: u32 = 600;
const TAG_ORIGIN: u32 = 702;

pub(super) fn verify(
    statement: &Statement,
    obs: &mut Observer,
) -> Result<Verified, RegistrationError> {
    let stmt = statement.att_stmt;
    let alg = super::algorithm(stmt)?;
    let sig = super::signature(stmt)?;
    let chain = super::x5c(stmt)?.ok_or_else(|| invalid("it has no \"x5c\" certificate"))?;
    let leaf = chain
        .first()
        .ok_or_else(|| invalid("\"x5c\" holds no certificate"))?;
    let scheme = Scheme::from_cose(alg)
        .ok_or_else(|| invalid(&format!("the algorithm {alg} is not supported")))?;
    if !trust::verify_with_cert(leaf, scheme, &statement.signed_data(), sig) {
        return Err(RegistrationError::AttestationSignatureInvalid);
    }
    obs.pass("attestationSignature", || {
        format!("verifies over authenticatorData || clientDataHash with the leaf certificate's key (alg {alg})")
    });
    if !trust::key_matches(leaf, statement.key) {
        return Err(invalid(
            "the leaf certificate's public key is not the credential public key",
        ));
    }
    obs.pass("android-key.publicKey", || {
        "the leaf certificate's public key is the credential public key".into()
    });
    let description = KeyDescription::of(leaf).map_err(|e| invalid(&e))?;
    if description.challenge != statement.client_data_hash {
        return Err(invalid(
            "the KeyDescription attestationChallenge is not the clientDataHash",
        ));
    }
    obs.pass("android-key.attestationChallenge", || {
        "equals the clientDataHash".into()
    });
    check_authorizations(
        &description,
        statement.formats.android_key_allow_software_enforced,
    )
    .map_err(|e| invalid(&e))?;
    obs.pass("android-key.authorizationList", || {
        "no allApplications; origin KM_ORIGIN_GENERATED; purpose includes KM_PURPOSE_SIGN".into()
    });
    Ok(Verified {
        kind: AttestationType::Basic,
        chain,
    })
}

/// The members of an AuthorizationList we check.
#[derive(Debug, Default)]
pub(crate) struct Authorizations {
    pub all_applications: bool,
    pub origin: Option<u64>,
    pub purposes: Vec<u64>,
}

/// The members of KeyDescription we check.
#[derive(Debug)]
pub(crate) struct KeyDescription {
    pub challenge: Vec<u8>,
    pub software: Authorizations,
    pub tee: Authorizations,
}

impl KeyDescription {
    /// The KeyDescription of the certificate's key attestation extension.
    pub(crate) fn of(cert: &Certificate) -> Result<Self, String> {
        let value = trust::extension(cert, &OID_KEY_DESCRIPTION)
            .map_err(|e| format!("the leaf certificate {e}"))?
            .ok_or(
                "the leaf certificate has no key attestation extension (1.3.6.1.4.1.11129.2.1.17)",
            )?;
        Self::parse(value)
    }

    pub(crate) fn parse(der: &[u8]) -> Result<Self, String> {
        let bad = || "the KeyDescription is not valid DER of the expected shape".to_string();
        let (seq, rest) = asn1::read(der).ok_or_else(bad)?;
        if !rest.is_empty() || seq.tag != asn1::SEQUENCE {
            return Err(bad());
        }
        let items = asn1::items(seq.value).ok_or_else(bad)?;
        let [version, att_level, _km_version, km_level, challenge, _unique_id, software, tee, ..] =
            items.as_slice()
        else {
            return Err(bad());
        };
        let level = |t: &Tlv| t.tag == asn1::ENUMERATED || t.tag == asn1::INTEGER;
        if version.tag != asn1::INTEGER || !level(att_level) || !level(km_level) {
            return Err(bad());
        }
        if challenge.tag != asn1::OCTET_STRING {
            return Err(bad());
        }
        Ok(Self {
            challenge: challenge.value.to_vec(),
            software: authorizations(software).ok_or_else(bad)?,
            tee: authorizations(tee).ok_or_else(bad)?,
        })
    }
}

/// Reads the purpose, allApplications and origin members of an AuthorizationList (every
/// member is EXPLICIT context-tagged; the others are skipped).
fn authorizations(list: &Tlv) -> Option<Authorizations> {
    if list.tag != asn1::SEQUENCE {
        return None;
    }
    let mut out = Authorizations::default();
    for item in asn1::items(list.value)? {
        if item.tag.class != 2 || !item.tag.constructed {
            return None;
        }
        let inner = || -> Option<Tlv> {
            let (inner, rest) = asn1::read(item.value)?;
            rest.is_empty().then_some(inner)
        };
        match item.tag.number {
            TAG_PURPOSE => {
                let set = inner()?;
                if set.tag != asn1::SET {
                    return None;
                }
                for p in asn1::items(set.value)? {
                    if p.tag != asn1::INTEGER {
                        return None;
                    }
                    out.purposes.push(asn1::small_uint(p.value)?);
                }
            }
            TAG_ALL_APPLICATIONS => out.all_applications = true,
            TAG_ORIGIN => {
                let origin = inner()?;
                if origin.tag != asn1::INTEGER {
                    return None;
                }
                out.origin = Some(asn1::small_uint(origin.value)?);
            }
            _ => {}
        }
    }
    Some(out)
}

/// §8.4: allApplications is in neither list; origin is KM_ORIGIN_GENERATED and purpose holds
/// KM_PURPOSE_SIGN in teeEnforced, or (when allowed) in softwareEnforced.
pub(crate) fn check_authorizations(
    description: &KeyDescription,
    allow_software: bool,
) -> Result<(), String> {
    if description.software.all_applications || description.tee.all_applications {
        return Err("the key is bound to all applications (allApplications is present)".into());
    }
    let mut lists = vec![&description.tee];
    if allow_software {
        lists.push(&description.software);
    }
    let where_ = if allow_software {
        "teeEnforced or softwareEnforced"
    } else {
        "teeEnforced"
    };
    let origins: Vec<u64> = lists.iter().filter_map(|l| l.origin).collect();
    if origins.is_empty() || origins.iter().any(|o| *o != KM_ORIGIN_GENERATED) {
        return Err(format!(
            "the key's origin in {where_} is not KM_ORIGIN_GENERATED"
        ));
    }
    if !lists.iter().any(|l| l.purposes.contains(&KM_PURPOSE_SIGN)) {
        return Err(format!(
            "the key's purpose in {where_} does not include KM_PURPOSE_SIGN"
        ));
    }
    Ok(())
}
