//! Log output for simulated runs: every line carries the virtual time and the node that logged it.

use std::fmt;

use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::registry::LookupSpan;

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
        if let Some(node) = super::log_prefix() {
            let t = super::fmt_time(super::now().as_nanos() as u64);
            write!(w, "{t:>14} {node:<16} ")?;
        }
        let meta = event.metadata();
        write!(w, "{:<5} {}: ", meta.level(), meta.target())?;
        ctx.format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// Installs the log subscriber once per process, filtered by `RUST_LOG` (e.g. `RUST_LOG=raft=debug`).
///
/// Output goes through the test harness's capture, so a passing test stays quiet.
/// `NO_COLOR` (any value) turns colours off, as in most command-line tools.
fn no_color_unset() -> bool {
    std::env::var_os("NO_COLOR").is_none()
}

pub fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()) && no_color_unset())
        .event_format(SimFormat)
        .try_init();
}
