//! The whole path over TLS with certificates made at test time: a client
//! trusting the server's CA gets answers; one trusting another CA is
//! refused; `neo-supportd tls create-dev-cert` makes files that work
//! end to end; a CA certificate used as the server's is explained.

use crate::common::{Daemon, TestDb, TestServer};
use neo_support::client;
use neo_support::pb;
use neo_support::server::{ServeOptions, TlsFiles};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

/// A CA and a server certificate for 127.0.0.1 signed by it: (CA PEM,
/// server TLS files).
fn make_pki() -> (String, TlsFiles) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();
    let files = TlsFiles {
        cert_pem: server_cert.pem().into_bytes(),
        key_pem: server_key.serialize_pem().into_bytes(),
    };
    (ca.pem(), files)
}

#[tokio::test]
async fn calls_go_over_tls_and_a_client_trusting_another_ca_is_refused() {
    let (ca_pem, files) = make_pki();
    let (other_ca_pem, _) = make_pki();
    let db = TestDb::sqlite();
    let options = ServeOptions {
        tls: Some(files),
        ..ServeOptions::default()
    };
    let server = TestServer::start_with(&db, options).await;
    assert!(server.url.starts_with("https://"));

    let mut trusted = server.options(Some(&server.staff_token));
    trusted.ca_cert_pem = Some(ca_pem.into_bytes());
    let mut support = client::support(&trusted).await.expect("TLS connection");
    let day = support
        .get_calendar_day(pb::GetCalendarDayRequest {
            date: "2026-11-23".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .day
        .unwrap();
    assert_eq!(day.name, "勤労感謝の日");

    let mut untrusted = server.options(Some(&server.staff_token));
    untrusted.ca_cert_pem = Some(other_ca_pem.into_bytes());
    let refused = match client::support(&untrusted).await {
        Err(error) => error.to_string(),
        Ok(mut support) => support
            .get_calendar_day(pb::GetCalendarDayRequest {
                date: "2026-11-23".into(),
            })
            .await
            .expect_err("a client trusting another CA must be refused")
            .to_string(),
    };
    assert!(!refused.is_empty());

    let mut plaintext = server.options(Some(&server.staff_token));
    plaintext.server = server.url.replace("https://", "http://");
    let plain = match client::support(&plaintext).await {
        Err(_) => true,
        Ok(mut support) => support
            .get_calendar_day(pb::GetCalendarDayRequest {
                date: "2026-11-23".into(),
            })
            .await
            .is_err(),
    };
    assert!(plain, "a plaintext client gets nothing from a TLS server");
    server.stop().await;
}

#[test]
fn create_dev_cert_writes_files_that_a_server_and_the_cli_use_over_tls() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tls");
    let made = std::process::Command::new(env!("CARGO_BIN_EXE_neo-supportd"))
        .args(["tls", "create-dev-cert", "--host", "localhost", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let stdout = String::from_utf8(made.stdout).unwrap();
    let commands: Vec<&str> = stdout.lines().collect();
    assert_eq!(commands.len(), 2, "{stdout}");
    assert!(
        commands[0].starts_with("neo-supportd serve --listen 127.0.0.1:50051 --tls-cert ")
            && commands[0].contains("--tls-key "),
        "{stdout}"
    );
    assert!(
        commands[1].starts_with("neo-support --server https://localhost:50051 --ca-cert "),
        "{stdout}"
    );
    let mode = |name: &str| {
        std::fs::metadata(out.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!((mode("ca.key"), mode("server.key")), (0o600, 0o600));

    // The server with its certificate, the CLI trusting the CA.
    let db = TestDb::sqlite();
    let server_cert = out.join("server.crt");
    let server_key = out.join("server.key");
    let daemon = Daemon::start_with(
        &db.url,
        &dir.path().join("keys"),
        &[
            "--tls-cert",
            server_cert.to_str().unwrap(),
            "--tls-key",
            server_key.to_str().unwrap(),
        ],
    );
    let called = std::process::Command::new(env!("CARGO_BIN_EXE_neo-support"))
        .args(["--json", "--server", &format!("https://{}", daemon.address)])
        .arg("--ca-cert")
        .arg(out.join("ca.crt"))
        .args(["keys", "public"])
        .env_remove("NEO_SUPPORT_TOKEN")
        .env_remove("NEO_SUPPORT_SERVER")
        .output()
        .unwrap();
    assert!(called.status.success(), "{called:?}");
    assert!(String::from_utf8_lossy(&called.stdout).contains("k4.pid."));

    // Running it again never overwrites the keys.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_neo-supportd"))
        .args(["tls", "create-dev-cert", "--host", "localhost", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!again.status.success());
    daemon.kill_hard();
}

#[tokio::test]
async fn a_self_signed_ca_certificate_as_the_servers_is_explained_in_plain_words() {
    // What `openssl req -x509 -newkey ec ... -subj /CN=localhost` makes:
    // self-signed and marked CA:TRUE.
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    let db = TestDb::sqlite();
    let options = ServeOptions {
        tls: Some(TlsFiles {
            cert_pem: cert.pem().into_bytes(),
            key_pem: key.serialize_pem().into_bytes(),
        }),
        ..ServeOptions::default()
    };
    let server = TestServer::start_with(&db, options).await;
    let mut pinned = server.options(Some(&server.staff_token));
    pinned.ca_cert_pem = Some(cert.pem().into_bytes());
    let error = match client::support(&pinned).await {
        Err(error) => error.to_string(),
        Ok(_) => panic!("rustls accepted a CA certificate as the server's"),
    };
    assert!(
        error.contains("is a CA certificate")
            && error.contains("neo-supportd tls create-dev-cert --host NAME")
            && !error.contains("CaUsedAsEndEntity"),
        "{error}"
    );
    server.stop().await;
}
