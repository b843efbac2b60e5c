//! Several servers on one PostgreSQL database, as replicas behind a load
//! balancer: concurrent reissues spread over them keep one active key and a
//! gapless sequence, and one idempotency id sent to two replicas at once
//! answers one and the same key.

mod common;

use common::{POSTGRES_ENV, TestDb, TestServer, first_year, new_contract};
use neo_support::grpc::pb;

fn reissue(fingerprint: &str, request_id: &str) -> pb::RequestReissueRequest {
    pb::RequestReissueRequest {
        license_id: "LIC-R".into(),
        fingerprint: fingerprint.into(),
        request_id: request_id.into(),
    }
}

#[tokio::test]
async fn reissues_spread_over_three_replicas_keep_one_active_key_and_no_gaps() {
    let Ok(base_url) = std::env::var(POSTGRES_ENV) else {
        eprintln!(
            "{POSTGRES_ENV} is not set: skipping the replica test (replicas need PostgreSQL)"
        );
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
    let calls: Vec<_> = (0..32)
        .map(|i| {
            let mut client = clients[i % 3].clone();
            tokio::spawn(async move {
                client
                    .request_reissue(reissue(
                        &format!("srv-replica-{i:04}.example"),
                        &format!("r-{i}"),
                    ))
                    .await
            })
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

    let keys = first.store.list_license_keys("LIC-R").await.unwrap();
    assert_eq!(
        keys.iter().map(|k| k.sequence).collect::<Vec<_>>(),
        (1..=33).collect::<Vec<_>>()
    );
    assert_eq!(
        keys.iter()
            .filter(|k| k.status == neo_support::domain::license::KeyStatus::Active)
            .count(),
        1
    );
    let verifier = first.keyring.verifier();
    for key in &received {
        let verified = verifier
            .verify(key)
            .expect("every key a client received verifies");
        assert!(
            keys.iter()
                .any(|k| &k.token == key && k.id == verified.claims.jti),
            "on record"
        );
    }

    // One idempotency id sent to two replicas at once: one and the same key.
    let (mut a, mut b) = (clients[1].clone(), clients[2].clone());
    let (left, right) = tokio::join!(
        a.request_reissue(reissue("srv-same-0001.example", "same-id")),
        b.request_reissue(reissue("srv-same-0001.example", "same-id")),
    );
    let (left, right) = (left.unwrap().into_inner(), right.unwrap().into_inner());
    assert_eq!(left.key, right.key);
    assert_eq!(left.key_id, right.key_id);
    assert_eq!(
        first.store.list_license_keys("LIC-R").await.unwrap().len(),
        34
    );

    second.stop().await;
    third.stop().await;
    first.stop().await;
    db.drop_database().await;
}
