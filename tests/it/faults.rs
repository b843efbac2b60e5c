//! Faults: a replica killed with SIGKILL in the middle of a stream of
//! reissues loses nothing, on each backend; calls answer
//! UNAVAILABLE/DATABASE_UNAVAILABLE quickly while PostgreSQL refuses
//! connections, and work again once it is back.

use std::time::{Duration, Instant};

use crate::common::{Daemon, TestDb, TestServer, reason, test_databases};
use neo_support::client::{self, ClientOptions};
use neo_support::pb;
use sqlx::Connection;
use tonic::Code;

fn staff_token(database_url: &str) -> String {
    crate::common::staff_token_on(
        database_url,
        &format!("ops-{}", uuid::Uuid::new_v4().simple()),
    )
}

fn options(daemon: &Daemon, token: &str) -> ClientOptions {
    ClientOptions {
        server: format!("http://{}", daemon.address),
        token: Some(token.to_owned()),
        ca_cert_pem: None,
    }
}

fn reissue(i: usize) -> pb::RequestReissueRequest {
    pb::RequestReissueRequest {
        license_id: "LIC-KILL".into(),
        fingerprint: format!("srv-stream-{i:05}.example"),
        request_id: format!("stream-{i}"),
    }
}

#[tokio::test]
async fn a_replica_killed_mid_stream_loses_nothing_and_answers_the_same_after_restart() {
    for db in test_databases().await {
        let dir = tempfile::tempdir().unwrap();
        let keys_dir = dir.path().join("keys");
        let token = staff_token(&db.url);
        let extra = ["--reissues-before-review", "100000"];
        let daemon = Daemon::start_with(&db.url, &keys_dir, &extra);
        let opts = options(&daemon, &token);
        let mut support = client::support(&opts).await.unwrap();
        support
            .create_contract(crate::common::new_contract("KILL", "LIC-KILL", 10, false))
            .await
            .unwrap();
        let received = crate::common::a_month_ago();
        support
            .record_order(crate::common::first_year("KILL", &received, &received))
            .await
            .unwrap();
        let mut licenses = client::license(&opts).await.unwrap();
        licenses
            .issue_first_key(pb::IssueFirstKeyRequest {
                license_id: "LIC-KILL".into(),
                fingerprint: "srv-stream-start.example".into(),
            })
            .await
            .unwrap();

        // A stream of reissues from four clients; kill the server mid-way.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut senders = Vec::new();
        for worker in 0..4 {
            let mut client = licenses.clone();
            let tx = tx.clone();
            senders.push(tokio::spawn(async move {
                for i in (worker..400).step_by(4) {
                    match client.request_reissue(reissue(i)).await {
                        Ok(answer) => {
                            let _ = tx.send((i, answer.into_inner().key));
                        }
                        Err(_) => break,
                    }
                }
            }));
        }
        drop(tx);
        let mut answered = Vec::new();
        while let Some(item) = rx.recv().await {
            answered.push(item);
            if answered.len() == 40 {
                break;
            }
        }
        daemon.kill_hard();
        while let Some(item) = rx.recv().await {
            answered.push(item);
        }
        for sender in senders {
            sender.await.unwrap();
        }
        assert!(answered.len() >= 40, "{}", db.label);

        let daemon = Daemon::start_with(&db.url, &keys_dir, &extra);
        let opts = options(&daemon, &token);
        let mut licenses = client::license(&opts).await.unwrap();
        let keys = licenses
            .list_license_keys(pb::ListLicenseKeysRequest {
                license_id: "LIC-KILL".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .license_keys;
        let sequences: Vec<i64> = keys.iter().map(|k| k.sequence).collect();
        assert_eq!(
            sequences,
            (1..=i64::try_from(keys.len()).unwrap()).collect::<Vec<_>>(),
            "no gap on {}",
            db.label
        );
        assert_eq!(
            keys.iter()
                .filter(|k| k.status == pb::KeyStatus::Active as i32)
                .count(),
            1,
            "{}",
            db.label
        );
        for (i, key) in &answered {
            assert!(
                keys.iter().any(|k| &k.key == key),
                "key for request {i} is on record ({})",
                db.label
            );
            let again = licenses
                .request_reissue(reissue(*i))
                .await
                .unwrap()
                .into_inner();
            assert_eq!(
                &again.key, key,
                "the same request id answers the same key after the restart ({})",
                db.label
            );
        }
        // The daemon is waited for off the test's runtime, so that the
        // client's connection can answer the server's GOAWAY meanwhile.
        let (status, _) = tokio::task::spawn_blocking(move || daemon.terminate())
            .await
            .unwrap();
        assert!(status.success());
        db.drop_database().await;
    }
}

#[tokio::test]
async fn calls_answer_database_unavailable_quickly_while_postgres_refuses_connections() {
    let Some(base_url) = crate::common::postgres_or_skip("the PostgreSQL outage test") else {
        return;
    };
    let db = TestDb::postgres(&base_url).await;
    let name = db.postgres_name().unwrap().to_owned();
    let server = TestServer::start(&db).await;
    let mut staff = server.staff().await;
    // Listing contracts reads the database on every call (the token and
    // the calendar may be answered from the cache).
    let list = || pb::ListContractsRequest::default();
    staff.list_contracts(list()).await.unwrap();

    let mut admin = sqlx::PgConnection::connect(&base_url).await.unwrap();
    sqlx::query(&format!(
        "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(&name)
        .execute(&mut admin)
        .await
        .unwrap();
    // The pool's connections are gone; every call now needs a new one.
    let mut refused = None;
    for _ in 0..5 {
        let started = Instant::now();
        match staff.list_contracts(list()).await {
            Ok(_) => continue,
            Err(status) => {
                refused = Some((status, started.elapsed()));
                break;
            }
        }
    }
    let (status, took) = refused.expect("calls are refused while the database is away");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(reason(&status), "DATABASE_UNAVAILABLE");
    assert!(
        !status.message().contains("neo_test_"),
        "no database detail reaches the client"
    );
    assert!(
        took < Duration::from_secs(6),
        "bounded by the pool timeout: {took:?}"
    );

    sqlx::query(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true"))
        .execute(&mut admin)
        .await
        .unwrap();
    staff
        .list_contracts(list())
        .await
        .expect("works again without a restart");
    admin.close().await.ok();
    server.stop().await;
    db.drop_database().await;
}

#[tokio::test]
async fn sigterm_finishes_calls_in_flight_refuses_new_ones_and_exits_within_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}/neo.db", dir.path().display());
    let token = staff_token(&database_url);
    let daemon = Daemon::start_with(
        &database_url,
        &dir.path().join("keys"),
        // Loads the server as fast as it answers: no per-token limit.
        &["--shutdown-grace-secs", "3", "--rate-limit-per-token", "0"],
    );
    let opts = options(&daemon, &token);
    let support = client::support(&opts).await.unwrap();
    // Eight workers call in a loop until the server stops taking calls.
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..8)
        .map(|worker| {
            let mut client = support.clone();
            let answered = answered.clone();
            tokio::spawn(async move {
                for i in 0.. {
                    let date = format!("2026-{:02}-{:02}", 1 + (worker + i) % 12, 1 + i % 28);
                    match client
                        .get_calendar_day(pb::GetCalendarDayRequest { date })
                        .await
                    {
                        Ok(_) => {
                            answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                        Err(status) => return status,
                    }
                }
                unreachable!("the loop only ends with an error")
            })
        })
        .collect();
    while answered.load(std::sync::atomic::Ordering::SeqCst) < 100 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = Instant::now();
    let exit = tokio::task::spawn_blocking(move || daemon.terminate());
    for worker in workers {
        let status = worker.await.unwrap();
        // Calls not yet started when the server says GOAWAY are refused by
        // the transport (tonic reports that as INTERNAL "h2 protocol error
        // ... GoAway NO_ERROR", or UNAVAILABLE once the connection is
        // gone): safe to retry. A call the server took is answered.
        assert!(
            matches!(status.code(), Code::Unavailable | Code::Cancelled)
                || format!("{status:?}").contains("GoAway"),
            "a call is either answered or refused, never cut off: {status:?}"
        );
    }
    let finished = answered.load(std::sync::atomic::Ordering::SeqCst);
    drop(support);
    let (status, log) = exit.await.unwrap();
    assert!(status.success(), "{log}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "exits within the grace period: {:?}",
        started.elapsed()
    );
    assert!(log.contains("shutting down"));
    eprintln!("{finished} calls answered; every other one was refused cleanly");
    let refused = client::support(&opts).await;
    assert!(refused.is_err(), "a stopped server takes no new calls");
}
