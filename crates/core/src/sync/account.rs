//! Which server this workspace syncs with, and the device token that proves it: the URL and
//! ids in local sync state, the token in the OS keyring (or `$FLIGHTDECK_SYNC_TOKEN` on
//! machines without one). Never in the database.

use flightdeck_types::sync::{JoinRequest, JoinResponse};
use serde::Serialize;

use super::client::{Round, SyncClient, SyncReport};
use super::{pull_cursor, push_cursor};
use crate::error::{CoreError, Result};
use crate::secrets::SecretStore;
use crate::store::Store;

pub const TOKEN_ENV: &str = "FLIGHTDECK_SYNC_TOKEN";
pub(crate) const SERVER_URL: &str = "server.url";
const WORKSPACE_ID: &str = "server.workspace_id";
const WORKSPACE_NAME: &str = "server.workspace_name";
const DEVICE_ID: &str = "server.device_id";
pub(crate) const LAST_SYNC_AT: &str = "last_sync_at";
const SERVER_HEAD: &str = "server.head";

pub(crate) fn token_account(store: &Store) -> String {
    format!("sync/{}", store.device_id())
}

/// The outcome of a join: the server's answer, and whether the token reached the keyring.
#[derive(Debug, Clone)]
pub struct Joined {
    pub response: JoinResponse,
    /// When the keyring refused the token, the reason; the caller must show the token once so
    /// the person can put it in `$FLIGHTDECK_SYNC_TOKEN`.
    pub keyring_error: Option<String>,
}

/// Joins the workspace behind `join_token` on the server at `url`.
pub async fn join(
    store: &Store,
    secrets: &dyn SecretStore,
    url: &str,
    join_token: &str,
) -> Result<Joined> {
    let url = url.trim_end_matches('/');
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(CoreError::invalid(
            "url",
            format!("`{url}` is not an http:// or https:// URL"),
        ));
    }
    if let Some(existing) = store.sync_state(SERVER_URL)? {
        return Err(CoreError::Refused(format!(
            "this workspace already syncs with {existing}; use another workspace to join a \
             different server"
        )));
    }
    let device_name = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "flightdeck device".into());
    let (response, server_time) = SyncClient::join(
        url,
        &JoinRequest {
            join_token: join_token.to_string(),
            device_name,
            site_id: store.device_id().to_string(),
        },
    )
    .await?;
    let keyring_error = secrets
        .set(&token_account(store), &response.device_token)
        .err()
        .map(|e| e.to_string());
    if let Some(time) = server_time {
        time.note(store)?;
    }
    // The peers' names, so that `devices trust NAME` and refusals name them from now on.
    store.record_known_devices(&response.peers)?;
    store.set_sync_state(&[
        (SERVER_URL, url),
        (WORKSPACE_ID, &response.workspace_id),
        (WORKSPACE_NAME, &response.workspace_name),
        (DEVICE_ID, &response.device_id),
    ])?;
    Ok(Joined {
        response,
        keyring_error,
    })
}

/// How long a leave waits for the server to revoke this device's token before it leaves
/// locally anyway.
const LEAVE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// What a leave did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Left {
    pub server_url: String,
    pub workspace_name: Option<String>,
    /// Why the server could not be told (its token then still works there until the admin
    /// revokes the device); `None` when it revoked the token.
    pub server_error: Option<String>,
    /// The server's id for this device, for that admin (`device revoke ID`).
    pub device_id: Option<String>,
    /// Local changes the server never acknowledged: they stay on this device only.
    pub unpushed_cells: usize,
}

/// Leaves the server this workspace joined: asks it to revoke this device's token (`POST
/// /v1/leave`; a server that cannot be reached within [`LEAVE_WAIT`] is said in the answer),
/// deletes the token from the keyring, and forgets the server, the workspace and both cursors
/// here, so that no sync runs from now on (a running daemon stops at its next round). The
/// local data stays as it is: joining again, here or elsewhere, pushes all of it.
pub async fn leave(store: &Store, secrets: &dyn SecretStore) -> Result<Left> {
    let status = status(store)?;
    let Some(server_url) = status.server_url else {
        return Err(CoreError::Refused(
            "this workspace has not joined a sync server; there is nothing to leave".into(),
        ));
    };
    let told = match connect(store, secrets) {
        Ok(client) => match tokio::time::timeout(LEAVE_WAIT, client.leave()).await {
            Ok(Ok(_)) => None,
            // Revoked already (an earlier leave whose local half failed, or the admin).
            Ok(Err(CoreError::Sync { code, .. })) if code == "device_revoked" => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!(
                "{server_url} did not answer within {} s",
                LEAVE_WAIT.as_secs()
            )),
        },
        Err(e) => Some(e.to_string()),
    };
    let device_id = store.sync_state(DEVICE_ID)?;
    // The token first: if the keyring refuses, nothing is forgotten and leaving again works.
    secrets.delete(&token_account(store))?;
    store.clear_sync_state(&[
        SERVER_URL,
        WORKSPACE_ID,
        WORKSPACE_NAME,
        DEVICE_ID,
        LAST_SYNC_AT,
        SERVER_HEAD,
        super::PUSH_CURSOR,
        super::PULL_CURSOR,
        super::server_loss::SERVER_EPOCH,
        super::server_loss::SERVER_LOSS_NOTICE,
        super::device_list::LISTED_AT,
    ])?;
    Ok(Left {
        server_url,
        workspace_name: status.workspace_name,
        server_error: told,
        device_id,
        unpushed_cells: status.pending_cells,
    })
}

/// Whether this workspace still syncs with `url` (a daemon started for it stops once it does
/// not: the workspace left, or left and joined another server).
pub(crate) fn still_joined(store: &Store, url: &str) -> Result<bool> {
    Ok(store.sync_state(SERVER_URL)?.as_deref() == Some(url))
}

/// A client for the server this workspace joined.
pub fn connect(store: &Store, secrets: &dyn SecretStore) -> Result<SyncClient> {
    let (url, token) = credentials(store, secrets)?;
    Ok(SyncClient::new(&url, &token)
        .with_schema(store.schema_version())
        .with_clock_skew(store.clock_skew_ms()))
}

/// The joined server's URL and this device's token.
pub fn credentials(store: &Store, secrets: &dyn SecretStore) -> Result<(String, String)> {
    let url = store.sync_state(SERVER_URL)?.ok_or_else(|| {
        CoreError::Refused(
            "this workspace has not joined a sync server; run `flightdeck sync join URL TOKEN`"
                .into(),
        )
    })?;
    let token = match std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty()) {
        Some(token) => token,
        None => secrets.get(&token_account(store))?.ok_or_else(|| {
            CoreError::Keyring(format!(
                "no device token for {url} in the keyring; set {TOKEN_ENV} or join again"
            ))
        })?,
    };
    Ok((url, token))
}

/// One sync round, remembering when it succeeded and the server head it saw.
pub async fn sync_now(store: &Store, secrets: &dyn SecretStore) -> Result<SyncReport> {
    sync_with(store, &connect(store, secrets)?).await
}

/// One sync round through a client kept across rounds: the daemon's, so that it neither reads
/// the keyring nor opens a new connection per round (both cost more than the round itself).
pub async fn sync_with(store: &Store, client: &SyncClient) -> Result<SyncReport> {
    round_with(store, client, Round::PushAndPull).await
}

/// One round of `kind` through `client`, recording its time and the server's head.
pub async fn round_with(store: &Store, client: &SyncClient, kind: Round) -> Result<SyncReport> {
    let report = super::client::round(store, client, kind).await?;
    store.set_sync_state(&[
        (LAST_SYNC_AT, &crate::clock::now_millis().to_string()),
        (SERVER_HEAD, &report.server_head.to_string()),
    ])?;
    Ok(report)
}

/// Reads the server's device list again and keeps it locally: what `sync status` does when
/// the server answers, so that it names the devices whose clocks are off as of now.
pub async fn refresh_devices(store: &Store, secrets: &dyn SecretStore) -> Result<()> {
    super::device_list::list_devices(store, &connect(store, secrets)?).await
}

/// Whether the joined server answers right now: `None` when the workspace has not joined one,
/// else `Ok` or why not. Needs no token (the server's `/readyz`).
pub async fn probe(
    store: &Store,
    wait: std::time::Duration,
) -> Result<Option<std::result::Result<(), String>>> {
    let Some(url) = store.sync_state(SERVER_URL)? else {
        return Ok(None);
    };
    let client = SyncClient::new(&url, "");
    Ok(Some(client.ready(wait).await.map_err(|e| e.to_string())))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncStatus {
    pub joined: bool,
    pub server_url: Option<String>,
    pub workspace_name: Option<String>,
    pub device_id: String,
    /// Local cells not yet acknowledged by the server.
    pub pending_cells: usize,
    pub last_sync_at: Option<flightdeck_types::Timestamp>,
    /// The server's head when last seen, and how far this device has applied.
    pub server_head: i64,
    pub local_cursor: i64,
    pub unresolved_conflicts: usize,
    /// Pulled cells held for tables or columns of a newer build, by device.
    pub held_changes: Vec<crate::store::HeldFrom>,
    /// "N changes from a newer version are waiting; update Flightdeck", naming the devices.
    pub newer_version_notice: Option<String>,
    /// Set when the server was found restored from an older backup or replaced, and this
    /// device re-synchronised (`sync::server_loss`): what happened and when.
    pub server_loss_notice: Option<String>,
    /// Set when this device's clock was last found more than the bound (5 minutes) off the
    /// sync server's (how far, and that its changes are stamped with the server's time), or
    /// the server's device list said so of another device (named, with its site id).
    pub clock_notice: Option<String>,
}

pub fn status(store: &Store) -> Result<SyncStatus> {
    let number = |key: &str| -> Result<Option<i64>> {
        Ok(store.sync_state(key)?.and_then(|v| v.parse().ok()))
    };
    let server_url = store.sync_state(SERVER_URL)?;
    let held = store.held_changes()?;
    Ok(SyncStatus {
        joined: server_url.is_some(),
        server_url,
        workspace_name: store.sync_state(WORKSPACE_NAME)?,
        device_id: store.device_id().to_string(),
        pending_cells: store
            .local_changes_after(push_cursor(store)?, usize::MAX)?
            .len(),
        last_sync_at: number(LAST_SYNC_AT)?.map(flightdeck_types::Timestamp),
        server_head: number(SERVER_HEAD)?.unwrap_or(0),
        local_cursor: pull_cursor(store)?,
        unresolved_conflicts: store
            .conflicts()?
            .iter()
            .filter(|c| c.restored_at.is_none())
            .count(),
        newer_version_notice: super::newer_version_notice(&held),
        held_changes: held,
        server_loss_notice: store.sync_state(super::server_loss::SERVER_LOSS_NOTICE)?,
        clock_notice: clock_notice(store)?,
    })
}

/// What is known of clocks that are off, or `None`: this device's, when it was last found
/// more than the bound off the sync server's, and every other device's the server's device
/// list said so of.
fn clock_notice(store: &Store) -> Result<Option<String>> {
    let bound = flightdeck_types::sync::DEFAULT_MAX_CLOCK_OFFSET_MS;
    let mut notices = Vec::new();
    if let Some(offset) = store.clock_offset()?.filter(|o| o.abs() > bound) {
        notices.push(format!(
            "this device's clock is {} the sync server's: its changes are stamped with the \
             server's time meanwhile; set the clock right (e.g. enable NTP)",
            offset_text(offset)
        ));
    }
    for (name, site, offset) in store.devices_with_clocks_off(bound)? {
        notices.push(format!(
            "device {name} ({})'s clock is {} the sync server's (when it last synced)",
            &site[..site.len().min(8)],
            offset_text(offset)
        ));
    }
    Ok((!notices.is_empty()).then(|| notices.join("; ")))
}

/// "1 h 0 min ahead of", "7 min 30 s behind".
fn offset_text(offset_ms: i64) -> String {
    let side = if offset_ms > 0 { "ahead of" } else { "behind" };
    format!("{} {side}", flightdeck_types::sync::clock_span(offset_ms))
}
