//! `flightdeck devices ...`: the workspace's devices and which ones this device trusts.

use flightdeck_core::{trust, CoreError, Store};

use super::runtime;
use crate::args::DevicesCommand;
use crate::output::{table, Output};

pub fn run(store: &Store, cmd: &DevicesCommand, out: &Output) -> Result<(), CoreError> {
    match cmd {
        DevicesCommand::List => {
            let listed = refreshed(store)?;
            out.print(&listed, || {
                let rows: Vec<Vec<String>> = listed
                    .iter()
                    .map(|d| {
                        vec![
                            d.name.clone().unwrap_or_else(|| "-".into()),
                            d.site_id.clone(),
                            d.last_seen_at.clone().unwrap_or_else(|| "-".into()),
                            match (d.this_device, d.trusted) {
                                (true, _) => "this device".into(),
                                (false, true) => "trusted".into(),
                                (false, false) => "not trusted".into(),
                            },
                        ]
                    })
                    .collect();
                table(&["NAME", "SITE ID", "LAST SEEN", "TRUST"], &rows)
            });
        }
        DevicesCommand::Trust { device } => {
            // Names a device that joined since this one last synced.
            refreshed(store)?;
            let trusted = trust::trust(store, device)?;
            out.print(&trusted, || {
                format!(
                    "this device now takes runs, schedule fires and workflow steps written by {}",
                    describe(&trusted)
                )
            });
        }
        DevicesCommand::Untrust { device } => {
            refreshed(store)?;
            let untrusted = trust::untrust(store, device)?;
            out.print(&untrusted, || {
                format!(
                    "this device no longer takes work written by {}",
                    describe(&untrusted)
                )
            });
        }
    }
    Ok(())
}

fn describe(device: &trust::DeviceTrust) -> String {
    match &device.name {
        Some(name) => format!("{name} ({})", device.site_id),
        None => device.site_id.clone(),
    }
}

/// [`trust::list_refreshed`]; when the sync server cannot be asked, one line on stderr says
/// why and the devices last seen are shown.
fn refreshed(store: &Store) -> Result<Vec<trust::DeviceTrust>, CoreError> {
    let secrets = flightdeck_core::secrets::for_workspace(store)?;
    let (devices, problem) =
        runtime()?.block_on(trust::list_refreshed(store, secrets.store.as_ref()))?;
    if let Some(e) = problem {
        eprintln!("note: showing the devices last seen; the sync server's list: {e}");
    }
    Ok(devices)
}
