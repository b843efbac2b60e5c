//! Integrations: the business calendar as an iCalendar feed, parsed by an
//! independent parser (Python's `icalendar` from PyPI) and served by the
//! real `neo-supportd` on `--http-listen`; the live event stream across
//! replicas, with resuming, heartbeats and its limits; renewal reminders
//! delivered to a real SMTP server across restarts. Every test runs on
//! SQLite and PostgreSQL.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use neo_support::client::{self, ClientOptions, SupportClient};
use neo_support::domain::dates::jst;
use neo_support::domain::token::Role;
use neo_support::grpc::Settings;
use neo_support::pb;
use neo_support::pb::watch_events_response::Item;
use tonic::Code;

use crate::common::{Daemon, TestServer, first_year, new_contract, staff_token_on, test_databases};

// ---------------------------------------------------------------- feed

/// The address the daemon's calendar feed listens on, from its log.
fn feed_address(daemon: &Daemon) -> String {
    for _ in 0..100 {
        let log = daemon.log.lock().unwrap().clone();
        for line in log.lines() {
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let message = entry["fields"]["message"].as_str().unwrap_or_default();
            if message.starts_with("calendar feed listening") {
                return entry["fields"]["local"].as_str().unwrap().to_owned();
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no calendar feed in the log");
}

/// One plain HTTP/1.1 exchange: (status, headers in lower case, body).
fn http(address: &str, head: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body)
}

fn get(address: &str, path: &str, extra: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    http(
        address,
        &format!("GET {path} HTTP/1.1\r\nHost: {address}\r\n{extra}Connection: close\r\n\r\n"),
    )
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The feed parsed by Python's icalendar: the calendar's properties and
/// (uid, start, end, summary) of every VEVENT. `None` where the package is
/// missing (a failure under CI=true).
fn parse_with_python(body: &[u8]) -> Option<serde_json::Value> {
    const SCRIPT: &str = r#"
import sys, json, icalendar
cal = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
events = []
for ev in cal.walk("VEVENT"):
    events.append({
        "uid": str(ev["UID"]),
        "start": ev.decoded("DTSTART").isoformat(),
        "end": ev.decoded("DTEND").isoformat(),
        "summary": str(ev["SUMMARY"]),
        "dtstamp": ev.decoded("DTSTAMP").isoformat(),
    })
print(json.dumps({
    "calname": str(cal.get("X-WR-CALNAME")),
    "timezone": str(cal.get("X-WR-TIMEZONE")),
    "prodid": str(cal.get("PRODID")),
    "version": str(cal.get("VERSION")),
    "events": events,
}, ensure_ascii=False))
"#;
    let available = Command::new("python3")
        .args(["-c", "import icalendar"])
        .status()
        .is_ok_and(|s| s.success());
    if !available {
        crate::common::skip_or_fail(
            "the icalendar package is not installed (pip install icalendar): feed not parsed",
        );
        return None;
    }
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(body).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "icalendar refused the feed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(serde_json::from_slice(&output.stdout).unwrap())
}

/// The national holidays of 2026 and 2027 as the Cabinet Office lists
/// them, written out by hand (not computed by the code under test).
const HOLIDAYS_2026_2027: [(&str, &str); 35] = [
    ("2026-01-01", "元日"),
    ("2026-01-12", "成人の日"),
    ("2026-02-11", "建国記念の日"),
    ("2026-02-23", "天皇誕生日"),
    ("2026-03-20", "春分の日"),
    ("2026-04-29", "昭和の日"),
    ("2026-05-03", "憲法記念日"),
    ("2026-05-04", "みどりの日"),
    ("2026-05-05", "こどもの日"),
    ("2026-05-06", "振替休日"),
    ("2026-07-20", "海の日"),
    ("2026-08-11", "山の日"),
    ("2026-09-21", "敬老の日"),
    ("2026-09-22", "国民の休日"),
    ("2026-09-23", "秋分の日"),
    ("2026-10-12", "スポーツの日"),
    ("2026-11-03", "文化の日"),
    ("2026-11-23", "勤労感謝の日"),
    ("2027-01-01", "元日"),
    ("2027-01-11", "成人の日"),
    ("2027-02-11", "建国記念の日"),
    ("2027-02-23", "天皇誕生日"),
    ("2027-03-21", "春分の日"),
    ("2027-03-22", "振替休日"),
    ("2027-04-29", "昭和の日"),
    ("2027-05-03", "憲法記念日"),
    ("2027-05-04", "みどりの日"),
    ("2027-05-05", "こどもの日"),
    ("2027-07-19", "海の日"),
    ("2027-08-11", "山の日"),
    ("2027-09-20", "敬老の日"),
    ("2027-09-23", "秋分の日"),
    ("2027-10-11", "スポーツの日"),
    ("2027-11-03", "文化の日"),
    ("2027-11-23", "勤労感謝の日"),
];

fn next_day(date: &str) -> String {
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    d.succ_opt().unwrap().format("%Y-%m-%d").to_string()
}

async fn staff_client(address: &str, token: &str) -> SupportClient {
    client::support(&ClientOptions {
        server: format!("http://{address}"),
        token: Some(token.to_owned()),
        ca_cert_pem: None,
    })
    .await
    .unwrap()
}

fn closure(name: &str, range: pb::closure::Range) -> pb::CreateClosureRequest {
    pb::CreateClosureRequest {
        closure: Some(pb::Closure {
            name: name.into(),
            range: Some(range),
            ..Default::default()
        }),
    }
}

fn holiday_override(
    date: &str,
    kind: pb::OverrideKind,
    name: &str,
) -> pb::CreateHolidayOverrideRequest {
    pb::CreateHolidayOverrideRequest {
        holiday_override: Some(pb::HolidayOverride {
            date: date.into(),
            kind: kind.into(),
            name: name.into(),
            note: "テスト".into(),
            ..Default::default()
        }),
    }
}

#[tokio::test]
async fn the_calendar_feed_parses_with_an_independent_parser_and_matches_2026_and_2027() {
    for db in test_databases().await {
        let keys = tempfile::tempdir().unwrap();
        let token = staff_token_on(&db.url, "feed staff");
        let daemon = Daemon::start_with(
            &db.url,
            keys.path(),
            &[
                "--http-listen",
                "127.0.0.1:0",
                "--renewal-reminders",
                "",
                "--cache-secs",
                "0",
            ],
        );
        let feed = feed_address(&daemon);
        let mut staff = staff_client(&daemon.address, &token).await;
        staff
            .create_closure(closure(
                "年末年始休暇",
                pb::closure::Range::EveryYear(pb::MonthDayRange {
                    start_month_day: "12-29".into(),
                    end_month_day: "01-03".into(),
                }),
            ))
            .await
            .unwrap();
        staff
            .create_closure(closure(
                "夏季休暇; 全社, 一斉",
                pb::closure::Range::Dates(pb::DateRange {
                    start_on: "2026-08-12".into(),
                    end_on: "2026-08-14".into(),
                }),
            ))
            .await
            .unwrap();
        staff
            .create_holiday_override(holiday_override(
                "2027-11-23",
                pb::OverrideKind::RemoveHoliday,
                "",
            ))
            .await
            .unwrap();
        staff
            .create_holiday_override(holiday_override(
                "2026-06-01",
                pb::OverrideKind::AddHoliday,
                "臨時の祝日",
            ))
            .await
            .unwrap();

        let (status, headers, body) = get(&feed, "/calendar.ics?from=2026&to=2027", "");
        assert_eq!(
            status,
            200,
            "{}: {}",
            db.label,
            String::from_utf8_lossy(&body)
        );
        assert_eq!(
            header(&headers, "content-type"),
            Some("text/calendar; charset=utf-8")
        );
        let etag = header(&headers, "etag").expect("an ETag").to_owned();
        assert!(header(&headers, "last-modified").is_some_and(|v| v.ends_with(" GMT")));
        // CRLF everywhere, no line over 75 octets.
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(text.ends_with("\r\n"));
        assert!(!text.replace("\r\n", "").contains('\n'));
        for line in text.split("\r\n") {
            assert!(line.len() <= 75, "{}: {line:?}", db.label);
        }

        let Some(parsed) = parse_with_python(&body) else {
            return;
        };
        assert_eq!(parsed["timezone"], "Asia/Tokyo");
        assert_eq!(parsed["version"], "2.0");
        assert!(!parsed["calname"].as_str().unwrap().is_empty());
        assert!(!parsed["prodid"].as_str().unwrap().is_empty());
        let found: BTreeSet<(String, String, String)> = parsed["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["start"].as_str().unwrap().to_owned(),
                    e["end"].as_str().unwrap().to_owned(),
                    e["summary"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let mut expected: BTreeSet<(String, String, String)> = HOLIDAYS_2026_2027
            .iter()
            .filter(|(date, _)| *date != "2027-11-23")
            .map(|(date, name)| (date.to_string(), next_day(date), name.to_string()))
            .collect();
        expected.insert((
            "2026-06-01".into(),
            "2026-06-02".into(),
            "臨時の祝日".into(),
        ));
        for (start, end) in [
            ("2025-12-29", "2026-01-04"),
            ("2026-12-29", "2027-01-04"),
            ("2027-12-29", "2028-01-04"),
        ] {
            expected.insert((start.into(), end.into(), "年末年始休暇".into()));
        }
        expected.insert((
            "2026-08-12".into(),
            "2026-08-15".into(),
            "夏季休暇; 全社, 一斉".into(),
        ));
        assert_eq!(found, expected, "{}", db.label);
        let uids: BTreeSet<&str> = parsed["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["uid"].as_str().unwrap())
            .collect();
        assert_eq!(uids.len(), expected.len(), "UIDs are unique");

        // The same again: the same document, the same UIDs; and 304 on
        // If-None-Match.
        let (_, again_headers, again) = get(&feed, "/calendar.ics?from=2026&to=2027", "");
        assert_eq!(again, body);
        assert_eq!(header(&again_headers, "etag"), Some(etag.as_str()));
        let (status, headers, empty) = get(
            &feed,
            "/calendar.ics?from=2026&to=2027",
            &format!("If-None-Match: {etag}\r\n"),
        );
        assert_eq!(status, 304, "{}", db.label);
        assert!(empty.is_empty());
        assert_eq!(header(&headers, "etag"), Some(etag.as_str()));
        let (status, _, _) = get(
            &feed,
            "/calendar.ics?from=2026&to=2027",
            "If-None-Match: \"something-else\"\r\n",
        );
        assert_eq!(status, 200);

        // `calendar export` prints the same document, from the server.
        let export = Command::new(env!("CARGO_BIN_EXE_neo-support"))
            .args([
                "--server",
                &format!("http://{}", daemon.address),
                "--token",
                &token,
                "calendar",
                "export",
                "--from",
                "2026",
                "--to",
                "2027",
            ])
            .output()
            .unwrap();
        assert!(export.status.success(), "{export:?}");
        assert_eq!(export.stdout, body, "{}", db.label);

        // The default is this year and the next.
        let this_year = chrono::Utc::now()
            .with_timezone(&jst())
            .format("%Y")
            .to_string();
        let (status, _, default_body) = get(&feed, "/calendar.ics", "");
        assert_eq!(status, 200);
        let default_text = String::from_utf8(default_body).unwrap();
        assert!(default_text.contains(&format!("DTSTART;VALUE=DATE:{this_year}0101")));

        // Bounded and refusing input it does not take.
        for (path, want) in [
            ("/calendar.ics?from=2026&to=2036", 400),
            ("/calendar.ics?from=2026&to=2035", 200),
            ("/calendar.ics?from=2027&to=2026", 400),
            ("/calendar.ics?from=abc", 400),
            ("/calendar.ics?from=2026&from=2027", 400),
            ("/calendar.ics?from=99999999999999999999", 400),
            ("/calendar.ics?from=1800", 400),
            ("/calendar.ics?evil=%00", 400),
            ("/other", 404),
        ] {
            let (status, _, _) = get(&feed, path, "");
            assert_eq!(status, want, "{path} on {}", db.label);
        }
        let (status, _, _) = http(
            &feed,
            &format!(
                "POST /calendar.ics HTTP/1.1\r\nHost: {feed}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            ),
        );
        assert_eq!(status, 405);
        let (status, headers, head_body) = http(
            &feed,
            &format!(
                "HEAD /calendar.ics?from=2026&to=2027 HTTP/1.1\r\nHost: {feed}\r\nConnection: close\r\n\r\n"
            ),
        );
        assert_eq!(status, 200);
        assert!(head_body.is_empty());
        assert_eq!(
            header(&headers, "content-length"),
            Some(body.len().to_string().as_str())
        );
        let huge = format!(
            "GET /calendar.ics HTTP/1.1\r\nHost: {feed}\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
            "a".repeat(64 * 1024)
        );
        let mut stream = std::net::TcpStream::connect(&feed).unwrap();
        let _ = stream.write_all(huge.as_bytes());
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        assert!(
            !answer.starts_with(b"HTTP/1.1 200"),
            "a 64 KiB header is refused"
        );
        // A client that sends its request head slowly is cut off.
        let mut slow = std::net::TcpStream::connect(&feed).unwrap();
        slow.write_all(b"GET /calendar.ics HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        slow.set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        let started = Instant::now();
        let mut rest = Vec::new();
        let _ = slow.read_to_end(&mut rest);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "a half-sent request head is held for {:?}",
            started.elapsed()
        );
        assert!(!rest.starts_with(b"HTTP/1.1 200"));
        // One address gets a burst, then 429 until its allowance is back.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let statuses: Vec<u16> = (0..40).map(|_| get(&feed, "/other", "").0).collect();
        assert!(
            statuses.contains(&404) && statuses.contains(&429),
            "{statuses:?}"
        );
        tokio::time::sleep(Duration::from_secs(5)).await;
        // Still serving.
        assert_eq!(get(&feed, "/calendar.ics", "").0, 200);

        let (status, log) = daemon.terminate();
        assert!(status.success(), "{log}");
        db.drop_database().await;
    }
}

// -------------------------------------------------------------- events

async fn next_message(
    stream: &mut tonic::Streaming<pb::WatchEventsResponse>,
    within: Duration,
) -> Result<Item, tonic::Status> {
    match tokio::time::timeout(within, stream.message()).await {
        Ok(Ok(Some(message))) => Ok(message.item.expect("an item")),
        Ok(Ok(None)) => panic!("the stream ended"),
        Ok(Err(status)) => Err(status),
        Err(_) => panic!("nothing within {within:?}"),
    }
}

async fn next_event(stream: &mut tonic::Streaming<pb::WatchEventsResponse>) -> pb::Event {
    loop {
        match next_message(stream, Duration::from_secs(10)).await.unwrap() {
            Item::Event(event) => return event,
            Item::HeartbeatAt(_) => {}
        }
    }
}

fn watch(after_id: i64) -> pb::WatchEventsRequest {
    pb::WatchEventsRequest {
        after_id,
        ..Default::default()
    }
}

async fn stored_ids_after(server: &TestServer, after: i64) -> Vec<i64> {
    let query = neo_support::store::events::EventQuery {
        after_id: Some(after),
        limit: 10_000,
        ..Default::default()
    };
    server
        .store
        .list_events(&query)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect()
}

fn reissue(n: usize) -> pb::RequestReissueRequest {
    pb::RequestReissueRequest {
        license_id: "LIC-W".into(),
        fingerprint: format!("srv-watch-{n:04}.example"),
        request_id: format!("watch-{n}"),
    }
}

#[tokio::test]
async fn a_watcher_sees_a_reissue_through_another_replica_within_a_second_and_resumes_without_a_gap()
 {
    for db in test_databases().await {
        let settings = Settings {
            reissues_before_review: 1000,
            ..Default::default()
        };
        let first = TestServer::start_full(&db, Default::default(), settings).await;
        let second = first.replica(&db, 2).await;
        let mut staff = first.staff().await;
        staff
            .create_contract(new_contract("W", "LIC-W", 5, false))
            .await
            .unwrap();
        staff
            .record_order(first_year("W", "2026-10-20", "2026-10-20"))
            .await
            .unwrap();
        first
            .licenses(Some(&first.staff_token))
            .await
            .issue_first_key(pb::IssueFirstKeyRequest {
                license_id: "LIC-W".into(),
                fingerprint: "srv-watch-first.example".into(),
            })
            .await
            .unwrap();

        // The stored events first, in order.
        let stored = stored_ids_after(&first, 0).await;
        assert!(stored.len() >= 3);
        let mut stream = staff.watch_events(watch(0)).await.unwrap().into_inner();
        let mut seen = Vec::new();
        for _ in 0..stored.len() {
            seen.push(next_event(&mut stream).await.id);
        }
        assert_eq!(seen, stored, "{}", first.label);

        // A reissue through the other replica, within a second.
        let mut other = second.licenses(Some(&second.staff_token)).await;
        other.request_reissue(reissue(1)).await.unwrap();
        let committed = Instant::now();
        let event = loop {
            let event = next_event(&mut stream).await;
            if event.kind.starts_with("key.") || event.kind.starts_with("reissue.") {
                break event;
            }
        };
        let waited = committed.elapsed();
        assert!(
            waited < Duration::from_secs(1),
            "{}: the reissue's event came after {waited:?}",
            first.label
        );
        assert_eq!(event.license_id, "LIC-W");
        // Everything of the reissue, then nothing more for now.
        let mut last = event.id;
        let total = stored_ids_after(&first, 0).await;
        while last < *total.last().unwrap() {
            last = next_event(&mut stream).await.id;
        }
        drop(stream);

        // While no one watches: two more reissues. Resuming after the last
        // id seen gets them exactly once, in order, then live ones.
        other.request_reissue(reissue(2)).await.unwrap();
        other.request_reissue(reissue(3)).await.unwrap();
        let missed = stored_ids_after(&first, last).await;
        assert!(missed.len() >= 2);
        let mut resumed = second
            .staff()
            .await
            .watch_events(watch(last))
            .await
            .unwrap()
            .into_inner();
        let mut got = Vec::new();
        for _ in 0..missed.len() {
            got.push(next_event(&mut resumed).await.id);
        }
        assert_eq!(got, missed, "{}: no gap, no duplicate", first.label);
        other.request_reissue(reissue(4)).await.unwrap();
        let live = next_event(&mut resumed).await;
        assert_eq!(
            live.id,
            stored_ids_after(&first, *missed.last().unwrap()).await[0]
        );

        // Filters: only this contract's key events.
        let mut filtered = staff
            .watch_events(pb::WatchEventsRequest {
                contract_id: "W".into(),
                kinds: vec!["contract.created".into()],
                after_id: 0,
            })
            .await
            .unwrap()
            .into_inner();
        let only = next_event(&mut filtered).await;
        assert_eq!(
            (only.kind.as_str(), only.contract_id.as_str()),
            ("contract.created", "W")
        );

        second.stop().await;
        first.stop().await;
        db.drop_database().await;
    }
}

/// Writes `count` events of about 2 KB each straight into the database.
async fn bulk_events(url: &str, label: &str, count: i64) {
    let now = chrono::Utc::now();
    if label == "sqlite" {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
             INSERT INTO events (occurred_at, actor, kind, subject, detail) \
             SELECT $2, 'bulk', 'test.bulk', CAST(i AS TEXT), \
             replace(hex(zeroblob(1000)), '0', 'x') FROM n",
        )
        .bind(count)
        .bind(now)
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(
            "INSERT INTO events (occurred_at, actor, kind, subject, detail) \
             SELECT $2, 'bulk', 'test.bulk', i::text, repeat('x', 2000) \
             FROM generate_series(1, $1::bigint) AS i",
        )
        .bind(count)
        .bind(now)
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }
}

#[tokio::test]
async fn watchers_are_staff_only_limited_per_token_kept_alive_and_dropped_when_they_do_not_read() {
    for db in test_databases().await {
        let settings = Settings {
            watchers_per_token: 2,
            watch_buffer: 4,
            watch_heartbeat: Duration::from_millis(200),
            watch_stall: Duration::from_millis(1000),
            ..Default::default()
        };
        let server = TestServer::start_full(&db, Default::default(), settings).await;
        let mut staff = server.staff().await;
        staff
            .create_contract(new_contract("L", "LIC-L", 5, false))
            .await
            .unwrap();

        // Staff only.
        let (_, customer) = server
            .token(
                "customer L",
                Role::Customer {
                    contract_id: "L".into(),
                },
            )
            .await;
        let refused = server
            .client(Some(&customer))
            .await
            .watch_events(watch(0))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied);
        let bad = staff
            .watch_events(pb::WatchEventsRequest {
                kinds: vec!["Bad Kind\u{1b}".into()],
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(bad.code(), Code::InvalidArgument);

        // Idle streams carry heartbeats.
        let quiet = pb::WatchEventsRequest {
            kinds: vec!["no.such-kind".into()],
            ..Default::default()
        };
        let mut one = staff
            .watch_events(quiet.clone())
            .await
            .unwrap()
            .into_inner();
        match next_message(&mut one, Duration::from_secs(2))
            .await
            .unwrap()
        {
            Item::HeartbeatAt(_) => {}
            Item::Event(e) => panic!("an event on a filter that matches none: {e:?}"),
        }

        // Two watchers per token; the third is refused until one closes.
        let two = staff
            .watch_events(quiet.clone())
            .await
            .unwrap()
            .into_inner();
        let third = staff.watch_events(quiet.clone()).await.unwrap_err();
        assert_eq!(third.code(), Code::ResourceExhausted, "{}", server.label);
        drop(one);
        let mut admitted = false;
        for _ in 0..50 {
            if staff.watch_events(quiet.clone()).await.is_ok() {
                admitted = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(admitted, "a closed watcher frees its place");
        drop(two);
        tokio::time::sleep(Duration::from_millis(300)).await;

        // A token revoked while it watches loses the stream.
        let (watcher_id, watcher_token) = server.token("watcher", Role::Staff).await;
        let mut watching = server
            .client(Some(&watcher_token))
            .await
            .watch_events(quiet.clone())
            .await
            .unwrap()
            .into_inner();
        next_message(&mut watching, Duration::from_secs(2))
            .await
            .unwrap();
        server
            .store
            .revoke_access_token(
                watcher_id,
                "left the company",
                chrono::Utc::now(),
                &neo_support::store::Audit::daemon(),
            )
            .await
            .unwrap()
            .unwrap();
        let ended = loop {
            match next_message(&mut watching, Duration::from_secs(3)).await {
                Ok(_) => {}
                Err(status) => break status,
            }
        };
        assert_eq!(ended.code(), Code::Unauthenticated, "{}", server.label);

        // A watcher that does not read: dropped RESOURCE_EXHAUSTED after
        // what it was sent; resuming from its last id gets the rest.
        let start = *stored_ids_after(&server, 0).await.last().unwrap();
        let mut slow = server
            .staff()
            .await
            .watch_events(watch(start))
            .await
            .unwrap()
            .into_inner();
        let count = 5000;
        bulk_events(&db.url, db.label, count).await;
        tokio::time::sleep(Duration::from_secs(4)).await;
        let mut received = Vec::new();
        let ended = loop {
            match next_message(&mut slow, Duration::from_secs(10)).await {
                Ok(Item::Event(e)) => received.push(e.id),
                Ok(Item::HeartbeatAt(_)) => {}
                Err(status) => break status,
            }
        };
        assert_eq!(
            ended.code(),
            Code::ResourceExhausted,
            "{}: {ended:?}",
            server.label
        );
        let all = stored_ids_after(&server, start).await;
        assert_eq!(all.len(), usize::try_from(count).unwrap());
        assert!(
            received.len() < all.len(),
            "{}: dropped before the end",
            server.label
        );
        assert_eq!(received, all[..received.len()], "what it got came in order");
        let last = received.last().copied().unwrap_or(start);
        let mut resumed = server
            .staff()
            .await
            .watch_events(watch(last))
            .await
            .unwrap()
            .into_inner();
        let mut rest = Vec::new();
        while rest.len() < all.len() - received.len() {
            rest.push(next_event(&mut resumed).await.id);
        }
        assert_eq!(
            rest,
            all[received.len()..],
            "{}: the rest, exactly once",
            server.label
        );

        server.stop().await;
        db.drop_database().await;
    }
}

// ----------------------------------------------------------- reminders

/// Starts the daemon with the SMTP server, lets its start-up reminder
/// check finish and its mail (if any) go out, and stops it.
fn run_once(url: &str, keys: &std::path::Path, smtp: &crate::mail::SmtpServer, smtp_url: &str) {
    let daemon = Daemon::start_with(
        url,
        keys,
        &[
            "--smtp-url",
            smtp_url,
            "--mail-from",
            "support@example.co.jp",
            "--smtp-retry-secs",
            "1",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !daemon
        .log
        .lock()
        .unwrap()
        .contains("renewal reminder check done")
    {
        assert!(Instant::now() < deadline, "no reminder check");
        std::thread::sleep(Duration::from_millis(50));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while smtp.messages().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, log) = daemon.terminate();
    assert!(status.success(), "{log}");
}

#[tokio::test]
async fn a_contract_ending_in_20_days_gets_exactly_one_30_day_reminder_across_two_restarts() {
    for db in test_databases().await {
        let smtp_port = crate::mail::free_port();
        let Some(smtp) = crate::mail::SmtpServer::start(smtp_port) else {
            return;
        };
        let smtp_url = format!("smtp://127.0.0.1:{smtp_port}?tls=none");
        let keys = tempfile::tempdir().unwrap();
        let token = staff_token_on(&db.url, "reminder staff");
        let today = chrono::Utc::now().with_timezone(&jst()).date_naive();
        let end = today + chrono::Days::new(20);
        let start = end - chrono::Months::new(12) + chrono::Days::new(1);

        // The first start makes the database; the contract is recorded
        // while it runs.
        let daemon = Daemon::start_with(&db.url, keys.path(), &["--renewal-reminders", ""]);
        let mut staff = staff_client(&daemon.address, &token).await;
        staff
            .create_contract(pb::CreateContractRequest {
                contact_email: "renewal@example.co.jp".into(),
                ..new_contract("REM", "LIC-REM", 7, false)
            })
            .await
            .unwrap();
        staff
            .record_order(pb::RecordOrderRequest {
                contract_id: "REM".into(),
                kind: pb::OrderKind::Certificate.into(),
                received_on: start.format("%Y-%m-%d").to_string(),
                start_on: start.format("%Y-%m-%d").to_string(),
                end_on: end.format("%Y-%m-%d").to_string(),
                certificate_no: "CERT-REM-1".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        drop(staff);
        let (status, log) = daemon.terminate();
        assert!(status.success(), "{log}");

        // Start, restart, restart: each runs the check at start.
        for _ in 0..3 {
            run_once(&db.url, keys.path(), &smtp, &smtp_url);
        }
        let messages = smtp.messages();
        assert_eq!(messages.len(), 1, "{}: exactly one reminder mail", db.label);
        let (to, subject, _, body) = crate::mail::parse(&messages[0]);
        assert!(to.contains("renewal@example.co.jp"), "{to}");
        assert!(subject.contains("あと30日"), "{subject}");
        let end_text = end.format("%Y年%m月%d日").to_string();
        assert!(body.contains(&end_text), "{body}");
        assert!(body.contains("LIC-REM"), "{body}");
        assert!(body.contains("更新時のご請求ライセンス数: 7"), "{body}");
        assert!(body.contains("途切れなく"), "{body}");

        // Listed with its mail's status, and audited once.
        let daemon = Daemon::start_with(&db.url, keys.path(), &["--renewal-reminders", ""]);
        let server = format!("http://{}", daemon.address);
        let listed = Command::new(env!("CARGO_BIN_EXE_neo-support"))
            .args([
                "--server",
                &server,
                "--token",
                &token,
                "--json",
                "contract",
                "reminders",
                "REM",
            ])
            .output()
            .unwrap();
        assert!(listed.status.success(), "{listed:?}");
        let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
        let reminders = listed["reminders"].as_array().unwrap();
        assert_eq!(reminders.len(), 1, "{listed}");
        assert_eq!(reminders[0]["threshold"], "30d");
        assert_eq!(reminders[0]["mail_status"], "sent");
        assert_eq!(
            reminders[0]["period_end"],
            end.format("%Y-%m-%d").to_string()
        );
        let events = Command::new(env!("CARGO_BIN_EXE_neo-support"))
            .args([
                "--server",
                &server,
                "--token",
                &token,
                "--json",
                "events",
                "list",
                "--kind",
                "renewal.reminded",
            ])
            .output()
            .unwrap();
        let events: serde_json::Value = serde_json::from_slice(&events.stdout).unwrap();
        assert_eq!(events["events"].as_array().unwrap().len(), 1, "{events}");
        let (status, log) = daemon.terminate();
        assert!(status.success(), "{log}");
        drop(smtp);
        db.drop_database().await;
    }
}

#[tokio::test]
async fn events_watch_prints_json_lines_as_events_happen_and_the_watcher_is_counted() {
    use std::io::BufRead;
    for db in test_databases().await {
        let keys = tempfile::tempdir().unwrap();
        let token = staff_token_on(&db.url, "watch staff");
        let metrics = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .to_string();
        let daemon = Daemon::start_with(
            &db.url,
            keys.path(),
            &["--metrics-listen", &metrics, "--renewal-reminders", ""],
        );
        let server = format!("http://{}", daemon.address);
        let mut staff = staff_client(&daemon.address, &token).await;
        staff
            .create_contract(new_contract("CW", "LIC-CW", 3, false))
            .await
            .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_neo-support"))
            .args([
                "--server",
                &server,
                "--token",
                &token,
                "events",
                "watch",
                "--contract",
                "CW",
                "--kind",
                "contract.created",
                "--kind",
                "order.recorded",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let next_line = || {
            let line = lines_rx
                .recv_timeout(Duration::from_secs(10))
                .expect("a line from events watch");
            serde_json::from_str::<serde_json::Value>(&line).expect("one JSON object per line")
        };
        let created = next_line();
        assert_eq!(created["kind"], "contract.created");
        assert_eq!(created["contract_id"], "CW");
        assert_eq!(created["actor"], "watch staff");
        for field in [
            "id",
            "occurred_at",
            "actor_token_id",
            "request_id",
            "license_id",
            "subject",
            "detail",
        ] {
            assert!(created.get(field).is_some(), "{field} in {created}");
        }

        // Another contract's event is filtered out; this one's order comes.
        staff
            .create_contract(new_contract("CX", "LIC-CX", 3, false))
            .await
            .unwrap();
        staff
            .record_order(first_year("CW", "2026-10-20", "2026-10-20"))
            .await
            .unwrap();
        let recorded = next_line();
        assert_eq!(recorded["kind"], "order.recorded", "{}", db.label);
        assert_eq!(recorded["contract_id"], "CW");
        assert!(recorded["id"].as_i64() > created["id"].as_i64());

        let scraped = crate::common::http_get(&metrics, "/metrics");
        assert!(
            scraped.lines().any(|l| l == "neo_support_event_watchers 1"),
            "{}: {scraped}",
            db.label
        );
        // Stopping the server ends the watch stream, so the shutdown does
        // not wait out its grace period. (Waited for off this thread, so the
        // test's own client can answer the server's goodbye.)
        drop(staff);
        let stopping = Instant::now();
        let (status, log) = tokio::task::spawn_blocking(move || daemon.terminate())
            .await
            .unwrap();
        assert!(status.success(), "{log}");
        assert!(
            stopping.elapsed() < Duration::from_secs(5),
            "{}: the shutdown took {:?} with a watcher open: {log}",
            db.label,
            stopping.elapsed()
        );
        let _ = child.kill();
        let _ = child.wait();
        db.drop_database().await;
    }
}

/// A certificate order for `id` whose period ends on `end`.
fn certificate(id: &str, end: chrono::NaiveDate) -> pb::RecordOrderRequest {
    let start = end - chrono::Months::new(12) + chrono::Days::new(1);
    pb::RecordOrderRequest {
        contract_id: id.into(),
        kind: pb::OrderKind::Certificate.into(),
        received_on: start.format("%Y-%m-%d").to_string(),
        start_on: start.format("%Y-%m-%d").to_string(),
        end_on: end.format("%Y-%m-%d").to_string(),
        certificate_no: format!("CERT-{id}"),
        ..Default::default()
    }
}

#[tokio::test]
async fn reminders_are_queued_once_only_the_nearest_and_none_for_a_renewed_period() {
    let date = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let mut staff = server.staff().await;
        for id in ["RA", "RB"] {
            staff
                .create_contract(new_contract(id, &format!("LIC-{id}"), 4, false))
                .await
                .unwrap();
            // 2026-12-15 (Tue): 20 days after 2026-11-25.
            staff
                .record_order(certificate(id, date(2026, 12, 15)))
                .await
                .unwrap();
        }
        let store = &server.store;
        let calendar = store.load_calendar().await.unwrap();
        let days = [60, 30, 7];
        let now = chrono::Utc::now();
        let check = async |today| {
            store
                .queue_renewal_reminders(&calendar, &days, today, now)
                .await
                .unwrap()
        };
        // 20 days before the end: the 30-day reminder, each contract once,
        // however many servers run the check at once.
        let replica = neo_support::store::connect(&db.url, &Default::default())
            .await
            .unwrap();
        let (one, other) = tokio::join!(
            check(date(2026, 11, 25)),
            replica.queue_renewal_reminders(&calendar, &days, date(2026, 11, 25), now),
        );
        assert_eq!(one + other.unwrap(), 2, "{}", server.label);
        assert_eq!(check(date(2026, 11, 25)).await, 0, "{}", server.label);
        assert_eq!(check(date(2026, 11, 26)).await, 0, "{}", server.label);
        // RA renews; at 7 days only RB is reminded.
        staff
            .record_order(crate::common::order(
                "RA",
                pb::OrderKind::Renewal,
                "2026-11-26",
            ))
            .await
            .unwrap();
        assert_eq!(check(date(2026, 12, 8)).await, 1, "{}", server.label);
        assert_eq!(check(date(2026, 12, 9)).await, 0, "{}", server.label);
        // After the end: RB hears that support ended, then the last call
        // 30 days before 2027-12-15, and nothing after it. RA's new period
        // (to 2027-12-15) has reminders of its own.
        assert_eq!(check(date(2026, 12, 16)).await, 1, "{}", server.label);
        assert_eq!(check(date(2027, 6, 1)).await, 0, "{}", server.label);
        assert_eq!(check(date(2027, 11, 15)).await, 2, "{}", server.label);
        assert_eq!(check(date(2027, 12, 10)).await, 1, "{}", server.label);
        assert_eq!(check(date(2027, 12, 16)).await, 1, "{}", server.label);
        let thresholds = |id: &'static str| async move {
            store
                .list_renewal_reminders(id)
                .await
                .unwrap()
                .into_iter()
                .map(|r| format!("{} {}", r.period_end, r.threshold))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            thresholds("RA").await,
            [
                "2026-12-15 30d",
                "2027-12-15 30d",
                "2027-12-15 7d",
                "2027-12-15 ended"
            ],
            "{}",
            server.label
        );
        assert_eq!(
            thresholds("RB").await,
            [
                "2026-12-15 30d",
                "2026-12-15 7d",
                "2026-12-15 ended",
                "2026-12-15 last-call"
            ],
            "{}",
            server.label
        );
        // Each with its mail to the contact, and an event.
        let outbox = store
            .list_outbox(&neo_support::store::outbox::OutboxQuery {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        let reminders: Vec<_> = outbox
            .iter()
            .filter(|m| m.kind == "renewal_reminder")
            .collect();
        assert_eq!(reminders.len(), 8);
        assert!(
            reminders
                .iter()
                .any(|m| m.body.contains("2027年12月15日までです"))
        );
        let events = store
            .list_events(&neo_support::store::events::EventQuery {
                kind: Some("renewal.reminded".into()),
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(events.len(), 8, "{}", server.label);
        server.stop().await;
        db.drop_database().await;
    }
}

#[tokio::test]
async fn a_watch_stream_outlives_the_request_timeout() {
    for db in test_databases().await {
        let options = neo_support::server::ServeOptions {
            limits: neo_support::server::ConnectionLimits {
                request_timeout: Duration::from_secs(1),
                ..Default::default()
            },
            ..Default::default()
        };
        let settings = Settings {
            watch_heartbeat: Duration::from_millis(200),
            ..Default::default()
        };
        let server = TestServer::start_full(&db, options, settings).await;
        let mut stream = server
            .staff()
            .await
            .watch_events(pb::WatchEventsRequest {
                kinds: vec!["no.such-kind".into()],
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let started = Instant::now();
        let mut heartbeats = 0;
        while started.elapsed() < Duration::from_millis(2500) {
            match next_message(&mut stream, Duration::from_secs(2)).await {
                Ok(Item::HeartbeatAt(_)) => heartbeats += 1,
                Ok(Item::Event(e)) => panic!("{e:?}"),
                Err(status) => panic!("{}: the stream ended: {status:?}", server.label),
            }
        }
        assert!(heartbeats >= 8, "{heartbeats} heartbeats");
        server.stop().await;
        db.drop_database().await;
    }
}
