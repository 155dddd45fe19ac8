//! Jepsen EDN register histories: `:read`/`:write` (and `:cas` with a `[from to]` value for the
//! compare-and-set register), as Jepsen's and Knossos's register tests write them. A `:key`, or
//! a jepsen.independent `[key value]` pair as `:value`, names independent registers.

use super::events::{Dialect, parse_events};
use super::reader::{Value, err};
use crate::history::{Annotation, ParseError};
use crate::model::{Operation, RegisterInput, RegisterValue};

/// A register history read from EDN: the operations and the nemesis's annotations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegisterHistory {
    /// The operations, by call.
    pub ops: Vec<Operation<RegisterInput, RegisterValue>>,
    /// Faults and other events of non-client processes.
    pub annotations: Vec<Annotation>,
}

/// Which register operations an EDN history may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterKind {
    /// `:read` and `:write`.
    ReadWrite,
    /// `:read`, `:write` and `:cas`.
    CompareAndSet,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum F {
    Read,
    Write,
    Cas,
}

/// A `[key value]` pair, unless it is a cas's own `[from to]`.
fn pair(f: F, v: &Value) -> Option<(&Value, &Value)> {
    match v {
        Value::Vector(kv) if kv.len() == 2 => {
            let cas_pair = matches!(&kv[1], Value::Vector(x) if x.len() == 2);
            (f != F::Cas || cas_pair).then(|| (&kv[0], &kv[1]))
        }
        _ => None,
    }
}

const READ_WRITE: Dialect<F> = Dialect {
    kind: |f| match f {
        "read" => Some(F::Read),
        "write" => Some(F::Write),
        _ => None,
    },
    expected: ":read or :write",
    pair,
};

const CAS: Dialect<F> = Dialect {
    kind: |f| match f {
        "read" => Some(F::Read),
        "write" => Some(F::Write),
        "cas" => Some(F::Cas),
        _ => None,
    },
    expected: ":read, :write or :cas",
    pair,
};

fn value(v: Option<&Value>) -> RegisterValue {
    v.map(Value::text)
}

/// Reads a Jepsen EDN register history; errors name the offending line.
pub fn parse_edn_register(s: &str, kind: RegisterKind) -> Result<RegisterHistory, ParseError> {
    let dialect = match kind {
        RegisterKind::ReadWrite => &READ_WRITE,
        RegisterKind::CompareAndSet => &CAS,
    };
    let (raw, annotations) = parse_events(s, dialect)?;
    let mut ops = Vec::with_capacity(raw.len());
    for r in raw {
        let written = r.invoked.as_ref().or(r.returned.as_ref());
        let input = match r.kind {
            F::Read => RegisterInput::Read,
            F::Write => RegisterInput::Write(value(written)),
            F::Cas => match written {
                Some(Value::Vector(ft)) if ft.len() == 2 => RegisterInput::Cas {
                    from: value(Some(&ft[0]).filter(|v| !matches!(v, Value::Nil))),
                    to: value(Some(&ft[1]).filter(|v| !matches!(v, Value::Nil))),
                },
                _ => {
                    let line = r.call as usize;
                    return Err(err(line, ":cas needs a [from to] :value".into()));
                }
            },
        };
        // A completed op's output: what a read saw (nil included); nothing for the others.
        let output = r.ret.map(|_| match r.kind {
            F::Read => value(r.returned.as_ref()),
            _ => None,
        });
        ops.push(Operation {
            client: r.client,
            key: r.key,
            input,
            output,
            call: r.call,
            ret: r.ret,
        });
    }
    Ok(RegisterHistory { ops, annotations })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{CheckOptions, Verdict, check_model};
    use crate::model::{CasRegisterModel, RegisterModel};

    #[test]
    fn reads_a_knossos_cas_register_history() {
        let s = "{:process 0, :type :invoke, :f :write, :value 1}
{:process 0, :type :ok, :f :write, :value 1}
{:process 1, :type :invoke, :f :cas, :value [1 2]}
{:process 2, :type :invoke, :f :read, :value nil}
{:process 1, :type :info, :f :cas, :value [1 2]}
{:process 2, :type :ok, :f :read, :value 2}
{:process 3, :type :invoke, :f :cas, :value [5 6]}
{:process 3, :type :fail, :f :cas, :value [5 6]}
{:process :nemesis, :type :info, :f :start, :value nil}
{:process 4, :type :invoke, :f :read, :value nil}
{:process 4, :type :ok, :f :read, :value nil}";
        let h = parse_edn_register(s, RegisterKind::CompareAndSet).unwrap();
        assert_eq!(h.ops.len(), 4);
        assert_eq!(
            h.ops[1].input,
            RegisterInput::Cas {
                from: Some("1".into()),
                to: Some("2".into())
            }
        );
        assert_eq!((h.ops[1].ret, h.ops[1].output.clone()), (None, None));
        assert_eq!(h.ops[2].output, Some(Some("2".into())));
        assert_eq!(h.ops[3].output, Some(None));
        assert_eq!(h.annotations.len(), 1);
        // The last read of nil after a write of 1 is the violation.
        let r = check_model(&CasRegisterModel, &h.ops, &CheckOptions::default());
        assert_eq!(r.verdict, Verdict::NotLinearizable);
        assert_eq!(r.keys[0].failing_op, Some(3));
        let fixed = s.replace(
            ":value nil}\n{:process 4, :type :ok, :f :read, :value nil}",
            ":value nil}\n{:process 4, :type :ok, :f :read, :value 2}",
        );
        let h = parse_edn_register(&fixed, RegisterKind::CompareAndSet).unwrap();
        let r = check_model(&CasRegisterModel, &h.ops, &CheckOptions::default());
        assert_eq!(r.verdict, Verdict::Linearizable);
    }

    #[test]
    fn independent_keys_and_errors() {
        let s = "{:process 0, :type :invoke, :f :write, :value [\"a\" 1]}
{:process 0, :type :ok, :f :write, :value [\"a\" 1]}
{:process 1, :type :invoke, :f :read, :value [\"b\" nil]}
{:process 1, :type :ok, :f :read, :value [\"b\" 1]}";
        let h = parse_edn_register(s, RegisterKind::ReadWrite).unwrap();
        assert_eq!((h.ops[0].key.as_str(), h.ops[1].key.as_str()), ("a", "b"));
        let r = check_model(&RegisterModel, &h.ops, &CheckOptions::default());
        assert_eq!(r.key("a").unwrap().verdict, Verdict::Linearizable);
        assert_eq!(r.key("b").unwrap().verdict, Verdict::NotLinearizable);
        // An independent cas: [key [from to]].
        let s = "{:process 0, :type :invoke, :f :cas, :value [7 [nil 1]]}";
        let h = parse_edn_register(s, RegisterKind::CompareAndSet).unwrap();
        assert_eq!(h.ops[0].key, "7");
        assert_eq!(
            h.ops[0].input,
            RegisterInput::Cas {
                from: None,
                to: Some("1".into())
            }
        );
        let e = parse_edn_register(
            "\n{:process 0, :type :invoke, :f :cas, :value [1 2]}",
            RegisterKind::ReadWrite,
        )
        .unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("expected :read or :write"), "{e}");
        let e = parse_edn_register(
            "{:process 0, :type :invoke, :f :cas, :value 3}",
            RegisterKind::CompareAndSet,
        )
        .unwrap_err();
        assert!(e.message.contains("[from to]"), "{e}");
    }
}
