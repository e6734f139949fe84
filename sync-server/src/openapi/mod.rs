//! `GET /v1/openapi.json`: the API described in OpenAPI 3.0, written by hand next to the
//! handlers (the schemas in `schemas.rs`). Tests check that it names exactly the routes the
//! router serves and that every schema property and parameter is described;
//! docs/sync-protocol.md is the prose beside it.

use axum::routing::get;
use axum::{Json, Router};
use flightdeck_types::sync::{
    CLIENT_TIME_HEADER, PROTOCOL_HEADER, PROTOCOL_VERSION, SCHEMA_HEADER,
};
use serde_json::{json, Value};

use crate::app::{AppState, MAX_BODY_BYTES};

mod schemas;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/openapi.json", get(|| async { Json(document()) }))
}

fn schema(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn json_body(name: &str, description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": schema(name) } },
    })
}

fn error(description: &str) -> Value {
    json_body("ErrorBody", description)
}

/// The errors every authenticated `/v1` route may answer.
fn device_errors() -> Value {
    json!({
        "400": error("protocol_mismatch (the protocol header names another version), bad_request"),
        "401": error("unauthorized: missing or unknown device token"),
        "403": error("device_revoked"),
        "503": error("unavailable: no database connection"),
    })
}

fn merge(mut base: Value, extra: Value) -> Value {
    if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
        base.extend(extra);
    }
    base
}

/// The whole document.
pub fn document() -> Value {
    let bearer = json!([{ "deviceToken": [] }]);
    let protocol = json!({
        "name": PROTOCOL_HEADER, "in": "header", "required": false,
        "description": format!("The client's protocol version; this server speaks {PROTOCOL_VERSION}. \
                        Another version is refused with 400 protocol_mismatch."),
        "schema": { "type": "integer", "example": PROTOCOL_VERSION },
    });
    let schema_header = json!({
        "name": SCHEMA_HEADER, "in": "header", "required": false,
        "description": "The client's local schema version (its newest applied local \
                        migration); recorded per device and listed by /v1/devices. Absent: an \
                        older client, still served.",
        "schema": { "type": "integer" },
    });
    let client_time = json!({
        "name": CLIENT_TIME_HEADER, "in": "header", "required": false,
        "description": "The client's wall clock when it sent the request, in Unix \
                        milliseconds: the server records how far the device's clock is off \
                        (when that moved by more than a second) and lists it by /v1/devices \
                        (clock_offset_ms), so that devices can say whose clock is off. Absent: \
                        nothing recorded.",
        "schema": { "type": "integer", "format": "int64" },
    });
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Flightdeck sync server",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!("Relays and compacts cr-sqlite change sets between a workspace's \
                devices. Every error body is {{\"error\": {{\"code\", \"message\"}}}}. Request \
                bodies over {MAX_BODY_BYTES} bytes are refused with 413. Peers need cr-sqlite \
                0.16.x and the same CRR schema (the same tables, primary keys and columns). Two \
                counters: db_version is a device's own transaction counter (the push cursor); \
                the server sequence number numbers each push that changed the workspace \
                (PushResponse.seq, the after parameter, PullResponse.next: the pull cursor). \
                Store next as the pull cursor only once its page is applied, in the same local \
                transaction; move the push cursor to acknowledged_db_version. The prose, the \
                merge rule, the packed key format and a worked push and pull are in \
                docs/sync-protocol.md of the Flightdeck repository. Every response carries the \
                header x-flightdeck-server-epoch: an id of the database's history that changes \
                when the server's database is replaced or restored from a dump; a client that \
                sees it change must pull again from 0 and push all its changes again. Every \
                response also carries x-flightdeck-server-time: the server's wall clock when it \
                answered, in Unix milliseconds, from which a device learns how far its own \
                clock is off (column versions are hybrid logical clocks: see WireChange.\
                col_version)."),
        },
        "paths": {
            "/v1/join": { "post": {
                "summary": "Trade a workspace join token for this device's own token",
                "parameters": [protocol],
                "requestBody": merge(json_body("JoinRequest", "The join token and the device"), json!({"required": true})),
                "responses": {
                    "200": json_body("JoinResponse", "The device token, shown once"),
                    "400": error("invalid_json, bad_request (site_id, device_name), protocol_mismatch"),
                    "401": error("unauthorized: unknown join token; join_token_expired, join_token_used_up, join_token_revoked: the token expired, admitted as many devices as it allows, or was revoked (the message says when); ask the server's admin for a new one"),
                    "413": error("payload_too_large"),
                    "415": error("unsupported_media_type"),
                    "503": error("unavailable"),
                },
            }},
            "/v1/push": { "post": {
                "summary": "Push this device's own changes, whole db_versions at a time (one db_version too large for a request comes in consecutive parts)",
                "security": bearer,
                "parameters": [protocol, schema_header, client_time],
                "requestBody": merge(json_body("PushRequest", "Changes sorted by db_version"), json!({"required": true})),
                "responses": merge(device_errors(), json!({
                    "200": json_body("PushResponse", "Acknowledged; seq is null when nothing changed"),
                    "403": error("device_revoked, site_id_mismatch (a change of another site)"),
                    "409": error("clock_ahead: a cell's col_version, read as a hybrid logical clock (its milliseconds are col_version >> 16), is further ahead of the server's clock than it allows (serve --max-clock-offset, 5 minutes by default): the device's clock is wrong; stamp the unpushed cells with the server's time (x-flightdeck-server-time) and push again. Nothing of the request was stored"),
                    "413": error("payload_too_large"),
                    "415": error("unsupported_media_type"),
                })),
            }},
            "/v1/pull": { "get": {
                "summary": "The winning cells of the rows changed after a sequence number, in whole sequences",
                "security": bearer,
                "parameters": [
                    protocol,
                    schema_header,
                    client_time,
                    { "name": "after", "in": "query", "required": false,
                      "description": "The pull cursor: the server sequence number this device has applied up to (the `next` of its last applied page; 0 for everything)",
                      "schema": { "type": "integer", "format": "int64", "minimum": 0, "default": 0 } },
                    { "name": "limit", "in": "query", "required": false,
                      "description": "Cells per page (a page may exceed it to end a sequence)",
                      "schema": { "type": "integer", "format": "int64", "minimum": 1, "maximum": 10000, "default": 1000 } },
                ],
                "responses": merge(device_errors(), json!({
                    "200": json_body("PullResponse", "A page; next < head means more pages wait"),
                    "409": error("cursor_ahead: `after` is beyond the workspace's head, so the server lost changes it had acknowledged (restored from an older backup); pull again from 0 and push every local change again"),
                })),
            }},
            "/v1/devices": { "get": {
                "summary": "The devices of the caller's workspace, with the local schema version each last sent",
                "security": bearer,
                "parameters": [protocol, schema_header, client_time],
                "responses": merge(device_errors(), json!({
                    "200": json_body("DevicesResponse", "Every device of the workspace, revoked ones too"),
                })),
            }},
            "/v1/leave": { "post": {
                "summary": "The calling device leaves its workspace",
                "description": "Revokes the caller's device token (as the admin command `device \
                    revoke` does) and closes its open sockets: every later request with the \
                    token is refused with 403 device_revoked. The workspace's data and its other \
                    devices are untouched; the device may join again with a join token \
                    (`flightdeck sync leave` calls this, then forgets the server locally).",
                "security": bearer,
                "parameters": [protocol, schema_header, client_time],
                "responses": merge(device_errors(), json!({
                    "200": json_body("LeaveResponse", "The device left; its token no longer works"),
                })),
            }},
            "/v1/ws": { "get": {
                "summary": "WebSocket announcing the workspace's head",
                "description": "Authenticated before the upgrade, by the Authorization header or \
                    the token query parameter. After the upgrade the server sends text frames \
                    {\"head\": N} (schema Announcement): the current head at once, then every \
                    newer head (intermediate heads may be skipped for a slow socket, never the \
                    newest). The announcement of a small push (at most 64 cells, 32 KiB) also \
                    carries its cells and the head before it (`after`): a client whose pull \
                    cursor equals `after` applies them instead of pulling. The server pings every 20 s and closes a socket silent for 40 s. \
                    Frames from the client are ignored; a close frame ends the socket. \
                    Revoking the device closes its open sockets with code 4403.",
                "security": [{ "deviceToken": [] }, { "deviceTokenQuery": [] }],
                "parameters": [
                    protocol,
                    { "name": "Upgrade", "in": "header", "required": true, "description": "A WebSocket handshake (RFC 6455); anything else is refused with 426", "schema": { "type": "string", "enum": ["websocket"] } },
                ],
                "responses": merge(device_errors(), json!({
                    "101": {
                        "description": "Switching protocols; then Announcement text frames",
                        "content": { "application/json": { "schema": schema("Announcement") } },
                    },
                    "426": error("upgrade_required: not a WebSocket handshake"),
                })),
            }},
            "/v1/openapi.json": { "get": {
                "summary": "This document",
                "responses": { "200": { "description": "OpenAPI 3.0", "content": { "application/json": { "schema": { "type": "object" } } } } },
            }},
            "/healthz": { "get": {
                "summary": "The process is up",
                "responses": { "200": json_body("Health", "status ok") },
            }},
            "/readyz": { "get": {
                "summary": "The process is up and its database answers",
                "responses": {
                    "200": json_body("Health", "status ready"),
                    "503": error("unavailable: database not reachable"),
                },
            }},
            "/metrics": { "get": {
                "summary": "Prometheus text exposition",
                "description": "flightdeck_sync_pushes_total, flightdeck_sync_cells_in_total, \
                    flightdeck_sync_cells_out_total, flightdeck_sync_pulls_total, \
                    flightdeck_sync_announcements_total (counters of this process); \
                    flightdeck_sync_connected_sockets (gauge of this process); \
                    flightdeck_sync_device_last_seen_seconds and flightdeck_sync_device_lag \
                    (gauges per unrevoked device, labels workspace and device, from the database); \
                    flightdeck_sync_request_duration_seconds (histogram of this process, labels \
                    method, route (the route's pattern) and status; requests no route matched \
                    are not timed).",
                "responses": {
                    "200": { "description": "Metrics", "content": { "text/plain": { "schema": { "type": "string" } } } },
                    "503": error("unavailable"),
                },
            }},
        },
        "components": {
            "securitySchemes": {
                "deviceToken": { "type": "http", "scheme": "bearer", "description": "The device token from /v1/join" },
                "deviceTokenQuery": { "type": "apiKey", "in": "query", "name": "token", "description": "The device token, for /v1/ws clients that cannot set headers" },
            },
            "schemas": schemas::schemas(),
        },
    })
}

#[cfg(test)]
mod tests;
