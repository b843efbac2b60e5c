//! Japan's national holidays (国民の祝日) and the other days off the law
//! creates (振替休日, 国民の休日, one-off holidays), for every date from
//! 1949-01-01 through 2099-12-31, each rule applied only while it was in force.
//!
//! The whole 1949–2099 table is computed once, on first use, into a static;
//! a lookup after that is a binary search in one year's slice of about twenty
//! entries, with no allocation.
//!
//! # Sources
//!
//! 国民の祝日に関する法律 (昭和23年法律第178号, promulgated and in force
//! 1948-07-20) and its amendments, each taking effect on the date given:
//!
//! | in force   | amendment | what changed |
//! |------------|-----------|--------------|
//! | 1948-07-20 | original  | 元日 1/1, 成人の日 1/15, 春分の日, 天皇誕生日 4/29, 憲法記念日 5/3, こどもの日 5/5, 秋分の日, 文化の日 11/3, 勤労感謝の日 11/23 |
//! | 1966-06-25 | 1966      | 敬老の日 9/15 and 体育の日 10/10 (both from 1966); 建国記念の日 on the day a cabinet order names, 2/11 by the order of 1966-12-09, so from 1967 |
//! | 1973-04-12 | 昭和48年法律第10号 | art. 3(2): a 国民の祝日 on a Sunday makes the next day a holiday (振替休日) |
//! | 1985-12-27 | 昭和60年法律第103号 | art. 3(3): a day whose previous and next days are 国民の祝日 is a holiday (国民の休日), except a Sunday or a 振替休日 |
//! | 1989-02-17 | 1989      | 天皇誕生日 moves to 12/23; 4/29 becomes みどりの日 |
//! | 1996-01-01 | 1995      | 海の日 7/20 |
//! | 2000-01-01 | 1998      | 成人の日 the 2nd Monday of January, 体育の日 the 2nd Monday of October |
//! | 2003-01-01 | 2001      | 海の日 the 3rd Monday of July, 敬老の日 the 3rd Monday of September |
//! | 2007-01-01 | 2005      | 4/29 becomes 昭和の日, みどりの日 moves to 5/4; art. 3(2): the substitute is the first day after the Sunday that is not a 国民の祝日; art. 3(3): only "a day that is not a 国民の祝日" (the Sunday and 振替休日 exclusions are gone) |
//! | 2016-01-01 | 2014      | 山の日 8/11 |
//! | 2019-04-30 | 天皇の退位等に関する皇室典範特例法 (2017), supplementary provisions | 天皇誕生日 moves to 2/23 (so 2019 has none: 12/23 was no longer in the law by then, 2/23 not yet) |
//! | 2020-01-01 | 2018      | 体育の日 renamed スポーツの日 |
//!
//! The 2020 and 2021 Olympic moves come from 平成三十二年東京オリンピック競技大会・
//! 東京パラリンピック競技大会特別措置法 (平成27年法律第33号) art. 32, as amended
//! in 2018 (2020: 海の日 7/23, スポーツの日 7/24, 山の日 8/10) and in 2020 (2021:
//! 海の日 7/22, スポーツの日 7/23, 山の日 8/8, a Sunday, so 8/9 is 振替休日).
//!
//! One-off holidays, each by its own law "…の行われる日を休日とする法律":
//! 1959-04-10 皇太子明仁親王の結婚の儀 (1959), 1989-02-24 昭和天皇の大喪の礼 (1989),
//! 1990-11-12 即位礼正殿の儀 (1990), 1993-06-09 皇太子徳仁親王の結婚の儀 (1993),
//! and 2019-05-01 天皇の即位の日 and 2019-10-22 即位礼正殿の儀 (2018 law, whose
//! supplementary provisions apply art. 3(2) and 3(3) to them as if they were
//! 国民の祝日: that is what made 2019-04-30 and 2019-05-02 国民の休日). The
//! earlier one-off laws say no such thing, but none of those days has a
//! holiday or a Sunday beside it, so treating every one-off day as a 国民の祝日
//! for art. 3, as this module does, changes nothing for them.
//!
//! 春分の日 and 秋分の日 are the days of the equinoxes (春分日, 秋分日), which
//! the National Astronomical Observatory of Japan announces in the official
//! gazette each February for the following year. This module uses the usual
//! approximation, `floor(C + 0.242194 * (y - 1980)) - floor((y - 1980) / 4)`
//! with C = 20.8431 (spring) and 23.2488 (autumn) from 1980, and 20.8357 and
//! 23.2588 for the years before 1980. It gives every official date so far,
//! and for 1949–2099 it agrees with an astronomical computation (Meeus,
//! *Astronomical Algorithms*, ch. 27, with ΔT) and with the tables of the
//! `holidays` and `jpholiday` Python packages. A future announcement that
//! differs (the equinoxes nearest to midnight JST, such as 2074-09-23 and
//! 2088-03-20, are the likeliest) has to be entered as an override by the
//! caller; this module only knows the law.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate, Weekday};

/// The first year the tables cover (the first full year under the 1948 law).
pub const FIRST_SUPPORTED_YEAR: i32 = 1949;
/// The last year the tables cover (the equinox approximation holds to 2099).
pub const LAST_SUPPORTED_YEAR: i32 = 2099;

/// A date whose year the holiday tables do not cover: an error, never a guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "year {year} is outside the supported range {FIRST_SUPPORTED_YEAR}..={LAST_SUPPORTED_YEAR}"
)]
pub struct YearOutOfRange {
    /// The year that was asked for.
    pub year: i32,
}

/// One national holiday: its date and its name as the law gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NationalHoliday {
    /// The calendar date (JST).
    pub date: NaiveDate,
    /// The Japanese name, e.g. `元日`, `振替休日`, `国民の休日`.
    pub name: &'static str,
}

/// The holiday's name on `date`, or None when the date is not a national holiday.
pub fn national_holiday(date: NaiveDate) -> Result<Option<&'static str>, YearOutOfRange> {
    let year = national_holidays_in_year(date.year())?;
    Ok(year
        .binary_search_by_key(&date, |holiday| holiday.date)
        .ok()
        .and_then(|index| year.get(index))
        .map(|holiday| holiday.name))
}

/// All national holidays in `year`, in date order.
pub fn national_holidays_in_year(year: i32) -> Result<&'static [NationalHoliday], YearOutOfRange> {
    let index = year_index(year)?;
    Ok(table().get(index).map_or(&[], |days| &days[..]))
}

/// All national holidays in `from..=to` (inclusive), in date order; error if
/// either end is out of range. Empty if `from > to`.
pub fn national_holidays_between(
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<NationalHoliday>, YearOutOfRange> {
    year_index(from.year())?;
    year_index(to.year())?;
    let mut found = Vec::new();
    if from > to {
        return Ok(found);
    }
    for year in from.year()..=to.year() {
        let days = national_holidays_in_year(year)?;
        let start = days.partition_point(|holiday| holiday.date < from);
        let end = days.partition_point(|holiday| holiday.date <= to);
        found.extend_from_slice(days.get(start..end).unwrap_or_default());
    }
    Ok(found)
}

const GANJITSU: &str = "元日";
const SEIJIN_NO_HI: &str = "成人の日";
const KENKOKU_KINEN_NO_HI: &str = "建国記念の日";
const TENNO_TANJOBI: &str = "天皇誕生日";
const SHUNBUN_NO_HI: &str = "春分の日";
const SHOWA_NO_HI: &str = "昭和の日";
const MIDORI_NO_HI: &str = "みどりの日";
const KENPO_KINENBI: &str = "憲法記念日";
const KODOMO_NO_HI: &str = "こどもの日";
const UMI_NO_HI: &str = "海の日";
const YAMA_NO_HI: &str = "山の日";
const KEIRO_NO_HI: &str = "敬老の日";
const SHUBUN_NO_HI: &str = "秋分の日";
const TAIIKU_NO_HI: &str = "体育の日";
const SPORTS_NO_HI: &str = "スポーツの日";
const BUNKA_NO_HI: &str = "文化の日";
const KINRO_KANSHA_NO_HI: &str = "勤労感謝の日";
/// 振替休日: art. 3(2), from 1973-04-12.
const FURIKAE_KYUJITSU: &str = "振替休日";
/// 国民の休日: art. 3(3), from 1985-12-27.
const KOKUMIN_NO_KYUJITSU: &str = "国民の休日";

/// Builds a date from constants, at compile time.
const fn fixed_date(year: i32, month: u32, day: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(year, month, day) {
        Some(date) => date,
        None => panic!("a fixed date in this module is not a calendar date"),
    }
}

/// The 1973 amendment (art. 3(2), 振替休日) was in force from this day.
const SUBSTITUTE_HOLIDAY_FROM: NaiveDate = fixed_date(1973, 4, 12);
/// The 1985 amendment (art. 3(3), 国民の休日) was in force from this day.
const CITIZENS_HOLIDAY_FROM: NaiveDate = fixed_date(1985, 12, 27);
/// The 2005 amendment's new wording of art. 3(2) and 3(3) took effect on this day.
const ARTICLE_3_REWORDED_FROM: NaiveDate = fixed_date(2007, 1, 1);

/// Days off set by a law of their own, outside art. 2.
const ONE_OFF_HOLIDAYS: [(NaiveDate, &str); 6] = [
    (fixed_date(1959, 4, 10), "皇太子・明仁親王の結婚の儀"),
    (fixed_date(1989, 2, 24), "昭和天皇の大喪の礼"),
    (fixed_date(1990, 11, 12), "即位礼正殿の儀"),
    (fixed_date(1993, 6, 9), "皇太子・徳仁親王の結婚の儀"),
    (fixed_date(2019, 5, 1), "天皇の即位の日"),
    (fixed_date(2019, 10, 22), "即位礼正殿の儀"),
];

const SUPPORTED_YEARS: usize = (LAST_SUPPORTED_YEAR - FIRST_SUPPORTED_YEAR + 1) as usize;

fn year_index(year: i32) -> Result<usize, YearOutOfRange> {
    if !(FIRST_SUPPORTED_YEAR..=LAST_SUPPORTED_YEAR).contains(&year) {
        return Err(YearOutOfRange { year });
    }
    usize::try_from(year - FIRST_SUPPORTED_YEAR).map_err(|_| YearOutOfRange { year })
}

/// The holidays of each supported year, indexed by `year - FIRST_SUPPORTED_YEAR`.
fn table() -> &'static [Box<[NationalHoliday]>] {
    static TABLE: OnceLock<Vec<Box<[NationalHoliday]>>> = OnceLock::new();
    TABLE.get_or_init(build_table)
}

fn build_table() -> Vec<Box<[NationalHoliday]>> {
    let mut years = vec![Vec::new(); SUPPORTED_YEARS];
    for (date, name) in all_holidays() {
        if let Some(days) = year_index(date.year()).ok().and_then(|i| years.get_mut(i)) {
            days.push(NationalHoliday { date, name });
        }
    }
    years.into_iter().map(Vec::into_boxed_slice).collect()
}

/// Every holiday of the supported years, keyed (and so sorted) by date.
fn all_holidays() -> BTreeMap<NaiveDate, &'static str> {
    // 国民の祝日 (art. 2, with the Olympic special measures), and the one-off
    // days, which art. 3 treats as 国民の祝日 (see the module doc).
    let mut shukujitsu = BTreeMap::new();
    for year in FIRST_SUPPORTED_YEAR..=LAST_SUPPORTED_YEAR {
        shukujitsu.extend(article_2_holidays(year));
    }
    shukujitsu.extend(ONE_OFF_HOLIDAYS);

    let mut holidays = shukujitsu.clone();

    // Art. 3(2): 振替休日.
    for &date in shukujitsu.keys() {
        if date.weekday() != Weekday::Sun || date < SUBSTITUTE_HOLIDAY_FROM {
            continue;
        }
        let mut substitute = next_day(date);
        if date >= ARTICLE_3_REWORDED_FROM {
            // "その日後においてその日に最も近い「国民の祝日」でない日"
            while shukujitsu.contains_key(&substitute) {
                substitute = next_day(substitute);
            }
        }
        // Before 2007 "その翌日": when the next day is itself a 国民の祝日 (it
        // never was, 1973–2006) the rule adds nothing, hence `or_insert`.
        holidays.entry(substitute).or_insert(FURIKAE_KYUJITSU);
    }

    // Art. 3(3): 国民の休日, a day between two 国民の祝日 that is not one.
    for (&before, &after) in shukujitsu.keys().zip(shukujitsu.keys().skip(1)) {
        let between = next_day(before);
        if next_day(between) != after || between < CITIZENS_HOLIDAY_FROM {
            continue;
        }
        if between < ARTICLE_3_REWORDED_FROM
            && (between.weekday() == Weekday::Sun || holidays.contains_key(&between))
        {
            // 1985 wording: "日曜日にあたる日及び前項に規定する休日にあたる日を除く".
            continue;
        }
        // From 2007 a 振替休日 is not excluded; should a day ever be both, it
        // keeps the name 振替休日 (no such day exists 2007–2099).
        holidays.entry(between).or_insert(KOKUMIN_NO_KYUJITSU);
    }

    holidays
}

/// The 国民の祝日 of art. 2 in force in `year`, with the 2020/2021 Olympic moves.
fn article_2_holidays(year: i32) -> Vec<(NaiveDate, &'static str)> {
    let date = |month, day| calendar_date(year, month, day);
    let monday = |month, nth| nth_monday(year, month, nth);
    let mut days = Vec::with_capacity(16);

    days.push((date(1, 1), GANJITSU));
    days.push(match year {
        ..=1999 => (date(1, 15), SEIJIN_NO_HI),
        _ => (monday(1, 2), SEIJIN_NO_HI),
    });
    if year >= 1967 {
        days.push((date(2, 11), KENKOKU_KINEN_NO_HI));
    }
    match year {
        ..=1988 => days.push((date(4, 29), TENNO_TANJOBI)),
        1989..=2018 => days.push((date(12, 23), TENNO_TANJOBI)),
        2019 => {}
        _ => days.push((date(2, 23), TENNO_TANJOBI)),
    }
    days.push((date(3, vernal_equinox_day(year)), SHUNBUN_NO_HI));
    match year {
        ..=1988 => {}
        1989..=2006 => days.push((date(4, 29), MIDORI_NO_HI)),
        _ => {
            days.push((date(4, 29), SHOWA_NO_HI));
            days.push((date(5, 4), MIDORI_NO_HI));
        }
    }
    days.push((date(5, 3), KENPO_KINENBI));
    days.push((date(5, 5), KODOMO_NO_HI));
    match year {
        ..=1995 => {}
        1996..=2002 => days.push((date(7, 20), UMI_NO_HI)),
        2020 => days.push((date(7, 23), UMI_NO_HI)),
        2021 => days.push((date(7, 22), UMI_NO_HI)),
        _ => days.push((monday(7, 3), UMI_NO_HI)),
    }
    match year {
        ..=2015 => {}
        2020 => days.push((date(8, 10), YAMA_NO_HI)),
        2021 => days.push((date(8, 8), YAMA_NO_HI)),
        _ => days.push((date(8, 11), YAMA_NO_HI)),
    }
    match year {
        ..=1965 => {}
        1966..=2002 => days.push((date(9, 15), KEIRO_NO_HI)),
        _ => days.push((monday(9, 3), KEIRO_NO_HI)),
    }
    days.push((date(9, autumnal_equinox_day(year)), SHUBUN_NO_HI));
    match year {
        ..=1965 => {}
        1966..=1999 => days.push((date(10, 10), TAIIKU_NO_HI)),
        2000..=2019 => days.push((monday(10, 2), TAIIKU_NO_HI)),
        2020 => days.push((date(7, 24), SPORTS_NO_HI)),
        2021 => days.push((date(7, 23), SPORTS_NO_HI)),
        _ => days.push((monday(10, 2), SPORTS_NO_HI)),
    }
    days.push((date(11, 3), BUNKA_NO_HI));
    days.push((date(11, 23), KINRO_KANSHA_NO_HI));
    days
}

/// Day of March of the vernal equinox (春分日) in JST.
fn vernal_equinox_day(year: i32) -> u32 {
    equinox_day(year, if year < 1980 { 20.8357 } else { 20.8431 })
}

/// Day of September of the autumnal equinox (秋分日) in JST.
fn autumnal_equinox_day(year: i32) -> u32 {
    equinox_day(year, if year < 1980 { 23.2588 } else { 23.2488 })
}

/// `floor(constant + 0.242194 * (y - 1980)) - floor((y - 1980) / 4)`.
fn equinox_day(year: i32, constant: f64) -> u32 {
    let since_1980 = year - 1980;
    let day =
        (constant + 0.242194 * f64::from(since_1980)).floor() - f64::from(since_1980.div_euclid(4));
    // 19.0..=24.0 for every supported year; `as` saturates, and
    // `calendar_date` rejects anything that is not a day of the month.
    day as u32
}

fn calendar_date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day)
        .expect("holiday rules name real days of the month (equinoxes fall on the 19th to 24th)")
}

fn nth_monday(year: i32, month: u32, nth: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Mon, nth)
        .expect("every month has a second and a third Monday")
}

fn next_day(date: NaiveDate) -> NaiveDate {
    date.succ_opt()
        .expect("chrono's dates reach far past 2100, so every supported date has a next day")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).expect("test dates are real dates")
    }

    fn name(year: i32, month: u32, day: u32) -> Option<&'static str> {
        national_holiday(d(year, month, day)).expect("test dates are in the supported range")
    }

    fn holidays_of(year: i32) -> Vec<(String, &'static str)> {
        national_holidays_in_year(year)
            .expect("test years are in the supported range")
            .iter()
            .map(|h| (h.date.format("%m-%d").to_string(), h.name))
            .collect()
    }

    fn dates_named(year: i32, wanted: &str) -> Vec<NaiveDate> {
        national_holidays_in_year(year)
            .expect("test years are in the supported range")
            .iter()
            .filter(|h| h.name == wanted)
            .map(|h| h.date)
            .collect()
    }

    // --- range ---

    #[test]
    fn years_1948_and_2100_are_out_of_range() {
        for year in [1948, 2100] {
            assert_eq!(
                national_holidays_in_year(year),
                Err(YearOutOfRange { year })
            );
            assert_eq!(
                national_holiday(d(year, 1, 1)),
                Err(YearOutOfRange { year })
            );
        }
        assert_eq!(
            national_holidays_between(d(1948, 12, 31), d(1949, 1, 2)),
            Err(YearOutOfRange { year: 1948 })
        );
        assert_eq!(
            national_holidays_between(d(2099, 12, 31), d(2100, 1, 1)),
            Err(YearOutOfRange { year: 2100 })
        );
        assert_eq!(
            YearOutOfRange { year: 2100 }.to_string(),
            "year 2100 is outside the supported range 1949..=2099"
        );
    }

    #[test]
    fn first_and_last_supported_days_are_answered() {
        assert_eq!(name(1949, 1, 1), Some("元日"));
        assert_eq!(name(2099, 12, 31), None);
    }

    // --- the table itself ---

    #[test]
    fn every_year_is_sorted_without_duplicates_and_holds_only_its_own_dates() {
        for year in FIRST_SUPPORTED_YEAR..=LAST_SUPPORTED_YEAR {
            let days = national_holidays_in_year(year).expect("supported year");
            assert!(days.len() >= 9, "{year} has only {} holidays", days.len());
            assert!(days.iter().all(|h| h.date.year() == year), "{year}");
            assert!(days.windows(2).all(|w| w[0].date < w[1].date), "{year}");
            for h in days {
                assert_eq!(national_holiday(h.date), Ok(Some(h.name)));
            }
        }
    }

    #[test]
    fn only_substitute_and_citizens_holidays_fall_on_days_between_the_statutory_ones() {
        // A 国民の休日 always has a holiday on both sides; a 振替休日 always
        // follows a run of holidays that starts on a Sunday.
        for year in FIRST_SUPPORTED_YEAR..=LAST_SUPPORTED_YEAR {
            for h in national_holidays_in_year(year).expect("supported year") {
                let before = h
                    .date
                    .pred_opt()
                    .and_then(|p| national_holiday(p).ok().flatten());
                let after = h
                    .date
                    .succ_opt()
                    .and_then(|n| national_holiday(n).ok().flatten());
                if h.name == "国民の休日" {
                    assert!(before.is_some() && after.is_some(), "{}", h.date);
                }
                if h.name == "振替休日" {
                    let mut day = h.date.pred_opt().expect("not the first day");
                    while national_holiday(day) != Ok(None) && day.weekday() != Weekday::Sun {
                        day = day.pred_opt().expect("not the first day");
                    }
                    assert_eq!(day.weekday(), Weekday::Sun, "{}", h.date);
                    assert!(
                        national_holiday(day).expect("in range").is_some(),
                        "{}",
                        h.date
                    );
                }
            }
        }
    }

    #[test]
    fn holidays_between_spans_years_and_is_inclusive() {
        let found = national_holidays_between(d(2025, 12, 23), d(2026, 1, 12)).expect("in range");
        let dates: Vec<_> = found.iter().map(|h| (h.date, h.name)).collect();
        assert_eq!(
            dates,
            vec![(d(2026, 1, 1), "元日"), (d(2026, 1, 12), "成人の日")]
        );
        let one_day = national_holidays_between(d(2026, 1, 1), d(2026, 1, 1)).expect("in range");
        assert_eq!(one_day.len(), 1);
        let all = national_holidays_between(d(1949, 1, 1), d(2099, 12, 31)).expect("in range");
        let by_year: usize = (FIRST_SUPPORTED_YEAR..=LAST_SUPPORTED_YEAR)
            .map(|y| national_holidays_in_year(y).expect("supported year").len())
            .sum();
        assert_eq!(all.len(), by_year);
    }

    #[test]
    fn holidays_between_is_empty_when_from_is_after_to() {
        assert_eq!(
            national_holidays_between(d(2026, 5, 6), d(2026, 5, 3)),
            Ok(Vec::new())
        );
    }

    // --- the original 1948 law ---

    #[test]
    fn the_1948_law_gave_nine_holidays_in_1949() {
        assert_eq!(
            holidays_of(1949),
            [
                ("01-01", "元日"),
                ("01-15", "成人の日"),
                ("03-21", "春分の日"),
                ("04-29", "天皇誕生日"),
                ("05-03", "憲法記念日"),
                ("05-05", "こどもの日"),
                ("09-23", "秋分の日"),
                ("11-03", "文化の日"),
                ("11-23", "勤労感謝の日"),
            ]
            .map(|(date, name)| (date.to_string(), name))
        );
    }

    #[test]
    fn may_4_between_two_holidays_was_a_working_day_before_1986() {
        assert_eq!(name(1949, 5, 4), None);
        assert_eq!(name(1984, 5, 4), None); // a Friday
        assert_eq!(name(1985, 5, 4), None); // a Saturday, before the 1985-12-27 amendment
    }

    // --- 1966 ---

    #[test]
    fn respect_for_the_aged_day_and_health_sports_day_began_in_1966() {
        assert_eq!(name(1965, 9, 15), None);
        assert_eq!(name(1965, 10, 10), None);
        assert_eq!(name(1966, 9, 15), Some("敬老の日"));
        assert_eq!(name(1966, 10, 10), Some("体育の日"));
    }

    #[test]
    fn foundation_day_began_in_1967() {
        assert_eq!(name(1966, 2, 11), None);
        assert_eq!(name(1967, 2, 11), Some("建国記念の日"));
    }

    // --- 振替休日 ---

    #[test]
    fn substitute_holiday_did_not_exist_before_april_1973() {
        // 1967-01-15 成人の日 and 1973-02-11 建国記念の日 were Sundays.
        assert_eq!(d(1967, 1, 15).weekday(), Weekday::Sun);
        assert_eq!(name(1967, 1, 16), None);
        assert_eq!(d(1973, 2, 11).weekday(), Weekday::Sun);
        assert_eq!(name(1973, 2, 12), None);
        assert!(
            national_holidays_between(d(1949, 1, 1), d(1973, 4, 11))
                .expect("in range")
                .iter()
                .all(|h| h.name != "振替休日")
        );
    }

    #[test]
    fn first_substitute_holiday_was_the_monday_after_emperors_birthday_1973() {
        assert_eq!(name(1973, 4, 29), Some("天皇誕生日"));
        assert_eq!(name(1973, 4, 30), Some("振替休日"));
        let first = national_holidays_between(d(1949, 1, 1), d(2099, 12, 31))
            .expect("in range")
            .into_iter()
            .find(|h| h.name == "振替休日")
            .map(|h| h.date);
        assert_eq!(first, Some(d(1973, 4, 30)));
    }

    #[test]
    fn substitute_holiday_under_the_1973_rule_is_the_next_day() {
        assert_eq!(name(1978, 1, 2), Some("振替休日")); // 元日 on a Sunday
        assert_eq!(name(2006, 1, 2), Some("振替休日"));
        assert_eq!(name(1997, 7, 21), Some("振替休日")); // 海の日 1997-07-20, a Sunday
        assert_eq!(name(2002, 9, 16), Some("振替休日")); // 敬老の日 2002-09-15, a Sunday
    }

    #[test]
    fn substitute_holiday_from_2007_skips_consecutive_holidays() {
        // 2008-05-04 (みどりの日) was a Sunday: 05-05 is こどもの日, so 05-06.
        assert_eq!(d(2008, 5, 4).weekday(), Weekday::Sun);
        assert_eq!(name(2008, 5, 5), Some("こどもの日"));
        assert_eq!(name(2008, 5, 6), Some("振替休日"));
        // 2009-05-03 (憲法記念日) was a Sunday: 05-04 and 05-05 are holidays, so 05-06.
        assert_eq!(d(2009, 5, 3).weekday(), Weekday::Sun);
        assert_eq!(name(2009, 5, 4), Some("みどりの日"));
        assert_eq!(name(2009, 5, 6), Some("振替休日"));
        assert_eq!(name(2009, 5, 7), None);
    }

    #[test]
    fn spec_2026_may_6_is_a_substitute_holiday() {
        assert_eq!(d(2026, 5, 3).weekday(), Weekday::Sun);
        assert_eq!(name(2026, 5, 6), Some("振替休日"));
    }

    #[test]
    fn spec_2027_march_22_is_the_substitute_for_vernal_equinox_day() {
        assert_eq!(name(2027, 3, 21), Some("春分の日"));
        assert_eq!(name(2027, 3, 22), Some("振替休日"));
    }

    // --- 国民の休日 ---

    #[test]
    fn citizens_holiday_began_with_may_4_1988() {
        // 1986-05-04 was a Sunday; 1987-05-04 was the 振替休日 for 05-03.
        assert_eq!(name(1986, 5, 4), None);
        assert_eq!(name(1987, 5, 4), Some("振替休日"));
        assert_eq!(name(1988, 5, 4), Some("国民の休日"));
        let first = national_holidays_between(d(1949, 1, 1), d(2099, 12, 31))
            .expect("in range")
            .into_iter()
            .find(|h| h.name == "国民の休日")
            .map(|h| h.date);
        assert_eq!(first, Some(d(1988, 5, 4)));
    }

    #[test]
    fn citizens_holiday_under_the_1985_rule_skipped_sundays_and_substitutes() {
        assert_eq!(name(1991, 5, 4), Some("国民の休日")); // a Saturday counts
        assert_eq!(name(1992, 5, 4), Some("振替休日")); // 05-03 a Sunday
        assert_eq!(name(1997, 5, 4), None); // a Sunday
        assert_eq!(name(2006, 5, 4), Some("国民の休日"));
    }

    #[test]
    fn may_4_became_greenery_day_in_2007_not_a_citizens_holiday() {
        assert_eq!(name(2007, 5, 4), Some("みどりの日"));
        assert_eq!(name(2008, 5, 4), Some("みどりの日")); // a Sunday
        assert!(
            (2007..=2099)
                .all(|y| dates_named(y, "国民の休日").iter().all(|d| d.month() == 9) || y == 2019)
        );
    }

    #[test]
    fn citizens_holiday_falls_between_respect_for_the_aged_day_and_autumnal_equinox() {
        for (year, day) in [(2009, 22), (2015, 22), (2026, 22), (2032, 21), (2037, 22)] {
            assert_eq!(name(year, 9, day - 1), Some("敬老の日"), "{year}");
            assert_eq!(name(year, 9, day), Some("国民の休日"), "{year}");
            assert_eq!(name(year, 9, day + 1), Some("秋分の日"), "{year}");
        }
        assert_eq!(name(2020, 9, 22), Some("秋分の日"));
        assert_eq!(dates_named(2020, "国民の休日"), []);
    }

    #[test]
    fn spec_2026_september_22_is_a_citizens_holiday() {
        assert_eq!(name(2026, 9, 21), Some("敬老の日"));
        assert_eq!(name(2026, 9, 22), Some("国民の休日"));
        assert_eq!(name(2026, 9, 23), Some("秋分の日"));
    }

    // --- 1989 ---

    #[test]
    fn emperors_birthday_moved_to_december_23_in_1989_and_april_29_became_greenery_day() {
        assert_eq!(name(1988, 4, 29), Some("天皇誕生日"));
        assert_eq!(name(1988, 12, 23), None);
        assert_eq!(name(1989, 4, 29), Some("みどりの日"));
        assert_eq!(name(1989, 12, 23), Some("天皇誕生日"));
        assert_eq!(dates_named(1989, "天皇誕生日"), [d(1989, 12, 23)]);
    }

    // --- 1996, 2000, 2003 ---

    #[test]
    fn marine_day_began_on_july_20_1996() {
        assert_eq!(name(1995, 7, 20), None);
        assert_eq!(name(1996, 7, 20), Some("海の日"));
        assert_eq!(name(2002, 7, 20), Some("海の日"));
    }

    #[test]
    fn coming_of_age_day_moved_to_the_second_monday_of_january_in_2000() {
        assert_eq!(name(1999, 1, 15), Some("成人の日"));
        assert_eq!(name(2000, 1, 10), Some("成人の日"));
        assert_eq!(name(2000, 1, 15), None);
    }

    #[test]
    fn health_sports_day_moved_to_the_second_monday_of_october_in_2000() {
        assert_eq!(name(1999, 10, 10), Some("体育の日"));
        assert_eq!(name(1999, 10, 11), Some("振替休日"));
        assert_eq!(name(2000, 10, 9), Some("体育の日"));
        assert_eq!(name(2000, 10, 10), None);
    }

    #[test]
    fn marine_day_and_respect_for_the_aged_day_moved_to_third_mondays_in_2003() {
        assert_eq!(name(2003, 7, 21), Some("海の日"));
        assert_eq!(name(2003, 7, 20), None);
        assert_eq!(name(2002, 9, 15), Some("敬老の日"));
        assert_eq!(name(2003, 9, 15), Some("敬老の日")); // the third Monday that year
        assert_eq!(name(2004, 9, 20), Some("敬老の日"));
        assert_eq!(name(2004, 9, 15), None);
    }

    // --- 2007 ---

    #[test]
    fn april_29_became_showa_day_and_greenery_day_moved_to_may_4_in_2007() {
        assert_eq!(name(2006, 4, 29), Some("みどりの日"));
        assert_eq!(name(2006, 5, 4), Some("国民の休日"));
        assert_eq!(name(2007, 4, 29), Some("昭和の日"));
        assert_eq!(name(2007, 4, 30), Some("振替休日"));
        assert_eq!(name(2007, 5, 4), Some("みどりの日"));
    }

    // --- 2016 ---

    #[test]
    fn mountain_day_began_in_2016() {
        assert_eq!(name(2015, 8, 11), None);
        assert_eq!(name(2016, 8, 11), Some("山の日"));
    }

    // --- 2019 and the Reiwa era ---

    #[test]
    fn there_was_no_emperors_birthday_in_2019() {
        assert_eq!(name(2018, 12, 23), Some("天皇誕生日"));
        assert_eq!(name(2018, 12, 24), Some("振替休日"));
        assert_eq!(name(2019, 2, 23), None);
        assert_eq!(name(2019, 12, 23), None);
        assert_eq!(dates_named(2019, "天皇誕生日"), []);
    }

    #[test]
    fn emperors_birthday_is_february_23_from_2020() {
        assert_eq!(name(2020, 2, 23), Some("天皇誕生日"));
        assert_eq!(name(2020, 2, 24), Some("振替休日"));
        assert_eq!(name(2020, 12, 23), None);
    }

    #[test]
    fn golden_week_2019_was_ten_days_off() {
        let expected = [
            (29, "昭和の日"),
            (30, "国民の休日"),
            (1, "天皇の即位の日"),
            (2, "国民の休日"),
            (3, "憲法記念日"),
            (4, "みどりの日"),
            (5, "こどもの日"),
            (6, "振替休日"),
        ];
        for (day, want) in expected {
            let month = if day >= 29 { 4 } else { 5 };
            assert_eq!(name(2019, month, day), Some(want), "2019-{month}-{day}");
        }
        assert_eq!(d(2019, 4, 27).weekday(), Weekday::Sat);
        assert_eq!(name(2019, 5, 7), None);
    }

    #[test]
    fn sports_day_replaced_health_sports_day_in_2020() {
        assert_eq!(name(2019, 10, 14), Some("体育の日"));
        assert_eq!(dates_named(2020, "体育の日"), []);
        assert_eq!(name(2022, 10, 10), Some("スポーツの日"));
    }

    #[test]
    fn olympic_year_2020_moved_three_holidays() {
        assert_eq!(name(2020, 7, 23), Some("海の日"));
        assert_eq!(name(2020, 7, 24), Some("スポーツの日"));
        assert_eq!(name(2020, 8, 10), Some("山の日"));
        assert_eq!(name(2020, 7, 20), None);
        assert_eq!(name(2020, 8, 11), None);
        assert_eq!(name(2020, 10, 12), None);
    }

    #[test]
    fn olympic_year_2021_moved_three_holidays_and_mountain_day_had_a_substitute() {
        assert_eq!(name(2021, 7, 22), Some("海の日"));
        assert_eq!(name(2021, 7, 23), Some("スポーツの日"));
        assert_eq!(name(2021, 8, 8), Some("山の日"));
        assert_eq!(name(2021, 8, 9), Some("振替休日"));
        assert_eq!(name(2021, 7, 19), None);
        assert_eq!(name(2021, 8, 11), None);
        assert_eq!(name(2021, 10, 11), None);
    }

    #[test]
    fn marine_sports_and_mountain_days_are_back_on_their_usual_days_in_2022() {
        assert_eq!(name(2022, 7, 18), Some("海の日"));
        assert_eq!(name(2022, 8, 11), Some("山の日"));
        assert_eq!(name(2022, 10, 10), Some("スポーツの日"));
    }

    // --- one-off holidays ---

    #[test]
    fn one_off_holidays_are_holidays_with_their_own_names() {
        assert_eq!(name(1959, 4, 10), Some("皇太子・明仁親王の結婚の儀"));
        assert_eq!(name(1989, 2, 24), Some("昭和天皇の大喪の礼"));
        assert_eq!(name(1990, 11, 12), Some("即位礼正殿の儀"));
        assert_eq!(name(1993, 6, 9), Some("皇太子・徳仁親王の結婚の儀"));
        assert_eq!(name(2019, 5, 1), Some("天皇の即位の日"));
        assert_eq!(name(2019, 10, 22), Some("即位礼正殿の儀"));
    }

    #[test]
    fn the_pre_2019_one_off_days_have_no_holiday_or_sunday_beside_them() {
        // Why treating them as 国民の祝日 for art. 3 cannot change the table.
        for (date, _) in &ONE_OFF_HOLIDAYS[..4] {
            for side in [date.pred_opt(), date.succ_opt()].into_iter().flatten() {
                assert_eq!(national_holiday(side), Ok(None), "{side}");
            }
            assert_ne!(date.weekday(), Weekday::Sun);
        }
    }

    // --- the equinoxes ---

    #[test]
    fn equinox_days_match_the_announced_dates() {
        // Announced dates, including the years where the day moved.
        let vernal = [
            (1949, 21),
            (1960, 20),
            (1979, 21),
            (1980, 20),
            (1992, 20),
            (2000, 20),
            (2023, 21),
            (2025, 20),
            (2026, 20),
            (2027, 21),
        ];
        for (year, day) in vernal {
            assert_eq!(dates_named(year, "春分の日"), [d(year, 3, day)], "{year}");
        }
        let autumnal = [
            (1949, 23),
            (1979, 24),
            (1980, 23),
            (2012, 22),
            (2016, 22),
            (2024, 22),
            (2025, 23),
            (2026, 23),
        ];
        for (year, day) in autumnal {
            assert_eq!(dates_named(year, "秋分の日"), [d(year, 9, day)], "{year}");
        }
    }

    #[test]
    fn equinox_days_stay_within_their_astronomical_range() {
        assert_eq!(vernal_equinox_day(2092), 19);
        for year in FIRST_SUPPORTED_YEAR..=LAST_SUPPORTED_YEAR {
            assert!((19..=21).contains(&vernal_equinox_day(year)), "{year}");
            assert!((22..=24).contains(&autumnal_equinox_day(year)), "{year}");
        }
    }

    // --- SPEC worked example ---

    #[test]
    fn spec_2026_november_23_labour_thanksgiving_day_is_a_monday() {
        assert_eq!(name(2026, 11, 23), Some("勤労感謝の日"));
        assert_eq!(d(2026, 11, 23).weekday(), Weekday::Mon);
    }
}
