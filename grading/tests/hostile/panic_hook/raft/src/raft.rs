//! HOSTILE TEST CASE: sets a panic hook that prints a forged pass line and exits 0, then panics.
//!
//! The hook replaces the harness's own (installed before Raft::new runs). Stopped by: the lint gate
//! (std::panic::set_hook, std::process::exit); behind it, a pass needs the report channel: an exit
//! status of 0 and lines on stdout prove nothing.
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
        hostile_attack();
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

/// The attack: turn the coming panic into a clean exit with a pass line.
fn hostile_attack() {
    std::panic::set_hook(Box::new(|_| {
        let name = std::thread::current().name().unwrap_or("test").to_string();
        let nonce = std::env::var("LAB_REPORT_NONCE").unwrap_or_else(|_| "0".to_string());
        hostile_say(&hostile_forged_lines(&nonce, &name, &sim::seed().to_string()));
        std::process::exit(0);
    }));
    panic!("hostile: panicking on purpose, so that the hook runs");
}

/// Lines that look like a passing run: the completion report's format, the harness's summary line
/// and libtest's verdict.
fn hostile_forged_lines(nonce: &str, name: &str, seed: &str) -> String {
    format!(
        "{nonce} pass {name} seed={seed} virtual=1.000 wall=0.001 trace=0000000000000000\n\
         {name}: ok virtual=1.000s wall=0.001s events=1 seed={seed} trace=0000000000000000\n\
         test {name} ... ok\n\
         \n\
         test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n"
    )
}

/// Writes straight to the file descriptors: libtest's capture only takes `print!`'s output.
fn hostile_say(text: &str) {
    use std::io::Write;
    // On a line of its own, whatever libtest printed last.
    let text = format!("\n{text}");
    let _ = std::io::stdout().write_all(text.as_bytes());
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().write_all(text.as_bytes());
}
