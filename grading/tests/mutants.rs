//! `grading mutants` end to end, on two mutants of the corpus and part 2A: a bug that 2A's tests
//! catch, and a legal but slow variant that must pass them.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::path::Path;
use std::process::Command;

use common::scratch;

const BUG: &str = "no-step-down-on-reply";
const SLOW: &str = "slow-heartbeat";

#[test]
fn a_caught_bug_and_a_passing_slow_variant() {
    let out = scratch("mutants");
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("grade-e2e-target");
    let status = Command::new(env!("CARGO_BIN_EXE_grading"))
        .args([
            "mutants", "--parts", "2a", "--runs", "2", "--seed", "5", "--debug",
        ])
        .args(["--jobs", "2", "--only", &format!("{BUG},{SLOW}")])
        .arg("--out")
        .arg(&out)
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("run the grader");
    assert!(status.success(), "grading mutants failed: {status}");
    let table = std::fs::read_to_string(out.join("mutants.txt")).expect("mutants.txt");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("mutants.json")).unwrap()).unwrap();
    let outcomes = json.as_array().expect("a list of outcomes");
    assert_eq!(outcomes.len(), 2, "{table}");
    let of = |name: &str| {
        outcomes
            .iter()
            .find(|o| o["mutant"]["name"] == name)
            .unwrap_or_else(|| panic!("no outcome for {name}:\n{table}"))
    };
    let bug = of(BUG);
    assert_eq!(bug["error"], serde_json::Value::Null, "{table}");
    assert_eq!(bug["caught_at"], 2, "{table}");
    assert!(
        bug["caught_by"]
            .as_array()
            .is_some_and(|c| c.iter().any(|t| t[0] == "leader_yields_to_higher_term_2a")),
        "{table}"
    );
    let slow = of(SLOW);
    assert_eq!(slow["error"], serde_json::Value::Null, "{table}");
    assert_eq!(slow["caught_by"], serde_json::json!([]), "{table}");
    assert!(table.contains("2 mutants; 2 hold"), "{table}");
}
