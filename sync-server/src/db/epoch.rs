//! The server epoch: an id of the database's history that changes when the database is
//! replaced (a new, empty one) or restored from a dump (whose sequence numbers start over
//! from an older head). Devices compare it with the one they last saw and re-synchronise
//! when it changes (docs/sync-protocol.md, "A restored or replaced server").

use sha2::{Digest, Sha256};

use super::DbError;

/// The epoch of the database `client` is connected to: 16 hex digits from the random id
/// made by migration 0005 and the OIDs of the cell store and of the database, both new
/// whenever a restore recreates them. The cell store's OID is that of the `cells` table up to
/// migration 0009, which recorded it beside the OID of the `entities` table it made: while
/// `entities` is that table, the old number stands, so the epoch did not change with the
/// migration; a restore recreates `entities`, and its new OID changes the epoch.
pub async fn current(client: &impl tokio_postgres::GenericClient) -> Result<String, DbError> {
    let row = client
        .query_one(
            "SELECT (SELECT id::text FROM server_identity ORDER BY created_at LIMIT 1),
                    COALESCE((SELECT cells_oid FROM server_identity
                              WHERE entities_oid = 'entities'::regclass::oid::int8
                              ORDER BY created_at LIMIT 1),
                             'entities'::regclass::oid::int8),
                    (SELECT oid::int8 FROM pg_database WHERE datname = current_database())",
            &[],
        )
        .await?;
    let id: Option<String> = row.get(0);
    let cells_oid: i64 = row.get(1);
    let database_oid: i64 = row.get(2);
    let digest = Sha256::digest(format!(
        "{}/{cells_oid}/{database_oid}",
        id.unwrap_or_default()
    ));
    Ok(hex::encode(&digest[..8]))
}
