//! Workspaces, their join tokens and devices. Every lookup by token goes through its hash.

use tokio_postgres::GenericClient;
use uuid::Uuid;

use super::cells::{NOTIFY_CHANNEL, REVOKED_PREFIX};
use super::join_tokens::{self, NewToken, Refusal, TokenLimits};
use super::DbError;
use crate::tokens;

/// A registered device, as the auth layer sees it.
#[derive(Debug, Clone)]
pub struct Device {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub site_id: Vec<u8>,
    /// When it was revoked (RFC 3339-ish text), if it was.
    pub revoked_at: Option<String>,
    /// The local schema version it last sent.
    pub schema_version: Option<i32>,
    /// How far its clock was ahead of the server's, as it last said.
    pub clock_offset_ms: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct WorkspaceSummary {
    pub id: Uuid,
    pub name: String,
    pub created_at: String,
    pub head: i64,
    pub devices: i64,
}

#[derive(Debug, Clone)]
pub struct DeviceSummary {
    pub id: Uuid,
    pub name: String,
    pub site_id: String,
    pub created_at: String,
    pub last_seen_at: Option<String>,
    pub revoked_at: Option<String>,
    pub pushed_db_version: i64,
    pub schema_version: Option<i32>,
    pub clock_offset_ms: Option<i64>,
}

/// A new device's credentials, returned once by [`join`].
#[derive(Debug, Clone)]
pub struct Joined {
    pub workspace_id: Uuid,
    pub workspace_name: String,
    pub device_id: Uuid,
    pub device_token: String,
    /// The other unrevoked devices that joined with the same join token.
    pub peers: Vec<DeviceSummary>,
}

/// Creates a workspace and its first join token (returned; only its hash is kept).
pub async fn create_workspace(
    client: &mut tokio_postgres::Client,
    name: &str,
    limits: TokenLimits,
) -> Result<(Uuid, NewToken), DbError> {
    let id = Uuid::now_v7();
    let tx = client.transaction().await?;
    tx.execute(
        "INSERT INTO workspaces (id, name) VALUES ($1, $2)",
        &[&id, &name],
    )
    .await?;
    let token = join_tokens::create(&tx, id, limits).await?;
    tx.commit().await?;
    Ok((id, token))
}

pub async fn list_workspaces(
    client: &impl GenericClient,
) -> Result<Vec<WorkspaceSummary>, DbError> {
    let rows = client
        .query(
            "SELECT w.id, w.name, w.created_at::text, w.head,
                    (SELECT count(*) FROM devices d WHERE d.workspace_id = w.id)
             FROM workspaces w ORDER BY w.created_at, w.id",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| WorkspaceSummary {
            id: row.get(0),
            name: row.get(1),
            created_at: row.get(2),
            head: row.get(3),
            devices: row.get(4),
        })
        .collect())
}

/// Trades a join token for a new device, taking one of the token's uses; why not, when the
/// token is unknown, revoked, expired or used up (and then nothing is written).
pub async fn join(
    client: &mut tokio_postgres::Client,
    join_token: &str,
    device_name: &str,
    site_id: &[u8],
) -> Result<Result<Joined, Refusal>, DbError> {
    let tx = client.transaction().await?;
    let (workspace_id, workspace_name) = match join_tokens::redeem(&tx, join_token).await? {
        Ok(workspace) => workspace,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let device_id = Uuid::now_v7();
    let device_token = tokens::generate(tokens::DEVICE_TOKEN_PREFIX);
    tx.execute(
        "INSERT INTO devices (id, workspace_id, name, site_id, token_hash, join_token_hash)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &device_id,
            &workspace_id,
            &device_name,
            &site_id,
            &tokens::hash(&device_token),
            &tokens::hash(join_token),
        ],
    )
    .await?;
    let peers = tx
        .query(
            "SELECT id, name, site_id, created_at::text, last_seen_at::text, revoked_at::text,
                    pushed_db_version, schema_version, clock_offset_ms
             FROM devices
             WHERE join_token_hash = $1 AND id <> $2 AND revoked_at IS NULL
             ORDER BY created_at, id",
            &[&tokens::hash(join_token), &device_id],
        )
        .await?
        .iter()
        .map(device_summary)
        .collect();
    tx.commit().await?;
    Ok(Ok(Joined {
        workspace_id,
        workspace_name,
        device_id,
        device_token,
        peers,
    }))
}

/// The device a bearer token belongs to, revoked or not.
/// On every request: through a cached prepared statement (one round trip, not two).
pub async fn device_by_token(
    client: &impl deadpool_postgres::GenericClient,
    device_token: &str,
) -> Result<Option<Device>, DbError> {
    let statement = client
        .prepare_cached(
            "SELECT id, workspace_id, site_id, revoked_at::text, schema_version, clock_offset_ms
             FROM devices WHERE token_hash = $1",
        )
        .await?;
    let row = client
        .query_opt(&statement, &[&tokens::hash(device_token)])
        .await?;
    Ok(row.map(|row| Device {
        id: row.get(0),
        workspace_id: row.get(1),
        site_id: row.get(2),
        revoked_at: row.get(3),
        schema_version: row.get(4),
        clock_offset_ms: row.get(5),
    }))
}

/// Records how far a device's clock is ahead of the server's.
pub async fn record_clock_offset(
    client: &impl deadpool_postgres::GenericClient,
    device_id: Uuid,
    offset_ms: i64,
) -> Result<(), DbError> {
    let statement = client
        .prepare_cached("UPDATE devices SET clock_offset_ms = $2 WHERE id = $1")
        .await?;
    client
        .execute(&statement, &[&device_id, &offset_ms])
        .await?;
    Ok(())
}

/// Records the local schema version a device sent (only when it changed: a device upgrades
/// rarely, and every request carries the header).
pub async fn record_schema_version(
    client: &impl deadpool_postgres::GenericClient,
    device_id: Uuid,
    schema_version: i32,
) -> Result<(), DbError> {
    let statement = client
        .prepare_cached("UPDATE devices SET schema_version = $2 WHERE id = $1")
        .await?;
    client
        .execute(&statement, &[&device_id, &schema_version])
        .await?;
    Ok(())
}

/// Records a pull: the device was seen now and has been sent everything up to `pulled_seq`.
pub async fn record_pull(
    client: &impl deadpool_postgres::GenericClient,
    device_id: Uuid,
    pulled_seq: i64,
) -> Result<(), DbError> {
    let statement = client
        .prepare_cached("UPDATE devices SET last_seen_at = now(), pulled_seq = $2 WHERE id = $1")
        .await?;
    client
        .execute(&statement, &[&device_id, &pulled_seq])
        .await?;
    Ok(())
}

/// What `/metrics` reports per device.
#[derive(Debug, Clone)]
pub struct DeviceStats {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub last_seen_unix: Option<i64>,
    /// The workspace's head minus the sequence number the device last pulled up to.
    pub lag: i64,
}

/// Every unrevoked device's last seen time and lag.
pub async fn device_stats(client: &impl GenericClient) -> Result<Vec<DeviceStats>, DbError> {
    let rows = client
        .query(
            "SELECT d.id, d.workspace_id, extract(epoch FROM d.last_seen_at)::int8,
                    GREATEST(w.head - d.pulled_seq, 0)
             FROM devices d JOIN workspaces w ON w.id = d.workspace_id
             WHERE d.revoked_at IS NULL
             ORDER BY d.workspace_id, d.id",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| DeviceStats {
            id: row.get(0),
            workspace_id: row.get(1),
            last_seen_unix: row.get(2),
            lag: row.get(3),
        })
        .collect())
}

/// The newest sequence number of each of `workspace_ids` that exists.
pub async fn heads(
    client: &impl GenericClient,
    workspace_ids: &[Uuid],
) -> Result<Vec<(Uuid, i64)>, DbError> {
    let rows = client
        .query(
            "SELECT id, head FROM workspaces WHERE id = ANY($1)",
            &[&workspace_ids],
        )
        .await?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

/// Those of `device_ids` that were revoked.
pub async fn revoked_among(
    client: &impl GenericClient,
    device_ids: &[Uuid],
) -> Result<Vec<Uuid>, DbError> {
    let rows = client
        .query(
            "SELECT id FROM devices WHERE id = ANY($1) AND revoked_at IS NOT NULL",
            &[&device_ids],
        )
        .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// The newest sequence number of a device's workspace, and when the device was revoked, if
/// it was.
pub async fn head_for_device(
    client: &impl GenericClient,
    device_id: Uuid,
) -> Result<(i64, Option<String>), DbError> {
    let row = client
        .query_one(
            "SELECT w.head, d.revoked_at::text
               FROM devices d JOIN workspaces w ON w.id = d.workspace_id
              WHERE d.id = $1",
            &[&device_id],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}

pub async fn list_devices(
    client: &impl GenericClient,
    workspace_id: Uuid,
) -> Result<Vec<DeviceSummary>, DbError> {
    let rows = client
        .query(
            "SELECT id, name, site_id, created_at::text, last_seen_at::text, revoked_at::text,
                    pushed_db_version, schema_version, clock_offset_ms
             FROM devices WHERE workspace_id = $1 ORDER BY created_at, id",
            &[&workspace_id],
        )
        .await?;
    Ok(rows.iter().map(device_summary).collect())
}

/// A device from the columns `id, name, site_id, created_at, last_seen_at, revoked_at,
/// pushed_db_version, schema_version, clock_offset_ms`.
fn device_summary(row: &tokio_postgres::Row) -> DeviceSummary {
    DeviceSummary {
        id: row.get(0),
        name: row.get(1),
        site_id: hex::encode(row.get::<_, Vec<u8>>(2)),
        created_at: row.get(3),
        last_seen_at: row.get(4),
        revoked_at: row.get(5),
        pushed_db_version: row.get(6),
        schema_version: row.get(7),
        clock_offset_ms: row.get(8),
    }
}

/// Revokes a device; `false` when no such (unrevoked) device exists.
pub async fn revoke_device(client: &impl GenericClient, device_id: Uuid) -> Result<bool, DbError> {
    // The NOTIFY tells every server process to close the device's open sockets (delivered on
    // commit, with the revocation).
    let updated = client
        .execute(
            "WITH revoked AS (
                 UPDATE devices SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL
                 RETURNING id)
             SELECT pg_notify($2, $3 || id::text) FROM revoked",
            &[&device_id, &NOTIFY_CHANNEL, &REVOKED_PREFIX],
        )
        .await?;
    Ok(updated == 1)
}
