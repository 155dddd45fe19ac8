//! Lab 4A: the shard controller. `cargo test 4a` runs these.
//!
//! Each test runs on a fresh cluster of three controller servers on a reliable network, and ends
//! by checking that the replicas made the same configs. The minimal-transfer tests accept any
//! rebalancing that moves as few shards as a balanced result needs, whichever shards it picks.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use labrpc::sim;
use raftlab::shardctrler_tester::{
    CtrlerCluster, TestClerk, check, check_minimal, ctrler_test, groups,
};
use shardctrler::{Config, Gid, NSHARDS};
use tokio::time::sleep;

/// Fails unless `c` is config number `num` (`what` made it).
fn expect_num(c: &Config, num: u64, what: &str) {
    assert_eq!(
        c.num, num,
        "after {what}, the latest config is number {}, expected {num}: every Join, Leave and Move \
         makes exactly one new config",
        c.num
    );
}

/// Fails unless `c` lists exactly `names` as the servers of `gid`, in order.
fn expect_servers(c: &Config, gid: Gid, names: &[&str]) {
    let have = c.groups.get(&gid);
    assert!(
        have.is_some_and(|h| h.iter().eq(names.iter())),
        "config {}: group {gid} has servers {have:?}, expected {names:?}",
        c.num
    );
}

/// Three server names for group `gid`.
fn names_of(gid: Gid) -> Vec<String> {
    ["a", "b", "c"]
        .iter()
        .map(|s| format!("s{gid}{s}"))
        .collect()
}

/// Runs `n` clerks at once, clerk `i` (a fresh one) doing `ops(clerk, i)`, and waits for all.
async fn clerks_at_once<Fut>(cfg: &CtrlerCluster, n: u64, ops: impl Fn(TestClerk, u64) -> Fut)
where
    Fut: Future<Output = ()> + Send + 'static,
{
    let tasks: Vec<_> = (0..n)
        .map(|i| sim::spawn(ops(cfg.make_client(), i)))
        .collect();
    for t in tasks {
        t.await.expect("a clerk's task failed");
    }
}

/// Checks, with a fresh clerk, that the latest config has exactly the groups `gids`, balanced,
/// each with the three servers [`names_of`] gives it.
async fn check_named(cfg: &CtrlerCluster, gids: &[Gid]) {
    let mut ck = cfg.make_client();
    let c = check(&mut ck, gids).await;
    for &g in gids {
        let names = names_of(g);
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        expect_servers(&c, g, &names);
    }
}

/// Joins `gid` alone, with three servers.
async fn join_one(ck: &mut TestClerk, gid: Gid) {
    ck.join(BTreeMap::from([(gid, names_of(gid))])).await;
}

/// Joins the groups `gids` one Join each, checking balance after each; `before` are the groups
/// already there. Returns all groups.
async fn join_each(ck: &mut TestClerk, before: &[Gid], gids: &[Gid]) -> Vec<Gid> {
    let mut all = before.to_vec();
    for &g in gids {
        join_one(ck, g).await;
        all.push(g);
        check(ck, &all).await;
    }
    all
}

/// Joins `gid` and checks that the new config is balanced and moved as few shards as possible.
async fn join_minimal(ck: &mut TestClerk, all: &mut Vec<Gid>, gid: Gid) {
    let prev = ck.latest().await;
    join_one(ck, gid).await;
    all.push(gid);
    let next = check(ck, all).await;
    if let Err(e) = check_minimal(&prev, &next, &format!("join of gid {gid}")) {
        panic!("{e}");
    }
}

/// Makes `gid` leave and checks that the new config is balanced and moved only its shards.
async fn leave_minimal(ck: &mut TestClerk, all: &mut Vec<Gid>, gids: &[Gid]) {
    let prev = ck.latest().await;
    ck.leave(gids).await;
    all.retain(|g| !gids.contains(g));
    let next = check(ck, all).await;
    if let Err(e) = check_minimal(&prev, &next, &format!("leave of gids {gids:?}")) {
        panic!("{e}");
    }
}

/// Config 0 has no groups; joins and leaves of single groups make one config each, balanced, with
/// exactly the groups that joined and their servers; a gid that left may join again.
#[test]
fn basic_leave_join_4a() {
    ctrler_test("4A basic leave/join", |cfg| async move {
        let mut ck = cfg.make_client();
        let c = check(&mut ck, &[]).await;
        expect_num(&c, 0, "no operation");
        ck.join(groups(&[(1, &["x", "y", "z"])])).await;
        let c = check(&mut ck, &[1]).await;
        expect_num(&c, 1, "join(1)");
        expect_servers(&c, 1, &["x", "y", "z"]);
        ck.join(groups(&[(2, &["a", "b", "c"])])).await;
        let c = check(&mut ck, &[1, 2]).await;
        expect_num(&c, 2, "join(2)");
        expect_servers(&c, 1, &["x", "y", "z"]);
        expect_servers(&c, 2, &["a", "b", "c"]);
        ck.leave(&[1]).await;
        let c = check(&mut ck, &[2]).await;
        expect_num(&c, 3, "leave(1)");
        expect_servers(&c, 2, &["a", "b", "c"]);
        ck.leave(&[2]).await;
        let c = check(&mut ck, &[]).await;
        expect_num(&c, 4, "leave(2)");
        // A gid may join again after it left, with other servers.
        ck.join(groups(&[(1, &["p", "q"])])).await;
        let c = check(&mut ck, &[1]).await;
        expect_num(&c, 5, "join(1) again");
        expect_servers(&c, 1, &["p", "q"]);
    });
}

/// Every config made stays queryable by number, exactly as it was, with any one server down; a
/// query of a number past the latest, or of None, gives the latest.
#[test]
fn historical_queries_4a() {
    ctrler_test("4A historical queries", |cfg| async move {
        let mut ck = cfg.make_client();
        let mut saved = vec![check(&mut ck, &[]).await];
        ck.join(groups(&[(1, &["x", "y", "z"])])).await;
        saved.push(check(&mut ck, &[1]).await);
        ck.join(groups(&[(2, &["a", "b", "c"])])).await;
        saved.push(check(&mut ck, &[1, 2]).await);
        let shard = saved[2].shards.iter().position(|&g| g == 1).unwrap_or(0);
        ck.move_shard(shard, 2).await;
        saved.push(ck.latest().await);
        assert_eq!(
            saved[3].shards[shard], 2,
            "move({shard}, 2) did not move it"
        );
        ck.leave(&[1]).await;
        saved.push(check(&mut ck, &[2]).await);
        ck.leave(&[2]).await;
        saved.push(check(&mut ck, &[]).await);
        let latest = saved[saved.len() - 1].clone();
        for s in cfg.all() {
            cfg.shutdown_server(s);
            for c in &saved {
                let got = ck.query(Some(c.num)).await;
                assert_eq!(
                    &got, c,
                    "with ctrler-{s} down, query({}) gave a different config than when it was \
                     the latest",
                    c.num
                );
            }
            for num in [None, Some(latest.num + 1), Some(latest.num + 1000)] {
                let got = ck.query(num).await;
                assert_eq!(
                    got, latest,
                    "query({num:?}) must give the latest config (number {})",
                    latest.num
                );
            }
            cfg.restart_server(s);
        }
    });
}

/// Move gives one shard to one group and changes nothing else; a Move that changes the owner
/// makes a new config.
#[test]
fn move_4a() {
    ctrler_test("4A move", |cfg| async move {
        let mut ck = cfg.make_client();
        let (g3, g4): (Gid, Gid) = (503, 504);
        ck.join(groups(&[(g3, &["3a", "3b", "3c"])])).await;
        ck.join(groups(&[(g4, &["4a", "4b", "4c"])])).await;
        check(&mut ck, &[g3, g4]).await;
        for shard in 0..NSHARDS {
            let before = ck.latest().await;
            let gid = if shard < NSHARDS / 2 { g3 } else { g4 };
            ck.move_shard(shard, gid).await;
            let after = ck.latest().await;
            if before.shards[shard] != gid {
                assert!(
                    after.num > before.num,
                    "move({shard}, {gid}) changed the owner but made no new config (still {})",
                    before.num
                );
            }
            let mut want = before.shards;
            want[shard] = gid;
            assert_eq!(
                after.shards, want,
                "move({shard}, {gid}) of config {}: expected the shards {want:?}, got {:?} (a Move \
                 changes that one shard and nothing else)",
                before.num, after.shards
            );
            assert_eq!(
                after.groups, before.groups,
                "move({shard}, {gid}) changed the groups"
            );
        }
        let c = ck.latest().await;
        let want: Vec<Gid> = (0..NSHARDS)
            .map(|s| if s < NSHARDS / 2 { g3 } else { g4 })
            .collect();
        assert_eq!(c.shards.to_vec(), want, "the moves did not stick");
        ck.leave(&[g3]).await;
        check(&mut ck, &[g4]).await;
        ck.leave(&[g4]).await;
        check(&mut ck, &[]).await;
    });
}

/// Ten clerks at once each join a group, join another, and make the first leave: the result has
/// exactly the second groups, balanced.
#[test]
fn concurrent_leave_join_4a() {
    ctrler_test("4A concurrent leave/join", |cfg| async move {
        const N: u64 = 10;
        clerks_at_once(&cfg, N, |mut ck, i| async move {
            let gid = 100 + 10 * i;
            ck.join(groups(&[(gid + 1000, &["a"])])).await;
            ck.join(BTreeMap::from([(gid, names_of(gid))])).await;
            ck.leave(&[gid + 1000]).await;
        })
        .await;
        let gids: Vec<Gid> = (0..N).map(|i| 100 + 10 * i).collect();
        check_named(&cfg, &gids).await;
    });
}

/// Groups 11..15 join one at a time on top of groups 21..23, then 16..20 (more groups than
/// shards): each Join moves shards only onto the new group, and no more than a balanced config
/// needs. (The new groups have lower gids than the old: a rebalancing that gives the larger
/// shares by gid rather than to the groups that already hold the most moves too many.)
#[test]
fn minimal_transfers_after_joins_4a() {
    ctrler_test("4A minimal transfers after joins", |cfg| async move {
        let mut ck = cfg.make_client();
        let mut all = join_each(&mut ck, &[], &[21, 22, 23]).await;
        for gid in 11..=20 {
            join_minimal(&mut ck, &mut all, gid).await;
        }
    });
}

/// Groups 11..20 leave one at a time from groups 11..20 and 21..23, then 21 and 22: each Leave
/// moves only the leaving group's shards.
#[test]
fn minimal_transfers_after_leaves_4a() {
    ctrler_test("4A minimal transfers after leaves", |cfg| async move {
        let mut ck = cfg.make_client();
        let joined: Vec<Gid> = (21..=23).chain(11..=20).collect();
        let mut all = join_each(&mut ck, &[], &joined).await;
        for gid in (11..=20).chain(21..=22) {
            leave_minimal(&mut ck, &mut all, &[gid]).await;
        }
        ck.leave(&[23]).await;
        check(&mut ck, &[]).await;
    });
}

/// Moves make the config uneven; the Join or Leave after them must still move no more shards
/// than an even result needs (here some must move between groups that stay).
#[test]
fn minimal_transfers_after_moves_4a() {
    ctrler_test("4A minimal transfers after moves", |cfg| async move {
        let mut ck = cfg.make_client();
        let mut all = join_each(&mut ck, &[], &[1, 2]).await;
        for shard in 0..NSHARDS {
            ck.move_shard(shard, 2).await;
        }
        // Group 2 holds all ten: it keeps the larger share (4) of three groups.
        join_minimal(&mut ck, &mut all, 3).await;
        // 1 holds one shard, 2 six, 3 three: when 3 leaves, 2 must give one to 1 as well.
        for shard in 0..NSHARDS {
            let gid = match shard {
                0 => 1,
                1..=6 => 2,
                _ => 3,
            };
            ck.move_shard(shard, gid).await;
        }
        leave_minimal(&mut ck, &mut all, &[3]).await;
    });
}

/// Joins and leaves of several groups in one call make one config each, with exactly the right
/// groups and servers.
#[test]
fn multi_join_leave_4a() {
    ctrler_test("4A multi-group join/leave", |cfg| async move {
        let mut ck = cfg.make_client();
        let c = check(&mut ck, &[]).await;
        expect_num(&c, 0, "no operation");
        ck.join(groups(&[(1, &["x", "y", "z"]), (2, &["a", "b", "c"])]))
            .await;
        let c = check(&mut ck, &[1, 2]).await;
        expect_num(&c, 1, "join(1, 2)");
        ck.join(groups(&[(3, &["j", "k", "l"])])).await;
        let c = check(&mut ck, &[1, 2, 3]).await;
        expect_num(&c, 2, "join(3)");
        expect_servers(&c, 1, &["x", "y", "z"]);
        expect_servers(&c, 2, &["a", "b", "c"]);
        expect_servers(&c, 3, &["j", "k", "l"]);
        ck.leave(&[1, 3]).await;
        let c = check(&mut ck, &[2]).await;
        expect_num(&c, 3, "leave(1, 3)");
        expect_servers(&c, 2, &["a", "b", "c"]);
        ck.leave(&[2]).await;
        let c = check(&mut ck, &[]).await;
        expect_num(&c, 4, "leave(2)");
    });
}

/// Ten clerks at once each join three groups in one call and make two of them leave in one call:
/// the result has exactly the groups that stayed, balanced.
#[test]
fn concurrent_multi_leave_join_4a() {
    ctrler_test("4A concurrent multi leave/join", |cfg| async move {
        const N: u64 = 10;
        clerks_at_once(&cfg, N, |mut ck, i| async move {
            let gid = 1000 + i;
            let three = BTreeMap::from([
                (gid, names_of(gid)),
                (gid + 1000, names_of(gid + 1000)),
                (gid + 2000, names_of(gid + 2000)),
            ]);
            ck.join(three).await;
            ck.leave(&[gid + 1000, gid + 2000]).await;
        })
        .await;
        let gids: Vec<Gid> = (0..N).map(|i| 1000 + i).collect();
        check_named(&cfg, &gids).await;
    });
}

/// Several groups join and leave in one call each, on top of groups 21..23: each change moves as
/// few shards as a balanced config needs, and only onto joining or off leaving groups.
#[test]
fn minimal_transfers_multi_4a() {
    ctrler_test(
        "4A minimal transfers after multijoins/multileaves",
        |cfg| async move {
            let mut ck = cfg.make_client();
            let mut all = join_each(&mut ck, &[], &[21, 22, 23]).await;
            for batch in [11..=15, 16..=20] {
                let prev = ck.latest().await;
                ck.join(batch.clone().map(|g| (g, names_of(g))).collect())
                    .await;
                all.extend(batch.clone());
                let next = check(&mut ck, &all).await;
                if let Err(e) = check_minimal(&prev, &next, &format!("join of gids {batch:?}")) {
                    panic!("{e}");
                }
            }
            let batch: Vec<Gid> = (11..=15).collect();
            leave_minimal(&mut ck, &mut all, &batch).await;
            let batch: Vec<Gid> = (16..=20).chain(21..=21).collect();
            leave_minimal(&mut ck, &mut all, &batch).await;
        },
    );
}

/// The config a clerk reads stays the same when the leader that gave it is shut down and another
/// server answers; the old leader, restarted, rebuilds the same configs.
#[test]
fn same_config_on_servers_4a() {
    ctrler_test("4A check same config on servers", |cfg| async move {
        let mut ck = cfg.make_client();
        ck.join(BTreeMap::from([1, 2, 3].map(|g| (g, names_of(g)))))
            .await;
        check(&mut ck, &[1, 2, 3]).await;
        ck.move_shard(0, 3).await;
        join_one(&mut ck, 4).await;
        let c1 = check(&mut ck, &[1, 2, 3, 4]).await;
        let leader = cfg.wait_leader(Duration::from_secs(5)).await;
        cfg.shutdown_server(leader);
        let c2 = ck.latest().await;
        assert_eq!(
            c2, c1,
            "after the leader ctrler-{leader} was shut down, the latest config differs"
        );
        for num in 0..=c1.num {
            let c = ck.query(Some(num)).await;
            assert_eq!(c.num, num, "query({num}) gave config {}", c.num);
        }
        ck.leave(&[2]).await;
        check(&mut ck, &[1, 3, 4]).await;
        cfg.restart_server(leader);
        // The agreement check at the end compares the restarted server's configs too.
    });
}

/// 2024's minimal-movement test: a third group joining two moves only the shards it takes, and
/// no more than a balanced config needs; then a group leaving moves only its own shards.
#[test]
fn minimal_movement_again_4a() {
    ctrler_test("4A minimal movement again", |cfg| async move {
        let mut ck = cfg.make_client();
        let mut all = join_each(&mut ck, &[], &[1, 2]).await;
        join_minimal(&mut ck, &mut all, 3).await;
        leave_minimal(&mut ck, &mut all, &[1]).await;
    });
}

/// A request of the at-most-once test.
#[derive(Clone, Copy, Debug)]
enum Request {
    Join(Gid),
    Move(usize, Gid),
    Leave(Gid),
}

/// Sends `req` with `ck`.
async fn send(ck: &mut TestClerk, req: Request) {
    match req {
        Request::Join(gid) => join_one(ck, gid).await,
        Request::Move(shard, gid) => ck.move_shard(shard, gid).await,
        Request::Leave(gid) => ck.leave(&[gid]).await,
    }
}

/// A clerk whose replies from the leader are lost for a second retries requests the leader
/// already carried out: each Join, Move and Leave must still make exactly one config (duplicate
/// detection, which the sharded servers of 4B rely on).
#[test]
fn retried_requests_apply_once_4a() {
    ctrler_test("4A retried requests apply once", |cfg| async move {
        let mut ck = cfg.make_client();
        join_one(&mut ck, 1).await;
        check(&mut ck, &[1]).await;
        for req in [Request::Join(2), Request::Move(0, 1), Request::Leave(1)] {
            let before = ck.latest().await;
            // Move a shard that changes its owner.
            let req = match req {
                Request::Move(_, gid) => {
                    let shard = before.shards.iter().position(|&g| g != gid);
                    Request::Move(shard.unwrap_or(0), gid)
                }
                other => other,
            };
            let leader = cfg.wait_leader(Duration::from_secs(5)).await;
            let id = ck.id();
            cfg.lose_client_replies(id, leader, true);
            let task = sim::spawn(async move {
                send(&mut ck, req).await;
                ck
            });
            sleep(Duration::from_secs(1)).await;
            cfg.lose_client_replies(id, leader, false);
            ck = task.await.expect("the clerk's task failed");
            let after = ck.latest().await;
            expect_num(
                &after,
                before.num + 1,
                &format!("{req:?} whose replies from the leader were lost for 1 s"),
            );
        }
        check(&mut ck, &[2]).await;
    });
}
