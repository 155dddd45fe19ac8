//! raftlab's tester harness: what the graded tests of each lab run on.
//!
//! - [`raft_tester`]: a Raft cluster on the simulated network and the checks of lab 2.
//! - [`kv_tester`]: a replicated key/value service, its clerks and the checks of lab 3.
//!
//! The linearizability checker that judges the KV lab's histories is its own crate, `lincheck`.

pub mod kv_tester;
pub mod raft_tester;
