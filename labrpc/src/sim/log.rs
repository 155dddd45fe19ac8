//! Log output for simulated runs: every line carries the virtual time and the node that logged it.

use std::cell::Cell;
use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use super::context::{CURRENT, ctx, try_ctx};
use super::node::NodeId;

/// Sets a tag shown on every log line of the calling node, e.g. `T3 leader`.
pub fn set_label(label: impl Into<String>) {
    let c = ctx();
    let id = CURRENT.with(Cell::get) as usize;
    let label = label.into();
    if let Ok(mut nodes) = c.nodes.try_borrow_mut() {
        if c.shared.timeline.is_some() {
            super::timeline::label(id as NodeId, &label);
        }
        nodes[id].label = label;
    };
}

/// The calling node's name and label, for log lines (`None` outside a run).
fn log_prefix() -> Option<String> {
    let c = try_ctx()?;
    let id = CURRENT.with(Cell::get) as usize;
    let nodes = c.nodes.try_borrow().ok()?;
    let n = nodes.get(id)?;
    let prefix = if n.label.is_empty() {
        n.name.to_string()
    } else {
        format!("{} {}", n.name, n.label)
    };
    Some(prefix)
}

/// How log lines are laid out: one after the other, or one column per server (`LAB_LOG=columns`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// `  1.234000s raft-2 T3 leader  DEBUG raft::raft: message field=value`.
    Lines,
    /// The time, then the line in its server's column (tester and clerks leftmost), as dslogs.
    Columns,
}

impl Layout {
    fn from_env() -> Layout {
        match std::env::var(labspec::env::LOG) {
            Ok(v) if v == labspec::env::LOG_COLUMNS => Layout::Columns,
            _ => Layout::Lines,
        }
    }
}

/// Formats each line as its [`Layout`] says.
struct SimFormat {
    layout: Layout,
}

impl<S, N> FormatEvent<S, N> for SimFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        if self.layout == Layout::Columns
            && let Some((column, columns, node)) = log_column()
        {
            let mut text = String::new();
            ctx.format_fields(Writer::new(&mut text), event)?;
            let line = format!("{node} {} {text}", short_level(meta.level()));
            let time = super::fmt_time(super::now().as_nanos() as u64);
            return w.write_str(&in_column(&time, column, columns, terminal_width(), &line));
        }
        if let Some(node) = log_prefix() {
            let t = super::fmt_time(super::now().as_nanos() as u64);
            write!(w, "{t:>14} {node:<16} ")?;
        }
        write!(w, "{:<5} {}: ", meta.level(), meta.target())?;
        ctx.format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// The column of a node called `name`: 0 for the tester and clerks, `1 + n` for a server whose
/// name ends in `-n` (`raft-2`, `g1-kv-0`).
fn column_of(name: &str) -> usize {
    if name == "tester" || name.starts_with("clerk") {
        return 0;
    }
    name.rsplit('-')
        .next()
        .and_then(|n| n.parse::<usize>().ok())
        .map_or(0, |n| n + 1)
}

/// The calling node's column, the number of columns (from every node's name) and its tag.
fn log_column() -> Option<(usize, usize, String)> {
    let c = try_ctx()?;
    let id = CURRENT.with(Cell::get) as usize;
    let nodes = c.nodes.try_borrow().ok()?;
    let columns = nodes.iter().map(|n| column_of(&n.name) + 1).max()?;
    let n = nodes.get(id)?;
    // The name too: a column has no header, and the tester's column holds several nodes.
    let tag = match n.label.is_empty() {
        true => n.name.to_string(),
        false => format!("{} {}", n.name, n.label),
    };
    Some((column_of(&n.name), columns, tag))
}

fn short_level(l: &tracing::Level) -> &'static str {
    match *l {
        tracing::Level::ERROR => "ERRO",
        tracing::Level::WARN => "WARN",
        tracing::Level::INFO => "INFO",
        tracing::Level::DEBUG => "DEBG",
        tracing::Level::TRACE => "TRCE",
    }
}

/// Width of the time at the start of a column line.
const TIME_W: usize = 12;

/// The terminal's width: `COLUMNS`, else 200 characters.
fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(200)
}

/// `line` at `time`, in column `column` of `columns` sharing `width` characters after the time,
/// wrapped to the column's width: one or more lines, each ending in a newline.
fn in_column(time: &str, column: usize, columns: usize, width: usize, line: &str) -> String {
    let col_w = (width.saturating_sub(TIME_W) / columns.max(1)).max(16);
    let indent = " ".repeat(col_w * column);
    let mut out = String::new();
    for (i, piece) in wrap(line, col_w - 1).iter().enumerate() {
        let time = if i == 0 { time } else { "" };
        out.push_str(&format!("{time:>w$} {indent}{piece}\n", w = TIME_W - 1));
    }
    out
}

/// `line` cut into pieces of at most `width` characters, at spaces where it can be.
fn wrap(line: &str, width: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut rest: Vec<char> = line.chars().collect();
    while rest.len() > width {
        let cut = match rest[..=width].iter().rposition(|c| *c == ' ') {
            Some(at) if at > 0 => at,
            _ => width,
        };
        pieces.push(rest[..cut].iter().collect());
        let skip = usize::from(rest.get(cut) == Some(&' '));
        rest.drain(..cut + skip);
    }
    pieces.push(rest.into_iter().collect());
    pieces
}

/// Whether colours are allowed: `NO_COLOR` (any value) turns them off, as in most command-line tools.
fn no_color_unset() -> bool {
    std::env::var_os("NO_COLOR").is_none()
}

/// The filter of printed lines: `RUST_LOG` (e.g. `RUST_LOG=raft=debug`), else nothing.
fn env_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("off"))
}

/// Installs the log subscriber once per process, filtered by `RUST_LOG` (e.g. `RUST_LOG=raft=debug`).
///
/// Output goes through the test harness's capture, so a passing test stays quiet. Colours are on
/// when standard error is a terminal and `NO_COLOR` is unset. `LAB_LOG=columns` prints each
/// server's lines in a column of its own.
pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(env_filter())
        .with_test_writer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()) && no_color_unset())
        .event_format(SimFormat {
            layout: Layout::from_env(),
        })
        .try_init();
}

/// The subscriber of a run that records a timeline, set on the run's thread only: it prints
/// what [`init_logging`]'s would (filtered by `RUST_LOG`) unless the run is `quiet`, and hands
/// every event, whatever `RUST_LOG` says, to the timeline.
pub(crate) fn recording_subscriber(quiet: bool) -> impl Subscriber + Send + Sync {
    let print = (!quiet).then(|| {
        tracing_subscriber::fmt::layer()
            .with_test_writer()
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()) && no_color_unset())
            .event_format(SimFormat {
                layout: Layout::from_env(),
            })
            .with_filter(env_filter())
    });
    tracing_subscriber::registry().with(print).with(Capture)
}

/// Hands every event to the run's timeline as a log line of the node that logged it.
struct Capture;

impl<S: Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &Event<'_>, _ctx: tracing_subscriber::layer::Context<'_, S>) {
        let meta = event.metadata();
        // The tester's own lines are on the timeline already, as its actions.
        if meta.target() == "tester" {
            return;
        }
        let mut text = FieldText::default();
        event.record(&mut text);
        let level = match *meta.level() {
            tracing::Level::ERROR => 1,
            tracing::Level::WARN => 2,
            tracing::Level::INFO => 3,
            tracing::Level::DEBUG => 4,
            tracing::Level::TRACE => 5,
        };
        super::timeline::log_line(level, meta.target(), text.finish());
    }
}

/// An event's message, then its other fields as `name=value`.
#[derive(Default)]
struct FieldText {
    message: String,
    fields: String,
}

impl Visit for FieldText {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        use std::fmt::Write;
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.fields.push_str(&format!(" {}={value}", field.name()));
        }
    }
}

impl FieldText {
    fn finish(mut self) -> String {
        self.message.push_str(&self.fields);
        self.message
    }
}

#[cfg(test)]
mod tests {
    use super::{column_of, in_column, wrap};

    #[test]
    fn servers_get_columns_by_number_and_the_tester_and_clerks_the_first() {
        assert_eq!(column_of("tester"), 0);
        assert_eq!(column_of("clerk-3"), 0);
        assert_eq!(column_of("raft-0"), 1);
        assert_eq!(column_of("raft-4"), 5);
        assert_eq!(column_of("g1-kv-2"), 3);
        assert_eq!(column_of("junk"), 0);
    }

    #[test]
    fn a_line_goes_in_its_column_and_wraps_there() {
        // 3 columns of (72 - 12) / 3 = 20 characters.
        let out = in_column("1.000000s", 2, 3, 72, "T3 leader DEBG a message that wraps");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert_eq!(
            lines[0],
            format!("  1.000000s {}T3 leader DEBG a", " ".repeat(40))
        );
        assert_eq!(
            lines[1],
            format!("{}message that wraps", " ".repeat(12 + 40))
        );
    }

    #[test]
    fn wrapping_cuts_at_spaces_else_anywhere() {
        assert_eq!(wrap("ab cd ef", 5), ["ab cd", "ef"]);
        assert_eq!(wrap("abcdefgh", 3), ["abc", "def", "gh"]);
        assert_eq!(wrap("short", 9), ["short"]);
    }
}
