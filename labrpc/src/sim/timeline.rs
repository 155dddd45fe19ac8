//! The timeline of a run: what happened on each server along virtual time, for the HTML view.
//!
//! Recording is off unless the run's [`Options::timeline`](crate::harness::Options::timeline) is
//! set. It only watches: it draws no random number, adds nothing to the trace and awaits nothing,
//! so a recorded run has the same trace digest as an unrecorded one.
//!
//! The network, the nodes and [`set_label`](super::set_label) record by themselves. Testers add
//! what only they know through the functions of this module, each a cheap no-op when the run
//! records nothing (or outside a run):
//! - [`action`]: something the tester does (crash, restart, partition, connect, begin, end);
//! - [`check`]: a check over time (`one(42)`, `check_one_leader`), ended by [`Check::pass`] or,
//!   when the check fails, by the panic;
//! - [`observe_state`] / [`observe`]: what the tester saw of a server (its term and leadership
//!   from `get_state`, anything else as text);
//! - [`applied`]: an entry a server applied; [`op`]: a clerk's operation from call to return;
//! - [`end_owner`]: which lane a client end belongs to, so that link changes show on its lane.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use super::context::{CURRENT, try_ctx};
use super::node::NodeId;
use super::trace::EventKind;

/// How many student log lines a timeline keeps (the latest ones); older lines are counted only.
pub const LOG_CAP: usize = 100_000;

/// How many network events, applied entries and observations a timeline keeps (the latest ones,
/// about 50 MB); older ones are counted only. Crashes, starts, labels, links and tester actions
/// and checks are all kept.
pub const EVENT_CAP: usize = 1_000_000;

/// What a timeline event is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A request left its caller (`lane`) for `peer`.
    Send,
    /// A request reached its server (`lane`), from `peer`.
    Deliver,
    /// The network lost a request (at the caller's lane).
    DropRequest,
    /// A handler finished (at the server's lane); its reply starts back.
    Handled,
    /// A reply reached its caller (`lane`).
    Reply,
    /// The network lost a reply (at the caller's lane).
    DropReply,
    /// A call failed: unreachable server, disabled end, dead or deleted server.
    Fail,
    /// A node was killed.
    Crash,
    /// A node was created: a server started or restarted (`num` = 1 for a restart).
    Start,
    /// The node's label changed (`text`).
    Label,
    /// An end was enabled (`num` = 1) or disabled (`num` = 0); `peer` is its server, `text` its name.
    Link,
    /// A server joined (`num` = 1) or left (`num` = 0) the network.
    Server,
    /// A tester action (`text`).
    Action,
    /// A check began (`id` pairs it with its end).
    CheckBegin,
    /// A check ended: passed (`num` = 1) or failed (`num` = 0), with `text`.
    CheckEnd,
    /// The tester saw a server's term (`num`) and leadership (`flag` in `peer`: 1 leader, 0 not).
    ObserveState,
    /// The tester saw something else of a server (`text`).
    Observe,
    /// A server applied entry `num` (`text` shows the command).
    Applied,
    /// A clerk's operation was called (`text`; `id` pairs it with its return).
    OpBegin,
    /// A clerk's operation returned (`text` = its result).
    OpEnd,
    /// An event recorded through [`crate::sim::record`] (`text` = its label).
    User,
}

impl Kind {
    /// Whether events of this kind come by the thousand (network events, applied entries,
    /// observations, operations): those a timeline or a page may cut to its latest part.
    pub fn is_frequent(self) -> bool {
        !matches!(
            self,
            Kind::Crash
                | Kind::Start
                | Kind::Label
                | Kind::Link
                | Kind::Server
                | Kind::Action
                | Kind::CheckBegin
                | Kind::CheckEnd
        )
    }
}

/// One event of the timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineEvent {
    /// Virtual time since the start of the run, in nanoseconds.
    pub at_ns: u64,
    /// What happened.
    pub kind: Kind,
    /// The lane it happened on (index into [`Timeline::lanes`]).
    pub lane: u32,
    /// The other lane of a network event or link, if any.
    pub peer: Option<u32>,
    /// Pairs the events of one call (send, deliver, reply, ...), or a check's or operation's
    /// begin with its end; 0 for none.
    pub id: u64,
    /// A number: message length, entry index, term, on/off (see [`Kind`]).
    pub num: u64,
    /// Text: an RPC's method, a label, an action (index into [`Timeline::strings`]).
    pub text: u32,
}

/// A log line of code under test, on its node's lane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// Virtual time, in nanoseconds.
    pub at_ns: u64,
    /// The lane of the node that logged it.
    pub lane: u32,
    /// `ERROR` … `TRACE`, as 1 … 5.
    pub level: u8,
    /// The event's target (index into [`Timeline::strings`]).
    pub target: u32,
    /// The message, then the other fields as `name=value`.
    pub text: String,
}

/// The recorded timeline of one run: lanes (one per server name, the tester's and clerks'
/// included), events in order, and the latest log lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Timeline {
    /// Lane names, in order of first appearance (`tester` first).
    pub lanes: Vec<String>,
    /// Strings the events refer to.
    pub strings: Vec<String>,
    /// Every event, in the order it happened.
    pub events: Vec<TimelineEvent>,
    /// The latest log lines (at most [`LOG_CAP`]).
    pub logs: Vec<LogLine>,
    /// How many earlier log lines were not kept.
    pub logs_dropped: u64,
    /// How many earlier network events, applied entries and observations were not kept.
    pub events_dropped: u64,
    /// Virtual time when the recording ended (the run's end, or its failure), in nanoseconds.
    pub end_ns: u64,
}

/// Accumulates a timeline while the run goes on. Lives in the run's shared state.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    tl: Timeline,
    lane_ids: BTreeMap<Arc<str>, u32>,
    string_ids: BTreeMap<Arc<str>, u32>,
    /// Each node's lane, by node id.
    node_lanes: Vec<u32>,
    /// Each node's last label, by node id (a label set again unchanged is not recorded).
    labels: Vec<String>,
    /// The lane each client end belongs to.
    end_lanes: BTreeMap<Arc<str>, u32>,
    /// Names of the nodes started so far (a name started again is a restart).
    started: BTreeSet<Arc<str>>,
    logs: VecDeque<LogLine>,
    /// The latest [`EVENT_CAP`] events of the kinds there are many of; the others are in `tl`.
    many: VecDeque<TimelineEvent>,
    next_id: u64,
}

impl Recorder {
    fn lane(&mut self, name: &str) -> u32 {
        if let Some(&l) = self.lane_ids.get(name) {
            return l;
        }
        let l = self.tl.lanes.len() as u32;
        self.tl.lanes.push(name.to_string());
        self.lane_ids.insert(Arc::from(name), l);
        l
    }

    fn string(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.string_ids.get(s) {
            return i;
        }
        let i = self.tl.strings.len() as u32;
        self.tl.strings.push(s.to_string());
        self.string_ids.insert(Arc::from(s), i);
        i
    }

    fn node_lane(&self, node: NodeId) -> u32 {
        self.node_lanes.get(node as usize).copied().unwrap_or(0)
    }

    fn push(&mut self, at_ns: u64, kind: Kind, lane: u32, text: &str) -> &mut TimelineEvent {
        let text = self.string(text);
        let ev = TimelineEvent {
            at_ns,
            kind,
            lane,
            peer: None,
            id: 0,
            num: 0,
            text,
        };
        if !kind.is_frequent() {
            self.tl.events.push(ev);
            return self.tl.events.last_mut().expect("just pushed");
        }
        if self.many.len() >= EVENT_CAP {
            self.many.pop_front();
            self.tl.events_dropped += 1;
        }
        self.many.push_back(ev);
        self.many.back_mut().expect("just pushed")
    }

    fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The timeline so far, taking its events out (the recorder is finished with).
    pub(crate) fn take(&mut self, end_ns: u64) -> Timeline {
        let mut tl = std::mem::take(&mut self.tl);
        // Merge the two lists by time; each is in order, and so is their merge.
        let rare = std::mem::take(&mut tl.events);
        let many = std::mem::take(&mut self.many);
        let mut merged = Vec::with_capacity(rare.len() + many.len());
        let (mut a, mut b) = (rare.into_iter().peekable(), many.into_iter().peekable());
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x.at_ns <= y.at_ns => a.next(),
                (Some(_), Some(_)) | (None, Some(_)) => b.next(),
                (Some(_), None) => a.next(),
                (None, None) => break,
            };
            merged.extend(next);
        }
        tl.events = merged;
        tl.logs = std::mem::take(&mut self.logs).into();
        tl.end_ns = end_ns;
        tl
    }
}

/// Runs `f` on the run's recorder, at the current virtual time; nothing when not recording.
fn with<R>(f: impl FnOnce(&mut Recorder, u64) -> R) -> Option<R> {
    let c = try_ctx()?;
    let rec = c.shared.timeline.as_ref()?;
    let at_ns = c.now().as_nanos() as u64;
    let mut r = rec.lock().unwrap_or_else(|e| e.into_inner());
    Some(f(&mut r, at_ns))
}

/// Whether the calling run records a timeline (to skip work done only for it).
pub fn is_recording() -> bool {
    try_ctx().is_some_and(|c| c.shared.timeline.is_some())
}

/// A new node `id` called `name` (internal: [`super::Node::new`]).
pub(crate) fn node_started(id: NodeId, name: &str) {
    with(|r, at| {
        let restart = !r.started.insert(Arc::from(name));
        let lane = r.lane(name);
        let n = id as usize;
        if r.node_lanes.len() <= n {
            r.node_lanes.resize(n + 1, 0);
            r.labels.resize(n + 1, String::new());
        }
        r.node_lanes[n] = lane;
        // The tester's node starts with the run: no mark for it.
        if id != 0 {
            r.push(at, Kind::Start, lane, "").num = u64::from(restart);
        }
    });
}

/// Node `id`'s label is now `label` (internal: [`super::set_label`]).
pub(crate) fn label(id: NodeId, label: &str) {
    with(|r, at| {
        let n = id as usize;
        if r.labels.get(n).is_none_or(|l| l == label) {
            return;
        }
        r.labels[n] = label.to_string();
        let lane = r.node_lane(id);
        r.push(at, Kind::Label, lane, label);
    });
}

/// A fresh id for one call's events; 0 when not recording (internal: the network).
pub(crate) fn call_id() -> u64 {
    with(|r, _| r.fresh_id()).unwrap_or(0)
}

/// An event of the trace, on node `node`'s lane (internal: [`super::trace::trace_event`]).
/// `peer_name` names the other side (a server, or empty); `call` pairs a call's events.
pub(crate) fn traced(kind: EventKind, node: NodeId, peer_name: &str, what: &str, call: u64) {
    with(|r, at| {
        let kind = match kind {
            EventKind::Send => Kind::Send,
            EventKind::Deliver => Kind::Deliver,
            EventKind::DropRequest => Kind::DropRequest,
            EventKind::Reply => Kind::Reply,
            EventKind::DropReply => Kind::DropReply,
            EventKind::Fail => Kind::Fail,
            EventKind::Crash => Kind::Crash,
            EventKind::User => Kind::User,
        };
        let lane = r.node_lane(node);
        let peer = (!peer_name.is_empty() && peer_name != "-").then(|| r.lane(peer_name));
        let ev = r.push(at, kind, lane, what);
        ev.peer = peer;
        ev.id = call;
    });
}

/// Call `call`'s handler finished on the current node (internal: the network).
pub(crate) fn handled(call: u64, what: &str) {
    if call == 0 {
        return;
    }
    let node = CURRENT.with(|c| c.get());
    with(|r, at| {
        let lane = r.node_lane(node);
        r.push(at, Kind::Handled, lane, what).id = call;
    });
}

/// The end `end`, connected to `server` (if any), was enabled or disabled (internal: the network).
pub(crate) fn link(end: &str, server: Option<&str>, enabled: bool) {
    with(|r, at| {
        let lane = r.end_lanes.get(end).copied().unwrap_or(0);
        let peer = server.map(|s| r.lane(s));
        let ev = r.push(at, Kind::Link, lane, end);
        ev.peer = peer;
        ev.num = u64::from(enabled);
    });
}

/// The server `name` joined or left the network (internal: the network).
pub(crate) fn server(name: &str, joined: bool) {
    with(|r, at| {
        let lane = r.lane(name);
        r.push(at, Kind::Server, lane, "").num = u64::from(joined);
    });
}

/// A log line of the current node (internal: the log capture layer). Keeps the latest
/// [`LOG_CAP`] lines.
pub(crate) fn log_line(level: u8, target: &str, text: String) {
    let node = CURRENT.with(|c| c.get());
    with(|r, at| {
        let line = LogLine {
            at_ns: at,
            lane: r.node_lane(node),
            level,
            target: r.string(target),
            text,
        };
        if r.logs.len() >= LOG_CAP {
            r.logs.pop_front();
            r.tl.logs_dropped += 1;
        }
        r.logs.push_back(line);
    });
}

/// Records a tester action (`crash raft-2`, `partition [0, 1] | [2, 3, 4]`) on the tester's lane.
pub fn action(text: &str) {
    with(|r, at| {
        r.push(at, Kind::Action, 0, text);
    });
}

/// A check in progress on the timeline; see [`check`].
#[derive(Debug)]
#[must_use = "a check ends when this is passed or dropped"]
pub struct Check {
    id: u64,
}

/// Records the start of a check (`one(42)`, `check_one_leader`) on the tester's lane. It ends
/// with [`Check::pass`], or when dropped: as failed if the check panicked, else as passed.
pub fn check(name: &str) -> Check {
    let id = with(|r, at| {
        let id = r.fresh_id();
        r.push(at, Kind::CheckBegin, 0, name).id = id;
        id
    });
    Check {
        id: id.unwrap_or(0),
    }
}

impl Check {
    /// Ends the check as passed, with what it found (`leader raft-2`, `index 7`).
    pub fn pass(mut self, result: &str) {
        self.end(true, result);
        self.id = 0;
    }

    fn end(&self, passed: bool, result: &str) {
        if self.id == 0 {
            return;
        }
        let id = self.id;
        with(|r, at| {
            let ev = r.push(at, Kind::CheckEnd, 0, result);
            ev.id = id;
            ev.num = u64::from(passed);
        });
    }
}

impl Drop for Check {
    fn drop(&mut self) {
        if self.id != 0 {
            if std::thread::panicking() {
                self.end(false, "failed");
            } else {
                self.end(true, "");
            }
            self.id = 0;
        }
    }
}

/// Records that the tester saw `server` at `term`, leader or not (from `get_state`).
pub fn observe_state(server: &str, term: u64, is_leader: bool) {
    with(|r, at| {
        let lane = r.lane(server);
        let ev = r.push(at, Kind::ObserveState, lane, "");
        ev.num = term;
        ev.peer = Some(u32::from(is_leader));
    });
}

/// Records something the tester saw of `lane` (a server or a clerk), as text.
pub fn observe(lane: &str, text: &str) {
    with(|r, at| {
        let lane = r.lane(lane);
        r.push(at, Kind::Observe, lane, text);
    });
}

/// Records that `server` applied entry `index`, showing its command as `command`.
pub fn applied(server: &str, index: u64, command: &str) {
    with(|r, at| {
        let lane = r.lane(server);
        r.push(at, Kind::Applied, lane, command).num = index;
    });
}

/// A clerk operation in progress on the timeline; see [`op`].
#[derive(Debug)]
#[must_use = "an operation ends with `done`"]
pub struct Op {
    id: u64,
    lane: u32,
}

/// Records the call of a clerk operation (`put(k, v)`) on the clerk's lane `clerk`.
pub fn op(clerk: &str, text: &str) -> Op {
    let (id, lane) = with(|r, at| {
        let id = r.fresh_id();
        let lane = r.lane(clerk);
        r.push(at, Kind::OpBegin, lane, text).id = id;
        (id, lane)
    })
    .unwrap_or((0, 0));
    Op { id, lane }
}

impl Op {
    /// Records the operation's return, with its result (`"x 1 y"`, or empty).
    pub fn done(self, result: &str) {
        if self.id == 0 {
            return;
        }
        with(|r, at| {
            r.push(at, Kind::OpEnd, self.lane, result).id = self.id;
        });
    }
}

/// Says that the client end `end` belongs to `owner` (a server or clerk name): its link
/// changes show on the owner's lane.
pub fn end_owner(end: &str, owner: &str) {
    with(|r, _| {
        let lane = r.lane(owner);
        r.end_lanes.insert(Arc::from(end), lane);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Past the cap, the oldest frequent events go (counted); rare ones stay; the merge is in
    /// time order.
    #[test]
    fn the_cap_keeps_the_latest_frequent_events_and_every_rare_one() {
        let mut r = Recorder::default();
        r.push(0, Kind::Start, 1, "");
        for t in 1..=(EVENT_CAP as u64 + 10) {
            r.push(t, Kind::Send, 1, "Raft.AppendEntries");
            if t % 100_000 == 0 {
                r.push(t, Kind::Action, 0, "crash raft-1");
            }
        }
        let tl = r.take(u64::MAX);
        assert_eq!(tl.events_dropped, 10);
        let rare = tl.events.iter().filter(|e| !e.kind.is_frequent()).count();
        assert_eq!(rare, 1 + (EVENT_CAP + 10) / 100_000);
        assert_eq!(tl.events.len(), EVENT_CAP + rare);
        assert!(tl.events.windows(2).all(|w| w[0].at_ns <= w[1].at_ns));
        assert_eq!(tl.events[0].kind, Kind::Start);
        let first_send = tl.events.iter().find(|e| e.kind == Kind::Send).unwrap();
        assert_eq!(first_send.at_ns, 11);
        assert_eq!(tl.strings, ["", "Raft.AppendEntries", "crash raft-1"]);
    }
}
