//! labrpc: a simulated RPC network on a deterministic virtual-time runtime.
//!
//! [`sim`] is what code under test uses inside a run (tasks, random numbers, virtual time);
//! [`harness`] is the tester's side, which starts runs and reports them. [`Network`] connects client
//! ends to servers with the delays, drops and reordering of the MIT 6.5840 labrpc, and counts RPCs
//! and bytes. Arguments and replies are serialized, so peers share no memory.
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

#[cfg(not(tokio_unstable))]
compile_error!(
    "labrpc needs `--cfg tokio_unstable` (for tokio's seeded runtime). The workspace's \
     .cargo/config.toml sets it, but a RUSTFLAGS environment variable replaces that setting: \
     unset RUSTFLAGS, or add `--cfg tokio_unstable` to it."
);

pub mod harness;
mod net;
mod server;
pub mod sim;

pub use net::{ClientEnd, Network, REPLY_LATENCY, RpcError};
pub use server::{Server, Service};
