//! Support contracts and their periods (SPEC.md section 2): the rules that
//! turn an order into a support period, and a contract's status on a date.
//!
//! A contract's history is the list of its [`Order`]s. Each order that buys
//! a year of support (first year, renewal, re-continuation, certificate)
//! carries a [`Period`]; added seats carry the stretch of an active period
//! they are covered for, if any. A certificate takes precedence over the
//! computed period it overlaps: that period is marked superseded.

use std::fmt;

use chrono::{Datelike, Months, NaiveDate};

use crate::error::Reason;

/// A contract id: staff may give the vendor's existing contract number;
/// otherwise one is generated. 1 to 64 characters from `A-Z a-z 0-9 - _ .`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContractId(String);

impl ContractId {
    /// Checks a given id.
    pub fn parse(text: &str) -> Result<Self, String> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if text.is_empty() || text.len() > 64 || !text.chars().all(ok_char) {
            return Err("a contract id has 1 to 64 characters from A-Z a-z 0-9 - _ .".into());
        }
        Ok(Self(text.to_owned()))
    }

    /// A new id, `C-` and twelve hexadecimal digits.
    pub fn generate() -> Self {
        let hex = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
        Self(format!("C-{}", &hex[..12]))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContractId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An e-mail address for notices and replies: `local@domain` as RFC 5321
/// allows it, with a dotted domain (no bare hosts), at most 254 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Checks an address.
    pub fn parse(text: &str) -> Result<Self, String> {
        let invalid = || format!("{text:?} is not a valid e-mail address");
        let parsed: email_address::EmailAddress = text.parse().map_err(|_| invalid())?;
        if text.len() > 254 || !parsed.domain().contains('.') || parsed.display_part() != "" {
            return Err(invalid());
        }
        if text.contains(['<', '>', ' ', '"']) {
            return Err(invalid());
        }
        Ok(Self(text.to_owned()))
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A stored support contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contract {
    /// Its id.
    pub id: String,
    /// The customer's name.
    pub customer_name: String,
    /// Where notices go.
    pub contact_email: String,
    /// The Backup Server license it covers.
    pub license_id: String,
    /// The license's seats now (the next renewal is charged on them).
    pub seats: i64,
    /// Whether the installation is customized.
    pub customized: bool,
    /// When it was created.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A checked contract to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContract {
    /// Its id, given or generated.
    pub id: ContractId,
    /// The customer's name.
    pub customer_name: String,
    /// Where notices go.
    pub contact_email: EmailAddress,
    /// The license id (same character rules as a contract id).
    pub license_id: ContractId,
    /// Seats, at least 1.
    pub seats: i64,
    /// Whether the installation is customized.
    pub customized: bool,
}

/// What kind of order bought a period (or seats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "kebab-case")]
pub enum OrderKind {
    /// The first year, bought with the license.
    FirstYear,
    /// A renewal within a year of the last period's end.
    Renewal,
    /// 再継続年間サポート: support bought again more than a year after the
    /// last period ended.
    ReContinuation,
    /// Seats added to the license.
    AddSeats,
    /// A period printed on an annual support certificate (年間サポート証書).
    Certificate,
}

impl OrderKind {
    /// The kind's name, as stored and as the CLI spells it.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses a stored or typed name.
    pub fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

/// A support period: `[start, end]` inclusive, with the coverage that may
/// begin earlier (the first year covers from the purchase date).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First day of the period.
    pub start: NaiveDate,
    /// Last day, inclusive.
    pub end: NaiveDate,
    /// First day support is provided (`min(P, start)` for a first year).
    pub covered_from: NaiveDate,
}

impl Period {
    fn overlaps(&self, other: &Period) -> bool {
        self.covered_from <= other.end && other.covered_from <= self.end
    }
}

/// A recorded order of a contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// Store-assigned id.
    pub id: i64,
    /// What it bought.
    pub kind: OrderKind,
    /// The vendor's order acceptance date.
    pub received_on: NaiveDate,
    /// The purchase date (first year: the license; add-seats: the seats).
    pub purchased_on: Option<NaiveDate>,
    /// Seats: the license's seats when the period was bought, or the number
    /// of seats added.
    pub seats: i64,
    /// The period bought, or for added seats the stretch they are covered
    /// (`None` when bought while no period was active).
    pub period: Option<Period>,
    /// The certificate number, for certificates.
    pub certificate_no: Option<String>,
    /// The certificate order that replaced this computed period, if any.
    pub superseded_by: Option<i64>,
}

impl Order {
    /// Whether this order holds a support period in force (not added seats,
    /// not superseded by a certificate).
    pub fn is_live_period(&self) -> bool {
        self.kind != OrderKind::AddSeats && self.superseded_by.is_none() && self.period.is_some()
    }
}

/// An order as staff enter it, before its period is computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewOrder {
    /// The first year, with the license purchase date.
    FirstYear {
        /// Order acceptance date.
        received_on: NaiveDate,
        /// License purchase date.
        purchased_on: NaiveDate,
    },
    /// A renewal.
    Renewal {
        /// Order acceptance date.
        received_on: NaiveDate,
    },
    /// 再継続年間サポート.
    ReContinuation {
        /// Order acceptance date.
        received_on: NaiveDate,
    },
    /// Added seats.
    AddSeats {
        /// Order acceptance date.
        received_on: NaiveDate,
        /// The seats' purchase date.
        purchased_on: NaiveDate,
        /// How many seats, at least 1.
        seats: i64,
    },
    /// A certificate's explicit period.
    Certificate {
        /// Order acceptance date.
        received_on: NaiveDate,
        /// First day printed on the certificate.
        start: NaiveDate,
        /// Last day printed on the certificate.
        end: NaiveDate,
        /// The certificate number.
        certificate_no: String,
    },
}

/// Why an order is refused. Each has a stable reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderRefusal {
    /// A plain renewal more than a year after the last period ended.
    #[error(
        "the last support period ended on {ended_on}; a renewal was possible until {renewable_until}, so 再継続年間サポート (re-continuation) is required"
    )]
    RecontinuationRequired {
        /// The last period's end.
        ended_on: NaiveDate,
        /// The last day a renewal could be ordered.
        renewable_until: NaiveDate,
    },
    /// A re-continuation while a renewal is still allowed.
    #[error(
        "the last support period ended on {ended_on} and a plain renewal is still allowed until {renewable_until}; order a renewal instead of a re-continuation"
    )]
    RenewalStillAllowed {
        /// The last period's end.
        ended_on: NaiveDate,
        /// The last day a renewal can be ordered.
        renewable_until: NaiveDate,
    },
    /// A renewal or re-continuation before any period.
    #[error("the contract has no support period yet; record its first year first")]
    FirstYearRequired,
    /// A second first year.
    #[error("the contract already has its first year")]
    FirstYearExists,
    /// The new period would overlap one on record.
    #[error(
        "the period {start} .. {end} overlaps the period {other_start} .. {other_end} on record"
    )]
    OverlappingPeriod {
        /// The new period's start.
        start: NaiveDate,
        /// The new period's end.
        end: NaiveDate,
        /// The overlapped period's start.
        other_start: NaiveDate,
        /// The overlapped period's end.
        other_end: NaiveDate,
    },
}

impl OrderRefusal {
    /// The stable ErrorInfo reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::RecontinuationRequired { .. } => Reason::RecontinuationRequired.as_str(),
            Self::RenewalStillAllowed { .. } => Reason::RenewalStillAllowed.as_str(),
            Self::FirstYearRequired => Reason::FirstYearRequired.as_str(),
            Self::FirstYearExists => Reason::FirstYearExists.as_str(),
            Self::OverlappingPeriod { .. } => Reason::OverlappingPeriod.as_str(),
        }
    }
}

/// `d` if it is the 1st of its month, else the 1st of the following month.
pub fn first_of_next(d: NaiveDate) -> NaiveDate {
    if d.day() == 1 {
        d
    } else {
        let first = d.with_day(1).expect("every month has a 1st");
        first + Months::new(1)
    }
}

/// `start + 12 months - 1 day`.
pub fn one_year_from(start: NaiveDate) -> NaiveDate {
    (start + Months::new(12))
        .pred_opt()
        .expect("dates in range have a predecessor")
}

/// `E + 12 months` by calendar addition (Feb 29 + 12 months = Feb 28): the
/// last day a plain renewal may be ordered after a period ending `E`.
pub fn renewable_until(ended_on: NaiveDate) -> NaiveDate {
    ended_on + Months::new(12)
}

/// What the next renewal ordered on `received_on` would be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenewalQuote {
    /// `Renewal` or `ReContinuation`.
    pub kind: OrderKind,
    /// The period it would get.
    pub period: Period,
}

/// The live periods of a history, in start order.
fn live_periods(history: &[Order]) -> impl Iterator<Item = (&Order, Period)> {
    history
        .iter()
        .filter(|o| o.is_live_period())
        .filter_map(|o| o.period.map(|p| (o, p)))
}

/// The seats licensed on `date`: the contract's seats now, less the seats
/// of add-seats orders dated after it (an order counts from its purchase
/// date, or its received date when it has none). A key carries the seats
/// of its issue date in JST.
pub fn seats_on(current_seats: i64, history: &[Order], date: NaiveDate) -> i64 {
    let later: i64 = history
        .iter()
        .filter(|o| o.kind == OrderKind::AddSeats)
        .filter(|o| o.purchased_on.unwrap_or(o.received_on) > date)
        .map(|o| o.seats)
        .sum();
    current_seats - later
}

/// The end of the latest live period.
pub fn last_end(history: &[Order]) -> Option<NaiveDate> {
    live_periods(history).map(|(_, p)| p.end).max()
}

/// Quotes a renewal ordered on `received_on`: a plain renewal while allowed,
/// else a re-continuation.
pub fn quote_renewal(
    history: &[Order],
    received_on: NaiveDate,
) -> Result<RenewalQuote, OrderRefusal> {
    let ended_on = last_end(history).ok_or(OrderRefusal::FirstYearRequired)?;
    if received_on > renewable_until(ended_on) {
        let start = first_of_next(received_on);
        return Ok(RenewalQuote {
            kind: OrderKind::ReContinuation,
            period: Period {
                start,
                end: one_year_from(start),
                covered_from: start,
            },
        });
    }
    let start = if received_on <= ended_on {
        ended_on
            .succ_opt()
            .expect("dates in range have a successor")
    } else {
        first_of_next(received_on)
    };
    Ok(RenewalQuote {
        kind: OrderKind::Renewal,
        period: Period {
            start,
            end: one_year_from(start),
            covered_from: start,
        },
    })
}

/// What recording an order does: the order to store, and the computed
/// period a certificate supersedes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The kind of the order.
    pub kind: OrderKind,
    /// Its period (or the seats' coverage).
    pub period: Option<Period>,
    /// Seats to store on the order.
    pub seats: i64,
    /// The computed period's order a certificate supersedes.
    pub supersedes: Option<i64>,
}

/// Decides an order against the contract's history and its current seats.
pub fn decide_order(
    history: &[Order],
    contract_seats: i64,
    order: &NewOrder,
) -> Result<Decision, OrderRefusal> {
    let check_overlap = |period: Period, except: Option<i64>| {
        for (other, other_period) in live_periods(history) {
            if Some(other.id) != except && period.overlaps(&other_period) {
                return Err(OrderRefusal::OverlappingPeriod {
                    start: period.covered_from,
                    end: period.end,
                    other_start: other_period.covered_from,
                    other_end: other_period.end,
                });
            }
        }
        Ok(())
    };
    match order {
        NewOrder::FirstYear {
            received_on,
            purchased_on,
        } => {
            if history.iter().any(|o| o.kind == OrderKind::FirstYear) {
                return Err(OrderRefusal::FirstYearExists);
            }
            let start = first_of_next(*received_on);
            let period = Period {
                start,
                end: one_year_from(start),
                covered_from: (*purchased_on).min(start),
            };
            check_overlap(period, None)?;
            Ok(Decision {
                kind: OrderKind::FirstYear,
                period: Some(period),
                seats: contract_seats,
                supersedes: None,
            })
        }
        NewOrder::Renewal { received_on } => {
            let quote = quote_renewal(history, *received_on)?;
            if quote.kind == OrderKind::ReContinuation {
                let ended_on = last_end(history).ok_or(OrderRefusal::FirstYearRequired)?;
                return Err(OrderRefusal::RecontinuationRequired {
                    ended_on,
                    renewable_until: renewable_until(ended_on),
                });
            }
            check_overlap(quote.period, None)?;
            Ok(Decision {
                kind: OrderKind::Renewal,
                period: Some(quote.period),
                seats: contract_seats,
                supersedes: None,
            })
        }
        NewOrder::ReContinuation { received_on } => {
            let quote = quote_renewal(history, *received_on)?;
            if quote.kind == OrderKind::Renewal {
                let ended_on = last_end(history).ok_or(OrderRefusal::FirstYearRequired)?;
                return Err(OrderRefusal::RenewalStillAllowed {
                    ended_on,
                    renewable_until: renewable_until(ended_on),
                });
            }
            check_overlap(quote.period, None)?;
            Ok(Decision {
                kind: OrderKind::ReContinuation,
                period: Some(quote.period),
                seats: contract_seats,
                supersedes: None,
            })
        }
        NewOrder::AddSeats {
            purchased_on,
            seats,
            ..
        } => {
            let covering = live_periods(history)
                .map(|(_, p)| p)
                .find(|p| p.covered_from <= *purchased_on && *purchased_on <= p.end);
            let period = covering.map(|p| Period {
                start: *purchased_on,
                end: p.end,
                covered_from: *purchased_on,
            });
            Ok(Decision {
                kind: OrderKind::AddSeats,
                period,
                seats: *seats,
                supersedes: None,
            })
        }
        NewOrder::Certificate { start, end, .. } => {
            let mut period = Period {
                start: *start,
                end: *end,
                covered_from: *start,
            };
            // The certificate replaces the one computed period it overlaps;
            // a first year keeps its earlier coverage from the purchase.
            let overlapped: Vec<_> = live_periods(history)
                .filter(|(_, p)| period.overlaps(p))
                .collect();
            let supersedes = match overlapped.as_slice() {
                [] => None,
                [(other, other_period)] if other.kind != OrderKind::Certificate => {
                    if other.kind == OrderKind::FirstYear {
                        period.covered_from = period.covered_from.min(other_period.covered_from);
                    }
                    Some(other.id)
                }
                _ => {
                    check_overlap(period, None)?;
                    None
                }
            };
            check_overlap(period, supersedes)?;
            Ok(Decision {
                kind: OrderKind::Certificate,
                period: Some(period),
                seats: contract_seats,
                supersedes,
            })
        }
    }
}

/// A contract's status on a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum ContractStatus {
    /// Some coverage contains the date.
    Active,
    /// Before any coverage.
    NotStarted,
    /// After the last end while a renewal is still allowed.
    Lapsed,
    /// More than a year after the last end: re-continuation needed.
    RecontinuationRequired,
}

impl ContractStatus {
    /// The status's name, as the CLI and the list filter spell it.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The status of a contract with this history on `date`.
pub fn status_on(history: &[Order], date: NaiveDate) -> ContractStatus {
    let mut ended_before: Option<NaiveDate> = None;
    let mut any_started = false;
    for (_, period) in live_periods(history) {
        if period.covered_from <= date && date <= period.end {
            return ContractStatus::Active;
        }
        if period.covered_from <= date {
            any_started = true;
        }
        if period.end < date {
            ended_before = ended_before.max(Some(period.end));
        }
    }
    match ended_before {
        _ if !any_started => ContractStatus::NotStarted,
        Some(ended_on) if date > renewable_until(ended_on) => {
            ContractStatus::RecontinuationRequired
        }
        _ => ContractStatus::Lapsed,
    }
}

/// The coverage of a history: its live periods merged where they touch or
/// overlap, in date order, as `(from, to)` inclusive.
pub fn coverage(history: &[Order]) -> Vec<(NaiveDate, NaiveDate)> {
    let mut ranges: Vec<_> = live_periods(history)
        .map(|(_, p)| (p.covered_from, p.end))
        .collect();
    ranges.sort();
    let mut merged: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    for (from, to) in ranges {
        match merged.last_mut() {
            Some(last) if from <= last.1.succ_opt().unwrap_or(last.1) => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    merged
}

/// The live period containing `date`, if any.
pub fn period_on(history: &[Order], date: NaiveDate) -> Option<&Order> {
    history.iter().filter(|o| o.is_live_period()).find(|o| {
        o.period
            .is_some_and(|p| p.covered_from <= date && date <= p.end)
    })
}

/// The smallest period end `E` for which a renewal is still allowed on
/// `date` (`date <= E + 12 months`): contracts whose last end is before it
/// need re-continuation.
pub fn renewal_threshold(date: NaiveDate) -> NaiveDate {
    let mut candidate = (date - Months::new(12)) - chrono::Days::new(3);
    while renewable_until(candidate) < date {
        candidate = candidate
            .succ_opt()
            .expect("dates in range have a successor");
    }
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    /// Applies orders in turn, like the store does, returning the history.
    fn apply(orders: &[NewOrder]) -> Vec<Order> {
        let mut history = Vec::new();
        let mut seats = 10;
        for (i, order) in orders.iter().enumerate() {
            let decision = decide_order(&history, seats, order).unwrap();
            let id = i64::try_from(i).unwrap() + 1;
            if let Some(old) = decision.supersedes {
                history.iter_mut().for_each(|o: &mut Order| {
                    if o.id == old {
                        o.superseded_by = Some(id);
                    }
                });
            }
            if decision.kind == OrderKind::AddSeats {
                seats += decision.seats;
            }
            history.push(Order {
                id,
                kind: decision.kind,
                received_on: d("2000-01-01"),
                purchased_on: None,
                seats: decision.seats,
                period: decision.period,
                certificate_no: None,
                superseded_by: None,
            });
        }
        history
    }

    fn first_year(received: &str, purchased: &str) -> NewOrder {
        NewOrder::FirstYear {
            received_on: d(received),
            purchased_on: d(purchased),
        }
    }

    fn renewal(received: &str) -> NewOrder {
        NewOrder::Renewal {
            received_on: d(received),
        }
    }

    fn span(order: &Order) -> (NaiveDate, NaiveDate) {
        let p = order.period.unwrap();
        (p.start, p.end)
    }

    #[test]
    fn first_year_starts_on_the_first_of_the_next_month() {
        let h = apply(&[first_year("2026-11-24", "2026-11-20")]);
        assert_eq!(span(&h[0]), (d("2026-12-01"), d("2027-11-30")));
        assert_eq!(h[0].period.unwrap().covered_from, d("2026-11-20"));
    }

    #[test]
    fn first_year_ordered_on_the_first_starts_that_day() {
        let h = apply(&[first_year("2026-12-01", "2026-12-01")]);
        assert_eq!(span(&h[0]), (d("2026-12-01"), d("2027-11-30")));
    }

    #[test]
    fn a_renewal_in_time_starts_the_day_after_the_end() {
        let h = apply(&[
            first_year("2026-11-24", "2026-11-24"),
            renewal("2027-10-15"),
        ]);
        assert_eq!(span(&h[1]), (d("2027-12-01"), d("2028-11-30")));
    }

    #[test]
    fn a_renewal_on_the_last_day_and_the_day_after() {
        let on_last = apply(&[
            first_year("2026-11-24", "2026-11-24"),
            renewal("2027-11-30"),
        ]);
        assert_eq!(span(&on_last[1]), (d("2027-12-01"), d("2028-11-30")));
        let day_after = apply(&[
            first_year("2026-11-24", "2026-11-24"),
            renewal("2027-12-01"),
        ]);
        assert_eq!(span(&day_after[1]), (d("2027-12-01"), d("2028-11-30")));
        let two_days_after = apply(&[
            first_year("2026-11-24", "2026-11-24"),
            renewal("2027-12-02"),
        ]);
        assert_eq!(span(&two_days_after[1]), (d("2028-01-01"), d("2028-12-31")));
    }

    #[test]
    fn a_renewal_after_expiry_leaves_the_gap_uncovered() {
        let h = apply(&[
            first_year("2026-11-24", "2026-11-24"),
            renewal("2028-02-10"),
        ]);
        assert_eq!(span(&h[1]), (d("2028-03-01"), d("2029-02-28")));
        assert_eq!(
            coverage(&h),
            [
                (d("2026-11-24"), d("2027-11-30")),
                (d("2028-03-01"), d("2029-02-28"))
            ]
        );
        assert_eq!(status_on(&h, d("2028-01-15")), ContractStatus::Lapsed);
    }

    #[test]
    fn a_renewal_exactly_a_year_after_expiry_is_allowed_and_the_day_after_is_not() {
        let h = apply(&[first_year("2026-11-24", "2026-11-24")]);
        let allowed = decide_order(&h, 10, &renewal("2028-11-30")).unwrap();
        assert_eq!(allowed.period.unwrap().start, d("2028-12-01"));
        let refused = decide_order(&h, 10, &renewal("2028-12-01")).unwrap_err();
        assert_eq!(refused.reason(), "RECONTINUATION_REQUIRED");
        let recontinued = decide_order(
            &h,
            10,
            &NewOrder::ReContinuation {
                received_on: d("2028-12-01"),
            },
        )
        .unwrap();
        assert_eq!(recontinued.kind, OrderKind::ReContinuation);
        assert_eq!(recontinued.period.unwrap().start, d("2028-12-01"));
        let too_early = decide_order(
            &h,
            10,
            &NewOrder::ReContinuation {
                received_on: d("2028-11-30"),
            },
        )
        .unwrap_err();
        assert_eq!(too_early.reason(), "RENEWAL_STILL_ALLOWED");
    }

    #[test]
    fn a_period_ending_on_february_29_is_renewable_until_february_28_next_year() {
        let h = apply(&[first_year("2027-02-10", "2027-02-10")]);
        assert_eq!(span(&h[0]), (d("2027-03-01"), d("2028-02-29")));
        assert_eq!(renewable_until(d("2028-02-29")), d("2029-02-28"));
        assert!(decide_order(&h, 10, &renewal("2029-02-28")).is_ok());
        assert_eq!(
            decide_order(&h, 10, &renewal("2029-03-01"))
                .unwrap_err()
                .reason(),
            "RECONTINUATION_REQUIRED"
        );
        assert_eq!(status_on(&h, d("2029-02-28")), ContractStatus::Lapsed);
        assert_eq!(
            status_on(&h, d("2029-03-01")),
            ContractStatus::RecontinuationRequired
        );
    }

    #[test]
    fn a_period_starting_march_first_of_a_leap_year_ends_february_28() {
        assert_eq!(one_year_from(d("2028-03-01")), d("2029-02-28"));
        assert_eq!(one_year_from(d("2028-02-01")), d("2029-01-31"));
    }

    #[test]
    fn renewals_need_a_first_year_and_there_is_only_one_first_year() {
        assert_eq!(
            decide_order(&[], 10, &renewal("2027-01-01"))
                .unwrap_err()
                .reason(),
            "FIRST_YEAR_REQUIRED"
        );
        let h = apply(&[first_year("2026-11-24", "2026-11-24")]);
        assert_eq!(
            decide_order(&h, 10, &first_year("2027-11-24", "2027-11-24"))
                .unwrap_err()
                .reason(),
            "FIRST_YEAR_EXISTS"
        );
    }

    #[test]
    fn seats_bought_mid_period_are_covered_to_its_end_and_charged_from_the_next_renewal() {
        let h = apply(&[
            first_year("2026-11-24", "2026-11-24"),
            NewOrder::AddSeats {
                received_on: d("2027-05-10"),
                purchased_on: d("2027-05-10"),
                seats: 5,
            },
        ]);
        assert_eq!(span(&h[1]), (d("2027-05-10"), d("2027-11-30")));
        assert_eq!(h[0].seats, 10, "the current period was charged on 10 seats");
        let renewed = apply(&[
            first_year("2026-11-24", "2026-11-24"),
            NewOrder::AddSeats {
                received_on: d("2027-05-10"),
                purchased_on: d("2027-05-10"),
                seats: 5,
            },
            renewal("2027-11-01"),
        ]);
        assert_eq!(renewed[2].seats, 15, "the renewal is charged on 15 seats");
    }

    #[test]
    fn a_keys_seats_are_those_licensed_on_its_issue_date() {
        let add = |on: &str, seats: i64| Order {
            id: 0,
            kind: OrderKind::AddSeats,
            received_on: d(on),
            purchased_on: Some(d(on)),
            seats,
            period: None,
            certificate_no: None,
            superseded_by: None,
        };
        let history = [add("2027-05-10", 5), add("2026-12-01", 2)];
        // The contract holds 17 seats now: 10, +2 on 2026-12-01, +5 on 2027-05-10.
        assert_eq!(seats_on(17, &history, d("2026-11-30")), 10);
        assert_eq!(seats_on(17, &history, d("2026-12-03")), 12);
        assert_eq!(seats_on(17, &history, d("2027-05-10")), 17);
    }

    #[test]
    fn seats_bought_while_lapsed_are_not_covered_until_renewal() {
        let h = apply(&[
            first_year("2026-11-24", "2026-11-24"),
            NewOrder::AddSeats {
                received_on: d("2028-01-10"),
                purchased_on: d("2028-01-10"),
                seats: 5,
            },
        ]);
        assert_eq!(h[1].period, None);
    }

    #[test]
    fn a_certificate_takes_precedence_over_the_computed_period() {
        let h = apply(&[
            first_year("2026-11-24", "2026-11-20"),
            NewOrder::Certificate {
                received_on: d("2026-11-30"),
                start: d("2026-11-15"),
                end: d("2027-11-14"),
                certificate_no: "CERT-1".into(),
            },
        ]);
        assert_eq!(h[0].superseded_by, Some(2));
        assert_eq!(span(&h[1]), (d("2026-11-15"), d("2027-11-14")));
        assert_eq!(last_end(&h), Some(d("2027-11-14")));
        assert_eq!(coverage(&h), [(d("2026-11-15"), d("2027-11-14"))]);
        // The renewal follows the certificate's end.
        let quote = quote_renewal(&h, d("2027-10-01")).unwrap();
        assert_eq!(
            (quote.period.start, quote.period.end),
            (d("2027-11-15"), d("2028-11-14"))
        );
    }

    #[test]
    fn a_certificate_overlapping_another_certificate_is_refused() {
        let cert = |start: &str, end: &str| NewOrder::Certificate {
            received_on: d("2026-01-01"),
            start: d(start),
            end: d(end),
            certificate_no: "C".into(),
        };
        let h = apply(&[cert("2026-01-01", "2026-12-31")]);
        assert_eq!(
            decide_order(&h, 1, &cert("2026-06-01", "2027-05-31"))
                .unwrap_err()
                .reason(),
            "OVERLAPPING_PERIOD"
        );
    }

    #[test]
    fn status_runs_from_not_started_to_recontinuation_required() {
        let h = apply(&[first_year("2026-11-24", "2026-11-24")]);
        assert_eq!(status_on(&h, d("2026-11-23")), ContractStatus::NotStarted);
        assert_eq!(status_on(&h, d("2026-11-24")), ContractStatus::Active);
        assert_eq!(status_on(&h, d("2027-11-30")), ContractStatus::Active);
        assert_eq!(status_on(&h, d("2027-12-01")), ContractStatus::Lapsed);
        assert_eq!(status_on(&h, d("2028-11-30")), ContractStatus::Lapsed);
        assert_eq!(
            status_on(&h, d("2028-12-01")),
            ContractStatus::RecontinuationRequired
        );
        assert_eq!(status_on(&[], d("2028-12-01")), ContractStatus::NotStarted);
    }

    #[test]
    fn the_renewal_threshold_matches_renewable_until() {
        for text in [
            "2029-02-28",
            "2029-03-01",
            "2028-02-29",
            "2028-03-01",
            "2027-12-31",
            "2026-11-25",
        ] {
            let date = d(text);
            let threshold = renewal_threshold(date);
            assert!(renewable_until(threshold) >= date, "{text}");
            assert!(
                renewable_until(threshold.pred_opt().unwrap()) < date,
                "{text}"
            );
        }
    }

    #[test]
    fn ids_and_addresses_are_checked() {
        assert!(ContractId::parse("NEO-2026-0001").is_ok());
        assert!(ContractId::parse("").is_err());
        assert!(ContractId::parse("a b").is_err());
        assert!(ContractId::parse(&"x".repeat(65)).is_err());
        assert!(ContractId::generate().as_str().starts_with("C-"));
        assert!(EmailAddress::parse("it-admin@example.co.jp").is_ok());
        for bad in [
            "",
            "no-at",
            "a@b",
            "a@@b.jp",
            "<a@b.jp>",
            "Name <a@b.jp>",
            "a b@c.jp",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
    }
}
