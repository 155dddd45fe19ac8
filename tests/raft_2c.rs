//! Lab 2C: persistence. `cargo test 2c` runs these.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use labrpc::sim;
use raftlab::raft_tester::{
    ELECTION_TIMEOUT, Link, Net, RaftCluster, Reordering, Retry, Snapshots, cmd, raft_test,
    random_cmd,
};
use tokio::time::sleep;

#[test]
fn persist1_2c() {
    raft_test(
        3,
        Net::Reliable,
        Snapshots::Off,
        "2C basic persistence",
        |cfg| async move {
            let servers = cfg.n();
            cfg.one(cmd(11), servers, Retry::Yes).await;
            // Crash and re-start all.
            for i in 0..servers {
                cfg.start1(i);
            }
            for i in 0..servers {
                cfg.disconnect(i);
                cfg.connect(i);
            }
            cfg.one(cmd(12), servers, Retry::Yes).await;
            let leader1 = cfg.check_one_leader().await;
            cfg.disconnect(leader1);
            cfg.start1(leader1);
            cfg.connect(leader1);
            cfg.one(cmd(13), servers, Retry::Yes).await;
            let leader2 = cfg.check_one_leader().await;
            cfg.disconnect(leader2);
            cfg.one(cmd(14), servers - 1, Retry::Yes).await;
            cfg.start1(leader2);
            cfg.connect(leader2);
            // Wait for leader2 to join before killing i3.
            cfg.wait(4, servers, None).await;
            let i3 = (cfg.check_one_leader().await + 1) % servers;
            cfg.disconnect(i3);
            cfg.one(cmd(15), servers - 1, Retry::Yes).await;
            cfg.start1(i3);
            cfg.connect(i3);
            cfg.one(cmd(16), servers, Retry::Yes).await;
        },
    );
}

#[test]
fn persist2_2c() {
    raft_test(
        5,
        Net::Reliable,
        Snapshots::Off,
        "2C more persistence",
        |cfg| async move {
            let servers = cfg.n();
            let mut index = 1;
            for _ in 0..5 {
                cfg.one(cmd(10 + index), servers, Retry::Yes).await;
                index += 1;
                let leader1 = cfg.check_one_leader().await;
                cfg.disconnect((leader1 + 1) % servers);
                cfg.disconnect((leader1 + 2) % servers);
                cfg.one(cmd(10 + index), servers - 2, Retry::Yes).await;
                index += 1;
                cfg.disconnect(leader1 % servers);
                cfg.disconnect((leader1 + 3) % servers);
                cfg.disconnect((leader1 + 4) % servers);
                cfg.start1((leader1 + 1) % servers);
                cfg.start1((leader1 + 2) % servers);
                cfg.connect((leader1 + 1) % servers);
                cfg.connect((leader1 + 2) % servers);
                sleep(ELECTION_TIMEOUT).await;
                cfg.start1((leader1 + 3) % servers);
                cfg.connect((leader1 + 3) % servers);
                cfg.one(cmd(10 + index), servers - 2, Retry::Yes).await;
                index += 1;
                cfg.connect((leader1 + 4) % servers);
                cfg.connect(leader1 % servers);
            }
            cfg.one(cmd(1000), servers, Retry::Yes).await;
        },
    );
}

#[test]
fn persist3_2c() {
    raft_test(
        3,
        Net::Reliable,
        Snapshots::Off,
        "2C partitioned leader and one follower crash, leader restarts",
        |cfg| async move {
            let servers = cfg.n();
            cfg.one(cmd(101), 3, Retry::Yes).await;
            let leader = cfg.check_one_leader().await;
            cfg.disconnect((leader + 2) % servers);
            cfg.one(cmd(102), 2, Retry::Yes).await;
            cfg.crash1(leader % servers);
            cfg.crash1((leader + 1) % servers);
            cfg.connect((leader + 2) % servers);
            cfg.start1(leader % servers);
            cfg.connect(leader % servers);
            cfg.one(cmd(103), 2, Retry::Yes).await;
            cfg.start1((leader + 1) % servers);
            cfg.connect((leader + 1) % servers);
            cfg.one(cmd(104), servers, Retry::Yes).await;
        },
    );
}

/// Figure 8 of the Raft paper: leaders crash often; an entry from an old term must not be
/// committed by counting replicas.
#[test]
fn figure8_2c() {
    raft_test(
        5,
        Net::Reliable,
        Snapshots::Off,
        "2C Figure 8",
        |cfg| async move {
            let servers = cfg.n();
            cfg.one(random_cmd(), 1, Retry::Yes).await;
            let mut nup = servers;
            for _ in 0..1000 {
                let mut leader = None;
                for i in 0..servers {
                    if let Some((_, _, true)) = cfg.start(i, random_cmd()).await {
                        leader = Some(i);
                    }
                }
                if sim::random_range(0..1000) < 100 {
                    let half = ELECTION_TIMEOUT.as_millis() as u64 / 2;
                    sleep(Duration::from_millis(sim::random_range(0..half))).await;
                } else {
                    sleep(Duration::from_millis(sim::random_range(0..13))).await;
                }
                if let Some(l) = leader {
                    cfg.crash1(l);
                    nup -= 1;
                }
                if nup < 3 {
                    let s = sim::random_range(0..servers);
                    if !cfg.is_running(s) {
                        cfg.start1(s);
                        cfg.connect(s);
                        nup += 1;
                    }
                }
            }
            for i in 0..servers {
                if !cfg.is_running(i) {
                    cfg.start1(i);
                    cfg.connect(i);
                }
            }
            cfg.one(random_cmd(), servers, Retry::Yes).await;
        },
    );
}

#[test]
fn unreliable_agree_2c() {
    raft_test(
        5,
        Net::Unreliable,
        Snapshots::Off,
        "2C unreliable agreement",
        |cfg| async move {
            let servers = cfg.n();
            let mut tasks = Vec::new();
            for iters in 1..50u64 {
                for j in 0..4u64 {
                    let cfg = cfg.clone();
                    tasks.push(sim::spawn(async move {
                        cfg.one(cmd(100 * iters + j), 1, Retry::Yes).await;
                    }));
                }
                cfg.one(cmd(iters), 1, Retry::Yes).await;
            }
            cfg.set_net(Net::Reliable);
            for t in tasks {
                t.await.expect("an agreement task failed");
            }
            cfg.one(cmd(100), servers, Retry::Yes).await;
        },
    );
}

#[test]
fn figure8_unreliable_2c() {
    raft_test(
        5,
        Net::Unreliable,
        Snapshots::Off,
        "2C Figure 8 (unreliable)",
        |cfg| async move {
            let servers = cfg.n();
            cfg.one(cmd(sim::random_range(0..10_000)), 1, Retry::Yes)
                .await;
            let mut nup = servers;
            let half = ELECTION_TIMEOUT.as_millis() as u64 / 2;
            for iters in 0..1000 {
                if iters == 200 {
                    cfg.set_reordering(Reordering::Long);
                }
                let mut leader = None;
                for i in 0..servers {
                    let started = cfg.start(i, cmd(sim::random_range(0..10_000))).await;
                    if let Some((_, _, true)) = started
                        && cfg.is_connected(i)
                    {
                        leader = Some(i);
                    }
                }
                if sim::random_range(0..1000) < 100 {
                    sleep(Duration::from_millis(sim::random_range(0..half))).await;
                } else {
                    sleep(Duration::from_millis(sim::random_range(0..13))).await;
                }
                if let Some(l) = leader
                    && sim::random_range(0..1000) < half
                {
                    cfg.disconnect(l);
                    nup -= 1;
                }
                if nup < 3 {
                    let s = sim::random_range(0..servers);
                    if !cfg.is_connected(s) {
                        cfg.connect(s);
                        nup += 1;
                    }
                }
            }
            for i in 0..servers {
                if !cfg.is_connected(i) {
                    cfg.connect(i);
                }
            }
            cfg.one(cmd(sim::random_range(0..10_000)), servers, Retry::Yes)
                .await;
        },
    );
}

/// Clients submit commands while servers are disconnected, crashed and restarted at random;
/// every command a client saw committed must be in the final log.
async fn churn(cfg: RaftCluster) {
    let servers = cfg.n();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..3u64)
        .map(|me| {
            let cfg = cfg.clone();
            let stop = stop.clone();
            sim::spawn(async move {
                let mut values = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let x = random_cmd();
                    let mut index = None;
                    for i in 0..servers {
                        // Try them all; maybe one of them is a leader.
                        if let Some((i1, _, true)) = cfg.start(i, x.clone()).await {
                            index = Some(i1);
                        }
                    }
                    if let Some(index) = index {
                        // Maybe the leader will commit our value, maybe not; don't wait forever.
                        let mut waited = false;
                        for to in [10, 20, 50, 100, 200] {
                            let (nd, c) = cfg.n_committed(index);
                            if nd > 0 {
                                if c.as_ref() == Some(&x) {
                                    values.push(x.clone());
                                }
                                break;
                            }
                            sleep(Duration::from_millis(to)).await;
                            waited = true;
                        }
                        if !waited {
                            // A stale leader can keep accepting commands at indices already
                            // committed. Go's loop then spins, but real time passes; in virtual
                            // time a loop that never waits would stop the clock.
                            sleep(Duration::from_millis(1)).await;
                        }
                    } else {
                        sleep(Duration::from_millis(79 + me * 17)).await;
                    }
                }
                values
            })
        })
        .collect();
    for _ in 0..20 {
        if sim::random_range(0..1000) < 200 {
            cfg.disconnect(sim::random_range(0..servers));
        }
        if sim::random_range(0..1000) < 500 {
            let i = sim::random_range(0..servers);
            if !cfg.is_running(i) {
                cfg.start1(i);
            }
            cfg.connect(i);
        }
        if sim::random_range(0..1000) < 200 {
            let i = sim::random_range(0..servers);
            if cfg.is_running(i) {
                cfg.crash1(i);
            }
        }
        // Often enough that peers can often keep up, but not so seldom that everything has
        // settled down from one change to the next.
        sleep(ELECTION_TIMEOUT * 7 / 10).await;
    }
    sleep(ELECTION_TIMEOUT).await;
    cfg.set_net(Net::Reliable);
    for i in 0..servers {
        if !cfg.is_running(i) {
            cfg.start1(i);
        }
        cfg.connect(i);
    }
    stop.store(true, Ordering::Relaxed);
    let mut values = Vec::new();
    for c in clients {
        values.extend(c.await.expect("client failed"));
    }
    sleep(ELECTION_TIMEOUT).await;
    let last_index = cfg.one(random_cmd(), servers, Retry::Yes).await;
    let mut really = Vec::new();
    for index in 1..=last_index {
        really.push(cfg.wait(index, servers, None).await.unwrap_or_default());
    }
    for v in &values {
        assert!(
            really.contains(v),
            "didn't find a value ({}) a client saw committed",
            raftlab::raft_tester::show(v)
        );
    }
}

#[test]
fn reliable_churn_2c() {
    raft_test(5, Net::Reliable, Snapshots::Off, "2C churn", churn);
}

#[test]
fn unreliable_churn_2c() {
    raft_test(
        5,
        Net::Unreliable,
        Snapshots::Off,
        "2C unreliable churn",
        churn,
    );
}

// ----- Scenarios the Go tests leave to luck: built step by step on every seed -----

/// The leader among `group` whose term is above `above`, if one claims it now.
async fn leader_among(cfg: &RaftCluster, group: &[usize], above: u64) -> Option<(usize, u64)> {
    for &i in group {
        if let Some((term, true)) = cfg.get_state(i).await
            && term > above
        {
            return Some((i, term));
        }
    }
    None
}

/// A vote survives a crash (votedFor is persistent state, Figure 2): a server that voted in a
/// term, crashed and restarted must not vote for another candidate in that term. Both kinds of
/// vote: one granted to another candidate, and a candidate's vote for itself.
#[test]
fn vote_survives_crash_2c() {
    raft_test(
        3,
        Net::Reliable,
        Snapshots::Off,
        "2C a vote survives a crash",
        |cfg| async move {
            for (phase, build) in [
                ("granted", granted_vote as Phase),
                ("self", own_vote as Phase),
            ] {
                let mut built = false;
                for _attempt in 0..5 {
                    built = build(cfg.clone()).await;
                    cfg.partition(&[&[0, 1, 2]]);
                    cfg.one(random_cmd(), 3, Retry::Yes).await;
                    if built {
                        break;
                    }
                }
                assert!(
                    built,
                    "the {phase}-vote scenario: the followers stood for election at the \
                            same moment 5 times in a row"
                );
            }
        },
    );
}

type Phase = fn(RaftCluster) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool>>>;

/// The first server to reach a term above `above` among `group`, waiting up to `limit`.
async fn first_to_stand(cfg: &RaftCluster, group: &[usize], above: u64) -> usize {
    let limit = 10 * ELECTION_TIMEOUT;
    cfg.wait_until(limit, || async {
        for &i in group {
            if cfg.get_state(i).await.is_some_and(|(t, _)| t > above) {
                return Some(i);
            }
        }
        None
    })
    .await
    .unwrap_or_else(|| panic!("none of servers {group:?} stood for election within {limit:?}"))
}

/// Waits up to 3 election timeouts for `who` to lead in `term`; `false` once it or `watch` has
/// moved past `term`.
async fn leads_in(cfg: &RaftCluster, who: usize, watch: usize, term: u64) -> bool {
    let probe = || async {
        let now = cfg.get_state(who).await?;
        let other = cfg.get_state(watch).await?;
        match now {
            (t, true) if t == term => Some(true),
            (t, _) if t > term || other.0 > term => Some(false),
            _ => None,
        }
    };
    cfg.wait_until(3 * ELECTION_TIMEOUT, probe).await == Some(true)
}

/// The leader v, cut off from sending, is asked for its vote by the first follower to stand
/// (a), and grants it; v crashes and restarts; then the other follower (b) stands for the same
/// term and asks v. Returns whether the scenario could be built.
fn granted_vote(cfg: RaftCluster) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool>>> {
    Box::pin(async move {
        let v = cfg.check_one_leader().await;
        sleep(ELECTION_TIMEOUT / 2).await;
        let term0 = cfg.check_terms().await;
        let (x, y) = ((v + 1) % 3, (v + 2) % 3);
        // The followers reach v but not each other; v reaches no one.
        cfg.partition(&[]);
        cfg.link(x, v, Link::Up);
        cfg.link(y, v, Link::Up);
        let a = first_to_stand(&cfg, &[x, y], term0).await;
        let b = x + y - a;
        let limit = ELECTION_TIMEOUT;
        let Some(term) = cfg
            .wait_until(limit, || async {
                cfg.get_state(a).await.filter(|s| s.1).map(|s| s.0)
            })
            .await
        else {
            panic!(
                "server {a} stood for election with server {v}'s vote in reach, and did not win within {limit:?}"
            );
        };
        cfg.crash1(v);
        cfg.start1(v);
        cfg.partition(&[]);
        cfg.link(a, v, Link::Up);
        cfg.link(b, v, Link::Up);
        if cfg.get_state(b).await.is_some_and(|(t, _)| t > term0) {
            return false; // b stood before v restarted
        }
        if leads_in(&cfg, b, a, term).await {
            panic!(
                "server {b} won term {term} with the vote of server {v}, which had voted for server \
                 {a} in term {term} (its only other vote), then crashed and restarted: a vote must \
                 be saved (votedFor is persistent, Figure 2) before the reply goes out"
            );
        }
        true
    })
}

/// Without the leader, and unable to reach each other, both followers stand for election; the
/// first (in term0 + 1) votes for itself, crashes at once and restarts; then the other stands
/// for the same term and asks it. Returns whether the scenario could be built.
fn own_vote(cfg: RaftCluster) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool>>> {
    Box::pin(async move {
        let leader = cfg.check_one_leader().await;
        sleep(ELECTION_TIMEOUT / 2).await;
        let term0 = cfg.check_terms().await;
        cfg.crash1(leader);
        let (a, b) = ((leader + 1) % 3, (leader + 2) % 3);
        cfg.partition(&[&[a], &[b]]);
        let first = first_to_stand(&cfg, &[a, b], term0).await;
        let other = a + b - first;
        let (term, _) = cfg.get_state(first).await.unwrap_or_default();
        let built = cfg.get_state(other).await.is_some_and(|(t, _)| t == term0);
        if built {
            cfg.crash1(first);
            cfg.start1(first);
            cfg.partition(&[&[a, b]]);
            if leads_in(&cfg, other, first, term).await {
                panic!(
                    "server {other} won term {term} with the vote of server {first}, which had \
                     voted for itself in term {term}, then crashed and restarted: a vote must be \
                     saved (votedFor is persistent, Figure 2) before the candidate's requests go out"
                );
            }
        }
        cfg.start1(leader);
        built
    })
}

/// Figure 8 of the Raft paper, built step by step: a leader copies an entry of an older term to
/// a majority; it must not count that as committed, because a server with an entry of a later
/// term at that index can still be elected and replace it (§5.4.2).
#[test]
fn figure8_commit_rule_2c() {
    raft_test(
        5,
        Net::Reliable,
        Snapshots::Off,
        "2C Figure 8 commit rule",
        |cfg| async move {
            let limit = 10 * ELECTION_TIMEOUT;
            cfg.one(random_cmd(), 5, Retry::Yes).await;
            // (a) The leader, with one follower, takes an entry at index 2 that reaches no one else.
            let a = cfg.check_one_leader().await;
            let b = (a + 1) % 5;
            let rest: Vec<usize> = (0..5).filter(|&i| i != a && i != b).collect();
            cfg.partition(&[&[a, b], &rest]);
            let (index, old_term, ok) = cfg.start(a, random_cmd()).await.unwrap_or_default();
            assert!(
                ok && index == 2,
                "leader {a} did not take a command at index 2"
            );
            // (b) The other three elect a leader, which takes its own entry at index 2 alone.
            let (e, e_term) = cfg
                .wait_until(limit, || leader_among(&cfg, &rest, old_term))
                .await
                .unwrap_or_else(|| panic!("servers {rest:?} elected no leader within {limit:?}"));
            let cd: Vec<usize> = rest.iter().copied().filter(|&i| i != e).collect();
            cfg.partition(&[&[a, b], &cd]);
            let (index, _, ok) = cfg.start(e, random_cmd()).await.unwrap_or_default();
            assert!(
                ok && index == 2,
                "leader {e} did not take a command at index 2"
            );
            // (c) a or b leads the four others and copies its index 2 (of term old_term) to them.
            let four = [a, b, cd[0], cd[1]];
            cfg.partition(&[&four]);
            let (l, l_term) = cfg
                .wait_until(limit, || leader_among(&cfg, &four, e_term))
                .await
                .unwrap_or_else(|| panic!("servers {four:?} elected no leader within {limit:?}"));
            sleep(ELECTION_TIMEOUT).await;
            let (applied, _) = cfg.n_committed(2);
            if applied > 0 {
                panic!(
                    "leader {l} of term {l_term} committed index 2, an entry of term {old_term} that it \
                 copied to a majority: a leader commits by counting replicas only entries of its \
                 own term (Figure 8, §5.4.2); server {e} holds another entry at index 2, of term \
                 {e_term}, and can still be elected and replace it"
                );
            }
            // (d) e, whose index 2 is of a later term, leads c and d and replaces their index 2.
            cfg.partition(&[&[e, cd[0], cd[1]]]);
            let only_e = [e];
            cfg.wait_until(limit, || leader_among(&cfg, &only_e, l_term))
                .await
                .unwrap_or_else(|| panic!("server {e} was not elected by {cd:?} within {limit:?}"));
            cfg.partition(&[&[0, 1, 2, 3, 4]]);
            cfg.one(random_cmd(), 5, Retry::Yes).await;
        },
    );
}

/// A term learned only from a leader's heartbeats survives a crash (currentTerm is persistent,
/// Figure 2): a follower that took no part in an election, and then heard the new leader, must
/// come back from a crash in at least that term.
#[test]
fn term_survives_crash_2c() {
    raft_test(
        3,
        Net::Reliable,
        Snapshots::Off,
        "2C a term survives a crash",
        |cfg| async move {
            let limit = 10 * ELECTION_TIMEOUT;
            let old = cfg.check_one_leader().await;
            sleep(ELECTION_TIMEOUT / 2).await;
            let term0 = cfg.check_terms().await;
            let (f, o) = ((old + 1) % 3, (old + 2) % 3);
            // f hears only the old leader; o, alone, stands for election.
            cfg.partition(&[&[old, f]]);
            cfg.wait_until(limit, || async {
                cfg.get_state(o).await.filter(|&(t, _)| t > term0)
            })
            .await
            .unwrap_or_else(|| panic!("server {o}, cut off, did not stand within {limit:?}"));
            // o's next request reaches the old leader, which steps down and votes for it. (The
            // old leader's own calls still do not reach o: it learns of o's term only from that
            // request, and so cannot stand itself and ask f for a vote.)
            cfg.link(o, old, Link::Up);
            let pair = [o];
            let (leader, term) = cfg
                .wait_until(limit, || leader_among(&cfg, &pair, term0))
                .await
                .unwrap_or_else(|| {
                    panic!("server {o} was not elected with server {old}'s vote within {limit:?}")
                });
            // f hears the new leader: a new term, with no vote and no entry to save with it.
            cfg.link(leader, f, Link::Up);
            cfg.link(f, leader, Link::Up);
            let learned = cfg
                .wait_until(ELECTION_TIMEOUT, || async {
                    cfg.get_state(f).await.filter(|&(t, _)| t >= term)
                })
                .await;
            let Some((f_term, _)) = learned else {
                panic!("server {f} did not learn term {term} from leader {leader} within 1 s")
            };
            cfg.crash1(f);
            cfg.start1(f);
            let (back, _) = cfg.get_state(f).await.unwrap_or_default();
            if back < f_term {
                panic!(
                    "server {f} was in term {f_term} when it crashed, and restarted in term {back}: \
                 currentTerm is persistent (Figure 2), also when only a leader's heartbeat \
                 raised it"
                );
            }
            cfg.partition(&[&[0, 1, 2]]);
            cfg.one(random_cmd(), 3, Retry::Yes).await;
        },
    );
}

/// A duplicated AppendEntries changes nothing (Figure 2, AppendEntries rule 3: delete entries
/// only where they conflict). The network delivers again, late, the requests that carried an
/// entry to a follower; by then that follower has acknowledged two more entries, committed by
/// it and the leader alone. The copies must not cut those entries off: once the leader crashes,
/// the follower must still hold them.
#[test]
fn duplicate_append_2c() {
    raft_test(
        3,
        Net::Reliable,
        Snapshots::Off,
        "2C a duplicated append changes nothing",
        |cfg| async move {
            cfg.one(random_cmd(), 3, Retry::Yes).await;
            let leader = cfg.check_one_leader().await;
            let (f, g) = ((leader + 1) % 3, (leader + 2) % 3);
            cfg.record(leader, f);
            let first = cfg.one(random_cmd(), 3, Retry::Yes).await;
            cfg.stop_recording(leader, f);
            cfg.disconnect(g);
            let last = cfg.one(random_cmd(), 2, Retry::Yes).await;
            cfg.one(random_cmd(), 2, Retry::Yes).await;
            let copies = cfg.replay(leader, f).await;
            assert!(
                copies > 0,
                "the tester recorded no request from leader {leader} to server {f} while index \
             {first} was agreed"
            );
            // f alone holds the last entries now; with g it must agree on a next one after them.
            cfg.crash1(leader);
            cfg.connect(g);
            let index = cfg.one(random_cmd(), 2, Retry::Yes).await;
            assert!(
                index > last,
                "after copies of the requests that carried index {first} reached server {f}, the \
             next command went to index {index}, below the entries it had acknowledged (up to \
             {})",
                last + 1
            );
        },
    );
}

/// A reply counts only for a request of the current term. A follower acknowledges entries of
/// term T, and its reply is held back; the leader loses its place, its entries are replaced,
/// and it leads again in a later term, with a new entry that one other server holds. The old
/// reply then arrives: counted, it would make three of five "hold" the new entry, which only
/// two do, and the leader would commit it; the crash of those two shows the loss.
#[test]
fn late_append_reply_2c() {
    raft_test(
        5,
        Net::Reliable,
        Snapshots::Off,
        "2C a late append reply does not count",
        |cfg| async move {
            cfg.one(random_cmd(), 5, Retry::Yes).await;
            let l = cfg.check_one_leader().await;
            let term = cfg.get_state(l).await.map_or(0, |s| s.0);
            let others: Vec<usize> = (0..5).filter(|&i| i != l).collect();
            let (f, rest) = (others[0], others[1..].to_vec());
            // f alone hears l, and acknowledges new entries of this term; the ack is held back.
            cfg.partition(&[&rest]);
            cfg.link(l, f, Link::Up);
            acked_late(&cfg, l, f).await;
            // From now on nothing l sends reaches f; the others elect a leader and commit y.
            cfg.hold(l, f);
            let n1 = await_leader(&cfg, &rest, term).await;
            let index = agree(&cfg, n1, &rest, 3).await;
            // l comes back (without f): its entries after the common prefix give way to y.
            cfg.partition(&[&[&rest[..], &[l]].concat()]);
            cfg.link(l, f, Link::Up);
            assert!(
                cfg.wait(index, 4, None).await.is_some(),
                "server {l} did not catch up with the others' index {index}"
            );
            // l, no longer hearing the leader, stands and wins with the two others' votes.
            let now = cfg.check_one_leader().await;
            if now != l {
                let t = cfg.get_state(now).await.map_or(0, |s| s.0);
                cfg.link(now, l, Link::Cut);
                cfg.link(l, now, Link::Cut);
                await_leader(&cfg, &[l], t).await;
            }
            let n1 = if now == l { n1 } else { now };
            let (a, b): (usize, usize) = {
                let v: Vec<usize> = rest.iter().copied().filter(|&i| i != n1).collect();
                (v[0], v[1])
            };
            cfg.crash1(n1);
            // l's new entry reaches a only: two of five hold it.
            cfg.disconnect(b);
            let (z, _, _) = cfg
                .start(l, random_cmd())
                .await
                .expect("server l is running");
            sleep(Duration::from_millis(5)).await;
            // The old acknowledgement arrives.
            cfg.let_go_replies(l, f);
            sleep(Duration::from_millis(20)).await;
            // The two that hold z go; the other three must agree on a command at z.
            cfg.crash1(l);
            cfg.crash1(a);
            cfg.start1(n1);
            cfg.partition(&[&[f, b, n1]]);
            let at = cfg.one(random_cmd(), 3, Retry::Yes).await;
            assert!(
                at >= z,
                "the three servers left agreed on index {at}, below leader {l}'s entry at {z}"
            );
        },
    );
}

/// Makes `l` append entries that `f` takes, with `f`'s acknowledgement held back. Retries when
/// the hold caught a reply `l` was waiting for before it could send them.
async fn acked_late(cfg: &RaftCluster, l: usize, f: usize) {
    for _attempt in 0..10 {
        cfg.hold_replies(l, f);
        let size = cfg.raft_state_size(f);
        cfg.start_all(l, (0..3).map(|_| random_cmd()).collect())
            .await;
        let took = cfg
            .wait_until(Duration::from_millis(300), || async {
                (cfg.raft_state_size(f) > size && cfg.replies_held(l, f) > 0).then_some(())
            })
            .await;
        if took.is_some() {
            return;
        }
        cfg.let_go_replies(l, f);
        sleep(Duration::from_millis(50)).await;
    }
    panic!("leader {l} did not send its new entries to server {f} within 10 tries of 300 ms");
}

/// The first of `group` to lead in a term above `above`, waiting up to 10 election timeouts.
async fn await_leader(cfg: &RaftCluster, group: &[usize], above: u64) -> usize {
    let limit = 10 * ELECTION_TIMEOUT;
    cfg.wait_until(limit, || leader_among(cfg, group, above))
        .await
        .map(|(i, _)| i)
        .unwrap_or_else(|| {
            panic!("none of servers {group:?} led in a term above {above} within {limit:?}")
        })
}

/// Starts a command on `leader` and waits for `n` servers to apply it; returns its index.
async fn agree(cfg: &RaftCluster, leader: usize, group: &[usize], n: usize) -> u64 {
    let (index, _, ok) = cfg.start(leader, random_cmd()).await.unwrap_or_default();
    assert!(ok, "server {leader} of {group:?} stopped leading");
    cfg.wait(index, n, None).await;
    index
}
