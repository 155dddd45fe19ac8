//! YOUR FILE (KV lab): the Clerk, the client library applications use.
//!
//! Keep the signatures of the public methods: the tester calls them. A Clerk is used by one
//! application task at a time. Rules as in the Raft lab: tokio time, `labrpc::sim::random_range`
//! for random numbers, no threads, no blocking.
#![allow(dead_code, unused_imports, unused_variables)] // remove this when done

use labrpc::{ClientEnd, sim};

use crate::common::{Error, GetArgs, GetReply, PutAppendArgs, PutAppendOp, PutAppendReply};

/// A client of the key/value service.
pub struct Clerk {
    /// One end per KV server, in an order of the tester's choosing (not server index order).
    servers: Vec<ClientEnd>,
    // You will have to modify this struct.
}

impl Clerk {
    /// A Clerk talking to `servers`.
    pub fn new(servers: Vec<ClientEnd>) -> Clerk {
        // You'll have to add code here.
        Clerk { servers }
    }

    /// Fetches the current value of `key` ("" if the key does not exist). Keeps trying forever
    /// in the face of all other errors.
    ///
    /// Send an RPC like this: `self.servers[i].call::<GetArgs, GetReply>("KVServer.Get", &args).await`;
    /// it returns `Err` when the network lost the request or the reply, or the server is down.
    pub async fn get(&mut self, key: &str) -> String {
        // You will have to modify this function.
        String::new()
    }

    /// Shared by Put and Append.
    async fn put_append(&mut self, key: &str, value: &str, op: PutAppendOp) {
        // You will have to modify this function.
    }

    /// Sets `key` to `value`.
    pub async fn put(&mut self, key: &str, value: &str) {
        self.put_append(key, value, PutAppendOp::Put).await
    }

    /// Appends `value` to the value of `key` (a missing key counts as "").
    pub async fn append(&mut self, key: &str, value: &str) {
        self.put_append(key, value, PutAppendOp::Append).await
    }
}
