//! Access tokens, health and reflection against a real server.

mod common;

use common::{TestServer, on_each_backend, reason, test_databases};
use neo_support::domain::token::Role;
use neo_support::grpc::Settings;
use neo_support::grpc::pb;
use neo_support::server::ServeOptions;
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
                .revoke_token(id, chrono::Utc::now())
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
    let ttl = std::time::Duration::from_millis(400);
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
                .revoke_token(id, chrono::Utc::now())
                .await
                .unwrap()
        );
        tokio::time::sleep(ttl).await;
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
            .create_token("bob", &Role::Staff, "another-hash", chrono::Utc::now())
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
            .revoke_token(id, chrono::Utc::now())
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
    let db = common::TestDb::sqlite();
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
    let Ok(base_url) = std::env::var(common::POSTGRES_ENV) else {
        eprintln!(
            "{} is not set: skipping the PostgreSQL outage test",
            common::POSTGRES_ENV
        );
        return;
    };
    use sqlx::Connection;
    let db = common::TestDb::postgres(&base_url).await;
    let name = db.url.rsplit('/').next().unwrap().to_owned();
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
