//! The searches for a linearization: one for any model, one specialized to the KV store (with
//! its data structures).

pub(crate) mod fenwick;
pub(crate) mod generic;
pub(crate) mod kv;
pub(crate) mod trie;
