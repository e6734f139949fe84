//! Converting between `crsql_changes` rows and the wire protocol's changes.

use flightdeck_types::sync::{WireChange, WireValue};
use rusqlite::types::Value;

use crate::error::{CoreError, Result};
use crate::store::ChangeRow;

pub fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

pub fn unhex(field: &str, text: &str) -> Result<Vec<u8>> {
    hex::decode(text).map_err(|_| CoreError::Corrupt(format!("{field} `{text}` is not hex")))
}

pub fn value_to_wire(value: &Value) -> WireValue {
    match value {
        Value::Null => WireValue::Null,
        Value::Integer(i) => WireValue::Integer(*i),
        Value::Real(f) => WireValue::Real(*f),
        Value::Text(t) => WireValue::Text(t.clone()),
        Value::Blob(b) => WireValue::Blob(hex(b)),
    }
}

pub fn value_from_wire(value: WireValue) -> Result<Value> {
    Ok(match value {
        WireValue::Null => Value::Null,
        WireValue::Integer(i) => Value::Integer(i),
        WireValue::Real(f) => Value::Real(f),
        WireValue::Text(t) => Value::Text(t),
        WireValue::Blob(b) => Value::Blob(unhex("blob value", &b)?),
    })
}

pub fn to_wire(change: &ChangeRow) -> WireChange {
    WireChange {
        table: change.table.clone(),
        pk: hex(&change.pk),
        cid: change.cid.clone(),
        val: value_to_wire(&change.val),
        col_version: change.col_version,
        db_version: change.db_version,
        site_id: hex(&change.site_id),
        cl: change.cl,
        seq: change.seq,
    }
}

/// Takes the change by value: a pulled page's strings move into the rows instead of being
/// copied (a bootstrap decodes about a million cells).
pub fn from_wire(change: WireChange) -> Result<ChangeRow> {
    Ok(ChangeRow {
        pk: unhex("pk", &change.pk)?,
        site_id: unhex("site_id", &change.site_id)?,
        table: change.table,
        cid: change.cid,
        val: value_from_wire(change.val)?,
        col_version: change.col_version,
        db_version: change.db_version,
        cl: change.cl,
        seq: change.seq,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        for v in [
            Value::Null,
            Value::Integer(-7),
            Value::Real(1.5),
            Value::Text("héllo".into()),
            Value::Blob(vec![0, 255, 16]),
        ] {
            assert_eq!(value_from_wire(value_to_wire(&v)).unwrap(), v);
        }
    }

    #[test]
    fn bad_hex_is_an_error() {
        assert!(unhex("pk", "abc").is_err());
        assert!(unhex("pk", "zz").is_err());
        assert_eq!(unhex("pk", "00ff").unwrap(), vec![0, 255]);
    }
}
