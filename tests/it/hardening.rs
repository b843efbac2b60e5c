//! Attacks on the listener from callers with no token or a careless one:
//! made-up paths that would grow the metrics and the log, half-sent
//! messages that would pin memory, floods of calls and of guessed tokens.
//! Each test makes the attack against a real server.

use std::time::{Duration, Instant};

use crate::common::{Daemon, TestDb, TestServer};
use bytes::Bytes;
use neo_support::client::{self, ClientOptions};
use neo_support::grpc::Settings;
use neo_support::grpc::gate::RateLimits;
use neo_support::pb::GetCalendarDayRequest;
use neo_support::server::{ConnectionLimits, ServeOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;

/// A raw HTTP/2 connection to `address` (`HOST:PORT`), for what the real
/// client would never send.
async fn raw_connection(address: &str) -> h2::client::SendRequest<Bytes> {
    let tcp = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let (send, connection) = h2::client::handshake(tcp).await.expect("handshake");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    send
}

/// The headers of a gRPC call to `path`, with a bearer token or none.
fn grpc_headers(address: &str, path: &str, token: Option<&str>) -> http::Request<()> {
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!("http://{address}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.body(()).expect("request")
}

/// The first bytes of a gRPC message that claims `length` bytes.
fn message_prefix(length: u32, sent: usize) -> Bytes {
    let mut frame = vec![0u8];
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend(std::iter::repeat_n(0x0a, sent));
    Bytes::from(frame)
}

/// Starts a call that sends only the start of a 200 KB message and never
/// the rest, and waits up to `wait` for the server's answer; returns its
/// grpc-status, if it answered.
async fn half_sent_call(
    send: &mut h2::client::SendRequest<Bytes>,
    address: &str,
    token: Option<&str>,
    wait: Duration,
) -> Option<String> {
    let path = "/neo.support.v1.SupportService/ListContracts";
    let mut ready = send.clone().ready().await.expect("connection ready");
    let (response, mut body) = ready
        .send_request(grpc_headers(address, path, token), false)
        .expect("send headers");
    body.send_data(message_prefix(200_000, 16), false)
        .expect("send a part");
    let response = tokio::time::timeout(wait, response).await.ok()?.ok()?;
    let (parts, mut body_stream) = response.into_parts();
    if let Some(status) = parts.headers.get("grpc-status") {
        return Some(status.to_str().unwrap().to_owned());
    }
    while body_stream.data().await.is_some() {}
    let trailers = body_stream.trailers().await.ok()??;
    Some(trailers.get("grpc-status")?.to_str().ok()?.to_owned())
}

fn address_of(server: &TestServer) -> String {
    server.url.trim_start_matches("http://").to_owned()
}

#[tokio::test]
async fn a_caller_without_a_token_is_refused_before_its_message_is_read() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db).await;
    let address = address_of(&server);
    let mut send = raw_connection(&address).await;
    // Before the gate, the server waited for the whole 200 KB message
    // before it looked at the token, and held it meanwhile.
    let started = Instant::now();
    let status = half_sent_call(&mut send, &address, None, Duration::from_secs(3)).await;
    assert_eq!(status.as_deref(), Some("16"), "UNAUTHENTICATED at once");
    assert!(started.elapsed() < Duration::from_secs(2));
    let status = half_sent_call(
        &mut send,
        &address,
        Some("nst_not-a-real-token"),
        Duration::from_secs(3),
    )
    .await;
    assert_eq!(status.as_deref(), Some("16"), "a wrong token too");
    server.stop().await;
}

#[tokio::test]
async fn a_call_whose_message_never_ends_is_cut_at_the_request_timeout() {
    let db = TestDb::sqlite();
    let options = ServeOptions {
        limits: ConnectionLimits {
            request_timeout: Duration::from_secs(1),
            ..ConnectionLimits::default()
        },
        ..ServeOptions::default()
    };
    let server = TestServer::start_with(&db, options).await;
    let address = address_of(&server);
    let mut send = raw_connection(&address).await;
    let token = server.staff_token.clone();
    let started = Instant::now();
    let status = half_sent_call(&mut send, &address, Some(&token), Duration::from_secs(5)).await;
    let status = status.expect("the server answers instead of waiting forever");
    assert_ne!(status, "0", "the call is not answered OK");
    assert!(started.elapsed() >= Duration::from_millis(900));
    server.stop().await;
}

/// The settings the server sends first on a new HTTP/2 connection, as
/// `(identifier, value)` pairs.
async fn server_settings(address: &str) -> Vec<(u16, u32)> {
    let mut tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    tcp.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    tcp.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.unwrap();
    loop {
        let mut header = [0u8; 9];
        tcp.read_exact(&mut header).await.unwrap();
        let length =
            usize::from(header[0]) << 16 | usize::from(header[1]) << 8 | usize::from(header[2]);
        let mut payload = vec![0u8; length];
        tcp.read_exact(&mut payload).await.unwrap();
        let is_settings = header[3] == 4;
        let is_ack = header[4] & 1 == 1;
        if is_settings && !is_ack {
            return payload
                .chunks_exact(6)
                .map(|entry| {
                    (
                        u16::from_be_bytes([entry[0], entry[1]]),
                        u32::from_be_bytes([entry[2], entry[3], entry[4], entry[5]]),
                    )
                })
                .collect();
        }
    }
}

#[tokio::test]
async fn the_server_advertises_its_stream_and_header_limits() {
    const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    const MAX_HEADER_LIST_SIZE: u16 = 0x6;
    let db = TestDb::sqlite();
    let server = TestServer::start(&db).await;
    let settings = server_settings(&address_of(&server)).await;
    let defaults = ConnectionLimits::default();
    assert!(
        settings.contains(&(MAX_CONCURRENT_STREAMS, defaults.max_concurrent_streams)),
        "{settings:?}"
    );
    assert!(
        settings.contains(&(MAX_HEADER_LIST_SIZE, defaults.max_header_list_bytes)),
        "{settings:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_connection_cannot_open_more_streams_than_advertised() {
    let db = TestDb::sqlite();
    let options = ServeOptions {
        limits: ConnectionLimits {
            max_concurrent_streams: 5,
            ..ConnectionLimits::default()
        },
        ..ServeOptions::default()
    };
    let server = TestServer::start_with(&db, options).await;
    let address = address_of(&server);
    let token = server.staff_token.clone();
    let send = raw_connection(&address).await;
    let path = "/neo.support.v1.SupportService/ListContracts";
    #[expect(
        clippy::async_yields_async,
        reason = "the call is sent now and its answer awaited later"
    )]
    let complete_call = |send: &h2::client::SendRequest<Bytes>| {
        let send = send.clone();
        let headers = grpc_headers(&address, path, Some(&token));
        async move {
            let mut ready = send.ready().await.unwrap();
            let (response, mut body) = ready.send_request(headers, false).unwrap();
            body.send_data(message_prefix(0, 0), true).unwrap();
            response
        }
    };
    // A first call, answered, so that the server's settings are in force.
    complete_call(&send).await.await.expect("answered");
    // Five calls that never finish their message hold the five streams.
    let mut held = Vec::new();
    for _ in 0..5 {
        let mut ready = send.clone().ready().await.unwrap();
        let (response, mut body) = ready
            .send_request(grpc_headers(&address, path, Some(&token)), false)
            .unwrap();
        body.send_data(message_prefix(1000, 4), false).unwrap();
        held.push((response, body));
    }
    // A sixth, complete call waits for a free stream instead of being
    // answered beside them.
    let mut sixth = Box::pin(complete_call(&send).await);
    assert!(
        tokio::time::timeout(Duration::from_millis(700), &mut sixth)
            .await
            .is_err(),
        "the sixth call was answered while five streams were open"
    );
    // Once one stream is given up, it goes through.
    let (_, mut body) = held.pop().unwrap();
    body.send_reset(h2::Reason::CANCEL);
    let answered = tokio::time::timeout(Duration::from_secs(5), &mut sixth).await;
    assert!(matches!(answered, Ok(Ok(_))), "{answered:?}");
    server.stop().await;
}

fn free_address() -> String {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap().to_string()
}

fn series(metrics: &str, name: &str) -> usize {
    metrics
        .lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .count()
}

#[tokio::test]
async fn calls_to_made_up_paths_leave_the_metrics_and_the_log_flat() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}/neo.db", dir.path().display());
    let metrics_address = free_address();
    let daemon = Daemon::start_with(
        &database_url,
        &dir.path().join("keys"),
        &["--metrics-listen", &metrics_address],
    );
    let address = daemon.address.clone();
    let mut send = raw_connection(&address).await;
    const CALLS: usize = 1500;
    for n in 0..CALLS {
        let path = format!("/made.up.Service{n}/Method{n}");
        let mut ready = send.ready().await.unwrap();
        let (response, mut body) = ready
            .send_request(grpc_headers(&address, &path, None), false)
            .unwrap();
        body.send_data(message_prefix(0, 0), true).unwrap();
        let _ = response.await;
        send = ready;
    }
    let metrics = crate::common::http_get(&metrics_address, "/metrics");
    assert!(
        !metrics.contains("made.up"),
        "a made-up path became a label"
    );
    assert!(
        series(&metrics, "neo_support_calls_total") < 10,
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "neo_support_calls_total{{rpc=\"unknown\",code=\"UNIMPLEMENTED\"}} {CALLS}"
        )),
        "{metrics}"
    );
    assert!(
        metrics.len() < 64 * 1024,
        "{} bytes of metrics",
        metrics.len()
    );
    let (_, log) = daemon.terminate();
    let lines = log.lines().filter(|line| line.contains("made.up")).count();
    assert_eq!(lines, 0, "unknown paths are logged at debug level only");
    assert!(log.lines().count() < 30, "{log}");
}

#[tokio::test]
async fn a_flood_of_calls_writes_a_few_log_lines_at_the_default_level() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}/neo.db", dir.path().display());
    let token = crate::common::staff_token_on(&database_url, "ops");
    let daemon = Daemon::start_with(
        &database_url,
        &dir.path().join("keys"),
        &[
            "--rate-limit-per-token",
            "0",
            "--auth-failures-per-minute",
            "0",
        ],
    );
    let server = format!("http://{}", daemon.address);
    let options = |token: Option<String>| ClientOptions {
        server: server.clone(),
        token,
        ca_cert_pem: None,
    };
    let mut staff = client::support(&options(Some(token))).await.unwrap();
    let mut stranger = client::support(&options(Some("nst_guessed".into())))
        .await
        .unwrap();
    let day = || GetCalendarDayRequest {
        date: "2026-11-23".into(),
    };
    const CALLS: usize = 300;
    for _ in 0..CALLS {
        staff.get_calendar_day(day()).await.expect("answered");
        let refused = stranger.get_calendar_day(day()).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    }
    let (_, log) = daemon.terminate();
    let call_lines = log.lines().filter(|line| line.contains("\"call")).count();
    // Before: one line per call, 600. Now successes are at debug level and
    // each kind of refusal gets a burst of ten lines, then a few a minute.
    assert!(call_lines <= 25, "{call_lines} call lines:\n{log}");
    assert!(
        log.contains("call refused"),
        "refusals stay visible:\n{log}"
    );
}

fn limits(per_second: u32, burst: u32, failures_per_minute: u32) -> Settings {
    Settings {
        rate_limits: RateLimits {
            per_token_per_second: per_second,
            per_token_burst: burst,
            auth_failures_per_minute: failures_per_minute,
        },
        ..Settings::default()
    }
}

#[tokio::test]
async fn a_token_over_its_call_rate_is_told_to_retry_later_and_health_is_never_limited() {
    let db = TestDb::sqlite();
    let server = TestServer::start_full(&db, ServeOptions::default(), limits(2, 5, 0)).await;
    let mut staff = server.staff().await;
    let (mut limited, mut answered) = (0, 0);
    for _ in 0..20 {
        match staff
            .get_calendar_day(GetCalendarDayRequest {
                date: "2026-11-23".into(),
            })
            .await
        {
            Ok(_) => answered += 1,
            Err(status) => {
                assert_eq!(status.code(), tonic::Code::ResourceExhausted);
                assert_eq!(crate::common::reason(&status), "RATE_LIMITED");
                let retry = status.get_details_retry_info().expect("RetryInfo detail");
                let delay = retry.retry_delay.expect("a delay");
                assert!(delay > Duration::ZERO && delay <= Duration::from_secs(1));
                limited += 1;
            }
        }
    }
    assert!((5..=8).contains(&answered), "{answered} answered");
    assert!(limited >= 12, "{limited} limited");

    // Another token has its own allowance.
    let (_, other) = server
        .token("second staff", neo_support::domain::token::Role::Staff)
        .await;
    let mut other = server.client(Some(&other)).await;
    other
        .get_calendar_day(GetCalendarDayRequest {
            date: "2026-11-23".into(),
        })
        .await
        .expect("another token is not limited by the first");

    let channel = client::channel(&server.options(None)).await.unwrap();
    let mut health = HealthClient::new(channel);
    for _ in 0..200 {
        health
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .expect("health is never limited");
    }
    server.stop().await;
}

#[tokio::test]
async fn an_address_that_guesses_tokens_is_refused_before_any_look_up() {
    for db in crate::common::test_databases().await {
        let server = TestServer::start_full(&db, ServeOptions::default(), limits(0, 0, 5)).await;
        let mut guesses = Vec::new();
        for n in 0..8 {
            let mut guesser = server.client(Some(&format!("nst_guess{n}"))).await;
            let status = guesser
                .get_calendar_day(GetCalendarDayRequest {
                    date: "2026-11-23".into(),
                })
                .await
                .unwrap_err();
            guesses.push(crate::common::reason(&status));
        }
        // Five failures are allowed; the sixth trips the limit, and from
        // then on the address is refused without a look-up.
        assert_eq!(
            guesses[..6],
            vec!["TOKEN_INVALID".to_string(); 6],
            "{}",
            db.label
        );
        assert_eq!(
            guesses[6..],
            vec!["RATE_LIMITED".to_string(); 2],
            "{}",
            db.label
        );
        // Even the real token is refused from that address while it waits,
        // which shows that nothing was looked up.
        let status = server
            .staff()
            .await
            .get_calendar_day(GetCalendarDayRequest {
                date: "2026-11-23".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(crate::common::reason(&status), "RATE_LIMITED");
        assert!(status.get_details_retry_info().is_some());
        server.stop().await;
        db.drop_database().await;
    }
}
