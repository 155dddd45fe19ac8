//! FRAMEWORK FILE: do not edit.
//!
//! Stable storage of one Raft peer: its Raft state and its latest snapshot, saved together.

use std::sync::{Arc, Mutex, MutexGuard};

/// Holds a peer's persistent Raft state and snapshot. The tester gives a restarted peer a copy of
/// what its previous incarnation saved; everything else about the old peer is gone.
///
/// Encode what you save with serde and postcard; on a `Vec<u8>` field, `#[serde(with =
/// "serde_bytes")]` encodes it as one byte string instead of number by number, which is faster
/// for big commands and snapshots (the test at the end of this file is the lab text's example).
#[derive(Clone, Default)]
pub struct Persister {
    inner: Arc<Mutex<Saved>>,
}

#[derive(Clone, Default)]
struct Saved {
    raft_state: Vec<u8>,
    snapshot: Vec<u8>,
}

impl std::fmt::Debug for Persister {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let saved = self.lock();
        f.debug_struct("Persister")
            .field("raft_state_bytes", &saved.raft_state.len())
            .field("snapshot_bytes", &saved.snapshot.len())
            .finish()
    }
}

impl Persister {
    /// An empty persister.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Saved> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A separate persister holding the same bytes (the tester's model of a disk surviving a crash).
    pub fn copy(&self) -> Persister {
        Persister {
            inner: Arc::new(Mutex::new(self.lock().clone())),
        }
    }

    /// Saves the Raft state and the snapshot together, atomically.
    pub fn save(&self, raft_state: Vec<u8>, snapshot: Vec<u8>) {
        *self.lock() = Saved {
            raft_state,
            snapshot,
        };
    }

    /// The last saved Raft state (empty if none).
    pub fn read_raft_state(&self) -> Vec<u8> {
        self.lock().raft_state.clone()
    }

    /// The last saved snapshot (empty if none).
    pub fn read_snapshot(&self) -> Vec<u8> {
        self.lock().snapshot.clone()
    }

    /// Size in bytes of the saved Raft state (the tester bounds it in the snapshot tests).
    pub fn raft_state_size(&self) -> usize {
        self.lock().raft_state.len()
    }

    /// Size in bytes of the saved snapshot.
    pub fn snapshot_size(&self) -> usize {
        self.lock().snapshot.len()
    }
}

#[cfg(test)]
mod tests {
    use super::Persister;
    use serde::{Deserialize, Serialize};

    /// The example of lab 2C's text: a log entry whose command `serde_bytes` encodes.
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Entry {
        term: u64,
        #[serde(with = "serde_bytes")]
        command: Vec<u8>,
    }

    #[test]
    fn serde_bytes_state_round_trips_through_the_persister() {
        let persister = Persister::new();
        let log = vec![Entry {
            term: 1,
            command: vec![7; 5000],
        }];
        let state = postcard::to_allocvec(&(3u64, Some(1usize), &log)).unwrap();
        persister.save(state, Vec::new());

        let data = persister.read_raft_state();
        let (term, voted_for, restored): (u64, Option<usize>, Vec<Entry>) =
            postcard::from_bytes(&data).unwrap();
        assert_eq!((term, voted_for, restored), (3, Some(1), log));
    }
}
