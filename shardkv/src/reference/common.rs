//! Reference solution of `shardkv/src/common.rs`: the clerks' RPC types, each request carrying
//! the clerk's id and sequence number, and the RPCs groups use to hand shards to each other.

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
    /// (Between groups) this server has not reached the config the request is about yet.
    NotReady,
}

/// Which clerk sent a request, and which of its requests it is.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestId {
    pub client: u64,
    pub seq: u64,
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
    pub id: RequestId,
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
    pub id: RequestId,
}

/// Get RPC reply.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct GetReply {
    pub result: Result<String, Error>,
}

/// A shard's contents as it moves between groups: its keys and, per client, the last request
/// applied to it (duplicate detection travels with the shard).
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardData {
    pub data: BTreeMap<String, String>,
    pub last_seq: BTreeMap<u64, u64>,
}

/// PullShards RPC arguments: the shards a group gained in config `num`, asked of their previous
/// owner.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct PullArgs {
    pub num: u64,
    pub shards: Vec<usize>,
}

/// PullShards RPC reply: the shards' contents, by shard.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct PullReply {
    pub result: Result<BTreeMap<usize, ShardData>, Error>,
}

/// DeleteShards RPC arguments: the new owner has installed `shards` of config `num`; their
/// previous owner may drop them.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct DeleteArgs {
    pub num: u64,
    pub shards: Vec<usize>,
}

/// DeleteShards RPC reply.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct DeleteReply {
    pub result: Result<(), Error>,
}
