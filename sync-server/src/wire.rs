//! Between the wire protocol and the merge's types: hex decoding and the checks on what a
//! client sends, each failing with a message for a 4xx.

use flightdeck_types::sync::{clock_span, WireChange, WireValue, CLOCK_LOGICAL_BITS};

use crate::merge::{Change, Value};

/// The longest table or column name accepted. cr-sqlite allows 2,048 bytes, but a row's
/// table and pk go into the server's btree key (`entities_pkey`), whose entries Postgres caps
/// at 2,704 bytes; Postgres itself caps identifiers at 63. 128 is far above any real schema's
/// names.
pub const MAX_NAME_BYTES: usize = 128;
/// The longest packed primary key accepted. The widest index entry, `entities_pkey`'s
/// (workspace_id 16 + table (128 + 4) + pk (2,048 + 4) + the tuple's header and alignment,
/// under 40), stays below Postgres' 2,704-byte btree limit (as did the wider per-cell keys
/// before migration 0009). A Flightdeck key (one or two ids) packs to under 100 bytes.
pub const MAX_PK_BYTES: usize = 2048;
/// cr-sqlite's site ids are 16 bytes.
pub const SITE_ID_BYTES: usize = 16;

/// One validated incoming change: the row it belongs to and the change itself.
#[derive(Debug, Clone)]
pub struct RowChange {
    pub tbl: String,
    pub pk: Vec<u8>,
    pub change: Change,
}

pub fn decode_hex(field: &str, text: &str) -> Result<Vec<u8>, String> {
    hex::decode(text).map_err(|error| format!("{field} is not valid hex: {error}"))
}

pub fn decode_site_id(text: &str) -> Result<Vec<u8>, String> {
    let site_id = decode_hex("site_id", text)?;
    if site_id.len() != SITE_ID_BYTES {
        return Err(format!(
            "site_id must be {SITE_ID_BYTES} bytes, got {}",
            site_id.len()
        ));
    }
    Ok(site_id)
}

/// Names go into Postgres `text`, which cannot hold NUL.
fn check_name(field: &str, name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES || name.contains('\0') {
        return Err(format!(
            "{field} must be 1 to {MAX_NAME_BYTES} bytes without NUL, got {} bytes",
            name.len()
        ));
    }
    Ok(())
}

/// Versions, causal lengths and sequence numbers count up from 0 in cr-sqlite.
fn check_counter(field: &str, value: i64) -> Result<(), String> {
    if value < 0 {
        return Err(format!("{field} must be 0 or more, got {value}"));
    }
    Ok(())
}

fn decode_pk(text: &str) -> Result<Vec<u8>, String> {
    // Checked before decoding, so a huge pk is refused without decoding it.
    if text.is_empty() || text.len() > 2 * MAX_PK_BYTES {
        return Err(format!(
            "pk must be 1 to {MAX_PK_BYTES} bytes (packed, as hex), got {} bytes",
            text.len().div_ceil(2)
        ));
    }
    decode_hex("pk", text)
}

pub fn value_from_wire(value: &WireValue) -> Result<Value, String> {
    Ok(match value {
        WireValue::Null => Value::Null,
        WireValue::Integer(int) => Value::Integer(*int),
        WireValue::Real(real) => Value::Real(*real),
        WireValue::Text(text) => Value::Text(text.clone()),
        WireValue::Blob(hex) => Value::Blob(decode_hex("a blob value", hex)?),
    })
}

pub fn value_to_wire(value: &Value) -> WireValue {
    match value {
        Value::Null => WireValue::Null,
        Value::Integer(int) => WireValue::Integer(*int),
        Value::Real(real) => WireValue::Real(*real),
        Value::Text(text) => WireValue::Text(text.clone()),
        Value::Blob(bytes) => WireValue::Blob(hex::encode(bytes)),
    }
}

pub fn change_from_wire(change: &WireChange) -> Result<RowChange, String> {
    check_name("table", &change.table)?;
    check_name("cid", &change.cid)?;
    check_counter("col_version", change.col_version)?;
    check_counter("db_version", change.db_version)?;
    check_counter("cl", change.cl)?;
    check_counter("seq", change.seq)?;
    Ok(RowChange {
        tbl: change.table.clone(),
        pk: decode_pk(&change.pk)?,
        change: Change {
            cid: change.cid.clone(),
            value: value_from_wire(&change.val)?,
            col_version: change.col_version,
            db_version: change.db_version,
            site_id: decode_site_id(&change.site_id)?,
            cl: change.cl,
            crsql_seq: change.seq,
        },
    })
}

/// Refuses cells whose column version, read as a hybrid logical clock, is more than
/// `max_offset_ms` ahead of `now_ms` (this server's clock): such a device's clock is wrong,
/// and its cells would win every later edit until the world caught up. Versions counted the
/// cr-sqlite way (small integers) read as 1970 and always pass; causal lengths are not
/// clocks. The message names the furthest cell and how far ahead it is.
pub fn check_clocks(changes: &[WireChange], now_ms: i64, max_offset_ms: i64) -> Result<(), String> {
    let ahead = changes
        .iter()
        .filter(|c| c.cid != crate::merge::SENTINEL_CID)
        .map(|c| (c, (c.col_version >> CLOCK_LOGICAL_BITS) - now_ms))
        .max_by_key(|(_, ahead)| *ahead);
    match ahead {
        Some((change, ahead)) if ahead > max_offset_ms => Err(format!(
            "{}.{} was written {} ahead of this server's clock (at most {} is allowed): the \
             pushing device's clock is wrong; set it right (Flightdeck devices stamp their \
             changes with the server's time from the x-flightdeck-server-time header and push \
             again on their own)",
            change.table,
            change.cid,
            clock_span(ahead),
            clock_span(max_offset_ms)
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire() -> WireChange {
        WireChange {
            table: "tasks".into(),
            pk: "0102".into(),
            cid: "title".into(),
            val: WireValue::Blob("ff00".into()),
            col_version: 1,
            db_version: 1,
            site_id: "aa".repeat(16),
            cl: 1,
            seq: 0,
        }
    }

    #[test]
    fn a_good_change_decodes() {
        let row = change_from_wire(&wire()).unwrap();
        assert_eq!(row.pk, vec![1, 2]);
        assert_eq!(row.change.value, Value::Blob(vec![0xff, 0]));
        assert_eq!(value_to_wire(&row.change.value), wire().val);
    }

    #[test]
    fn bad_fields_are_named() {
        type Spoil = fn(&mut WireChange);
        let cases: [(Spoil, &str); 13] = [
            (|c| c.pk = "xyz".into(), "pk"),
            (|c| c.pk = String::new(), "pk"),
            (|c| c.pk = "ab".repeat(MAX_PK_BYTES + 1), "pk"),
            (|c| c.table = "t".repeat(MAX_NAME_BYTES + 1), "table"),
            (|c| c.cid = "c".repeat(MAX_NAME_BYTES + 1), "cid"),
            (|c| c.col_version = -1, "col_version"),
            (|c| c.db_version = -1, "db_version"),
            (|c| c.cl = -1, "cl"),
            (|c| c.seq = -1, "seq"),
            (|c| c.site_id = "aabb".into(), "site_id"),
            (|c| c.val = WireValue::Blob("1".into()), "blob"),
            (|c| c.table = "a\0b".into(), "table"),
            (|c| c.cid = String::new(), "cid"),
        ];
        for (spoil, field) in cases {
            let mut change = wire();
            spoil(&mut change);
            let error = change_from_wire(&change).unwrap_err();
            assert!(error.contains(field), "{error}");
        }
    }
}
