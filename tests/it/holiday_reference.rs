//! Compares `domain::holidays` with an independent reference for every date
//! from 1949 through 2099.
//!
//! The reference, `tests/data/jp_holidays_reference.csv`, was written by
//! `tests/data/generate_jp_holidays_reference.py` from the PyPI package
//! `holidays` 0.109 (country JP, language ja). That script also compares the
//! package with `jpholiday` 1.0.3: the two agree on every date except where
//! jpholiday breaks the law (it makes 5/4 a 国民の休日 in 1949–1985, before
//! the 1985-12-27 amendment, and makes 1973-02-12 a 振替休日, before the
//! 1973-04-12 amendment), so the date set is backed by two packages.
//!
//! Dates are compared for every day of every year. Names are compared too;
//! the only differences are the one-off holidays, which the reference names
//! differently. Each one is listed in `NAME_EXCEPTIONS` with its reason.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use neo_support::domain::holidays::{
    FIRST_SUPPORTED_YEAR, LAST_SUPPORTED_YEAR, national_holiday, national_holidays_between,
    national_holidays_in_year,
};

const REFERENCE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/jp_holidays_reference.csv"
));

/// Dates on which the reference is wrong about whether the day is a holiday,
/// with the reason. With `holidays` 0.109 there are none.
const DATE_EXCEPTIONS: &[(&str, &str)] = &[];

/// (date, our name, the reference's name, why ours is the one we keep).
const NAME_EXCEPTIONS: &[(&str, &str, &str, &str)] = &[
    (
        "1959-04-10",
        "皇太子・明仁親王の結婚の儀",
        "結婚の儀",
        "the law is 皇太子明仁親王の結婚の儀の行われる日を休日とする法律; the reference \
         shortens it the way the Cabinet Office's list does, which would not tell 1959 from 1993",
    ),
    (
        "1989-02-24",
        "昭和天皇の大喪の礼",
        "大喪の礼",
        "the law is 昭和天皇の大喪の礼の行われる日を休日とする法律; the reference shortens it",
    ),
    (
        "1993-06-09",
        "皇太子・徳仁親王の結婚の儀",
        "結婚の儀",
        "the law is 皇太子徳仁親王の結婚の儀の行われる日を休日とする法律; the reference \
         shortens it",
    ),
    (
        "2019-10-22",
        "即位礼正殿の儀",
        "即位礼正殿の儀が行われる日",
        "the law names 即位礼正殿の儀の行われる日; we use the ceremony's name, as for \
         1990-11-12, where the reference does the same",
    ),
];

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .unwrap_or_else(|e| panic!("bad date {text:?} in the test data: {e}"))
}

fn reference() -> BTreeMap<NaiveDate, &'static str> {
    let mut lines = REFERENCE.lines();
    assert_eq!(
        lines.next(),
        Some("date,name"),
        "the CSV starts with its header"
    );
    let mut rows = BTreeMap::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let (day, name) = line
            .split_once(',')
            .unwrap_or_else(|| panic!("CSV line without a comma: {line:?}"));
        assert!(
            rows.insert(date(day), name).is_none(),
            "{day} twice in the CSV"
        );
    }
    rows
}

#[test]
fn reference_covers_every_supported_year() {
    let rows = reference();
    let years: std::collections::BTreeSet<i32> = rows.keys().map(|d| d.year()).collect();
    assert_eq!(
        years.into_iter().collect::<Vec<_>>(),
        (FIRST_SUPPORTED_YEAR..=LAST_SUPPORTED_YEAR).collect::<Vec<_>>()
    );
}

#[test]
fn every_date_from_1949_through_2099_agrees_with_the_reference() {
    let rows = reference();
    let date_exceptions: BTreeMap<NaiveDate, &str> = DATE_EXCEPTIONS
        .iter()
        .map(|(d, why)| (date(d), *why))
        .collect();
    let mut mismatches = Vec::new();
    let mut day = date("1949-01-01");
    let last = date("2099-12-31");
    while day <= last {
        let ours = national_holiday(day).expect("supported date");
        let theirs = rows.get(&day).copied();
        if ours.is_some() != theirs.is_some() && !date_exceptions.contains_key(&day) {
            mismatches.push(format!("{day}: ours {ours:?}, reference {theirs:?}"));
        }
        day = day.succ_opt().expect("2099-12-31 has a next day");
    }
    assert!(
        mismatches.is_empty(),
        "{} dates differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn every_date_exception_is_still_a_difference() {
    let rows = reference();
    for (day, why) in DATE_EXCEPTIONS {
        let ours = national_holiday(date(day)).expect("supported date");
        assert_ne!(
            ours.is_some(),
            rows.contains_key(&date(day)),
            "{day} ({why}) now agrees"
        );
    }
}

#[test]
fn every_holiday_name_agrees_with_the_reference_except_the_listed_ones() {
    let rows = reference();
    let exceptions: BTreeMap<NaiveDate, (&str, &str)> = NAME_EXCEPTIONS
        .iter()
        .map(|(d, ours, theirs, _why)| (date(d), (*ours, *theirs)))
        .collect();
    let mut mismatches = Vec::new();
    for year in FIRST_SUPPORTED_YEAR..=LAST_SUPPORTED_YEAR {
        for holiday in national_holidays_in_year(year).expect("supported year") {
            let Some(&theirs) = rows.get(&holiday.date) else {
                continue; // a date difference, reported by the test above
            };
            if theirs == holiday.name {
                assert!(
                    !exceptions.contains_key(&holiday.date),
                    "{}: listed as a name exception but agrees",
                    holiday.date
                );
                continue;
            }
            if exceptions.get(&holiday.date) != Some(&(holiday.name, theirs)) {
                mismatches.push(format!(
                    "{}: ours {}, reference {}",
                    holiday.date, holiday.name, theirs
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} names differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn the_whole_range_lists_the_same_dates_as_the_reference() {
    let ours: std::collections::BTreeSet<NaiveDate> =
        national_holidays_between(date("1949-01-01"), date("2099-12-31"))
            .expect("in range")
            .into_iter()
            .map(|h| h.date)
            .collect();
    let theirs: std::collections::BTreeSet<NaiveDate> = reference().into_keys().collect();
    let excepted: std::collections::BTreeSet<NaiveDate> =
        DATE_EXCEPTIONS.iter().map(|(d, _)| date(d)).collect();
    let differing: std::collections::BTreeSet<NaiveDate> =
        ours.symmetric_difference(&theirs).copied().collect();
    assert_eq!(differing, excepted);
}
