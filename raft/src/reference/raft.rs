//! REFERENCE SOLUTION of the Raft lab (2A-2D), compiled instead of `raft/src/raft.rs` when the
//! `reference` feature is on. It is a drop-in replacement of the student's file.
//!
//! It follows Figure 2 of the Raft paper (and Figure 13 for snapshots): `State` holds Figure 2's
//! state in its order, and each RPC handler applies the receiver's rules in order, citing them.
//!
//! Tasks of one peer, all started by [`Raft::new`]:
//! - the ticker starts an election when the election timer runs out;
//! - one replicator per other peer sends AppendEntries (or InstallSnapshot) while leading, every
//!   heartbeat and whenever there is news for that follower. A new entry goes at once only to a
//!   follower that has all the others; to the rest, it goes with the reply to what is on the
//!   way. So `start`s in a burst share requests, and a follower out of reach costs one request
//!   per heartbeat;
//! - the applier sends committed entries and installed snapshots on the apply channel, never
//!   holding the lock while it waits for the service.
//!
//! Every RPC is sent from its own task, so a lost or slow reply never delays anything else.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use labrpc::{ClientEnd, Service, sim};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio::time::{Instant, sleep, sleep_until};

use crate::{ApplyMsg, ApplySender, Persister};

/// How often a leader sends AppendEntries to an idle follower.
const HEARTBEAT: Duration = Duration::from_millis(100);
/// Election timeouts are drawn from this range, in milliseconds, at every reset.
const ELECTION_TIMEOUT_MS: std::ops::Range<u64> = 300..600;

/// What handles the reply to an RPC: the peer, the server that replied, the request, the reply.
type OnReply<A, R> = fn(&Raft, usize, &A, R);

/// One Raft peer. Cheap to clone: all clones are the same peer.
#[derive(Clone)]
pub struct Raft {
    state: Arc<Mutex<State>>,
    wake: Arc<Wake>,
}

/// What wakes the peer's background tasks.
struct Wake {
    /// The applier: `commit_index` moved, or a snapshot awaits delivery.
    applier: Notify,
    /// The replicator of each peer: there is something to send now (a new leadership, a new
    /// entry for an up-to-date follower, a reply that leaves entries to send or asks to retry).
    replicator: Vec<Notify>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    Follower,
    Candidate,
    Leader,
}

/// The peer's state, behind one lock (Figure 2's "State", then what the implementation adds).
struct State {
    // Persistent state on all servers (saved before answering an RPC or sending one).
    /// Latest term this server has seen.
    current_term: u64,
    /// The candidate that received this server's vote in the current term.
    voted_for: Option<usize>,
    /// Log entries, after the last snapshot.
    log: Log,

    // Volatile state on all servers.
    /// Index of the highest log entry known to be committed.
    commit_index: u64,
    /// Index of the highest log entry handed to the applier.
    last_applied: u64,

    // Volatile state on leaders (reinitialized after election).
    /// For each server, index of the next log entry to send to it.
    next_index: Vec<u64>,
    /// For each server, index of the highest log entry known to be replicated on it.
    match_index: Vec<u64>,

    // Implementation.
    role: Role,
    /// Votes received as a candidate in the current term.
    votes: usize,
    /// When a follower or candidate starts the next election.
    election_deadline: Instant,
    /// An installed snapshot the applier has not yet delivered to the service.
    snapshot_pending: bool,
    /// RPC end points of all peers, this one included.
    peers: Vec<ClientEnd>,
    /// This peer's index into `peers`.
    me: usize,
    /// Where this peer saves what must survive a crash.
    persister: Persister,
}

/// One log entry.
#[derive(Serialize, Deserialize, Debug, Clone)]
struct Entry {
    term: u64,
    // One byte string rather than a sequence of numbers: the log is encoded at every change, and
    // byte by byte that is slow.
    #[serde(with = "serde_bytes")]
    command: Vec<u8>,
}

impl Entry {
    /// Appends the entry's encoding to `bytes`.
    fn encode_onto(&self, bytes: &mut Vec<u8>) {
        *bytes = postcard::to_extend(self, std::mem::take(bytes)).expect("an entry encodes");
    }
}

/// The log from the last snapshot on. `entries[0]` stands for the last entry the snapshot covers
/// (index `base`): only its term is kept. Without a snapshot, `base` is 0 and so is its term.
///
/// The log is saved at every change, so it keeps `encoded`, the encoding of `entries[1..]`: an
/// append extends it and only a removal redoes it. Saving then copies bytes instead of encoding
/// every entry again. Change `entries` only through `push`, `truncate` and `compact`.
struct Log {
    base: u64,
    entries: Vec<Entry>,
    encoded: Vec<u8>,
}

impl Log {
    /// A log holding nothing after a snapshot that ends at `base`, in `term`.
    fn new(base: u64, term: u64) -> Log {
        let command = Vec::new();
        let entries = vec![Entry { term, command }];
        Log {
            base,
            entries,
            encoded: Vec::new(),
        }
    }

    fn push(&mut self, entry: Entry) {
        entry.encode_onto(&mut self.encoded);
        self.entries.push(entry);
    }

    /// Encodes `entries[1..]` again, after some left.
    fn reencode(&mut self) {
        self.encoded.clear();
        for entry in &self.entries[1..] {
            entry.encode_onto(&mut self.encoded);
        }
    }

    fn last_index(&self) -> u64 {
        self.base + self.entries.len() as u64 - 1
    }

    fn last_term(&self) -> u64 {
        self.entries[self.entries.len() - 1].term
    }

    fn base_term(&self) -> u64 {
        self.entries[0].term
    }

    /// The term of the entry at `index`, if the log still holds it (or the snapshot ends there).
    fn term(&self, index: u64) -> Option<u64> {
        let i = index.checked_sub(self.base)?;
        self.entries.get(i as usize).map(|e| e.term)
    }

    /// The entries from `index` (after `base`) to the end.
    fn from(&self, index: u64) -> &[Entry] {
        &self.entries[(index - self.base) as usize..]
    }

    /// Deletes the entries from `index` (after `base`) on.
    fn truncate(&mut self, index: u64) {
        if index <= self.last_index() {
            self.entries.truncate((index - self.base) as usize);
            self.reencode();
        }
    }

    /// The first index of the run of `term` entries that ends at `index`.
    fn first_of_term(&self, term: u64, mut index: u64) -> u64 {
        while index > self.base + 1 && self.term(index - 1) == Some(term) {
            index -= 1;
        }
        index
    }

    /// The last index holding an entry of `term`, if the log (or the snapshot's end) has one.
    fn last_of_term(&self, term: u64) -> Option<u64> {
        let i = self.entries.iter().rposition(|e| e.term == term)?;
        Some(self.base + i as u64)
    }

    /// Discards the log through `index`, now covered by a snapshot whose last entry has `term`.
    /// The entries after it stay if the log holds that very entry (Figure 13, rules 6 and 7).
    fn compact(&mut self, index: u64, term: u64) {
        if self.term(index) == Some(term) {
            self.entries.drain(..(index - self.base) as usize);
            self.entries[0].command = Vec::new();
            self.base = index;
            self.reencode();
        } else {
            *self = Log::new(index, term);
        }
    }
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
    entries: Vec<Entry>,
    leader_commit: u64,
}

/// AppendEntries RPC reply (Figure 2), with where the follower's log diverges when `success` is
/// false: the term of its conflicting entry and the first index of that term, or, if its log is
/// too short, no term and its length + 1.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct AppendEntriesReply {
    term: u64,
    success: bool,
    conflict_term: Option<u64>,
    conflict_index: u64,
}

/// InstallSnapshot RPC arguments (Figure 13), in one chunk.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct InstallSnapshotArgs {
    term: u64,
    leader_id: usize,
    last_included_index: u64,
    last_included_term: u64,
    #[serde(with = "serde_bytes")]
    data: Vec<u8>,
}

/// InstallSnapshot RPC reply (Figure 13).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct InstallSnapshotReply {
    term: u64,
}

/// What `persist` saves: currentTerm, votedFor, and the log (its base index and term, its entries).
type Saved = (u64, Option<usize>, u64, u64, Vec<Entry>);

impl State {
    /// Saves the persistent state, keeping the current snapshot.
    fn persist(&self) {
        self.persist_with(self.persister.read_snapshot());
    }

    /// Saves the persistent state together with `snapshot`. postcard encodes a `Vec` as its
    /// length followed by its elements, so the log's entries go after their count as they are.
    fn persist_with(&self, snapshot: Vec<u8>) {
        let log = &self.log;
        let count = log.entries.len() - 1;
        let head = (
            self.current_term,
            self.voted_for,
            log.base,
            log.base_term(),
            count,
        );
        let mut state = postcard::to_allocvec(&head).expect("the Raft state encodes");
        state.extend_from_slice(&log.encoded);
        self.persister.save(state, snapshot);
    }

    /// Restores the state saved by `persist` (nothing on a first start). The service restores its
    /// snapshot itself, so everything the snapshot covers counts as applied.
    fn read_persist(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let (term, voted_for, base, base_term, entries): Saved =
            postcard::from_bytes(data).expect("the saved Raft state decodes");
        self.current_term = term;
        self.voted_for = voted_for;
        self.log = Log::new(base, base_term);
        entries.into_iter().for_each(|e| self.log.push(e));
        self.commit_index = self.log.base;
        self.last_applied = self.log.base;
    }

    fn reset_election_timer(&mut self) {
        let ms = sim::random_range(ELECTION_TIMEOUT_MS);
        self.election_deadline = Instant::now() + Duration::from_millis(ms);
    }

    fn set_role(&mut self, role: Role) {
        self.role = role;
        let role = format!("{role:?}").to_lowercase();
        sim::set_label(format!("T{} {role}", self.current_term));
    }

    /// Rules for all servers: if an RPC request or response contains term T > currentTerm, set
    /// currentTerm = T and convert to follower (§5.1).
    fn observe_term(&mut self, term: u64) {
        if term > self.current_term {
            self.current_term = term;
            self.voted_for = None;
            self.set_role(Role::Follower);
            tracing::debug!(term, "newer term seen");
            self.persist();
        }
    }

    fn majority(&self) -> usize {
        self.peers.len() / 2 + 1
    }

    /// Leaders: if there exists an N > commitIndex such that a majority of matchIndex[i] >= N,
    /// and log[N].term == currentTerm, set commitIndex = N (§5.3, §5.4). Returns whether it moved.
    fn advance_commit(&mut self) -> bool {
        let mut matched = self.match_index.clone();
        matched[self.me] = self.log.last_index();
        matched.sort_unstable();
        let n = matched[(matched.len() - 1) / 2];
        if n > self.commit_index && self.log.term(n) == Some(self.current_term) {
            tracing::debug!(term = self.current_term, commit = n, "committed");
            self.commit_index = n;
            return true;
        }
        false
    }
}

impl Raft {
    /// Creates a peer: `peers[me]` is this peer, `persister` holds what its previous incarnation
    /// saved, and committed entries go to `apply_tx`. Returns at once; the work runs in tasks.
    pub fn new(
        peers: Vec<ClientEnd>,
        me: usize,
        persister: Persister,
        apply_tx: ApplySender,
    ) -> Raft {
        let n = peers.len();
        let mut st = State {
            current_term: 0,
            voted_for: None,
            log: Log::new(0, 0),
            commit_index: 0,
            last_applied: 0,
            next_index: vec![1; n],
            match_index: vec![0; n],
            role: Role::Follower,
            votes: 0,
            election_deadline: Instant::now(),
            snapshot_pending: false,
            peers,
            me,
            persister,
        };
        st.read_persist(&st.persister.read_raft_state());
        st.reset_election_timer();
        st.set_role(Role::Follower);
        let rf = Raft {
            state: Arc::new(Mutex::new(st)),
            wake: Arc::new(Wake {
                applier: Notify::new(),
                replicator: (0..n).map(|_| Notify::new()).collect(),
            }),
        };
        let ticker = rf.clone();
        sim::spawn(async move { ticker.ticker().await });
        let applier = rf.clone();
        sim::spawn(async move { applier.applier(apply_tx).await });
        for peer in (0..n).filter(|&p| p != me) {
            let replicator = rf.clone();
            sim::spawn(async move { replicator.replicator(peer).await });
        }
        rf
    }

    /// The current term, and whether this peer believes it is the leader.
    pub async fn get_state(&self) -> (u64, bool) {
        let st = self.lock();
        (st.current_term, st.role == Role::Leader)
    }

    /// Appends `command` to the log if this peer leads, without waiting for agreement. Returns
    /// `(index, term, is_leader)`: where the command will be if it is ever committed.
    pub async fn start(&self, command: Vec<u8>) -> (u64, u64, bool) {
        let mut st = self.lock();
        let term = st.current_term;
        if st.role != Role::Leader {
            return (0, term, false);
        }
        // Leaders: if command received from client, append entry to local log.
        st.log.push(Entry { term, command });
        st.persist();
        let index = st.log.last_index();
        tracing::debug!(term, index, "start");
        if st.advance_commit() {
            self.wake.applier.notify_one();
        }
        // Send it at once to the followers that have all before it. The others have requests on
        // the way, or are out of reach: a reply or the next heartbeat takes it to them.
        for peer in (0..st.peers.len()).filter(|&p| p != st.me && st.next_index[p] == index) {
            self.wake.replicator[peer].notify_one();
        }
        (index, term, true)
    }

    /// The service has a snapshot of everything through `index`: discard the log through there.
    pub async fn snapshot(&self, index: u64, snapshot: Vec<u8>) {
        let mut st = self.lock();
        if index <= st.log.base || index > st.commit_index {
            return;
        }
        let term = st.log.term(index).expect("the log holds committed entries");
        st.log.compact(index, term);
        st.persist_with(snapshot);
        tracing::debug!(term = st.current_term, index, "snapshot taken");
    }

    /// Nothing to do: the framework stops this peer's tasks when the tester crashes it.
    pub fn kill(&self) {}

    /// The RPC service the tester registers on this peer's server: one method per RPC.
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

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    // ----- RPC handlers (receiver implementation) -----

    /// The RequestVote RPC handler.
    fn request_vote(&self, args: RequestVoteArgs) -> RequestVoteReply {
        let mut st = self.lock();
        st.observe_term(args.term);
        let mut reply = RequestVoteReply {
            term: st.current_term,
            vote_granted: false,
        };
        // 1. Reply false if term < currentTerm (§5.1).
        if args.term < st.current_term {
            return reply;
        }
        // 2. If votedFor is null or candidateId, and candidate's log is at least as up-to-date as
        // receiver's log, grant vote (§5.2, §5.4).
        let up_to_date =
            (args.last_log_term, args.last_log_index) >= (st.log.last_term(), st.log.last_index());
        if st.voted_for.is_none_or(|v| v == args.candidate_id) && up_to_date {
            st.voted_for = Some(args.candidate_id);
            st.persist();
            // Followers: an election timeout without granting a vote starts an election.
            st.reset_election_timer();
            reply.vote_granted = true;
            tracing::debug!(term = st.current_term, to = args.candidate_id, "voted");
        }
        reply
    }

    /// The AppendEntries RPC handler.
    fn append_entries(&self, args: AppendEntriesArgs) -> AppendEntriesReply {
        let mut st = self.lock();
        st.observe_term(args.term);
        let mut reply = AppendEntriesReply {
            term: st.current_term,
            success: false,
            conflict_term: None,
            conflict_index: 0,
        };
        // 1. Reply false if term < currentTerm (§5.1).
        if args.term < st.current_term {
            return reply;
        }
        // Candidates: if AppendEntries RPC received from new leader, convert to follower. Followers:
        // an election timeout without hearing from the current leader starts an election.
        if st.role == Role::Candidate {
            st.set_role(Role::Follower);
        }
        st.reset_election_timer();

        // Entries the snapshot covers are committed, so they match the leader's: skip them.
        let (mut prev, mut prev_term, mut entries) =
            (args.prev_log_index, args.prev_log_term, &args.entries[..]);
        if prev < st.log.base {
            let skip = (st.log.base - prev) as usize;
            entries = entries.get(skip..).unwrap_or(&[]);
            (prev, prev_term) = (st.log.base, st.log.base_term());
        }
        // 2. Reply false if log doesn't contain an entry at prevLogIndex whose term matches
        // prevLogTerm (§5.3), saying where to retry from.
        match st.log.term(prev) {
            None => {
                reply.conflict_index = st.log.last_index() + 1;
                return reply;
            }
            Some(term) if term != prev_term => {
                reply.conflict_term = Some(term);
                reply.conflict_index = st.log.first_of_term(term, prev);
                return reply;
            }
            Some(_) => {}
        }
        // 3. If an existing entry conflicts with a new one (same index but different terms),
        // delete the existing entry and all that follow it (§5.3).
        // 4. Append any new entries not already in the log.
        let first_new = (1..)
            .zip(entries)
            .find(|&(i, e)| st.log.term(prev + i) != Some(e.term));
        if let Some((i, _)) = first_new {
            st.log.truncate(prev + i);
            entries[i as usize - 1..]
                .iter()
                .for_each(|e| st.log.push(e.clone()));
            st.persist();
            tracing::debug!(
                term = st.current_term,
                last = st.log.last_index(),
                "appended"
            );
        }
        // 5. If leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of last new
        // entry).
        let last_new = args.prev_log_index + args.entries.len() as u64;
        let commit = args.leader_commit.min(last_new);
        if commit > st.commit_index {
            st.commit_index = commit;
            self.wake.applier.notify_one();
        }
        reply.success = true;
        reply
    }

    /// The InstallSnapshot RPC handler (Figure 13; a snapshot always comes in one chunk).
    fn install_snapshot(&self, args: InstallSnapshotArgs) -> InstallSnapshotReply {
        let mut st = self.lock();
        st.observe_term(args.term);
        let reply = InstallSnapshotReply {
            term: st.current_term,
        };
        // 1. Reply immediately if term < currentTerm.
        if args.term < st.current_term {
            return reply;
        }
        if st.role == Role::Candidate {
            st.set_role(Role::Follower);
        }
        st.reset_election_timer();
        // A snapshot of entries already committed here brings nothing new.
        let (index, term) = (args.last_included_index, args.last_included_term);
        if index <= st.commit_index {
            return reply;
        }
        // 2.-5. (offsets and chunks) do not apply: the data is the whole snapshot.
        // 6. If existing log entry has same index and term as snapshot's last included entry,
        // retain log entries following it. 7. Otherwise discard the entire log.
        st.log.compact(index, term);
        st.persist_with(args.data);
        // 8. Reset state machine using snapshot contents: the applier hands it to the service.
        st.commit_index = index;
        st.last_applied = index;
        st.snapshot_pending = true;
        self.wake.applier.notify_one();
        tracing::debug!(term = st.current_term, index, "snapshot installed");
        reply
    }

    // ----- Candidates -----

    /// Starts a new election when the election timer runs out, unless leading.
    async fn ticker(&self) {
        loop {
            let deadline = {
                let mut st = self.lock();
                if st.role == Role::Leader {
                    st.reset_election_timer();
                } else if Instant::now() >= st.election_deadline {
                    self.start_election(&mut st);
                }
                st.election_deadline
            };
            sleep_until(deadline).await;
        }
    }

    /// Candidates: on conversion to candidate, increment currentTerm, vote for self, reset the
    /// election timer and send RequestVote RPCs to all other servers (§5.2).
    fn start_election(&self, st: &mut State) {
        st.current_term += 1;
        st.voted_for = Some(st.me);
        st.votes = 1;
        st.set_role(Role::Candidate);
        st.persist();
        st.reset_election_timer();
        tracing::debug!(term = st.current_term, "election started");
        let args = RequestVoteArgs {
            term: st.current_term,
            candidate_id: st.me,
            last_log_index: st.log.last_index(),
            last_log_term: st.log.last_term(),
        };
        for peer in (0..st.peers.len()).filter(|&p| p != st.me) {
            self.send(st, peer, "Raft.RequestVote", args.clone(), Raft::on_vote);
        }
        if st.votes >= st.majority() {
            self.become_leader(st);
        }
    }

    /// Handles a RequestVote reply: if votes received from a majority of servers, become leader.
    fn on_vote(&self, _peer: usize, args: &RequestVoteArgs, reply: RequestVoteReply) {
        let mut st = self.lock();
        st.observe_term(reply.term);
        if st.role != Role::Candidate || st.current_term != args.term || !reply.vote_granted {
            return;
        }
        st.votes += 1;
        if st.votes >= st.majority() {
            self.become_leader(&mut st);
        }
    }

    fn become_leader(&self, st: &mut State) {
        let next = st.log.last_index() + 1;
        st.next_index.iter_mut().for_each(|n| *n = next);
        st.match_index.iter_mut().for_each(|m| *m = 0);
        st.set_role(Role::Leader);
        tracing::debug!(term = st.current_term, "elected leader");
        // Leaders: upon election, send initial empty AppendEntries RPCs (heartbeat) to each server.
        self.wake.replicator.iter().for_each(Notify::notify_one);
    }

    // ----- Leaders -----

    /// Keeps `peer` up to date while this peer leads: sends when woken (see `Wake`), else every
    /// heartbeat.
    async fn replicator(&self, peer: usize) {
        let wake = &self.wake.replicator[peer];
        loop {
            if self.lock().role == Role::Leader {
                tokio::select! {
                    biased;
                    _ = wake.notified() => {}
                    _ = sleep(HEARTBEAT) => {}
                }
            } else {
                wake.notified().await;
            }
            self.replicate(peer);
        }
    }

    /// Sends `peer` the entries from its nextIndex on, or the snapshot if the log no longer has
    /// them. Heartbeats are the same RPC, empty when the follower is up to date.
    fn replicate(&self, peer: usize) {
        let st = self.lock();
        if st.role != Role::Leader {
            return;
        }
        let next = st.next_index[peer];
        if next <= st.log.base {
            let args = InstallSnapshotArgs {
                term: st.current_term,
                leader_id: st.me,
                last_included_index: st.log.base,
                last_included_term: st.log.base_term(),
                data: st.persister.read_snapshot(),
            };
            self.send(
                &st,
                peer,
                "Raft.InstallSnapshot",
                args,
                Raft::on_install_snapshot,
            );
        } else {
            let args = AppendEntriesArgs {
                term: st.current_term,
                leader_id: st.me,
                prev_log_index: next - 1,
                prev_log_term: st.log.term(next - 1).expect("next_index is in the log"),
                entries: st.log.from(next).to_vec(),
                leader_commit: st.commit_index,
            };
            self.send(
                &st,
                peer,
                "Raft.AppendEntries",
                args,
                Raft::on_append_entries,
            );
        }
    }

    /// Handles an AppendEntries reply: if successful, update nextIndex and matchIndex for the
    /// follower (§5.3); if it fails because of log inconsistency, move nextIndex back and retry.
    fn on_append_entries(&self, peer: usize, args: &AppendEntriesArgs, reply: AppendEntriesReply) {
        let mut st = self.lock();
        st.observe_term(reply.term);
        if st.role != Role::Leader || st.current_term != args.term {
            return;
        }
        if reply.success {
            let matched = args.prev_log_index + args.entries.len() as u64;
            st.match_index[peer] = st.match_index[peer].max(matched);
            st.next_index[peer] = st.next_index[peer].max(matched + 1);
            if st.advance_commit() {
                self.wake.applier.notify_one();
            }
            // Entries appended since the request left go now.
            if st.next_index[peer] <= st.log.last_index() {
                self.wake.replicator[peer].notify_one();
            }
        } else if st.next_index[peer] == args.prev_log_index + 1 {
            // Skip the follower's whole conflicting term at once: to just after the leader's last
            // entry of that term if it has one, else to where the follower's term starts.
            let next = match reply.conflict_term {
                Some(term) => st
                    .log
                    .last_of_term(term)
                    .map_or(reply.conflict_index, |i| i + 1),
                None => reply.conflict_index,
            };
            st.next_index[peer] = next.max(st.match_index[peer] + 1);
            self.wake.replicator[peer].notify_one();
        }
    }

    /// Handles an InstallSnapshot reply: the follower now holds everything the snapshot covers.
    fn on_install_snapshot(
        &self,
        peer: usize,
        args: &InstallSnapshotArgs,
        reply: InstallSnapshotReply,
    ) {
        let mut st = self.lock();
        st.observe_term(reply.term);
        if st.role != Role::Leader || st.current_term != args.term {
            return;
        }
        let index = args.last_included_index;
        st.match_index[peer] = st.match_index[peer].max(index);
        st.next_index[peer] = st.next_index[peer].max(index + 1);
        if st.advance_commit() {
            self.wake.applier.notify_one();
        }
        if st.next_index[peer] <= st.log.last_index() {
            self.wake.replicator[peer].notify_one();
        }
    }

    /// Sends an RPC from a task of its own and hands the reply, if one comes, to `on_reply`. A
    /// reply can take seconds, or never come: nobody waits for it.
    fn send<A, R>(
        &self,
        st: &State,
        peer: usize,
        method: &'static str,
        args: A,
        on_reply: OnReply<A, R>,
    ) where
        A: Serialize + Send + Sync + 'static,
        R: DeserializeOwned + Send + 'static,
    {
        let (rf, end) = (self.clone(), st.peers[peer].clone());
        sim::spawn(async move {
            if let Ok(reply) = end.call(method, &args).await {
                on_reply(&rf, peer, &args, reply);
            }
        });
    }

    // ----- All servers: applying -----

    /// Hands committed entries and installed snapshots to the service, in log order: if
    /// commitIndex > lastApplied, increment lastApplied and apply log[lastApplied] (§5.3). The
    /// lock is never held while the service makes it wait.
    async fn applier(&self, apply_tx: ApplySender) {
        loop {
            let msgs: Vec<ApplyMsg> = {
                let mut st = self.lock();
                if st.snapshot_pending {
                    st.snapshot_pending = false;
                    vec![ApplyMsg::Snapshot {
                        term: st.log.base_term(),
                        index: st.log.base,
                        data: st.persister.read_snapshot(),
                    }]
                } else {
                    let (from, to) = (st.last_applied + 1, st.commit_index);
                    st.last_applied = to.max(st.last_applied);
                    let entries = st.log.entries.iter().skip((from - st.log.base) as usize);
                    let indexed = (from..=to).zip(entries);
                    indexed
                        .map(|(index, e)| ApplyMsg::Command {
                            index,
                            command: e.command.clone(),
                        })
                        .collect()
                }
            };
            if msgs.is_empty() {
                self.wake.applier.notified().await;
            }
            for msg in msgs {
                if apply_tx.send(msg).await.is_err() {
                    return;
                }
            }
        }
    }
}
