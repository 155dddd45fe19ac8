//! Lab 3A: a fault-tolerant key/value service without snapshots. `cargo test 3a` runs these.
//! Every test also checks that the history of all its operations is linearizable.

use std::time::Duration;

use labrpc::sim;
use raftlab::kv_tester::{
    ELECTION_TIMEOUT, GenericTest, Net, check, check_client_appends, generic_test, kv_test,
    speed_test,
};
use tokio::time::{sleep, timeout};

#[test]
fn basic_3a() {
    kv_test(5, Net::Reliable, None, "3A one client", |cfg| {
        generic_test(cfg, GenericTest::clients(1))
    });
}

#[test]
fn speed_3a() {
    kv_test(
        3,
        Net::Reliable,
        None,
        "3A ops complete fast enough",
        speed_test,
    );
}

#[test]
fn concurrent_3a() {
    kv_test(5, Net::Reliable, None, "3A many clients", |cfg| {
        generic_test(cfg, GenericTest::clients(5))
    });
}

#[test]
fn unreliable_3a() {
    kv_test(
        5,
        Net::Unreliable,
        None,
        "3A unreliable net, many clients",
        |cfg| generic_test(cfg, GenericTest::clients(5)),
    );
}

/// Five clients append concurrently to one key over an unreliable network: every append must
/// appear exactly once, in each client's order.
#[test]
fn unreliable_one_key_3a() {
    kv_test(
        3,
        Net::Unreliable,
        None,
        "3A concurrent append to same key, unreliable",
        |cfg| async move {
            let mut ck = cfg.make_client(&cfg.all());
            ck.put("k", "").await;
            const CLIENTS: usize = 5;
            const UPTO: u64 = 10;
            let tasks: Vec<_> = (0..CLIENTS)
                .map(|me| {
                    let cfg = cfg.clone();
                    sim::spawn(async move {
                        let mut myck = cfg.make_client(&cfg.all());
                        for n in 0..UPTO {
                            myck.append("k", &format!("x {me} {n} y")).await;
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.expect("client failed");
            }
            let v = ck.get("k").await;
            for me in 0..CLIENTS {
                check_client_appends(me, &v, UPTO);
            }
        },
    );
}

/// A majority makes progress during a partition; the minority does not; both finish after the
/// partition heals.
#[test]
fn one_partition_3a() {
    kv_test(
        5,
        Net::Reliable,
        None,
        "3A progress in majority; none in minority; completion after heal",
        |cfg| async move {
            let mut ck = cfg.make_client(&cfg.all());
            ck.put("1", "13").await;
            let (p1, p2) = cfg.make_partition().await;
            cfg.partition(&p1, &p2);
            let mut ckp1 = cfg.make_client(&p1); // connected to the majority
            let mut ckp2a = cfg.make_client(&p2); // connected to the minority
            let mut ckp2b = cfg.make_client(&p2);
            let (id2a, id2b) = (ckp2a.id(), ckp2b.id());
            ckp1.put("1", "14").await;
            check(&mut ckp1, "1", "14").await;

            // No progress in the minority.
            let put = sim::spawn(async move { ckp2a.put("1", "15").await });
            let get = sim::spawn(async move { ckp2b.get("1").await });
            sleep(Duration::from_secs(1)).await;
            assert!(!put.is_finished(), "Put in minority completed");
            assert!(!get.is_finished(), "Get in minority completed");
            check(&mut ckp1, "1", "14").await;
            ckp1.put("1", "16").await;
            check(&mut ckp1, "1", "16").await;

            // Completion after heal.
            cfg.connect_all();
            cfg.connect_client(id2a, &cfg.all());
            cfg.connect_client(id2b, &cfg.all());
            sleep(ELECTION_TIMEOUT).await;
            timeout(Duration::from_secs(3), put)
                .await
                .expect("Put did not complete")
                .expect("Put failed");
            timeout(Duration::from_secs(3), get)
                .await
                .expect("Get did not complete")
                .expect("Get failed");
            check(&mut ck, "1", "15").await;
        },
    );
}

#[test]
fn many_partitions_one_client_3a() {
    kv_test(5, Net::Reliable, None, "3A partitions, one client", |cfg| {
        generic_test(cfg, GenericTest::clients(1).with_partitions())
    });
}

#[test]
fn many_partitions_many_clients_3a() {
    kv_test(
        5,
        Net::Reliable,
        None,
        "3A partitions, many clients",
        |cfg| generic_test(cfg, GenericTest::clients(5).with_partitions()),
    );
}

#[test]
fn persist_one_client_3a() {
    kv_test(5, Net::Reliable, None, "3A restarts, one client", |cfg| {
        generic_test(cfg, GenericTest::clients(1).with_crashes())
    });
}

#[test]
fn persist_concurrent_3a() {
    kv_test(5, Net::Reliable, None, "3A restarts, many clients", |cfg| {
        generic_test(cfg, GenericTest::clients(5).with_crashes())
    });
}

#[test]
fn persist_concurrent_unreliable_3a() {
    kv_test(
        5,
        Net::Unreliable,
        None,
        "3A unreliable net, restarts, many clients",
        |cfg| generic_test(cfg, GenericTest::clients(5).with_crashes()),
    );
}

#[test]
fn persist_partition_3a() {
    kv_test(
        5,
        Net::Reliable,
        None,
        "3A restarts, partitions, many clients",
        |cfg| {
            generic_test(
                cfg,
                GenericTest::clients(5).with_crashes().with_partitions(),
            )
        },
    );
}

#[test]
fn persist_partition_unreliable_3a() {
    kv_test(
        5,
        Net::Unreliable,
        None,
        "3A unreliable net, restarts, partitions, many clients",
        |cfg| {
            generic_test(
                cfg,
                GenericTest::clients(5).with_crashes().with_partitions(),
            )
        },
    );
}

#[test]
fn persist_partition_unreliable_linearizable_3a() {
    kv_test(
        7,
        Net::Unreliable,
        None,
        "3A unreliable net, restarts, partitions, random keys, many clients",
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
