//! Reference solution of `kvraft/src/client.rs`: the Clerk.
//!
//! Each request carries the clerk's id and a sequence number; the clerk resends the same request
//! (same number) until a server answers it, remembering which server led last.

use std::time::Duration;

use labrpc::{ClientEnd, sim};

use crate::common::{Error, GetArgs, GetReply, PutAppendArgs, PutAppendOp, PutAppendReply};

/// Pause after every server has refused a request, before trying them all again.
const ROUND_PAUSE: Duration = Duration::from_millis(20);

/// A client of the key/value service.
pub struct Clerk {
    servers: Vec<ClientEnd>,
    /// The server that answered last; requests start there.
    leader: usize,
    /// Identifies this clerk to the servers' duplicate detection.
    client: u64,
    /// Number of this clerk's latest request.
    seq: u64,
}

impl Clerk {
    /// A Clerk talking to `servers`.
    pub fn new(servers: Vec<ClientEnd>) -> Clerk {
        let client = sim::random_range(0..u64::MAX);
        Clerk {
            servers,
            leader: 0,
            client,
            seq: 0,
        }
    }

    /// Moves on to the next server; after a whole round of refusals, pauses a little.
    async fn next_server(&mut self, tried: &mut usize) {
        self.leader = (self.leader + 1) % self.servers.len();
        *tried += 1;
        if tried.is_multiple_of(self.servers.len()) {
            tokio::time::sleep(ROUND_PAUSE).await;
        }
    }

    /// Fetches the current value of `key` ("" if the key does not exist), retrying until a
    /// server answers.
    pub async fn get(&mut self, key: &str) -> String {
        self.seq += 1;
        let args = GetArgs {
            key: key.to_string(),
            client: self.client,
            seq: self.seq,
        };
        let mut tried = 0;
        loop {
            let reply = self.servers[self.leader]
                .call::<_, GetReply>("KVServer.Get", &args)
                .await;
            match reply.map(|r| r.result) {
                Ok(Ok(v)) => return v,
                Ok(Err(Error::NoKey)) => return String::new(),
                _ => self.next_server(&mut tried).await,
            }
        }
    }

    /// Shared by Put and Append.
    async fn put_append(&mut self, key: &str, value: &str, op: PutAppendOp) {
        self.seq += 1;
        let args = PutAppendArgs {
            key: key.to_string(),
            value: value.to_string(),
            op,
            client: self.client,
            seq: self.seq,
        };
        let mut tried = 0;
        loop {
            let reply = self.servers[self.leader]
                .call::<_, PutAppendReply>("KVServer.PutAppend", &args)
                .await;
            match reply.map(|r| r.result) {
                Ok(Ok(())) => return,
                _ => self.next_server(&mut tried).await,
            }
        }
    }

    /// Sets `key` to `value`.
    pub async fn put(&mut self, key: &str, value: &str) {
        self.put_append(key, value, PutAppendOp::Put).await
    }

    /// Appends `value` to the value of `key` (a missing key counts as "").
    pub async fn append(&mut self, key: &str, value: &str) {
        self.put_append(key, value, PutAppendOp::Append).await
    }
}
