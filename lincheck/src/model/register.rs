//! Registers: a read/write register, and a compare-and-set register (read/write/cas), as in
//! Jepsen's and Knossos's register tests. Values are texts (EDN as written); `None` is `nil`,
//! the initial value.

use super::interface::Model;

/// A register's value: `None` is nil.
pub type RegisterValue = Option<String>;

/// An operation on a register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterInput {
    /// Read the value (the output is what was read).
    Read,
    /// Replace the value.
    Write(RegisterValue),
    /// Replace the value with `to` if it is `from` (only the compare-and-set register has it). A
    /// completed cas succeeded (a failed one, Jepsen's `:fail`, did not happen).
    Cas {
        /// The value it expects.
        from: RegisterValue,
        /// The value it writes.
        to: RegisterValue,
    },
}

/// A read/write register.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RegisterModel;

/// A register with compare-and-set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CasRegisterModel;

/// Read and write, shared by both models.
fn read_write(
    state: &RegisterValue,
    input: &RegisterInput,
    output: Option<&RegisterValue>,
) -> Option<RegisterValue> {
    match input {
        RegisterInput::Read if output.is_some_and(|o| o != state) => None,
        RegisterInput::Read => Some(state.clone()),
        RegisterInput::Write(v) => Some(v.clone()),
        RegisterInput::Cas { .. } => None,
    }
}

fn describe_value(v: &RegisterValue) -> String {
    v.clone().unwrap_or_else(|| "nil".to_string())
}

fn describe(input: &RegisterInput, output: Option<&RegisterValue>) -> String {
    match input {
        RegisterInput::Read => match output {
            Some(o) => format!("read -> {}", describe_value(o)),
            None => "read -> ?".to_string(),
        },
        RegisterInput::Write(v) => format!("write({})", describe_value(v)),
        RegisterInput::Cas { from, to } => {
            format!("cas({}, {})", describe_value(from), describe_value(to))
        }
    }
}

impl Model for RegisterModel {
    type Input = RegisterInput;
    /// What a read returned (ignored for writes).
    type Output = RegisterValue;
    type State = RegisterValue;

    fn init(&self) -> RegisterValue {
        None
    }

    /// A cas is not an operation of this model: it never fits.
    fn step(
        &self,
        state: &RegisterValue,
        input: &RegisterInput,
        output: Option<&RegisterValue>,
    ) -> Option<RegisterValue> {
        read_write(state, input, output)
    }

    fn describe_operation(&self, input: &RegisterInput, output: Option<&RegisterValue>) -> String {
        describe(input, output)
    }

    fn describe_state(&self, state: &RegisterValue) -> String {
        describe_value(state)
    }
}

impl Model for CasRegisterModel {
    type Input = RegisterInput;
    /// What a read returned (ignored for writes and cas).
    type Output = RegisterValue;
    type State = RegisterValue;

    fn init(&self) -> RegisterValue {
        None
    }

    /// A cas whose outcome is unknown and whose `from` does not match fails, which changes
    /// nothing: the same as not happening, which an unknown outcome allows anyway.
    fn step(
        &self,
        state: &RegisterValue,
        input: &RegisterInput,
        output: Option<&RegisterValue>,
    ) -> Option<RegisterValue> {
        match input {
            RegisterInput::Cas { from, to } if from == state => Some(to.clone()),
            RegisterInput::Cas { .. } if output.is_none() => Some(state.clone()),
            RegisterInput::Cas { .. } => None,
            _ => read_write(state, input, output),
        }
    }

    fn describe_operation(&self, input: &RegisterInput, output: Option<&RegisterValue>) -> String {
        describe(input, output)
    }

    fn describe_state(&self, state: &RegisterValue) -> String {
        describe_value(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{CheckOptions, Verdict, check_model};
    use crate::memo::mix64;
    use crate::model::Operation;
    use crate::oracle::brute_force;

    type Op = Operation<RegisterInput, RegisterValue>;

    fn v(s: &str) -> RegisterValue {
        Some(s.to_string())
    }
    fn op(input: RegisterInput, output: RegisterValue, call: u64, ret: Option<u64>) -> Op {
        Operation {
            client: call,
            key: String::new(),
            input,
            output: Some(output),
            call,
            ret,
        }
    }
    fn read(out: RegisterValue, call: u64, ret: u64) -> Op {
        op(RegisterInput::Read, out, call, Some(ret))
    }
    fn write(x: &str, call: u64, ret: Option<u64>) -> Op {
        op(RegisterInput::Write(v(x)), None, call, ret)
    }
    fn cas(from: RegisterValue, to: &str, call: u64, ret: Option<u64>) -> Op {
        let input = RegisterInput::Cas { from, to: v(to) };
        op(input, None, call, ret)
    }
    fn verdict<M: Model<Input = RegisterInput, Output = RegisterValue>>(
        m: &M,
        ops: &[Op],
    ) -> Verdict {
        let r = check_model(m, ops, &CheckOptions::default());
        assert_eq!(r.verdict == Verdict::Linearizable, brute_force(m, ops));
        r.verdict
    }
    use Verdict::{Linearizable as Lin, NotLinearizable as NotLin};

    #[test]
    fn register_reads_see_the_last_write() {
        let m = RegisterModel;
        assert_eq!(verdict(&m, &[read(None, 0, 1)]), Lin);
        assert_eq!(
            verdict(&m, &[write("1", 0, Some(5)), read(v("1"), 6, 7)]),
            Lin
        );
        assert_eq!(
            verdict(&m, &[write("1", 0, Some(5)), read(None, 6, 7)]),
            NotLin
        );
        // Concurrent with the write: either value.
        assert_eq!(
            verdict(&m, &[write("1", 0, Some(5)), read(None, 1, 2)]),
            Lin
        );
        let stale = [
            write("1", 0, Some(5)),
            write("2", 6, Some(9)),
            read(v("1"), 10, 11),
        ];
        let r = check_model(&m, &stale, &CheckOptions::default());
        assert_eq!(r.verdict, NotLin);
        assert_eq!(r.keys[0].failing_op, Some(2));
        // A cas is not a register operation.
        assert_eq!(verdict(&m, &[cas(None, "1", 0, Some(1))]), NotLin);
    }

    #[test]
    fn unknown_outcomes_may_happen_late_or_never() {
        let m = RegisterModel;
        // A timed-out write may take effect long after its call...
        let late = [
            write("1", 0, None),
            read(None, 10, 11),
            read(v("1"), 20, 21),
        ];
        assert_eq!(verdict(&m, &late), Lin);
        // ...or never.
        assert_eq!(verdict(&m, &[write("1", 0, None), read(None, 10, 11)]), Lin);
        // But not before its call.
        assert_eq!(
            verdict(&m, &[read(v("1"), 0, 1), write("1", 2, None)]),
            NotLin
        );
        // And a value once overwritten does not come back.
        let back = [
            write("1", 0, None),
            read(v("1"), 10, 11),
            write("2", 12, Some(13)),
            read(v("1"), 14, 15),
        ];
        assert_eq!(verdict(&m, &back), NotLin);
    }

    #[test]
    fn cas_succeeds_only_on_its_expected_value() {
        let m = CasRegisterModel;
        let ok = [
            write("1", 0, Some(1)),
            cas(v("1"), "2", 2, Some(3)),
            read(v("2"), 4, 5),
        ];
        assert_eq!(verdict(&m, &ok), Lin);
        let wrong = [write("1", 0, Some(1)), cas(v("3"), "2", 2, Some(3))];
        assert_eq!(verdict(&m, &wrong), NotLin);
        // A cas of unknown outcome whose expected value is not there changes nothing.
        let info = [
            write("1", 0, Some(1)),
            cas(v("3"), "2", 2, None),
            read(v("1"), 4, 5),
        ];
        assert_eq!(verdict(&m, &info), Lin);
        // Two successful cas from the same value cannot both happen.
        let twice = [
            write("1", 0, Some(1)),
            cas(v("1"), "2", 2, Some(5)),
            cas(v("1"), "3", 2, Some(5)),
        ];
        assert_eq!(verdict(&m, &twice), NotLin);
        assert_eq!(m.describe_operation(&twice[1].input, None), "cas(1, 2)");
        assert_eq!(m.describe_state(&None), "nil");
    }

    #[test]
    fn searches_match_brute_force_on_small_random_histories() {
        let mut seed = 777u64;
        let mut rnd = |n: u64| {
            seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
            mix64(seed) % n
        };
        let values = [None, v("1"), v("2"), v("3")];
        let (mut lin, mut not) = (0, 0);
        for round in 0..3000 {
            let with_cas = round % 2 == 1;
            let n = 2 + rnd(6) as usize;
            let ops: Vec<Op> = (0..n)
                .map(|_| {
                    let call = rnd(20);
                    let ret = (rnd(6) != 0).then(|| call + rnd(12));
                    let kind = rnd(if with_cas { 3 } else { 2 });
                    let (x, y) = (rnd(4) as usize, rnd(4) as usize);
                    let (x, y) = (values[x].clone(), values[y].clone());
                    let (input, output) = match kind {
                        0 => (RegisterInput::Read, x),
                        1 => (RegisterInput::Write(x), None),
                        _ => (RegisterInput::Cas { from: x, to: y }, None),
                    };
                    op(input, output, call, ret)
                })
                .collect();
            let expect = if with_cas {
                verdict(&CasRegisterModel, &ops)
            } else {
                verdict(&RegisterModel, &ops)
            };
            if expect == Lin {
                lin += 1;
            } else {
                not += 1;
            }
        }
        assert!(lin > 500 && not > 500, "{lin} {not}");
    }
}
