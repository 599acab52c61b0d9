//! A background thread that runs a job every tick until it is dropped.
//!
//! The checkpointer and the garbage collector both need one. Dropping the handle sets
//! the stop flag under the same mutex the thread sleeps on and wakes it, so shutdown
//! does not wait for a tick, and then joins the thread: a job never outlives the store.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use phantom_storage::StorageError;

use crate::Result;

/// The running thread; stopped and joined on drop.
#[derive(Debug)]
pub struct Periodic {
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: Option<JoinHandle<()>>,
}

impl Periodic {
    /// Starts a thread called `name` that calls `job` every `tick`.
    pub fn start(name: &str, tick: Duration, mut job: impl FnMut() + Send + 'static) -> Result<Periodic> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = stop.clone();
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let (lock, wake) = &*signal;
                let mut stopped = lock.lock();
                while !*stopped {
                    wake.wait_for(&mut stopped, tick);
                    if *stopped {
                        break;
                    }
                    drop(stopped);
                    job();
                    stopped = lock.lock();
                }
            })
            .map_err(|e| StorageError::Failed { path: name.into(), reason: e.to_string() })?;
        Ok(Periodic { stop, handle: Some(handle) })
    }
}

impl Drop for Periodic {
    fn drop(&mut self) {
        let (lock, wake) = &*self.stop;
        *lock.lock() = true;
        wake.notify_all();
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}
