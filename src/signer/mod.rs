//! Signing license keys. The key format (PASETO v4.public on Ed25519,
//! PASERK key ids, the claims, verification) is the `neo-license` crate's,
//! re-exported here; this module adds the signing-key files in the keys
//! directory ([`keys`]): the active key signs, the others still verify,
//! retired ones do neither.

pub mod keys;

pub use neo_license::verify::{Verified, Verifier, VerifyFailure, footer_for};
pub use neo_license::{paserk, paseto};
