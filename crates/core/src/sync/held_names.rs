//! Naming the devices whose changes this device holds for a newer schema: after a round, if
//! a held cell's device has no name here yet, the server's device list (`GET /v1/devices`) is
//! stored locally, so that `sync status` names it, offline too.

use super::client::SyncClient;
use crate::error::Result;
use crate::store::Store;

/// Stores the device list when some held cell's device is unnamed. A failure is logged, never
/// fails the round: the cells are safely held either way.
pub(crate) async fn name_senders(store: &Store, client: &SyncClient) {
    if let Err(e) = try_name_senders(store, client).await {
        tracing::warn!(error = %e, "could not name the devices of held changes");
    }
}

async fn try_name_senders(store: &Store, client: &SyncClient) -> Result<()> {
    if store
        .held_changes()?
        .iter()
        .all(|held| held.device_name.is_some())
    {
        return Ok(());
    }
    let listed = client.devices().await?;
    store.record_known_devices(&listed.devices)
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
