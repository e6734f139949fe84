//! SQL for `flightdeck import`: a table's columns, and one row found, inserted or updated by
//! its primary key, values as `flightdeck export` writes them (JSON; a blob as `{"$hex"}`).

use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, Connection};
use serde_json::{Map, Value};

use crate::error::Result;

/// A column of a table: its name, declared type and whether it is part of the primary key.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub declared: String,
    pub pk: bool,
}

/// The columns of `table` (one of the export's fixed list), in order.
pub fn columns(conn: &Connection, table: &str) -> Result<Vec<Column>> {
    let mut stmt = conn.prepare("SELECT name, type, pk FROM pragma_table_info(?1)")?;
    let rows = stmt.query_map([table], |r| {
        Ok(Column {
            name: r.get(0)?,
            declared: r.get::<_, String>(1)?.to_ascii_uppercase(),
            pk: r.get::<_, i64>(2)? > 0,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A JSON value of an export as SQLite stores it.
pub fn to_sql(value: &Value) -> Sql {
    match value {
        Value::Null => Sql::Null,
        Value::Bool(b) => Sql::Integer(i64::from(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Sql::Integer(i),
            None => Sql::Real(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => Sql::Text(s.clone()),
        Value::Object(o) => match o.get("$hex").and_then(Value::as_str) {
            Some(h) => Sql::Blob(hex::decode(h).unwrap_or_default()),
            None => Sql::Text(value.to_string()),
        },
        Value::Array(_) => Sql::Text(value.to_string()),
    }
}

/// The row of `table` whose primary key columns `pk` hold `row`'s values, as the export
/// would write it.
pub fn find(
    conn: &Connection,
    table: &str,
    pk: &[&str],
    row: &Map<String, Value>,
) -> Result<Option<Map<String, Value>>> {
    let filter: Vec<String> = pk.iter().map(|c| format!("{c} IS ?")).collect();
    let values: Vec<Sql> = pk.iter().map(|c| to_sql(&row[*c])).collect();
    let sql = format!("SELECT * FROM {table} WHERE {}", filter.join(" AND "));
    let mut found = None;
    let mut stmt = conn.prepare_cached(&sql)?;
    let names: Vec<String> = stmt.column_names().iter().map(|n| n.to_string()).collect();
    let mut rows = stmt.query(params_from_iter(values))?;
    if let Some(r) = rows.next()? {
        let mut object = Map::new();
        for (i, name) in names.iter().enumerate() {
            object.insert(name.clone(), super::export::json_of(r.get_ref(i)?));
        }
        found = Some(object);
    }
    Ok(found)
}

/// Inserts `row` (its columns only; the others keep their defaults).
pub fn insert(conn: &Connection, table: &str, row: &Map<String, Value>) -> Result<()> {
    let names: Vec<&str> = row.keys().map(String::as_str).collect();
    let marks = vec!["?"; names.len()].join(", ");
    conn.prepare_cached(&format!(
        "INSERT INTO {table} ({}) VALUES ({marks})",
        names.join(", ")
    ))?
    .execute(params_from_iter(row.values().map(to_sql)))?;
    Ok(())
}

/// Sets `changes` on the row whose primary key columns `pk` hold `row`'s values.
pub fn update(
    conn: &Connection,
    table: &str,
    pk: &[&str],
    row: &Map<String, Value>,
    changes: &[&str],
) -> Result<()> {
    let sets: Vec<String> = changes.iter().map(|c| format!("{c} = ?")).collect();
    let filter: Vec<String> = pk.iter().map(|c| format!("{c} IS ?")).collect();
    let values = changes
        .iter()
        .chain(pk)
        .map(|c| to_sql(&row[*c]))
        .collect::<Vec<_>>();
    conn.prepare_cached(&format!(
        "UPDATE {table} SET {} WHERE {}",
        sets.join(", "),
        filter.join(" AND ")
    ))?
    .execute(params_from_iter(values))?;
    Ok(())
}
