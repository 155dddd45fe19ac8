//! YOUR FILE (lab 4A): the shard controller's server, one per Raft peer.
//!
//! Keep the signatures of the public methods: the tester calls them. Rules as in the Raft lab:
//! spawn with `labrpc::sim::spawn`, wait with tokio time, never block or hold a std lock across
//! an await.
#![allow(dead_code, unused_imports, unused_variables)] // remove this when done

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use labrpc::{ClientEnd, Service, sim};
use raft::{APPLY_CHANNEL_CAPACITY, ApplyMsg, Persister, Raft};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::common::{
    Error, JoinArgs, JoinReply, LeaveArgs, LeaveReply, MoveArgs, MoveReply, QueryArgs, QueryReply,
};
use crate::{Config, Gid, NSHARDS};

/// An operation as it travels through the Raft log (encode it with `postcard::to_allocvec`).
#[derive(Serialize, Deserialize, Debug, Clone)]
struct Op {
    // Your definitions here.
}

/// A shard controller server. Cheap to clone: all clones are the same server.
#[derive(Clone)]
pub struct ShardCtrler {
    state: Arc<Mutex<State>>,
    rf: Raft,
}

struct State {
    me: usize,
    /// Every config so far, indexed by number; config 0 has no groups.
    configs: Vec<Config>,
    // Your definitions here.
}

impl ShardCtrler {
    /// Starts a controller server: `servers` are the ends of all controller servers' Raft peers
    /// (`servers[me]` is this one's), `persister` holds what this server's previous incarnation
    /// saved. Must return quickly.
    pub fn new(servers: Vec<ClientEnd>, me: usize, persister: Persister) -> ShardCtrler {
        let (apply_tx, apply_rx) = mpsc::channel(APPLY_CHANNEL_CAPACITY);
        let rf = Raft::new(servers, me, persister, apply_tx);
        // You may need initialization code here.
        ShardCtrler {
            state: Arc::new(Mutex::new(State {
                me,
                configs: vec![Config::default()],
            })),
            rf,
        }
    }

    /// This server's Raft peer (the tester registers its RPCs and asks it who leads).
    pub fn raft(&self) -> &Raft {
        &self.rf
    }

    /// The tester calls this when it shuts the server down. The framework already stops every
    /// task the server spawned; use this for anything else (optional).
    pub fn kill(&self) {
        self.rf.kill();
    }

    /// Every config this server has applied so far, config 0 first. The tester compares the
    /// servers' lists: every server must have made the same config for each number.
    pub fn configs(&self) -> Vec<Config> {
        self.state.lock().unwrap().configs.clone()
    }

    /// The RPC service the tester registers for this server (named "ShardCtrler").
    pub fn service(&self) -> Service {
        let (j, l, m, q) = (self.clone(), self.clone(), self.clone(), self.clone());
        Service::new("ShardCtrler")
            .method("Join", move |args: JoinArgs| {
                let sc = j.clone();
                async move { sc.join(args).await }
            })
            .method("Leave", move |args: LeaveArgs| {
                let sc = l.clone();
                async move { sc.leave(args).await }
            })
            .method("Move", move |args: MoveArgs| {
                let sc = m.clone();
                async move { sc.move_shard(args).await }
            })
            .method("Query", move |args: QueryArgs| {
                let sc = q.clone();
                async move { sc.query(args).await }
            })
    }

    /// The Join RPC handler.
    async fn join(&self, args: JoinArgs) -> JoinReply {
        // Your code here.
        JoinReply {
            result: Err(Error::WrongLeader),
        }
    }

    /// The Leave RPC handler.
    async fn leave(&self, args: LeaveArgs) -> LeaveReply {
        // Your code here.
        LeaveReply {
            result: Err(Error::WrongLeader),
        }
    }

    /// The Move RPC handler.
    async fn move_shard(&self, args: MoveArgs) -> MoveReply {
        // Your code here.
        MoveReply {
            result: Err(Error::WrongLeader),
        }
    }

    /// The Query RPC handler.
    async fn query(&self, args: QueryArgs) -> QueryReply {
        // Your code here.
        QueryReply {
            result: Err(Error::WrongLeader),
        }
    }
}
