//! Lab 3B: the key/value service with snapshots (maxraftstate 1000). `cargo test 3b` runs these.
//! Every test also checks that the history of all its operations is linearizable.

use std::time::Duration;

use labrpc::sim;
use raftlab::kv_tester::{
    ELECTION_TIMEOUT, GenericTest, KvCluster, Net, check, generic_test, kv_test, speed_test,
};
use tokio::time::{Instant, sleep};

const MAX_RAFT_STATE: usize = 1000;

fn assert_trimmed(cfg: &KvCluster) {
    let sz = cfg.log_size();
    assert!(
        sz <= 8 * MAX_RAFT_STATE,
        "logs were not trimmed ({sz} > 8*{MAX_RAFT_STATE})"
    );
}

/// A lagging server must catch up through InstallSnapshot.
#[test]
fn snapshot_rpc_3b() {
    kv_test(
        3,
        Net::Reliable,
        Some(MAX_RAFT_STATE),
        "3B InstallSnapshot RPC",
        |cfg| async move {
            let mut ck = cfg.make_client(&cfg.all());
            ck.put("a", "A").await;
            check(&mut ck, "a", "A").await;
            // A bunch of puts into the majority partition.
            cfg.partition(&[0, 1], &[2]);
            {
                let mut ck1 = cfg.make_client(&[0, 1]);
                for i in 0..50 {
                    ck1.put(&i.to_string(), &i.to_string()).await;
                }
                sleep(ELECTION_TIMEOUT).await;
                ck1.put("b", "B").await;
            }
            // The majority has thrown away most of its log entries.
            assert_trimmed(&cfg);
            // Now a group that needs the lagging server, so that it has to catch up.
            cfg.partition(&[0, 2], &[1]);
            {
                let mut ck1 = cfg.make_client(&[0, 2]);
                ck1.put("c", "C").await;
                ck1.put("d", "D").await;
                check(&mut ck1, "a", "A").await;
                check(&mut ck1, "b", "B").await;
                check(&mut ck1, "1", "1").await;
                check(&mut ck1, "49", "49").await;
            }
            // Now everybody.
            cfg.partition(&[0, 1, 2], &[]);
            ck.put("e", "E").await;
            check(&mut ck, "c", "C").await;
            check(&mut ck, "e", "E").await;
            check(&mut ck, "1", "1").await;
        },
    );
}

/// Snapshots stay small when the data is small.
#[test]
fn snapshot_size_3b() {
    kv_test(
        3,
        Net::Reliable,
        Some(MAX_RAFT_STATE),
        "3B snapshot size is reasonable",
        |cfg| async move {
            const MAX_SNAPSHOT_STATE: usize = 500;
            let mut ck = cfg.make_client(&cfg.all());
            for _ in 0..200 {
                ck.put("x", "0").await;
                check(&mut ck, "x", "0").await;
                ck.put("x", "1").await;
                check(&mut ck, "x", "1").await;
            }
            // The servers have thrown away most of their log entries.
            assert_trimmed(&cfg);
            // The snapshots are not unreasonably large.
            let ssz = cfg.snapshot_size();
            assert!(
                ssz <= MAX_SNAPSHOT_STATE,
                "snapshot too large ({ssz} > {MAX_SNAPSHOT_STATE})"
            );
        },
    );
}

#[test]
fn speed_3b() {
    kv_test(
        3,
        Net::Reliable,
        Some(MAX_RAFT_STATE),
        "3B ops complete fast enough",
        speed_test,
    );
}

#[test]
fn snapshot_recover_3b() {
    kv_test(
        5,
        Net::Reliable,
        Some(MAX_RAFT_STATE),
        "3B restarts, snapshots, one client",
        |cfg| generic_test(cfg, GenericTest::clients(1).with_crashes()),
    );
}

#[test]
fn snapshot_recover_many_clients_3b() {
    kv_test(
        5,
        Net::Reliable,
        Some(MAX_RAFT_STATE),
        "3B restarts, snapshots, many clients",
        |cfg| generic_test(cfg, GenericTest::clients(20).with_crashes()),
    );
}

#[test]
fn snapshot_unreliable_3b() {
    kv_test(
        5,
        Net::Unreliable,
        Some(MAX_RAFT_STATE),
        "3B unreliable net, snapshots, many clients",
        |cfg| generic_test(cfg, GenericTest::clients(5)),
    );
}

#[test]
fn snapshot_unreliable_recover_3b() {
    kv_test(
        5,
        Net::Unreliable,
        Some(MAX_RAFT_STATE),
        "3B unreliable net, restarts, snapshots, many clients",
        |cfg| generic_test(cfg, GenericTest::clients(5).with_crashes()),
    );
}

#[test]
fn snapshot_unreliable_recover_concurrent_partition_3b() {
    kv_test(
        5,
        Net::Unreliable,
        Some(MAX_RAFT_STATE),
        "3B unreliable net, restarts, partitions, snapshots, many clients",
        |cfg| {
            generic_test(
                cfg,
                GenericTest::clients(5).with_crashes().with_partitions(),
            )
        },
    );
}

#[test]
fn snapshot_unreliable_recover_concurrent_partition_linearizable_3b() {
    kv_test(
        7,
        Net::Unreliable,
        Some(MAX_RAFT_STATE),
        "3B unreliable net, restarts, partitions, snapshots, random keys, many clients",
        |cfg| {
            generic_test(
                cfg,
                GenericTest::clients(15)
                    .with_crashes()
                    .with_partitions()
                    .with_random_keys(),
            )
        },
    );
}

/// The duplicate table survives a restart from a snapshot. An append takes effect but its reply
/// is lost, so its clerk retries; meanwhile every server snapshots past the append and
/// restarts. The retry must not apply the append again: what a server knows of the requests it
/// has executed must be in its snapshot, along with the data.
#[test]
fn snapshot_keeps_duplicates_3b() {
    kv_test(
        3,
        Net::Reliable,
        Some(MAX_RAFT_STATE),
        "3B the duplicate table survives a restart",
        |cfg| async move {
            let mut ck = cfg.make_client(&cfg.all());
            ck.put("k", "").await;
            let limit = 5 * ELECTION_TIMEOUT;
            let t0 = Instant::now();
            let leader = loop {
                if let Some(l) = cfg.leader().await {
                    break l;
                }
                assert!(t0.elapsed() < limit, "no leader within {limit:?}");
                sleep(Duration::from_millis(10)).await;
            };
            // The leader's reply to the append is held back, so that it can be lost.
            let mut late = cfg.make_client(&cfg.all());
            let id = late.id();
            cfg.hold_client_replies(id, leader);
            let append = sim::spawn(async move { late.append("k", "x").await });
            let t1 = Instant::now();
            while cfg.client_replies_held(id, leader) == 0 {
                assert!(
                    t1.elapsed() < limit,
                    "server {leader}, the leader, did not answer an append within {limit:?}"
                );
                sleep(Duration::from_millis(1)).await;
            }
            cfg.disconnect_client(id, &cfg.all());
            cfg.let_go_client_replies(id, leader);
            check(&mut ck, "k", "x").await;
            // Enough puts that every server snapshots past the append, then all restart.
            let filler = "f".repeat(100);
            for i in 0..4 * MAX_RAFT_STATE / filler.len() {
                ck.put(&format!("f{i}"), &filler).await;
            }
            sleep(ELECTION_TIMEOUT).await;
            for i in cfg.all() {
                cfg.shutdown_server(i);
            }
            for i in cfg.all() {
                cfg.start_server(i);
            }
            cfg.connect_all();
            cfg.connect_client(id, &cfg.all());
            assert!(
                tokio::time::timeout(limit, append).await.is_ok(),
                "the clerk's append, retried after every server restarted, did not complete \
                 within {limit:?}"
            );
            let v = ck.get("k").await;
            if v != "x" {
                panic!(
                    "Get(k) returned {v:?}, expected \"x\": an append whose reply was lost took \
                     effect again when its clerk retried it after every server had restarted \
                     from a snapshot taken after it; the snapshot must hold the duplicate table"
                );
            }
        },
    );
}
