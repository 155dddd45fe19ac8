//! Alternative solution of `shardkv/src/common.rs` (the `alternative` feature): a second,
//! independent solution, used to check that the graded tests do not punish a correct design that
//! differs from the reference. Not part of the handout.
//!
//! The RPC types clerks and servers share, and the one RPC groups send each other: the group that
//! loses a shard pushes it (its data and its duplicate table) to the group that gains it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Why a request did not succeed.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The key does not exist (a Get of a missing key returns "" to the application).
    NoKey,
    /// This group does not serve the key's shard (now): ask the controller who does.
    WrongGroup,
    /// This server's Raft peer is not the leader: try another server of the group.
    WrongLeader,
    /// The operation did not commit in time (leadership may have been lost): try again.
    Timeout,
    /// (Shard pushes only) the receiving group has not reached the push's config yet.
    NotReady,
}

/// Put or Append.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutAppendOp {
    Put,
    Append,
}

/// PutAppend RPC arguments.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct PutAppendArgs {
    pub key: String,
    pub value: String,
    pub op: PutAppendOp,
    /// The clerk's random id.
    pub client: u64,
    /// The clerk's request number, the same on every retry (also with another group).
    pub seq: u64,
}

/// PutAppend RPC reply.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct PutAppendReply {
    pub result: Result<(), Error>,
}

/// Get RPC arguments.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct GetArgs {
    pub key: String,
    /// The clerk's random id.
    pub client: u64,
    /// The clerk's request number.
    pub seq: u64,
}

/// Get RPC reply.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct GetReply {
    pub result: Result<String, Error>,
}

/// A shard as it moves between groups: its keys and values, and its duplicate table (clerk id
/// to the highest request number applied to this shard).
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardData {
    pub kv: BTreeMap<String, String>,
    pub dup: BTreeMap<u64, u64>,
}

/// InstallShard RPC arguments: the shard `shard` as its old owner held it when config `num`
/// took it away.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct InstallShardArgs {
    pub num: u64,
    pub shard: usize,
    pub data: ShardData,
}

/// InstallShard RPC reply: `Ok` once the receiving group has the shard (committed in its log).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct InstallShardReply {
    pub result: Result<(), Error>,
}
