//! License keys against a real server on each database backend: first
//! keys, reissues with the 17:00 cutoff, review, idempotency,
//! supersession, revocation, verification and concurrency.

use crate::common::{
    TestServer, bad_fields, first_year, jst_at, new_contract, on_each_backend, reason,
    test_databases,
};
use neo_support::client::LicenseClient;
use neo_support::grpc::Settings;
use neo_support::pb;
use neo_support::pb::datetime;
use neo_support::server::ServeOptions;
use tonic::Code;

const OLD_SERVER: &str = "srv-old-0001.example:AAAA";
const NEW_SERVER: &str = "srv-new-0002.example:BBBB";

/// Contract `id` with license `LIC-id`, covered 2026-11-01 .. 2027-10-31,
/// and its first key bound to OLD_SERVER.
async fn licensed(server: &TestServer, id: &str) -> pb::LicenseKey {
    let mut staff = server.staff().await;
    staff
        .create_contract(new_contract(id, &format!("LIC-{id}"), 10, false))
        .await
        .unwrap();
    staff
        .record_order(first_year(id, "2026-10-20", "2026-10-20"))
        .await
        .unwrap();
    server
        .licenses(Some(&server.staff_token))
        .await
        .issue_first_key(pb::IssueFirstKeyRequest {
            license_id: format!("LIC-{id}"),
            fingerprint: OLD_SERVER.into(),
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

async fn verify(client: &mut LicenseClient, key: &str, fingerprint: &str) -> pb::VerifyKeyResponse {
    client
        .verify_key(pb::VerifyKeyRequest {
            key: key.into(),
            fingerprint: fingerprint.into(),
        })
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn a_first_key_needs_no_support_period_and_is_given_once() {
    on_each_backend(async |server| {
        let mut staff = server.staff().await;
        staff
            .create_contract(new_contract("P", "LIC-P", 10, false))
            .await
            .unwrap();
        let mut licenses = server.licenses(Some(&server.staff_token)).await;
        let bad = licenses
            .issue_first_key(pb::IssueFirstKeyRequest {
                license_id: "LIC-P".into(),
                fingerprint: "short".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(
            (bad.code(), bad_fields(&bad)),
            (Code::InvalidArgument, vec!["fingerprint".to_owned()]),
            "{}",
            server.label
        );
        for fingerprint in [
            "has spaces in the middle",
            "ｆｕｌｌｗｉｄｔｈ０１２３４５６７８９",
            &"x".repeat(129),
        ] {
            let bad = licenses
                .issue_first_key(pb::IssueFirstKeyRequest {
                    license_id: "LIC-P".into(),
                    fingerprint: fingerprint.into(),
                })
                .await
                .unwrap_err();
            assert_eq!(bad_fields(&bad), ["fingerprint"]);
        }
        let first = licenses
            .issue_first_key(pb::IssueFirstKeyRequest {
                license_id: "LIC-P".into(),
                fingerprint: OLD_SERVER.into(),
            })
            .await
            .unwrap()
            .into_inner();
        let key = first.license_key.unwrap();
        assert_eq!(
            (key.sequence, key.status),
            (1, pb::KeyStatus::Active as i32),
            "{}",
            server.label
        );
        assert!(key.key.starts_with("v4.public."));
        assert_eq!(first.delivery_on, "2026-11-25");
        let again = licenses
            .issue_first_key(pb::IssueFirstKeyRequest {
                license_id: "LIC-P".into(),
                fingerprint: NEW_SERVER.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(
            (again.code(), reason(&again)),
            (Code::FailedPrecondition, "FIRST_KEY_EXISTS".into())
        );
        let unknown = licenses
            .issue_first_key(pb::IssueFirstKeyRequest {
                license_id: "LIC-NOPE".into(),
                fingerprint: OLD_SERVER.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(
            (unknown.code(), reason(&unknown)),
            (Code::NotFound, "LICENSE_NOT_FOUND".into())
        );
        // The first key's e-mail is in the outbox.
        let outbox = server
            .store
            .list_outbox(&neo_support::store::outbox::OutboxQuery {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(outbox.len(), 1);
        assert!(
            outbox[0].subject.contains("ライセンスキー発行"),
            "{}",
            outbox[0].subject
        );
    })
    .await;
}

#[tokio::test]
async fn a_reissue_supersedes_the_old_key_in_one_step_and_queues_its_email() {
    on_each_backend(async |server| {
        let first = licensed(server, "R").await;
        let mut licenses = server.licenses(Some(&server.staff_token)).await;
        server.clock.set(jst_at(2026, 11, 25, 16, 59, 59));
        let answer = licenses
            .request_reissue(reissue("LIC-R", NEW_SERVER, "move-1"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            answer.status,
            pb::ReissueStatus::Issued as i32,
            "{}",
            server.label
        );
        assert_eq!(answer.delivery_on, "2026-11-25");
        assert_eq!(
            answer.received_at.as_ref().and_then(datetime),
            Some(jst_at(2026, 11, 25, 16, 59, 59))
        );
        assert!(answer.key.starts_with("v4.public."));

        let keys = licenses
            .list_license_keys(pb::ListLicenseKeysRequest {
                license_id: "LIC-R".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .license_keys;
        assert_eq!(keys.len(), 2);
        assert_eq!(
            (keys[0].key_id.as_str(), keys[0].status),
            (first.key_id.as_str(), pb::KeyStatus::Superseded as i32)
        );
        assert_eq!(keys[0].superseded_by_key_id, answer.key_id);
        assert_eq!(
            (
                keys[1].sequence,
                keys[1].status,
                keys[1].fingerprint.as_str()
            ),
            (2, pb::KeyStatus::Active as i32, NEW_SERVER)
        );
        assert_eq!(keys[1].supersedes_key_id, first.key_id);
        assert_eq!(keys[1].requested_by, "test staff");

        let outbox = server
            .store
            .list_outbox(&neo_support::store::outbox::OutboxQuery {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        let notice = outbox.last().unwrap();
        assert_eq!(
            notice.recipient, "it-admin@example.co.jp",
            "{}",
            server.label
        );
        assert_eq!(notice.due_on.to_string(), "2026-11-25");
        assert_eq!(
            notice.license_key_id.as_deref(),
            Some(answer.key_id.as_str())
        );
        assert!(
            notice.subject.contains("再発行") && notice.subject.contains("LIC-R"),
            "{}",
            notice.subject
        );
        for part in [
            NEW_SERVER,
            answer.key_id.as_str(),
            "2026-11-25",
            answer.key.as_str(),
        ] {
            assert!(notice.body.contains(part), "{part}");
        }

        // At 17:00:00 the delivery moves to the next business day; on the
        // Friday before 勤労感謝の日 it moves past the holiday Monday.
        server.clock.set(jst_at(2026, 11, 25, 17, 0, 0));
        let late = licenses
            .request_reissue(reissue("LIC-R", OLD_SERVER, "move-2"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(late.delivery_on, "2026-11-26");
        // Two reissues in 365 days are the default allowance: the third
        // waits for review, with its delivery date as the deadline (the
        // Friday before 勤労感謝の日 at 17:00 moves past the holiday Monday).
        server.clock.set(jst_at(2026, 11, 20, 17, 0, 0));
        let friday = licenses
            .request_reissue(reissue("LIC-R", NEW_SERVER, "move-3"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            friday.status,
            pb::ReissueStatus::PendingReview as i32,
            "{}",
            server.label
        );
        assert_eq!(friday.delivery_on, "2026-11-24");
        assert!(friday.key.is_empty());
    })
    .await;
}

#[tokio::test]
async fn the_same_fingerprint_returns_the_current_key_and_the_same_request_id_the_same_answer() {
    on_each_backend(async |server| {
        let first = licensed(server, "I").await;
        let mut licenses = server.licenses(Some(&server.staff_token)).await;
        let same = licenses
            .request_reissue(reissue("LIC-I", OLD_SERVER, "same-1"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (same.status, same.key.as_str()),
            (pb::ReissueStatus::Unchanged as i32, first.key.as_str()),
            "{}",
            server.label
        );

        // A clock with nanoseconds: the repeated answer must still be exact.
        server
            .clock
            .set(jst_at(2026, 11, 25, 10, 0, 0) + chrono::Duration::nanoseconds(123_456_789));
        let answer = licenses
            .request_reissue(reissue("LIC-I", NEW_SERVER, "req-1"))
            .await
            .unwrap()
            .into_inner();
        server.clock.set(jst_at(2026, 11, 26, 10, 0, 0));
        let repeated = licenses
            .request_reissue(reissue("LIC-I", NEW_SERVER, "req-1"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(repeated.key, answer.key, "{}", server.label);
        assert_eq!(repeated.key_id, answer.key_id);
        assert_eq!(repeated.received_at, answer.received_at);
        assert_eq!(repeated.delivery_on, answer.delivery_on);
        assert_eq!(repeated.status, pb::ReissueStatus::Issued as i32);
        let reused = licenses
            .request_reissue(reissue("LIC-I", OLD_SERVER, "req-1"))
            .await
            .unwrap_err();
        assert_eq!(
            (reused.code(), reason(&reused)),
            (Code::AlreadyExists, "REQUEST_ID_REUSED".into()),
            "{}",
            server.label
        );
        let keys = licenses
            .list_license_keys(pb::ListLicenseKeysRequest {
                license_id: "LIC-I".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .license_keys;
        assert_eq!(keys.len(), 2, "a repeated request signs nothing new");
        let bad = licenses
            .request_reissue(reissue("LIC-I", NEW_SERVER, ""))
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&bad), ["request_id"]);
        let bad = licenses
            .request_reissue(reissue("LIC-I", "bad fingerprint!!", "req-2"))
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&bad), ["fingerprint"]);
    })
    .await;
}

#[tokio::test]
async fn a_reissue_needs_an_active_contract_and_writes_nothing_otherwise() {
    on_each_backend(async |server| {
        licensed(server, "E").await;
        let mut licenses = server.licenses(Some(&server.staff_token)).await;
        server.clock.set(jst_at(2027, 11, 1, 9, 0, 0));
        let expired = licenses
            .request_reissue(reissue("LIC-E", NEW_SERVER, "late-1"))
            .await
            .unwrap_err();
        assert_eq!(
            (expired.code(), reason(&expired)),
            (Code::FailedPrecondition, "SUPPORT_EXPIRED".into()),
            "{}",
            server.label
        );
        let keys = licenses
            .list_license_keys(pb::ListLicenseKeysRequest {
                license_id: "LIC-E".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .license_keys;
        assert_eq!(keys.len(), 1, "{}", server.label);
        assert_eq!(
            server
                .store
                .list_outbox(&neo_support::store::outbox::OutboxQuery {
                    limit: 10,
                    ..Default::default()
                })
                .await
                .unwrap()
                .len(),
            1
        );
        let pending = licenses
            .list_reissues(pb::ListReissuesRequest::default())
            .await
            .unwrap()
            .into_inner()
            .reissues;
        assert!(pending.is_empty());
        // The last covered day is still fine.
        server.clock.set(jst_at(2027, 10, 31, 23, 0, 0));
        licenses
            .request_reissue(reissue("LIC-E", NEW_SERVER, "late-2"))
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn reissues_beyond_the_allowance_wait_for_staff_review() {
    for db in test_databases().await {
        let settings = Settings {
            reissues_before_review: 1,
            ..Default::default()
        };
        let server = TestServer::start_full(&db, ServeOptions::default(), settings).await;
        licensed(&server, "V").await;
        let mut staff = server.licenses(Some(&server.staff_token)).await;
        let token = server
            .staff()
            .await
            .create_access_token(pb::CreateAccessTokenRequest {
                contract_id: "V".into(),
                name: String::new(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .token;
        let mut customer = server.licenses(Some(&token)).await;

        let first = customer
            .request_reissue(reissue("LIC-V", NEW_SERVER, "c-1"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            first.status,
            pb::ReissueStatus::Issued as i32,
            "{}",
            db.label
        );
        let waiting = customer
            .request_reissue(reissue("LIC-V", "srv-third-0003.example", "c-2"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            waiting.status,
            pb::ReissueStatus::PendingReview as i32,
            "{}",
            db.label
        );
        assert!(waiting.key.is_empty());
        let waiting = waiting.reissue.unwrap();
        assert_eq!(
            waiting.review_reason, "",
            "why it waits is staff's note, not the customer's"
        );
        let waiting_id = waiting.id;
        // One request waits at a time: another request id is refused and
        // told which one waits.
        let second = customer
            .request_reissue(reissue("LIC-V", "srv-fourth-0004.example", "c-3"))
            .await
            .unwrap_err();
        assert_eq!(
            (second.code(), reason(&second)),
            (Code::FailedPrecondition, "REISSUE_PENDING".into()),
            "{}",
            db.label
        );
        assert!(
            second.message().contains(&waiting_id),
            "{}",
            second.message()
        );
        // Another license's request waits beside it.
        licensed(&server, "W").await;
        staff
            .request_reissue(reissue("LIC-W", NEW_SERVER, "w-1"))
            .await
            .unwrap();
        let w_id = staff
            .request_reissue(reissue("LIC-W", "srv-third-0003.example", "w-2"))
            .await
            .unwrap()
            .into_inner()
            .reissue
            .unwrap()
            .id;

        let denied = customer
            .list_reissues(pb::ListReissuesRequest::default())
            .await
            .unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied);
        server.clock.set(jst_at(2026, 11, 27, 10, 0, 0));
        let queue = staff
            .list_reissues(pb::ListReissuesRequest {
                page_size: 1,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(queue.reissues.len(), 1);
        assert!(
            queue.reissues[0].overdue,
            "the deadline 2026-11-25 has passed on 11-27"
        );
        let rest = staff
            .list_reissues(pb::ListReissuesRequest {
                page_size: 1,
                page_token: queue.next_page_token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(rest.reissues.len(), 1);
        assert!(rest.next_page_token.is_empty());
        let mut listed = vec![queue.reissues[0].id.clone(), rest.reissues[0].id.clone()];
        listed.sort();
        let mut expected = vec![waiting_id.clone(), w_id.clone()];
        expected.sort();
        assert_eq!(listed, expected, "both pending requests, one per page");

        let approved = staff
            .approve_reissue(pb::ApproveReissueRequest {
                id: waiting_id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .reissue
            .unwrap();
        assert_eq!(
            approved.status,
            pb::ReissueStatus::Approved as i32,
            "{}",
            db.label
        );
        assert_eq!(approved.decided_by, "test staff");
        assert!(
            approved.review_reason.contains("allowance"),
            "staff see why it waited: {}",
            approved.review_reason
        );
        let key = approved.license_key.unwrap();
        assert_eq!(
            (key.sequence, key.fingerprint.as_str()),
            (3, "srv-third-0003.example")
        );
        let again = staff
            .approve_reissue(pb::ApproveReissueRequest {
                id: waiting_id.clone(),
            })
            .await
            .unwrap_err();
        assert_eq!(
            (again.code(), reason(&again)),
            (Code::FailedPrecondition, "REISSUE_NOT_PENDING".into())
        );
        staff
            .reject_reissue(pb::RejectReissueRequest {
                id: w_id,
                reason: "別件".into(),
            })
            .await
            .unwrap();
        // Decided: the customer may ask again, and waits again.
        let other_id = customer
            .request_reissue(reissue("LIC-V", "srv-fourth-0004.example", "c-4"))
            .await
            .unwrap()
            .into_inner()
            .reissue
            .unwrap()
            .id;

        let no_reason = staff
            .reject_reissue(pb::RejectReissueRequest {
                id: other_id.clone(),
                reason: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&no_reason), ["reason"]);
        let rejected = staff
            .reject_reissue(pb::RejectReissueRequest {
                id: other_id.clone(),
                reason: "同一年度内の移設が多すぎるため".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .reissue
            .unwrap();
        assert_eq!(rejected.status, pb::ReissueStatus::Rejected as i32);
        let seen = customer
            .get_reissue(pb::GetReissueRequest {
                id: waiting_id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .reissue
            .unwrap();
        assert_eq!(seen.status, pb::ReissueStatus::Approved as i32);
        let seen = customer
            .get_reissue(pb::GetReissueRequest {
                id: other_id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .reissue
            .unwrap();
        assert_eq!(
            (seen.status, seen.reject_reason.as_str()),
            (
                pb::ReissueStatus::Rejected as i32,
                "同一年度内の移設が多すぎるため"
            )
        );
        let unknown = staff
            .approve_reissue(pb::ApproveReissueRequest {
                id: "RR-NOPE".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(unknown.code(), Code::NotFound);
        let pending = staff
            .list_reissues(pb::ListReissuesRequest::default())
            .await
            .unwrap()
            .into_inner()
            .reissues;
        assert!(pending.is_empty(), "{}", db.label);
        server.stop().await;
        db.drop_database().await;
    }
}

#[tokio::test]
async fn verification_tells_active_superseded_revoked_and_forged_keys_apart() {
    on_each_backend(async |server| {
        let first = licensed(server, "K").await;
        let mut licenses = server.licenses(Some(&server.staff_token)).await;
        // Verified once, the first key's record is in the server's cache;
        // the reissue below must still show it superseded at once.
        assert!(verify(&mut licenses, &first.key, OLD_SERVER).await.valid);
        let second = licenses
            .request_reissue(reissue("LIC-K", NEW_SERVER, "k-1"))
            .await
            .unwrap()
            .into_inner();

        let valid = verify(&mut licenses, &second.key, NEW_SERVER).await;
        assert!(valid.valid, "{valid:?} on {}", server.label);
        assert_eq!(
            (valid.status, valid.fingerprint_matches),
            (pb::KeyStatus::Active as i32, true)
        );
        let claims = valid.claims.unwrap();
        assert_eq!(
            (
                claims.license_id.as_str(),
                claims.contract_id.as_str(),
                claims.sequence
            ),
            ("LIC-K", "K", 2)
        );
        assert_eq!(
            (
                claims.supersedes_key_id.as_str(),
                claims.support_ends_on.as_str()
            ),
            (first.key_id.as_str(), "2027-10-31")
        );
        assert_eq!(claims.seats, 10);

        let wrong_server = verify(&mut licenses, &second.key, OLD_SERVER).await;
        assert_eq!(
            (wrong_server.valid, wrong_server.reason.as_str()),
            (false, "FINGERPRINT_MISMATCH")
        );
        let old = verify(&mut licenses, &first.key, "").await;
        assert_eq!((old.valid, old.reason.as_str()), (false, "KEY_SUPERSEDED"));
        assert_eq!(old.superseded_by_key_id, second.key_id);

        // Tampered, truncated, other version or purpose, foreign signer.
        let mut tampered = second.key.clone();
        let body_end = tampered.rfind('.').unwrap() - 1;
        let flipped = if tampered.as_bytes()[body_end - 5] == b'A' {
            "B"
        } else {
            "A"
        };
        tampered.replace_range(body_end - 5..body_end - 4, flipped);
        assert_eq!(
            verify(&mut licenses, &tampered, "").await.reason,
            "SIGNATURE_INVALID"
        );
        let truncated = &second.key[..second.key.len() / 2];
        let reason_truncated = verify(&mut licenses, truncated, "").await.reason;
        assert!(
            ["KEY_MALFORMED", "SIGNATURE_INVALID"].contains(&reason_truncated.as_str()),
            "{reason_truncated}"
        );
        assert_eq!(
            verify(&mut licenses, "not a key", "").await.reason,
            "KEY_MALFORMED"
        );
        let local = second.key.replacen("v4.public.", "v4.local.", 1);
        assert_eq!(
            verify(&mut licenses, &local, "").await.reason,
            "KEY_UNSUPPORTED"
        );
        let v3 = second.key.replacen("v4.public.", "v3.public.", 1);
        assert_eq!(
            verify(&mut licenses, &v3, "").await.reason,
            "KEY_UNSUPPORTED"
        );
        let foreign_dir = tempfile::tempdir().unwrap();
        let (foreign, _) =
            neo_support::signer::keys::Keyring::load_or_create(foreign_dir.path()).unwrap();
        let fp = neo_support::domain::license::Fingerprint::parse(NEW_SERVER).unwrap();
        let claims = neo_support::domain::license::LicenseClaims::new(
            "LK-FORGED",
            "LIC-K",
            "K",
            999,
            &fp,
            9,
            None,
            None,
            chrono::Utc::now(),
        );
        let forged = foreign.sign(&claims);
        assert_eq!(
            verify(&mut licenses, &forged, "").await.reason,
            "SIGNING_KEY_UNKNOWN"
        );
        // Signed by the server's own key but never issued: not on record.
        let stray = neo_support::domain::license::LicenseClaims::new(
            "LK-STRAY",
            "LIC-K",
            "K",
            10,
            &fp,
            9,
            None,
            None,
            chrono::Utc::now(),
        );
        let stray_key = server.keyring.sign(&stray);
        assert_eq!(
            verify(&mut licenses, &stray_key, "").await.reason,
            "KEY_NOT_ON_RECORD"
        );

        // Revocation.
        let revoked = licenses
            .revoke_key(pb::RevokeKeyRequest {
                key_id: second.key_id.clone(),
                reason: "顧客からの紛失連絡".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .license_key
            .unwrap();
        assert_eq!(
            (revoked.status, revoked.revoke_reason.as_str()),
            (pb::KeyStatus::Revoked as i32, "顧客からの紛失連絡")
        );
        assert_eq!(
            verify(&mut licenses, &second.key, NEW_SERVER).await.reason,
            "KEY_REVOKED"
        );
        let twice = licenses
            .revoke_key(pb::RevokeKeyRequest {
                key_id: second.key_id.clone(),
                reason: "x".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(reason(&twice), "KEY_ALREADY_REVOKED");
        let missing = licenses
            .revoke_key(pb::RevokeKeyRequest {
                key_id: "LK-NOPE".into(),
                reason: "x".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(missing.code(), Code::NotFound);
        let keys = licenses
            .list_license_keys(pb::ListLicenseKeysRequest {
                license_id: "LIC-K".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .license_keys;
        assert_eq!(keys.len(), 2, "every key stays on record");
    })
    .await;
}

#[tokio::test]
async fn signing_keys_are_public_and_verify_issued_keys_offline() {
    on_each_backend(async |server| {
        let first = licensed(server, "G").await;
        let mut anonymous = server.licenses(None).await;
        let keys = anonymous
            .get_signing_keys(pb::GetSigningKeysRequest {})
            .await
            .unwrap()
            .into_inner()
            .signing_keys;
        assert_eq!(keys.len(), 1, "{}", server.label);
        assert_eq!(keys[0].status, pb::SigningKeyStatus::Active as i32);
        assert!(keys[0].public_key_pem.contains("BEGIN PUBLIC KEY"));
        let public = neo_support::signer::paserk::parse_k4_public(&keys[0].paserk).unwrap();
        let verifier = neo_support::signer::Verifier::new([public]);
        let verified = verifier.verify(&first.key).unwrap();
        assert_eq!(verified.signing_key_id, keys[0].id);
        assert_eq!(verified.claims.jti, first.key_id);
        let denied = anonymous
            .verify_key(pb::VerifyKeyRequest {
                key: first.key.clone(),
                fingerprint: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(denied.code(), Code::Unauthenticated);
    })
    .await;
}

#[tokio::test]
async fn a_customer_reissues_only_its_own_license() {
    on_each_backend(async |server| {
        licensed(server, "MINE").await;
        licensed(server, "THEIRS").await;
        let token = server
            .staff()
            .await
            .create_access_token(pb::CreateAccessTokenRequest {
                contract_id: "MINE".into(),
                name: String::new(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .token;
        let mut customer = server.licenses(Some(&token)).await;
        let mine = customer
            .request_reissue(reissue("LIC-MINE", NEW_SERVER, "m-1"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            mine.status,
            pb::ReissueStatus::Issued as i32,
            "{}",
            server.label
        );
        let theirs = customer
            .request_reissue(reissue("LIC-THEIRS", NEW_SERVER, "m-2"))
            .await
            .unwrap_err();
        let nowhere = customer
            .request_reissue(reissue("LIC-NOWHERE", NEW_SERVER, "m-3"))
            .await
            .unwrap_err();
        assert_eq!(
            (theirs.code(), reason(&theirs)),
            (nowhere.code(), reason(&nowhere))
        );
        assert_eq!(theirs.code(), Code::NotFound);
        let denied = customer
            .issue_first_key(pb::IssueFirstKeyRequest {
                license_id: "LIC-MINE".into(),
                fingerprint: NEW_SERVER.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied);
        let denied = customer
            .revoke_key(pb::RevokeKeyRequest {
                key_id: mine.key_id.clone(),
                reason: "x".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied);
        let hidden = customer
            .list_license_keys(pb::ListLicenseKeysRequest {
                license_id: "LIC-THEIRS".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(hidden.code(), Code::NotFound);
        assert_eq!(
            server
                .store
                .list_license_keys("LIC-THEIRS")
                .await
                .unwrap()
                .len(),
            1
        );
    })
    .await;
}

#[tokio::test]
async fn many_reissues_at_once_leave_one_active_key_and_no_gaps() {
    for db in test_databases().await {
        let settings = Settings {
            reissues_before_review: 1000,
            ..Default::default()
        };
        let server = TestServer::start_full(&db, ServeOptions::default(), settings).await;
        licensed(&server, "C").await;
        let mut clients = Vec::new();
        for _ in 0..4 {
            clients.push(server.licenses(Some(&server.staff_token)).await);
        }
        let calls: Vec<_> = (0..24)
            .map(|i| {
                let mut client = clients[i % clients.len()].clone();
                tokio::spawn(async move {
                    let fingerprint = format!("srv-concurrent-{i:04}.example");
                    client
                        .request_reissue(reissue("LIC-C", &fingerprint, &format!("c-{i}")))
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
            assert_eq!(
                answer.status,
                pb::ReissueStatus::Issued as i32,
                "{}",
                db.label
            );
            received.push((answer.key_id, answer.key));
        }
        let keys = server.store.list_license_keys("LIC-C").await.unwrap();
        let sequences: Vec<i64> = keys.iter().map(|k| k.sequence).collect();
        assert_eq!(sequences, (1..=25).collect::<Vec<_>>(), "{}", db.label);
        let active: Vec<_> = keys
            .iter()
            .filter(|k| k.status == neo_support::domain::license::KeyStatus::Active)
            .collect();
        assert_eq!(active.len(), 1, "{}", db.label);
        assert_eq!(active[0].sequence, 25);
        for (key_id, token) in &received {
            let record = keys
                .iter()
                .find(|k| &k.id == key_id)
                .expect("every key a client received is on record");
            assert_eq!(&record.token, token);
        }
        for pair in keys.windows(2) {
            assert_eq!(
                pair[1].supersedes.as_deref(),
                Some(pair[0].id.as_str()),
                "{}",
                db.label
            );
        }
        assert_eq!(
            server
                .store
                .list_outbox(&neo_support::store::outbox::OutboxQuery {
                    limit: 100,
                    ..Default::default()
                })
                .await
                .unwrap()
                .len(),
            25
        );
        server.stop().await;
        db.drop_database().await;
    }
}

/// A customer token for contract `id`.
async fn customer_token(server: &TestServer, id: &str) -> String {
    server
        .staff()
        .await
        .create_access_token(pb::CreateAccessTokenRequest {
            contract_id: id.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .token
}

#[tokio::test]
async fn after_staff_revoke_a_licenses_key_its_next_reissue_waits_for_review_with_the_reason() {
    on_each_backend(async |server| {
        let first = licensed(server, "X").await;
        let mut licenses = server.licenses(Some(&server.staff_token)).await;
        let mut customer = server
            .licenses(Some(&customer_token(server, "X").await))
            .await;
        licenses
            .revoke_key(pb::RevokeKeyRequest {
                key_id: first.key_id.clone(),
                reason: "不正利用".into(),
            })
            .await
            .unwrap();
        // Nothing reissued this year, so the allowance would sign it: the
        // revocation alone sends it to review.
        let waiting = customer
            .request_reissue(reissue("LIC-X", NEW_SERVER, "x-1"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            waiting.status,
            pb::ReissueStatus::PendingReview as i32,
            "{}",
            server.label
        );
        assert!(waiting.key.is_empty());
        let waiting = waiting.reissue.unwrap();
        assert_eq!(waiting.review_reason, "", "not shown to the customer");
        let again = customer
            .request_reissue(reissue("LIC-X", OLD_SERVER, "x-2"))
            .await
            .unwrap_err();
        assert_eq!(reason(&again), "REISSUE_PENDING");

        // Staff see why, in the queue and on the request.
        let queue = licenses
            .list_reissues(pb::ListReissuesRequest::default())
            .await
            .unwrap()
            .into_inner()
            .reissues;
        assert_eq!(queue.len(), 1);
        assert!(
            queue[0].review_reason.contains("不正利用")
                && queue[0].review_reason.contains(&first.key_id),
            "{}",
            queue[0].review_reason
        );
        let shown = licenses
            .get_reissue(pb::GetReissueRequest {
                id: waiting.id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .reissue
            .unwrap();
        assert_eq!(shown.review_reason, queue[0].review_reason);

        // Approved, the license has an active key again; a revoked key is
        // not superseded.
        let approved = licenses
            .approve_reissue(pb::ApproveReissueRequest {
                id: waiting.id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .reissue
            .unwrap();
        let key = approved.license_key.unwrap();
        assert_ne!(key.key_id, first.key_id);
        let keys = server.store.list_license_keys("LIC-X").await.unwrap();
        assert_eq!(
            keys.iter()
                .filter(|k| k.status == neo_support::domain::license::KeyStatus::Active)
                .count(),
            1
        );
        assert_eq!(keys[1].supersedes, None, "a revoked key is not superseded");
        // After the approval the customer reissues by itself again.
        let later = customer
            .request_reissue(reissue("LIC-X", "srv-third-0003.example", "x-3"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(later.status, pb::ReissueStatus::Issued as i32);

        let mut staff = server.staff().await;
        staff
            .create_contract(new_contract("Y", "LIC-Y", 10, false))
            .await
            .unwrap();
        staff
            .record_order(first_year("Y", "2026-10-20", "2026-10-20"))
            .await
            .unwrap();
        let none = licenses
            .request_reissue(reissue("LIC-Y", NEW_SERVER, "y-1"))
            .await
            .unwrap_err();
        assert_eq!(
            (none.code(), reason(&none)),
            (Code::FailedPrecondition, "NO_FIRST_KEY".into())
        );
    })
    .await;
}

#[tokio::test]
async fn thirty_reissue_requests_at_once_leave_one_request_waiting_for_review() {
    on_each_backend(async |server| {
        licensed(server, "Z").await;
        let customer = server
            .licenses(Some(&customer_token(server, "Z").await))
            .await;
        let calls: Vec<_> = (0..30)
            .map(|i| {
                let mut client = customer.clone();
                let request = reissue(
                    "LIC-Z",
                    &format!("srv-flood-{i:04}.example"),
                    &format!("z-{i}"),
                );
                tokio::spawn(async move { client.request_reissue(request).await })
            })
            .collect();
        let (mut issued, mut pending, mut refused) = (0, Vec::new(), 0);
        for call in calls {
            match call.await.unwrap() {
                Ok(answer) => {
                    let answer = answer.into_inner();
                    if answer.status == pb::ReissueStatus::Issued as i32 {
                        issued += 1;
                    } else {
                        assert_eq!(answer.status, pb::ReissueStatus::PendingReview as i32);
                        pending.push(answer.reissue.unwrap().id);
                    }
                }
                Err(status) => {
                    assert_eq!(
                        (status.code(), reason(&status)),
                        (Code::FailedPrecondition, "REISSUE_PENDING".into()),
                        "{}: {status:?}",
                        server.label
                    );
                    refused += 1;
                }
            }
        }
        // The allowance (2) signs two; one waits; the rest are refused.
        assert_eq!(
            (issued, pending.len(), refused),
            (2, 1, 27),
            "{}",
            server.label
        );
        let queue = server
            .licenses(Some(&server.staff_token))
            .await
            .list_reissues(pb::ListReissuesRequest::default())
            .await
            .unwrap()
            .into_inner()
            .reissues;
        assert_eq!(
            queue.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
            pending,
            "{}",
            server.label
        );
        // The waiting request's own id still answers idempotently.
        let waiting = server
            .store
            .get_reissue(&pending[0])
            .await
            .unwrap()
            .unwrap();
        let mut customer = customer.clone();
        let repeated = customer
            .request_reissue(reissue("LIC-Z", &waiting.fingerprint, &waiting.request_id))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(repeated.reissue.unwrap().id, pending[0], "{}", server.label);
    })
    .await;
}
