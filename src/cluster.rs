//! A group of servers on a simulated network: what every lab's tester is built on (Go's
//! `tester1/group.go`).
//!
//! A [`Cluster`] owns the servers of one group, their saved persisters and their client ends. It
//! crashes and restarts members, connects and cuts the links between them (one direction or
//! both), partitions them, and counts RPCs and bytes for the pass line. What a member is (a Raft
//! peer, a KV server) is the layer above's business: it says how to make one from its ends and
//! persister, and how to kill one. Several groups can share one network: give each its own name.

use std::sync::{Arc, Mutex, MutexGuard};

use labrpc::sim::{self, Node, timeline};
use labrpc::{ClientEnd, Network, Server};
use raft::{Persister, Raft};
use tokio::time::Instant;

/// Logs a tester action (target `tester`) and puts it on the run's timeline.
pub fn note(text: &str) {
    tracing::info!(target: "tester", "{text}");
    timeline::action(text);
}

/// Shuffles a clerk's ends with the calling node's random stream: clerks must not rely on the
/// order of their ends (Go's `random_handles`).
pub fn shuffle_ends(ends: &mut [ClientEnd]) {
    for k in (1..ends.len()).rev() {
        ends.swap(k, sim::random_range(0..=k));
    }
}

/// Whether the network loses, delays and reorders messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Net {
    /// Every message arrives, after a short delay.
    Reliable,
    /// Messages are delayed by up to 27 ms, and 10% of requests and of replies are lost.
    Unreliable,
}

/// Whether a link between two members carries calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// Calls go through (if the network delivers them).
    Up,
    /// Calls fail as if the callee were unreachable.
    Cut,
}

/// How long replies may take on the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reordering {
    /// Replies take 1 ms (plus the unreliable network's delays).
    Short,
    /// 2/3 of replies are delayed by 200-2200 ms, reordering them (Go's `longReordering`).
    Long,
}

/// How a group names its servers and ends on the network, which every group shares.
#[derive(Clone, Debug)]
pub struct GroupName {
    /// Put before every server and end name: empty for a test with one group, e.g. `"g1-"`
    /// when several share the network.
    pub group: String,
    /// What a member is, in its server's name: `raft` names the servers `raft-0`, `raft-1`, ….
    pub kind: &'static str,
}

/// A running member: what the layer above made (`handle`) and the node its tasks belong to.
#[derive(Clone)]
pub struct Member<M> {
    /// What the layer above made: a `Raft`, a `KvServer`.
    pub handle: M,
    /// The node its tasks run on; killed when it crashes.
    pub node: Node,
}

/// The state of the members, behind one lock.
struct Members<M> {
    running: Vec<Option<Member<M>>>,
    saved: Vec<Persister>,
    /// Each member's current ends, by the member they call.
    end_names: Vec<Vec<String>>,
    /// Whether each member is attached to the others (see [`Cluster::connect`]).
    connected: Vec<bool>,
    /// Starts so far; makes end names unique.
    generation: u64,
}

/// What `begin` recorded, for the pass line.
#[derive(Clone)]
struct Begin {
    description: String,
    t0: Instant,
    rpcs0: u64,
    bytes0: u64,
}

/// A group of `n` servers on a network. Cheap to clone: clones share the group, so test tasks
/// can use it.
pub struct Cluster<M> {
    n: usize,
    net: Network,
    name: GroupName,
    /// Stops a member's work before its node is killed (`Raft::kill`, `KvServer::kill`).
    kill: fn(&M),
    members: Arc<Mutex<Members<M>>>,
    begun: Arc<Mutex<Begin>>,
}

impl<M> Clone for Cluster<M> {
    fn clone(&self) -> Self {
        Cluster {
            n: self.n,
            net: self.net.clone(),
            name: self.name.clone(),
            kill: self.kill,
            members: self.members.clone(),
            begun: self.begun.clone(),
        }
    }
}

impl<M: Clone> Cluster<M> {
    /// A group of `n` members on `net`, none running yet, each with an empty persister.
    /// `kill` stops a member's work when it crashes.
    pub fn new(net: &Network, name: GroupName, n: usize, kill: fn(&M)) -> Cluster<M> {
        Cluster {
            n,
            net: net.clone(),
            name,
            kill,
            members: Arc::new(Mutex::new(Members {
                running: vec![None; n],
                saved: (0..n).map(|_| Persister::new()).collect(),
                end_names: vec![Vec::new(); n],
                connected: vec![false; n],
                generation: 0,
            })),
            begun: Arc::new(Mutex::new(Begin {
                description: String::new(),
                t0: Instant::now(),
                rpcs0: 0,
                bytes0: 0,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Members<M>> {
        self.members.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of members.
    pub fn n(&self) -> usize {
        self.n
    }

    /// All member indices.
    pub fn all(&self) -> Vec<usize> {
        (0..self.n).collect()
    }

    /// The network the group is on.
    pub fn net(&self) -> &Network {
        &self.net
    }

    /// The name of member `i`'s server on the network (`raft-2`, `g1-kv-0`).
    pub fn server_name(&self, i: usize) -> String {
        format!("{}{}-{i}", self.name.group, self.name.kind)
    }

    /// Makes one client end per name, the `j`th connected to member `j`'s server (disabled
    /// until a link is enabled).
    pub fn make_ends(&self, names: &[String]) -> Vec<ClientEnd> {
        names
            .iter()
            .enumerate()
            .map(|(j, name)| {
                let end = self.net.make_end(name);
                self.net.connect(name, &self.server_name(j));
                end
            })
            .collect()
    }

    /// Member `i`, or `None` if it is crashed.
    pub fn member(&self, i: usize) -> Option<Member<M>> {
        self.lock().running[i].clone()
    }

    /// Runs `f` on member `i`, as that member (its spawns belong to it). `None` if crashed.
    pub async fn on<T, Fut>(&self, i: usize, f: impl FnOnce(M) -> Fut) -> Option<T>
    where
        T: Send + 'static,
        Fut: Future<Output = T> + Send + 'static,
    {
        let m = self.member(i)?;
        let fut = m.node.enter(|| f(m.handle.clone()));
        m.node.spawn(fut).await.ok()
    }

    /// The member whose Raft peer believes it leads, if any (Go's `Leader`); `raft` reaches a
    /// member's Raft. Every state read goes on the timeline.
    pub async fn leader(&self, raft: fn(&M) -> &Raft) -> Option<usize>
    where
        M: Send + 'static,
    {
        for i in 0..self.n() {
            let state = self
                .on(i, |m| {
                    sim::student_call("Raft::get_state", async move { raft(&m).get_state().await })
                })
                .await;
            if let Some((term, leader)) = state
                && timeline::is_recording()
            {
                timeline::observe_state(&self.server_name(i), term, leader);
            }
            if let Some((_, true)) = state {
                return Some(i);
            }
        }
        None
    }

    // ----- Crash and restart -----

    /// Crashes member `i`: cuts it off, deletes its server, stops all its tasks, and keeps a copy
    /// of its persister for a later restart (Go's `crash1`, `ShutdownServer`).
    pub fn crash(&self, i: usize) {
        if self.lock().running[i].is_some() {
            note(&format!("crash {}", self.server_name(i)));
        }
        self.disconnect(i);
        // Deleting the server before copying the persister means the server cannot answer a
        // request whose effect went into the superseded persister.
        self.net.delete_server(&self.server_name(i));
        let member = {
            let mut st = self.lock();
            // A fresh persister, so the old incarnation cannot overwrite what the new one reads.
            st.saved[i] = st.saved[i].copy();
            st.running[i].take()
        };
        if let Some(m) = member {
            m.node.enter(|| (self.kill)(&m.handle));
            m.node.kill();
        }
    }

    /// Starts member `i` with fresh ends (one to each member, disabled until connected) and a
    /// copy of its persister: `make` builds it from them and returns it with its RPC server,
    /// which joins the network. `i` must not be running.
    pub fn start_member(
        &self,
        i: usize,
        make: impl FnOnce(Vec<ClientEnd>, Persister) -> (Member<M>, Server),
    ) {
        let (ends, persister) = {
            let mut st = self.lock();
            st.generation += 1;
            let g = st.generation;
            let names: Vec<String> = (0..self.n)
                .map(|j| format!("{}{i}->{j}#{g}", self.name.group))
                .collect();
            let ends = self.make_ends(&names);
            for name in &names {
                timeline::end_owner(name, &self.server_name(i));
            }
            st.end_names[i] = names;
            st.saved[i] = st.saved[i].copy();
            (ends, st.saved[i].clone())
        };
        let (member, server) = make(ends, persister);
        self.lock().running[i] = Some(member);
        self.net.add_server(&self.server_name(i), server);
    }

    /// Whether member `i` is running (not crashed).
    pub fn is_running(&self, i: usize) -> bool {
        self.lock().running[i].is_some()
    }

    /// Size of member `i`'s saved Raft state, in bytes.
    pub fn raft_state_size(&self, i: usize) -> usize {
        self.lock().saved[i].raft_state_size()
    }

    /// Size of member `i`'s saved snapshot, in bytes.
    pub fn saved_snapshot_size(&self, i: usize) -> usize {
        self.lock().saved[i].snapshot_size()
    }

    /// The largest Raft state any member has saved, in bytes.
    pub fn log_size(&self) -> usize {
        self.lock()
            .saved
            .iter()
            .map(Persister::raft_state_size)
            .max()
            .unwrap_or(0)
    }

    /// The largest snapshot any member has saved, in bytes.
    pub fn snapshot_size(&self) -> usize {
        self.lock()
            .saved
            .iter()
            .map(Persister::snapshot_size)
            .max()
            .unwrap_or(0)
    }

    // ----- Links -----

    /// Attaches member `i` to the network again: both directions, to every attached member.
    pub fn connect(&self, i: usize) {
        note(&format!("connect {}", self.server_name(i)));
        let mut st = self.lock();
        st.connected[i] = true;
        for j in 0..self.n {
            if st.connected[j] {
                self.enable_pair(&st, i, j, true);
            }
        }
    }

    /// Detaches member `i` from the network: both directions, from every member.
    pub fn disconnect(&self, i: usize) {
        let mut st = self.lock();
        if st.connected[i] {
            note(&format!("disconnect {}", self.server_name(i)));
        }
        st.connected[i] = false;
        for j in 0..self.n {
            self.enable_pair(&st, i, j, false);
        }
    }

    /// Attaches every member (as [`connect`](Self::connect) of each in turn).
    pub fn connect_all(&self) {
        for i in 0..self.n {
            self.connect(i);
        }
    }

    /// Enables or cuts the ends from `i` to `j` and from `j` to `i`.
    fn enable_pair(&self, st: &Members<M>, i: usize, j: usize, up: bool) {
        if let Some(name) = st.end_names[i].get(j) {
            self.net.enable(name, up);
        }
        if let Some(name) = st.end_names[j].get(i) {
            self.net.enable(name, up);
        }
    }

    /// Whether member `i` is attached.
    pub fn is_connected(&self, i: usize) -> bool {
        self.lock().connected[i]
    }

    /// Enables or cuts the link from member `from` to member `to`: the calls `from` makes to `to`
    /// (and their replies). The other direction is a link of its own. `connect` and
    /// `disconnect` of either member set it again.
    pub fn link(&self, from: usize, to: usize, link: Link) {
        note(&format!(
            "link {} -> {} {}",
            self.server_name(from),
            self.server_name(to),
            if link == Link::Up { "up" } else { "cut" }
        ));
        self.set_link(from, to, link);
    }

    /// [`link`](Self::link) without the note.
    fn set_link(&self, from: usize, to: usize, link: Link) {
        let st = self.lock();
        if let Some(name) = st.end_names[from].get(to) {
            self.net.enable(name, link == Link::Up);
        }
    }

    /// Splits the members into `groups`: members of one group reach each other, and no one else.
    /// A member in no group is cut off from all (but counts as attached).
    pub fn partition(&self, groups: &[&[usize]]) {
        note(&format!("partition {groups:?}"));
        let group_of = |i: usize| groups.iter().position(|g| g.contains(&i));
        for i in 0..self.n {
            self.lock().connected[i] = true;
            for j in (0..self.n).filter(|&j| j != i) {
                let together = group_of(i).is_some() && group_of(i) == group_of(j);
                self.set_link(i, j, if together { Link::Up } else { Link::Cut });
            }
        }
    }

    /// The name of the end member `from` calls member `to` on (its current incarnation).
    fn end_name(&self, from: usize, to: usize) -> String {
        self.lock().end_names[from]
            .get(to)
            .cloned()
            .unwrap_or_else(|| panic!("server {from} has no end to server {to}: is it running?"))
    }

    /// Holds back the calls member `from` makes to member `to` from now on, until
    /// [`let_go`](Self::let_go). A restart of `from` drops the hold with the old ends.
    pub fn hold(&self, from: usize, to: usize) {
        self.set_hold(from, to, true);
    }

    /// Lets every call held from `from` to `to` go, in order, and holds no more.
    pub fn let_go(&self, from: usize, to: usize) {
        self.set_hold(from, to, false);
    }

    fn set_hold(&self, from: usize, to: usize, yes: bool) {
        note(&format!(
            "hold {} -> {} {yes}",
            self.server_name(from),
            self.server_name(to)
        ));
        self.net.hold(&self.end_name(from, to), yes);
    }

    /// Lets the `n` oldest held calls from `from` to `to` go; returns how many went.
    pub fn release(&self, from: usize, to: usize, n: usize) -> usize {
        let count = match n {
            usize::MAX => "all".to_string(),
            n => n.to_string(),
        };
        note(&format!(
            "release {count} {} -> {}",
            self.server_name(from),
            self.server_name(to)
        ));
        self.net.release(&self.end_name(from, to), n)
    }

    /// How many calls from `from` to `to` wait in the hold.
    pub fn held(&self, from: usize, to: usize) -> usize {
        self.net.held_count(&self.end_name(from, to))
    }

    /// Holds back the replies to the calls `from` makes to `to`, until
    /// [`let_go_replies`](Self::let_go_replies); a held reply is lost if the link is cut
    /// meanwhile.
    pub fn hold_replies(&self, from: usize, to: usize) {
        self.set_hold_replies(from, to, true);
    }

    /// Lets the held replies to the calls `from` makes to `to` go, and holds no more.
    pub fn let_go_replies(&self, from: usize, to: usize) {
        self.set_hold_replies(from, to, false);
    }

    fn set_hold_replies(&self, from: usize, to: usize, yes: bool) {
        note(&format!(
            "hold replies {} -> {} {yes}",
            self.server_name(from),
            self.server_name(to)
        ));
        self.net.hold_replies(&self.end_name(from, to), yes);
    }

    /// How many replies to calls from `from` to `to` wait in the hold.
    pub fn replies_held(&self, from: usize, to: usize) -> usize {
        self.net.replies_held(&self.end_name(from, to))
    }

    /// Loses every reply to the calls `from` makes to `to`, until
    /// [`stop_losing_replies`](Self::stop_losing_replies); the requests still take effect.
    pub fn lose_replies(&self, from: usize, to: usize) {
        self.set_lose_replies(from, to, true);
    }

    /// Delivers the replies to the calls `from` makes to `to` again.
    pub fn stop_losing_replies(&self, from: usize, to: usize) {
        self.set_lose_replies(from, to, false);
    }

    fn set_lose_replies(&self, from: usize, to: usize, yes: bool) {
        note(&format!(
            "lose replies {} -> {} {yes}",
            self.server_name(from),
            self.server_name(to)
        ));
        self.net.lose_replies(&self.end_name(from, to), yes);
    }

    /// Starts recording the requests `from` delivers to `to`, forgetting earlier ones.
    pub fn record(&self, from: usize, to: usize) {
        self.net.record(&self.end_name(from, to), true);
    }

    /// Stops recording the requests `from` delivers to `to`, keeping those recorded.
    pub fn stop_recording(&self, from: usize, to: usize) {
        self.net.record(&self.end_name(from, to), false);
    }

    /// The methods of the requests recorded from `from` to `to`, in delivery order.
    pub fn recorded(&self, from: usize, to: usize) -> Vec<String> {
        self.net.recorded_methods(&self.end_name(from, to))
    }

    /// Delivers a copy of every recorded request from `from` to `to` again, in order, dropping
    /// the replies: a network that duplicates messages. Returns how many were delivered.
    pub async fn replay(&self, from: usize, to: usize) -> usize {
        note(&format!(
            "replay {} -> {}",
            self.server_name(from),
            self.server_name(to)
        ));
        self.net.replay(&self.end_name(from, to)).await
    }

    // ----- The network's behaviour and statistics -----

    /// Makes the network reliable or not (for every group on it).
    pub fn set_net(&self, net: Net) {
        self.net.reliable(net == Net::Reliable);
    }

    /// Sets how long replies may take (for every group on the network).
    pub fn set_reordering(&self, reordering: Reordering) {
        self.net.long_reordering(reordering == Reordering::Long);
    }

    /// Total RPCs sent on the network.
    pub fn rpc_total(&self) -> u64 {
        self.net.rpc_count()
    }

    /// RPCs received by member `i`'s current incarnation.
    pub fn rpc_count(&self, i: usize) -> u64 {
        self.net.server_rpc_count(&self.server_name(i))
    }

    /// Total bytes sent on the network.
    pub fn bytes_total(&self) -> u64 {
        self.net.byte_count()
    }

    /// Marks the start of the measured part of a test.
    pub fn begin(&self, description: &str) {
        note(&format!("begin: {description}"));
        *self.begun.lock().unwrap_or_else(|e| e.into_inner()) = Begin {
            description: description.to_string(),
            t0: Instant::now(),
            rpcs0: self.net.rpc_count(),
            bytes0: self.net.byte_count(),
        };
    }

    /// Bytes sent on the network since `begin`.
    pub fn bytes_since_begin(&self) -> u64 {
        let bytes0 = self.begun.lock().unwrap_or_else(|e| e.into_inner()).bytes0;
        self.net.byte_count() - bytes0
    }

    /// The pass line's account of the test since `begin`:
    /// `(description) time=1.0s peers=3 rpcs=42`, then each of `counts` as ` name=value`.
    pub fn pass_line(&self, counts: &[(&str, u64)]) -> String {
        let b = self.begun.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut line = format!(
            "({}) time={:.1}s peers={} rpcs={}",
            b.description,
            b.t0.elapsed().as_secs_f64(),
            self.n,
            self.net.rpc_count() - b.rpcs0,
        );
        for (name, value) in counts {
            line.push_str(&format!(" {name}={value}"));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use labrpc::harness::{self, Options};
    use labrpc::sim::Node;
    use labrpc::sim::timeline::Kind;
    use labrpc::{Network, Server};

    use super::{Cluster, GroupName, Member};

    /// Three members of a group called `kv`, started and connected.
    fn three(net: &Network) -> Cluster<()> {
        let name = GroupName {
            group: String::new(),
            kind: "kv",
        };
        let c = Cluster::new(net, name, 3, |_: &()| {});
        for i in 0..3 {
            c.start_member(i, |_, _| {
                let node = Node::new(c.server_name(i));
                (Member { handle: (), node }, Server::new())
            });
        }
        c.connect_all();
        c
    }

    /// A recorded run shows the tester's actions on its lane, and a partition's link changes
    /// on the lanes of the members whose ends they are.
    #[test]
    fn the_timeline_shows_actions_and_links_on_their_lanes() {
        let opts = Options {
            timeline: true,
            ..Options::with_seed(1)
        };
        let (_, report) = harness::run(opts, || async {
            let net = Network::new();
            let c = three(&net);
            c.partition(&[&[0, 1], &[2]]);
            c.crash(1);
        })
        .expect("the simulated run failed");
        let tl = report.timeline.expect("no timeline");
        let lane = |n: &str| tl.lanes.iter().position(|l| l == n).unwrap() as u32;
        let text = |i: u32| tl.strings[i as usize].as_str();
        let actions: Vec<&str> = tl
            .events
            .iter()
            .filter(|e| e.kind == Kind::Action)
            .map(|e| text(e.text))
            .collect();
        assert!(actions.contains(&"partition [[0, 1], [2]]"), "{actions:?}");
        assert!(actions.contains(&"crash kv-1"), "{actions:?}");
        // kv-2's ends to kv-0 and kv-1 were cut, on kv-2's lane, towards their servers.
        let cut: Vec<u32> = tl
            .events
            .iter()
            .filter(|e| e.kind == Kind::Link && e.num == 0 && e.lane == lane("kv-2"))
            .filter_map(|e| e.peer)
            .collect();
        assert!(
            cut.contains(&lane("kv-0")) && cut.contains(&lane("kv-1")),
            "{cut:?}"
        );
        assert!(
            tl.events
                .iter()
                .any(|e| e.kind == Kind::Crash && e.lane == lane("kv-1"))
        );
    }

    /// Two groups share a network: their names carry the group, so their ends and servers do
    /// not clash, and a crash in one leaves the other alone.
    #[test]
    fn two_groups_share_a_network() {
        let (seen, _) = harness::run(Options::with_seed(1), || async {
            let net = Network::new();
            let group = |g: &str| {
                let name = GroupName {
                    group: g.to_string(),
                    kind: "kv",
                };
                Cluster::new(&net, name, 2, |_: &()| {})
            };
            let (a, b) = (group("a-"), group("b-"));
            for c in [&a, &b] {
                for i in 0..2 {
                    c.start_member(i, |ends, _| {
                        assert_eq!(ends.len(), 2);
                        let node = Node::new(c.server_name(i));
                        (Member { handle: (), node }, Server::new())
                    });
                }
                c.connect_all();
            }
            a.crash(0);
            let running = [a.is_running(0), a.is_running(1), b.is_running(0)];
            let connected = [a.is_connected(0), b.is_connected(0)];
            (a.server_name(1), b.server_name(0), running, connected)
        })
        .expect("the simulated run failed");
        assert_eq!(
            seen,
            (
                "a-kv-1".to_string(),
                "b-kv-0".to_string(),
                [false, true, true],
                [false, true]
            )
        );
    }
}
