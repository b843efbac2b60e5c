//! Signing-key files in the keys directory (`--keys-dir`, default `keys/`):
//!
//! - `NAME.private.pem`: the Ed25519 private key as PKCS#8 PEM (OpenSSL
//!   reads it: `openssl pkey -in NAME.private.pem -noout -text`), mode 0600;
//! - `NAME.public.pem`: its public key (SPKI PEM) beside it;
//! - `ACTIVE`: the NAME of the key that signs; the others still verify;
//! - `retired/`: keys retired from verification too.
//!
//! The server refuses a private key readable by group or others. Keys
//! are created under an exclusive lock on `.lock` in the directory, so
//! servers that start together on an empty directory end with one key.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use rand::RngCore;

use super::{Verifier, footer_for, paserk, paseto};
use crate::domain::license::{LicenseClaims, Mint};

const PRIVATE_SUFFIX: &str = ".private.pem";
const PUBLIC_SUFFIX: &str = ".public.pem";
const ACTIVE_FILE: &str = "ACTIVE";
const RETIRED_DIR: &str = "retired";
const LOCK_FILE: &str = ".lock";
/// How often, at most, a server re-reads the keys directory when it meets
/// a key signed by a signing key it does not know.
const RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// What can go wrong with the keys directory. Messages name files, never
/// key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A private key (or another secret file) readable by group or others.
    #[error("refusing {0}: it is readable by group or others (mode {1:o}); run `chmod 600 {0}`")]
    Permissions(PathBuf, u32),
    /// A key file that does not parse.
    #[error("cannot read key file {0}: {1}")]
    BadFile(PathBuf, String),
    /// The directory holds no signing key.
    #[error("no signing key in {0}: create one with `neo-supportd keys generate`")]
    NoKey(PathBuf),
    /// No key with that id.
    #[error("no signing key with id {0}")]
    UnknownKey(String),
    /// The active key cannot be retired.
    #[error("key {0} is the active signing key; rotate to a new key first")]
    RetireActive(String),
    /// File-system trouble.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
}

/// Where a signing key stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum KeyFileStatus {
    /// Signs new license keys (and verifies).
    Active,
    /// Verifies keys it signed before.
    Verifying,
    /// Neither signs nor verifies.
    Retired,
}

impl KeyFileStatus {
    /// As printed.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A signing key's public facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Its id, PASERK `k4.pid`.
    pub id: String,
    /// The file name stem.
    pub name: String,
    /// Its public key, PASERK `k4.public`.
    pub paserk: String,
    /// Its public key, SPKI PEM.
    pub public_pem: String,
    /// Where it stands.
    pub status: KeyFileStatus,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |error| KeyError::Io(path.to_owned(), error)
}

fn public_pem(key: &VerifyingKey) -> String {
    key.to_public_key_pem(LineEnding::LF).unwrap_or_default()
}

fn info(name: &str, key: &VerifyingKey, status: KeyFileStatus) -> KeyInfo {
    KeyInfo {
        id: paserk::k4_pid(key),
        name: name.to_owned(),
        paserk: paserk::k4_public(key),
        public_pem: public_pem(key),
        status,
    }
}

/// Key names in `dir` that have a file ending in `suffix`, sorted.
fn names(dir: &Path, suffix: &str) -> Result<Vec<String>, KeyError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(KeyError::Io(dir.to_owned(), error)),
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(suffix))
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    Ok(names)
}

fn read_public(path: &Path) -> Result<VerifyingKey, KeyError> {
    let pem = fs::read_to_string(path).map_err(io(path))?;
    neo_license::keys::parse_public_pem(&pem).map_err(|e| KeyError::BadFile(path.to_owned(), e))
}

/// Refuses a secret file (a private key, a password) that group or others
/// may read, write or run: `Err((path, mode))` names the file and its mode.
pub fn check_private_mode(path: &Path) -> Result<(), KeyError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path).map_err(io(path))?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::Permissions(path.to_owned(), mode));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Reads a private key, refusing one readable by group or others.
fn read_private(path: &Path) -> Result<SigningKey, KeyError> {
    check_private_mode(path)?;
    let pem = fs::read_to_string(path).map_err(io(path))?;
    // The parse error says nothing of the key's bytes.
    SigningKey::from_pkcs8_pem(&pem)
        .map_err(|_| KeyError::BadFile(path.to_owned(), "not a PKCS#8 Ed25519 private key".into()))
}

fn active_name(dir: &Path) -> Result<Option<String>, KeyError> {
    let path = dir.join(ACTIVE_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text.trim().to_owned()).filter(|n| !n.is_empty())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(KeyError::Io(path, error)),
    }
}

fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), KeyError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(io(path))?;
    file.write_all(contents).map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

fn set_active(dir: &Path, name: &str) -> Result<(), KeyError> {
    let path = dir.join(ACTIVE_FILE);
    let temporary = dir.join(".ACTIVE.tmp");
    fs::write(&temporary, format!("{name}\n")).map_err(io(&temporary))?;
    fs::rename(&temporary, &path).map_err(io(&path))
}

/// Makes `dir` (mode 0700) if it is missing.
fn create_dir(dir: &Path) -> Result<(), KeyError> {
    if dir.exists() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(io(dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
    }
    Ok(())
}

/// An exclusive lock on the keys directory, held until dropped (the
/// kernel drops it too when the process dies).
struct DirLock(#[expect(dead_code, reason = "held for its lock")] fs::File);

fn lock(dir: &Path) -> Result<DirLock, KeyError> {
    create_dir(dir)?;
    let path = dir.join(LOCK_FILE);
    let mut options = fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(&path).map_err(io(&path))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|error| KeyError::Io(path.clone(), error.into()))?;
    Ok(DirLock(file))
}

/// Creates a new signing key in `dir` (made with mode 0700 if missing). It
/// becomes the active key when there is none yet, or when `activate`.
pub fn generate(dir: &Path, activate: bool) -> Result<KeyInfo, KeyError> {
    let _lock = lock(dir)?;
    generate_locked(dir, activate)
}

/// [`generate`] for a caller that holds the directory's lock.
fn generate_locked(dir: &Path, activate: bool) -> Result<KeyInfo, KeyError> {
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    let public = key.verifying_key();
    let pid = paserk::k4_pid(&public);
    let short: String = pid
        .trim_start_matches("k4.pid.")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect();
    let name = format!("neo-{}-{short}", chrono::Utc::now().format("%Y%m%d"));
    // PKCS#8 v1 (the seed only), the form OpenSSL writes and reads; the
    // v2 form with the public key inside is not read by OpenSSL 3.0.
    let v1 = ed25519_dalek::pkcs8::KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    };
    let private_pem = v1
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyError::BadFile(dir.join(&name), e.to_string()))?;
    write_file(
        &dir.join(format!("{name}{PRIVATE_SUFFIX}")),
        private_pem.as_bytes(),
        0o600,
    )?;
    let public_path = dir.join(format!("{name}{PUBLIC_SUFFIX}"));
    write_file(&public_path, public_pem(&public).as_bytes(), 0o644)?;
    // Public keys are for anyone, whatever the process's umask.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&public_path, fs::Permissions::from_mode(0o644))
            .map_err(io(&public_path))?;
    }
    let activate = activate || active_name(dir)?.is_none();
    if activate {
        set_active(dir, &name)?;
    }
    let status = if activate {
        KeyFileStatus::Active
    } else {
        KeyFileStatus::Verifying
    };
    Ok(info(&name, &public, status))
}

/// Every signing key in `dir`, retired ones included.
pub fn list(dir: &Path) -> Result<Vec<KeyInfo>, KeyError> {
    let active = active_name(dir)?;
    let mut infos = Vec::new();
    for name in names(dir, PUBLIC_SUFFIX)? {
        let key = read_public(&dir.join(format!("{name}{PUBLIC_SUFFIX}")))?;
        let status = if active.as_deref() == Some(name.as_str()) {
            KeyFileStatus::Active
        } else {
            KeyFileStatus::Verifying
        };
        infos.push(info(&name, &key, status));
    }
    let retired = dir.join(RETIRED_DIR);
    for name in names(&retired, PUBLIC_SUFFIX)? {
        let key = read_public(&retired.join(format!("{name}{PUBLIC_SUFFIX}")))?;
        infos.push(info(&name, &key, KeyFileStatus::Retired));
    }
    Ok(infos)
}

/// Makes the key with id (or name) `key` the active one.
pub fn activate(dir: &Path, key: &str) -> Result<KeyInfo, KeyError> {
    let _lock = lock(dir)?;
    let found = list(dir)?
        .into_iter()
        .find(|i| (i.id == key || i.name == key) && i.status != KeyFileStatus::Retired)
        .ok_or_else(|| KeyError::UnknownKey(key.to_owned()))?;
    read_private(&dir.join(format!("{}{PRIVATE_SUFFIX}", found.name)))?;
    set_active(dir, &found.name)?;
    Ok(KeyInfo {
        status: KeyFileStatus::Active,
        ..found
    })
}

/// Retires a key from verification: its files move to `retired/`.
pub fn retire(dir: &Path, key: &str) -> Result<KeyInfo, KeyError> {
    let _lock = lock(dir)?;
    let found = list(dir)?
        .into_iter()
        .find(|i| (i.id == key || i.name == key) && i.status != KeyFileStatus::Retired)
        .ok_or_else(|| KeyError::UnknownKey(key.to_owned()))?;
    if found.status == KeyFileStatus::Active {
        return Err(KeyError::RetireActive(found.id));
    }
    let retired = dir.join(RETIRED_DIR);
    fs::create_dir_all(&retired).map_err(io(&retired))?;
    for suffix in [PRIVATE_SUFFIX, PUBLIC_SUFFIX] {
        let from = dir.join(format!("{}{suffix}", found.name));
        if from.exists() {
            fs::rename(&from, retired.join(format!("{}{suffix}", found.name)))
                .map_err(io(&from))?;
        }
    }
    Ok(KeyInfo {
        status: KeyFileStatus::Retired,
        ..found
    })
}

/// What verifies: the public keys of the directory when it was last read.
struct Verifying {
    verifier: Arc<Verifier>,
    infos: Arc<Vec<KeyInfo>>,
}

/// The loaded keys: the active one signs, all non-retired ones verify.
/// Parsed at start; the verifying keys are read again (at most once a
/// second) when a key names a signing key this keyring does not know, so
/// a key another replica made is known without a restart.
pub struct Keyring {
    dir: PathBuf,
    active_id: String,
    active: SigningKey,
    footer: Vec<u8>,
    verifying: RwLock<Verifying>,
    last_reload: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("active_id", &self.active_id)
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// Loads the keys in `dir`, checking every private key's permissions.
    pub fn load(dir: &Path) -> Result<Self, KeyError> {
        let infos = list(dir)?;
        let live: Vec<&KeyInfo> = infos
            .iter()
            .filter(|i| i.status != KeyFileStatus::Retired)
            .collect();
        let mut verifying = Vec::new();
        let mut active = None;
        for key in &live {
            let private_path = dir.join(format!("{}{PRIVATE_SUFFIX}", key.name));
            let public = read_public(&dir.join(format!("{}{PUBLIC_SUFFIX}", key.name)))?;
            if private_path.exists() {
                let private = read_private(&private_path)?;
                if private.verifying_key() != public {
                    return Err(KeyError::BadFile(
                        private_path,
                        "does not match its public key".into(),
                    ));
                }
                if key.status == KeyFileStatus::Active {
                    active = Some((key.id.clone(), private));
                }
            }
            verifying.push(public);
        }
        let (active_id, active) = active.ok_or_else(|| KeyError::NoKey(dir.to_owned()))?;
        Ok(Self {
            dir: dir.to_owned(),
            footer: footer_for(&active_id),
            active_id,
            active,
            verifying: RwLock::new(Verifying {
                verifier: Arc::new(Verifier::new(verifying)),
                infos: Arc::new(infos),
            }),
            last_reload: Mutex::new(None),
        })
    }

    /// Loads the keys in `dir`; when it holds no key at all, first creates
    /// a development key there and returns its facts too. The check and
    /// the creation hold the directory's lock, so of several servers
    /// starting at once on an empty directory one creates the key and the
    /// others load it.
    pub fn load_or_create(dir: &Path) -> Result<(Self, Option<KeyInfo>), KeyError> {
        // A directory with its keys in place loads without the lock (it
        // may be read-only); one caught half-written by another server
        // waits for that server's lock below.
        if let Ok(keyring) = Self::load(dir) {
            return Ok((keyring, None));
        }
        let lock = lock(dir)?;
        let created = if list(dir)?.is_empty() {
            Some(generate_locked(dir, true)?)
        } else {
            None
        };
        let keyring = Self::load(dir)?;
        drop(lock);
        Ok((keyring, created))
    }

    /// Verifies a license key's signature and claims (not its `exp`: the
    /// caller judges that on its clock). A key signed by a signing key this keyring
    /// does not know makes it re-read the directory's public keys first
    /// (at most once per second, so unknown ids cannot make it read the
    /// disk on every call).
    pub fn verify(&self, token: &str) -> Result<super::Verified, super::VerifyFailure> {
        match self.verifier().verify_signature(token) {
            Err(super::VerifyFailure::UnknownSigningKey) if self.reload_if_due() => {
                self.verifier().verify_signature(token)
            }
            other => other,
        }
    }

    /// Re-reads the verifying keys unless that was done in the last
    /// second; whether it read them.
    fn reload_if_due(&self) -> bool {
        {
            let mut last = self
                .last_reload
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_some_and(|at| at.elapsed() < RELOAD_INTERVAL) {
                return false;
            }
            *last = Some(Instant::now());
        }
        let read = list(&self.dir).and_then(|infos| {
            let mut keys = Vec::new();
            for key in infos.iter().filter(|i| i.status != KeyFileStatus::Retired) {
                keys.push(read_public(
                    &self.dir.join(format!("{}{PUBLIC_SUFFIX}", key.name)),
                )?);
            }
            Ok((Verifier::new(keys), infos))
        });
        match read {
            Ok((verifier, infos)) => {
                tracing::info!(
                    keys = infos.len(),
                    "keys directory read again for an unknown signing key"
                );
                let mut verifying = self
                    .verifying
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                *verifying = Verifying {
                    verifier: Arc::new(verifier),
                    infos: Arc::new(infos),
                };
                true
            }
            Err(error) => {
                tracing::warn!(%error, "cannot read the keys directory again");
                false
            }
        }
    }

    /// The active signing key's id.
    pub fn active_id(&self) -> &str {
        &self.active_id
    }

    /// The verifier over every non-retired key, as last read.
    pub fn verifier(&self) -> Arc<Verifier> {
        self.verifying
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .verifier
            .clone()
    }

    /// Every key's public facts, retired ones included, as last read.
    pub fn infos(&self) -> Arc<Vec<KeyInfo>> {
        self.verifying
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .infos
            .clone()
    }

    /// Signs claims with the active key.
    pub fn sign(&self, claims: &LicenseClaims) -> String {
        let message = serde_json::to_vec(claims).unwrap_or_default();
        paseto::sign(&self.active, &message, &self.footer, b"")
    }
}

impl Mint for Keyring {
    fn mint(&self, claims: &LicenseClaims) -> Result<(String, String), String> {
        Ok((self.sign(claims), self.active_id.clone()))
    }
}
