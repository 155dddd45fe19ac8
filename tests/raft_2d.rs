//! Lab 2D: log compaction (snapshots). `cargo test 2d` runs these.

use std::time::Duration;

use labrpc::sim;
use raftlab::raft_tester::{
    MAX_LOG_SIZE, Net, RaftCluster, Retry, SNAPSHOT_INTERVAL, Snapshots, raft_test, random_cmd,
};
use tokio::time::sleep;

/// How followers fall behind in [`snap_common`] (Go's `disconnect` and `crash` flags).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Behind {
    /// They keep up.
    No,
    /// A follower is disconnected for a while.
    Disconnected,
    /// A follower is crashed for a while.
    Crashed,
}

/// Followers fall behind (disconnected or crashed) while the leader snapshots; they must catch up,
/// through InstallSnapshot when their entries are gone, and the log must stay small.
async fn snap_common(cfg: RaftCluster, behind: Behind) {
    let (disconnect, crash) = (behind == Behind::Disconnected, behind == Behind::Crashed);
    let servers = cfg.n();
    cfg.one(random_cmd(), servers, Retry::Yes).await;
    let mut leader1 = cfg.check_one_leader().await;
    for i in 0..30 {
        let (mut victim, mut sender) = ((leader1 + 1) % servers, leader1);
        if i % 3 == 1 {
            sender = (leader1 + 1) % servers;
            victim = leader1;
        }
        if disconnect {
            cfg.disconnect(victim);
            cfg.one(random_cmd(), servers - 1, Retry::Yes).await;
        }
        if crash {
            cfg.crash1(victim);
            cfg.one(random_cmd(), servers - 1, Retry::Yes).await;
        }
        // Perhaps send enough to get a snapshot.
        let nn = SNAPSHOT_INTERVAL / 2 + sim::random_range(0..SNAPSHOT_INTERVAL);
        for _ in 0..nn {
            cfg.start(sender, random_cmd()).await;
        }
        // Let applier tasks catch up with the start()s.
        if !disconnect && !crash {
            // Make sure all followers have caught up, so that an InstallSnapshot RPC isn't
            // required for snapshot_basic.
            cfg.one(random_cmd(), servers, Retry::Yes).await;
        } else {
            cfg.one(random_cmd(), servers - 1, Retry::Yes).await;
        }
        let size = cfg.log_size();
        assert!(
            size < MAX_LOG_SIZE,
            "log size too large: {size} bytes of Raft state (limit {MAX_LOG_SIZE})"
        );
        if disconnect {
            // Reconnect a follower, who may be behind and need a snapshot to catch up.
            cfg.connect(victim);
            cfg.one(random_cmd(), servers, Retry::Yes).await;
            leader1 = cfg.check_one_leader().await;
        }
        if crash {
            cfg.start1(victim);
            cfg.connect(victim);
            cfg.one(random_cmd(), servers, Retry::Yes).await;
            leader1 = cfg.check_one_leader().await;
        }
    }
}

#[test]
fn snapshot_basic_2d() {
    raft_test(
        3,
        Net::Reliable,
        Snapshots::On,
        "2D snapshots basic",
        |cfg| snap_common(cfg, Behind::No),
    );
}

#[test]
fn snapshot_install_2d() {
    raft_test(
        3,
        Net::Reliable,
        Snapshots::On,
        "2D install snapshots (disconnect)",
        |cfg| snap_common(cfg, Behind::Disconnected),
    );
}

#[test]
fn snapshot_install_unreliable_2d() {
    raft_test(
        3,
        Net::Unreliable,
        Snapshots::On,
        "2D install snapshots (disconnect+unreliable)",
        |cfg| snap_common(cfg, Behind::Disconnected),
    );
}

#[test]
fn snapshot_install_crash_2d() {
    raft_test(
        3,
        Net::Reliable,
        Snapshots::On,
        "2D install snapshots (crash)",
        |cfg| snap_common(cfg, Behind::Crashed),
    );
}

#[test]
fn snapshot_install_uncrash_2d() {
    raft_test(
        3,
        Net::Unreliable,
        Snapshots::On,
        "2D install snapshots (unreliable+crash)",
        |cfg| snap_common(cfg, Behind::Crashed),
    );
}

/// Crash and restart all servers, with snapshots; the log index must keep growing.
#[test]
fn snapshot_all_crash_2d() {
    raft_test(
        3,
        Net::Reliable,
        Snapshots::On,
        "2D crash and restart all servers",
        |cfg| async move {
            let servers = cfg.n();
            cfg.one(random_cmd(), servers, Retry::Yes).await;
            for _ in 0..5 {
                // Perhaps enough to get a snapshot.
                let nn = SNAPSHOT_INTERVAL / 2 + sim::random_range(0..SNAPSHOT_INTERVAL);
                for _ in 0..nn {
                    cfg.one(random_cmd(), servers, Retry::Yes).await;
                }
                let index1 = cfg.one(random_cmd(), servers, Retry::Yes).await;
                // Crash all.
                for i in 0..servers {
                    cfg.crash1(i);
                }
                // Revive all.
                for i in 0..servers {
                    cfg.start1(i);
                    cfg.connect(i);
                }
                let index2 = cfg.one(random_cmd(), servers, Retry::Yes).await;
                assert!(index2 > index1, "index decreased from {index1} to {index2}");
            }
        },
    );
}

/// A restart after a snapshot must restore the snapshot's index, not only the log.
#[test]
fn snapshot_init_2d() {
    raft_test(
        3,
        Net::Reliable,
        Snapshots::On,
        "2D snapshot initialization after crash",
        |cfg| async move {
            let servers = cfg.n();
            cfg.one(random_cmd(), servers, Retry::Yes).await;
            // Enough ops to make a snapshot.
            for _ in 0..SNAPSHOT_INTERVAL + 1 {
                cfg.one(random_cmd(), servers, Retry::Yes).await;
            }
            // Crash and revive all twice: the first op after a restart gets something written back
            // to persistent storage; the second restart then reads it.
            for _ in 0..2 {
                for i in 0..servers {
                    cfg.crash1(i);
                }
                for i in 0..servers {
                    cfg.start1(i);
                    cfg.connect(i);
                }
                cfg.one(random_cmd(), servers, Retry::Yes).await;
            }
        },
    );
}

/// A snapshot of what a follower has already applied must not take it back. Neither the
/// leader's service nor the follower's snapshots for a while, and the follower's replies to the
/// leader are lost; then the leader's service snapshots at an index the follower
/// has applied, so the leader sends the follower that snapshot. The follower must ignore it
/// (the 2D page says why).
#[test]
fn old_snapshot_ignored_2d() {
    raft_test(
        3,
        Net::Reliable,
        Snapshots::On,
        "2D an old snapshot is ignored",
        |cfg| async move {
            cfg.one(random_cmd(), 3, Retry::Yes).await;
            let leader = cfg.check_one_leader().await;
            let f = (leader + 1) % 3;
            cfg.set_snapshots(leader, Snapshots::Off);
            cfg.set_snapshots(f, Snapshots::Off);
            cfg.lose_replies(leader, f);
            // f takes every entry and applies it, but the leader believes it stuck where it was.
            for _ in 0..SNAPSHOT_INTERVAL + 5 {
                cfg.one(random_cmd(), 3, Retry::Yes).await;
            }
            let index = cfg.snapshot_now(leader).await;
            assert!(
                index.is_some(),
                "leader {leader} has applied no snapshot point"
            );
            sleep(Duration::from_millis(500)).await;
            cfg.stop_losing_replies(leader, f);
            cfg.set_snapshots(leader, Snapshots::On);
            cfg.set_snapshots(f, Snapshots::On);
            for _ in 0..SNAPSHOT_INTERVAL {
                cfg.one(random_cmd(), 3, Retry::Yes).await;
            }
        },
    );
}
