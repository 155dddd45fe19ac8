//! Log output for simulated runs: every line carries the virtual time and the node that logged it.

use std::cell::Cell;
use std::fmt;

use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::registry::LookupSpan;

use super::context::{CURRENT, ctx, try_ctx};

/// Sets a tag shown on every log line of the calling node, e.g. `T3 leader`.
pub fn set_label(label: impl Into<String>) {
    let c = ctx();
    let id = CURRENT.with(Cell::get) as usize;
    let label = label.into();
    if let Ok(mut nodes) = c.nodes.try_borrow_mut() {
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

/// Formats `  1.234000s raft-2 T3 leader  DEBUG raft::raft: message field=value`.
struct SimFormat;

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
        if let Some(node) = log_prefix() {
            let t = super::fmt_time(super::now().as_nanos() as u64);
            write!(w, "{t:>14} {node:<16} ")?;
        }
        let meta = event.metadata();
        write!(w, "{:<5} {}: ", meta.level(), meta.target())?;
        ctx.format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// Whether colours are allowed: `NO_COLOR` (any value) turns them off, as in most command-line tools.
fn no_color_unset() -> bool {
    std::env::var_os("NO_COLOR").is_none()
}

/// Installs the log subscriber once per process, filtered by `RUST_LOG` (e.g. `RUST_LOG=raft=debug`).
///
/// Output goes through the test harness's capture, so a passing test stays quiet. Colours are on
/// when standard error is a terminal and `NO_COLOR` is unset.
pub fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()) && no_color_unset())
        .event_format(SimFormat)
        .try_init();
}
