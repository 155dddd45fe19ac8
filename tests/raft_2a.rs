//! Lab 2A: leader election. `cargo test 2a` runs these.

use raftlab::raft_tester::{ELECTION_TIMEOUT, raft_test};
use tokio::time::sleep;

#[test]
fn initial_election_2a() {
    raft_test(3, false, false, "2A initial election", |cfg| async move {
        // Is a leader elected?
        cfg.check_one_leader().await;
        // Sleep a bit to avoid racing with followers learning of the election, then check that
        // all peers agree on the term.
        sleep(std::time::Duration::from_millis(50)).await;
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
    });
}

#[test]
fn re_election_2a() {
    raft_test(
        3,
        false,
        false,
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
    raft_test(7, false, false, "2A multiple elections", |cfg| async move {
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
    });
}

// ----- Scenarios the Go tests leave to luck: built step by step on every seed -----

/// A leader that sees a higher term in a reply steps down: a follower that campaigned alone
/// answers the leader's heartbeats with its higher term, and its own requests reach no one.
#[test]
fn leader_yields_to_higher_term_2a() {
    raft_test(
        3,
        false,
        false,
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
                cfg.link(f, j, false);
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
