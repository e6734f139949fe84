//! Runs tauri-build against the workspace-root `tauri.conf.json` (DESIGN: "Tauri config at the
//! root"). tauri-build looks for the config in the crate dir unless told otherwise, so:
//! - `config_path` points it at `../tauri.conf.json` (a plain path, no symlink, so it works on
//!   every OS and in every checkout). `frontendDist` and the icons resolve from the workspace
//!   root, but `bundle.resources` resolve from this crate's dir (hence `../.deps/...`).
//! - The resource `crsqlite.so` (built by scripts/setup.sh) is copied beside the dev binary
//!   and into bundles, where the engine looks for it; the build fails if set-up has not run.
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
