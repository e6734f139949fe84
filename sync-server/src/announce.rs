//! Real-time announcements: which workspaces have sockets open here, and their newest head.
//!
//! Every push NOTIFYs `flightdeck_ws` with `<workspace_id>:<head>` in its transaction. One
//! dedicated Postgres connection per server process LISTENs on that channel ([`run_listener`])
//! and publishes each head into the [`Announcer`], which keeps one `watch` channel per workspace
//! with open sockets. A `watch` holds only the latest value, so a slow socket never blocks the
//! others: it skips intermediate heads and sees the newest one, which is all a client needs.
//!
//! A revoked device is announced on the same channel (`revoked:<device_id>`, sent by the
//! revocation itself) and broadcast to every socket here, so the device's open sockets close.
//! A revocation made while the listener was away is found by its catch-up, which asks the
//! database about every device with a socket open here.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use flightdeck_types::sync::{Announcement, PushResponse, WireChange, MAX_ANNOUNCED_BYTES};
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use crate::db::cells::{NOTIFY_CHANNEL, REVOKED_PREFIX};
use crate::db::{workspaces, DbError};

/// The first pause before reconnecting a lost listener connection; doubled up to the max.
const RECONNECT_MIN: Duration = Duration::from_millis(100);
const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// How the LISTEN connection names itself in `pg_stat_activity`.
pub const LISTENER_APPLICATION_NAME: &str = "flightdeck-sync-listener";

/// Revocations a socket may fall behind by before it is closed anyway (see `revocations`).
const REVOCATION_BACKLOG: usize = 64;

/// A workspace's newest head as this process knows it, and when a push made here set it with
/// few cells, its announcement with those cells, serialized once for every socket.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Head {
    pub head: i64,
    /// The `/v1/ws` text frame `{"head", "after", "changes"}` of the push numbered `head`.
    pub frame: Option<Arc<str>>,
}

impl Head {
    /// The text frame to send: the one with cells, or `{"head": N}`.
    pub fn frame(&self) -> Result<Arc<str>, serde_json::Error> {
        match &self.frame {
            Some(frame) => Ok(frame.clone()),
            None => Ok(serde_json::to_string(&Announcement::head(self.head))?.into()),
        }
    }
}

/// The per-workspace head channels of one server process, and its revocations.
#[derive(Clone)]
pub struct Announcer {
    followed: Arc<Mutex<Followed>>,
    revocations: broadcast::Sender<Uuid>,
}

/// What this process's sockets follow.
#[derive(Default)]
struct Followed {
    /// One head channel per workspace with a socket open here.
    heads: HashMap<Uuid, watch::Sender<Head>>,
    /// The devices with a socket open here, and how many each has.
    devices: HashMap<Uuid, usize>,
    /// Pushes this process is committing, by workspace and sequence number: their heads are
    /// published by the push itself, with its cells (see [`Announcer::expect_push`]).
    pushing: HashSet<(Uuid, i64)>,
}

impl Default for Announcer {
    fn default() -> Self {
        Self {
            followed: Arc::default(),
            revocations: broadcast::channel(REVOCATION_BACKLOG).0,
        }
    }
}

/// A push this process announces itself (see [`Announcer::expect_push`]).
pub struct ExpectedPush {
    announcer: Announcer,
    key: (Uuid, i64),
}

impl Drop for ExpectedPush {
    fn drop(&mut self) {
        self.announcer.lock().pushing.remove(&self.key);
    }
}

/// What one `flightdeck_ws` notification says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Head { workspace_id: Uuid, head: i64 },
    Revoked { device_id: Uuid },
}

/// A socket's view of its workspace's head. Dropping it forgets the workspace once no other
/// socket of this process follows it.
pub struct Subscription {
    receiver: Option<watch::Receiver<Head>>,
    workspace_id: Uuid,
    device_id: Uuid,
    announcer: Announcer,
}

impl Subscription {
    /// The channel to wait on (`changed()`, then `borrow_and_update()`).
    pub fn receiver(&mut self) -> &mut watch::Receiver<Head> {
        self.receiver
            .as_mut()
            .expect("the receiver is only taken on drop")
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        drop(self.receiver.take());
        let mut followed = self.announcer.lock();
        if followed
            .heads
            .get(&self.workspace_id)
            .is_some_and(|sender| sender.receiver_count() == 0)
        {
            followed.heads.remove(&self.workspace_id);
        }
        if let Some(sockets) = followed.devices.get_mut(&self.device_id) {
            *sockets -= 1;
            if *sockets == 0 {
                followed.devices.remove(&self.device_id);
            }
        }
    }
}

impl Announcer {
    fn lock(&self) -> MutexGuard<'_, Followed> {
        // Nothing panics while holding the lock; recover the maps even if something did.
        self.followed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Follows a workspace's head for a socket of `device_id`. Subscribe before reading the
    /// head from the database, then [`publish`](Self::publish) what was read: no push can
    /// fall between the two.
    pub fn subscribe(&self, workspace_id: Uuid, device_id: Uuid) -> Subscription {
        let mut followed = self.lock();
        let receiver = followed
            .heads
            .entry(workspace_id)
            .or_insert_with(|| watch::channel(Head::default()).0)
            .subscribe();
        *followed.devices.entry(device_id).or_default() += 1;
        drop(followed);
        Subscription {
            receiver: Some(receiver),
            workspace_id,
            device_id,
            announcer: self.clone(),
        }
    }

    /// Raises a workspace's head (never lowers it: notifications may arrive out of order).
    /// Ignored when no socket of this process follows the workspace.
    /// A head that a push of this process is committing is left to that push (its NOTIFY may
    /// arrive first, and would announce it without its cells).
    pub fn publish(&self, workspace_id: Uuid, head: i64) {
        if self.lock().pushing.contains(&(workspace_id, head)) {
            return;
        }
        self.raise(workspace_id, Head { head, frame: None });
    }

    /// Marks the push numbered `seq` as this process's to announce, until the guard drops:
    /// take it before the push commits, publish with [`publish_push`](Self::publish_push)
    /// after, then drop it.
    pub fn expect_push(&self, workspace_id: Uuid, seq: i64) -> ExpectedPush {
        self.lock().pushing.insert((workspace_id, seq));
        ExpectedPush {
            announcer: self.clone(),
            key: (workspace_id, seq),
        }
    }

    /// Announces a push this process applied, with the cells of a small one (`changes`); a
    /// push that changed nothing announces the head it found. The NOTIFY of the same push
    /// repeats it for these sockets, ignored: a head is only ever raised.
    pub fn publish_applied(
        &self,
        workspace_id: Uuid,
        response: &PushResponse,
        changes: Option<Vec<WireChange>>,
    ) {
        match response.seq {
            Some(seq) => self.publish_push(workspace_id, seq, changes),
            None => self.publish(workspace_id, response.head),
        }
    }

    /// Announces the push numbered `head` that this process applied, with the cells it wrote
    /// when they are few and small: a socket that is exactly one push behind then applies
    /// them without a pull. Over [`MAX_ANNOUNCED_BYTES`] of JSON, the head alone.
    pub fn publish_push(&self, workspace_id: Uuid, head: i64, changes: Option<Vec<WireChange>>) {
        if !self.lock().heads.contains_key(&workspace_id) {
            return; // nobody here listens: skip the serialization
        }
        let frame = changes.and_then(|changes| {
            let announcement = Announcement {
                head,
                after: Some(head - 1),
                changes: Some(changes),
            };
            let text = serde_json::to_string(&announcement).ok()?;
            (text.len() <= MAX_ANNOUNCED_BYTES).then(|| Arc::from(text))
        });
        self.raise(workspace_id, Head { head, frame });
    }

    /// Raises a workspace's head; at an equal head, a frame with cells replaces one without
    /// (the NOTIFY of a push made here may arrive before the push's own publish).
    fn raise(&self, workspace_id: Uuid, new: Head) {
        if let Some(sender) = self.lock().heads.get(&workspace_id) {
            sender.send_if_modified(|current| {
                let better = new.head > current.head
                    || (new.head == current.head && current.frame.is_none() && new.frame.is_some());
                if better {
                    *current = new;
                }
                better
            });
        }
    }

    /// Revoked devices from now on. A socket that lags behind `REVOCATION_BACKLOG` of them
    /// cannot know whether its own was among them: it closes, and its device reconnects
    /// through authentication.
    pub fn revocations(&self) -> broadcast::Receiver<Uuid> {
        self.revocations.subscribe()
    }

    /// Tells this process's sockets that `device_id` was revoked.
    pub fn revoke(&self, device_id: Uuid) {
        // No receivers (no open socket) is not an error.
        let _ = self.revocations.send(device_id);
    }

    /// The workspaces that sockets of this process follow.
    pub fn active_workspaces(&self) -> Vec<Uuid> {
        self.lock().heads.keys().copied().collect()
    }

    /// The devices with a socket open here.
    pub fn connected_devices(&self) -> Vec<Uuid> {
        self.lock().devices.keys().copied().collect()
    }
}

/// Parses a `flightdeck_ws` payload: `<workspace_id>:<head>` or `revoked:<device_id>`.
pub fn parse_payload(payload: &str) -> Option<Notice> {
    if let Some(device) = payload.strip_prefix(REVOKED_PREFIX) {
        return Some(Notice::Revoked {
            device_id: device.parse().ok()?,
        });
    }
    let (workspace, head) = payload.split_once(':')?;
    Some(Notice::Head {
        workspace_id: workspace.parse().ok()?,
        head: head.parse().ok()?,
    })
}

/// Keeps one connection LISTENing on `flightdeck_ws` for the life of the process, forwarding
/// every notification to `announcer`. A lost connection is reopened with exponential backoff;
/// after each (re)connect the heads of all followed workspaces are read again, and every
/// connected device is looked up, so that nothing pushed and no device revoked while the
/// listener was away goes unannounced.
pub async fn run_listener(mut config: tokio_postgres::Config, announcer: Announcer) {
    config.application_name(LISTENER_APPLICATION_NAME);
    let mut pause = RECONNECT_MIN;
    loop {
        let started = tokio::time::Instant::now();
        match listen_once(&config, &announcer).await {
            Ok(()) => tracing::warn!("the LISTEN connection closed; reconnecting"),
            Err(error) => tracing::warn!(%error, ?pause, "the LISTEN connection failed"),
        }
        // A connection that lived a while was healthy: start the backoff over.
        if started.elapsed() > RECONNECT_MAX * 2 {
            pause = RECONNECT_MIN;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(RECONNECT_MAX);
    }
}

/// One connection's life: LISTEN, catch up, then forward until the connection ends.
async fn listen_once(
    config: &tokio_postgres::Config,
    announcer: &Announcer,
) -> Result<(), DbError> {
    let (client, mut connection) = config.connect(tokio_postgres::NoTls).await?;
    let (sender, mut notifications) = tokio::sync::mpsc::unbounded_channel();
    // The connection must be polled for the client's queries to complete; notifications come
    // out of the same poll.
    let driver = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(tokio_postgres::AsyncMessage::Notification(note))) => {
                    if sender.send(note.payload().to_owned()).is_err() {
                        return Ok(());
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error),
                None => return Ok(()),
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN {NOTIFY_CHANNEL}"))
        .await?;
    catch_up(&client, announcer).await?;
    tracing::info!("listening for pushes of every server process");
    while let Some(payload) = notifications.recv().await {
        match parse_payload(&payload) {
            Some(Notice::Head { workspace_id, head }) => announcer.publish(workspace_id, head),
            Some(Notice::Revoked { device_id }) => announcer.revoke(device_id),
            None => tracing::warn!(%payload, "ignoring a malformed notification"),
        }
    }
    match driver.await {
        Ok(result) => result.map_err(DbError::from),
        Err(_) => Ok(()),
    }
}

/// Reads the current head of every followed workspace, and revokes every connected device
/// that was revoked.
async fn catch_up(client: &tokio_postgres::Client, announcer: &Announcer) -> Result<(), DbError> {
    let active = announcer.active_workspaces();
    if !active.is_empty() {
        for (workspace_id, head) in workspaces::heads(client, &active).await? {
            announcer.publish(workspace_id, head);
        }
    }
    let connected = announcer.connected_devices();
    if !connected.is_empty() {
        for device_id in workspaces::revoked_among(client, &connected).await? {
            announcer.revoke(device_id);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_parse_and_garbage_does_not() {
        let id = Uuid::now_v7();
        assert_eq!(
            parse_payload(&format!("{id}:42")),
            Some(Notice::Head {
                workspace_id: id,
                head: 42
            })
        );
        assert_eq!(
            parse_payload(&format!("revoked:{id}")),
            Some(Notice::Revoked { device_id: id })
        );
        assert_eq!(parse_payload("nope"), None);
        assert_eq!(parse_payload(&format!("{id}:x")), None);
        assert_eq!(parse_payload("x:1"), None);
        assert_eq!(parse_payload("revoked:x"), None);
    }

    #[tokio::test]
    async fn heads_only_rise_and_unfollowed_workspaces_are_forgotten() {
        let announcer = Announcer::default();
        let workspace = Uuid::now_v7();
        announcer.publish(workspace, 5);
        assert!(announcer.active_workspaces().is_empty());

        let device = Uuid::now_v7();
        let mut first = announcer.subscribe(workspace, device);
        let second = announcer.subscribe(workspace, Uuid::now_v7());
        announcer.publish(workspace, 3);
        announcer.publish(workspace, 7);
        announcer.publish(workspace, 6);
        // A slow receiver sees only the newest head.
        assert!(first.receiver().has_changed().unwrap());
        assert_eq!(first.receiver().borrow_and_update().head, 7);
        announcer.publish(workspace, 7);
        assert!(!first.receiver().has_changed().unwrap());

        drop(first);
        assert_eq!(announcer.active_workspaces(), vec![workspace]);
        drop(second);
        assert!(announcer.active_workspaces().is_empty());
    }

    #[tokio::test]
    async fn a_push_in_flight_is_announced_by_the_push_not_by_its_notify() {
        let announcer = Announcer::default();
        let workspace = Uuid::now_v7();
        let mut socket = announcer.subscribe(workspace, Uuid::now_v7());
        let expected = announcer.expect_push(workspace, 1);
        announcer.publish(workspace, 1); // its NOTIFY, come back before the push's publish
        assert!(!socket.receiver().has_changed().unwrap());
        announcer.publish_push(workspace, 1, Some(vec![]));
        drop(expected);
        let head = socket.receiver().borrow_and_update().clone();
        assert_eq!(head.head, 1);
        let frame: Announcement = serde_json::from_str(&head.frame().unwrap()).unwrap();
        assert_eq!((frame.after, frame.changes), (Some(0), Some(vec![])));
        // Other heads, and this one once the push is done, go through as before.
        announcer.publish(workspace, 2);
        assert_eq!(socket.receiver().borrow_and_update().head, 2);
    }

    #[test]
    fn a_device_counts_as_connected_until_its_last_socket_closes() {
        let announcer = Announcer::default();
        let (workspace, device) = (Uuid::now_v7(), Uuid::now_v7());
        let first = announcer.subscribe(workspace, device);
        let second = announcer.subscribe(workspace, device);
        assert_eq!(announcer.connected_devices(), vec![device]);
        drop(first);
        assert_eq!(announcer.connected_devices(), vec![device]);
        drop(second);
        assert!(announcer.connected_devices().is_empty());
    }
}
