//! YOUR FILE (lab 4B): the Clerk, the client library applications use. It asks the shard
//! controller which group serves a key's shard, and sends the request to that group.
//!
//! Keep the signatures of the public methods: the tester calls them. A Clerk is used by one
//! application task at a time. Rules as in the Raft lab: tokio time, `labrpc::sim::random_range`
//! for random numbers, no threads, no blocking.
#![allow(dead_code, unused_imports, unused_variables)] // remove this when done

use std::collections::BTreeMap;
use std::time::Duration;

use labrpc::{ClientEnd, sim};

use crate::common::{Error, GetArgs, GetReply, PutAppendArgs, PutAppendOp, PutAppendReply};
use crate::{Config, Gid, MakeEnd, key2shard};

/// A client of the sharded key/value service.
pub struct Clerk {
    /// A client of the shard controller, to learn which group serves which shard.
    ctrler: shardctrler::Clerk,
    /// Makes an end to a server named in a config.
    make_end: MakeEnd,
    /// The latest config this clerk knows (config 0, which has no groups, at first).
    config: Config,
    // You will have to modify this struct.
}

impl Clerk {
    /// A Clerk that asks the controller servers `ctrlers` for configs and reaches the servers they
    /// name with `make_end`.
    pub fn new(ctrlers: Vec<ClientEnd>, make_end: MakeEnd) -> Clerk {
        // You'll have to add code here.
        Clerk {
            ctrler: shardctrler::Clerk::new(ctrlers),
            make_end,
            config: Config::default(),
        }
    }

    /// Fetches the current value of `key` ("" if the key does not exist). Keeps trying forever
    /// in the face of all other errors.
    ///
    /// Find the key's group with `key2shard(key)` and `self.config.shards`, make ends to its
    /// servers with `(self.make_end)(name)`, and send an RPC like this:
    /// `end.call::<GetArgs, GetReply>("ShardKV.Get", &args).await`. When no server of the group
    /// will serve the key, ask the controller for the latest config and try again.
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
