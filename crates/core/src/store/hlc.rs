//! Last write wins: the cells every local write makes are stamped, as their column versions,
//! with the write's hybrid logical clock, so that cr-sqlite's own rule, "the higher column version wins",
//! means "the later write wins".
//!
//! Why this is safe, read against cr-sqlite 0.16.3 (`rs/core/src/changes_vtab_write.rs` for
//! the merge, `rs/core/src/triggers.rs` and `local_writes` for the write path):
//!
//! - The merge decides a column by causal length first (the row's sentinel clock, column
//!   `-1`), then the higher `col_version`, then the larger value, and a winning cell's
//!   version is copied as it is. A stock build's local-write triggers set `col_version` to
//!   the cell's old version + 1 (1 for a new clock row). Flightdeck builds cr-sqlite with a
//!   patch (`scripts/patches/crsqlite-0.16.3-local-clock.patch`): `crsql_set_local_clock(v)`
//!   sets a clock for the transaction in progress (cleared at its commit or rollback, so
//!   no other transaction inherits it), and the one statement that writes a non-sentinel
//!   column's clock row on a local write sets `max(old + 1, v)` instead (`old + 1` when no
//!   clock is set). The write path sets its clock as each write transaction begins
//!   ([`super::Store::set_local_clock`]), so each cell carries its write's clock from the
//!   moment it is written, for no more than one statement a transaction. On a stock build
//!   the write path stamps a small write's cells itself, in the same transaction, or notes
//!   the transaction's clock in `hlc_pending` (below), and before anything compares or sends
//!   versions (a merge, a push, a read of changes; and every [`STAMP_EVERY_WRITES`] writes,
//!   so the list stays short on a device that never syncs) each such version becomes
//!   `max(old + 1, hlc)`. Either way every version is `max(old + 1, hlc)`: still above every version the
//!   cell had, whoever wrote it, so a write made after seeing another always wins, whatever
//!   the clocks say; and between two writes that did not see each other, the later clock
//!   wins. Two devices' writes in the same millisecond with the same counter are ordered by
//!   the site tag in the lowest bits (the first byte of the site id: cr-sqlite 0.16 has no
//!   site id in its rule, so the clock carries it); only a tie of that too falls to the
//!   larger value, as cr-sqlite and the server decide it, the same everywhere.
//! - Sentinel clocks (causal lengths: deletes and resurrections) are never touched; nor are
//!   `db_version` and `seq`, so `crsql_changes`, push cursors and the order of a push are
//!   what they were.
//! - `crsql_changes` and [`super::local_changes`] read `col_version` from the clock tables,
//!   so a push carries the clock; the server's merge (`sync-server/src/merge.rs`, the same
//!   rule, `bigint` versions) and a pulling device's `fresh_rows` fast path copy it
//!   unchanged. A plain cr-sqlite peer merging our changes decides the same way.
//! - Versions written before this (small integers) are below every clock value (a clock is
//!   about 2^57 today): after the upgrade nothing is rewritten, and the first new write of
//!   a cell wins against any older one, which is what the order of writes says anyway. A
//!   device still on the old build keeps counting: its next write of a cell is the version it
//!   last saw + 1, which beats what it saw (causality still holds) and loses to later clock
//!   writes from new builds; every device applies the same rule to the same versions, so
//!   old and new builds converge on one value.
//!
//! The patch changes no merge, no sentinel and no `crsql_changes` read: a peer with a stock
//! build merges our versions by the same rule, and cells written with and without it order
//! the same way. A database moves between builds as it is.
//!
//! On a stock build, when a write's cells get their clock, by what the write costs
//! (BENCHMARKS.md, "Last write wins"):
//!
//! - A small write (up to [`STAMP_IN_WRITE_CHANGES`] changed rows, cr-sqlite's clock rows
//!   included: one entity and its audit row) alone in its millisecond stamps its own cells
//!   before it commits: its clock rows are pages its commit writes anyway.
//! - A larger write, or the second one of a store in one millisecond, notes its clock in
//!   `hlc_pending`: one small row, one more page, instead of a second write of every clock
//!   row (re-writing them all measured 1.07 to 1.19x the write path without clocks).
//! - Later writes of that store in the same millisecond share the note and write nothing.
//!
//! Noted cells are stamped when something next compares or sends them. Several processes
//! share a database (the app, the daemon, the CLI, an MCP server): the notes are in the
//! database, so whichever of them merges or pushes stamps the cells any of them wrote.
//!
//! A clock value is milliseconds since the Unix epoch shifted left by [`LOGICAL_BITS`], plus
//! a counter (8 bits) and the site tag (8 bits). A store's clock never issues a value below
//! the last one it issued or saw, so its own writes are ordered even if the wall clock steps
//! back. A write sharing a note takes the newest note at or below its db_version plus a
//! counter step per db_version above it: the note's millisecond, which may be another
//! process's note. Writes of different cells within one millisecond are then not ordered
//! among themselves, which last write wins never asks (it compares versions of one cell),
//! and each cell's version still rises with every write of it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};

use rusqlite::Connection;

use super::changes::{ChangeRow, SENTINEL};
use crate::error::Result;

mod stamp;

pub(crate) use stamp::{
    has_clock_notes, has_local_clock, note_pending, restamp_ahead, stamp_pending, stamp_write,
    take, watch, Touched, STAMP_EVERY_WRITES, STAMP_IN_WRITE_CHANGES,
};

/// Bits of a clock value below the milliseconds: the counter within one millisecond, then
/// the site tag ([`TAG_BITS`]).
pub(crate) const LOGICAL_BITS: u32 = flightdeck_types::sync::CLOCK_LOGICAL_BITS;

/// The lowest bits of a clock value: the first byte of the writing device's site id, so that
/// two devices' writes in the same millisecond with the same counter are ordered by site
/// (the textbook HLC tie break, which cr-sqlite's rule lacks), and only a tie of that too
/// falls to the value.
const TAG_BITS: u32 = 8;

/// How far ahead of this device's wall clock another device's clock may be before it is
/// held back (the max offset of distributed databases' clocks).
pub(crate) const MAX_OFFSET_MS: i64 = flightdeck_types::sync::DEFAULT_MAX_CLOCK_OFFSET_MS;

/// This store's hybrid logical clock.
#[derive(Debug, Default)]
pub(crate) struct Hlc {
    /// The greatest value issued or seen.
    last: AtomicI64,
    /// Added to the wall clock (tests: a device whose clock is off).
    skew_ms: AtomicI64,
    /// Taken from the wall clock: how far this device's clock is ahead of the sync server's,
    /// once that is more than [`MAX_OFFSET_MS`] (else 0). See `sync::clock`.
    correction_ms: AtomicI64,
    /// Set to leave writes unstamped: only the write-path benchmark's "before" variant.
    off: std::sync::atomic::AtomicBool,
    /// This device's site tag ([`TAG_BITS`]).
    tag: AtomicI64,
    /// The clock of this store's last committed note in `hlc_pending` (0: none yet)
    /// and the wall-clock millisecond it was taken in: see [`Hlc::shares_note`].
    noted: AtomicI64,
    noted_wall: AtomicI64,
    /// The wall-clock millisecond of this store's last write to a CRR.
    last_write_wall: AtomicI64,
}

impl Hlc {
    /// Wall-clock milliseconds as this device reads them (no correction).
    pub(crate) fn raw_millis(&self) -> i64 {
        crate::clock::now_millis() + self.skew_ms.load(Ordering::Relaxed)
    }

    /// Wall-clock milliseconds, corrected to the sync server's when this device's clock is
    /// known to be off by more than [`MAX_OFFSET_MS`].
    pub(crate) fn physical_millis(&self) -> i64 {
        self.raw_millis() - self.correction_ms.load(Ordering::Relaxed)
    }

    /// Sets the correction from `offset_ms`, how far this device's clock is ahead of the
    /// server's (negative: behind): applied only beyond [`MAX_OFFSET_MS`]. Returns whether
    /// a correction is now applied.
    pub(crate) fn set_offset(&self, offset_ms: i64) -> bool {
        let correction = if offset_ms.abs() > MAX_OFFSET_MS {
            offset_ms
        } else {
            0
        };
        self.correction_ms.store(correction, Ordering::Relaxed);
        if correction != 0 {
            // Values issued while the clock ran ahead are not a floor for what comes next:
            // the cells that carry them are stamped anew before they are pushed.
            self.last
                .fetch_min(self.physical_millis() << LOGICAL_BITS, Ordering::Relaxed);
        }
        correction != 0
    }

    pub(crate) fn corrected(&self) -> bool {
        self.correction_ms.load(Ordering::Relaxed) != 0
    }

    /// The greatest version a cell written now may carry: [`MAX_OFFSET_MS`] past this
    /// device's (corrected) clock, the bound the server holds pushes to.
    pub(crate) fn ahead_limit(&self) -> i64 {
        ((self.physical_millis() + MAX_OFFSET_MS + 1) << LOGICAL_BITS) - 1
    }

    /// Sets the site tag: the first byte of this device's site id.
    pub(crate) fn set_site(&self, site_id: &[u8]) {
        let tag = site_id.first().copied().unwrap_or(0);
        self.tag.store(i64::from(tag), Ordering::Relaxed);
    }

    /// A new value: above every value issued or seen, and at least the wall clock; its
    /// lowest bits are this device's site tag.
    pub(crate) fn next(&self) -> i64 {
        let physical = self.physical_millis() << (LOGICAL_BITS - TAG_BITS);
        let tag = self.tag.load(Ordering::Relaxed);
        let mut last = self.last.load(Ordering::Relaxed);
        loop {
            let slot = physical.max((last >> TAG_BITS) + 1);
            let next = (slot << TAG_BITS) | tag;
            match self
                .last
                .compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(actual) => last = actual,
            }
        }
    }

    /// Moves the clock up to the newest column version among `changes`, which this store
    /// merged, but never beyond [`MAX_OFFSET_MS`] ahead of its own wall clock: a device whose
    /// clock runs ahead does not drag every later write of this one ahead with it. (Its
    /// cells keep their versions; a write here after seeing one still beats it, by the
    /// cell's own old version + 1.)
    pub(crate) fn observe(&self, changes: &[ChangeRow]) {
        let newest = changes
            .iter()
            .filter(|c| c.cid != SENTINEL)
            .map(|c| c.col_version)
            .max();
        if let Some(newest) = newest {
            let bound = (self.physical_millis() + MAX_OFFSET_MS + 1) << LOGICAL_BITS;
            self.last
                .fetch_max(newest.min(bound - 1), Ordering::Relaxed);
        }
    }

    /// Whether a write whose clock is `value`, taken when the wall clock read `wall_ms`, can
    /// go without a note of its own: this store noted a committed write in the same
    /// millisecond. Its cells are then stamped from the newest note at or below their
    /// db_version, a counter step per db_version above it ([`stamp_pending`]): the clock of
    /// a write in that millisecond, as a hybrid clock reads one.
    pub(crate) fn shares_note(&self, value: i64, wall_ms: i64) -> bool {
        self.noted_wall.load(Ordering::Relaxed) == wall_ms
            && self.noted.load(Ordering::Relaxed) >> LOGICAL_BITS == value >> LOGICAL_BITS
    }

    /// Notes that a write happened at `wall_ms`; returns whether this store wrote in that
    /// same millisecond before (so more writes may follow in it).
    pub(crate) fn wrote_at(&self, wall_ms: i64) -> bool {
        self.last_write_wall.swap(wall_ms, Ordering::Relaxed) == wall_ms
    }

    /// Remembers a note of `value`, taken at `wall_ms`, once its transaction committed.
    pub(crate) fn set_noted(&self, value: i64, wall_ms: i64) {
        self.noted.store(value, Ordering::Relaxed);
        self.noted_wall.store(wall_ms, Ordering::Relaxed);
    }

    pub(crate) fn stamps(&self) -> bool {
        !self.off.load(Ordering::Relaxed)
    }

    pub(crate) fn set_stamps(&self, on: bool) {
        self.off.store(!on, Ordering::Relaxed);
    }

    pub(crate) fn set_skew(&self, skew_ms: i64) {
        self.skew_ms.store(skew_ms, Ordering::Relaxed);
    }
}

/// The sync state key of how far this device's clock was last found ahead of the server's
/// (milliseconds; negative: behind).
pub(crate) const CLOCK_OFFSET_KEY: &str = "clock.offset_ms";

impl super::Store {
    /// Notes the server's clock, `server_ms`, read from a response received when this device's
    /// wall clock read `received_ms`: how far this device's clock is off. Beyond the bound
    /// ([`MAX_OFFSET_MS`]) its writes are stamped with the server's time from then on (also
    /// after a restart: the offset is kept in the sync state when it moves). Returns the
    /// offset.
    pub fn note_server_time(&self, server_ms: i64, received_ms: i64) -> Result<i64> {
        let offset = received_ms + self.clock_skew_ms() - server_ms;
        self.hlc.set_offset(offset);
        let stored = self.clock_offset()?;
        if stored.is_none_or(|s| (s - offset).abs() > 1000) {
            self.set_sync_state(&[(CLOCK_OFFSET_KEY, &offset.to_string())])?;
        }
        Ok(offset)
    }

    /// How far this device's clock was last found ahead of the sync server's, if ever.
    pub fn clock_offset(&self) -> Result<Option<i64>> {
        Ok(self
            .sync_state(CLOCK_OFFSET_KEY)?
            .and_then(|v| v.parse().ok()))
    }

    /// How far this store's clock is set off the wall clock (0 but in tests: see
    /// [`super::Store::skew_clock_for_tests`]).
    #[doc(hidden)]
    pub fn clock_skew_ms(&self) -> i64 {
        self.hlc.skew_ms.load(Ordering::Relaxed)
    }

    /// Whether this device stamps its writes with the server's time (its own clock is off).
    pub fn clock_corrected(&self) -> bool {
        self.hlc.corrected()
    }

    /// Re-stamps this device's cells not yet pushed (after `after_db_version`) whose versions
    /// are further ahead than the bound allows, with the clock as it reads now: what a device
    /// does before pushing once it knows its clock ran ahead. Returns how many it changed.
    pub fn restamp_clocks_ahead(&self, after_db_version: i64) -> Result<usize> {
        let mut conn = self.lock();
        let tables: Vec<String> = super::changes::crr_tables(&conn)?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        stamp_pending(&tx)?;
        let changed = restamp_ahead(
            &tx,
            &tables,
            after_db_version,
            self.hlc.ahead_limit(),
            self.hlc.next(),
        )?;
        tx.commit()?;
        Ok(changed)
    }

    /// Gives the write transaction just begun on `tx` this store's next clock value as the
    /// column version of every cell it writes (cr-sqlite's own statement sets
    /// `max(old + 1, clock)`), where the loaded cr-sqlite can (`local_clock`) and stamps are
    /// on. The clock is cleared at the transaction's commit or rollback. Returns whether it
    /// was set: if not, [`Self::note_write_clock`] gives the write its clock before commit.
    pub(crate) fn set_local_clock(&self, tx: &Connection, local_clock: bool) -> Result<bool> {
        if !local_clock || !self.hlc.stamps() {
            return Ok(false);
        }
        tx.prepare_cached("SELECT crsql_set_local_clock(?1)")?
            .query_row([self.hlc.next()], |_| Ok(()))?;
        Ok(true)
    }

    /// Gives the write transaction in progress on `tx`, which changed `changes` rows of
    /// `tables`, its clock when any of them is a CRR, in one of the three ways the module
    /// comment lists: its cells stamped here ([`stamp_write`]), its clock noted for
    /// [`stamp_pending`], or a share of this store's note of the same millisecond
    /// ([`Hlc::shares_note`]). Returns the note written, for [`Hlc::set_noted`] once the
    /// transaction commits (a note rolled back is no note).
    pub(crate) fn note_write_clock(
        &self,
        tx: &Connection,
        tables: &HashSet<String>,
        changes: u64,
    ) -> Result<Option<(i64, i64)>> {
        if tables.is_empty() || !self.hlc.stamps() {
            return Ok(None);
        }
        let (crrs, unknown_crr) = self.crrs_among(tx, tables)?;
        if crrs.is_empty() && !unknown_crr {
            return Ok(None);
        }
        let wall = self.hlc.physical_millis();
        let value = self.hlc.next();
        let busy = self.hlc.wrote_at(wall);
        // A small write alone in its millisecond stamps its own cells; a large one, or one
        // that more may follow in the same millisecond, notes its clock for them to share (so
        // does one that wrote a CRR made since the store opened).
        let alone = changes <= STAMP_IN_WRITE_CHANGES && !busy && !unknown_crr;
        let noted = if self.hlc.shares_note(value, wall) {
            None
        } else if alone {
            stamp_write(tx, &crrs, value)?;
            None
        } else {
            note_pending(tx, value)?;
            Some((value, wall))
        };
        // A device that never syncs never stamps: every so many writes, stamp what is pending
        // so the list stays short (the cost per cell is the same, batched).
        let writes = self.write_count();
        if writes % STAMP_EVERY_WRITES == STAMP_EVERY_WRITES - 1 {
            stamp_pending(tx)?;
        }
        Ok(noted)
    }

    /// Runs `f` on the database with every local cell stamped with its write's clock (see
    /// [`stamp_pending`]): the stamp and `f` share one write transaction, so no write of this
    /// or another process can slip a cell with a counted version in between (a push that
    /// read one would send a version the cell then loses to its own stamp). For reads of
    /// versions that leave the device: a push, `changes_since`.
    pub(crate) fn read_stamped<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        stamp_pending(&tx)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(site: u8) -> Hlc {
        let hlc = Hlc::default();
        hlc.set_site(&[site, 0xaa]);
        hlc
    }

    #[test]
    fn values_rise_carry_the_site_tag_and_read_as_the_wall_clock() {
        let hlc = clock(0x5c);
        let before = crate::clock::now_millis();
        let values: Vec<i64> = (0..10_000).map(|_| hlc.next()).collect();
        let after = crate::clock::now_millis();
        assert!(values.windows(2).all(|w| w[0] < w[1]), "strictly rising");
        assert!(values.iter().all(|v| v & 0xff == 0x5c), "the site tag");
        let first = values[0] >> LOGICAL_BITS;
        let last = values[values.len() - 1] >> LOGICAL_BITS;
        // 256 values a millisecond before the counter borrows from the next one.
        assert!(
            first >= before && last <= after + 10_000 / 256 + 1,
            "{first} {last}"
        );
    }

    #[test]
    fn a_tie_of_millisecond_and_counter_is_ordered_by_site() {
        let (low, high) = (clock(0x01), clock(0xf0));
        // Both have seen the same value, ahead of their wall clocks: the next slot is the same.
        let seen = (crate::clock::now_millis() + 60_000) << LOGICAL_BITS;
        low.last.store(seen, Ordering::Relaxed);
        high.last.store(seen, Ordering::Relaxed);
        let (a, b) = (low.next(), high.next());
        assert_eq!(a >> TAG_BITS, b >> TAG_BITS, "same millisecond and counter");
        assert!(b > a, "the higher site wins the tie");
    }

    #[test]
    fn a_merged_clock_moves_this_one_but_at_most_the_bound_ahead() {
        let hlc = clock(7);
        let cell = |col_version| ChangeRow {
            table: "tasks".into(),
            pk: vec![1],
            cid: "title".into(),
            val: rusqlite::types::Value::Null,
            col_version,
            db_version: 1,
            site_id: vec![2],
            cl: 1,
            seq: 0,
        };
        let now = crate::clock::now_millis();
        let near = (now + 60_000) << LOGICAL_BITS;
        hlc.observe(&[cell(near)]);
        assert!(hlc.next() > near, "a write after seeing it is later");
        let far = (now + 3_600_000) << LOGICAL_BITS;
        hlc.observe(&[cell(far)]);
        let next = hlc.next() >> LOGICAL_BITS;
        assert!(
            next <= crate::clock::now_millis() + MAX_OFFSET_MS + 1,
            "{next}"
        );
    }

    #[test]
    fn a_clock_found_an_hour_ahead_reads_the_servers_time() {
        let hlc = clock(9);
        hlc.set_skew(3_600_000);
        let ahead = hlc.next() >> LOGICAL_BITS;
        assert!(ahead >= crate::clock::now_millis() + 3_599_000);
        assert!(hlc.set_offset(3_600_000), "beyond the bound: corrected");
        let corrected = hlc.next() >> LOGICAL_BITS;
        assert!(
            (corrected - crate::clock::now_millis()).abs() < 1_000,
            "{corrected}"
        );
        assert!(!hlc.set_offset(60_000), "within the bound: no correction");
    }
}
