//! The watchdog: each way a run can go wrong gets its own verdict, within a few seconds of wall
//! time, and the next run still works.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // these tests block and spin on purpose

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};
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

#[test]
fn spinning_is_a_busy_loop() {
    static STOP: AtomicBool = AtomicBool::new(false);
    let err = expect_failure(opts(), || async {
        Node::new("spinner")
            .spawn(async {
                while !STOP.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
            .await
            .ok();
    });
    STOP.store(true, Ordering::Relaxed);
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
    let err = expect_failure(
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
    );
    assert!(matches!(err.failure, Failure::WallLimit { .. }), "{err}");
}
