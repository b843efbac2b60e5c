//! License keys of desknet's NEO Backup Server, checked offline on the
//! installation: the library an installation embeds, and the one
//! implementation of the key format the neo-support server uses too.
//!
//! - [`Verifier`]: offline verification of a key (PASETO v4.public on
//!   Ed25519, the PASERK `k4.pid` of the signing key in the footer, the
//!   claims, `exp` where present);
//! - [`Fingerprint`], [`Components`] and [`compare`]: the server
//!   fingerprint a key is bound to, computed from this machine's
//!   components, and how a key's fingerprint matches this machine's;
//! - [`Verifier::from_dir`]: the public keys that
//!   `neo-support keys public --write DIR` writes;
//! - [`paseto`] and [`paserk`]: the token and key formats underneath.
//!
//! It depends on no server crate (no tokio, tonic, sqlx or clap).
//!
//! An installation checks its key at start:
//!
//! ```no_run
//! use neo_license::{Components, Verifier};
//!
//! let verifier = Verifier::from_dir("/etc/neo-backup/public-keys")?;
//! let key = std::fs::read_to_string("/etc/neo-backup/license.key")?;
//! let this_machine = Components::this_machine().fingerprint();
//! let check = verifier.check(&key, &this_machine)?;
//! println!("{}", check.summary());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

pub mod claims;
pub mod fingerprint;
pub mod keys;
pub mod paserk;
pub mod paseto;
pub mod verify;

pub use claims::{ISSUER, LicenseClaims, PRODUCT};
pub use fingerprint::{Component, Components, Fingerprint, FingerprintMatch, MatchKind, compare};
pub use keys::KeyFileError;
pub use verify::{Check, Verified, Verifier, VerifyFailure, footer_for};
