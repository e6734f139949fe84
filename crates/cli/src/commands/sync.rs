//! `flightdeck sync ...`

use flightdeck_core::store::ConflictRow;
use flightdeck_core::sync::{account, wire};
use flightdeck_core::{CoreError, Store};
use flightdeck_types::Timestamp;
use serde::Serialize;

use super::runtime;
use crate::args::SyncCommand;
use crate::output::{table, Output};

pub fn run(store: &Store, cmd: &SyncCommand, out: &Output) -> Result<(), CoreError> {
    let runtime = runtime()?;
    let secrets = super::secrets(store)?;
    let keyring = secrets.store.as_ref();
    match cmd {
        SyncCommand::Join {
            url,
            join_token,
            trust_peers,
        } => {
            let joined = runtime.block_on(account::join(store, keyring, url, join_token))?;
            let r = &joined.response;
            if let Some(why) = &joined.keyring_error {
                // The server shows a device token once: say it now, or it is lost.
                eprintln!(
                    "warning: {} refused the device token ({why}); set \
                     {}={} for this workspace",
                    secrets.backend,
                    account::TOKEN_ENV,
                    r.device_token
                );
            }
            let peers_trusted = offer_peers(store, &r.peers, *trust_peers)?;
            let shown = serde_json::json!({
                "workspace_id": r.workspace_id,
                "workspace_name": r.workspace_name,
                "device_id": r.device_id,
                "token_in_keyring": joined.keyring_error.is_none(),
                "peers": r.peers.iter().map(|p| serde_json::json!({
                    "name": p.name,
                    "site_id": p.site_id,
                    "trusted": peers_trusted,
                })).collect::<Vec<_>>(),
            });
            out.print(&shown, || {
                format!(
                    "joined workspace {} as device {}",
                    r.workspace_name, r.device_id
                )
            });
        }
        SyncCommand::Now => {
            let report = runtime.block_on(account::sync_now(store, keyring))?;
            out.print(&report, || {
                let mut text = format!(
                    "pushed {} cells, pulled {} cells, {} conflicts; at {} of {}",
                    report.pushed_cells,
                    report.pulled_cells,
                    report.conflicts,
                    report.local_cursor,
                    report.server_head
                );
                if report.memories_indexed > 0 {
                    text.push_str(&format!("; indexed {} memories", report.memories_indexed));
                }
                text
            });
        }
        SyncCommand::Leave => {
            let left = runtime.block_on(account::leave(store, keyring))?;
            if let Some(problem) = &left.server_error {
                eprintln!(
                    "warning: the server could not be told ({problem}); this device's token \
                     works there until its admin runs `flightdeck-sync-server device revoke {}`",
                    left.device_id.as_deref().unwrap_or("ID")
                );
            }
            out.print(&left, || {
                let mut text = format!(
                    "left {}; this device no longer syncs (its data stays here)",
                    left.server_url
                );
                if left.unpushed_cells > 0 {
                    text.push_str(&format!(
                        "; {} changes never reached the server and stay only here",
                        left.unpushed_cells
                    ));
                }
                text
            });
        }
        SyncCommand::Status => {
            let probe = runtime.block_on(account::probe(store, PROBE_WAIT))?;
            if matches!(probe, Some(Ok(()))) {
                // The device list as of now, for the devices whose clocks are off. Best effort:
                // without it (no token, say, which the status reports) it shows what the last
                // round read.
                let _ = runtime.block_on(account::refresh_devices(store, keyring));
            }
            let status = account::status(store)?;
            let device_token_problem = match status.joined {
                true => account::credentials(store, keyring).err().map(|e| {
                    format!(
                        "no device token to sync with ({e}); set {} or join again",
                        account::TOKEN_ENV
                    )
                }),
                false => None,
            };
            if let Some(problem) = &device_token_problem {
                eprintln!("warning: NOT SYNCING: {problem}");
            }
            let shown = StatusView {
                device_token_problem: device_token_problem.clone(),
                online: probe.as_ref().map(|p| p.is_ok()),
                offline_reason: probe.as_ref().and_then(|p| p.clone().err()),
                status: &status,
            };
            out.print(&shown, || {
                let last = status
                    .last_sync_at
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "never".into());
                let online = match &probe {
                    None => "-".to_string(),
                    Some(Ok(())) => "online".to_string(),
                    Some(Err(why)) => format!("offline ({why})"),
                };
                let mut text = format!(
                    "server:     {}\nconnection: {online}\nworkspace:  {}\ndevice:     {}\n\
                     pending:    {} cells\nlast sync:  {last}\ncursor:     {} of {}\n\
                     conflicts:  {} unresolved",
                    status.server_url.as_deref().unwrap_or("(not joined)"),
                    status.workspace_name.as_deref().unwrap_or("-"),
                    status.device_id,
                    status.pending_cells,
                    status.local_cursor,
                    status.server_head,
                    status.unresolved_conflicts,
                );
                if let Some(notice) = &status.newer_version_notice {
                    text.push_str(&format!("\nwaiting:    {notice}"));
                }
                if let Some(notice) = &status.server_loss_notice {
                    text.push_str(&format!("\nserver:     {notice}"));
                }
                if let Some(notice) = &status.clock_notice {
                    text.push_str(&format!("\nclock:      {notice}"));
                }
                text
            });
        }
        SyncCommand::Conflicts { restore: Some(id) } => {
            let restored = store.restore_conflict(*id)?;
            let shown = ConflictView::from(&restored);
            out.print(&shown, || {
                format!(
                    "restored {}.{} to {}",
                    restored.table, restored.column, shown.local_value
                )
            });
        }
        SyncCommand::Conflicts { restore: None } => {
            let all: Vec<ConflictView> =
                store.conflicts()?.iter().map(ConflictView::from).collect();
            out.print(&all, || {
                if all.is_empty() {
                    return "no conflicts".into();
                }
                let rows: Vec<Vec<String>> = all
                    .iter()
                    .map(|c| {
                        vec![
                            c.id.to_string(),
                            format!("{}.{}", c.table, c.column),
                            c.local_value.to_string(),
                            c.remote_value.to_string(),
                            if c.restored_at.is_some() {
                                "restored"
                            } else {
                                "open"
                            }
                            .into(),
                        ]
                    })
                    .collect();
                table(&["ID", "CELL", "LOCAL", "REMOTE", "STATE"], &rows)
            });
        }
    }
    Ok(())
}

/// How long `sync status` waits for the server before calling it offline.
const PROBE_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// `sync status --json`: the stored status plus whether the server answers now.
#[derive(Serialize)]
struct StatusView<'a> {
    /// Joined, but this device has no device token to sync with: why, and what to do.
    device_token_problem: Option<String>,
    /// null when the workspace has not joined a server.
    online: Option<bool>,
    offline_reason: Option<String>,
    #[serde(flatten)]
    status: &'a account::SyncStatus,
}

#[derive(Serialize)]
struct ConflictView {
    id: i64,
    table: String,
    pk: String,
    column: String,
    local_value: serde_json::Value,
    remote_value: serde_json::Value,
    remote_site_id: String,
    detected_at: Timestamp,
    restored_at: Option<Timestamp>,
}

impl From<&ConflictRow> for ConflictView {
    fn from(c: &ConflictRow) -> Self {
        let json = |v: &flightdeck_core::store::SqlValue| {
            serde_json::to_value(wire::value_to_wire(v)).unwrap_or(serde_json::Value::Null)
        };
        ConflictView {
            id: c.id,
            table: c.table.clone(),
            pk: wire::hex(&c.pk),
            column: c.column.clone(),
            local_value: json(&c.local_value),
            remote_value: json(&c.remote_value),
            remote_site_id: wire::hex(&c.remote_site_id),
            detected_at: Timestamp(c.detected_at),
            restored_at: c.restored_at.map(Timestamp),
        }
    }
}

/// The devices that joined with the same join token: trusted when `--trust-peers` says so or
/// the person answers yes on a terminal; else a note says how to trust them later. Returns
/// whether they were trusted.
fn offer_peers(
    store: &Store,
    peers: &[flightdeck_types::sync::DeviceInfo],
    trust_peers: bool,
) -> Result<bool, CoreError> {
    use std::io::{BufRead, IsTerminal, Write};
    if peers.is_empty() {
        return Ok(false);
    }
    let names = peers
        .iter()
        .map(|p| format!("{} ({})", p.name, p.site_id))
        .collect::<Vec<_>>()
        .join(", ");
    let asked = !trust_peers && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let yes = trust_peers || {
        asked && {
            eprint!(
                "{} device(s) joined with the same join token: {names}.\nTake the runs, \
                 schedule fires and workflow steps they write on this device? [y/N] ",
                peers.len()
            );
            let _ = std::io::stderr().flush();
            let mut answer = String::new();
            let _ = std::io::stdin().lock().read_line(&mut answer);
            matches!(answer.trim(), "y" | "Y" | "yes" | "Yes")
        }
    };
    if yes {
        for peer in peers {
            flightdeck_core::trust::trust(store, &peer.site_id)?;
        }
    } else if !asked {
        eprintln!(
            "note: {} device(s) joined with the same join token: {names}; this device does not \
             take the runs they write until you run `flightdeck devices trust NAME|ID` (or join \
             with --trust-peers)",
            peers.len()
        );
    }
    Ok(yes)
}
