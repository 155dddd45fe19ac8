//! The simulated network: Go labrpc's tests, in virtual time, and checks of every number it uses.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use labrpc::harness::{self, Options, TestRun};
use labrpc::sim::{self, Node};
use labrpc::{ClientEnd, Network, RpcError, Server, Service};
use serde::{Deserialize, Serialize};
use tokio::time::{Instant, sleep};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Point {
    x: i64,
    label: String,
    tags: Vec<u8>,
}

/// A server with a few methods of different types, on its own node.
fn junk_server() -> Server {
    Node::new("junk").enter(|| {
        let s = Server::new();
        s.add_service(
            Service::new("Junk")
                .method("Double", |x: u64| async move { x * 2 })
                .method(
                    "Greet",
                    |name: String| async move { format!("hello {name}") },
                )
                .method("Move", |p: Point| async move { Point { x: p.x + 1, ..p } })
                .method("Sleep", |ms: u64| async move {
                    sleep(Duration::from_millis(ms)).await;
                    ms
                }),
        );
        s
    })
}

/// A network with the junk server as `server` and a connected, enabled end called `end`.
fn setup() -> (Network, ClientEnd) {
    let net = Network::new();
    net.add_server("server", junk_server());
    let end = net.make_end("end");
    net.connect("end", "server");
    net.enable("end", true);
    (net, end)
}

/// Runs a test body through the harness, as every simulated test runs (seed, summary line with
/// `seed=` and `trace=`, replay command), and returns the body's value.
fn run<T, F, Fut>(f: F) -> T
where
    T: Send + 'static,
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = T> + 'static,
{
    let value = std::sync::Mutex::new(None);
    TestRun::new().run_then(f, |v, _seed| {
        *value.lock().unwrap() = Some(v);
        Ok(String::new())
    });
    let value = value.into_inner().unwrap();
    value.expect("the harness hands the body's value on")
}

#[test]
fn basic() {
    run(|| async {
        let (_, end) = setup();
        let r: u64 = end.call("Junk.Double", &21u64).await.unwrap();
        assert_eq!(r, 42);
    });
}

#[test]
fn several_types() {
    run(|| async {
        let (_, end) = setup();
        let r: String = end.call("Junk.Greet", "raft").await.unwrap();
        assert_eq!(r, "hello raft");
        let p = Point {
            x: 1,
            label: "p".into(),
            tags: vec![1, 2, 3],
        };
        let r: Point = end.call("Junk.Move", &p).await.unwrap();
        assert_eq!(r, Point { x: 2, ..p });
    });
}

#[test]
fn disconnect() {
    run(|| async {
        let net = Network::new();
        net.add_server("server", junk_server());
        let end = net.make_end("end");
        // Unconnected, then connected but disabled: both fail.
        assert_eq!(
            end.call::<u64, u64>("Junk.Double", &1).await,
            Err(RpcError::Unreachable)
        );
        net.connect("end", "server");
        assert_eq!(
            end.call::<u64, u64>("Junk.Double", &1).await,
            Err(RpcError::Unreachable)
        );
        net.enable("end", true);
        assert_eq!(end.call::<u64, u64>("Junk.Double", &1).await, Ok(2));
        net.enable("end", false);
        assert_eq!(
            end.call::<u64, u64>("Junk.Double", &1).await,
            Err(RpcError::Unreachable)
        );
        assert_eq!(net.server_rpc_count("server"), 1);
    });
}

#[test]
fn counts() {
    run(|| async {
        let (net, end) = setup();
        for i in 0..17u64 {
            let r: u64 = end.call("Junk.Double", &i).await.unwrap();
            assert_eq!(r, 2 * i);
        }
        assert_eq!(net.server_rpc_count("server"), 17);
        assert_eq!(net.rpc_count(), 17);
        assert_eq!(net.server_rpc_count("nobody"), 0);
    });
}

#[test]
fn bytes() {
    run(|| async {
        let (net, end) = setup();
        let name = "x".repeat(5000);
        let _: String = end.call("Junk.Greet", name.as_str()).await.unwrap();
        let request = postcard::to_allocvec(name.as_str()).unwrap().len() as u64;
        let reply = postcard::to_allocvec(&format!("hello {name}"))
            .unwrap()
            .len() as u64;
        assert_eq!(net.byte_count(), request + reply);
        assert!(net.byte_count() > 10_000 && net.byte_count() < 10_020);
    });
}

#[test]
fn concurrent_many() {
    run(|| async {
        let (net, _) = setup();
        let ok = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for c in 0..20 {
            let name = format!("end-{c}");
            let end = net.make_end(&name);
            net.connect(&name, "server");
            net.enable(&name, true);
            let ok = ok.clone();
            tasks.push(sim::spawn(async move {
                for i in 0..10u64 {
                    let r: u64 = end.call("Junk.Double", &(c * 100 + i)).await.unwrap();
                    assert_eq!(r, 2 * (c * 100 + i));
                    ok.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(ok.load(Ordering::Relaxed), 200);
        assert_eq!(net.server_rpc_count("server"), 200);
    });
}

#[test]
fn concurrent_one() {
    run(|| async {
        let (net, end) = setup();
        let mut tasks = Vec::new();
        for i in 0..20u64 {
            let end = end.clone();
            tasks.push(sim::spawn(async move {
                end.call::<u64, u64>("Junk.Double", &i).await
            }));
        }
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(t.await.unwrap(), Ok(2 * i as u64));
        }
        assert_eq!(net.server_rpc_count("server"), 20);
    });
}

#[test]
fn unreliable() {
    run(|| async {
        let (net, _) = setup();
        net.reliable(false);
        let mut tasks = Vec::new();
        for c in 0..300u64 {
            let name = format!("end-{c}");
            let end = net.make_end(&name);
            net.connect(&name, "server");
            net.enable(&name, true);
            tasks.push(sim::spawn(async move {
                end.call::<u64, u64>("Junk.Double", &c).await
            }));
        }
        let (mut ok, mut failed) = (0, 0);
        for (c, t) in tasks.into_iter().enumerate() {
            match t.await.unwrap() {
                Ok(r) => {
                    assert_eq!(r, 2 * c as u64);
                    ok += 1;
                }
                Err(RpcError::Lost) => failed += 1,
                Err(e) => panic!("unexpected error {e}"),
            }
        }
        assert!(ok > 0 && failed > 0, "{ok} succeeded, {failed} failed");
    });
}

/// After `enable`, a call gets through at once (within 30 ms, Go's bound), even with calls still
/// waiting out long delays.
#[test]
fn regression() {
    run(|| async {
        let (net, end) = setup();
        net.enable("end", false);
        net.long_delays(true);
        for _ in 0..20 {
            let end = end.clone();
            sim::spawn(async move {
                let _ = end.call::<u64, u64>("Junk.Double", &1).await;
            });
        }
        sleep(Duration::from_millis(100)).await;
        let t0 = Instant::now();
        net.enable("end", true);
        assert_eq!(end.call::<u64, u64>("Junk.Double", &99).await, Ok(198));
        assert!(
            t0.elapsed() <= Duration::from_millis(30),
            "took {:?}",
            t0.elapsed()
        );
    });
}

/// A call stuck in a handler fails at the caller's next 100 ms check once the server is deleted.
#[test]
fn killed_server() {
    run(|| async {
        let (net, end) = setup();
        let call = sim::spawn({
            let end = end.clone();
            async move {
                let t0 = Instant::now();
                (
                    end.call::<u64, u64>("Junk.Sleep", &20_000).await,
                    t0.elapsed(),
                )
            }
        });
        sleep(Duration::from_millis(250)).await;
        net.delete_server("server");
        let (r, took) = call.await.unwrap();
        assert_eq!(r, Err(RpcError::Unreachable));
        assert_eq!(
            took,
            Duration::from_millis(300),
            "fails at the 100 ms check after the deletion"
        );
        // Disabling the end does the same to a call in progress.
        net.add_server("server", junk_server());
        let call = sim::spawn(async move {
            let t0 = Instant::now();
            (
                end.call::<u64, u64>("Junk.Sleep", &20_000).await,
                t0.elapsed(),
            )
        });
        sleep(Duration::from_millis(120)).await;
        net.enable("end", false);
        let (r, took) = call.await.unwrap();
        assert_eq!(r, Err(RpcError::Unreachable));
        assert_eq!(took, Duration::from_millis(200));
    });
}

/// Killing the server's node aborts its handlers; the caller fails at its next check.
#[test]
fn killed_node() {
    run(|| async {
        let net = Network::new();
        let node = Node::new("victim");
        let server = node.enter(|| {
            let s = Server::new();
            s.add_service(Service::new("Junk").method("Sleep", |ms: u64| async move {
                sleep(Duration::from_millis(ms)).await;
                ms
            }));
            s
        });
        net.add_server("server", server);
        let end = net.make_end("end");
        net.connect("end", "server");
        net.enable("end", true);
        let call = sim::spawn(async move {
            let t0 = Instant::now();
            (
                end.call::<u64, u64>("Junk.Sleep", &20_000).await,
                t0.elapsed(),
            )
        });
        sleep(Duration::from_millis(50)).await;
        node.kill();
        let (r, took) = call.await.unwrap();
        assert_eq!(r, Err(RpcError::Unreachable));
        assert_eq!(took, Duration::from_millis(100));
    });
}

/// Latencies of `n` concurrent calls (each on its own task), `None` for failed calls.
async fn latencies(end: &ClientEnd, method: &'static str, n: usize) -> Vec<Option<Duration>> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let end = end.clone();
            sim::spawn(async move {
                let t0 = Instant::now();
                let r = end.call::<u64, u64>(method, &0).await;
                r.ok().map(|_| t0.elapsed())
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// `count` successes out of `n` trials of probability `p`, within six standard deviations.
fn assert_rate(what: &str, count: usize, n: usize, p: f64) {
    let mean = n as f64 * p;
    let sd = (n as f64 * p * (1.0 - p)).sqrt();
    assert!(
        (count as f64 - mean).abs() <= 6.0 * sd,
        "{what}: {count} of {n}, expected about {mean:.0} (p = {p})"
    );
}

#[test]
fn unreliable_numbers() {
    const N: usize = 10_000;
    run(|| async {
        let (net, end) = setup();
        net.reliable(false);
        let lat = latencies(&end, "Junk.Double", N).await;
        let delivered = net.server_rpc_count("server") as usize;
        let ok: Vec<u64> = lat.iter().flatten().map(|d| d.as_millis() as u64).collect();
        // 10% of requests lost, then 10% of replies.
        assert_rate("requests delivered", delivered, N, 0.9);
        assert_rate("replies delivered", ok.len(), delivered, 0.9);
        // Each request waits 0-26 ms, uniformly; the reply then takes REPLY_LATENCY.
        let lat = labrpc::REPLY_LATENCY;
        assert_eq!(ok.iter().min(), Some(&lat));
        assert_eq!(ok.iter().max(), Some(&(26 + lat)));
        let zero = ok.iter().filter(|&&d| d == lat).count();
        assert_rate("requests without delay", zero, ok.len(), 1.0 / 27.0);
    });
}

#[test]
fn unreachable_delays() {
    const N: usize = 10_000;
    run(|| async {
        let net = Network::new();
        let end = net.make_end("end");
        for (long, range) in [(false, 100u64), (true, 7000)] {
            net.long_delays(long);
            let tasks: Vec<_> = (0..N)
                .map(|_| {
                    let end = end.clone();
                    sim::spawn(async move {
                        let t0 = Instant::now();
                        let r = end.call::<u64, u64>("Junk.Double", &0).await;
                        assert_eq!(r, Err(RpcError::Unreachable));
                        t0.elapsed().as_millis() as u64
                    })
                })
                .collect();
            let mut waits = Vec::new();
            for t in tasks {
                waits.push(t.await.unwrap());
            }
            // Uniform over 0..range: all inside, both ends reached (within 0.2% of the range).
            let (min, max) = (*waits.iter().min().unwrap(), *waits.iter().max().unwrap());
            assert!(max < range, "long_delays={long}: waited {max} ms");
            assert!(
                min <= range / 500 && max >= range - 1 - range / 500,
                "{min}..{max}"
            );
            let mean = waits.iter().sum::<u64>() as f64 / N as f64;
            let expected = (range - 1) as f64 / 2.0;
            assert!(
                (mean - expected).abs() < expected * 0.05,
                "mean wait {mean}"
            );
        }
    });
}

#[test]
fn reordering_delays() {
    const N: usize = 10_000;
    run(|| async {
        let (net, end) = setup();
        net.long_reordering(true);
        let lat: Vec<u64> = latencies(&end, "Junk.Double", N)
            .await
            .into_iter()
            .map(|d| d.expect("a reliable call failed").as_millis() as u64)
            .collect();
        let delayed: Vec<u64> = lat
            .iter()
            .copied()
            .filter(|&d| d > labrpc::REPLY_LATENCY)
            .collect();
        // 600 of 900 replies are delayed by 200 + rand(1 + rand(2000)) ms: 200..=2199; the
        // others take the usual REPLY_LATENCY.
        assert_rate("replies delayed", delayed.len(), N, 600.0 / 900.0);
        let usual = lat.iter().filter(|&&d| d == labrpc::REPLY_LATENCY).count();
        assert_eq!(usual, N - delayed.len());
        assert!(delayed.iter().all(|&d| (200..=2199).contains(&d)));
        assert!(*delayed.iter().min().unwrap() <= 201);
        assert!(*delayed.iter().max().unwrap() >= 2000);
        // rand(1 + rand(2000)) has mean about 500: the nested draw skews delays short.
        let mean = delayed.iter().sum::<u64>() as f64 / delayed.len() as f64 - 200.0;
        assert!((mean - 500.0).abs() < 50.0, "mean extra delay {mean}");
    });
}

#[test]
fn unknown_method_fails_the_run() {
    let err = harness::run(Options::with_seed(1), || async {
        let (_, end) = setup();
        let _ = end.call::<u64, u64>("Junk.Tripple", &1).await;
        sleep(Duration::from_secs(1)).await;
    })
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("unknown RPC method \"Junk.Tripple\""), "{msg}");
    assert!(
        msg.contains("Junk.Double, Junk.Greet, Junk.Move, Junk.Sleep"),
        "{msg}"
    );
    assert!(msg.contains("seed=1"), "{msg}");
}

#[test]
fn mismatched_types_fail_the_run() {
    let err = harness::run(Options::with_seed(1), || async {
        let (_, end) = setup();
        let _ = end
            .call::<Point, u64>(
                "Junk.Greet",
                &Point {
                    x: 1,
                    label: "a".into(),
                    tags: vec![],
                },
            )
            .await;
        sleep(Duration::from_secs(1)).await;
    });
    // A Point does not decode as a String here (postcard has no schema, so some mismatches pass).
    if let Err(e) = err {
        assert!(e.to_string().contains("Junk.Greet"), "{e}");
    }
    let err = harness::run(Options::with_seed(1), || async {
        let (_, end) = setup();
        let _ = end.call::<u64, Point>("Junk.Double", &1).await;
        sleep(Duration::from_secs(1)).await;
    })
    .unwrap_err();
    assert!(err.to_string().contains("could not be decoded as"), "{err}");
}

/// A server that counts the calls its `Count` method gets, on its own node.
fn counting_server(count: Arc<AtomicU64>) -> Server {
    Node::new("counting").enter(|| {
        let s = Server::new();
        s.add_service(Service::new("C").method("Count", move |x: u64| {
            let count = count.clone();
            async move {
                count.fetch_add(1, Ordering::SeqCst);
                x
            }
        }));
        s
    })
}

/// A network with the counting server as `server` and a connected, enabled end called `end`.
fn counting_setup() -> (Network, ClientEnd, Arc<AtomicU64>) {
    let net = Network::new();
    let count = Arc::new(AtomicU64::new(0));
    net.add_server("server", counting_server(count.clone()));
    let end = net.make_end("end");
    net.connect("end", "server");
    net.enable("end", true);
    (net, end, count)
}

#[test]
fn held_calls_wait_and_leave_in_order() {
    run(|| async {
        let (net, end, count) = counting_setup();
        net.hold("end", true);
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut calls = Vec::new();
        for i in 0..3u64 {
            let (end, order) = (end.clone(), order.clone());
            calls.push(sim::spawn(async move {
                let r: u64 = end.call("C.Count", &i).await.unwrap();
                order.lock().unwrap().push(r);
            }));
            sleep(Duration::from_millis(1)).await;
        }
        sleep(Duration::from_millis(500)).await;
        assert_eq!(
            count.load(Ordering::SeqCst),
            0,
            "a held call reached the server"
        );
        assert_eq!(net.held_count("end"), 3);
        assert_eq!(net.release("end", 1), 1);
        sleep(Duration::from_millis(10)).await;
        assert_eq!(*order.lock().unwrap(), vec![0]);
        assert_eq!(net.held_count("end"), 2);
        // Letting the hold go lets the rest go, in order; new calls pass at once.
        net.hold("end", false);
        for c in calls {
            c.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2]);
        assert_eq!(end.call::<u64, u64>("C.Count", &7).await, Ok(7));
        assert_eq!(net.release("end", 5), 0);
    });
}

#[test]
fn held_replies_wait_and_are_lost_when_the_end_is_cut() {
    run(|| async {
        let (net, end, count) = counting_setup();
        net.hold_replies("end", true);
        let e = end.clone();
        let call = sim::spawn(async move { e.call::<u64, u64>("C.Count", &1).await });
        sleep(Duration::from_millis(300)).await;
        // The request took effect; its reply waits.
        assert_eq!(count.load(Ordering::SeqCst), 1);
        assert_eq!(net.replies_held("end"), 1);
        net.enable("end", false);
        assert_eq!(call.await.unwrap(), Err(RpcError::Unreachable));
        assert_eq!(net.replies_held("end"), 0);
        // Un-held, a waiting reply arrives.
        net.enable("end", true);
        let e = end.clone();
        let call = sim::spawn(async move { e.call::<u64, u64>("C.Count", &2).await });
        sleep(Duration::from_millis(300)).await;
        net.hold_replies("end", false);
        assert_eq!(call.await.unwrap(), Ok(2));
    });
}

#[test]
fn replay_delivers_recorded_requests_again() {
    run(|| async {
        let (net, end, count) = counting_setup();
        end.call::<u64, u64>("C.Count", &0).await.unwrap();
        net.record("end", true);
        for i in 1..4u64 {
            end.call::<u64, u64>("C.Count", &i).await.unwrap();
        }
        net.record("end", false);
        end.call::<u64, u64>("C.Count", &9).await.unwrap();
        assert_eq!(net.recorded_methods("end"), vec!["C.Count"; 3]);
        assert_eq!(count.load(Ordering::SeqCst), 5);
        assert_eq!(net.replay("end").await, 3);
        assert_eq!(count.load(Ordering::SeqCst), 8);
        // A cut end delivers no copies.
        net.enable("end", false);
        assert_eq!(net.replay("end").await, 0);
        assert_eq!(count.load(Ordering::SeqCst), 8);
    });
}

#[test]
fn lost_replies_leave_the_requests_in_effect() {
    run(|| async {
        let (net, end, count) = counting_setup();
        net.lose_replies("end", true);
        assert_eq!(
            end.call::<u64, u64>("C.Count", &1).await,
            Err(RpcError::Lost)
        );
        assert_eq!(count.load(Ordering::SeqCst), 1);
        net.lose_replies("end", false);
        assert_eq!(end.call::<u64, u64>("C.Count", &2).await, Ok(2));
    });
}
