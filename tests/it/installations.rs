//! Installations (issue 15): version 2 fingerprints from components and
//! how they match, through the real `neo-support` binary and a real
//! server on each backend; provisional keys while a reissue waits for
//! review; the `check-key` example of the neo-license crate; pyseto
//! refusing an expired provisional key; README's air-gapped flow.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{Duration, Utc};
use neo_license::{Component, Components, Verifier, VerifyFailure};
use neo_support::clock::Clock as _;
use neo_support::grpc::Settings;
use neo_support::pb;
use neo_support::server::ServeOptions;
use serde_json::Value;

use crate::common::{
    TestServer, a_month_ago, first_year, new_contract, skip_or_fail, test_databases,
};

const CLIENT: &str = env!("CARGO_BIN_EXE_neo-support");

const MACHINE: &str = "machine=0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const BOARD: &str = "board=4C4C4544-0042-3610-8048-B7C04F4E3732";
const DISK: &str = "disk=S4EWNX0R123456";
const NIC: &str = "nic=52:54:00:12:34:56";

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
            "stdout is not JSON ({e}): {} / {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The version 2 fingerprint `neo-support fingerprint --component ...`
/// prints for these `NAME=VALUE`s.
fn fingerprint_of(components: &[&str]) -> String {
    let mut args = vec!["--json", "fingerprint"];
    for component in components {
        args.extend(["--component", component]);
    }
    let output = client(&args);
    assert!(output.status.success(), "{output:?}");
    json_of(&output)["fingerprint"].as_str().unwrap().to_owned()
}

fn original() -> String {
    fingerprint_of(&[MACHINE, BOARD, DISK, NIC])
}

/// The NIC replaced.
fn new_nic() -> String {
    fingerprint_of(&[MACHINE, BOARD, DISK, "nic=52:54:00:ab:cd:ef"])
}

/// The OS reinstalled: a new machine id on the same hardware.
fn reinstalled() -> String {
    fingerprint_of(&["machine=11112222333344445555666677778888", BOARD, DISK, NIC])
}

/// The backup image restored onto other hardware: the same machine id,
/// another board, disk and NIC.
fn restored_elsewhere() -> String {
    fingerprint_of(&[
        MACHINE,
        "board=00000000-1111-2222-3333-444455556666",
        "disk=WD-WCC4N0123456",
        "nic=3c:ec:ef:00:11:22",
    ])
}

fn compare(a: &str, b: &str) -> (Option<i32>, Value) {
    let output = client(&["--json", "fingerprint", "compare", a, b]);
    (output.status.code(), json_of(&output))
}

#[test]
fn the_fingerprint_command_hashes_components_and_records_absent_ones_as_null() {
    let output = client(&[
        "--json",
        "fingerprint",
        "--component",
        MACHINE,
        "--component",
        NIC,
    ]);
    assert!(output.status.success(), "{output:?}");
    let json = json_of(&output);
    let fingerprint = json["fingerprint"].as_str().unwrap();
    assert!(fingerprint.starts_with("nsfp2:"), "{fingerprint}");
    assert!(
        neo_support::domain::license::Fingerprint::parse(fingerprint).is_ok(),
        "{fingerprint}"
    );
    let components = &json["components"];
    assert_eq!(components["board"], Value::Null);
    assert_eq!(components["disk"], Value::Null);
    let machine = components["machine"].as_str().unwrap();
    let nic = components["nic"].as_str().unwrap();
    assert_eq!(machine.len(), 16);
    assert!(
        !fingerprint.contains("0f1e2d3c4b5a6978"),
        "no raw value leaves"
    );
    assert!(
        !stdout_text(&output).contains("52:54:00"),
        "no raw MAC leaves"
    );
    assert_eq!(
        fingerprint,
        format!("nsfp2:{machine}.none.none.{nic}"),
        "the text form carries the hashed components"
    );
    // The same as the library computes.
    let library = Components::from_raw([
        (Component::Machine, "0f1e2d3c4b5a69788796a5b4c3d2e1f0"),
        (Component::Nic, "52:54:00:12:34:56"),
    ])
    .fingerprint();
    assert_eq!(fingerprint, library.as_str());
    // This machine's: every component key is there, hashed or null.
    let this = json_of(&client(&["--json", "fingerprint"]));
    for name in ["machine", "board", "disk", "nic"] {
        let value = &this["components"][name];
        assert!(
            value.is_null() || value.as_str().is_some_and(|v| v.len() == 16),
            "{name}: {value}"
        );
    }
    assert_eq!(
        json_of(&client(&["--json", "fingerprint"]))["fingerprint"],
        this["fingerprint"],
        "stable"
    );
    // Issue 14: input the CLI judges itself is a usage error (exit 2),
    // said on stderr.
    let bad = client(&["--json", "fingerprint", "--component", "cpu=1"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("machine, board, disk and nic"),
        "{bad:?}"
    );
}

fn stdout_text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn fingerprint_compare_tells_exact_tolerated_and_mismatch() {
    let original = original();
    assert_eq!(
        compare(&original, &original),
        (
            Some(0),
            serde_json::json!({"match": "exact", "changed": []})
        )
    );
    assert_eq!(
        compare(&original, &new_nic()),
        (
            Some(0),
            serde_json::json!({"match": "tolerated", "changed": ["nic"]})
        ),
        "NIC changed"
    );
    assert_eq!(
        compare(&original, &reinstalled()),
        (
            Some(0),
            serde_json::json!({"match": "tolerated", "changed": ["machine"]})
        ),
        "OS reinstalled"
    );
    assert_eq!(
        compare(&original, &restored_elsewhere()),
        (
            Some(1),
            serde_json::json!({"match": "mismatch", "changed": ["board", "disk", "nic"]})
        ),
        "image restored on other hardware"
    );
    // Version 1 fingerprints match only themselves, and never a version 2.
    let v1 = "nsfp1:0123456789abcdef0123456789abcdef01234567";
    let other_v1 = "nsfp1:89abcdef0123456789abcdef0123456789abcdef";
    assert_eq!(compare(v1, v1).1["match"], "exact");
    assert_eq!(
        compare(v1, other_v1),
        (
            Some(1),
            serde_json::json!({"match": "mismatch", "changed": []})
        )
    );
    assert_eq!(compare(v1, &original).1["match"], "mismatch");
    // Text output.
    let text = client(&["fingerprint", "compare", &original, &new_nic()]);
    assert_eq!(stdout_text(&text).trim(), "tolerated (changed: nic)");
}

/// Contract `id`, license `LIC-id`, covered from a month ago for a year,
/// and its first key bound to `fingerprint`.
async fn licensed(server: &TestServer, id: &str, fingerprint: &str) -> pb::LicenseKey {
    let mut staff = server.staff().await;
    staff
        .create_contract(new_contract(id, &format!("LIC-{id}"), 10, false))
        .await
        .unwrap();
    let start = a_month_ago();
    staff
        .record_order(first_year(id, &start, &start))
        .await
        .unwrap();
    server
        .licenses(Some(&server.staff_token))
        .await
        .issue_first_key(pb::IssueFirstKeyRequest {
            license_id: format!("LIC-{id}"),
            fingerprint: fingerprint.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .license_key
        .unwrap()
}

fn reissue(license_id: &str, fingerprint: &str, request_id: &str) -> pb::RequestReissueRequest {
    pb::RequestReissueRequest {
        license_id: license_id.into(),
        fingerprint: fingerprint.into(),
        request_id: request_id.into(),
    }
}

async fn verify(server: &TestServer, key: &str, fingerprint: &str) -> pb::VerifyKeyResponse {
    server
        .licenses(Some(&server.staff_token))
        .await
        .verify_key(pb::VerifyKeyRequest {
            key: key.into(),
            fingerprint: fingerprint.into(),
        })
        .await
        .unwrap()
        .into_inner()
}

/// A server on `db` whose clock reads now (the keys are checked offline
/// against the real time too).
async fn server_now(db: &crate::common::TestDb, settings: Settings) -> TestServer {
    let server = TestServer::start_full(db, ServeOptions::default(), settings).await;
    server.clock.set(Utc::now());
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_key_and_key_verify_report_the_match_kind_and_the_changed_components() {
    for db in test_databases().await {
        let server = server_now(&db, Settings::default()).await;
        let original = original();
        let key = licensed(&server, "F", &original).await;

        let tolerated = verify(&server, &key.key, &new_nic()).await;
        assert!(tolerated.valid, "{}: {tolerated:?}", server.label);
        assert!(tolerated.fingerprint_matches);
        assert_eq!(
            tolerated.fingerprint_match,
            pb::FingerprintMatch::Tolerated as i32
        );
        assert_eq!(tolerated.changed_components, ["nic"]);
        let after_reinstall = verify(&server, &key.key, &reinstalled()).await;
        assert!(after_reinstall.valid);
        assert_eq!(after_reinstall.changed_components, ["machine"]);
        let exact = verify(&server, &key.key, &original).await;
        assert_eq!(
            (
                exact.valid,
                exact.fingerprint_match,
                exact.changed_components.len()
            ),
            (true, pb::FingerprintMatch::Exact as i32, 0)
        );
        let restored = verify(&server, &key.key, &restored_elsewhere()).await;
        assert!(!restored.valid);
        assert_eq!(restored.reason, "FINGERPRINT_MISMATCH");
        assert_eq!(
            restored.fingerprint_match,
            pb::FingerprintMatch::Mismatch as i32
        );
        assert_eq!(restored.changed_components, ["board", "disk", "nic"]);
        let none = verify(&server, &key.key, "").await;
        assert_eq!(
            none.fingerprint_match,
            pb::FingerprintMatch::Unspecified as i32
        );

        // A version 1 key matches exactly as before.
        let v1 = "nsfp1:0123456789abcdef0123456789abcdef01234567";
        let old = licensed(&server, "G", v1).await;
        let same = verify(&server, &old.key, v1).await;
        assert!(same.valid && same.fingerprint_match == pb::FingerprintMatch::Exact as i32);
        let other = verify(
            &server,
            &old.key,
            "nsfp1:89abcdef0123456789abcdef0123456789abcdef",
        )
        .await;
        assert_eq!(
            (other.valid, other.reason.as_str()),
            (false, "FINGERPRINT_MISMATCH")
        );

        // `key verify`, offline (the server's own public keys) and online.
        let dir = server.keys_dir.path().to_str().unwrap().to_owned();
        let offline = client(&[
            "--json",
            "key",
            "verify",
            "--public-keys",
            &dir,
            "--fingerprint",
            &new_nic(),
            &key.key,
        ]);
        assert_eq!(offline.status.code(), Some(0), "{offline:?}");
        let json = json_of(&offline);
        assert_eq!(
            (json["match"].as_str(), json["changed"].clone()),
            (Some("tolerated"), serde_json::json!(["nic"]))
        );
        let text = client(&[
            "key",
            "verify",
            "--public-keys",
            &dir,
            "--fingerprint",
            &new_nic(),
            &key.key,
        ]);
        assert_eq!(
            stdout_text(&text).trim(),
            format!("valid: {} (tolerated, changed: nic)", key.key_id)
        );
        let refused = client(&[
            "--json",
            "key",
            "verify",
            "--public-keys",
            &dir,
            "--fingerprint",
            &restored_elsewhere(),
            &key.key,
        ]);
        assert_eq!(refused.status.code(), Some(1));
        let json = json_of(&refused);
        assert_eq!(json["reason"], "FINGERPRINT_MISMATCH");
        assert_eq!(json["match"], "mismatch");
        assert_eq!(json["changed"], serde_json::json!(["board", "disk", "nic"]));
        let online = client(&[
            "--json",
            "--server",
            &server.url,
            "--token",
            &server.staff_token,
            "key",
            "verify",
            "--online",
            "--fingerprint",
            &reinstalled(),
            &key.key,
        ]);
        assert_eq!(online.status.code(), Some(0), "{online:?}");
        let json = json_of(&online);
        assert_eq!(json["match"], "tolerated");
        assert_eq!(json["changed"], serde_json::json!(["machine"]));
        assert_eq!(json["status"], "active");

        // A version 2 fingerprint no machine could match binds no key.
        let hollow = fingerprint_of(&[MACHINE, NIC]);
        let refused = server
            .licenses(Some(&server.staff_token))
            .await
            .request_reissue(reissue("LIC-F", &hollow, "hollow"))
            .await
            .unwrap_err();
        assert_eq!(crate::common::bad_fields(&refused), ["fingerprint"]);
        server.stop().await;
        db.drop_database().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tolerated_reissue_returns_the_current_key_and_counts_no_transfer() {
    for db in test_databases().await {
        let settings = Settings {
            reissues_before_review: 1,
            ..Default::default()
        };
        let server = server_now(&db, settings).await;
        let first = licensed(&server, "T", &original()).await;
        let mut licenses = server.licenses(Some(&server.staff_token)).await;
        for (request_id, fingerprint, changed) in
            [("nic", new_nic(), "nic"), ("os", reinstalled(), "machine")]
        {
            let answer = licenses
                .request_reissue(reissue("LIC-T", &fingerprint, request_id))
                .await
                .unwrap()
                .into_inner();
            assert_eq!(
                (answer.status, answer.key.as_str()),
                (pb::ReissueStatus::Unchanged as i32, first.key.as_str()),
                "{}: {request_id}",
                server.label
            );
            assert_eq!(answer.reissue.unwrap().changed_components, [changed]);
        }
        // Staff see what changed in the list.
        let listed = licenses
            .list_reissues(pb::ListReissuesRequest {
                status: pb::ReissueStatus::Unchanged as i32,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .reissues;
        let mut changed: Vec<Vec<String>> = listed
            .iter()
            .map(|r| r.changed_components.clone())
            .collect();
        changed.sort();
        assert_eq!(
            changed,
            [vec!["machine".to_owned()], vec!["nic".to_owned()]]
        );
        // No transfer counted: the one reissue of the allowance is still
        // there for the image restored elsewhere.
        let moved = licenses
            .request_reissue(reissue("LIC-T", &restored_elsewhere(), "moved"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            moved.status,
            pb::ReissueStatus::Issued as i32,
            "{}",
            server.label
        );
        let shown = licenses
            .get_reissue(pb::GetReissueRequest {
                id: moved.reissue.unwrap().id,
            })
            .await
            .unwrap()
            .into_inner()
            .reissue
            .unwrap();
        assert_eq!(shown.changed_components, ["board", "disk", "nic"]);
        // `reissue show` prints them for staff.
        let show = client(&[
            "--server",
            &server.url,
            "--token",
            &server.staff_token,
            "reissue",
            "show",
            &shown.id,
        ]);
        assert!(
            stdout_text(&show).contains("changed: board,disk,nic"),
            "{show:?}"
        );
        server.stop().await;
        db.drop_database().await;
    }
}

/// A server where every reissue of a keyed license waits for review, its
/// clock at now, and a license `LIC-id` keyed to the original machine.
async fn waiting_server(db: &crate::common::TestDb, days: i64) -> TestServer {
    let settings = Settings {
        reissues_before_review: 0,
        provisional_key_days: days,
        ..Default::default()
    };
    server_now(db, settings).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reissue_waiting_for_review_gets_a_provisional_key_until_staff_decide() {
    for db in test_databases().await {
        let server = waiting_server(&db, 30).await;
        let received = server.clock.now();
        let old = licensed(&server, "P", &original()).await;
        let mut licenses = server.licenses(Some(&server.staff_token)).await;
        let moved = restored_elsewhere();

        // Issued while pending: bound to the requested fingerprint, exp
        // 30 days after receipt, "provisional": true.
        let answer = licenses
            .request_reissue(reissue("LIC-P", &moved, "move-1"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            answer.status,
            pb::ReissueStatus::PendingReview as i32,
            "{}",
            server.label
        );
        assert!(answer.key.is_empty());
        assert!(!answer.provisional_key.is_empty());
        assert_eq!(answer.no_provisional_key_reason, "");
        let verifier = server.keyring.verifier();
        let claims = verifier.verify(&answer.provisional_key).unwrap().claims;
        assert!(claims.provisional);
        assert_eq!(claims.fingerprint, moved);
        let expires_at = claims.expires_at().unwrap();
        assert_eq!(
            expires_at.timestamp(),
            (received + Duration::days(30)).timestamp()
        );
        assert_eq!(
            neo_support::pb::datetime(answer.provisional_key_expires_at.as_ref().unwrap())
                .map(|at| at.timestamp()),
            Some(expires_at.timestamp())
        );
        let valid = verify(&server, &answer.provisional_key, &moved).await;
        assert!(valid.valid, "{valid:?}");
        assert_eq!(valid.status, pb::KeyStatus::Provisional as i32);
        let reported = valid.claims.unwrap();
        assert!(reported.provisional);
        assert_eq!(
            neo_support::pb::datetime(reported.expires_at.as_ref().unwrap())
                .map(|at| at.timestamp()),
            Some(expires_at.timestamp())
        );
        // The old key stays the license's active key meanwhile.
        assert!(verify(&server, &old.key, &original()).await.valid);

        // The same request id answers the same provisional key.
        let again = licenses
            .request_reissue(reissue("LIC-P", &moved, "move-1"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(again.provisional_key, answer.provisional_key);
        assert_eq!(
            again.provisional_key_expires_at,
            answer.provisional_key_expires_at
        );
        // And through the CLI: the JSON field of the same name, and the
        // text says until when.
        let cli = |json: bool| {
            let mut args = vec![
                "--server",
                server.url.as_str(),
                "--token",
                server.staff_token.as_str(),
            ];
            if json {
                args.push("--json");
            }
            args.extend([
                "reissue",
                "request",
                "--license",
                "LIC-P",
                "--fingerprint",
                moved.as_str(),
                "--request-id",
                "move-1",
            ]);
            client(&args)
        };
        let json = json_of(&cli(true));
        assert_eq!(json["status"], "pending_review");
        assert_eq!(json["provisional_key"], answer.provisional_key.as_str());
        // Issue 14: a reissue that waits exits 3 with nothing on stdout
        // (`NEW_KEY=$(...)` captures no provisional key); the provisional
        // key and its expiry, in JST, go to stderr.
        let waiting = cli(false);
        assert_eq!(waiting.status.code(), Some(3), "{waiting:?}");
        assert!(stdout_text(&waiting).is_empty(), "{waiting:?}");
        let jst = |at: chrono::DateTime<chrono::Utc>| {
            at.with_timezone(&neo_support::domain::dates::jst())
                .format("%Y-%m-%d %H:%M:%S %:z")
                .to_string()
        };
        let text = String::from_utf8_lossy(&waiting.stderr).into_owned();
        assert!(
            text.contains(&format!(
                "provisional key until {}:\n{}",
                jst(expires_at),
                answer.provisional_key
            )),
            "{text}"
        );

        // `key verify` says until when, offline and online.
        let dir = server.keys_dir.path().to_str().unwrap().to_owned();
        let until = jst(expires_at);
        let offline = client(&[
            "key",
            "verify",
            "--public-keys",
            &dir,
            "--fingerprint",
            &moved,
            &answer.provisional_key,
        ]);
        assert_eq!(offline.status.code(), Some(0), "{offline:?}");
        assert!(
            stdout_text(&offline).contains(&format!("provisional until {until}")),
            "{offline:?}"
        );
        let online = client(&[
            "--json",
            "--server",
            &server.url,
            "--token",
            &server.staff_token,
            "key",
            "verify",
            "--online",
            &answer.provisional_key,
        ]);
        let json = json_of(&online);
        assert_eq!(
            (json["valid"].clone(), json["status"].clone()),
            (Value::Bool(true), "provisional".into())
        );
        assert_eq!(json["provisional"], true);
        // JSON keeps RFC 3339 UTC.
        assert_eq!(
            json["expires_at"],
            expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );

        // The customer's mail says a provisional key was issued, until
        // when, and by which business day staff decide.
        let outbox = server
            .store
            .list_outbox(&neo_support::store::outbox::OutboxQuery {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        let mail = outbox
            .iter()
            .find(|m| m.kind == "reissue_review")
            .expect("the review mail");
        let until_jst = expires_at
            .with_timezone(&neo_support::domain::dates::jst())
            .format("%Y-%m-%d %H:%M")
            .to_string();
        for part in [
            "暫定ライセンスキー",
            until_jst.as_str(),
            answer.delivery_on.as_str(),
            "審査結果のご連絡期限",
            answer.provisional_key.as_str(),
        ] {
            assert!(mail.body.contains(part), "{part} in {}", mail.body);
        }

        // Approved: the permanent key supersedes the provisional one; the
        // provisional key took no place in the license's sequence.
        let id = answer.reissue.unwrap().id;
        let approved = licenses
            .approve_reissue(pb::ApproveReissueRequest { id: id.clone() })
            .await
            .unwrap()
            .into_inner()
            .reissue
            .unwrap();
        let permanent = approved.license_key.unwrap();
        assert_eq!(permanent.sequence, 2);
        let provisional = approved.provisional_key.unwrap();
        assert_eq!(provisional.status, pb::KeyStatus::Superseded as i32);
        assert_eq!(provisional.superseded_by_key_id, permanent.key_id);
        let superseded = verify(&server, &answer.provisional_key, &moved).await;
        assert_eq!(
            (superseded.valid, superseded.reason.as_str()),
            (false, "KEY_SUPERSEDED")
        );
        assert_eq!(superseded.superseded_by_key_id, permanent.key_id);
        assert!(verify(&server, &permanent.key, &moved).await.valid);
        server.stop().await;
        db.drop_database().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_reissue_revokes_its_provisional_key_and_the_server_refuses_it_after_exp() {
    for db in test_databases().await {
        let server = waiting_server(&db, 30).await;
        let received = server.clock.now();
        licensed(&server, "R", &original()).await;
        let mut licenses = server.licenses(Some(&server.staff_token)).await;
        let moved = restored_elsewhere();
        let answer = licenses
            .request_reissue(reissue("LIC-R", &moved, "r-1"))
            .await
            .unwrap()
            .into_inner();
        let provisional = answer.provisional_key.clone();
        // Before exp the server takes it; at exp it refuses it.
        server
            .clock
            .set(received + Duration::days(30) - Duration::seconds(2));
        assert!(
            verify(&server, &provisional, &moved).await.valid,
            "{}",
            server.label
        );
        server.clock.set(received + Duration::days(30));
        let expired = verify(&server, &provisional, &moved).await;
        assert_eq!(
            (expired.valid, expired.reason.as_str()),
            (false, "KEY_EXPIRED")
        );
        server.clock.set(received);

        let rejected = licenses
            .reject_reissue(pb::RejectReissueRequest {
                id: answer.reissue.unwrap().id,
                reason: "the contract moved to another customer".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .reissue
            .unwrap();
        assert_eq!(
            rejected.provisional_key.unwrap().status,
            pb::KeyStatus::Revoked as i32
        );
        let revoked = verify(&server, &provisional, &moved).await;
        assert_eq!(
            (revoked.valid, revoked.reason.as_str()),
            (false, "KEY_REVOKED")
        );
        assert_eq!(revoked.status, pb::KeyStatus::Revoked as i32);
        server.stop().await;
        db.drop_database().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_provisional_key_when_staff_revoked_the_key_or_provisional_keys_are_off() {
    for db in test_databases().await {
        let server = waiting_server(&db, 30).await;
        let key = licensed(&server, "S", &original()).await;
        let mut licenses = server.licenses(Some(&server.staff_token)).await;
        licenses
            .revoke_key(pb::RevokeKeyRequest {
                key_id: key.key_id,
                reason: "leaked".into(),
            })
            .await
            .unwrap();
        let answer = licenses
            .request_reissue(reissue("LIC-S", &new_nic(), "s-1"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            answer.status,
            pb::ReissueStatus::PendingReview as i32,
            "{}",
            server.label
        );
        assert_eq!(answer.provisional_key, "");
        assert!(answer.reissue.unwrap().provisional_key.is_none());
        assert!(
            answer.no_provisional_key_reason.contains("revoked"),
            "{}",
            answer.no_provisional_key_reason
        );
        server.stop().await;
        db.drop_database().await;
    }
    for db in test_databases().await {
        let off = waiting_server(&db, 0).await;
        licensed(&off, "O", &original()).await;
        let answer = off
            .licenses(Some(&off.staff_token))
            .await
            .request_reissue(reissue("LIC-O", &restored_elsewhere(), "o-1"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(answer.status, pb::ReissueStatus::PendingReview as i32);
        assert_eq!(answer.provisional_key, "");
        assert!(answer.no_provisional_key_reason.contains("off"));
        off.stop().await;
        db.drop_database().await;
    }
}

/// The `check-key` example of the neo-license crate, which
/// `cargo test --workspace` builds beside this test binary.
fn check_key_example() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let path = exe.parent()?.parent()?.join("examples").join("check-key");
    path.exists().then_some(path)
}

fn check_key(example: &Path, args: &[&str]) -> Output {
    Command::new(example)
        .args(args)
        .output()
        .expect("run check-key")
}

/// Verifies `token` with pyseto under `paserk` (`k4.public`): `Ok` with
/// the payload, or `Err` with pyseto's error.
fn pyseto_verify(paserk: &str, token: &str) -> Option<Result<String, String>> {
    let script = r#"
import json, sys
import pyseto
key = pyseto.Key.from_paserk(sys.argv[1])
try:
    decoded = pyseto.decode(key, sys.argv[2], deserializer=json)
    print(json.dumps(decoded.payload))
except Exception as e:
    print("REFUSED " + type(e).__name__ + ": " + str(e))
"#;
    let available = Command::new("python3")
        .args(["-c", "import pyseto"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        skip_or_fail("pyseto is not installed (python3 -m pip install pyseto)");
        return None;
    }
    let output = Command::new("python3")
        .args(["-c", script, paserk, token])
        .output()
        .expect("run python3");
    assert!(output.status.success(), "{output:?}");
    let text = stdout_text(&output).trim().to_owned();
    Some(match text.strip_prefix("REFUSED ") {
        Some(error) => Err(error.to_owned()),
        None => Ok(text),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_provisional_key_is_refused_offline_by_our_library_the_example_and_pyseto() {
    let db = test_databases().await.remove(0);
    // Received three days ago with one-day provisional keys: expired two
    // days ago by the real clock.
    let server = waiting_server(&db, 1).await;
    let received = Utc::now() - Duration::days(3);
    server.clock.set(received);
    let key = licensed(&server, "X", &original()).await;
    let moved = restored_elsewhere();
    let answer = server
        .licenses(Some(&server.staff_token))
        .await
        .request_reissue(reissue("LIC-X", &moved, "x-1"))
        .await
        .unwrap()
        .into_inner();
    assert!(!answer.provisional_key.is_empty());

    // Our library: expired now, valid while it was not.
    let verifier = Verifier::from_dir(server.keys_dir.path()).unwrap();
    assert_eq!(
        verifier.verify(&answer.provisional_key),
        Err(VerifyFailure::Expired)
    );
    assert!(
        verifier
            .verify_at(&answer.provisional_key, received + Duration::hours(23))
            .is_ok()
    );
    assert!(
        verifier.verify(&key.key).is_ok(),
        "the permanent key never expires"
    );

    // The example, as an installation runs it at start.
    let dir = server.keys_dir.path().to_str().unwrap().to_owned();
    match check_key_example() {
        None => skip_or_fail("the check-key example is not built: run `cargo test --workspace`"),
        Some(example) => {
            let expired = check_key(
                &example,
                &[
                    "--public-keys",
                    &dir,
                    "--fingerprint",
                    &moved,
                    &answer.provisional_key,
                ],
            );
            assert_eq!(expired.status.code(), Some(1), "{expired:?}");
            assert!(stdout_text(&expired).contains("KEY_EXPIRED"), "{expired:?}");
            let file = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(file.path(), format!("{}\n", key.key)).unwrap();
            let at = format!("@{}", file.path().display());
            let valid = check_key(
                &example,
                &["--public-keys", &dir, "--fingerprint", &new_nic(), &at],
            );
            assert_eq!(valid.status.code(), Some(0), "{valid:?}");
            assert_eq!(
                stdout_text(&valid).trim(),
                format!("valid: {} (tolerated, changed: nic)", key.key_id)
            );
            let elsewhere = check_key(
                &example,
                &["--public-keys", &dir, "--fingerprint", &moved, &at],
            );
            assert_eq!(elsewhere.status.code(), Some(1), "{elsewhere:?}");
            assert!(stdout_text(&elsewhere).starts_with("not valid: FINGERPRINT_MISMATCH"));
        }
    }

    // `key verify` refuses it too.
    let offline = client(&[
        "--json",
        "key",
        "verify",
        "--public-keys",
        &dir,
        &answer.provisional_key,
    ]);
    assert_eq!(offline.status.code(), Some(1));
    assert_eq!(json_of(&offline)["reason"], "KEY_EXPIRED");

    // pyseto: the permanent key verifies, the expired provisional key not.
    let paserk = server.keyring.infos()[0].paserk.clone();
    if let Some(permanent) = pyseto_verify(&paserk, &key.key) {
        let payload: Value =
            serde_json::from_str(&permanent.expect("pyseto verifies the permanent key")).unwrap();
        assert_eq!(payload["jti"], key.key_id.as_str());
        let refused = pyseto_verify(&paserk, &answer.provisional_key).unwrap();
        let error = refused.expect_err("pyseto refuses the expired provisional key");
        assert!(error.to_lowercase().contains("expired"), "{error}");
    }
    server.stop().await;
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_air_gapped_flow_of_the_readme_works_as_written() {
    let db = test_databases().await.remove(0);
    let server = server_now(&db, Settings::default()).await;
    licensed(&server, "A", &original()).await;
    let work = tempfile::tempdir().unwrap();
    let at = |name: &str| work.path().join(name).to_str().unwrap().to_owned();
    let connected = |args: &[&str]| {
        let mut all = vec![
            "--server",
            server.url.as_str(),
            "--token",
            server.staff_token.as_str(),
        ];
        all.extend_from_slice(args);
        client(&all)
    };

    // On the closed server: `neo-support fingerprint > fingerprint.txt`
    // (with given components here, so that every machine running the
    // test has the three a key needs).
    let printed = client(&[
        "fingerprint",
        "--component",
        MACHINE,
        "--component",
        "board=new-board",
        "--component",
        "disk=new-disk",
        "--component",
        "nic=02:00:00:00:00:02",
    ]);
    assert!(printed.status.success(), "{printed:?}");
    std::fs::write(at("fingerprint.txt"), &printed.stdout).unwrap();
    let fingerprint = std::fs::read_to_string(at("fingerprint.txt"))
        .unwrap()
        .trim()
        .to_owned();

    // On a connected machine: the public keys and the reissue.
    let written = connected(&["keys", "public", "--write", &at("public-keys")]);
    assert!(written.status.success(), "{written:?}");
    let mut files: Vec<String> = std::fs::read_dir(at("public-keys"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(
        files[0].ends_with(".public.paserk") && files[1].ends_with(".public.pem"),
        "{files:?}"
    );
    let requested = connected(&[
        "reissue",
        "request",
        "--license",
        "LIC-A",
        "--fingerprint",
        &fingerprint,
        "--request-id",
        "move-2026-12",
    ]);
    assert!(requested.status.success(), "{requested:?}");
    std::fs::write(at("license.key"), &requested.stdout).unwrap();

    // Back on the closed server, offline.
    let key_file = format!("@{}", at("license.key"));
    let verified = client(&[
        "key",
        "verify",
        "--public-keys",
        &at("public-keys"),
        "--fingerprint",
        &fingerprint,
        &key_file,
    ]);
    assert_eq!(verified.status.code(), Some(0), "{verified:?}");
    let text = stdout_text(&verified);
    assert!(
        text.starts_with("valid: LK-") && text.trim_end().ends_with("(exact)"),
        "{text}"
    );
    // Either file of a key is enough: the PASERK alone verifies too.
    for file in &files {
        if file.ends_with(".pem") {
            std::fs::remove_file(work.path().join("public-keys").join(file)).unwrap();
        }
    }
    match check_key_example() {
        None => skip_or_fail("the check-key example is not built: run `cargo test --workspace`"),
        Some(example) => {
            let checked = check_key(
                &example,
                &[
                    "--public-keys",
                    &at("public-keys"),
                    "--fingerprint",
                    &fingerprint,
                    &key_file,
                ],
            );
            assert_eq!(checked.status.code(), Some(0), "{checked:?}");
            assert_eq!(
                stdout_text(&checked),
                text,
                "the example and key verify agree"
            );
        }
    }
    server.stop().await;
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neo_supportd_takes_the_provisional_key_days_from_its_flag() {
    use neo_support::client::{self, ClientOptions};
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}/neo.db", dir.path().display());
    let token = crate::common::staff_token_on(&database_url, "ops");
    let daemon = crate::common::Daemon::start_with(
        &database_url,
        &dir.path().join("keys"),
        &[
            "--reissues-before-review",
            "0",
            "--provisional-key-days",
            "7",
        ],
    );
    let options = ClientOptions {
        server: format!("http://{}", daemon.address),
        token: Some(token),
        ca_cert_pem: None,
    };
    let mut staff = client::support(&options).await.unwrap();
    staff
        .create_contract(new_contract("D", "LIC-D", 10, false))
        .await
        .unwrap();
    let start = a_month_ago();
    staff
        .record_order(first_year("D", &start, &start))
        .await
        .unwrap();
    let mut licenses = client::license(&options).await.unwrap();
    licenses
        .issue_first_key(pb::IssueFirstKeyRequest {
            license_id: "LIC-D".into(),
            fingerprint: original(),
        })
        .await
        .unwrap();
    let answer = licenses
        .request_reissue(reissue("LIC-D", &restored_elsewhere(), "d-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.status, pb::ReissueStatus::PendingReview as i32);
    let received = pb::datetime(answer.received_at.as_ref().unwrap()).unwrap();
    let expires = pb::datetime(answer.provisional_key_expires_at.as_ref().unwrap()).unwrap();
    assert_eq!(
        expires.timestamp(),
        (received + Duration::days(7)).timestamp()
    );
    let (status, _) = daemon.terminate();
    assert!(status.success());
}
