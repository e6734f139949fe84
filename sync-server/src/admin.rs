//! The admin subcommands: workspaces and devices, straight against the database.

use deadpool_postgres::Pool;
use uuid::Uuid;

use crate::db::{workspaces, DbError};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("not a device id (a UUID): {0}")]
    BadId(String),
    #[error("no workspace with id or name {0:?}")]
    NoSuchWorkspace(String),
    #[error("no such device, or it is already revoked: {0}")]
    NoSuchDevice(Uuid),
}

impl From<deadpool_postgres::PoolError> for AdminError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        AdminError::Db(error.into())
    }
}

/// Creates a workspace; prints its join token alone on stdout (for scripts), the rest on stderr.
pub async fn create_workspace(pool: &Pool, name: &str) -> Result<(), AdminError> {
    let mut client = pool.get().await?;
    let (id, join_token) = workspaces::create_workspace(&mut client, name).await?;
    eprintln!("created workspace {name:?} ({id}); its join token, shown once:");
    println!("{join_token}");
    Ok(())
}

pub async fn list_workspaces(pool: &Pool) -> Result<(), AdminError> {
    let client = pool.get().await?;
    println!("ID\tNAME\tDEVICES\tHEAD\tCREATED");
    for ws in workspaces::list_workspaces(&**client).await? {
        println!(
            "{}\t{}\t{}\t{}\t{}",
            ws.id, ws.name, ws.devices, ws.head, ws.created_at
        );
    }
    Ok(())
}

/// `workspace` is an id or an exact name.
pub async fn list_devices(pool: &Pool, workspace: &str) -> Result<(), AdminError> {
    let client = pool.get().await?;
    let all = workspaces::list_workspaces(&**client).await?;
    let found = all
        .iter()
        .find(|ws| ws.id.to_string() == workspace)
        .or_else(|| all.iter().find(|ws| ws.name == workspace))
        .ok_or_else(|| AdminError::NoSuchWorkspace(workspace.into()))?;
    println!("ID\tNAME\tSITE_ID\tPUSHED_DB_VERSION\tCREATED\tLAST_SEEN\tREVOKED");
    for device in workspaces::list_devices(&**client, found.id).await? {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            device.id,
            device.name,
            device.site_id,
            device.pushed_db_version,
            device.created_at,
            device.last_seen_at.as_deref().unwrap_or("never"),
            device.revoked_at.as_deref().unwrap_or("-"),
        );
    }
    Ok(())
}

pub async fn revoke_device(pool: &Pool, id: &str) -> Result<(), AdminError> {
    let id: Uuid = id.parse().map_err(|_| AdminError::BadId(id.into()))?;
    let client = pool.get().await?;
    if !workspaces::revoke_device(&**client, id).await? {
        return Err(AdminError::NoSuchDevice(id));
    }
    eprintln!("revoked device {id}");
    Ok(())
}
