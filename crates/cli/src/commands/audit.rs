//! `flightdeck audit`

use flightdeck_core::{audit, CoreError, Store};
use flightdeck_types::AuditFilter;

use crate::args::AuditArgs;
use crate::output::{clip, table, Output};

pub fn run(store: &Store, args: &AuditArgs, out: &Output) -> Result<(), CoreError> {
    let entries = audit::list(
        store,
        &AuditFilter {
            entity_id: args.entity.clone(),
            limit: Some(args.limit),
        },
    )?;
    out.print(&entries, || {
        if entries.is_empty() {
            return "no changes recorded".to_string();
        }
        let rows: Vec<Vec<String>> = entries
            .iter()
            .map(|e| {
                let changes: Vec<String> = e
                    .changes
                    .iter()
                    .map(|(field, c)| format!("{field}: {} -> {}", c.old, c.new))
                    .collect();
                vec![
                    e.at.to_string(),
                    e.action.to_string(),
                    e.entity.to_string(),
                    e.entity_id.clone(),
                    clip(&e.device_id, 8),
                    clip(&changes.join("; "), 80),
                ]
            })
            .collect();
        table(
            &["AT", "ACTION", "ENTITY", "ID", "DEVICE", "CHANGES"],
            &rows,
        )
    });
    Ok(())
}
