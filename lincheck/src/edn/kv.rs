//! Jepsen EDN key/value histories, e.g.
//! `{:process 3, :type :invoke, :f :append, :key "1", :value "x 3 0 y"}`. `:read`/`:write` are
//! accepted as `:get`/`:put`, and a missing `:key` with a `[key value]` pair as `:value`
//! (jepsen.independent) is understood too. A Get's nil reads `""`.

use super::events::{Dialect, parse_events};
use super::reader::Value;
use crate::history::{History, Op, OpKind, ParseError};

const KV: Dialect<OpKind> = Dialect {
    kind: |f| match f {
        "get" | "read" => Some(OpKind::Get),
        "put" | "write" => Some(OpKind::Put),
        "append" => Some(OpKind::Append),
        _ => None,
    },
    expected: ":get, :put or :append",
    pair: |_, v| match v {
        Value::Vector(kv) if kv.len() == 2 => Some((&kv[0], &kv[1])),
        _ => None,
    },
};

/// Reads a Jepsen EDN key/value history; errors name the offending line.
pub fn parse_edn(s: &str) -> Result<History, ParseError> {
    let (raw, annotations) = parse_events(s, &KV)?;
    let ops = raw
        .into_iter()
        .map(|r| {
            let text = |v: Option<super::reader::Value>| v.map(|v| v.text());
            let (value, output) = match (r.kind, r.ret) {
                (_, None) => (text(r.invoked), None),
                (OpKind::Get, Some(_)) => {
                    (text(r.invoked), Some(text(r.returned).unwrap_or_default()))
                }
                // A write's value is the invoke's, else the completion's.
                _ => (text(r.invoked.or(r.returned)), None),
            };
            Op {
                client: r.client,
                kind: r.kind,
                key: r.key,
                value: value.unwrap_or_default(),
                output,
                call: r.call,
                ret: r.ret,
            }
        })
        .collect();
    Ok(History {
        ops,
        annotations,
        time_unit: None,
    })
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
        use crate::check::{CheckOptions, Verdict, check};
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
