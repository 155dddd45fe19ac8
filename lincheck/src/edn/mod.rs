//! Readers of Jepsen EDN histories, for the KV model and for the register models.

mod events;
mod kv;
mod reader;
mod register;

pub use kv::parse_edn;
pub use register::{RegisterHistory, RegisterKind, parse_edn_register};
