//! Between the wire protocol and the merge's types: hex decoding and the checks on what a
//! client sends, each failing with a message for a 400.

use flightdeck_types::sync::{WireChange, WireValue};

use crate::merge::{Change, Value};

/// cr-sqlite's limit on table and column names (`MAX_TBL_NAME_LEN`).
const MAX_NAME_BYTES: usize = 2048;
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
            "{field} must be 1 to {MAX_NAME_BYTES} bytes without NUL"
        ));
    }
    Ok(())
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
    Ok(RowChange {
        tbl: change.table.clone(),
        pk: decode_hex("pk", &change.pk)?,
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
        let cases: [(Spoil, &str); 5] = [
            (|c| c.pk = "xyz".into(), "pk"),
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
