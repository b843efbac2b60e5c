//! The whole path over TLS with certificates made at test time: a client
//! trusting the server's CA gets answers; one trusting another CA is
//! refused.

mod common;

use common::{TestDb, TestServer};
use neo_support::client;
use neo_support::grpc::pb;
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
