//! The slow loopback server of the I/O rows: every request is answered
//! after [`IO_DELAY`] (or `?ms=N`), so a charm awaiting it is parked for
//! that long.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};

/// How long the server takes to answer.
pub const IO_DELAY: Duration = Duration::from_millis(500);

pub struct SlowServer {
    pub addr: SocketAddr,
    served: Arc<AtomicU64>,
}

impl SlowServer {
    /// Starts the server on an ephemeral loopback port, on a thread and
    /// runtime of its own: like a remote server, it does not queue behind
    /// the host's work for the tokio workers.
    pub fn start() -> std::io::Result<SlowServer> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let served = Arc::new(AtomicU64::new(0));
        let app = Router::new()
            .route("/slow", get(slow))
            .with_state(Arc::clone(&served));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("slow-server".to_string())
            .spawn(move || {
                runtime.block_on(async move {
                    let served = tokio::net::TcpListener::from_std(listener)
                        .map(|listener| axum::serve(listener, app));
                    match served {
                        Ok(serving) => {
                            if let Err(e) = serving.await {
                                eprintln!("the slow server stopped: {e}");
                            }
                        }
                        Err(e) => eprintln!("the slow server could not start: {e}"),
                    }
                })
            })?;
        Ok(SlowServer { addr, served })
    }

    pub fn url(&self) -> String {
        format!("http://{}/slow", self.addr)
    }

    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }
}

/// `/slow` answers after [`IO_DELAY`], or after `?ms=N` milliseconds.
async fn slow(
    State(served): State<Arc<AtomicU64>>,
    Query(query): Query<std::collections::HashMap<String, u64>>,
) -> Json<serde_json::Value> {
    let delay = query
        .get("ms")
        .map_or(IO_DELAY, |ms| Duration::from_millis(*ms));
    tokio::time::sleep(delay).await;
    let n = served.fetch_add(1, Ordering::Relaxed) + 1;
    Json(serde_json::json!({ "n": n }))
}
