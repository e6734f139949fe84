//! The server's real-time announcements: a WebSocket to `/v1/ws` that carries the workspace's
//! newest sequence number (`{"head": N}`) as it moves, and with a small push's number, its
//! cells. Reconnects with backoff forever; the latest head, the latest announcement with cells
//! and whether the socket is up are published on a watch channel.

use std::sync::Arc;
use std::time::Duration;

use flightdeck_types::sync::{Announcement, PROTOCOL_HEADER, PROTOCOL_VERSION};
use futures_util::StreamExt;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use super::backoff::Backoff;

/// What the watcher knows: the newest head announced, and whether the socket is connected.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Heard {
    pub head: Option<i64>,
    pub connected: bool,
    /// The announcement of `head` when it carried its push's cells (see
    /// [`apply_announced`](super::client::apply_announced)).
    pub with_changes: Option<Arc<Announcement>>,
}

impl Heard {
    /// Takes in one announcement: heads only rise, and the cells kept are those of the newest
    /// head (none when the newest head came without them).
    pub fn hear(&mut self, announcement: Announcement) {
        if self.head.is_some_and(|old| announcement.head < old) {
            return;
        }
        if self.head != Some(announcement.head) || announcement.changes.is_some() {
            self.with_changes = announcement
                .changes
                .is_some()
                .then(|| Arc::new(announcement.clone()));
        }
        self.head = Some(announcement.head);
    }
}

/// `http(s)://host/...` -> `ws(s)://host/.../v1/ws`.
pub fn socket_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    let rest = base
        .strip_prefix("https://")
        .map(|r| format!("wss://{r}"))
        .or_else(|| base.strip_prefix("http://").map(|r| format!("ws://{r}")))
        .unwrap_or_else(|| base.to_string());
    format!("{rest}/v1/ws")
}

/// Keeps a socket to the server open until the receiver side of `heard` is gone.
/// Between attempts it waits its backoff, cut short by `retry_now` (the daemon's word that a
/// request just reached the server, so the server is back).
pub async fn watch_server(
    base: String,
    token: String,
    max_backoff: Duration,
    heard: watch::Sender<Heard>,
    retry_now: std::sync::Arc<tokio::sync::Notify>,
) {
    let url = socket_url(&base);
    let mut backoff = Backoff::new(max_backoff);
    while !heard.is_closed() {
        match listen_once(&url, &token, &heard, &mut backoff).await {
            Ok(()) => tracing::debug!("announcement socket closed by the server"),
            Err(e) => tracing::debug!(error = %e, "announcement socket failed"),
        }
        heard.send_modify(|h| h.connected = false);
        tokio::select! {
            () = tokio::time::sleep(backoff.next_wait()) => {}
            () = retry_now.notified() => backoff.reset(),
        }
    }
}

async fn listen_once(
    url: &str,
    token: &str,
    heard: &watch::Sender<Heard>,
    backoff: &mut Backoff,
) -> Result<(), String> {
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    let headers = request.headers_mut();
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).map_err(|e| e.to_string())?,
    );
    headers.insert(PROTOCOL_HEADER, HeaderValue::from(PROTOCOL_VERSION));
    // Nagle off: announcements are tiny and latency is the point.
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(request, None, true)
        .await
        .map_err(|e| e.to_string())?;
    backoff.reset();
    heard.send_modify(|h| h.connected = true);
    while let Some(message) = socket.next().await {
        match message.map_err(|e| e.to_string())? {
            Message::Text(text) => {
                if let Ok(a) = serde_json::from_str::<Announcement>(text.as_str()) {
                    heard.send_modify(|h| h.hear(a));
                }
            }
            Message::Close(_) => return Ok(()),
            _ => {}
        }
        if heard.is_closed() {
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{socket_url, Heard};
    use flightdeck_types::sync::Announcement;

    fn with_changes(head: i64) -> Announcement {
        Announcement {
            head,
            after: Some(head - 1),
            changes: Some(vec![]),
        }
    }

    #[test]
    fn heads_only_rise_and_the_cells_kept_are_the_newest_heads() {
        let mut heard = Heard::default();
        heard.hear(with_changes(3));
        assert_eq!(heard.head, Some(3));
        assert_eq!(heard.with_changes.as_deref(), Some(&with_changes(3)));
        // An older one, with cells or not, changes nothing.
        heard.hear(with_changes(2));
        heard.hear(Announcement::head(1));
        assert_eq!(heard.head, Some(3));
        assert_eq!(heard.with_changes.as_deref(), Some(&with_changes(3)));
        // The same head again without cells keeps them; a newer head without drops them.
        heard.hear(Announcement::head(3));
        assert_eq!(heard.with_changes.as_deref(), Some(&with_changes(3)));
        heard.hear(Announcement::head(4));
        assert_eq!((heard.head, heard.with_changes.is_none()), (Some(4), true));
        heard.hear(with_changes(4));
        assert_eq!(heard.with_changes.as_deref(), Some(&with_changes(4)));
    }

    #[test]
    fn socket_urls() {
        assert_eq!(
            socket_url("http://127.0.0.1:8787"),
            "ws://127.0.0.1:8787/v1/ws"
        );
        assert_eq!(
            socket_url("https://sync.example.com/base/"),
            "wss://sync.example.com/base/v1/ws"
        );
    }
}
