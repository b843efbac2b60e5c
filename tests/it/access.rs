//! Access tokens, health and reflection against a real server.

use crate::common::{TestServer, on_each_backend, reason, test_databases};
use neo_support::domain::token::Role;
use neo_support::grpc::Settings;
use neo_support::pb;
use neo_support::server::ServeOptions;
use neo_support::store::Audit;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

fn day() -> pb::GetCalendarDayRequest {
    pb::GetCalendarDayRequest {
        date: "2026-11-25".into(),
    }
}

fn closure() -> pb::CreateClosureRequest {
    pb::CreateClosureRequest {
        closure: Some(pb::Closure {
            name: "創立記念日".into(),
            range: Some(pb::closure::Range::Dates(pb::DateRange {
                start_on: "2026-12-01".into(),
                end_on: "2026-12-01".into(),
            })),
            ..Default::default()
        }),
    }
}

#[tokio::test]
async fn calls_without_a_valid_token_are_unauthenticated() {
    on_each_backend(async |server| {
        let missing = server
            .client(None)
            .await
            .get_calendar_day(day())
            .await
            .unwrap_err();
        assert_eq!(missing.code(), Code::Unauthenticated, "{}", server.label);
        assert_eq!(reason(&missing), "TOKEN_MISSING");

        let unknown = server
            .client(Some("nst_not-a-real-token"))
            .await
            .get_calendar_day(day())
            .await
            .unwrap_err();
        assert_eq!(unknown.code(), Code::Unauthenticated);
        assert_eq!(reason(&unknown), "TOKEN_INVALID");

        // A token revoked before the server has seen it is refused at once.
        let (id, token) = server.token("alice", Role::Staff).await;
        assert!(
            server
                .store
                .revoke_token(id, chrono::Utc::now(), &Audit::daemon())
                .await
                .unwrap()
        );
        let revoked = server
            .client(Some(&token))
            .await
            .get_calendar_day(day())
            .await
            .unwrap_err();
        assert_eq!(revoked.code(), Code::Unauthenticated, "{}", server.label);
        assert_eq!(reason(&revoked), "TOKEN_INVALID");
        assert!(
            !revoked.message().contains(&token[4..]),
            "the token never comes back"
        );
    })
    .await;
}

#[tokio::test]
async fn a_token_revoked_in_the_database_is_refused_once_the_cache_time_has_passed() {
    let ttl = std::time::Duration::from_secs(30);
    for db in test_databases().await {
        let settings = Settings {
            cache_ttl: ttl,
            ..Default::default()
        };
        let server = TestServer::start_full(&db, ServeOptions::default(), settings).await;
        let (id, token) = server.token("carol", Role::Staff).await;
        let mut carol = server.client(Some(&token)).await;
        carol.get_calendar_day(day()).await.unwrap();
        assert!(
            server
                .store
                .revoke_token(id, chrono::Utc::now(), &Audit::daemon())
                .await
                .unwrap()
        );
        // The cache's lifetime follows the server's clock: move it on.
        let now = neo_support::clock::Clock::now(server.clock.as_ref());
        server
            .clock
            .set(now + chrono::TimeDelta::from_std(ttl).unwrap());
        let refused = carol.get_calendar_day(day()).await.unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated, "{}", server.label);
        assert_eq!(reason(&refused), "TOKEN_INVALID");
        server.stop().await;
        db.drop_database().await;
    }
}

#[tokio::test]
async fn a_closure_added_through_the_server_counts_at_once_despite_the_cache() {
    on_each_backend(async |server| {
        let mut staff = server.staff().await;
        let before = staff
            .get_calendar_day(pb::GetCalendarDayRequest {
                date: "2026-12-01".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .day
            .unwrap();
        assert!(before.business_day, "{}", server.label);
        let created = staff.create_closure(closure()).await.unwrap().into_inner();
        let after = staff
            .get_calendar_day(pb::GetCalendarDayRequest {
                date: "2026-12-01".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .day
            .unwrap();
        assert!(!after.business_day, "{}", server.label);
        staff
            .delete_closure(pb::DeleteClosureRequest {
                id: created.closure.unwrap().id,
            })
            .await
            .unwrap();
        let again = staff
            .get_calendar_day(pb::GetCalendarDayRequest {
                date: "2026-12-01".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .day
            .unwrap();
        assert!(again.business_day, "{}", server.label);
    })
    .await;
}

#[tokio::test]
async fn a_customer_token_reads_the_calendar_but_cannot_change_it() {
    on_each_backend(async |server| {
        let (_, token) = server
            .token(
                "customer C-1",
                Role::Customer {
                    contract_id: "C-1".into(),
                },
            )
            .await;
        let mut customer = server.client(Some(&token)).await;
        customer.get_calendar_day(day()).await.unwrap();
        let denied = customer.create_closure(closure()).await.unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied, "{}", server.label);
        assert_eq!(reason(&denied), "STAFF_ONLY");
        let denied = customer
            .list_closures(pb::ListClosuresRequest {})
            .await
            .unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied);
        assert!(server.store.list_closures().await.unwrap().is_empty());
        server
            .staff()
            .await
            .create_closure(closure())
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn token_names_in_use_are_unique_but_reusable_after_revocation() {
    on_each_backend(async |server| {
        let (id, _) = server.token("bob", Role::Staff).await;
        let taken = server
            .store
            .create_token(
                "bob",
                &Role::Staff,
                "another-hash",
                chrono::Utc::now(),
                &Audit::daemon(),
            )
            .await;
        assert!(
            matches!(
                taken,
                Err(neo_support::Error::AlreadyExists {
                    reason: "TOKEN_NAME_TAKEN",
                    ..
                })
            ),
            "{}",
            server.label
        );
        server
            .store
            .revoke_token(id, chrono::Utc::now(), &Audit::daemon())
            .await
            .unwrap();
        server.token("bob", Role::Staff).await;
        let tokens = server.store.list_tokens().await.unwrap();
        assert_eq!(tokens.iter().filter(|t| t.name == "bob").count(), 2);
    })
    .await;
}

#[tokio::test]
async fn health_needs_no_token_and_reports_serving() {
    on_each_backend(async |server| {
        let channel = neo_support::client::channel(&server.options(None))
            .await
            .unwrap();
        let mut health = HealthClient::new(channel);
        for service in ["", "neo.support.v1.SupportService"] {
            let answer = health
                .check(HealthCheckRequest {
                    service: service.into(),
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(
                answer.status,
                ServingStatus::Serving as i32,
                "{service:?} on {}",
                server.label
            );
        }
    })
    .await;
}

#[tokio::test]
async fn reflection_answers_in_both_versions_without_a_token() {
    use tonic_reflection::pb::{v1, v1alpha};
    let db = crate::common::TestDb::sqlite();
    let server = TestServer::start(&db).await;
    let channel = neo_support::client::channel(&server.options(None))
        .await
        .unwrap();

    let mut client = v1::server_reflection_client::ServerReflectionClient::new(channel.clone());
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::once(request))
        .await
        .unwrap()
        .into_inner();
    let answer = stream.message().await.unwrap().unwrap();
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        answer.message_response
    else {
        panic!("expected a service list");
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names.contains(&"neo.support.v1.SupportService"),
        "{names:?}"
    );
    assert!(names.contains(&"grpc.health.v1.Health"), "{names:?}");

    let mut alpha = v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
                "neo.support.v1.SupportService".into(),
            ),
        ),
    };
    let mut stream = alpha
        .server_reflection_info(tokio_stream::once(request))
        .await
        .unwrap()
        .into_inner();
    let answer = stream.message().await.unwrap().unwrap();
    assert!(
        matches!(
            answer.message_response,
            Some(v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(ref files)) if !files.file_descriptor_proto.is_empty()
        ),
        "{:?}",
        answer.message_response
    );
    server.stop().await;
}

#[tokio::test]
async fn health_is_not_serving_while_postgres_refuses_connections_and_serving_again_after() {
    let Some(base_url) = crate::common::postgres_or_skip("the PostgreSQL outage test") else {
        return;
    };
    use sqlx::Connection;
    let db = crate::common::TestDb::postgres(&base_url).await;
    let name = db.postgres_name().unwrap().to_owned();
    let options = neo_support::server::ServeOptions {
        health_interval: std::time::Duration::from_millis(100),
        ..Default::default()
    };
    let server = TestServer::start_with(&db, options).await;
    let channel = neo_support::client::channel(&server.options(None))
        .await
        .unwrap();
    let mut health = HealthClient::new(channel);
    let status = |health: &mut HealthClient<tonic::transport::Channel>| {
        let mut health = health.clone();
        async move {
            health
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .unwrap()
                .into_inner()
                .status
        }
    };
    assert_eq!(status(&mut health).await, ServingStatus::Serving as i32);

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
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen.push(status(&mut health).await);
        if seen.last() == Some(&(ServingStatus::NotServing as i32)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        seen.last(),
        Some(&(ServingStatus::NotServing as i32)),
        "{seen:?}"
    );

    sqlx::query(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true"))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut back = false;
    for _ in 0..100 {
        if status(&mut health).await == ServingStatus::Serving as i32 {
            back = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        back,
        "SERVING again once the database is back, without a restart"
    );
    admin.close().await.ok();
    server.stop().await;
    db.drop_database().await;
}

/// A customer token for contract `contract_id`, created through the server
/// by `staff`: `(id, token)`.
async fn customer_token(
    staff: &mut neo_support::client::SupportClient,
    contract_id: &str,
    expires_in_days: i32,
) -> (i64, String) {
    let created = staff
        .create_access_token(pb::CreateAccessTokenRequest {
            contract_id: contract_id.into(),
            name: String::new(),
            expires_in_days,
        })
        .await
        .unwrap()
        .into_inner();
    (created.id, created.token)
}

async fn contract(server: &TestServer, id: &str) {
    server
        .staff()
        .await
        .create_contract(crate::common::new_contract(
            id,
            &format!("LIC-{id}"),
            10,
            false,
        ))
        .await
        .unwrap();
}

fn revoke(id: i64, reason: &str) -> pb::RevokeAccessTokenRequest {
    pb::RevokeAccessTokenRequest {
        id,
        created_by: 0,
        reason: reason.into(),
    }
}

#[tokio::test]
async fn a_token_past_its_expiry_is_refused_as_expired_even_from_the_cache() {
    on_each_backend(async |server| {
        contract(server, "E").await;
        let mut staff = server.staff().await;
        for days in [-1, 3651] {
            let bad = staff
                .create_access_token(pb::CreateAccessTokenRequest {
                    contract_id: "E".into(),
                    name: format!("bad {days}"),
                    expires_in_days: days,
                })
                .await
                .unwrap_err();
            assert_eq!(crate::common::bad_fields(&bad), ["expires_in_days"]);
        }
        let created = staff
            .create_access_token(pb::CreateAccessTokenRequest {
                contract_id: "E".into(),
                name: "thirty days".into(),
                expires_in_days: 30,
            })
            .await
            .unwrap()
            .into_inner();
        let start = crate::common::jst_at(2026, 11, 25, 10, 0, 0);
        let expires = start + chrono::Duration::days(30);
        assert_eq!(
            created.expire_time.map(|t| t.seconds),
            Some(expires.timestamp())
        );
        let mut customer = server.client(Some(&created.token)).await;
        customer.get_calendar_day(day()).await.unwrap();
        server.clock.set(expires - chrono::Duration::seconds(1));
        customer.get_calendar_day(day()).await.unwrap();
        server.clock.set(expires);
        let expired = customer.get_calendar_day(day()).await.unwrap_err();
        assert_eq!(
            (expired.code(), reason(&expired)),
            (Code::Unauthenticated, "TOKEN_EXPIRED".into()),
            "{}",
            server.label
        );
        // Staff see when it expires.
        let listed = staff
            .list_access_tokens(pb::ListAccessTokensRequest {
                contract_id: "E".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .access_tokens;
        assert_eq!(listed.len(), 1);
        assert_eq!(
            listed[0].expire_time.map(|t| t.seconds),
            Some(expires.timestamp())
        );
    })
    .await;
}

#[tokio::test]
async fn a_staff_token_revoked_through_the_server_is_refused_at_once_despite_a_long_cache() {
    for db in test_databases().await {
        let settings = Settings {
            cache_ttl: std::time::Duration::from_secs(30),
            ..Default::default()
        };
        let server = TestServer::start_full(&db, ServeOptions::default(), settings).await;
        contract(&server, "K").await;
        let (mallory_id, mallory_token) = server.token("mallory", Role::Staff).await;
        let mut mallory = server.client(Some(&mallory_token)).await;
        mallory.get_calendar_day(day()).await.unwrap();
        let mut staff = server.staff().await;

        let no_reason = staff
            .revoke_access_token(revoke(mallory_id, " "))
            .await
            .unwrap_err();
        assert_eq!(crate::common::bad_fields(&no_reason), ["reason"]);
        let neither = staff
            .revoke_access_token(revoke(0, "left"))
            .await
            .unwrap_err();
        assert_eq!(crate::common::bad_fields(&neither), ["id"]);
        let both = staff
            .revoke_access_token(pb::RevokeAccessTokenRequest {
                id: mallory_id,
                created_by: mallory_id,
                reason: "left".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(crate::common::bad_fields(&both), ["created_by"]);
        mallory.get_calendar_day(day()).await.unwrap();

        let revoked = staff
            .revoke_access_token(revoke(mallory_id, "left the company"))
            .await
            .unwrap()
            .into_inner()
            .access_tokens;
        assert_eq!(revoked.len(), 1);
        assert_eq!(revoked[0].revoke_reason, "left the company");
        // What a revoked staff token did for 5 s before: mint a customer
        // token, read the outbox.
        let mint = mallory
            .create_access_token(pb::CreateAccessTokenRequest {
                contract_id: "K".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(
            (mint.code(), reason(&mint)),
            (Code::Unauthenticated, "TOKEN_INVALID".into()),
            "{}",
            db.label
        );
        let outbox = mallory
            .list_outbox_messages(pb::ListOutboxMessagesRequest::default())
            .await
            .unwrap_err();
        assert_eq!(reason(&outbox), "TOKEN_INVALID");

        let again = staff
            .revoke_access_token(revoke(mallory_id, "twice"))
            .await
            .unwrap_err();
        assert_eq!(
            (again.code(), reason(&again)),
            (Code::FailedPrecondition, "TOKEN_ALREADY_REVOKED".into())
        );
        let unknown = staff
            .revoke_access_token(revoke(999_999, "x"))
            .await
            .unwrap_err();
        assert_eq!(
            (unknown.code(), reason(&unknown)),
            (Code::NotFound, "TOKEN_NOT_FOUND".into())
        );
        let record = server.store.get_token(mallory_id).await.unwrap().unwrap();
        assert_eq!(record.revoke_reason.as_deref(), Some("left the company"));

        // A customer token neither lists nor revokes tokens.
        let (customer_id, customer) = customer_token(&mut staff, "K", 0).await;
        let mut customer = server.client(Some(&customer)).await;
        let list = customer
            .list_access_tokens(pb::ListAccessTokensRequest::default())
            .await
            .unwrap_err();
        assert_eq!(list.code(), Code::PermissionDenied);
        let own = customer
            .revoke_access_token(revoke(customer_id, "mine"))
            .await
            .unwrap_err();
        assert_eq!(own.code(), Code::PermissionDenied);
        server.stop().await;
        db.drop_database().await;
    }
}

#[tokio::test]
async fn a_token_revoked_on_the_database_by_another_process_is_refused_within_a_second() {
    for db in test_databases().await {
        let settings = Settings {
            cache_ttl: std::time::Duration::from_secs(30),
            ..Default::default()
        };
        let server = TestServer::start_full(&db, ServeOptions::default(), settings).await;
        let (id, token) = server.token("trent", Role::Staff).await;
        let mut trent = server.client(Some(&token)).await;
        trent.get_calendar_day(day()).await.unwrap();
        // What `neo-supportd token revoke` does: its own connection.
        let other = neo_support::store::connect(&db.url, &Default::default())
            .await
            .unwrap();
        other
            .revoke_access_token(id, "laptop stolen", chrono::Utc::now(), &Audit::daemon())
            .await
            .unwrap()
            .unwrap();
        let revoked_at = std::time::Instant::now();
        let refused = loop {
            match trent.get_calendar_day(day()).await {
                Ok(_) if revoked_at.elapsed() < std::time::Duration::from_secs(1) => {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Ok(_) => panic!("{}: still accepted a second after revocation", db.label),
                Err(status) => break status,
            }
        };
        assert_eq!(reason(&refused), "TOKEN_INVALID", "{}", db.label);
        server.stop().await;
        db.drop_database().await;
    }
}

#[tokio::test]
async fn revoking_a_staff_token_leaves_the_tokens_it_created_and_created_by_revokes_them_in_one_step()
 {
    on_each_backend(async |server| {
        contract(server, "C").await;
        contract(server, "D").await;
        let (bob_id, bob_token) = server.token("bob", Role::Staff).await;
        let mut bob = server.client(Some(&bob_token)).await;
        let (c_id, c_token) = customer_token(&mut bob, "C", 0).await;
        let (d_id, d_token) = customer_token(&mut bob, "D", 0).await;
        let mut staff = server.staff().await;
        let (other_id, other_token) = customer_token(&mut staff, "C", 0).await;

        // Who created which, and the audit trail's token ids.
        let listed = staff
            .list_access_tokens(pb::ListAccessTokensRequest {
                contract_id: "C".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .access_tokens;
        let pairs: Vec<_> = listed.iter().map(|t| (t.id, t.created_by)).collect();
        let staff_id = server
            .store
            .list_tokens()
            .await
            .unwrap()
            .into_iter()
            .find(|t| t.name == "test staff")
            .unwrap()
            .id;
        assert_eq!(
            pairs,
            [(c_id, bob_id), (other_id, staff_id)],
            "{}",
            server.label
        );
        assert_eq!(listed[0].role, pb::TokenRole::Customer as i32);
        let events = staff
            .list_events(pb::ListEventsRequest {
                kind: "token.created".into(),
                contract_id: "C".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .events;
        let actors: Vec<_> = events
            .iter()
            .map(|e| (e.actor.as_str(), e.actor_token_id))
            .collect();
        assert_eq!(actors, [("bob", bob_id), ("test staff", staff_id)]);

        // Bob leaves: his customers keep working.
        staff
            .revoke_access_token(revoke(bob_id, "left"))
            .await
            .unwrap();
        for token in [&c_token, &d_token] {
            server
                .client(Some(token))
                .await
                .get_calendar_day(day())
                .await
                .unwrap();
        }
        // Until staff revoke what he created, in one step.
        let revoked = staff
            .revoke_access_token(pb::RevokeAccessTokenRequest {
                id: 0,
                created_by: bob_id,
                reason: "bob's customers move to carol".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .access_tokens;
        assert_eq!(
            revoked.iter().map(|t| t.id).collect::<Vec<_>>(),
            [c_id, d_id],
            "{}",
            server.label
        );
        for token in [&c_token, &d_token] {
            let refused = server
                .client(Some(token))
                .await
                .get_calendar_day(day())
                .await
                .unwrap_err();
            assert_eq!(reason(&refused), "TOKEN_INVALID");
        }
        server
            .client(Some(&other_token))
            .await
            .get_calendar_day(day())
            .await
            .unwrap();
        let revoke_events = staff
            .list_events(pb::ListEventsRequest {
                kind: "token.revoked".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .events;
        assert_eq!(revoke_events.len(), 3);
        assert!(revoke_events.iter().all(|e| e.actor_token_id == staff_id));
    })
    .await;
}

#[tokio::test]
async fn a_revocation_made_while_the_listener_reconnects_is_not_missed() {
    let Some(base_url) =
        crate::common::postgres_or_skip("the LISTEN reconnect test (LISTEN is PostgreSQL's)")
    else {
        return;
    };
    let db = crate::common::TestDb::postgres(&base_url).await;
    let settings = Settings {
        cache_ttl: std::time::Duration::from_secs(30),
        ..Default::default()
    };
    let server = TestServer::start_full(&db, ServeOptions::default(), settings).await;
    let (id, token) = server.token("victor", Role::Staff).await;
    let mut victor = server.client(Some(&token)).await;
    victor.get_calendar_day(day()).await.unwrap();
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    // Wait until the server listens, then cut its listening connection.
    let listening = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'";
    let mut pids: Vec<i32> = Vec::new();
    for _ in 0..100 {
        pids = sqlx::query_scalar(listening)
            .fetch_all(&pool)
            .await
            .unwrap();
        if !pids.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(pids.len(), 1, "one listening connection");
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(pids[0])
        .execute(&pool)
        .await
        .unwrap();
    // Revoked while nobody listens: the notification is lost.
    server
        .store
        .revoke_access_token(
            id,
            "while reconnecting",
            chrono::Utc::now(),
            &Audit::daemon(),
        )
        .await
        .unwrap()
        .unwrap();
    let start = std::time::Instant::now();
    loop {
        match victor.get_calendar_day(day()).await {
            Ok(_) if start.elapsed() < std::time::Duration::from_secs(2) => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Ok(_) => panic!("a revoked token still accepted 2 s after the listener dropped"),
            Err(status) => {
                assert_eq!(reason(&status), "TOKEN_INVALID");
                break;
            }
        }
    }
    // Listening again: the next revocation arrives by notification.
    let (id, token) = server.token("walter", Role::Staff).await;
    let mut walter = server.client(Some(&token)).await;
    // The server reconnects after half a second; on a loaded machine it
    // may take longer, so wait for the new listener before going on.
    let mut listening_again = false;
    for _ in 0..500 {
        let again: Vec<i32> = sqlx::query_scalar(listening)
            .fetch_all(&pool)
            .await
            .unwrap();
        if !again.is_empty() && again != pids {
            listening_again = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(listening_again, "the server listens again within 10 s");
    walter.get_calendar_day(day()).await.unwrap();
    server
        .store
        .revoke_access_token(
            id,
            "after reconnecting",
            chrono::Utc::now(),
            &Audit::daemon(),
        )
        .await
        .unwrap()
        .unwrap();
    // The notification reaches the server within a second.
    let start = std::time::Instant::now();
    let refused = loop {
        match walter.get_calendar_day(day()).await {
            Err(status) => break status,
            Ok(_) if start.elapsed() < std::time::Duration::from_secs(1) => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Ok(_) => panic!("a revoked token still accepted a second after its notification"),
        }
    };
    assert_eq!(reason(&refused), "TOKEN_INVALID");
    pool.close().await;
    server.stop().await;
    db.drop_database().await;
}
