//! Reference solution of `shardctrler/src/server.rs`: the shard controller's server.
//!
//! Every request, queries included, goes through the Raft log, so that a query reflects every
//! change completed before it. A handler starts its operation, then waits until the applier has
//! applied that very operation (recognized by its request id), or gives up after a while so the
//! clerk tries elsewhere. The applier applies each Join/Leave/Move once per request id and
//! rebalances with [`rebalance`], which depends only on the config, so every replica makes the
//! same one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use labrpc::{ClientEnd, Service, sim};
use raft::{APPLY_CHANNEL_CAPACITY, ApplyMsg, Persister, Raft};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::common::{
    Error, JoinArgs, JoinReply, LeaveArgs, LeaveReply, MoveArgs, MoveReply, QueryArgs, QueryReply,
    RequestId,
};
use crate::{Config, Gid, NSHARDS};

/// How long a handler waits for its operation to be applied before answering Timeout.
const APPLY_WAIT: Duration = Duration::from_millis(600);

/// What an operation does.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
enum Kind {
    Join(BTreeMap<Gid, Vec<String>>),
    Leave(Vec<Gid>),
    Move { shard: usize, gid: Gid },
    Query(Option<u64>),
}

/// An operation as it travels through the Raft log.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
struct Op {
    kind: Kind,
    id: RequestId,
}

/// A shard controller server. Cheap to clone: all clones are the same server.
#[derive(Clone)]
pub struct ShardCtrler {
    state: Arc<Mutex<State>>,
    rf: Raft,
}

type Waiter = oneshot::Sender<Config>;

struct State {
    /// Every config so far, indexed by number.
    configs: Vec<Config>,
    /// Per client, its last applied change.
    last_seq: BTreeMap<u64, u64>,
    last_applied: u64,
    /// Handlers waiting for their operation, by request id.
    waiters: BTreeMap<(u64, u64), Vec<Waiter>>,
}

impl ShardCtrler {
    /// Starts a controller server (see the student file for the contract).
    pub fn new(servers: Vec<ClientEnd>, me: usize, persister: Persister) -> ShardCtrler {
        let (apply_tx, apply_rx) = mpsc::channel(APPLY_CHANNEL_CAPACITY);
        let rf = Raft::new(servers, me, persister, apply_tx);
        let sc = ShardCtrler {
            state: Arc::new(Mutex::new(State {
                configs: vec![Config::default()],
                last_seq: BTreeMap::new(),
                last_applied: 0,
                waiters: BTreeMap::new(),
            })),
            rf,
        };
        let applier = sc.clone();
        sim::spawn(async move { applier.applier(apply_rx).await });
        sc
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

    /// Every config this server has applied so far, config 0 first.
    pub fn configs(&self) -> Vec<Config> {
        self.lock().configs.clone()
    }

    /// The RPC service the tester registers for this server.
    pub fn service(&self) -> Service {
        let (j, l, m, q) = (self.clone(), self.clone(), self.clone(), self.clone());
        Service::new("ShardCtrler")
            .method("Join", move |args: JoinArgs| {
                let sc = j.clone();
                async move {
                    let result = sc.execute(Kind::Join(args.servers), args.id).await;
                    JoinReply {
                        result: result.map(drop),
                    }
                }
            })
            .method("Leave", move |args: LeaveArgs| {
                let sc = l.clone();
                async move {
                    let result = sc.execute(Kind::Leave(args.gids), args.id).await;
                    LeaveReply {
                        result: result.map(drop),
                    }
                }
            })
            .method("Move", move |args: MoveArgs| {
                let sc = m.clone();
                async move {
                    let kind = Kind::Move {
                        shard: args.shard,
                        gid: args.gid,
                    };
                    let result = sc.execute(kind, args.id).await;
                    MoveReply {
                        result: result.map(drop),
                    }
                }
            })
            .method("Query", move |args: QueryArgs| {
                let sc = q.clone();
                async move {
                    QueryReply {
                        result: sc.execute(Kind::Query(args.num), args.id).await,
                    }
                }
            })
    }

    /// Starts an operation in Raft and waits until it is applied; returns the config it made or
    /// read.
    async fn execute(&self, kind: Kind, id: RequestId) -> Result<Config, Error> {
        let key = (id.client, id.seq);
        let rx = {
            let mut st = self.lock();
            let (tx, rx) = oneshot::channel();
            st.waiters.entry(key).or_default().push(tx);
            rx
        };
        let command = postcard::to_allocvec(&Op { kind, id }).map_err(|_| Error::Timeout)?;
        let (_, _, is_leader) = self.rf.start(command).await;
        if !is_leader {
            self.forget(key);
            return Err(Error::WrongLeader);
        }
        match tokio::time::timeout(APPLY_WAIT, rx).await {
            Ok(Ok(config)) => Ok(config),
            _ => {
                self.forget(key);
                Err(Error::Timeout)
            }
        }
    }

    /// Drops the waiters of a request nobody will answer here.
    fn forget(&self, key: (u64, u64)) {
        let mut st = self.lock();
        if let Some(ws) = st.waiters.get_mut(&key) {
            ws.retain(|w| !w.is_closed());
            if ws.is_empty() {
                st.waiters.remove(&key);
            }
        }
    }

    /// Applies what Raft commits, in order.
    async fn applier(&self, mut rx: mpsc::Receiver<ApplyMsg>) {
        while let Some(msg) = rx.recv().await {
            let ApplyMsg::Command { index, command } = msg else {
                continue; // the controller never snapshots
            };
            let mut st = self.lock();
            if index <= st.last_applied {
                continue;
            }
            st.last_applied = index;
            let Ok(op) = postcard::from_bytes::<Op>(&command) else {
                continue;
            };
            let config = st.apply(&op);
            if let Some(ws) = st.waiters.remove(&(op.id.client, op.id.seq)) {
                for w in ws {
                    let _ = w.send(config.clone());
                }
            }
        }
    }
}

impl State {
    /// Applies `op` (a change only once per request id); returns the config it made or read.
    fn apply(&mut self, op: &Op) -> Config {
        let latest = self.configs.last().cloned().unwrap_or_default();
        if let Kind::Query(num) = op.kind {
            let at = num.map_or(latest.num, |n| n.min(latest.num));
            return self.configs[at as usize].clone();
        }
        if self
            .last_seq
            .get(&op.id.client)
            .is_some_and(|&s| s >= op.id.seq)
        {
            return latest;
        }
        self.last_seq.insert(op.id.client, op.id.seq);
        let mut next = latest;
        next.num += 1;
        match &op.kind {
            Kind::Join(groups) => {
                for (gid, servers) in groups {
                    next.groups.insert(*gid, servers.clone());
                }
                rebalance(&mut next);
            }
            Kind::Leave(gids) => {
                for gid in gids {
                    next.groups.remove(gid);
                }
                rebalance(&mut next);
            }
            Kind::Move { shard, gid } => {
                if let Some(s) = next.shards.get_mut(*shard) {
                    *s = *gid;
                }
            }
            Kind::Query(_) => {}
        }
        self.configs.push(next.clone());
        next
    }
}

/// Spreads the shards evenly over the config's groups, moving as few as possible: a group keeps
/// up to its share, and the shards of groups that left or hold too many go, lowest shard first,
/// to the groups below their share, lowest gid first. The groups that already hold the most get
/// the larger shares. It depends only on the config, so every replica makes the same one.
fn rebalance(config: &mut Config) {
    if config.groups.is_empty() {
        config.shards = [0; NSHARDS];
        return;
    }
    let counts = config.shard_counts();
    // The groups by how many shards they hold, most first (then by gid): the first `extra` of
    // them may hold one shard more than the rest.
    let mut order: Vec<Gid> = counts.keys().copied().collect();
    order.sort_by_key(|g| (std::cmp::Reverse(counts[g]), *g));
    let (base, extra) = (NSHARDS / order.len(), NSHARDS % order.len());
    let target: BTreeMap<Gid, usize> = order
        .iter()
        .enumerate()
        .map(|(i, &g)| (g, base + usize::from(i < extra)))
        .collect();
    let mut held: BTreeMap<Gid, usize> = BTreeMap::new();
    let mut free = Vec::new();
    for (shard, gid) in config.shards.iter().enumerate() {
        let count = held.entry(*gid).or_default();
        if target.get(gid).is_some_and(|&t| *count < t) {
            *count += 1;
        } else {
            free.push(shard);
        }
    }
    let mut free = free.into_iter();
    for (gid, t) in &target {
        let count = held.get(gid).copied().unwrap_or(0);
        for shard in free.by_ref().take(t - count) {
            config.shards[shard] = *gid;
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
            groups: gids.iter().map(|&g| (g, vec![format!("s{g}")])).collect(),
        }
    }

    #[test]
    fn rebalance_is_even_and_minimal() {
        let mut c = config([0; NSHARDS], &[1]);
        rebalance(&mut c);
        assert_eq!(c.shards, [1; NSHARDS]);
        c.groups.insert(2, vec![]);
        rebalance(&mut c);
        assert_eq!(c.shards, [1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
        c.groups.insert(3, vec![]);
        rebalance(&mut c);
        // 1 and 2 keep 4 and 3 (or 3 and 4) of theirs; 3 gets the rest.
        let counts = c.shard_counts();
        assert_eq!(counts.values().sum::<usize>(), NSHARDS);
        assert!(counts.values().all(|&n| (3..=4).contains(&n)), "{counts:?}");
        assert_eq!(c.shards.iter().filter(|&&g| g == 3).count(), 3);
        c.groups.remove(&1);
        let before = c.shards;
        rebalance(&mut c);
        for (s, g) in before.iter().enumerate() {
            if *g != 1 {
                assert_eq!(c.shards[s], *g, "shard {s} moved");
            }
        }
        assert_eq!(
            c.shard_counts().values().copied().collect::<Vec<_>>(),
            [5, 5]
        );
    }

    #[test]
    fn more_groups_than_shards() {
        let gids: Vec<Gid> = (1..=12).collect();
        let mut c = config([0; NSHARDS], &gids);
        rebalance(&mut c);
        let counts = c.shard_counts();
        assert_eq!(counts.values().filter(|&&n| n == 1).count(), 10);
        assert_eq!(counts.values().filter(|&&n| n == 0).count(), 2);
    }
}
