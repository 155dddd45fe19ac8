//! Speed of the simulated network.
//!
//! `cargo run --release -p labrpc --example bench` prints, first, the wall time of a 60 s-virtual
//! workload (5 servers, heartbeats every 100 ms plus random RPCs on an unreliable network), then, on
//! its last line, the cost of one call: `us_per_call=<float>` over 100,000 sequential calls on a
//! reliable network.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // a benchmark measures wall time

use std::time::{Duration, Instant};

use labrpc::harness::{self, Options};
use labrpc::sim::{self, Node};
use labrpc::{Network, Server, Service};

const CALLS: u64 = 100_000;
const SERVERS: usize = 5;

fn options(seed: u64) -> Options {
    Options {
        virtual_limit: Duration::from_secs(3600),
        wall_limit: Duration::from_secs(600),
        ..Options::with_seed(seed)
    }
}

fn echo_server() -> Server {
    let s = Server::new();
    s.add_service(Service::new("Echo").method("Add", |x: u64| async move { x + 1 }));
    s
}

/// Wall time of 100,000 sequential calls from a client node's task (as the labs' peers and
/// clerks make them), measured inside the run.
fn sequential_calls() -> Duration {
    let (wall, _) = harness::run(options(1), || async {
        let net = Network::new();
        let node = Node::new("server");
        net.add_server("server", node.enter(echo_server));
        let end = net.make_end("client");
        net.connect("client", "server");
        net.enable("client", true);
        let client = Node::new("client");
        let calls = client.spawn(async move {
            let t = Instant::now();
            for i in 0..CALLS {
                let r: u64 = end
                    .call("Echo.Add", &i)
                    .await
                    .expect("reliable call failed");
                assert_eq!(r, i + 1);
            }
            t.elapsed()
        });
        calls.await.expect("the client task failed")
    })
    .expect("benchmark run failed");
    wall
}

/// 60 s of virtual time: every server heartbeats every peer each 100 ms and sends random RPCs.
fn workload() -> (Duration, u64) {
    let t = Instant::now();
    let (rpcs, report) = harness::run(options(2), || async {
        let net = Network::new();
        net.reliable(false);
        let nodes: Vec<Node> = (0..SERVERS)
            .map(|i| Node::new(format!("server-{i}")))
            .collect();
        for (i, n) in nodes.iter().enumerate() {
            net.add_server(&format!("server-{i}"), n.enter(echo_server));
        }
        for (i, n) in nodes.iter().enumerate() {
            let ends: Vec<_> = (0..SERVERS)
                .filter(|&j| j != i)
                .map(|j| {
                    let name = format!("end-{i}-{j}");
                    let end = net.make_end(&name);
                    net.connect(&name, &format!("server-{j}"));
                    net.enable(&name, true);
                    end
                })
                .collect();
            let hb = ends.clone();
            n.spawn(async move {
                loop {
                    for e in &hb {
                        let e = e.clone();
                        sim::spawn(async move {
                            let _ = e.call::<u64, u64>("Echo.Add", &1).await;
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            });
            n.spawn(async move {
                loop {
                    let wait = sim::random_range(0..50u64);
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                    let e = ends[sim::random_range(0..ends.len())].clone();
                    let _ = e.call::<u64, u64>("Echo.Add", &7).await;
                }
            });
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
        net.rpc_count()
    })
    .expect("workload run failed");
    println!(
        "workload: 60s virtual, {SERVERS} servers, {rpcs} rpcs, {} events, trace={:016x}",
        report.events, report.trace
    );
    (t.elapsed(), rpcs)
}

fn main() {
    let (wall, _) = workload();
    println!(
        "workload_wall_s={:.3} speedup={:.0}x",
        wall.as_secs_f64(),
        60.0 / wall.as_secs_f64()
    );
    let per_call = sequential_calls().as_secs_f64() * 1e6 / CALLS as f64;
    println!("us_per_call={per_call:.3}");
}
