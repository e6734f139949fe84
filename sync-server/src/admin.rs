//! The admin subcommands: workspaces and devices, straight against the database.

use deadpool_postgres::Pool;
use uuid::Uuid;

use crate::db::join_tokens::{self, NewToken, Revocation, TokenLimits};
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
    #[error(
        "no join token with id {0:?}: give the id `workspace token list` shows (at least 8 hex \
         digits) or the token itself"
    )]
    NoSuchToken(String),
    #[error("{matches} join tokens have ids starting with {id:?}: give more of the id")]
    AmbiguousToken { id: String, matches: usize },
}

impl From<deadpool_postgres::PoolError> for AdminError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        AdminError::Db(error.into())
    }
}

/// Creates a workspace; prints its first join token alone on stdout (for scripts), the rest on
/// stderr.
pub async fn create_workspace(
    pool: &Pool,
    name: &str,
    limits: TokenLimits,
) -> Result<(), AdminError> {
    let mut client = pool.get().await?;
    let (id, token) = workspaces::create_workspace(&mut client, name, limits).await?;
    eprintln!("created workspace {name:?} ({id})");
    print_new_token(&token, limits);
    Ok(())
}

fn print_new_token(token: &NewToken, limits: TokenLimits) {
    eprintln!(
        "join token {} for {} device{}, until {}; shown once:",
        token.id,
        limits.uses,
        if limits.uses == 1 { "" } else { "s" },
        token.expires_at
    );
    println!("{}", token.token);
}

/// A workspace by id or exact name.
async fn find_workspace(
    client: &impl tokio_postgres::GenericClient,
    workspace: &str,
) -> Result<Uuid, AdminError> {
    let all = workspaces::list_workspaces(client).await?;
    all.iter()
        .find(|ws| ws.id.to_string() == workspace)
        .or_else(|| all.iter().find(|ws| ws.name == workspace))
        .map(|ws| ws.id)
        .ok_or_else(|| AdminError::NoSuchWorkspace(workspace.into()))
}

pub async fn create_token(
    pool: &Pool,
    workspace: &str,
    limits: TokenLimits,
) -> Result<(), AdminError> {
    let client = pool.get().await?;
    let id = find_workspace(&**client, workspace).await?;
    let token = join_tokens::create(&**client, id, limits).await?;
    print_new_token(&token, limits);
    Ok(())
}

pub async fn list_tokens(pool: &Pool, workspace: &str) -> Result<(), AdminError> {
    let client = pool.get().await?;
    let id = find_workspace(&**client, workspace).await?;
    println!("ID\tSTATUS\tUSES_LEFT\tEXPIRES\tCREATED\tUSED_BY");
    for token in join_tokens::list(&**client, id).await? {
        let uses_left = match (token.uses_left, token.max_uses) {
            (Some(left), Some(max)) => format!("{left} of {max}"),
            _ => "unlimited".into(),
        };
        let used_by = if token.used_by.is_empty() {
            "-".to_string()
        } else {
            token.used_by.join(", ")
        };
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            token.id,
            token.status(),
            uses_left,
            token.expires_at.as_deref().unwrap_or("never"),
            token.created_at,
            used_by,
        );
    }
    Ok(())
}

pub async fn revoke_token(pool: &Pool, id: &str) -> Result<(), AdminError> {
    let client = pool.get().await?;
    match join_tokens::revoke(&**client, id).await? {
        Revocation::Done { id } => eprintln!("revoked join token {id}"),
        Revocation::WasRevoked { id } => eprintln!("join token {id} was already revoked"),
        Revocation::NoSuchToken => return Err(AdminError::NoSuchToken(id.into())),
        Revocation::Ambiguous { matches } => {
            return Err(AdminError::AmbiguousToken {
                id: id.into(),
                matches,
            })
        }
    }
    Ok(())
}

/// Says once, at start-up, that tokens from before limits are still valid.
pub async fn warn_of_unlimited_tokens(pool: &Pool) -> Result<(), AdminError> {
    let client = pool.get().await?;
    let count = join_tokens::unlimited_count(&**client).await?;
    if count > 0 {
        tracing::warn!(
            "{count} join token{} from before token limits still admit any number of devices, \
             forever; list them with `flightdeck-sync-server workspace token list WORKSPACE` \
             and revoke them with `workspace token revoke ID`",
            if count == 1 { "" } else { "s" }
        );
    }
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
    let workspace_id = find_workspace(&**client, workspace).await?;
    println!("ID\tNAME\tSITE_ID\tPUSHED_DB_VERSION\tCREATED\tLAST_SEEN\tREVOKED");
    for device in workspaces::list_devices(&**client, workspace_id).await? {
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
