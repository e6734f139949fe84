//! Secrets (secret env var values, later API keys and sync tokens) live in the OS keyring,
//! never in the database. The database holds only their names.

use crate::error::{CoreError, Result};

pub mod file;

/// Picks the secret store: `secret-service` (GNOME Keyring, KWallet; persists across
/// reboots), `keyutils` (the kernel's keyring; for headless machines without D-Bus) or `file`
/// (the encrypted secrets file, see [`file`]).
pub const KEYRING_BACKEND_ENV: &str = "FLIGHTDECK_KEYRING";
const SERVICE: &str = "flightdeck";

pub trait SecretStore: Send + Sync {
    fn get(&self, account: &str) -> Result<Option<String>>;
    fn set(&self, account: &str, value: &str) -> Result<()>;
    /// Removes the secret; removing one that is not there is not an error.
    fn delete(&self, account: &str) -> Result<()>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyringBackend {
    SecretService,
    Keyutils,
}

/// The operating system's keyring through the `keyring` crate.
pub struct OsKeyring {
    backend: KeyringBackend,
}

impl OsKeyring {
    /// `$FLIGHTDECK_KEYRING` if set; else Secret Service when a D-Bus session exists, else
    /// keyutils.
    pub fn from_env() -> Result<Self> {
        let backend = match std::env::var(KEYRING_BACKEND_ENV).ok().as_deref() {
            Some("secret-service") => KeyringBackend::SecretService,
            Some("keyutils") => KeyringBackend::Keyutils,
            Some("file") => {
                return Err(CoreError::Keyring(format!(
                    "{KEYRING_BACKEND_ENV}=file keeps secrets in the secrets file, not an OS \
                     keyring"
                )))
            }
            Some(other) => {
                return Err(CoreError::Keyring(format!(
                    "{KEYRING_BACKEND_ENV}=`{other}` is not a backend; use secret-service, \
                     keyutils or file"
                )))
            }
            None => return Ok(Self::default_backend()),
        };
        Ok(Self { backend })
    }

    /// The Secret Service when a D-Bus session exists, else keyutils.
    pub fn default_backend() -> Self {
        if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() {
            Self::with_backend(KeyringBackend::SecretService)
        } else {
            Self::with_backend(KeyringBackend::Keyutils)
        }
    }

    pub fn with_backend(backend: KeyringBackend) -> Self {
        Self { backend }
    }

    pub fn backend(&self) -> KeyringBackend {
        self.backend
    }

    fn entry(&self, account: &str) -> Result<keyring::Entry> {
        let builder = match self.backend {
            KeyringBackend::SecretService => keyring::secret_service::default_credential_builder(),
            KeyringBackend::Keyutils => keyring::keyutils::default_credential_builder(),
        };
        let credential = builder
            .build(None, SERVICE, account)
            .map_err(|e| self.error("cannot address", account, e))?;
        Ok(keyring::Entry::new_with_credential(credential))
    }

    fn error(&self, action: &str, account: &str, e: keyring::Error) -> CoreError {
        let hint = match self.backend {
            KeyringBackend::SecretService => {
                "is a Secret Service (e.g. gnome-keyring) running and unlocked? On a headless \
                 machine set FLIGHTDECK_KEYRING=keyutils"
            }
            KeyringBackend::Keyutils => {
                "the kernel keyring needs a session keyring: run inside a login session or \
                 under `keyctl session - ...`"
            }
        };
        CoreError::Keyring(format!("{action} `{account}`: {e} ({hint})"))
    }
}

impl SecretStore for OsKeyring {
    fn get(&self, account: &str) -> Result<Option<String>> {
        match self.entry(account)?.get_password() {
            Ok(value) => Ok(Some(value)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(self.error("cannot read", account, e)),
        }
    }

    fn set(&self, account: &str, value: &str) -> Result<()> {
        self.entry(account)?
            .set_password(value)
            .map_err(|e| self.error("cannot store", account, e))
    }

    fn delete(&self, account: &str) -> Result<()> {
        match self.entry(account)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(self.error("cannot remove", account, e)),
        }
    }
}

/// The keyring account of one secret variable of one environment.
pub fn env_secret_account(environment_id: &str, var: &str) -> String {
    format!("env/{environment_id}/{var}")
}

/// Where a workspace's secrets are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    SecretService,
    Keyutils,
    File,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::SecretService => "the Secret Service keyring",
            Backend::Keyutils => "the kernel keyring",
            Backend::File => "the secrets file",
        })
    }
}

/// A workspace's secret store, as [`for_workspace`] chose it.
pub struct WorkspaceSecrets {
    pub store: std::sync::Arc<dyn SecretStore>,
    pub backend: Backend,
    /// When the secrets file was chosen because no OS keyring works here: one line to show.
    pub notice: Option<String>,
}

/// The directory of a workspace's secrets file (`secrets/` beside its database).
pub fn file_dir(store: &crate::Store) -> std::path::PathBuf {
    crate::runs::beside_database(store, "secrets")
}

/// The workspace's secret store:
/// - `FLIGHTDECK_KEYRING=file`: the encrypted secrets file ([`file::FileStore`]);
/// - `FLIGHTDECK_KEYRING=secret-service|keyutils`: that OS keyring;
/// - unset: the secrets file when it exists (so secrets put there stay found), else the
///   Secret Service when a D-Bus session exists, else the kernel keyring when it works here
///   (it needs a session keyring), else the secrets file, with a notice naming it.
pub fn for_workspace(store: &crate::Store) -> Result<WorkspaceSecrets> {
    choose(
        store,
        std::env::var(KEYRING_BACKEND_ENV).ok(),
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        |keyring| {
            let probe = format!("probe/{}", std::process::id());
            keyring.set(&probe, "probe")?;
            keyring.delete(&probe)
        },
    )
}

/// [`for_workspace`] with the environment given: `forced` is `$FLIGHTDECK_KEYRING`, `dbus`
/// whether a D-Bus session exists, `probe` tries the kernel keyring.
fn choose(
    store: &crate::Store,
    forced: Option<String>,
    dbus: bool,
    probe: impl FnOnce(&OsKeyring) -> Result<()>,
) -> Result<WorkspaceSecrets> {
    let file = file::FileStore::new(file_dir(store));
    let file_chosen = |file: file::FileStore, notice| WorkspaceSecrets {
        store: std::sync::Arc::new(file),
        backend: Backend::File,
        notice,
    };
    let os_chosen = |keyring: OsKeyring| WorkspaceSecrets {
        backend: match keyring.backend() {
            KeyringBackend::SecretService => Backend::SecretService,
            KeyringBackend::Keyutils => Backend::Keyutils,
        },
        store: std::sync::Arc::new(keyring),
        notice: None,
    };
    match forced.as_deref() {
        Some("file") => return Ok(file_chosen(file, None)),
        Some(_) => return Ok(os_chosen(OsKeyring::from_env()?)),
        None => {}
    }
    if file.path().exists() {
        let notice = format!(
            "secrets are in the encrypted file {} (set {KEYRING_BACKEND_ENV}=file to say so and \
             silence this, or move them with `flightdeck secrets migrate --to keyring`)",
            file.path().display()
        );
        return Ok(file_chosen(file, Some(notice)));
    }
    if dbus {
        return Ok(os_chosen(OsKeyring::with_backend(
            KeyringBackend::SecretService,
        )));
    }
    let keyring = OsKeyring::with_backend(KeyringBackend::Keyutils);
    match probe(&keyring) {
        Ok(()) => Ok(os_chosen(keyring)),
        Err(why) => {
            let notice = format!(
                "no OS keyring works here ({why}); secrets go to the encrypted file {}, keyed \
                 by ${} or the key file {} (set {KEYRING_BACKEND_ENV}=file to silence this)",
                file.path().display(),
                file::KEY_ENV,
                file.key_file().display()
            );
            Ok(file_chosen(file, Some(notice)))
        }
    }
}

/// What `secrets migrate` moved.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Migrated {
    pub to: String,
    /// The accounts moved: `env/<environment id>/<VAR>` and `sync/<device id>`.
    pub moved: Vec<String>,
}

/// Moves every secret this workspace knows of (its environments' secret variables and this
/// device's sync token) to the secrets file (`to_file`) or to the OS keyring. Each value is
/// written to the target and read back before any is removed from the source; a failure
/// leaves the source whole.
pub fn migrate(store: &crate::Store, to_file: bool) -> Result<Migrated> {
    let file = file::FileStore::new(file_dir(store));
    let keyring = match std::env::var(KEYRING_BACKEND_ENV).ok().as_deref() {
        Some("secret-service") => OsKeyring::with_backend(KeyringBackend::SecretService),
        Some("keyutils") => OsKeyring::with_backend(KeyringBackend::Keyutils),
        _ => OsKeyring::default_backend(),
    };
    let (from, to): (&dyn SecretStore, &dyn SecretStore) = if to_file {
        (&keyring, &file)
    } else {
        (&file, &keyring)
    };
    let mut accounts: Vec<String> = crate::environments::list(store)?
        .iter()
        .flat_map(|env| {
            env.secret_vars
                .iter()
                .map(|var| env_secret_account(&env.id, var))
        })
        .collect();
    accounts.push(crate::sync::account::token_account(store));
    let mut moved = Vec::new();
    for account in &accounts {
        let Some(value) = from.get(account)? else {
            continue;
        };
        to.set(account, &value)?;
        if to.get(account)?.as_deref() != Some(value.as_str()) {
            return Err(CoreError::Keyring(format!(
                "`{account}` did not read back from the target; nothing was removed"
            )));
        }
        moved.push(account.clone());
    }
    for account in &moved {
        from.delete(account)?;
    }
    if !to_file {
        // Nothing left in it: remove it, so that the OS keyring is chosen again.
        let left = file.all().map(|all| all.is_empty()).unwrap_or(false);
        if left {
            let _ = std::fs::remove_file(file.path());
            let _ = std::fs::remove_file(file.key_file());
        }
    }
    Ok(Migrated {
        to: if to_file { "file" } else { "keyring" }.into(),
        moved,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_working_keyring_the_file_is_chosen_with_a_notice_and_then_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Store::open(&dir.path().join("flightdeck.db")).unwrap();
        let refuse = |_: &OsKeyring| Err(CoreError::Keyring("no session keyring".into()));
        let chosen = choose(&store, None, false, refuse).unwrap();
        assert_eq!(chosen.backend, Backend::File);
        let notice = chosen.notice.unwrap();
        assert!(notice.contains("no session keyring"), "{notice}");
        assert!(notice.contains(&file_dir(&store).join("store").display().to_string()));

        let works = |_: &OsKeyring| Ok(());
        assert_eq!(
            choose(&store, None, false, works).unwrap().backend,
            Backend::Keyutils
        );
        assert_eq!(
            choose(&store, None, true, works).unwrap().backend,
            Backend::SecretService
        );
        // Once the file holds secrets, it stays the choice.
        chosen.store.set("env/x/KEY", "value").unwrap();
        let again = choose(&store, None, true, works).unwrap();
        assert_eq!(again.backend, Backend::File);
        assert_eq!(
            again.store.get("env/x/KEY").unwrap().as_deref(),
            Some("value")
        );
        let forced = choose(&store, Some("file".into()), true, works).unwrap();
        assert_eq!((forced.backend, forced.notice), (Backend::File, None));
    }
}
