//! The timeline page: one self-contained HTML file per run (inline script and style, data as
//! compact JSON, nothing fetched), written next to the linearizability view.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::PathBuf;

use crate::sim::Timeline;
use crate::sim::timeline::{Kind, LogLine, TimelineEvent};

/// What the page says about the run besides its timeline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimelineInfo {
    /// The test's name (`raft_2a::initial_election_2a`).
    pub test: String,
    /// The run's seed.
    pub seed: u64,
    /// The failure's message, for a failed run: marked at the end of the timeline.
    pub failure: Option<String>,
    /// The command that replays the run.
    pub replay: String,
}

/// How many bytes of data a page embeds by default; past it, only the latest part of the run's
/// network events, applied entries and log lines is kept (`LAB_TIMELINE=full` keeps all).
pub const PAGE_BUDGET: usize = 8_000_000;

/// Writes the page of `tl` to `<CARGO_TARGET_DIR or target>/timeline/<test>-seed<seed>.html`
/// (`::` in the test's name becomes `-`) and returns its path.
pub fn save_timeline(tl: &Timeline, info: &TimelineInfo) -> io::Result<PathBuf> {
    let target =
        PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()));
    let path = page_path(&target, info);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let full =
        std::env::var(labspec::env::TIMELINE).is_ok_and(|v| v == labspec::env::TIMELINE_FULL);
    let budget = if full { usize::MAX } else { PAGE_BUDGET };
    std::fs::write(&path, render_timeline(tl, info, budget))?;
    Ok(path)
}

/// Where the page of `info`'s run goes under the target directory `target`.
fn page_path(target: &std::path::Path, info: &TimelineInfo) -> PathBuf {
    target.join("timeline").join(format!(
        "{}-seed{}.html",
        info.test.replace("::", "-"),
        info.seed
    ))
}

/// The start of the window that fits `budget` bytes, counting back from the end: 0 when the
/// whole run fits. Estimates what each event and log line adds to the page.
fn window_start(tl: &Timeline, budget: usize) -> u64 {
    let mut times: Vec<(u64, usize)> = tl
        .events
        .iter()
        .filter(|e| e.kind.is_frequent())
        .map(|e| (e.at_ns, 24))
        .chain(
            tl.logs
                .iter()
                .map(|l| (l.at_ns, 24 + l.text.len() * 11 / 10)),
        )
        .collect();
    let total: usize = times.iter().map(|t| t.1).sum();
    if total <= budget {
        return 0;
    }
    times.sort_unstable_by_key(|t| std::cmp::Reverse(t.0));
    let mut used = 0;
    for (at, size) in times {
        used += size;
        if used > budget {
            return at + 1;
        }
    }
    0
}

/// Renders the page of `tl`, embedding at most about `budget` bytes of bulky data (see
/// [`save_timeline`]).
pub fn render_timeline(tl: &Timeline, info: &TimelineInfo, budget: usize) -> String {
    let data = page_data(tl, info, window_start(tl, budget));
    let title = format!("{} seed {} — timeline", info.test, info.seed);
    PAGE.replace("{{TITLE}}", &html_escape(&title))
        .replace("{{CSS}}", PAGE_CSS)
        .replace("{{JS}}", PAGE_JS)
        // JSON inside a script element: no `<` (only strings hold one), so nothing can end it.
        .replace("{{DATA}}", &data.replace('<', "\\u003c"))
}

/// What the page embeds, as JSON: the run's facts, then the events and log lines from `from` on
/// (and every rare event) as columns, strings as tables.
fn page_data(tl: &Timeline, info: &TimelineInfo, from: u64) -> String {
    // Before the window: the rare events, but of the labels (which may change often) only each
    // lane's last, which holds at the window's start.
    let mut last_label = BTreeMap::new();
    for (i, e) in tl.events.iter().enumerate() {
        if e.kind == Kind::Label && e.at_ns < from {
            last_label.insert(e.lane, i);
        }
    }
    let events: Vec<&TimelineEvent> = tl
        .events
        .iter()
        .enumerate()
        .filter(|(i, e)| {
            e.at_ns >= from
                || match e.kind {
                    Kind::Label => last_label.get(&e.lane) == Some(i),
                    k => !k.is_frequent(),
                }
        })
        .map(|(_, e)| e)
        .collect();
    let logs: Vec<&LogLine> = tl.logs.iter().filter(|l| l.at_ns >= from).collect();
    // Only the strings the kept events and lines use, renumbered.
    let mut renumber = vec![u32::MAX; tl.strings.len()];
    let mut kept_strings: Vec<String> = Vec::new();
    let mut string = |i: u32| -> i64 {
        let slot = &mut renumber[i as usize];
        if *slot == u32::MAX {
            *slot = kept_strings.len() as u32;
            kept_strings.push(tl.strings[i as usize].clone());
        }
        i64::from(*slot)
    };
    let texts: Vec<i64> = events.iter().map(|e| string(e.text)).collect();
    let targets: Vec<i64> = logs.iter().map(|l| string(l.target)).collect();

    let mut d = String::with_capacity(events.len() * 24 + 4096);
    let _ = write!(
        d,
        "{{\"test\":{},\"seed\":\"{}\",\"failure\":{},\"replay\":{},\"end\":{},",
        json(&info.test),
        info.seed,
        info.failure.as_deref().map_or("null".into(), json),
        json(&info.replay),
        tl.end_ns / 1000
    );
    let _ = write!(
        d,
        "\"window\":{{\"from\":{},\"cutEvents\":{},\"cutLogs\":{},\
         \"logsDropped\":{},\"eventsDropped\":{}}},",
        from / 1000,
        tl.events.len() - events.len(),
        tl.logs.len() - logs.len(),
        tl.logs_dropped,
        tl.events_dropped
    );
    strings(&mut d, "lanes", &tl.lanes);
    strings(&mut d, "strings", &kept_strings);
    let kinds: Vec<String> = KINDS.iter().map(|k| format!("{k:?}")).collect();
    strings(&mut d, "kinds", &kinds);
    // Columns of numbers; times (µs) and ids as differences from the previous one.
    let ev = &events;
    let us = |ns: u64| (ns / 1000) as i64;
    d.push_str("\"ev\":{");
    column(&mut d, "t", ev.iter().map(|e| us(e.at_ns)), true);
    column(&mut d, "k", ev.iter().map(|e| kind_index(e.kind)), false);
    column(&mut d, "l", ev.iter().map(|e| i64::from(e.lane)), false);
    let peers = ev.iter().map(|e| e.peer.map_or(-1, i64::from));
    column(&mut d, "p", peers, false);
    column(&mut d, "i", ev.iter().map(|e| e.id as i64), true);
    column(&mut d, "n", ev.iter().map(|e| e.num as i64), false);
    column(&mut d, "s", texts.into_iter(), false);
    d.pop();
    d.push_str("},\"logs\":{");
    column(&mut d, "t", logs.iter().map(|l| us(l.at_ns)), true);
    column(&mut d, "l", logs.iter().map(|l| i64::from(l.lane)), false);
    column(&mut d, "v", logs.iter().map(|l| i64::from(l.level)), false);
    column(&mut d, "g", targets.into_iter(), false);
    let texts: Vec<String> = logs.iter().map(|l| l.text.clone()).collect();
    strings(&mut d, "x", &texts);
    d.pop();
    d.push_str("}}");
    d
}

/// A string as JSON.
fn json(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Writes `"name":["s",...],`.
fn strings(d: &mut String, name: &str, list: &[String]) {
    let _ = write!(d, "\"{name}\":[");
    for (i, s) in list.iter().enumerate() {
        if i > 0 {
            d.push(',');
        }
        d.push_str(&json(s));
    }
    d.push_str("],");
}

/// Writes `"name":[v,...],`, each value as the difference from the previous one when `delta`.
fn column(d: &mut String, name: &str, values: impl Iterator<Item = i64>, delta: bool) {
    let _ = write!(d, "\"{name}\":[");
    let mut prev = 0i64;
    for (i, v) in values.enumerate() {
        if i > 0 {
            d.push(',');
        }
        let _ = write!(d, "{}", if delta { v - prev } else { v });
        prev = v;
    }
    d.push_str("],");
}

/// Every kind, in the order the page numbers them.
const KINDS: [Kind; 21] = [
    Kind::Send,
    Kind::Deliver,
    Kind::DropRequest,
    Kind::Handled,
    Kind::Reply,
    Kind::DropReply,
    Kind::Fail,
    Kind::Crash,
    Kind::Start,
    Kind::Label,
    Kind::Link,
    Kind::Server,
    Kind::Action,
    Kind::CheckBegin,
    Kind::CheckEnd,
    Kind::ObserveState,
    Kind::Observe,
    Kind::Applied,
    Kind::OpBegin,
    Kind::OpEnd,
    Kind::User,
];

fn kind_index(k: Kind) -> i64 {
    KINDS.iter().position(|x| *x == k).unwrap_or(0) as i64
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

const PAGE: &str = include_str!("timeline_page.html");
const PAGE_CSS: &str = include_str!("timeline_page.css");
const PAGE_JS: &str = include_str!("timeline_page.js");

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(at_ns: u64, kind: Kind) -> TimelineEvent {
        TimelineEvent {
            at_ns,
            kind,
            lane: 0,
            peer: None,
            id: 0,
            num: 0,
            text: 0,
        }
    }

    #[test]
    fn pages_go_under_the_target_directory_by_test_and_seed() {
        let info = TimelineInfo {
            test: "raft_2a::initial_election_2a".into(),
            seed: 42,
            ..TimelineInfo::default()
        };
        assert_eq!(
            page_path(std::path::Path::new("target"), &info),
            PathBuf::from("target/timeline/raft_2a-initial_election_2a-seed42.html")
        );
    }

    /// Text from the run cannot end the data's script element.
    #[test]
    fn a_log_line_cannot_break_out_of_the_page() {
        let tl = Timeline {
            lanes: vec!["tester".into()],
            strings: vec!["t".into()],
            logs: vec![LogLine {
                at_ns: 1,
                lane: 0,
                level: 1,
                target: 0,
                text: "</script><script>alert(1)</script>".into(),
            }],
            ..Timeline::default()
        };
        let page = render_timeline(&tl, &TimelineInfo::default(), PAGE_BUDGET);
        assert!(!page.contains("</script><script>alert"));
        assert!(page.contains(r"\u003c/script>\u003cscript>alert(1)\u003c/script>"));
    }

    /// A run that does not fit keeps its latest bulky events and every rare one, and says what
    /// it cut.
    #[test]
    fn a_big_run_keeps_its_end_and_its_rare_events() {
        let mut tl = Timeline {
            lanes: vec!["tester".into()],
            strings: vec![String::new()],
            ..Timeline::default()
        };
        for i in 0..10_000u64 {
            tl.events.push(ev(i * 1000, Kind::Send));
        }
        tl.events.push(ev(5, Kind::Crash));
        // Labels before the window: only the last one stays.
        tl.events.push(ev(6, Kind::Label));
        tl.events.push(ev(7, Kind::Label));
        tl.events.sort_by_key(|e| e.at_ns);
        tl.logs.push(LogLine {
            at_ns: 1,
            lane: 0,
            level: 3,
            target: 0,
            text: "early".into(),
        });
        let info = TimelineInfo::default();
        let all = render_timeline(&tl, &info, usize::MAX);
        assert!(all.contains("\"cutEvents\":0,\"cutLogs\":0"));
        let cut = render_timeline(&tl, &info, 24 * 1000);
        assert!(cut.contains("\"cutEvents\":9001,\"cutLogs\":1"));
        assert!(cut.len() < all.len());
        assert!(window_start(&tl, 24 * 1000) > 8_000_000);
    }
}
