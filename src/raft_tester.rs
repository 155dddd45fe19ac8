//! The Raft lab's tester: a cluster of peers on a simulated network, and the checks the graded
//! tests make (Go's raft `config.go`, in virtual time).
//!
//! Every failure is a panic on the tester's node; the simulation turns it into a test failure that
//! names the check, the virtual time and the seed, and prints the command that replays the run.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use labrpc::harness::TestRun;
use labrpc::sim::{self, Node};
use labrpc::{ClientEnd, Network, Server};
use raft::{APPLY_CHANNEL_CAPACITY, ApplyMsg, Persister, Raft};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep};

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

/// A running peer: its Raft and the node its tasks belong to.
#[derive(Clone)]
struct Peer {
    raft: Raft,
    node: Node,
}

struct State {
    rafts: Vec<Option<Peer>>,
    saved: Vec<Persister>,
    end_names: Vec<Vec<String>>,
    connected: Vec<bool>,
    /// What each server has applied, by index.
    logs: Vec<BTreeMap<u64, Vec<u8>>>,
    last_applied: Vec<u64>,
    max_index: u64,
    /// Restarts so far; makes end names unique.
    generation: u64,
    /// Peers whose applier asks for no snapshots for now (a service that snapshots rarely).
    no_snapshots: Vec<bool>,
}

/// A Raft cluster under test. Cheap to clone: clones share the cluster, so test tasks can use it.
#[derive(Clone)]
pub struct Config {
    n: usize,
    net: Network,
    snapshot: bool,
    state: Arc<Mutex<State>>,
    begun: Arc<Mutex<Begin>>,
}

/// What `begin` recorded, for the summary line.
#[derive(Clone)]
struct Begin {
    description: String,
    t0: Instant,
    rpcs0: u64,
    bytes0: u64,
    max_index0: u64,
}

fn server_name(i: usize) -> String {
    format!("raft-{i}")
}

/// Makes one client end per name, the `j`th connected to server `server(j)`.
pub(crate) fn make_ends(
    net: &Network,
    names: &[String],
    server: fn(usize) -> String,
) -> Vec<ClientEnd> {
    names
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let end = net.make_end(name);
            net.connect(name, &server(j));
            end
        })
        .collect()
}

/// Runs one graded Raft test: `n` peers, reliable or not, with the snapshotting applier or not.
/// `body` is the test; the summary line reports time, peers, RPCs, bytes and commands agreed.
pub fn raft_test<F, Fut>(
    n: usize,
    unreliable: bool,
    snapshot: bool,
    description: &'static str,
    body: F,
) where
    F: Fn(Config) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    TestRun::new().cargo_flags(REPLAY_FLAGS).run(move || {
        let body = body.clone();
        async move {
            let cfg = Config::new(n, unreliable, snapshot);
            cfg.begin(description);
            body(cfg.clone()).await;
            cfg.end()
        }
    });
}

impl Config {
    /// Starts `n` connected peers (Go's `make_config`). Long delays are on, as in Go.
    pub fn new(n: usize, unreliable: bool, snapshot: bool) -> Config {
        let net = Network::new();
        net.reliable(!unreliable);
        net.long_delays(true);
        let cfg = Config {
            n,
            net,
            snapshot,
            state: Arc::new(Mutex::new(State {
                rafts: vec![None; n],
                saved: (0..n).map(|_| Persister::new()).collect(),
                end_names: vec![Vec::new(); n],
                connected: vec![false; n],
                logs: vec![BTreeMap::new(); n],
                last_applied: vec![0; n],
                max_index: 0,
                generation: 0,
                no_snapshots: vec![false; n],
            })),
            begun: Arc::new(Mutex::new(Begin {
                description: String::new(),
                t0: Instant::now(),
                rpcs0: 0,
                bytes0: 0,
                max_index0: 0,
            })),
        };
        for i in 0..n {
            cfg.start1(i);
        }
        for i in 0..n {
            cfg.connect(i);
        }
        cfg
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of peers.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Marks the start of the measured part of a test.
    pub fn begin(&self, description: &str) {
        let max_index0 = self.lock().max_index;
        *self.begun.lock().unwrap_or_else(|e| e.into_inner()) = Begin {
            description: description.to_string(),
            t0: Instant::now(),
            rpcs0: self.net.rpc_count(),
            bytes0: self.net.byte_count(),
            max_index0,
        };
    }

    /// The summary of a passed test: virtual time, peers, RPCs, bytes, commands agreed.
    pub fn end(&self) -> String {
        let b = self.begun.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let cmds = self.lock().max_index - b.max_index0;
        format!(
            "({}) time={:.1}s peers={} rpcs={} bytes={} cmds={}",
            b.description,
            b.t0.elapsed().as_secs_f64(),
            self.n,
            self.net.rpc_count() - b.rpcs0,
            self.net.byte_count() - b.bytes0,
            cmds
        )
    }

    /// Crashes peer `i`: cuts it off, deletes its server, stops all its tasks, and keeps a copy of
    /// its persister for a later restart.
    pub fn crash1(&self, i: usize) {
        if self.lock().rafts[i].is_some() {
            tracing::info!(target: "tester", "crash {}", server_name(i));
        }
        self.disconnect(i);
        self.net.delete_server(&server_name(i));
        let peer = {
            let mut st = self.lock();
            // A fresh persister, so the old incarnation cannot overwrite what the new one reads.
            st.saved[i] = st.saved[i].copy();
            st.rafts[i].take()
        };
        if let Some(p) = peer {
            p.node.enter(|| p.raft.kill());
            p.node.kill();
        }
    }

    /// (Re)starts peer `i` with fresh ends and a copy of its persister (Go's `start1`).
    pub fn start1(&self, i: usize) {
        self.crash1(i);
        tracing::info!(target: "tester", "start {}", server_name(i));
        let (ends, persister) = {
            let mut st = self.lock();
            st.generation += 1;
            let g = st.generation;
            let names: Vec<String> = (0..self.n).map(|j| format!("{i}->{j}#{g}")).collect();
            let ends = make_ends(&self.net, &names, server_name);
            st.end_names[i] = names;
            st.last_applied[i] = 0;
            st.saved[i] = st.saved[i].copy();
            (ends, st.saved[i].clone())
        };
        let snapshot = persister.read_snapshot();
        if !snapshot.is_empty()
            && let Err(e) = self.ingest_snapshot(i, &snapshot, None)
        {
            panic!("{e}");
        }
        let (tx, rx) = mpsc::channel(APPLY_CHANNEL_CAPACITY);
        let node = Node::new(server_name(i));
        let raft = node.enter(|| Raft::new(ends, i, persister, tx));
        let server = node.enter(|| {
            let s = Server::new();
            s.add_service(raft.service());
            s
        });
        let peer = Peer { raft, node };
        let applier = self.clone();
        let p = peer.clone();
        Node::tester().spawn(async move { applier.applier(i, p, rx).await });
        self.lock().rafts[i] = Some(peer);
        self.net.add_server(&server_name(i), server);
    }

    /// Reads peer `i`'s apply channel and checks every message (Go's `applier` and `applierSnap`).
    async fn applier(&self, i: usize, peer: Peer, mut rx: mpsc::Receiver<ApplyMsg>) {
        while let Some(m) = rx.recv().await {
            if !peer.node.is_alive() {
                return; // a message of a crashed incarnation
            }
            let snapshot_now = match m {
                ApplyMsg::Snapshot { index, data, .. } => {
                    let applied = self.lock().last_applied[i];
                    if self.snapshot && index < applied {
                        panic!(
                            "apply error: server {i} sent a snapshot that ends at index {index} \
                             after it had applied index {applied}: the state machine would go \
                             back; a snapshot of what is already applied must not be installed \
                             (Figure 13, rule 6)"
                        );
                    }
                    if self.snapshot
                        && let Err(e) = self.ingest_snapshot(i, &data, Some(index))
                    {
                        panic!("{e}");
                    }
                    None
                }
                ApplyMsg::Command { index, command } => self.check_apply(i, index, command),
            };
            if let Some((index, data)) = snapshot_now {
                let raft = peer.raft.clone();
                // Like Go's tester, snapshot from inside the apply loop.
                let _ = peer
                    .node
                    .spawn(async move { raft.snapshot(index, data).await })
                    .await;
            }
        }
    }

    /// Checks one applied command; returns a snapshot to hand to Raft when one is due.
    fn check_apply(&self, i: usize, index: u64, command: Vec<u8>) -> Option<(u64, Vec<u8>)> {
        let mut st = self.lock();
        if self.snapshot && index != st.last_applied[i] + 1 {
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
        st.logs[i].insert(index, command);
        st.max_index = st.max_index.max(index);
        st.last_applied[i] = index;
        if !self.snapshot || !(index + 1).is_multiple_of(SNAPSHOT_INTERVAL) || st.no_snapshots[i] {
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
        Ok(())
    }

    /// Attaches peer `i` to the network again (both directions, to connected peers).
    pub fn connect(&self, i: usize) {
        tracing::info!(target: "tester", "connect {}", server_name(i));
        let mut st = self.lock();
        st.connected[i] = true;
        for j in 0..self.n {
            if st.connected[j] {
                if let Some(name) = st.end_names[i].get(j) {
                    self.net.enable(name, true);
                }
                if let Some(name) = st.end_names[j].get(i) {
                    self.net.enable(name, true);
                }
            }
        }
    }

    /// Detaches peer `i` from the network (both directions).
    pub fn disconnect(&self, i: usize) {
        let mut st = self.lock();
        if st.connected[i] {
            tracing::info!(target: "tester", "disconnect {}", server_name(i));
        }
        st.connected[i] = false;
        for j in 0..self.n {
            if let Some(name) = st.end_names[i].get(j) {
                self.net.enable(name, false);
            }
            if let Some(name) = st.end_names[j].get(i) {
                self.net.enable(name, false);
            }
        }
    }

    /// Enables or cuts the link from peer `from` to peer `to`: the calls `from` makes to `to` (and
    /// their replies). The other direction is a link of its own. `connect` and `disconnect` of
    /// either peer set it again.
    pub fn link(&self, from: usize, to: usize, up: bool) {
        tracing::info!(
            target: "tester",
            "link {} -> {} {}",
            server_name(from),
            server_name(to),
            if up { "up" } else { "cut" }
        );
        let st = self.lock();
        if let Some(name) = st.end_names[from].get(to) {
            self.net.enable(name, up);
        }
    }

    /// The name of the end peer `from` calls peer `to` on (its current incarnation).
    fn end_name(&self, from: usize, to: usize) -> String {
        self.lock().end_names[from]
            .get(to)
            .cloned()
            .unwrap_or_else(|| panic!("server {from} has no end to server {to}: is it running?"))
    }

    /// Holds back the calls peer `from` makes to peer `to` from now on (`true`), or lets every
    /// held one go (`false`). Held calls leave in order when let go; a restart of `from` drops
    /// the hold with the old ends.
    pub fn hold(&self, from: usize, to: usize, yes: bool) {
        tracing::info!(target: "tester", "hold {} -> {} {yes}", server_name(from), server_name(to));
        self.net.hold(&self.end_name(from, to), yes);
    }

    /// Lets the `n` oldest held calls from `from` to `to` go; returns how many went.
    pub fn release(&self, from: usize, to: usize, n: usize) -> usize {
        tracing::info!(target: "tester", "release {n} {} -> {}", server_name(from), server_name(to));
        self.net.release(&self.end_name(from, to), n)
    }

    /// Holds back the replies to the calls `from` makes to `to` (`true`) until let go (`false`);
    /// a held reply is lost if the link is cut meanwhile.
    pub fn hold_replies(&self, from: usize, to: usize, yes: bool) {
        tracing::info!(target: "tester", "hold replies {} -> {} {yes}", server_name(from), server_name(to));
        self.net.hold_replies(&self.end_name(from, to), yes);
    }

    /// Loses every reply to the calls `from` makes to `to` (`true`) until told otherwise; the
    /// requests still take effect.
    pub fn lose_replies(&self, from: usize, to: usize, yes: bool) {
        tracing::info!(target: "tester", "lose replies {} -> {} {yes}", server_name(from), server_name(to));
        self.net.lose_replies(&self.end_name(from, to), yes);
    }

    /// How many replies to calls from `from` to `to` wait in the hold.
    pub fn replies_held(&self, from: usize, to: usize) -> usize {
        self.net.replies_held(&self.end_name(from, to))
    }

    /// Size of peer `i`'s saved Raft state, in bytes.
    pub fn raft_state_size(&self, i: usize) -> usize {
        self.lock().saved[i].raft_state_size()
    }

    /// Whether peer `i`'s applier asks for snapshots (in a test with snapshots): a service that
    /// snapshots rarely, so that its Raft's snapshot lags behind the leader's.
    pub fn set_snapshots(&self, i: usize, on: bool) {
        self.lock().no_snapshots[i] = !on;
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
        self.on(i, move |rf| async move { rf.snapshot(index, data).await })
            .await?;
        Some(index)
    }

    /// How many calls from `from` to `to` wait in the hold.
    pub fn held(&self, from: usize, to: usize) -> usize {
        self.net.held_count(&self.end_name(from, to))
    }

    /// Starts (forgetting earlier ones) or stops (keeping them) recording the requests `from`
    /// delivers to `to`.
    pub fn record(&self, from: usize, to: usize, yes: bool) {
        self.net.record(&self.end_name(from, to), yes);
    }

    /// The methods of the requests recorded from `from` to `to`, in delivery order.
    pub fn recorded(&self, from: usize, to: usize) -> Vec<String> {
        self.net.recorded_methods(&self.end_name(from, to))
    }

    /// Delivers a copy of every recorded request from `from` to `to` again, in order, dropping
    /// the replies: a network that duplicates messages. Returns how many were delivered.
    pub async fn replay(&self, from: usize, to: usize) -> usize {
        tracing::info!(target: "tester", "replay {} -> {}", server_name(from), server_name(to));
        self.net.replay(&self.end_name(from, to)).await
    }

    /// Splits the peers into `groups`: peers of one group reach each other, and no one else. A peer
    /// in no group is cut off from all (but counts as connected for the checks).
    pub fn partition(&self, groups: &[&[usize]]) {
        let group_of = |i: usize| groups.iter().position(|g| g.contains(&i));
        for i in 0..self.n {
            self.lock().connected[i] = true;
            for j in (0..self.n).filter(|&j| j != i) {
                let together = group_of(i).is_some() && group_of(i) == group_of(j);
                self.link(i, j, together);
            }
        }
    }

    /// Waits until `probe` returns `Some` (asking every 5 ms), for at most `limit`; `None` if it
    /// never did.
    pub async fn wait_until<T, F, Fut>(&self, limit: Duration, mut probe: F) -> Option<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let t0 = Instant::now();
        loop {
            if let Some(v) = probe().await {
                return Some(v);
            }
            if t0.elapsed() >= limit {
                return None;
            }
            sleep(Duration::from_millis(5)).await;
        }
    }

    /// Whether peer `i` is connected.
    pub fn is_connected(&self, i: usize) -> bool {
        self.lock().connected[i]
    }

    /// Whether peer `i` is running (not crashed).
    pub fn is_running(&self, i: usize) -> bool {
        self.lock().rafts[i].is_some()
    }

    /// Makes the network reliable or not.
    pub fn set_unreliable(&self, yes: bool) {
        self.net.reliable(!yes);
    }

    /// Turns long reordering of replies on or off.
    pub fn set_long_reordering(&self, yes: bool) {
        self.net.long_reordering(yes);
    }

    /// Total RPCs sent on the network.
    pub fn rpc_total(&self) -> u64 {
        self.net.rpc_count()
    }

    /// RPCs received by peer `i`'s current incarnation.
    pub fn rpc_count(&self, i: usize) -> u64 {
        self.net.server_rpc_count(&server_name(i))
    }

    /// Total bytes sent on the network.
    pub fn bytes_total(&self) -> u64 {
        self.net.byte_count()
    }

    /// The largest Raft state any peer has saved, in bytes.
    pub fn log_size(&self) -> usize {
        self.lock()
            .saved
            .iter()
            .map(Persister::raft_state_size)
            .max()
            .unwrap_or(0)
    }

    /// Runs `f` on peer `i`'s Raft, as that peer (its spawns belong to it). `None` if crashed.
    async fn on<T, Fut>(&self, i: usize, f: impl FnOnce(Raft) -> Fut) -> Option<T>
    where
        T: Send + 'static,
        Fut: Future<Output = T> + Send + 'static,
    {
        let peer = self.lock().rafts[i].clone()?;
        let fut = peer.node.enter(|| f(peer.raft.clone()));
        peer.node.spawn(fut).await.ok()
    }

    /// `Raft::get_state` of peer `i`, or `None` if it is crashed.
    pub async fn get_state(&self, i: usize) -> Option<(u64, bool)> {
        self.on(i, |rf| async move { rf.get_state().await }).await
    }

    /// `Raft::start` on peer `i`, or `None` if it is crashed.
    pub async fn start(&self, i: usize, command: Vec<u8>) -> Option<(u64, u64, bool)> {
        self.on(i, move |rf| async move { rf.start(command).await })
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
                out.push(rf.start(c).await);
            }
            out
        })
        .await
    }

    /// Checks that exactly one connected peer claims leadership in the latest term, retrying for
    /// a while; returns that leader.
    pub async fn check_one_leader(&self) -> usize {
        for _ in 0..10 {
            sleep(Duration::from_millis(450 + sim::random_range(0..100))).await;
            let mut leaders: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
            for i in 0..self.n {
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
            if let Some((_, ls)) = leaders.last_key_value() {
                return ls[0];
            }
        }
        panic!("expected one leader, got none");
    }

    /// Checks that all connected peers agree on the term; returns it.
    pub async fn check_terms(&self) -> u64 {
        let mut term = None;
        for i in 0..self.n {
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
        term.unwrap_or(0)
    }

    /// Checks that no connected peer thinks it is the leader.
    pub async fn check_no_leader(&self) {
        for i in 0..self.n {
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
                for i in 0..self.n {
                    if let Some((t, _)) = self.get_state(i).await
                        && t > start
                    {
                        return None; // someone has moved on; the test can't expect success
                    }
                }
            }
        }
        let (nd, c) = self.n_committed(index);
        if nd < n {
            panic!("only {nd} decided for index {index}; wanted {n}");
        }
        c
    }

    /// Submits `command` until some leader accepts it and at least `expected` peers apply it at one
    /// index; returns that index. With `retry`, a leader that fails to commit is not fatal: the
    /// command is submitted again, for up to 10 s.
    pub async fn one(&self, command: Vec<u8>, expected: usize, retry: bool) -> u64 {
        let t0 = Instant::now();
        let mut starts = 0;
        while t0.elapsed() < Duration::from_secs(10) {
            let mut index = None;
            for _ in 0..self.n {
                starts = (starts + 1) % self.n;
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
                    return index;
                }
                sleep(Duration::from_millis(20)).await;
            }
            if !retry {
                panic!("one({}) failed to reach agreement", show(&command));
            }
        }
        panic!("one({}) failed to reach agreement", show(&command));
    }
}
