//! SQL for `flightdeck export`: a table's rows, streamed one by one as JSON objects (every
//! column, by name), so that a workspace larger than memory exports with flat memory use.

use rusqlite::types::ValueRef;
use rusqlite::Connection;
use serde_json::{Map, Value};

use crate::error::Result;

/// The column a table's rows are filtered on for `--since`: the first it has of these (when
/// a row last changed, else when it was made).
const TIME_COLUMNS: [&str; 6] = [
    "updated_at",
    "recorded_at",
    "at",
    "decided_at",
    "queued_at",
    "created_at",
];

/// Which of [`TIME_COLUMNS`] table `table` has, if any.
pub fn time_column(conn: &Connection, table: &str) -> Result<Option<&'static str>> {
    let columns = super::import::columns(conn, table)?;
    Ok(TIME_COLUMNS
        .into_iter()
        .find(|c| columns.iter().any(|n| n.name == *c)))
}

/// Calls `each` with every row of `table` (a name from the export's fixed list, never user
/// text), those whose `since.0` column is at or after `since.1` only when given; returns how
/// many there were. A blob is `{"$hex": "..."}`.
pub fn for_each_row(
    conn: &Connection,
    table: &str,
    since: Option<(&str, i64)>,
    mut each: impl FnMut(Map<String, Value>) -> Result<()>,
) -> Result<u64> {
    let sql = match since {
        Some((column, _)) => format!("SELECT * FROM {table} WHERE {column} >= ?1"),
        None => format!("SELECT * FROM {table}"),
    };
    let mut stmt = conn.prepare(&sql)?;
    let names: Vec<String> = stmt.column_names().iter().map(|n| n.to_string()).collect();
    let mut rows = match since {
        Some((_, at)) => stmt.query([at])?,
        None => stmt.query([])?,
    };
    let mut n = 0;
    while let Some(row) = rows.next()? {
        let mut object = Map::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            object.insert(name.clone(), json_of(row.get_ref(i)?));
        }
        each(object)?;
        n += 1;
    }
    Ok(n)
}

/// How many rows [`for_each_row`] would give.
pub fn count_rows(conn: &Connection, table: &str, since: Option<(&str, i64)>) -> Result<u64> {
    let n: i64 = match since {
        Some((column, at)) => conn.query_row(
            &format!("SELECT count(*) FROM {table} WHERE {column} >= ?1"),
            [at],
            |r| r.get(0),
        )?,
        None => conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?,
    };
    Ok(n as u64)
}

/// A column's value as an export writes it.
pub fn json_of(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(v) => Value::from(v),
        ValueRef::Real(v) => Value::from(v),
        ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => serde_json::json!({ "$hex": hex::encode(b) }),
    }
}
