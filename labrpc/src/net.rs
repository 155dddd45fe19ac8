//! The simulated network: client ends, connections, and the faults of an unreliable network.
//!
//! Numbers and semantics follow the MIT 6.5840 labrpc: on an unreliable network each request waits
//! 0–26 ms, 10% of requests and 10% of replies are lost; long reordering delays 2/3 of replies by
//! 200 + rand(1 + rand(2000)) ms; a call that cannot reach its server fails after 0–99 ms (0–6999 ms
//! with long delays). While a handler runs, the caller checks every 100 ms whether the server was
//! deleted or the end disabled, and then fails; a reply from a server deleted meanwhile is discarded.
//!
//! One addition to Go's numbers: a reply takes 1 ms (the timer's smallest step) to travel back, so a
//! round trip always takes virtual time, as it takes real time in Go. Without it, code that loops
//! over RPCs (a client issuing operations back to back) would stop the virtual clock.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::RngExt;
use rand::rngs::StdRng;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{Notify, oneshot};
use tokio::time::{Instant, sleep, sleep_until};

use crate::server::Server;
use crate::sim::{self, EventKind, Node, NodeId, timeline};

/// Why a call failed. Code under test should treat every kind as "no reply".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RpcError {
    /// The end is disabled or unconnected, or its server is missing, deleted or dead.
    Unreachable,
    /// The unreliable network lost the request or the reply.
    Lost,
    /// The call itself is wrong (unknown method, undecodable arguments); the run fails too.
    Misuse(String),
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RpcError::Unreachable => write!(f, "server unreachable"),
            RpcError::Lost => write!(f, "message lost"),
            RpcError::Misuse(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for RpcError {}

/// A simulated network. Cheap to clone; all clones are the same network.
#[derive(Clone)]
pub struct Network {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    /// Notified whenever an end is enabled or disabled, or a server added or deleted.
    changed: Notify,
    rpcs: AtomicU64,
    bytes: AtomicU64,
}

struct State {
    reliable: bool,
    long_delays: bool,
    long_reordering: bool,
    ends: Vec<EndState>,
    next_ticket: u64,
    end_ids: BTreeMap<String, usize>,
    servers: BTreeMap<String, (Arc<str>, Server)>,
    rng: StdRng,
}

struct EndState {
    enabled: bool,
    server: Option<String>,
    /// Whether new calls are held back before they leave (see [`Network::hold`]).
    holding: bool,
    /// Tickets of the calls waiting in the hold, oldest first, and those let go but not yet gone.
    held: BTreeSet<u64>,
    let_go: BTreeSet<u64>,
    /// Whether replies are held back on their way to the caller, and how many wait.
    holding_replies: bool,
    replies_held: usize,
    /// Whether replies are lost (see [`Network::lose_replies`]).
    losing_replies: bool,
    /// Whether delivered requests are kept, and those kept, for [`Network::replay`].
    recording: bool,
    recorded: Vec<(Arc<str>, Vec<u8>)>,
}

/// The calling side of a connection: one end, connected to at most one server.
#[derive(Clone)]
pub struct ClientEnd {
    net: Network,
    id: usize,
    name: Arc<str>,
}

/// What a call sees of the network when it starts (Go reads it once, too).
struct Route {
    reachable: Option<(Arc<str>, Server)>,
    reliable: bool,
    long_delays: bool,
    long_reordering: bool,
}

impl Network {
    /// A new, reliable network with no ends or servers. Must be created inside a simulated run.
    pub fn new() -> Self {
        Network {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    reliable: true,
                    long_delays: false,
                    long_reordering: false,
                    ends: Vec::new(),
                    next_ticket: 0,
                    end_ids: BTreeMap::new(),
                    servers: BTreeMap::new(),
                    rng: sim::new_rng(),
                }),
                changed: Notify::new(),
                rpcs: AtomicU64::new(0),
                bytes: AtomicU64::new(0),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates a client end called `name`, disabled and unconnected. Names must be unique.
    pub fn make_end(&self, name: impl Into<String>) -> ClientEnd {
        let name = name.into();
        let mut st = self.state();
        assert!(
            !st.end_ids.contains_key(&name),
            "make_end: an end called {name:?} already exists"
        );
        let id = st.ends.len();
        let shared: Arc<str> = Arc::from(name.as_str());
        st.ends.push(EndState {
            enabled: false,
            server: None,
            holding: false,
            held: BTreeSet::new(),
            let_go: BTreeSet::new(),
            holding_replies: false,
            replies_held: 0,
            losing_replies: false,
            recording: false,
            recorded: Vec::new(),
        });
        st.end_ids.insert(name, id);
        ClientEnd {
            net: self.clone(),
            id,
            name: shared,
        }
    }

    fn end_id(st: &State, end: &str) -> usize {
        *st.end_ids
            .get(end)
            .unwrap_or_else(|| panic!("no client end called {end:?}"))
    }

    /// Changes the end called `end`, and wakes the calls that wait on a change.
    fn change_end(&self, end: &str, f: impl FnOnce(&mut EndState)) {
        let mut st = self.state();
        let id = Self::end_id(&st, end);
        let was = st.ends[id].enabled;
        f(&mut st.ends[id]);
        let e = &st.ends[id];
        if e.enabled != was && timeline::is_recording() {
            timeline::link(end, e.server.as_deref(), e.enabled);
        }
        drop(st);
        self.inner.changed.notify_waiters();
    }

    /// Connects the end to the server called `server` (which may be added later).
    pub fn connect(&self, end: &str, server: &str) {
        self.change_end(end, |e| e.server = Some(server.to_string()));
    }

    /// Enables or disables an end: a disabled end reaches nothing.
    pub fn enable(&self, end: &str, enabled: bool) {
        self.change_end(end, |e| e.enabled = enabled);
    }

    /// Adds (or replaces) the server called `name`.
    pub fn add_server(&self, name: &str, server: Server) {
        self.state()
            .servers
            .insert(name.to_string(), (Arc::from(name), server));
        timeline::server(name, true);
        self.inner.changed.notify_waiters();
    }

    /// Deletes the server called `name`: calls to it fail, and calls in progress fail too.
    pub fn delete_server(&self, name: &str) {
        let removed = self.state().servers.remove(name).is_some();
        if removed {
            timeline::server(name, false);
        }
        self.inner.changed.notify_waiters();
    }

    /// Sets whether the network is reliable (no delays, no losses).
    pub fn reliable(&self, yes: bool) {
        self.state().reliable = yes;
    }

    /// Sets whether unreachable calls fail after up to 7 s instead of up to 100 ms.
    pub fn long_delays(&self, yes: bool) {
        self.state().long_delays = yes;
    }

    /// Sets whether 2/3 of replies are delayed by 200–2200 ms, reordering them.
    pub fn long_reordering(&self, yes: bool) {
        self.state().long_reordering = yes;
    }

    /// Holds back the calls made on `end` from now on (`true`), or lets them all go (`false`). A
    /// held call waits before it leaves, and looks up its route only when let go: the tester's
    /// way to deliver a request late, after what was sent since. The calls keep their order.
    pub fn hold(&self, end: &str, yes: bool) {
        let mut st = self.state();
        let id = Self::end_id(&st, end);
        let e = &mut st.ends[id];
        e.holding = yes;
        if !yes {
            let held = std::mem::take(&mut e.held);
            e.let_go.extend(held);
        }
        drop(st);
        self.inner.changed.notify_waiters();
    }

    /// Lets the `n` oldest calls held on `end` go on (fewer if fewer wait); returns how many.
    pub fn release(&self, end: &str, n: usize) -> usize {
        let mut st = self.state();
        let id = Self::end_id(&st, end);
        let e = &mut st.ends[id];
        let go: Vec<u64> = e.held.iter().take(n).copied().collect();
        for t in &go {
            e.held.remove(t);
            e.let_go.insert(*t);
        }
        drop(st);
        self.inner.changed.notify_waiters();
        go.len()
    }

    /// How many calls wait in the hold of `end`.
    pub fn held_count(&self, end: &str) -> usize {
        let st = self.state();
        st.ends[Self::end_id(&st, end)].held.len()
    }

    /// Holds back the replies to calls on `end` (`true`) until let go (`false`): a held reply
    /// waits on its way back, and is lost if the end is disabled meanwhile. The tester's way to
    /// lose the reply to a request that has taken effect.
    pub fn hold_replies(&self, end: &str, yes: bool) {
        self.change_end(end, |e| e.holding_replies = yes);
    }

    /// Loses every reply to the calls on `end` (`true`) until told otherwise: the requests take
    /// effect, and the callers see [`RpcError::Lost`]. The tester's way to keep a caller from
    /// learning what its requests did while they keep arriving.
    pub fn lose_replies(&self, end: &str, yes: bool) {
        self.change_end(end, |e| e.losing_replies = yes);
    }

    fn losing_replies(&self, end: usize) -> bool {
        self.state().ends[end].losing_replies
    }

    /// How many replies to calls on `end` wait in its hold.
    pub fn replies_held(&self, end: &str) -> usize {
        let st = self.state();
        st.ends[Self::end_id(&st, end)].replies_held
    }

    /// Waits while replies on `end` are held and the end is enabled.
    async fn pass_reply_hold(&self, end: usize) {
        let held = |st: &State| st.ends[end].holding_replies && st.ends[end].enabled;
        if !held(&self.state()) {
            return;
        }
        struct Waiting<'a>(&'a Network, usize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.state().ends[self.1].replies_held -= 1;
            }
        }
        self.state().ends[end].replies_held += 1;
        let _waiting = Waiting(self, end);
        loop {
            let changed = self.inner.changed.notified();
            if !held(&self.state()) {
                return;
            }
            changed.await;
        }
    }

    /// Starts (`true`, forgetting what was kept) or stops (`false`, keeping it) recording the
    /// requests delivered on `end`, for [`Network::replay`].
    pub fn record(&self, end: &str, yes: bool) {
        let mut st = self.state();
        let id = Self::end_id(&st, end);
        let e = &mut st.ends[id];
        if yes {
            e.recorded.clear();
        }
        e.recording = yes;
    }

    /// The methods of the requests recorded on `end`, in the order they were delivered.
    pub fn recorded_methods(&self, end: &str) -> Vec<String> {
        let st = self.state();
        let e = &st.ends[Self::end_id(&st, end)];
        e.recorded.iter().map(|(m, _)| m.to_string()).collect()
    }

    /// Delivers a copy of every request recorded on `end` again, in order, to the end's server,
    /// as a network that duplicates messages would; the replies are dropped. Must be called
    /// outside any node (by the tester). Returns how many copies were delivered: none while the
    /// end cannot reach its server.
    pub async fn replay(&self, end: &str) -> usize {
        let (id, calls) = {
            let st = self.state();
            let id = Self::end_id(&st, end);
            (id, st.ends[id].recorded.clone())
        };
        let mut delivered = 0;
        for (method, request) in calls {
            let Some((name, server)) = self.route(id).reachable else {
                break;
            };
            let Ok(dispatch) = server.dispatch(&method, &request) else {
                continue;
            };
            let node = dispatch.node;
            sim::trace_event(
                EventKind::Deliver,
                Arc::from(end),
                name,
                method,
                &request,
                node.id(),
                0,
            );
            let (tx, rx) = oneshot::channel();
            let reply = dispatch.reply;
            node.spawn_at(
                async move {
                    let _ = tx.send(reply.await);
                },
                dispatch.loc,
            );
            // The handler may wait (for a commit, say); the copy's reply is dropped either way.
            let _ = tokio::time::timeout(ms(100), rx).await;
            delivered += 1;
        }
        delivered
    }

    /// Waits while the call with a fresh ticket is held on `end`; at once when `end` holds nothing.
    async fn pass_hold(&self, end: usize) {
        let ticket = {
            let mut st = self.state();
            if !st.ends[end].holding {
                return;
            }
            let t = st.next_ticket;
            st.next_ticket += 1;
            st.ends[end].held.insert(t);
            t
        };
        // Forget the ticket if the caller gives up (its node crashed, or it was dropped).
        struct Ticket<'a>(&'a Network, usize, u64);
        impl Drop for Ticket<'_> {
            fn drop(&mut self) {
                let mut st = self.0.state();
                st.ends[self.1].held.remove(&self.2);
                st.ends[self.1].let_go.remove(&self.2);
            }
        }
        let _ticket = Ticket(self, end, ticket);
        loop {
            let changed = self.inner.changed.notified();
            if self.state().ends[end].let_go.contains(&ticket) {
                return;
            }
            changed.await;
        }
    }

    /// Total number of calls made on this network.
    pub fn rpc_count(&self) -> u64 {
        self.inner.rpcs.load(Relaxed)
    }

    /// Total bytes of requests sent and replies delivered.
    pub fn byte_count(&self) -> u64 {
        self.inner.bytes.load(Relaxed)
    }

    /// Number of calls that reached the server called `name`.
    pub fn server_rpc_count(&self, name: &str) -> u64 {
        self.state().servers.get(name).map_or(0, |(_, s)| s.count())
    }

    fn rand(&self, n: u64) -> u64 {
        self.state().rng.random_range(0..n)
    }

    /// An unreliable network's request: waits its delay, then draws whether it is lost.
    async fn request_lost(&self) -> bool {
        let wait = self.rand(FAULTS.request_delay_ms);
        if wait > 0 {
            sleep(ms(wait)).await;
        }
        self.rand(1000) < FAULTS.request_loss
    }

    /// How long a reply travels: [`REPLY_LATENCY`], or a long reordering delay.
    fn reply_travel(&self, long_reordering: bool) -> u64 {
        // A reply travels for 1 ms: the simulation's smallest step, standing in for the real
        // time Go's hand-offs take. Without it a loop of round trips would never advance time.
        let (delayed, of) = FAULTS.reorder;
        if long_reordering && self.rand(of) < delayed {
            let extra = self.rand(FAULTS.reorder_spread_ms);
            FAULTS.reorder_base_ms + self.rand(1 + extra)
        } else {
            REPLY_LATENCY
        }
    }

    fn route(&self, end: usize) -> Route {
        let st = self.state();
        let e = &st.ends[end];
        let reachable = match (&e.server, e.enabled) {
            (Some(s), true) => st.servers.get(s).cloned(),
            _ => None,
        };
        Route {
            reachable,
            reliable: st.reliable,
            long_delays: st.long_delays,
            long_reordering: st.long_reordering,
        }
    }

    fn keep_record(&self, end: usize, method: &Arc<str>, request: &[u8]) {
        let mut st = self.state();
        let e = &mut st.ends[end];
        if e.recording {
            e.recorded.push((method.clone(), request.to_vec()));
        }
    }

    /// Whether a call from `end` to `server` can no longer be answered.
    fn is_dead(&self, end: usize, server_name: &str, server: &Server) -> bool {
        let st = self.state();
        let e = &st.ends[end];
        !e.enabled
            || e.server.as_deref() != Some(server_name)
            || !st
                .servers
                .get(server_name)
                .is_some_and(|(_, s)| s.same(server))
            || !server.node().is_alive()
    }
}

impl fmt::Debug for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Network")
            .field("rpcs", &self.rpc_count())
            .field("bytes", &self.byte_count())
            .finish_non_exhaustive()
    }
}

impl Default for Network {
    fn default() -> Self {
        Self::new()
    }
}

/// How long every reply takes to reach the caller, in milliseconds (see the module docs).
pub const REPLY_LATENCY: u64 = 1;

/// The faults of the network, with Go labrpc's numbers. `rand(n)` draws uniformly from `0..n`
/// (milliseconds for waits); a loss is a draw from `0..1000` below the given count.
struct FaultModel {
    /// An unreachable call fails after rand(this) ms ...
    unreachable_ms: u64,
    /// ... or after rand(this) ms with long delays.
    unreachable_long_ms: u64,
    /// On an unreliable network a request waits rand(this) ms before it leaves ...
    request_delay_ms: u64,
    /// ... and is lost when rand(1000) < this.
    request_loss: u64,
    /// A reply is lost when rand(1000) < this (unreliable network).
    reply_loss: u64,
    /// With long reordering, a reply is delayed when rand(`.1`) < `.0` (2/3 of replies) ...
    reorder: (u64, u64),
    /// ... by `base` + rand(1 + rand(`spread`)) ms instead of [`REPLY_LATENCY`].
    reorder_base_ms: u64,
    reorder_spread_ms: u64,
    /// While a handler runs, the caller checks this often whether the call can still be answered.
    liveness_check_ms: u64,
}

const FAULTS: FaultModel = FaultModel {
    unreachable_ms: 100,
    unreachable_long_ms: 7000,
    request_delay_ms: 27,
    request_loss: 100,
    reply_loss: 100,
    reorder: (600, 900),
    reorder_base_ms: 200,
    reorder_spread_ms: 2000,
    liveness_check_ms: 100,
};

impl FaultModel {
    /// The bound of an unreachable call's wait.
    fn unreachable_wait(&self, long_delays: bool) -> u64 {
        if long_delays {
            self.unreachable_long_ms
        } else {
            self.unreachable_ms
        }
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

impl fmt::Debug for ClientEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientEnd")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ClientEnd {
    /// This end's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Calls `Service.Method` on the connected server with `args`, and returns its reply.
    ///
    /// Fails when the network loses the request or the reply, or the server cannot be reached.
    /// Dropping the returned future before the request is delivered cancels the request.
    pub async fn call<A, R>(&self, method: &str, args: &A) -> Result<R, RpcError>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let request = postcard::to_allocvec(args)
            .map_err(|e| misuse(format!("{method}: the arguments could not be encoded: {e}")))?;
        let reply = self.call_bytes(method, request).await?;
        postcard::from_bytes(&reply).map_err(|e| {
            misuse(format!(
                "{method}: the reply could not be decoded as {} ({e}); caller and handler must \
                 use the same reply type",
                std::any::type_name::<R>()
            ))
        })
    }

    async fn call_bytes(&self, method: &str, request: Vec<u8>) -> Result<Vec<u8>, RpcError> {
        let net = &self.net;
        let caller = Node::current().id();
        net.pass_hold(self.id).await;
        net.inner.rpcs.fetch_add(1, Relaxed);
        net.inner.bytes.fetch_add(request.len() as u64, Relaxed);
        let route = net.route(self.id);
        let call = CallTrace {
            id: timeline::call_id(),
            end: self.name.clone(),
            server: route
                .reachable
                .as_ref()
                .map_or_else(|| Arc::from("-"), |(n, _)| n.clone()),
            what: Arc::from(method),
        };
        call.event(EventKind::Send, &request, caller);

        let Some((server_name, server)) = route.reachable else {
            sleep(ms(net.rand(FAULTS.unreachable_wait(route.long_delays)))).await;
            call.event(EventKind::Fail, &[], caller);
            return Err(RpcError::Unreachable);
        };
        if !route.reliable && net.request_lost().await {
            call.event(EventKind::DropRequest, &[], caller);
            return Err(RpcError::Lost);
        }

        let dispatch = server.dispatch(method, &request).map_err(misuse)?;
        net.keep_record(self.id, &call.what, &request);
        let server_node = dispatch.node;
        call.event(EventKind::Deliver, &request, server_node.id());
        let (tx, rx) = oneshot::channel();
        let reply_fut = dispatch.reply;
        let (id, what) = (call.id, call.what.clone());
        server_node.spawn_at(
            async move {
                let reply = reply_fut.await;
                timeline::handled(id, &what);
                let _ = tx.send(reply);
            },
            dispatch.loc,
        );

        let reply = self.await_reply(rx, &server_name, &server).await;
        if let Some(Ok(_)) = reply {
            net.pass_reply_hold(self.id).await;
        }
        let reply = match reply {
            Some(Ok(bytes)) if !net.is_dead(self.id, &server_name, &server) => bytes,
            Some(Err(m)) => return Err(misuse(m)),
            _ => {
                call.event(EventKind::Fail, &[], caller);
                return Err(RpcError::Unreachable);
            }
        };
        if net.losing_replies(self.id) || (!route.reliable && net.rand(1000) < FAULTS.reply_loss) {
            call.event(EventKind::DropReply, &reply, caller);
            return Err(RpcError::Lost);
        }
        sleep(ms(net.reply_travel(route.long_reordering))).await;
        net.inner.bytes.fetch_add(reply.len() as u64, Relaxed);
        call.event(EventKind::Reply, &reply, caller);
        Ok(reply)
    }

    /// Waits for the handler's reply while the call can still be answered, and returns it; `None`
    /// once the call cannot be answered: the server was deleted or replaced, its node killed, or
    /// the end disabled or reconnected, and that was still so at the caller's next 100 ms check.
    async fn await_reply(
        &self,
        mut rx: oneshot::Receiver<Result<Vec<u8>, String>>,
        server_name: &str,
        server: &Server,
    ) -> Option<Result<Vec<u8>, String>> {
        let net = &self.net;
        let dead = || net.is_dead(self.id, server_name, server);
        let started = Instant::now();
        // The handler's task is gone only when its node was killed; the caller then notices at
        // its next check, as it would notice a deleted server.
        let mut gone = false;
        loop {
            let changed = net.inner.changed.notified();
            if dead() {
                // Go's caller notices at its next 100 ms check.
                let check = FAULTS.liveness_check_ms;
                let elapsed = started.elapsed().as_millis() as u64;
                let next = started + ms((elapsed / check + 1) * check);
                tokio::select! {
                    biased;
                    r = &mut rx, if !gone => match r {
                        Ok(r) => break Some(r),
                        Err(_) => gone = true,
                    },
                    _ = sleep_until(next) => {
                        if dead() {
                            break None;
                        }
                    }
                }
            } else {
                tokio::select! {
                    biased;
                    r = &mut rx, if !gone => match r {
                        Ok(r) => break Some(r),
                        Err(_) => gone = true,
                    },
                    _ = changed => {}
                }
            }
        }
    }
}

/// One call's identity in the trace: requests go from the end to the server, replies back.
struct CallTrace {
    /// Pairs the call's events on the timeline (0 when the run records none).
    id: u64,
    end: Arc<str>,
    /// The server's name, or `-` when the end reaches none.
    server: Arc<str>,
    /// `Service.Method`.
    what: Arc<str>,
}

impl CallTrace {
    /// Records an event of this call, with the message `bytes`, as an event of `node`.
    fn event(&self, kind: EventKind, bytes: &[u8], node: NodeId) {
        let (from, to) = match kind {
            EventKind::Reply | EventKind::DropReply => (&self.server, &self.end),
            _ => (&self.end, &self.server),
        };
        sim::trace_event(
            kind,
            from.clone(),
            to.clone(),
            self.what.clone(),
            bytes,
            node,
            self.id,
        );
    }
}

/// Fails the run for a misuse and returns the matching error for the caller.
fn misuse(message: String) -> RpcError {
    sim::report_misuse(message.clone());
    RpcError::Misuse(message)
}
