//! The tester's side of the simulation: starting runs and reporting them.
//!
//! [`TestRun`] is the one entry point of a simulated test (seed, determinism check, summary line,
//! replay command, the grader's completion report); [`run`] is the bare run underneath, for tests
//! of the framework itself. Graded code may use none of this: the student lints disallow it.
//!
//! A run started with [`Options::timeline`] hands back its [`Timeline`](crate::sim::Timeline)
//! (also when it fails); [`save_timeline`] writes it as one self-contained HTML page.

mod batch;
mod grader;
mod outcome;
mod replay;
mod report;
mod test_run;
mod timeline;

pub use grader::GRADER_VAR;
pub(crate) use grader::confine_if_graded;
pub use replay::{replay_command, test_name, test_seed};
pub use report::{Failure, Options, Report, RunError};
pub use test_run::TestRun;
pub use timeline::{PAGE_BUDGET, TimelineInfo, render_timeline, save_timeline};

pub use crate::sim::log::init_logging;
pub use crate::sim::run::run;
