//! SECOND SOLUTION (alternative feature): an independent solution in the style of typical Go-lab
//! solutions, used to check that the graded tests do not punish a correct design different from
//! the reference. Not part of the handout.
//!
//! The Clerk: a random id, a request number per operation (kept on retries), and the last server
//! that answered as leader, tried first. It cycles through the servers until one succeeds, and
//! pauses briefly after each full round of failures.

use std::time::Duration;

use labrpc::{ClientEnd, sim};

use crate::common::{Error, GetArgs, GetReply, PutAppendArgs, PutAppendOp, PutAppendReply};

/// The pause after trying every server once without success (an election may be under way).
const ROUND_PAUSE: Duration = Duration::from_millis(30);

/// A client of the key/value service.
pub struct Clerk {
    /// One end per KV server, in an order of the tester's choosing (not server index order).
    servers: Vec<ClientEnd>,
    /// This clerk's random id.
    client_id: u64,
    /// The number of the last request this clerk made.
    seq: u64,
    /// The server that last answered as leader.
    leader: usize,
}

/// How one attempt at one server ended.
enum Attempt<T> {
    /// The operation took effect; this is its result.
    Done(T),
    /// Try the next server.
    Retry,
}

impl Clerk {
    /// A Clerk talking to `servers`.
    pub fn new(servers: Vec<ClientEnd>) -> Clerk {
        Clerk {
            servers,
            client_id: sim::random_range(0..u64::MAX),
            seq: 0,
            leader: 0,
        }
    }

    /// Fetches the current value of `key` ("" if the key does not exist). Keeps trying forever.
    pub async fn get(&mut self, key: &str) -> String {
        self.seq += 1;
        let args = GetArgs {
            key: key.to_string(),
            client_id: self.client_id,
            seq: self.seq,
        };
        self.until_done(|end| {
            let args = args.clone();
            async move {
                match end.call::<GetArgs, GetReply>("KVServer.Get", &args).await {
                    Ok(GetReply { result: Ok(v) }) => Attempt::Done(v),
                    Ok(GetReply {
                        result: Err(Error::NoKey),
                    }) => Attempt::Done(String::new()),
                    _ => Attempt::Retry,
                }
            }
        })
        .await
    }

    /// Shared by Put and Append. Keeps trying forever.
    async fn put_append(&mut self, key: &str, value: &str, op: PutAppendOp) {
        self.seq += 1;
        let args = PutAppendArgs {
            key: key.to_string(),
            value: value.to_string(),
            op,
            client_id: self.client_id,
            seq: self.seq,
        };
        self.until_done(|end| {
            let args = args.clone();
            async move {
                let reply = end
                    .call::<PutAppendArgs, PutAppendReply>("KVServer.PutAppend", &args)
                    .await;
                match reply {
                    Ok(PutAppendReply { result: Ok(()) }) => Attempt::Done(()),
                    _ => Attempt::Retry,
                }
            }
        })
        .await
    }

    /// Tries `attempt` on the servers in turn, starting with the last known leader, until one
    /// attempt is done; remembers the server that succeeded.
    async fn until_done<T, F, Fut>(&mut self, attempt: F) -> T
    where
        F: Fn(ClientEnd) -> Fut,
        Fut: Future<Output = Attempt<T>>,
    {
        let mut failures = 0;
        loop {
            let end = self.servers[self.leader].clone();
            if let Attempt::Done(v) = attempt(end).await {
                return v;
            }
            self.leader = (self.leader + 1) % self.servers.len();
            failures += 1;
            if failures % self.servers.len() == 0 {
                tokio::time::sleep(ROUND_PAUSE).await;
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
