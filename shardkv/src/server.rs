//! YOUR FILE (lab 4B): the sharded key/value server, one per Raft peer of a replica group.
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

use crate::common::{Error, GetArgs, GetReply, PutAppendArgs, PutAppendOp, PutAppendReply};
use crate::{Config, Gid, MakeEnd, NSHARDS, key2shard};

/// An operation as it travels through the Raft log (encode it with `postcard::to_allocvec`).
#[derive(Serialize, Deserialize, Debug, Clone)]
struct Op {
    // Your definitions here.
}

/// A server of one replica group. Cheap to clone: all clones are the same server.
#[derive(Clone)]
pub struct ShardKv {
    state: Arc<Mutex<State>>,
    rf: Raft,
}

struct State {
    me: usize,
    /// This server's group.
    gid: Gid,
    /// Snapshot when Raft's persisted state reaches this many bytes; `None`: never snapshot.
    max_raft_state: Option<usize>,
    /// The same storage Raft saves to (`raft_state_size()`, `read_snapshot()`).
    persister: Persister,
    /// A client of the shard controller, to poll for new configs (about every 100 ms).
    ctrler: shardctrler::Clerk,
    /// Makes an end to a server named in a config (of this group or another).
    make_end: MakeEnd,
    // Your definitions here.
}

impl ShardKv {
    /// Starts a server of group `gid`: `servers` are the ends of the group's Raft peers
    /// (`servers[me]` is this one's), `persister` holds what this server's previous incarnation
    /// saved, `ctrlers` are ends to the shard controller's servers, and `make_end` makes ends to
    /// the servers a config names. When `max_raft_state` is `Some(n)`, snapshot (with
    /// `Raft::snapshot`) before Raft's saved state (`persister.raft_state_size()`) grows past `n`
    /// bytes. Must return quickly.
    pub fn new(
        servers: Vec<ClientEnd>,
        me: usize,
        persister: Persister,
        max_raft_state: Option<usize>,
        gid: Gid,
        ctrlers: Vec<ClientEnd>,
        make_end: MakeEnd,
    ) -> ShardKv {
        let (apply_tx, apply_rx) = mpsc::channel(APPLY_CHANNEL_CAPACITY);
        let rf = Raft::new(servers, me, persister.clone(), apply_tx);
        // You may need initialization code here.
        ShardKv {
            state: Arc::new(Mutex::new(State {
                me,
                gid,
                max_raft_state,
                persister,
                ctrler: shardctrler::Clerk::new(ctrlers),
                make_end,
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

    /// The RPC service the tester registers for this server (named "ShardKV"). Add the methods
    /// your groups call on each other here.
    pub fn service(&self) -> Service {
        let (g, p) = (self.clone(), self.clone());
        Service::new("ShardKV")
            .method("Get", move |args: GetArgs| {
                let kv = g.clone();
                async move { kv.get(args).await }
            })
            .method("PutAppend", move |args: PutAppendArgs| {
                let kv = p.clone();
                async move { kv.put_append(args).await }
            })
    }

    /// The Get RPC handler.
    async fn get(&self, args: GetArgs) -> GetReply {
        // Your code here.
        GetReply {
            result: Err(Error::WrongLeader),
        }
    }

    /// The PutAppend RPC handler.
    async fn put_append(&self, args: PutAppendArgs) -> PutAppendReply {
        // Your code here.
        PutAppendReply {
            result: Err(Error::WrongLeader),
        }
    }
}
