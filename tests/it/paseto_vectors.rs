//! The official PASETO v4 and PASERK k4 test vectors, run against
//! `neo_support::signer::paseto` and `neo_support::signer::paserk`.
//!
//! The JSON files in `tests/data/paseto/` are copied unchanged from the
//! paseto-standard test vectors (ISC licence, `LICENSE` beside them).

use ed25519_dalek::{SigningKey, VerifyingKey};
use neo_support::signer::paserk::{
    PaserkError, k4_pid, k4_pid_from_bytes, k4_public, k4_public_from_bytes, k4_secret,
    parse_k4_public, parse_k4_secret,
};
use neo_support::signer::paseto::{HEADER, TokenError, footer, sign, verify};
use serde_json::Value;

const V4: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/paseto/v4.json"
));
const K4_PID: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/paseto/PASERK/k4.pid.json"
));
const K4_PUBLIC: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/paseto/PASERK/k4.public.json"
));
const K4_SECRET: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/paseto/PASERK/k4.secret.json"
));

/// The `tests` array of a vector file.
fn cases(json: &str) -> Vec<Value> {
    let file: Value = serde_json::from_str(json).expect("vector file is JSON");
    file["tests"].as_array().expect("a tests array").clone()
}

fn name(case: &Value) -> &str {
    case["name"].as_str().expect("every case has a name")
}

fn expect_fail(case: &Value) -> bool {
    case["expect-fail"]
        .as_bool()
        .expect("every case says expect-fail")
}

/// A string field, or "" when it is absent or null.
fn text<'a>(case: &'a Value, field: &str) -> &'a str {
    case[field].as_str().unwrap_or_default()
}

fn hex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex: {text}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digits"))
        .collect()
}

fn array<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
    bytes.try_into().ok()
}

fn verifying_key(hex_text: &str) -> Option<VerifyingKey> {
    VerifyingKey::from_bytes(&array(&hex(hex_text))?).ok()
}

fn is_local(case: &Value) -> bool {
    text(case, "token").starts_with("v4.local.")
}

#[test]
fn every_v4_public_vector_signs_and_verifies_as_published() {
    let mut ran = 0;
    for case in cases(V4) {
        // v4.local (encryption) is not used by license keys, so its
        // success vectors are skipped; the expect-fail ones run below.
        if expect_fail(&case) || is_local(&case) {
            continue;
        }
        let name = name(&case);
        let token = text(&case, "token");
        let payload = text(&case, "payload").as_bytes();
        let foot = text(&case, "footer").as_bytes();
        let implicit = text(&case, "implicit-assertion").as_bytes();

        let keypair: [u8; 64] = array(&hex(text(&case, "secret-key"))).expect("64-byte secret key");
        let secret = SigningKey::from_keypair_bytes(&keypair).expect("consistent key pair");
        let seed: [u8; 32] = array(&hex(text(&case, "secret-key-seed"))).expect("32-byte seed");
        assert_eq!(secret.to_bytes(), seed, "{name}: seed");
        let public = verifying_key(text(&case, "public-key")).expect("public key");
        assert_eq!(secret.verifying_key(), public, "{name}: public key");

        assert_eq!(
            sign(&secret, payload, foot, implicit),
            token,
            "{name}: sign"
        );
        assert_eq!(
            verify(&public, token, Some(foot), implicit).as_deref(),
            Ok(payload),
            "{name}: verify with the expected footer"
        );
        assert_eq!(
            verify(&public, token, None, implicit).as_deref(),
            Ok(payload),
            "{name}: verify without an expected footer"
        );
        assert_eq!(footer(token).as_deref(), Ok(foot), "{name}: footer");
        ran += 1;
    }
    assert_eq!(ran, 3, "4-S-1 .. 4-S-3");
}

#[test]
fn every_v4_expect_fail_vector_is_refused() {
    let mut ran = 0;
    for case in cases(V4) {
        if !expect_fail(&case) {
            continue;
        }
        let name = name(&case);
        let token = text(&case, "token");
        let foot = text(&case, "footer").as_bytes();
        let implicit = text(&case, "implicit-assertion").as_bytes();

        // Whatever key the case carries (an Ed25519 public key, or a
        // symmetric key that happens to be a valid point), and the public
        // key of the success vectors, nothing may verify.
        let mut keys: Vec<VerifyingKey> = ["public-key", "key"]
            .iter()
            .filter_map(|field| verifying_key(text(&case, field)))
            .collect();
        keys.extend(verifying_key(
            "1eb9dbbbbc047c03fd70604e0071f0987e16b28b757225c11f00415d0e20b1a2",
        ));
        for key in &keys {
            for expected in [Some(foot), None] {
                let result = verify(key, token, expected, implicit);
                assert!(result.is_err(), "{name}: verified to {result:?}");
                if !token.starts_with(HEADER) {
                    assert_eq!(result, Err(TokenError::WrongVersionOrPurpose), "{name}");
                }
            }
        }
        ran += 1;
    }
    assert_eq!(ran, 5, "4-F-1 .. 4-F-5");
}

#[test]
fn v4_local_tokens_are_refused_as_another_purpose() {
    // Local tokens are not used; we only check that the verifier names them.
    let public = verifying_key("1eb9dbbbbc047c03fd70604e0071f0987e16b28b757225c11f00415d0e20b1a2")
        .expect("public key");
    for case in cases(V4).iter().filter(|case| is_local(case)) {
        let token = text(case, "token");
        assert_eq!(
            verify(&public, token, None, b""),
            Err(TokenError::WrongVersionOrPurpose),
            "{}",
            name(case)
        );
        assert_eq!(footer(token), Err(TokenError::WrongVersionOrPurpose));
    }
}

#[test]
fn every_k4_public_vector_holds() {
    for case in cases(K4_PUBLIC) {
        let name = name(&case);
        let bytes = hex(text(&case, "key"));
        if expect_fail(&case) {
            assert!(array::<32>(&bytes).is_none(), "{name}: not 32 bytes");
            // Serialized as a k4.public anyway, the wrong key must not parse.
            let forged = format!("k4.public.{}", b64(&bytes));
            assert_eq!(
                parse_k4_public(&forged),
                Err(PaserkError::WrongLength),
                "{name}"
            );
            let other_version = format!("k3.public.{}", b64(&bytes));
            assert_eq!(
                parse_k4_public(&other_version),
                Err(PaserkError::WrongVersion),
                "{name}"
            );
            continue;
        }
        let paserk = text(&case, "paserk");
        let raw: [u8; 32] = array(&bytes).expect("32 bytes");
        assert_eq!(
            k4_public_from_bytes(&raw),
            paserk,
            "{name}: serialize bytes"
        );
        // Two of the three vector keys are byte patterns, not Ed25519
        // points: no VerifyingKey can hold them, and parsing refuses them.
        match VerifyingKey::from_bytes(&raw) {
            Ok(key) => {
                assert_eq!(k4_public(&key), paserk, "{name}: serialize");
                assert_eq!(parse_k4_public(paserk), Ok(key), "{name}: parse");
            }
            Err(_) => assert_eq!(
                parse_k4_public(paserk),
                Err(PaserkError::InvalidKey),
                "{name}: not a point"
            ),
        }
    }
}

#[test]
fn every_k4_secret_vector_holds() {
    for case in cases(K4_SECRET) {
        let name = name(&case);
        let bytes = hex(text(&case, "key"));
        if expect_fail(&case) {
            assert!(
                array::<64>(&bytes).is_none(),
                "{name}: the key is not 64 bytes"
            );
            let forged = format!("k4.secret.{}", b64(&bytes));
            assert_eq!(
                parse_k4_secret(&forged),
                Err(PaserkError::WrongLength),
                "{name}"
            );
            let other_version = format!("k3.secret.{}", b64(&bytes));
            assert_eq!(
                parse_k4_secret(&other_version),
                Err(PaserkError::WrongVersion),
                "{name}"
            );
            continue;
        }
        let paserk = text(&case, "paserk");
        let keypair: [u8; 64] = array(&bytes).expect("64 bytes");
        let key = SigningKey::from_keypair_bytes(&keypair).expect("consistent key pair");
        assert_eq!(
            hex(text(&case, "secret-key-seed")),
            key.to_bytes(),
            "{name}: seed"
        );
        assert_eq!(
            hex(text(&case, "public-key")),
            key.verifying_key().to_bytes(),
            "{name}: public half"
        );
        assert_eq!(k4_secret(&key), paserk, "{name}: serialize");
        let parsed = parse_k4_secret(paserk).expect("parses");
        assert_eq!(parsed.to_keypair_bytes(), keypair, "{name}: parse");
    }
}

#[test]
fn every_k4_pid_vector_holds() {
    for case in cases(K4_PID) {
        let name = name(&case);
        let bytes = hex(text(&case, "key"));
        if expect_fail(&case) {
            // A key id is computed from a public key; this one must not parse.
            assert!(array::<32>(&bytes).is_none(), "{name}: not 32 bytes");
            let forged = format!("k4.public.{}", b64(&bytes));
            assert_eq!(
                parse_k4_public(&forged),
                Err(PaserkError::WrongLength),
                "{name}"
            );
            continue;
        }
        let pid = text(&case, "paserk");
        let raw: [u8; 32] = array(&bytes).expect("32 bytes");
        assert_eq!(k4_pid_from_bytes(&raw), pid, "{name}: from bytes");
        if let Ok(key) = VerifyingKey::from_bytes(&raw) {
            assert_eq!(k4_pid(&key), pid, "{name}");
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
