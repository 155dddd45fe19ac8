//! Reference solution of `kvraft/src/server.rs`: the key/value server.
//!
//! Every operation, reads included, goes through the Raft log. A handler starts its operation,
//! then waits until the applier has applied that very operation (recognized by client and
//! sequence number), or gives up after a while so the clerk tries elsewhere. The applier applies
//! each Put/Append once per (client, seq), and snapshots the table together with the duplicate
//! table, so a restarted server still recognizes retries.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use labrpc::{ClientEnd, Service, sim};
use raft::{APPLY_CHANNEL_CAPACITY, ApplyMsg, Persister, Raft};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::common::{Error, GetArgs, GetReply, PutAppendArgs, PutAppendOp, PutAppendReply};

/// How long a handler waits for its operation to be applied before answering Timeout.
const APPLY_WAIT: Duration = Duration::from_millis(600);

/// What an operation does.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
enum Kind {
    Get,
    Put(String),
    Append(String),
}

/// An operation as it travels through the Raft log.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
struct Op {
    key: String,
    kind: Kind,
    client: u64,
    seq: u64,
}

/// The state a snapshot holds: the table and, per client, its last applied Put/Append.
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
struct Table {
    data: BTreeMap<String, String>,
    last_seq: BTreeMap<u64, u64>,
}

/// A key/value server. Cheap to clone: all clones are the same server.
#[derive(Clone)]
pub struct KvServer {
    state: Arc<Mutex<State>>,
    rf: Raft,
}

type Waiter = oneshot::Sender<Result<String, Error>>;

struct State {
    max_raft_state: Option<usize>,
    persister: Persister,
    table: Table,
    last_applied: u64,
    /// Handlers waiting for their operation, by (client, seq).
    waiters: BTreeMap<(u64, u64), Vec<Waiter>>,
}

impl KvServer {
    /// Starts a server (see the student file for the contract).
    pub fn new(
        servers: Vec<ClientEnd>,
        me: usize,
        persister: Persister,
        max_raft_state: Option<usize>,
    ) -> KvServer {
        let (apply_tx, apply_rx) = mpsc::channel(APPLY_CHANNEL_CAPACITY);
        let (table, last_applied) = decode_snapshot(&persister.read_snapshot());
        let rf = Raft::new(servers, me, persister.clone(), apply_tx);
        let kv = KvServer {
            state: Arc::new(Mutex::new(State {
                max_raft_state,
                persister,
                table,
                last_applied,
                waiters: BTreeMap::new(),
            })),
            rf,
        };
        let applier = kv.clone();
        sim::spawn(async move { applier.applier(apply_rx).await });
        kv
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// This server's Raft peer.
    pub fn raft(&self) -> &Raft {
        &self.rf
    }

    /// Nothing to do: the framework stops the server's tasks.
    pub fn kill(&self) {
        self.rf.kill();
    }

    /// The RPC service the tester registers for this server.
    pub fn service(&self) -> Service {
        let (g, p) = (self.clone(), self.clone());
        Service::new("KVServer")
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
        let op = Op {
            key: args.key,
            kind: Kind::Get,
            client: args.client,
            seq: args.seq,
        };
        GetReply {
            result: self.execute(op).await,
        }
    }

    /// The PutAppend RPC handler.
    async fn put_append(&self, args: PutAppendArgs) -> PutAppendReply {
        let kind = match args.op {
            PutAppendOp::Put => Kind::Put(args.value),
            PutAppendOp::Append => Kind::Append(args.value),
        };
        let op = Op {
            key: args.key,
            kind,
            client: args.client,
            seq: args.seq,
        };
        PutAppendReply {
            result: self.execute(op).await.map(|_| ()),
        }
    }

    /// Starts `op` in Raft and waits until it is applied; returns what it read.
    async fn execute(&self, op: Op) -> Result<String, Error> {
        let id = (op.client, op.seq);
        let rx = {
            let mut st = self.lock();
            if op.kind != Kind::Get
                && st
                    .table
                    .last_seq
                    .get(&op.client)
                    .is_some_and(|&s| s >= op.seq)
            {
                return Ok(String::new()); // already applied: a retry of an answered request
            }
            let (tx, rx) = oneshot::channel();
            st.waiters.entry(id).or_default().push(tx);
            rx
        };
        let command = postcard::to_allocvec(&op).map_err(|_| Error::Timeout)?;
        let (_, _, is_leader) = self.rf.start(command).await;
        if !is_leader {
            self.forget(id);
            return Err(Error::WrongLeader);
        }
        match tokio::time::timeout(APPLY_WAIT, rx).await {
            Ok(Ok(result)) => result,
            _ => {
                self.forget(id);
                Err(Error::Timeout)
            }
        }
    }

    /// Drops the waiters of a request nobody will answer here.
    fn forget(&self, id: (u64, u64)) {
        let mut st = self.lock();
        if let Some(ws) = st.waiters.get_mut(&id) {
            ws.retain(|w| !w.is_closed());
            if ws.is_empty() {
                st.waiters.remove(&id);
            }
        }
    }

    /// Applies what Raft commits, in order, and snapshots when Raft's state grows too large.
    async fn applier(&self, mut rx: mpsc::Receiver<ApplyMsg>) {
        while let Some(msg) = rx.recv().await {
            let snapshot = match msg {
                ApplyMsg::Command { index, command } => self.apply_command(index, &command),
                ApplyMsg::Snapshot { index, data, .. } => {
                    let mut st = self.lock();
                    if index > st.last_applied {
                        let (table, at) = decode_snapshot(&data);
                        st.table = table;
                        st.last_applied = at.max(index);
                    }
                    None
                }
            };
            if let Some((index, data)) = snapshot {
                self.rf.snapshot(index, data).await;
            }
        }
    }

    /// Applies one committed command; returns a snapshot to take, if one is due.
    fn apply_command(&self, index: u64, command: &[u8]) -> Option<(u64, Vec<u8>)> {
        let mut st = self.lock();
        if index <= st.last_applied {
            return None;
        }
        st.last_applied = index;
        if let Ok(op) = postcard::from_bytes::<Op>(command) {
            let result = st.table.apply(&op);
            if let Some(ws) = st.waiters.remove(&(op.client, op.seq)) {
                for w in ws {
                    let _ = w.send(result.clone());
                }
            }
        }
        let limit = st.max_raft_state?;
        if st.persister.raft_state_size() < limit * 3 / 4 {
            return None;
        }
        let data = postcard::to_allocvec(&(index, &st.table)).ok()?;
        Some((index, data))
    }
}

impl Table {
    /// Applies `op` unless it is a Put/Append already applied; returns what a Get reads.
    fn apply(&mut self, op: &Op) -> Result<String, Error> {
        let value = |t: &Table| t.data.get(&op.key).cloned().ok_or(Error::NoKey);
        if op.kind == Kind::Get {
            return value(self);
        }
        if self.last_seq.get(&op.client).is_some_and(|&s| s >= op.seq) {
            return Ok(String::new());
        }
        self.last_seq.insert(op.client, op.seq);
        match &op.kind {
            Kind::Put(v) => {
                self.data.insert(op.key.clone(), v.clone());
            }
            Kind::Append(v) => self.data.entry(op.key.clone()).or_default().push_str(v),
            Kind::Get => {}
        }
        Ok(String::new())
    }
}

/// The table and index a snapshot holds (empty and 0 for no snapshot).
fn decode_snapshot(data: &[u8]) -> (Table, u64) {
    if data.is_empty() {
        return (Table::default(), 0);
    }
    postcard::from_bytes::<(u64, Table)>(data)
        .map(|(index, table)| (table, index))
        .unwrap_or_default()
}
