//! Reference solution of `shardkv/src/server.rs`: a server of one replica group.
//!
//! Everything that changes the group's state goes through its Raft log, so every replica makes
//! the same changes in the same order: clients' operations, the next config, shards arriving,
//! shards handed over. Three tasks of the leader drive a reconfiguration:
//! - the poller asks the controller for the config after the current one, once the current one
//!   is complete (every shard served or not owned), and puts it in the log;
//! - the mover pulls each gained shard (its data and its duplicate table) from its previous
//!   owner and puts it in the log; and, once a gained shard is in, tells the previous owner to
//!   drop it and logs that the hand-over is done.
//!
//! A shard's [`Status`] says where it stands. A lost shard stops being served as soon as the
//! config that takes it is applied; a gained one is served as soon as its data is applied,
//! whatever other shards still wait (challenge 2); a handed-over shard is dropped once its new
//! owner has it (challenge 1).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use labrpc::{ClientEnd, Service, sim};
use raft::{APPLY_CHANNEL_CAPACITY, ApplyMsg, Persister, Raft};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::time::sleep;

use crate::common::{
    DeleteArgs, DeleteReply, Error, GetArgs, GetReply, PullArgs, PullReply, PutAppendArgs,
    PutAppendOp, PutAppendReply, RequestId, ShardData,
};
use crate::{Config, Gid, MakeEnd, NSHARDS, key2shard};

/// How long a handler waits for its operation to be applied before answering Timeout.
const APPLY_WAIT: Duration = Duration::from_millis(600);
/// How often the leader asks the controller for the next config.
const POLL_EVERY: Duration = Duration::from_millis(100);
/// How often the leader pulls the shards it waits for and hands over the ones it got.
const MOVE_EVERY: Duration = Duration::from_millis(50);

/// Where one shard stands in the current config.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Status {
    /// Not this group's.
    #[default]
    NotOwned,
    /// This group's, and here.
    Serving,
    /// This group's since the current config; its data has not arrived yet.
    Pulling,
    /// Taken from this group by the current config; kept until the new owner has it.
    HandingOver,
    /// Arrived in the current config and served; its previous owner has not dropped it yet.
    Arrived,
}

/// One shard's status and contents.
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
struct Shard {
    status: Status,
    content: ShardData,
}

/// What a client asked for.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
enum Request {
    Get,
    Put(String),
    Append(String),
}

/// An operation as it travels through the Raft log.
#[derive(Serialize, Deserialize, Debug, Clone)]
enum Op {
    /// A client's request.
    Client {
        key: String,
        request: Request,
        id: RequestId,
    },
    /// The next config.
    Config(Config),
    /// Shards gained in config `num`, pulled from their previous owner.
    Install {
        num: u64,
        shards: BTreeMap<usize, ShardData>,
    },
    /// Shards lost in config `num` that their new owner has.
    Drop { num: u64, shards: Vec<usize> },
    /// Shards gained in config `num` that their previous owner has dropped.
    HandedOver { num: u64, shards: Vec<usize> },
    /// Nothing: a new leader's first entry, which commits what earlier terms left in the log
    /// (Raft commits an earlier term's entries only with one of its own term).
    Nothing,
}

/// The replicated state: what a snapshot holds.
#[derive(Serialize, Deserialize, Debug, Clone)]
struct Machine {
    gid: Gid,
    config: Config,
    /// The config before `config`: where gained shards come from.
    prev: Config,
    shards: Vec<Shard>,
}

/// A server of one replica group. Cheap to clone: all clones are the same server.
#[derive(Clone)]
pub struct ShardKv {
    state: Arc<Mutex<State>>,
    rf: Raft,
}

type Waiter = oneshot::Sender<Result<String, Error>>;

struct State {
    max_raft_state: Option<usize>,
    persister: Persister,
    make_end: MakeEnd,
    /// Ends made so far, by server name.
    ends: BTreeMap<String, ClientEnd>,
    machine: Machine,
    last_applied: u64,
    /// Handlers waiting for their client request, by (client, seq).
    waiters: BTreeMap<(u64, u64), Vec<Waiter>>,
}

impl ShardKv {
    /// Starts a server of group `gid` (see the student file for the contract).
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
        let fresh = Machine {
            gid,
            config: Config::default(),
            prev: Config::default(),
            shards: vec![Shard::default(); NSHARDS],
        };
        let (machine, last_applied) = decode_snapshot(&persister.read_snapshot(), fresh);
        let rf = Raft::new(servers, me, persister.clone(), apply_tx);
        let kv = ShardKv {
            state: Arc::new(Mutex::new(State {
                max_raft_state,
                persister,
                make_end,
                ends: BTreeMap::new(),
                machine,
                last_applied,
                waiters: BTreeMap::new(),
            })),
            rf,
        };
        let (applier, poller, mover) = (kv.clone(), kv.clone(), kv.clone());
        sim::spawn(async move { applier.applier(apply_rx).await });
        let ctrler = shardctrler::Clerk::new(ctrlers);
        sim::spawn(async move { poller.poller(ctrler).await });
        sim::spawn(async move { mover.mover().await });
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

    /// The RPC service the tester registers for this server: the clerks' Get and PutAppend, and
    /// the groups' PullShards and DeleteShards.
    pub fn service(&self) -> Service {
        let (g, p, pull, del) = (self.clone(), self.clone(), self.clone(), self.clone());
        Service::new("ShardKV")
            .method("Get", move |args: GetArgs| {
                let kv = g.clone();
                async move {
                    let result = kv.execute(args.key, Request::Get, args.id).await;
                    GetReply { result }
                }
            })
            .method("PutAppend", move |args: PutAppendArgs| {
                let kv = p.clone();
                async move {
                    let request = match args.op {
                        PutAppendOp::Put => Request::Put(args.value),
                        PutAppendOp::Append => Request::Append(args.value),
                    };
                    let result = kv.execute(args.key, request, args.id).await;
                    PutAppendReply {
                        result: result.map(drop),
                    }
                }
            })
            .method("PullShards", move |args: PullArgs| {
                let kv = pull.clone();
                async move { kv.pull_shards(args) }
            })
            .method("DeleteShards", move |args: DeleteArgs| {
                let kv = del.clone();
                async move { kv.delete_shards(args).await }
            })
    }

    /// Starts `op` in Raft; whether this server leads.
    async fn submit(&self, op: &Op) -> bool {
        let Ok(command) = postcard::to_allocvec(op) else {
            return false;
        };
        self.rf.start(command).await.2
    }

    /// Runs a client's request through the log and waits until it is applied; returns what it
    /// read.
    async fn execute(&self, key: String, request: Request, id: RequestId) -> Result<String, Error> {
        let waiting = (id.client, id.seq);
        let rx = {
            let mut st = self.lock();
            let shard = &st.machine.shards[key2shard(&key)];
            if !st.machine.serves(key2shard(&key)) {
                return Err(Error::WrongGroup);
            }
            if request != Request::Get
                && shard
                    .content
                    .last_seq
                    .get(&id.client)
                    .is_some_and(|&s| s >= id.seq)
            {
                return Ok(String::new()); // already applied: a retry of an answered request
            }
            let (tx, rx) = oneshot::channel();
            st.waiters.entry(waiting).or_default().push(tx);
            rx
        };
        if !self.submit(&Op::Client { key, request, id }).await {
            self.forget(waiting);
            return Err(Error::WrongLeader);
        }
        match tokio::time::timeout(APPLY_WAIT, rx).await {
            Ok(Ok(result)) => result,
            _ => {
                self.forget(waiting);
                Err(Error::Timeout)
            }
        }
    }

    /// Drops the waiters of a request nobody will answer here.
    fn forget(&self, waiting: (u64, u64)) {
        let mut st = self.lock();
        if let Some(ws) = st.waiters.get_mut(&waiting) {
            ws.retain(|w| !w.is_closed());
            if ws.is_empty() {
                st.waiters.remove(&waiting);
            }
        }
    }

    /// PullShards: the contents of shards this group hands over in config `num`. Any replica
    /// may answer: once the config is applied, those shards no longer change.
    fn pull_shards(&self, args: PullArgs) -> PullReply {
        let st = self.lock();
        let m = &st.machine;
        let ready = m.config.num == args.num
            && args
                .shards
                .iter()
                .all(|&s| m.shards.get(s).map(|sh| sh.status) == Some(Status::HandingOver));
        if !ready {
            return PullReply {
                result: Err(Error::NotReady),
            };
        }
        let shards = args
            .shards
            .iter()
            .map(|&s| (s, m.shards[s].content.clone()))
            .collect();
        PullReply { result: Ok(shards) }
    }

    /// DeleteShards: the new owner has the shards of config `num`; drop them through the log.
    async fn delete_shards(&self, args: DeleteArgs) -> DeleteReply {
        let done = |kv: &ShardKv| {
            let st = kv.lock();
            let m = &st.machine;
            m.config.num > args.num
                || (m.config.num == args.num
                    && args
                        .shards
                        .iter()
                        .all(|&s| m.shards.get(s).map(|sh| sh.status) != Some(Status::HandingOver)))
        };
        if self.lock().machine.config.num < args.num {
            return DeleteReply {
                result: Err(Error::NotReady),
            };
        }
        if done(self) {
            return DeleteReply { result: Ok(()) };
        }
        let op = Op::Drop {
            num: args.num,
            shards: args.shards.clone(),
        };
        if !self.submit(&op).await {
            return DeleteReply {
                result: Err(Error::WrongLeader),
            };
        }
        let deadline = tokio::time::Instant::now() + APPLY_WAIT;
        while tokio::time::Instant::now() < deadline {
            sleep(Duration::from_millis(10)).await;
            if done(self) {
                return DeleteReply { result: Ok(()) };
            }
        }
        DeleteReply {
            result: Err(Error::Timeout),
        }
    }

    /// The leader's poller: puts the config after the current one in the log, once the current
    /// one is complete. In each new term it first logs [`Op::Nothing`]: after a restart of the
    /// whole group, what the log holds is applied only once an entry of the new term commits,
    /// and a group waiting for its own shards' hand-over may have nothing else to log.
    async fn poller(&self, mut ctrler: shardctrler::Clerk) {
        let mut nothing_in_term = 0;
        loop {
            sleep(POLL_EVERY).await;
            let (term, leads) = self.rf.get_state().await;
            if !leads {
                continue;
            }
            if term != nothing_in_term && self.submit(&Op::Nothing).await {
                nothing_in_term = term;
            }
            let (num, complete) = {
                let st = self.lock();
                (st.machine.config.num, st.machine.complete())
            };
            if !complete {
                continue;
            }
            let next = ctrler.query(Some(num + 1)).await;
            if next.num == num + 1 {
                self.submit(&Op::Config(next)).await;
            }
        }
    }

    /// The leader's mover: pulls the shards the group waits for and tells their previous owners
    /// to drop the ones that arrived, one task per previous owner.
    async fn mover(&self) {
        loop {
            sleep(MOVE_EVERY).await;
            if !self.rf.get_state().await.1 {
                continue;
            }
            let (num, pulls, drops) = {
                let st = self.lock();
                let m = &st.machine;
                (
                    m.config.num,
                    m.by_previous_owner(Status::Pulling),
                    m.by_previous_owner(Status::Arrived),
                )
            };
            let mut tasks = Vec::new();
            for (servers, shards) in pulls {
                let kv = self.clone();
                tasks.push(sim::spawn(async move {
                    kv.pull_from(&servers, num, shards).await
                }));
            }
            for (servers, shards) in drops {
                let kv = self.clone();
                tasks.push(sim::spawn(async move {
                    kv.hand_over(&servers, num, shards).await
                }));
            }
            for t in tasks {
                let _ = t.await;
            }
        }
    }

    fn end(&self, name: &str) -> ClientEnd {
        let mut st = self.lock();
        if let Some(end) = st.ends.get(name) {
            return end.clone();
        }
        let end = (st.make_end)(name);
        st.ends.insert(name.to_string(), end.clone());
        end
    }

    /// Asks the servers of the previous owner for `shards` of config `num`; logs them.
    async fn pull_from(&self, servers: &[String], num: u64, shards: Vec<usize>) {
        let args = PullArgs { num, shards };
        for name in servers {
            let reply = self
                .end(name)
                .call::<_, PullReply>("ShardKV.PullShards", &args)
                .await;
            if let Ok(PullReply { result: Ok(shards) }) = reply {
                self.submit(&Op::Install { num, shards }).await;
                return;
            }
        }
    }

    /// Tells the previous owner to drop `shards` of config `num`; logs that it did.
    async fn hand_over(&self, servers: &[String], num: u64, shards: Vec<usize>) {
        let args = DeleteArgs {
            num,
            shards: shards.clone(),
        };
        for name in servers {
            let reply = self
                .end(name)
                .call::<_, DeleteReply>("ShardKV.DeleteShards", &args)
                .await;
            if let Ok(DeleteReply { result: Ok(()) }) = reply {
                self.submit(&Op::HandedOver { num, shards }).await;
                return;
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
                        let fresh = st.machine.clone();
                        let (machine, at) = decode_snapshot(&data, fresh);
                        st.machine = machine;
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
            if let Op::Client { key, request, id } = op {
                let result = st.machine.apply_request(&key, &request, id);
                if let Some(ws) = st.waiters.remove(&(id.client, id.seq)) {
                    for w in ws {
                        let _ = w.send(result.clone());
                    }
                }
            } else {
                st.machine.apply_change(op);
            }
        }
        let limit = st.max_raft_state?;
        if st.persister.raft_state_size() < limit * 3 / 4 {
            return None;
        }
        let data = postcard::to_allocvec(&(index, &st.machine)).ok()?;
        Some((index, data))
    }
}

impl Machine {
    /// Whether this group serves `shard` now: it owns it and has its data.
    fn serves(&self, shard: usize) -> bool {
        self.config.shards[shard] == self.gid
            && matches!(self.shards[shard].status, Status::Serving | Status::Arrived)
    }

    /// Whether the current config is complete: every shard served or not owned.
    fn complete(&self) -> bool {
        self.shards
            .iter()
            .all(|s| matches!(s.status, Status::Serving | Status::NotOwned))
    }

    /// The shards with `status`, grouped by their owner in the previous config (by its servers).
    fn by_previous_owner(&self, status: Status) -> Vec<(Vec<String>, Vec<usize>)> {
        let mut by_gid: BTreeMap<Gid, Vec<usize>> = BTreeMap::new();
        for (s, shard) in self.shards.iter().enumerate() {
            if shard.status == status {
                by_gid.entry(self.prev.shards[s]).or_default().push(s);
            }
        }
        by_gid
            .into_iter()
            .map(|(gid, shards)| {
                (
                    self.prev.groups.get(&gid).cloned().unwrap_or_default(),
                    shards,
                )
            })
            .collect()
    }

    /// Applies a client's request if this group serves its key (each Put/Append once per
    /// request id); returns what a Get reads.
    fn apply_request(
        &mut self,
        key: &str,
        request: &Request,
        id: RequestId,
    ) -> Result<String, Error> {
        let s = key2shard(key);
        if !self.serves(s) {
            return Err(Error::WrongGroup);
        }
        let content = &mut self.shards[s].content;
        if *request == Request::Get {
            return content.data.get(key).cloned().ok_or(Error::NoKey);
        }
        if content
            .last_seq
            .get(&id.client)
            .is_some_and(|&s| s >= id.seq)
        {
            return Ok(String::new());
        }
        content.last_seq.insert(id.client, id.seq);
        match request {
            Request::Put(v) => {
                content.data.insert(key.to_string(), v.clone());
            }
            Request::Append(v) => content.data.entry(key.to_string()).or_default().push_str(v),
            Request::Get => {}
        }
        Ok(String::new())
    }

    /// Applies a step of a reconfiguration, if it is the step due now.
    fn apply_change(&mut self, op: Op) {
        match op {
            Op::Config(next) => self.next_config(next),
            Op::Install { num, shards } if num == self.config.num => {
                for (s, content) in shards {
                    if self.shards[s].status == Status::Pulling {
                        self.shards[s] = Shard {
                            status: Status::Arrived,
                            content,
                        };
                    }
                }
            }
            Op::Drop { num, shards } if num == self.config.num => {
                for s in shards {
                    if self.shards[s].status == Status::HandingOver {
                        self.shards[s] = Shard::default();
                    }
                }
            }
            Op::HandedOver { num, shards } if num == self.config.num => {
                for s in shards {
                    if self.shards[s].status == Status::Arrived {
                        self.shards[s].status = Status::Serving;
                    }
                }
            }
            _ => {}
        }
    }

    /// Moves to config `next` if it is the one after the current one and the current one is
    /// complete. A shard this group loses stops being served at once; a shard it gains waits
    /// for its data, except one that no group served before (it starts empty). A shard whose
    /// new owner is no group at all is dropped.
    fn next_config(&mut self, next: Config) {
        if next.num != self.config.num + 1 || !self.complete() {
            return;
        }
        for s in 0..NSHARDS {
            let (was, will) = (
                self.config.shards[s] == self.gid,
                next.shards[s] == self.gid,
            );
            self.shards[s].status = match (was, will) {
                (true, true) => Status::Serving,
                (false, true) if self.config.shards[s] == 0 => Status::Serving,
                (false, true) => Status::Pulling,
                (true, false) if next.shards[s] != 0 => Status::HandingOver,
                _ => Status::NotOwned,
            };
            if self.shards[s].status == Status::NotOwned {
                self.shards[s].content = ShardData::default();
            }
        }
        self.prev = std::mem::replace(&mut self.config, next);
    }
}

/// The state and index a snapshot holds (`fresh` and 0 for no snapshot).
fn decode_snapshot(data: &[u8], fresh: Machine) -> (Machine, u64) {
    if data.is_empty() {
        return (fresh, 0);
    }
    postcard::from_bytes::<(u64, Machine)>(data)
        .map(|(index, machine)| (machine, index))
        .unwrap_or((fresh, 0))
}
