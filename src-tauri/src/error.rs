//! The one error type every command returns to the UI: `flightdeck_types::CommandError`,
//! built from the engine's error so that the UI sees the same codes as the CLI.

pub use flightdeck_types::CommandError;

pub fn from_core(e: flightdeck_core::CoreError) -> CommandError {
    CommandError {
        code: e.code().to_string(),
        field: e.field().map(str::to_string),
        message: e.to_string(),
    }
}

/// An error of the shell itself (settings file, runtime), not of the engine.
pub fn shell_error(code: &str, field: Option<&str>, message: impl Into<String>) -> CommandError {
    CommandError {
        code: code.to_string(),
        field: field.map(str::to_string),
        message: message.into(),
    }
}

/// The result type of every `#[tauri::command]`.
pub type CommandResult<T> = Result<T, CommandError>;
