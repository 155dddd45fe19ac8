//! Reference solution of `kvraft/src/common.rs`: the RPC types clerks and servers share.

use serde::{Deserialize, Serialize};

/// Why a request did not succeed.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The key does not exist (a Get of a missing key returns "" to the application).
    NoKey,
    /// This server's Raft peer is not the leader: try another server.
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

/// PutAppend RPC arguments. `(client, seq)` identifies the request across retries.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct PutAppendArgs {
    pub key: String,
    pub value: String,
    pub op: PutAppendOp,
    pub client: u64,
    pub seq: u64,
}

/// PutAppend RPC reply.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct PutAppendReply {
    pub result: Result<(), Error>,
}

/// Get RPC arguments. `(client, seq)` lets the server recognize its own log entry.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct GetArgs {
    pub key: String,
    pub client: u64,
    pub seq: u64,
}

/// Get RPC reply.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct GetReply {
    pub result: Result<String, Error>,
}
