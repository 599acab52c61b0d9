//! Cancel requests: PostgreSQL's out-of-band "stop what you are doing".
//!
//! At startup each connection gets a process id and a secret key (BackendKeyData). To
//! cancel, a client opens a *new* connection and sends just those two; if they match a live
//! session, that session's [`Interrupt`] is raised and its running statement fails with
//! 57014. The requester gets no answer either way, as in PostgreSQL, so a wrong key
//! reveals nothing.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;

use bytes::Bytes;
use pgwire::messages::startup::SecretKey;
use phantom::Interrupt;

type Key = (i32, Bytes);

/// The live sessions, by process id and secret key.
#[derive(Default)]
pub struct CancelRegistry {
    sessions: Mutex<HashMap<Key, Interrupt>>,
}

impl CancelRegistry {
    /// Registers a session until the returned guard is dropped.
    pub fn register(self: &Arc<Self>, pid: i32, secret: &SecretKey, interrupt: Interrupt) -> Registration {
        let key = (pid, secret.to_bytes());
        self.lock().insert(key.clone(), interrupt);
        Registration { registry: self.clone(), key }
    }

    /// Cancels the statement of the session with this id and key; false if there is none.
    pub fn cancel(&self, pid: i32, secret: &SecretKey) -> bool {
        match self.lock().get(&(pid, secret.to_bytes())) {
            Some(interrupt) => {
                interrupt.interrupt();
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Interrupt>> {
        // A panic while holding this lock cannot leave the map half-changed.
        self.sessions.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Keeps a session cancellable; unregisters it when dropped.
pub struct Registration {
    registry: Arc<CancelRegistry>,
    key: Key,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_right_key_cancels_and_only_while_registered() {
        let registry = Arc::new(CancelRegistry::default());
        let interrupt = Interrupt::default();
        let registration = registry.register(7, &SecretKey::I32(42), interrupt.clone());
        assert!(!registry.cancel(7, &SecretKey::I32(41)));
        assert!(!interrupt.is_raised());
        assert!(registry.cancel(7, &SecretKey::I32(42)));
        assert!(interrupt.is_raised());
        drop(registration);
        assert!(!registry.cancel(7, &SecretKey::I32(42)));
    }
}
