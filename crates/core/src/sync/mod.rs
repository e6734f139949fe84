//! The client side of sync, transport aside: what to push (this device's changes by whole
//! transactions after the push cursor), acknowledging a push, and applying a pulled page
//! with its cursor and the conflict check in one local transaction.

pub mod account;
pub mod announcements;
mod backoff;
pub mod client;
pub mod daemon;
mod device_list;
pub mod push_bodies;
pub mod server_loss;
pub mod wire;

pub use device_list::newer_version_notice;

use flightdeck_types::sync::{PullResponse, WireChange};

use crate::error::{CoreError, Result};
use crate::store::{ChangeRow, ConflictRow, Store};

/// The highest local `db_version` the server has acknowledged.
pub const PUSH_CURSOR: &str = "push.acked_db_version";
/// The server sequence number this device has applied up to.
pub const PULL_CURSOR: &str = "pull.seq";

/// A batch of local changes ready to push.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub changes: Vec<WireChange>,
    /// The highest `db_version` in `changes`: the push cursor once the server acknowledges.
    pub last_db_version: i64,
}

fn cursor(store: &Store, key: &str) -> Result<i64> {
    match store.sync_state(key)? {
        None => Ok(0),
        Some(text) => text
            .parse()
            .map_err(|_| CoreError::Corrupt(format!("sync cursor {key} is `{text}`"))),
    }
}

pub fn push_cursor(store: &Store) -> Result<i64> {
    cursor(store, PUSH_CURSOR)
}

pub fn pull_cursor(store: &Store) -> Result<i64> {
    cursor(store, PULL_CURSOR)
}

/// The next batch to push (whole transactions, about `max_cells`), or `None` when the
/// server has everything.
pub fn outgoing(store: &Store, max_cells: usize) -> Result<Option<Outgoing>> {
    outgoing_after(store, push_cursor(store)?, max_cells)
}

/// The batch after local `db_version` (whole transactions, about `max_cells`), or `None`.
pub(crate) fn outgoing_after(
    store: &Store,
    db_version: i64,
    max_cells: usize,
) -> Result<Option<Outgoing>> {
    let changes = store.local_changes_after(db_version, max_cells)?;
    let Some(last) = changes.last() else {
        return Ok(None);
    };
    Ok(Some(Outgoing {
        last_db_version: last.db_version,
        changes: changes.iter().map(wire::to_wire).collect(),
    }))
}

/// Whether this device has changes the server has not acknowledged.
pub fn has_pending(store: &Store) -> Result<bool> {
    store.has_local_changes_after(push_cursor(store)?)
}

/// Records that the server has everything up to `db_version`. Never moves backwards.
pub fn acknowledge(store: &Store, db_version: i64) -> Result<()> {
    if db_version > push_cursor(store)? {
        store.set_sync_state(&[(PUSH_CURSOR, &db_version.to_string())])?;
    }
    Ok(())
}

/// Records a push that the server numbered `seq`, the next after this device's pull cursor:
/// the server then holds nothing this device lacks up to `seq`, so both cursors move together.
pub fn acknowledge_next(store: &Store, db_version: i64, seq: i64) -> Result<()> {
    let push = push_cursor(store)?.max(db_version);
    let pull = pull_cursor(store)?.max(seq);
    store.set_sync_state(&[
        (PUSH_CURSOR, &push.to_string()),
        (PULL_CURSOR, &pull.to_string()),
    ])
}

/// Applies a pulled page and advances the pull cursor to `page.next`, atomically. Returns
/// the conflicts it logged.
pub fn apply_pull(store: &Store, page: &PullResponse) -> Result<Vec<ConflictRow>> {
    let rows = page
        .changes
        .iter()
        .cloned()
        .map(wire::from_wire)
        .collect::<Result<Vec<_>>>()?;
    apply_rows(store, &rows, page.next)
}

/// [`apply_pull`] for a page already decoded from the wire, ending at cursor `next`.
pub(crate) fn apply_rows(store: &Store, rows: &[ChangeRow], next: i64) -> Result<Vec<ConflictRow>> {
    let applied = store.apply_remote(
        rows,
        (PUSH_CURSOR, push_cursor(store)?),
        PULL_CURSOR,
        (None, &next.to_string()),
    )?;
    Ok(applied.unwrap_or_default())
}

/// Applies the page `(after, next]` only if the pull cursor is exactly `after`, moving it to
/// `next`; `None` (and nothing written) when the cursor is elsewhere.
pub(crate) fn apply_rows_onto(
    store: &Store,
    rows: &[ChangeRow],
    after: i64,
    next: i64,
) -> Result<Option<Vec<ConflictRow>>> {
    store.apply_remote(
        rows,
        (PUSH_CURSOR, push_cursor(store)?),
        PULL_CURSOR,
        (Some(&after.to_string()), &next.to_string()),
    )
}
