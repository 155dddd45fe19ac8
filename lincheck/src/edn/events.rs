//! Jepsen history events, paired: each `:invoke` with the next completion (`:ok`, `:fail`,
//! `:info`) of the same process. `:ok` means it happened, `:fail` that it did not (the op is
//! dropped), `:info` that the outcome is unknown; an invoke never completed counts as `:info`.
//! The timestamp of an event is its line number. Events of non-numeric processes (the nemesis)
//! become annotations. A model says which `:f` it knows and where an op's key is.

use super::reader::{Reader, Value, err};
use crate::history::{Annotation, ParseError};
use std::collections::BTreeMap;

/// How a model reads operations: its kinds of operation, and where their key is.
pub(crate) struct Dialect<K> {
    /// The kind of operation an `:f` names, if the model has it.
    pub(crate) kind: fn(&str) -> Option<K>,
    /// The `:f` the model knows, for errors, e.g. `:get, :put or :append`.
    pub(crate) expected: &'static str,
    /// Splits an event's `:value` into a key and a value when it has no `:key` (e.g. a
    /// jepsen.independent `[key value]` pair); `None` leaves the value whole, the key empty.
    pub(crate) pair: fn(K, &Value) -> Option<(&Value, &Value)>,
}

/// A paired operation, before a model reads its values.
pub(crate) struct RawOp<K> {
    pub(crate) client: u64,
    pub(crate) kind: K,
    pub(crate) key: String,
    /// The invoke's value (`None` for nil or none).
    pub(crate) invoked: Option<Value>,
    /// The `:ok` completion's value (`None` for nil, none, or no `:ok`).
    pub(crate) returned: Option<Value>,
    pub(crate) call: u64,
    /// The `:ok` completion's line; `None` when the outcome is unknown.
    pub(crate) ret: Option<u64>,
}

/// What one event map says.
struct Event<'a, K> {
    ty: &'a str,
    f: String,
    process: u64,
    kind: K,
    /// The key, and whether it came from `:key` (rather than from a pair or nothing).
    key: String,
    has_key_field: bool,
    value: Option<Value>,
}

/// An invoke waiting for its completion.
struct Pending<K> {
    line: usize,
    f: String,
    kind: K,
    key: String,
    value: Option<Value>,
}

/// Reads the EDN events of `s` and pairs them; errors name the offending line.
pub(crate) fn parse_events<K: Copy>(
    s: &str,
    dialect: &Dialect<K>,
) -> Result<(Vec<RawOp<K>>, Vec<Annotation>), ParseError> {
    let mut r = Reader {
        s: s.as_bytes(),
        pos: 0,
        line: 1,
    };
    let (mut ops, mut annotations) = (Vec::new(), Vec::new());
    let mut pending: BTreeMap<u64, Pending<K>> = BTreeMap::new();
    loop {
        r.skip_ws()?;
        if r.pos >= r.s.len() {
            break;
        }
        let line = r.line;
        let map = event_map(line, r.value()?)?;
        match event(dialect, line, &map)? {
            Ok(e) => ops.extend(pair(&mut pending, line, e)?),
            Err(Some(a)) => annotations.push(a),
            Err(None) => {}
        }
    }
    for (client, p) in pending {
        ops.push(raw(client, p, None, None));
    }
    ops.sort_by_key(|o| o.call);
    Ok((ops, annotations))
}

/// The map of an event (possibly tagged, e.g. `#jepsen.history.Op{...}`).
fn event_map(line: usize, v: Value) -> Result<Vec<(Value, Value)>, ParseError> {
    match v {
        Value::Map(m) => Ok(m),
        Value::Tagged(_, inner) if matches!(*inner, Value::Map(_)) => match *inner {
            Value::Map(m) => Ok(m),
            _ => unreachable!(),
        },
        other => Err(err(
            line,
            format!(
                "expected a map such as {{:process 0, :type :invoke, ...}}, found {}",
                other.text()
            ),
        )),
    }
}

fn raw<K>(client: u64, p: Pending<K>, ret: Option<u64>, returned: Option<Value>) -> RawOp<K> {
    RawOp {
        client,
        kind: p.kind,
        key: p.key,
        invoked: p.value,
        returned,
        call: p.line as u64,
        ret,
    }
}

/// Reads one event map: a client's event, or (as `Err`) a nemesis's annotation if it has one.
fn event<'a, K: Copy>(
    dialect: &Dialect<K>,
    line: usize,
    map: &'a [(Value, Value)],
) -> Result<Result<Event<'a, K>, Option<Annotation>>, ParseError> {
    let field = |name: &str| {
        map.iter()
            .find(|(k, _)| matches!(k, Value::Keyword(n) if n == name))
            .map(|(_, v)| v)
    };
    let ty = event_type(line, field("type"))?;
    let f = match field("f") {
        Some(Value::Keyword(s) | Value::Symbol(s) | Value::Str(s)) => s.clone(),
        Some(other) => {
            return Err(err(
                line,
                format!(":f must be a keyword, found {}", other.text()),
            ));
        }
        None => return Err(err(line, "missing :f".into())),
    };
    let value = field("value");
    let process = match field("process") {
        Some(Value::Int(n)) => n
            .parse::<u64>()
            .map_err(|_| err(line, format!(":process {n} is not a non-negative integer")))?,
        Some(_) => return Ok(Err(annotation(ty, &f, value, line))),
        None => return Err(err(line, "missing :process".into())),
    };
    let Some(kind) = (dialect.kind)(&f) else {
        return Err(err(
            line,
            format!("unsupported :f :{f} (expected {})", dialect.expected),
        ));
    };
    // Key and value: from :key/:value, or from a pair in :value.
    let (key, value) = match (field("key"), value) {
        (Some(k), v) => (k.atom(line, ":key")?, v),
        (None, Some(v)) => match (dialect.pair)(kind, v) {
            Some((k, v)) => (k.atom(line, "key in [key value]")?, Some(v)),
            None => (String::new(), Some(v)),
        },
        (None, None) => (String::new(), None),
    };
    Ok(Ok(Event {
        ty,
        f,
        process,
        kind,
        key,
        has_key_field: field("key").is_some(),
        value: value.filter(|v| !matches!(v, Value::Nil)).cloned(),
    }))
}

/// The `:type` of an event, checked.
fn event_type(line: usize, v: Option<&Value>) -> Result<&str, ParseError> {
    let ty = match v {
        Some(Value::Keyword(t)) => t.as_str(),
        Some(other) => {
            return Err(err(
                line,
                format!(":type must be a keyword, found {}", other.text()),
            ));
        }
        None => return Err(err(line, "missing :type".into())),
    };
    if !matches!(ty, "invoke" | "ok" | "fail" | "info") {
        return Err(err(
            line,
            format!(":type must be :invoke, :ok, :fail or :info, found :{ty}"),
        ));
    }
    Ok(ty)
}

/// The nemesis's (or another non-client process's) results, kept as annotations.
fn annotation(ty: &str, f: &str, value: Option<&Value>, line: usize) -> Option<Annotation> {
    if ty == "invoke" || ty == "fail" {
        return None;
    }
    let mut text = f.to_string();
    if let Some(v) = value
        && !matches!(v, Value::Nil)
    {
        text.push(' ');
        text.push_str(&v.text());
    }
    Some(Annotation {
        time: line as u64,
        end: None,
        text,
    })
}

/// Records an invoke, or completes the pending invoke of its process (returning the operation
/// unless it failed).
fn pair<K>(
    pending: &mut BTreeMap<u64, Pending<K>>,
    line: usize,
    e: Event<'_, K>,
) -> Result<Option<RawOp<K>>, ParseError> {
    let (ty, process) = (e.ty, e.process);
    if ty == "invoke" {
        if let Some(p) = pending.get(&process) {
            return Err(err(
                line,
                format!(
                    "process {process} invokes again while its invoke on line {} has not completed",
                    p.line
                ),
            ));
        }
        let p = Pending {
            line,
            f: e.f,
            kind: e.kind,
            key: e.key,
            value: e.value,
        };
        pending.insert(process, p);
        return Ok(None);
    }
    let Some(p) = pending.remove(&process) else {
        return Err(err(
            line,
            format!(":{ty} completion for process {process} without a pending invoke"),
        ));
    };
    if p.f != e.f {
        return Err(err(
            line,
            format!(
                ":{ty} completion has :f :{} but the invoke on line {} has :f :{}",
                e.f, p.line, p.f
            ),
        ));
    }
    if p.key != e.key && e.has_key_field {
        return Err(err(
            line,
            format!(
                "completion is for key {:?} but the invoke on line {} is for key {:?}",
                e.key, p.line, p.key
            ),
        ));
    }
    Ok(match ty {
        "fail" => None,
        "info" => Some(raw(process, p, None, None)),
        _ => Some(raw(process, p, Some(line as u64), e.value)),
    })
}
