//! Leases: a run whose runner device is gone can be taken over.
//!
//! Each device's worker keeps a heartbeat row (`device_heartbeats`, synced) fresh while it
//! runs: renewed every quarter of its lease, one write per device whatever the number of
//! runs (so runs waiting for a person still cost nothing). Once a device's heartbeat is older
//! than its lease, any other device may adopt the live runs it was running
//! ([`adopt`]): the run moves to the adopting device and resumes from its checkpoint with
//! the crash rules (a step caught running is `interrupted` and retried by its policy).
//!
//! A device that comes back after its lease lapsed must not run anything of those runs
//! before it knows whether they were adopted: until it has synced after the lapse, it is
//! [`held`]: its driver moves no run, its runner claims no step and leaves the steps it was
//! running as they are. A device that has not joined a sync server cannot have been adopted
//! from and is never held.

use flightdeck_types::{
    Execution, ExecutionSpec, ExecutionStatus, StepStatus, Timestamp, WorkflowRun,
    WorkflowRunStatus,
};
use rusqlite::Connection;

use crate::error::{CoreError, Result};
use crate::store::{executions, heartbeats, sync_state, workflows as sql, Store, Writer};
use crate::sync::account::{LAST_SYNC_AT, SERVER_URL};

/// The lease when none is set: long enough that a laptop's sleep or a restart is not taken
/// for a lost device, short enough that a lost one's runs do not wait long.
pub const DEFAULT_LEASE_SECS: u64 = 300;

pub use crate::store::heartbeats::Heartbeat;

/// `device_id`'s last heartbeat, if it sent one.
pub fn heartbeat(c: &Connection, device_id: &str) -> Result<Option<Heartbeat>> {
    heartbeats::get(c, device_id)
}

/// This device's lease, in ms (`runs settings --workflow-lease`).
pub fn lease_ms(store: &Store) -> Result<i64> {
    let secs = crate::runs::settings::settings(store)?
        .workflow_lease_secs
        .unwrap_or(DEFAULT_LEASE_SECS);
    Ok((secs as i64).saturating_mul(1000))
}

/// Renews this device's heartbeat when a quarter of its lease has passed (or the lease
/// changed). Called by the workflow driver at each tick while it is not [`held`].
pub fn renew(store: &Store) -> Result<()> {
    let lease = lease_ms(store)?;
    let now = crate::clock::now();
    let current = store.read(|c| heartbeat(c, store.device_id()))?;
    let fresh = current.is_some_and(|h| {
        h.lease_ms == lease && now.as_millis() - h.seen_at.as_millis() < lease / 4
    });
    if fresh {
        return Ok(());
    }
    store.write(|w| {
        let beat = Heartbeat {
            seen_at: w.now(),
            lease_ms: lease,
        };
        heartbeats::put(w, w.device_id(), beat)
    })
}

/// Whether this device is back after its lease lapsed and has not synced since: it may have
/// had its runs adopted, so it runs none of them until a sync says.
pub fn held(store: &Store) -> Result<bool> {
    store.read(|c| held_in(c, store.device_id(), crate::clock::now()))
}

pub fn held_in(c: &Connection, device_id: &str, now: Timestamp) -> Result<bool> {
    let Some(beat) = heartbeat(c, device_id)? else {
        return Ok(false);
    };
    if now < beat.lapses_at() || sync_state::get_state(c, SERVER_URL)?.is_none() {
        return Ok(false);
    }
    let synced_at = sync_state::get_state(c, LAST_SYNC_AT)?
        .and_then(|t| t.parse::<i64>().ok())
        .unwrap_or(0);
    if synced_at >= beat.lapses_at().as_millis() {
        return Ok(false);
    }
    Ok(!sql::live_run_ids(c, device_id)?.is_empty())
}

/// Takes over live run `run_id` (and its running child runs) from a device whose lease has
/// lapsed: the run moves to this device and resumes from its checkpoint, each step caught
/// running `interrupted` and retried by its policy here. Adopting a run of this device
/// while it is [`held`] ends the hold for it (the person knows it was not adopted).
pub fn adopt(store: &Store, run_id: &str) -> Result<WorkflowRun> {
    let effects = store.write(|w| {
        let run = sql::find_run(w, run_id)?;
        if run.status.is_final() {
            return Err(CoreError::Refused(format!(
                "workflow run {run_id} already ended ({})",
                run.status
            )));
        }
        let me = w.device_id().to_string();
        let owner = run.device_id.clone().unwrap_or_default();
        if owner == me {
            if !held_in(w, &me, w.now())? {
                return Err(CoreError::Refused(format!(
                    "workflow run {run_id} already runs on this device"
                )));
            }
        } else {
            refuse_unless_lapsed(w, &run, &owner)?;
            if let Some(refusal) = crate::trust::check_workflow_run(w, run_id)? {
                return Err(CoreError::Refused(format!(
                    "{}; adopting the run would run its steps here",
                    refusal.message()
                )));
            }
        }
        adopt_in(w, run_id, &owner)?;
        super::engine::advance_in(w, run_id)
    })?;
    effects.apply();
    if store.read(|c| held_in(c, store.device_id(), crate::clock::now()))? {
        // Reclaimed here: this device vouches for its own runs again.
        renew(store)?;
    }
    super::get_run(store, run_id)
}

/// Refuses while `owner`'s lease holds, saying when it lapses.
fn refuse_unless_lapsed(w: &Writer<'_>, run: &WorkflowRun, owner: &str) -> Result<()> {
    let now = w.now();
    let beat = heartbeat(w, owner)?;
    // A device that never sent a heartbeat (an older version): its run's last change.
    let lapses = beat.map_or_else(
        || Timestamp(run.updated_at.as_millis() + (DEFAULT_LEASE_SECS as i64) * 1000),
        |b| b.lapses_at(),
    );
    if now >= lapses {
        return Ok(());
    }
    let seen = beat.map_or(run.updated_at, |b| b.seen_at);
    let name = hex::decode(owner)
        .ok()
        .map(|site| crate::store::trust::device_name(w, &site))
        .transpose()?
        .flatten()
        .map(|n| format!("`{n}` ({owner})"))
        .unwrap_or_else(|| owner.to_string());
    Err(CoreError::Refused(format!(
        "workflow run {} runs on device {name}, last heard from {} s ago; it can be adopted \
         once that device's lease lapses, in {} s (at {})",
        run.id,
        (now.as_millis() - seen.as_millis()).max(0) / 1000,
        (lapses.as_millis() - now.as_millis() + 999) / 1000,
        lapses.to_rfc3339()
    )))
}

/// Moves run `run_id` to this device: marked `interrupted` at a boundary (the driver's
/// recovery marks a run a dead process left the same way), each step run caught running or
/// queued on the old device ended `interrupted` (its retry, by its policy, is queued here),
/// and each running child run adopted too.
fn adopt_in(w: &mut Writer<'_>, run_id: &str, from: &str) -> Result<()> {
    let mut run = sql::find_run(w, run_id)?;
    let me = w.device_id().to_string();
    sql::set_device(w, run_id, &me)?;
    run.device_id = Some(me.clone());
    if run.status != WorkflowRunStatus::Queued {
        run.status = WorkflowRunStatus::Interrupted;
    }
    let why = serde_json::json!({ "from": from, "by": me });
    super::engine::status_boundary(w, &mut run, "adopted", why)?;
    w.touched(
        "workflow_runs",
        run_id,
        flightdeck_types::AuditAction::Update,
    );
    let running: Vec<String> = run
        .checkpoint
        .steps
        .values()
        .filter(|s| s.status == StepStatus::Running)
        .filter_map(|s| s.execution_id.clone())
        .collect();
    for exec_id in running {
        let exec = executions::find(w, &exec_id)?;
        if exec.status.is_final() {
            continue;
        }
        if let ExecutionSpec::Workflow(_) = exec.spec {
            // The child run carries on here; its end ends this step's run, wherever.
            if let Some(child) = sql::run_of_parent_execution(w, &exec_id)? {
                if !sql::find_run(w, &child)?.status.is_final() {
                    adopt_in(w, &child, from)?;
                }
            }
            continue;
        }
        interrupt(w, &exec, from, &me)?;
    }
    Ok(())
}

fn interrupt(w: &mut Writer<'_>, exec: &Execution, from: &str, me: &str) -> Result<()> {
    let new = Execution {
        status: ExecutionStatus::Interrupted,
        finished_at: Some(w.now()),
        error: Some(format!(
            "its device {from} stopped answering; the run was adopted by device {me}"
        )),
        ..exec.clone()
    };
    let seq = executions::next_event_seq(w, &exec.id)?;
    crate::runs::runner::end_in(w, exec, &new, seq)
}

/// What a person should know about who runs live run `run`, if anything: that its device
/// stopped answering (and how to adopt it), or that this device holds it until a sync.
pub fn note(store: &Store, run: &WorkflowRun) -> Result<Option<String>> {
    if run.status.is_final() {
        return Ok(None);
    }
    let me = store.device_id();
    let now = crate::clock::now();
    store.read(|c| {
        let owner = run.device_id.as_deref().unwrap_or_default();
        if owner == me {
            return Ok(held_in(c, me, now)?.then(|| {
                format!(
                    "held: this device was away longer than its workflow lease and has not \
                     synced since, so it runs nothing of this run until a sync says whether \
                     another device adopted it (`flightdeck workflow adopt {}` here keeps it)",
                    run.id
                )
            }));
        }
        let Some(beat) = lapsed_owner(c, run, now)? else {
            return Ok(None);
        };
        Ok(Some(format!(
            "its device {owner} stopped answering {} s ago (its lease lapsed): `flightdeck \
             workflow adopt {}` takes the run over here",
            (now.as_millis() - beat.seen_at.as_millis()) / 1000,
            run.id
        )))
    })
}

/// Whether this device may adopt live run `run` now: its device is another one, whose lease
/// has lapsed.
pub fn adoptable(store: &Store, run: &WorkflowRun) -> Result<bool> {
    if run.status.is_final() || run.device_id.as_deref() == Some(store.device_id()) {
        return Ok(false);
    }
    let now = crate::clock::now();
    Ok(store.read(|c| lapsed_owner(c, run, now))?.is_some())
}

/// The heartbeat of `run`'s device when its lease has lapsed.
fn lapsed_owner(c: &Connection, run: &WorkflowRun, now: Timestamp) -> Result<Option<Heartbeat>> {
    let owner = run.device_id.as_deref().unwrap_or_default();
    Ok(heartbeat(c, owner)?.filter(|beat| now >= beat.lapses_at()))
}
