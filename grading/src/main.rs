//! The instructors' tool.
//!
//! `grading check-history FILE [--html OUT]` decides whether a key/value history is linearizable.
//! FILE holds either the JSON history the KV tests write, or a Jepsen EDN key/value history (one
//! map per line). Exit status: 0 linearizable, 1 not linearizable, 2 undecided or bad input.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use raftlab::linearizability::{self as lin, Verdict};

#[derive(Parser)]
#[command(name = "grading", about = "Grade raftlab submissions; check histories")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a key/value history for linearizability (JSON from the tests, or Jepsen EDN).
    CheckHistory {
        /// The history file.
        file: PathBuf,
        /// Also write a visualization of the history and the verdict to this HTML file.
        #[arg(long)]
        html: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::CheckHistory { file, html } => check_history(&file, html.as_deref()),
    }
}

/// Parses a history file: JSON when it starts with `{"`-style JSON content, EDN otherwise.
fn parse(text: &str) -> Result<lin::History, lin::ParseError> {
    let json =
        text.trim_start().starts_with('{') && text.trim_start()[1..].trim_start().starts_with('"');
    if json {
        lin::parse_json(text)
    } else {
        lin::parse_edn(text)
    }
}

fn check_history(file: &std::path::Path, html: Option<&std::path::Path>) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let history = match parse(&text) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let result = lin::check(&history, &lin::CheckOptions::default());
    for k in &result.keys {
        println!("key {:?}: {:?} ({} steps)", k.key, k.verdict, k.steps);
    }
    println!(
        "{} operations, {} keys: {:?}",
        history.ops.len(),
        result.keys.len(),
        result.verdict
    );
    if let Some(out) = html {
        if let Err(e) = std::fs::write(out, lin::render_html(&history, &result)) {
            eprintln!("error: cannot write {}: {e}", out.display());
            return ExitCode::from(2);
        }
        println!("visualization: {}", out.display());
    }
    match result.verdict {
        Verdict::Linearizable => ExitCode::SUCCESS,
        Verdict::NotLinearizable => ExitCode::from(1),
        Verdict::Undecided => ExitCode::from(2),
    }
}
