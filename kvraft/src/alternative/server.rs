//! SECOND SOLUTION (alternative feature): an independent solution in the style of typical Go-lab
//! solutions, used to check that the graded tests do not punish a correct design different from
//! the reference. Not part of the handout.
//!
//! The key/value server, one per Raft peer. Every operation, Gets included, goes through the Raft
//! log. A handler starts its operation, registers a one-shot waiter under the log index `start`
//! returned, and waits (with a timeout) for the applier to report what was applied there; the
//! reply is an error unless that was its own operation (same client id and request number).
//! The applier is the only code that changes the table; it skips Puts and Appends whose request
//! number it has already applied, and snapshots the table and the duplicate table when Raft's
//! saved state nears `max_raft_state`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use labrpc::{ClientEnd, Service, sim};
use raft::{APPLY_CHANNEL_CAPACITY, ApplyMsg, Persister, Raft};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::common::{Error, GetArgs, GetReply, PutAppendArgs, PutAppendOp, PutAppendReply};

/// How long a handler waits for its operation to be applied before answering `Timeout`.
const APPLY_WAIT: Duration = Duration::from_millis(700);

/// What an operation does.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Get,
    Put,
    Append,
}

/// An operation as it travels through the Raft log (encoded with postcard).
#[derive(Serialize, Deserialize, Debug, Clone)]
struct Op {
    kind: OpKind,
    key: String,
    value: String,
    client_id: u64,
    seq: u64,
}

/// What the applier tells the handler waiting at an index: whose operation was applied there,
/// and for a Get the value it read (`None`: no such key).
struct Applied {
    client_id: u64,
    seq: u64,
    value: Option<String>,
}

/// A handler waiting for the operation it started at some index.
struct Waiter {
    client_id: u64,
    seq: u64,
    tx: oneshot::Sender<Applied>,
}

/// What a snapshot holds: the last applied index, the table and the duplicate table.
#[derive(Serialize, Deserialize, Default)]
struct Snapshot {
    last_applied: u64,
    table: BTreeMap<String, String>,
    last_seq: BTreeMap<u64, u64>,
}

/// A key/value server. Cheap to clone: all clones are the same server.
#[derive(Clone)]
pub struct KvServer {
    state: Arc<Mutex<State>>,
    rf: Raft,
}

struct State {
    me: usize,
    /// Snapshot when Raft's persisted state reaches this many bytes; `None`: never snapshot.
    max_raft_state: Option<usize>,
    /// The same storage Raft saves to: its `raft_state_size()` tells when to snapshot, and on a
    /// restart `read_snapshot()` holds the last snapshot.
    persister: Persister,
    /// The key/value table, the last applied index and the duplicate table (client id -> highest
    /// applied Put/Append request number): what a snapshot saves.
    data: Snapshot,
    /// Handlers waiting for the operation at a log index.
    waiters: BTreeMap<u64, Waiter>,
}

impl State {
    /// Applies the committed command at `index` and wakes the handler waiting there.
    fn apply_command(&mut self, index: u64, command: &[u8]) {
        if index <= self.data.last_applied {
            return; // already covered by a snapshot
        }
        self.data.last_applied = index;
        let op: Op = postcard::from_bytes(command).expect("decoding an Op");
        let value = match op.kind {
            OpKind::Get => self.data.table.get(&op.key).cloned(),
            OpKind::Put | OpKind::Append => {
                let last = self.data.last_seq.get(&op.client_id).copied().unwrap_or(0);
                if op.seq > last {
                    let entry = self.data.table.entry(op.key.clone()).or_default();
                    if op.kind == OpKind::Put {
                        *entry = op.value.clone();
                    } else {
                        entry.push_str(&op.value);
                    }
                    self.data.last_seq.insert(op.client_id, op.seq);
                }
                None
            }
        };
        tracing::debug!(me = self.me, index, ?op.kind, key = op.key, "applied");
        let applied = Applied {
            client_id: op.client_id,
            seq: op.seq,
            value,
        };
        self.wake_through(index, Some(applied));
    }

    /// Replaces the state with a snapshot's, unless it is older than what is applied.
    fn install_snapshot(&mut self, index: u64, data: &[u8]) {
        if index <= self.data.last_applied {
            return;
        }
        self.data = postcard::from_bytes(data).expect("decoding a KV snapshot");
        self.data.last_applied = index;
        // The handlers waiting at skipped indices can't know what happened: let them retry.
        self.wake_through(index, None);
    }

    /// Removes the waiters at indices up to `index`: the one at `index` gets `applied`, the
    /// others (whose slot passed without news) are dropped, which makes their handlers retry.
    fn wake_through(&mut self, index: u64, applied: Option<Applied>) {
        let later = self.waiters.split_off(&(index + 1));
        let mut done = std::mem::replace(&mut self.waiters, later);
        if let (Some(w), Some(applied)) = (done.remove(&index), applied) {
            let _ = w.tx.send(applied);
        }
        // The rest of `done` is dropped here.
    }

    /// The snapshot to hand Raft after applying, if Raft's saved state is near the limit.
    fn snapshot_if_needed(&self) -> Option<Vec<u8>> {
        let max = self.max_raft_state?;
        (self.persister.raft_state_size() >= max * 9 / 10)
            .then(|| postcard::to_allocvec(&self.data).expect("encoding a KV snapshot"))
    }
}

impl KvServer {
    /// Starts a server: `servers` are the ends of all servers' Raft peers (`servers[me]` is
    /// this one's), `persister` holds what this server's previous incarnation saved. When
    /// `max_raft_state` is `Some(n)`, snapshots before Raft's saved state grows past `n` bytes.
    /// Returns at once; the applier runs in a task.
    pub fn new(
        servers: Vec<ClientEnd>,
        me: usize,
        persister: Persister,
        max_raft_state: Option<usize>,
    ) -> KvServer {
        let (apply_tx, apply_rx) = mpsc::channel(APPLY_CHANNEL_CAPACITY);
        let rf = Raft::new(servers, me, persister.clone(), apply_tx);
        let saved = persister.read_snapshot();
        let data = if saved.is_empty() {
            Snapshot::default()
        } else {
            postcard::from_bytes(&saved).expect("decoding a KV snapshot")
        };
        let kv = KvServer {
            state: Arc::new(Mutex::new(State {
                me,
                max_raft_state,
                persister,
                data,
                waiters: BTreeMap::new(),
            })),
            rf,
        };
        let applier = kv.clone();
        sim::spawn(async move { applier.applier(apply_rx).await });
        kv
    }

    /// Locks the server's state.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// This server's Raft peer (the tester registers its RPCs and asks it who leads).
    pub fn raft(&self) -> &Raft {
        &self.rf
    }

    /// The tester calls this when it shuts the server down.
    pub fn kill(&self) {
        self.rf.kill();
    }

    /// The RPC service the tester registers for this server (named "KVServer").
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
            kind: OpKind::Get,
            key: args.key,
            value: String::new(),
            client_id: args.client_id,
            seq: args.seq,
        };
        let result = match self.submit(op).await {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(Error::NoKey),
            Err(e) => Err(e),
        };
        GetReply { result }
    }

    /// The PutAppend RPC handler.
    async fn put_append(&self, args: PutAppendArgs) -> PutAppendReply {
        let kind = match args.op {
            PutAppendOp::Put => OpKind::Put,
            PutAppendOp::Append => OpKind::Append,
        };
        let op = Op {
            kind,
            key: args.key,
            value: args.value,
            client_id: args.client_id,
            seq: args.seq,
        };
        PutAppendReply {
            result: self.submit(op).await.map(|_| ()),
        }
    }

    /// Puts `op` into the Raft log and waits until the applier reports the operation applied
    /// at its index: `Ok` with a Get's value if it was `op`, an error otherwise.
    async fn submit(&self, op: Op) -> Result<Option<String>, Error> {
        let (client_id, seq) = (op.client_id, op.seq);
        let command = postcard::to_allocvec(&op).expect("encoding an Op");
        let (index, _term, is_leader) = self.rf.start(command).await;
        if !is_leader {
            return Err(Error::WrongLeader);
        }
        let (tx, rx) = oneshot::channel();
        // An older waiter at this index (from a lost leadership) is dropped: it retries.
        self.lock()
            .waiters
            .insert(index, Waiter { client_id, seq, tx });
        match tokio::time::timeout(APPLY_WAIT, rx).await {
            Ok(Ok(a)) if a.client_id == client_id && a.seq == seq => Ok(a.value),
            Ok(_) => Err(Error::WrongLeader), // another operation took the slot
            Err(_) => {
                let mut st = self.lock();
                if st
                    .waiters
                    .get(&index)
                    .is_some_and(|w| w.client_id == client_id && w.seq == seq)
                {
                    st.waiters.remove(&index);
                }
                Err(Error::Timeout)
            }
        }
    }

    /// Reads the apply channel: applies commands and installs snapshots in log order, and hands
    /// Raft a snapshot when its saved state nears the limit. Never holds the lock across an
    /// `.await`.
    async fn applier(&self, mut apply_rx: mpsc::Receiver<ApplyMsg>) {
        while let Some(msg) = apply_rx.recv().await {
            match msg {
                ApplyMsg::Command { index, command } => {
                    let snapshot = {
                        let mut st = self.lock();
                        st.apply_command(index, &command);
                        st.snapshot_if_needed()
                    };
                    if let Some(data) = snapshot {
                        self.rf.snapshot(index, data).await;
                    }
                }
                ApplyMsg::Snapshot { index, data, .. } => {
                    self.lock().install_snapshot(index, &data);
                }
            }
        }
    }
}
