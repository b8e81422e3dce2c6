//! COSE_Key (RFC 9052/9053) public keys: parsing, checking they are well formed for their
//! algorithm, and verifying signatures with them.

use ring::signature::{self as sig, RsaPublicKeyComponents, UnparsedPublicKey};

use super::cbor;
use super::ml_dsa::ParameterSet;
use super::{
    ALG_EDDSA, ALG_ES256, ALG_ES384, ALG_ES512, ALG_ML_DSA_44, ALG_ML_DSA_65, ALG_ML_DSA_87,
    ALG_PS256, ALG_PS384, ALG_PS512, ALG_RS1, ALG_RS256, ALG_RS384, ALG_RS512,
};

const KTY_OKP: i64 = 1;
const KTY_EC2: i64 = 2;
const KTY_RSA: i64 = 3;
/// Algorithm Key Pair (the ML-DSA draft for COSE).
const KTY_AKP: i64 = 7;
pub(crate) const CRV_P256: i64 = 1;
pub(crate) const CRV_P384: i64 = 2;
pub(crate) const CRV_P521: i64 = 3;
const CRV_ED25519: i64 = 6;

/// A credential public key together with its COSE algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CoseKey {
    pub alg: i64,
    pub key: KeyMaterial,
}

/// The key material by key type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyMaterial {
    /// An uncompressed SEC1 point `04 || x || y`, with its curve.
    Ec2 { crv: i64, point: Vec<u8> },
    /// An Ed25519 public key.
    Ed25519(Vec<u8>),
    /// An RSA modulus and exponent, big-endian without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An encoded ML-DSA public key of its parameter set's length.
    MlDsa { set: ParameterSet, public: Vec<u8> },
}

impl CoseKey {
    /// Parses COSE_Key bytes that must hold exactly one key.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        Self::from_value(&cbor::read_exact(bytes)?)
    }

    /// Parses a decoded COSE_Key and checks it is well formed for its `kty`, `alg` and `crv`.
    pub fn from_value(value: &ciborium::value::Value) -> Result<Self, String> {
        let map = cbor::map(value).ok_or("the COSE key is not a CBOR map with distinct labels")?;
        let int = |label| cbor::int_key(map, label).and_then(cbor::integer);
        let bytes = |label| cbor::int_key(map, label).and_then(cbor::byte_string);
        let kty = int(1).ok_or("the COSE key has no integer kty")?;
        let alg = int(3).ok_or("the COSE key has no integer alg")?;
        let key = match (kty, alg) {
            (KTY_EC2, ALG_ES256 | ALG_ES384 | ALG_ES512) => {
                let (want_crv, size) = match alg {
                    ALG_ES256 => (CRV_P256, 32),
                    ALG_ES384 => (CRV_P384, 48),
                    _ => (CRV_P521, 66),
                };
                if int(-1) != Some(want_crv) {
                    return Err(format!("algorithm {alg} needs curve {want_crv}"));
                }
                let x = bytes(-2).ok_or("the EC2 key has no x coordinate")?;
                let y = bytes(-3).ok_or("the EC2 key has no y coordinate")?;
                if x.len() != size || y.len() != size {
                    return Err("the EC2 key coordinates have the wrong length".into());
                }
                let mut point = Vec::with_capacity(1 + 2 * size);
                point.push(4);
                point.extend_from_slice(x);
                point.extend_from_slice(y);
                // ring checks P-256 and P-384 points only when it verifies: check every
                // curve now, so that no key that can never verify is stored.
                let on_curve = match want_crv {
                    CRV_P256 => p256::PublicKey::from_sec1_bytes(&point).is_ok(),
                    CRV_P384 => p384::PublicKey::from_sec1_bytes(&point).is_ok(),
                    _ => p521::ecdsa::VerifyingKey::from_sec1_bytes(&point).is_ok(),
                };
                if !on_curve {
                    return Err("the EC2 key's point is not on its curve".into());
                }
                KeyMaterial::Ec2 {
                    crv: want_crv,
                    point,
                }
            }
            (KTY_OKP, ALG_EDDSA) => {
                if int(-1) != Some(CRV_ED25519) {
                    return Err("only the Ed25519 curve is supported for EdDSA".into());
                }
                let x = bytes(-2).ok_or("the OKP key has no x")?;
                if x.len() != 32 {
                    return Err("the Ed25519 key is not 32 bytes".into());
                }
                KeyMaterial::Ed25519(x.to_vec())
            }
            // RS1 keys are parsed (a TPM may make them) but never verify an assertion.
            (
                KTY_RSA,
                ALG_RS256 | ALG_RS384 | ALG_RS512 | ALG_PS256 | ALG_PS384 | ALG_PS512 | ALG_RS1,
            ) => {
                let n = strip_zeros(bytes(-1).ok_or("the RSA key has no modulus")?);
                let e = strip_zeros(bytes(-2).ok_or("the RSA key has no exponent")?);
                if n.len() < 256 || n.len() > 1024 {
                    return Err("the RSA modulus must be 2048 to 8192 bits".into());
                }
                if e.is_empty() || e.len() > 4 {
                    return Err("the RSA exponent is invalid".into());
                }
                KeyMaterial::Rsa {
                    n: n.to_vec(),
                    e: e.to_vec(),
                }
            }
            (KTY_AKP, ALG_ML_DSA_44 | ALG_ML_DSA_65 | ALG_ML_DSA_87) => {
                let Some(set) = ParameterSet::of_algorithm(alg) else {
                    return Err(format!("algorithm {alg} is not an ML-DSA parameter set"));
                };
                if cbor::int_key(map, -2).is_some() {
                    return Err("the AKP key carries its private key (priv, -2)".into());
                }
                let public = bytes(-1).ok_or("the AKP key has no public key (pub, -1)")?;
                set.check_public_key(public)?;
                KeyMaterial::MlDsa {
                    set,
                    public: public.to_vec(),
                }
            }
            (KTY_OKP | KTY_EC2 | KTY_RSA | KTY_AKP, _) => {
                return Err(format!(
                    "key type {kty} cannot be used with algorithm {alg}"
                ))
            }
            _ => return Err(format!("key type {kty} is not supported")),
        };
        Ok(Self { alg, key })
    }

    /// Verifies `signature` over `message` with this key and its algorithm (ECDSA signatures
    /// are ASN.1 DER).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match (&self.key, self.alg) {
            (
                KeyMaterial::Ec2 {
                    crv: CRV_P256,
                    point,
                },
                ALG_ES256,
            ) => ring_verify(&sig::ECDSA_P256_SHA256_ASN1, point, message, signature),
            (
                KeyMaterial::Ec2 {
                    crv: CRV_P384,
                    point,
                },
                ALG_ES384,
            ) => ring_verify(&sig::ECDSA_P384_SHA384_ASN1, point, message, signature),
            (
                KeyMaterial::Ec2 {
                    crv: CRV_P521,
                    point,
                },
                ALG_ES512,
            ) => p521_verify(point, message, signature),
            (KeyMaterial::Ed25519(x), ALG_EDDSA) => {
                ring_verify(&sig::ED25519, x, message, signature)
            }
            (KeyMaterial::Rsa { n, e }, alg) => {
                let scheme: &sig::RsaParameters = match alg {
                    ALG_RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
                    ALG_RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
                    ALG_RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
                    ALG_PS256 => &sig::RSA_PSS_2048_8192_SHA256,
                    ALG_PS384 => &sig::RSA_PSS_2048_8192_SHA384,
                    ALG_PS512 => &sig::RSA_PSS_2048_8192_SHA512,
                    // RS1 (a TPM's) never verifies an assertion.
                    _ => return false,
                };
                RsaPublicKeyComponents { n, e }
                    .verify(scheme, message, signature)
                    .is_ok()
            }
            (KeyMaterial::MlDsa { set, public }, _) => set.verify(public, message, signature),
            _ => false,
        }
    }

    /// A short description: key type, curve or size, algorithm.
    pub fn describe(&self) -> String {
        let name = crate::domain::cose_algorithm_name(self.alg).unwrap_or("?");
        match &self.key {
            KeyMaterial::Ec2 { crv, .. } => {
                let curve = match *crv {
                    CRV_P256 => "P-256",
                    CRV_P384 => "P-384",
                    _ => "P-521",
                };
                format!("EC2 {curve} key, algorithm {name} ({})", self.alg)
            }
            KeyMaterial::Ed25519(_) => format!("OKP Ed25519 key, algorithm {name} ({})", self.alg),
            KeyMaterial::Rsa { n, .. } => {
                format!(
                    "RSA {}-bit key, algorithm {name} ({})",
                    n.len() * 8,
                    self.alg
                )
            }
            KeyMaterial::MlDsa { set, .. } => {
                format!("AKP {} key, algorithm {name} ({})", set.name(), self.alg)
            }
        }
    }

    /// The EC2 P-256 point `04 || x || y`, when this is such a key.
    pub fn p256_point(&self) -> Option<&[u8]> {
        match &self.key {
            KeyMaterial::Ec2 {
                crv: CRV_P256,
                point,
            } => Some(point),
            _ => None,
        }
    }
}

/// Checks a credential public key taken from elsewhere (an import): COSE_Key bytes holding
/// exactly one key, well formed for its key type, algorithm and curve, with an algorithm that can
/// verify an assertion (never RS1). Returns the key's COSE algorithm.
pub fn check_cose_key(bytes: &[u8]) -> Result<i64, String> {
    let value = cbor::read_exact(bytes).map_err(|_| {
        "this is not a COSE_Key: the bytes are not exactly one CBOR item".to_string()
    })?;
    let key = CoseKey::from_value(&value)?;
    if !crate::domain::VERIFIABLE_ALGORITHMS.contains(&key.alg) {
        return Err(format!(
            "the key's algorithm {} cannot verify a sign-in (use {})",
            key.alg,
            crate::domain::verifiable_algorithms_text()
        ));
    }
    Ok(key.alg)
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

/// One ring verification.
pub(crate) fn ring_verify(
    alg: &'static dyn sig::VerificationAlgorithm,
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> bool {
    UnparsedPublicKey::new(alg, public_key)
        .verify(message, signature)
        .is_ok()
}

/// ECDSA P-521 with SHA-512 and a DER signature, which ring lacks.
pub(crate) fn p521_verify(point: &[u8], message: &[u8], signature: &[u8]) -> bool {
    use p521::ecdsa::signature::Verifier;
    let Ok(key) = p521::ecdsa::VerifyingKey::from_sec1_bytes(point) else {
        return false;
    };
    let Ok(signature) = p521::ecdsa::Signature::from_der(signature) else {
        return false;
    };
    key.verify(message, &signature).is_ok()
}
