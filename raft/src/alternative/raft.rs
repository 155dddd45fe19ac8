//! SECOND SOLUTION (alternative feature): an independent solution in the style of typical Go-lab
//! solutions, used to check that the graded tests do not punish a correct design different from
//! the reference. Not part of the handout.
//!
//! The shape is the one most 6.5840 Go solutions have:
//! - one lock around the whole peer state;
//! - an election ticker that wakes every [`TICK`] and compares the time since it last heard from a
//!   leader with a randomized timeout drawn from [`ELECTION_TIMEOUT_MS`];
//! - a leader loop that sends AppendEntries (or InstallSnapshot) to every peer every
//!   [`HEARTBEAT_INTERVAL`], and `start` that triggers one such round at once;
//! - one spawned task per outgoing RPC, and no retry loops: the next round repeats what was lost;
//! - an applier task, woken by a `Notify`, that sends one message at a time on the apply channel;
//! - `persist` re-encodes the whole persistent state (term, vote, snapshot bookkeeping and the
//!   whole log) with postcard on every call, with nothing cached.
//!
//! Log indices: `last_included_index`/`last_included_term` describe the last entry the snapshot
//! covers (0/0 without a snapshot); `log[k]` holds the entry at index `last_included_index + 1 + k`.

use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use labrpc::{ClientEnd, Service, sim};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::{ApplyMsg, ApplySender, Persister};

/// How often a leader sends a round of AppendEntries to every peer (about nine per second: the
/// lab's `count_2b` allows 60 RPCs per idle second for three peers).
const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(110);

/// The range of the randomized election timeout, in milliseconds: well above three heartbeat
/// intervals, and short enough that a leader emerges within the tester's ~5 s even after a
/// split vote or two.
const ELECTION_TIMEOUT_MS: Range<u64> = 370..730;

/// The fixed step of the election ticker.
const TICK: Duration = Duration::from_millis(15);

/// What a peer currently believes it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Follower,
    Candidate,
    Leader,
}

/// One log entry: the term it was created in and the service's command.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct LogEntry {
    term: u64,
    command: Vec<u8>,
}

/// The state Figure 2 calls persistent, plus the snapshot bookkeeping, in the order it is
/// encoded. Generic over the log so that encoding can borrow it and decoding can own it.
#[derive(Serialize, Deserialize)]
struct Persistent<L> {
    current_term: u64,
    voted_for: Option<usize>,
    last_included_index: u64,
    last_included_term: u64,
    log: L,
}

/// One Raft peer. Cheap to clone: all clones are the same peer.
#[derive(Clone)]
pub struct Raft {
    state: Arc<Mutex<State>>,
}

/// The peer's state, behind one lock.
struct State {
    /// RPC end points of all peers, this one included.
    peers: Vec<ClientEnd>,
    /// This peer's index into `peers`.
    me: usize,
    /// Where this peer saves what must survive a crash.
    persister: Persister,
    /// Committed entries (and installed snapshots) go here, in log order.
    apply_tx: ApplySender,
    /// Wakes the applier when `commit_index` moves or a snapshot is installed.
    apply_notify: Arc<Notify>,

    // Persistent state (Figure 2), saved by `persist`.
    current_term: u64,
    voted_for: Option<usize>,
    /// The entries after the snapshot.
    log: Vec<LogEntry>,
    /// The last index the snapshot covers (0: no snapshot).
    last_included_index: u64,
    /// The term of the entry at `last_included_index`.
    last_included_term: u64,
    /// The latest snapshot (saved with the state on every `persist`).
    snapshot: Vec<u8>,

    // Volatile state.
    commit_index: u64,
    last_applied: u64,
    /// An InstallSnapshot has replaced the log: the applier must send the snapshot first.
    snapshot_pending: bool,
    role: Role,
    /// Peers that granted their vote in the current election (this peer included).
    votes: BTreeSet<usize>,
    /// Leader only: the next index to send to each peer.
    next_index: Vec<u64>,
    /// Leader only: the highest index known to be replicated on each peer.
    match_index: Vec<u64>,
    /// When the election timer was last reset.
    last_heard: Instant,
    /// The current randomized election timeout.
    election_timeout: Duration,
    /// Set by `kill`: background loops stop.
    dead: bool,
}

/// RequestVote RPC arguments (Figure 2).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct RequestVoteArgs {
    term: u64,
    candidate_id: usize,
    last_log_index: u64,
    last_log_term: u64,
}

/// RequestVote RPC reply (Figure 2).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct RequestVoteReply {
    term: u64,
    vote_granted: bool,
}

/// AppendEntries RPC arguments (Figure 2).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct AppendEntriesArgs {
    term: u64,
    leader_id: usize,
    prev_log_index: u64,
    prev_log_term: u64,
    entries: Vec<LogEntry>,
    leader_commit: u64,
}

/// AppendEntries RPC reply, with the Go lab's fast-backup hints: on a mismatch, `conflict_term`
/// is the term of the follower's entry at `prev_log_index` (XTerm) and `conflict_index` the first
/// index the follower has of that term (XIndex); when the follower's log is too short,
/// `conflict_term` is `None` and `conflict_index` is its log length (XLen, the next free index).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct AppendEntriesReply {
    term: u64,
    success: bool,
    conflict_term: Option<u64>,
    conflict_index: u64,
}

/// InstallSnapshot RPC arguments (Figure 13, without chunks).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct InstallSnapshotArgs {
    term: u64,
    leader_id: usize,
    last_included_index: u64,
    last_included_term: u64,
    data: Vec<u8>,
}

/// InstallSnapshot RPC reply.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct InstallSnapshotReply {
    term: u64,
}

/// What a leader sends a peer in one round: entries, or the snapshot when the entries the peer
/// needs are gone.
enum Outgoing {
    Append(AppendEntriesArgs),
    Snapshot(InstallSnapshotArgs),
}

impl State {
    /// Saves the whole persistent state with the current snapshot. Re-encodes everything, the
    /// whole log included, on every call, as the Go lab's `persist` does with labgob.
    fn persist(&self) {
        let saved = Persistent {
            current_term: self.current_term,
            voted_for: self.voted_for,
            last_included_index: self.last_included_index,
            last_included_term: self.last_included_term,
            log: &self.log,
        };
        let bytes = postcard::to_allocvec(&saved).expect("encoding the Raft state");
        self.persister.save(bytes, self.snapshot.clone());
    }

    /// Restores previously persisted state. `data` is empty on a first start.
    fn read_persist(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let saved: Persistent<Vec<LogEntry>> =
            postcard::from_bytes(data).expect("decoding the Raft state");
        self.current_term = saved.current_term;
        self.voted_for = saved.voted_for;
        self.last_included_index = saved.last_included_index;
        self.last_included_term = saved.last_included_term;
        self.log = saved.log;
        // The service restores the snapshot itself; continue right after it.
        self.commit_index = self.last_included_index;
        self.last_applied = self.last_included_index;
    }

    /// The index of the last entry (the snapshot's last index if the log is empty).
    fn last_index(&self) -> u64 {
        self.last_included_index + self.log.len() as u64
    }

    /// The term of the last entry.
    fn last_term(&self) -> u64 {
        self.log.last().map_or(self.last_included_term, |e| e.term)
    }

    /// The term of the entry at `index`, if this peer still knows it (the snapshot's last entry
    /// counts; entries before it are gone).
    fn term_at(&self, index: u64) -> Option<u64> {
        if index == self.last_included_index {
            Some(self.last_included_term)
        } else if index > self.last_included_index && index <= self.last_index() {
            Some(self.log[self.offset(index)].term)
        } else {
            None
        }
    }

    /// Position in `log` of the entry at `index` (which must be after the snapshot).
    fn offset(&self, index: u64) -> usize {
        (index - self.last_included_index - 1) as usize
    }

    /// Draws a new election timeout and restarts the timer.
    fn reset_election_timer(&mut self) {
        self.last_heard = Instant::now();
        self.election_timeout = Duration::from_millis(sim::random_range(ELECTION_TIMEOUT_MS));
    }

    /// Shows the term and role on every log line of this peer.
    fn relabel(&self) {
        sim::set_label(format!("T{} {:?}", self.current_term, self.role));
    }

    /// Adopts a newer term as a follower, forgetting the vote. The caller persists.
    fn become_follower(&mut self, term: u64) {
        tracing::debug!(term, old = self.current_term, "newer term: follower");
        self.current_term = term;
        self.voted_for = None;
        self.role = Role::Follower;
        self.relabel();
    }

    /// Starts an election: new term, own vote, fresh timer, saved before any request leaves.
    fn start_election(&mut self) -> RequestVoteArgs {
        self.current_term += 1;
        self.voted_for = Some(self.me);
        self.role = Role::Candidate;
        self.votes = BTreeSet::from([self.me]);
        self.reset_election_timer();
        self.persist();
        self.relabel();
        tracing::debug!(term = self.current_term, "starting election");
        RequestVoteArgs {
            term: self.current_term,
            candidate_id: self.me,
            last_log_index: self.last_index(),
            last_log_term: self.last_term(),
        }
    }

    /// Becomes leader of the current term, with fresh `next_index` and `match_index`.
    fn become_leader(&mut self) {
        self.role = Role::Leader;
        self.next_index = vec![self.last_index() + 1; self.peers.len()];
        self.match_index = vec![0; self.peers.len()];
        self.relabel();
        tracing::debug!(term = self.current_term, "won the election");
    }

    /// What the leader sends `peer` now: the entries from its `next_index` on, or the snapshot
    /// when those entries have been compacted away.
    fn outgoing(&self, peer: usize) -> Outgoing {
        let next = self.next_index[peer];
        if next <= self.last_included_index {
            return Outgoing::Snapshot(InstallSnapshotArgs {
                term: self.current_term,
                leader_id: self.me,
                last_included_index: self.last_included_index,
                last_included_term: self.last_included_term,
                data: self.snapshot.clone(),
            });
        }
        let prev = next - 1;
        Outgoing::Append(AppendEntriesArgs {
            term: self.current_term,
            leader_id: self.me,
            prev_log_index: prev,
            prev_log_term: self
                .term_at(prev)
                .expect("prev is at or after the snapshot"),
            entries: self.log[self.offset(next)..].to_vec(),
            leader_commit: self.commit_index,
        })
    }

    /// Leader: moves `commit_index` to the highest index of the current term that a majority
    /// holds (Figure 2; entries of older terms commit only indirectly, Figure 8).
    fn advance_commit(&mut self) {
        for n in (self.commit_index + 1..=self.last_index()).rev() {
            let term = self.term_at(n).unwrap_or(0);
            if term < self.current_term {
                break; // terms only decrease going back: nothing of this term below
            }
            let holders = 1
                + (0..self.peers.len())
                    .filter(|&p| p != self.me && self.match_index[p] >= n)
                    .count();
            if holders * 2 > self.peers.len() {
                tracing::debug!(index = n, "committed");
                self.commit_index = n;
                self.apply_notify.notify_one();
                return;
            }
        }
    }

    /// Leader: where to retry after a rejected AppendEntries, from the follower's hints.
    fn backed_up_next_index(&self, reply: &AppendEntriesReply) -> u64 {
        let Some(xterm) = reply.conflict_term else {
            return reply.conflict_index; // the follower's log is too short
        };
        // If the leader has entries of xterm, retry after its last one; if not, skip the
        // follower's whole run of xterm.
        let mut i = self.last_index();
        while i > self.last_included_index {
            let t = self.log[self.offset(i)].term;
            if t == xterm {
                return i + 1;
            }
            if t < xterm {
                return reply.conflict_index;
            }
            i -= 1;
        }
        if self.last_included_term == xterm {
            self.last_included_index + 1
        } else {
            reply.conflict_index
        }
    }

    /// Follower: the consistency check and the merge of AppendEntries' entries (Figure 2,
    /// receiver steps 2-5). Fills in `reply`; returns whether the log changed.
    fn accept_entries(&mut self, args: &AppendEntriesArgs, reply: &mut AppendEntriesReply) -> bool {
        let mut prev = args.prev_log_index;
        let mut entries: &[LogEntry] = &args.entries;
        // Entries the snapshot covers are committed and match: skip them.
        if prev < self.last_included_index {
            let skip = (self.last_included_index - prev) as usize;
            if skip >= entries.len() {
                reply.success = true;
                return false;
            }
            entries = &entries[skip..];
            prev = self.last_included_index;
        } else if prev > self.last_index() {
            reply.conflict_term = None;
            reply.conflict_index = self.last_index() + 1;
            return false;
        } else if let Some(t) = self.term_at(prev).filter(|&t| t != args.prev_log_term) {
            let mut first = prev;
            while first > self.last_included_index + 1 && self.term_at(first - 1) == Some(t) {
                first -= 1;
            }
            reply.conflict_term = Some(t);
            reply.conflict_index = first;
            return false;
        }
        reply.success = true;
        let changed = self.merge(prev, entries);
        let last_new = prev + entries.len() as u64;
        if args.leader_commit > self.commit_index {
            let commit = args.leader_commit.min(last_new);
            if commit > self.commit_index {
                self.commit_index = commit;
                self.apply_notify.notify_one();
            }
        }
        changed
    }

    /// Appends `entries`, which follow `prev`, cutting the log only at a real conflict, so that
    /// a delayed, shorter request never removes entries. Returns whether the log changed.
    fn merge(&mut self, prev: u64, entries: &[LogEntry]) -> bool {
        for (k, e) in entries.iter().enumerate() {
            let index = prev + 1 + k as u64;
            match self.term_at(index) {
                Some(t) if t == e.term => continue,
                Some(_) => {
                    let cut = self.offset(index);
                    self.log.truncate(cut);
                }
                None => {}
            }
            self.log.extend_from_slice(&entries[k..]);
            return true;
        }
        false
    }

    /// The next message for the apply channel, if any: a pending installed snapshot first, then
    /// the next committed command. Marks it applied.
    fn next_apply_msg(&mut self) -> Option<ApplyMsg> {
        if self.snapshot_pending {
            self.snapshot_pending = false;
            if self.last_included_index > self.last_applied {
                self.last_applied = self.last_included_index;
                return Some(ApplyMsg::Snapshot {
                    term: self.last_included_term,
                    index: self.last_included_index,
                    data: self.snapshot.clone(),
                });
            }
        }
        if self.last_applied < self.commit_index {
            self.last_applied += 1;
            let command = self.log[self.offset(self.last_applied)].command.clone();
            return Some(ApplyMsg::Command {
                index: self.last_applied,
                command,
            });
        }
        None
    }
}

impl Raft {
    /// Creates a peer. `peers[me]` is this peer; all peers' `peers` arrays are in the same order.
    /// `persister` holds what this peer's previous incarnation saved (empty the first time).
    /// Send committed entries on `apply_tx`. Returns at once; the ticker and the applier run in
    /// tasks.
    pub fn new(
        peers: Vec<ClientEnd>,
        me: usize,
        persister: Persister,
        apply_tx: ApplySender,
    ) -> Raft {
        let saved = persister.read_raft_state();
        let snapshot = persister.read_snapshot();
        let n = peers.len();
        let mut state = State {
            peers,
            me,
            persister,
            apply_tx,
            apply_notify: Arc::new(Notify::new()),
            current_term: 0,
            voted_for: None,
            log: Vec::new(),
            last_included_index: 0,
            last_included_term: 0,
            snapshot,
            commit_index: 0,
            last_applied: 0,
            snapshot_pending: false,
            role: Role::Follower,
            votes: BTreeSet::new(),
            next_index: vec![1; n],
            match_index: vec![0; n],
            last_heard: Instant::now(),
            election_timeout: Duration::ZERO,
            dead: false,
        };
        state.read_persist(&saved);
        state.reset_election_timer();
        state.relabel();
        let rf = Raft {
            state: Arc::new(Mutex::new(state)),
        };
        let ticker = rf.clone();
        sim::spawn(async move { ticker.ticker().await });
        let applier = rf.clone();
        sim::spawn(async move { applier.applier().await });
        rf
    }

    /// Locks the peer's state.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// The current term, and whether this peer believes it is the leader.
    pub async fn get_state(&self) -> (u64, bool) {
        let st = self.lock();
        (st.current_term, st.role == Role::Leader)
    }

    /// Appends `command` to the log if this peer leads, and starts replicating it at once.
    /// Returns `(index, term, is_leader)` without waiting for agreement.
    pub async fn start(&self, command: Vec<u8>) -> (u64, u64, bool) {
        let (index, term) = {
            let mut st = self.lock();
            if st.role != Role::Leader || st.dead {
                return (0, st.current_term, false);
            }
            let term = st.current_term;
            st.log.push(LogEntry { term, command });
            st.persist();
            (st.last_index(), term)
        };
        tracing::debug!(index, term, "start");
        self.broadcast_append_entries();
        (index, term, true)
    }

    /// The service has a snapshot of everything through `index`: drop those entries and save
    /// the state with the new snapshot at once.
    pub async fn snapshot(&self, index: u64, snapshot: Vec<u8>) {
        let mut st = self.lock();
        if index <= st.last_included_index || index > st.last_index() {
            return;
        }
        let term = st.term_at(index).expect("index is in the log");
        let drop = st.offset(index) + 1;
        st.log.drain(..drop);
        st.last_included_index = index;
        st.last_included_term = term;
        st.snapshot = snapshot;
        st.persist();
        tracing::debug!(index, "snapshot taken");
    }

    /// Marks the peer dead: its loops stop at their next step (the framework also aborts them).
    pub fn kill(&self) {
        self.lock().dead = true;
    }

    /// The RPC service the tester registers on this peer's server.
    pub fn service(&self) -> Service {
        let (rv, ae, is) = (self.clone(), self.clone(), self.clone());
        Service::new("Raft")
            .method("RequestVote", move |args: RequestVoteArgs| {
                let rf = rv.clone();
                async move { rf.request_vote(args) }
            })
            .method("AppendEntries", move |args: AppendEntriesArgs| {
                let rf = ae.clone();
                async move { rf.append_entries(args) }
            })
            .method("InstallSnapshot", move |args: InstallSnapshotArgs| {
                let rf = is.clone();
                async move { rf.install_snapshot(args) }
            })
    }

    /// The RequestVote RPC handler (Figure 2, with the §5.4.1 up-to-date check).
    fn request_vote(&self, args: RequestVoteArgs) -> RequestVoteReply {
        let mut st = self.lock();
        if args.term < st.current_term {
            return RequestVoteReply {
                term: st.current_term,
                vote_granted: false,
            };
        }
        let mut changed = false;
        if args.term > st.current_term {
            st.become_follower(args.term);
            changed = true;
        }
        let up_to_date = args.last_log_term > st.last_term()
            || (args.last_log_term == st.last_term() && args.last_log_index >= st.last_index());
        let free = st.voted_for.is_none() || st.voted_for == Some(args.candidate_id);
        let granted = free && up_to_date;
        if granted {
            st.voted_for = Some(args.candidate_id);
            st.reset_election_timer();
            changed = true;
            tracing::debug!(
                candidate = args.candidate_id,
                term = args.term,
                "vote granted"
            );
        }
        if changed {
            st.persist();
        }
        RequestVoteReply {
            term: st.current_term,
            vote_granted: granted,
        }
    }

    /// The AppendEntries RPC handler (Figure 2), with fast-backup hints on a mismatch.
    fn append_entries(&self, args: AppendEntriesArgs) -> AppendEntriesReply {
        let mut st = self.lock();
        let mut reply = AppendEntriesReply {
            term: st.current_term,
            success: false,
            conflict_term: None,
            conflict_index: 0,
        };
        if args.term < st.current_term {
            return reply;
        }
        let mut changed = false;
        if args.term > st.current_term {
            st.become_follower(args.term);
            changed = true;
        } else if st.role != Role::Follower {
            st.role = Role::Follower;
            st.relabel();
        }
        st.reset_election_timer();
        reply.term = st.current_term;
        changed |= st.accept_entries(&args, &mut reply);
        if changed {
            st.persist();
        }
        reply
    }

    /// The InstallSnapshot RPC handler (Figure 13, without chunks).
    fn install_snapshot(&self, args: InstallSnapshotArgs) -> InstallSnapshotReply {
        let mut st = self.lock();
        if args.term < st.current_term {
            return InstallSnapshotReply {
                term: st.current_term,
            };
        }
        let mut changed = false;
        if args.term > st.current_term {
            st.become_follower(args.term);
            changed = true;
        } else if st.role != Role::Follower {
            st.role = Role::Follower;
            st.relabel();
        }
        st.reset_election_timer();
        // A snapshot not beyond what is committed is old news: ignore it.
        if args.last_included_index > st.commit_index {
            changed = true;
            // Keep the entries after the snapshot if the log agrees at its last index.
            if st.term_at(args.last_included_index) == Some(args.last_included_term) {
                let drop = st.offset(args.last_included_index) + 1;
                st.log.drain(..drop);
            } else {
                st.log.clear();
            }
            st.last_included_index = args.last_included_index;
            st.last_included_term = args.last_included_term;
            st.snapshot = args.data;
            st.commit_index = args.last_included_index;
            st.snapshot_pending = true;
            st.apply_notify.notify_one();
            tracing::debug!(index = args.last_included_index, "installed snapshot");
        }
        if changed {
            st.persist();
        }
        InstallSnapshotReply {
            term: st.current_term,
        }
    }

    /// Sends a RequestVote RPC to `server`; `None` means no reply.
    async fn send_request_vote(
        &self,
        server: usize,
        args: RequestVoteArgs,
    ) -> Option<RequestVoteReply> {
        let peer = self.lock().peers[server].clone();
        peer.call("Raft.RequestVote", &args).await.ok()
    }

    /// Starts an election whenever the timer has run out; checks every [`TICK`].
    async fn ticker(&self) {
        loop {
            tokio::time::sleep(TICK).await;
            let args = {
                let mut st = self.lock();
                if st.dead {
                    return;
                }
                let expired = st.last_heard.elapsed() >= st.election_timeout;
                (st.role != Role::Leader && expired).then(|| st.start_election())
            };
            if let Some(args) = args {
                self.broadcast_request_vote(args);
            }
        }
    }

    /// Asks every other peer for its vote, one task per request.
    fn broadcast_request_vote(&self, args: RequestVoteArgs) {
        let n = self.lock().peers.len();
        for peer in (0..n).filter(|&p| p != args.candidate_id) {
            let rf = self.clone();
            let args = args.clone();
            sim::spawn(async move {
                if let Some(reply) = rf.send_request_vote(peer, args.clone()).await {
                    rf.handle_vote_reply(peer, &args, reply);
                }
            });
        }
    }

    /// Counts a vote; with a majority, becomes leader and starts the heartbeat loop.
    fn handle_vote_reply(&self, peer: usize, args: &RequestVoteArgs, reply: RequestVoteReply) {
        let mut st = self.lock();
        if reply.term > st.current_term {
            st.become_follower(reply.term);
            st.persist();
            return;
        }
        if st.role != Role::Candidate || st.current_term != args.term || !reply.vote_granted {
            return; // a reply from an election this peer has given up on, or a refusal
        }
        st.votes.insert(peer);
        if st.votes.len() * 2 > st.peers.len() {
            st.become_leader();
            let term = st.current_term;
            drop(st);
            let rf = self.clone();
            sim::spawn(async move { rf.heartbeat_loop(term).await });
        }
    }

    /// While this peer leads in `term`: a round of AppendEntries to every peer, then a pause.
    async fn heartbeat_loop(&self, term: u64) {
        loop {
            {
                let st = self.lock();
                if st.dead || st.role != Role::Leader || st.current_term != term {
                    return;
                }
            }
            self.broadcast_append_entries();
            tokio::time::sleep(HEARTBEAT_INTERVAL).await;
        }
    }

    /// Leader: sends every other peer what it needs now, one task per request.
    fn broadcast_append_entries(&self) {
        let st = self.lock();
        if st.role != Role::Leader {
            return;
        }
        let requests: Vec<(usize, Outgoing)> = (0..st.peers.len())
            .filter(|&p| p != st.me)
            .map(|p| (p, st.outgoing(p)))
            .collect();
        drop(st);
        for (peer, req) in requests {
            self.send_outgoing(peer, req);
        }
    }

    /// Spawns the task that sends one request to `peer` and handles its reply.
    fn send_outgoing(&self, peer: usize, req: Outgoing) {
        let rf = self.clone();
        let end = self.lock().peers[peer].clone();
        sim::spawn(async move {
            match req {
                Outgoing::Append(args) => {
                    let reply = end.call("Raft.AppendEntries", &args).await;
                    if let Ok(reply) = reply {
                        rf.handle_append_reply(peer, &args, reply);
                    }
                }
                Outgoing::Snapshot(args) => {
                    let reply = end.call("Raft.InstallSnapshot", &args).await;
                    if let Ok(reply) = reply {
                        rf.handle_snapshot_reply(peer, &args, reply);
                    }
                }
            }
        });
    }

    /// Leader: handles an AppendEntries reply. Progress never moves backwards on a late reply;
    /// after a mismatch, resends at once from the backed-up index.
    fn handle_append_reply(
        &self,
        peer: usize,
        args: &AppendEntriesArgs,
        reply: AppendEntriesReply,
    ) {
        let mut st = self.lock();
        if reply.term > st.current_term {
            st.become_follower(reply.term);
            st.persist();
            return;
        }
        if st.role != Role::Leader || st.current_term != args.term {
            return;
        }
        if reply.success {
            let matched = args.prev_log_index + args.entries.len() as u64;
            st.match_index[peer] = st.match_index[peer].max(matched);
            st.next_index[peer] = st.next_index[peer].max(matched + 1);
            st.advance_commit();
            return;
        }
        if args.prev_log_index + 1 != st.next_index[peer] {
            return; // a stale rejection: a newer request already moved next_index
        }
        let next = st
            .backed_up_next_index(&reply)
            .max(st.match_index[peer] + 1)
            .max(1);
        if next < st.next_index[peer] {
            st.next_index[peer] = next;
            let req = st.outgoing(peer);
            drop(st);
            self.send_outgoing(peer, req);
        }
    }

    /// Leader: handles an InstallSnapshot reply.
    fn handle_snapshot_reply(
        &self,
        peer: usize,
        args: &InstallSnapshotArgs,
        reply: InstallSnapshotReply,
    ) {
        let mut st = self.lock();
        if reply.term > st.current_term {
            st.become_follower(reply.term);
            st.persist();
            return;
        }
        if st.role != Role::Leader || st.current_term != args.term {
            return;
        }
        let matched = args.last_included_index;
        st.match_index[peer] = st.match_index[peer].max(matched);
        st.next_index[peer] = st.next_index[peer].max(matched + 1);
        st.advance_commit();
    }

    /// Sends committed entries and installed snapshots to the service, one at a time, in log
    /// order; sleeps on the `Notify` when there is nothing to send. Never holds the lock while
    /// it waits on the channel.
    async fn applier(&self) {
        let (tx, notify) = {
            let st = self.lock();
            (st.apply_tx.clone(), st.apply_notify.clone())
        };
        loop {
            let msg = {
                let mut st = self.lock();
                if st.dead {
                    return;
                }
                st.next_apply_msg()
            };
            match msg {
                Some(msg) => {
                    if tx.send(msg).await.is_err() {
                        return;
                    }
                }
                None => notify.notified().await,
            }
        }
    }
}
