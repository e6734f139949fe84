//! Import and export tell their progress as they go (what the app's progress bar shows): an
//! export counts its records first and reports them written up to the total; an import
//! reports checking, then writing up to the total, which ends equal to the records it read.

use flightdeck_core::export::{self, ExportOptions};
use flightdeck_core::import::{self, OnConflict};
use flightdeck_types::TransferProgress;

use super::common::temp_store;

#[test]
fn export_and_import_tell_their_progress_up_to_the_total() {
    let (_a, source) = temp_store();
    source
        .write(|w| {
            let mut insert = w.prepare(
                "INSERT INTO tasks (id, title, created_at, updated_at) VALUES (?1, ?2, 1, 1)",
            )?;
            for i in 0..25_000 {
                insert.execute((format!("0190b000-0000-7000-8000-{i:012}"), format!("t{i}")))?;
            }
            Ok(())
        })
        .unwrap();
    let mut told: Vec<TransferProgress> = Vec::new();
    let mut archive = Vec::new();
    let options = ExportOptions {
        entities: vec!["tasks".into()],
        ..Default::default()
    };
    export::export(&source, &options, &mut archive, &mut |p| {
        told.push(p.clone())
    })
    .unwrap();
    assert!(told.len() >= 3, "told now and then: {told:?}");
    assert!(told
        .iter()
        .all(|p| p.phase == "exporting" && p.total == Some(25_000)));
    assert!(told
        .windows(2)
        .all(|w| w[0].records <= w[1].records && w[0].bytes <= w[1].bytes));
    assert_eq!(told.last().unwrap().records, 25_000);
    assert_eq!(told.last().unwrap().bytes, archive.len() as u64);

    let (_b, target) = temp_store();
    let mut told: Vec<TransferProgress> = Vec::new();
    let open = || -> flightdeck_core::Result<Box<dyn std::io::Read>> {
        Ok(Box::new(std::io::Cursor::new(archive.clone())))
    };
    let report = import::import_with_progress(&target, &open, OnConflict::Skip, false, &mut |p| {
        told.push(p.clone())
    })
    .unwrap();
    assert_eq!(report.entities["tasks"].created, 25_000);
    let checking = told.iter().take_while(|p| p.phase == "checking").count();
    assert!(checking >= 1, "checking told first: {told:?}");
    let writing = &told[checking..];
    assert!(writing.len() >= 2 && writing.iter().all(|p| p.phase == "writing"));
    assert!(writing.iter().all(|p| p.total == Some(25_000)));
    assert!(writing.windows(2).all(|w| w[0].records < w[1].records));
    assert_eq!(writing.last().unwrap().records, 25_000, "ends at the total");
}
