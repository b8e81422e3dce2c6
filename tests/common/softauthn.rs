//! A software WebAuthn client + authenticator for the integration tests.
//!
//! It plays the browser and the authenticator at once: it takes the server's
//! WebAuthn Level 3 JSON options (what `PublicKeyCredential.parseCreationOptionsFromJSON()`
//! / `parseRequestOptionsFromJSON()` accept) and returns what `credential.toJSON()`
//! would give. With a [`Tamper`] it crafts the malformed responses that the
//! §7.1 / §7.2 verification procedures must refuse.
//!
//! Options may be given bare or wrapped as `{"publicKey": {...}}`. Missing optional
//! members never cause a panic; a missing challenge becomes the empty string.

use std::fmt;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use ciborium::Value as Cbor;
use rand::RngCore;
use ring::digest;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING,
    ECDSA_P384_SHA384_ASN1_SIGNING,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::pki;

/// authenticatorData flag bits.
pub const FLAG_UP: u8 = 0x01;
pub const FLAG_UV: u8 = 0x04;
pub const FLAG_BE: u8 = 0x08;
pub const FLAG_BS: u8 = 0x10;
pub const FLAG_AT: u8 = 0x40;
pub const FLAG_ED: u8 = 0x80;

/// base64url without padding.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Lenient base64 decoding: base64url or standard, with or without padding.
pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(s)
        .or_else(|_| URL_SAFE.decode(s))
        .or_else(|_| STANDARD_NO_PAD.decode(s))
        .or_else(|_| STANDARD.decode(s))
        .ok()
}

/// SHA-256.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::thread_rng().fill_bytes(&mut b);
    b
}

/// Credential public key algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alg {
    /// ECDSA P-256 with SHA-256, COSE -7.
    Es256,
    /// ECDSA P-384 with SHA-384, COSE -35.
    Es384,
    /// Ed25519, COSE -8.
    EdDsa,
    /// ML-DSA-44 (FIPS 204), COSE -48, key type AKP.
    MlDsa44,
    /// ML-DSA-65, COSE -49.
    MlDsa65,
    /// ML-DSA-87, COSE -50.
    MlDsa87,
}

impl Alg {
    /// The COSE algorithm identifier.
    pub fn cose(self) -> i64 {
        match self {
            Alg::Es256 => -7,
            Alg::Es384 => -35,
            Alg::EdDsa => -8,
            Alg::MlDsa44 => -48,
            Alg::MlDsa65 => -49,
            Alg::MlDsa87 => -50,
        }
    }

    /// The inverse of [`Alg::cose`].
    pub fn from_cose(alg: i64) -> Option<Alg> {
        match alg {
            -7 => Some(Alg::Es256),
            -35 => Some(Alg::Es384),
            -8 => Some(Alg::EdDsa),
            -48 => Some(Alg::MlDsa44),
            -49 => Some(Alg::MlDsa65),
            -50 => Some(Alg::MlDsa87),
            _ => None,
        }
    }
}

/// How registrations are attested.
#[derive(Clone, Debug)]
pub enum AttestationMode {
    /// `fmt: "none"`, empty attStmt.
    None,
    /// `fmt: "packed"` self attestation: {alg, sig} with the credential key.
    PackedSelf,
    /// `fmt: "packed"` full attestation: {alg: -7, sig, x5c} with the chain's leaf key.
    PackedX5c { chain: pki::AttestationChain },
    /// `fmt: "fido-u2f"`: {sig, x5c: [leaf]}; the AAGUID in authData is zero.
    FidoU2f { chain: pki::AttestationChain },
}

/// Knobs to craft bad (or unusual) responses. `Tamper::default()` is honest.
#[derive(Clone, Debug, Default)]
pub struct Tamper {
    /// clientDataJSON.type, e.g. "webauthn.get" on a registration.
    pub client_data_type: Option<String>,
    /// A different challenge in clientDataJSON (raw bytes, encoded b64url).
    pub challenge: Option<Vec<u8>>,
    /// clientDataJSON.origin (default: the `origin` argument).
    pub origin: Option<String>,
    /// clientDataJSON.crossOrigin (default false).
    pub cross_origin: Option<bool>,
    /// Adds clientDataJSON.topOrigin.
    pub top_origin: Option<String>,
    /// Hash this RP ID into authData instead of the real one.
    pub rp_id: Option<String>,
    /// Flag overrides (default: UP set, UV/BE/BS from the authenticator).
    pub up: Option<bool>,
    pub uv: Option<bool>,
    pub be: Option<bool>,
    pub bs: Option<bool>,
    /// Set the ED flag (without appending any extension data).
    pub ed: Option<bool>,
    /// Corrupt the attestation / assertion signature (last byte XOR 0x01).
    pub flip_signature_byte: bool,
    /// Registration: the new credential gets this id. Assertion: report this id
    /// (signing with our credential of that id if we have one).
    pub credential_id: Option<Vec<u8>>,
    /// rawId != id (rawId has its first byte changed).
    pub raw_id_differs: bool,
    /// Ignore the options and the authenticator's alg and make a key of this alg.
    pub alg: Option<Alg>,
    /// Put this string in response.publicKey instead of the real SPKI.
    pub public_key_member: Option<String>,
    /// Append garbage after the attested credential data (registration) / after
    /// authData (assertion). Signatures cover the garbage.
    pub trailing_bytes: bool,
    /// Assertion: override userHandle (`Some(None)` = JSON null).
    pub user_handle: Option<Option<Vec<u8>>>,
    /// Assertion: put this counter value in authData (the authenticator's own
    /// `sign_count` is left untouched).
    pub sign_count: Option<u32>,
    // ---- extras ----
    /// Use these exact bytes as clientDataJSON (signatures cover them).
    pub client_data_json_raw: Option<Vec<u8>>,
    /// Registration: attestation statement format string instead of the real one.
    pub att_fmt: Option<String>,
    /// Registration (packed): this `alg` in attStmt instead of the real one.
    pub att_stmt_alg: Option<i64>,
    /// Registration: this alg (key 3) in the COSE key instead of the real one.
    pub cose_alg: Option<i64>,
    /// Registration: response.publicKeyAlgorithm instead of the real one.
    pub public_key_algorithm: Option<i64>,
    /// Registration: the AAGUID in authData instead of the authenticator's.
    pub aaguid: Option<[u8; 16]>,
    /// Registration: don't remember the credential made.
    pub forget: bool,
    /// Registration: add this member (a byte string) to the attestation statement.
    pub att_stmt_extra: Option<(String, Vec<u8>)>,
    /// Registration: add this top-level member (a byte string) to the attestation object.
    pub att_object_extra: Option<(String, Vec<u8>)>,
    /// Add a `"padding"` member of this many characters to clientDataJSON (which WebAuthn
    /// allows: clients may add members).
    pub client_data_padding: Option<usize>,
}

/// A credential the authenticator holds. Its serde form is [`SavedCredential`] (which carries the
/// private key), so a credential can be written to a file and imported by another authenticator.
#[derive(Clone, Serialize, Deserialize)]
#[serde(into = "SavedCredential", try_from = "SavedCredential")]
pub struct StoredCredential {
    pub id: Vec<u8>,
    pub rp_id: String,
    pub user_handle: Vec<u8>,
    pub discoverable: bool,
    key: CredKey,
}

impl StoredCredential {
    pub fn alg(&self) -> Alg {
        self.key.alg
    }
    /// The credential public key as SPKI DER.
    pub fn public_key_spki(&self) -> Vec<u8> {
        self.key.spki()
    }
    /// The credential public key in ring's raw form (0x04‖x‖y for EC, 32 bytes for Ed25519).
    pub fn public_key_raw(&self) -> Vec<u8> {
        self.key.public.clone()
    }
    /// The private key as PKCS#8 DER.
    pub fn private_key_pkcs8(&self) -> Vec<u8> {
        self.key.pkcs8.clone()
    }
    /// The credential public key as a COSE_Key, exactly as registration sends it.
    pub fn cose_public_key(&self) -> Vec<u8> {
        self.key.cose_key(None)
    }
}

/// The JSON form of a [`StoredCredential`]: byte strings in base64url without padding, the
/// algorithm as its COSE identifier, the private key as PKCS#8 DER.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SavedCredential {
    pub id: String,
    pub rp_id: String,
    pub user_handle: String,
    pub discoverable: bool,
    pub alg: i64,
    pub private_key_pkcs8: String,
}

impl From<StoredCredential> for SavedCredential {
    fn from(c: StoredCredential) -> Self {
        SavedCredential {
            id: b64url(&c.id),
            rp_id: c.rp_id,
            user_handle: b64url(&c.user_handle),
            discoverable: c.discoverable,
            alg: c.key.alg.cose(),
            private_key_pkcs8: b64url(&c.key.pkcs8),
        }
    }
}

impl TryFrom<SavedCredential> for StoredCredential {
    type Error = String;

    /// Checks the key: it must parse as PKCS#8 for the named algorithm.
    fn try_from(s: SavedCredential) -> Result<Self, String> {
        let bytes = |name: &str, v: &str| {
            URL_SAFE_NO_PAD
                .decode(v)
                .map_err(|e| format!("{name}: not base64url without padding: {e}"))
        };
        let alg = Alg::from_cose(s.alg).ok_or_else(|| format!("alg: unsupported {}", s.alg))?;
        let key = CredKey::from_pkcs8(alg, bytes("privateKeyPkcs8", &s.private_key_pkcs8)?)?;
        Ok(StoredCredential {
            id: bytes("id", &s.id)?,
            rp_id: s.rp_id,
            user_handle: bytes("userHandle", &s.user_handle)?,
            discoverable: s.discoverable,
            key,
        })
    }
}

/// What an authenticator needs to go on signing after a restart: its AAGUID, its global
/// signature counter and its credentials (with their private keys). The other settings
/// (attestation, flags, transports) are not saved: a restored authenticator has the defaults.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SavedAuthenticator {
    /// The AAGUID, base64url.
    pub aaguid: String,
    pub sign_count: u32,
    pub credentials: Vec<StoredCredential>,
}

impl fmt::Debug for StoredCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredCredential")
            .field("id", &b64url(&self.id))
            .field("rp_id", &self.rp_id)
            .field("user_handle", &b64url(&self.user_handle))
            .field("discoverable", &self.discoverable)
            .field("alg", &self.key.alg)
            .finish()
    }
}

/// A key pair kept as PKCS#8 so the authenticator can be cloned (to simulate
/// a cloned authenticator).
#[derive(Clone)]
struct CredKey {
    alg: Alg,
    pkcs8: Vec<u8>,
    /// ring's public key bytes: uncompressed point for EC, 32 bytes for Ed25519.
    public: Vec<u8>,
}

const P256_SPKI_PREFIX: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
const P384_SPKI_PREFIX: &[u8] = &[
    0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b,
    0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00,
];
const ED25519_SPKI_PREFIX: &[u8] = &[
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

fn ecdsa_signing_alg(alg: Alg) -> &'static ring::signature::EcdsaSigningAlgorithm {
    match alg {
        Alg::Es384 => &ECDSA_P384_SHA384_ASN1_SIGNING,
        _ => &ECDSA_P256_SHA256_ASN1_SIGNING,
    }
}

impl CredKey {
    /// A key from its PKCS#8 DER, refused if ring does not read it as a key of `alg`.
    fn from_pkcs8(alg: Alg, pkcs8: Vec<u8>) -> Result<CredKey, String> {
        let public = match alg {
            Alg::Es256 | Alg::Es384 => {
                EcdsaKeyPair::from_pkcs8(ecdsa_signing_alg(alg), &pkcs8, &SystemRandom::new())
                    .map_err(|e| format!("privateKeyPkcs8: not a {alg:?} key: {e}"))?
                    .public_key()
                    .as_ref()
                    .to_vec()
            }
            Alg::EdDsa => Ed25519KeyPair::from_pkcs8(&pkcs8)
                .map_err(|e| format!("privateKeyPkcs8: not an Ed25519 key: {e}"))?
                .public_key()
                .as_ref()
                .to_vec(),
            Alg::MlDsa44 | Alg::MlDsa65 | Alg::MlDsa87 => {
                let seed: [u8; 32] = pkcs8.as_slice().try_into().map_err(|_| {
                    "privateKeyPkcs8: an ML-DSA key is kept as its 32-byte seed".to_string()
                })?;
                ml_dsa_public(alg, &seed)
            }
        };
        Ok(CredKey { alg, pkcs8, public })
    }

    fn generate(alg: Alg) -> CredKey {
        let rng = SystemRandom::new();
        match alg {
            Alg::Es256 | Alg::Es384 => {
                let sa = ecdsa_signing_alg(alg);
                let doc = EcdsaKeyPair::generate_pkcs8(sa, &rng).expect("generate ECDSA key");
                let kp = EcdsaKeyPair::from_pkcs8(sa, doc.as_ref(), &rng).expect("parse ECDSA key");
                CredKey {
                    alg,
                    pkcs8: doc.as_ref().to_vec(),
                    public: kp.public_key().as_ref().to_vec(),
                }
            }
            Alg::EdDsa => {
                let doc = Ed25519KeyPair::generate_pkcs8(&rng).expect("generate Ed25519 key");
                let kp = Ed25519KeyPair::from_pkcs8(doc.as_ref()).expect("parse Ed25519 key");
                CredKey {
                    alg,
                    pkcs8: doc.as_ref().to_vec(),
                    public: kp.public_key().as_ref().to_vec(),
                }
            }
            Alg::MlDsa44 | Alg::MlDsa65 | Alg::MlDsa87 => {
                let seed: [u8; 32] = random_bytes();
                CredKey {
                    alg,
                    pkcs8: seed.to_vec(),
                    public: ml_dsa_public(alg, &seed),
                }
            }
        }
    }

    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        match self.alg {
            Alg::Es256 | Alg::Es384 => ecdsa_sign(ecdsa_signing_alg(self.alg), &self.pkcs8, msg),
            Alg::EdDsa => Ed25519KeyPair::from_pkcs8(&self.pkcs8)
                .expect("parse Ed25519 key")
                .sign(msg)
                .as_ref()
                .to_vec(),
            Alg::MlDsa44 | Alg::MlDsa65 | Alg::MlDsa87 => ml_dsa_sign(self.alg, &self.pkcs8, msg),
        }
    }

    fn spki(&self) -> Vec<u8> {
        let prefix = match self.alg {
            Alg::Es256 => P256_SPKI_PREFIX,
            Alg::Es384 => P384_SPKI_PREFIX,
            Alg::EdDsa => ED25519_SPKI_PREFIX,
            // No SPKI form is needed of these: the raw encoded key.
            Alg::MlDsa44 | Alg::MlDsa65 | Alg::MlDsa87 => &[],
        };
        [prefix, &self.public].concat()
    }

    /// The COSE_Key, CTAP2 canonical order (1, 3, -1, -2, -3).
    fn cose_key(&self, alg_override: Option<i64>) -> Vec<u8> {
        let alg = alg_override.unwrap_or(self.alg.cose());
        let map = match self.alg {
            Alg::Es256 | Alg::Es384 => {
                let n = (self.public.len() - 1) / 2;
                let crv = if self.alg == Alg::Es256 { 1 } else { 2 };
                vec![
                    (Cbor::from(1), Cbor::from(2)),
                    (Cbor::from(3), Cbor::from(alg)),
                    (Cbor::from(-1), Cbor::from(crv)),
                    (Cbor::from(-2), Cbor::Bytes(self.public[1..1 + n].to_vec())),
                    (Cbor::from(-3), Cbor::Bytes(self.public[1 + n..].to_vec())),
                ]
            }
            Alg::EdDsa => vec![
                (Cbor::from(1), Cbor::from(1)),
                (Cbor::from(3), Cbor::from(alg)),
                (Cbor::from(-1), Cbor::from(6)),
                (Cbor::from(-2), Cbor::Bytes(self.public.clone())),
            ],
            // Key type AKP (7) with `pub` (-1): the ML-DSA draft for COSE.
            Alg::MlDsa44 | Alg::MlDsa65 | Alg::MlDsa87 => vec![
                (Cbor::from(1), Cbor::from(7)),
                (Cbor::from(3), Cbor::from(alg)),
                (Cbor::from(-1), Cbor::Bytes(self.public.clone())),
            ],
        };
        cbor_encode(&Cbor::Map(map))
    }
}

/// The encoded ML-DSA public key of the key pair made from `seed` (FIPS 204 KeyGen_internal).
fn ml_dsa_public(alg: Alg, seed: &[u8; 32]) -> Vec<u8> {
    fn public<P: ml_dsa::MlDsaParams>(seed: &ml_dsa::Seed) -> Vec<u8> {
        let key = ml_dsa::ExpandedSigningKey::<P>::from_seed(seed);
        key.verifying_key().encode().to_vec()
    }
    let seed = ml_dsa::Seed::from(*seed);
    match alg {
        Alg::MlDsa44 => public::<ml_dsa::MlDsa44>(&seed),
        Alg::MlDsa65 => public::<ml_dsa::MlDsa65>(&seed),
        _ => public::<ml_dsa::MlDsa87>(&seed),
    }
}

/// A pure ML-DSA signature (empty context, deterministic) with the key made from `seed`.
fn ml_dsa_sign(alg: Alg, seed: &[u8], msg: &[u8]) -> Vec<u8> {
    fn sign<P: ml_dsa::MlDsaParams>(seed: &ml_dsa::Seed, msg: &[u8]) -> Vec<u8> {
        let key = ml_dsa::ExpandedSigningKey::<P>::from_seed(seed);
        let signature = key.sign_deterministic(msg, &[]).expect("ML-DSA sign");
        signature.encode().to_vec()
    }
    let seed = ml_dsa::Seed::try_from(seed).expect("a 32-byte ML-DSA seed");
    match alg {
        Alg::MlDsa44 => sign::<ml_dsa::MlDsa44>(&seed, msg),
        Alg::MlDsa65 => sign::<ml_dsa::MlDsa65>(&seed, msg),
        _ => sign::<ml_dsa::MlDsa87>(&seed, msg),
    }
}

fn ecdsa_sign(
    sa: &'static ring::signature::EcdsaSigningAlgorithm,
    pkcs8: &[u8],
    msg: &[u8],
) -> Vec<u8> {
    let rng = SystemRandom::new();
    let kp = EcdsaKeyPair::from_pkcs8(sa, pkcs8, &rng).expect("parse ECDSA key");
    kp.sign(&rng, msg).expect("ECDSA sign").as_ref().to_vec()
}

/// Encode a CBOR value.
pub fn cbor_encode(v: &Cbor) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out).expect("CBOR encode");
    out
}

fn flip(sig: &mut [u8]) {
    if let Some(last) = sig.last_mut() {
        *last ^= 0x01;
    }
}

const TRAILING_GARBAGE: &[u8] = &[0xde, 0xad, 0xbe, 0xef, 0x00, 0x01];

/// The software authenticator (and browser).
#[derive(Clone, Debug)]
pub struct SoftAuthenticator {
    pub aaguid: [u8; 16],
    pub alg: Alg,
    pub attestation: AttestationMode,
    pub uv: bool,
    pub be: bool,
    pub bs: bool,
    pub transports: Vec<String>,
    /// Global signature counter: incremented before each assertion (so the first
    /// assertion carries 1); registrations carry the current value (0 at first).
    pub sign_count: u32,
    /// `authenticatorAttachment` in responses; `None` omits the member.
    pub attachment: Option<String>,
    /// When true (default) every credential is discoverable; when false only
    /// when the options' residentKey is "required" (or requireResidentKey is true).
    pub always_discoverable: bool,
    credentials: Vec<StoredCredential>,
}

impl Default for SoftAuthenticator {
    fn default() -> Self {
        Self::new()
    }
}

/// The inner options object: `options.publicKey` if present, else `options`.
fn inner(options: &Value) -> &Value {
    match options.get("publicKey") {
        Some(v) if v.is_object() => v,
        _ => options,
    }
}

fn origin_host(origin: &str) -> String {
    url::Url::parse(origin)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default()
}

fn decode_id(v: &Value) -> Option<Vec<u8>> {
    v.as_str()
        .map(|s| b64url_decode(s).unwrap_or_else(|| s.as_bytes().to_vec()))
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("JSON string")
}

impl SoftAuthenticator {
    /// ES256, "none" attestation, UV on, BE/BS off, transports ["internal"], random AAGUID.
    pub fn new() -> Self {
        SoftAuthenticator {
            aaguid: random_bytes::<16>(),
            alg: Alg::Es256,
            attestation: AttestationMode::None,
            uv: true,
            be: false,
            bs: false,
            transports: vec!["internal".to_owned()],
            sign_count: 0,
            attachment: Some("platform".to_owned()),
            always_discoverable: true,
            credentials: Vec::new(),
        }
    }

    /// Credential ids (b64url), in creation order.
    pub fn credential_ids(&self) -> Vec<String> {
        self.credentials.iter().map(|c| b64url(&c.id)).collect()
    }

    /// The credentials held, in creation order.
    pub fn credentials(&self) -> &[StoredCredential] {
        &self.credentials
    }

    /// The credential with this b64url id.
    pub fn credential(&self, id_b64url: &str) -> Option<&StoredCredential> {
        let id = b64url_decode(id_b64url)?;
        self.credentials.iter().find(|c| c.id == id)
    }

    /// Adds a credential made elsewhere (e.g. read back from a [`SavedAuthenticator`]); one of
    /// ours with the same id is replaced. The global `sign_count` is left as it is.
    pub fn import(&mut self, credential: StoredCredential) {
        self.credentials.retain(|c| c.id != credential.id);
        self.credentials.push(credential);
    }

    /// The AAGUID, counter and credentials, to write down and [`restore`](Self::restore) later.
    pub fn save(&self) -> SavedAuthenticator {
        SavedAuthenticator {
            aaguid: b64url(&self.aaguid),
            sign_count: self.sign_count,
            credentials: self.credentials.clone(),
        }
    }

    /// A default authenticator ([`new`](Self::new)) with the saved AAGUID, counter and
    /// credentials.
    pub fn restore(saved: SavedAuthenticator) -> Result<Self, String> {
        let aaguid = URL_SAFE_NO_PAD
            .decode(&saved.aaguid)
            .ok()
            .and_then(|b| <[u8; 16]>::try_from(b).ok())
            .ok_or_else(|| format!("aaguid: not 16 bytes of base64url: {}", saved.aaguid))?;
        let mut authenticator = SoftAuthenticator::new();
        authenticator.aaguid = aaguid;
        authenticator.sign_count = saved.sign_count;
        for credential in saved.credentials {
            authenticator.import(credential);
        }
        Ok(authenticator)
    }

    /// Forget the credential with this b64url id; true if it was there.
    pub fn forget_credential(&mut self, id_b64url: &str) -> bool {
        let Some(id) = b64url_decode(id_b64url) else {
            return false;
        };
        let before = self.credentials.len();
        self.credentials.retain(|c| c.id != id);
        before != self.credentials.len()
    }

    /// Whether a browser would refuse to register because one of our credentials
    /// is in `excludeCredentials` (for the same RP ID). `register` itself ignores it.
    pub fn is_excluded(&self, options: &Value, origin: &str) -> bool {
        let o = inner(options);
        let rp_id = Self::creation_rp_id(o, origin);
        o.get("excludeCredentials")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|d| d.get("id").and_then(decode_id))
                    .any(|id| {
                        self.credentials
                            .iter()
                            .any(|c| c.id == id && c.rp_id == rp_id)
                    })
            })
            .unwrap_or(false)
    }

    fn creation_rp_id(o: &Value, origin: &str) -> String {
        o.get("rp")
            .and_then(|rp| rp.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| origin_host(origin))
    }

    fn client_data(&self, ty: &str, o: &Value, origin: &str, t: &Tamper) -> Vec<u8> {
        if let Some(raw) = &t.client_data_json_raw {
            return raw.clone();
        }
        let ty = t.client_data_type.as_deref().unwrap_or(ty);
        let challenge = match &t.challenge {
            Some(c) => b64url(c),
            None => o
                .get("challenge")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        };
        let origin = t.origin.as_deref().unwrap_or(origin);
        let mut s = format!(
            "{{\"type\":{},\"challenge\":{},\"origin\":{},\"crossOrigin\":{}",
            json_str(ty),
            json_str(&challenge),
            json_str(origin),
            t.cross_origin.unwrap_or(false)
        );
        if let Some(top) = &t.top_origin {
            s.push_str(&format!(",\"topOrigin\":{}", json_str(top)));
        }
        if let Some(n) = t.client_data_padding {
            s.push_str(&format!(",\"padding\":\"{}\"", "p".repeat(n)));
        }
        s.push('}');
        s.into_bytes()
    }

    fn flags(&self, t: &Tamper, extra: u8) -> u8 {
        let mut f = extra;
        if t.up.unwrap_or(true) {
            f |= FLAG_UP;
        }
        if t.uv.unwrap_or(self.uv) {
            f |= FLAG_UV;
        }
        if t.be.unwrap_or(self.be) {
            f |= FLAG_BE;
        }
        if t.bs.unwrap_or(self.bs) {
            f |= FLAG_BS;
        }
        if t.ed.unwrap_or(false) {
            f |= FLAG_ED;
        }
        f
    }

    /// Honest registration.
    pub fn register(&mut self, options: &Value, origin: &str) -> Value {
        self.register_with(options, origin, &Tamper::default())
    }

    /// Registration with tampering knobs applied.
    pub fn register_with(&mut self, options: &Value, origin: &str, t: &Tamper) -> Value {
        let o = inner(options);
        let rp_id = Self::creation_rp_id(o, origin);
        let user_handle = o
            .get("user")
            .and_then(|u| u.get("id"))
            .and_then(decode_id)
            .unwrap_or_default();
        let selection = o.get("authenticatorSelection");
        let rk_required = selection
            .and_then(|s| s.get("residentKey"))
            .and_then(Value::as_str)
            == Some("required")
            || selection
                .and_then(|s| s.get("requireResidentKey"))
                .and_then(Value::as_bool)
                == Some(true);
        let discoverable = self.always_discoverable || rk_required;
        let alg = t.alg.unwrap_or(self.alg);
        let key = CredKey::generate(alg);
        let cred_id = t
            .credential_id
            .clone()
            .unwrap_or_else(|| random_bytes::<32>().to_vec());

        let client_data = self.client_data("webauthn.create", o, origin, t);
        let cdh = sha256(&client_data);

        let aaguid = t.aaguid.unwrap_or(match self.attestation {
            AttestationMode::FidoU2f { .. } => [0u8; 16],
            _ => self.aaguid,
        });
        let rp_id_hash = sha256(t.rp_id.as_deref().unwrap_or(&rp_id).as_bytes());
        let cose_key = key.cose_key(t.cose_alg);
        let mut auth_data = Vec::with_capacity(128 + cred_id.len());
        auth_data.extend_from_slice(&rp_id_hash);
        auth_data.push(self.flags(t, FLAG_AT));
        auth_data.extend_from_slice(&self.sign_count.to_be_bytes());
        auth_data.extend_from_slice(&aaguid);
        auth_data.extend_from_slice(&(cred_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&cred_id);
        auth_data.extend_from_slice(&cose_key);
        if t.trailing_bytes {
            auth_data.extend_from_slice(TRAILING_GARBAGE);
        }

        let signed = [auth_data.as_slice(), &cdh].concat();
        let (fmt, att_stmt) = match &self.attestation {
            AttestationMode::None => ("none", Vec::new()),
            AttestationMode::PackedSelf => {
                let mut sig = key.sign(&signed);
                if t.flip_signature_byte {
                    flip(&mut sig);
                }
                (
                    "packed",
                    vec![
                        (
                            Cbor::from("alg"),
                            Cbor::from(t.att_stmt_alg.unwrap_or(alg.cose())),
                        ),
                        (Cbor::from("sig"), Cbor::Bytes(sig)),
                    ],
                )
            }
            AttestationMode::PackedX5c { chain } => {
                let mut sig = ecdsa_sign(
                    &ECDSA_P256_SHA256_ASN1_SIGNING,
                    &chain.leaf_key_pkcs8,
                    &signed,
                );
                if t.flip_signature_byte {
                    flip(&mut sig);
                }
                (
                    "packed",
                    vec![
                        (Cbor::from("alg"), Cbor::from(t.att_stmt_alg.unwrap_or(-7))),
                        (Cbor::from("sig"), Cbor::Bytes(sig)),
                        (Cbor::from("x5c"), x5c_array(&chain.x5c)),
                    ],
                )
            }
            AttestationMode::FidoU2f { chain } => {
                let mut msg = vec![0x00];
                msg.extend_from_slice(&rp_id_hash);
                msg.extend_from_slice(&cdh);
                msg.extend_from_slice(&cred_id);
                msg.extend_from_slice(&key.public);
                let leaf_alg = if chain.leaf_p384 {
                    &ECDSA_P384_SHA384_ASN1_SIGNING
                } else {
                    &ECDSA_P256_SHA256_ASN1_SIGNING
                };
                let mut sig = ecdsa_sign(leaf_alg, &chain.leaf_key_pkcs8, &msg);
                if t.flip_signature_byte {
                    flip(&mut sig);
                }
                (
                    "fido-u2f",
                    vec![
                        (Cbor::from("sig"), Cbor::Bytes(sig)),
                        (Cbor::from("x5c"), x5c_array(&chain.x5c[..1])),
                    ],
                )
            }
        };
        let fmt = t.att_fmt.as_deref().unwrap_or(fmt);
        let mut att_stmt = att_stmt;
        if let Some((name, bytes)) = &t.att_stmt_extra {
            att_stmt.push((Cbor::from(name.as_str()), Cbor::Bytes(bytes.clone())));
        }
        let mut members = vec![
            (Cbor::from("fmt"), Cbor::from(fmt)),
            (Cbor::from("attStmt"), Cbor::Map(att_stmt)),
            (Cbor::from("authData"), Cbor::Bytes(auth_data.clone())),
        ];
        if let Some((name, bytes)) = &t.att_object_extra {
            members.push((Cbor::from(name.as_str()), Cbor::Bytes(bytes.clone())));
        }
        let attestation_object = cbor_encode(&Cbor::Map(members));

        let cred_props = o
            .get("extensions")
            .and_then(|e| e.get("credProps"))
            .and_then(Value::as_bool)
            == Some(true);
        let mut ext = serde_json::Map::new();
        if cred_props {
            ext.insert("credProps".into(), json!({ "rk": discoverable }));
        }

        let public_key = t
            .public_key_member
            .clone()
            .unwrap_or_else(|| b64url(&key.spki()));
        let mut out = json!({
            "id": b64url(&cred_id),
            "rawId": b64url(&raw_id(&cred_id, t.raw_id_differs)),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(&client_data),
                "attestationObject": b64url(&attestation_object),
                "transports": self.transports,
                "publicKeyAlgorithm": t.public_key_algorithm.unwrap_or(alg.cose()),
                "publicKey": public_key,
                "authenticatorData": b64url(&auth_data),
            },
            "clientExtensionResults": Value::Object(ext),
        });
        if let Some(a) = &self.attachment {
            out["authenticatorAttachment"] = json!(a);
        }

        if !t.forget && !self.credentials.iter().any(|c| c.id == cred_id) {
            self.credentials.push(StoredCredential {
                id: cred_id,
                rp_id,
                user_handle,
                discoverable,
                key,
            });
        }
        out
    }

    /// Honest assertion. Panics if no credential of ours fits the options.
    pub fn authenticate(&mut self, options: &Value, origin: &str) -> Value {
        self.authenticate_with(options, origin, &Tamper::default())
    }

    /// Assertion with tampering knobs applied. Panics if no credential of ours
    /// fits the options (unless `t.credential_id` is set: then, with no credential
    /// to sign with, a throwaway key signs).
    pub fn authenticate_with(&mut self, options: &Value, origin: &str, t: &Tamper) -> Value {
        match self.try_authenticate_with(options, origin, t) {
            Ok(v) => v,
            Err(e) => panic!("softauthn: {e}"),
        }
    }

    /// Which of our credentials an assertion for these options would use.
    fn select(&self, o: &Value, rp_id: &str) -> Option<usize> {
        let allow: Vec<Vec<u8>> = o
            .get("allowCredentials")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(|d| d.get("id").and_then(decode_id))
                    .collect()
            })
            .unwrap_or_default();
        let newest_first = || self.credentials.iter().enumerate().rev();
        if allow.is_empty() {
            newest_first()
                .find(|(_, c)| c.discoverable && c.rp_id == rp_id)
                .map(|(i, _)| i)
        } else {
            newest_first()
                .find(|(_, c)| c.rp_id == rp_id && allow.contains(&c.id))
                .or_else(|| newest_first().find(|(_, c)| allow.contains(&c.id)))
                .map(|(i, _)| i)
        }
    }

    /// Like [`authenticate_with`](Self::authenticate_with), but an error instead of a panic
    /// when no credential fits.
    pub fn try_authenticate_with(
        &mut self,
        options: &Value,
        origin: &str,
        t: &Tamper,
    ) -> Result<Value, String> {
        let o = inner(options);
        let rp_id = o
            .get("rpId")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| origin_host(origin));

        let by_override = t
            .credential_id
            .as_ref()
            .and_then(|id| self.credentials.iter().position(|c| &c.id == id));
        let chosen = by_override.or_else(|| self.select(o, &rp_id));
        let (cred_id, key, user_handle) = match (chosen, &t.credential_id) {
            (Some(i), id) => {
                let c = &self.credentials[i];
                let handle = c.discoverable.then(|| c.user_handle.clone());
                (
                    id.clone().unwrap_or_else(|| c.id.clone()),
                    c.key.clone(),
                    handle,
                )
            }
            (None, Some(id)) => (
                id.clone(),
                CredKey::generate(t.alg.unwrap_or(self.alg)),
                None,
            ),
            (None, None) => {
                return Err(format!(
                    "no credential for rp id {rp_id:?} matching the options (have {:?})",
                    self.credentials
                ))
            }
        };

        let counter = match t.sign_count {
            Some(c) => c,
            None => {
                self.sign_count = self.sign_count.wrapping_add(1);
                self.sign_count
            }
        };

        let client_data = self.client_data("webauthn.get", o, origin, t);
        let cdh = sha256(&client_data);
        let mut auth_data = Vec::with_capacity(48);
        auth_data.extend_from_slice(&sha256(t.rp_id.as_deref().unwrap_or(&rp_id).as_bytes()));
        auth_data.push(self.flags(t, 0));
        auth_data.extend_from_slice(&counter.to_be_bytes());
        if t.trailing_bytes {
            auth_data.extend_from_slice(TRAILING_GARBAGE);
        }
        let mut sig = key.sign(&[auth_data.as_slice(), &cdh].concat());
        if t.flip_signature_byte {
            flip(&mut sig);
        }

        let user_handle = match &t.user_handle {
            Some(h) => Some(h.as_ref().map(|h| json!(b64url(h))).unwrap_or(Value::Null)),
            None => user_handle.map(|h| json!(b64url(&h))),
        };
        let mut response = json!({
            "clientDataJSON": b64url(&client_data),
            "authenticatorData": b64url(&auth_data),
            "signature": b64url(&sig),
        });
        if let Some(h) = user_handle {
            response["userHandle"] = h;
        }
        let mut out = json!({
            "id": b64url(&cred_id),
            "rawId": b64url(&raw_id(&cred_id, t.raw_id_differs)),
            "type": "public-key",
            "response": response,
            "clientExtensionResults": {},
        });
        if let Some(a) = &self.attachment {
            out["authenticatorAttachment"] = json!(a);
        }
        Ok(out)
    }
}

fn raw_id(id: &[u8], differs: bool) -> Vec<u8> {
    let mut raw = id.to_vec();
    if differs {
        match raw.first_mut() {
            Some(b) => *b ^= 0xff,
            None => raw.push(0x42),
        }
    }
    raw
}

fn x5c_array(certs: &[Vec<u8>]) -> Cbor {
    Cbor::Array(certs.iter().map(|c| Cbor::Bytes(c.clone())).collect())
}
