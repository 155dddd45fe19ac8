//! Reference solution of `shardctrler/src/common.rs`: the RPC types, each request carrying the
//! clerk's id and sequence number for duplicate detection.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Config, Gid};

/// Why a request did not succeed.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// This server's Raft peer is not the leader: try another server.
    WrongLeader,
    /// The operation did not commit in time (leadership may have been lost): try again.
    Timeout,
}

/// Which clerk sent a request, and which of its requests it is.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestId {
    pub client: u64,
    pub seq: u64,
}

/// Join RPC arguments: new groups, each with its servers' names.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct JoinArgs {
    pub servers: BTreeMap<Gid, Vec<String>>,
    pub id: RequestId,
}

/// Join RPC reply.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct JoinReply {
    pub result: Result<(), Error>,
}

/// Leave RPC arguments: the groups that leave.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct LeaveArgs {
    pub gids: Vec<Gid>,
    pub id: RequestId,
}

/// Leave RPC reply.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct LeaveReply {
    pub result: Result<(), Error>,
}

/// Move RPC arguments: give `shard` to group `gid`.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct MoveArgs {
    pub shard: usize,
    pub gid: Gid,
    pub id: RequestId,
}

/// Move RPC reply.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct MoveReply {
    pub result: Result<(), Error>,
}

/// Query RPC arguments: the config numbered `num`, or the latest for `None`.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct QueryArgs {
    pub num: Option<u64>,
    pub id: RequestId,
}

/// Query RPC reply.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct QueryReply {
    pub result: Result<Config, Error>,
}
