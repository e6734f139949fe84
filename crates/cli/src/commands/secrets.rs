//! `flightdeck secrets ...`: where this workspace's secrets are kept, and moving them.

use flightdeck_core::{secrets, CoreError, Store};

use crate::args::{SecretsCommand, SecretsTarget};
use crate::output::Output;

pub fn run(store: &Store, cmd: &SecretsCommand, out: &Output) -> Result<(), CoreError> {
    match cmd {
        SecretsCommand::Migrate { to } => {
            let to_file = *to == SecretsTarget::File;
            let migrated = secrets::migrate(store, to_file)?;
            out.print(&migrated, || {
                let place = if to_file {
                    format!(
                        "the encrypted secrets file {}",
                        secrets::file_dir(store).join("store").display()
                    )
                } else {
                    "the OS keyring".to_string()
                };
                let mut text = format!("moved {} secret(s) to {place}", migrated.moved.len());
                let forced = std::env::var(secrets::KEYRING_BACKEND_ENV).ok();
                match (to_file, forced.as_deref()) {
                    (false, Some("file")) => text.push_str(&format!(
                        "; unset {} to use them",
                        secrets::KEYRING_BACKEND_ENV
                    )),
                    (true, Some(other)) if other != "file" => text.push_str(&format!(
                        "; set {}=file to use them",
                        secrets::KEYRING_BACKEND_ENV
                    )),
                    _ => {}
                }
                text
            });
        }
    }
    Ok(())
}
