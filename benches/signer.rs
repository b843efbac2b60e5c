//! Signing and verifying license keys in process, each case beside its raw
//! baseline in one criterion group.
//!
//! - `signer/sign`: `Keyring::sign(&claims)` (claims to JSON, PAE, Ed25519,
//!   base64url token) vs a bare `ed25519_dalek::SigningKey::sign` with the
//!   same key over the very bytes the token signs: the PAE of header,
//!   claims JSON and footer, built with `paseto::pae` (exact, not an
//!   estimate; set-up checks that a token signed over it is the keyring's).
//!   Target: signing at >= 90 % of the bare signing rate.
//! - `signer/verify`: `Verifier::verify(&token)` (split and strict base64url
//!   decode, version and purpose, footer JSON to the `kid`, key look-up,
//!   weak-key check, Ed25519 `verify`, claims JSON to `LicenseClaims`, `iss`
//!   check) vs a bare `ed25519_dalek::VerifyingKey::verify` of the same PAE
//!   bytes and signature (no decoding, no parsing), and vs `pasetors` 0.8 on
//!   the same token: `UntrustedToken::try_from` (split, base64url decode),
//!   `PublicToken::verify` with the expected footer bytes (constant-time
//!   footer compare, PAE, ed25519-compact verify; pasetors parses no claims
//!   there), then the same `serde_json` parse into `LicenseClaims` and `iss`
//!   check as ours, so both sides end with the same claims. For reference,
//!   `pasetors public::verify` (claims parsed into pasetors' `Claims` map and
//!   validated: `iss`, no `exp`) is measured too. Targets: verifying
//!   at >= 90 % of the bare verify rate, and faster than pasetors.
//!
//! The ratios printed at the end come from an own timing loop run after
//! criterion, in the same process: several rounds, each timing every case
//! of a group over a batch of calls with `std::time::Instant`, the cases
//! interleaved so that load from other processes hits them alike; each
//! case's per-call time is the median over the rounds, and a ratio is
//! `baseline time / case time` (the case's rate as a share of the
//! baseline's). The loop runs only under `cargo bench` (not `--test`).

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use chrono::{NaiveDate, Utc};
use criterion::Criterion;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use neo_support::domain::license::{Fingerprint, ISSUER, LicenseClaims, new_key_id};
use neo_support::signer::keys::Keyring;
use neo_support::signer::{footer_for, paserk, paseto};
use pasetors::Public;
use pasetors::claims::ClaimsValidationRules;
use pasetors::footer::Footer;
use pasetors::keys::AsymmetricPublicKey;
use pasetors::token::UntrustedToken;
use pasetors::version4::{PublicToken, V4};

/// Everything the cases share, built once.
struct Fixture {
    keyring: Keyring,
    claims: LicenseClaims,
    token: String,
    /// The active key, read from its PEM file, for the bare baselines.
    bare_key: SigningKey,
    public: VerifyingKey,
    /// The exact pre-authentication encoding the token's signature covers.
    pae: Vec<u8>,
    signature: Signature,
    footer: Vec<u8>,
    pasetors_key: AsymmetricPublicKey<V4>,
    pasetors_footer: Footer,
    pasetors_rules: ClaimsValidationRules,
}

/// The single `*.private.pem` in the keys directory.
fn read_active_private(dir: &Path) -> SigningKey {
    let path = std::fs::read_dir(dir)
        .expect("keys directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".private.pem"))
        .expect("a private key file");
    let pem = std::fs::read_to_string(path).expect("readable key file");
    SigningKey::from_pkcs8_pem(&pem).expect("a PKCS#8 Ed25519 key")
}

fn fixture(dir: &Path) -> Fixture {
    let (keyring, _) = Keyring::load_or_create(dir).expect("a development key");
    let bare_key = read_active_private(dir);
    let public = bare_key.verifying_key();
    assert_eq!(paserk::k4_pid(&public), keyring.active_id(), "same key");

    // A realistic reissue: sequence 2, supersedes, support end date.
    let fingerprint = Fingerprint::parse("srv-01.example.co.jp:4F2A9C1D7E3B5A60").expect("valid");
    let previous = new_key_id();
    let claims = LicenseClaims::new(
        &new_key_id(),
        "BS-2024-000123",
        "C-7F3A2B1C9D0E",
        250,
        &fingerprint,
        2,
        Some(&previous),
        NaiveDate::from_ymd_opt(2027, 3, 31),
        Utc::now(),
    );
    let token = keyring.sign(&claims);

    let json = serde_json::to_vec(&claims).expect("claims serialize");
    let footer = footer_for(keyring.active_id());
    let pae = paseto::pae(&[paseto::HEADER.as_bytes(), &json, &footer, b""]);
    let signature = bare_key.sign(&pae);
    // Ed25519 is deterministic: the same key over the same PAE gives the
    // keyring's token exactly, so the baselines cover the same bytes.
    assert_eq!(paseto::sign(&bare_key, &json, &footer, b""), token);
    assert!(public.verify(&pae, &signature).is_ok());
    assert_eq!(
        keyring.verifier().verify(&token).expect("verifies").claims,
        claims
    );

    let pasetors_key = AsymmetricPublicKey::<V4>::from(public.as_bytes()).expect("a v4 key");
    let mut pasetors_footer = Footer::new();
    pasetors_footer.parse_bytes(&footer).expect("a JSON footer");
    let mut pasetors_rules = ClaimsValidationRules::new();
    // Valid-at needs `nbf`, which license keys do not carry: issuer only.
    pasetors_rules.disable_valid_at();
    pasetors_rules.allow_non_expiring();
    pasetors_rules.validate_issuer_with(ISSUER);

    let fixture = Fixture {
        keyring,
        claims,
        token,
        bare_key,
        public,
        pae,
        signature,
        footer,
        pasetors_key,
        pasetors_footer,
        pasetors_rules,
    };
    assert_eq!(
        pasetors_verify(&fixture).expect("pasetors verifies"),
        fixture.claims
    );
    assert!(
        pasetors_public_verify(&fixture).is_some(),
        "pasetors public::verify"
    );
    fixture
}

/// pasetors, like for like with `Verifier::verify`: parse, verify with the
/// expected footer, then the same claims parse and issuer check.
fn pasetors_verify(f: &Fixture) -> Option<LicenseClaims> {
    let untrusted = UntrustedToken::<Public, V4>::try_from(black_box(f.token.as_str())).ok()?;
    let trusted = PublicToken::verify(&f.pasetors_key, &untrusted, Some(&f.footer), None).ok()?;
    let claims: LicenseClaims = serde_json::from_str(trusted.payload()).ok()?;
    (claims.iss == ISSUER).then_some(claims)
}

/// pasetors' high-level API: claims into its own `Claims` map, validated.
fn pasetors_public_verify(f: &Fixture) -> Option<()> {
    let untrusted = UntrustedToken::<Public, V4>::try_from(black_box(f.token.as_str())).ok()?;
    pasetors::public::verify(
        &f.pasetors_key,
        &untrusted,
        &f.pasetors_rules,
        Some(&f.pasetors_footer),
        None,
    )
    .ok()
    .map(|_| ())
}

fn sign_lib(f: &Fixture) -> String {
    f.keyring.sign(black_box(&f.claims))
}

fn sign_bare(f: &Fixture) -> Signature {
    f.bare_key.sign(black_box(&f.pae))
}

fn verify_lib(f: &Fixture) -> bool {
    f.keyring.verifier().verify(black_box(&f.token)).is_ok()
}

fn verify_bare(f: &Fixture) -> bool {
    f.public
        .verify(black_box(&f.pae), black_box(&f.signature))
        .is_ok()
}

fn bench_signer(c: &mut Criterion, f: &Fixture) {
    let mut group = c.benchmark_group("signer/sign");
    group.bench_function("Keyring::sign", |b| b.iter(|| sign_lib(f)));
    group.bench_function("bare ed25519-dalek sign (same PAE bytes)", |b| {
        b.iter(|| sign_bare(f))
    });
    group.finish();

    let mut group = c.benchmark_group("signer/verify");
    group.bench_function("Verifier::verify", |b| b.iter(|| verify_lib(f)));
    group.bench_function("bare ed25519-dalek verify (same PAE bytes)", |b| {
        b.iter(|| verify_bare(f))
    });
    group.bench_function("pasetors PublicToken::verify + claims parse", |b| {
        b.iter(|| pasetors_verify(f))
    });
    group.bench_function("pasetors public::verify (its Claims, validated)", |b| {
        b.iter(|| pasetors_public_verify(f))
    });
    group.finish();
}

/// Median nanoseconds per call of each case: `rounds` rounds, each running
/// every case `batch` times in a row, the cases taking turns.
fn interleaved(cases: &mut [&mut dyn FnMut()], rounds: usize, batch: u32) -> Vec<f64> {
    let mut samples = vec![Vec::with_capacity(rounds); cases.len()];
    for _ in 0..rounds {
        for (case, times) in cases.iter_mut().zip(&mut samples) {
            let start = Instant::now();
            for _ in 0..batch {
                case();
            }
            times.push(start.elapsed().as_nanos() as f64 / f64::from(batch));
        }
    }
    samples
        .into_iter()
        .map(|mut times| {
            times.sort_by(f64::total_cmp);
            times[times.len() / 2]
        })
        .collect()
}

fn print_ratios(f: &Fixture) {
    const ROUNDS: usize = 31;
    const BATCH: u32 = 200;
    let sign = interleaved(
        &mut [
            &mut || {
                black_box(sign_lib(f));
            },
            &mut || {
                black_box(sign_bare(f));
            },
        ],
        ROUNDS,
        BATCH,
    );
    let verify = interleaved(
        &mut [
            &mut || {
                black_box(verify_lib(f));
            },
            &mut || {
                black_box(verify_bare(f));
            },
            &mut || {
                black_box(pasetors_verify(f));
            },
            &mut || {
                black_box(pasetors_public_verify(f));
            },
        ],
        ROUNDS,
        BATCH,
    );
    let us = |ns: f64| ns / 1000.0;
    println!();
    println!(
        "own timing loop: {ROUNDS} interleaved rounds x {BATCH} calls per case, median per call"
    );
    println!(
        "  Keyring::sign {:.2} µs, bare sign {:.2} µs; Verifier::verify {:.2} µs, bare verify {:.2} µs, \
         pasetors {:.2} µs, pasetors public::verify {:.2} µs",
        us(sign[0]),
        us(sign[1]),
        us(verify[0]),
        us(verify[1]),
        us(verify[2]),
        us(verify[3]),
    );
    println!(
        "signing: {:.1} % of bare ed25519-dalek sign (target >= 90 %)",
        100.0 * sign[1] / sign[0]
    );
    println!(
        "verifying: {:.1} % of bare ed25519-dalek verify (target >= 90 %)",
        100.0 * verify[1] / verify[0]
    );
    println!(
        "verifying: {:.2}x the rate of pasetors PublicToken::verify + claims parse (target > 1); \
         {:.2}x pasetors public::verify",
        verify[2] / verify[0],
        verify[3] / verify[0],
    );
}

fn main() {
    let dir = tempfile::tempdir().expect("a temporary keys directory");
    let fixture = fixture(dir.path());
    let mut criterion = Criterion::default().configure_from_args();
    bench_signer(&mut criterion, &fixture);
    criterion.final_summary();

    let args: Vec<String> = std::env::args().collect();
    let benchmarking =
        args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test" || a == "--list");
    if benchmarking {
        print_ratios(&fixture);
    } else {
        println!("ratios: skipped (only under `cargo bench`)");
    }
}
