//! Self-contained HTML report of a checked history: one timeline per key.
//!
//! Each key gets a collapsible section with its verdict (violations first) and a chart:
//! one row per client, one bar per operation from call to return, labelled with the
//! operation. The linearization found (or, on a violation, the longest linearizable
//! prefix) is numbered in order and traced by a line through each op's linearization
//! point; the operation that cannot be placed is red. Tester annotations (partitions,
//! crashes) are drawn as vertical lines or shaded regions. The time axis is compressed
//! (idle gaps shrink, every bar is wide enough to read) and its ticks show real times.
//! No network access is needed to view the file.

use crate::check::{CheckResult, KeyResult, Verdict};
use crate::history::{Annotation, History, Op, OpKind};
use crate::model::{KvInput, KvModel, Model};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Height of one client row.
const ROW_H: f64 = 30.0;
/// Height of an operation bar.
const BAR_H: f64 = 22.0;
/// Minimal width of an operation bar, so its label stays readable.
const MIN_W: f64 = 128.0;
/// Minimal distance between two consecutive distinct event times.
const GAP: f64 = 10.0;
/// Horizontal padding inside the chart.
const PAD: f64 = 16.0;
/// Width of the client label column.
const LABEL_W: f64 = 92.0;
/// Height of the time axis band.
const AXIS_H: f64 = 22.0;
/// Height of one line of annotation labels.
const NOTE_H: f64 = 17.0;
/// Approximate width of one character of the 11px monospace font.
const CHAR_W: f64 = 6.7;

/// Renders `h` and its check result `r` as a standalone HTML page.
pub fn render_html(h: &History, r: &CheckResult) -> String {
    let mut keys: Vec<&KeyResult> = r.keys.iter().collect();
    keys.sort_by(|a, b| a.verdict.cmp(&b.verdict).then(a.key.cmp(&b.key)));
    let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, op) in h.ops.iter().enumerate() {
        by_key.entry(op.key.as_str()).or_default().push(i);
    }
    let count = |v: Verdict| r.keys.iter().filter(|k| k.verdict == v).count();

    let mut out = String::with_capacity(64 * 1024 + h.ops.len() * 600);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} — linearizability</title><style>{CSS}</style></head><body>\n",
        verdict_text(r.verdict)
    );
    let _ = write!(
        out,
        "<header><div class=\"title\"><h1>Linearizability check</h1>\
         <span class=\"badge big {}\">{}</span></div>\
         <div class=\"summary\">{} operations on {} keys · \
         <b class=\"t-bad\">{}</b> not linearizable · <b class=\"t-und\">{}</b> undecided · \
         <b class=\"t-ok\">{}</b> linearizable{}</div>",
        verdict_class(r.verdict),
        verdict_text(r.verdict),
        h.ops.len(),
        r.keys.len(),
        count(Verdict::NotLinearizable),
        count(Verdict::Undecided),
        count(Verdict::Linearizable),
        if h.annotations.is_empty() {
            String::new()
        } else {
            format!(" · {} annotations", h.annotations.len())
        }
    );
    out.push_str(LEGEND);
    out.push_str(
        "<div class=\"buttons\"><button onclick=\"setAll(true)\">Expand all</button>\
         <button onclick=\"setAll(false)\">Collapse all</button></div>",
    );
    if keys.len() > 1 {
        out.push_str("<nav>");
        for k in &keys {
            let _ = write!(
                out,
                "<a class=\"chip {}\" href=\"#{}\" title=\"{}\">{}</a>",
                verdict_class(k.verdict),
                anchor(&k.key),
                verdict_text(k.verdict),
                esc(&shorten(&k.key, 24))
            );
        }
        out.push_str("</nav>");
    }
    out.push_str("</header>\n<main>\n");
    for k in keys {
        let idxs = by_key.get(k.key.as_str()).map_or(&[][..], |v| v.as_slice());
        render_key(&mut out, h, k, idxs);
    }
    out.push_str("</main>\n<script>");
    out.push_str(SCRIPT);
    out.push_str("</script></body></html>\n");
    out
}

/// Appends the section of one key.
fn render_key(out: &mut String, h: &History, k: &KeyResult, idxs: &[usize]) {
    let mut ops: Vec<usize> = idxs.to_vec();
    ops.sort_by_key(|&i| (h.ops[i].call, i));
    let mut clients: Vec<u64> = ops.iter().map(|&i| h.ops[i].client).collect();
    clients.sort_unstable();
    clients.dedup();
    let open = k.verdict != Verdict::Linearizable;
    let _ = write!(
        out,
        "<details class=\"key\" id=\"{}\"{}><summary><span class=\"badge {}\">{}</span>\
         <span class=\"kname\">key <code>{}</code></span><span class=\"meta\">{} ops · {} clients · \
         {} linearized · {} search steps</span></summary>",
        anchor(&k.key),
        if open { " open" } else { "" },
        verdict_class(k.verdict),
        verdict_text(k.verdict),
        esc(&shorten(&k.key, 80)),
        ops.len(),
        clients.len(),
        k.linearization.len(),
        k.steps
    );
    out.push_str(&explanation(h, k));
    render_chart(out, h, k, &ops, &clients);
    out.push_str("</details>\n");
}

/// One paragraph saying what the verdict means for this key.
fn explanation(h: &History, k: &KeyResult) -> String {
    let n = k.linearization.len();
    let text = match k.verdict {
        Verdict::Linearizable => format!(
            "All operations could take effect one at a time in the numbered order ({n} placed; \
             gets with unknown results are not constrained)."
        ),
        Verdict::Undecided => format!(
            "The search budget ran out after {} steps. Shown: the deepest linearizable prefix \
             found ({n} operations, numbered).",
            k.steps
        ),
        Verdict::NotLinearizable => {
            let mut s = if n == 0 {
                "No valid order exists, and no operation can even come first: ".to_string()
            } else {
                format!(
                    "No valid order exists. The longest linearizable prefix found is numbered \
                     (1–{n}); "
                )
            };
            let value = value_after(h, &k.linearization);
            match k.failing_op.map(|i| (i, &h.ops[i])) {
                Some((i, op)) if op.kind == OpKind::Get => {
                    let _ = write!(
                        s,
                        "{} the value is <code>{}</code>, and the red operation \
                         (client {}, op #{i}) returned <code>{}</code>, which the remaining \
                         writes cannot produce in time.",
                        if n == 0 { "initially" } else { "after it" },
                        esc(&shorten_left(&quoted(&value), 90)),
                        op.client,
                        esc(&shorten_left(
                            &quoted(op.output.as_deref().unwrap_or("")),
                            90
                        ))
                    );
                }
                Some((i, op)) => {
                    let _ = write!(
                        s,
                        "{} (value <code>{}</code>) no operation can come next; the red \
                         one ({}, client {}, op #{i}) is the earliest called of them.",
                        if n == 0 { "initially" } else { "after it" },
                        esc(&shorten_left(&quoted(&value), 90)),
                        esc(&shorten(&op.describe(), 80)),
                        op.client
                    );
                }
                None => s.push_str("no operation can come next."),
            }
            s
        }
    };
    format!("<p class=\"explain\">{text}</p>")
}

/// The key's value after applying `order` (indices into `h.ops`) from empty, by the KV model.
fn value_after(h: &History, order: &[usize]) -> String {
    order.iter().fold(KvModel.init(), |v, &i| {
        let op = &h.ops[i];
        let input = KvInput {
            kind: op.kind,
            value: op.value.clone(),
        };
        // With its output unknown, any op fits any value.
        KvModel.step(&v, &input, None).unwrap_or(v)
    })
}

/// Compressed time axis: every distinct event time gets an x position.
struct Axis {
    times: Vec<u64>,
    xs: Vec<f64>,
}

impl Axis {
    /// Lays out `times` so consecutive times are at least GAP apart and every completed
    /// op in `ops` is at least MIN_W wide.
    fn new(mut times: Vec<u64>, ops: &[&Op]) -> Axis {
        times.sort_unstable();
        times.dedup();
        let rank = |t: u64| times.binary_search(&t).unwrap_or(0);
        let mut ends: Vec<Vec<usize>> = vec![Vec::new(); times.len()];
        for op in ops {
            if let Some(r) = op.ret {
                ends[rank(r)].push(rank(op.call));
            }
        }
        let mut xs = vec![PAD; times.len()];
        for k in 1..times.len() {
            let mut x = xs[k - 1] + GAP;
            for &c in &ends[k] {
                x = x.max(xs[c] + MIN_W);
            }
            xs[k] = x;
        }
        Axis { times, xs }
    }

    /// x position of time `t` (interpolated between known times).
    fn x(&self, t: u64) -> f64 {
        match self.times.binary_search(&t) {
            Ok(k) => self.xs[k],
            Err(0) => PAD,
            Err(k) if k >= self.times.len() => self.xs[k - 1] + GAP,
            Err(k) => {
                let (t0, t1) = (self.times[k - 1] as f64, self.times[k] as f64);
                let f = (t as f64 - t0) / (t1 - t0);
                self.xs[k - 1] + f * (self.xs[k] - self.xs[k - 1])
            }
        }
    }

    fn end(&self) -> f64 {
        self.xs.last().copied().unwrap_or(PAD)
    }
}

/// An annotation placed on a chart: its x, its label's level (row) and its shortened text.
struct PlacedNote<'a> {
    note: &'a Annotation,
    x: f64,
    level: usize,
    text: String,
}

/// An operation's bar on a chart.
struct Bar {
    /// Index into `History::ops`.
    op: usize,
    x0: f64,
    x1: f64,
    /// Top of the bar.
    y: f64,
    /// Its number in the linearization (1-based), if it is in it.
    num: Option<usize>,
    /// A Get left out of the check (outcome or result unknown).
    dropped: bool,
}

impl Bar {
    fn width(&self) -> f64 {
        (self.x1 - self.x0).max(4.0)
    }
}

/// Where everything of one key's chart goes, computed apart from the SVG it becomes.
struct Layout<'a> {
    axis: Axis,
    /// Latest time shown (regions end there at the latest).
    tmax: u64,
    notes: Vec<PlacedNote<'a>>,
    /// Height of the annotation labels' band, above the axis.
    notes_h: f64,
    /// Top of the first client row.
    top: f64,
    width: f64,
    height: f64,
    /// In `ops` order.
    bars: Vec<Bar>,
    /// Each linearized op's linearization point (x, y), in linearization order.
    path: Vec<(f64, f64)>,
}

/// Lays out the chart of the ops `ops` of `h` (one key, by call) for result `k`, one row per
/// client of `clients`.
fn layout<'a>(h: &'a History, k: &KeyResult, ops: &[usize], clients: &[u64]) -> Layout<'a> {
    let tmin = ops.iter().map(|&i| h.ops[i].call).min().unwrap_or(0);
    let tmax = ops
        .iter()
        .map(|&i| h.ops[i].ret.unwrap_or(h.ops[i].call))
        .max()
        .unwrap_or(tmin);
    let shown: Vec<&Annotation> = h
        .annotations
        .iter()
        .filter(|a| a.time <= tmax && a.end.unwrap_or(a.time) >= tmin)
        .collect();
    let mut times: Vec<u64> = Vec::new();
    for &i in ops {
        times.push(h.ops[i].call);
        times.extend(h.ops[i].ret);
    }
    for a in &shown {
        times.push(a.time.max(tmin));
        times.extend(a.end.map(|e| e.min(tmax)));
    }
    let op_refs: Vec<&Op> = ops.iter().map(|&i| &h.ops[i]).collect();
    let axis = Axis::new(times, &op_refs);
    let (notes, levels) = place_notes(&axis, &shown, tmin);
    let notes_h = levels as f64 * NOTE_H + if levels == 0 { 0.0 } else { 4.0 };
    let top = notes_h + AXIS_H;
    let bars = place_bars(h, k, ops, clients, &axis, top);
    let path = linearization_path(k, ops, &bars);
    Layout {
        width: axis.end() + MIN_W + 2.0 * PAD,
        axis,
        tmax,
        notes,
        notes_h,
        top,
        height: top + clients.len() as f64 * ROW_H + 8.0,
        bars,
        path,
    }
}

/// Annotation labels, stacked in at most four levels so they do not overlap; returns them and
/// the number of levels.
fn place_notes<'a>(
    axis: &Axis,
    shown: &[&'a Annotation],
    tmin: u64,
) -> (Vec<PlacedNote<'a>>, usize) {
    let mut levels: Vec<f64> = Vec::new();
    let mut placed = Vec::new();
    for &a in shown {
        let x = axis.x(a.time.max(tmin));
        let text = shorten(&a.text, 48);
        let w = text.chars().count() as f64 * CHAR_W + 10.0;
        let level = match levels.iter().position(|&end| end < x) {
            Some(l) => l,
            None if levels.len() < 4 => {
                levels.push(0.0);
                levels.len() - 1
            }
            None => levels.len() - 1,
        };
        levels[level] = x + w;
        placed.push(PlacedNote {
            note: a,
            x,
            level,
            text,
        });
    }
    (placed, levels.len())
}

/// The bars of `ops`: from call to return; an op that never returned reaches its client's next
/// call (or past the end).
fn place_bars(
    h: &History,
    k: &KeyResult,
    ops: &[usize],
    clients: &[u64],
    axis: &Axis,
    top: f64,
) -> Vec<Bar> {
    let row_of: BTreeMap<u64, usize> = clients.iter().enumerate().map(|(r, &c)| (c, r)).collect();
    let order: BTreeMap<usize, usize> = k
        .linearization
        .iter()
        .enumerate()
        .map(|(n, &i)| (i, n + 1))
        .collect();
    let mut next_call: BTreeMap<usize, u64> = BTreeMap::new();
    let mut last_of_client: BTreeMap<u64, usize> = BTreeMap::new();
    for &i in ops {
        if let Some(&prev) = last_of_client.get(&h.ops[i].client) {
            next_call.insert(prev, h.ops[i].call);
        }
        last_of_client.insert(h.ops[i].client, i);
    }
    ops.iter()
        .map(|&i| {
            let op = &h.ops[i];
            let row = row_of[&op.client];
            let x0 = axis.x(op.call);
            let x1 = match op.ret {
                Some(r) => axis.x(r),
                None => match next_call.get(&i) {
                    Some(&n) => (axis.x(n) - 4.0).max(x0 + 24.0),
                    None => (x0 + 1.5 * MIN_W).max(axis.end() + MIN_W),
                },
            };
            Bar {
                op: i,
                x0,
                x1,
                y: top + row as f64 * ROW_H + (ROW_H - BAR_H) / 2.0,
                num: order.get(&i).copied(),
                dropped: op.kind == OpKind::Get && (op.ret.is_none() || op.output.is_none()),
            }
        })
        .collect()
}

/// The linearization path: each op's point is the earliest moment at or after its call and
/// the previous op's point, on the bottom edge of its bar.
fn linearization_path(k: &KeyResult, ops: &[usize], bars: &[Bar]) -> Vec<(f64, f64)> {
    let bar_of: BTreeMap<usize, &Bar> = ops.iter().copied().zip(bars).collect();
    let mut path = Vec::new();
    let mut p = f64::NEG_INFINITY;
    for &i in &k.linearization {
        let Some(b) = bar_of.get(&i) else {
            continue;
        };
        p = p.max(b.x0 + 3.0).min(b.x1.max(b.x0 + 3.0));
        path.push((p, b.y + BAR_H));
    }
    path
}

/// Appends the chart (label column + scrolling timeline) of one key.
fn render_chart(out: &mut String, h: &History, k: &KeyResult, ops: &[usize], clients: &[u64]) {
    if ops.is_empty() {
        return;
    }
    let l = layout(h, k, ops, clients);
    emit_labels(out, &l, clients);
    emit_background(out, &l, clients.len(), h.time_unit.as_deref());
    let mut bars = String::new();
    for b in &l.bars {
        emit_bar(&mut bars, h, k, b);
    }
    // The linearization path goes under the bars, its dots over them.
    if !k.linearization.is_empty() {
        let mut pts = String::new();
        let mut dots = String::new();
        for (p, cy) in &l.path {
            let _ = write!(pts, "{p:.1},{cy:.1} ");
            let _ = write!(dots, "<circle cx=\"{p:.1}\" cy=\"{cy:.1}\" r=\"2.4\"/>");
        }
        let _ = write!(
            out,
            "<g class=\"path\"><polyline points=\"{}\"/></g>{bars}<g class=\"path\">{dots}</g>",
            pts.trim_end()
        );
    } else {
        out.push_str(&bars);
    }
    emit_notes(out, &l);
    out.push_str("</svg></div></div>");
}

/// The label column: one row per client.
fn emit_labels(out: &mut String, l: &Layout, clients: &[u64]) {
    let _ = write!(
        out,
        "<div class=\"scroll\"><div class=\"inner\"><svg class=\"labels\" width=\"{LABEL_W}\" \
         height=\"{}\">",
        l.height
    );
    for (r, c) in clients.iter().enumerate() {
        let y = l.top + r as f64 * ROW_H;
        let _ = write!(
            out,
            "<rect x=\"0\" y=\"{y}\" width=\"{LABEL_W}\" height=\"{ROW_H}\" class=\"{}\"/>\
             <text x=\"{}\" y=\"{}\" class=\"client\">client {c}</text>",
            if r % 2 == 0 { "row0" } else { "row1" },
            LABEL_W - 10.0,
            y + ROW_H / 2.0 + 4.0
        );
    }
    out.push_str("</svg>");
}

/// The timeline's opening, its rows, the shaded annotation regions and the time axis.
fn emit_background(out: &mut String, l: &Layout, rows: usize, unit: Option<&str>) {
    let (width, height, top) = (l.width, l.height, l.top);
    let _ = write!(
        out,
        "<svg class=\"chart\" width=\"{width:.0}\" height=\"{height}\" \
         xmlns=\"http://www.w3.org/2000/svg\"><defs><linearGradient id=\"fade\" x1=\"0\" x2=\"1\">\
         <stop offset=\"0\" stop-color=\"#fff\" stop-opacity=\"0\"/><stop offset=\"1\" \
         stop-color=\"#fff\" stop-opacity=\"1\"/></linearGradient></defs>"
    );
    for r in 0..rows {
        let _ = write!(
            out,
            "<rect x=\"0\" y=\"{}\" width=\"{width:.0}\" height=\"{ROW_H}\" class=\"{}\"/>",
            top + r as f64 * ROW_H,
            if r % 2 == 0 { "row0" } else { "row1" }
        );
    }
    // Shaded annotation regions go under the bars.
    for n in &l.notes {
        if let Some(e) = n.note.end {
            let x = n.x;
            let x1 = l.axis.x(e.min(l.tmax));
            let _ = write!(
                out,
                "<rect class=\"region\" x=\"{x:.1}\" y=\"{}\" width=\"{:.1}\" height=\"{:.1}\"/>",
                l.notes_h,
                (x1 - x).max(2.0),
                height - l.notes_h
            );
        }
    }
    let _ = write!(
        out,
        "<line class=\"axis\" x1=\"0\" x2=\"{width:.0}\" y1=\"{0}\" y2=\"{0}\"/>",
        top - 1.0
    );
    let mut last_tick = f64::NEG_INFINITY;
    for (t, &x) in l.axis.times.iter().zip(&l.axis.xs) {
        if x - last_tick >= 110.0 {
            last_tick = x;
            let _ = write!(
                out,
                "<line class=\"tick\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{:.1}\" y2=\"{height}\"/>\
                 <text class=\"ticklabel\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                top - 6.0,
                x + 3.0,
                top - 8.0,
                time_label(*t, unit)
            );
        }
    }
}

/// One operation's bar: its class (failing, ignored, linearized, the rest), tooltip, number and
/// label; an unknown outcome fades out.
fn emit_bar(out: &mut String, h: &History, k: &KeyResult, b: &Bar) {
    let (i, op) = (b.op, &h.ops[b.op]);
    let (x0, y, w) = (b.x0, b.y, b.width());
    let class = if k.failing_op == Some(i) {
        "op fail"
    } else if b.dropped {
        "op dropped"
    } else if b.num.is_some() {
        "op lin"
    } else {
        "op rest"
    };
    let unknown = op.ret.is_none();
    let title = format!(
        "{}\nclient {} · op #{i}\ncall {}{}{}",
        op.describe(),
        op.client,
        op.call,
        match op.ret {
            Some(r) => format!(" · return {r}"),
            None => " · never returned (outcome unknown)".to_string(),
        },
        match b.num {
            Some(n) => format!("\nlinearized #{n}"),
            None if b.dropped => "\nignored: result unknown".to_string(),
            None => String::new(),
        }
    );
    let _ = write!(
        out,
        "<g class=\"{class}{}\"><title>{}</title><rect x=\"{x0:.1}\" y=\"{y:.1}\" \
         width=\"{w:.1}\" height=\"{BAR_H}\" rx=\"4\"/>",
        if unknown { " unknown" } else { "" },
        esc(&title)
    );
    if unknown {
        let _ = write!(
            out,
            "<rect class=\"fade\" x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{BAR_H}\" fill=\"url(#fade)\"/>",
            x0 + w * 0.55,
            w * 0.45 + 1.0
        );
    }
    // Label: order number, then the operation.
    let mut tx = x0 + 5.0;
    let mut room = w - 8.0;
    if let Some(n) = b.num {
        let s = n.to_string();
        let _ = write!(
            out,
            "<text class=\"num\" x=\"{tx:.1}\" y=\"{:.1}\">{s}</text>",
            y + BAR_H / 2.0 + 4.0
        );
        let used = s.len() as f64 * CHAR_W + 5.0;
        tx += used;
        room -= used;
    }
    let label = op_label(op, (room / CHAR_W).floor().max(0.0) as usize);
    if !label.is_empty() {
        let _ = write!(
            out,
            "<text class=\"lbl\" x=\"{tx:.1}\" y=\"{:.1}\">{}</text>",
            y + BAR_H / 2.0 + 4.0,
            esc(&label)
        );
    }
    out.push_str("</g>");
}

/// Annotation lines and labels, on top of everything.
fn emit_notes(out: &mut String, l: &Layout) {
    for n in &l.notes {
        let (a, x, text) = (n.note, n.x, &n.text);
        let y = n.level as f64 * NOTE_H + 2.0;
        let w = text.chars().count() as f64 * CHAR_W + 10.0;
        let _ = write!(
            out,
            "<g class=\"note\"><title>{}</title><line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{y:.1}\" \
             y2=\"{}\"/><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{:.1}\" rx=\"3\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
            esc(&format!(
                "{}\ntime {}{}",
                a.text,
                a.time,
                a.end.map(|e| format!(" – {e}")).unwrap_or_default()
            )),
            l.height,
            NOTE_H - 3.0,
            x + 5.0,
            y + NOTE_H - 7.0,
            esc(text)
        );
    }
}

/// Short label of an operation fitting in `room` characters.
fn op_label(op: &Op, room: usize) -> String {
    if room < 2 {
        return String::new();
    }
    let full = match op.kind {
        OpKind::Get => match &op.output {
            Some(o) => format!("get → {}", quoted(o)),
            None => "get → ?".to_string(),
        },
        OpKind::Put => format!("put {}", quoted(&op.value)),
        OpKind::Append => format!("app {}", quoted(&op.value)),
    };
    if full.chars().count() <= room {
        return full;
    }
    match op.kind {
        // A read's most telling part is the end of the value.
        OpKind::Get => match &op.output {
            Some(o) if room > 8 => format!("get → {}", shorten_left(&quoted(o), room - 6)),
            _ => shorten(&full, room),
        },
        _ => shorten(&full, room),
    }
}

/// `s` in double quotes, with control characters escaped.
fn quoted(s: &str) -> String {
    format!("{s:?}")
}

/// `s` cut to at most `n` characters, ending with an ellipsis if cut.
fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// `s` cut to its last `n` characters, starting with an ellipsis if cut.
fn shorten_left(s: &str, n: usize) -> String {
    let len = s.chars().count();
    if len <= n {
        return s.to_string();
    }
    let mut t = String::from("…");
    t.extend(s.chars().skip(len - n.saturating_sub(1)));
    t
}

/// Compact rendering of a timestamp: in seconds for a clock in nanoseconds (12345678 →
/// "0.012s"), else 12345678 → "12.35M".
fn time_label(t: u64, unit: Option<&str>) -> String {
    let f = t as f64;
    if unit == Some("ns") {
        format!("{:.3}s", f / 1e9)
    } else if t < 10_000 {
        t.to_string()
    } else if t < 1_000_000 {
        format!("{:.1}k", f / 1e3)
    } else if t < 1_000_000_000 {
        format!("{:.2}M", f / 1e6)
    } else {
        format!("{:.2}G", f / 1e9)
    }
}

fn verdict_text(v: Verdict) -> &'static str {
    match v {
        Verdict::Linearizable => "LINEARIZABLE",
        Verdict::NotLinearizable => "NOT LINEARIZABLE",
        Verdict::Undecided => "UNDECIDED",
    }
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Linearizable => "ok",
        Verdict::NotLinearizable => "bad",
        Verdict::Undecided => "und",
    }
}

/// An HTML id for a key (hex-encoded, so any key is safe).
fn anchor(key: &str) -> String {
    let mut s = String::from("key-");
    for b in key.bytes().take(64) {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Escapes text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const LEGEND: &str = "<div class=\"legend\">\
<span><svg width=\"30\" height=\"14\"><rect x=\"1\" y=\"1\" width=\"28\" height=\"12\" rx=\"3\" class=\"sw lin\"/></svg>linearized (numbered in order)</span>\
<span><svg width=\"30\" height=\"14\"><rect x=\"1\" y=\"1\" width=\"28\" height=\"12\" rx=\"3\" class=\"sw rest\"/></svg>not in the prefix</span>\
<span><svg width=\"30\" height=\"14\"><rect x=\"1\" y=\"1\" width=\"28\" height=\"12\" rx=\"3\" class=\"sw fail\"/></svg>cannot be placed</span>\
<span><svg width=\"30\" height=\"14\"><rect x=\"1\" y=\"1\" width=\"28\" height=\"12\" rx=\"3\" class=\"sw unk\"/></svg>outcome unknown</span>\
<span><svg width=\"30\" height=\"14\"><rect x=\"1\" y=\"1\" width=\"28\" height=\"12\" rx=\"3\" class=\"sw dropped\"/></svg>get with unknown result (ignored)</span>\
<span><svg width=\"30\" height=\"14\"><polyline points=\"2,11 14,4 28,9\" class=\"sw path\"/></svg>linearization points</span>\
<span><svg width=\"30\" height=\"14\"><line x1=\"15\" x2=\"15\" y1=\"0\" y2=\"14\" class=\"sw note\"/></svg>tester event</span>\
</div>";

const CSS: &str = r#"
:root { --bad:#d1242f; --ok:#1a7f37; --und:#bf8700; --fg:#1f2328; --muted:#656d76; --line:#d0d7de; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif; color:var(--fg); background:#f6f8fa; }
header { background:#fff; border-bottom:1px solid var(--line); padding:16px 24px 12px; }
.title { display:flex; align-items:center; gap:14px; }
h1 { font-size:20px; margin:0; font-weight:600; }
.summary { color:var(--muted); margin:6px 0 8px; }
.t-bad { color:var(--bad); } .t-ok { color:var(--ok); } .t-und { color:var(--und); }
.badge { display:inline-block; font-size:11px; font-weight:700; letter-spacing:.04em; color:#fff; border-radius:999px; padding:2px 9px; white-space:nowrap; }
.badge.big { font-size:13px; padding:4px 12px; }
.badge.bad { background:var(--bad); } .badge.ok { background:var(--ok); } .badge.und { background:var(--und); }
.legend { display:flex; flex-wrap:wrap; gap:6px 18px; font-size:12px; color:var(--muted); margin:4px 0 8px; }
.legend span { display:inline-flex; align-items:center; gap:6px; }
.buttons button { font:inherit; font-size:12px; padding:3px 10px; margin-right:6px; border:1px solid var(--line); border-radius:6px; background:#f6f8fa; cursor:pointer; }
.buttons button:hover { background:#eaeef2; }
nav { display:flex; flex-wrap:wrap; gap:6px; margin-top:10px; max-height:120px; overflow-y:auto; }
.chip { font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; text-decoration:none; padding:1px 8px; border-radius:6px; border:1px solid; }
.chip.bad { color:var(--bad); border-color:#ffcecb; background:#ffebe9; }
.chip.ok { color:var(--ok); border-color:#aceebb; background:#dafbe1; }
.chip.und { color:#9a6700; border-color:#f5e0a0; background:#fff8c5; }
main { padding:16px 24px 40px; }
details.key { background:#fff; border:1px solid var(--line); border-radius:8px; margin-bottom:14px; overflow:hidden; }
details.key > summary { cursor:pointer; padding:10px 14px; display:flex; align-items:center; gap:12px; list-style:none; border-bottom:1px solid transparent; }
details.key[open] > summary { border-bottom-color:var(--line); background:#f6f8fa; }
details.key > summary::before { content:"▸"; color:var(--muted); font-size:12px; }
details.key[open] > summary::before { content:"▾"; }
.kname { font-weight:600; } .kname code { font-size:13px; background:#eff1f3; padding:1px 6px; border-radius:4px; }
.meta { color:var(--muted); font-size:12px; margin-left:auto; }
.explain { margin:10px 14px; color:#424a53; font-size:13px; }
.explain code { font-size:12px; background:#eff1f3; padding:1px 5px; border-radius:4px; word-break:break-all; }
.scroll { overflow-x:auto; border-top:1px solid #eaeef2; }
.inner { display:flex; width:max-content; }
svg.labels { position:sticky; left:0; z-index:2; background:#fff; border-right:1px solid var(--line); flex:none; }
svg text { font:11px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; }
.client { text-anchor:end; fill:var(--muted); }
.row0 { fill:#fff; } .row1 { fill:#f6f8fa; }
.axis { stroke:var(--line); } .tick { stroke:#eaeef2; } .ticklabel { fill:#8c959f; font-size:10px; }
.op rect { stroke-width:1.2; } .op text { pointer-events:none; }
.op:hover rect:first-of-type { stroke-width:2.4; }
.op.lin rect, .sw.lin { fill:#ddf4ff; stroke:#0969da; } .op.lin text { fill:#0a3069; }
.op.lin .num { fill:#0550ae; font-weight:700; }
.op.rest rect, .sw.rest { fill:#f6f8fa; stroke:#afb8c1; } .op.rest text { fill:#57606a; }
.op.fail rect, .sw.fail { fill:#ffebe9; stroke:var(--bad); stroke-width:2.4; } .op.fail text { fill:#82071e; font-weight:700; }
.op.dropped rect, .sw.dropped { fill:#fff; stroke:#d0d7de; stroke-dasharray:3 3; } .op.dropped text { fill:#8c959f; font-style:italic; }
.op.unknown rect:first-of-type, .sw.unk { stroke-dasharray:5 3; }
.sw.unk { fill:#fff; stroke:#0969da; }
.op rect.fade { stroke:none; }
.path polyline, polyline.sw.path { fill:none; stroke:#0969da; stroke-opacity:.45; stroke-width:1.3; }
.path circle { fill:#0969da; fill-opacity:.8; }
.note line, line.sw.note { stroke:#bc4c00; stroke-width:1.3; stroke-dasharray:4 3; }
.note rect { fill:#fff1e5; stroke:#ffb77c; } .note text { fill:#953800; font-size:11px; }
.region { fill:#fb8f44; fill-opacity:.10; }
.op.fail rect:first-of-type { animation: pulse 1.6s ease-in-out 3; }
@keyframes pulse { 50% { stroke-width:4; } }
"#;

const SCRIPT: &str = r#"
function setAll(open) { document.querySelectorAll('details.key').forEach(d => d.open = open); }
// Bring the operation that cannot be placed into view in each open chart.
function reveal(d) {
  const f = d.querySelector('.op.fail rect');
  const s = d.querySelector('.scroll');
  if (f && s) s.scrollLeft = Math.max(0, f.x.baseVal.value - s.clientWidth * 0.65);
}
document.querySelectorAll('details.key').forEach(d => {
  if (d.open) reveal(d);
  d.addEventListener('toggle', () => { if (d.open) reveal(d); });
});
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{CheckOptions, check};
    use crate::history::parse_json;

    #[test]
    fn renders_every_key_violations_first() {
        let h = parse_json(
            r#"{"ops": [
            {"client":1,"kind":"append","key":"a","value":"x","call":0,"ret":10},
            {"client":2,"kind":"get","key":"a","output":"x","call":12,"ret":20},
            {"client":1,"kind":"put","key":"z","value":"<v>","call":0,"ret":10},
            {"client":2,"kind":"get","key":"z","output":"","call":20,"ret":30},
            {"client":3,"kind":"append","key":"z","value":"q","call":5,"ret":null}],
            "annotations": [{"time": 15, "text": "partition [1] [2 3]"},
                            {"time": 3, "end": 25, "text": "crash 3"}]}"#,
        )
        .unwrap();
        let r = check(&h, &CheckOptions::default());
        let page = render_html(&h, &r);
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("NOT LINEARIZABLE"));
        let z = page.find(&format!("id=\"{}\"", anchor("z"))).unwrap();
        let a = page.find(&format!("id=\"{}\"", anchor("a"))).unwrap();
        assert!(z < a, "violating key first");
        assert!(page.contains("op fail"));
        assert!(page.contains("partition [1] [2 3]"));
        assert!(page.contains("class=\"region\""));
        assert!(page.contains("&quot;&lt;v&gt;&quot;"), "values are escaped");
        assert!(
            !page.contains("src=") && !page.contains("<link") && !page.contains("@import"),
            "self-contained"
        );
    }

    #[test]
    fn layout_places_bars_path_and_notes() {
        let op = |client: u64, kind: OpKind, value: &str, call: u64, ret: Option<u64>| Op {
            client,
            kind,
            key: "k".into(),
            value: if kind == OpKind::Get {
                String::new()
            } else {
                value.into()
            },
            output: (kind == OpKind::Get).then(|| value.to_string()),
            call,
            ret,
        };
        let h = History {
            ops: vec![
                op(1, OpKind::Put, "a", 0, Some(10)),
                op(2, OpKind::Append, "b", 5, None),
                op(1, OpKind::Get, "ab", 20, Some(30)),
                op(2, OpKind::Get, "a", 40, Some(50)),
            ],
            annotations: vec![
                Annotation {
                    time: 3,
                    end: Some(45),
                    text: "partition".into(),
                },
                Annotation {
                    time: 4,
                    end: None,
                    text: "crash 1".into(),
                },
            ],
            time_unit: None,
        };
        let r = check(&h, &CheckOptions::default());
        let k = &r.keys[0];
        assert_eq!(k.verdict, Verdict::NotLinearizable);
        let l = layout(&h, k, &[0, 1, 2, 3], &[1, 2]);
        assert_eq!(l.bars.len(), 4);
        // Rows by client; a completed op is at least MIN_W wide; the lost append reaches to
        // its client's next call.
        assert_eq!(l.bars[0].y, l.bars[2].y);
        assert!(l.bars[1].y > l.bars[0].y);
        assert!(l.bars[0].x1 - l.bars[0].x0 >= MIN_W);
        assert!((l.bars[1].x1 - (l.axis.x(40) - 4.0)).abs() < 1e-9);
        // The path goes forward, through each linearized bar.
        assert_eq!(l.path.len(), k.linearization.len());
        for (w, &i) in l.path.windows(2).zip(&k.linearization[1..]) {
            assert!(w[0].0 <= w[1].0);
            let b = &l.bars[i];
            assert!(b.x0 <= w[1].0 && w[1].0 <= b.x1.max(b.x0 + 3.0));
        }
        // Overlapping note labels go on separate levels, above the axis.
        assert_eq!(l.notes.len(), 2);
        assert_ne!(l.notes[0].level, l.notes[1].level);
        assert_eq!(l.top, l.notes_h + AXIS_H);
        assert_eq!(l.height, l.top + 2.0 * ROW_H + 8.0);
    }

    #[test]
    fn helpers() {
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(shorten_left("abcdef", 4), "…def");
        assert_eq!(time_label(12_345_678, None), "12.35M");
        assert_eq!(time_label(12_345_678, Some("ns")), "0.012s");
        assert_eq!(esc("<a&'\">"), "&lt;a&amp;&#39;&quot;&gt;");
    }
}
