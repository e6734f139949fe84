//! `flightdeck-bundle`: the desktop app's `.deb`, made by Tauri's bundler (the library
//! `cargo tauri build` uses) from a binary already built, stripped and staged:
//!
//! ```text
//! flightdeck-bundle --staged DIR --binary NAME --version V --depends "a, b" \
//!     --desktop-template FILE --icon PNG... --file DEST=SRC... [--recommends "c, d"]
//! ```
//!
//! `DIR/NAME` is the binary; the package goes to `DIR/bundle/deb/NAME_V_ARCH.deb` and its path
//! is printed. The package's name is the binary's, its desktop entry comes from the template
//! (`{{exec}}`, `{{icon}}`), its icons are installed as `NAME.png` in each size, and the
//! `--file`s (the copyright, say) are added as they are. Only the Debian package is made: the
//! AppImage target downloads linuxdeploy from GitHub while it bundles, which an offline build
//! cannot do.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use tauri_bundler::bundle::{
    bundle_project, BundleBinary, BundleSettings, DebianSettings, PackageSettings, PackageType,
    SettingsBuilder,
};

#[derive(Default)]
struct Args {
    staged: Option<PathBuf>,
    binary: Option<String>,
    version: Option<String>,
    depends: Vec<String>,
    recommends: Vec<String>,
    desktop_template: Option<PathBuf>,
    icons: Vec<String>,
    files: HashMap<PathBuf, PathBuf>,
}

fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn parse() -> Result<Args, String> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--staged" => args.staged = Some(value()?.into()),
            "--binary" => args.binary = Some(value()?),
            "--version" => args.version = Some(value()?),
            "--depends" => args.depends = list(&value()?),
            "--recommends" => args.recommends = list(&value()?),
            "--desktop-template" => args.desktop_template = Some(value()?.into()),
            "--icon" => args.icons.push(value()?),
            "--file" => {
                let pair = value()?;
                let (dest, src) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("--file {pair}: give DEST=SRC"))?;
                args.files.insert(dest.into(), src.into());
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(args)
}

fn run() -> Result<PathBuf, String> {
    let args = parse()?;
    let need = |what: &str| format!("--{what} is required");
    let staged = args.staged.ok_or_else(|| need("staged"))?;
    let binary = args.binary.ok_or_else(|| need("binary"))?;
    let version = args.version.ok_or_else(|| need("version"))?;
    if !staged.join(&binary).is_file() {
        return Err(format!("no binary at {}", staged.join(&binary).display()));
    }
    let settings = SettingsBuilder::new()
        .project_out_directory(&staged)
        .package_types(vec![PackageType::Deb])
        .package_settings(PackageSettings {
            product_name: binary.clone(),
            version,
            description: "Flightdeck: local-first mission control for AI-agent work".into(),
            homepage: Some("https://flightdeck.invalid".into()),
            authors: Some(vec![
                "Flightdeck maintainers <maintainers@flightdeck.invalid>".into(),
            ]),
            default_run: Some(binary.clone()),
        })
        .bundle_settings(BundleSettings {
            identifier: Some("dev.flightdeck.desktop".into()),
            icon: Some(args.icons),
            short_description: Some(
                "Flightdeck: local-first mission control for AI-agent work (desktop app)".into(),
            ),
            long_description: Some(
                "Tasks and environments, runs of coding agents, shell commands and HTTP calls \
                 watched live, workflows, schedules, insights, agent memory and sync, offline \
                 first."
                    .into(),
            ),
            deb: DebianSettings {
                depends: Some(args.depends),
                recommends: Some(args.recommends),
                files: args.files,
                desktop_template: args.desktop_template,
                section: Some("devel".into()),
                ..Default::default()
            },
            ..Default::default()
        })
        .binaries(vec![BundleBinary::new(binary, true)])
        .build()
        .map_err(|e| format!("the bundler's settings: {e}"))?;
    let bundles = bundle_project(&settings).map_err(|e| format!("bundling: {e:#}"))?;
    bundles
        .into_iter()
        .flat_map(|b| b.bundle_paths)
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .ok_or_else(|| "the bundler made no .deb".to_string())
}

fn main() -> ExitCode {
    match run() {
        Ok(path) => {
            println!("{}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("flightdeck-bundle: {e}");
            ExitCode::FAILURE
        }
    }
}
