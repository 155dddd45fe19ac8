//! The watchdog: each way a run can go wrong gets its own verdict, within a few seconds of wall
//! time, and the next run still works. The `*_under_load` tests spin `2 x cores` threads beside
//! the run; to check the whole suite on a loaded machine:
//! `for i in $(seq $((2 * $(nproc)))); do (while :; do :; done) & done; cargo test -p labrpc --test watchdog; kill $(jobs -p)`
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // these tests block and spin on purpose

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use labrpc::harness::{self, Failure, Options, RunError};
use labrpc::sim::Node;
use tokio::time::sleep;

fn opts() -> Options {
    Options {
        stall_limit: Duration::from_secs(1),
        ..Options::with_seed(11)
    }
}

/// Runs `f`, expects a failure, and checks that a healthy run works right after.
fn expect_failure<Fut>(opts: Options, f: impl FnOnce() -> Fut + Send + 'static) -> RunError
where
    Fut: std::future::Future<Output = ()> + 'static,
{
    let t0 = Instant::now();
    let err = harness::run(opts, f).expect_err("the run should have failed");
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(15), "the verdict took {took:?}");
    let (v, _) = harness::run(Options::with_seed(1), || async {
        sleep(Duration::from_secs(5)).await;
        7
    })
    .expect("a healthy run after a failed one");
    assert_eq!(v, 7);
    err
}

#[test]
fn blocking_lock_is_blocked() {
    static LOCK: Mutex<()> = Mutex::new(());
    let guard = LOCK.lock().unwrap();
    let err = expect_failure(opts(), || async {
        Node::new("server-1")
            .spawn(async {
                sleep(Duration::from_millis(300)).await;
                let _g = LOCK.lock();
            })
            .await
            .ok();
    });
    drop(guard);
    assert!(
        matches!(&err.failure, Failure::Blocked { task } if task.contains("server-1")),
        "{err}"
    );
    assert!(
        err.to_string().contains("watchdog.rs"),
        "names the spawn location: {err}"
    );
    assert!(err.to_string().contains("seed=11"), "{err}");
}

#[test]
fn blocking_recv_is_blocked() {
    let (tx, rx) = mpsc::channel::<()>();
    let rx = Mutex::new(Some(rx));
    let rx = rx.lock().unwrap().take().unwrap();
    let err = expect_failure(opts(), move || async move {
        let _ = rx.recv();
    });
    drop(tx);
    assert!(
        matches!(&err.failure, Failure::Blocked { task } if task == "the test body"),
        "{err}"
    );
}

#[test]
fn thread_sleep_is_blocked() {
    let err = expect_failure(opts(), || async {
        std::thread::sleep(Duration::from_secs(4));
    });
    assert!(matches!(err.failure, Failure::Blocked { .. }), "{err}");
}

/// A run whose server "spinner" spins until `stop` is set, which happens once the run failed.
fn spinning_run(stop: &'static AtomicBool) -> RunError {
    let err = expect_failure(opts(), || async {
        Node::new("spinner")
            .spawn(async {
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
            .await
            .ok();
    });
    stop.store(true, Ordering::Relaxed);
    err
}

#[test]
fn spinning_is_a_busy_loop() {
    static STOP: AtomicBool = AtomicBool::new(false);
    let err = spinning_run(&STOP);
    assert!(
        matches!(&err.failure, Failure::BusyLoop { task } if task.contains("spinner")),
        "{err}"
    );
}

#[test]
fn yielding_forever_is_a_livelock() {
    let err = expect_failure(opts(), || async {
        Node::new("yielder").spawn(async {
            loop {
                tokio::task::yield_now().await;
            }
        });
        sleep(Duration::from_secs(1)).await;
    });
    assert!(
        matches!(&err.failure, Failure::Livelock { tasks } if tasks.iter().any(|t| t.contains("yielder"))),
        "{err}"
    );
}

#[test]
fn zero_sleeps_are_a_livelock() {
    let err = expect_failure(opts(), || async {
        loop {
            sleep(Duration::ZERO).await;
        }
    });
    assert!(matches!(err.failure, Failure::Livelock { .. }), "{err}");
}

#[test]
fn panic_in_a_server_names_it() {
    let err = expect_failure(opts(), || async {
        Node::new("server-3").spawn(async {
            sleep(Duration::from_millis(1500)).await;
            let v: Vec<u64> = Vec::new();
            let _ = v[3];
        });
        sleep(Duration::from_secs(10)).await;
    });
    match &err.failure {
        Failure::Panic { node, message, .. } => {
            assert_eq!(node, "server-3");
            assert!(message.contains("index out of bounds"), "{message}");
        }
        f => panic!("wrong verdict {f:?}"),
    }
    assert_eq!(err.virtual_time, Duration::from_millis(1500));
}

#[test]
fn failed_check_is_a_check_failure() {
    let err = expect_failure(opts(), || async {
        sleep(Duration::from_secs(2)).await;
        panic!("expected one leader, got none");
    });
    assert!(
        matches!(&err.failure, Failure::Check { message, .. } if message == "expected one leader, got none"),
        "{err}"
    );
}

#[test]
fn virtual_limit() {
    let err = expect_failure(
        Options {
            virtual_limit: Duration::from_secs(30),
            ..opts()
        },
        || async {
            let (_tx, rx) = tokio::sync::oneshot::channel::<()>();
            let _ = rx.await;
        },
    );
    assert!(matches!(err.failure, Failure::VirtualLimit { .. }), "{err}");
    assert!(err.to_string().contains("never came"), "{err}");
}

#[test]
fn slow_run_hits_the_wall_limit() {
    let err = slow_run();
    assert!(matches!(err.failure, Failure::WallLimit { .. }), "{err}");
}

#[test]
fn slow_run_under_load_hits_the_wall_limit() {
    let err = under_load(slow_run);
    assert!(matches!(err.failure, Failure::WallLimit { .. }), "{err}");
}

/// A run that does 10 ms of real work per millisecond of virtual time, with a 2 s wall limit.
fn slow_run() -> RunError {
    expect_failure(
        Options {
            wall_limit: Duration::from_secs(2),
            ..opts()
        },
        || async {
            loop {
                // 10 ms of real work per millisecond of virtual time.
                let t = Instant::now();
                while t.elapsed() < Duration::from_millis(10) {
                    std::hint::spin_loop();
                }
                sleep(Duration::from_millis(1)).await;
            }
        },
    )
}

/// Spins `2 x cores` threads beside `f` (a loaded machine), and stops them when `f` returns.
fn under_load<T>(f: impl FnOnce() -> T) -> T {
    /// Stops the spinners when dropped, also when `f` panics.
    struct Stop(Arc<AtomicBool>);
    impl Drop for Stop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let stop = Stop(Arc::new(AtomicBool::new(false)));
    let n = 2 * std::thread::available_parallelism().map_or(2, |n| n.get());
    for _ in 0..n {
        let flag = stop.0.clone();
        std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::hint::spin_loop();
            }
        });
    }
    f()
}

#[test]
fn spinning_under_load_is_a_busy_loop() {
    static STOP: AtomicBool = AtomicBool::new(false);
    let err = under_load(|| spinning_run(&STOP));
    assert!(
        matches!(&err.failure, Failure::BusyLoop { task } if task.contains("spinner")),
        "{err}"
    );
}

#[test]
fn blocking_under_load_is_blocked() {
    let err = under_load(|| {
        expect_failure(opts(), || async {
            std::thread::sleep(Duration::from_secs(4));
        })
    });
    assert!(matches!(err.failure, Failure::Blocked { .. }), "{err}");
}

#[test]
fn yielding_under_load_is_a_livelock() {
    let err = under_load(|| {
        expect_failure(opts(), || async {
            loop {
                tokio::task::yield_now().await;
            }
        })
    });
    assert!(matches!(err.failure, Failure::Livelock { .. }), "{err}");
}

/// A student's Raft gone wrong, as the tester sees it: `start` is one of its methods.
#[derive(Clone, Default)]
struct BadRaft {
    state: Arc<Mutex<u64>>,
}

impl BadRaft {
    /// Locks its state, then calls a helper that locks it again: a self-deadlock.
    async fn start_locking_twice(&self) -> u64 {
        let mut st = self.state.lock().unwrap();
        *st += 1;
        self.helper()
    }

    fn helper(&self) -> u64 {
        *self.state.lock().unwrap()
    }

    /// Waits for a leader without ever awaiting (until the test is over).
    async fn start_spinning(&self) -> u64 {
        while !SPINNING_STUDENT_STOP.load(Ordering::Relaxed) {
            std::hint::spin_loop();
        }
        0
    }

    async fn start_panicking(&self) -> u64 {
        let log: Vec<u64> = Vec::new();
        log[1]
    }
}

#[test]
fn blocked_student_call_names_the_method() {
    let err = expect_failure(opts(), || async {
        let node = Node::new("raft-1");
        let rf = BadRaft::default();
        node.spawn(labrpc::sim::student_call("Raft::start", async move {
            rf.start_locking_twice().await
        }))
        .await
        .ok();
    });
    let msg = err.to_string();
    assert!(
        matches!(&err.failure, Failure::Blocked { task } if task.contains("the student's Raft::start on raft-1")),
        "{msg}"
    );
    assert!(
        msg.contains("called by the tester at labrpc/tests/watchdog.rs:"),
        "{msg}"
    );
}

static SPINNING_STUDENT_STOP: AtomicBool = AtomicBool::new(false);

#[test]
fn spinning_student_call_names_the_method() {
    let err = expect_failure(opts(), || async {
        let node = Node::new("raft-2");
        let rf = BadRaft::default();
        // The call is spawned from a helper task, as the testers do.
        node.spawn(labrpc::sim::student_call("Raft::start", async move {
            sleep(Duration::from_millis(10)).await;
            rf.start_spinning().await
        }))
        .await
        .ok();
    });
    SPINNING_STUDENT_STOP.store(true, Ordering::Relaxed);
    assert!(
        matches!(&err.failure, Failure::BusyLoop { task } if task.contains("the student's Raft::start on raft-2")),
        "{err}"
    );
}

#[test]
fn panicking_student_call_names_the_method() {
    let err = expect_failure(opts(), || async {
        let node = Node::new("raft-3");
        let rf = BadRaft::default();
        node.spawn(labrpc::sim::student_call("Raft::start", async move {
            rf.start_panicking().await
        }))
        .await
        .ok();
        sleep(Duration::from_secs(1)).await;
    });
    match &err.failure {
        Failure::Panic { node, task, .. } => {
            assert_eq!(node, "raft-3");
            assert!(
                task.contains("the student's Raft::start on raft-3"),
                "{err}"
            );
        }
        f => panic!("wrong verdict {f:?}"),
    }
}

#[test]
fn blocking_after_a_student_call_names_the_task() {
    let err = expect_failure(opts(), || async {
        let node = Node::new("raft-4");
        node.spawn(async {
            let n = labrpc::sim::student_call_sync("Raft::kill", || 3);
            labrpc::sim::student_call("Raft::get_state", async { sleep(Duration::ZERO).await })
                .await;
            std::thread::sleep(Duration::from_secs(2 * n));
        })
        .await
        .ok();
    });
    assert!(
        matches!(&err.failure, Failure::Blocked { task } if task.starts_with("raft-4's task spawned at")),
        "{err}"
    );
}

#[test]
fn spinning_that_begins_late_is_a_busy_loop() {
    static STOP: AtomicBool = AtomicBool::new(false);
    // The run's setup takes most of a stall limit (a loaded machine, a slow start) before the
    // spinner's one poll begins: virtual time has stood still all along, yet this is no livelock.
    let err = expect_failure(opts(), || {
        std::thread::sleep(Duration::from_millis(850));
        async {
            Node::new("late-spinner")
                .spawn(async {
                    while !STOP.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
                .await
                .ok();
        }
    });
    STOP.store(true, Ordering::Relaxed);
    assert!(
        matches!(&err.failure, Failure::BusyLoop { task } if task.contains("late-spinner")),
        "{err}"
    );
}
