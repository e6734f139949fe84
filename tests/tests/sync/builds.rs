//! Last write wins across builds and peers (issue 19): a device still counting versions the
//! cr-sqlite way (an old build) and one stamping clocks converge on one value everywhere, and
//! a plain cr-sqlite peer merging the server's cells with `INSERT INTO crsql_changes` ends
//! with the values our devices hold.

use flightdeck_core::store::{local_migrations, migrate::migrate, CrConn};
use flightdeck_core::sync::{account, wire};
use flightdeck_core::tasks;
use flightdeck_tests::sync_rig::{device_cells, keyring, server_cells};

use super::{join, start_server, sync, title};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_build_and_a_new_one_converge_and_a_plain_cr_sqlite_peer_agrees() {
    let server = start_server().await;
    let (new, old) = (join(&server).await, join(&server).await);
    // The build before clocks: the same write path with its stamp off, so each write of a
    // cell counts its version up by one.
    old.store.set_clock_stamps_for_bench(false);
    let task = super::last_write::new_task(&old, "Made on the old build");
    sync(&old).await;
    sync(&new).await;

    // Apart: the old build edits three times (versions 2, 3, 4), the new one once, later.
    for text in ["old 1", "old 2", "old 3"] {
        tasks::update(&old.store, &task.id, title(text)).unwrap();
    }
    flightdeck_core::clock::next_millisecond();
    tasks::update(&new.store, &task.id, title("new, later")).unwrap();
    sync(&old).await;
    sync(&new).await;
    sync(&old).await;
    // What the old build sees: the new build's clock is above any count, so its edit wins.
    for device in [&old, &new] {
        assert_eq!(
            tasks::get(&device.store, &task.id).unwrap().title,
            "new, later"
        );
    }
    assert_eq!(device_cells(&old.store), device_cells(&new.store));

    // The old build edits after seeing that: its count goes on from the clock it saw (+1),
    // so its edit wins, everywhere.
    tasks::update(&old.store, &task.id, title("old, after seeing")).unwrap();
    sync(&old).await;
    sync(&new).await;
    let late = join(&server).await;
    sync(&late).await;
    for device in [&old, &new, &late] {
        assert_eq!(
            tasks::get(&device.store, &task.id).unwrap().title,
            "old, after seeing"
        );
    }
    assert_eq!(device_cells(&old.store), device_cells(&new.store));
    assert_eq!(device_cells(&new.store), server_cells(&late.store).await);

    // A plain cr-sqlite peer (our schema, no Flightdeck code) merges every cell the server
    // holds through cr-sqlite's own merge, in pull order, and holds the same values.
    let dir = tempfile::tempdir().unwrap();
    let mut peer = CrConn::open(&dir.path().join("peer.db")).unwrap();
    migrate(&mut peer, local_migrations()).unwrap();
    let client = account::connect(&late.store, &keyring()).unwrap();
    let mut after = 0;
    loop {
        let page = client.pull(after, 1000).await.unwrap();
        for change in page.changes {
            let c = wire::from_wire(change).unwrap();
            peer.execute(
                "INSERT INTO crsql_changes
                   (\"table\", pk, cid, val, col_version, db_version, site_id, cl, seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                rusqlite::params![
                    c.table,
                    c.pk,
                    c.cid,
                    c.val,
                    c.col_version,
                    c.db_version,
                    c.site_id,
                    c.cl,
                    c.seq
                ],
            )
            .unwrap();
        }
        if page.next >= page.head {
            break;
        }
        after = page.next;
    }
    let on_peer: (String, String) = peer
        .query_row(
            "SELECT title, description FROM tasks WHERE id = ?1",
            [&task.id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let ours = tasks::get(&new.store, &task.id).unwrap();
    assert_eq!(on_peer, (ours.title, ours.description));
}
