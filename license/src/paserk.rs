//! PASERK (Platform-Agnostic SERialized Keys) for PASETO version 4 keys.
//!
//! Three types are used:
//!
//! * `k4.public.` + base64url(the 32-byte Ed25519 public key);
//! * `k4.secret.` + base64url(the 32-byte seed || the 32-byte public key);
//! * `k4.pid.` + base64url(BLAKE2b-264(`"k4.pid."` || the `k4.public` string)),
//!   the key id written in the footer of every license key.
//!
//! base64url is RFC 4648 without padding; parsing is strict (no padding, no
//! non-zero trailing bits) and refuses other versions, other types and
//! data of the wrong length.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use blake2::Blake2b;
use blake2::digest::Digest as _;
use blake2::digest::consts::U33;
use ed25519_dalek::{PUBLIC_KEY_LENGTH, SECRET_KEY_LENGTH, SigningKey, VerifyingKey};

/// Prefix of a serialized v4 public key.
const PUBLIC_PREFIX: &str = "k4.public.";
/// Prefix of a serialized v4 secret key.
const SECRET_PREFIX: &str = "k4.secret.";
/// Prefix of a v4 public key id.
const PID_PREFIX: &str = "k4.pid.";

/// Why a PASERK string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PaserkError {
    /// Not of the form `k<version>.<type>.<data>`, or the data is not strict base64url.
    #[error("the PASERK is malformed")]
    Malformed,
    /// A PASERK of another version (k1-k3, ...).
    #[error("not a version 4 PASERK")]
    WrongVersion,
    /// A version 4 PASERK of another type (`k4.local`, `k4.secret` for a public key, ...).
    #[error("not a PASERK of the expected type")]
    WrongType,
    /// The data does not have the length of the key.
    #[error("the key has the wrong length")]
    WrongLength,
    /// The 32 bytes are not an Ed25519 public key.
    #[error("the key is not a valid Ed25519 public key")]
    InvalidKey,
    /// The public half of a secret key is not the one its seed gives.
    #[error("the public half does not match the secret key")]
    KeyMismatch,
}

/// Serializes a public key: `k4.public.` + base64url(32 bytes).
pub fn k4_public(key: &VerifyingKey) -> String {
    k4_public_from_bytes(key.as_bytes())
}

/// Serializes 32 raw bytes as a `k4.public.` PASERK without checking that
/// they are an Ed25519 point.
///
/// The official vectors use byte patterns that are not points; prefer
/// [`k4_public`] everywhere else.
pub fn k4_public_from_bytes(bytes: &[u8; PUBLIC_KEY_LENGTH]) -> String {
    let mut out = String::with_capacity(PUBLIC_PREFIX.len() + 43);
    out.push_str(PUBLIC_PREFIX);
    URL_SAFE_NO_PAD.encode_string(bytes, &mut out);
    out
}

/// Parses a `k4.public.` PASERK into a public key.
///
/// Bytes that are not an Ed25519 point are refused ([`PaserkError::InvalidKey`]).
/// A point of small order is accepted here (the PASERK vectors serialize
/// the all-zero key, which is one); [`crate::paseto::verify`] refuses to
/// verify with one.
pub fn parse_k4_public(text: &str) -> Result<VerifyingKey, PaserkError> {
    let mut bytes = [0_u8; PUBLIC_KEY_LENGTH];
    decode_data(text, PUBLIC_PREFIX, &mut bytes)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| PaserkError::InvalidKey)
}

/// Serializes a secret key: `k4.secret.` + base64url(seed || public key), 64 bytes.
pub fn k4_secret(key: &SigningKey) -> String {
    let mut out = String::with_capacity(SECRET_PREFIX.len() + 86);
    out.push_str(SECRET_PREFIX);
    let mut bytes = key.to_keypair_bytes();
    URL_SAFE_NO_PAD.encode_string(bytes, &mut out);
    wipe(&mut bytes);
    out
}

/// Parses a `k4.secret.` PASERK into a signing key; refuses it when the
/// public half does not match the seed.
pub fn parse_k4_secret(text: &str) -> Result<SigningKey, PaserkError> {
    let mut bytes = [0_u8; SECRET_KEY_LENGTH + PUBLIC_KEY_LENGTH];
    let parsed = decode_data(text, SECRET_PREFIX, &mut bytes).and_then(|()| {
        let (seed, public) = bytes.split_at(SECRET_KEY_LENGTH);
        let mut seed_bytes = [0_u8; SECRET_KEY_LENGTH];
        seed_bytes.copy_from_slice(seed);
        let key = SigningKey::from_bytes(&seed_bytes);
        wipe(&mut seed_bytes);
        if key.verifying_key().as_bytes() == public {
            Ok(key)
        } else {
            Err(PaserkError::KeyMismatch)
        }
    });
    wipe(&mut bytes);
    parsed
}

/// The key id of a public key: `k4.pid.` + base64url(BLAKE2b-264(`"k4.pid."` || `k4_public(key)`)).
pub fn k4_pid(key: &VerifyingKey) -> String {
    k4_pid_from_bytes(key.as_bytes())
}

/// The key id of 32 raw public-key bytes, without checking that they are an
/// Ed25519 point (see [`k4_public_from_bytes`]); prefer [`k4_pid`].
pub fn k4_pid_from_bytes(bytes: &[u8; PUBLIC_KEY_LENGTH]) -> String {
    let digest = Blake2b::<U33>::new()
        .chain_update(PID_PREFIX)
        .chain_update(k4_public_from_bytes(bytes))
        .finalize();
    let mut out = String::with_capacity(PID_PREFIX.len() + 44);
    out.push_str(PID_PREFIX);
    URL_SAFE_NO_PAD.encode_string(digest, &mut out);
    out
}

/// Checks that `text` is `prefix` + base64url of exactly `out.len()` bytes
/// and decodes it into `out`.
fn decode_data(text: &str, prefix: &str, out: &mut [u8]) -> Result<(), PaserkError> {
    let Some(data) = text.strip_prefix(prefix) else {
        return Err(classify(text, prefix));
    };
    let decoded_len = match data.len() % 4 {
        0 => data.len() / 4 * 3,
        2 => data.len() / 4 * 3 + 1,
        3 => data.len() / 4 * 3 + 2,
        _ => return Err(PaserkError::Malformed),
    };
    if decoded_len != out.len() {
        return Err(PaserkError::WrongLength);
    }
    match URL_SAFE_NO_PAD.decode_slice(data, out) {
        Ok(written) if written == out.len() => Ok(()),
        _ => Err(PaserkError::Malformed),
    }
}

/// Names what is wrong with a string that does not start with `prefix`.
fn classify(text: &str, prefix: &str) -> PaserkError {
    let mut pieces = text.splitn(3, '.');
    let (Some(version), Some(kind), Some(_)) = (pieces.next(), pieces.next(), pieces.next()) else {
        return PaserkError::Malformed;
    };
    let version_ok = version
        .strip_prefix('k')
        .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()));
    let kind_ok = !kind.is_empty() && kind.bytes().all(|b| b.is_ascii_lowercase());
    if !version_ok || !kind_ok {
        PaserkError::Malformed
    } else if !prefix.starts_with(&format!("{version}.")) {
        PaserkError::WrongVersion
    } else {
        PaserkError::WrongType
    }
}

/// Overwrites key material before it is dropped (best effort).
fn wipe(bytes: &mut [u8]) {
    bytes.fill(0);
    std::hint::black_box(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn a_public_key_survives_serialization() {
        let public = key(1).verifying_key();
        let text = k4_public(&public);
        assert!(text.starts_with("k4.public."));
        assert_eq!(text.len(), 10 + 43);
        assert_eq!(parse_k4_public(&text), Ok(public));
    }

    #[test]
    fn a_secret_key_survives_serialization() {
        let secret = key(2);
        let text = k4_secret(&secret);
        assert_eq!(text.len(), 10 + 86);
        let parsed = parse_k4_secret(&text).expect("parses");
        assert_eq!(parsed.to_bytes(), secret.to_bytes());
    }

    #[test]
    fn a_secret_key_with_a_foreign_public_half_is_refused() {
        let mut bytes = key(3).to_keypair_bytes();
        bytes[32..].copy_from_slice(key(4).verifying_key().as_bytes());
        let text = format!("k4.secret.{}", URL_SAFE_NO_PAD.encode(bytes));
        assert_eq!(parse_k4_secret(&text), Err(PaserkError::KeyMismatch));
    }

    #[test]
    fn a_key_id_is_51_characters_and_differs_between_keys() {
        let one = k4_pid(&key(5).verifying_key());
        let two = k4_pid(&key(6).verifying_key());
        assert!(one.starts_with("k4.pid."));
        assert_eq!(one.len(), 7 + 44);
        assert_ne!(one, two);
    }

    #[test]
    fn other_versions_and_types_are_named_as_such() {
        let data = URL_SAFE_NO_PAD.encode([0x11_u8; 32]);
        assert_eq!(
            parse_k4_public(&format!("k2.public.{data}")),
            Err(PaserkError::WrongVersion)
        );
        assert_eq!(
            parse_k4_public(&format!("k4.local.{data}")),
            Err(PaserkError::WrongType)
        );
        assert_eq!(
            parse_k4_public(&k4_secret(&key(7))),
            Err(PaserkError::WrongType)
        );
        assert_eq!(
            parse_k4_secret(&k4_public(&key(7).verifying_key())),
            Err(PaserkError::WrongType)
        );
    }

    #[test]
    fn malformed_strings_are_refused() {
        let good = k4_public(&key(8).verifying_key());
        for text in [
            String::new(),
            "k4.public".to_owned(),
            "k4.public.".to_owned(),
            "K4.PUBLIC.AAAA".to_owned(),
            format!("{good}="),
            format!("{good}A"),
            good.replace('.', ":"),
        ] {
            assert!(parse_k4_public(&text).is_err(), "{text}");
        }
        // Non-zero trailing bits: 32 bytes leave 2 unused bits in the last character.
        let last = good.as_bytes()[good.len() - 1];
        assert!(matches!(
            last,
            b'A' | b'E'
                | b'I'
                | b'M'
                | b'Q'
                | b'U'
                | b'Y'
                | b'c'
                | b'g'
                | b'k'
                | b'o'
                | b's'
                | b'w'
                | b'0'
                | b'4'
                | b'8'
        ));
        let mut bad = good.into_bytes();
        let at = bad.len() - 1;
        bad[at] = if last == b'A' { b'B' } else { last + 1 };
        let bad = String::from_utf8(bad).expect("ascii");
        assert_eq!(parse_k4_public(&bad), Err(PaserkError::Malformed));
    }

    #[test]
    fn wrong_lengths_are_refused() {
        for len in [0, 31, 33, 48, 49, 64] {
            let data = URL_SAFE_NO_PAD.encode(vec![0x42_u8; len]);
            assert_eq!(
                parse_k4_public(&format!("k4.public.{data}")),
                Err(PaserkError::WrongLength)
            );
        }
        for len in [0, 31, 32, 48, 63, 65] {
            let data = URL_SAFE_NO_PAD.encode(vec![0x42_u8; len]);
            assert_eq!(
                parse_k4_secret(&format!("k4.secret.{data}")),
                Err(PaserkError::WrongLength)
            );
        }
    }

    #[test]
    fn random_strings_never_make_the_parsers_panic() {
        let mut state = 0x1234_5678_9abc_def1_u64;
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=k";
        for len in 0..120 {
            for _ in 0..20 {
                let raw: String = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        char::from(alphabet[(state % alphabet.len() as u64) as usize])
                    })
                    .collect();
                for text in [
                    raw.clone(),
                    format!("k4.public.{raw}"),
                    format!("k4.secret.{raw}"),
                ] {
                    let _ = parse_k4_public(&text);
                    let _ = parse_k4_secret(&text);
                }
            }
        }
    }
}
