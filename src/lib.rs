//! raftlab's tester harness: what the graded tests of each lab run on.
//!
//! - [`raft_tester`]: a Raft cluster on the simulated network and the checks of lab 2.

pub mod raft_tester;
