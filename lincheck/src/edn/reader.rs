//! Just enough of EDN for Jepsen histories: values, and a reader that tracks the line.

use crate::history::ParseError;

/// The error at `line`.
pub(crate) fn err(line: usize, message: String) -> ParseError {
    ParseError { line, message }
}

/// An EDN value (just enough of EDN for Jepsen histories).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
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
    pub(crate) fn atom(&self, line: usize, what: &str) -> Result<String, ParseError> {
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
    pub(crate) fn text(&self) -> String {
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
pub(crate) struct Reader<'a> {
    pub(crate) s: &'a [u8],
    pub(crate) pos: usize,
    pub(crate) line: usize,
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
    pub(crate) fn skip_ws(&mut self) -> Result<(), ParseError> {
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

    pub(crate) fn value(&mut self) -> Result<Value, ParseError> {
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
            b'\\' => self.char_literal(),
            _ => self.scalar(),
        }
    }

    /// Reads a character literal such as `\a` or `\newline`.
    fn char_literal(&mut self) -> Result<Value, ParseError> {
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

    /// Reads a number, `nil`, `true`, `false` or a symbol.
    fn scalar(&mut self) -> Result<Value, ParseError> {
        let t = self.token();
        let bytes = t.as_bytes();
        let numeric = bytes[0].is_ascii_digit()
            || (matches!(bytes[0], b'-' | b'+') && bytes.len() > 1 && bytes[1].is_ascii_digit());
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
