//! The document's `components.schemas`: every wire type, every field described. A field is
//! one `field(...)` entry in its object's list (docs/sync-protocol.md says more).

use serde_json::{json, Value};

use super::schema;

/// One property of an object schema.
struct Field {
    name: &'static str,
    schema: Value,
    description: &'static str,
    required: bool,
}

/// A required property.
fn field(name: &'static str, schema: Value, description: &'static str) -> Field {
    Field {
        name,
        schema,
        description,
        required: true,
    }
}

/// A property that may be absent.
fn optional(name: &'static str, schema: Value, description: &'static str) -> Field {
    Field {
        required: false,
        ..field(name, schema, description)
    }
}

/// An object schema from its fields, in order.
fn object(description: &str, fields: Vec<Field>) -> Value {
    let mut properties = serde_json::Map::new();
    let mut required = Vec::new();
    for Field {
        name,
        mut schema,
        description,
        required: is_required,
    } in fields
    {
        // OpenAPI 3.0 ignores a description beside `$ref`, so a reference is wrapped.
        if schema.get("$ref").is_some() {
            schema = json!({ "allOf": [schema] });
        }
        schema["description"] = json!(description);
        properties.insert(name.to_owned(), schema);
        if is_required {
            required.push(name);
        }
    }
    json!({ "type": "object", "description": description, "properties": properties, "required": required })
}

fn int64() -> Value {
    json!({ "type": "integer", "format": "int64" })
}

fn string() -> Value {
    json!({ "type": "string" })
}

fn hex() -> Value {
    json!({ "type": "string", "pattern": "^([0-9a-f]{2})*$" })
}

fn site_id() -> Value {
    json!({ "type": "string", "pattern": "^[0-9a-f]{32}$" })
}

fn array_of(name: &str) -> Value {
    json!({ "type": "array", "items": schema(name) })
}

/// One variant of `WireValue`: `{"type": kind}` plus `value` unless the kind is null.
fn tagged(kind: &'static str, value: Option<(Value, &'static str)>) -> Value {
    let mut fields = vec![field(
        "type",
        json!({ "type": "string", "enum": [kind] }),
        "The SQLite storage class of the value.",
    )];
    if let Some((schema, description)) = value {
        fields.push(field("value", schema, description));
    }
    object(&format!("A SQLite {kind} value."), fields)
}

pub fn schemas() -> Value {
    json!({
        "WireValue": {
            "description": "A SQLite value, tagged with its storage class so that text and \
                blobs stay apart: {\"type\": \"null\"}, {\"type\": \"integer\", \"value\": 7}, \
                {\"type\": \"real\", \"value\": 1.5}, {\"type\": \"text\", \"value\": \"milk\"}, \
                {\"type\": \"blob\", \"value\": \"00ff\"}.",
            "oneOf": [
                tagged("null", None),
                tagged("integer", Some((int64(), "A signed 64-bit integer."))),
                tagged("real", Some((json!({ "type": "number", "format": "double" }),
                    "A finite IEEE 754 double."))),
                tagged("text", Some((string(), "UTF-8 text."))),
                tagged("blob", Some((hex(), "The bytes, lower-case hex."))),
            ],
        },
        "WireChange": object(
            "One cell: one row of cr-sqlite 0.16's crsql_changes virtual table (one column of \
             one row at one version). Insert it back with INSERT INTO crsql_changes (\"table\", \
             pk, cid, val, col_version, db_version, site_id, cl, seq) VALUES (...).",
            vec![
                field("table", string(), "The CRR table, e.g. tasks. Every peer must have the \
                    same CRR schema (docs/sync-protocol.md lists the tables)."),
                field("pk", hex(), "The row's primary key as cr-sqlite packs it \
                    (crsql_pack_columns over the primary-key columns in key order), lower-case \
                    hex. The byte format is in docs/sync-protocol.md."),
                field("cid", string(), "The column name, or \"-1\" for the row's existence \
                    cell (the sentinel that records its create, delete or resurrection; its \
                    val is null)."),
                field("val", schema("WireValue"), "The column's value at this version (null \
                    for the \"-1\" existence cell)."),
                field("col_version", int64(), "The cell's version. Flightdeck sets it to the \
                    hybrid logical clock of the write (Unix milliseconds shifted left 16 bits, \
                    plus a counter shifted left 8 bits, plus the first byte of the writer's \
                    site id; never below the cell's previous version + 1), so that the \
                    later write wins; a plain cr-sqlite peer's write (the previous version + 1) \
                    is valid too. For the \"-1\" cell it equals the causal length. Within an \
                    equal cl the higher col_version wins, then the larger value."),
                field("db_version", int64(), "The origin device's database version \
                    (crsql_db_version()) of the transaction that wrote the cell. With site_id \
                    it names that transaction; a push is sorted by it. Not a server number."),
                field("site_id", site_id(), "The 16-byte cr-sqlite site id (crsql_site_id()) \
                    of the device that made the change, 32 lower-case hex digits. A push may \
                    carry only the pushing device's own site id."),
                field("cl", int64(), "The row's causal length: 1 when created, even once \
                    deleted, odd again when re-created. A higher cl wins over any column \
                    version."),
                field("seq", int64(), "The cell's position within its transaction on the \
                    origin device (crsql_changes.seq, from 0). Not the server's sequence \
                    number (that is PushResponse.seq, PullResponse.next and the after \
                    parameter); the server stores and returns it unchanged."),
            ],
        ),
        "JoinRequest": object("POST /v1/join: a device asks to join a workspace.", vec![
            field("join_token", string(), "A join token of the workspace (fdj_...), printed \
                by `flightdeck-sync-server workspace create` or `workspace token create`. It \
                admits a set number of devices (one by default) until it expires (24 hours by \
                default) or is revoked."),
            field("device_name", string(), "A name for people to recognise the device by \
                (1 to 200 characters after trimming, no NUL)."),
            field("site_id", site_id(), "The device's cr-sqlite site id (SELECT \
                lower(hex(crsql_site_id()))): the only site id its pushes may carry."),
        ]),
        "JoinResponse": object("The device's identity on this server.", vec![
            field("workspace_id", string(), "The workspace's id (a UUID)."),
            field("workspace_name", string(), "The workspace's name."),
            field("device_id", string(), "This device's id (a UUID), as `device list` \
                and `device revoke` name it."),
            field("device_token", string(), "The device token (fdd_...), sent as \
                `Authorization: Bearer <token>` on every other /v1 request. Shown once: the \
                server keeps only its hash."),
            field("peers", array_of("DeviceInfo"), "The other unrevoked devices that joined \
                with the same join token, oldest first: usually the same person's devices, \
                which the joining device may offer to trust. Empty for a fresh token; older \
                servers leave it out."),
        ]),
        "PushRequest": object("POST /v1/push: this device's own changes.", vec![
            field("changes", array_of("WireChange"), "Cells of this device's site id, \
                sorted by db_version (then seq), whole transactions: every cell of a \
                db_version, except that a transaction too large for one request is sent in \
                consecutive requests, cut between cells. May be empty."),
        ]),
        "PushResponse": object("What the server did with a push.", vec![
            field("acknowledged_db_version", int64(), "The highest db_version in this \
                push (for an empty push, the highest this device ever pushed): the server \
                holds every cell up to it. Move the push cursor to it, unless more parts of \
                a cut transaction are still to be sent."),
            field("seq", json!({ "type": "integer", "format": "int64", "nullable": true }),
                "The server sequence number this push was given (the new head), stamped on \
                 every row it changed; null when no cell changed the server's state (a \
                 repeated push, or every cell lost the merge)."),
            field("head", int64(), "The workspace's newest server sequence number after \
                this push. If it is more than one past your pull cursor, others pushed \
                meanwhile: pull."),
        ]),
        "PullResponse": object("GET /v1/pull: one page of the workspace's cells.", vec![
            field("changes", array_of("WireChange"), "The current winning cells of every \
                row whose server sequence number (that of the last push that changed it) is \
                above `after`, all of the row's cells, in whole sequence numbers, ordered by \
                the row's server sequence, then db_version, seq, table, pk, cid. A row \
                changed again later appears only at its newest sequence; a deleted row keeps \
                only its \"-1\" cell."),
            field("next", int64(), "The highest server sequence number in this page (or \
                `after` when the page is empty): the `after` of the next request. Store it as \
                the pull cursor only once `changes` are applied, in the same local \
                transaction."),
            field("head", int64(), "The workspace's newest server sequence number; \
                next < head means more pages wait."),
        ]),
        "DeviceInfo": object("One device of the workspace.", vec![
            field("device_id", string(), "The server's id for the device."),
            field("name", string(), "The name the device joined with (e.g. its host name)."),
            field("site_id", site_id(), "Its cr-sqlite site id: the site_id of the changes it \
                makes."),
            field("schema_version", json!({ "type": "integer", "format": "int64", "nullable": true }),
                "The local schema version the device last sent (header x-flightdeck-schema), \
                 null if it never sent one (an older client)."),
            field("last_seen_at", json!({ "type": "string", "nullable": true }),
                "When the device last pulled, as Postgres prints a timestamp with time zone, null if never."),
            field("revoked", json!({ "type": "boolean" }), "Whether the device was revoked."),
            field("clock_offset_ms", json!({ "type": "integer", "format": "int64", "nullable": true }),
                "How far the device's clock was ahead of the server's (milliseconds; negative: \
                 behind) by its x-flightdeck-client-time header, as last recorded; null if it \
                 never sent one."),
        ]),
        "DevicesResponse": object("GET /v1/devices: the devices of the caller's workspace.", vec![
            field("devices", array_of("DeviceInfo"), "Every device, revoked ones too."),
        ]),
        "LeaveResponse": object("POST /v1/leave: the device that left.", vec![
            field("device_id", string(), "The server's id for the device, now revoked."),
        ]),
        "Announcement": object("A /v1/ws text frame.", vec![
            field("head", int64(), "The workspace's newest server sequence number. Pull \
                when it is above your pull cursor."),
            optional("after", int64(), "Present with `changes`: the sequence number just \
                before `head`. Only a client whose pull cursor is exactly `after` may apply \
                `changes` in place of pulling, as the page (after, head], moving its cursor \
                to `head` in the same local transaction; any other client pulls as usual."),
            optional("changes", array_of("WireChange"), "The cells the push numbered \
                `head` wrote, in pull order (a pull of that sequence returns them with the \
                rest of their rows' cells, which a client at `after` already holds), when it wrote at most 64 cells and they \
                fit in 32 KiB of JSON; absent otherwise (then pull)."),
        ]),
        "Health": object("/healthz and /readyz.", vec![
            field("status", string(), "ok (/healthz) or ready (/readyz)."),
            field("version", string(), "The server's version."),
        ]),
        "ErrorDetail": object("What went wrong.", vec![
            field("code", string(), "A stable machine-readable code: not_found, \
                method_not_allowed, bad_request, invalid_json, unsupported_media_type, \
                payload_too_large, protocol_mismatch, upgrade_required, unauthorized, \
                device_revoked, site_id_mismatch, cursor_ahead, clock_ahead, unavailable, internal."),
            field("message", string(), "A sentence for people; not to be parsed."),
        ]),
        "ErrorBody": object("Every error answer's body.", vec![
            field("error", schema("ErrorDetail"), "The error."),
        ]),
    })
}
