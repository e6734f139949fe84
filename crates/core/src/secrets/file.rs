//! The secrets file: for machines with no OS keyring (a server, a container, an SSH session).
//!
//! One file per workspace, `secrets/store` beside the workspace's database (outside the
//! database, so never synced), mode 0600 in a 0700 directory. Its values are encrypted with
//! XChaCha20-Poly1305 under a key derived with Argon2id from `$FLIGHTDECK_SECRETS_KEY`, or,
//! when that is not set, from the random key file `secrets/key` beside it (made on first use).
//!
//! What that protects, as for `gh`'s and `atuin`'s token files: with the key in
//! `$FLIGHTDECK_SECRETS_KEY` (from a systemd credential, a CI secret), a copy of the data dir
//! (a backup, a disk image, another user who can read it) does not give the secrets away. With
//! the key file beside the store, it only keeps the values out of plain sight (grep, a backup
//! of the store alone): anyone who can read both files as this user can decrypt them, as they
//! could read an unlocked OS keyring.
//!
//! A wrong key is an error naming where the key came from, and nothing is overwritten. Writes
//! go to a temporary file renamed over the store, under a lock file, so concurrent processes
//! (the daemon, the CLI) neither lose each other's writes nor read half a file.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};

use super::SecretStore;
use crate::error::{CoreError, Result};

/// The variable that holds the key (any string; a long random one is best).
pub const KEY_ENV: &str = "FLIGHTDECK_SECRETS_KEY";
const FORMAT: u32 = 1;
/// Argon2id's memory (KiB), passes and lanes: OWASP's minimum recommendation.
const ARGON_M_KIB: u32 = 19 * 1024;
const ARGON_T: u32 = 2;
const ARGON_P: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Envelope {
    flightdeck_secrets: u32,
    kdf: String,
    m_kib: u32,
    t: u32,
    p: u32,
    salt: String,
    nonce: String,
    ciphertext: String,
}

/// Account -> value.
type Secrets = BTreeMap<String, String>;

/// Where the key came from, to say so in errors.
#[derive(Debug, Clone, PartialEq, Eq)]
enum KeySource {
    Env,
    File(PathBuf),
}

impl KeySource {
    fn describe(&self) -> String {
        match self {
            KeySource::Env => format!("${KEY_ENV}"),
            KeySource::File(path) => format!("the key file {}", path.display()),
        }
    }
}

/// The encrypted secrets file of one workspace.
pub struct FileStore {
    dir: PathBuf,
    /// The key derived for the salt it was derived with (Argon2id is slow on purpose; each
    /// run reads its secrets, so the key is derived once per process).
    derived: Mutex<Option<(Vec<u8>, [u8; 32])>>,
}

impl FileStore {
    /// The store in `dir` (created 0700 on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileStore {
            dir: dir.into(),
            derived: Mutex::new(None),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join("store")
    }

    pub fn key_file(&self) -> PathBuf {
        self.dir.join("key")
    }

    /// Every secret in the file (for `secrets migrate`).
    pub fn all(&self) -> Result<BTreeMap<String, String>> {
        Ok(self.read()?.0)
    }

    fn key_source(&self) -> KeySource {
        match std::env::var(KEY_ENV).ok().filter(|k| !k.is_empty()) {
            Some(_) => KeySource::Env,
            None => KeySource::File(self.key_file()),
        }
    }

    /// The passphrase: `$FLIGHTDECK_SECRETS_KEY`, else the key file's contents, which is made
    /// (32 random bytes, hex, 0600) when `create` and it does not exist yet.
    fn passphrase(&self, source: &KeySource, create: bool) -> Result<String> {
        match source {
            KeySource::Env => Ok(std::env::var(KEY_ENV).unwrap_or_default()),
            KeySource::File(path) => match fs::read_to_string(path) {
                Ok(text) => Ok(text.trim().to_string()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                    let mut bytes = [0u8; 32];
                    rand::fill(&mut bytes);
                    let key = hex::encode(bytes);
                    write_private(path, key.as_bytes())?;
                    Ok(key)
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    Err(CoreError::Keyring(format!(
                        "the secrets file {} exists but its key file {} does not: set {KEY_ENV} \
                         to the key it was written with, or restore the key file",
                        self.path().display(),
                        path.display()
                    )))
                }
                Err(e) => Err(CoreError::io(format!("cannot read {}", path.display()), e)),
            },
        }
    }

    fn key(&self, passphrase: &str, salt: &[u8]) -> Result<[u8; 32]> {
        let mut cached = self.derived.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((cached_salt, key)) = cached.as_ref() {
            if cached_salt == salt {
                return Ok(*key);
            }
        }
        let params = argon2::Params::new(ARGON_M_KIB, ARGON_T, ARGON_P, Some(32))
            .map_err(|e| CoreError::Keyring(format!("Argon2 parameters: {e}")))?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut key = [0u8; 32];
        argon
            .hash_password_into(passphrase.as_bytes(), salt, &mut key)
            .map_err(|e| CoreError::Keyring(format!("cannot derive the secrets key: {e}")))?;
        *cached = Some((salt.to_vec(), key));
        Ok(key)
    }

    /// The decrypted map and the file's salt; empty and none when there is no file yet.
    fn read(&self) -> Result<(Secrets, Option<Vec<u8>>)> {
        let path = self.path();
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok((BTreeMap::new(), None))
            }
            Err(e) => return Err(CoreError::io(format!("cannot read {}", path.display()), e)),
        };
        let corrupt = |what: &str| {
            CoreError::Keyring(format!(
                "the secrets file {} is damaged ({what}); restore it from a backup, or move it \
                 away and set the secrets again",
                path.display()
            ))
        };
        let envelope: Envelope = serde_json::from_str(&text).map_err(|_| corrupt("not JSON"))?;
        if envelope.flightdeck_secrets != FORMAT || envelope.kdf != "argon2id" {
            return Err(corrupt("written by a newer Flightdeck"));
        }
        let salt = hex::decode(&envelope.salt).map_err(|_| corrupt("salt"))?;
        let nonce = hex::decode(&envelope.nonce).map_err(|_| corrupt("nonce"))?;
        let ciphertext = hex::decode(&envelope.ciphertext).map_err(|_| corrupt("ciphertext"))?;
        if nonce.len() != 24 {
            return Err(corrupt("nonce"));
        }
        let source = self.key_source();
        let key = self.key(&self.passphrase(&source, false)?, &salt)?;
        let cipher = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&key));
        let plain = cipher
            .decrypt(XNonce::from_slice(&nonce), ciphertext.as_slice())
            .map_err(|_| {
                // The key derived for this salt is wrong: forget it, a corrected variable in
                // a long-lived process should work without a restart.
                *self.derived.lock().unwrap_or_else(|p| p.into_inner()) = None;
                CoreError::Keyring(format!(
                    "cannot decrypt the secrets file {}: the key ({}) is not the one it was \
                     written with (or the file was altered); set the right key and try again. \
                     Nothing was changed",
                    path.display(),
                    source.describe()
                ))
            })?;
        let map = serde_json::from_slice(&plain).map_err(|_| corrupt("contents"))?;
        Ok((map, Some(salt)))
    }

    /// Reads, changes and writes back the map, under the lock file. A read that fails (a
    /// wrong key) writes nothing.
    fn update(&self, change: impl FnOnce(&mut BTreeMap<String, String>)) -> Result<()> {
        create_private_dir(&self.dir)?;
        let lock_path = self.dir.join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|e| CoreError::io(format!("cannot open {}", lock_path.display()), e))?;
        let _held = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive).map_err(
            |(_, e)| CoreError::Keyring(format!("cannot lock {}: {e}", lock_path.display())),
        )?;
        let (mut map, salt) = self.read()?;
        change(&mut map);
        let existing = salt.is_some();
        let salt = salt.unwrap_or_else(|| {
            let mut salt = [0u8; 16];
            rand::fill(&mut salt);
            salt.to_vec()
        });
        let source = self.key_source();
        let key = self.key(&self.passphrase(&source, !existing)?, &salt)?;
        let mut nonce = [0u8; 24];
        rand::fill(&mut nonce);
        let plain = serde_json::to_vec(&map).expect("a map of strings serializes");
        let ciphertext = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&key))
            .encrypt(XNonce::from_slice(&nonce), plain.as_slice())
            .map_err(|_| CoreError::Keyring("cannot encrypt the secrets".into()))?;
        let envelope = Envelope {
            flightdeck_secrets: FORMAT,
            kdf: "argon2id".into(),
            m_kib: ARGON_M_KIB,
            t: ARGON_T,
            p: ARGON_P,
            salt: hex::encode(&salt),
            nonce: hex::encode(nonce),
            ciphertext: hex::encode(ciphertext),
        };
        let text = serde_json::to_vec_pretty(&envelope).expect("the envelope serializes");
        let temp = self.dir.join(format!("store.{}.tmp", std::process::id()));
        write_private(&temp, &text)?;
        fs::rename(&temp, self.path()).map_err(|e| {
            let _ = fs::remove_file(&temp);
            CoreError::io(format!("cannot replace {}", self.path().display()), e)
        })
    }
}

impl SecretStore for FileStore {
    fn get(&self, account: &str) -> Result<Option<String>> {
        Ok(self.read()?.0.remove(account))
    }

    fn set(&self, account: &str, value: &str) -> Result<()> {
        self.update(|map| {
            map.insert(account.to_string(), value.to_string());
        })
    }

    fn delete(&self, account: &str) -> Result<()> {
        if !self.path().exists() {
            return Ok(());
        }
        self.update(|map| {
            map.remove(account);
        })
    }
}

/// `dir` and its parents, `dir` itself 0700 (tightened when it exists with more).
fn create_private_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir)
        .map_err(|e| CoreError::io(format!("cannot create {}", dir.display()), e))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| CoreError::io(format!("cannot restrict {}", dir.display()), e))
}

/// Writes `bytes` to a new file `path` (replacing one there) readable by its owner only, and
/// syncs it to disk.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let _ = fs::remove_file(path);
    let mut file = OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| CoreError::io(format!("cannot create {}", path.display()), e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| CoreError::io(format!("cannot write {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_encrypted_in_private_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("secrets"));
        assert_eq!(store.get("env/x/TOKEN").unwrap(), None);
        store.set("env/x/TOKEN", "hunter2-in-the-file").unwrap();
        store.set("sync/abc", "fdd_device").unwrap();
        assert_eq!(
            store.get("env/x/TOKEN").unwrap().as_deref(),
            Some("hunter2-in-the-file")
        );
        store.delete("sync/abc").unwrap();
        assert_eq!(store.get("sync/abc").unwrap(), None);

        let bytes = fs::read(store.path()).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("hunter2"),
            "stored in the clear"
        );
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("secrets")), 0o700);
        assert_eq!(mode(&store.path()), 0o600);
        assert_eq!(mode(&store.key_file()), 0o600);
    }

    #[test]
    fn a_wrong_key_is_a_clear_error_and_nothing_is_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("secrets"));
        store.set("env/x/TOKEN", "kept").unwrap();
        let before = fs::read(store.path()).unwrap();
        fs::write(store.key_file(), "not the key").unwrap();
        let fresh = FileStore::new(dir.path().join("secrets"));
        let error = fresh.get("env/x/TOKEN").unwrap_err().to_string();
        assert!(
            error.contains("is not the one it was written with"),
            "{error}"
        );
        assert!(error.contains("key file"), "{error}");
        assert!(fresh.set("env/x/OTHER", "x").is_err());
        assert_eq!(
            fs::read(store.path()).unwrap(),
            before,
            "nothing was overwritten"
        );
    }
}
