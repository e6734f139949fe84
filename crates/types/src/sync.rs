//! The sync wire protocol (`/v1`), shared by the client engine and the sync server.
//!
//! A change is one cell of cr-sqlite's `crsql_changes`: one column of one row at one version.
//! Binary fields (packed primary keys, site ids, blob values) travel as lower-case hex.
//! `docs/sync-protocol.md` describes the protocol for other clients; the server's
//! `/v1/openapi.json` carries the same field descriptions.
//!
//! Two counters must not be confused: `db_version` is the origin device's transaction counter
//! (the client's push cursor), the *server sequence number* numbers each push that changed
//! the server's state (`PushResponse::seq`, `PullResponse::next`, the pull cursor).

use serde::{Deserialize, Serialize};

/// Sent with every request; a server answers a different version with 400
/// `protocol_mismatch` naming both versions.
pub const PROTOCOL_VERSION: u32 = 1;

/// The HTTP header that carries [`PROTOCOL_VERSION`].
pub const PROTOCOL_HEADER: &str = "x-flightdeck-protocol";

/// The HTTP header with the client's local schema version (its newest applied local
/// migration), sent with every request; the server records it per device. Absent: an older
/// client, still served.
pub const SCHEMA_HEADER: &str = "x-flightdeck-schema";

/// The HTTP response header with the server epoch: an id of the server database's history
/// that changes when the database is replaced or restored from a dump. A device that sees
/// it change (or whose pull cursor is refused as `cursor_ahead`) re-synchronises.
pub const EPOCH_HEADER: &str = "x-flightdeck-server-epoch";

/// The HTTP response header with the server's wall clock when it answered, in Unix
/// milliseconds: how a device learns how far its own clock is off.
pub const SERVER_TIME_HEADER: &str = "x-flightdeck-server-time";

/// The HTTP request header with the device's wall clock when it sent the request, in Unix
/// milliseconds: how the server learns, and tells the other devices, whose clock is off.
pub const CLIENT_TIME_HEADER: &str = "x-flightdeck-client-time";

/// The largest column version a Flightdeck device writes, relative to the wall clock, is its
/// hybrid logical clock: Unix milliseconds shifted left by this many bits, plus a counter.
pub const CLOCK_LOGICAL_BITS: u32 = 16;

/// How far ahead of the server's clock a cell's column version may be (by its milliseconds)
/// before a push is refused as `clock_ahead`, and how far off a device's clock may be before
/// the device stamps its writes with the server's time instead: 5 minutes, the default of
/// `flightdeck-sync-server serve --max-clock-offset`.
pub const DEFAULT_MAX_CLOCK_OFFSET_MS: i64 = 5 * 60 * 1000;

/// A clock offset of `ms` milliseconds (its size; the sign is the caller's to say), to the
/// nearest second: "1 h 0 min", "5 min 0 s", "12 s". The server's `clock_ahead` refusal and a
/// device's `sync status` say offsets this way.
pub fn clock_span(ms: i64) -> String {
    let secs = (ms.unsigned_abs() + 500) / 1000;
    match secs {
        s if s >= 3600 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{s} s"),
    }
}

/// One device of the workspace, as `GET /v1/devices` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub device_id: String,
    pub name: String,
    /// Its cr-sqlite site id, hex (the `site_id` of the changes it makes).
    pub site_id: String,
    /// The local schema version it last sent, if it ever did.
    pub schema_version: Option<i64>,
    pub last_seen_at: Option<String>,
    pub revoked: bool,
    /// How far its clock was ahead of the server's when it last said (milliseconds;
    /// negative: behind), if it ever did.
    #[serde(default)]
    pub clock_offset_ms: Option<i64>,
}

/// `GET /v1/devices`: the devices of the caller's workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevicesResponse {
    pub devices: Vec<DeviceInfo>,
}

/// `POST /v1/leave`: the calling device left its workspace; its token is revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaveResponse {
    pub device_id: String,
}

/// A SQLite value, tagged so that text and blobs stay apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum WireValue {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    /// Hex.
    Blob(String),
}

/// One row of `crsql_changes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireChange {
    /// The CRR table; every peer needs the same CRR schema.
    pub table: String,
    /// The primary key as cr-sqlite packs it (`crsql_pack_columns` over the key columns in
    /// key order), hex.
    pub pk: String,
    /// Column name, or `-1` for the row's existence (create/delete sentinel).
    pub cid: String,
    /// The column's value at this version (null for `-1`).
    pub val: WireValue,
    /// The cell's version: 1 when first written, one more per local write; for `-1`, the
    /// causal length. At equal `cl` the higher one wins, then the larger value.
    pub col_version: i64,
    /// The origin device's `crsql_db_version()` of the transaction that wrote the cell (not a
    /// server number).
    pub db_version: i64,
    /// The 16-byte site id of the device that made the change, hex.
    pub site_id: String,
    /// Causal length: odd while the row exists, even once deleted.
    pub cl: i64,
    /// The cell's position within its transaction on the origin device
    /// (`crsql_changes.seq`), not the server's sequence number.
    pub seq: i64,
}

/// `POST /v1/join`: trade a workspace join token for this device's own token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRequest {
    pub join_token: String,
    /// A name for people to recognise the device by (e.g. the host name).
    pub device_name: String,
    /// The device's cr-sqlite site id, hex.
    pub site_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinResponse {
    /// A UUID.
    pub workspace_id: String,
    pub workspace_name: String,
    /// This device's id on the server (a UUID), as `device list` shows it.
    pub device_id: String,
    /// The bearer token of every other `/v1` request. Shown once; the server keeps only its
    /// hash.
    pub device_token: String,
    /// The other devices that joined with the same join token (unrevoked): usually the same
    /// person's, whom the joining device may choose to trust. Absent from older servers.
    #[serde(default)]
    pub peers: Vec<DeviceInfo>,
}

/// The largest request body the server accepts; larger ones are refused with 413.
pub const MAX_REQUEST_BYTES: usize = 8 * 1024 * 1024;

/// `POST /v1/push`: whole local transactions, except one too large for a single request,
/// which the client sends in consecutive requests, cut between cells (see
/// `flightdeck_core::sync::push_bodies`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushRequest {
    pub changes: Vec<WireChange>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResponse {
    /// The highest `db_version` of this push (of an empty push, the highest this device ever
    /// pushed): the client may advance its push cursor to it,
    /// unless the push was a part of a transaction whose other parts are still to be sent.
    pub acknowledged_db_version: i64,
    /// The server sequence number this push was given, or `None` when it changed nothing
    /// (a repeated push, or every cell lost the merge).
    pub seq: Option<i64>,
    /// The workspace's newest server sequence number.
    pub head: i64,
}

/// `GET /v1/pull?after=SEQ&limit=N`: the current winning cells changed after `after`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullResponse {
    /// The current winning cells of every row changed after `after` (all of such a row's cells,
    /// those written before `after` too), in whole server sequence numbers.
    pub changes: Vec<WireChange>,
    /// The highest server sequence number in the page (`after` when empty): the cursor to ask
    /// with next, to store only once `changes` are applied, in the same local transaction.
    pub next: i64,
    /// The workspace's newest sequence number; `next < head` means more pages wait.
    pub head: i64,
}

/// What the WebSocket `/v1/ws` announces: a new sequence number in the workspace, and for a
/// small push, the cells it wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Announcement {
    /// The workspace's newest server sequence number: pull when it is above the pull cursor.
    pub head: i64,
    /// With `changes`: the sequence number just before `head`. A client whose pull cursor is
    /// exactly `after` may apply `changes` as the pull page `(after, head]` and move its
    /// cursor to `head` without pulling; any other client pulls as usual.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<i64>,
    /// The cells the push numbered `head` wrote, in pull order (a pull of that sequence returns
    /// them with the rest of their rows' cells, which a client at `after` holds), when they are
    /// few and small (at most [`MAX_ANNOUNCED_CELLS`] cells and [`MAX_ANNOUNCED_BYTES`] of
    /// JSON); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<Vec<WireChange>>,
}

impl Announcement {
    /// An announcement of `head` alone.
    pub fn head(head: i64) -> Self {
        Self {
            head,
            after: None,
            changes: None,
        }
    }
}

/// The most cells an announcement carries; a larger push is announced by its head alone.
pub const MAX_ANNOUNCED_CELLS: usize = 64;
/// The most bytes of JSON an announcement with cells may take.
pub const MAX_ANNOUNCED_BYTES: usize = 32 * 1024;

/// Every error body of the server: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable and machine-readable (`unauthorized`, `protocol_mismatch`, ...).
    pub code: String,
    /// For people; not to be parsed.
    pub message: String,
}
