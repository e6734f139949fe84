//! The one write path. Every local change runs inside [`Store::write`], which opens an
//! IMMEDIATE transaction, runs the caller's closure, appends the audit rows the closure
//! recorded, commits, and only then tells subscribers. cr-sqlite captures the change itself
//! (its triggers fill `crsql_changes`) inside the same transaction.

use std::collections::BTreeMap;
use std::ops::Deref;

use flightdeck_types::{AuditAction, EntityKind, FieldChange, Timestamp};
use rusqlite::types::Value;
use rusqlite::{params, Transaction, TransactionBehavior};

use super::Store;
use crate::error::Result;

/// A committed change, as subscribers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The table that changed.
    pub table: &'static str,
    pub id: String,
    pub action: AuditAction,
}

struct PendingAudit {
    entity: EntityKind,
    entity_id: String,
    action: AuditAction,
    changes: BTreeMap<String, FieldChange>,
}

/// The transaction handed to a write closure. Derefs to the rusqlite transaction for SQL.
pub struct Writer<'a> {
    tx: Transaction<'a>,
    device_id: &'a str,
    now: Timestamp,
    audit: Vec<PendingAudit>,
    changes: Vec<Change>,
    /// Whether this store can stage history (`staged`), and whether this write does.
    can_stage: bool,
    staging: bool,
}

impl<'a> Writer<'a> {
    /// The time this write is stamped with (one value for the whole transaction).
    pub fn now(&self) -> Timestamp {
        self.now
    }

    pub fn device_id(&self) -> &str {
        self.device_id
    }

    /// Records an audited change to an entity: an `audit_log` row is written at commit and
    /// subscribers are told after it.
    pub fn audit(
        &mut self,
        entity: EntityKind,
        entity_id: &str,
        action: AuditAction,
        changes: BTreeMap<String, FieldChange>,
    ) {
        self.changes.push(Change {
            table: entity_table(entity),
            id: entity_id.to_string(),
            action,
        });
        self.audit.push(PendingAudit {
            entity,
            entity_id: entity_id.to_string(),
            action,
            changes,
        });
    }

    /// Puts the history this write records from now on (events, audit rows, snapshots) into
    /// the staging tables, for the store's next write to move into the synced ones (see
    /// `store/staged.rs`). For a write after which this process writes again at once: the
    /// end of a step that claimed the next one. [`Writer::flush_staged`] undoes it.
    pub fn stage_history(&mut self) {
        self.staging = self.can_stage;
    }

    /// Moves what this write staged into the synced tables now, and stages nothing more.
    pub fn flush_staged(&mut self) -> Result<()> {
        if self.staging {
            self.flush_audit()?;
            super::staged::flush(&self.tx)?;
            self.staging = false;
        }
        Ok(())
    }

    /// Whether this write's history goes to the staging tables.
    pub(crate) fn staging(&self) -> bool {
        self.staging
    }

    /// Records a change that is not audited (e.g. a run's event), for subscribers only.
    pub fn touched(&mut self, table: &'static str, id: &str, action: AuditAction) {
        self.changes.push(Change {
            table,
            id: id.to_string(),
            action,
        });
    }

    /// Writes the changed fields of one entity row, plus `updated_at`, and audits them. Only
    /// changed columns are written, so that concurrent edits of other columns on other devices
    /// survive the merge. Field names are column names; `value_of` gives each new value.
    pub fn update_changed(
        &mut self,
        entity: EntityKind,
        id: &str,
        action: AuditAction,
        changes: BTreeMap<String, FieldChange>,
        value_of: impl Fn(&str) -> Value,
    ) -> Result<()> {
        let mut sets: Vec<String> = Vec::with_capacity(changes.len() + 1);
        let mut values: Vec<Value> = Vec::with_capacity(changes.len() + 2);
        for field in changes.keys() {
            sets.push(format!("{field} = ?"));
            values.push(value_of(field));
        }
        sets.push("updated_at = ?".into());
        values.push(self.now.as_millis().into());
        values.push(id.to_string().into());
        // Cached: one call site writes the same columns each time (a run's end, a claim).
        self.tx
            .prepare_cached(&format!(
                "UPDATE {} SET {} WHERE id = ?",
                entity_table(entity),
                sets.join(", ")
            ))?
            .execute(rusqlite::params_from_iter(values))?;
        self.audit(entity, id, action, changes);
        Ok(())
    }

    fn flush_audit(&mut self) -> Result<()> {
        if self.audit.is_empty() {
            return Ok(());
        }
        let mut insert = self
            .tx
            .prepare_cached(&super::staged::insert_sql("audit_log", self.staging))?;
        for entry in self.audit.drain(..) {
            let changes =
                serde_json::to_string(&entry.changes).expect("JSON values always serialize");
            insert.execute(params![
                crate::ids::new_id(),
                entry.entity.as_str(),
                entry.entity_id,
                entry.action.as_str(),
                changes,
                self.device_id,
                self.now.as_millis(),
            ])?;
        }
        Ok(())
    }
}

impl<'a> Deref for Writer<'a> {
    type Target = Transaction<'a>;
    fn deref(&self) -> &Transaction<'a> {
        &self.tx
    }
}

pub(crate) fn entity_table(entity: EntityKind) -> &'static str {
    match entity {
        EntityKind::Task => "tasks",
        EntityKind::Environment => "environments",
        EntityKind::Execution => "executions",
        EntityKind::Schedule => "schedules",
        EntityKind::ErrorRecord => "error_records",
    }
}

impl Store {
    /// Runs `f` in one transaction: all of it commits, with its audit rows, or none of it.
    pub fn write<T>(&self, f: impl FnOnce(&mut Writer<'_>) -> Result<T>) -> Result<T> {
        let started = crate::telemetry::enabled().then(std::time::SystemTime::now);
        let outcome = self.write_inner(f);
        if let Some(started) = started {
            crate::telemetry::store_write(
                started,
                outcome.as_ref().map(|(_, changes)| changes.len()),
            );
        }
        let (value, changes) = outcome?;
        // Subscribers hear of a change only once it is durable, and never under the lock.
        self.notify(changes);
        Ok(value)
    }

    /// The transaction itself: the value and the changes it made, once committed.
    fn write_inner<T>(
        &self,
        f: impl FnOnce(&mut Writer<'_>) -> Result<T>,
    ) -> Result<(T, Vec<Change>)> {
        Ok({
            let mut conn = self.lock();
            let touched = conn.touched();
            let local_clock = conn.local_clock();
            // Forget what merges and other transactions wrote before this one.
            super::hlc::take(&touched);
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let clocked = self.set_local_clock(&tx, local_clock)?;
            let changes_before = tx.total_changes();
            // What an earlier write staged moves first, under this write's clock (the flag is
            // only cleared once this write commits).
            let staged_before = self.staged.load(std::sync::atomic::Ordering::Acquire);
            if staged_before {
                super::staged::flush(&tx)?;
            }
            let mut writer = Writer {
                tx,
                device_id: &self.device_id,
                now: crate::clock::now(),
                audit: Vec::new(),
                changes: Vec::new(),
                can_stage: self.can_stage,
                staging: false,
            };
            let value = f(&mut writer)?;
            writer.flush_audit()?;
            let staged_now = writer.staging;
            let Writer { tx, changes, .. } = writer;
            let changed = tx.total_changes() - changes_before;
            let noted = if clocked {
                None
            } else {
                self.note_write_clock(&tx, &super::hlc::take(&touched), changed)?
            };
            tx.commit()?;
            if staged_before != staged_now {
                self.staged
                    .store(staged_now, std::sync::atomic::Ordering::Release);
            }
            if let Some((clock, wall_ms)) = noted {
                self.hlc.set_noted(clock, wall_ms);
            }
            self.writes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.writeback.committed();
            (value, changes)
        })
    }
}
