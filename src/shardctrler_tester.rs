//! The shard controller lab's tester (4A): three controller servers on a simulated network, clerks
//! that each run on a node of their own, and the checks the graded tests make (Go's shardctrler
//! `config.go` and `check`, in virtual time).
//!
//! Beyond the Go lab, every test ends by comparing the configs the controller replicas made
//! ([`CtrlerCluster::check_agreement`]): a rebalancing that differs between replicas fails even
//! when no clerk happens to query the replica that differs. And the minimal-transfer checks
//! ([`check_minimal`]) really check: a reconfiguration may move no more shards than a balanced
//! result needs, and none between two groups that stay.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use labrpc::harness::TestRun;
use labrpc::sim::{self, Node, timeline};
use labrpc::{Network, Server};
use shardctrler::{Clerk, Config, Gid, NSHARDS, ShardCtrler};
use tokio::time::{Instant, sleep};

pub use crate::cluster::Net;
use crate::cluster::{Cluster, GroupName, Member, note, shuffle_ends};
use crate::node_clerk::NodeClerk;
use crate::raft_tester::REPLAY_FLAGS;

/// How many controller servers every 4A test runs (as in Go).
pub const NSERVERS: usize = 3;

/// How long the replicas get, at most, to apply the same configs before the agreement check.
pub const CATCH_UP: Duration = Duration::from_secs(2);

/// The tester's own state: how many clerks it made (their ends' names must be unique).
struct Clerks {
    next: u64,
}

/// Every config a clerk has read, by number: one number, one config, and the servers' lists
/// must hold the same.
type Seen = Arc<Mutex<BTreeMap<u64, Config>>>;

/// A shard controller cluster under test: a [`Cluster`] of [`ShardCtrler`]s (whose methods it
/// offers too: crash, connect, statistics) and its clerks. Cheap to clone: clones share it.
#[derive(Clone)]
pub struct CtrlerCluster {
    cluster: Cluster<ShardCtrler>,
    /// What its servers' and clerks' names start with (`""`; lab 4B's second controller: `c2-`).
    prefix: String,
    clerks: Arc<Mutex<Clerks>>,
    seen: Seen,
}

impl Deref for CtrlerCluster {
    type Target = Cluster<ShardCtrler>;

    fn deref(&self) -> &Cluster<ShardCtrler> {
        &self.cluster
    }
}

/// Runs one graded 4A test on a fresh cluster of [`NSERVERS`] controllers on a reliable network.
/// After `body`, the replicas must agree on every config ([`CtrlerCluster::check_agreement`]);
/// the pass line reports time, servers, RPCs and the configs made.
pub fn ctrler_test<F, Fut>(description: &'static str, body: F)
where
    F: Fn(CtrlerCluster) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    TestRun::new().cargo_flags(REPLAY_FLAGS).run(move || {
        let body = body.clone();
        async move {
            let cfg = CtrlerCluster::new(&Network::new(), NSERVERS);
            cfg.set_net(Net::Reliable);
            cfg.begin(description);
            body(cfg.clone()).await;
            let configs = cfg.check_agreement().await;
            cfg.pass_line(&[("configs", configs as u64)])
        }
    });
}

impl CtrlerCluster {
    /// Starts `n` connected controller servers (`ctrler-0`, …) on `net` (Go's `make_config`),
    /// leaving the network's behaviour as it is (a new `Network` is reliable): the 4A tests run
    /// on a reliable network, and lab 4B's tester puts the controller on its groups' network.
    pub fn new(net: &Network, n: usize) -> CtrlerCluster {
        CtrlerCluster::with_prefix(net, "", n)
    }

    /// As [`new`](Self::new), with every server and clerk name starting with `prefix`
    /// (`c2-ctrler-0`, …), so that a second, independent controller can share the network.
    pub fn with_prefix(net: &Network, prefix: &str, n: usize) -> CtrlerCluster {
        let name = GroupName {
            group: prefix.to_string(),
            kind: "ctrler",
        };
        let cfg = CtrlerCluster {
            cluster: Cluster::new(net, name, n, |sc: &ShardCtrler| {
                sim::student_call_sync("ShardCtrler::kill", || sc.kill())
            }),
            prefix: prefix.to_string(),
            clerks: Arc::new(Mutex::new(Clerks { next: 0 })),
            seen: Seen::default(),
        };
        for i in 0..n {
            cfg.start_server(i);
        }
        cfg.connect_all();
        cfg
    }

    fn lock(&self) -> MutexGuard<'_, Clerks> {
        self.clerks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Shuts server `i` down: cut off, deleted, all its tasks stopped; its persister is kept.
    pub fn shutdown_server(&self, i: usize) {
        self.crash(i);
    }

    /// (Re)starts server `i` with fresh ends and a copy of its persister, and connects it.
    pub fn start_server(&self, i: usize) {
        note(&format!("start {}", self.server_name(i)));
        self.start_member(i, |ends, persister| {
            let node = Node::new(self.server_name(i));
            let sc = node.enter(|| {
                sim::student_call_sync("ShardCtrler::new", || ShardCtrler::new(ends, i, persister))
            });
            let server = node.enter(|| {
                let s = Server::new();
                s.add_service(sim::student_call_sync("ShardCtrler::service", || {
                    sc.service()
                }));
                s.add_service(sim::student_call_sync("Raft::service", || {
                    sc.raft().service()
                }));
                s
            });
            (Member { handle: sc, node }, server)
        });
    }

    /// Restarts server `i` (see [`start_server`](Self::start_server)) and attaches it again.
    pub fn restart_server(&self, i: usize) {
        self.start_server(i);
        self.connect(i);
    }

    /// The server whose Raft peer believes it leads, if any (Go's `Leader`).
    pub async fn leader(&self) -> Option<usize> {
        self.cluster.leader(|sc| sc.raft()).await
    }

    /// Waits up to `within` for a server that believes it leads; fails the test if none does.
    pub async fn wait_leader(&self, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            if let Some(l) = self.leader().await {
                return l;
            }
            if Instant::now() >= deadline {
                panic!("no controller server became leader within {within:?}");
            }
            sleep(Duration::from_millis(50)).await;
        }
    }

    /// A new clerk with fresh ends to every server, in shuffled order (Go's `makeClient` with
    /// `random_handles`). Its operations run on a node of its own.
    pub fn make_client(&self) -> TestClerk {
        let id = {
            let mut st = self.lock();
            st.next += 1;
            st.next - 1
        };
        let lane = format!("{}ctrler-clerk-{id}", self.prefix);
        let names: Vec<String> = (0..self.n()).map(|j| self.clerk_end(id, j)).collect();
        for name in &names {
            timeline::end_owner(name, &lane);
        }
        let mut ends = self.make_ends(&names);
        for name in &names {
            self.net().enable(name, true);
        }
        shuffle_ends(&mut ends);
        let node = Node::new(lane.clone());
        let clerk = node.enter(|| sim::student_call_sync("Clerk::new", || Clerk::new(ends)));
        TestClerk {
            id,
            seen: self.seen.clone(),
            lane,
            clerk: NodeClerk::new(node, clerk),
        }
    }

    /// Loses (`yes`) or delivers again the replies of server `to` to clerk `id`: its requests
    /// still take effect, so the clerk retries requests the server already carried out.
    pub fn lose_client_replies(&self, id: u64, to: usize, yes: bool) {
        note(&format!(
            "{} replies of {} to {}ctrler-clerk-{id}",
            if yes { "lose" } else { "deliver" },
            self.server_name(to),
            self.prefix
        ));
        self.net().lose_replies(&self.clerk_end(id, to), yes);
    }

    /// The name of clerk `id`'s end to server `j`.
    fn clerk_end(&self, id: u64, j: usize) -> String {
        format!("{}ctrler-clerk{id}->{j}", self.prefix)
    }

    /// Every config server `i` has applied (`ShardCtrler::configs`), or `None` if it is down.
    pub async fn configs_of(&self, i: usize) -> Option<Vec<Config>> {
        self.on(i, |sc| async move {
            sim::student_call_sync("ShardCtrler::configs", || sc.configs())
        })
        .await
    }

    /// The running servers' config lists, after waiting up to [`CATCH_UP`] for them to have
    /// applied equally many, and at least every config a clerk read.
    async fn caught_up_configs(&self) -> Vec<(String, Vec<Config>)> {
        let deadline = Instant::now() + CATCH_UP;
        let read = self
            .seen()
            .keys()
            .next_back()
            .map_or(0, |&n| n as usize + 1);
        loop {
            let mut lists = Vec::new();
            for i in 0..self.n() {
                if let Some(list) = self.configs_of(i).await {
                    lists.push((self.server_name(i), list));
                }
            }
            let lens: BTreeSet<usize> = lists.iter().map(|(_, l)| l.len()).collect();
            if (lens.len() <= 1 && lens.first().is_none_or(|&l| l >= read))
                || Instant::now() >= deadline
            {
                return lists;
            }
            sleep(Duration::from_millis(100)).await;
        }
    }

    fn seen(&self) -> MutexGuard<'_, BTreeMap<u64, Config>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Checks that the running controller replicas made the same configs (beyond the Go lab,
    /// which compares only what clerks query): after a short wait for them to catch up, see
    /// [`agreement`]. Returns the highest config number a server has.
    pub async fn check_agreement(&self) -> usize {
        let check = timeline::check("check_agreement");
        let lists = self.caught_up_configs().await;
        if let Err(e) = agreement(&lists, &self.seen()) {
            panic!("{e}");
        }
        let latest = lists.iter().map(|(_, l)| l.len()).max().unwrap_or(0);
        let latest = latest.saturating_sub(1);
        check.pass(&format!(
            "{} servers agree up to config {latest}",
            lists.len()
        ));
        latest
    }
}

/// Whether the servers' config lists (server name, `configs()`) agree with each other and with what
/// clerks read (`seen`): each list must hold config `k` at position `k`, reach the latest config a
/// clerk read, and hold the configs clerks read; and for every number two servers both have,
/// their configs must be equal.
pub fn agreement(
    lists: &[(String, Vec<Config>)],
    seen: &BTreeMap<u64, Config>,
) -> Result<(), String> {
    for (i, list) in lists {
        if let Some((pos, c)) = list.iter().enumerate().find(|(p, c)| c.num != *p as u64) {
            return Err(format!(
                "{i}'s configs() holds config number {} at position {pos}: it must list \
                 every config it applied, config 0 first, in order",
                c.num
            ));
        }
        if let Some((&n, _)) = seen.last_key_value()
            && list.len() as u64 <= n
        {
            return Err(format!(
                "{i} has applied {} configs after {CATCH_UP:?} of waiting, but a clerk \
                 has read config {n}: a running server must apply every committed operation",
                list.len()
            ));
        }
        for (n, c) in seen {
            if let Some(mine) = list.get(*n as usize)
                && mine != c
            {
                return Err(format!(
                    "a clerk read config {n} as\n  {c:?}\nbut {i}'s configs() holds\n  \
                     {mine:?}"
                ));
            }
        }
    }
    for (a, (i, la)) in lists.iter().enumerate() {
        for (j, lb) in &lists[a + 1..] {
            if let Some((num, (ca, cb))) = la.iter().zip(lb).enumerate().find(|(_, (x, y))| x != y)
            {
                return Err(format!(
                    "the controller replicas disagree on config {num}: {i} made\n  \
                     {ca:?}\nbut {j} made\n  {cb:?}\n(every replica must build the same \
                     config from the same log: rebalance deterministically, from replicated \
                     state only)"
                ));
            }
        }
    }
    Ok(())
}

/// A clerk under test: each operation runs on the clerk's own node (`ctrler-clerk-N`).
pub struct TestClerk {
    id: u64,
    seen: Seen,
    lane: String,
    clerk: NodeClerk<Clerk>,
}

impl TestClerk {
    /// This clerk's id (for [`CtrlerCluster::lose_client_replies`]).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Runs `f` with the clerk on the clerk's node, shown on the timeline as `what`, with the
    /// result as `describe` says.
    async fn run<T, Fut>(
        &mut self,
        what: String,
        f: impl FnOnce(Clerk) -> Fut,
        describe: fn(&T) -> String,
    ) -> T
    where
        T: Send + 'static,
        Fut: Future<Output = (Clerk, T)> + Send + 'static,
    {
        let op = timeline::op(&self.lane, &what);
        let v = self.clerk.run(f).await;
        if timeline::is_recording() {
            op.done(&describe(&v));
        }
        v
    }

    /// `Clerk::query`: config `num`, or the latest for `None`. Fails the test if a clerk read
    /// a different config with the same number before.
    pub async fn query(&mut self, num: Option<u64>) -> Config {
        let c = self
            .run(
                format!("query({num:?})"),
                |mut ck| async move {
                    let c = sim::student_call("Clerk::query", ck.query(num)).await;
                    (ck, c)
                },
                |c: &Config| format!("config {}: {:?}", c.num, c.shards),
            )
            .await;
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        match seen.get(&c.num) {
            Some(before) if before != &c => panic!(
                "query({num:?}) gave config {} as\n  {c:?}\nbut an earlier query gave it as\n  \
                 {before:?}\n(a config never changes once made)",
                c.num
            ),
            Some(_) => {}
            None => {
                seen.insert(c.num, c.clone());
            }
        }
        c
    }

    /// `Clerk::query(None)`: the latest config.
    pub async fn latest(&mut self) -> Config {
        self.query(None).await
    }

    /// `Clerk::join` of the groups `servers` (gid to server names).
    pub async fn join(&mut self, servers: BTreeMap<Gid, Vec<String>>) {
        let gids: Vec<Gid> = servers.keys().copied().collect();
        self.run(
            format!("join({gids:?})"),
            |mut ck| async move {
                sim::student_call("Clerk::join", ck.join(servers)).await;
                (ck, ())
            },
            |_| String::new(),
        )
        .await
    }

    /// `Clerk::leave` of the groups `gids`.
    pub async fn leave(&mut self, gids: &[Gid]) {
        let gids = gids.to_vec();
        self.run(
            format!("leave({gids:?})"),
            |mut ck| async move {
                sim::student_call("Clerk::leave", ck.leave(&gids)).await;
                (ck, ())
            },
            |_| String::new(),
        )
        .await
    }

    /// `Clerk::move_shard`: gives `shard` to `gid`.
    pub async fn move_shard(&mut self, shard: usize, gid: Gid) {
        self.run(
            format!("move({shard}, {gid})"),
            |mut ck| async move {
                sim::student_call("Clerk::move_shard", ck.move_shard(shard, gid)).await;
                (ck, ())
            },
            |_| String::new(),
        )
        .await
    }
}

/// The argument of a Join: each gid with its servers' names.
pub fn groups(list: &[(Gid, &[&str])]) -> BTreeMap<Gid, Vec<String>> {
    list.iter()
        .map(|(gid, names)| (*gid, names.iter().map(|s| s.to_string()).collect()))
        .collect()
}

/// Whether `c` has exactly the groups `gids`, every shard on one of them (on gid 0 when there
/// are none), and shard counts that differ by at most one (Go's `check`).
pub fn check_groups(c: &Config, gids: &[Gid]) -> Result<(), String> {
    let want: BTreeSet<Gid> = gids.iter().copied().collect();
    let have: BTreeSet<Gid> = c.groups.keys().copied().collect();
    if want != have {
        return Err(format!(
            "config {} has groups {have:?}, expected {want:?}",
            c.num
        ));
    }
    for (shard, gid) in c.shards.iter().enumerate() {
        if want.is_empty() && *gid != 0 {
            return Err(format!(
                "config {} has no groups, but shard {shard} is on gid {gid} (expected 0, no \
                 group): {:?}",
                c.num, c.shards
            ));
        }
        if !want.is_empty() && !want.contains(gid) {
            return Err(format!(
                "config {}: shard {shard} is on gid {gid}, which is not a group of the config \
                 {have:?}: {:?}",
                c.num, c.shards
            ));
        }
    }
    let counts = c.shard_counts();
    let (min, max) = (counts.values().min(), counts.values().max());
    if let (Some(min), Some(max)) = (min, max)
        && max > &(min + 1)
    {
        return Err(format!(
            "config {} is not balanced: shards per group {counts:?} (max - min must be at most \
             1): {:?}",
            c.num, c.shards
        ));
    }
    Ok(())
}

/// Queries the latest config with `ck` and checks it with [`check_groups`]; returns it.
pub async fn check(ck: &mut TestClerk, gids: &[Gid]) -> Config {
    let c = ck.latest().await;
    if let Err(e) = check_groups(&c, gids) {
        panic!("{e}");
    }
    c
}

/// The shards whose group differs between `prev` and `next`.
pub fn moved_shards(prev: &Config, next: &Config) -> Vec<usize> {
    (0..NSHARDS)
        .filter(|&s| prev.shards[s] != next.shards[s])
        .collect()
}

/// The fewest shards any balanced assignment of `prev`'s shards to the groups `gids` must move.
///
/// A balanced assignment gives every group `NSHARDS / k` shards (the floor), and
/// `NSHARDS % k` of them one more. A group keeps at most its floor, plus one if it already had
/// more and one of the extra slots is left; everything else moves.
pub fn min_moves(prev: &Config, gids: &BTreeSet<Gid>) -> usize {
    if gids.is_empty() {
        return 0;
    }
    let k = gids.len();
    let (floor, extra) = (NSHARDS / k, NSHARDS % k);
    let count = |g: Gid| prev.shards.iter().filter(|&&s| s == g).count();
    let kept_floor: usize = gids.iter().map(|&g| count(g).min(floor)).sum();
    let above = gids.iter().filter(|&&g| count(g) > floor).count();
    NSHARDS - kept_floor - above.min(extra)
}

/// Checks that the balanced `next` came from `prev` by moving as few shards as possible: no more
/// shards moved than [`min_moves`], and, when `prev` was balanced, none from a group that stays
/// to a group that was already there (a minimal rebalancing of a balanced config never does
/// that; after Moves it may have to). Any minimal rebalancing passes, whichever shards it picks.
/// `what` names the operation in the message (`join of gid 12`).
pub fn check_minimal(prev: &Config, next: &Config, what: &str) -> Result<(), String> {
    let moved = moved_shards(prev, next);
    let prev_gids: Vec<Gid> = prev.groups.keys().copied().collect();
    let balanced = !prev_gids.is_empty() && check_groups(prev, &prev_gids).is_ok();
    for &s in moved.iter().filter(|_| balanced) {
        let (from, to) = (prev.shards[s], next.shards[s]);
        if next.groups.contains_key(&from) && prev.groups.contains_key(&to) {
            return Err(format!(
                "after the {what}, shard {s} moved from gid {from} to gid {to}, but both groups \
                 were in config {} and are in config {}: a minimal rebalancing moves shards only \
                 off groups that leave and onto groups that join\n  before: {:?}\n  after:  {:?}",
                prev.num, next.num, prev.shards, next.shards
            ));
        }
    }
    let gids: BTreeSet<Gid> = next.groups.keys().copied().collect();
    let least = min_moves(prev, &gids);
    if moved.len() > least {
        return Err(format!(
            "the {what} moved {} shards {moved:?}, but a balanced config needed only {least} to \
             move\n  before: {:?}\n  after:  {:?}",
            moved.len(),
            prev.shards,
            next.shards
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(num: u64, shards: [Gid; NSHARDS]) -> Config {
        let mut groups = BTreeMap::new();
        for g in shards.iter().filter(|&&g| g != 0) {
            groups.insert(*g, vec![format!("s{g}")]);
        }
        Config {
            num,
            shards,
            groups,
        }
    }

    fn with_group(mut c: Config, gid: Gid) -> Config {
        c.groups.insert(gid, vec![format!("s{gid}")]);
        c
    }

    #[test]
    fn a_join_that_takes_the_floor_from_the_fullest_groups_passes() {
        let prev = config(1, [1, 1, 1, 1, 2, 2, 2, 3, 3, 3]);
        // 4 groups: floor 2, two groups keep 3. Two different minimal choices both pass.
        let a = with_group(config(2, [4, 1, 1, 1, 4, 2, 2, 3, 3, 3]), 4);
        let b = with_group(config(2, [1, 1, 1, 4, 2, 2, 2, 4, 3, 3]), 4);
        assert_eq!(check_groups(&a, &[1, 2, 3, 4]), Ok(()));
        assert_eq!(check_minimal(&prev, &a, "join"), Ok(()));
        assert_eq!(check_groups(&b, &[1, 2, 3, 4]), Ok(()));
        assert_eq!(check_minimal(&prev, &b, "join"), Ok(()));
    }

    #[test]
    fn a_balanced_join_that_moves_too_much_fails() {
        let prev = config(1, [1, 1, 1, 1, 2, 2, 2, 3, 3, 3]);
        // Balanced, but gid 4 took 3 shards where 2 suffice.
        let c = config(2, [4, 1, 1, 4, 2, 2, 4, 3, 3, 3]);
        assert_eq!(check_groups(&c, &[1, 2, 3, 4]), Ok(()));
        let e = check_minimal(&prev, &c, "join").unwrap_err();
        assert!(e.contains("moved 3 shards"), "{e}");
        // Balanced, but a shard moved between two old groups.
        let c = config(2, [4, 1, 1, 4, 2, 2, 2, 3, 3, 1]);
        assert_eq!(check_groups(&c, &[1, 2, 3, 4]), Ok(()));
        let e = check_minimal(&prev, &c, "join").unwrap_err();
        assert!(e.contains("moved from gid 3 to gid 1"), "{e}");
    }

    #[test]
    fn a_leave_moves_exactly_the_leaving_groups_shards() {
        let prev = config(1, [1, 1, 1, 2, 2, 2, 3, 3, 4, 4]);
        let mut ok = config(2, [1, 1, 1, 2, 2, 2, 3, 3, 3, 2]);
        ok.groups.remove(&4);
        assert_eq!(check_groups(&ok, &[1, 2, 3]), Ok(()));
        assert_eq!(check_minimal(&prev, &ok, "leave"), Ok(()));
        let bad = config(2, [1, 1, 3, 2, 2, 2, 3, 3, 1, 2]);
        assert_eq!(check_groups(&bad, &[1, 2, 3]), Ok(()));
        assert!(check_minimal(&prev, &bad, "leave").is_err());
    }

    #[test]
    fn with_more_groups_than_shards_only_the_surplus_moves() {
        // 8 groups holding 10 shards; 5 more join: 13 groups, every group 0 or 1 shard.
        let prev = config(1, [1, 1, 2, 2, 3, 4, 5, 6, 7, 8]);
        let gids: BTreeSet<Gid> = (1..=8).chain(11..=15).collect();
        assert_eq!(min_moves(&prev, &gids), 2);
        let mut next = config(2, [1, 11, 2, 12, 3, 4, 5, 6, 7, 8]);
        for g in 13..=15 {
            next = with_group(next, g);
        }
        assert_eq!(check_minimal(&prev, &next, "join"), Ok(()));
    }

    /// Every balanced assignment of the shards to `gids`, as configs with those groups.
    fn every_balanced(gids: &[Gid]) -> Vec<Config> {
        let k = gids.len();
        let mut out = Vec::new();
        for code in 0..k.pow(NSHARDS as u32) {
            let (mut shards, mut counts, mut c) = ([0; NSHARDS], vec![0; k], code);
            for s in &mut shards {
                counts[c % k] += 1;
                *s = gids[c % k];
                c /= k;
            }
            if counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1 {
                let mut cfg = config(2, shards);
                for &g in gids {
                    cfg = with_group(cfg, g);
                }
                out.push(cfg);
            }
        }
        out
    }

    /// Over every balanced result of a join, of a leave and of a join after Moves, `check_minimal` accepts exactly
    /// those that move the fewest shards, and `min_moves` is that fewest.
    #[test]
    fn check_minimal_accepts_exactly_the_minimal_rebalancings() {
        let join_prev = config(1, [1, 1, 1, 2, 2, 2, 2, 3, 3, 3]);
        let leave_prev = config(1, [1, 1, 1, 2, 2, 2, 3, 3, 4, 4]);
        // After Moves: unbalanced.
        let moved_prev = config(1, [1, 1, 1, 1, 1, 1, 1, 2, 2, 2]);
        let cases = [
            (join_prev, vec![1, 2, 3, 4]),
            (leave_prev, vec![1, 2, 3]),
            (moved_prev, vec![1, 2, 3]),
        ];
        for (prev, gids) in cases {
            let all = every_balanced(&gids);
            let fewest = all.iter().map(|c| moved_shards(&prev, c).len()).min();
            let set: BTreeSet<Gid> = gids.iter().copied().collect();
            assert_eq!(Some(min_moves(&prev, &set)), fewest);
            for c in &all {
                let minimal = Some(moved_shards(&prev, c).len()) == fewest;
                assert_eq!(
                    check_minimal(&prev, c, "x").is_ok(),
                    minimal,
                    "{:?}",
                    c.shards
                );
            }
        }
    }

    #[test]
    fn replicas_that_differ_on_a_config_disagree() {
        let c1 = config(1, [1; NSHARDS]);
        let mut c1b = c1.clone();
        c1b.shards[0] = 2;
        let zero = Config::default();
        let name = |i: usize| format!("ctrler-{i}");
        let same = [
            (name(0), vec![zero.clone(), c1.clone()]),
            (name(1), vec![zero.clone()]),
        ];
        let none = BTreeMap::new();
        assert_eq!(agreement(&same, &none), Ok(()));
        let differ = [
            (name(0), vec![zero.clone(), c1.clone()]),
            (name(2), vec![zero.clone(), c1b]),
        ];
        let e = agreement(&differ, &none).unwrap_err();
        assert!(
            e.contains("disagree on config 1") && e.contains("ctrler-2"),
            "{e}"
        );
        let gap = [(name(1), vec![zero.clone(), config(2, [1; NSHARDS])])];
        assert!(
            agreement(&gap, &none)
                .unwrap_err()
                .contains("at position 1")
        );
        // Lists must reach, and hold, what clerks read.
        let read = BTreeMap::from([(1, c1.clone())]);
        let e = agreement(&same, &read).unwrap_err();
        assert!(e.contains("ctrler-1 has applied 1 configs"), "{e}");
        let mut other = c1;
        other.shards[9] = 3;
        let e = agreement(&[(name(0), vec![zero, other])], &read).unwrap_err();
        assert!(e.contains("a clerk read config 1"), "{e}");
    }
}
