//! A minimal W3C WebDriver client: just what the app tests need (sessions, finding elements,
//! reading text, clicking, typing), over plain HTTP.

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{json, Value};

/// W3C's key for an element reference in JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Session {
    base: String,
    id: String,
}

#[derive(Debug, Clone)]
pub struct Element(String);

/// Every WebDriver call gives up after this: an app that dies while WebKitWebDriver starts a
/// session leaves the driver without an answer, and the test must fail, not hang CI.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

fn call(method: &str, url: &str, body: Option<Value>) -> Result<Value, String> {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    let agent = AGENT.get_or_init(|| ureq::AgentBuilder::new().timeout(CALL_TIMEOUT).build());
    let request = agent.request(method, url);
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

    /// Scrolls `element` to the middle of its scroll container, as a person would before
    /// using it (WebKit's driver leaves an element that shows only its edge where it is, and
    /// then finds its centre under whatever covers it).
    fn scroll_into_view(&self, element: &Element) -> Result<(), String> {
        call(
            "POST",
            &self.url("/execute/sync"),
            Some(json!({
                "script": "arguments[0].scrollIntoView({block: 'center', inline: 'nearest'});",
                "args": [{ ELEMENT_KEY: element.0 }],
            })),
        )?;
        Ok(())
    }

    /// Clicks `element`, scrolled into view first.
    pub fn click(&self, element: &Element) -> Result<(), String> {
        self.scroll_into_view(element)?;
        call(
            "POST",
            &self.url(&format!("/element/{}/click", element.0)),
            Some(json!({})),
        )?;
        Ok(())
    }

    /// Types into `element`, scrolled into view first.
    pub fn type_text(&self, element: &Element, text: &str) -> Result<(), String> {
        self.scroll_into_view(element)?;
        call(
            "POST",
            &self.url(&format!("/element/{}/value", element.0)),
            Some(json!({ "text": text })),
        )?;
        Ok(())
    }

    /// An attribute's value (`None` when absent).
    pub fn attribute(&self, element: &Element, name: &str) -> Result<Option<String>, String> {
        self.element_text_of(element, &format!("attribute/{name}"))
    }

    /// A DOM property's value as text (an input's `value`, say), `None` when absent.
    pub fn property(&self, element: &Element, name: &str) -> Result<Option<String>, String> {
        self.element_text_of(element, &format!("property/{name}"))
    }

    fn element_text_of(&self, element: &Element, what: &str) -> Result<Option<String>, String> {
        let v = call(
            "GET",
            &self.url(&format!("/element/{}/{what}", element.0)),
            None,
        )?;
        Ok(v.as_str().map(str::to_string))
    }

    /// Empties an input (fires `input`/`change` as a person clearing it would).
    pub fn clear(&self, element: &Element) -> Result<(), String> {
        self.scroll_into_view(element)?;
        call(
            "POST",
            &self.url(&format!("/element/{}/clear", element.0)),
            Some(json!({})),
        )?;
        Ok(())
    }

    /// The texts of every element matching `css`.
    pub fn texts(&self, css: &str) -> Result<Vec<String>, String> {
        self.find_all(css)?.iter().map(|e| self.text(e)).collect()
    }

    /// A PNG of the window, base64-decoded.
    pub fn screenshot(&self) -> Result<Vec<u8>, String> {
        let v = call("GET", &self.url("/screenshot"), None)?;
        let data = v.as_str().ok_or_else(|| format!("no screenshot in {v}"))?;
        base64_decode(data)
    }

    /// Runs `script` (a function body; `return` gives the answer) in the window, and answers
    /// what it returned.
    pub fn execute(&self, script: &str) -> Result<Value, String> {
        call(
            "POST",
            &self.url("/execute/sync"),
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// Presses `chord` as one gesture to whatever has the focus: each key down in order, then
    /// up in reverse (`["\u{E009}", "k"]` is Ctrl+K; WebDriver's codes for the special keys:
    /// Control `\u{E009}`, Escape `\u{E00C}`, Enter `\u{E007}`, ArrowDown `\u{E015}`).
    pub fn press(&self, chord: &[&str]) -> Result<(), String> {
        let mut actions: Vec<Value> = chord
            .iter()
            .map(|k| json!({ "type": "keyDown", "value": k }))
            .collect();
        actions.extend(
            chord
                .iter()
                .rev()
                .map(|k| json!({ "type": "keyUp", "value": k })),
        );
        call(
            "POST",
            &self.url("/actions"),
            Some(json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] })),
        )?;
        Ok(())
    }

    /// Resizes the window to `width` x `height` (its outer size, as the window manager sees
    /// it) and answers the size of the page's viewport once the page reports it changed.
    pub fn set_window_size(&self, width: u32, height: u32) -> Result<(u32, u32), String> {
        call(
            "POST",
            &self.url("/window/rect"),
            Some(json!({ "width": width, "height": height })),
        )?;
        let v = self.execute("return [window.innerWidth, window.innerHeight];")?;
        let size = |i: usize| v[i].as_u64().unwrap_or(0) as u32;
        Ok((size(0), size(1)))
    }

    /// The first element matching `css`, or an error naming the selector.
    pub fn find(&self, css: &str) -> Result<Element, String> {
        self.find_all(css)?
            .into_iter()
            .next()
            .ok_or_else(|| format!("nothing matches `{css}`"))
    }

    pub fn end(self) -> Result<(), String> {
        call("DELETE", &self.url(""), None).map(|_| ())
    }
}

fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
    {
        let value = ALPHABET
            .iter()
            .position(|c| *c == byte)
            .ok_or_else(|| format!("not base64: {byte}"))? as u32;
        buffer = (buffer << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Ok(out)
}
