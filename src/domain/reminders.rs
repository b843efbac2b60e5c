//! Renewal reminders (SPEC.md section 3, terms 3(2) and 3(3)): which
//! reminder is due for a support period ending `E`, on which business day.
//!
//! - `DaysBefore(n)`: due on the last business day on or before `E - n`,
//!   while the period has not ended.
//! - `Ended`: due on the first business day after `E`, while a plain
//!   renewal is still possible (until `renewable_until(E)`).
//! - `LastCall`: due on the last business day on or before
//!   `renewable_until(E) - 30 days`, until that date.
//!
//! Only the latest due reminder is sent: a contract recorded late, or a
//! server that was down, gets the nearest threshold, not every missed one.
//! Each is sent once per contract, period and threshold (the store keeps
//! that); once a later one is sent, an earlier one is never the latest
//! again.

use chrono::{Duration, NaiveDate};

use super::calendar::Calendar;
use super::contract::renewable_until;
use super::holidays::YearOutOfRange;

/// The default thresholds, in days before the end.
pub const DEFAULT_DAYS_BEFORE: [u32; 3] = [60, 30, 7];

/// The most days before the end a threshold may be.
pub const MAX_DAYS_BEFORE: u32 = 365;

/// Days before the last renewal date that the last call comes.
pub const LAST_CALL_DAYS: i64 = 30;

/// Which reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Threshold {
    /// This many days before the end.
    DaysBefore(u32),
    /// Support has ended; a plain renewal is still possible.
    Ended,
    /// 30 days before only re-continuation can be bought.
    LastCall,
}

impl Threshold {
    /// The name stored and shown: `60d`, `ended`, `last-call`.
    pub fn as_str(self) -> String {
        match self {
            Self::DaysBefore(days) => format!("{days}d"),
            Self::Ended => "ended".into(),
            Self::LastCall => "last-call".into(),
        }
    }
}

/// Parses `60,30,7` (empty: no reminders before the end, and none at all
/// when the caller says so); each 1-365, no repeats.
pub fn parse_days(text: &str) -> Result<Vec<u32>, String> {
    let mut days = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let day: u32 = part
            .parse()
            .map_err(|_| format!("{part:?} is not a number of days"))?;
        if day == 0 || day > MAX_DAYS_BEFORE {
            return Err(format!("{day} is not 1-{MAX_DAYS_BEFORE} days"));
        }
        if days.contains(&day) {
            return Err(format!("{day} is given twice"));
        }
        days.push(day);
    }
    Ok(days)
}

/// A reminder that is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueReminder {
    /// Which one.
    pub threshold: Threshold,
    /// The business day it is due on (on or before `today`).
    pub due_on: NaiveDate,
    /// The last day a plain renewal may be ordered.
    pub renewable_until: NaiveDate,
}

/// The last business day on or before `date`.
pub fn last_business_day_on_or_before(
    calendar: &Calendar,
    date: NaiveDate,
) -> Result<NaiveDate, YearOutOfRange> {
    let mut day = date;
    while !calendar.is_business_day(day)? {
        day -= Duration::days(1);
    }
    Ok(day)
}

/// The reminder due on `today` for a period ending `end`, with thresholds
/// `days_before`: the one whose due date is the latest on or before
/// `today`, among those still meaningful; `None` when none is.
pub fn due_reminder(
    calendar: &Calendar,
    end: NaiveDate,
    today: NaiveDate,
    days_before: &[u32],
) -> Result<Option<DueReminder>, YearOutOfRange> {
    let until = renewable_until(end);
    let mut candidates = Vec::new();
    if today <= end {
        for &days in days_before {
            let due_on =
                last_business_day_on_or_before(calendar, end - Duration::days(i64::from(days)))?;
            candidates.push((Threshold::DaysBefore(days), due_on));
        }
    } else if today <= until {
        let after_end = end + Duration::days(1);
        let ended_on = if calendar.is_business_day(after_end)? {
            after_end
        } else {
            calendar.next_business_day(after_end)?
        };
        candidates.push((Threshold::Ended, ended_on));
        let last_call =
            last_business_day_on_or_before(calendar, until - Duration::days(LAST_CALL_DAYS))?;
        candidates.push((Threshold::LastCall, last_call));
    }
    Ok(candidates
        .into_iter()
        .filter(|(_, due_on)| *due_on <= today)
        // The latest due date; on a tie the threshold nearest the end.
        .max_by_key(|(threshold, due_on)| {
            let nearness = match threshold {
                Threshold::DaysBefore(days) => -i64::from(*days),
                Threshold::Ended => 1,
                Threshold::LastCall => 2,
            };
            (*due_on, nearness)
        })
        .map(|(threshold, due_on)| DueReminder {
            threshold,
            due_on,
            renewable_until: until,
        }))
}

/// The reminder's mail, in Japanese: subject and body. Names the
/// license, the end date and the seats the renewal will charge.
pub fn reminder_mail(
    reminder: &DueReminder,
    contract_id: &str,
    license_id: &str,
    end: NaiveDate,
    next_renewal_seats: i64,
) -> (String, String) {
    let end_text = end.format("%Y年%m月%d日");
    let until_text = reminder.renewable_until.format("%Y年%m月%d日");
    let header = format!(
        "契約番号: {contract_id}\n\
         ライセンス番号: {license_id}\n\
         年間サポート期間の終了日: {end_text}\n\
         更新時のご請求ライセンス数: {next_renewal_seats}\n"
    );
    match reminder.threshold {
        Threshold::DaysBefore(days) => (
            format!(
                "【desknet's NEO バックアップサーバー】年間サポート期間終了のご案内（{end_text}終了・あと{days}日）"
            ),
            format!(
                "年間サポートの期間が{end_text}に終了します。\n\n{header}\n\
                 期間の終了日までにご発注いただいた更新は、期間の途切れなく継続されます。\n\
                 更新のご発注をお待ちしております。\n"
            ),
        ),
        Threshold::Ended => (
            format!(
                "【desknet's NEO バックアップサーバー】年間サポート期間終了のお知らせ（{end_text}終了）"
            ),
            format!(
                "年間サポートの期間は{end_text}に終了しました。\n\n{header}\n\
                 {until_text}までのご発注は通常の更新として承ります。\n\
                 それ以降は、再継続年間サポートのご購入が必要になります。\n"
            ),
        ),
        Threshold::LastCall => (
            format!(
                "【desknet's NEO バックアップサーバー】通常の更新の期限が近づいています（{until_text}まで）"
            ),
            format!(
                "年間サポートの期間は{end_text}に終了しています。\n\n{header}\n\
                 通常の更新としてご発注いただけるのは{until_text}までです。\n\
                 それ以降は、再継続年間サポートのご購入が必要になります。\n"
            ),
        ),
    }
}

/// The lowest and highest period end that can have a reminder due on
/// `today` (for the store's indexed range): up to the largest threshold
/// ahead, plus a month for business-day shifts, and back to a year and
/// a few days ago.
pub fn candidate_ends(today: NaiveDate, days_before: &[u32]) -> (NaiveDate, NaiveDate) {
    let ahead = days_before.iter().copied().max().unwrap_or(0);
    let latest = today + Duration::days(i64::from(ahead) + 31);
    let earliest = today - Duration::days(367);
    (earliest, latest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn due(end: NaiveDate, today: NaiveDate) -> Option<(Threshold, NaiveDate)> {
        due_reminder(&Calendar::default(), end, today, &DEFAULT_DAYS_BEFORE)
            .unwrap()
            .map(|r| (r.threshold, r.due_on))
    }

    #[test]
    fn a_contract_ending_in_20_days_gets_the_30_day_reminder_only() {
        // 2027-11-30 is a Tuesday; 20 days before is 2027-11-10.
        let end = date(2027, 11, 30);
        assert_eq!(
            due(end, date(2027, 11, 10)),
            Some((Threshold::DaysBefore(30), date(2027, 10, 29)))
        );
    }

    #[test]
    fn a_threshold_on_a_day_off_is_due_the_business_day_before() {
        // 2027-11-30 - 7 = 2027-11-23, 勤労感謝の日 (a Tuesday): due Monday 22.
        let end = date(2027, 11, 30);
        assert_eq!(
            due(end, date(2027, 11, 22)),
            Some((Threshold::DaysBefore(7), date(2027, 11, 22)))
        );
        assert_eq!(
            due(end, date(2027, 11, 21)),
            Some((Threshold::DaysBefore(30), date(2027, 10, 29)))
        );
        // 2027-11-30 - 30 = 2027-10-31, a Sunday: due Friday 29.
        assert_eq!(
            due(end, date(2027, 10, 28)),
            Some((Threshold::DaysBefore(60), date(2027, 10, 1)))
        );
    }

    #[test]
    fn nothing_is_due_long_before_the_end() {
        assert_eq!(due(date(2027, 11, 30), date(2027, 9, 1)), None);
    }

    #[test]
    fn after_the_end_comes_the_ended_reminder_then_the_last_call() {
        let end = date(2027, 11, 30);
        // 2027-12-01 is a Wednesday, a business day.
        assert_eq!(
            due(end, date(2027, 12, 1)),
            Some((Threshold::Ended, date(2027, 12, 1)))
        );
        assert_eq!(
            due(end, date(2028, 6, 1)),
            Some((Threshold::Ended, date(2027, 12, 1)))
        );
        // renewable until 2028-11-30; 30 days before is 2028-10-31 (Tue).
        assert_eq!(
            due(end, date(2028, 10, 31)),
            Some((Threshold::LastCall, date(2028, 10, 31)))
        );
        assert_eq!(
            due(end, date(2028, 11, 30)),
            Some((Threshold::LastCall, date(2028, 10, 31)))
        );
        assert_eq!(due(end, date(2028, 12, 1)), None);
    }

    #[test]
    fn thresholds_parse() {
        assert_eq!(parse_days("60,30,7"), Ok(vec![60, 30, 7]));
        assert_eq!(parse_days(""), Ok(vec![]));
        assert!(parse_days("0").is_err());
        assert!(parse_days("30,30").is_err());
        assert!(parse_days("x").is_err());
        assert!(parse_days("366").is_err());
    }

    #[test]
    fn the_candidate_range_covers_every_due_reminder() {
        let today = date(2027, 11, 10);
        let (earliest, latest) = candidate_ends(today, &DEFAULT_DAYS_BEFORE);
        assert!(earliest <= renewable_until(earliest) && renewable_until(earliest) < today);
        assert!(latest >= today + Duration::days(60));
    }
}
