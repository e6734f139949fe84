//! Secrets (secret env var values, later API keys and sync tokens) live in the OS keyring,
//! never in the database. The database holds only their names.

use crate::error::{CoreError, Result};

/// Picks the keyring backend: `secret-service` (GNOME Keyring, KWallet; persists across
/// reboots) or `keyutils` (the kernel's keyring; for headless machines without D-Bus).
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
            Some(other) => {
                return Err(CoreError::Keyring(format!(
                    "{KEYRING_BACKEND_ENV}=`{other}` is not a backend; use secret-service \
                     or keyutils"
                )))
            }
            None if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() => {
                KeyringBackend::SecretService
            }
            None => KeyringBackend::Keyutils,
        };
        Ok(Self { backend })
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
