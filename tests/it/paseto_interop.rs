//! Interoperability with an independent PASETO implementation: `pasetors`
//! (built on `ed25519-compact`, not `ed25519-dalek`). Tokens signed here must
//! verify there and the other way round, with and without a footer and an
//! implicit assertion.

use ed25519_dalek::SigningKey;
use neo_support::signer::paserk::k4_pid;
use neo_support::signer::paseto::{TokenError, sign, verify};
use pasetors::Public;
use pasetors::keys::{AsymmetricPublicKey, AsymmetricSecretKey};
use pasetors::token::UntrustedToken;
use pasetors::version4::{PublicToken, V4};

const PAYLOAD: &[u8] = br#"{"license":"L-1","seats":25,"fingerprint":"srv-01"}"#;
const IMPLICIT: &[u8] = b"neo-support license";

/// Our key and the same key as pasetors sees it.
fn keys(seed: u8) -> (SigningKey, AsymmetricSecretKey<V4>, AsymmetricPublicKey<V4>) {
    let ours = SigningKey::from_bytes(&[seed; 32]);
    let secret = AsymmetricSecretKey::<V4>::from(&ours.to_keypair_bytes()).expect("secret key");
    let public =
        AsymmetricPublicKey::<V4>::from(ours.verifying_key().as_bytes()).expect("public key");
    (ours, secret, public)
}

/// Verifies with pasetors and returns the payload it vouches for.
fn pasetors_verify(
    public: &AsymmetricPublicKey<V4>,
    token: &str,
    footer: Option<&[u8]>,
    implicit: Option<&[u8]>,
) -> Result<Vec<u8>, pasetors::errors::Error> {
    let untrusted = UntrustedToken::<Public, V4>::try_from(token)?;
    let trusted = PublicToken::verify(public, &untrusted, footer, implicit)?;
    Ok(trusted.payload().as_bytes().to_vec())
}

#[test]
fn a_token_we_sign_with_a_footer_verifies_in_pasetors() {
    let (ours, _, public) = keys(1);
    let kid = k4_pid(&ours.verifying_key());
    let token = sign(&ours, PAYLOAD, kid.as_bytes(), IMPLICIT);
    assert_eq!(
        pasetors_verify(&public, &token, Some(kid.as_bytes()), Some(IMPLICIT)),
        Ok(PAYLOAD.to_vec())
    );
    assert!(pasetors_verify(&public, &token, Some(b"k4.pid.other"), Some(IMPLICIT)).is_err());
    assert!(pasetors_verify(&public, &token, Some(kid.as_bytes()), None).is_err());
}

#[test]
fn a_token_we_sign_without_a_footer_verifies_in_pasetors() {
    let (ours, _, public) = keys(2);
    let token = sign(&ours, PAYLOAD, b"", b"");
    assert_eq!(
        pasetors_verify(&public, &token, None, None),
        Ok(PAYLOAD.to_vec())
    );
    let with_implicit = sign(&ours, PAYLOAD, b"", IMPLICIT);
    assert_eq!(
        pasetors_verify(&public, &with_implicit, None, Some(IMPLICIT)),
        Ok(PAYLOAD.to_vec())
    );
}

#[test]
fn a_token_pasetors_signs_with_a_footer_verifies_here() {
    let (ours, secret, _) = keys(3);
    let kid = k4_pid(&ours.verifying_key());
    let token = PublicToken::sign(&secret, PAYLOAD, Some(kid.as_bytes()), Some(IMPLICIT))
        .expect("pasetors signs");
    let public = ours.verifying_key();
    assert_eq!(
        verify(&public, &token, Some(kid.as_bytes()), IMPLICIT),
        Ok(PAYLOAD.to_vec())
    );
    assert_eq!(
        neo_support::signer::paseto::footer(&token),
        Ok(kid.clone().into_bytes())
    );
    assert_eq!(
        verify(&public, &token, Some(b"k4.pid.other"), IMPLICIT),
        Err(TokenError::FooterMismatch)
    );
    assert_eq!(
        verify(&public, &token, Some(kid.as_bytes()), b""),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn a_token_pasetors_signs_without_a_footer_verifies_here() {
    let (ours, secret, _) = keys(4);
    let public = ours.verifying_key();
    let token = PublicToken::sign(&secret, PAYLOAD, None, None).expect("pasetors signs");
    assert_eq!(verify(&public, &token, None, b""), Ok(PAYLOAD.to_vec()));
    let with_implicit =
        PublicToken::sign(&secret, PAYLOAD, None, Some(IMPLICIT)).expect("pasetors signs");
    assert_eq!(
        verify(&public, &with_implicit, None, IMPLICIT),
        Ok(PAYLOAD.to_vec())
    );
}

#[test]
fn both_implementations_produce_the_same_token() {
    // Ed25519 is deterministic, so the two signers must agree byte for byte.
    let (ours, secret, _) = keys(5);
    for footer in [&b""[..], b"k4.pid.x"] {
        for implicit in [&b""[..], IMPLICIT] {
            let theirs = PublicToken::sign(
                &secret,
                PAYLOAD,
                Some(footer).filter(|f| !f.is_empty()),
                Some(implicit),
            )
            .expect("pasetors signs");
            assert_eq!(sign(&ours, PAYLOAD, footer, implicit), theirs);
        }
    }
}
