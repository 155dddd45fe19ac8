//! Alternative solution of `shardkv/src/server.rs` (the `alternative` feature): a second,
//! independent solution, used to check that the graded tests do not punish a correct design that
//! differs from the reference. Not part of the handout.
//!
//! The sharded key/value server, one per Raft peer of a group. Everything that changes the state
//! goes through the Raft log and is applied by one applier: client operations (Gets included),
//! the next config, shards that arrive, and shards that may be forgotten. Each shard is in one of
//! four states: absent, serving, waiting for its data, or leaving (still held, not served, until
//! the new owner has it).
//!
//! Shards move by PUSH: the group that loses a shard sends it, with its duplicate table, to the
//! group that gains it, again and again until that group's leader answers that the install is
//! applied there; only then does the old owner put "forget it" through its own log, which frees
//! the data (challenge 1). The leader's poller asks the controller for the config after the
//! current one every 100 ms, and proposes it only when no shard is waiting or leaving, so configs
//! are applied one at a time and in order. Shards that are serving stay served during a change,
//! and a shard serves as soon as its data is installed (challenge 2).
//!
//! A handler tags its log entry with a random token and waits for the applier to report the
//! outcome at the entry's index; another token there means the entry was lost. Snapshots hold
//! the whole replicated state: config, shard states, data and duplicate tables.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use labrpc::{ClientEnd, Service, sim};
use raft::{APPLY_CHANNEL_CAPACITY, ApplyMsg, Persister, Raft};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::common::{
    Error, GetArgs, GetReply, InstallShardArgs, InstallShardReply, PutAppendArgs, PutAppendOp,
    PutAppendReply, ShardData,
};
use crate::{Config, Gid, MakeEnd, NSHARDS, key2shard};

/// How long a handler waits for its entry to be applied before answering `Timeout`.
const APPLY_WAIT: Duration = Duration::from_millis(600);
/// How often the leader asks the controller for the next config.
const POLL_EVERY: Duration = Duration::from_millis(100);
/// How often the leader (re)sends the shards it is losing.
const PUSH_EVERY: Duration = Duration::from_millis(50);

/// Where a shard stands in this group's current config.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Status {
    /// Not this group's shard; no data held.
    #[default]
    Absent,
    /// This group's shard, data present: served.
    Serving,
    /// This group's shard, data not arrived yet: not served.
    Waiting,
    /// No longer this group's shard; data held until group `to` has it: not served.
    Leaving { to: Gid },
}

/// One shard's state and data.
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
struct Shard {
    status: Status,
    data: ShardData,
}

/// What a log entry does.
#[derive(Serialize, Deserialize, Debug, Clone)]
enum Action {
    Get {
        key: String,
    },
    PutAppend {
        key: String,
        value: String,
        op: PutAppendOp,
        client: u64,
        seq: u64,
    },
    /// Move to this config (the one after the current).
    Reconfig(Config),
    /// A pushed shard arrives.
    Install {
        num: u64,
        shard: usize,
        data: ShardData,
    },
    /// The new owner has the shard that config `num` took away: forget it.
    Forget {
        num: u64,
        shard: usize,
    },
    /// Nothing: a new leader logs one so that the entries of earlier terms commit (and get
    /// applied, e.g. after the whole group restarted) even when nothing else is going on.
    Noop,
}

impl Action {
    /// A short name for the log.
    fn name(&self) -> &'static str {
        match self {
            Action::Get { .. } => "get",
            Action::PutAppend { .. } => "put/append",
            Action::Reconfig(_) => "reconfig",
            Action::Install { .. } => "install",
            Action::Forget { .. } => "forget",
            Action::Noop => "noop",
        }
    }
}

/// A log entry: an action and the random token of the handler that proposed it.
#[derive(Serialize, Deserialize, Debug, Clone)]
struct Entry {
    token: u64,
    action: Action,
}

/// What applying an entry produced: a Get's value, or why the action was refused.
type Outcome = Result<Option<String>, Error>;

/// A handler waiting for the entry it proposed at some index.
struct Waiter {
    token: u64,
    tx: oneshot::Sender<Outcome>,
}

/// The replicated state, all of which a snapshot holds.
#[derive(Serialize, Deserialize, Debug, Clone)]
struct Replicated {
    /// The index of the last applied log entry.
    last_applied: u64,
    /// The current config (config 0 at first).
    config: Config,
    /// The shards, by number.
    shards: Vec<Shard>,
}

impl Replicated {
    fn new() -> Replicated {
        Replicated {
            last_applied: 0,
            config: Config::default(),
            shards: vec![Shard::default(); NSHARDS],
        }
    }

    /// Whether no shard is waiting or leaving, so that the next config may be applied.
    fn stable(&self) -> bool {
        self.shards
            .iter()
            .all(|s| matches!(s.status, Status::Absent | Status::Serving))
    }

    /// The shard of `key`, if it is served.
    fn serving(&mut self, key: &str) -> Result<&mut Shard, Error> {
        let shard = &mut self.shards[key2shard(key)];
        match shard.status {
            Status::Serving => Ok(shard),
            _ => Err(Error::WrongGroup),
        }
    }

    /// Applies `action` for group `gid`.
    fn apply(&mut self, gid: Gid, action: Action) -> Outcome {
        match action {
            Action::Get { key } => {
                let shard = self.serving(&key)?;
                shard
                    .data
                    .kv
                    .get(&key)
                    .cloned()
                    .map(Some)
                    .ok_or(Error::NoKey)
            }
            Action::PutAppend {
                key,
                value,
                op,
                client,
                seq,
            } => {
                let shard = self.serving(&key)?;
                if seq > shard.data.dup.get(&client).copied().unwrap_or(0) {
                    let v = shard.data.kv.entry(key).or_default();
                    match op {
                        PutAppendOp::Put => *v = value,
                        PutAppendOp::Append => v.push_str(&value),
                    }
                    shard.data.dup.insert(client, seq);
                }
                Ok(None)
            }
            Action::Reconfig(next) => {
                self.reconfigure(gid, next);
                Ok(None)
            }
            Action::Install { num, shard, data } => {
                if num > self.config.num {
                    return Err(Error::NotReady);
                }
                let s = &mut self.shards[shard];
                if num == self.config.num && s.status == Status::Waiting {
                    *s = Shard {
                        status: Status::Serving,
                        data,
                    };
                }
                Ok(None) // installed now or before
            }
            Action::Forget { num, shard } => {
                let s = &mut self.shards[shard];
                if num == self.config.num && matches!(s.status, Status::Leaving { .. }) {
                    *s = Shard::default();
                }
                Ok(None)
            }
            Action::Noop => Ok(None),
        }
    }

    /// Moves to `next` if it is the config after the current one and no shard is in transit.
    fn reconfigure(&mut self, gid: Gid, next: Config) {
        if next.num != self.config.num + 1 || !self.stable() {
            return;
        }
        for (i, shard) in self.shards.iter_mut().enumerate() {
            let (old, new) = (self.config.shards[i], next.shards[i]);
            match (old == gid, new == gid) {
                (false, true) if old == 0 => shard.status = Status::Serving, // a new shard: empty
                (false, true) => shard.status = Status::Waiting,
                (true, false) if new == 0 => *shard = Shard::default(), // nobody to give it to
                (true, false) => shard.status = Status::Leaving { to: new },
                _ => {}
            }
        }
        self.config = next;
    }

    /// Whether the shard that config `num` brought here is installed already.
    fn installed(&self, num: u64, shard: usize) -> bool {
        num < self.config.num
            || (num == self.config.num && self.shards[shard].status == Status::Serving)
    }
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
    /// Makes an end to a server named in a config (of this group or another).
    make_end: MakeEnd,
    /// The ends made so far, by server name.
    ends: BTreeMap<String, ClientEnd>,
    /// Per other group: the position of the server that last acknowledged a push.
    leaders: BTreeMap<Gid, usize>,
    /// The shards a push task is sending now (so that only one task sends each).
    pushing: BTreeSet<usize>,
    /// The replicated state.
    rep: Replicated,
    /// Handlers waiting for the entry at a log index.
    waiters: BTreeMap<u64, Waiter>,
}

impl State {
    /// Applies the entry at `index` and tells its handler, if it waits, the outcome.
    fn apply_entry(&mut self, index: u64, command: &[u8]) {
        if index <= self.rep.last_applied {
            return; // a snapshot covered it
        }
        self.rep.last_applied = index;
        let entry: Entry = postcard::from_bytes(command).expect("decoding an Entry");
        tracing::debug!(
            me = self.me,
            gid = self.gid,
            index,
            action = entry.action.name(),
            "apply"
        );
        let outcome = self.rep.apply(self.gid, entry.action);
        let later = self.waiters.split_off(&(index + 1));
        let mut passed = std::mem::replace(&mut self.waiters, later);
        if let Some(w) = passed.remove(&index)
            && w.token == entry.token
        {
            let _ = w.tx.send(outcome);
        }
        // The other waiters in `passed` are dropped: their entries were lost.
    }

    /// Replaces the replicated state with a snapshot's, unless it is older than what is applied.
    fn install_snapshot(&mut self, index: u64, data: &[u8]) {
        if index <= self.rep.last_applied {
            return;
        }
        self.rep = postcard::from_bytes(data).expect("decoding a snapshot");
        self.rep.last_applied = index;
        self.waiters = self.waiters.split_off(&(index + 1));
    }

    /// The snapshot to hand Raft, if its saved state nears the limit.
    fn snapshot_if_needed(&self) -> Option<Vec<u8>> {
        let max = self.max_raft_state?;
        (self.persister.raft_state_size() >= max * 9 / 10)
            .then(|| postcard::to_allocvec(&self.rep).expect("encoding a snapshot"))
    }

    /// The end to the server `name` (made once, then kept).
    fn end(&mut self, name: &str) -> ClientEnd {
        if let Some(end) = self.ends.get(name) {
            return end.clone();
        }
        let end = (self.make_end)(name);
        self.ends.insert(name.to_string(), end.clone());
        end
    }
}

/// One shard to push: where to, and what.
struct Push {
    to: Gid,
    servers: Vec<String>,
    args: InstallShardArgs,
}

impl ShardKv {
    /// Starts a server of group `gid`: `servers` are the ends of the group's Raft peers
    /// (`servers[me]` is this one's), `persister` holds what this server's previous incarnation
    /// saved, `ctrlers` are ends to the shard controller's servers, and `make_end` makes ends to
    /// the servers a config names. When `max_raft_state` is `Some(n)`, snapshots before Raft's
    /// saved state grows past `n` bytes. Returns at once; the work runs in tasks.
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
        let saved = persister.read_snapshot();
        let rep = if saved.is_empty() {
            Replicated::new()
        } else {
            postcard::from_bytes(&saved).expect("decoding a snapshot")
        };
        let kv = ShardKv {
            state: Arc::new(Mutex::new(State {
                me,
                gid,
                max_raft_state,
                persister,
                make_end,
                ends: BTreeMap::new(),
                leaders: BTreeMap::new(),
                pushing: BTreeSet::new(),
                rep,
                waiters: BTreeMap::new(),
            })),
            rf,
        };
        let ctrler = shardctrler::Clerk::new(ctrlers);
        let (applier, poller, pusher) = (kv.clone(), kv.clone(), kv.clone());
        sim::spawn(async move { applier.applier(apply_rx).await });
        sim::spawn(async move { poller.poll_configs(ctrler).await });
        sim::spawn(async move { pusher.push_shards().await });
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

    /// The RPC service the tester registers for this server (named "ShardKV"): the clerks'
    /// Get and PutAppend, and InstallShard, which groups push shards with.
    pub fn service(&self) -> Service {
        let (g, p, i) = (self.clone(), self.clone(), self.clone());
        Service::new("ShardKV")
            .method("Get", move |args: GetArgs| {
                let kv = g.clone();
                async move { kv.get(args).await }
            })
            .method("PutAppend", move |args: PutAppendArgs| {
                let kv = p.clone();
                async move { kv.put_append(args).await }
            })
            .method("InstallShard", move |args: InstallShardArgs| {
                let kv = i.clone();
                async move { kv.install_shard(args).await }
            })
    }

    /// The Get RPC handler.
    async fn get(&self, args: GetArgs) -> GetReply {
        let outcome = self.submit(Action::Get { key: args.key }).await;
        GetReply {
            result: outcome.and_then(|v| v.ok_or(Error::NoKey)),
        }
    }

    /// The PutAppend RPC handler.
    async fn put_append(&self, args: PutAppendArgs) -> PutAppendReply {
        let action = Action::PutAppend {
            key: args.key,
            value: args.value,
            op: args.op,
            client: args.client,
            seq: args.seq,
        };
        PutAppendReply {
            result: self.submit(action).await.map(|_| ()),
        }
    }

    /// The InstallShard RPC handler: answers at once when the shard is installed already (any
    /// replica may say so, its state being committed) or the push is early; otherwise puts the
    /// install through the log.
    async fn install_shard(&self, args: InstallShardArgs) -> InstallShardReply {
        let (num, shard) = (args.num, args.shard);
        {
            let st = self.lock();
            if st.rep.installed(num, shard) {
                return InstallShardReply { result: Ok(()) };
            }
            if num > st.rep.config.num {
                return InstallShardReply {
                    result: Err(Error::NotReady),
                };
            }
        }
        let action = Action::Install {
            num,
            shard,
            data: args.data,
        };
        InstallShardReply {
            result: self.submit(action).await.map(|_| ()),
        }
    }

    /// Proposes `action` and waits until the applier reports its outcome.
    async fn submit(&self, action: Action) -> Outcome {
        let token = sim::random_range(1..u64::MAX);
        let command = postcard::to_allocvec(&Entry { token, action }).expect("encoding an Entry");
        let (index, _term, is_leader) = self.rf.start(command).await;
        if !is_leader {
            return Err(Error::WrongLeader);
        }
        let (tx, rx) = oneshot::channel();
        {
            let mut st = self.lock();
            if st.rep.last_applied >= index {
                return Err(Error::WrongLeader); // applied before we could wait: unknown outcome
            }
            st.waiters.insert(index, Waiter { token, tx });
        }
        match tokio::time::timeout(APPLY_WAIT, rx).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(Error::WrongLeader), // another entry took the index
            Err(_) => {
                let mut st = self.lock();
                if st.waiters.get(&index).is_some_and(|w| w.token == token) {
                    st.waiters.remove(&index);
                }
                Err(Error::Timeout)
            }
        }
    }

    /// Applies committed entries and snapshots in log order, and snapshots when Raft's saved
    /// state nears the limit.
    async fn applier(&self, mut apply_rx: mpsc::Receiver<ApplyMsg>) {
        while let Some(msg) = apply_rx.recv().await {
            match msg {
                ApplyMsg::Command { index, command } => {
                    let snapshot = {
                        let mut st = self.lock();
                        st.apply_entry(index, &command);
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

    /// While leader: every `POLL_EVERY`, when no shard is in transit, asks the controller for the
    /// config after the current one and proposes it. Also logs a no-op once per term it leads.
    async fn poll_configs(&self, mut ctrler: shardctrler::Clerk) {
        let mut noop_term = 0;
        loop {
            tokio::time::sleep(POLL_EVERY).await;
            let (term, is_leader) = self.rf.get_state().await;
            if !is_leader {
                continue;
            }
            if term > noop_term {
                noop_term = term;
                let command = postcard::to_allocvec(&Entry {
                    token: 0,
                    action: Action::Noop,
                })
                .expect("encoding an Entry");
                self.rf.start(command).await;
            }
            let (num, stable) = {
                let st = self.lock();
                (st.rep.config.num, st.rep.stable())
            };
            if !stable {
                continue;
            }
            let next = ctrler.query(Some(num + 1)).await;
            if next.num == num + 1 {
                let _ = self.submit(Action::Reconfig(next)).await;
            }
        }
    }

    /// While leader: every `PUSH_EVERY`, starts a push task for each leaving shard that has none.
    async fn push_shards(&self) {
        loop {
            tokio::time::sleep(PUSH_EVERY).await;
            if !self.rf.get_state().await.1 {
                continue;
            }
            for push in self.pushes_to_start() {
                let kv = self.clone();
                sim::spawn(async move { kv.push(push).await });
            }
        }
    }

    /// The leaving shards no task pushes now (now marked as pushed).
    fn pushes_to_start(&self) -> Vec<Push> {
        let mut guard = self.lock();
        let st = &mut *guard;
        let mut pushes = Vec::new();
        for (shard, s) in st.rep.shards.iter().enumerate() {
            let Status::Leaving { to } = s.status else {
                continue;
            };
            if !st.pushing.insert(shard) {
                continue;
            }
            pushes.push(Push {
                to,
                servers: st.rep.config.groups.get(&to).cloned().unwrap_or_default(),
                args: InstallShardArgs {
                    num: st.rep.config.num,
                    shard,
                    data: s.data.clone(),
                },
            });
        }
        pushes
    }

    /// Offers one shard to each server of its new group in turn; once one acknowledges it,
    /// proposes to forget it here.
    async fn push(&self, push: Push) {
        let Push { to, servers, args } = push;
        let start = self.lock().leaders.get(&to).copied().unwrap_or(0);
        for k in 0..servers.len() {
            let i = (start + k) % servers.len();
            let end = self.lock().end(&servers[i]);
            let reply = end
                .call::<InstallShardArgs, InstallShardReply>("ShardKV.InstallShard", &args)
                .await;
            if let Ok(InstallShardReply { result: Ok(()) }) = reply {
                self.lock().leaders.insert(to, i);
                let forget = Action::Forget {
                    num: args.num,
                    shard: args.shard,
                };
                let _ = self.submit(forget).await;
                break;
            }
        }
        self.lock().pushing.remove(&args.shard);
    }
}
