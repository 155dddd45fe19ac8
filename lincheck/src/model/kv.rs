//! The key/value store of the labs: Get, Put and Append on string values, absent keys read `""`.

use super::interface::{Model, Operation, Operations};
use crate::history::{History, OpKind};

/// The labs' key/value store, one key per partition. [`crate::check()`] checks it with a search
/// specialized to it; this model is its plain definition (the oracle's, the generator's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvModel;

/// A key/value operation's kind and argument (the key is the operation's partition).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvInput {
    /// Get, Put or Append.
    pub kind: OpKind,
    /// The argument of a Put or Append (empty for a Get).
    pub value: String,
}

impl Model for KvModel {
    type Input = KvInput;
    /// What a Get returned (a Put or an Append returns nothing worth checking).
    type Output = String;
    type State = String;

    fn init(&self) -> String {
        String::new()
    }

    fn step(&self, state: &String, input: &KvInput, output: Option<&String>) -> Option<String> {
        match input.kind {
            OpKind::Get if output.is_some_and(|o| o != state) => None,
            OpKind::Get => Some(state.clone()),
            OpKind::Put => Some(input.value.clone()),
            OpKind::Append => Some(format!("{state}{}", input.value)),
        }
    }

    fn describe_operation(&self, input: &KvInput, output: Option<&String>) -> String {
        match (input.kind, output) {
            (OpKind::Get, Some(o)) => format!("get -> {o:?}"),
            (OpKind::Get, None) => "get -> ?".to_string(),
            (k, _) => format!("{}({:?})", k.name(), input.value),
        }
    }

    fn describe_state(&self, state: &String) -> String {
        format!("{state:?}")
    }
}

/// The operations of a key/value history in the model's terms. A Get's output counts only when
/// its reply came (an unknown outcome allows any output).
pub fn kv_operations(h: &History) -> Operations<KvModel> {
    h.ops
        .iter()
        .map(|op| Operation {
            client: op.client,
            key: op.key.clone(),
            input: KvInput {
                kind: op.kind,
                value: op.value.clone(),
            },
            output: match op.kind {
                OpKind::Get if op.ret.is_some() => op.output.clone(),
                _ => None,
            },
            call: op.call,
            ret: op.ret,
        })
        .collect()
}
