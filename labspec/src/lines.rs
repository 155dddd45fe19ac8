//! The lines of the protocol between the test harness and the grader (and the person reading the
//! output): what the grader sends on standard input, the completion report the harness prints for
//! the grader, the summary line every passing test prints, and the command that replays a run.
//! Each is a type whose `Display` writes the line and whose `FromStr` reads it back.

use std::fmt;
use std::str::FromStr;

use crate::env;

/// What a grader sends the harness on standard input (then closes it): the run's secret, which
/// authenticates the completion report, and the seed the run must use. `<nonce> <seed>` on a
/// line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraderInput {
    /// The per-run secret that the completion report must carry.
    pub nonce: String,
    /// The seed the run must use.
    pub seed: u64,
}

impl fmt::Display for GraderInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} {}", self.nonce, self.seed)
    }
}

impl FromStr for GraderInput {
    type Err = String;

    /// The first two words; anything after them is ignored.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut words = s.split_whitespace();
        let nonce = words.next().ok_or("no secret")?.to_string();
        let seed = words.next().and_then(|w| w.parse().ok()).ok_or("no seed")?;
        Ok(GraderInput { nonce, seed })
    }
}

/// The harness's report that a graded test ran to its end with every check passed, on a line of
/// its own: `<nonce> pass <test> seed=<n> virtual=<s> wall=<s> trace=<16 hex digits>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The grader's secret for this run.
    pub nonce: String,
    /// The test that passed.
    pub test: String,
    /// The seed it ran with.
    pub seed: u64,
    /// Virtual seconds of the run (printed with 3 decimals).
    pub virtual_s: f64,
    /// Wall-clock seconds of the run (printed with 3 decimals).
    pub wall_s: f64,
    /// The run's trace digest.
    pub trace: u64,
}

impl Completion {
    /// How the report of `test` with this secret starts: the grader looks for it.
    pub fn prefix(nonce: &str, test: &str) -> String {
        format!("{nonce} pass {test} ")
    }
}

impl fmt::Display for Completion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} pass {} seed={} virtual={:.3} wall={:.3} trace={:016x}",
            self.nonce, self.test, self.seed, self.virtual_s, self.wall_s, self.trace
        )
    }
}

impl FromStr for Completion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let words: Vec<&str> = s.split_whitespace().collect();
        let [nonce, "pass", test, seed, virt, wall, trace] = words.as_slice() else {
            return Err(format!("not a completion report: {s:?}"));
        };
        Ok(Completion {
            nonce: nonce.to_string(),
            test: test.to_string(),
            seed: value(seed, "seed=", "")?,
            virtual_s: value(virt, "virtual=", "")?,
            wall_s: value(wall, "wall=", "")?,
            trace: hex(trace)?,
        })
    }
}

/// The line every passing simulated test prints:
/// `<test>: ok [<extra> ]virtual=<s>s wall=<s>s events=<n> seed=<n> trace=<hex>[ determinism=checked]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The test that passed.
    pub test: String,
    /// The tester's own figures (may be empty).
    pub extra: String,
    /// Virtual seconds of the run.
    pub virtual_s: f64,
    /// Wall-clock seconds of the run.
    pub wall_s: f64,
    /// Events in the trace.
    pub events: u64,
    /// The seed it ran with.
    pub seed: u64,
    /// The run's trace digest.
    pub trace: u64,
    /// Whether the run was repeated and the two traces compared.
    pub determinism_checked: bool,
}

/// What [`Summary`] prints after the trace when the determinism check ran.
const DETERMINISM_CHECKED: &str = "determinism=checked";

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ok {}", self.test, self.extra)?;
        if !self.extra.is_empty() {
            f.write_str(" ")?;
        }
        write!(
            f,
            "virtual={:.3}s wall={:.3}s events={} seed={} trace={:016x}",
            self.virtual_s, self.wall_s, self.events, self.seed, self.trace
        )?;
        if self.determinism_checked {
            write!(f, " {DETERMINISM_CHECKED}")?;
        }
        Ok(())
    }
}

impl FromStr for Summary {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("not a summary line: {s:?}");
        let (test, rest) = s.split_once(": ok ").ok_or_else(bad)?;
        let mut words: Vec<&str> = rest.split(' ').collect();
        let determinism_checked = words.last() == Some(&DETERMINISM_CHECKED);
        if determinism_checked {
            words.pop();
        }
        if words.len() < 5 || test.contains(char::is_whitespace) {
            return Err(bad());
        }
        let fields = words.split_off(words.len() - 5);
        Ok(Summary {
            test: test.to_string(),
            extra: words.join(" "),
            virtual_s: value(fields[0], "virtual=", "s")?,
            wall_s: value(fields[1], "wall=", "s")?,
            events: value(fields[2], "events=", "")?,
            seed: value(fields[3], "seed=", "")?,
            trace: hex(fields[4])?,
            determinism_checked,
        })
    }
}

/// Which test binary a replay command selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayTarget {
    /// The package's library's unit tests (`--lib`).
    Lib,
    /// An integration test target (`--test <name>`).
    Test(String),
    /// Any (no flag: cargo runs every target, `--exact` picks the test).
    Any,
}

/// The command that replays one run of one test exactly:
/// `[LAB_CHECK_DETERMINISM=1 ]LAB_SEED=<n> cargo test[ -p <package>][ --release][ <flags>]
/// [ --lib| --test <target>] -- --exact <test> --nocapture`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    /// Run it with the determinism check.
    pub check_determinism: bool,
    /// The seed to replay.
    pub seed: u64,
    /// The package (`-p`), if the test's binary knew it.
    pub package: Option<String>,
    /// Whether the test ran in a release build.
    pub release: bool,
    /// Further cargo flags (e.g. `--features <name>`), put after the profile.
    pub cargo_flags: String,
    /// Which test binary holds it.
    pub target: ReplayTarget,
    /// The test's full name.
    pub test: String,
}

impl fmt::Display for Replay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.check_determinism {
            write!(
                f,
                "{}={} ",
                env::CHECK_DETERMINISM,
                env::CHECK_DETERMINISM_ON
            )?;
        }
        write!(f, "{}={} cargo test", env::SEED, self.seed)?;
        if let Some(p) = &self.package {
            write!(f, " -p {p}")?;
        }
        if self.release {
            f.write_str(" --release")?;
        }
        if !self.cargo_flags.is_empty() {
            write!(f, " {}", self.cargo_flags)?;
        }
        match &self.target {
            ReplayTarget::Lib => f.write_str(" --lib")?,
            ReplayTarget::Test(t) => write!(f, " --test {t}")?,
            ReplayTarget::Any => {}
        }
        write!(f, " -- --exact {} --nocapture", self.test)
    }
}

impl FromStr for Replay {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("not a replay command: {s:?}");
        let mut words = s.split_whitespace().peekable();
        let check = format!("{}={}", env::CHECK_DETERMINISM, env::CHECK_DETERMINISM_ON);
        let check_determinism = words.next_if(|w| *w == check).is_some();
        let seed = value(
            words.next().ok_or_else(bad)?,
            &format!("{}=", env::SEED),
            "",
        )?;
        if words.next() != Some("cargo") || words.next() != Some("test") {
            return Err(bad());
        }
        let mut replay = Replay {
            check_determinism,
            seed,
            package: None,
            release: false,
            cargo_flags: String::new(),
            target: ReplayTarget::Any,
            test: String::new(),
        };
        let mut flags = Vec::new();
        loop {
            match words.next().ok_or_else(bad)? {
                "--" => break,
                "-p" => replay.package = Some(words.next().ok_or_else(bad)?.to_string()),
                "--release" => replay.release = true,
                "--lib" => replay.target = ReplayTarget::Lib,
                "--test" => {
                    replay.target = ReplayTarget::Test(words.next().ok_or_else(bad)?.to_string())
                }
                flag => flags.push(flag),
            }
        }
        replay.cargo_flags = flags.join(" ");
        let rest: Vec<&str> = words.collect();
        let ["--exact", test, "--nocapture"] = rest.as_slice() else {
            return Err(bad());
        };
        replay.test = test.to_string();
        Ok(replay)
    }
}

/// The value of a `<key><value><unit>` word.
fn value<T: FromStr>(word: &str, key: &str, unit: &str) -> Result<T, String> {
    word.strip_prefix(key)
        .and_then(|w| w.strip_suffix(unit))
        .and_then(|w| w.parse().ok())
        .ok_or_else(|| format!("expected {key}<value>{unit}, got {word:?}"))
}

/// The value of a `trace=<hex>` word.
fn hex(word: &str) -> Result<u64, String> {
    word.strip_prefix("trace=")
        .and_then(|w| u64::from_str_radix(w, 16).ok())
        .ok_or_else(|| format!("expected trace=<hex>, got {word:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grader_input_round_trips() {
        let input = GraderInput {
            nonce: "0123456789abcdef0123456789abcdef".into(),
            seed: 482913377102,
        };
        let text = input.to_string();
        assert_eq!(text, "0123456789abcdef0123456789abcdef 482913377102\n");
        assert_eq!(text.parse::<GraderInput>(), Ok(input));
        assert!("onlyone".parse::<GraderInput>().is_err());
        assert!("".parse::<GraderInput>().is_err());
        assert!("n x".parse::<GraderInput>().is_err());
        // As the harness always read it: the first two words.
        assert_eq!("n 7 more".parse::<GraderInput>().map(|g| g.seed), Ok(7));
    }

    #[test]
    fn completion_round_trips_in_the_hostile_tests_format() {
        let c = Completion {
            nonce: "s3cr3t".into(),
            test: "body_passes".into(),
            seed: 42,
            virtual_s: 1.0,
            wall_s: 0.001,
            trace: 0,
        };
        let line = c.to_string();
        // grading/tests/hostile/forge.rs forges exactly this format.
        assert_eq!(
            line,
            "s3cr3t pass body_passes seed=42 virtual=1.000 wall=0.001 trace=0000000000000000"
        );
        assert!(line.starts_with(&Completion::prefix("s3cr3t", "body_passes")));
        assert_eq!(line.parse::<Completion>(), Ok(c));
        let traced = "n pass t_2a seed=9 virtual=12.345 wall=0.250 trace=5c1f0e9a7d2b4c61";
        let parsed: Completion = traced.parse().unwrap();
        assert_eq!(parsed.trace, 0x5c1f_0e9a_7d2b_4c61);
        assert_eq!(parsed.to_string(), traced);
        for bad in [
            "n pass t seed=9 virtual=1.000 wall=0.001",
            "n fail t seed=9 virtual=1.000 wall=0.001 trace=00",
            "n pass t seed=x virtual=1.000 wall=0.001 trace=00",
            "n pass t seed=9 virtual=1.000 wall=0.001 trace=00 more",
        ] {
            assert!(bad.parse::<Completion>().is_err(), "{bad}");
        }
    }

    #[test]
    fn summary_round_trips() {
        // The README's example.
        let line =
            "basic: ok virtual=1.000s wall=0.004s events=12 seed=8813 trace=5c1f0e9a7d2b4c61";
        let s: Summary = line.parse().unwrap();
        assert_eq!((s.seed, s.events, s.extra.as_str()), (8813, 12, ""));
        assert_eq!(s.to_string(), line);
        let line = "initial_election_2a: ok (2A initial election) time=1.2 peers=3 \
                    virtual=4.818s wall=0.100s events=900 seed=1 trace=00000000000000ff \
                    determinism=checked";
        let s: Summary = line.parse().unwrap();
        assert!(s.determinism_checked);
        assert_eq!(s.extra, "(2A initial election) time=1.2 peers=3");
        assert_eq!(s.trace, 0xff);
        assert_eq!(s.to_string(), line);
        assert!("x: ok seed=1 trace=00".parse::<Summary>().is_err());
    }

    #[test]
    fn replay_commands_round_trip_in_both_tools_formats() {
        let grader = Replay {
            check_determinism: false,
            seed: 482913377102,
            package: None,
            release: false,
            cargo_flags: String::new(),
            target: ReplayTarget::Test("raft_2c".into()),
            test: "figure8_unreliable_2c".into(),
        };
        let text = grader.to_string();
        assert_eq!(
            text,
            "LAB_SEED=482913377102 cargo test --test raft_2c -- --exact figure8_unreliable_2c \
             --nocapture"
        );
        assert_eq!(text.parse::<Replay>(), Ok(grader));
        let harness = Replay {
            check_determinism: true,
            seed: 7,
            package: Some("raftlab".into()),
            release: true,
            cargo_flags: "--features extra".into(),
            target: ReplayTarget::Lib,
            test: "tests::x".into(),
        };
        let text = harness.to_string();
        assert_eq!(
            text,
            "LAB_CHECK_DETERMINISM=1 LAB_SEED=7 cargo test -p raftlab --release --features \
             extra --lib -- --exact tests::x --nocapture"
        );
        assert_eq!(text.parse::<Replay>(), Ok(harness));
        let any = "LAB_SEED=1 cargo test -- --exact t --nocapture";
        assert_eq!(any.parse::<Replay>().unwrap().target, ReplayTarget::Any);
        assert_eq!(any.parse::<Replay>().unwrap().to_string(), any);
        assert!(
            "LAB_SEED=1 cargo test -- --exact t"
                .parse::<Replay>()
                .is_err()
        );
        assert!(
            "cargo test -- --exact t --nocapture"
                .parse::<Replay>()
                .is_err()
        );
    }
}
