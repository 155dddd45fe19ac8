//! Lab 2A: leader election. `cargo test 2a` runs these.

use std::time::Duration;

use raftlab::raft_tester::{
    ELECTION_TIMEOUT, Link, MAX_ELECTION_TIMEOUT, MIN_ELECTION_TIMEOUT, Net, RaftCluster,
    Snapshots, first_time, raft_test,
};
use tokio::time::{Instant, sleep};

#[test]
fn initial_election_2a() {
    raft_test(
        3,
        Net::Reliable,
        Snapshots::Off,
        "2A initial election",
        |cfg| async move {
            // Is a leader elected?
            cfg.check_one_leader().await;
            // Sleep a bit to avoid racing with followers learning of the election, then check that
            // all peers agree on the term.
            sleep(Duration::from_millis(50)).await;
            let term1 = cfg.check_terms().await;
            assert!(term1 >= 1, "term is {term1}, but should be at least 1");
            // Does the leader and term stay the same if there is no network failure?
            sleep(2 * ELECTION_TIMEOUT).await;
            let term2 = cfg.check_terms().await;
            if term1 != term2 {
                println!("warning: term changed even though there were no failures");
            }
            // There should still be a leader.
            cfg.check_one_leader().await;
        },
    );
}

#[test]
fn re_election_2a() {
    raft_test(
        3,
        Net::Reliable,
        Snapshots::Off,
        "2A election after network failure",
        |cfg| async move {
            let servers = cfg.n();
            let leader1 = cfg.check_one_leader().await;
            // If the leader disconnects, a new one should be elected.
            cfg.disconnect(leader1);
            cfg.check_one_leader().await;
            // If the old leader rejoins, that shouldn't disturb the new leader, and the old leader
            // should switch to follower.
            cfg.connect(leader1);
            let leader2 = cfg.check_one_leader().await;
            // If there's no quorum, no new leader should be elected.
            cfg.disconnect(leader2);
            cfg.disconnect((leader2 + 1) % servers);
            sleep(2 * ELECTION_TIMEOUT).await;
            // Check that the one connected server does not think it is the leader.
            cfg.check_no_leader().await;
            // If a quorum arises, it should elect a leader.
            cfg.connect((leader2 + 1) % servers);
            cfg.check_one_leader().await;
            // Re-join of the last node shouldn't prevent a leader from existing.
            cfg.connect(leader2);
            cfg.check_one_leader().await;
        },
    );
}

#[test]
fn many_elections_2a() {
    raft_test(
        7,
        Net::Reliable,
        Snapshots::Off,
        "2A multiple elections",
        |cfg| async move {
            let servers = cfg.n();
            cfg.check_one_leader().await;
            for _ in 1..10 {
                // Disconnect three nodes.
                let i1 = labrpc::sim::random_range(0..servers);
                let i2 = labrpc::sim::random_range(0..servers);
                let i3 = labrpc::sim::random_range(0..servers);
                cfg.disconnect(i1);
                cfg.disconnect(i2);
                cfg.disconnect(i3);
                // Either the current leader should still be alive, or the remaining four should
                // elect a new one.
                cfg.check_one_leader().await;
                cfg.connect(i1);
                cfg.connect(i2);
                cfg.connect(i3);
            }
            cfg.check_one_leader().await;
        },
    );
}

// ----- Scenarios the Go tests leave to luck: built step by step on every seed -----

/// A leader that sees a higher term in a reply steps down: a follower that campaigned alone
/// answers the leader's heartbeats with its higher term, and its own requests reach no one.
#[test]
fn leader_yields_to_higher_term_2a() {
    raft_test(
        3,
        Net::Reliable,
        Snapshots::Off,
        "2A leader yields to a higher term",
        |cfg| async move {
            let leader = cfg.check_one_leader().await;
            let (term, _) = cfg.get_state(leader).await.unwrap_or_default();
            let f = (leader + 1) % 3;
            // Alone, f stands for election again and again.
            cfg.disconnect(f);
            let limit = 10 * ELECTION_TIMEOUT;
            let f_term = cfg
                .wait_until(limit, || async {
                    cfg.get_state(f)
                        .await
                        .map(|s| s.0)
                        .filter(|&t| t >= term + 2)
                })
                .await
                .unwrap_or_else(|| {
                    panic!("server {f}, cut off, did not stand for election twice within {limit:?}")
                });
            // Now f hears the others, but its own requests go nowhere: only the replies to the
            // leader's heartbeats tell of its term.
            cfg.connect(f);
            for j in (0..3).filter(|&j| j != f) {
                cfg.link(f, j, Link::Cut);
            }
            let learned = cfg
                .wait_until(ELECTION_TIMEOUT, || async {
                    cfg.get_state(leader).await.filter(|&(t, _)| t >= f_term)
                })
                .await;
            if learned.is_none() {
                panic!(
                    "leader {leader} (term {term}) got replies of term {f_term} from server {f} for 1 s \
                 and did not adopt that term: a term in a reply above the current one makes a \
                 leader a follower (Figure 2, rules for all servers)"
                );
            }
            cfg.connect(f);
            cfg.check_one_leader().await;
        },
    );
}

/// The term of peer `i` (0 if it is crashed).
async fn term_of(cfg: &RaftCluster, i: usize) -> u64 {
    cfg.get_state(i).await.map_or(0, |s| s.0)
}

/// A vote counts only in the election it was asked for. A candidate that reaches one peer,
/// and only late, gets that peer's grant of an earlier election while it stands again: the
/// grant must not make it leader.
#[test]
fn late_vote_does_not_count_2a() {
    raft_test(
        3,
        Net::Reliable,
        Snapshots::Off,
        "2A a late vote does not count",
        |cfg| async move {
            let leader = cfg.check_one_leader().await;
            let term0 = term_of(&cfg, leader).await;
            let (c, v) = ((leader + 1) % 3, (leader + 2) % 3);
            cfg.isolate_but_held(c, v);
            // c stands twice: its oldest held request is then of an election it has given up.
            let limit = 10 * ELECTION_TIMEOUT;
            let stood = cfg
                .wait_until(limit, || async {
                    (term_of(&cfg, c).await >= term0 + 2 && cfg.held(c, v) >= 2).then_some(())
                })
                .await;
            assert!(
                stood.is_some(),
                "server {c}, cut off, did not stand for election twice within {limit:?}"
            );
            let term = term_of(&cfg, c).await;
            // v grants that old request: its term is lower and c's log is as up-to-date as its own.
            cfg.release(c, v, 1);
            let led = first_time(ELECTION_TIMEOUT / 2, || async {
                cfg.get_state(c).await.filter(|s| s.1).map(|s| s.0)
            })
            .await;
            if let Some((_, t)) = led {
                panic!(
                    "server {c} became leader of term {t}, cut off from all but server {v}, which \
                 had only granted its request of an earlier term (c stood in term {term} or \
                 later): count a vote only if the reply answers a request of the current term"
                );
            }
            cfg.let_go(c, v);
            for i in 0..3 {
                cfg.connect(i);
            }
            cfg.check_one_leader().await;
        },
    );
}

/// Granting a vote restarts the election timer (Figure 2, rules for followers). A server that
/// has just started (so its timer started then) grants a vote just before the shortest timeout
/// the lab allows, and then hears nothing: it must wait at least that timeout again before it
/// stands. Several rounds, as one round catches a timer that is not restarted only when that
/// timer was drawn short.
#[test]
fn vote_restarts_timer_2a() {
    raft_test(
        5,
        Net::Reliable,
        Snapshots::Off,
        "2A granting a vote restarts the timer",
        |cfg| async move {
            let leader = cfg.check_one_leader().await;
            let (c, v) = ((leader + 1) % 5, (leader + 2) % 5);
            // c stands again and again, alone; its requests to v wait in the hold.
            cfg.isolate_but_held(c, v);
            // v is down between rounds, so that the terms it has seen stay known.
            let mut seen = term_of(&cfg, v).await;
            cfg.crash1(v);
            for round in 0..16 {
                // A request from c newer than any term v has seen waits in the hold.
                let limit = 10 * ELECTION_TIMEOUT;
                let ready = cfg
                    .wait_until(limit, || async {
                        (term_of(&cfg, c).await > seen && cfg.held(c, v) > 0).then_some(())
                    })
                    .await;
                assert!(
                    ready.is_some(),
                    "server {c}, cut off, did not stand for election within {limit:?}"
                );
                // v restarts alone: its election timer starts now.
                cfg.start1(v);
                cfg.link(c, v, Link::Up);
                let started = Instant::now();
                let before = term_of(&cfg, v).await;
                sleep(MIN_ELECTION_TIMEOUT - Duration::from_millis(2)).await;
                let now = term_of(&cfg, v).await;
                assert!(
                    now == before,
                    "round {round}: server {v} stood for election (term {now}) {:?} after it \
                 started, before the shortest election timeout the lab allows \
                 ({MIN_ELECTION_TIMEOUT:?})",
                    started.elapsed()
                );
                let granted = Instant::now();
                cfg.release(c, v, usize::MAX);
                sleep(Duration::from_millis(1)).await;
                let term = term_of(&cfg, v).await;
                assert!(
                    term > before,
                    "round {round}: server {v} (term {before}) did not take up the vote request \
                 of server {c} (term {})",
                    term_of(&cfg, c).await
                );
                let limit = 2 * MAX_ELECTION_TIMEOUT;
                let Some((at, t)) = first_time(limit, || async {
                    Some(term_of(&cfg, v).await).filter(|&t| t > term)
                })
                .await
                else {
                    panic!(
                        "round {round}: server {v} heard from no one for {limit:?} and did not \
                     stand for election (the longest timeout the lab allows is \
                     {MAX_ELECTION_TIMEOUT:?})"
                    );
                };
                cfg.crash1(v);
                seen = t;
                let after = at - granted;
                if after < MIN_ELECTION_TIMEOUT {
                    panic!(
                        "round {round}: server {v} granted server {c} its vote in term {term}, heard \
                     nothing more, and stood for election (term {t}) only {after:?} later, \
                     sooner than the shortest election timeout the lab allows \
                     ({MIN_ELECTION_TIMEOUT:?}): granting a vote restarts the election timer"
                    );
                }
            }
            cfg.let_go(c, v);
            for i in 0..5 {
                cfg.connect(i);
            }
            cfg.check_one_leader().await;
        },
    );
}

/// A new leader sends heartbeats at once (Figure 2, rules for leaders: upon election), so that
/// the other candidates and the followers learn of it before their timers run out. Five
/// elections in a row: within 10 ms of winning, the leader must have called every peer it can
/// reach with something other than the vote request it stood with.
#[test]
fn first_heartbeat_at_once_2a() {
    raft_test(
        3,
        Net::Reliable,
        Snapshots::Off,
        "2A a new leader's first heartbeat",
        |cfg| async move {
            let mut leader = cfg.check_one_leader().await;
            for round in 0..5 {
                let term = term_of(&cfg, leader).await;
                let others: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
                for &i in &others {
                    for &j in &others {
                        if i != j {
                            cfg.record(i, j);
                        }
                    }
                }
                cfg.disconnect(leader);
                let limit = 10 * ELECTION_TIMEOUT;
                let Some((_, new)) = first_time(limit, || async {
                    for &i in &others {
                        if cfg.get_state(i).await.is_some_and(|s| s.1 && s.0 > term) {
                            return Some(i);
                        }
                    }
                    None
                })
                .await
                else {
                    panic!(
                        "round {round}: no new leader within {limit:?} of leader {leader}'s loss"
                    );
                };
                sleep(Duration::from_millis(10)).await;
                let peer = others[0] + others[1] - new;
                let calls = cfg.recorded(new, peer);
                let first = calls.first().cloned().unwrap_or_default();
                if !calls.iter().any(|m| *m != first) {
                    panic!(
                        "round {round}: server {new} won an election and, 10 ms later, had called \
                     server {peer} only with {calls:?}: upon election, a leader sends a \
                     heartbeat (an empty AppendEntries) to every peer at once"
                    );
                }
                cfg.connect(leader);
                leader = cfg.check_one_leader().await;
            }
        },
    );
}
