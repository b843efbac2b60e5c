//! SupportService's calendar RPCs against a real server on a port, on each
//! database backend.

use crate::common::{bad_fields, jst_at, on_each_backend, reason};
use neo_support::pb;
use neo_support::pb::{datetime, timestamp};
use tonic::Code;

fn every_year(name: &str, from: &str, to: &str) -> pb::CreateClosureRequest {
    pb::CreateClosureRequest {
        closure: Some(pb::Closure {
            name: name.into(),
            range: Some(pb::closure::Range::EveryYear(pb::MonthDayRange {
                start_month_day: from.into(),
                end_month_day: to.into(),
            })),
            ..Default::default()
        }),
    }
}

fn one_off(name: &str, from: &str, to: &str) -> pb::CreateClosureRequest {
    pb::CreateClosureRequest {
        closure: Some(pb::Closure {
            name: name.into(),
            range: Some(pb::closure::Range::Dates(pb::DateRange {
                start_on: from.into(),
                end_on: to.into(),
            })),
            ..Default::default()
        }),
    }
}

fn day_request(date: &str) -> pb::GetCalendarDayRequest {
    pb::GetCalendarDayRequest { date: date.into() }
}

#[tokio::test]
async fn calendar_day_says_what_each_kind_of_day_is() {
    on_each_backend(async |server| {
        let mut client = server.staff().await;
        client
            .create_closure(one_off("夏期休暇", "2026-08-12", "2026-08-14"))
            .await
            .unwrap();
        let cases = [
            ("2026-11-25", true, pb::DayKind::BusinessDay, ""),
            ("2026-11-28", false, pb::DayKind::Weekend, ""),
            (
                "2026-11-23",
                false,
                pb::DayKind::NationalHoliday,
                "勤労感謝の日",
            ),
            (
                "2026-05-06",
                false,
                pb::DayKind::NationalHoliday,
                "振替休日",
            ),
            (
                "2026-09-22",
                false,
                pb::DayKind::NationalHoliday,
                "国民の休日",
            ),
            ("2026-08-13", false, pb::DayKind::CompanyClosure, "夏期休暇"),
            ("2026-08-11", false, pb::DayKind::NationalHoliday, "山の日"),
            ("2026-08-15", false, pb::DayKind::Weekend, ""),
        ];
        for (date, business, kind, name) in cases {
            let day = client
                .get_calendar_day(day_request(date))
                .await
                .unwrap()
                .into_inner()
                .day
                .unwrap();
            assert_eq!(day.date, date, "{}", server.label);
            assert_eq!(day.business_day, business, "{date} on {}", server.label);
            assert_eq!(day.kind, kind as i32, "{date} on {}", server.label);
            assert_eq!(day.name, name, "{date} on {}", server.label);
        }
    })
    .await;
}

#[tokio::test]
async fn a_closure_across_the_new_year_closes_both_ends_until_removed() {
    on_each_backend(async |server| {
        let mut client = server.staff().await;
        let created = client
            .create_closure(every_year("年末年始休暇", "12-29", "01-03"))
            .await
            .unwrap()
            .into_inner()
            .closure
            .unwrap();
        assert!(created.id > 0);
        let next = client
            .get_next_business_day(pb::GetNextBusinessDayRequest {
                date: "2026-12-28".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(next.date, "2027-01-04", "{}", server.label);
        let days = client
            .list_days_off(pb::ListDaysOffRequest {
                start_on: "2026-12-25".into(),
                end_on: "2027-01-05".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .days;
        let listed: Vec<_> = days
            .iter()
            .map(|d| (d.date.as_str(), d.name.as_str()))
            .collect();
        assert_eq!(
            listed,
            [
                ("2026-12-29", "年末年始休暇"),
                ("2026-12-30", "年末年始休暇"),
                ("2026-12-31", "年末年始休暇"),
                ("2027-01-01", "元日"),
                ("2027-01-02", "年末年始休暇"),
                ("2027-01-03", "年末年始休暇"),
            ],
            "{}",
            server.label
        );
        let listed = client
            .list_closures(pb::ListClosuresRequest {})
            .await
            .unwrap()
            .into_inner()
            .closures;
        assert_eq!(listed, vec![created.clone()], "{}", server.label);

        client
            .delete_closure(pb::DeleteClosureRequest { id: created.id })
            .await
            .unwrap();
        let day = client
            .get_calendar_day(day_request("2026-12-29"))
            .await
            .unwrap()
            .into_inner()
            .day
            .unwrap();
        assert!(day.business_day, "{}", server.label);
        let again = client
            .delete_closure(pb::DeleteClosureRequest { id: created.id })
            .await
            .unwrap_err();
        assert_eq!(again.code(), Code::NotFound);
        assert_eq!(reason(&again), "CLOSURE_NOT_FOUND");
    })
    .await;
}

#[tokio::test]
async fn bad_closures_are_refused_and_nothing_is_stored() {
    on_each_backend(async |server| {
        let mut client = server.staff().await;
        let cases = [
            (
                one_off("x", "2026-13-01", "2026-12-31"),
                Code::InvalidArgument,
                "closure.dates.start_on",
            ),
            (
                one_off("x", "2026-12-31", "2026-12-01"),
                Code::InvalidArgument,
                "closure.dates.end_on",
            ),
            (
                one_off("x", "2026-12-01", "2100-01-01"),
                Code::OutOfRange,
                "closure.dates.end_on",
            ),
            (
                one_off("", "2026-12-01", "2026-12-02"),
                Code::InvalidArgument,
                "closure.name",
            ),
            (
                every_year("x", "12-32", "01-03"),
                Code::InvalidArgument,
                "closure.every_year.start_month_day",
            ),
            (
                every_year("x", "12-29", "1-3"),
                Code::InvalidArgument,
                "closure.every_year.end_month_day",
            ),
            (
                pb::CreateClosureRequest { closure: None },
                Code::InvalidArgument,
                "closure",
            ),
        ];
        for (request, code, field) in cases {
            let status = client.create_closure(request).await.unwrap_err();
            assert_eq!(status.code(), code, "{field} on {}", server.label);
            assert_eq!(bad_fields(&status), [field], "{}", server.label);
        }
        assert!(
            server.store.list_closures().await.unwrap().is_empty(),
            "{}",
            server.label
        );
    })
    .await;
}

#[tokio::test]
async fn an_override_adds_or_removes_a_national_holiday() {
    on_each_backend(async |server| {
        let mut client = server.staff().await;
        let add =
            |date: &str, kind: pb::OverrideKind, name: &str| pb::CreateHolidayOverrideRequest {
                holiday_override: Some(pb::HolidayOverride {
                    date: date.into(),
                    kind: kind.into(),
                    name: name.into(),
                    note: "官報による".into(),
                    ..Default::default()
                }),
            };
        // The equinox announced a day off from the formula, say.
        let added = client
            .create_holiday_override(add("2026-03-19", pb::OverrideKind::AddHoliday, "春分の日"))
            .await
            .unwrap()
            .into_inner()
            .holiday_override
            .unwrap();
        client
            .create_holiday_override(add("2026-03-20", pb::OverrideKind::RemoveHoliday, ""))
            .await
            .unwrap();
        let moved = client
            .get_calendar_day(day_request("2026-03-19"))
            .await
            .unwrap()
            .into_inner()
            .day
            .unwrap();
        assert_eq!(
            (moved.kind, moved.name.as_str()),
            (pb::DayKind::NationalHoliday as i32, "春分の日"),
            "{}",
            server.label
        );
        let removed = client
            .get_calendar_day(day_request("2026-03-20"))
            .await
            .unwrap()
            .into_inner()
            .day
            .unwrap();
        assert!(removed.business_day, "{}", server.label);

        let duplicate = client
            .create_holiday_override(add("2026-03-19", pb::OverrideKind::RemoveHoliday, ""))
            .await
            .unwrap_err();
        assert_eq!(duplicate.code(), Code::AlreadyExists, "{}", server.label);
        assert_eq!(reason(&duplicate), "OVERRIDE_EXISTS");
        let nameless = client
            .create_holiday_override(add("2026-03-18", pb::OverrideKind::AddHoliday, ""))
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&nameless), ["holiday_override.name"]);
        let unspecified = client
            .create_holiday_override(add("2026-03-18", pb::OverrideKind::Unspecified, ""))
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&unspecified), ["holiday_override.kind"]);

        let listed = client
            .list_holiday_overrides(pb::ListHolidayOverridesRequest {})
            .await
            .unwrap()
            .into_inner()
            .holiday_overrides;
        assert_eq!(
            listed.iter().map(|o| o.date.as_str()).collect::<Vec<_>>(),
            ["2026-03-19", "2026-03-20"]
        );
        assert_eq!(listed[0], added);
        client
            .delete_holiday_override(pb::DeleteHolidayOverrideRequest { id: added.id })
            .await
            .unwrap();
        let back = client
            .get_calendar_day(day_request("2026-03-19"))
            .await
            .unwrap()
            .into_inner()
            .day
            .unwrap();
        assert!(back.business_day, "{}", server.label);
    })
    .await;
}

#[tokio::test]
async fn reception_follows_the_half_open_windows() {
    on_each_backend(async |server| {
        let mut client = server.staff().await;
        let cases = [
            ((8, 59, 59), false, jst_at(2026, 11, 25, 9, 0, 0), None),
            (
                (9, 0, 0),
                true,
                jst_at(2026, 11, 25, 9, 0, 0),
                Some(jst_at(2026, 11, 25, 12, 0, 0)),
            ),
            (
                (11, 59, 59),
                true,
                jst_at(2026, 11, 25, 11, 59, 59),
                Some(jst_at(2026, 11, 25, 12, 0, 0)),
            ),
            ((12, 0, 0), false, jst_at(2026, 11, 25, 13, 0, 0), None),
            (
                (17, 29, 59),
                true,
                jst_at(2026, 11, 25, 17, 29, 59),
                Some(jst_at(2026, 11, 25, 17, 30, 0)),
            ),
            ((17, 30, 0), false, jst_at(2026, 11, 26, 9, 0, 0), None),
        ];
        for ((h, m, s), open, opens_at, closes_at) in cases {
            let at = jst_at(2026, 11, 25, h, m, s);
            let status = client
                .get_reception_status(pb::GetReceptionStatusRequest {
                    at: Some(timestamp(at)),
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(status.open, open, "{h}:{m}:{s} on {}", server.label);
            assert_eq!(
                status.opens_at.as_ref().and_then(datetime),
                Some(opens_at),
                "{h}:{m}:{s}"
            );
            assert_eq!(
                status.closes_at.as_ref().and_then(datetime),
                closes_at,
                "{h}:{m}:{s}"
            );
        }
        // Friday evening before 勤労感謝の日 on Monday: opens Tuesday.
        let friday = client
            .get_reception_status(pb::GetReceptionStatusRequest {
                at: Some(timestamp(jst_at(2026, 11, 20, 18, 0, 0))),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            friday.opens_at.as_ref().and_then(datetime),
            Some(jst_at(2026, 11, 24, 9, 0, 0))
        );
        // Without an instant, the server's clock (pinned to 10:00 JST).
        let now = client
            .get_reception_status(pb::GetReceptionStatusRequest { at: None })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            now.at.as_ref().and_then(datetime),
            Some(jst_at(2026, 11, 25, 10, 0, 0))
        );
        assert!(now.open);
    })
    .await;
}

#[tokio::test]
async fn delivery_moves_to_the_next_business_day_at_seventeen_hundred() {
    on_each_backend(async |server| {
        let mut client = server.staff().await;
        let cases = [
            (jst_at(2026, 11, 25, 16, 59, 59), "2026-11-25"),
            (jst_at(2026, 11, 25, 17, 0, 0), "2026-11-26"),
            (jst_at(2026, 11, 25, 3, 0, 0), "2026-11-25"),
            // Friday before the holiday Monday 2026-11-23.
            (jst_at(2026, 11, 20, 16, 59, 59), "2026-11-20"),
            (jst_at(2026, 11, 20, 17, 0, 0), "2026-11-24"),
            // Friday before the substitute holiday Monday 2027-03-22.
            (jst_at(2027, 3, 19, 17, 0, 0), "2027-03-23"),
            // On the holiday itself.
            (jst_at(2026, 11, 23, 10, 0, 0), "2026-11-24"),
        ];
        for (at, expected) in cases {
            let answer = client
                .get_delivery_date(pb::GetDeliveryDateRequest {
                    received_at: Some(timestamp(at)),
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(answer.delivery_on, expected, "{at} on {}", server.label);
            assert_eq!(answer.received_at.as_ref().and_then(datetime), Some(at));
        }
        server.clock.set(jst_at(2026, 11, 25, 17, 0, 0));
        let now = client
            .get_delivery_date(pb::GetDeliveryDateRequest { received_at: None })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(now.delivery_on, "2026-11-26");
    })
    .await;
}

#[tokio::test]
async fn malformed_dates_name_their_field_and_years_outside_the_law_are_out_of_range() {
    on_each_backend(async |server| {
        let mut client = server.staff().await;
        for bad in [
            "2026-02-30",
            "2026-1-05",
            "tomorrow",
            "",
            "2026-11-25T00:00:00Z",
        ] {
            let status = client.get_calendar_day(day_request(bad)).await.unwrap_err();
            assert_eq!(
                status.code(),
                Code::InvalidArgument,
                "{bad:?} on {}",
                server.label
            );
            // Issue 14: a specific reason, not a repeat of the code.
            assert_eq!(reason(&status), "INVALID_DATE");
            assert_eq!(bad_fields(&status), ["date"]);
        }
        for out in ["1948-12-31", "2100-01-01"] {
            let status = client.get_calendar_day(day_request(out)).await.unwrap_err();
            assert_eq!(status.code(), Code::OutOfRange, "{out} on {}", server.label);
            assert_eq!(reason(&status), "DATE_OUT_OF_RANGE");
            assert_eq!(bad_fields(&status), ["date"]);
        }
        let status = client
            .list_days_off(pb::ListDaysOffRequest {
                start_on: "2026-01-01".into(),
                end_on: "2026-13-01".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&status), ["end_on"]);
        let status = client
            .list_days_off(pb::ListDaysOffRequest {
                start_on: "2000-01-01".into(),
                end_on: "2026-01-01".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(
            (status.code(), bad_fields(&status)),
            (Code::InvalidArgument, vec!["end_on".to_owned()])
        );
        // The last evening of 2099 has no next business day within the law's range.
        let status = client
            .get_delivery_date(pb::GetDeliveryDateRequest {
                received_at: Some(timestamp(jst_at(2099, 12, 31, 18, 0, 0))),
            })
            .await
            .unwrap_err();
        assert_eq!(
            (status.code(), bad_fields(&status)),
            (Code::OutOfRange, vec!["received_at".to_owned()])
        );
        let status = client
            .get_reception_status(pb::GetReceptionStatusRequest {
                at: Some(prost_types::Timestamp {
                    seconds: 0,
                    nanos: -1,
                }),
            })
            .await
            .unwrap_err();
        assert_eq!(
            (status.code(), bad_fields(&status)),
            (Code::InvalidArgument, vec!["at".to_owned()])
        );
    })
    .await;
}

#[tokio::test]
async fn a_huge_message_is_refused_before_anything_is_stored() {
    on_each_backend(async |server| {
        let mut client = server.staff().await;
        let huge = "休".repeat(100_000);
        let status = client
            .create_closure(one_off(&huge, "2026-12-01", "2026-12-02"))
            .await
            .unwrap_err();
        assert_ne!(status.code(), Code::Ok);
        let long = "休".repeat(101);
        let status = client
            .create_closure(one_off(&long, "2026-12-01", "2026-12-02"))
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&status), ["closure.name"]);
        assert!(
            server.store.list_closures().await.unwrap().is_empty(),
            "{}",
            server.label
        );
    })
    .await;
}
