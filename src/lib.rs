//! raftlab's tester harness: what the graded tests of each lab run on.
//!
//! - [`cluster`]: a group of servers on the simulated network: crash, restart, links, partitions,
//!   which member leads, the pass line. Every tester below is built on it (several groups can
//!   share one network).
//! - [`node_clerk`]: a clerk under test on a node of its own, one operation at a time (the
//!   clerks of labs 3, 4A and 4B).
//! - [`raft_tester`]: a Raft cluster on the simulated network and the checks of lab 2.
//! - [`kv_tester`]: a replicated key/value service, its clerks and the checks of lab 3, and the
//!   runner that checks a test's whole history for linearizability (lab 4B's too).
//! - [`shardctrler_tester`]: the shard controller's servers, its clerks and the checks of lab 4A
//!   (balance, minimal transfers, replicas that agree on every config).
//! - [`shardkv_tester`]: three replica groups and a controller (the 4A tester's cluster), their
//!   clerks (the 3 tester's, routed by shard) and the checks of lab 4B.
//!
//! The linearizability checker that judges the KV lab's histories is its own crate, `lincheck`.

pub mod cluster;
pub mod kv_tester;
pub mod node_clerk;
pub mod raft_tester;
pub mod shardctrler_tester;
pub mod shardkv_tester;
