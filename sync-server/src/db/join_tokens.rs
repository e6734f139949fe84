//! Join tokens with limits: a token admits at most `max_uses` devices and only until it
//! expires or is revoked (Tailscale's auth keys are the model). Tokens made before limits
//! existed have none and keep working until revoked.

use tokio_postgres::GenericClient;
use uuid::Uuid;

use super::DbError;
use crate::tokens;

/// How many devices a token admits and for how long. The defaults (one device, 24 hours)
/// are what `workspace create` and `workspace token create` use unless told otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLimits {
    pub uses: i32,
    pub expires_in_secs: i64,
}

impl Default for TokenLimits {
    fn default() -> Self {
        TokenLimits {
            uses: 1,
            expires_in_secs: 24 * 3600,
        }
    }
}

/// The longest a token may stay valid: a year.
pub const MAX_EXPIRY_SECS: i64 = 365 * 24 * 3600;

/// How many hex digits of a token's hash name it in listings and `token revoke`.
pub const TOKEN_ID_HEX: usize = 12;

/// A fresh token, returned once: only its hash is kept.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub token: String,
    pub id: String,
    pub expires_at: String,
}

/// One token as `workspace token list` shows it.
#[derive(Debug, Clone)]
pub struct TokenSummary {
    /// The first [`TOKEN_ID_HEX`] hex digits of the token's hash.
    pub id: String,
    pub created_at: String,
    /// `None` for a token from before limits: any number of devices.
    pub max_uses: Option<i32>,
    pub uses_left: Option<i32>,
    /// `None` for a token from before limits: never.
    pub expires_at: Option<String>,
    pub expired: bool,
    pub revoked_at: Option<String>,
    pub revoked: bool,
    /// The names of the devices that joined with it.
    pub used_by: Vec<String>,
}

impl TokenSummary {
    pub fn status(&self) -> String {
        if self.revoked {
            match &self.revoked_at {
                Some(at) => format!("revoked {at}"),
                None => "revoked".into(),
            }
        } else if self.expired {
            "expired".into()
        } else if self.uses_left == Some(0) {
            "used up".into()
        } else if self.max_uses.is_none() {
            "active (no limits)".into()
        } else {
            "active".into()
        }
    }
}

/// Why a join token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Unknown,
    Revoked { at: String },
    Expired { at: String },
    UsedUp { uses: i32 },
}

/// Creates a token for `workspace_id` in `client`'s transaction (or on its own).
pub async fn create(
    client: &impl GenericClient,
    workspace_id: Uuid,
    limits: TokenLimits,
) -> Result<NewToken, DbError> {
    let token = tokens::generate(tokens::JOIN_TOKEN_PREFIX);
    let hash = tokens::hash(&token);
    let row = client
        .query_one(
            "INSERT INTO join_tokens (hash, workspace_id, max_uses, uses_left, expires_at)
             VALUES ($1, $2, $3, $3, now() + make_interval(secs => $4::int8::float8))
             RETURNING to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"')",
            &[&hash, &workspace_id, &limits.uses, &limits.expires_in_secs],
        )
        .await?;
    Ok(NewToken {
        id: hex::encode(&hash)[..TOKEN_ID_HEX].to_string(),
        token,
        expires_at: row.get(0),
    })
}

/// Takes one use of `join_token`: the workspace's id and name, or why it was refused. Run it
/// in the transaction that registers the device, so a refused or failed join uses nothing.
/// Two joins racing for a token's last use serialize on its row: one wins, the other is
/// refused as used up.
pub async fn redeem(
    client: &impl GenericClient,
    join_token: &str,
) -> Result<Result<(Uuid, String), Refusal>, DbError> {
    let hash = tokens::hash(join_token);
    let redeemed = client
        .query_opt(
            "WITH redeemed AS (
                 UPDATE join_tokens SET uses_left = uses_left - 1
                 WHERE hash = $1 AND NOT revoked
                   AND (expires_at IS NULL OR expires_at > now())
                   AND (uses_left IS NULL OR uses_left > 0)
                 RETURNING workspace_id)
             SELECT w.id, w.name FROM redeemed r JOIN workspaces w ON w.id = r.workspace_id",
            &[&hash],
        )
        .await?;
    if let Some(row) = redeemed {
        return Ok(Ok((row.get(0), row.get(1))));
    }
    let Some(row) = client
        .query_opt(
            "SELECT revoked, revoked_at::text, expires_at <= now(), expires_at::text, max_uses
             FROM join_tokens WHERE hash = $1",
            &[&hash],
        )
        .await?
    else {
        return Ok(Err(Refusal::Unknown));
    };
    let unknown_time = || "an unknown time".to_string();
    Ok(Err(if row.get(0) {
        Refusal::Revoked {
            at: row.get::<_, Option<String>>(1).unwrap_or_else(unknown_time),
        }
    } else if row.get::<_, Option<bool>>(2) == Some(true) {
        Refusal::Expired {
            at: row.get::<_, Option<String>>(3).unwrap_or_else(unknown_time),
        }
    } else {
        Refusal::UsedUp {
            uses: row.get::<_, Option<i32>>(4).unwrap_or(0),
        }
    }))
}

/// A workspace's tokens, oldest first, with the devices that joined with each.
pub async fn list(
    client: &impl GenericClient,
    workspace_id: Uuid,
) -> Result<Vec<TokenSummary>, DbError> {
    let rows = client
        .query(
            "SELECT t.hash, t.created_at::text, t.max_uses, t.uses_left, t.expires_at::text,
                    COALESCE(t.expires_at <= now(), false), t.revoked_at::text, t.revoked,
                    COALESCE(array_agg(d.name ORDER BY d.created_at)
                             FILTER (WHERE d.id IS NOT NULL), '{}')
             FROM join_tokens t LEFT JOIN devices d ON d.join_token_hash = t.hash
             WHERE t.workspace_id = $1
             GROUP BY t.hash
             ORDER BY t.created_at, t.hash",
            &[&workspace_id],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| TokenSummary {
            id: hex::encode(row.get::<_, &[u8]>(0))[..TOKEN_ID_HEX].to_string(),
            created_at: row.get(1),
            max_uses: row.get(2),
            uses_left: row.get(3),
            expires_at: row.get(4),
            expired: row.get(5),
            revoked_at: row.get(6),
            revoked: row.get(7),
            used_by: row.get(8),
        })
        .collect())
}

/// What `revoke` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    Done { id: String },
    WasRevoked { id: String },
    NoSuchToken,
    Ambiguous { matches: usize },
}

/// Revokes a token named by the id `token list` shows (a prefix of its hash, at least 8 hex
/// digits) or by the token itself.
pub async fn revoke(client: &impl GenericClient, id_or_token: &str) -> Result<Revocation, DbError> {
    let pattern = if id_or_token.starts_with(tokens::JOIN_TOKEN_PREFIX) {
        hex::encode(tokens::hash(id_or_token))
    } else {
        id_or_token.to_ascii_lowercase()
    };
    if pattern.len() < 8 || !pattern.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(Revocation::NoSuchToken);
    }
    let rows = client
        .query(
            "SELECT hash, revoked FROM join_tokens WHERE encode(hash, 'hex') LIKE $1 || '%'",
            &[&pattern],
        )
        .await?;
    let [row] = rows.as_slice() else {
        return Ok(match rows.len() {
            0 => Revocation::NoSuchToken,
            matches => Revocation::Ambiguous { matches },
        });
    };
    let hash: Vec<u8> = row.get(0);
    let id = hex::encode(&hash)[..TOKEN_ID_HEX].to_string();
    if row.get(1) {
        return Ok(Revocation::WasRevoked { id });
    }
    client
        .execute(
            "UPDATE join_tokens SET revoked = true, revoked_at = now() WHERE hash = $1",
            &[&hash],
        )
        .await?;
    Ok(Revocation::Done { id })
}

/// How many unrevoked tokens have no limits (made before limits existed).
pub async fn unlimited_count(client: &impl GenericClient) -> Result<i64, DbError> {
    let row = client
        .query_one(
            "SELECT count(*) FROM join_tokens
             WHERE NOT revoked AND max_uses IS NULL AND expires_at IS NULL",
            &[],
        )
        .await?;
    Ok(row.get(0))
}
