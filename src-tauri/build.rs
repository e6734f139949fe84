//! Runs tauri-build against the workspace-root `tauri.conf.json` (DESIGN: "Tauri config at the
//! root"). tauri-build looks for the config in the crate dir unless told otherwise, so:
//! - `config_path` points it at `../tauri.conf.json` (a plain path, no symlink, so it works on
//!   every OS and in every checkout). Paths inside the config (`ui/dist`, `icons/`) are
//!   relative to the config file, i.e. to the workspace root.
//! - `codegen` builds the app context here instead of in `generate_context!`, because only a
//!   build script can emit `rerun-if-changed` for `ui/dist`: with the macro, a fresh
//!   `trunk build` would not be re-embedded until the crate's own sources changed.
//!   `lib.rs` includes the result with `tauri::tauri_build_context!()`.
//!
//! Capabilities stay in `src-tauri/capabilities/` (read relative to this crate).

fn main() {
    let attributes = tauri_build::Attributes::new()
        .config_path("../tauri.conf.json")
        .codegen(tauri_build::CodegenContext::new());
    tauri_build::try_build(attributes).expect("failed to run tauri-build");
}
