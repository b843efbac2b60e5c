//! Signing-key files: permissions, generation, rotation, retirement, and
//! how `neo-supportd serve` treats an empty or unsafe keys directory.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use neo_support::domain::license::{Fingerprint, LicenseClaims};
use neo_support::signer::keys::{self, KeyError, KeyFileStatus, Keyring};

const DAEMON: &str = env!("CARGO_BIN_EXE_neo-supportd");

fn claims(key_id: &str) -> LicenseClaims {
    let fp = Fingerprint::parse("srv-0001.example:AAAA").unwrap();
    LicenseClaims::new(
        key_id,
        "BS-1",
        "C-1",
        10,
        &fp,
        1,
        None,
        None,
        chrono::Utc::now(),
    )
}

fn private_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".private.pem"))
        .collect()
}

#[test]
fn a_generated_key_is_pkcs8_with_mode_0600_and_its_public_key_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let info = keys::generate(dir.path(), false).unwrap();
    assert!(info.id.starts_with("k4.pid."));
    assert_eq!(info.status, KeyFileStatus::Active, "the first key signs");
    let private = &private_files(dir.path())[0];
    assert_eq!(
        std::fs::metadata(private).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let pem = std::fs::read_to_string(private).unwrap();
    assert!(
        pem.starts_with("-----BEGIN PRIVATE KEY-----"),
        "PKCS#8, as OpenSSL writes it"
    );
    let public = private
        .to_string_lossy()
        .replace(".private.pem", ".public.pem");
    assert!(
        std::fs::read_to_string(public)
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    // OpenSSL reads it, where OpenSSL is installed.
    if let Ok(out) = Command::new("openssl")
        .args(["pkey", "-in"])
        .arg(private)
        .args(["-noout", "-text"])
        .output()
    {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("ED25519"));
    }
}

#[test]
fn a_private_key_readable_by_others_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    keys::generate(dir.path(), false).unwrap();
    let private = private_files(dir.path()).remove(0);
    for mode in [0o640, 0o604, 0o644] {
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(mode)).unwrap();
        let error = Keyring::load(dir.path()).unwrap_err();
        assert!(
            matches!(error, KeyError::Permissions(ref path, _) if path == &private),
            "{error}"
        );
        assert!(error.to_string().contains(&private.display().to_string()));
    }
    // The server refuses to start, naming the file.
    let db = dir.path().join("neo.db");
    let output = Command::new(DAEMON)
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url"])
        .arg(format!("sqlite://{}", db.display()))
        .arg("--keys-dir")
        .arg(dir.path())
        .env_remove("NEO_SUPPORT_KEYS_DIR")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains(&private.display().to_string()));
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(Keyring::load(dir.path()).is_ok());
}

#[test]
fn rotation_signs_with_the_new_key_while_old_keys_keep_verifying_until_retired() {
    let dir = tempfile::tempdir().unwrap();
    let first = keys::generate(dir.path(), false).unwrap();
    let old_keyring = Keyring::load(dir.path()).unwrap();
    let old_token = old_keyring.sign(&claims("LK-OLD"));

    let second = keys::generate(dir.path(), true).unwrap();
    assert_eq!(second.status, KeyFileStatus::Active);
    let keyring = Keyring::load(dir.path()).unwrap();
    assert_eq!(keyring.active_id(), second.id);
    let new_token = keyring.sign(&claims("LK-NEW"));
    assert_eq!(
        keyring
            .verifier()
            .verify(&new_token)
            .unwrap()
            .signing_key_id,
        second.id
    );
    assert_eq!(
        keyring
            .verifier()
            .verify(&old_token)
            .unwrap()
            .signing_key_id,
        first.id,
        "old keys keep verifying"
    );

    let refused = keys::retire(dir.path(), &second.id).unwrap_err();
    assert!(matches!(refused, KeyError::RetireActive(_)));
    let retired = keys::retire(dir.path(), &first.id).unwrap();
    assert_eq!(retired.status, KeyFileStatus::Retired);
    let keyring = Keyring::load(dir.path()).unwrap();
    assert_eq!(
        keyring.verifier().verify(&old_token).unwrap_err().reason(),
        "SIGNING_KEY_UNKNOWN",
        "a retired key no longer verifies"
    );
    let listed = keys::list(dir.path()).unwrap();
    assert_eq!(
        listed
            .iter()
            .filter(|k| k.status == KeyFileStatus::Retired)
            .count(),
        1
    );
}

#[test]
fn an_empty_keys_directory_gets_a_development_key_unless_keys_are_required() {
    let dir = tempfile::tempdir().unwrap();
    let keys_dir = dir.path().join("keys");
    let db = format!("sqlite://{}/neo.db", dir.path().display());
    let refused = Command::new(DAEMON)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--require-signing-key",
            "--database-url",
            &db,
        ])
        .arg("--keys-dir")
        .arg(&keys_dir)
        .env_remove("NEO_SUPPORT_KEYS_DIR")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("no signing key"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(
        !keys_dir.exists() || private_files(&keys_dir).is_empty(),
        "nothing created"
    );

    let (keyring, created) = Keyring::load_or_create(&keys_dir).unwrap();
    let created = created.expect("a development key");
    assert_eq!(keyring.active_id(), created.id);
    assert_eq!(
        std::fs::metadata(&keys_dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let (_, again) = Keyring::load_or_create(&keys_dir).unwrap();
    assert!(again.is_none(), "only an empty directory gets one");
}

#[test]
fn the_keys_commands_generate_list_rotate_and_retire() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let output = Command::new(DAEMON)
            .args(args)
            .arg("--keys-dir")
            .arg(dir.path())
            .env_remove("NEO_SUPPORT_KEYS_DIR")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let first = run(&["keys", "generate"]);
    let first_id = first.split('\t').next().unwrap().to_owned();
    let rotated = run(&["keys", "rotate"]);
    assert!(rotated.contains("\tactive\t"), "{rotated}");
    let listed: serde_json::Value =
        serde_json::from_str(&run(&["keys", "list", "--json"])).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let retired = run(&["keys", "retire", &first_id]);
    assert!(retired.contains("\tretired\t"), "{retired}");
    let listed = run(&["keys", "list"]);
    assert!(
        listed.contains("retired") && listed.contains("active"),
        "{listed}"
    );
}
