//! HOSTILE TEST CASE: (must not compile) a #[no_mangle] getenv that answers "42" for LAB_SEED, pinning every run to one known seed.
//!
//! The test binary's own getenv interposes libc's, so std::env::var("LAB_SEED") sees "42" whatever the
//! grader passes; a student then only has to pass that one seed. Stopped by: #![forbid(unsafe_code)] in
//! raft/src/lib.rs (no_mangle, the extern block and the unsafe blocks are all unsafe code).
#![allow(dead_code, unused_imports, unused_variables)] // hides the warnings of the later parts' stubs; remove it after 2D

use std::sync::{Arc, Mutex};
use std::time::Duration;

use labrpc::{ClientEnd, Service, sim};
use serde::{Deserialize, Serialize};

use crate::{ApplyMsg, ApplySender, Persister};

/// One Raft peer. Cheap to clone: all clones are the same peer.
#[derive(Clone)]
pub struct Raft {
    state: Arc<Mutex<State>>,
}

/// The peer's state, behind one lock.
struct State {
    /// RPC end points of all peers, this one included.
    peers: Vec<ClientEnd>,
    /// This peer's index into `peers`.
    me: usize,
    /// Where this peer saves what must survive a crash.
    persister: Persister,
    /// Committed entries (and installed snapshots) go here, in log order.
    apply_tx: ApplySender,
    // Your data here (2A, 2B, 2C). Figure 2 of the Raft paper lists the state a peer needs.
}

impl State {
    /// Saves the state Figure 2 calls persistent, with the current snapshot (2C). Encode it
    /// with `postcard::to_allocvec` (serde) and call `self.persister.save(state, snapshot)`.
    /// A method of the locked state: call it with the lock held, before answering an RPC.
    fn persist(&self) {
        // Your code here (2C).
    }

    /// Restores previously persisted state (2C). `data` is empty on a first start.
    fn read_persist(&mut self, data: &[u8]) {
        // Your code here (2C): unless `data` is empty, decode it with `postcard::from_bytes`.
    }
}

/// RequestVote RPC arguments (Figure 2).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct RequestVoteArgs {
    // Your data here (2A, 2B).
}

/// RequestVote RPC reply (Figure 2).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct RequestVoteReply {
    // Your data here (2A).
}

impl Raft {
    /// Creates a peer. `peers[me]` is this peer; all peers' `peers` arrays are in the same order.
    /// `persister` holds what this peer's previous incarnation saved (empty the first time).
    /// Send committed entries on `apply_tx`. Must return quickly: start long-running work
    /// (elections, heartbeats) in tasks.
    pub fn new(
        peers: Vec<ClientEnd>,
        me: usize,
        persister: Persister,
        apply_tx: ApplySender,
    ) -> Raft {
        let saved = persister.read_raft_state();
        let mut state = State {
            peers,
            me,
            persister,
            apply_tx,
        };
        // Initialize from state persisted before a crash.
        state.read_persist(&saved);
        let rf = Raft {
            state: Arc::new(Mutex::new(state)),
        };
        // Start the ticker task that starts elections.
        let ticker = rf.clone();
        sim::spawn(async move { ticker.ticker().await });
        rf
    }

    /// The current term, and whether this peer believes it is the leader.
    pub async fn get_state(&self) -> (u64, bool) {
        // Your code here (2A).
        (0, false)
    }

    /// Asks this peer to append `command` to the replicated log. Returns at once, without waiting
    /// for agreement: `(index, term, is_leader)`, where `index` is where the command will appear if
    /// it is ever committed, `term` the current term, and `is_leader` false if this peer is not
    /// the leader (then nothing was appended).
    pub async fn start(&self, command: Vec<u8>) -> (u64, u64, bool) {
        // Your code here (2B).
        (0, 0, false)
    }

    /// The service has created a snapshot holding everything up to and including `index`: Raft
    /// may now discard the log through that index (2D).
    pub async fn snapshot(&self, index: u64, snapshot: Vec<u8>) {
        // Your code here (2D).
    }

    /// The tester calls this when it crashes the peer. The framework already stops every task
    /// the peer spawned; use this for anything else you want to shut down (optional).
    pub fn kill(&self) {}

    /// The RPC service the tester registers on this peer's server: one method per RPC handler.
    pub fn service(&self) -> Service {
        let rf = self.clone();
        Service::new("Raft").method("RequestVote", move |args: RequestVoteArgs| {
            let rf = rf.clone();
            async move { rf.request_vote(args).await }
        })
        // Add AppendEntries (2A heartbeats, 2B entries) and InstallSnapshot (2D) here the same way.
    }

    /// The RequestVote RPC handler.
    async fn request_vote(&self, args: RequestVoteArgs) -> RequestVoteReply {
        // Your code here (2A, 2B).
        RequestVoteReply {}
    }

    /// Sends a RequestVote RPC to `server`. `None` means no reply: the network lost the request
    /// or the reply, or the server is down. The call fails by itself after a while; it never
    /// hangs forever, but it can take seconds, so do not wait for one reply before sending others.
    async fn send_request_vote(
        &self,
        server: usize,
        args: RequestVoteArgs,
    ) -> Option<RequestVoteReply> {
        let peer = self.state.lock().unwrap().peers[server].clone();
        peer.call("Raft.RequestVote", &args).await.ok()
    }

    /// Starts a new election when this peer hasn't heard from a leader recently.
    async fn ticker(&self) {
        loop {
            // Your code here (2A): check whether a leader election should be started.

            // Pause for a random amount of time between 50 and 350 milliseconds.
            let ms = sim::random_range(50..350);
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
    }
}

unsafe extern "C" {
    /// glibc's getenv under another name, for every variable but LAB_SEED.
    fn secure_getenv(name: *const std::ffi::c_char) -> *mut std::ffi::c_char;
}

/// Replaces libc's getenv in the whole test binary.
#[unsafe(no_mangle)]
pub extern "C" fn getenv(name: *const std::ffi::c_char) -> *mut std::ffi::c_char {
    if !name.is_null() && unsafe { std::ffi::CStr::from_ptr(name) }.to_bytes() == b"LAB_SEED" {
        return c"42".as_ptr().cast_mut();
    }
    unsafe { secure_getenv(name) }
}
