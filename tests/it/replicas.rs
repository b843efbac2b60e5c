//! Several servers on one PostgreSQL database, as replicas behind a load
//! balancer: concurrent reissues spread over them keep one active key and a
//! gapless sequence, and one idempotency id sent to two replicas at once
//! answers one and the same key. Two processes on one SQLite file keep the
//! same guarantees.

use crate::common::{Daemon, TestDb, TestServer, first_year, new_contract};
use neo_support::client::{self, ClientOptions, LicenseClient};
use neo_support::pb;

fn reissue(fingerprint: &str, request_id: &str) -> pb::RequestReissueRequest {
    pb::RequestReissueRequest {
        license_id: "LIC-R".into(),
        fingerprint: fingerprint.into(),
        request_id: request_id.into(),
    }
}

/// 32 reissues of LIC-R at once, each to a new fingerprint, spread over
/// `clients` in turn; every one must be signed. Returns the keys received.
async fn reissue_at_once(clients: &[LicenseClient], prefix: &str) -> Vec<String> {
    let calls: Vec<_> = (0..32)
        .map(|i| {
            let mut client = clients[i % clients.len()].clone();
            let request = reissue(
                &format!("srv-{prefix}-{i:04}.example"),
                &format!("{prefix}-{i}"),
            );
            tokio::spawn(async move { client.request_reissue(request).await })
        })
        .collect();
    let mut received = Vec::new();
    for call in calls {
        let answer = call
            .await
            .unwrap()
            .expect("every reissue answers")
            .into_inner();
        assert_eq!(answer.status, pb::ReissueStatus::Issued as i32);
        received.push(answer.key);
    }
    received
}

/// LIC-R's keys: sequence 1..=`count` without a gap, exactly one active,
/// and every key in `received` on record and verified by the server (a good
/// signature; the active key, or superseded by a later one).
async fn assert_on_record(client: &LicenseClient, count: i64, received: &[String]) {
    let mut client = client.clone();
    let keys = client
        .list_license_keys(pb::ListLicenseKeysRequest {
            license_id: "LIC-R".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .license_keys;
    assert_eq!(
        keys.iter().map(|k| k.sequence).collect::<Vec<_>>(),
        (1..=count).collect::<Vec<_>>()
    );
    assert_eq!(
        keys.iter()
            .filter(|k| k.status == pb::KeyStatus::Active as i32)
            .count(),
        1
    );
    for key in received {
        assert!(keys.iter().any(|k| &k.key == key), "on record");
        let verified = client
            .verify_key(pb::VerifyKeyRequest {
                key: key.clone(),
                fingerprint: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(
            verified.reason.is_empty() || verified.reason == "KEY_SUPERSEDED",
            "{}",
            verified.reason
        );
    }
}

/// One idempotency id sent to two servers at once answers one and the
/// same key.
async fn assert_one_key_for_one_request_id(a: &LicenseClient, b: &LicenseClient) {
    let (mut a, mut b) = (a.clone(), b.clone());
    let (left, right) = tokio::join!(
        a.request_reissue(reissue("srv-same-0001.example", "same-id")),
        b.request_reissue(reissue("srv-same-0001.example", "same-id")),
    );
    let (left, right) = (left.unwrap().into_inner(), right.unwrap().into_inner());
    assert_eq!(left.key, right.key);
    assert_eq!(left.key_id, right.key_id);
}

#[tokio::test]
async fn reissues_spread_over_three_replicas_keep_one_active_key_and_no_gaps() {
    let Some(base_url) =
        crate::common::postgres_or_skip("the replica test (replicas need PostgreSQL)")
    else {
        return;
    };
    let db = TestDb::postgres(&base_url).await;
    let settings = neo_support::grpc::Settings {
        reissues_before_review: 1000,
        ..Default::default()
    };
    let first = TestServer::start_full(&db, Default::default(), settings).await;
    let (second, third) = tokio::join!(first.replica(&db, 2), first.replica(&db, 3));
    let replicas = [&first, &second, &third];

    let mut staff = first.staff().await;
    staff
        .create_contract(new_contract("R", "LIC-R", 10, false))
        .await
        .unwrap();
    staff
        .record_order(first_year("R", "2026-10-20", "2026-10-20"))
        .await
        .unwrap();
    first
        .licenses(Some(&first.staff_token))
        .await
        .issue_first_key(pb::IssueFirstKeyRequest {
            license_id: "LIC-R".into(),
            fingerprint: "srv-first-0000.example".into(),
        })
        .await
        .unwrap();

    let mut clients = Vec::new();
    for replica in replicas {
        clients.push(replica.licenses(Some(&replica.staff_token)).await);
    }
    let received = reissue_at_once(&clients, "replica").await;
    assert_on_record(&clients[0], 33, &received).await;
    assert_one_key_for_one_request_id(&clients[1], &clients[2]).await;
    assert_on_record(&clients[0], 34, &[]).await;

    second.stop().await;
    third.stop().await;
    first.stop().await;
    db.drop_database().await;
}

#[tokio::test]
async fn two_processes_on_one_sqlite_file_keep_one_active_key_and_no_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}/neo.db", dir.path().display());
    let keys_dir = dir.path().join("keys");
    let token = crate::common::staff_token_on(&database_url, "two-processes");
    let extra = ["--reissues-before-review", "1000"];
    // The first creates the development signing key; the second reads it.
    let first = Daemon::start_with(&database_url, &keys_dir, &extra);
    let second = Daemon::start_with(&database_url, &keys_dir, &extra);
    let options = |daemon: &Daemon| ClientOptions {
        server: format!("http://{}", daemon.address),
        token: Some(token.clone()),
        ca_cert_pem: None,
    };
    let mut support = client::support(&options(&first)).await.unwrap();
    support
        .create_contract(new_contract("R", "LIC-R", 10, false))
        .await
        .unwrap();
    let month_ago = crate::common::a_month_ago();
    support
        .record_order(first_year("R", &month_ago, &month_ago))
        .await
        .unwrap();
    let clients = [
        client::license(&options(&first)).await.unwrap(),
        client::license(&options(&second)).await.unwrap(),
    ];
    clients[0]
        .clone()
        .issue_first_key(pb::IssueFirstKeyRequest {
            license_id: "LIC-R".into(),
            fingerprint: "srv-first-0000.example".into(),
        })
        .await
        .unwrap();

    let received = reissue_at_once(&clients, "process").await;
    // The second process lists and verifies every key, half of them
    // signed by the first.
    assert_on_record(&clients[1], 33, &received).await;
    assert_one_key_for_one_request_id(&clients[0], &clients[1]).await;
    assert_on_record(&clients[1], 34, &[]).await;

    // Waited for off the test's runtime, so that the clients' connections
    // can answer the servers' GOAWAY meanwhile.
    let (first_status, second_status) =
        tokio::task::spawn_blocking(move || (first.terminate().0, second.terminate().0))
            .await
            .unwrap();
    assert!(first_status.success() && second_status.success());
}

/// Calls with `client` until it is refused; panics when that takes a
/// second or more.
async fn refused_within_a_second(client: &mut neo_support::client::SupportClient, what: &str) {
    let day = || pb::GetCalendarDayRequest {
        date: "2026-11-25".into(),
    };
    let start = std::time::Instant::now();
    loop {
        match client.get_calendar_day(day()).await {
            Ok(_) if start.elapsed() < std::time::Duration::from_secs(1) => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Ok(_) => panic!("{what}: still accepted a second after revocation"),
            Err(status) => {
                assert_eq!(status.code(), tonic::Code::Unauthenticated, "{what}");
                return;
            }
        }
    }
}

#[tokio::test]
async fn a_token_revoked_on_one_replica_or_on_the_database_is_refused_by_the_others_within_a_second()
 {
    let Some(base_url) =
        crate::common::postgres_or_skip("the replica revocation test (replicas need PostgreSQL)")
    else {
        return;
    };
    let db = TestDb::postgres(&base_url).await;
    let settings = neo_support::grpc::Settings {
        cache_ttl: std::time::Duration::from_secs(30),
        ..Default::default()
    };
    let a = TestServer::start_full(&db, Default::default(), settings).await;
    let b = a.replica(&db, 2).await;
    let day = pb::GetCalendarDayRequest {
        date: "2026-11-25".into(),
    };

    // Revoked through replica A: B, which has the token in its cache,
    // refuses it within a second.
    let (eve_id, eve) = a
        .token("eve", neo_support::domain::token::Role::Staff)
        .await;
    let mut eve_on_b = b.client(Some(&eve)).await;
    eve_on_b.get_calendar_day(day.clone()).await.unwrap();
    a.staff()
        .await
        .revoke_access_token(pb::RevokeAccessTokenRequest {
            id: eve_id,
            created_by: 0,
            reason: "compromised".into(),
        })
        .await
        .unwrap();
    refused_within_a_second(&mut eve_on_b, "replica B").await;

    // Revoked with `neo-supportd token revoke` on the database: both
    // refuse it within a second.
    let (frank_id, frank) = a
        .token("frank", neo_support::domain::token::Role::Staff)
        .await;
    let mut frank_on_a = a.client(Some(&frank)).await;
    let mut frank_on_b = b.client(Some(&frank)).await;
    frank_on_a.get_calendar_day(day.clone()).await.unwrap();
    frank_on_b.get_calendar_day(day.clone()).await.unwrap();
    let revoked = std::process::Command::new(env!("CARGO_BIN_EXE_neo-supportd"))
        .args(["token", "revoke", &frank_id.to_string(), "--reason", "left"])
        .args(["--database-url", &db.url])
        .output()
        .unwrap();
    assert!(revoked.status.success(), "{revoked:?}");
    refused_within_a_second(&mut frank_on_a, "replica A").await;
    refused_within_a_second(&mut frank_on_b, "replica B").await;

    b.stop().await;
    a.stop().await;
    db.drop_database().await;
}
