//! YOUR FILE (lab 4A): the RPC types the controller's clerks and servers share. Change them as you
//! need.
#![allow(dead_code)] // the skeleton leaves much unused; remove this when done

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

/// Join RPC arguments: new groups, each with its servers' names.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct JoinArgs {
    pub servers: BTreeMap<Gid, Vec<String>>,
    // You'll have to add fields here: to detect a retried request, a server needs to know
    // which client sent it and which of that client's requests it is.
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
    // You'll have to add fields here.
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
    // You'll have to add fields here.
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
    // You'll have to add fields here.
}

/// Query RPC reply.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct QueryReply {
    pub result: Result<Config, Error>,
}
