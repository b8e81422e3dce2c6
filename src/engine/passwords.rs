//! Password hashing with argon2id (PHC strings), bounded in concurrency. Unknown users and
//! passkey-only users are checked against a dummy hash so that every answer costs the same.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use super::limits::Permits;
use super::EngineError;

pub struct Passwords {
    dummy_hash: String,
    permits: Permits,
}

impl Passwords {
    pub fn new(concurrency: usize) -> Result<Self, EngineError> {
        let dummy_hash = hash_with(&Argon2::default(), "fidoflow dummy password")?;
        Ok(Self {
            dummy_hash,
            permits: Permits::new(concurrency),
        })
    }

    /// Refuses at once with `SERVER_BUSY` when all hashing slots are taken.
    pub fn reserve(&self) -> Result<super::limits::Permit<'_>, EngineError> {
        self.permits.acquire()
    }

    pub fn hash(&self, password: &str) -> Result<String, EngineError> {
        let _permit = self.permits.acquire()?;
        hash_with(&Argon2::default(), password)
    }

    /// Checks `password` against `stored`, or against the dummy hash when there is none (the
    /// answer is then always false). The caller holds a permit from [`Passwords::reserve`].
    pub fn verify(&self, stored: Option<&str>, password: &str) -> bool {
        let target = stored.unwrap_or(&self.dummy_hash);
        let ok = PasswordHash::new(target)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false);
        ok && stored.is_some()
    }
}

fn hash_with(argon: &Argon2<'_>, password: &str) -> Result<String, EngineError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| EngineError::Internal(format!("password hashing failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let p = Passwords::new(2).unwrap();
        let h = p.hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(p.verify(Some(&h), "correct horse"));
        assert!(!p.verify(Some(&h), "wrong horse"));
    }

    #[test]
    fn a_user_without_a_password_never_verifies() {
        let p = Passwords::new(2).unwrap();
        assert!(!p.verify(None, "fidoflow dummy password"));
    }
}
