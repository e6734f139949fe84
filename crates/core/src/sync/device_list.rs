//! The server's device list, kept locally so that `sync status` can name devices offline
//! too: the devices whose changes this device holds for a newer schema, and those whose
//! clocks are off. After a round the list (`GET /v1/devices`) is read again when a held
//! cell's device has no name here yet, or when it was last read over [`REFRESH_MS`] ago.

use super::client::SyncClient;
use crate::error::Result;
use crate::store::Store;

/// How often the device list is read again anyway: the clock offsets it carries move slowly.
const REFRESH_MS: i64 = 10 * 60 * 1000;

/// The sync state key of when the device list was last read (Unix milliseconds).
pub(crate) const LISTED_AT: &str = "devices.listed_at";

/// Stores the device list when some held cell's device is unnamed or the list is old. A
/// failure is logged, never fails the round: the list only names things.
pub(crate) async fn refresh_after_round(store: &Store, client: &SyncClient) {
    if let Err(e) = try_refresh(store, client).await {
        tracing::warn!(error = %e, "could not read the server's device list");
    }
}

async fn try_refresh(store: &Store, client: &SyncClient) -> Result<()> {
    let now = crate::clock::now_millis();
    let listed_at: Option<i64> = store.sync_state(LISTED_AT)?.and_then(|v| v.parse().ok());
    let fresh = listed_at.is_some_and(|at| (0..REFRESH_MS).contains(&(now - at)));
    if fresh
        && store
            .held_changes()?
            .iter()
            .all(|held| held.device_name.is_some())
    {
        return Ok(());
    }
    list_devices(store, client).await
}

/// Reads the server's device list and keeps it locally (names, schema versions, clock
/// offsets).
pub(crate) async fn list_devices(store: &Store, client: &SyncClient) -> Result<()> {
    let listed = client.devices().await?;
    store.record_known_devices(&listed.devices)?;
    let now = crate::clock::now_millis();
    store.set_sync_state(&[(LISTED_AT, &now.to_string())])
}

/// "N changes from a newer version are waiting; update Flightdeck", naming the devices, or
/// `None` when nothing is held.
pub fn newer_version_notice(held: &[crate::store::HeldFrom]) -> Option<String> {
    let cells: usize = held.iter().map(|h| h.cells).sum();
    if cells == 0 {
        return None;
    }
    let names: Vec<String> = held
        .iter()
        .map(|h| match &h.device_name {
            Some(name) => name.clone(),
            None => format!("device {}", h.site_id),
        })
        .collect();
    let noun = if cells == 1 { "change" } else { "changes" };
    let verb = if cells == 1 { "is" } else { "are" };
    Some(format!(
        "{cells} {noun} from a newer version {verb} waiting (from {}); update Flightdeck",
        names.join(", ")
    ))
}
