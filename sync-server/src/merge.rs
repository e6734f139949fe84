//! cr-sqlite 0.16.3's merge rule (`rs/core/src/changes_vtab_write.rs`, `merge_insert`) as a
//! pure function over one row's state, so that the server holds what a fully synced device
//! holds.
//!
//! Per row, the causal length (cl) decides first: a change with a lower cl is stale; a higher
//! even cl deletes the row (its column cells go, the '-1' sentinel remains); a higher odd cl
//! resurrects it (the previous life's column cells are superseded). At equal cl a column is won
//! by the higher col_version, then by the larger value under `crsql_compare_sqlite_values`;
//! an equal value changes nothing (cr-sqlite's default, `merge-equal-values` off).

use std::cmp::Ordering;
use std::collections::BTreeMap;

/// The column name of a row's existence sentinel.
pub const SENTINEL_CID: &str = "-1";

/// A SQLite value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Value {
    /// SQLite's fundamental type codes (`SQLITE_INTEGER` = 1 ... `SQLITE_NULL` = 5), which
    /// cr-sqlite compares across types.
    fn sqlite_type_code(&self) -> i32 {
        match self {
            Value::Integer(_) => 1,
            Value::Real(_) => 2,
            Value::Text(_) => 3,
            Value::Blob(_) => 4,
            Value::Null => 5,
        }
    }
}

/// `crsql_compare_sqlite_values`, exactly. Note that this is not SQLite's ORDER BY: values of
/// different types compare by type code reversed, so NULL < BLOB < TEXT < REAL < INTEGER, and
/// an integer beats any real whatever the numbers. Text and blobs compare bytewise (memcmp,
/// shorter first on a common prefix); reals by `<`/`>` only.
pub fn compare_values(left: &Value, right: &Value) -> Ordering {
    match (left, right) {
        (Value::Integer(l), Value::Integer(r)) => l.cmp(r),
        (Value::Real(l), Value::Real(r)) => l.partial_cmp(r).unwrap_or(Ordering::Equal),
        (Value::Text(l), Value::Text(r)) => l.as_bytes().cmp(r.as_bytes()),
        (Value::Blob(l), Value::Blob(r)) => l.cmp(r),
        (Value::Null, Value::Null) => Ordering::Equal,
        _ => right.sqlite_type_code().cmp(&left.sqlite_type_code()),
    }
}

/// One cell as stored: the value and the winning change's clock.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub value: Value,
    pub col_version: i64,
    pub db_version: i64,
    pub site_id: Vec<u8>,
    pub crsql_seq: i64,
}

/// One incoming change (a `crsql_changes` row) for the row in question.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub cid: String,
    pub value: Value,
    pub col_version: i64,
    pub db_version: i64,
    pub site_id: Vec<u8>,
    pub cl: i64,
    pub crsql_seq: i64,
}

impl Change {
    fn to_cell(&self) -> Cell {
        Cell {
            value: self.value.clone(),
            col_version: self.col_version,
            db_version: self.db_version,
            site_id: self.site_id.clone(),
            crsql_seq: self.crsql_seq,
        }
    }

    /// The sentinel cell this change writes when it deletes or resurrects the row.
    fn sentinel(&self, col_version: i64) -> Cell {
        Cell {
            value: Value::Null,
            col_version,
            ..self.to_cell()
        }
    }
}

/// A row's state: its causal length (0 when the server has never seen it) and its cells.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowState {
    pub cl: i64,
    pub cells: BTreeMap<String, Cell>,
}

/// What one change does to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Stale, or equal to what is there: nothing changes.
    Ignore,
    /// The row is deleted: all its column cells go; the sentinel takes the change's clock.
    Delete,
    /// The row comes back: the previous life's column cells go, the sentinel takes the
    /// change's clock with `sentinel_col_version`; a column change is then written too.
    Resurrect { sentinel_col_version: i64 },
    /// The column cell takes the change.
    Write,
}

/// The rule, as in `merge_insert`. `row.cl` stands for cr-sqlite's local cl: the sentinel's
/// col_version, else 1 when any clock exists, else 0.
pub fn decide(row: &RowState, change: &Change) -> Decision {
    if change.cl < row.cl {
        return Decision::Ignore;
    }
    let is_delete = change.cl % 2 == 0;
    if is_delete {
        return if change.cl == row.cl {
            Decision::Ignore
        } else {
            Decision::Delete
        };
    }
    let row_exists = row.cl != 0;
    let needs_resurrect = change.cl > row.cl;
    if change.cid == SENTINEL_CID {
        return if change.cl == row.cl {
            Decision::Ignore
        } else {
            Decision::Resurrect {
                sentinel_col_version: change.col_version,
            }
        };
    }
    if needs_resurrect && (row_exists || change.cl > 1) {
        return Decision::Resurrect {
            sentinel_col_version: change.cl,
        };
    }
    if needs_resurrect || !row_exists {
        return Decision::Write;
    }
    match row.cells.get(&change.cid) {
        None => Decision::Write,
        Some(local) => match change.col_version.cmp(&local.col_version) {
            Ordering::Greater => Decision::Write,
            Ordering::Less => Decision::Ignore,
            Ordering::Equal => {
                if compare_values(&change.value, &local.value) == Ordering::Greater {
                    Decision::Write
                } else {
                    Decision::Ignore
                }
            }
        },
    }
}

/// Applies `change` to `row`; returns the decision taken (anything but `Ignore` changed it).
pub fn merge(row: &mut RowState, change: &Change) -> Decision {
    let decision = decide(row, change);
    match decision {
        Decision::Ignore => {}
        Decision::Delete => {
            row.cells.clear();
            row.cells
                .insert(SENTINEL_CID.into(), change.sentinel(change.col_version));
            row.cl = change.col_version;
        }
        Decision::Resurrect {
            sentinel_col_version,
        } => {
            row.cells.clear();
            row.cells
                .insert(SENTINEL_CID.into(), change.sentinel(sentinel_col_version));
            row.cl = sentinel_col_version;
            if change.cid != SENTINEL_CID {
                row.cells.insert(change.cid.clone(), change.to_cell());
            }
        }
        Decision::Write => {
            if row.cl == 0 {
                // cr-sqlite counts a row with any clock but no sentinel as cl 1.
                row.cl = 1;
            }
            row.cells.insert(change.cid.clone(), change.to_cell());
        }
    }
    decision
}

#[cfg(test)]
mod tests {
    use super::*;
    use Value::*;

    fn change(cid: &str, value: Value, col_version: i64, cl: i64) -> Change {
        Change {
            cid: cid.into(),
            value,
            col_version,
            db_version: 7,
            site_id: vec![0xaa; 16],
            cl,
            crsql_seq: 0,
        }
    }

    /// A live row (cl 1) with a sentinel and `title` = "b" at col_version 2.
    fn live_row() -> RowState {
        let mut row = RowState::default();
        merge(&mut row, &change(SENTINEL_CID, Null, 1, 1));
        merge(&mut row, &change("title", Text("b".into()), 2, 1));
        row
    }

    #[test]
    fn values_compare_like_crsqlite() {
        use Ordering::*;
        let text = |s: &str| Text(s.into());
        assert_eq!(compare_values(&Integer(1), &Integer(2)), Less);
        assert_eq!(compare_values(&Real(2.5), &Real(1.0)), Greater);
        assert_eq!(compare_values(&Real(0.0), &Real(-0.0)), Equal);
        assert_eq!(compare_values(&text("b"), &text("ab")), Greater);
        assert_eq!(compare_values(&text("a"), &text("ab")), Less);
        assert_eq!(
            compare_values(&text("é"), &text("z")),
            Greater,
            "UTF-8 bytes"
        );
        assert_eq!(compare_values(&Blob(vec![1, 2]), &Blob(vec![1])), Greater);
        assert_eq!(compare_values(&Null, &Null), Equal);
        // Across types, the reversed type code: NULL < BLOB < TEXT < REAL < INTEGER.
        assert_eq!(compare_values(&Null, &Blob(vec![])), Less);
        assert_eq!(compare_values(&Blob(vec![9]), &text("")), Less);
        assert_eq!(compare_values(&text("zzz"), &Real(0.0)), Less);
        assert_eq!(compare_values(&Real(1e300), &Integer(-5)), Less);
        assert_eq!(compare_values(&Integer(i64::MIN), &Null), Greater);
    }

    #[test]
    fn a_new_row_takes_its_cells() {
        let mut row = RowState::default();
        assert_eq!(
            merge(&mut row, &change(SENTINEL_CID, Null, 1, 1)),
            Decision::Resurrect {
                sentinel_col_version: 1
            }
        );
        assert_eq!(
            merge(&mut row, &change("title", Text("a".into()), 1, 1)),
            Decision::Write
        );
        assert_eq!(row.cl, 1);
        assert_eq!(row.cells.len(), 2);
    }

    #[test]
    fn a_column_change_for_an_unknown_row_counts_it_as_cl_1() {
        let mut row = RowState::default();
        assert_eq!(
            merge(&mut row, &change("title", Text("a".into()), 1, 1)),
            Decision::Write
        );
        assert_eq!(row.cl, 1);
        assert!(!row.cells.contains_key(SENTINEL_CID));
    }

    #[test]
    fn higher_col_version_wins_lower_loses() {
        let mut row = live_row();
        assert_eq!(
            decide(&row, &change("title", Text("a".into()), 1, 1)),
            Decision::Ignore
        );
        assert_eq!(
            merge(&mut row, &change("title", Text("a".into()), 3, 1)),
            Decision::Write
        );
        assert_eq!(row.cells["title"].value, Text("a".into()));
        assert_eq!(row.cells["title"].col_version, 3);
    }

    #[test]
    fn equal_col_version_larger_value_wins_equal_value_changes_nothing() {
        let row = live_row();
        assert_eq!(
            decide(&row, &change("title", Text("c".into()), 2, 1)),
            Decision::Write
        );
        assert_eq!(
            decide(&row, &change("title", Text("a".into()), 2, 1)),
            Decision::Ignore
        );
        assert_eq!(
            decide(&row, &change("title", Text("b".into()), 2, 1)),
            Decision::Ignore,
            "an equal value is no change, whatever the site"
        );
        assert_eq!(
            decide(&row, &change("title", Integer(0), 2, 1)),
            Decision::Write,
            "an integer beats text"
        );
        assert_eq!(decide(&row, &change("title", Null, 2, 1)), Decision::Ignore);
    }

    #[test]
    fn merging_the_same_change_twice_changes_nothing() {
        let mut row = live_row();
        let edit = change("title", Text("z".into()), 5, 1);
        assert_eq!(merge(&mut row, &edit), Decision::Write);
        let before = row.clone();
        assert_eq!(merge(&mut row, &edit), Decision::Ignore);
        assert_eq!(row, before);
        let delete = change(SENTINEL_CID, Null, 2, 2);
        assert_eq!(merge(&mut row, &delete), Decision::Delete);
        assert_eq!(merge(&mut row, &delete), Decision::Ignore);
    }

    #[test]
    fn a_delete_drops_the_cells_and_keeps_the_sentinel() {
        let mut row = live_row();
        let mut delete = change(SENTINEL_CID, Null, 2, 2);
        delete.db_version = 9;
        assert_eq!(merge(&mut row, &delete), Decision::Delete);
        assert_eq!(row.cl, 2);
        assert_eq!(row.cells.keys().collect::<Vec<_>>(), vec![SENTINEL_CID]);
        assert_eq!(row.cells[SENTINEL_CID].db_version, 9);
        assert_eq!(row.cells[SENTINEL_CID].col_version, 2);
    }

    #[test]
    fn a_delete_of_an_unknown_row_leaves_a_tombstone() {
        let mut row = RowState::default();
        assert_eq!(
            merge(&mut row, &change(SENTINEL_CID, Null, 2, 2)),
            Decision::Delete
        );
        assert_eq!(row.cl, 2);
    }

    #[test]
    fn stale_changes_after_a_delete_are_ignored() {
        let mut row = live_row();
        merge(&mut row, &change(SENTINEL_CID, Null, 2, 2));
        // An edit made before the delete, however high its col_version.
        assert_eq!(
            decide(&row, &change("title", Text("zz".into()), 99, 1)),
            Decision::Ignore
        );
        assert_eq!(
            decide(&row, &change(SENTINEL_CID, Null, 1, 1)),
            Decision::Ignore
        );
    }

    #[test]
    fn a_resurrection_supersedes_the_old_cells() {
        let mut row = live_row();
        merge(&mut row, &change("body", Text("old".into()), 1, 1));
        // Missed the delete (cl 2): the column change at cl 3 resurrects.
        let decision = merge(&mut row, &change("title", Text("new".into()), 1, 3));
        assert_eq!(
            decision,
            Decision::Resurrect {
                sentinel_col_version: 3
            }
        );
        assert_eq!(row.cl, 3);
        assert_eq!(row.cells[SENTINEL_CID].col_version, 3);
        assert_eq!(row.cells["title"].value, Text("new".into()));
        assert!(
            !row.cells.contains_key("body"),
            "the old life's cell is gone"
        );
        // The rest of the same resurrecting transaction merges at equal cl.
        assert_eq!(
            merge(&mut row, &change("body", Text("new".into()), 1, 3)),
            Decision::Write
        );
    }

    #[test]
    fn a_sentinel_resurrection_after_a_delete() {
        let mut row = live_row();
        merge(&mut row, &change(SENTINEL_CID, Null, 2, 2));
        assert_eq!(
            merge(&mut row, &change(SENTINEL_CID, Null, 3, 3)),
            Decision::Resurrect {
                sentinel_col_version: 3
            }
        );
        assert_eq!(row.cl, 3);
        assert_eq!(
            decide(&row, &change(SENTINEL_CID, Null, 3, 3)),
            Decision::Ignore
        );
    }

    #[test]
    fn an_even_cl_deletes_whatever_the_column() {
        let mut row = live_row();
        assert_eq!(
            merge(&mut row, &change("title", Null, 4, 4)),
            Decision::Delete
        );
        assert_eq!(row.cells.keys().collect::<Vec<_>>(), vec![SENTINEL_CID]);
    }

    #[test]
    fn non_positive_causal_lengths_never_change_a_row() {
        let row = live_row();
        for cl in [0, -1, -2] {
            assert_eq!(
                decide(&row, &change("title", Integer(9), 99, cl)),
                Decision::Ignore
            );
        }
        assert_eq!(
            decide(&RowState::default(), &change("title", Integer(9), 99, 0)),
            Decision::Ignore
        );
    }

    #[test]
    fn the_order_of_concurrent_edits_does_not_matter() {
        let edits = [
            change("title", Text("x".into()), 3, 1),
            change("title", Text("y".into()), 3, 1),
            change("title", Integer(1), 2, 1),
            change("title", Real(2.0), 3, 1),
        ];
        let mut outcomes = Vec::new();
        for rotation in 0..edits.len() {
            let mut row = live_row();
            for index in 0..edits.len() {
                merge(&mut row, &edits[(index + rotation) % edits.len()]);
            }
            outcomes.push(row);
        }
        assert!(outcomes.windows(2).all(|pair| pair[0] == pair[1]));
        assert_eq!(outcomes[0].cells["title"].value, Real(2.0));
    }
}
