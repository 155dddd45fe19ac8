//! The history data model (operations, fault annotations) and its JSON form.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Which key/value operation a record describes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    /// Read the key's value (`""` when the key is absent).
    Get,
    /// Replace the key's value.
    Put,
    /// Append a string to the key's value.
    Append,
}

impl OpKind {
    /// Lower-case name used in JSON, EDN and the visualization.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Get => "get",
            OpKind::Put => "put",
            OpKind::Append => "append",
        }
    }
}

/// One client operation as observed by the tester: what was asked, what came back, and when.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Op {
    /// Client (process) that issued the operation; used for display only.
    pub client: u64,
    /// Get, Put or Append.
    pub kind: OpKind,
    /// Key the operation touches; keys are checked independently.
    pub key: String,
    /// Argument of a Put or Append (ignored for a Get).
    #[serde(default)]
    pub value: String,
    /// Result of a Get; `None` when unknown (such a Get constrains nothing and is skipped).
    #[serde(default)]
    pub output: Option<String>,
    /// Time the client issued the call (any monotone integer clock, e.g. virtual nanoseconds).
    pub call: u64,
    /// Time the reply arrived; `None` when the outcome is unknown (it may or may not have
    /// taken effect, at any time after `call`).
    #[serde(default)]
    pub ret: Option<u64>,
}

impl Op {
    /// Short human-readable description, e.g. `append("k", "x")` or `get("k") -> "xy"`.
    pub fn describe(&self) -> String {
        match self.kind {
            OpKind::Get => match &self.output {
                Some(o) => format!("get({:?}) -> {:?}", self.key, o),
                None => format!("get({:?}) -> ?", self.key),
            },
            k => format!("{}({:?}, {:?})", k.name(), self.key, self.value),
        }
    }
}

/// A tester event worth showing next to the operations, e.g. a partition or a crash.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Annotation {
    /// When the event happened (same clock as `Op::call`).
    pub time: u64,
    /// End of the event, if it lasts (drawn as a shaded region); `None` draws a line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<u64>,
    /// Text shown in the visualization.
    pub text: String,
}

/// A complete history: every operation of every client, plus fault annotations.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// All operations, in any order; results refer to them by index into this vector.
    pub ops: Vec<Op>,
    /// Faults and other tester events, for the visualization only.
    #[serde(default)]
    pub annotations: Vec<Annotation>,
    /// What one tick of the clock is, for the visualization's axis: `Some("ns")` labels it in
    /// seconds; `None` (EDN and other clocks) shows the raw numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_unit: Option<String>,
}

impl History {
    /// Serializes the history to the JSON format read by [`parse_json`].
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a History always serializes")
    }

    /// Reports the first malformed operation (a reply before its call).
    pub fn validate(&self) -> Result<(), String> {
        for (i, op) in self.ops.iter().enumerate() {
            if let Some(r) = op.ret
                && r < op.call
            {
                return Err(format!("op {i}: ret {r} is before call {}", op.call));
            }
        }
        Ok(())
    }
}

/// A problem found while reading a history; `line` is 1-based (0 when not tied to a line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Line of the input where the problem is (0 if it concerns the whole input).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for ParseError {}

/// Reads a history in the JSON format `{"ops": [...], "annotations": [...]}`.
pub fn parse_json(s: &str) -> Result<History, ParseError> {
    let h: History = serde_json::from_str(s).map_err(|e| ParseError {
        line: e.line(),
        message: e.to_string(),
    })?;
    h.validate()
        .map_err(|message| ParseError { line: 0, message })?;
    Ok(h)
}
