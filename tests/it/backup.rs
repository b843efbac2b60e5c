//! Online backups: `neo-supportd backup --to FILE` copies a SQLite
//! database while the server runs, and the copy restores every key.

use std::process::Command;

use crate::common::{TestDb, TestServer, first_year, new_contract};
use neo_support::pb;
use neo_support::store::{self, DatabaseOptions};

#[tokio::test]
async fn a_backup_taken_while_the_server_runs_restores_every_key() {
    let db = TestDb::sqlite();
    // Five reissues all signed: none waits for review.
    let settings = neo_support::grpc::Settings {
        reissues_before_review: 10,
        ..Default::default()
    };
    let server =
        TestServer::start_full(&db, neo_support::server::ServeOptions::default(), settings).await;
    let mut staff = server.staff().await;
    staff
        .create_contract(new_contract("B", "LIC-B", 10, false))
        .await
        .unwrap();
    staff
        .record_order(first_year("B", "2026-10-20", "2026-10-20"))
        .await
        .unwrap();
    let mut licenses = server.licenses(Some(&server.staff_token)).await;
    licenses
        .issue_first_key(pb::IssueFirstKeyRequest {
            license_id: "LIC-B".into(),
            fingerprint: "srv-backup-0000.example".into(),
        })
        .await
        .unwrap();
    for i in 1..=5 {
        licenses
            .request_reissue(pb::RequestReissueRequest {
                license_id: "LIC-B".into(),
                fingerprint: format!("srv-backup-{i:04}.example"),
                request_id: format!("b-{i}"),
            })
            .await
            .unwrap();
    }
    let keys = server.store.list_license_keys("LIC-B").await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.db");
    let output = Command::new(env!("CARGO_BIN_EXE_neo-supportd"))
        .args(["backup", "--to"])
        .arg(&backup)
        .args(["--database-url", &db.url])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The server is still serving meanwhile.
    licenses
        .get_signing_keys(pb::GetSigningKeysRequest {})
        .await
        .unwrap();
    let again = Command::new(env!("CARGO_BIN_EXE_neo-supportd"))
        .args(["backup", "--to"])
        .arg(&backup)
        .args(["--database-url", &db.url])
        .output()
        .unwrap();
    assert!(
        !again.status.success(),
        "an existing file is never overwritten"
    );

    // Restore: the backup file is a database of its own.
    let restored = store::connect(
        &format!("sqlite://{}", backup.display()),
        &DatabaseOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(restored.list_license_keys("LIC-B").await.unwrap(), keys);
    server.stop().await;
}

#[tokio::test]
async fn postgres_is_backed_up_with_pg_dump_instead() {
    let Some(base_url) = crate::common::postgres_or_skip("the pg_dump backup test") else {
        return;
    };
    let db = TestDb::postgres(&base_url).await;
    let store = store::connect(&db.url, &DatabaseOptions::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let refused = store.backup_to(&dir.path().join("x.db")).await;
    assert!(matches!(
        refused,
        Err(neo_support::Error::FailedPrecondition {
            reason: "BACKUP_NOT_SUPPORTED",
            ..
        })
    ));
    drop(store);
    db.drop_database().await;
}
