//! Tasks from a CSV file: a header row, then a task per row; each field read from the column
//! of its own name, a usual other one, or the one `--map` names.

use std::collections::HashMap;

use flightdeck_types::{Priority, TaskStatus};

use super::values::{parse_time, priority_of, status_of, unknown, value_map};
use super::{Mapping, Problems, Row, FIELDS};
use crate::error::{CoreError, Result};

/// The column names each field is read from when not mapped (any case), first found first:
/// a field's own name, then what Jira's and Linear's CSV exports call it.
const SYNONYMS: [(&str, &[&str]); 7] = [
    ("title", &["title", "summary", "name"]),
    ("description", &["description", "body", "details"]),
    ("status", &["status", "state"]),
    ("priority", &["priority"]),
    ("created_at", &["created_at", "created"]),
    ("updated_at", &["updated_at", "updated"]),
    ("key", &["key", "issue key", "id"]),
];

pub(super) fn from_csv(bytes: &[u8], mapping: &Mapping) -> Result<Vec<Row>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| {
            CoreError::invalid("file", format!("the CSV's header row cannot be read: {e}"))
        })?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if header.iter().all(String::is_empty) {
        return Err(CoreError::invalid(
            "file",
            "the CSV has no header row: its first line must name the columns (e.g. title,status)",
        ));
    }
    let columns = column_of_fields(&header, &mapping.columns)?;
    let statuses = value_map::<TaskStatus>("--status-map", &mapping.statuses)?;
    let priorities = value_map::<Priority>("--priority-map", &mapping.priorities)?;
    let mut problems = Problems::default();
    let mut tasks = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                problems.add(format!("line {line}"), csv_error(&e));
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        let cell = |field: &str| -> (&str, &str) {
            match columns.get(field) {
                Some(&i) => (header[i].as_str(), record.get(i).unwrap_or("").trim()),
                None => ("", ""),
            }
        };
        let at = |column: &str| format!("line {line} (column {column})");
        let (title_column, title) = cell("title");
        if title.is_empty() {
            problems.add(at(title_column), "no title: every task needs one");
        }
        let (column, text) = cell("status");
        let status = match text {
            "" => TaskStatus::Todo,
            t => status_of(t, &statuses).unwrap_or_else(|| {
                problems.add(
                    at(column),
                    unknown("status", t, "--status-map", TaskStatus::ALL),
                );
                TaskStatus::Todo
            }),
        };
        let (column, text) = cell("priority");
        let priority = match text {
            "" => Priority::Medium,
            t => priority_of(t, &priorities).unwrap_or_else(|| {
                problems.add(
                    at(column),
                    unknown("priority", t, "--priority-map", Priority::ALL),
                );
                Priority::Medium
            }),
        };
        let mut time = |field: &str| {
            let (column, text) = cell(field);
            match text {
                "" => None,
                t => match parse_time(t) {
                    Ok(at) => Some(at),
                    Err(e) => {
                        problems.add(at(column), e);
                        None
                    }
                },
            }
        };
        let created_at = time("created_at");
        let updated_at = time("updated_at").or(created_at);
        let key = match cell("key") {
            ("", _) => format!(
                "csv-row:{}",
                record.iter().collect::<Vec<_>>().join("\u{1f}")
            ),
            (column, "") => {
                problems.add(
                    at(column),
                    "no key: the column mapped to `key` identifies each task",
                );
                continue;
            }
            (_, k) => format!("csv-key:{k}"),
        };
        if let Some(first) = seen.insert(key.clone(), line) {
            problems.add(
                format!("line {line}"),
                match cell("key").0 {
                    "" => format!("the same row as line {first}: remove one, or map a column that tells them apart with --map key=COLUMN"),
                    column => format!("its {column} is line {first}'s too: a key names one task"),
                },
            );
        }
        tasks.push(Row {
            key,
            title: title.to_string(),
            description: cell("description").1.to_string(),
            status,
            priority,
            created_at,
            updated_at,
        });
    }
    problems.or("CSV")?;
    Ok(tasks)
}

/// The column each mapped or same-named field is read from; a mapping that names no field or
/// no column is refused with what there is.
fn column_of_fields(header: &[String], map: &[(String, String)]) -> Result<HashMap<String, usize>> {
    let find = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let mut columns = HashMap::new();
    for (field, column) in map {
        if !FIELDS.contains(&field.as_str()) {
            return Err(CoreError::invalid(
                "map",
                format!(
                    "`{field}` is not a task field; map some of: {}",
                    FIELDS.join(", ")
                ),
            ));
        }
        let Some(i) = find(column) else {
            return Err(CoreError::invalid(
                "map",
                format!(
                    "{field}={column}: the CSV has no column `{column}`; its columns: {}",
                    header.join(", ")
                ),
            ));
        };
        columns.insert(field.clone(), i);
    }
    for field in FIELDS {
        if !columns.contains_key(field) {
            let same = SYNONYMS
                .iter()
                .find(|(f, _)| *f == field)
                .and_then(|(_, names)| names.iter().find_map(|n| find(n)));
            if let Some(i) = same {
                columns.insert(field.to_string(), i);
            }
        }
    }
    if !columns.contains_key("title") {
        return Err(CoreError::invalid(
            "map",
            format!(
                "the CSV has no `title` column; its columns: {}; say which holds the title with --map title=COLUMN",
                header.join(", ")
            ),
        ));
    }
    Ok(columns)
}

fn csv_error(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => {
            "not UTF-8 text: save the file as UTF-8 and import it again".into()
        }
        _ => format!("the CSV cannot be read here: {e}"),
    }
}
