//! The SQL side of sync: reading this device's unpushed changes by whole transactions,
//! merging pulled changes with the conflict check and the cursor in one transaction, the
//! sync key/value state, and the conflict log.

use std::collections::{BTreeSet, HashMap};

use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::changes::{crr_tables, quoted, ChangeRow};
use super::Store;
use crate::error::{CoreError, Result};

/// A remote change that overwrote a local value the server had not acknowledged.
#[derive(Debug, Clone, PartialEq)]
pub struct ConflictRow {
    pub id: i64,
    pub table: String,
    pub pk: Vec<u8>,
    pub column: String,
    pub local_value: Value,
    pub remote_value: Value,
    pub remote_site_id: Vec<u8>,
    pub detected_at: i64,
    pub restored_at: Option<i64>,
}

type CellKey = (String, Vec<u8>, String);

/// Whether any cell of this device changed after `db_version`: the same answer as asking
/// `crsql_changes` for `site_id = crsql_site_id()`, in microseconds instead of about 1 ms (the
/// virtual table prepares a query over every clock table each time). It reads cr-sqlite's
/// clock tables (`<table>__crsql_clock`, indexed by `db_version`), where 0.16 records this
/// device's cells with site ordinal 0 (test `local_change_checks_agree_with_crsql_changes`).
fn local_change_after(conn: &Connection, db_version: i64) -> Result<bool> {
    let names = crr_tables(conn)?;
    if names.is_empty() {
        return Ok(false);
    }
    let any = names
        .iter()
        .map(|t| {
            format!(
                "EXISTS (SELECT 1 FROM {} WHERE db_version > ?1 AND site_id = 0)",
                quoted(&format!("{t}__crsql_clock"))
            )
        })
        .collect::<Vec<_>>()
        .join(" OR ");
    Ok(conn
        .prepare_cached(&format!("SELECT {any}"))?
        .query_row([db_version], |r| r.get(0))?)
}

/// This device's cells of `rows` changed after `acked` (not yet acknowledged by the server),
/// by key. Only the rows a page touches can lose a local value to it, so a device with many
/// changes still to push does not read them all for every page it pulls.
fn unacknowledged(
    conn: &Connection,
    acked: i64,
    rows: &BTreeSet<(&str, &[u8])>,
) -> Result<HashMap<CellKey, Value>> {
    Ok(
        super::local_changes::after_among(conn, acked, rows.iter().copied())?
            .into_iter()
            .map(|c| ((c.table, c.pk, c.cid), c.val))
            .collect(),
    )
}

pub(crate) fn get_state(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT value FROM sync_state WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?)
}

pub(crate) fn set_state(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO sync_state (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

impl Store {
    /// This device's own changes after `db_version`, whole transactions only: at least one
    /// transaction, then more while the total stays under `max_cells`.
    /// Their versions are the clocks of their writes (stamped first, see `hlc`).
    pub fn local_changes_after(&self, db_version: i64, max_cells: usize) -> Result<Vec<ChangeRow>> {
        self.read_stamped(|conn| super::local_changes::after(conn, db_version, max_cells))
    }

    /// Whether this device has changes after `db_version` (cheap: no `crsql_changes` query).
    pub fn has_local_changes_after(&self, db_version: i64) -> Result<bool> {
        self.read(|conn| local_change_after(conn, db_version))
    }

    /// Reads one sync state value.
    pub fn sync_state(&self, key: &str) -> Result<Option<String>> {
        self.read(|conn| get_state(conn, key))
    }

    /// Writes sync state values, all in one transaction.
    pub fn set_sync_state(&self, values: &[(&str, &str)]) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (key, value) in values {
            set_state(&tx, key, value)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Removes sync state values, all in one transaction (absent ones are no error).
    pub fn clear_sync_state(&self, keys: &[&str]) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for key in keys {
            tx.execute("DELETE FROM sync_state WHERE key = ?1", [key])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Merges a page of remote changes and records `cursor` under `cursor_key`, in one
    /// transaction: a crash loses nothing and repeats nothing. Local values that the server had
    /// not acknowledged (`acked` is the push cursor) and that the merge overwrote go to the
    /// conflict log, which is returned.
    ///
    /// When nothing local is unacknowledged, the acknowledged version (under `acked_key`) moves
    /// up to the database version the apply starts from: no local change is skipped (the write
    /// lock is held), and the next page's conflict check scans only what changed since, not
    /// every merged row again (which made a bootstrap quadratic).
    ///
    /// With `from`, the page applies only onto that cursor: when the value stored under
    /// `cursor_key` is another (absent counts as `0`), nothing is written and the answer is
    /// `None`.
    pub fn apply_remote(
        &self,
        changes: &[ChangeRow],
        (acked_key, acked): (&str, i64),
        cursor_key: &str,
        (from, cursor): (Option<&str>, &str),
    ) -> Result<Option<Vec<ConflictRow>>> {
        let now = crate::clock::now_millis();
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(from) = from {
            if get_state(&tx, cursor_key)?.as_deref().unwrap_or("0") != from {
                return Ok(None);
            }
        }
        // Local cells must carry their clocks before the merge compares them.
        super::hlc::stamp_pending(&tx)?;
        let pending = local_change_after(&tx, acked)?;
        let rows: BTreeSet<(&str, &[u8])> = changes
            .iter()
            .map(|c| (c.table.as_str(), c.pk.as_slice()))
            .collect();
        let before = if pending {
            unacknowledged(&tx, acked, &rows)?
        } else {
            let start: i64 = tx.query_row("SELECT crsql_db_version()", [], |r| r.get(0))?;
            if start > acked {
                set_state(&tx, acked_key, &start.to_string())?;
            }
            HashMap::new()
        };
        let changes = &*self.hold_unknown(&tx, changes, now)?;
        super::changes::insert_changes(&tx, changes)?;
        self.hlc.observe(changes);
        let mut conflicts = Vec::new();
        if !before.is_empty() {
            let after = unacknowledged(&tx, acked, &rows)?;
            let incoming: HashMap<(&str, &[u8]), &ChangeRow> = changes
                .iter()
                .map(|c| ((c.table.as_str(), c.pk.as_slice()), c))
                .collect();
            let mut lost: Vec<(&CellKey, &Value)> = before
                .iter()
                .filter(|(k, _)| !after.contains_key(*k))
                .collect();
            lost.sort_by(|a, b| a.0.cmp(b.0));
            for ((table, pk, column), local) in lost {
                // The winning remote cell for that column, or the row's delete.
                let winner = changes
                    .iter()
                    .rev()
                    .find(|c| &c.table == table && &c.pk == pk && &c.cid == column)
                    .or_else(|| incoming.get(&(table.as_str(), pk.as_slice())).copied());
                let (remote_value, remote_site) = match winner {
                    Some(c) if &c.cid == column => (c.val.clone(), c.site_id.clone()),
                    Some(c) => (Value::Null, c.site_id.clone()),
                    None => (Value::Null, Vec::new()),
                };
                tx.execute(
                    "INSERT INTO conflict_log (table_name, pk, column_name, local_value,
                         remote_value, remote_site_id, detected_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![table, pk, column, local, remote_value, remote_site, now],
                )?;
                conflicts.push(ConflictRow {
                    id: tx.last_insert_rowid(),
                    table: table.clone(),
                    pk: pk.clone(),
                    column: column.clone(),
                    local_value: local.clone(),
                    remote_value,
                    remote_site_id: remote_site,
                    detected_at: now,
                    restored_at: None,
                });
            }
        }
        set_state(&tx, cursor_key, cursor)?;
        tx.commit()?;
        Ok(Some(conflicts))
    }

    /// The conflict log, newest first.
    pub fn conflicts(&self) -> Result<Vec<ConflictRow>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, table_name, pk, column_name, local_value, remote_value,
                        remote_site_id, detected_at, restored_at
                 FROM conflict_log ORDER BY id DESC",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(ConflictRow {
                    id: r.get(0)?,
                    table: r.get(1)?,
                    pk: r.get(2)?,
                    column: r.get(3)?,
                    local_value: r.get(4)?,
                    remote_value: r.get(5)?,
                    remote_site_id: r.get::<_, Option<Vec<u8>>>(6)?.unwrap_or_default(),
                    detected_at: r.get(7)?,
                    restored_at: r.get(8)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Writes a conflict's local value back as a new local change (which then wins, being
    /// later than the remote one it saw) and marks the conflict restored.
    pub fn restore_conflict(&self, id: i64) -> Result<ConflictRow> {
        let conflict = self
            .conflicts()?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| CoreError::NotFound {
                kind: "conflict",
                key: id.to_string(),
            })?;
        if conflict.restored_at.is_some() {
            return Err(CoreError::Refused(format!(
                "conflict {id} was already restored"
            )));
        }
        self.write(|w| {
            let pk_columns: Vec<String> = w
                .prepare("SELECT name FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk")?
                .query_map([&conflict.table], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let pk_values: Vec<Value> = w
                .prepare("SELECT cell FROM crsql_unpack_columns WHERE package = ?1")?
                .query_map([&conflict.pk], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            if pk_columns.is_empty() || pk_columns.len() != pk_values.len() {
                return Err(CoreError::Corrupt(format!(
                    "conflict {id}: its key does not fit table `{}`",
                    conflict.table
                )));
            }
            let pk_values_first = pk_values.first().cloned();
            let mut values = vec![conflict.local_value.clone()];
            values.extend(pk_values);
            let filter: Vec<String> = pk_columns.iter().map(|c| format!("\"{c}\" = ?")).collect();
            let updated = w.execute(
                &format!(
                    "UPDATE \"{}\" SET \"{}\" = ? WHERE {}",
                    conflict.table,
                    conflict.column,
                    filter.join(" AND ")
                ),
                rusqlite::params_from_iter(values),
            )?;
            if updated == 0 {
                return Err(CoreError::Refused(format!(
                    "conflict {id}: the row was deleted, so there is nothing to restore into"
                )));
            }
            audit_restore(w, &conflict, pk_values_first.as_ref());
            w.execute(
                "UPDATE conflict_log SET restored_at = ?2 WHERE id = ?1",
                params![id, w.now().as_millis()],
            )?;
            Ok(())
        })?;
        Ok(ConflictRow {
            restored_at: Some(crate::clock::now_millis()),
            ..conflict
        })
    }
}

/// Audits a restore when it changed a task or an environment, like any other edit.
fn audit_restore(w: &mut super::Writer<'_>, conflict: &ConflictRow, pk: Option<&Value>) {
    use flightdeck_types::{AuditAction, EntityKind, FieldChange};
    let entity = match conflict.table.as_str() {
        "tasks" => EntityKind::Task,
        "environments" => EntityKind::Environment,
        _ => return,
    };
    let Some(Value::Text(id)) = pk else { return };
    let change = FieldChange {
        old: json_value(&conflict.remote_value),
        new: json_value(&conflict.local_value),
    };
    let changes = std::iter::once((conflict.column.clone(), change)).collect();
    w.audit(entity, id, AuditAction::Update, changes);
}

fn json_value(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Integer(i) => (*i).into(),
        Value::Real(f) => (*f).into(),
        Value::Text(t) => t.clone().into(),
        Value::Blob(b) => hex::encode(b).into(),
    }
}
