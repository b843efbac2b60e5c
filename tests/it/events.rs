//! The audit trail: every change writes an event in its own transaction,
//! with the token's name and the request id; a refused change writes none.

use crate::common::{first_year, jst_at, new_contract, on_each_backend, order};
use neo_support::pb;
use neo_support::pb::timestamp;
use tonic::Code;

#[tokio::test]
async fn every_change_is_on_record_with_who_and_which_request() {
    on_each_backend(async |server| {
        let mut staff = server.staff().await;
        let mut request = tonic::Request::new(new_contract("E", "LIC-E", 10, false));
        request
            .metadata_mut()
            .insert("x-request-id", "req-audit-0001".parse().unwrap());
        staff.create_contract(request).await.unwrap();
        staff
            .record_order(first_year("E", "2026-10-20", "2026-10-20"))
            .await
            .unwrap();
        // Refused: writes no event.
        let refused = staff
            .record_order(order("E", pb::OrderKind::ReContinuation, "2026-11-01"))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::FailedPrecondition);
        let mut licenses = server.licenses(Some(&server.staff_token)).await;
        licenses
            .issue_first_key(pb::IssueFirstKeyRequest {
                license_id: "LIC-E".into(),
                fingerprint: "srv-audit-0001.example".into(),
            })
            .await
            .unwrap();
        let token = staff
            .create_access_token(pb::CreateAccessTokenRequest {
                contract_id: "E".into(),
                name: "E社 情報システム部".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let moved = server
            .licenses(Some(&token.token))
            .await
            .request_reissue(pb::RequestReissueRequest {
                license_id: "LIC-E".into(),
                fingerprint: "srv-audit-0002.example".into(),
                request_id: "audit-1".into(),
            })
            .await
            .unwrap()
            .into_inner();
        licenses
            .revoke_key(pb::RevokeKeyRequest {
                key_id: moved.key_id.clone(),
                reason: "テスト".into(),
            })
            .await
            .unwrap();
        staff
            .create_closure(pb::CreateClosureRequest {
                closure: Some(pb::Closure {
                    name: "夏期休暇".into(),
                    range: Some(pb::closure::Range::EveryYear(pb::MonthDayRange {
                        start_month_day: "08-13".into(),
                        end_month_day: "08-16".into(),
                    })),
                    ..Default::default()
                }),
            })
            .await
            .unwrap();

        let all = staff
            .list_events(pb::ListEventsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .events;
        // The harness made its staff token on the database directly.
        assert_eq!(
            (all[0].kind.as_str(), all[0].actor.as_str()),
            ("token.created", "neo-supportd"),
            "{}",
            server.label
        );
        assert!(all[0].request_id.is_empty());
        let events = &all[1..];
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "contract.created",
                "order.recorded",
                "key.issued",
                "token.created",
                "key.reissued",
                "key.revoked",
                "closure.created"
            ],
            "{}",
            server.label
        );
        assert_eq!(
            events[0].request_id, "req-audit-0001",
            "the client's request id is kept"
        );
        assert!(
            events.iter().all(|e| !e.request_id.is_empty()),
            "every call has a request id"
        );
        assert_eq!(events[0].actor, "test staff");
        assert_eq!(
            events[4].actor, "E社 情報システム部",
            "the customer's token did the reissue"
        );
        assert_eq!(
            (
                events[4].contract_id.as_str(),
                events[4].license_id.as_str()
            ),
            ("E", "LIC-E")
        );
        assert!(events[4].detail.contains(&moved.key_id));
        assert!(
            events
                .iter()
                .all(|e| !e.detail.contains(&token.token) && !e.detail.contains("v4.public.")),
            "no secret in the trail"
        );
        assert_eq!(
            events[0]
                .occurred_at
                .as_ref()
                .and_then(neo_support::pb::datetime),
            Some(jst_at(2026, 11, 25, 10, 0, 0))
        );

        // Filters and paging.
        let by_license = staff
            .list_events(pb::ListEventsRequest {
                license_id: "LIC-E".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .events;
        assert_eq!(by_license.len(), 4, "{}", server.label);
        let by_kind = staff
            .list_events(pb::ListEventsRequest {
                kind: "key.revoked".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .events;
        assert_eq!(by_kind.len(), 1);
        let by_contract = staff
            .list_events(pb::ListEventsRequest {
                contract_id: "E".into(),
                page_size: 2,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(by_contract.events.len(), 2);
        let rest = staff
            .list_events(pb::ListEventsRequest {
                contract_id: "E".into(),
                page_size: 100,
                page_token: by_contract.next_page_token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .events;
        assert_eq!(
            rest.len(),
            4,
            "contract, order, key, token | reissue, revoke"
        );
        let later = staff
            .list_events(pb::ListEventsRequest {
                since_at: Some(timestamp(jst_at(2026, 11, 26, 0, 0, 0))),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .events;
        assert!(later.is_empty());
        let denied = server
            .client(Some(&token.token))
            .await
            .list_events(pb::ListEventsRequest::default())
            .await
            .unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied);
    })
    .await;
}

#[tokio::test]
async fn the_events_of_one_request_are_found_by_its_request_id() {
    on_each_backend(async |server| {
        let mut staff = server.staff().await;
        for (n, request_id) in ["req-find-0001", "req-find-0002"].into_iter().enumerate() {
            let id = format!("F{n}");
            let mut request =
                tonic::Request::new(new_contract(&id, &format!("LIC-{id}"), 10, false));
            request
                .metadata_mut()
                .insert("x-request-id", request_id.parse().unwrap());
            staff.create_contract(request).await.unwrap();
        }
        let query = neo_support::store::events::EventQuery {
            request_id: Some("req-find-0002".into()),
            limit: 10,
            ..Default::default()
        };
        let events = server.store.list_events(&query).await.unwrap();
        let found: Vec<(&str, &str, &str)> = events
            .iter()
            .map(|e| (e.kind.as_str(), e.subject.as_str(), e.actor.as_str()))
            .collect();
        assert_eq!(
            found,
            [("contract.created", "F1", "test staff")],
            "{}",
            server.label
        );
    })
    .await;
}
