//! Lab 2B: log agreement. `cargo test 2b` runs these.

use std::time::Duration;

use labrpc::sim;
use raftlab::raft_tester::{
    ELECTION_TIMEOUT, Link, MAX_ELECTION_TIMEOUT, Net, Retry, Snapshots, cmd, first_time,
    raft_test, random_cmd, show,
};
use tokio::time::{Instant, sleep};

#[test]
fn basic_agree_2b() {
    raft_test(
        3,
        Net::Reliable,
        Snapshots::Off,
        "2B basic agreement",
        |cfg| async move {
            let servers = cfg.n();
            for index in 1..=3u64 {
                let (nd, _) = cfg.n_committed(index);
                assert!(nd == 0, "some have committed before start()");
                let xindex = cfg.one(cmd(index * 100), servers, Retry::No).await;
                assert!(xindex == index, "got index {xindex} but expected {index}");
            }
        },
    );
}

/// Each command should be sent to each peer just once.
#[test]
fn rpc_bytes_2b() {
    raft_test(
        3,
        Net::Reliable,
        Snapshots::Off,
        "2B RPC byte count",
        |cfg| async move {
            let servers = cfg.n() as u64;
            cfg.one(cmd(99), servers as usize, Retry::No).await;
            let bytes0 = cfg.bytes_total();
            let mut sent = 0u64;
            for index in 2..12u64 {
                let c: Vec<u8> = (0..5000).map(|_| sim::random_range(b'a'..=b'z')).collect();
                sent += c.len() as u64;
                let xindex = cfg.one(c, servers as usize, Retry::No).await;
                assert!(xindex == index, "got index {xindex} but expected {index}");
            }
            let got = cfg.bytes_total() - bytes0;
            let expected = servers * sent;
            assert!(
                got <= expected + 50_000,
                "too many RPC bytes; got {got}, expected at most {}",
                expected + 50_000
            );
        },
    );
}

/// A follower's failure must not stop agreement; with no majority, nothing commits.
#[test]
fn follower_failure_2b() {
    raft_test(
        3,
        Net::Reliable,
        Snapshots::Off,
        "2B test progressive failure of followers",
        |cfg| async move {
            let servers = cfg.n();
            cfg.one(cmd(101), servers, Retry::No).await;
            // Disconnect one follower from the network.
            let leader1 = cfg.check_one_leader().await;
            cfg.disconnect((leader1 + 1) % servers);
            // The leader and remaining follower should be able to agree despite the disconnected
            // follower.
            cfg.one(cmd(102), servers - 1, Retry::No).await;
            sleep(ELECTION_TIMEOUT).await;
            cfg.one(cmd(103), servers - 1, Retry::No).await;
            // Disconnect the remaining follower.
            let leader2 = cfg.check_one_leader().await;
            cfg.disconnect((leader2 + 1) % servers);
            cfg.disconnect((leader2 + 2) % servers);
            // Submit a command.
            let (index, _, ok) = cfg.start(leader2, cmd(104)).await.unwrap_or_default();
            assert!(ok, "leader rejected start()");
            assert!(index == 4, "expected index 4, got {index}");
            sleep(2 * ELECTION_TIMEOUT).await;
            // Check that the command did not commit.
            let (n, _) = cfg.n_committed(index);
            assert!(n == 0, "{n} committed but no majority");
        },
    );
}

/// The leader's failure must not stop agreement; with no majority, nothing commits.
#[test]
fn leader_failure_2b() {
    raft_test(
        3,
        Net::Reliable,
        Snapshots::Off,
        "2B test failure of leaders",
        |cfg| async move {
            let servers = cfg.n();
            cfg.one(cmd(101), servers, Retry::No).await;
            // Disconnect the first leader.
            let leader1 = cfg.check_one_leader().await;
            cfg.disconnect(leader1);
            // The remaining followers should elect a new leader.
            cfg.one(cmd(102), servers - 1, Retry::No).await;
            sleep(ELECTION_TIMEOUT).await;
            cfg.one(cmd(103), servers - 1, Retry::No).await;
            // Disconnect the new leader.
            let leader2 = cfg.check_one_leader().await;
            cfg.disconnect(leader2);
            // Submit a command to each server.
            for i in 0..servers {
                cfg.start(i, cmd(104)).await;
            }
            sleep(2 * ELECTION_TIMEOUT).await;
            // Check that the command did not commit.
            let (n, _) = cfg.n_committed(4);
            assert!(n == 0, "{n} committed but no majority");
        },
    );
}

/// A follower that reconnects catches up.
#[test]
fn fail_agree_2b() {
    raft_test(
        3,
        Net::Reliable,
        Snapshots::Off,
        "2B agreement after follower reconnects",
        |cfg| async move {
            let servers = cfg.n();
            cfg.one(cmd(101), servers, Retry::No).await;
            // Disconnect one follower from the network.
            let leader = cfg.check_one_leader().await;
            cfg.disconnect((leader + 1) % servers);
            // The leader and remaining follower should be able to agree despite the disconnected
            // follower.
            cfg.one(cmd(102), servers - 1, Retry::No).await;
            cfg.one(cmd(103), servers - 1, Retry::No).await;
            sleep(ELECTION_TIMEOUT).await;
            cfg.one(cmd(104), servers - 1, Retry::No).await;
            cfg.one(cmd(105), servers - 1, Retry::No).await;
            // Re-connect.
            cfg.connect((leader + 1) % servers);
            // The full set of servers should preserve previous agreements, and be able to agree on
            // new commands.
            cfg.one(cmd(106), servers, Retry::Yes).await;
            sleep(ELECTION_TIMEOUT).await;
            cfg.one(cmd(107), servers, Retry::Yes).await;
        },
    );
}

/// No agreement without a majority; afterwards the cluster agrees again.
#[test]
fn fail_no_agree_2b() {
    raft_test(
        5,
        Net::Reliable,
        Snapshots::Off,
        "2B no agreement if too many followers disconnect",
        |cfg| async move {
            let servers = cfg.n();
            cfg.one(cmd(10), servers, Retry::No).await;
            // 3 of 5 followers disconnect.
            let leader = cfg.check_one_leader().await;
            cfg.disconnect((leader + 1) % servers);
            cfg.disconnect((leader + 2) % servers);
            cfg.disconnect((leader + 3) % servers);
            let (index, _, ok) = cfg.start(leader, cmd(20)).await.unwrap_or_default();
            assert!(ok, "leader rejected start()");
            assert!(index == 2, "expected index 2, got {index}");
            sleep(2 * ELECTION_TIMEOUT).await;
            let (n, _) = cfg.n_committed(index);
            assert!(n == 0, "{n} committed but no majority");
            // Repair.
            cfg.connect((leader + 1) % servers);
            cfg.connect((leader + 2) % servers);
            cfg.connect((leader + 3) % servers);
            // The disconnected majority may have chosen a leader from among their own ranks,
            // forgetting index 2.
            let leader2 = cfg.check_one_leader().await;
            let (index2, _, ok2) = cfg.start(leader2, cmd(30)).await.unwrap_or_default();
            assert!(ok2, "leader2 rejected start()");
            assert!((2..=3).contains(&index2), "unexpected index {index2}");
            cfg.one(cmd(1000), servers, Retry::Yes).await;
        },
    );
}

/// Concurrent `start()`s to one leader all commit.
#[test]
fn concurrent_starts_2b() {
    raft_test(
        3,
        Net::Reliable,
        Snapshots::Off,
        "2B concurrent start()s",
        |cfg| async move {
            let servers = cfg.n();
            'retry: for attempt in 0..5 {
                if attempt > 0 {
                    // Give the solution some time to settle.
                    sleep(Duration::from_secs(3)).await;
                }
                let leader = cfg.check_one_leader().await;
                let Some((_, term, true)) = cfg.start(leader, cmd(1)).await else {
                    continue;
                };
                let tasks: Vec<_> = (0..5u64)
                    .map(|ii| {
                        let cfg = cfg.clone();
                        sim::spawn(async move {
                            match cfg.start(leader, cmd(100 + ii)).await {
                                Some((i, term1, true)) if term1 == term => Some(i),
                                _ => None,
                            }
                        })
                    })
                    .collect();
                let mut indices = Vec::new();
                for t in tasks {
                    if let Ok(Some(i)) = t.await {
                        indices.push(i);
                    }
                }
                for j in 0..servers {
                    if let Some((t, _)) = cfg.get_state(j).await
                        && t != term
                    {
                        continue 'retry; // the term changed: we can't expect low RPC counts
                    }
                }
                let mut cmds = Vec::new();
                for index in indices {
                    match cfg.wait(index, servers, Some(term)).await {
                        Some(c) => cmds.push(c),
                        None => continue 'retry, // peers have moved on to later terms
                    }
                }
                for ii in 0..5u64 {
                    let x = cmd(100 + ii);
                    assert!(
                        cmds.contains(&x),
                        "cmd {} missing in {:?}",
                        100 + ii,
                        cmds.iter().map(|c| show(c)).collect::<Vec<_>>()
                    );
                }
                return;
            }
            panic!("term changed too often");
        },
    );
}

/// A partitioned leader that accepted entries rejoins and gives them up.
#[test]
fn rejoin_2b() {
    raft_test(
        3,
        Net::Reliable,
        Snapshots::Off,
        "2B rejoin of partitioned leader",
        |cfg| async move {
            let servers = cfg.n();
            cfg.one(cmd(101), servers, Retry::Yes).await;
            // The leader network failure.
            let leader1 = cfg.check_one_leader().await;
            cfg.disconnect(leader1);
            // Make the old leader try to agree on some entries.
            cfg.start(leader1, cmd(102)).await;
            cfg.start(leader1, cmd(103)).await;
            cfg.start(leader1, cmd(104)).await;
            // The new leader commits, also for index=2.
            cfg.one(cmd(103), 2, Retry::Yes).await;
            // The new leader network failure.
            let leader2 = cfg.check_one_leader().await;
            cfg.disconnect(leader2);
            // The old leader connected again.
            cfg.connect(leader1);
            cfg.one(cmd(104), 2, Retry::Yes).await;
            // All together now.
            cfg.connect(leader2);
            cfg.one(cmd(105), servers, Retry::Yes).await;
        },
    );
}

/// A leader backs up quickly over long runs of incorrect follower entries.
#[test]
fn backup_2b() {
    raft_test(
        5,
        Net::Reliable,
        Snapshots::Off,
        "2B leader backs up quickly over incorrect follower logs",
        |cfg| async move {
            let servers = cfg.n();
            cfg.one(random_cmd(), servers, Retry::Yes).await;
            // Put the leader and one follower in a partition.
            let leader1 = cfg.check_one_leader().await;
            cfg.disconnect((leader1 + 2) % servers);
            cfg.disconnect((leader1 + 3) % servers);
            cfg.disconnect((leader1 + 4) % servers);
            // Submit lots of commands that won't commit.
            for _ in 0..50 {
                cfg.start(leader1, random_cmd()).await;
            }
            sleep(ELECTION_TIMEOUT / 2).await;
            cfg.disconnect(leader1);
            cfg.disconnect((leader1 + 1) % servers);
            // Allow the other partition to recover.
            cfg.connect((leader1 + 2) % servers);
            cfg.connect((leader1 + 3) % servers);
            cfg.connect((leader1 + 4) % servers);
            // Lots of successful commands to the new group.
            for _ in 0..50 {
                cfg.one(random_cmd(), 3, Retry::Yes).await;
            }
            // Now another partitioned leader and one follower.
            let leader2 = cfg.check_one_leader().await;
            let mut other = (leader1 + 2) % servers;
            if leader2 == other {
                other = (leader2 + 1) % servers;
            }
            cfg.disconnect(other);
            // Lots more commands that won't commit.
            for _ in 0..50 {
                cfg.start(leader2, random_cmd()).await;
            }
            sleep(ELECTION_TIMEOUT / 2).await;
            // Bring the original leader back to life.
            for i in 0..servers {
                cfg.disconnect(i);
            }
            cfg.connect(leader1);
            cfg.connect((leader1 + 1) % servers);
            cfg.connect(other);
            // Lots of successful commands to the new group.
            for _ in 0..50 {
                cfg.one(random_cmd(), 3, Retry::Yes).await;
            }
            // Now everyone.
            for i in 0..servers {
                cfg.connect(i);
            }
            cfg.one(random_cmd(), servers, Retry::Yes).await;
        },
    );
}

/// Elections and agreement take a bounded number of RPCs; an idle cluster sends few.
#[test]
fn count_2b() {
    raft_test(
        3,
        Net::Reliable,
        Snapshots::Off,
        "2B RPC counts aren't too high",
        |cfg| async move {
            let servers = cfg.n();
            let rpcs = || (0..servers).map(|j| cfg.rpc_count(j)).sum::<u64>();
            cfg.check_one_leader().await;
            let total1 = rpcs();
            assert!(
                (1..=30).contains(&total1),
                "too many or few RPCs ({total1}) to elect initial leader"
            );
            let mut total2 = 0;
            let mut success = false;
            'retry: for attempt in 0..5 {
                if attempt > 0 {
                    // Give the solution some time to settle.
                    sleep(Duration::from_secs(3)).await;
                }
                let leader = cfg.check_one_leader().await;
                let total1 = rpcs();
                let iters = 10u64;
                let Some((starti, term, true)) = cfg.start(leader, cmd(1)).await else {
                    continue;
                };
                let mut cmds = Vec::new();
                for i in 1..iters + 2 {
                    let x = sim::random_range(0..1u64 << 31);
                    cmds.push(x);
                    match cfg.start(leader, cmd(x)).await {
                        Some((index1, term1, true)) if term1 == term => {
                            assert!(
                                starti + i == index1,
                                "start() failed: index {index1}, expected {}",
                                starti + i
                            );
                        }
                        _ => continue 'retry, // no longer the leader, so the term has changed
                    }
                }
                for i in 1..iters + 1 {
                    match cfg.wait(starti + i, servers, Some(term)).await {
                        None => continue 'retry, // the term changed: try again
                        Some(c) if c == cmd(cmds[i as usize - 1]) => {}
                        Some(c) => panic!(
                            "wrong value {} committed for index {}; expected {:?}",
                            show(&c),
                            starti + i,
                            cmds
                        ),
                    }
                }
                total2 = 0;
                for j in 0..servers {
                    if let Some((t, _)) = cfg.get_state(j).await
                        && t != term
                    {
                        continue 'retry; // the term changed: we can't expect low RPC counts
                    }
                    total2 += cfg.rpc_count(j);
                }
                let limit = (iters + 1 + 3) * 3;
                assert!(
                    total2 - total1 <= limit,
                    "too many RPCs ({}) for {iters} entries (at most {limit})",
                    total2 - total1
                );
                success = true;
                break;
            }
            assert!(success, "term changed too often");
            sleep(ELECTION_TIMEOUT).await;
            let total3 = rpcs();
            assert!(
                total3 - total2 <= 3 * 20,
                "too many RPCs ({}) for 1 second of idleness",
                total3 - total2
            );
        },
    );
}

/// Refusing a vote leaves the election timer alone (Figure 2; only a granted vote restarts it).
/// A server whose log is behind asks, again and again, for the vote of the one other server
/// left, which refuses: that server must still stand within the longest election timeout the
/// lab allows, although a refused request reaches it more often than the shortest timeout.
/// It is a 2B test: the refusal comes from the up-to-date check on the logs.
#[test]
fn refused_vote_keeps_timer_2b() {
    raft_test(
        3,
        Net::Reliable,
        Snapshots::Off,
        "2B refusing a vote keeps the timer",
        |cfg| async move {
            let leader = cfg.check_one_leader().await;
            let (s, u) = ((leader + 1) % 3, (leader + 2) % 3);
            // s falls behind, then stands again and again alone; its requests to u wait.
            cfg.disconnect(s);
            cfg.one(random_cmd(), 2, Retry::No).await;
            cfg.isolate_but_held(s, u);
            const SPACING: Duration = Duration::from_millis(150);
            let rounds = (MAX_ELECTION_TIMEOUT.as_millis() / SPACING.as_millis() + 2) as usize;
            let limit = (rounds as u32 + 2) * MAX_ELECTION_TIMEOUT;
            let ready = cfg
                .wait_until(limit, || async { (cfg.held(s, u) >= rounds).then_some(()) })
                .await;
            assert!(
                ready.is_some(),
                "server {s}, cut off, did not stand for election {rounds} times within {limit:?}"
            );
            // A call from u (a follower makes none) means u stood; it waits in the hold.
            cfg.hold(u, s);
            cfg.link(u, s, Link::Up);
            // u's leader is gone; from now on u hears only s's requests, one every SPACING.
            cfg.crash1(leader);
            let gone = Instant::now();
            for _ in 0..rounds {
                let stood =
                    first_time(SPACING, || async { (cfg.held(u, s) > 0).then_some(()) }).await;
                if stood.is_some() {
                    cfg.let_go(u, s);
                    cfg.let_go(s, u);
                    return;
                }
                cfg.release(s, u, 1);
            }
            panic!(
                "server {u} lost its leader and for {:?} heard only the vote requests of server {s} \
             (one every {SPACING:?}), whose log is behind, and did not stand for election: \
             refusing a vote must not restart the election timer (the longest timeout the lab \
             allows is {MAX_ELECTION_TIMEOUT:?})",
                gone.elapsed()
            );
        },
    );
}
