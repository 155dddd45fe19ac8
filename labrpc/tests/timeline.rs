//! The timeline of a run: recorded only when asked for, without changing the run; its page, and
//! the page as headless Chromium shows it.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // the Chromium check is a process

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use labrpc::harness::{self, Options, TimelineInfo};
use labrpc::sim::timeline::{self, Kind};
use labrpc::sim::{self, Node, Timeline};
use labrpc::{ClientEnd, Network, Server, Service};
use tokio::time::sleep;

/// Servers in the small run below.
const N: usize = 3;

/// A server `srv-i` whose tasks ping the others every 50 ms and log what they see; its label
/// follows the pings it got.
fn start_server(net: &Network, i: usize, generation: u64, ends: &Arc<Mutex<Vec<Vec<String>>>>) {
    let node = Node::new(format!("srv-{i}"));
    let names: Vec<String> = (0..N).map(|j| format!("{i}->{j}#{generation}")).collect();
    let my_ends: Vec<ClientEnd> = names
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let e = net.make_end(name);
            net.connect(name, &format!("srv-{j}"));
            timeline::end_owner(name, &format!("srv-{i}"));
            e
        })
        .collect();
    for (j, name) in names.iter().enumerate() {
        if j != i {
            net.enable(name, true);
        }
    }
    ends.lock().unwrap()[i] = names;
    let server = node.enter(|| {
        let s = Server::new();
        let got = Arc::new(Mutex::new(0u64));
        s.add_service(Service::new("Peer").method("Ping", move |from: u64| {
            let got = got.clone();
            async move {
                let mut g = got.lock().unwrap();
                *g += 1;
                tracing::debug!(from, count = *g, "ping from srv-{from}");
                sim::set_label(format!(
                    "T{} {}",
                    *g / 10,
                    if (*g).is_multiple_of(3) {
                        "leader"
                    } else {
                        "follower"
                    }
                ));
                *g
            }
        }));
        s
    });
    net.add_server(&format!("srv-{i}"), server);
    node.spawn(async move {
        loop {
            for (j, e) in my_ends.iter().enumerate() {
                if j != i {
                    let e = e.clone();
                    sim::spawn(async move {
                        let r: Result<u64, _> = e.call("Peer.Ping", &(i as u64)).await;
                        if let Err(err) = r {
                            tracing::info!(to = j, "ping failed: {err}");
                        }
                    });
                }
            }
            sleep(Duration::from_millis(50)).await;
        }
    });
}

/// A small run on an unreliable network: three servers, a crash and a restart, a cut link,
/// tester actions, checks and observations. Panics at the end when `fail` is set.
async fn small_run(fail: bool) -> u64 {
    let net = Network::new();
    net.reliable(false);
    let ends = Arc::new(Mutex::new(vec![Vec::new(); N]));
    for i in 0..N {
        start_server(&net, i, 0, &ends);
    }
    let check = timeline::check("warm-up");
    sleep(Duration::from_millis(400)).await;
    check.pass("ok");
    timeline::action("crash srv-1");
    net.delete_server("srv-1");
    // The node of srv-1 is the second created after the tester.
    for name in ends.lock().unwrap()[1].clone() {
        net.enable(&name, false);
    }
    sleep(Duration::from_millis(300)).await;
    timeline::action("start srv-1");
    start_server(&net, 1, 1, &ends);
    timeline::observe_state("srv-0", 3, true);
    timeline::observe("srv-2", "looks fine");
    for index in 1..=5 {
        timeline::applied("srv-0", index, &format!("cmd {index}"));
    }
    let op = timeline::op("clerk-0", "put(x, 1)");
    sleep(Duration::from_millis(300)).await;
    op.done("");
    let _check = timeline::check("the last check");
    if fail {
        panic!("the last check failed on purpose");
    }
    net.rpc_count()
}

#[allow(clippy::result_large_err)] // one result per run
fn recorded(fail: bool) -> Result<(u64, harness::Report), harness::RunError> {
    let opts = Options {
        timeline: true,
        ..Options::with_seed(7)
    };
    harness::run(opts, move || small_run(fail))
}

fn timeline_of_a_passing_run() -> Timeline {
    let (_, report) = recorded(false).expect("the run failed");
    report.timeline.expect("no timeline recorded")
}

#[test]
fn recording_changes_nothing_in_the_run() {
    let plain = harness::run(Options::with_seed(7), || small_run(false)).unwrap();
    let (rpcs, rec) = recorded(false).unwrap();
    assert!(plain.1.timeline.is_none());
    assert_eq!(plain.1.trace, rec.trace, "recording changed the trace");
    assert_eq!(plain.1.events, rec.events);
    assert_eq!(plain.0, rpcs);
    assert!(rec.timeline.is_some());
}

#[test]
fn ids_pair_every_delivery_and_reply_with_its_send() {
    let tl = timeline_of_a_passing_run();
    let lane = |name: &str| tl.lanes.iter().position(|l| l == name).unwrap() as u32;
    let mut sends = std::collections::BTreeMap::new();
    let (mut delivered, mut replies, mut lost) = (0, 0, 0);
    for e in &tl.events {
        match e.kind {
            Kind::Send => {
                assert!(e.id > 0);
                assert!(
                    sends.insert(e.id, e.clone()).is_none(),
                    "id {} sent twice",
                    e.id
                );
                assert_eq!(tl.strings[e.text as usize], "Peer.Ping");
            }
            Kind::Deliver => {
                let s = &sends[&e.id];
                assert_eq!(s.peer, Some(e.lane), "delivered elsewhere than sent to");
                assert!(s.at_ns <= e.at_ns);
                delivered += 1;
            }
            Kind::Reply | Kind::DropReply | Kind::DropRequest | Kind::Fail => {
                assert_eq!(
                    sends[&e.id].lane, e.lane,
                    "the outcome is on the caller's lane"
                );
                if e.kind == Kind::Reply {
                    replies += 1;
                } else {
                    lost += 1;
                }
            }
            _ => {}
        }
    }
    assert!(
        delivered > 50 && replies > 50 && lost > 0,
        "{delivered} {replies} {lost}"
    );
    let kinds = |k: Kind| tl.events.iter().filter(|e| e.kind == k).count();
    assert_eq!(kinds(Kind::Crash), 0, "no node was killed in this run");
    assert_eq!(kinds(Kind::Start), N + 1);
    let restarts: Vec<_> = tl
        .events
        .iter()
        .filter(|e| e.kind == Kind::Start && e.num == 1)
        .collect();
    assert_eq!(restarts.len(), 1);
    assert_eq!(restarts[0].lane, lane("srv-1"));
    // srv-1's ends were disabled, on its lane.
    assert!(
        tl.events
            .iter()
            .any(|e| e.kind == Kind::Link && e.num == 0 && e.lane == lane("srv-1"))
    );
    assert_eq!(kinds(Kind::CheckBegin), 2);
    assert_eq!(kinds(Kind::CheckEnd), 2, "the dropped check ends too");
    assert_eq!(kinds(Kind::Applied), 5);
    assert_eq!(kinds(Kind::OpBegin), 1);
    assert_eq!(kinds(Kind::OpEnd), 1);
}

#[test]
fn labels_and_log_lines_are_recorded_on_their_lanes() {
    let tl = timeline_of_a_passing_run();
    let lane = |name: &str| tl.lanes.iter().position(|l| l == name).unwrap() as u32;
    let labels: Vec<&str> = tl
        .events
        .iter()
        .filter(|e| e.kind == Kind::Label && e.lane == lane("srv-2"))
        .map(|e| tl.strings[e.text as usize].as_str())
        .collect();
    assert!(
        labels.contains(&"T0 leader") && labels.contains(&"T1 follower"),
        "{labels:?}"
    );
    for w in labels.windows(2) {
        assert_ne!(w[0], w[1], "an unchanged label is recorded once");
    }
    // RUST_LOG is not needed: every event of the run's thread is captured, with its fields.
    let line = tl
        .logs
        .iter()
        .find(|l| l.lane == lane("srv-0") && l.level == 4)
        .expect("no debug line of srv-0");
    assert!(line.text.starts_with("ping from srv-"), "{}", line.text);
    assert!(
        line.text.contains(" from=") && line.text.contains(" count="),
        "{}",
        line.text
    );
    assert_eq!(tl.strings[line.target as usize], "timeline");
    assert_eq!(tl.logs_dropped, 0);
}

#[test]
fn a_failed_run_hands_its_timeline_up_to_the_failure() {
    let err = recorded(true).expect_err("the run should fail");
    let tl = err.timeline.expect("no timeline with the failure");
    assert_eq!(tl.end_ns, err.virtual_time.as_nanos() as u64);
    assert!(tl.end_ns >= 1_000_000_000, "{}", tl.end_ns);
    let last_check = tl
        .events
        .iter()
        .rev()
        .find(|e| e.kind == Kind::CheckEnd)
        .unwrap();
    assert_eq!(last_check.num, 0, "the check that panicked ends as failed");
}

/// A run the watchdog stops (here: a blocking wait in the test body) hands its timeline too.
#[test]
fn a_run_the_watchdog_stops_hands_its_timeline_too() {
    let opts = Options {
        timeline: true,
        stall_limit: Duration::from_millis(400),
        ..Options::with_seed(7)
    };
    let err = harness::run(opts, || async {
        timeline::action("about to block");
        sleep(Duration::from_millis(100)).await;
        let (_tx, rx) = std::sync::mpsc::channel::<()>();
        let _ = rx.recv_timeout(Duration::from_secs(3));
    })
    .expect_err("the run should have been stopped");
    let tl = err
        .timeline
        .expect("no timeline with the watchdog's failure");
    assert!(
        tl.events
            .iter()
            .any(|e| e.kind == Kind::Action && tl.strings[e.text as usize] == "about to block")
    );
    assert_eq!(tl.end_ns, 100_000_000, "{}", err.failure);
}

/// The page of a failed run, in this test's own part of the target directory.
fn saved_page(budget: usize) -> PathBuf {
    let err = recorded(true).expect_err("the run should fail");
    let tl = err.timeline.as_deref().unwrap();
    let info = TimelineInfo {
        test: "timeline::small_run".into(),
        seed: 7,
        failure: Some(err.failure.to_string()),
        replay: "LAB_SEED=7 cargo test -p labrpc --test timeline".into(),
    };
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("timeline");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("small_run-{budget}.html"));
    std::fs::write(&path, harness::render_timeline(tl, &info, budget)).unwrap();
    path
}

#[test]
fn the_page_of_a_real_run_is_self_contained() {
    let path = saved_page(harness::PAGE_BUDGET);
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(html.len() < 2_000_000, "{} bytes", html.len());
    for want in [
        "\"srv-0\"",
        "\"srv-2\"",
        "\"clerk-0\"",
        "Peer.Ping",
        "the last check failed on purpose",
        "ping from srv-",
    ] {
        assert!(html.contains(want), "the page lacks {want}");
    }
    // Nothing fetched: no external script, style, image or font.
    for bad in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!html.contains(bad), "the page refers to {bad}");
    }
}

/// Chromium, if installed.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("chromium"))
        .find(|p| p.is_file())
}

/// Runs headless Chromium on `page` with `args`; returns its standard output.
fn run_chromium(chromium: &Path, page: &Path, args: &[&str], hash: &str) -> String {
    let profile = page.with_file_name("chromium-profile");
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!(
            "file://{}{hash}",
            page.canonicalize().unwrap().display()
        ))
        .output()
        .expect("could not run chromium");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The page loads in headless Chromium without a script error, draws every lane, and its
/// screenshot is not blank.
#[test]
fn chromium_draws_the_page() {
    let Some(chromium) = chromium() else {
        println!("skipped: no `chromium` on PATH");
        return;
    };
    // A page cut to its last part (the note, the window) for the script's self-test ...
    let page = saved_page(10_000);
    let dom = run_chromium(
        &chromium,
        &page,
        &["--dump-dom", "--virtual-time-budget=3000"],
        "#selftest",
    );
    assert!(
        !dom.contains("class=\"script-error\"") && !dom.contains("data-error="),
        "the page had a script error:\n{}",
        errors(&dom)
    );
    assert!(
        dom.contains("data-rendered=\"5\""),
        "the page did not draw its 5 lanes (tester, 3 servers, a clerk): {}",
        &dom[..dom.len().min(600)]
    );
    // The self-test showed the details of each kind of event (all but crashes and user events),
    // searched, zoomed and clicked.
    assert!(
        dom.contains("data-selftest=\"19 kinds\""),
        "{}",
        &dom[..dom.len().min(600)]
    );
    assert!(dom.contains("earlier network events"), "no note of the cut");
    // ... and the whole run for the screenshot.
    let page = saved_page(harness::PAGE_BUDGET);
    let shot = page.with_file_name("screenshot.png");
    let _ = std::fs::remove_file(&shot);
    run_chromium(
        &chromium,
        &page,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1400,900",
            "--virtual-time-budget=3000",
        ],
        "",
    );
    let png = std::fs::read(&shot).expect("no screenshot");
    assert_eq!(&png[1..4], b"PNG");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1400, 900));
    // A blank page compresses to almost nothing; a drawn one does not.
    assert!(
        png.len() > 40_000,
        "the screenshot looks blank ({} bytes)",
        png.len()
    );
}

fn errors(dom: &str) -> String {
    dom.split("class=\"script-error\"")
        .skip(1)
        .map(|s| s.chars().take(300).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}
