//! Authenticator data (§6.1): rpIdHash, flags, signature counter, attested credential data and
//! extensions, parsed exactly: every byte must belong to a part the flags announce.

use subtle::ConstantTimeEq;

use super::cbor;
use super::error::Common;
use super::report::Observer;

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const BE: u8 = 0x08;
const BS: u8 = 0x10;
const AT: u8 = 0x40;
const ED: u8 = 0x80;

/// The longest credential id WebAuthn allows.
pub const MAX_CREDENTIAL_ID_LEN: usize = 1023;

/// Parsed authenticator data.
#[derive(Debug, Clone)]
pub(crate) struct AuthData {
    pub rp_id_hash: [u8; 32],
    pub flags: u8,
    pub sign_count: u32,
    pub attested: Option<AttestedCredential>,
}

/// Attested credential data.
#[derive(Debug, Clone)]
pub(crate) struct AttestedCredential {
    pub aaguid: [u8; 16],
    pub credential_id: Vec<u8>,
    /// The COSE_Key bytes exactly as they appear.
    pub public_key: Vec<u8>,
    pub public_key_value: ciborium::value::Value,
}

impl AuthData {
    pub fn user_present(&self) -> bool {
        self.flags & UP != 0
    }
    pub fn user_verified(&self) -> bool {
        self.flags & UV != 0
    }
    pub fn backup_eligible(&self) -> bool {
        self.flags & BE != 0
    }
    pub fn backup_state(&self) -> bool {
        self.flags & BS != 0
    }

    /// Parses authenticator data.
    pub fn parse(bytes: &[u8]) -> Result<Self, Common> {
        let short = || Common::Malformed("the authenticator data is too short".into());
        let rp_id_hash: [u8; 32] = take(bytes, 0).ok_or_else(short)?;
        let [flags] = take::<1>(bytes, 32).ok_or_else(short)?;
        let sign_count = u32::from_be_bytes(take(bytes, 33).ok_or_else(short)?);
        let mut pos = 37;
        let attested = if flags & AT != 0 {
            let aaguid: [u8; 16] = take(bytes, pos).ok_or_else(short)?;
            let len = u16::from_be_bytes(take(bytes, pos + 16).ok_or_else(short)?) as usize;
            if len > MAX_CREDENTIAL_ID_LEN {
                return Err(Common::CredentialIdTooLong);
            }
            pos += 18;
            let credential_id = bytes.get(pos..pos + len).ok_or_else(short)?.to_vec();
            pos += len;
            let rest = bytes.get(pos..).ok_or_else(short)?;
            let (public_key_value, used) = cbor::read_one(rest)
                .map_err(|e| Common::Malformed(format!("the credential public key is {e}")))?;
            let public_key = rest.get(..used).ok_or_else(short)?.to_vec();
            pos += used;
            Some(AttestedCredential {
                aaguid,
                credential_id,
                public_key,
                public_key_value,
            })
        } else {
            None
        };
        let rest = bytes.get(pos..).unwrap_or_default();
        if flags & ED != 0 {
            if rest.is_empty() {
                return Err(Common::ExtensionDataMismatch);
            }
            let (extensions, used) =
                cbor::read_one(rest).map_err(|_| Common::ExtensionDataMismatch)?;
            if cbor::map(&extensions).is_none() {
                return Err(Common::ExtensionDataMismatch);
            }
            if used != rest.len() {
                return Err(Common::TrailingBytes);
            }
        } else if !rest.is_empty() {
            return Err(Common::TrailingBytes);
        }
        Ok(Self {
            rp_id_hash,
            flags,
            sign_count,
            attested,
        })
    }

    /// Whether the ED flag announced extension data.
    pub fn has_extensions(&self) -> bool {
        self.flags & ED != 0
    }

    /// The checks common to both ceremonies: rpIdHash, UP, UV when required, BS only with BE.
    pub fn check(
        &self,
        rp_id: &str,
        require_user_verification: bool,
        obs: &mut Observer,
    ) -> Result<(), Common> {
        let expected = ring::digest::digest(&ring::digest::SHA256, rp_id.as_bytes());
        if !bool::from(self.rp_id_hash.as_slice().ct_eq(expected.as_ref())) {
            return Err(Common::RpIdHashMismatch);
        }
        obs.pass("rpIdHash", || format!("equals SHA-256(\"{rp_id}\")"));
        if !self.user_present() {
            return Err(Common::UserNotPresent);
        }
        obs.pass("userPresent", || "the UP flag is set".into());
        if require_user_verification && !self.user_verified() {
            return Err(Common::UserNotVerified);
        }
        if require_user_verification {
            obs.pass("userVerified", || "the UV flag is set".into());
        } else {
            obs.skip("userVerified", || {
                format!(
                    "user verification is not required (the UV flag is {})",
                    if self.user_verified() { "set" } else { "clear" }
                )
            });
        }
        if self.backup_state() && !self.backup_eligible() {
            return Err(Common::BackupStateWithoutEligibility);
        }
        obs.pass("backupState", || {
            format!(
                "BE={} BS={}: a backed-up credential is backup eligible",
                u8::from(self.backup_eligible()),
                u8::from(self.backup_state())
            )
        });
        Ok(())
    }
}

/// `N` bytes at `pos`, if there are that many.
fn take<const N: usize>(bytes: &[u8], pos: usize) -> Option<[u8; N]> {
    bytes.get(pos..pos.checked_add(N)?)?.try_into().ok()
}
