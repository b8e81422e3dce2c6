//! Where WebAuthn challenges come from: 32 random bytes from the operating system, or — in tests
//! that replay responses recorded elsewhere (the FIDO conformance vectors) — the challenges those
//! responses answer, queued by the test. Like the clock, an input of the engine.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct Challenges {
    scripted: Option<Arc<Mutex<VecDeque<Vec<u8>>>>>,
}

impl Challenges {
    /// 32 random bytes per challenge (the server's only source outside tests).
    pub fn random() -> Self {
        Self { scripted: None }
    }

    /// Challenges handed out in the order they are queued with [`Challenges::queue`]; random
    /// ones once the queue is empty.
    pub fn scripted() -> Self {
        Self {
            scripted: Some(Arc::default()),
        }
    }

    /// Queues the next challenge of a scripted source (ignored by a random one).
    pub fn queue(&self, challenge: Vec<u8>) {
        if let Some(q) = &self.scripted {
            q.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push_back(challenge);
        }
    }

    pub(super) fn next(&self) -> Vec<u8> {
        if let Some(q) = &self.scripted {
            if let Some(c) = q.lock().unwrap_or_else(|e| e.into_inner()).pop_front() {
                return c;
            }
        }
        let mut raw = vec![0u8; 32];
        crate::domain::random_bytes(&mut raw);
        raw
    }
}
