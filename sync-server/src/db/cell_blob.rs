//! A row's cells as the server stores them: one `bytea` per row (`entities.cells`), so that a
//! push writes one Postgres row and two index entries per replicated row instead of one row
//! and two index entries per cell (issue 20: the per-cell index upkeep was most of a push's
//! database time).
//!
//! The layout, big-endian like Postgres' binary send functions (migration 0009 builds it
//! from the old `cells` table with `int8send` and friends, so the two must agree), one record
//! per cell in cid order:
//!
//! ```text
//! cid: u32 length, UTF-8 bytes
//! val_type: u16 (0 null, 1 integer, 2 real, 3 text, 4 blob)
//! value: nothing | i64 | f64 | u32 length, bytes | u32 length, bytes
//! col_version: i64, db_version: i64
//! site_id: u32 length, bytes
//! crsql_seq: i64
//! ```

use crate::merge::{Cell, Value};

/// Appends the cells, in the order given (the caller's map is in cid order).
pub fn encode<'a>(cells: impl IntoIterator<Item = (&'a String, &'a Cell)>) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    for (cid, cell) in cells {
        put_bytes(&mut out, cid.as_bytes());
        match &cell.value {
            Value::Null => out.extend_from_slice(&0u16.to_be_bytes()),
            Value::Integer(int) => {
                out.extend_from_slice(&1u16.to_be_bytes());
                out.extend_from_slice(&int.to_be_bytes());
            }
            Value::Real(real) => {
                out.extend_from_slice(&2u16.to_be_bytes());
                out.extend_from_slice(&real.to_be_bytes());
            }
            Value::Text(text) => {
                out.extend_from_slice(&3u16.to_be_bytes());
                put_bytes(&mut out, text.as_bytes());
            }
            Value::Blob(bytes) => {
                out.extend_from_slice(&4u16.to_be_bytes());
                put_bytes(&mut out, bytes);
            }
        }
        out.extend_from_slice(&cell.col_version.to_be_bytes());
        out.extend_from_slice(&cell.db_version.to_be_bytes());
        put_bytes(&mut out, &cell.site_id);
        out.extend_from_slice(&cell.crsql_seq.to_be_bytes());
    }
    out
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// The cells of a stored blob, in stored order; an error names what was malformed.
pub fn decode(blob: &[u8]) -> Result<Vec<(String, Cell)>, String> {
    let mut reader = Reader { blob, at: 0 };
    let mut cells = Vec::new();
    while reader.at < blob.len() {
        let cid = String::from_utf8(reader.bytes()?.to_vec())
            .map_err(|_| "a stored cid is not UTF-8".to_string())?;
        let value = match reader.u16()? {
            0 => Value::Null,
            1 => Value::Integer(reader.i64()?),
            2 => Value::Real(f64::from_bits(reader.i64()? as u64)),
            3 => Value::Text(
                String::from_utf8(reader.bytes()?.to_vec())
                    .map_err(|_| format!("the stored text of cell `{cid}` is not UTF-8"))?,
            ),
            4 => Value::Blob(reader.bytes()?.to_vec()),
            other => return Err(format!("cell `{cid}` has unknown stored val_type {other}")),
        };
        let col_version = reader.i64()?;
        let db_version = reader.i64()?;
        let site_id = reader.bytes()?.to_vec();
        let crsql_seq = reader.i64()?;
        cells.push((
            cid,
            Cell {
                value,
                col_version,
                db_version,
                site_id,
                crsql_seq,
            },
        ));
    }
    Ok(cells)
}

struct Reader<'a> {
    blob: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|end| *end <= self.blob.len());
        let end = end.ok_or_else(|| {
            format!(
                "a stored row's cells end early (byte {} of {})",
                self.at,
                self.blob.len()
            )
        })?;
        let slice = &self.blob[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_be_bytes(self.take(2)?.try_into().unwrap()))
    }

    fn i64(&mut self) -> Result<i64, String> {
        Ok(i64::from_be_bytes(self.take(8)?.try_into().unwrap()))
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let len = u32::from_be_bytes(self.take(4)?.try_into().unwrap()) as usize;
        self.take(len)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn every_kind_of_value_comes_back_as_it_went_in() {
        let cell = |value: Value, n: i64| Cell {
            value,
            col_version: n,
            db_version: -n,
            site_id: vec![n as u8; 16],
            crsql_seq: n.wrapping_mul(3),
        };
        let cells: BTreeMap<String, Cell> = [
            ("-1", cell(Value::Null, 1)),
            ("count", cell(Value::Integer(i64::MIN), 2)),
            ("ratio", cell(Value::Real(-0.125), 3)),
            ("title", cell(Value::Text("a\0b ü".into()), 4)),
            ("raw", cell(Value::Blob(vec![0, 255, 7]), i64::MAX)),
            ("empty", cell(Value::Text(String::new()), 5)),
        ]
        .into_iter()
        .map(|(cid, cell)| (cid.to_string(), cell))
        .collect();
        let blob = encode(&cells);
        let back: BTreeMap<String, Cell> = decode(&blob).unwrap().into_iter().collect();
        assert_eq!(back, cells);
        assert!(decode(&[]).unwrap().is_empty());
        let error = decode(&blob[..blob.len() - 1]).unwrap_err();
        assert!(error.contains("end early"), "{error}");
    }
}
