//! The sharded KV lab's tester (lab 4B): a shard controller and three replica groups on one
//! simulated network, clerks whose every operation goes into one history, and the checks the
//! graded tests make (Go's shardkv `config.go`, in virtual time). Every test ends by checking its
//! whole history for linearizability and the controller's replicas for agreeing configs.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use labrpc::sim::{self, Node, timeline};
use labrpc::{ClientEnd, Network, Server};
use shardctrler::Gid;
use shardkv::{MakeEnd, ShardKv};
use tokio::time::Instant;

pub use crate::cluster::Net;
use crate::cluster::{Cluster, GroupName, Member, note, shuffle_ends};
pub use crate::kv_tester::check;
use crate::kv_tester::{
    SharedHistory, TestClerk, annotate, linearizable_test, lock_history, new_history,
};
use crate::shardctrler_tester::{CtrlerCluster, TestClerk as CtrlerClerk};

/// The replica groups' ids, by group index (Go's 100, 101, 102).
pub const GIDS: [Gid; 3] = [100, 101, 102];

/// Servers in each replica group, and controller servers.
pub const SERVERS: usize = 3;

/// A clerk of the sharded service, recorded into the test's history.
pub type ShardClerk = TestClerk<shardkv::Clerk>;

/// The ends made for servers and clerks through a [`MakeEnd`] (or for their controller ends),
/// by owner, so that shutting a server down disables them.
#[derive(Default)]
struct Ends {
    /// Ends made so far; makes names unique.
    made: u64,
    /// Each owner's ends (a server's or clerk's name).
    by_owner: BTreeMap<String, Vec<String>>,
}

/// Makes a fresh end called after `owner` and `server`, connected to `server` and enabled, and
/// records it under `owner`.
fn new_end(net: &Network, ends: &Mutex<Ends>, owner: &str, server: &str) -> ClientEnd {
    let name = {
        let mut e = ends.lock().unwrap_or_else(|e| e.into_inner());
        e.made += 1;
        let name = format!("{owner}->{server}#{}", e.made);
        e.by_owner
            .entry(owner.to_string())
            .or_default()
            .push(name.clone());
        name
    };
    let end = net.make_end(&name);
    net.connect(&name, server);
    net.enable(&name, true);
    timeline::end_owner(&name, owner);
    end
}

/// Fresh ends from `owner` to every server of `ctrler`, recorded under `owner` (in random order:
/// clerks must not rely on it).
fn ctrler_ends(
    net: &Network,
    ends: &Mutex<Ends>,
    ctrler: &CtrlerCluster,
    owner: &str,
) -> Vec<ClientEnd> {
    let mut v: Vec<ClientEnd> = (0..ctrler.n())
        .map(|j| new_end(net, ends, owner, &ctrler.server_name(j)))
        .collect();
    shuffle_ends(&mut v);
    v
}

/// The tester's own bookkeeping.
struct State {
    /// Clerks made so far (their ids).
    clerks: u64,
    /// Controllers started besides the main one (checked for agreement at the end too).
    other_ctrlers: Vec<CtrlerCluster>,
    /// What `begin` recorded, for the pass line.
    begun: Begun,
}

/// The start of a test's measured part: its description, and the time, RPCs and operations then.
#[derive(Clone)]
struct Begun {
    description: String,
    t0: Instant,
    rpcs0: u64,
    ops0: usize,
}

/// The service under test: a shard controller, the replica groups [`GIDS`] of [`SERVERS`]
/// servers each, their clerks and the history of the clerks' operations. Cheap to clone: clones
/// share the service.
#[derive(Clone)]
pub struct ShardKvCluster {
    net: Network,
    ctrler: CtrlerCluster,
    /// The tester's own clerk of the controller (Go's `mck`), for joins and leaves.
    mck: Arc<tokio::sync::Mutex<CtrlerClerk>>,
    groups: Vec<Cluster<ShardKv>>,
    max_raft_state: Option<usize>,
    ends: Arc<Mutex<Ends>>,
    state: Arc<Mutex<State>>,
    history: SharedHistory,
}

/// Runs one graded 4B test; the history of all its clerks' operations must be linearizable,
/// and the controller's servers must agree on every config. `max_raft_state`: the shardkv
/// servers' snapshot threshold in bytes (`None`: no snapshots).
pub fn shardkv_test<F, Fut>(
    net: Net,
    max_raft_state: Option<usize>,
    description: &'static str,
    body: F,
) where
    F: Fn(ShardKvCluster) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let run = move || {
        let body = body.clone();
        async move {
            let cfg = ShardKvCluster::new(net, max_raft_state);
            cfg.begin(description);
            body(cfg.clone()).await;
            cfg.check_ctrlers_agree().await;
            let history = lock_history(&cfg.history).clone();
            (cfg.summary(), history)
        }
    };
    linearizable_test(run);
}

impl ShardKvCluster {
    /// Starts the controller and every server of every group, none joined yet (Go's
    /// `make_config`).
    pub fn new(net: Net, max_raft_state: Option<usize>) -> ShardKvCluster {
        let network = Network::new();
        let ends = Arc::new(Mutex::new(Ends::default()));
        let ctrler = CtrlerCluster::new(&network, SERVERS);
        let mck = Arc::new(tokio::sync::Mutex::new(ctrler.make_client()));
        let groups = GIDS
            .iter()
            .map(|gid| {
                let name = GroupName {
                    group: format!("g{gid}-"),
                    kind: "kv",
                };
                Cluster::new(&network, name, SERVERS, |kv: &ShardKv| {
                    sim::student_call_sync("ShardKv::kill", || kv.kill())
                })
            })
            .collect();
        let cfg = ShardKvCluster {
            net: network.clone(),
            ctrler,
            mck,
            groups,
            max_raft_state,
            ends,
            state: Arc::new(Mutex::new(State {
                clerks: 0,
                other_ctrlers: Vec::new(),
                begun: Begun {
                    description: String::new(),
                    t0: Instant::now(),
                    rpcs0: 0,
                    ops0: 0,
                },
            })),
            history: new_history(),
        };
        for gi in 0..GIDS.len() {
            cfg.start_group(gi);
        }
        network.reliable(net == Net::Reliable);
        cfg
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks the start of the measured part of a test.
    fn begin(&self, description: &str) {
        note(&format!("begin: {description}"));
        let ops0 = lock_history(&self.history).ops.len();
        self.lock().begun = Begun {
            description: description.to_string(),
            t0: Instant::now(),
            rpcs0: self.net.rpc_count(),
            ops0,
        };
    }

    /// The pass line: time, RPCs and clerk operations since `begin`.
    fn summary(&self) -> String {
        let ops = lock_history(&self.history).ops.len();
        let b = self.lock().begun.clone();
        format!(
            "({}) time={:.1}s groups={} rpcs={} ops={}",
            b.description,
            b.t0.elapsed().as_secs_f64(),
            GIDS.len(),
            self.net.rpc_count() - b.rpcs0,
            ops - b.ops0
        )
    }

    /// Makes the network reliable or not.
    pub fn set_net(&self, net: Net) {
        note(&format!("network {net:?}"));
        self.net.reliable(net == Net::Reliable);
    }

    /// Adds a note (a join, a crash) to the history's visualization and the timeline.
    pub fn annotate(&self, text: impl Into<String>) {
        annotate(&self.history, text);
    }

    /// The controller the servers use.
    pub fn ctrler(&self) -> &CtrlerCluster {
        &self.ctrler
    }

    /// Starts a second, independent controller (servers `{prefix}ctrler-i`), which no server
    /// polls: its own clerks ([`CtrlerCluster::make_client`]) change its configs, and clerks made
    /// with [`make_client_of`](Self::make_client_of) route by them. It is checked for agreement
    /// at the end of the test too.
    pub fn start_other_ctrler(&self, prefix: &str) -> CtrlerCluster {
        let c = CtrlerCluster::with_prefix(&self.net, prefix, SERVERS);
        self.lock().other_ctrlers.push(c.clone());
        c
    }

    /// Checks that each controller's replicas made the same configs
    /// ([`CtrlerCluster::check_agreement`]).
    async fn check_ctrlers_agree(&self) {
        self.ctrler.check_agreement().await;
        let others = self.lock().other_ctrlers.clone();
        for c in &others {
            c.check_agreement().await;
        }
    }

    /// Group `gi`'s gid.
    pub fn gid(&self, gi: usize) -> Gid {
        GIDS[gi]
    }

    /// The names of group `gi`'s servers, as configs list them.
    pub fn server_names(&self, gi: usize) -> Vec<String> {
        (0..SERVERS)
            .map(|i| self.groups[gi].server_name(i))
            .collect()
    }

    // ----- Configuration changes (through the tester's controller clerk) -----

    /// Joins group `gi`.
    pub async fn join(&self, gi: usize) {
        self.joinm(&[gi]).await
    }

    /// Joins the groups `gis` in one Join.
    pub async fn joinm(&self, gis: &[usize]) {
        let groups: BTreeMap<Gid, Vec<String>> = gis
            .iter()
            .map(|&gi| (GIDS[gi], self.server_names(gi)))
            .collect();
        self.annotate(format!("join {:?}", groups.keys().collect::<Vec<_>>()));
        self.mck.lock().await.join(groups).await;
    }

    /// Removes group `gi`.
    pub async fn leave(&self, gi: usize) {
        self.leavem(&[gi]).await
    }

    /// Removes the groups `gis` in one Leave.
    pub async fn leavem(&self, gis: &[usize]) {
        let gids: Vec<Gid> = gis.iter().map(|&gi| GIDS[gi]).collect();
        self.annotate(format!("leave {gids:?}"));
        self.mck.lock().await.leave(&gids).await;
    }

    /// The shards group `gi` owns in the controller's latest config.
    pub async fn shards_of(&self, gi: usize) -> Vec<usize> {
        let config = self.mck.lock().await.latest().await;
        (0..config.shards.len())
            .filter(|&s| config.shards[s] == GIDS[gi])
            .collect()
    }

    // ----- Servers -----

    /// Shuts server `i` of group `gi` down: its ends to other servers and the controller are
    /// disabled, it is cut off and deleted, its tasks stop; its persister is kept (Go's
    /// `ShutdownServer`).
    pub fn shutdown_server(&self, gi: usize, i: usize) {
        let name = self.groups[gi].server_name(i);
        let made = self
            .ends
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_owner
            .remove(&name)
            .unwrap_or_default();
        for end in made {
            self.net.enable(&end, false);
        }
        self.groups[gi].crash(i);
    }

    /// (Re)starts server `i` of group `gi` with fresh ends and a copy of its persister.
    pub fn start_server(&self, gi: usize, i: usize) {
        let group = &self.groups[gi];
        let name = group.server_name(i);
        note(&format!("start {name}"));
        let ctrler_ends = ctrler_ends(&self.net, &self.ends, &self.ctrler, &name);
        let make_end = self.make_end_for(&name);
        let (max, gid) = (self.max_raft_state, GIDS[gi]);
        group.start_member(i, |ends, persister| {
            let node = Node::new(name.clone());
            let kv = node.enter(|| {
                sim::student_call_sync("ShardKv::new", || {
                    ShardKv::new(ends, i, persister, max, gid, ctrler_ends, make_end)
                })
            });
            let server = node.enter(|| {
                let s = Server::new();
                s.add_service(sim::student_call_sync("ShardKv::service", || kv.service()));
                s.add_service(sim::student_call_sync("Raft::service", || {
                    kv.raft().service()
                }));
                s
            });
            (Member { handle: kv, node }, server)
        });
        group.connect(i);
    }

    /// Shuts down every server of group `gi`.
    pub fn shutdown_group(&self, gi: usize) {
        self.annotate(format!("shut down group {}", GIDS[gi]));
        for i in 0..SERVERS {
            self.shutdown_server(gi, i);
        }
    }

    /// Starts every server of group `gi`.
    pub fn start_group(&self, gi: usize) {
        self.annotate(format!("start group {}", GIDS[gi]));
        for i in 0..SERVERS {
            self.start_server(gi, i);
        }
    }

    /// A [`MakeEnd`] for `owner`: each call makes a fresh, enabled end to the named server,
    /// which shutting `owner` down disables.
    fn make_end_for(&self, owner: &str) -> MakeEnd {
        let (net, ends, owner) = (self.net.clone(), self.ends.clone(), owner.to_string());
        Arc::new(move |server: &str| new_end(&net, &ends, &owner, server))
    }

    // ----- Clerks -----

    /// A new clerk of the service, with its own ends, using the servers' controller. Its
    /// operations run on a node of its own and are recorded in the history.
    pub fn make_client(&self) -> ShardClerk {
        self.make_client_of(&self.ctrler)
    }

    /// A new clerk that learns configs from the controller `ctrler`.
    pub fn make_client_of(&self, ctrler: &CtrlerCluster) -> ShardClerk {
        let id = {
            let mut st = self.lock();
            st.clerks += 1;
            st.clerks - 1
        };
        let owner = format!("clerk-{id}");
        let ctrler_ends = ctrler_ends(&self.net, &self.ends, ctrler, &owner);
        let make_end = self.make_end_for(&owner);
        let node = Node::new(owner);
        let clerk = node.enter(|| {
            sim::student_call_sync("shardkv::Clerk::new", || {
                shardkv::Clerk::new(ctrler_ends, make_end)
            })
        });
        TestClerk::new(self.history.clone(), id, node, clerk)
    }

    // ----- Sizes -----

    /// Checks the servers' saved state: with a snapshot threshold `m`, no server's Raft state
    /// may exceed 8·m bytes; without one, no server may have saved a snapshot (Go's
    /// `checklogs`).
    pub fn check_logs(&self) {
        for (gi, group) in self.groups.iter().enumerate() {
            for i in 0..SERVERS {
                let name = group.server_name(i);
                match self.max_raft_state {
                    Some(m) => {
                        let sz = group.raft_state_size(i);
                        assert!(
                            sz <= 8 * m,
                            "{name} (group {}): Raft state size {sz} > 8*maxraftstate {m}",
                            GIDS[gi]
                        );
                    }
                    None => {
                        let sz = group.saved_snapshot_size(i);
                        assert!(
                            sz == 0,
                            "{name} (group {}): maxraftstate is unset, but it saved a snapshot \
                             of {sz} bytes",
                            GIDS[gi]
                        );
                    }
                }
            }
        }
    }

    /// The Raft state plus snapshot every server of every group has saved, in bytes.
    pub fn total_size(&self) -> usize {
        self.groups
            .iter()
            .flat_map(|g| (0..SERVERS).map(|i| g.raft_state_size(i) + g.saved_snapshot_size(i)))
            .sum()
    }
}

/// A random string of `n` letters and digits (Go's `randstring`), from the calling node's
/// random stream.
pub fn rand_string(n: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..n)
        .map(|_| char::from(CHARS[sim::random_range(0..CHARS.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use labrpc::harness::{self, Options};
    use labrpc::{Server, Service};

    use super::{Net, ShardKvCluster};

    /// The ends a server makes with its `MakeEnd` reach the named server until the server is
    /// shut down (Go's `ShutdownServer` disables them); its restart makes new ones.
    #[test]
    fn a_shutdown_disables_the_ends_a_server_made() {
        let (seen, _) = harness::run(Options::with_seed(1), || async {
            let cfg = ShardKvCluster::new(Net::Reliable, None);
            let probe = Server::new();
            probe.add_service(Service::new("Probe").method("Ping", |_: ()| async {}));
            cfg.net.add_server("probe", probe);
            let owner = cfg.groups[1].server_name(2);
            let end = (cfg.make_end_for(&owner))("probe");
            let before = end.call::<(), ()>("Probe.Ping", &()).await.is_ok();
            cfg.shutdown_server(1, 2);
            let after = end.call::<(), ()>("Probe.Ping", &()).await.is_ok();
            cfg.start_server(1, 2);
            let fresh = (cfg.make_end_for(&owner))("probe");
            let restarted = fresh.call::<(), ()>("Probe.Ping", &()).await.is_ok();
            (before, after, restarted)
        })
        .expect("the simulated run failed");
        assert_eq!(seen, (true, false, true));
    }
}
