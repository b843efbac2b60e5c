//! The public signing keys an installation verifies with, as
//! `neo-support keys public --write DIR` writes them: `NAME.public.pem`
//! (SPKI PEM) and `NAME.public.paserk` (PASERK `k4.public`) per key.
//! Either file of a key is enough.

use std::fs;
use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use ed25519_dalek::pkcs8::DecodePublicKey;

use crate::paserk;

/// The suffix of a public key's PEM file.
pub const PEM_SUFFIX: &str = ".public.pem";
/// The suffix of a public key's PASERK file.
pub const PASERK_SUFFIX: &str = ".public.paserk";

/// A public-key file or directory that cannot be read. Messages name the
/// file.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// File-system trouble.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// A file that is not a public key.
    #[error("cannot read key file {0}: {1}")]
    BadFile(PathBuf, String),
}

/// Parses an Ed25519 public key from SPKI PEM.
pub fn parse_public_pem(text: &str) -> Result<VerifyingKey, String> {
    VerifyingKey::from_public_key_pem(text).map_err(|e| e.to_string())
}

/// Reads one public-key file: PEM when it ends in `.pem`, else PASERK
/// `k4.public`.
pub fn read_public_key(path: &Path) -> Result<VerifyingKey, KeyFileError> {
    let text = fs::read_to_string(path).map_err(|e| KeyFileError::Io(path.to_owned(), e))?;
    let parsed = if path.extension().is_some_and(|e| e == "pem") {
        parse_public_pem(&text)
    } else {
        paserk::parse_k4_public(text.trim()).map_err(|e| e.to_string())
    };
    parsed.map_err(|message| KeyFileError::BadFile(path.to_owned(), message))
}

/// Every public key in `dir` (`*.public.pem` and `*.public.paserk`; not
/// `retired/`), in file-name order. A missing directory holds none.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
/// std::fs::write(
///     dir.path().join("a.public.paserk"),
///     neo_license::paserk::k4_public(&key),
/// )?;
/// assert_eq!(neo_license::keys::load_public_keys(dir.path())?, vec![key]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn load_public_keys(dir: &Path) -> Result<Vec<VerifyingKey>, KeyFileError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(KeyFileError::Io(dir.to_owned(), error)),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(PEM_SUFFIX) || n.ends_with(PASERK_SUFFIX))
        })
        .collect();
    paths.sort();
    paths.iter().map(|p| read_public_key(p)).collect()
}
