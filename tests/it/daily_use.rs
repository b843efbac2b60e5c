//! Daily use (issue 14): the traps a new user met, each closed, through
//! the real binaries against a real server on each backend: an answer
//! always carries a body and can be followed by another; no command opens
//! an empty database by accident; a key's unsent notice never carries a
//! key that was revoked or superseded; a key's seats are those of its
//! issue date.

use std::process::{Command, Output};

use serde_json::Value;

use crate::common::{TestServer, first_year, new_contract, on_each_backend, order};
use neo_support::pb;
use neo_support::store::outbox::{OutboxMessage, OutboxQuery};

const CLIENT: &str = env!("CARGO_BIN_EXE_neo-support");
const DAEMON: &str = env!("CARGO_BIN_EXE_neo-supportd");

/// `neo-support --server URL --token STAFF ARGS...`.
fn staff_cli(server: &TestServer, args: &[&str]) -> Output {
    Command::new(CLIENT)
        .args(["--server", &server.url, "--token", &server.staff_token])
        .args(args)
        .env_remove("NEO_SUPPORT_TOKEN")
        .env_remove("NEO_SUPPORT_SERVER")
        .output()
        .expect("run neo-support")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {output:?}"))
}

async fn outbox(server: &TestServer) -> Vec<OutboxMessage> {
    server
        .store
        .list_outbox(&OutboxQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
}

/// Contract `id` (10 seats, license `LIC-id`) covered from 2026-10-20.
async fn contract(server: &TestServer, id: &str) {
    let mut staff = server.staff().await;
    staff
        .create_contract(new_contract(id, &format!("LIC-{id}"), 10, false))
        .await
        .unwrap();
    staff
        .record_order(first_year(id, "2026-10-20", "2026-10-20"))
        .await
        .unwrap();
}

/// An inquiry on contract `id`, submitted by staff; its id.
fn submit_inquiry(server: &TestServer, id: &str) -> String {
    let submitted = staff_cli(
        server,
        &[
            "--json",
            "inquiry",
            "submit",
            "--contract",
            id,
            "--product",
            "backup-server",
            "--category",
            "operation",
            "--subject",
            "設定について",
            "--body",
            "バックアップの設定を教えてください。",
            "--reply-to",
            "it-admin@example.co.jp",
        ],
    );
    assert!(submitted.status.success(), "{submitted:?}");
    json_of(&submitted)["id"].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_needs_a_body_and_an_answered_inquiry_can_be_answered_again_by_mail() {
    on_each_backend(async |server| {
        contract(server, "ANS-1").await;
        let id = submit_inquiry(server, "ANS-1");

        // No --body: a usage error before any call, nothing changes.
        let refused = staff_cli(server, &["inquiry", "answer", &id]);
        assert_eq!(refused.status.code(), Some(2), "{refused:?}");
        assert!(stderr(&refused).contains("--body"), "{refused:?}");
        let shown = json_of(&staff_cli(server, &["--json", "inquiry", "show", &id]));
        assert_eq!(shown["status"], "open");

        // An empty answer through the API is refused too.
        let empty = server
            .staff()
            .await
            .answer_inquiry(pb::AnswerInquiryRequest {
                id: id.parse().unwrap(),
                answer: "  ".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(empty.code(), tonic::Code::InvalidArgument);
        assert_eq!(crate::common::reason(&empty), "ANSWER_REQUIRED");

        let first = staff_cli(
            server,
            &[
                "--json",
                "inquiry",
                "answer",
                &id,
                "--body",
                "手順はこちらです。",
            ],
        );
        assert!(first.status.success(), "{first:?}");
        assert_eq!(json_of(&first)["status"], "answered");
        // A further answer is accepted and mailed as well.
        let second = staff_cli(
            server,
            &["--json", "inquiry", "answer", &id, "--body", "補足です。"],
        );
        assert!(second.status.success(), "{second:?}");
        let answers: Vec<_> = outbox(server)
            .await
            .into_iter()
            .filter(|m| m.kind == "inquiry_answer")
            .collect();
        assert_eq!(answers.len(), 2, "{answers:?}");
        assert!(answers[0].body.contains("手順はこちらです。"));
        assert!(answers[1].body.contains("補足です。"));
        assert!(
            answers
                .iter()
                .all(|m| m.recipient == "it-admin@example.co.jp")
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_an_inquiry_without_a_reply_is_its_own_command_recorded_with_its_reason() {
    on_each_backend(async |server| {
        contract(server, "CLS-1").await;
        let id = submit_inquiry(server, "CLS-1");
        let mails_before = outbox(server).await.len();

        let closed = staff_cli(
            server,
            &[
                "--json",
                "inquiry",
                "close",
                &id,
                "--reason",
                "重複した問い合わせ",
            ],
        );
        assert!(closed.status.success(), "{closed:?}");
        let closed = json_of(&closed);
        assert_eq!(closed["status"], "closed");
        assert_eq!(closed["close_reason"], "重複した問い合わせ");
        assert!(closed["closed_at"].is_string(), "{closed}");
        assert_eq!(outbox(server).await.len(), mails_before, "no mail");

        let again = staff_cli(
            server,
            &["--json", "inquiry", "close", &id, "--reason", "x"],
        );
        assert_eq!(again.status.code(), Some(1));
        assert_eq!(json_of(&again)["error"]["reason"], "ALREADY_CLOSED");

        let events = json_of(&staff_cli(
            server,
            &["--json", "events", "list", "--kind", "inquiry.closed"],
        ));
        let events = events["events"].as_array().unwrap().clone();
        assert_eq!(events.len(), 1, "{events:?}");
        assert!(
            events[0]["detail"]
                .as_str()
                .unwrap()
                .contains("重複した問い合わせ")
        );

        // A closed inquiry can still be answered, and the answer is mailed.
        let answered = staff_cli(
            server,
            &["inquiry", "answer", &id, "--body", "念のため回答します。"],
        );
        assert!(answered.status.success(), "{answered:?}");
        assert_eq!(outbox(server).await.len(), mails_before + 1);
    })
    .await;
}

#[test]
fn admin_commands_refuse_a_missing_sqlite_database_and_name_its_absolute_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("wrong").join("neo-support.db");
    let url = format!("sqlite://{}", missing.display());
    for args in [
        vec!["token", "create", "--staff", "--name", "admin"],
        vec!["token", "list"],
        vec!["token", "revoke", "1", "--reason", "test"],
        vec!["backup", "--to"],
    ] {
        let mut command = Command::new(DAEMON);
        command.args(&args);
        if args[0] == "backup" {
            command.arg(dir.path().join("copy.db"));
        }
        let output = command
            .args(["--database-url", &url])
            .env_remove("NEO_SUPPORT_DATABASE_URL")
            .output()
            .unwrap();
        assert!(!output.status.success(), "{args:?}: {output:?}");
        let err = stderr(&output);
        assert!(
            err.contains(&format!("there is no database at {}", missing.display())),
            "{args:?}: {err}"
        );
        assert!(stdout(&output).is_empty(), "{args:?}: {output:?}");
        assert!(!missing.exists(), "{args:?} created the database");
        assert!(
            !missing.parent().unwrap().exists(),
            "{args:?} made its directory"
        );
    }

    // A relative path is named absolutely.
    let relative = Command::new(DAEMON)
        .current_dir(dir.path())
        .args([
            "token",
            "list",
            "--database-url",
            "sqlite://data/neo-support.db",
        ])
        .env_remove("NEO_SUPPORT_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!relative.status.success());
    let expected = dir
        .path()
        .canonicalize()
        .unwrap()
        .join("data/neo-support.db");
    assert!(
        stderr(&relative).contains(&expected.display().to_string()),
        "{relative:?}"
    );
}

#[test]
fn serve_and_init_create_a_missing_sqlite_database_with_a_warning_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new").join("neo-support.db");
    let url = format!("sqlite://{}", path.display());
    let daemon = crate::common::Daemon::start(&url, &dir.path().join("keys"));
    let (_, log) = daemon.terminate();
    let warning = log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|entry| {
            entry["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("creating a new, empty SQLite database at"))
        })
        .unwrap_or_else(|| panic!("no warning in {log}"));
    assert_eq!(warning["level"], "WARN");
    assert_eq!(warning["fields"]["path"], path.display().to_string());
    assert!(path.exists());

    // The admin command then works on it and says where it wrote.
    let created = Command::new(DAEMON)
        .args(["token", "create", "--staff", "--name", "admin"])
        .args(["--database-url", &url])
        .env_remove("NEO_SUPPORT_DATABASE_URL")
        .env("NEO_SUPPORT_LOG", "info")
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    assert!(
        stderr(&created).contains(&format!(
            "created staff token admin (id 1) in {}",
            path.display()
        )),
        "{created:?}"
    );
    assert!(
        !stderr(&created).contains('\u{1b}'),
        "no ANSI when not a terminal"
    );

    let other = dir.path().join("init.db");
    let init = Command::new(DAEMON)
        .args(["init", "--database-url"])
        .arg(format!("sqlite://{}", other.display()))
        .output()
        .unwrap();
    assert!(init.status.success(), "{init:?}");
    assert!(other.exists());
    assert!(stderr(&init).contains("WARN"), "{init:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_database_that_does_not_exist_is_named_not_an_internal_error() {
    let Some(base_url) = crate::common::postgres_or_skip("the missing-database test") else {
        return;
    };
    let mut url = url_of(&base_url);
    url.set_path("/neo_support_no_such_database");
    let output = Command::new(DAEMON)
        .args(["token", "list", "--database-url", url.as_str()])
        .env_remove("NEO_SUPPORT_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("PostgreSQL database \"neo_support_no_such_database\" does not exist"),
        "{err}"
    );
    assert!(err.contains("createdb"), "{err}");
    assert!(!err.contains("internal error"), "{err}");
}

fn url_of(text: &str) -> url::Url {
    url::Url::parse(text).expect("a URL")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_key_notice_is_replaced_when_its_key_is_revoked_or_superseded() {
    on_each_backend(async |server| {
        contract(server, "NTC-1").await;
        let mut licenses = server.licenses(Some(&server.staff_token)).await;
        let first = licenses
            .issue_first_key(pb::IssueFirstKeyRequest {
                license_id: "LIC-NTC-1".into(),
                fingerprint: "srv-old-0001.example:AAAA".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .license_key
            .unwrap();
        // Superseded before its notice went out.
        let reissued = licenses
            .request_reissue(pb::RequestReissueRequest {
                license_id: "LIC-NTC-1".into(),
                fingerprint: "srv-new-0002.example:BBBB".into(),
                request_id: "move-1".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(!reissued.key.is_empty());
        let mails = outbox(server).await;
        let old = mails
            .iter()
            .find(|m| m.license_key_id.as_deref() == Some(first.key_id.as_str()))
            .unwrap();
        assert_eq!(old.kind, "license_key_withdrawn");
        assert!(!old.body.contains(&first.key), "{}", old.body);
        assert!(old.body.contains(&reissued.key_id), "{}", old.body);
        let new = mails
            .iter()
            .find(|m| m.license_key_id.as_deref() == Some(reissued.key_id.as_str()))
            .unwrap();
        assert_eq!(new.kind, "license_key");
        assert!(new.body.contains(&reissued.key));

        // Revoked before its notice went out.
        licenses
            .revoke_key(pb::RevokeKeyRequest {
                key_id: reissued.key_id.clone(),
                reason: "紛失".into(),
            })
            .await
            .unwrap();
        let mails = outbox(server).await;
        let revoked = mails
            .iter()
            .find(|m| m.license_key_id.as_deref() == Some(reissued.key_id.as_str()))
            .unwrap();
        assert_eq!(revoked.kind, "license_key_withdrawn");
        assert!(revoked.body.contains("失効"), "{}", revoked.body);
        assert!(!revoked.body.contains(&reissued.key), "{}", revoked.body);
        assert!(
            mails.iter().all(|m| !m.body.contains("v4.public.")),
            "no key is left to mail"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_carries_the_seats_licensed_on_its_issue_date_not_a_later_order() {
    on_each_backend(async |server| {
        contract(server, "SEAT-1").await;
        let mut staff = server.staff().await;
        // The server's clock says 2026-11-25; these seats come in May 2027.
        staff
            .record_order(pb::RecordOrderRequest {
                purchased_on: "2027-05-10".into(),
                seats: 5,
                ..order("SEAT-1", pb::OrderKind::AddSeats, "2027-05-10")
            })
            .await
            .unwrap();
        let shown = staff
            .get_contract(pb::GetContractRequest {
                id: "SEAT-1".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(shown.current_period_seats, 10);
        let key = staff_cli(
            server,
            &[
                "key",
                "issue",
                "--license",
                "LIC-SEAT-1",
                "--fingerprint",
                "srv-old-0001.example:AAAA",
            ],
        );
        assert!(key.status.success(), "{key:?}");
        let key = stdout(&key).trim().to_owned();
        let verified = staff_cli(
            server,
            &[
                "--json",
                "key",
                "verify",
                "--public-keys",
                server.keys_dir.path().to_str().unwrap(),
                &key,
            ],
        );
        assert!(verified.status.success(), "{verified:?}");
        assert_eq!(json_of(&verified)["claims"]["seats"], 10);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_name_the_flag_and_exit_two_before_any_call_and_refusals_exit_one() {
    on_each_backend(async |server| {
        let usage = |args: &[&str], flag: &str| {
            let output = staff_cli(server, args);
            assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
            assert!(stderr(&output).contains(flag), "{args:?}: {output:?}");
            assert!(stdout(&output).is_empty(), "{args:?}: {output:?}");
        };
        usage(
            &[
                "calendar",
                "days-off",
                "--from",
                "2026-12-31",
                "--to",
                "2026-01-01",
            ],
            "--to: must not be before --from",
        );
        usage(
            &[
                "calendar",
                "holidays",
                "--from",
                "2026-12-31",
                "--to",
                "2026-01-01",
            ],
            "--to: must not be before --from",
        );
        usage(
            &[
                "calendar",
                "closures",
                "add",
                "--name",
                "夏季休暇",
                "--from",
                "2026-08-13",
                "--to",
                "08-16",
                "--every-year",
            ],
            "--from: use MM-DD with --every-year",
        );
        usage(
            &[
                "calendar",
                "days-off",
                "--from",
                "2026-13-01",
                "--to",
                "2026-12-31",
            ],
            "--from",
        );
        usage(&["contract", "show", "X", "--date", "tomorrow"], "--date");
        usage(&["calendar", "reception", "--at", "noon"], "--at");
        usage(&["inquiry", "show", "one"], "<ID>");
        usage(&["inquiry", "answer", "1", "--body", " "], "--body");
        usage(&["inquiry", "close", "1", "--reason", ""], "--reason");
        usage(&["reissue", "show", "move-1"], "RR-");
        usage(&["key", "revoke", "7", "--reason", "紛失"], "LK-");
        usage(&["events", "list", "--kind", "key.reisued"], "key.reissued");
        let bad_url = Command::new(CLIENT)
            .args([
                "--server",
                "127.0.0.1:50051",
                "calendar",
                "day",
                "2026-11-23",
            ])
            .env_remove("NEO_SUPPORT_SERVER")
            .output()
            .unwrap();
        assert_eq!(bad_url.status.code(), Some(2), "{bad_url:?}");
        assert!(stderr(&bad_url).contains("--server"), "{bad_url:?}");

        // The server's own field errors carry specific reasons.
        let reversed = server
            .staff()
            .await
            .list_days_off(pb::ListDaysOffRequest {
                start_on: "2026-12-31".into(),
                end_on: "2026-01-01".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(crate::common::reason(&reversed), "RANGE_REVERSED");

        // A field the server refuses is named by its flag.
        let contact = staff_cli(
            server,
            &[
                "contract",
                "create",
                "--id",
                "FLAG-1",
                "--customer",
                "株式会社フラグ",
                "--contact",
                "not-an-address",
                "--license-id",
                "LIC-FLAG-1",
                "--seats",
                "1",
            ],
        );
        assert_eq!(contact.status.code(), Some(1), "{contact:?}");
        assert!(stderr(&contact).contains(": --contact: "), "{contact:?}");
        contract(server, "FLAG-2").await;
        let reply_to = staff_cli(
            server,
            &[
                "inquiry",
                "submit",
                "--contract",
                "FLAG-2",
                "--product",
                "backup-server",
                "--category",
                "operation",
                "--subject",
                "件名",
                "--body",
                "本文",
                "--reply-to",
                "someone@elsewhere.example",
            ],
        );
        assert_eq!(reply_to.status.code(), Some(1), "{reply_to:?}");
        assert!(stderr(&reply_to).contains(": --reply-to: "), "{reply_to:?}");

        // A refusal by the server exits 1.
        let refused = staff_cli(server, &["contract", "show", "NOPE"]);
        assert_eq!(refused.status.code(), Some(1), "{refused:?}");
        assert!(stderr(&refused).contains("NOT_FOUND"), "{refused:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hints_say_what_to_do_about_a_token_a_scheme_or_a_server_that_is_not_there() {
    on_each_backend(async |server| {
        let no_token = Command::new(CLIENT)
            .args(["--server", &server.url, "calendar", "day", "2026-11-23"])
            .env_remove("NEO_SUPPORT_TOKEN")
            .output()
            .unwrap();
        assert_eq!(no_token.status.code(), Some(1));
        assert!(
            stderr(&no_token).contains("pass --token TOKEN or set NEO_SUPPORT_TOKEN"),
            "{no_token:?}"
        );
        let tls_to_plain = Command::new(CLIENT)
            .args(["--server", &server.url.replace("http://", "https://")])
            .args([
                "--token",
                &server.staff_token,
                "calendar",
                "day",
                "2026-11-23",
            ])
            .output()
            .unwrap();
        assert_eq!(tls_to_plain.status.code(), Some(1));
        assert!(
            stderr(&tls_to_plain).contains("speaks plaintext gRPC, not TLS; use http://"),
            "{tls_to_plain:?}"
        );
    })
    .await;
    // A port where nothing listens: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = Command::new(CLIENT)
        .args(["--server", &format!("http://127.0.0.1:{port}")])
        .args(["calendar", "day", "2026-11-23"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let err = stderr(&refused);
    assert!(
        err.contains(&format!("nothing listens on 127.0.0.1:{port}"))
            && err.contains("is neo-supportd running"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn human_output_is_in_jst_to_the_second_and_json_stays_utc() {
    on_each_backend(async |server| {
        let human = staff_cli(
            server,
            &["calendar", "reception", "--at", "2026-11-25T12:00:00+09:00"],
        );
        assert_eq!(
            stdout(&human).trim(),
            "closed; opens at 2026-11-25 13:00:00 +09:00",
            "{human:?}"
        );
        let json = json_of(&staff_cli(
            server,
            &[
                "--json",
                "calendar",
                "reception",
                "--at",
                "2026-11-25T12:00:00+09:00",
            ],
        ));
        assert_eq!(json["opens_at"], "2026-11-25T04:00:00Z");

        contract(server, "JST-1").await;
        let id = submit_inquiry(server, "JST-1");
        let shown = stdout(&staff_cli(server, &["inquiry", "show", &id]));
        assert!(
            shown.contains("handling from 2026-11-25 10:00:00 +09:00"),
            "{shown}"
        );
        let events = stdout(&staff_cli(
            server,
            &["events", "list", "--contract", "JST-1"],
        ));
        assert!(events.contains("+09:00"), "{events}");
        assert!(!events.contains('Z'), "{events}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_capture_only_a_key_and_a_waiting_reissue_exits_three() {
    let db = crate::common::TestDb::sqlite();
    let server = TestServer::start_full(
        &db,
        Default::default(),
        neo_support::grpc::Settings {
            reissues_before_review: 1,
            ..Default::default()
        },
    )
    .await;
    contract(&server, "SCR-1").await;
    let issue = staff_cli(
        &server,
        &[
            "key",
            "issue",
            "--license",
            "LIC-SCR-1",
            "--fingerprint",
            "srv-old-0001.example:AAAA",
        ],
    );
    assert!(issue.status.success(), "{issue:?}");
    let request = |fingerprint: &str, request_id: &str| {
        staff_cli(
            &server,
            &[
                "reissue",
                "request",
                "--license",
                "LIC-SCR-1",
                "--fingerprint",
                fingerprint,
                "--request-id",
                request_id,
            ],
        )
    };
    let signed = request("srv-new-0002.example:BBBB", "move-1");
    assert!(signed.status.success(), "{signed:?}");
    assert!(
        stdout(&signed).trim().starts_with("v4.public."),
        "{signed:?}"
    );
    assert_eq!(stdout(&signed).lines().count(), 1);

    let waiting = request("srv-new-0003.example:CCCC", "move-2");
    assert_eq!(waiting.status.code(), Some(3), "{waiting:?}");
    assert!(stdout(&waiting).is_empty(), "{waiting:?}");
    let err = stderr(&waiting);
    assert!(err.starts_with("pending_review RR-"), "{err}");
    let reissue_id = err.split_whitespace().nth(1).unwrap().to_owned();
    // --json is unchanged: the document, exit 0.
    let json = staff_cli(
        &server,
        &[
            "--json",
            "reissue",
            "request",
            "--license",
            "LIC-SCR-1",
            "--fingerprint",
            "srv-new-0003.example:CCCC",
            "--request-id",
            "move-2",
        ],
    );
    assert_eq!(json.status.code(), Some(0));
    assert_eq!(json_of(&json)["status"], "pending_review");

    let approved = staff_cli(&server, &["reissue", "approve", &reissue_id]);
    assert!(approved.status.success(), "{approved:?}");
    let key = stdout(&approved).trim().to_owned();
    assert!(key.starts_with("v4.public."), "{approved:?}");
    let verified = staff_cli(
        &server,
        &[
            "key",
            "verify",
            "--public-keys",
            server.keys_dir.path().to_str().unwrap(),
            &key,
        ],
    );
    assert!(verified.status.success(), "{verified:?}");
    assert!(
        stdout(&verified).ends_with("(fingerprint not checked)\n"),
        "{verified:?}"
    );

    // The audit trail: the call's id and the client's request id apart.
    let kinds = staff_cli(&server, &["events", "kinds"]);
    assert!(
        stdout(&kinds)
            .lines()
            .any(|l| l.starts_with("key.reissued\t")),
        "{kinds:?}"
    );
    let events = json_of(&staff_cli(
        &server,
        &["--json", "events", "list", "--kind", "key.reissued"],
    ));
    let event = &events["events"][0];
    assert_eq!(event["request_id"], "move-1", "{event}");
    assert!(event["call_id"].is_string(), "{event}");
    assert_ne!(event["call_id"], event["request_id"]);
    server.stop().await;
    db.drop_database().await;
}

#[test]
fn http_against_a_tls_server_says_to_use_https() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tls");
    let made = Command::new(DAEMON)
        .args(["tls", "create-dev-cert", "--host", "localhost", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let db = crate::common::TestDb::sqlite();
    let daemon = crate::common::Daemon::start_with(
        &db.url,
        &dir.path().join("keys"),
        &[
            "--tls-cert",
            out.join("server.crt").to_str().unwrap(),
            "--tls-key",
            out.join("server.key").to_str().unwrap(),
        ],
    );
    let called = Command::new(CLIENT)
        .args(["--server", &format!("http://{}", daemon.address)])
        .args(["--token", "nst_x", "calendar", "day", "2026-11-23"])
        .output()
        .unwrap();
    daemon.terminate();
    assert_eq!(called.status.code(), Some(1), "{called:?}");
    assert!(
        stderr(&called).contains("if the server serves TLS, use https://"),
        "{called:?}"
    );
}

#[tokio::test]
async fn logs_round_durations_to_microseconds_and_hide_the_postgres_migrations_notice() {
    for db in crate::common::test_databases().await {
        let keys = tempfile::tempdir().unwrap();
        // Twice: the second start meets the migrations table already there.
        for _ in 0..2 {
            let daemon = crate::common::Daemon::start(&db.url, keys.path());
            let refused = Command::new(CLIENT)
                .args(["--server", &format!("http://{}", daemon.address)])
                .args(["calendar", "day", "2026-11-23"])
                .env_remove("NEO_SUPPORT_TOKEN")
                .output()
                .unwrap();
            assert_eq!(refused.status.code(), Some(1));
            let (_, log) = daemon.terminate();
            assert!(!log.contains("_sqlx_migrations"), "{}: {log}", db.label);
            let refusal = log
                .lines()
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .find(|entry| entry["fields"]["message"] == "call refused")
                .unwrap_or_else(|| panic!("no refusal in {log}"));
            let duration = refusal["fields"]["duration_ms"].to_string();
            let decimals = duration.split_once('.').map_or(0, |(_, d)| d.len());
            assert!(decimals <= 3, "{duration} is finer than a microsecond");
        }
        db.drop_database().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendar_holidays_says_overrides_are_not_applied_locally_and_asks_the_server_with_server()
{
    on_each_backend(async |server| {
        let added = staff_cli(
            server,
            &[
                "calendar",
                "overrides",
                "add",
                "--date",
                "2026-09-23",
                "--not-holiday",
            ],
        );
        assert!(added.status.success(), "{added:?}");
        let range = [
            "calendar",
            "holidays",
            "--from",
            "2026-09-20",
            "--to",
            "2026-09-24",
        ];
        // staff_cli gives --server: the server's answer, the override applied.
        let asked = staff_cli(server, &range);
        assert!(asked.status.success(), "{asked:?}");
        assert_eq!(
            stdout(&asked),
            "2026-09-21\t敬老の日\n2026-09-22\t国民の休日\n"
        );
        // Without --server on the command line (even with NEO_SUPPORT_SERVER
        // set): the law alone, and a note on stderr.
        let local = Command::new(CLIENT)
            .args(range)
            .env("NEO_SUPPORT_SERVER", &server.url)
            .output()
            .unwrap();
        assert!(local.status.success(), "{local:?}");
        assert!(stdout(&local).contains("2026-09-23\t秋分の日"), "{local:?}");
        assert!(
            stderr(&local).contains("company overrides are not applied"),
            "{local:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsent_review_notice_no_longer_carries_a_provisional_key_once_staff_decide() {
    for db in crate::common::test_databases().await {
        let server = TestServer::start_full(
            &db,
            Default::default(),
            neo_support::grpc::Settings {
                reissues_before_review: 0,
                ..Default::default()
            },
        )
        .await;
        let mut licenses = server.licenses(Some(&server.staff_token)).await;
        for (id, approve) in [("REV-A", true), ("REV-R", false)] {
            contract(&server, id).await;
            let license = format!("LIC-{id}");
            licenses
                .issue_first_key(pb::IssueFirstKeyRequest {
                    license_id: license.clone(),
                    fingerprint: "srv-old-0001.example:AAAA".into(),
                })
                .await
                .unwrap();
            let waiting = licenses
                .request_reissue(pb::RequestReissueRequest {
                    license_id: license.clone(),
                    fingerprint: "srv-new-0002.example:BBBB".into(),
                    request_id: format!("move-{id}"),
                })
                .await
                .unwrap()
                .into_inner();
            assert!(waiting.key.is_empty(), "{}: waits for review", db.label);
            assert!(!waiting.provisional_key.is_empty(), "{}", db.label);
            let reissue_id = waiting.reissue.unwrap().id;
            let carrying = |mails: &[OutboxMessage]| {
                mails
                    .iter()
                    .filter(|m| m.body.contains(&waiting.provisional_key))
                    .count()
            };
            assert_eq!(carrying(&outbox(&server).await), 1, "the review notice");
            if approve {
                licenses
                    .approve_reissue(pb::ApproveReissueRequest {
                        id: reissue_id.clone(),
                    })
                    .await
                    .unwrap();
            } else {
                licenses
                    .reject_reissue(pb::RejectReissueRequest {
                        id: reissue_id.clone(),
                        reason: "上限超過".into(),
                    })
                    .await
                    .unwrap();
            }
            let mails = outbox(&server).await;
            assert_eq!(carrying(&mails), 0, "{}: {id}: {mails:?}", db.label);
            let withdrawn = mails
                .iter()
                .filter(|m| m.kind == "license_key_withdrawn")
                .count();
            assert!(withdrawn >= 1, "{}: {id}: {mails:?}", db.label);
        }
        server.stop().await;
        db.drop_database().await;
    }
}

#[test]
fn events_kinds_lists_every_kind_the_store_writes() {
    // Every `kind: "topic.what"` and reissue outcome string in the store.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/store");
    let mut written = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for piece in text.split('"').skip(1).step_by(2) {
            let kind_like = piece.split_once('.').is_some_and(|(topic, what)| {
                !topic.is_empty()
                    && !what.is_empty()
                    && piece
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
            });
            let event_topic = ["closure", "contract", "inquiry", "key", "order", "outbox"]
                .iter()
                .chain(&["override", "reissue", "renewal", "token"])
                .any(|topic| piece.starts_with(&format!("{topic}.")));
            if kind_like && event_topic {
                written.insert(piece.to_owned());
            }
        }
    }
    let listed: std::collections::BTreeSet<String> = neo_support::domain::EVENT_KINDS
        .iter()
        .map(|(kind, _)| (*kind).to_owned())
        .collect();
    assert!(written.len() >= 15, "{written:?}");
    assert_eq!(written, listed);
}
