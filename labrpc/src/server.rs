//! Servers and services: the receiving side of the simulated network.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::sim::Node;

type ReplyFuture = Pin<Box<dyn Future<Output = Result<Vec<u8>, String>> + Send>>;
type Handler = dyn Fn(&[u8]) -> Result<ReplyFuture, String> + Send + Sync;

struct Method {
    handler: Arc<Handler>,
    /// Where the method was registered: the watchdog names it for a handler that hangs.
    loc: &'static Location<'static>,
}

/// A named set of RPC methods, e.g. `Raft` with `RequestVote` and `AppendEntries`.
pub struct Service {
    name: String,
    methods: BTreeMap<String, Method>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("name", &self.name)
            .field("methods", &self.methods.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Service {
    /// An empty service called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Service {
            name: name.into(),
            methods: BTreeMap::new(),
        }
    }

    /// Adds the method `name`: `handler` receives the decoded arguments and returns the reply.
    #[track_caller]
    pub fn method<A, R, Fut, H>(mut self, name: impl Into<String>, handler: H) -> Self
    where
        A: DeserializeOwned,
        R: Serialize,
        H: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
    {
        let name = name.into();
        let full = format!("{}.{}", self.name, name);
        let handler = move |bytes: &[u8]| -> Result<ReplyFuture, String> {
            let args: A = postcard::from_bytes(bytes).map_err(|e| {
                format!(
                    "{full}: the request could not be decoded as {} ({e}); caller and handler \
                     must use the same argument type",
                    std::any::type_name::<A>()
                )
            })?;
            let fut = handler(args);
            let full = full.clone();
            Ok(Box::pin(async move {
                let reply = fut.await;
                postcard::to_allocvec(&reply)
                    .map_err(|e| format!("{full}: the reply could not be encoded: {e}"))
            }))
        };
        self.methods.insert(
            name,
            Method {
                handler: Arc::new(handler),
                loc: Location::caller(),
            },
        );
        self
    }
}

/// A simulated server hosting services. Its handlers run as tasks of the node that created it, so
/// killing that node stops them.
#[derive(Clone)]
pub struct Server {
    inner: Arc<ServerInner>,
}

struct ServerInner {
    node: Node,
    services: Mutex<BTreeMap<String, Service>>,
    count: AtomicU64,
}

/// A request dispatched to a handler, ready to be awaited on the server's node.
pub(crate) struct Dispatch {
    pub node: Node,
    pub loc: &'static Location<'static>,
    pub reply: ReplyFuture,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("node", &self.inner.node)
            .field("rpcs", &self.count())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A server owned by the calling node (create it inside `node.enter(..)` for a server node).
    pub fn new() -> Self {
        Server {
            inner: Arc::new(ServerInner {
                node: Node::current(),
                services: Mutex::new(BTreeMap::new()),
                count: AtomicU64::new(0),
            }),
        }
    }

    /// Adds a service; a later one with the same name replaces it.
    pub fn add_service(&self, svc: Service) {
        self.lock().insert(svc.name.clone(), svc);
    }

    /// How many RPCs have reached this server.
    pub fn count(&self) -> u64 {
        self.inner.count.load(Relaxed)
    }

    /// The node whose tasks run this server's handlers.
    pub fn node(&self) -> Node {
        self.inner.node
    }

    pub(crate) fn same(&self, other: &Server) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Service>> {
        self.inner
            .services
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Finds the handler of `Service.Method` and decodes the request for it.
    pub(crate) fn dispatch(&self, method: &str, args: &[u8]) -> Result<Dispatch, String> {
        self.inner.count.fetch_add(1, Relaxed);
        let services = self.lock();
        let found = method
            .rsplit_once('.')
            .and_then(|(s, m)| services.get(s)?.methods.get(m));
        let Some(m) = found else {
            let mut known = String::new();
            for svc in services.values() {
                for name in svc.methods.keys() {
                    let _ = write!(
                        known,
                        "{}{}.{}",
                        if known.is_empty() { "" } else { ", " },
                        svc.name,
                        name
                    );
                }
            }
            if known.is_empty() {
                known = "(no services)".into();
            }
            return Err(format!(
                "unknown RPC method {method:?}: the server has {known}. Methods are named \"Service.Method\""
            ));
        };
        Ok(Dispatch {
            node: self.inner.node,
            loc: m.loc,
            reply: (m.handler)(args)?,
        })
    }
}

impl Default for Server {
    fn default() -> Self {
        Self::new()
    }
}
