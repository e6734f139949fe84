//! Wall-clock timestamps as stored (Unix milliseconds) and shown (RFC 3339, UTC).

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Milliseconds since the Unix epoch, UTC. Serialized as an RFC 3339 string with millisecond
/// precision (`2026-11-22T05:53:36.123Z`) so that JSON output is readable and sorts as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    pub fn as_millis(self) -> i64 {
        self.0
    }

    pub fn to_rfc3339(self) -> String {
        match DateTime::<Utc>::from_timestamp_millis(self.0) {
            Some(dt) => dt.to_rfc3339_opts(SecondsFormat::Millis, true),
            None => format!("@{}ms", self.0),
        }
    }

    pub fn parse_rfc3339(text: &str) -> Result<Self, String> {
        DateTime::parse_from_rfc3339(text)
            .map(|dt| Self(dt.timestamp_millis()))
            .map_err(|e| format!("`{text}` is not an RFC 3339 time ({e})"))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

/// An expected duration as people type it: seconds, or a number and `s`, `m` or `h`; at
/// least a second. The error says what was wrong and what to give instead.
pub fn parse_span_secs(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: Option<u64> = digits.parse().ok();
    let secs = match unit.trim() {
        "" | "s" => n,
        "m" => n.and_then(|n| n.checked_mul(60)),
        "h" => n.and_then(|n| n.checked_mul(3600)),
        _ => None,
    };
    secs.filter(|s| *s > 0).ok_or_else(|| {
        format!(
            "`{text}` is not a duration; give a positive number of seconds, or like 90s, 5m, 2h"
        )
    })
}

/// A span as [`parse_span_secs`] reads it back: whole hours as `2h`, whole minutes as `5m`,
/// else seconds (`90s`).
pub fn format_span_secs(secs: u64) -> String {
    match secs {
        s if s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_back_as_written() {
        for (text, secs) in [
            ("90", 90),
            ("90s", 90),
            ("5m", 300),
            ("2h", 7200),
            (" 7 m ", 420),
        ] {
            assert_eq!(parse_span_secs(text), Ok(secs), "{text}");
        }
        for secs in [1, 59, 90, 300, 3_600, 5_400, 7_200] {
            assert_eq!(parse_span_secs(&format_span_secs(secs)), Ok(secs));
        }
        for bad in ["", "0", "soon", "5d", "-3s", "99999999999999999999h"] {
            let e = parse_span_secs(bad).unwrap_err();
            assert!(e.contains("like 90s, 5m, 2h"), "{bad}: {e}");
        }
    }

    #[test]
    fn round_trips_through_json() {
        let ts = Timestamp(1_795_326_816_123);
        let json = serde_json::to_string(&ts).unwrap();
        assert_eq!(json, "\"2026-11-22T05:53:36.123Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), ts);
    }

    #[test]
    fn rejects_garbage() {
        assert!(serde_json::from_str::<Timestamp>("\"yesterday\"").is_err());
    }
}
