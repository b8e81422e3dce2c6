//! Password hashing with argon2id (PHC strings), bounded in concurrency and in memory: every hash
//! runs on one of a fixed pool of hashing threads (as many as `password_hash_concurrency`), and
//! each thread keeps and reuses one hash's worth of argon2 memory, so the memory the server
//! holds for passwords is at most concurrency × `passwords.memory_kib` however many requests
//! come. (Hashing on whichever blocking thread ran the request left a 19 MiB allocation behind
//! in the allocator of each of ~45 threads.) Unknown users and passkey-only users are checked
//! against a dummy hash so that every answer costs the same.

use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

use super::limits::Permits;
use super::EngineError;
use crate::config::PasswordSettings;

enum Job {
    Hash {
        password: String,
        reply: SyncSender<Result<String, String>>,
    },
    Verify {
        stored: String,
        password: String,
        reply: SyncSender<bool>,
    },
}

/// How many characters a password has: the one password rule, for administrators and users.
pub const PASSWORD_LENGTH: std::ops::RangeInclusive<usize> = 8..=1024;

/// A new password against the password rule: `INVALID_PASSWORD` with what to do.
pub fn check_password_rule(password: &str) -> Result<(), EngineError> {
    if PASSWORD_LENGTH.contains(&password.chars().count()) {
        Ok(())
    } else {
        Err(EngineError::InvalidPassword(
            "a password has 8 to 1024 characters".into(),
        ))
    }
}

pub struct Passwords {
    dummy_hash: String,
    permits: Permits,
    jobs: Mutex<Sender<Job>>,
}

impl Passwords {
    /// Starts `concurrency` hashing threads hashing new passwords with `params`.
    pub fn new(concurrency: usize, params: PasswordSettings) -> Result<Self, EngineError> {
        let params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| EngineError::Internal(format!("argon2 parameters: {e}")))?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..concurrency.max(1) {
            let queue = queue.clone();
            let params = params.clone();
            std::thread::Builder::new()
                .name(format!("fidoflow-argon2-{n}"))
                .spawn(move || work(&queue, &params))
                .map_err(|e| {
                    EngineError::Internal(format!("cannot start a hashing thread: {e}"))
                })?;
        }
        let passwords = Self {
            dummy_hash: String::new(),
            permits: Permits::new(concurrency.max(1)),
            jobs: Mutex::new(jobs),
        };
        let dummy_hash = passwords.run_hash("fidoflow dummy password")?;
        Ok(Self {
            dummy_hash,
            ..passwords
        })
    }

    /// Refuses at once with `SERVER_BUSY` when all hashing slots are taken.
    pub fn reserve(&self) -> Result<super::limits::Permit<'_>, EngineError> {
        self.permits.acquire()
    }

    pub fn hash(&self, password: &str) -> Result<String, EngineError> {
        let _permit = self.permits.acquire()?;
        self.run_hash(password)
    }

    /// Checks `password` against `stored`, or against the dummy hash when there is none (the
    /// answer is then always false). The caller holds a permit from [`Passwords::reserve`].
    pub fn verify(&self, stored: Option<&str>, password: &str) -> bool {
        let (reply, answer) = mpsc::sync_channel(1);
        let job = Job::Verify {
            stored: stored.unwrap_or(&self.dummy_hash).to_owned(),
            password: password.to_owned(),
            reply,
        };
        let ok = self.send(job).is_ok() && answer.recv().unwrap_or(false);
        ok && stored.is_some()
    }

    fn run_hash(&self, password: &str) -> Result<String, EngineError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.send(Job::Hash {
            password: password.to_owned(),
            reply,
        })?;
        answer
            .recv()
            .map_err(|_| EngineError::Internal("the hashing thread stopped".into()))?
            .map_err(|e| EngineError::Internal(format!("password hashing failed: {e}")))
    }

    fn send(&self, job: Job) -> Result<(), EngineError> {
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(job)
            .map_err(|_| EngineError::Internal("the hashing threads stopped".into()))
    }
}

/// A hashing thread: takes jobs until the server drops the sender, reusing `memory`.
fn work(queue: &Mutex<Receiver<Job>>, params: &Params) {
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let job = match queue.lock().unwrap_or_else(|e| e.into_inner()).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        match job {
            Job::Hash { password, reply } => {
                let _ = reply.send(hash_with(params, &password));
            }
            Job::Verify {
                stored,
                password,
                reply,
            } => {
                let _ = reply.send(verify_with(&mut memory, &stored, &password));
            }
        }
    }
}

fn hash_with(params: &Params, password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Verifies `password` against the PHC string `stored` with the hash's own parameters, in
/// `memory` (grown to the hash's size once, then reused), comparing in constant time.
fn verify_with(memory: &mut Vec<Block>, stored: &str, password: &str) -> bool {
    let Ok(hash) = PasswordHash::new(stored) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) =
        (Algorithm::try_from(hash.algorithm), Params::try_from(&hash))
    else {
        return false;
    };
    let version = match hash.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params);
    argon
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..blocks])
        .is_ok()
        && bool::from(out.ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owasp() -> PasswordSettings {
        PasswordSettings {
            memory_kib: 19456,
            iterations: 2,
            parallelism: 1,
        }
    }

    #[test]
    fn a_hash_verifies_its_password_only() {
        let p = Passwords::new(2, owasp()).unwrap();
        let h = p.hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(p.verify(Some(&h), "correct horse"));
        assert!(!p.verify(Some(&h), "wrong horse"));
    }

    #[test]
    fn a_user_without_a_password_never_verifies() {
        let p = Passwords::new(2, owasp()).unwrap();
        assert!(!p.verify(None, "fidoflow dummy password"));
    }

    #[test]
    fn a_hash_made_with_other_parameters_still_verifies() {
        let small = Passwords::new(
            1,
            PasswordSettings {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
            },
        )
        .unwrap();
        let h = small.hash("correct horse").unwrap();
        let p = Passwords::new(1, owasp()).unwrap();
        assert!(p.verify(Some(&h), "correct horse"));
        assert!(!p.verify(Some(&h), "correct horsE"));
        assert!(!p.verify(Some("$argon2id$v=19$m=64,t=1,p=1$bm90LWEtc2FsdA$AAAA"), "x"));
        assert!(!p.verify(Some("not a PHC string"), "x"));
    }
}
