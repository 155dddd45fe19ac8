//! YOUR FILE (lab 4B): the RPC types clerks and servers share. Change them as you need, and add
//! the ones your groups use to move shards between them.
#![allow(dead_code)] // the skeleton leaves much unused; remove this when done

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
    // You'll have to add fields here: to detect a retried request, a server needs to know
    // which client sent it and which of that client's requests it is.
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
    // You'll have to add fields here.
}

/// Get RPC reply.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct GetReply {
    pub result: Result<String, Error>,
}
