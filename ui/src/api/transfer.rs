//! Import and Export through the shell: a dry run's preview, the import, an export, and the
//! native file pickers. Progress arrives as `transfer-progress` events (see `live`).

use flightdeck_types::{ExportSummary, ImportReport};
use serde::Serialize;

use super::{invoke, ApiError};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ImportArgs<'a> {
    path: &'a str,
    on_conflict: &'a str,
}

pub async fn preview_import(path: String, on_conflict: String) -> Result<ImportReport, ApiError> {
    invoke(
        "preview_import",
        &ImportArgs {
            path: &path,
            on_conflict: &on_conflict,
        },
    )
    .await
}

pub async fn run_import(path: String, on_conflict: String) -> Result<ImportReport, ApiError> {
    invoke(
        "run_import",
        &ImportArgs {
            path: &path,
            on_conflict: &on_conflict,
        },
    )
    .await
}

#[derive(Serialize)]
struct PathArgs<'a> {
    path: &'a str,
}

pub async fn run_export(path: String) -> Result<ExportSummary, ApiError> {
    invoke("run_export", &PathArgs { path: &path }).await
}

pub async fn default_export_path() -> Result<String, ApiError> {
    invoke("default_export_path", &()).await
}

#[derive(Serialize)]
struct ChooseArgs {
    save: bool,
    suggested: Option<String>,
}

/// The native open (`save` false) or save dialog; `None` when closed without a choice.
pub async fn choose_file(
    save: bool,
    suggested: Option<String>,
) -> Result<Option<String>, ApiError> {
    invoke("choose_file", &ChooseArgs { save, suggested }).await
}
