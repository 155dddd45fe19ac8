//! YOUR FILE (lab 4A): the controller's Clerk, which the tester, the shardkv servers and the
//! shardkv clerks use.
//!
//! Keep the signatures of the public methods: the tester calls them. A Clerk is used by one task
//! at a time. Rules as in the Raft lab: tokio time, `labrpc::sim::random_range` for random
//! numbers, no threads, no blocking.
#![allow(dead_code, unused_imports, unused_variables)] // remove this when done

use std::collections::BTreeMap;
use std::time::Duration;

use labrpc::{ClientEnd, sim};

use crate::common::{
    Error, JoinArgs, JoinReply, LeaveArgs, LeaveReply, MoveArgs, MoveReply, QueryArgs, QueryReply,
};
use crate::{Config, Gid};

/// A client of the shard controller.
pub struct Clerk {
    /// One end per controller server, in an order of the tester's choosing.
    servers: Vec<ClientEnd>,
    // You will have to modify this struct.
}

impl Clerk {
    /// A Clerk talking to the controller servers `servers`.
    pub fn new(servers: Vec<ClientEnd>) -> Clerk {
        // You'll have to add code here.
        Clerk { servers }
    }

    /// The config numbered `num`, or the latest one for `None` (and for a number past the
    /// latest). Keeps trying forever in the face of all errors.
    ///
    /// Send an RPC like this:
    /// `self.servers[i].call::<QueryArgs, QueryReply>("ShardCtrler.Query", &args).await`;
    /// it returns `Err` when the network lost the request or the reply, or the server is down.
    pub async fn query(&mut self, num: Option<u64>) -> Config {
        // You will have to modify this function.
        Config::default()
    }

    /// Adds the groups `servers` (gid to server names) and rebalances the shards.
    pub async fn join(&mut self, servers: BTreeMap<Gid, Vec<String>>) {
        // You will have to modify this function.
    }

    /// Removes the groups `gids` and gives their shards to the groups that remain.
    pub async fn leave(&mut self, gids: &[Gid]) {
        // You will have to modify this function.
    }

    /// Gives `shard` to group `gid`, and nothing else.
    pub async fn move_shard(&mut self, shard: usize, gid: Gid) {
        // You will have to modify this function.
    }
}
