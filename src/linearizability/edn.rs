//! Reader for Jepsen-style EDN key/value histories.
//!
//! The input is a sequence of EDN maps (normally one per line), for example
//! `{:process 3, :type :invoke, :f :append, :key "1", :value "x 3 0 y"}`. Each `:invoke`
//! is matched with the next completion (`:ok`, `:fail`, `:info`) of the same process.
//! `:ok` means it happened, `:fail` that it did not (the op is dropped), `:info` that the
//! outcome is unknown; an invoke never completed is treated like `:info`. The timestamp
//! of an event is its line number. Events of non-numeric processes (the nemesis) become
//! annotations. `:read`/`:write` are accepted as `:get`/`:put`, and a missing `:key` with
//! a `[key value]` pair as `:value` (jepsen.independent) is understood too.

use super::history::{Annotation, History, Op, OpKind, ParseError};
use std::collections::BTreeMap;

/// Reads a Jepsen EDN key/value history; errors name the offending line.
pub fn parse_edn(s: &str) -> Result<History, ParseError> {
    let mut r = Reader {
        s: s.as_bytes(),
        pos: 0,
        line: 1,
    };
    let mut h = History::default();
    // Pending invokes by process: (line, kind, key, value).
    let mut pending: BTreeMap<u64, Pending> = BTreeMap::new();
    loop {
        r.skip_ws()?;
        if r.pos >= r.s.len() {
            break;
        }
        let line = r.line;
        let v = r.value()?;
        let map = match v {
            Value::Map(m) => m,
            Value::Tagged(_, inner) if matches!(*inner, Value::Map(_)) => match *inner {
                Value::Map(m) => m,
                _ => unreachable!(),
            },
            other => {
                return Err(err(
                    line,
                    format!(
                        "expected a map such as {{:process 0, :type :invoke, ...}}, found {}",
                        other.text()
                    ),
                ));
            }
        };
        event(&mut h, &mut pending, line, &map)?;
    }
    for (client, p) in pending {
        h.ops.push(p.into_op(client, None, None));
    }
    h.ops.sort_by_key(|o| o.call);
    Ok(h)
}

fn err(line: usize, message: String) -> ParseError {
    ParseError { line, message }
}

/// An invoke waiting for its completion.
struct Pending {
    line: usize,
    f: String,
    kind: OpKind,
    key: String,
    value: Option<String>,
}

impl Pending {
    fn into_op(self, client: u64, ret: Option<u64>, output: Option<String>) -> Op {
        Op {
            client,
            kind: self.kind,
            key: self.key,
            value: self.value.unwrap_or_default(),
            output,
            call: self.line as u64,
            ret,
        }
    }
}

/// Handles one event map.
fn event(
    h: &mut History,
    pending: &mut BTreeMap<u64, Pending>,
    line: usize,
    map: &[(Value, Value)],
) -> Result<(), ParseError> {
    let field = |name: &str| {
        map.iter()
            .find(|(k, _)| matches!(k, Value::Keyword(n) if n == name))
            .map(|(_, v)| v)
    };
    let ty = match field("type") {
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
        Some(_) => {
            // The nemesis (or another non-client process): keep its results as annotations.
            if ty != "invoke" && ty != "fail" {
                let mut text = f.clone();
                if let Some(v) = value
                    && !matches!(v, Value::Nil)
                {
                    text.push(' ');
                    text.push_str(&v.text());
                }
                h.annotations.push(Annotation {
                    time: line as u64,
                    end: None,
                    text,
                });
            }
            return Ok(());
        }
        None => return Err(err(line, "missing :process".into())),
    };
    let kind = match f.as_str() {
        "get" | "read" => OpKind::Get,
        "put" | "write" => OpKind::Put,
        "append" => OpKind::Append,
        other => {
            return Err(err(
                line,
                format!("unsupported :f :{other} (expected :get, :put or :append)"),
            ));
        }
    };
    // Key and value: from :key/:value, or from a [key value] pair in :value.
    let (key, value) = match (field("key"), value) {
        (Some(k), v) => (k.atom(line, ":key")?, v),
        (None, Some(Value::Vector(kv))) if kv.len() == 2 => {
            (kv[0].atom(line, "key in [key value]")?, Some(&kv[1]))
        }
        (None, v) => (String::new(), v),
    };
    let value = match value {
        None | Some(Value::Nil) => None,
        Some(v) => Some(v.text()),
    };
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
        pending.insert(
            process,
            Pending {
                line,
                f,
                kind,
                key,
                value,
            },
        );
        return Ok(());
    }
    let Some(mut p) = pending.remove(&process) else {
        return Err(err(
            line,
            format!(":{ty} completion for process {process} without a pending invoke"),
        ));
    };
    if p.f != f {
        return Err(err(
            line,
            format!(
                ":{ty} completion has :f :{f} but the invoke on line {} has :f :{}",
                p.line, p.f
            ),
        ));
    }
    if p.key != key && field("key").is_some() {
        return Err(err(
            line,
            format!(
                "completion is for key {key:?} but the invoke on line {} is for key {:?}",
                p.line, p.key
            ),
        ));
    }
    match ty {
        "fail" => {}
        "info" => h.ops.push(p.into_op(process, None, None)),
        _ => {
            let output = if kind == OpKind::Get {
                Some(value.unwrap_or_default())
            } else {
                if p.value.is_none() {
                    p.value = value;
                }
                None
            };
            h.ops.push(p.into_op(process, Some(line as u64), output));
        }
    }
    Ok(())
}

/// An EDN value (just enough of EDN for Jepsen histories).
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Nil,
    Bool(bool),
    /// Integer, as written (without a trailing `N`).
    Int(String),
    /// Any other number, as written.
    Float(String),
    Str(String),
    Char(char),
    Keyword(String),
    Symbol(String),
    List(Vec<Value>),
    Vector(Vec<Value>),
    Set(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Tagged(String, Box<Value>),
}

impl Value {
    /// Text of a key or value: strings unquoted, other scalars as written.
    fn atom(&self, line: usize, what: &str) -> Result<String, ParseError> {
        match self {
            Value::Str(s)
            | Value::Int(s)
            | Value::Float(s)
            | Value::Keyword(s)
            | Value::Symbol(s) => Ok(s.clone()),
            other => Err(err(
                line,
                format!(
                    "{what} must be a string or a number, found {}",
                    other.text()
                ),
            )),
        }
    }

    /// Plain text for display and for values: strings unquoted, the rest as EDN.
    fn text(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            other => other.edn(),
        }
    }

    /// EDN rendering.
    fn edn(&self) -> String {
        let seq = |open: &str, items: &[Value], close: &str| {
            let inner: Vec<String> = items.iter().map(Value::edn).collect();
            format!("{open}{}{close}", inner.join(" "))
        };
        match self {
            Value::Nil => "nil".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(s) | Value::Float(s) | Value::Symbol(s) => s.clone(),
            Value::Str(s) => format!("{s:?}"),
            Value::Char(c) => format!("\\{c}"),
            Value::Keyword(k) => format!(":{k}"),
            Value::List(v) => seq("(", v, ")"),
            Value::Vector(v) => seq("[", v, "]"),
            Value::Set(v) => seq("#{", v, "}"),
            Value::Map(m) => {
                let inner: Vec<String> = m
                    .iter()
                    .map(|(k, v)| format!("{} {}", k.edn(), v.edn()))
                    .collect();
                format!("{{{}}}", inner.join(", "))
            }
            Value::Tagged(t, v) => format!("#{t} {}", v.edn()),
        }
    }
}

/// Byte-level EDN reader that tracks the current line.
struct Reader<'a> {
    s: &'a [u8],
    pos: usize,
    line: usize,
}

fn is_delim(b: u8) -> bool {
    b.is_ascii_whitespace()
        || matches!(
            b,
            b',' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'"' | b';'
        )
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        if b == b'\n' {
            self.line += 1;
        }
        Some(b)
    }

    fn error<T>(&self, message: String) -> Result<T, ParseError> {
        Err(err(self.line, message))
    }

    /// Skips whitespace, commas, `;` comments and `#_` discarded forms.
    fn skip_ws(&mut self) -> Result<(), ParseError> {
        while let Some(b) = self.peek() {
            if b.is_ascii_whitespace() || b == b',' {
                self.bump();
            } else if b == b';' {
                while let Some(c) = self.bump() {
                    if c == b'\n' {
                        break;
                    }
                }
            } else if b == b'#' && self.s.get(self.pos + 1) == Some(&b'_') {
                self.pos += 2;
                self.value()?;
            } else {
                break;
            }
        }
        Ok(())
    }

    /// Reads a run of non-delimiter bytes.
    fn token(&mut self) -> String {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if is_delim(b) {
                break;
            }
            self.pos += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.pos]).into_owned()
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        self.skip_ws()?;
        let Some(b) = self.peek() else {
            return self.error("unexpected end of input".into());
        };
        match b {
            b'{' => {
                self.bump();
                let items = self.seq(b'}')?;
                if items.len() % 2 != 0 {
                    return self.error("map has a key without a value".into());
                }
                let mut it = items.into_iter();
                let mut m = Vec::new();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    m.push((k, v));
                }
                Ok(Value::Map(m))
            }
            b'[' => {
                self.bump();
                Ok(Value::Vector(self.seq(b']')?))
            }
            b'(' => {
                self.bump();
                Ok(Value::List(self.seq(b')')?))
            }
            b'"' => self.string(),
            b'}' | b']' | b')' => self.error(format!("unexpected '{}'", b as char)),
            b'#' => {
                self.bump();
                if self.peek() == Some(b'{') {
                    self.bump();
                    return Ok(Value::Set(self.seq(b'}')?));
                }
                let tag = self.token();
                if tag.is_empty() {
                    return self.error("'#' must be followed by a tag, '{' or '_'".into());
                }
                let v = self.value()?;
                Ok(Value::Tagged(tag, Box::new(v)))
            }
            b':' => {
                self.bump();
                let name = self.token();
                if name.is_empty() {
                    return self.error("empty keyword ':'".into());
                }
                Ok(Value::Keyword(name))
            }
            b'\\' => {
                self.bump();
                let t = self.token();
                let c = match t.as_str() {
                    "newline" => '\n',
                    "space" => ' ',
                    "tab" => '\t',
                    "return" => '\r',
                    _ if t.chars().count() == 1 => t.chars().next().unwrap_or(' '),
                    _ if t.is_empty() && self.peek().is_some() => {
                        // A delimiter character such as \( or \".
                        let d = self.bump().unwrap_or(b' ');
                        d as char
                    }
                    _ => return self.error(format!("bad character literal \\{t}")),
                };
                Ok(Value::Char(c))
            }
            _ => {
                let t = self.token();
                let bytes = t.as_bytes();
                let numeric = bytes[0].is_ascii_digit()
                    || (matches!(bytes[0], b'-' | b'+')
                        && bytes.len() > 1
                        && bytes[1].is_ascii_digit());
                if numeric {
                    let body = t.strip_prefix('+').unwrap_or(&t);
                    let digits = body.strip_suffix('N').unwrap_or(body);
                    let d = digits.strip_prefix('-').unwrap_or(digits);
                    if !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()) {
                        return Ok(Value::Int(digits.to_string()));
                    }
                    if body.parse::<f64>().is_ok() || body.ends_with('M') || body.contains('/') {
                        return Ok(Value::Float(body.to_string()));
                    }
                    return self.error(format!("bad number {t:?}"));
                }
                Ok(match t.as_str() {
                    "nil" => Value::Nil,
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    _ => Value::Symbol(t),
                })
            }
        }
    }

    /// Reads values until `close`.
    fn seq(&mut self, close: u8) -> Result<Vec<Value>, ParseError> {
        let start = self.line;
        let mut items = Vec::new();
        loop {
            self.skip_ws()?;
            match self.peek() {
                None => {
                    return Err(err(
                        start,
                        format!("'{}' opened here is never closed", opener(close)),
                    ));
                }
                Some(b) if b == close => {
                    self.bump();
                    return Ok(items);
                }
                Some(b @ (b'}' | b']' | b')')) => {
                    return self.error(format!(
                        "expected '{}' to close '{}' from line {start}, found '{}'",
                        close as char,
                        opener(close),
                        b as char
                    ));
                }
                Some(_) => items.push(self.value()?),
            }
        }
    }

    fn string(&mut self) -> Result<Value, ParseError> {
        let start = self.line;
        self.bump();
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(b) = self.bump() else {
                return Err(err(start, "string is never closed".into()));
            };
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.bump() else {
                        return Err(err(start, "string is never closed".into()));
                    };
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'u' => {
                            let hex = self.s.get(self.pos..self.pos + 4).unwrap_or(b"");
                            let c = std::str::from_utf8(hex)
                                .ok()
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .and_then(char::from_u32);
                            let Some(c) = c else {
                                return self.error("bad \\u escape in string".into());
                            };
                            self.pos += 4;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        }
                        other => {
                            return self
                                .error(format!("unknown escape \\{} in string", other as char));
                        }
                    }
                }
                _ => out.push(b),
            }
        }
        Ok(Value::Str(String::from_utf8_lossy(&out).into_owned()))
    }
}

fn opener(close: u8) -> char {
    match close {
        b'}' => '{',
        b']' => '[',
        _ => '(',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ok_info_fail_and_pending() {
        let s = r#"
{:process 3, :type :invoke, :f :append, :key "1", :value "x 3 0 y"}
{:process 0, :type :invoke, :f :get, :key "1", :value nil}
{:process 3, :type :ok, :f :append, :key "1", :value "x 3 0 y"}
{:process 0, :type :ok, :f :get, :key "1", :value "x 3 0 y", :time 12345}
{:process 1, :type :invoke, :f :put, :key 2, :value 7}
{:process 1, :type :fail, :f :put, :key 2, :value 7}
{:process 2, :type :invoke, :f :append, :key 2, :value 8}
{:process 2, :type :info, :f :append, :key 2, :value 8}
{:process :nemesis, :type :info, :f :start-partition, :value [:isolated {"n1" #{"n2"}}]}
{:process 4, :type :invoke, :f :append, :key "1", :value "z"}
"#;
        let h = parse_edn(s).unwrap();
        assert_eq!(h.ops.len(), 4);
        let a = &h.ops[0];
        assert_eq!(
            (a.client, a.kind, a.key.as_str(), a.value.as_str()),
            (3, OpKind::Append, "1", "x 3 0 y")
        );
        assert_eq!((a.call, a.ret), (2, Some(4)));
        let g = &h.ops[1];
        assert_eq!(
            (g.kind, g.output.as_deref(), g.call, g.ret),
            (OpKind::Get, Some("x 3 0 y"), 3, Some(5))
        );
        let info = &h.ops[2];
        assert_eq!(
            (info.key.as_str(), info.value.as_str(), info.ret),
            ("2", "8", None)
        );
        let never = &h.ops[3];
        assert_eq!((never.client, never.call, never.ret), (4, 11, None));
        assert_eq!(h.annotations.len(), 1);
        assert_eq!(h.annotations[0].time, 10);
        assert!(
            h.annotations[0]
                .text
                .starts_with("start-partition [:isolated")
        );
    }

    #[test]
    fn nil_get_reads_empty_and_independent_pairs() {
        let s = "{:process 0 :type :invoke :f :read :value [5 nil]}\n\
                 {:process 0 :type :ok :f :read :value [5 nil]}\n\
                 {:process 1 :type :invoke :f :write :value [5 \"a\"]}\n\
                 {:process 1 :type :ok :f :write :value [5 \"a\"]}";
        let h = parse_edn(s).unwrap();
        assert_eq!(h.ops[0].kind, OpKind::Get);
        assert_eq!(h.ops[0].key, "5");
        assert_eq!(h.ops[0].output.as_deref(), Some(""));
        assert_eq!((h.ops[1].kind, h.ops[1].value.as_str()), (OpKind::Put, "a"));
    }

    fn error_of(s: &str) -> ParseError {
        parse_edn(s).unwrap_err()
    }

    #[test]
    fn errors_name_the_line() {
        let ok = "{:process 0, :type :invoke, :f :get, :key \"1\", :value nil}\n";
        let e = error_of(&format!(
            "{ok}{{:process 0, :type :done, :f :get, :key \"1\"}}"
        ));
        assert_eq!(e.line, 2);
        assert!(e.message.contains(":type must be"), "{e}");
        assert_eq!(e.to_string().split(':').next(), Some("line 2"));

        let e = error_of(&format!(
            "{ok}\n{{:process 0, :type :ok, :f :get, :key \"1\", :value \"x}}"
        ));
        assert_eq!(e.line, 3);
        assert!(e.message.contains("never closed"), "{e}");

        let e = error_of("{:process 1, :type :ok, :f :put, :key \"1\", :value \"x\"}");
        assert_eq!(e.line, 1);
        assert!(e.message.contains("without a pending invoke"), "{e}");

        let e = error_of(&format!("{ok}{ok}"));
        assert_eq!(e.line, 2);
        assert!(e.message.contains("invoke on line 1"), "{e}");

        let e = error_of("\n\n{:process 1, :type :invoke, :f :cas, :key \"1\", :value [1 2]}");
        assert_eq!(e.line, 3);
        assert!(e.message.contains("unsupported :f :cas"), "{e}");

        let e = error_of("{:process 1, :type :invoke, :f :get, :key \"1\"\n");
        assert_eq!(e.line, 1);
        assert!(e.message.contains("never closed"), "{e}");

        let e = error_of("{:process 1, :type :invoke :f}");
        assert!(e.message.contains("key without a value"), "{e}");

        let e = error_of("{:type :invoke, :f :get}");
        assert!(e.message.contains("missing :process"), "{e}");

        let e = error_of("[1 2]");
        assert!(e.message.contains("expected a map"), "{e}");

        let e = error_of(&format!(
            "{ok}{{:process 0, :type :ok, :f :put, :key \"1\"}}"
        ));
        assert!(e.message.contains("invoke on line 1 has :f :get"), "{e}");
    }

    #[test]
    fn parsed_history_checks() {
        use super::super::check::{CheckOptions, Verdict, check};
        // x5 was appended and acknowledged before the last read, which misses it.
        let s = r#"{:process 0, :type :invoke, :f :append, :key "1", :value "x0"}
{:process 1, :type :invoke, :f :append, :key "1", :value "x1"}
{:process 0, :type :ok, :f :append, :key "1", :value "x0"}
{:process 1, :type :info, :f :append, :key "1", :value "x1"}
{:process 5, :type :invoke, :f :append, :key "1", :value "x5"}
{:process 5, :type :ok, :f :append, :key "1", :value "x5"}
{:process 2, :type :invoke, :f :get, :key "1", :value nil}
{:process 2, :type :ok, :f :get, :key "1", :value "x0x1"}"#;
        let h = parse_edn(s).unwrap();
        let r = check(&h, &CheckOptions::default());
        assert_eq!(r.verdict, Verdict::NotLinearizable);
        assert_eq!(r.keys[0].failing_op.map(|i| h.ops[i].call), Some(7));
        // A read that includes x5 is fine: the lost reply's append came after it.
        let fixed = s.replace("x0x1\"}", "x0x5x1\"}");
        let r = check(&parse_edn(&fixed).unwrap(), &CheckOptions::default());
        assert_eq!(r.verdict, Verdict::Linearizable);
    }
}
