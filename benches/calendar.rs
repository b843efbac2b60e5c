//! The business calendar in process: the delivery date and the reception
//! status for an instant, and every business day of a year, with a
//! year-end closure and an override on record.

use std::hint::black_box;

use chrono::{NaiveDate, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use neo_support::domain::calendar::{
    Calendar, Closure, ClosureRange, HolidayOverride, OverrideAction,
};
use neo_support::domain::dates::{MonthDay, jst};

fn calendar() -> Calendar {
    let closure = Closure {
        id: 1,
        name: "年末年始休暇".into(),
        range: ClosureRange::EveryYear {
            start: MonthDay::parse("12-29").expect("valid month-day"),
            end: MonthDay::parse("01-03").expect("valid month-day"),
        },
        created_at: Utc::now(),
    };
    let holiday_override = HolidayOverride {
        id: 1,
        date: NaiveDate::from_ymd_opt(2026, 3, 19).expect("valid date"),
        action: OverrideAction::AddHoliday {
            name: "臨時".into(),
        },
        note: String::new(),
        created_at: Utc::now(),
    };
    Calendar::new(vec![closure], vec![holiday_override])
}

fn bench_calendar(c: &mut Criterion) {
    let calendar = calendar();
    // Friday after the cutoff, before a holiday Monday: the longest common walk.
    let friday_evening = jst()
        .with_ymd_and_hms(2026, 11, 20, 17, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    c.bench_function("delivery_on (Friday 17:00 before a holiday Monday)", |b| {
        b.iter(|| calendar.delivery_on(black_box(friday_evening)))
    });
    c.bench_function("reception (Friday 17:00 before a holiday Monday)", |b| {
        b.iter(|| calendar.reception(black_box(friday_evening)))
    });
    let start = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    c.bench_function("every business day of 2026", |b| {
        b.iter(|| {
            start
                .iter_days()
                .take_while(|d| *d <= NaiveDate::from_ymd_opt(2026, 12, 31).unwrap())
                .filter(|d| calendar.is_business_day(*d).unwrap_or(false))
                .count()
        })
    });
}

criterion_group!(benches, bench_calendar);
criterion_main!(benches);
