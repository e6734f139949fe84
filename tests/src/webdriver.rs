//! A minimal W3C WebDriver client: just what the app tests need (sessions, finding elements,
//! reading text, clicking, typing), over plain HTTP.

use serde_json::{json, Value};

/// W3C's key for an element reference in JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Session {
    base: String,
    id: String,
}

#[derive(Debug, Clone)]
pub struct Element(String);

fn call(method: &str, url: &str, body: Option<Value>) -> Result<Value, String> {
    let request = ureq::request(method, url);
    let response = match body {
        Some(body) => request.send_json(body),
        None => request.call(),
    };
    let value: Value = match response {
        Ok(r) => r
            .into_json()
            .map_err(|e| format!("{method} {url}: bad JSON: {e}"))?,
        Err(ureq::Error::Status(code, r)) => {
            let text = r.into_string().unwrap_or_default();
            return Err(format!("{method} {url}: HTTP {code}: {text}"));
        }
        Err(e) => return Err(format!("{method} {url}: {e}")),
    };
    Ok(value.get("value").cloned().unwrap_or(Value::Null))
}

impl Session {
    /// Starts a session with `capabilities` on the WebDriver server at `base`.
    pub fn start(base: &str, capabilities: Value) -> Result<Session, String> {
        let value = call(
            "POST",
            &format!("{base}/session"),
            Some(json!({ "capabilities": { "alwaysMatch": capabilities } })),
        )?;
        let id = value["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no session id in {value}"))?
            .to_string();
        Ok(Session {
            base: base.to_string(),
            id,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/session/{}{path}", self.base, self.id)
    }

    pub fn title(&self) -> Result<String, String> {
        let v = call("GET", &self.url("/title"), None)?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// All elements matching a CSS selector (empty when none do).
    pub fn find_all(&self, css: &str) -> Result<Vec<Element>, String> {
        let v = call(
            "POST",
            &self.url("/elements"),
            Some(json!({ "using": "css selector", "value": css })),
        )?;
        Ok(v.as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|e| e[ELEMENT_KEY].as_str().map(|id| Element(id.to_string())))
                    .collect()
            })
            .unwrap_or_default())
    }

    pub fn text(&self, element: &Element) -> Result<String, String> {
        let v = call(
            "GET",
            &self.url(&format!("/element/{}/text", element.0)),
            None,
        )?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    pub fn click(&self, element: &Element) -> Result<(), String> {
        call(
            "POST",
            &self.url(&format!("/element/{}/click", element.0)),
            Some(json!({})),
        )?;
        Ok(())
    }

    pub fn type_text(&self, element: &Element, text: &str) -> Result<(), String> {
        call(
            "POST",
            &self.url(&format!("/element/{}/value", element.0)),
            Some(json!({ "text": text })),
        )?;
        Ok(())
    }

    /// The texts of every element matching `css`.
    pub fn texts(&self, css: &str) -> Result<Vec<String>, String> {
        self.find_all(css)?.iter().map(|e| self.text(e)).collect()
    }

    pub fn end(self) -> Result<(), String> {
        call("DELETE", &self.url(""), None).map(|_| ())
    }
}
