//! The one typed door to the desktop shell: every call into `window.__TAURI__.core.invoke`
//! goes through here, so views never touch JS or command names directly.

use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// Tauri's IPC entry point; present because the shell sets `app.withGlobalTauri`.
    /// `catch` turns both a rejected promise and a missing `__TAURI__` (a plain browser)
    /// into an `Err` instead of an exception.
    #[wasm_bindgen(js_namespace = ["window", "__TAURI__", "core"], js_name = invoke, catch)]
    async fn tauri_invoke(command: &str, args: JsValue) -> Result<JsValue, JsValue>;
}

pub use flightdeck_types::CommandError as ApiError;
use flightdeck_types::{AppInfo, NewTask, Task, TaskFilter};

fn api_error(code: &str, message: impl Into<String>) -> ApiError {
    ApiError {
        code: code.to_owned(),
        message: message.into(),
        field: None,
    }
}

/// A rejection is a `CommandError` object when the command failed, and a plain string or a
/// JS exception when the IPC itself failed (unknown command, no Tauri).
fn from_rejection(value: JsValue) -> ApiError {
    if let Ok(error) = serde_wasm_bindgen::from_value::<ApiError>(value.clone()) {
        return error;
    }
    let message = value
        .as_string()
        .or_else(|| {
            value
                .dyn_ref::<js_sys::Error>()
                .map(|error| String::from(error.message()))
        })
        .unwrap_or_else(|| format!("{value:?}"));
    api_error("ipc", message)
}

/// Calls a shell command. Tauri matches argument names in camelCase, so argument structs
/// use `#[serde(rename_all = "camelCase")]`.
async fn invoke<Args, Output>(command: &str, args: &Args) -> Result<Output, ApiError>
where
    Args: Serialize + ?Sized,
    Output: DeserializeOwned,
{
    // JSON-compatible: maps become plain objects and `None` becomes `null`, as the shell's
    // serde_json expects (the default would make JS `Map`s that serialize as `{}`).
    let args = args
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|error| api_error("encode", error.to_string()))?;
    let output = tauri_invoke(command, args).await.map_err(from_rejection)?;
    serde_wasm_bindgen::from_value(output).map_err(|error| api_error("decode", error.to_string()))
}

pub async fn app_info() -> Result<AppInfo, ApiError> {
    invoke("app_info", &()).await
}

#[derive(Serialize)]
struct FilterArgs<'a> {
    filter: &'a TaskFilter,
}

pub async fn list_tasks(filter: TaskFilter) -> Result<Vec<Task>, ApiError> {
    invoke("list_tasks", &FilterArgs { filter: &filter }).await
}

#[derive(Serialize)]
struct CreateArgs<'a> {
    input: &'a NewTask,
}

pub async fn create_task(input: NewTask) -> Result<Task, ApiError> {
    invoke("create_task", &CreateArgs { input: &input }).await
}
