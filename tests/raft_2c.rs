//! Lab 2C: persistence. `cargo test 2c` runs these.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use labrpc::sim;
use raftlab::raft_tester::{Config, ELECTION_TIMEOUT, cmd, raft_test, random_cmd};
use tokio::time::sleep;

#[test]
fn persist1_2c() {
    raft_test(3, false, false, "2C basic persistence", |cfg| async move {
        let servers = cfg.n();
        cfg.one(cmd(11), servers, true).await;
        // Crash and re-start all.
        for i in 0..servers {
            cfg.start1(i);
        }
        for i in 0..servers {
            cfg.disconnect(i);
            cfg.connect(i);
        }
        cfg.one(cmd(12), servers, true).await;
        let leader1 = cfg.check_one_leader().await;
        cfg.disconnect(leader1);
        cfg.start1(leader1);
        cfg.connect(leader1);
        cfg.one(cmd(13), servers, true).await;
        let leader2 = cfg.check_one_leader().await;
        cfg.disconnect(leader2);
        cfg.one(cmd(14), servers - 1, true).await;
        cfg.start1(leader2);
        cfg.connect(leader2);
        // Wait for leader2 to join before killing i3.
        cfg.wait(4, servers, None).await;
        let i3 = (cfg.check_one_leader().await + 1) % servers;
        cfg.disconnect(i3);
        cfg.one(cmd(15), servers - 1, true).await;
        cfg.start1(i3);
        cfg.connect(i3);
        cfg.one(cmd(16), servers, true).await;
    });
}

#[test]
fn persist2_2c() {
    raft_test(5, false, false, "2C more persistence", |cfg| async move {
        let servers = cfg.n();
        let mut index = 1;
        for _ in 0..5 {
            cfg.one(cmd(10 + index), servers, true).await;
            index += 1;
            let leader1 = cfg.check_one_leader().await;
            cfg.disconnect((leader1 + 1) % servers);
            cfg.disconnect((leader1 + 2) % servers);
            cfg.one(cmd(10 + index), servers - 2, true).await;
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
            cfg.one(cmd(10 + index), servers - 2, true).await;
            index += 1;
            cfg.connect((leader1 + 4) % servers);
            cfg.connect(leader1 % servers);
        }
        cfg.one(cmd(1000), servers, true).await;
    });
}

#[test]
fn persist3_2c() {
    raft_test(
        3,
        false,
        false,
        "2C partitioned leader and one follower crash, leader restarts",
        |cfg| async move {
            let servers = cfg.n();
            cfg.one(cmd(101), 3, true).await;
            let leader = cfg.check_one_leader().await;
            cfg.disconnect((leader + 2) % servers);
            cfg.one(cmd(102), 2, true).await;
            cfg.crash1(leader % servers);
            cfg.crash1((leader + 1) % servers);
            cfg.connect((leader + 2) % servers);
            cfg.start1(leader % servers);
            cfg.connect(leader % servers);
            cfg.one(cmd(103), 2, true).await;
            cfg.start1((leader + 1) % servers);
            cfg.connect((leader + 1) % servers);
            cfg.one(cmd(104), servers, true).await;
        },
    );
}

/// Figure 8 of the Raft paper: leaders crash often; an entry from an old term must not be
/// committed by counting replicas.
#[test]
fn figure8_2c() {
    raft_test(5, false, false, "2C Figure 8", |cfg| async move {
        let servers = cfg.n();
        cfg.one(random_cmd(), 1, true).await;
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
        cfg.one(random_cmd(), servers, true).await;
    });
}

#[test]
fn unreliable_agree_2c() {
    raft_test(
        5,
        true,
        false,
        "2C unreliable agreement",
        |cfg| async move {
            let servers = cfg.n();
            let mut tasks = Vec::new();
            for iters in 1..50u64 {
                for j in 0..4u64 {
                    let cfg = cfg.clone();
                    tasks.push(sim::spawn(async move {
                        cfg.one(cmd(100 * iters + j), 1, true).await;
                    }));
                }
                cfg.one(cmd(iters), 1, true).await;
            }
            cfg.set_unreliable(false);
            for t in tasks {
                t.await.expect("an agreement task failed");
            }
            cfg.one(cmd(100), servers, true).await;
        },
    );
}

#[test]
fn figure8_unreliable_2c() {
    raft_test(
        5,
        true,
        false,
        "2C Figure 8 (unreliable)",
        |cfg| async move {
            let servers = cfg.n();
            cfg.one(cmd(sim::random_range(0..10_000)), 1, true).await;
            let mut nup = servers;
            let half = ELECTION_TIMEOUT.as_millis() as u64 / 2;
            for iters in 0..1000 {
                if iters == 200 {
                    cfg.set_long_reordering(true);
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
            cfg.one(cmd(sim::random_range(0..10_000)), servers, true)
                .await;
        },
    );
}

/// Clients submit commands while servers are disconnected, crashed and restarted at random;
/// every command a client saw committed must be in the final log.
async fn churn(cfg: Config) {
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
    cfg.set_unreliable(false);
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
    let last_index = cfg.one(random_cmd(), servers, true).await;
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
    raft_test(5, false, false, "2C churn", churn);
}

#[test]
fn unreliable_churn_2c() {
    raft_test(5, true, false, "2C unreliable churn", churn);
}
