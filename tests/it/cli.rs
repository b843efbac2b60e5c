//! The two binaries as staff use them: `neo-supportd` creates a token and
//! serves on a real port, `neo-support` talks to it, and SIGTERM stops the
//! server cleanly.

use neo_support::store::Audit;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const CLIENT: &str = env!("CARGO_BIN_EXE_neo-support");
const DAEMON: &str = env!("CARGO_BIN_EXE_neo-supportd");

use crate::common::Daemon;

fn client(args: &[&str]) -> Output {
    Command::new(CLIENT)
        .args(args)
        .env_remove("NEO_SUPPORT_TOKEN")
        .env_remove("NEO_SUPPORT_SERVER")
        .output()
        .expect("run neo-support")
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

#[test]
fn calendar_holidays_is_computed_locally_with_the_laws_names() {
    // Issue 14: `--server` on the command line now asks the server, so
    // the local computation is shown without it.
    let output = client(&[
        "calendar",
        "holidays",
        "--from",
        "2026-01-01",
        "--to",
        "2026-12-31",
    ]);
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines.len(), 18, "{text}");
    assert_eq!(lines[0], "2026-01-01\t元日");
    assert!(lines.contains(&"2026-05-06\t振替休日"));
    assert!(lines.contains(&"2026-09-22\t国民の休日"));
    assert!(lines.contains(&"2026-11-23\t勤労感謝の日"));

    let output = client(&[
        "--json",
        "calendar",
        "holidays",
        "--from",
        "2027-03-20",
        "--to",
        "2027-03-22",
    ]);
    assert_eq!(
        json_of(&output),
        serde_json::json!([{"date": "2027-03-21", "name": "春分の日"}, {"date": "2027-03-22", "name": "振替休日"}])
    );
}

#[test]
fn a_year_outside_the_law_exits_one_and_a_malformed_date_exits_two() {
    let output = client(&[
        "--json",
        "calendar",
        "holidays",
        "--from",
        "1948-01-01",
        "--to",
        "1949-12-31",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(json_of(&output)["error"]["code"], "OUT_OF_RANGE");
    let output = client(&[
        "calendar",
        "holidays",
        "--from",
        "2026-1-1",
        "--to",
        "2026-12-31",
    ]);
    // Issue 14: a malformed date is a usage error naming its flag, exit 2.
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--from"));
    assert_eq!(client(&["calendar", "day"]).status.code(), Some(2));
    assert_eq!(
        client(&["calendar", "reception", "--at", "noon"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(client(&["no-such-command"]).status.code(), Some(2));
    let neither = client(&["calendar", "overrides", "add", "--date", "2026-11-24"]);
    assert_eq!(neither.status.code(), Some(2));
    let both = client(&[
        "calendar",
        "overrides",
        "add",
        "--date",
        "2026-11-24",
        "--holiday",
        "x",
        "--not-holiday",
    ]);
    assert_eq!(both.status.code(), Some(2));
}

#[test]
fn staff_bootstrap_a_token_and_manage_the_calendar_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    // A file in a directory that does not exist yet: both are created.
    let database_url = format!("sqlite://{}/nested/neo.db", dir.path().display());
    let token = crate::common::staff_token_on(&database_url, "ops");
    assert!(token.starts_with("nst_"), "{token}");

    let daemon = Daemon::start(&database_url, &dir.path().join("keys"));
    let server = format!("http://{}", daemon.address);
    let call = |args: &[&str]| {
        let mut all = vec![
            "--server",
            server.as_str(),
            "--token",
            token.as_str(),
            "--json",
        ];
        all.extend_from_slice(args);
        client(&all)
    };

    let day = call(&["calendar", "day", "2026-11-23"]);
    assert!(day.status.success(), "{day:?}");
    assert_eq!(
        json_of(&day),
        serde_json::json!({"date": "2026-11-23", "business_day": false, "kind": "national_holiday", "name": "勤労感謝の日"})
    );

    let closure = call(&[
        "calendar",
        "closures",
        "add",
        "--name",
        "年末年始休暇",
        "--from",
        "12-29",
        "--to",
        "01-03",
        "--every-year",
    ]);
    assert!(closure.status.success(), "{closure:?}");
    let closure = json_of(&closure);
    assert_eq!(closure["every_year"], true);
    assert_eq!(
        (closure["from"].as_str(), closure["to"].as_str()),
        (Some("12-29"), Some("01-03"))
    );
    let id = closure["id"].as_i64().unwrap().to_string();

    let closed = json_of(&call(&["calendar", "day", "2027-01-02"]));
    assert_eq!(
        (closed["kind"].as_str(), closed["name"].as_str()),
        (Some("company_closure"), Some("年末年始休暇"))
    );
    let listed = json_of(&call(&["calendar", "closures", "list"]));
    assert_eq!(listed.as_array().unwrap().len(), 1);

    let delivery = json_of(&call(&[
        "calendar",
        "delivery",
        "--at",
        "2026-11-20T17:00:00+09:00",
    ]));
    assert_eq!(
        delivery,
        serde_json::json!({"received_at": "2026-11-20T08:00:00Z", "delivery_on": "2026-11-24"})
    );
    let reception = json_of(&call(&[
        "calendar",
        "reception",
        "--at",
        "2026-11-25T12:00:00+09:00",
    ]));
    assert_eq!(
        reception,
        serde_json::json!({"at": "2026-11-25T03:00:00Z", "open": false, "opens_at": "2026-11-25T04:00:00Z", "closes_at": null})
    );

    let added = call(&[
        "calendar",
        "overrides",
        "add",
        "--date",
        "2026-11-24",
        "--holiday",
        "臨時休日",
        "--note",
        "test",
    ]);
    assert!(added.status.success(), "{added:?}");
    let override_id = json_of(&added)["id"].as_i64().unwrap().to_string();
    assert_eq!(
        json_of(&call(&["calendar", "day", "2026-11-24"]))["name"],
        "臨時休日"
    );
    assert!(
        call(&["calendar", "overrides", "remove", &override_id])
            .status
            .success()
    );
    assert!(
        call(&["calendar", "closures", "remove", &id])
            .status
            .success()
    );

    // Issue 14: a malformed date is judged by the CLI (exit 2, naming the
    // argument); a year outside the law is the server's refusal (exit 1).
    let malformed = call(&["calendar", "day", "2026-02-30"]);
    assert_eq!(malformed.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&malformed.stderr).contains("<DATE>"));
    let refused = call(&["calendar", "day", "2100-01-01"]);
    assert_eq!(refused.status.code(), Some(1));
    let error = &json_of(&refused)["error"];
    assert_eq!(error["code"], "OUT_OF_RANGE");
    assert_eq!(error["reason"], "DATE_OUT_OF_RANGE");
    assert!(error["message"].as_str().unwrap().contains("date"));

    let anonymous = client(&[
        "--server",
        &server,
        "--json",
        "calendar",
        "day",
        "2026-11-23",
    ]);
    assert_eq!(anonymous.status.code(), Some(1));
    assert_eq!(json_of(&anonymous)["error"]["code"], "UNAUTHENTICATED");
    assert_eq!(json_of(&anonymous)["error"]["reason"], "TOKEN_MISSING");

    let (status, log) = daemon.terminate();
    assert!(
        status.success(),
        "neo-supportd exits 0 on SIGTERM: {status:?}\n{log}"
    );
    assert!(log.contains("shutting down"), "{log}");
    assert!(
        !log.contains(&token[4..]),
        "the token never reaches the log"
    );

    let listed = Command::new(DAEMON)
        .args(["token", "list", "--json", "--database-url", &database_url])
        .output()
        .unwrap();
    let tokens: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(tokens[0]["name"], "ops");
    assert!(!String::from_utf8_lossy(&listed.stdout).contains(&token[4..]));
}

#[test]
fn an_unreachable_server_is_reported_as_unavailable() {
    let output = client(&[
        "--server",
        "http://127.0.0.1:9",
        "--token",
        "x",
        "--json",
        "calendar",
        "day",
        "2026-11-23",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(json_of(&output)["error"]["code"], "UNAVAILABLE");
}

#[test]
fn staff_run_the_contract_and_inquiry_workflow_from_the_command_line() {
    let (dir, database_url, token) = fresh_database_with_staff_token();
    let daemon = Daemon::start(&database_url, &dir.path().join("keys"));
    let server = format!("http://{}", daemon.address);
    let as_token = |token: &str, args: &[&str]| {
        let mut all = vec!["--server", server.as_str(), "--token", token, "--json"];
        all.extend_from_slice(args);
        let output = client(&all);
        (output.status.code(), json_of(&output))
    };
    let call = |args: &[&str]| as_token(&token, args);

    let (code, contract) = call(&[
        "contract",
        "create",
        "--id",
        "NEO-0001",
        "--customer",
        "株式会社サンプル",
        "--contact",
        "it@example.co.jp",
        "--license-id",
        "BS-12345",
        "--seats",
        "10",
    ]);
    assert_eq!(code, Some(0), "{contract}");
    assert_eq!(contract["id"], "NEO-0001");

    // A first year received a month ago covers today, whatever today is.
    let received = crate::common::a_month_ago();
    let (code, period) = call(&[
        "order",
        "record",
        "--contract",
        "NEO-0001",
        "--kind",
        "first-year",
        "--received-on",
        &received,
        "--purchased-on",
        &received,
    ]);
    assert_eq!(code, Some(0), "{period}");
    assert_eq!(period["kind"], "first-year");
    let start_on = period["start_on"].as_str().unwrap().to_owned();
    let end_on = period["end_on"].as_str().unwrap().to_owned();

    let (code, shown) = call(&["contract", "show", "NEO-0001"]);
    assert_eq!(code, Some(0));
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["periods"][0]["kind"], "first-year");
    assert_eq!(shown["periods"][0]["start_on"], start_on.as_str());
    assert_eq!(shown["periods"][0]["end_on"], end_on.as_str());
    assert_eq!(shown["periods"][0]["certificate_no"], Value::Null);
    assert_eq!(shown["covered"][0]["from"], received.as_str());
    assert_eq!(shown["covered"][0]["to"], end_on.as_str());

    let (code, quote) = call(&[
        "contract",
        "quote-renewal",
        "--contract",
        "NEO-0001",
        "--received-on",
        &end_on,
    ]);
    assert_eq!(code, Some(0), "{quote}");
    assert_eq!(quote["kind"], "renewal");
    let (_, listed) = call(&["contract", "list", "--status", "active"]);
    assert_eq!(listed["contracts"][0]["id"], "NEO-0001");
    assert_eq!(listed["next_page_token"], Value::Null);

    let (code, customer) = call(&["token", "create", "--contract", "NEO-0001"]);
    assert_eq!(code, Some(0), "{customer}");
    let customer_token = customer["token"].as_str().unwrap().to_owned();

    let (code, inquiry) = as_token(
        &customer_token,
        &[
            "inquiry",
            "submit",
            "--contract",
            "NEO-0001",
            "--product",
            "backup-server",
            "--category",
            "patch-upgrade",
            "--subject",
            "パッチ適用の手順",
            "--body",
            "最新パッチの適用手順を教えてください。",
            "--reply-to",
            "it@example.co.jp",
        ],
    );
    assert_eq!(code, Some(0), "{inquiry}");
    assert_eq!(inquiry["reply_channel"], "email");
    assert_eq!(inquiry["status"], "open");
    assert!(inquiry["received_at"].as_str().unwrap().ends_with('Z'));
    assert!(inquiry["handling_starts_at"].is_string());
    let id = inquiry["id"].as_i64().unwrap().to_string();

    let (code, neo) = as_token(
        &customer_token,
        &[
            "inquiry",
            "submit",
            "--contract",
            "NEO-0001",
            "--product",
            "desknets-neo",
            "--category",
            "operation",
            "--subject",
            "NEOの設定",
            "--body",
            "?",
            "--reply-to",
            "it@example.co.jp",
        ],
    );
    assert_eq!(code, Some(1));
    assert_eq!(neo["error"]["reason"], "NEO_SUPPORT_REQUIRED");

    let (_, queue) = call(&["inquiry", "list", "--status", "open"]);
    assert_eq!(queue["inquiries"].as_array().unwrap().len(), 1);
    let (code, answered) = call(&["inquiry", "answer", &id, "--body", "回答です。"]);
    assert_eq!(code, Some(0), "{answered}");
    assert_eq!(answered["status"], "answered");
    let (_, shown) = as_token(&customer_token, &["inquiry", "show", &id]);
    assert_eq!(shown["status"], "answered");

    let (code, refused) = call(&[
        "order",
        "record",
        "--contract",
        "NEO-0001",
        "--kind",
        "first-year",
        "--received-on",
        &received,
        "--purchased-on",
        &received,
    ]);
    assert_eq!(code, Some(1));
    assert_eq!(refused["error"]["code"], "FAILED_PRECONDITION");
    assert_eq!(refused["error"]["reason"], "FIRST_YEAR_EXISTS");
    let (status, _) = daemon.terminate();
    assert!(status.success());
}

#[test]
fn the_whole_reissue_journey_works_from_the_command_line() {
    let (dir, database_url, token) = fresh_database_with_staff_token();
    let keys_dir = dir.path().join("keys");
    let daemon = Daemon::start(&database_url, &keys_dir);
    assert!(
        daemon
            .log
            .lock()
            .unwrap()
            .contains("DEVELOPMENT signing key"),
        "the server says loudly it made a key"
    );
    let server = format!("http://{}", daemon.address);
    let call = |args: &[&str]| {
        let mut all = vec![
            "--server",
            server.as_str(),
            "--token",
            token.as_str(),
            "--json",
        ];
        all.extend_from_slice(args);
        let output = client(&all);
        (output.status.code(), json_of(&output))
    };
    let received = crate::common::a_month_ago();
    call(&[
        "contract",
        "create",
        "--id",
        "NEO-0002",
        "--customer",
        "株式会社サンプル",
        "--contact",
        "it@example.co.jp",
        "--license-id",
        "BS-777",
        "--seats",
        "5",
    ]);
    call(&[
        "order",
        "record",
        "--contract",
        "NEO-0002",
        "--kind",
        "first-year",
        "--received-on",
        &received,
        "--purchased-on",
        &received,
    ]);

    let (code, first) = call(&[
        "key",
        "issue",
        "--license",
        "BS-777",
        "--fingerprint",
        "old-server-0001:abcd",
    ]);
    assert_eq!(code, Some(0), "{first}");
    assert_eq!(first["sequence"], 1);
    let old_key = first["key"].as_str().unwrap().to_owned();

    let (code, moved) = call(&[
        "reissue",
        "request",
        "--license",
        "BS-777",
        "--fingerprint",
        "new-server-0002:efgh",
        "--request-id",
        "move-2026",
    ]);
    assert_eq!(code, Some(0), "{moved}");
    assert_eq!(moved["status"], "issued");
    assert!(moved["delivery_on"].is_string() && moved["received_at"].is_string());
    let new_key = moved["key"].as_str().unwrap().to_owned();
    let new_key_id = moved["key_id"].as_str().unwrap().to_owned();
    let (_, again) = call(&[
        "reissue",
        "request",
        "--license",
        "BS-777",
        "--fingerprint",
        "new-server-0002:efgh",
        "--request-id",
        "move-2026",
    ]);
    assert_eq!(again["key"], new_key.as_str(), "same request id, same key");

    // Offline: the public keys from the server, then verify the new key.
    let public_dir = dir.path().join("public-keys");
    let (code, public) = call(&["keys", "public", "--write", public_dir.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{public}");
    assert_eq!(public[0]["status"], "active");
    let key_file = dir.path().join("new.key");
    std::fs::write(&key_file, &new_key).unwrap();
    let at_file = format!("@{}", key_file.display());
    let (code, verdict) = call(&[
        "key",
        "verify",
        "--public-keys",
        public_dir.to_str().unwrap(),
        "--fingerprint",
        "new-server-0002:efgh",
        &at_file,
    ]);
    assert_eq!(code, Some(0), "{verdict}");
    assert_eq!(verdict["valid"], true);
    assert_eq!(verdict["key_id"], new_key_id.as_str());
    assert_eq!(verdict["claims"]["sub"], "BS-777");
    assert_eq!(verdict["claims"]["sequence"], 2);
    // The server's own keys directory works too, and a wrong fingerprint fails.
    let (code, wrong) = call(&[
        "key",
        "verify",
        "--public-keys",
        keys_dir.to_str().unwrap(),
        "--fingerprint",
        "old-server-0001:abcd",
        &new_key,
    ]);
    assert_eq!(code, Some(1));
    assert_eq!(wrong["reason"], "FINGERPRINT_MISMATCH");
    // Offline, the old key still has a good signature; online, it is superseded.
    let (code, offline_old) = call(&[
        "key",
        "verify",
        "--public-keys",
        public_dir.to_str().unwrap(),
        &old_key,
    ]);
    assert_eq!(
        (code, offline_old["valid"].clone()),
        (Some(0), Value::Bool(true))
    );
    let (code, online_old) = call(&["key", "verify", "--online", &old_key]);
    assert_eq!(code, Some(1), "{online_old}");
    assert_eq!(online_old["reason"], "KEY_SUPERSEDED");
    assert_eq!(online_old["status"], "superseded");
    let mut forged = new_key.clone();
    forged.insert(20, 'x');
    let (code, forged) = call(&[
        "key",
        "verify",
        "--public-keys",
        public_dir.to_str().unwrap(),
        &forged,
    ]);
    assert_eq!(code, Some(1));
    assert!(
        ["SIGNATURE_INVALID", "KEY_MALFORMED"].contains(&forged["reason"].as_str().unwrap()),
        "{forged}"
    );
    // Standard input works, and a usage error exits 2.
    let mut child = Command::new(CLIENT)
        .args([
            "--json",
            "key",
            "verify",
            "--public-keys",
            public_dir.to_str().unwrap(),
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(new_key.as_bytes())
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    assert_eq!(client(&["key", "verify"]).status.code(), Some(2));

    let (code, revoked) = call(&["key", "revoke", &new_key_id, "--reason", "テスト"]);
    assert_eq!(code, Some(0), "{revoked}");
    let (_, online_new) = call(&["key", "verify", "--online", &new_key]);
    assert_eq!(online_new["reason"], "KEY_REVOKED");
    let (_, listed) = call(&["key", "list", "--license", "BS-777"]);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let (_, pending) = call(&["reissue", "list"]);
    assert_eq!(pending["reissues"].as_array().unwrap().len(), 0);

    let (status, log) = daemon.terminate();
    assert!(status.success());
    assert!(
        !log.contains(&new_key[10..60]),
        "no key material in the log"
    );
}

#[test]
fn fingerprint_prints_a_valid_fingerprint_for_this_machine() {
    // Version 2: a component that cannot be read is absent, never an
    // error, so every machine has one.
    let output = client(&["--json", "fingerprint"]);
    assert!(output.status.success(), "{output:?}");
    let fingerprint = json_of(&output)["fingerprint"].as_str().unwrap().to_owned();
    assert!(
        neo_support::domain::license::Fingerprint::parse(&fingerprint).is_ok(),
        "{fingerprint}"
    );
    assert_eq!(
        json_of(&client(&["--json", "fingerprint"]))["fingerprint"],
        fingerprint.as_str(),
        "stable"
    );
}

/// A new SQLite database in a temporary directory and a staff token made
/// on it with `neo-supportd token create`.
fn fresh_database_with_staff_token() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}/neo.db", dir.path().display());
    let token = crate::common::staff_token_on(&database_url, "ops");
    (dir, database_url, token)
}

#[test]
fn calls_are_logged_one_line_each_and_counted_in_prometheus_metrics() {
    let (dir, database_url, token) = fresh_database_with_staff_token();
    let metrics_address = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().to_string()
    };
    let daemon = Daemon::start_with(
        &database_url,
        &dir.path().join("keys"),
        &["--metrics-listen", &metrics_address],
    );
    let server = format!("http://{}", daemon.address);
    let call = |args: &[&str]| {
        let mut all = vec![
            "--server",
            server.as_str(),
            "--token",
            token.as_str(),
            "--json",
        ];
        all.extend_from_slice(args);
        client(&all)
    };
    assert!(call(&["calendar", "day", "2026-11-23"]).status.success());
    // Issue 14: judged by the CLI before any call (exit 2); the metrics
    // below count a refusal from an out-of-range year instead.
    assert_eq!(
        call(&["calendar", "day", "2026-02-30"]).status.code(),
        Some(2)
    );
    assert_eq!(
        call(&["calendar", "day", "2100-01-01"]).status.code(),
        Some(1)
    );
    let received = crate::common::a_month_ago();
    call(&[
        "contract",
        "create",
        "--id",
        "MET",
        "--customer",
        "計測",
        "--contact",
        "it@example.co.jp",
        "--license-id",
        "BS-MET",
        "--seats",
        "1",
    ]);
    call(&[
        "order",
        "record",
        "--contract",
        "MET",
        "--kind",
        "first-year",
        "--received-on",
        &received,
        "--purchased-on",
        &received,
    ]);
    call(&[
        "key",
        "issue",
        "--license",
        "BS-MET",
        "--fingerprint",
        "srv-metrics-0001.example",
    ]);
    let moved = call(&[
        "reissue",
        "request",
        "--license",
        "BS-MET",
        "--fingerprint",
        "srv-metrics-0002.example",
    ]);
    assert!(moved.status.success());
    let key = json_of(&moved)["key"].as_str().unwrap().to_owned();

    let metrics = crate::common::http_get(&metrics_address, "/metrics");
    assert!(metrics.contains("200 OK"), "{metrics}");
    for expected in [
        r#"neo_support_calls_total{rpc="GetCalendarDay",code="OK"} 1"#,
        r#"neo_support_calls_total{rpc="GetCalendarDay",code="OUT_OF_RANGE"} 1"#,
        r#"neo_support_reissues_total{outcome="issued"} 1"#,
        "neo_support_call_duration_seconds_bucket{rpc=\"RequestReissue\"",
        "neo_support_outbox_unsent",
        "neo_support_review_queue{state=\"pending\"}",
        "neo_support_db_pool_in_use",
    ] {
        assert!(metrics.contains(expected), "{expected} in\n{metrics}");
    }

    let (status, log) = daemon.terminate();
    assert!(status.success());
    let calls: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|entry| entry["fields"]["message"] == "call refused")
        .collect();
    // At the default level a success writes no line; the refusal does.
    let day_calls: Vec<_> = calls
        .iter()
        .filter(|c| c["fields"]["rpc"] == "GetCalendarDay")
        .collect();
    assert_eq!(day_calls.len(), 1, "{log}");
    assert_eq!(day_calls[0]["fields"]["code"], "OUT_OF_RANGE", "{log}");
    assert!(
        day_calls.iter().all(
            |c| c["fields"]["request_id"].is_string() && c["fields"]["duration_ms"].is_number()
        )
    );
    assert!(!log.contains(&token[4..]), "no token in the log");
    assert!(!log.contains(&key[10..60]), "no key in the log");
}

#[test]
fn bench_loads_a_running_server_and_prints_each_rpc_beside_the_health_baseline() {
    let (dir, database_url, token) = fresh_database_with_staff_token();
    let daemon = Daemon::start_with(
        &database_url,
        &dir.path().join("keys"),
        &[
            "--reissues-before-review",
            "1000000",
            "--rate-limit-per-token",
            "0",
        ],
    );
    let server = format!("http://{}", daemon.address);
    let output = client(&[
        "--server",
        &server,
        "--token",
        &token,
        "--json",
        "bench",
        "--rpc",
        "all",
        "--duration",
        "300ms",
        "--connections",
        "2",
        "--concurrency",
        "4",
        "--licenses",
        "3",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let figures = json_of(&output);
    for rpc in ["health", "verify-key", "reissue", "delivery"] {
        let f = &figures[rpc];
        assert!(
            f["calls_per_sec"].as_f64().unwrap() > 0.0,
            "{rpc}: {figures}"
        );
        assert_eq!(f["errors"], 0, "{rpc}: {figures}");
        for field in ["p50_ms", "p90_ms", "p99_ms", "p999_ms"] {
            assert!(f[field].is_number(), "{rpc}.{field}");
        }
        assert!(f["p50_ms"].as_f64() <= f["p99_ms"].as_f64());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bench: created 3 contracts"),
        "it says what it created: {stderr}"
    );
    assert_eq!(
        client(&["bench", "--duration", "forever"]).status.code(),
        Some(2)
    );
    daemon.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_escape_sequences_reach_the_terminal_escaped() {
    use neo_support::domain::contract::EmailAddress;
    use neo_support::domain::inquiry::{Category, NewInquiry, Product};
    let db = crate::common::TestDb::sqlite();
    let server = crate::common::TestServer::start(&db).await;
    let mut staff = server.staff().await;
    staff
        .create_contract(crate::common::new_contract("ESC", "LIC-ESC", 3, false))
        .await
        .unwrap();
    // Written past the server (which refuses it now), as older data or a
    // database edit could hold it.
    let hostile = "件名\u{1b}[2J\u{1b}]0;pwned\u{7}\r\nfake line\u{9b}31m\u{202E}txt";
    let now = neo_support::clock::Clock::now(server.clock.as_ref());
    let stored = server
        .store
        .create_inquiry(
            &NewInquiry {
                contract_id: "ESC".into(),
                product: Product::BackupServer,
                category: Category::Defect,
                subject: hostile.into(),
                body: format!("本文\n\t{hostile}"),
                reply_to: EmailAddress::parse("it-admin@example.co.jp").unwrap(),
            },
            now,
            now,
            "db edit",
            20,
            &Audit::daemon(),
        )
        .await
        .unwrap();
    let id = stored.id.to_string();
    let run = |args: &[&str]| {
        let mut all = vec![
            "--server",
            server.url.as_str(),
            "--token",
            &server.staff_token,
        ];
        all.extend_from_slice(args);
        client(&all)
    };
    for args in [
        vec!["inquiry", "list"],
        vec!["inquiry", "show", id.as_str()],
        vec!["outbox", "list"],
        vec!["outbox", "show", "1"],
    ] {
        let output = run(&args);
        assert!(output.status.success(), "{args:?}: {output:?}");
        let text = String::from_utf8(output.stdout).unwrap();
        let raw: Vec<char> = text
            .chars()
            .filter(|c| {
                (c.is_control() && !matches!(c, '\n' | '\t'))
                    || ('\u{202A}'..='\u{202E}').contains(c)
            })
            .collect();
        assert!(raw.is_empty(), "{args:?} wrote {raw:?}: {text:?}");
        if args != ["outbox", "list"] {
            assert!(
                text.contains(r"\u{1b}[2J\u{1b}]0;pwned\u{7}"),
                "{args:?}: {text}"
            );
        }
        if args[1] == "list" {
            // One row per item: the subject's CR LF cannot start a row.
            assert!(!text.contains("\nfake line"), "{args:?}: {text}");
        }
    }
    // The JSON is unchanged text (serde escapes it).
    let output = run(&["--json", "inquiry", "show", &id]);
    assert_eq!(json_of(&output)["subject"], hostile);
    server.stop().await;
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_update_adds_and_removes_mail_domains_that_contract_show_lists() {
    let db = crate::common::TestDb::sqlite();
    let server = crate::common::TestServer::start(&db).await;
    server
        .staff()
        .await
        .create_contract(crate::common::new_contract("DOM", "LIC-DOM", 3, false))
        .await
        .unwrap();
    let run = |args: &[&str]| {
        let mut all = vec![
            "--server",
            server.url.as_str(),
            "--token",
            &server.staff_token,
        ];
        all.extend_from_slice(args);
        client(&all)
    };
    let output = run(&[
        "contract",
        "update",
        "DOM",
        "--add-mail-domain",
        "Partner.Example.co.jp",
        "--add-mail-domain",
        "example.net",
    ]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "contract DOM mail domains: example.co.jp, example.net, partner.example.co.jp\n"
    );
    let output = run(&[
        "contract",
        "update",
        "DOM",
        "--remove-mail-domain",
        "example.net",
    ]);
    assert!(output.status.success(), "{output:?}");
    let output = run(&["--json", "contract", "show", "DOM"]);
    assert_eq!(
        json_of(&output)["mail_domains"],
        serde_json::json!(["example.co.jp", "partner.example.co.jp"])
    );
    let output = run(&[
        "--json",
        "contract",
        "update",
        "DOM",
        "--add-mail-domain",
        "evil.example/login",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(json_of(&output)["error"]["code"], "INVALID_ARGUMENT");
    server.stop().await;
    db.drop_database().await;
}

#[test]
fn staff_create_list_and_revoke_tokens_from_the_command_line_and_cache_secs_stops_at_sixty() {
    let too_long = Command::new(DAEMON)
        .args(["serve", "--cache-secs", "61"])
        .env_remove("NEO_SUPPORT_CACHE_SECS")
        .output()
        .unwrap();
    assert_eq!(too_long.status.code(), Some(2), "{too_long:?}");
    assert!(String::from_utf8_lossy(&too_long.stderr).contains("61"));

    let (dir, database_url, token) = fresh_database_with_staff_token();
    let daemon = Daemon::start_with(
        &database_url,
        &dir.path().join("keys"),
        &["--cache-secs", "60"],
    );
    let server = format!("http://{}", daemon.address);
    let as_token = |token: &str, args: &[&str]| {
        let mut all = vec!["--server", server.as_str(), "--token", token, "--json"];
        all.extend_from_slice(args);
        let output = client(&all);
        (output.status.code(), json_of(&output))
    };
    let call = |args: &[&str]| as_token(&token, args);
    let (code, created) = call(&[
        "contract",
        "create",
        "--id",
        "T-1",
        "--customer",
        "テスト",
        "--contact",
        "it@example.co.jp",
        "--license-id",
        "LIC-T1",
        "--seats",
        "1",
    ]);
    assert_eq!(code, Some(0), "{created}");

    let (code, customer) = call(&["token", "create", "--contract", "T-1", "--expires-in", "30"]);
    assert_eq!(code, Some(0), "{customer}");
    assert!(customer["expire_time"].is_string(), "{customer}");
    let customer_id = customer["id"].as_i64().unwrap();
    let customer_token = customer["token"].as_str().unwrap().to_owned();

    let (code, listed) = call(&["token", "list", "--contract", "T-1"]);
    assert_eq!(code, Some(0), "{listed}");
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], customer_id);
    let ops_id = listed[0]["created_by"]
        .as_i64()
        .expect("created by the ops token");
    let (_, everyone) = call(&["token", "list"]);
    assert!(
        everyone
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == ops_id && t["name"] == "ops" && t["created_by"].is_null())
    );

    let day = ["calendar", "day", "2026-11-25"];
    let (code, _) = as_token(&customer_token, &day);
    assert_eq!(code, Some(0));
    let (code, revoked) = call(&[
        "token",
        "revoke",
        &customer_id.to_string(),
        "--reason",
        "契約終了",
    ]);
    assert_eq!(code, Some(0), "{revoked}");
    assert_eq!(revoked[0]["revoke_reason"], "契約終了");
    // Refused at once, though the server keeps tokens for 60 s.
    let (code, refused) = as_token(&customer_token, &day);
    assert_eq!(code, Some(1));
    assert_eq!(refused["error"]["reason"], "TOKEN_INVALID", "{refused}");

    let (code, none) = call(&[
        "token",
        "revoke",
        "--created-by",
        &ops_id.to_string(),
        "--reason",
        "x",
    ]);
    assert_eq!(code, Some(0), "{none}");
    assert_eq!(none, serde_json::json!([]), "nothing else in use");
    let usage = client(&[
        "--server", &server, "--token", &token, "token", "revoke", "--reason", "x",
    ]);
    assert_eq!(
        usage.status.code(),
        Some(2),
        "an id or --created-by is needed"
    );

    let on_database = Command::new(DAEMON)
        .args(["token", "list", "--json", "--database-url", &database_url])
        .output()
        .unwrap();
    let rows: Value = serde_json::from_slice(&on_database.stdout).unwrap();
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == customer_id
                && t["revoke_reason"] == "契約終了"
                && t["created_by"] == ops_id)
    );
    let (status, _) = daemon.terminate();
    assert!(status.success());
}

#[test]
fn keys_public_write_over_plain_http_from_another_host_is_refused_without_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let public_dir = dir.path().join("public-keys");
    let write = public_dir.to_str().unwrap();
    // 192.0.2.1 (TEST-NET-1) is never this machine.
    let refused = client(&[
        "--server",
        "http://192.0.2.1:50051",
        "keys",
        "public",
        "--write",
        write,
    ]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    // Issue 14: judged by the CLI before any call, so a usage error (2).
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--insecure") && stderr.contains("https://"),
        "{stderr}"
    );
    assert!(!public_dir.exists(), "nothing is written");

    // With --insecure it goes on, to a port of this machine's own (0.0.0.0
    // is not a loopback address to the check, but connects locally) where
    // nothing listens; the refusal above sent nothing anywhere.
    let insecure = client(&[
        "--server",
        "http://0.0.0.0:1",
        "keys",
        "public",
        "--write",
        write,
        "--insecure",
    ]);
    let stderr = String::from_utf8_lossy(&insecure.stderr);
    assert!(!insecure.status.success());
    assert!(!stderr.contains("--insecure"), "{stderr}");
}
