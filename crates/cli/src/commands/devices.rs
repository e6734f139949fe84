//! `flightdeck devices ...`: the workspace's devices and which ones this device trusts.

use flightdeck_core::sync::account;
use flightdeck_core::{trust, CoreError, Store};
use serde::Serialize;

use super::runtime;
use crate::args::DevicesCommand;
use crate::output::{table, Output};

#[derive(Serialize)]
struct Listed {
    #[serde(flatten)]
    device: trust::DeviceTrust,
    last_seen_at: Option<String>,
}

pub fn run(store: &Store, cmd: &DevicesCommand, out: &Output) -> Result<(), CoreError> {
    match cmd {
        DevicesCommand::List => {
            let seen = refresh(store);
            let listed: Vec<Listed> = trust::list(store)?
                .into_iter()
                .map(|device| Listed {
                    last_seen_at: seen
                        .iter()
                        .find(|d| d.site_id == device.site_id)
                        .and_then(|d| d.last_seen_at.clone()),
                    device,
                })
                .collect();
            out.print(&listed, || {
                let rows: Vec<Vec<String>> = listed
                    .iter()
                    .map(|l| {
                        vec![
                            l.device.name.clone().unwrap_or_else(|| "-".into()),
                            l.device.site_id.clone(),
                            l.last_seen_at.clone().unwrap_or_else(|| "-".into()),
                            match (l.device.this_device, l.device.trusted) {
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
            refresh(store);
            let trusted = trust::trust(store, device)?;
            out.print(&trusted, || {
                format!(
                    "this device now takes runs, schedule fires and workflow steps written by {}",
                    describe(&trusted)
                )
            });
        }
        DevicesCommand::Untrust { device } => {
            refresh(store);
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

/// The server's device list when this device joined one and it answers (recorded here, so
/// names resolve offline later); else nothing, with one line on stderr saying why.
fn refresh(store: &Store) -> Vec<flightdeck_types::sync::DeviceInfo> {
    if !account::status(store).map(|s| s.joined).unwrap_or(false) {
        return Vec::new();
    }
    let fetched = flightdeck_core::secrets::for_workspace(store).and_then(|secrets| {
        runtime()?.block_on(trust::refresh_devices(store, secrets.store.as_ref()))
    });
    match fetched {
        Ok(devices) => devices,
        Err(e) => {
            eprintln!("note: showing the devices last seen; the sync server's list: {e}");
            Vec::new()
        }
    }
}
