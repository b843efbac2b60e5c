//! Safe defaults of the real `neo-supportd` binary: no development key on
//! an address others can reach, one key for servers that start together,
//! keys another replica made are verified without a restart, and the files
//! it creates are for its user alone whatever the umask.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{Daemon, a_month_ago, first_year, new_contract, staff_token_on};
use neo_support::client::{self, ClientOptions, LicenseClient};
use neo_support::pb;

const BINARY: &str = env!("CARGO_BIN_EXE_neo-supportd");

/// Runs a command that should exit by itself; one still running after
/// 20 s (a server that started when it should have refused) is killed,
/// and its output returned with a failed status.
fn output_within_20s(command: &mut Command) -> std::process::Output {
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (done, finished) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let output = child.wait_with_output().unwrap();
        let _ = done.send(());
        output
    });
    if finished
        .recv_timeout(std::time::Duration::from_secs(20))
        .is_err()
    {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    waiter.join().unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn private_keys(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|name| name.ends_with(".private.pem"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_server_on_a_non_loopback_address_with_no_key_refuses_to_start_and_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let output = output_within_20s(
        Command::new(BINARY)
            .args(["serve", "--listen", "0.0.0.0:0", "--database-url"])
            .arg(format!("sqlite://{}/db.sqlite", dir.path().display()))
            .arg("--keys-dir")
            .arg(&keys)
            .env_remove("NEO_SUPPORT_LISTEN")
            .env_remove("NEO_SUPPORT_KEYS_DIR")
            .env_remove("NEO_SUPPORT_REQUIRE_SIGNING_KEY"),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "it started: {stderr}");
    assert!(
        stderr.contains("neo-supportd keys generate") && stderr.contains("--require-signing-key"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("neo-supportd listening"),
        "it listened: {stderr}"
    );
    assert!(private_keys(&keys).is_empty(), "a key was made");

    // On loopback, the quick start still makes one by itself.
    let db = format!("sqlite://{}/db.sqlite", dir.path().display());
    let daemon = Daemon::start(&db, &keys);
    assert_eq!(private_keys(&keys).len(), 1);
    daemon.kill_hard();
}

async fn licenses(address: &str, token: &str) -> LicenseClient {
    client::license(&ClientOptions {
        server: format!("http://{address}"),
        token: Some(token.to_owned()),
        ca_cert_pem: None,
    })
    .await
    .expect("connect")
}

async fn verify(client: &mut LicenseClient, key: &str) -> pb::VerifyKeyResponse {
    client
        .verify_key(pb::VerifyKeyRequest {
            key: key.into(),
            fingerprint: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
}

/// Contract D with license LIC-D, covered today, through `address`.
async fn contract_with_first_key(address: &str, token: &str) -> String {
    let mut staff = client::support(&ClientOptions {
        server: format!("http://{address}"),
        token: Some(token.to_owned()),
        ca_cert_pem: None,
    })
    .await
    .unwrap();
    staff
        .create_contract(new_contract("D", "LIC-D", 10, false))
        .await
        .unwrap();
    let received = a_month_ago();
    staff
        .record_order(first_year("D", &received, &received))
        .await
        .unwrap();
    licenses(address, token)
        .await
        .issue_first_key(pb::IssueFirstKeyRequest {
            license_id: "LIC-D".into(),
            fingerprint: "srv-d-0000.example".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .license_key
        .unwrap()
        .key
}

#[tokio::test]
async fn three_servers_started_at_once_on_an_empty_keys_directory_share_one_key_and_verify_each_other()
 {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let db = format!("sqlite://{}/shared.db", dir.path().display());
    let token = staff_token_on(&db, "ops");
    let starts: Vec<_> = (0..3)
        .map(|_| {
            let (db, keys) = (db.clone(), keys.clone());
            std::thread::spawn(move || {
                Daemon::start_with(&db, &keys, &["--reissues-before-review", "100"])
            })
        })
        .collect();
    let daemons: Vec<Daemon> = starts.into_iter().map(|s| s.join().unwrap()).collect();
    assert_eq!(
        private_keys(&keys).len(),
        1,
        "servers that start together end with one key"
    );

    let mut signed = vec![contract_with_first_key(&daemons[0].address, &token).await];
    for (i, daemon) in daemons.iter().enumerate() {
        let answer = licenses(&daemon.address, &token)
            .await
            .request_reissue(pb::RequestReissueRequest {
                license_id: "LIC-D".into(),
                fingerprint: format!("srv-d-{:04}.example", i + 1),
                request_id: format!("start-{i}"),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(answer.status, pb::ReissueStatus::Issued as i32);
        signed.push(answer.key);
    }
    for daemon in &daemons {
        let mut client = licenses(&daemon.address, &token).await;
        for (n, key) in signed.iter().enumerate() {
            let answer = verify(&mut client, key).await;
            let expected = if n + 1 == signed.len() {
                ""
            } else {
                "KEY_SUPERSEDED"
            };
            assert_eq!(answer.reason, expected, "key {n} at {}", daemon.address);
        }
    }
}

#[tokio::test]
async fn a_server_verifies_a_key_signed_with_a_signing_key_made_after_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let db = format!("sqlite://{}/shared.db", dir.path().display());
    let token = staff_token_on(&db, "ops");
    let old = Daemon::start(&db, &keys);
    let rotated = Command::new(BINARY)
        .args(["keys", "rotate", "--keys-dir"])
        .arg(&keys)
        .output()
        .unwrap();
    assert!(rotated.status.success(), "{rotated:?}");
    let new = Daemon::start(&db, &keys);
    let key = contract_with_first_key(&new.address, &token).await;

    let answer = verify(&mut licenses(&old.address, &token).await, &key).await;
    assert!(answer.valid, "{answer:?}");
    // A second unknown key within the second is refused without a new read,
    // and a garbage key id never makes the server fail.
    let mut forged = key.clone();
    forged.push('x');
    let again = verify(&mut licenses(&old.address, &token).await, &forged).await;
    assert!(!again.valid);
}

/// Runs `neo-supportd ARGS` from a shell with `umask 022`.
fn under_umask_022(args: &[&str]) -> Command {
    let mut command = Command::new("sh");
    command
        .args(["-c", "umask 022 && exec \"$0\" \"$@\"", BINARY])
        .args(args)
        .env_remove("NEO_SUPPORT_LISTEN")
        .env_remove("NEO_SUPPORT_KEYS_DIR");
    command
}

#[test]
fn the_database_its_wal_and_shm_files_and_backups_are_private_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let database = data.join("neo-support.db");
    let url = format!("sqlite://{}", database.display());
    let keys = dir.path().join("keys");
    let mut child = under_umask_022(&["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
        .args(["--database-url", &url])
        .arg("--keys-dir")
        .arg(&keys)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    loop {
        let line = lines.next().expect("exited before listening").unwrap();
        if line.contains("neo-supportd listening") {
            break;
        }
    }
    // While it runs, the WAL and shared-memory files exist.
    assert_eq!(mode(&data), 0o700, "data directory");
    for file in ["neo-support.db", "neo-support.db-wal", "neo-support.db-shm"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    let backup = dir.path().join("backup.db");
    let output = under_umask_022(&["backup", "--database-url", &url, "--to"])
        .arg(&backup)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(mode(&backup), 0o600, "backup");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_tls_key_or_smtp_password_file_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/db.sqlite", dir.path().display());
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "not really a key\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let secret_arg = secret.to_str().unwrap();
    let keys = dir.path().join("keys");
    for (flags, field) in [
        (
            vec!["--tls-cert", secret_arg, "--tls-key", secret_arg],
            "tls_key",
        ),
        (
            vec![
                "--smtp-url",
                "smtp://127.0.0.1:2525?tls=none",
                "--smtp-password-file",
                secret_arg,
            ],
            "smtp_password_file",
        ),
    ] {
        let output = output_within_20s(
            Command::new(BINARY)
                .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &url])
                .arg("--keys-dir")
                .arg(&keys)
                .args(&flags)
                .env_remove("NEO_SUPPORT_LISTEN")
                .env_remove("NEO_SUPPORT_KEYS_DIR"),
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{field}: started: {stderr}");
        assert!(
            stderr.contains(field) && stderr.contains("chmod 600"),
            "{field}: {stderr}"
        );
    }
}
