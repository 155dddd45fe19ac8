//! The Raft lab's tester: a cluster of peers on a simulated network, and the checks the graded
//! tests make (Go's raft `config.go`, in virtual time).
//!
//! Every failure is a panic on the tester's node; the simulation turns it into a test failure that
//! names the check, the virtual time and the seed, and prints the command that replays the run.

use std::collections::BTreeMap;
use std::future::Future;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use labrpc::harness::TestRun;
use labrpc::sim::{self, Node, timeline};
use labrpc::{Network, Server};
use raft::{APPLY_CHANNEL_CAPACITY, ApplyMsg, Raft};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep};

use crate::cluster::{Cluster, GroupName, Member, note};
pub use crate::cluster::{Link, Net, Reordering};

/// The election timeout the tests reason with (Go's `RaftElectionTimeout`).
pub const ELECTION_TIMEOUT: Duration = Duration::from_millis(1000);

/// The shortest election timeout the lab text allows: the timer tests rely on it.
pub const MIN_ELECTION_TIMEOUT: Duration = Duration::from_millis(200);

/// The longest election timeout the lab text allows: the timer tests rely on it.
pub const MAX_ELECTION_TIMEOUT: Duration = Duration::from_millis(1000);

/// How often the snapshotting applier asks Raft to snapshot (every this many entries).
pub const SNAPSHOT_INTERVAL: u64 = 10;

/// Raft state the snapshot tests allow, in bytes.
pub const MAX_LOG_SIZE: usize = 2000;

/// The cargo flags that replay a test of this package (with or without the reference solutions).
pub const REPLAY_FLAGS: &str = if cfg!(feature = "reference") {
    "--features reference"
} else if cfg!(feature = "alternative") {
    "--features alternative"
} else {
    ""
};

/// A tester command: the 8 little-endian bytes of a number (the Go tests' `int` commands).
pub fn cmd(x: u64) -> Vec<u8> {
    x.to_le_bytes().to_vec()
}

/// A random command drawn from the tester's seeded stream.
pub fn random_cmd() -> Vec<u8> {
    cmd(sim::random_range(0..1u64 << 62))
}

/// Shows a command in messages: the number it encodes, or its size.
pub fn show(c: &[u8]) -> String {
    match <[u8; 8]>::try_from(c) {
        Ok(b) => u64::from_le_bytes(b).to_string(),
        Err(_) => format!("<{} bytes>", c.len()),
    }
}

/// Whether the tester's service snapshots (lab 2D): every [`SNAPSHOT_INTERVAL`] entries it
/// hands Raft a snapshot, and it checks the snapshots Raft applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Snapshots {
    /// The service never snapshots (labs 2A-2C).
    Off,
    /// The service snapshots and checks snapshots (lab 2D).
    On,
}

/// Whether [`RaftCluster::one`] submits a command again when a leader fails to commit it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Submit again, for up to 10 s: a leader that fails is not fatal.
    Yes,
    /// Fail the test if the first leader that accepts it does not commit it within 2 s.
    No,
}

/// The tester's view of what the peers applied (its service's state).
struct Applied {
    /// What each server has applied, by index.
    logs: Vec<BTreeMap<u64, Vec<u8>>>,
    last_applied: Vec<u64>,
    max_index: u64,
    /// `max_index` at `begin`, for the pass line's count of commands.
    max_index0: u64,
    /// Peers whose applier asks for no snapshots for now (a service that snapshots rarely).
    no_snapshots: Vec<bool>,
}

/// A Raft cluster under test: a [`Cluster`] of Raft peers (whose methods it offers too: connect,
/// crash, links, partitions, statistics) and the service that checks what they apply. Cheap to
/// clone: clones share the cluster, so test tasks can use it.
#[derive(Clone)]
pub struct RaftCluster {
    cluster: Cluster<Raft>,
    snapshots: Snapshots,
    applied: Arc<Mutex<Applied>>,
}

impl Deref for RaftCluster {
    type Target = Cluster<Raft>;

    fn deref(&self) -> &Cluster<Raft> {
        &self.cluster
    }
}

/// Runs one graded Raft test: `n` peers on a network as `net` says, with the snapshotting
/// service or not. `body` is the test; the pass line reports time, peers, RPCs, bytes and
/// commands agreed.
pub fn raft_test<F, Fut>(
    n: usize,
    net: Net,
    snapshots: Snapshots,
    description: &'static str,
    body: F,
) where
    F: Fn(RaftCluster) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    TestRun::new().cargo_flags(REPLAY_FLAGS).run(move || {
        let body = body.clone();
        async move {
            let cfg = RaftCluster::new(n, net, snapshots);
            cfg.begin(description);
            body(cfg.clone()).await;
            cfg.end()
        }
    });
}

impl RaftCluster {
    /// Starts `n` connected peers (Go's `make_config`). Long delays are on, as in Go.
    pub fn new(n: usize, net: Net, snapshots: Snapshots) -> RaftCluster {
        let network = Network::new();
        network.reliable(net == Net::Reliable);
        network.long_delays(true);
        let name = GroupName {
            group: String::new(),
            kind: "raft",
        };
        let cfg = RaftCluster {
            cluster: Cluster::new(&network, name, n, |rf: &Raft| {
                sim::student_call_sync("Raft::kill", || rf.kill())
            }),
            snapshots,
            applied: Arc::new(Mutex::new(Applied {
                logs: vec![BTreeMap::new(); n],
                last_applied: vec![0; n],
                max_index: 0,
                max_index0: 0,
                no_snapshots: vec![false; n],
            })),
        };
        for i in 0..n {
            cfg.start1(i);
        }
        cfg.connect_all();
        cfg
    }

    fn lock(&self) -> MutexGuard<'_, Applied> {
        self.applied.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks the start of the measured part of a test.
    pub fn begin(&self, description: &str) {
        let mut st = self.lock();
        st.max_index0 = st.max_index;
        drop(st);
        self.cluster.begin(description);
    }

    /// The pass line of a passed test: virtual time, peers, RPCs, bytes, commands agreed.
    pub fn end(&self) -> String {
        let cmds = {
            let st = self.lock();
            st.max_index - st.max_index0
        };
        self.pass_line(&[("bytes", self.bytes_since_begin()), ("cmds", cmds)])
    }

    /// Crashes peer `i` (Go's `crash1`): see [`Cluster::crash`].
    pub fn crash1(&self, i: usize) {
        self.crash(i);
    }

    /// (Re)starts peer `i` with fresh ends and a copy of its persister (Go's `start1`); its
    /// service restores the snapshot saved there, if any.
    pub fn start1(&self, i: usize) {
        self.crash(i);
        note(&format!("start {}", self.server_name(i)));
        self.start_member(i, |ends, persister| {
            self.lock().last_applied[i] = 0;
            let snapshot = persister.read_snapshot();
            if !snapshot.is_empty()
                && let Err(e) = self.ingest_snapshot(i, &snapshot, None)
            {
                panic!("{e}");
            }
            let (tx, rx) = mpsc::channel(APPLY_CHANNEL_CAPACITY);
            let node = Node::new(self.server_name(i));
            let raft = node.enter(|| {
                sim::student_call_sync("Raft::new", || Raft::new(ends, i, persister, tx))
            });
            let server = node.enter(|| {
                let s = Server::new();
                s.add_service(sim::student_call_sync("Raft::service", || raft.service()));
                s
            });
            let peer = Member { handle: raft, node };
            let applier = self.clone();
            let p = peer.clone();
            Node::tester().spawn(async move { applier.applier(i, p, rx).await });
            (peer, server)
        });
    }

    /// Reads peer `i`'s apply channel and checks every message (Go's `applier` and `applierSnap`).
    async fn applier(&self, i: usize, peer: Member<Raft>, mut rx: mpsc::Receiver<ApplyMsg>) {
        while let Some(m) = rx.recv().await {
            if !peer.node.is_alive() {
                return; // a message of a crashed incarnation
            }
            let snapshot_now = match m {
                ApplyMsg::Snapshot { index, data, .. } => {
                    let applied = self.lock().last_applied[i];
                    if self.snapshots == Snapshots::On && index < applied {
                        panic!(
                            "apply error: server {i} sent a snapshot that ends at index {index} \
                             after it had applied index {applied}: the state machine would go \
                             back; a snapshot of what is already applied must not be installed \
                             (Figure 13, rule 6)"
                        );
                    }
                    if self.snapshots == Snapshots::On
                        && let Err(e) = self.ingest_snapshot(i, &data, Some(index))
                    {
                        panic!("{e}");
                    }
                    None
                }
                ApplyMsg::Command { index, command } => self.check_apply(i, index, command),
            };
            if let Some((index, data)) = snapshot_now {
                let raft = peer.handle.clone();
                // Like Go's tester, snapshot from inside the apply loop.
                let _ = peer
                    .node
                    .spawn(sim::student_call("Raft::snapshot", async move {
                        raft.snapshot(index, data).await
                    }))
                    .await;
            }
        }
    }

    /// Checks one applied command; returns a snapshot to hand to Raft when one is due.
    fn check_apply(&self, i: usize, index: u64, command: Vec<u8>) -> Option<(u64, Vec<u8>)> {
        let mut st = self.lock();
        if self.snapshots == Snapshots::On && index != st.last_applied[i] + 1 {
            panic!(
                "apply error: server {i} applied out of order: expected index {}, got {index}",
                st.last_applied[i] + 1
            );
        }
        for (j, log) in st.logs.iter().enumerate() {
            if let Some(old) = log.get(&index)
                && *old != command
            {
                panic!(
                    "apply error: commit index={index}: server {i} applied {}, but server {j} applied {}",
                    show(&command),
                    show(old)
                );
            }
        }
        let prev_ok = index == 1 || st.logs[i].contains_key(&(index - 1));
        if !prev_ok {
            panic!(
                "apply error: server {i} applied index {index} before index {}",
                index - 1
            );
        }
        if timeline::is_recording() {
            timeline::applied(&self.server_name(i), index, &show(&command));
        }
        st.logs[i].insert(index, command);
        st.max_index = st.max_index.max(index);
        st.last_applied[i] = index;
        if self.snapshots == Snapshots::Off
            || !(index + 1).is_multiple_of(SNAPSHOT_INTERVAL)
            || st.no_snapshots[i]
        {
            return None;
        }
        let xlog: Vec<Option<Vec<u8>>> = (0..=index).map(|j| st.logs[i].get(&j).cloned()).collect();
        let data = postcard::to_allocvec(&(index, xlog)).unwrap_or_default();
        Some((index, data))
    }

    /// Replaces the tester's view of server `i`'s log with a snapshot's content.
    fn ingest_snapshot(&self, i: usize, data: &[u8], index: Option<u64>) -> Result<(), String> {
        let (last, xlog): (u64, Vec<Option<Vec<u8>>>) =
            postcard::from_bytes(data).map_err(|e| {
                format!("apply error: server {i} got a snapshot the tester cannot decode ({e})")
            })?;
        if let Some(index) = index
            && index != last
        {
            return Err(format!(
                "apply error: server {i} got a snapshot for index {index}, but its content ends at {last}"
            ));
        }
        let mut st = self.lock();
        st.logs[i] = xlog
            .into_iter()
            .enumerate()
            .filter_map(|(j, c)| Some((j as u64, c?)))
            .collect();
        st.last_applied[i] = last;
        timeline::observe(
            &self.server_name(i),
            &format!("snapshot installed, up to index {last}"),
        );
        Ok(())
    }

    /// Whether peer `i`'s applier asks for snapshots (in a test with snapshots): `Off` plays a
    /// service that snapshots rarely, so that its Raft's snapshot lags behind the leader's.
    pub fn set_snapshots(&self, i: usize, snapshots: Snapshots) {
        self.lock().no_snapshots[i] = snapshots == Snapshots::Off;
    }

    /// Has peer `i`'s service snapshot now, at the last snapshot point (every
    /// `SNAPSHOT_INTERVAL` entries) it has applied: a service catching up on snapshots it let
    /// pass. Returns that index, or `None` if it has applied none or is crashed.
    pub async fn snapshot_now(&self, i: usize) -> Option<u64> {
        let (index, data) = {
            let st = self.lock();
            let applied = st.last_applied[i];
            let index = (applied + 1) / SNAPSHOT_INTERVAL * SNAPSHOT_INTERVAL;
            let index = index.checked_sub(1).filter(|&x| x > 0)?;
            let xlog: Vec<Option<Vec<u8>>> =
                (0..=index).map(|j| st.logs[i].get(&j).cloned()).collect();
            (
                index,
                postcard::to_allocvec(&(index, xlog)).unwrap_or_default(),
            )
        };
        self.on(i, move |rf| {
            sim::student_call(
                "Raft::snapshot",
                async move { rf.snapshot(index, data).await },
            )
        })
        .await?;
        Some(index)
    }

    /// Cuts every link into and out of `i` but the one from `i` to `to`, which holds its calls.
    pub fn isolate_but_held(&self, i: usize, to: usize) {
        self.hold(i, to);
        for j in (0..self.n()).filter(|&j| j != i) {
            self.link(j, i, Link::Cut);
            self.link(i, j, if j == to { Link::Up } else { Link::Cut });
        }
    }

    /// Waits until `probe` returns `Some` (asking every 5 ms), for at most `limit`; `None` if it
    /// never did.
    pub async fn wait_until<T, F, Fut>(&self, limit: Duration, probe: F) -> Option<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        poll_every(Duration::from_millis(5), limit, probe)
            .await
            .map(|(_, v)| v)
    }

    /// `Raft::get_state` of peer `i`, or `None` if it is crashed.
    pub async fn get_state(&self, i: usize) -> Option<(u64, bool)> {
        let state = self
            .on(i, |rf| {
                sim::student_call("Raft::get_state", async move { rf.get_state().await })
            })
            .await;
        if let Some((term, leader)) = state
            && timeline::is_recording()
        {
            timeline::observe_state(&self.server_name(i), term, leader);
        }
        state
    }

    /// `Raft::start` on peer `i`, or `None` if it is crashed.
    pub async fn start(&self, i: usize, command: Vec<u8>) -> Option<(u64, u64, bool)> {
        self.on(i, move |rf| {
            sim::student_call("Raft::start", async move { rf.start(command).await })
        })
        .await
    }

    /// `Raft::start` of each command in turn on peer `i`, from one task with nothing between
    /// them, so that they can go out together; `None` if it is crashed.
    pub async fn start_all(
        &self,
        i: usize,
        commands: Vec<Vec<u8>>,
    ) -> Option<Vec<(u64, u64, bool)>> {
        self.on(i, move |rf| async move {
            let mut out = Vec::new();
            for c in commands {
                out.push(sim::student_call("Raft::start", rf.start(c)).await);
            }
            out
        })
        .await
    }

    /// Checks that exactly one connected peer claims leadership in the latest term, retrying for
    /// a while; returns that leader.
    pub async fn check_one_leader(&self) -> usize {
        let check = timeline::check("check_one_leader");
        for _ in 0..10 {
            sleep(Duration::from_millis(450 + sim::random_range(0..100))).await;
            let mut leaders: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
            for i in 0..self.n() {
                if self.is_connected(i)
                    && let Some((term, true)) = self.get_state(i).await
                {
                    leaders.entry(term).or_default().push(i);
                }
            }
            for (term, ls) in &leaders {
                if ls.len() > 1 {
                    panic!("term {term} has {} (>1) leaders: servers {ls:?}", ls.len());
                }
            }
            if let Some((term, ls)) = leaders.last_key_value() {
                check.pass(&format!("{} leads term {term}", self.server_name(ls[0])));
                return ls[0];
            }
        }
        panic!("expected one leader, got none");
    }

    /// Checks that all connected peers agree on the term; returns it.
    pub async fn check_terms(&self) -> u64 {
        let check = timeline::check("check_terms");
        let mut term = None;
        for i in 0..self.n() {
            if self.is_connected(i)
                && let Some((t, _)) = self.get_state(i).await
            {
                match term {
                    None => term = Some(t),
                    Some(x) if x != t => {
                        panic!("servers disagree on term: {x} and {t} (server {i})")
                    }
                    _ => {}
                }
            }
        }
        let term = term.unwrap_or(0);
        check.pass(&format!("all in term {term}"));
        term
    }

    /// Checks that no connected peer thinks it is the leader.
    pub async fn check_no_leader(&self) {
        let _check = timeline::check("check_no_leader");
        for i in 0..self.n() {
            if self.is_connected(i)
                && let Some((_, true)) = self.get_state(i).await
            {
                panic!(
                    "expected no leader among connected servers, but server {i} claims to be leader"
                );
            }
        }
    }

    /// How many peers have applied `index`, and the command there (they must all agree).
    pub fn n_committed(&self, index: u64) -> (usize, Option<Vec<u8>>) {
        let st = self.lock();
        let mut count = 0;
        let mut value: Option<&Vec<u8>> = None;
        for log in &st.logs {
            if let Some(c) = log.get(&index) {
                if let Some(v) = value
                    && v != c
                {
                    panic!(
                        "committed values do not match: index {index}, {} and {}",
                        show(v),
                        show(c)
                    );
                }
                count += 1;
                value = Some(c);
            }
        }
        (count, value.cloned())
    }

    /// Waits for at least `n` peers to apply `index`; `None` if a peer moved past `start_term`.
    pub async fn wait(&self, index: u64, n: usize, start_term: Option<u64>) -> Option<Vec<u8>> {
        let check = timeline::check(&format!("wait for {n} to apply index {index}"));
        let mut to = Duration::from_millis(10);
        for _ in 0..30 {
            if self.n_committed(index).0 >= n {
                break;
            }
            sleep(to).await;
            if to < Duration::from_secs(1) {
                to *= 2;
            }
            if let Some(start) = start_term {
                for i in 0..self.n() {
                    if let Some((t, _)) = self.get_state(i).await
                        && t > start
                    {
                        check.pass(&format!("server {i} moved on to term {t}"));
                        return None; // someone has moved on; the test can't expect success
                    }
                }
            }
        }
        let (nd, c) = self.n_committed(index);
        if nd < n {
            panic!("only {nd} decided for index {index}; wanted {n}");
        }
        check.pass(&format!("{nd} applied it"));
        c
    }

    /// Submits `command` until some leader accepts it and at least `expected` peers apply it at one
    /// index; returns that index. With `Retry::Yes`, a leader that fails to commit is not fatal:
    /// the command is submitted again, for up to 10 s.
    pub async fn one(&self, command: Vec<u8>, expected: usize, retry: Retry) -> u64 {
        let check = timeline::check(&format!("one({}) on {expected}", show(&command)));
        let t0 = Instant::now();
        let mut starts = 0;
        while t0.elapsed() < Duration::from_secs(10) {
            let mut index = None;
            for _ in 0..self.n() {
                starts = (starts + 1) % self.n();
                if self.is_connected(starts)
                    && let Some((i, _, true)) = self.start(starts, command.clone()).await
                {
                    index = Some(i);
                    break;
                }
            }
            let Some(index) = index else {
                sleep(Duration::from_millis(50)).await;
                continue;
            };
            let t1 = Instant::now();
            while t1.elapsed() < Duration::from_secs(2) {
                let (nd, c) = self.n_committed(index);
                if nd > 0 && nd >= expected && c.as_deref() == Some(&command[..]) {
                    check.pass(&format!("index {index}, on {nd}"));
                    return index;
                }
                sleep(Duration::from_millis(20)).await;
            }
            if retry == Retry::No {
                panic!("one({}) failed to reach agreement", show(&command));
            }
        }
        panic!("one({}) failed to reach agreement", show(&command));
    }
}

/// Polls `probe` every millisecond for at most `limit`; the time and value of its first `Some`.
pub async fn first_time<T, F, Fut>(limit: Duration, probe: F) -> Option<(Instant, T)>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    poll_every(Duration::from_millis(1), limit, probe).await
}

/// Polls `probe` every `every` for at most `limit`; the time and value of its first `Some`.
async fn poll_every<T, F, Fut>(
    every: Duration,
    limit: Duration,
    mut probe: F,
) -> Option<(Instant, T)>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let t0 = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return Some((Instant::now(), v));
        }
        if t0.elapsed() >= limit {
            return None;
        }
        sleep(every).await;
    }
}
