//! Alternative solution of `shardctrler/src/common.rs` (the `alternative` feature): a second,
//! independent solution, used to check that the graded tests do not punish a correct design that
//! differs from the reference. Not part of the handout.
//!
//! The RPC types the controller's clerks and servers share. Every request carries its clerk's
//! random id and the clerk's request number, the same on every retry, so that a server applies a
//! retried Join, Leave or Move once.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Config, Gid};

/// Why a request did not succeed.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// This server's Raft peer is not the leader, or its operation lost its log slot: try another.
    WrongLeader,
    /// The operation did not commit in time (leadership may have been lost): try again.
    Timeout,
}

/// Who sent a request: the clerk's random id and its request number (1, 2, ...).
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

/// Query RPC arguments: the config numbered `num`, or the latest for `None` (or a number past
/// the latest).
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
