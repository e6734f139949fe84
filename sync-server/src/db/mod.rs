//! Postgres access: the pool, migrations, workspaces/devices, join tokens and the cell store.

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};

pub mod cell_blob;
pub mod cells;
pub mod epoch;
pub mod join_tokens;
pub mod migrate;
pub mod workspaces;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {}", describe(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("no database connection: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("database schema: {0}")]
    Schema(String),
    #[error("invalid database url: {0}")]
    Url(String),
}

/// The database's own reason: tokio-postgres' Display says only "db error" for an error the
/// server reported, so the log would not say what failed.
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => {
            let mut text = format!("{} ({}): {}", db.severity(), db.code().code(), db.message());
            if let Some(detail) = db.detail() {
                text.push_str(&format!("; {detail}"));
            }
            if let Some(constraint) = db.constraint() {
                text.push_str(&format!(" [constraint {constraint}]"));
            }
            text
        }
        None => error.to_string(),
    }
}

/// Connections a server process keeps at most.
const POOL_SIZE: usize = 16;

/// A pool over `url` (a `postgres://` URL or `key=value` string). Connects lazily.
pub fn pool(url: &str) -> Result<Pool, DbError> {
    let config: tokio_postgres::Config = url
        .parse()
        .map_err(|error: tokio_postgres::Error| DbError::Url(error.to_string()))?;
    let manager = Manager::from_config(
        config,
        tokio_postgres::NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(POOL_SIZE)
        .build()
        .map_err(|error| DbError::Url(error.to_string()))
}

/// A pool over a migrated database: what `serve` and the admin commands start from.
pub async fn connect_and_migrate(url: &str) -> Result<Pool, DbError> {
    let pool = pool(url)?;
    let mut client = pool.get().await?;
    migrate::migrate(&mut client).await?;
    Ok(pool)
}
