//! Models: the sequential specifications histories are checked against.

mod interface;
mod kv;
mod register;

pub use interface::{Model, Operation, Operations};
pub use kv::{KvInput, KvModel, kv_operations};
pub use register::{CasRegisterModel, RegisterInput, RegisterModel, RegisterValue};
