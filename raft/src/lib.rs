//! FRAMEWORK FILE: do not edit. Your Raft goes in `raft/src/raft.rs`.
//!
//! The Raft lab (6.5840 lab 2): [`Raft`] is one peer of a replicated log. The tester creates a
//! peer with [`Raft::new`], hands it commands with [`Raft::start`], and reads the committed entries
//! the peer sends on its apply channel as [`ApplyMsg`]s. A [`Persister`] keeps what must survive a
//! crash.
// Graded code may not use unsafe code, nor what the crate's clippy.toml disallows (files,
// processes, the environment, threads, the network, the harness's own entry points): `cargo clippy`
// shows each use as an error, and the grader gives a submission with one 0 points. No `allow` in
// a student file can lift a `forbid`.
#![forbid(unsafe_code)]
#![forbid(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]

mod persister;

// The student's Raft, or the reference solution when the `reference` feature is on (or the
// second, independent solution with `alternative`, which the tests must not punish either).
#[cfg_attr(feature = "reference", path = "reference/raft.rs")]
#[cfg_attr(
    all(feature = "alternative", not(feature = "reference")),
    path = "alternative/raft.rs"
)]
mod raft;

pub use persister::Persister;
pub use raft::Raft;

/// What a peer sends on its apply channel: a committed command, or a snapshot to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyMsg {
    /// The command committed at `index` (log indices start at 1).
    Command { index: u64, command: Vec<u8> },
    /// A snapshot received from the leader, covering the log up to `index` (whose term is `term`).
    Snapshot {
        term: u64,
        index: u64,
        data: Vec<u8>,
    },
}

/// The sending half of the apply channel. Like Go's unbuffered channel it holds one message, so a
/// send waits until the service has taken the previous one.
pub type ApplySender = tokio::sync::mpsc::Sender<ApplyMsg>;

/// Capacity of the apply channel the tester creates.
pub const APPLY_CHANNEL_CAPACITY: usize = 1;
