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
];

/// An arbitrary constant: the advisory lock that keeps two servers starting at once from
/// migrating the same database concurrently.
const MIGRATION_LOCK_KEY: i64 = 0x666c_6967_6874_6463;

/// Applies every migration not yet applied, in one transaction.
pub async fn migrate(client: &mut tokio_postgres::Client) -> Result<(), DbError> {
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
        match MIGRATIONS.iter().find(|(known, _)| *known == version) {
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
    for (version, sql) in MIGRATIONS {
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
