//! SECOND SOLUTION (alternative feature): an independent solution in the style of typical Go-lab
//! solutions, used to check that the graded tests do not punish a correct design different from
//! the reference. Not part of the handout.
//!
//! The RPC types clerks and servers share. Every request names its clerk (`client_id`) and the
//! clerk's request number (`seq`), so that servers can apply a retried request only once.

use serde::{Deserialize, Serialize};

/// Why a request did not succeed.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The key does not exist (a Get of a missing key returns "" to the application).
    NoKey,
    /// This server's Raft peer is not the leader, or lost the operation's log slot: try another.
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
    /// The clerk's random id.
    pub client_id: u64,
    /// The clerk's request number (1, 2, 3, ...), the same on every retry.
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
    pub client_id: u64,
    /// The clerk's request number, the same on every retry.
    pub seq: u64,
}

/// Get RPC reply.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct GetReply {
    pub result: Result<String, Error>,
}
