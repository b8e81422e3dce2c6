//! ML-DSA (FIPS 204) credential keys: COSE key type AKP (7) with its public key in `pub` (-1),
//! algorithms ML-DSA-44 (-48), ML-DSA-65 (-49) and ML-DSA-87 (-50), as the IETF draft "ML-DSA
//! for JOSE and COSE" defines them. Verified with RustCrypto's `ml-dsa`: pure ML-DSA with the
//! empty context, over the same bytes every other algorithm signs (authenticator data ‖ client
//! data hash).

use ml_dsa::{
    EncodedSignature, EncodedVerifyingKey, MlDsa44, MlDsa65, MlDsa87, MlDsaParams, Signature,
    VerifyingKey,
};

use super::{ALG_ML_DSA_44, ALG_ML_DSA_65, ALG_ML_DSA_87};

/// The ML-DSA parameter sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParameterSet {
    MlDsa44,
    MlDsa65,
    MlDsa87,
}

impl ParameterSet {
    /// The parameter set of a COSE algorithm, when it is an ML-DSA one.
    pub fn of_algorithm(alg: i64) -> Option<Self> {
        match alg {
            ALG_ML_DSA_44 => Some(Self::MlDsa44),
            ALG_ML_DSA_65 => Some(Self::MlDsa65),
            ALG_ML_DSA_87 => Some(Self::MlDsa87),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::MlDsa44 => "ML-DSA-44",
            Self::MlDsa65 => "ML-DSA-65",
            Self::MlDsa87 => "ML-DSA-87",
        }
    }

    /// The length of an encoded public key (FIPS 204, table 2).
    pub fn public_key_len(self) -> usize {
        match self {
            Self::MlDsa44 => 1312,
            Self::MlDsa65 => 1952,
            Self::MlDsa87 => 2592,
        }
    }

    /// Checks the bytes of a `pub` member: exactly the parameter set's public key length.
    pub fn check_public_key(self, public_key: &[u8]) -> Result<(), String> {
        if public_key.len() == self.public_key_len() {
            Ok(())
        } else {
            Err(format!(
                "the {} public key is {} bytes; it must be {}",
                self.name(),
                public_key.len(),
                self.public_key_len()
            ))
        }
    }

    /// Verifies an encoded `signature` over `message` with an encoded `public_key`, the empty
    /// context. A signature of the wrong length, or one that does not decode, does not verify.
    pub fn verify(self, public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        match self {
            Self::MlDsa44 => verify_with::<MlDsa44>(public_key, message, signature),
            Self::MlDsa65 => verify_with::<MlDsa65>(public_key, message, signature),
            Self::MlDsa87 => verify_with::<MlDsa87>(public_key, message, signature),
        }
    }
}

fn verify_with<P: MlDsaParams>(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let Ok(key) = EncodedVerifyingKey::<P>::try_from(public_key) else {
        return false;
    };
    let Ok(signature) = EncodedSignature::<P>::try_from(signature) else {
        return false;
    };
    let Some(signature) = Signature::<P>::decode(&signature) else {
        return false;
    };
    VerifyingKey::<P>::decode(&key).verify_with_context(message, &[], &signature)
}
