//! Alternative solution of `shardctrler/src/server.rs` (the `alternative` feature): a second,
//! independent solution, used to check that the graded tests do not punish a correct design that
//! differs from the reference. Not part of the handout.
//!
//! The controller server. Every request, Queries included, goes through the Raft log. The applier
//! is the only code that changes the state: it records, per clerk, the last request it applied
//! and what it answered (for a Query, the config number), and publishes the last applied index on
//! a watch channel. A handler starts its operation, waits until the applied index reaches the
//! operation's, and then looks up its clerk's entry: if it holds its own request, that is the
//! answer; otherwise another operation took the slot and the clerk must retry elsewhere.
//!
//! Rebalancing gives every group `NSHARDS / n` or one more shards. The groups that keep the
//! larger share are those already holding the most shards, ties going to the HIGHER gid; a group
//! over its share gives up its highest-numbered shards, and the freed shards (lowest number
//! first) go to the groups under their share, fullest share first, then higher gid first. That
//! keeps as many shards in place as a balanced assignment can, and depends only on the config.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use labrpc::{ClientEnd, Service, sim};
use raft::{APPLY_CHANNEL_CAPACITY, ApplyMsg, Persister, Raft};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};

use crate::common::{
    Error, JoinArgs, JoinReply, LeaveArgs, LeaveReply, MoveArgs, MoveReply, QueryArgs, QueryReply,
    RequestId,
};
use crate::{Config, Gid, NSHARDS};

/// How long a handler waits for its operation to be applied before answering `Timeout`.
const APPLY_WAIT: Duration = Duration::from_millis(800);

/// What an operation does.
#[derive(Serialize, Deserialize, Debug, Clone)]
enum Action {
    Join(BTreeMap<Gid, Vec<String>>),
    Leave(Vec<Gid>),
    Move { shard: usize, gid: Gid },
    Query(Option<u64>),
}

/// An operation as it travels through the Raft log (encoded with postcard).
#[derive(Serialize, Deserialize, Debug, Clone)]
struct Op {
    id: RequestId,
    action: Action,
}

/// The last request the applier applied for one clerk, and the config number a Query answered.
#[derive(Debug, Clone, Copy)]
struct Done {
    seq: u64,
    config: u64,
}

/// A shard controller server. Cheap to clone: all clones are the same server.
#[derive(Clone)]
pub struct ShardCtrler {
    state: Arc<Mutex<State>>,
    rf: Raft,
    /// The index of the last applied log entry, as the applier publishes it.
    applied: watch::Receiver<u64>,
}

struct State {
    me: usize,
    /// Every config so far, indexed by number; config 0 has no groups.
    configs: Vec<Config>,
    /// The index of the last applied log entry.
    last_applied: u64,
    /// Per clerk id: its last applied request.
    done: BTreeMap<u64, Done>,
}

impl State {
    /// Applies `op` unless its clerk's request was already applied.
    fn apply(&mut self, op: Op) {
        let seen = self.done.get(&op.id.client).map_or(0, |d| d.seq);
        if op.id.seq <= seen {
            return;
        }
        let latest = self.configs.last().expect("config 0 exists").clone();
        let mut next = Config {
            num: latest.num + 1,
            ..latest
        };
        let config = match op.action {
            Action::Query(num) => num.map_or(latest.num, |n| n.min(latest.num)),
            Action::Join(groups) => {
                next.groups.extend(groups);
                rebalance(&mut next);
                self.push(next)
            }
            Action::Leave(gids) => {
                for gid in &gids {
                    next.groups.remove(gid);
                }
                rebalance(&mut next);
                self.push(next)
            }
            Action::Move { shard, gid } => {
                if let Some(s) = next.shards.get_mut(shard) {
                    *s = gid;
                }
                self.push(next)
            }
        };
        let done = Done {
            seq: op.id.seq,
            config,
        };
        self.done.insert(op.id.client, done);
    }

    /// Appends `config` to the history and returns its number.
    fn push(&mut self, config: Config) -> u64 {
        let num = config.num;
        tracing::debug!(me = self.me, num, shards = ?config.shards, "new config");
        self.configs.push(config);
        num
    }
}

/// Reassigns the shards of `config` evenly over its groups, keeping as many in place as possible
/// (see the module comment for the order). With no groups every shard goes to gid 0.
fn rebalance(config: &mut Config) {
    let n = config.groups.len();
    if n == 0 {
        config.shards = [0; NSHARDS];
        return;
    }
    // The shards each group keeps for now (ascending), and those no group holds.
    let mut held: BTreeMap<Gid, Vec<usize>> = config.groups.keys().map(|&g| (g, vec![])).collect();
    let mut free = Vec::new();
    for (shard, gid) in config.shards.iter().enumerate() {
        match held.get_mut(gid) {
            Some(v) => v.push(shard),
            None => free.push(shard),
        }
    }
    // The most loaded groups (then the higher gids) get the larger share.
    let mut order: Vec<Gid> = held.keys().copied().collect();
    order.sort_by(|a, b| held[b].len().cmp(&held[a].len()).then(b.cmp(a)));
    let (base, extra) = (NSHARDS / n, NSHARDS % n);
    let share: BTreeMap<Gid, usize> = order
        .iter()
        .enumerate()
        .map(|(i, &g)| (g, base + usize::from(i < extra)))
        .collect();
    for (gid, shards) in held.iter_mut() {
        while shards.len() > share[gid] {
            free.push(shards.pop().expect("over its share, so not empty"));
        }
    }
    free.sort_unstable();
    let mut free = free.into_iter();
    for gid in order {
        for _ in held[&gid].len()..share[&gid] {
            let shard = free.next().expect("the shares add up to NSHARDS");
            config.shards[shard] = gid;
        }
    }
}

impl ShardCtrler {
    /// Starts a controller server: `servers` are the ends of all controller servers' Raft peers
    /// (`servers[me]` is this one's), `persister` holds what this server's previous incarnation
    /// saved. Must return quickly.
    pub fn new(servers: Vec<ClientEnd>, me: usize, persister: Persister) -> ShardCtrler {
        let (apply_tx, apply_rx) = mpsc::channel(APPLY_CHANNEL_CAPACITY);
        let rf = Raft::new(servers, me, persister, apply_tx);
        let (applied_tx, applied) = watch::channel(0);
        let sc = ShardCtrler {
            state: Arc::new(Mutex::new(State {
                me,
                configs: vec![Config::default()],
                last_applied: 0,
                done: BTreeMap::new(),
            })),
            rf,
            applied,
        };
        let applier = sc.clone();
        sim::spawn(async move { applier.applier(apply_rx, applied_tx).await });
        sc
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

    /// Every config this server has applied so far, config 0 first. The tester compares the
    /// servers' lists: every server must have made the same config for each number.
    pub fn configs(&self) -> Vec<Config> {
        self.lock().configs.clone()
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
        let op = Op {
            id: args.id,
            action: Action::Join(args.servers),
        };
        JoinReply {
            result: self.submit(op).await.map(|_| ()),
        }
    }

    /// The Leave RPC handler.
    async fn leave(&self, args: LeaveArgs) -> LeaveReply {
        let op = Op {
            id: args.id,
            action: Action::Leave(args.gids),
        };
        LeaveReply {
            result: self.submit(op).await.map(|_| ()),
        }
    }

    /// The Move RPC handler.
    async fn move_shard(&self, args: MoveArgs) -> MoveReply {
        let op = Op {
            id: args.id,
            action: Action::Move {
                shard: args.shard,
                gid: args.gid,
            },
        };
        MoveReply {
            result: self.submit(op).await.map(|_| ()),
        }
    }

    /// The Query RPC handler.
    async fn query(&self, args: QueryArgs) -> QueryReply {
        let op = Op {
            id: args.id,
            action: Action::Query(args.num),
        };
        let result = match self.submit(op).await {
            Ok(num) => Ok(self.lock().configs[num as usize].clone()),
            Err(e) => Err(e),
        };
        QueryReply { result }
    }

    /// Puts `op` into the log, waits until the log is applied through its index, and returns the
    /// config number its clerk's entry then holds, if the entry is `op`'s.
    async fn submit(&self, op: Op) -> Result<u64, Error> {
        let id = op.id;
        let command = postcard::to_allocvec(&op).expect("encoding an Op");
        let (index, _term, is_leader) = self.rf.start(command).await;
        if !is_leader {
            return Err(Error::WrongLeader);
        }
        let mut applied = self.applied.clone();
        match tokio::time::timeout(APPLY_WAIT, applied.wait_for(|&a| a >= index)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return Err(Error::WrongLeader), // the applier is gone
            Err(_) => return Err(Error::Timeout),
        }
        match self.lock().done.get(&id.client) {
            Some(d) if d.seq == id.seq => Ok(d.config),
            _ => Err(Error::WrongLeader),
        }
    }

    /// Applies the committed operations in log order and publishes the applied index.
    async fn applier(&self, mut apply_rx: mpsc::Receiver<ApplyMsg>, applied: watch::Sender<u64>) {
        while let Some(msg) = apply_rx.recv().await {
            let ApplyMsg::Command { index, command } = msg else {
                continue; // this server never snapshots, so no snapshot comes either
            };
            {
                let mut st = self.lock();
                if index <= st.last_applied {
                    continue;
                }
                st.last_applied = index;
                let op: Op = postcard::from_bytes(&command).expect("decoding an Op");
                st.apply(op);
            }
            applied.send_replace(index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(shards: [Gid; NSHARDS], gids: &[Gid]) -> Config {
        Config {
            num: 1,
            shards,
            groups: gids.iter().map(|&g| (g, vec![])).collect(),
        }
    }

    fn moved(a: &Config, b: &Config) -> usize {
        (0..NSHARDS).filter(|&s| a.shards[s] != b.shards[s]).count()
    }

    fn spread(c: &Config) -> usize {
        let counts = c.shard_counts();
        counts.values().max().unwrap() - counts.values().min().unwrap()
    }

    #[test]
    fn first_join_takes_everything() {
        let mut c = config([0; NSHARDS], &[7]);
        rebalance(&mut c);
        assert_eq!(c.shards, [7; NSHARDS]);
    }

    #[test]
    fn joins_and_leaves_stay_even_and_minimal() {
        let mut c = config([0; NSHARDS], &[1]);
        rebalance(&mut c);
        for g in 2..=12 {
            let before = c.clone();
            c.groups.insert(g, vec![]);
            rebalance(&mut c);
            assert!(spread(&c) <= 1, "{c:?}");
            let n = c.groups.len();
            let want = if n <= NSHARDS { NSHARDS / n } else { 0 };
            assert!(moved(&before, &c) <= want.max(1), "{before:?} -> {c:?}");
        }
        for g in 1..=12 {
            let before = c.clone();
            let lost = before.shards.iter().filter(|&&s| s == g).count();
            c.groups.remove(&g);
            rebalance(&mut c);
            if !c.groups.is_empty() {
                assert!(spread(&c) <= 1, "{c:?}");
            }
            assert_eq!(moved(&before, &c), lost, "{before:?} -> {c:?}");
        }
        assert_eq!(c.shards, [0; NSHARDS]);
    }
}
