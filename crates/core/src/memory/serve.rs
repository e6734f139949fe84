//! Memory search as a local service: the worker (the app or `flightdeck daemon`), which keeps
//! the embedding model once its first search loaded it, answers searches on a Unix socket
//! beside the database, so that `flightdeck memory search` does not load the model (most of a
//! cold search's time) when a worker runs. One JSON request line, one JSON reply line. The
//! socket lives in the person's own data directory and is created mode 0600.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use flightdeck_types::{MemoryFilter, MemorySearch};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use crate::error::{CoreError, Result};
use crate::store::Store;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchRequest {
    pub query: String,
    pub limit: usize,
    pub floor: f64,
    #[serde(default)]
    pub filter: MemoryFilter,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchReply {
    /// The search, and the model that ranked by meaning (none: keyword-only).
    Found {
        search: MemorySearch,
        model: Option<String>,
    },
    Error {
        message: String,
    },
}

/// `<database>.search.sock`.
pub fn socket_path(store: &Store) -> PathBuf {
    let mut name = store.path().as_os_str().to_owned();
    name.push(".search.sock");
    PathBuf::from(name)
}

/// Serves searches until `stop` completes. Only the holder of the worker lock calls it, so a
/// socket file already there was left by a process that died, and is replaced.
pub async fn serve(store: Arc<Store>, stop: impl std::future::Future<Output = ()>) -> Result<()> {
    let path = socket_path(&store);
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)
        .map_err(|e| CoreError::io(format!("cannot listen on {}", path.display()), e))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| CoreError::io(format!("cannot restrict {}", path.display()), e))?;
    // The model is not loaded here but by the first search (about 0.3 s once, on a release
    // build): held from the start it is about 100 MB of an app that may never search
    // (BENCHMARKS.md, desktop app idle memory).
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let store = store.clone();
                tokio::spawn(async move {
                    if let Err(e) = answer(store, stream).await {
                        tracing::debug!(error = %e, "a search client went away");
                    }
                });
            }
        }
    }
    let _ = std::fs::remove_file(&path);
    Ok(())
}

async fn answer(store: Arc<Store>, stream: tokio::net::UnixStream) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = tokio::io::BufReader::new(read).lines();
    let Some(line) = lines.next_line().await? else {
        return Ok(());
    };
    let reply = match serde_json::from_str::<SearchRequest>(&line) {
        Err(e) => SearchReply::Error {
            message: format!("bad request: {e}"),
        },
        Ok(req) => tokio::task::spawn_blocking(move || {
            let embedder = super::embed::shared_default();
            match super::search_with_floor(
                &store,
                embedder,
                &req.query,
                &req.filter,
                req.limit,
                req.floor,
            ) {
                Ok(search) => SearchReply::Found {
                    model: match search.mode {
                        flightdeck_types::SearchMode::Hybrid => {
                            embedder.map(|e| e.name().to_string())
                        }
                        flightdeck_types::SearchMode::KeywordOnly => None,
                    },
                    search,
                },
                Err(e) => SearchReply::Error {
                    message: e.to_string(),
                },
            }
        })
        .await
        .unwrap_or_else(|e| SearchReply::Error {
            message: format!("the search failed: {e}"),
        }),
    };
    let mut text = serde_json::to_string(&reply).expect("replies always serialize");
    text.push('\n');
    write.write_all(text.as_bytes()).await?;
    write.shutdown().await
}

/// Asks the worker's search service at `path`; `None` when none listens there (no worker
/// runs, or one of a build without it), so that the caller searches by itself.
pub fn ask(path: &Path, req: &SearchRequest) -> Result<Option<SearchReply>> {
    let Ok(mut stream) = std::os::unix::net::UnixStream::connect(path) else {
        return Ok(None);
    };
    let io = |e| CoreError::io(format!("searching through {}", path.display()), e);
    // The model is loaded there; a search is milliseconds. A worker that hangs must not.
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(io)?;
    let mut text = serde_json::to_string(req).expect("requests always serialize");
    text.push('\n');
    if stream.write_all(text.as_bytes()).is_err() {
        return Ok(None);
    }
    let mut line = String::new();
    match BufReader::new(stream).read_line(&mut line) {
        Ok(n) if n > 0 => Ok(serde_json::from_str(&line).ok()),
        _ => Ok(None),
    }
}
