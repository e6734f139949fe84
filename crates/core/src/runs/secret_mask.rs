//! Masks a run's secret values in everything the run leaves behind, before it is stored,
//! shown or synced: output lines and every other event, the error, the result (an HTTP
//! response's headers and body, a step's outputs), the memories it records. CI systems do
//! the same (GitHub Actions prints `***`).
//!
//! Each value is masked as it is, and so are its common encodings (standard and URL-safe
//! base64, with and without padding; URL encoding) when it is at least
//! [`MIN_ENCODED_BYTES`] long; each line of a multi-line value is masked on its own too,
//! since output is read line by line. Values shorter than [`MIN_MASKED_BYTES`] are not
//! masked: masking `1` or `ab` would blank out ordinary output and tell a reader the value.

use std::borrow::Cow;

use base64::Engine;
use flightdeck_types::{Environment, Execution};

use crate::secrets::SecretStore;
use crate::store::Store;

/// What a secret value is replaced by.
pub const MASK: &str = "***";
/// Shorter values are left alone.
pub const MIN_MASKED_BYTES: usize = 4;
/// Shorter values are masked as they are, not in their encodings (whose short forms would
/// match unrelated text).
pub const MIN_ENCODED_BYTES: usize = 8;

/// The strings to mask for a run's secret values.
#[derive(Debug, Clone, Default)]
pub struct SecretMask {
    /// Longest first, so that a value is masked whole before any part of it could be.
    needles: Vec<String>,
}

impl SecretMask {
    pub fn new<S: AsRef<str>>(values: impl IntoIterator<Item = S>) -> Self {
        let mut needles = Vec::new();
        for value in values {
            let value = value.as_ref();
            add_value(&mut needles, value);
            if value.contains('\n') {
                for line in value.lines() {
                    add_value(&mut needles, line.trim_end_matches('\r'));
                }
            }
        }
        needles.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        needles.dedup();
        SecretMask { needles }
    }

    /// This mask and `values` too.
    pub fn with<S: AsRef<str>>(self, values: impl IntoIterator<Item = S>) -> Self {
        let more = Self::new(values);
        let mut needles = self.needles;
        needles.extend(more.needles);
        needles.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        needles.dedup();
        SecretMask { needles }
    }

    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// `text` with every secret value replaced by [`MASK`].
    pub fn mask<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut masked = Cow::Borrowed(text);
        for needle in &self.needles {
            if masked.contains(needle.as_str()) {
                masked = Cow::Owned(masked.replace(needle.as_str(), MASK));
            }
        }
        masked
    }

    /// Masks a string in place.
    pub fn mask_string(&self, text: &mut String) {
        if let Cow::Owned(masked) = self.mask(text) {
            *text = masked;
        }
    }

    /// Masks every string in a JSON value, object keys included.
    pub fn mask_json(&self, value: &mut serde_json::Value) {
        if self.is_empty() {
            return;
        }
        match value {
            serde_json::Value::String(text) => self.mask_string(text),
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| self.mask_json(v)),
            serde_json::Value::Object(fields) => {
                let old = std::mem::take(fields);
                for (mut key, mut field) in old {
                    self.mask_string(&mut key);
                    self.mask_json(&mut field);
                    fields.insert(key, field);
                }
            }
            _ => {}
        }
    }
}

impl SecretMask {
    /// The mask for a run in `environment`: the values of its secret variables that this
    /// device has (a missing one cannot be in the run's output).
    pub fn for_environment(environment: Option<&Environment>, secrets: &dyn SecretStore) -> Self {
        let Some(environment) = environment else {
            return SecretMask::default();
        };
        let values = environment.secret_vars.iter().filter_map(|var| {
            secrets
                .get(&crate::secrets::env_secret_account(&environment.id, var))
                .ok()
                .flatten()
        });
        SecretMask::new(values.collect::<Vec<_>>())
    }

    /// The mask for what `run` reports from another process (an agent's `flightdeck mcp`):
    /// its environment's secret values, as the runner masks the run's own output with.
    pub fn for_run(store: &Store, secrets: &dyn SecretStore, run: &Execution) -> Self {
        let environment = run
            .environment_id
            .as_deref()
            .and_then(|id| crate::environments::get(store, id).ok());
        Self::for_environment(environment.as_ref(), secrets)
    }
}

fn add_value(needles: &mut Vec<String>, value: &str) {
    if value.len() < MIN_MASKED_BYTES {
        return;
    }
    needles.push(value.to_string());
    if value.len() < MIN_ENCODED_BYTES {
        return;
    }
    let bytes = value.as_bytes();
    for engine in [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ] {
        needles.push(engine.encode(bytes));
    }
    for form in [false, true] {
        let encoded = url_encode(value, form);
        if encoded != value {
            needles.push(encoded);
        }
    }
}

/// Percent-encoding of everything but RFC 3986's unreserved characters (JavaScript's
/// `encodeURIComponent`, curl's `--data-urlencode`); with `form`, a space is `+` as in HTML
/// forms and Python's `quote_plus`.
fn url_encode(value: &str, form: bool) -> String {
    let mut encoded = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                encoded.push(byte as char)
            }
            b' ' if form => encoded.push('+'),
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_their_encodings_are_masked_and_short_ones_are_not() {
        let mask = SecretMask::new(["hunter2-SECRET/x y", "abc", "pin1"]);
        assert_eq!(mask.mask("token is hunter2-SECRET/x y!"), "token is ***!");
        let b64 = base64::engine::general_purpose::STANDARD.encode("hunter2-SECRET/x y");
        assert_eq!(mask.mask(&format!("b64={b64}")), "b64=***");
        assert_eq!(mask.mask("u=hunter2-SECRET%2Fx%20y"), "u=***");
        assert_eq!(mask.mask("u=hunter2-SECRET%2Fx+y"), "u=***");
        assert_eq!(
            mask.mask("abc pin1"),
            "abc ***",
            "3 bytes are too short to mask"
        );
        let short_b64 = base64::engine::general_purpose::STANDARD.encode("pin1");
        assert_eq!(
            mask.mask(&short_b64),
            short_b64,
            "short values' encodings are not"
        );
    }

    #[test]
    fn each_line_of_a_multi_line_value_is_masked() {
        let mask = SecretMask::new(["-----BEGIN KEY-----\nMIIEvQIBADANBg\n-----END KEY-----"]);
        assert_eq!(mask.mask("MIIEvQIBADANBg"), "***");
        assert_eq!(mask.mask("x -----END KEY----- y"), "x *** y");
    }

    #[test]
    fn json_strings_and_keys_are_masked() {
        let mask = SecretMask::new(["hunter2-SECRET"]);
        let mut value = serde_json::json!({
            "headers": {"x-echo": "Bearer hunter2-SECRET"},
            "hunter2-SECRET": [1, "hunter2-SECRET"],
        });
        mask.mask_json(&mut value);
        assert_eq!(
            value,
            serde_json::json!({"headers": {"x-echo": "Bearer ***"}, "***": [1, "***"]})
        );
    }
}
