//! PASETO v4.public tokens: Ed25519 signatures over a payload, an optional
//! footer and an optional implicit assertion.
//!
//! License keys are `v4.public` tokens, so any PASETO library can check them.
//! The format follows the PASETO specification, version 4 "Sign" and
//! "Verify", with the pre-authentication encoding (PAE) and the strict
//! base64url rules of its "Common" chapter:
//!
//! ```text
//! token = "v4.public." || b64(m || sig) [ || "." || b64(f) ]     (f only when non-empty)
//! sig   = Ed25519(sk, PAE("v4.public.", m, f, i))
//! ```
//!
//! `b64` is RFC 4648 base64url without `=` padding; decoding rejects padding
//! and non-zero trailing bits. Nothing here panics on hostile input: every
//! malformed token is an [`TokenError`].
//!
//! Verification uses [`VerifyingKey::verify`] after refusing weak
//! (small-order) public keys; see [`verify`] for why this is as strict as
//! `verify_strict` for tokens and cheaper.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{
    SIGNATURE_LENGTH, Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey,
};

/// The header of every token this module signs or accepts: version 4, purpose `public`.
pub const HEADER: &str = "v4.public.";

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a PASETO token at all / bad base64 / too short / too many parts.
    #[error("the key is malformed")]
    Malformed,
    /// A PASETO token of another version or purpose (v1-v3, v4.local, ...).
    #[error("not a v4.public token")]
    WrongVersionOrPurpose,
    /// The footer is not the expected one.
    #[error("the footer does not match")]
    FooterMismatch,
    /// The signature does not verify under the key.
    #[error("the signature does not verify")]
    BadSignature,
}

/// Length of the fixed PAE prefix in a v4.public pre-authentication string:
/// the piece count, the header's length and the header.
const PAE_PREFIX_LEN: usize = 8 + 8 + HEADER.len();

/// `LE64(n)`: `n` as 8 little-endian bytes with the most significant bit
/// cleared, as the specification requires for interoperability.
fn le64(n: usize) -> [u8; 8] {
    ((n as u64) & (u64::MAX >> 1)).to_le_bytes()
}

/// Pre-Authentication Encoding.
///
/// `LE64(number of pieces)`, then for each piece `LE64(length) || piece`.
/// The result is built in one allocation of exactly the right size.
pub fn pae(pieces: &[&[u8]]) -> Vec<u8> {
    let len = pieces.iter().fold(8_usize, |acc, piece| {
        acc.saturating_add(8).saturating_add(piece.len())
    });
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&le64(pieces.len()));
    for piece in pieces {
        out.extend_from_slice(&le64(piece.len()));
        out.extend_from_slice(piece);
    }
    out
}

/// Signs `message` with `footer` (may be empty) and implicit assertion `implicit` (may be empty); returns the token.
///
/// The footer is sent in the clear (base64url) and authenticated; the
/// implicit assertion is authenticated but not sent, so the verifier must
/// supply the same bytes.
pub fn sign(key: &SigningKey, message: &[u8], footer: &[u8], implicit: &[u8]) -> String {
    let m2 = pae(&[HEADER.as_bytes(), message, footer, implicit]);
    let signature = key.sign(&m2).to_bytes();

    let body_len = message.len().saturating_add(SIGNATURE_LENGTH);
    let footer_len = if footer.is_empty() {
        0
    } else {
        1 + base64::encoded_len(footer.len(), false).unwrap_or(0)
    };
    let capacity = HEADER
        .len()
        .saturating_add(base64::encoded_len(body_len, false).unwrap_or(0))
        .saturating_add(footer_len);
    let mut token = String::with_capacity(capacity);
    token.push_str(HEADER);

    // base64url(m || sig) without building `m || sig`: the whole 3-byte groups
    // of `m` encode on their own; the last 0-2 bytes of `m` go with the signature.
    let split = message.len() - message.len() % 3;
    let (head, rest) = message.split_at(split);
    URL_SAFE_NO_PAD.encode_string(head, &mut token);
    let mut tail = [0_u8; 2 + SIGNATURE_LENGTH];
    tail[..rest.len()].copy_from_slice(rest);
    tail[rest.len()..rest.len() + SIGNATURE_LENGTH].copy_from_slice(&signature);
    URL_SAFE_NO_PAD.encode_string(&tail[..rest.len() + SIGNATURE_LENGTH], &mut token);

    if !footer.is_empty() {
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(footer, &mut token);
    }
    token
}

/// The base64url parts of a v4.public token, with their exact decoded sizes.
struct Parts<'a> {
    /// base64url of `m || sig`.
    body: &'a str,
    /// Decoded length of `body` (at least [`SIGNATURE_LENGTH`]).
    body_len: usize,
    /// base64url of the footer; empty when the token has none.
    footer: &'a str,
    /// Decoded length of `footer`.
    footer_len: usize,
}

/// Splits `token` into its parts and checks their shape, without decoding.
fn split(token: &str) -> Result<Parts<'_>, TokenError> {
    let Some(rest) = token.strip_prefix(HEADER) else {
        return Err(if is_other_paseto(token) {
            TokenError::WrongVersionOrPurpose
        } else {
            TokenError::Malformed
        });
    };
    let mut pieces = rest.split('.');
    let body = pieces.next().unwrap_or_default();
    let footer = match pieces.next() {
        None => "",
        // A present but empty footer is never produced by a signer.
        Some("") => return Err(TokenError::Malformed),
        Some(footer) => footer,
    };
    if pieces.next().is_some() {
        return Err(TokenError::Malformed);
    }
    let body_len = decoded_len(body)?;
    if body_len < SIGNATURE_LENGTH {
        return Err(TokenError::Malformed);
    }
    let footer_len = decoded_len(footer)?;
    Ok(Parts {
        body,
        body_len,
        footer,
        footer_len,
    })
}

/// Whether `token` looks like a PASETO token of some version and purpose:
/// `v<alphanumerics>.<lowercase letters>.` followed by anything.
fn is_other_paseto(token: &str) -> bool {
    let mut pieces = token.splitn(3, '.');
    let (Some(version), Some(purpose), Some(_)) = (pieces.next(), pieces.next(), pieces.next())
    else {
        return false;
    };
    version
        .strip_prefix('v')
        .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric()))
        && !purpose.is_empty()
        && purpose.bytes().all(|b| b.is_ascii_lowercase())
}

/// The exact number of bytes unpadded base64 text of this length decodes to.
fn decoded_len(text: &str) -> Result<usize, TokenError> {
    let n = text.len();
    let partial = match n % 4 {
        0 => 0,
        2 => 1,
        3 => 2,
        _ => return Err(TokenError::Malformed),
    };
    Ok(n / 4 * 3 + partial)
}

/// Appends the decoding of `text` (exactly `len` bytes) to `buf`.
fn decode_into(text: &str, len: usize, buf: &mut Vec<u8>) -> Result<(), TokenError> {
    let start = buf.len();
    buf.resize(start + len, 0);
    match URL_SAFE_NO_PAD.decode_slice(text, &mut buf[start..]) {
        Ok(written) if written == len => Ok(()),
        _ => Err(TokenError::Malformed),
    }
}

/// Compares two byte strings in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a
        .iter()
        .zip(b)
        .fold(0_u8, |acc, (x, y)| std::hint::black_box(acc | (x ^ y)));
    diff == 0
}

/// The footer of a v4.public token, decoded, WITHOUT verifying anything (to find the key id). Errors as above.
///
/// Only the shape of the body is checked (its length), not its contents:
/// use [`verify`] before trusting anything in the token.
pub fn footer(token: &str) -> Result<Vec<u8>, TokenError> {
    let parts = split(token)?;
    let mut out = Vec::with_capacity(parts.footer_len);
    decode_into(parts.footer, parts.footer_len, &mut out)?;
    Ok(out)
}

/// Verifies `token` under `key`; when `expected_footer` is Some, the footer must equal it (constant-time compare). Returns the message (payload bytes).
///
/// The signature check is Ed25519 as in libsodium's
/// `crypto_sign_verify_detached`, which the specification names: weak
/// (small-order) public keys are refused, `S` must be canonical and the
/// equation is the cofactorless one, compared on the encoded `R`. For a key
/// that is not weak, the only signatures `VerifyingKey::verify` accepts and
/// `verify_strict` refuses have a small-order `R`, which only the holder of
/// the secret key can make; `verify` skips `verify_strict`'s decompression
/// of `R`, which costs several percent of a verification.
///
/// The token is decoded straight into the pre-authentication buffer, which
/// then becomes the returned message: one allocation in all.
pub fn verify(
    key: &VerifyingKey,
    token: &str,
    expected_footer: Option<&[u8]>,
    implicit: &[u8],
) -> Result<Vec<u8>, TokenError> {
    let parts = split(token)?;
    let message_len = parts.body_len - SIGNATURE_LENGTH;

    // PAE(h, m, f, i); the signature sits after `m` until it is taken out.
    let capacity = PAE_PREFIX_LEN
        .saturating_add(parts.body_len)
        .saturating_add(8 + parts.footer_len)
        .saturating_add(8 + implicit.len());
    let mut buf = Vec::with_capacity(capacity);
    buf.extend_from_slice(&le64(4));
    buf.extend_from_slice(&le64(HEADER.len()));
    buf.extend_from_slice(HEADER.as_bytes());
    buf.extend_from_slice(&le64(message_len));
    decode_into(parts.body, parts.body_len, &mut buf)?;
    let message_end = PAE_PREFIX_LEN + 8 + message_len;
    let signature: [u8; SIGNATURE_LENGTH] = buf
        .get(message_end..)
        .and_then(|tail| tail.try_into().ok())
        .ok_or(TokenError::Malformed)?;
    buf.truncate(message_end);

    buf.extend_from_slice(&le64(parts.footer_len));
    let footer_start = buf.len();
    decode_into(parts.footer, parts.footer_len, &mut buf)?;
    if let Some(expected) = expected_footer
        && !constant_time_eq(&buf[footer_start..], expected)
    {
        return Err(TokenError::FooterMismatch);
    }
    buf.extend_from_slice(&le64(implicit.len()));
    buf.extend_from_slice(implicit);

    check_signature(key, &buf, &signature)?;

    buf.truncate(message_end);
    buf.drain(..PAE_PREFIX_LEN + 8);
    Ok(buf)
}

/// The Ed25519 check of [`verify`]: weak keys refused, then dalek's `verify`.
fn check_signature(
    key: &VerifyingKey,
    message: &[u8],
    signature: &[u8; SIGNATURE_LENGTH],
) -> Result<(), TokenError> {
    if key.is_weak() {
        return Err(TokenError::BadSignature);
    }
    key.verify(message, &Signature::from_bytes(signature))
        .map_err(|_| TokenError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    /// A small deterministic generator, so the fuzz-like tests need no crate.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn bytes(&mut self, len: usize) -> Vec<u8> {
            (0..len).map(|_| self.next() as u8).collect()
        }
    }

    #[test]
    fn pae_matches_the_examples_of_the_specification() {
        assert_eq!(pae(&[]), b"\x00\x00\x00\x00\x00\x00\x00\x00");
        assert_eq!(
            pae(&[b""]),
            b"\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
        );
        assert_eq!(
            pae(&[b"test"]),
            b"\x01\x00\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00test"
        );
    }

    #[test]
    fn pae_allocates_exactly_the_encoded_length() {
        let out = pae(&[b"v4.public.", b"message", b"", b"implicit"]);
        assert_eq!(out.len(), 8 + 4 * 8 + 10 + 7 + 8);
        assert_eq!(out.capacity(), out.len());
    }

    #[test]
    fn le64_clears_the_most_significant_bit() {
        assert_eq!(le64(usize::MAX)[7], 0x7f);
    }

    #[test]
    fn a_signed_token_verifies_and_returns_the_message() {
        let key = key(1);
        for len in 0..10 {
            let message = vec![b'x'; len];
            let token = sign(&key, &message, b"", b"");
            assert!(token.starts_with(HEADER));
            assert!(!token[HEADER.len()..].contains('.'));
            assert_eq!(verify(&key.verifying_key(), &token, None, b""), Ok(message));
        }
    }

    #[test]
    fn a_token_signed_with_a_footer_verifies_only_with_that_footer() {
        let key = key(2);
        let token = sign(&key, b"{}", b"k4.pid.abc", b"");
        let public = key.verifying_key();
        assert_eq!(
            verify(&public, &token, Some(b"k4.pid.abc"), b""),
            Ok(b"{}".to_vec())
        );
        assert_eq!(verify(&public, &token, None, b""), Ok(b"{}".to_vec()));
        assert_eq!(
            verify(&public, &token, Some(b"k4.pid.abd"), b""),
            Err(TokenError::FooterMismatch)
        );
        assert_eq!(
            verify(&public, &token, Some(b""), b""),
            Err(TokenError::FooterMismatch)
        );
    }

    #[test]
    fn a_token_without_a_footer_matches_only_an_empty_expected_footer() {
        let key = key(3);
        let token = sign(&key, b"{}", b"", b"");
        let public = key.verifying_key();
        assert!(verify(&public, &token, Some(b""), b"").is_ok());
        assert_eq!(
            verify(&public, &token, Some(b"x"), b""),
            Err(TokenError::FooterMismatch)
        );
    }

    #[test]
    fn a_token_verifies_only_with_its_implicit_assertion() {
        let key = key(4);
        let token = sign(&key, b"{}", b"f", b"server-1");
        let public = key.verifying_key();
        assert!(verify(&public, &token, None, b"server-1").is_ok());
        assert_eq!(
            verify(&public, &token, None, b"server-2"),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            verify(&public, &token, None, b""),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn a_token_does_not_verify_under_another_key() {
        let token = sign(&key(5), b"{}", b"", b"");
        assert_eq!(
            verify(&key(6).verifying_key(), &token, None, b""),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn a_swapped_footer_breaks_the_signature() {
        let key = key(7);
        let token = sign(&key, b"{}", b"one", b"");
        let body = token.rsplit_once('.').map(|(body, _)| body).unwrap_or("");
        let forged = format!("{body}.{}", URL_SAFE_NO_PAD.encode(b"two"));
        assert_eq!(
            verify(&key.verifying_key(), &forged, None, b""),
            Err(TokenError::BadSignature)
        );
        assert_eq!(footer(&forged), Ok(b"two".to_vec()));
    }

    #[test]
    fn every_flipped_character_is_refused() {
        let key = key(8);
        let public = key.verifying_key();
        let token = sign(&key, b"{\"a\":1}", b"kid", b"");
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for at in HEADER.len()..token.len() {
            let mut bytes = token.clone().into_bytes();
            let original = bytes[at];
            let next = alphabet
                .iter()
                .position(|&c| c == original)
                .map_or(b'A', |i| alphabet[(i + 1) % alphabet.len()]);
            for replacement in [next, b'=', b'+', b'/', b'.', b' '] {
                if replacement == original {
                    continue;
                }
                bytes[at] = replacement;
                let Ok(forged) = String::from_utf8(bytes.clone()) else {
                    continue;
                };
                assert!(verify(&public, &forged, None, b"").is_err(), "{forged}");
            }
        }
    }

    #[test]
    fn the_footer_is_read_without_a_key() {
        let token = sign(&key(9), b"{}", b"k4.pid.xyz", b"");
        assert_eq!(footer(&token), Ok(b"k4.pid.xyz".to_vec()));
        let bare = sign(&key(9), b"{}", b"", b"");
        assert_eq!(footer(&bare), Ok(Vec::new()));
    }

    #[test]
    fn tokens_of_other_versions_or_purposes_are_named_as_such() {
        for token in [
            "v4.local.AAAA",
            "v3.public.AAAA",
            "v2.public.AAAA.BBBB",
            "v1.local.",
            "v4c.public.AAAA",
        ] {
            assert_eq!(footer(token), Err(TokenError::WrongVersionOrPurpose));
            let public = key(1).verifying_key();
            assert_eq!(
                verify(&public, token, None, b""),
                Err(TokenError::WrongVersionOrPurpose)
            );
        }
    }

    #[test]
    fn strings_that_are_not_tokens_are_malformed() {
        let good = sign(&key(10), b"{}", b"f", b"");
        let (body, foot) = good[HEADER.len()..].split_once('.').unwrap_or(("", ""));
        let cases = [
            String::new(),
            "v4.public".to_owned(),
            "v4.public.".to_owned(),
            "V4.PUBLIC.AAAA".to_owned(),
            "hello".to_owned(),
            "v.public.AAAA".to_owned(),
            format!("{HEADER}{body}.{foot}.{foot}"),
            format!("{HEADER}{body}."),
            format!("{HEADER}{body}=.{foot}"),
            format!("{HEADER}{body}.{foot}="),
            format!("{HEADER}{}", &body[..body.len() - 3]),
            format!("{HEADER}{}", &body[..84]),
        ];
        let public = key(10).verifying_key();
        for token in &cases {
            assert_eq!(
                verify(&public, token, None, b""),
                Err(TokenError::Malformed),
                "{token}"
            );
            assert_eq!(footer(token), Err(TokenError::Malformed), "{token}");
        }
    }

    #[test]
    fn non_canonical_trailing_bits_are_refused() {
        let key = key(11);
        // One byte of footer encodes as two characters with 4 unused bits.
        let token = sign(&key, b"{}", b"A", b"");
        assert!(token.ends_with(".QQ"));
        let forged = format!("{}R", &token[..token.len() - 1]);
        assert_eq!(footer(&forged), Err(TokenError::Malformed));
        assert_eq!(
            verify(&key.verifying_key(), &forged, None, b""),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn a_weak_public_key_verifies_nothing() {
        // With A = the identity point, R = identity and S = 0 satisfy the
        // cofactorless equation [S]B = R + [h]A for every message.
        let mut identity = [0_u8; 32];
        identity[0] = 1;
        let weak = VerifyingKey::from_bytes(&identity).expect("the identity is a point");
        let mut forged_signature = [0_u8; SIGNATURE_LENGTH];
        forged_signature[..32].copy_from_slice(&identity);
        let message = b"{\"seats\":1000}";
        let m2 = pae(&[HEADER.as_bytes(), message, b"", b""]);
        assert!(
            weak.verify(&m2, &Signature::from_bytes(&forged_signature))
                .is_ok(),
            "the forgery is real for a bare verify"
        );
        let mut body = message.to_vec();
        body.extend_from_slice(&forged_signature);
        let token = format!("{HEADER}{}", URL_SAFE_NO_PAD.encode(&body));
        assert_eq!(
            verify(&weak, &token, None, b""),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn random_bytes_of_every_length_are_refused_without_panicking() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let public = key(12).verifying_key();
        for len in 0..200 {
            for _ in 0..20 {
                let bytes = rng.bytes(len);
                let text = String::from_utf8_lossy(&bytes);
                assert!(verify(&public, &text, None, b"").is_err());
                assert!(verify(&public, &text, Some(b"x"), b"i").is_err());
                let _ = footer(&text);
            }
        }
    }

    #[test]
    fn random_base64_of_every_length_is_refused_without_panicking() {
        let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
        let public = key(13).verifying_key();
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=";
        for len in 0..200 {
            for _ in 0..20 {
                let raw: String = (0..len)
                    .map(|_| char::from(alphabet[(rng.next() % alphabet.len() as u64) as usize]))
                    .collect();
                for text in [raw.clone(), format!("{HEADER}{raw}")] {
                    assert!(verify(&public, &text, None, b"").is_err(), "{text}");
                    assert!(verify(&public, &text, Some(b""), b"").is_err(), "{text}");
                    let _ = footer(&text);
                }
                let body = URL_SAFE_NO_PAD.encode(rng.bytes(len));
                let token = format!("{HEADER}{body}");
                assert!(verify(&public, &token, None, b"").is_err());
                let _ = footer(&token);
            }
        }
    }
}
