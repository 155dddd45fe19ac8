//! The run's event trace: a digest of every send, delivery, drop, failure and crash, in order.
//!
//! Two runs with the same seed must produce the same digest; `LAB_CHECK_DETERMINISM=1` keeps the whole
//! event list of both runs so the first difference can be named.

use std::fmt;
use std::sync::Arc;

use super::context::ctx;
use super::node::{Node, NodeId};

/// What kind of thing happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A request left a client end.
    Send,
    /// A request reached a server's handler.
    Deliver,
    /// The unreliable network lost a request.
    DropRequest,
    /// A reply reached the caller.
    Reply,
    /// The unreliable network lost a reply.
    DropReply,
    /// A call failed: the end was disabled or unconnected, the server missing, deleted or dead.
    Fail,
    /// A simulated server (node) was killed and its tasks aborted.
    Crash,
    /// An event recorded by a tester or a lab through [`crate::sim::record`].
    User,
}

/// One recorded event. `from`/`to` name the endpoints (client end and server, or node and peer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Virtual time since the start of the run, in nanoseconds.
    pub at_ns: u64,
    /// What happened.
    pub kind: EventKind,
    /// The sending side: a client end, or the node that recorded the event.
    pub from: Arc<str>,
    /// The receiving side: a server, a client end for replies, or empty.
    pub to: Arc<str>,
    /// `Service.Method` for network events, the label for user events.
    pub what: Arc<str>,
    /// Length of the message bytes.
    pub len: usize,
    /// Digest of the message bytes.
    pub bytes_digest: u64,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:?} {} -> {} {} ({} bytes, digest {:016x})",
            super::fmt_time(self.at_ns),
            self.kind,
            self.from,
            self.to,
            self.what,
            self.len,
            self.bytes_digest
        )
    }
}

/// A small 64-bit hash, eight bytes at a step: stable across platforms, Rust versions and
/// processes (std's hasher promises none of that), and fast enough to run on every message.
#[derive(Clone, Copy, Debug)]
pub(super) struct Hasher(u64);

impl Default for Hasher {
    fn default() -> Self {
        Hasher(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher {
    #[inline]
    fn word(&mut self, w: u64) {
        let x = (self.0 ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = x ^ (x >> 29);
    }

    /// Hashes a byte string, length first, so that adjacent strings cannot run together.
    pub(super) fn write(&mut self, bytes: &[u8]) {
        self.word(bytes.len() as u64);
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.word(u64::from_le_bytes(c.try_into().unwrap_or_default()));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.word(u64::from_le_bytes(buf));
        }
    }

    pub(super) fn write_u64(&mut self, v: u64) {
        self.word(v);
    }

    pub(super) fn finish(&self) -> u64 {
        let x = self.0.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x ^ (x >> 31)
    }
}

/// Digest of a byte string.
pub fn digest(bytes: &[u8]) -> u64 {
    let mut h = Hasher::default();
    h.write(bytes);
    h.finish()
}

/// Accumulates the trace of one run. Lives behind a mutex shared with the watchdog thread.
#[derive(Debug, Default)]
pub(crate) struct Tracer {
    digest: Hasher,
    pub(crate) count: u64,
    /// The full list, kept only when checking determinism.
    pub(crate) list: Option<Vec<Event>>,
    /// The last event of each node (indexed by node id), for the watchdog's diagnosis.
    pub(crate) last_by_node: Vec<Option<Event>>,
    /// Virtual time of the latest event.
    pub(crate) last_at_ns: u64,
}

impl Tracer {
    pub(crate) fn new(keep_list: bool) -> Self {
        Tracer {
            list: keep_list.then(Vec::new),
            ..Tracer::default()
        }
    }

    pub(crate) fn digest(&self) -> u64 {
        self.digest.finish()
    }

    /// Folds one event into the digest; it becomes `node`'s last event.
    pub(crate) fn record(&mut self, ev: Event, node: u32) {
        let h = &mut self.digest;
        h.write_u64(ev.at_ns);
        h.write_u64(ev.kind as u64);
        h.write(ev.from.as_bytes());
        h.write(ev.to.as_bytes());
        h.write(ev.what.as_bytes());
        h.write_u64(ev.len as u64);
        h.write_u64(ev.bytes_digest);
        self.count += 1;
        self.last_at_ns = ev.at_ns;
        if let Some(list) = &mut self.list {
            list.push(ev.clone());
        }
        let n = node as usize;
        if self.last_by_node.len() <= n {
            self.last_by_node.resize(n + 1, None);
        }
        self.last_by_node[n] = Some(ev);
    }
}

/// Names the first difference between two event lists, or `None` when they are equal.
pub(crate) fn first_difference(a: &[Event], b: &[Event]) -> Option<String> {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x != y {
            return Some(format!(
                "event #{i} differs:\n  first run:  {x}\n  second run: {y}"
            ));
        }
    }
    match a.len().cmp(&b.len()) {
        std::cmp::Ordering::Equal => None,
        std::cmp::Ordering::Less => Some(format!(
            "the first run ended after {} events; the second went on with: {}",
            a.len(),
            b[a.len()]
        )),
        std::cmp::Ordering::Greater => Some(format!(
            "the second run ended after {} events; the first went on with: {}",
            b.len(),
            a[b.len()]
        )),
    }
}

/// Records a user event in the run's trace (it counts towards `trace=` and the determinism check).
pub fn record(label: &str, detail: &[u8]) {
    let node = Node::current();
    trace_event(
        EventKind::User,
        node.name(),
        Arc::from(""),
        Arc::from(label),
        detail,
        node.id(),
        0,
    );
}

/// Records an event of `node` (internal: the network and the nodes call this); `call` pairs the
/// events of one RPC on the timeline (0 for none; see [`super::timeline`]).
pub(crate) fn trace_event(
    kind: EventKind,
    from: Arc<str>,
    to: Arc<str>,
    what: Arc<str>,
    bytes: &[u8],
    node: NodeId,
    call: u64,
) {
    let c = ctx();
    let at_ns = c.now().as_nanos() as u64;
    c.shared.monitor.set_vtime(at_ns);
    if c.shared.timeline.is_some() {
        // The caller's other side, a server (a delivery's caller is its send's lane).
        let peer: &str = match kind {
            EventKind::Send | EventKind::DropRequest | EventKind::Fail => &to,
            EventKind::Reply | EventKind::DropReply => &from,
            EventKind::Deliver | EventKind::Crash | EventKind::User => "",
        };
        super::timeline::traced(kind, node, peer, &what, call);
    }
    let ev = Event {
        at_ns,
        kind,
        from,
        to,
        what,
        len: bytes.len(),
        bytes_digest: digest(bytes),
    };
    c.shared
        .tracer
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .record(ev, node);
}
