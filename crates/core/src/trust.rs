//! Which devices this device takes work from.
//!
//! Any device of a workspace can write any cell, and sync carries it everywhere: so a device
//! could queue a run for itself and rewrite the run's `device_id` to another device, which
//! would then run its command. Before this device starts a run, it looks up in cr-sqlite's
//! clock tables which site last wrote each cell that decides what runs (the run's device,
//! executor, spec and environment; that environment's path, variables, agent command and setup
//! script; the spec and runner of the schedule that fired it; the workflow run and definition
//! it is a step of) and refuses the run when one was written by a device it does not trust.
//! It trusts
//! itself, and the devices a person named with `devices trust`; the list is local (never
//! synced: a synced list could be rewritten by the devices it names).
//!
//! The sync server is trusted to relay site ids faithfully (it refuses a push carrying another
//! device's site id); a compromised server could forge them, which only signed changes would
//! stop.

use rusqlite::Connection;
use serde::Serialize;

use crate::error::{CoreError, Result};
use crate::store::trust as sql;
use crate::store::Store;
use flightdeck_types::Execution;

/// The columns of a run that decide what it runs and where.
const RUN_COLUMNS: &[&str] = &["device_id", "executor", "spec", "environment_id"];
/// The columns of its environment that do (the path it runs in, the variables it gets, the
/// commands made from it).
/// The repository counts: a worktree run checks it out (its hooks run) and runs the setup script
/// there.
const ENVIRONMENT_COLUMNS: &[&str] = &[
    "working_dir",
    "repository",
    "env_vars",
    "agent_command",
    "setup_script",
    "base_branch",
];
/// The columns of the schedule that fired it: which device fires it and what it runs.
const SCHEDULE_COLUMNS: &[&str] = &["runner_device_id", "executor", "spec"];
/// The columns of the workflow run it is a step of: the definition it pins, the device that
/// runs it and its environment. The definition's own text is checked too.
const WORKFLOW_RUN_COLUMNS: &[&str] = &[
    "workflow_id",
    "workflow_version",
    "device_id",
    "environment_id",
];

/// A run refused because a device this one does not trust wrote what it would run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// The writing device's site id, hex.
    pub site_id: String,
    /// Its name as the sync server listed it, when known here.
    pub device_name: Option<String>,
    /// What it wrote, as `table.column`.
    pub cells: Vec<String>,
}

impl Refusal {
    pub fn message(&self) -> String {
        let who = match &self.device_name {
            Some(name) => format!("device `{name}` ({})", self.site_id),
            None => format!("device {}", self.site_id),
        };
        format!(
            "refused: {who} wrote what this run would run ({}), and this device does not take \
             work from it; if you trust it, run `flightdeck devices trust {}` and queue the run \
             again",
            self.cells.join(", "),
            self.site_id
        )
    }
}

/// The first device this one does not trust among the writers of `run`'s deciding cells, of
/// its environment's, of the schedule that fired it and of the workflow run and definition
/// it is a step of; `None` when every one is trusted.
pub fn check_run(conn: &Connection, run: &Execution) -> Result<Option<Refusal>> {
    let mut writers = sql::writers(conn, "executions", &[("id", &run.id)], RUN_COLUMNS)?;
    if let Some(environment) = &run.environment_id {
        writers.extend(writers_of(
            conn,
            "environments",
            environment,
            ENVIRONMENT_COLUMNS,
        )?);
    }
    if let Some(schedule) = &run.schedule_id {
        writers.extend(writers_of(conn, "schedules", schedule, SCHEDULE_COLUMNS)?);
    }
    if let Some(workflow_run) = &run.workflow_run_id {
        writers.extend(workflow_run_writers(conn, workflow_run)?);
    }
    first_untrusted(conn, writers)
}

/// The first device this one does not trust among the writers of workflow run `run_id`'s
/// deciding cells and of the definition it pinned.
pub fn check_workflow_run(conn: &Connection, run_id: &str) -> Result<Option<Refusal>> {
    let writers = workflow_run_writers(conn, run_id)?;
    first_untrusted(conn, writers)
}

fn workflow_run_writers(conn: &Connection, run_id: &str) -> Result<Vec<(String, Vec<u8>)>> {
    let mut writers = writers_of(conn, "workflow_runs", run_id, WORKFLOW_RUN_COLUMNS)?;
    if let Some((workflow, version)) = sql::pinned_workflow(conn, run_id)? {
        let key: [(&str, &dyn rusqlite::ToSql); 2] = [("id", &workflow), ("version", &version)];
        writers.extend(sql::writers(conn, "workflows", &key, &["definition"])?);
    }
    Ok(writers)
}

fn first_untrusted(conn: &Connection, writers: Vec<(String, Vec<u8>)>) -> Result<Option<Refusal>> {
    let own = sql::own_site(conn)?;
    let mut refusal: Option<Refusal> = None;
    for (cell, site) in writers {
        if site == own || sql::is_trusted(conn, &site)? {
            continue;
        }
        let site_hex = hex::encode(&site);
        match &mut refusal {
            Some(r) if r.site_id == site_hex => r.cells.push(cell),
            Some(_) => {}
            None => {
                refusal = Some(Refusal {
                    device_name: sql::device_name(conn, &site)?,
                    site_id: site_hex,
                    cells: vec![cell],
                })
            }
        }
    }
    Ok(refusal)
}

fn writers_of(
    conn: &Connection,
    table: &str,
    id: &str,
    columns: &[&str],
) -> Result<Vec<(String, Vec<u8>)>> {
    sql::writers(conn, table, &[("id", &id)], columns)
}

/// One device of the workspace as `devices list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceTrust {
    pub site_id: String,
    pub name: Option<String>,
    /// This device itself (always trusted).
    pub this_device: bool,
    pub trusted: bool,
    /// When the sync server last saw it ([`list_refreshed`] only).
    pub last_seen_at: Option<String>,
}

/// This device, the devices the sync server listed (as last recorded here) and every trusted
/// one, this device first, then by name.
pub fn list(store: &Store) -> Result<Vec<DeviceTrust>> {
    store.read(|conn| {
        let own = sql::own_site(conn)?;
        let mut devices: Vec<DeviceTrust> = Vec::new();
        let mut own_name = None;
        for sql::KnownDevice {
            site_id: site,
            name,
            trusted,
        } in sql::devices(conn)?
        {
            if site == own {
                own_name = name;
                continue;
            }
            devices.push(DeviceTrust {
                site_id: hex::encode(site),
                name,
                this_device: false,
                trusted,
                last_seen_at: None,
            });
        }
        devices.sort_by(|a, b| a.name.cmp(&b.name).then(a.site_id.cmp(&b.site_id)));
        devices.insert(
            0,
            DeviceTrust {
                site_id: hex::encode(&own),
                name: own_name,
                this_device: true,
                trusted: true,
                last_seen_at: None,
            },
        );
        Ok(devices)
    })
}

/// The device `key` names: a site id (its whole hex, or a unique prefix of at least 8 digits
/// among the devices known here) or a device name the sync server listed.
fn resolve(store: &Store, key: &str) -> Result<DeviceTrust> {
    let devices = list(store)?;
    let lower = key.to_ascii_lowercase();
    let by_name: Vec<&DeviceTrust> = devices
        .iter()
        .filter(|d| d.name.as_deref() == Some(key))
        .collect();
    let by_id: Vec<&DeviceTrust> = devices
        .iter()
        .filter(|d| lower.len() >= 8 && d.site_id.starts_with(&lower))
        .collect();
    let found = if by_id.len() == 1 { by_id } else { by_name };
    match found.as_slice() {
        [one] => Ok((*one).clone()),
        [] if lower.len() == 32 && lower.bytes().all(|b| b.is_ascii_hexdigit()) => {
            // A device not listed here yet (this device has not synced since it joined).
            Ok(DeviceTrust {
                site_id: lower,
                name: None,
                this_device: false,
                trusted: false,
                last_seen_at: None,
            })
        }
        [] => Err(CoreError::NotFound {
            kind: "device",
            key: format!(
                "{key} (give a device name or site id from `flightdeck devices list`; run \
                 `flightdeck sync now` first if the device joined since)"
            ),
        }),
        many => Err(CoreError::Ambiguous {
            kind: "device",
            key: key.to_string(),
            count: many.len(),
            ids: many
                .iter()
                .map(|d| d.site_id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// Trusts the device `key` names: runs, schedule fires and workflow steps it wrote are taken
/// from now on.
pub fn trust(store: &Store, key: &str) -> Result<DeviceTrust> {
    let mut device = resolve(store, key)?;
    if device.this_device {
        return Ok(device);
    }
    let site = hex::decode(&device.site_id).expect("site ids are hex");
    store.write(|w| sql::add_trusted(w, &site, w.now().as_millis()))?;
    device.trusted = true;
    Ok(device)
}

/// Stops trusting the device `key` names. This device itself cannot be untrusted.
pub fn untrust(store: &Store, key: &str) -> Result<DeviceTrust> {
    let mut device = resolve(store, key)?;
    if device.this_device {
        return Err(CoreError::Refused(
            "this device always takes its own work; give another device".into(),
        ));
    }
    let site = hex::decode(&device.site_id).expect("site ids are hex");
    store.write(|w| sql::remove_trusted(w, &site))?;
    device.trusted = false;
    Ok(device)
}

/// Asks the sync server for the workspace's devices and records their names here (so that
/// `devices list`, `devices trust NAME` and refusals name them, offline too); returns the
/// server's list (with each device's last seen time).
pub async fn refresh_devices(
    store: &Store,
    secrets: &dyn crate::secrets::SecretStore,
) -> Result<Vec<flightdeck_types::sync::DeviceInfo>> {
    let client = crate::sync::account::connect(store, secrets)?;
    let listed = client.devices().await?.devices;
    store.record_known_devices(&listed)?;
    Ok(listed)
}

/// [`list`], after asking the sync server for the workspace's devices when this one joined
/// (their names are recorded, and each gets its last seen time). When the server cannot be
/// asked, the devices last recorded, and why.
pub async fn list_refreshed(
    store: &Store,
    secrets: &dyn crate::secrets::SecretStore,
) -> Result<(Vec<DeviceTrust>, Option<CoreError>)> {
    let joined = crate::sync::account::status(store)?.joined;
    let (seen, problem) = match joined {
        true => match refresh_devices(store, secrets).await {
            Ok(seen) => (seen, None),
            Err(e) => (Vec::new(), Some(e)),
        },
        false => (Vec::new(), None),
    };
    let mut devices = list(store)?;
    for device in &mut devices {
        device.last_seen_at = seen
            .iter()
            .find(|s| s.site_id == device.site_id)
            .and_then(|s| s.last_seen_at.clone());
    }
    Ok((devices, problem))
}
