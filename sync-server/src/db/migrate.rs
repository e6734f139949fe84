//! Schema migrations from `migrations/server`, embedded in the binary and applied at start.
//!
//! Applied versions are recorded with a SHA-256 checksum of their SQL: an edited migration, or
//! a database migrated by a newer server, is refused instead of silently diverging.

use sha2::{Digest, Sha256};

use super::DbError;

/// Every migration, in order. Append only.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_init",
        include_str!("../../../migrations/server/0001_init.sql"),
    ),
    (
        "0002_pulled_seq",
        include_str!("../../../migrations/server/0002_pulled_seq.sql"),
    ),
    (
        "0003_cells_in_pull_order",
        include_str!("../../../migrations/server/0003_cells_in_pull_order.sql"),
    ),
    (
        "0004_device_schema_version",
        include_str!("../../../migrations/server/0004_device_schema_version.sql"),
    ),
    (
        "0005_server_identity",
        include_str!("../../../migrations/server/0005_server_identity.sql"),
    ),
    (
        "0006_join_token_limits",
        include_str!("../../../migrations/server/0006_join_token_limits.sql"),
    ),
    (
        "0007_device_clock_offset",
        include_str!("../../../migrations/server/0007_device_clock_offset.sql"),
    ),
    (
        "0008_cells_without_row_check",
        include_str!("../../../migrations/server/0008_cells_without_row_check.sql"),
    ),
    (
        "0009_rows_hold_their_cells",
        include_str!("../../../migrations/server/0009_rows_hold_their_cells.sql"),
    ),
];

/// An arbitrary constant: the advisory lock that keeps two servers starting at once from
/// migrating the same database concurrently.
const MIGRATION_LOCK_KEY: i64 = 0x666c_6967_6874_6463;

/// Applies every migration not yet applied, in one transaction.
pub async fn migrate(client: &mut tokio_postgres::Client) -> Result<(), DbError> {
    migrate_through(client, MIGRATIONS).await
}

/// Applies the first migrations, `known` (all of them but in tests).
async fn migrate_through(
    client: &mut tokio_postgres::Client,
    known: &[(&str, &str)],
) -> Result<(), DbError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version     text PRIMARY KEY,
            checksum    text NOT NULL,
            applied_at  timestamptz NOT NULL DEFAULT now()
        )",
    )
    .await?;
    let applied = tx
        .query("SELECT version, checksum FROM schema_migrations", &[])
        .await?;
    for row in &applied {
        let version: &str = row.get(0);
        let checksum: &str = row.get(1);
        match known.iter().find(|(name, _)| *name == version) {
            None => {
                return Err(DbError::Schema(format!(
                    "the database has migration {version}, which this server does not know \
                     (was it migrated by a newer server?)"
                )))
            }
            Some((_, sql)) if checksum_of(sql) != checksum => {
                return Err(DbError::Schema(format!(
                    "migration {version} was changed after it was applied (checksum mismatch)"
                )))
            }
            Some(_) => {}
        }
    }
    for (version, sql) in known {
        let done = applied.iter().any(|row| row.get::<_, &str>(0) == *version);
        if done {
            continue;
        }
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)",
            &[version, &checksum_of(sql)],
        )
        .await?;
        tracing::info!(version, "applied migration");
    }
    tx.commit().await?;
    Ok(())
}

fn checksum_of(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fresh_database;

    async fn client(url: &str) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
    }

    #[tokio::test]
    async fn migrating_twice_applies_once() {
        let db = fresh_database().await;
        let mut client = client(&db.url).await;
        migrate(&mut client).await.unwrap();
        migrate(&mut client).await.unwrap();
        let count: i64 = client
            .query_one("SELECT count(*) FROM schema_migrations", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(count, MIGRATIONS.len() as i64);
        client
            .query("SELECT head FROM workspaces", &[])
            .await
            .unwrap();
    }

    /// Migration 0009 moves every cell of the per-cell table into its row's blob: a pull
    /// after it returns exactly what the per-cell table held, every kind of value included
    /// (text with a NUL, a blob, a real, a null, a deleted row's sentinel), in pull order.
    #[tokio::test]
    async fn cells_stored_one_a_row_come_back_whole_from_their_row_s_blob() {
        use flightdeck_types::sync::{WireChange, WireValue};

        let db = fresh_database().await;
        let mut client = client(&db.url).await;
        let through_0008 = MIGRATIONS
            .iter()
            .position(|(name, _)| *name == "0008_cells_without_row_check")
            .unwrap();
        migrate_through(&mut client, &MIGRATIONS[..=through_0008])
            .await
            .unwrap();
        let workspace = uuid::Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0009);
        client
            .execute(
                "INSERT INTO workspaces (id, name, head) VALUES ($1, 'old', 4)",
                &[&workspace],
            )
            .await
            .unwrap();
        // (pk, cid, val_type, int, real, bytes, col_version, db_version, cl, crsql_seq, seq)
        type Old = (
            u8,
            &'static str,
            i16,
            Option<i64>,
            Option<f64>,
            Option<&'static [u8]>,
        );
        let cells: [(Old, i64, i64, i64, i64, i64); 8] = [
            ((1, "-1", 0, None, None, None), 1, 10, 1, 0, 1),
            (
                (1, "title", 3, None, None, Some(b"a\0b \xc3\xbc".as_slice())),
                2,
                12,
                1,
                0,
                3,
            ),
            ((1, "count", 1, Some(-7), None, None), 1, 10, 1, 1, 1),
            ((1, "ratio", 2, None, Some(0.5), None), 1, 10, 1, 2, 1),
            (
                (1, "raw", 4, None, None, Some(b"\x00\xff".as_slice())),
                1,
                10,
                1,
                3,
                1,
            ),
            ((2, "-1", 0, None, None, None), 2, 11, 2, 0, 2),
            (
                (3, "title", 3, None, None, Some(b"".as_slice())),
                1,
                13,
                1,
                0,
                4,
            ),
            ((3, "note", 0, None, None, None), 1, 13, 1, 1, 4),
        ];
        let site = vec![9u8; 16];
        for (pk, cl) in [(1u8, 1i64), (2, 2), (3, 1)] {
            client
                .execute(
                    "INSERT INTO rows (workspace_id, tbl, pk, cl) VALUES ($1, 'tasks', $2, $3)",
                    &[&workspace, &vec![pk], &cl],
                )
                .await
                .unwrap();
        }
        for ((pk, cid, val_type, int, real, bytes), col_version, db_version, cl, crsql_seq, seq) in
            &cells
        {
            client
                .execute(
                    "INSERT INTO cells (workspace_id, tbl, pk, cid, val_type, val_int, val_real,
                         val_bytes, col_version, db_version, site_id, cl, crsql_seq, seq)
                     VALUES ($1, 'tasks', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                    &[
                        &workspace,
                        &vec![*pk],
                        cid,
                        val_type,
                        int,
                        real,
                        bytes,
                        col_version,
                        db_version,
                        &site,
                        cl,
                        crsql_seq,
                        seq,
                    ],
                )
                .await
                .unwrap();
        }
        // The epoch as servers before 0009 computed it.
        let row = client
            .query_one(
                "SELECT (SELECT id::text FROM server_identity ORDER BY created_at LIMIT 1),
                        'cells'::regclass::oid::int8,
                        (SELECT oid::int8 FROM pg_database WHERE datname = current_database())",
                &[],
            )
            .await
            .unwrap();
        let (id, cells_oid, database_oid): (String, i64, i64) =
            (row.get(0), row.get(1), row.get(2));
        let digest = Sha256::digest(format!("{id}/{cells_oid}/{database_oid}"));
        let epoch = hex::encode(&digest[..8]);
        migrate(&mut client).await.unwrap();
        assert_eq!(
            crate::db::epoch::current(&client).await.unwrap(),
            epoch,
            "the migration is not taken for a restore"
        );

        let pool = crate::db::pool(&db.url).unwrap();
        let mut object = pool.get().await.unwrap();
        let page = crate::db::cells::pull(&mut object, workspace, 0, 1000)
            .await
            .unwrap();
        let wire = |(pk, cid, val_type, int, real, bytes): &Old| {
            let val = match val_type {
                0 => WireValue::Null,
                1 => WireValue::Integer(int.unwrap()),
                2 => WireValue::Real(real.unwrap()),
                3 => WireValue::Text(String::from_utf8(bytes.unwrap().to_vec()).unwrap()),
                _ => WireValue::Blob(hex::encode(bytes.unwrap())),
            };
            (hex::encode([*pk]), cid.to_string(), val)
        };
        let mut expected: Vec<(i64, WireChange)> = cells
            .iter()
            .map(|(old, col_version, db_version, cl, crsql_seq, _)| {
                let (pk, cid, val) = wire(old);
                // A row's cells all come with the row's newest sequence number.
                let row_seq = cells
                    .iter()
                    .filter(|other| other.0 .0 == old.0)
                    .map(|other| other.5)
                    .max()
                    .unwrap();
                let change = WireChange {
                    table: "tasks".into(),
                    pk,
                    cid,
                    val,
                    col_version: *col_version,
                    db_version: *db_version,
                    site_id: hex::encode(&site),
                    cl: *cl,
                    seq: *crsql_seq,
                };
                (row_seq, change)
            })
            .collect();
        expected.sort_by(|(sa, a), (sb, b)| {
            (sa, a.db_version, a.seq, &a.pk, &a.cid).cmp(&(sb, b.db_version, b.seq, &b.pk, &b.cid))
        });
        let expected: Vec<WireChange> = expected.into_iter().map(|(_, c)| c).collect();
        assert_eq!(page.changes, expected);
        assert_eq!((page.next, page.head), (4, 4));
        for table in ["cells", "rows"] {
            let gone = client
                .query_one("SELECT to_regclass($1)::text", &[&table])
                .await
                .unwrap()
                .get::<_, Option<String>>(0);
            assert_eq!(gone, None, "{table} is dropped");
        }
    }

    #[tokio::test]
    async fn an_edited_migration_is_refused() {
        let db = fresh_database().await;
        let mut client = client(&db.url).await;
        migrate(&mut client).await.unwrap();
        client
            .execute("UPDATE schema_migrations SET checksum = 'x'", &[])
            .await
            .unwrap();
        let error = migrate(&mut client).await.unwrap_err();
        assert!(error.to_string().contains("checksum mismatch"), "{error}");
    }

    #[tokio::test]
    async fn an_unknown_applied_migration_is_refused() {
        let db = fresh_database().await;
        let mut client = client(&db.url).await;
        migrate(&mut client).await.unwrap();
        client
            .execute(
                "INSERT INTO schema_migrations (version, checksum) VALUES ('9999_future', '')",
                &[],
            )
            .await
            .unwrap();
        let error = migrate(&mut client).await.unwrap_err();
        assert!(error.to_string().contains("9999_future"), "{error}");
    }
}
