//! Technical inquiries (SPEC.md section 3): what is in scope, and when an
//! inquiry is received and handled.

use chrono::{DateTime, Utc};

use super::contract::{ContractStatus, EmailAddress};
use crate::error::Reason;

/// Longest subject, in characters.
pub const MAX_SUBJECT_CHARS: usize = 200;
/// Longest body, in characters.
pub const MAX_BODY_CHARS: usize = 20_000;

/// The notice every submitted inquiry gets back.
pub const REPLY_NOTICE: &str = "Replies come by e-mail only; there is no phone support for technical questions. \
     技術的なお問合せへの回答は電子メールのみでお送りします。";

/// Which product an inquiry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "kebab-case")]
pub enum Product {
    /// desknet's NEO Backup Server.
    BackupServer,
    /// desknet's NEO itself (not covered by this contract).
    DesknetsNeo,
}

impl Product {
    /// As stored and typed.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses a stored or typed name.
    pub fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

/// What an inquiry is about (terms section 1(1)).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString, strum::VariantArray,
)]
#[strum(serialize_all = "kebab-case")]
pub enum Category {
    /// Operation and settings.
    Operation,
    /// Server environment and OS.
    Environment,
    /// Defect confirmation, cause investigation, problem isolation.
    Defect,
    /// Patch modules and version upgrades.
    PatchUpgrade,
    /// Data migration for a server change.
    Migration,
    /// The installation's customization.
    Customization,
}

impl Category {
    /// As stored and typed.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses a stored or typed name.
    pub fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

/// Open or answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum InquiryStatus {
    /// Waiting for an answer.
    Open,
    /// Answered (and may be answered again).
    Answered,
    /// Closed by staff without a reply, with a reason.
    Closed,
}

impl InquiryStatus {
    /// As stored and typed.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses a stored or typed name.
    pub fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

/// A checked inquiry, ready to be admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInquiry {
    /// The contract it is under.
    pub contract_id: String,
    /// The product.
    pub product: Product,
    /// The category.
    pub category: Category,
    /// Subject, 1-200 characters.
    pub subject: String,
    /// Body, 1-20000 characters.
    pub body: String,
    /// Where the reply goes.
    pub reply_to: EmailAddress,
}

/// A stored inquiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inquiry {
    /// Store-assigned id.
    pub id: i64,
    /// The contract.
    pub contract_id: String,
    /// The product.
    pub product: Product,
    /// The category.
    pub category: Category,
    /// Subject.
    pub subject: String,
    /// Body.
    pub body: String,
    /// Reply address.
    pub reply_to: String,
    /// Open or answered.
    pub status: InquiryStatus,
    /// When the server received it.
    pub received_at: DateTime<Utc>,
    /// When handling starts.
    pub handling_starts_at: DateTime<Utc>,
    /// When it was answered.
    pub answered_at: Option<DateTime<Utc>>,
    /// The name of the token that submitted it.
    pub submitted_by: String,
    /// When staff closed it without a reply.
    pub closed_at: Option<DateTime<Utc>>,
    /// Why staff closed it without a reply.
    pub close_reason: Option<String>,
}

/// Why an inquiry is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InquiryRefusal {
    /// About desknet's NEO itself.
    #[error(
        "questions about desknet's NEO itself need the separate desknet's NEO annual support (desknet's NEO 年間サポート); this contract covers desknet's NEO Backup Server"
    )]
    NeoSupportRequired,
    /// The contract is not active on the day of receipt.
    #[error("the support contract is not active on {0} (JST), the day the inquiry was received")]
    SupportExpired(chrono::NaiveDate),
    /// A customization question on a contract that is not customized.
    #[error(
        "customization questions are covered only for customized installations, and this contract is not customized"
    )]
    CustomizationNotCovered,
}

impl InquiryRefusal {
    /// The stable ErrorInfo reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NeoSupportRequired => Reason::NeoSupportRequired.as_str(),
            Self::SupportExpired(_) => Reason::SupportExpired.as_str(),
            Self::CustomizationNotCovered => Reason::CustomizationNotCovered.as_str(),
        }
    }
}

/// Checks a subject or body: trimmed not empty, at most `max` characters.
pub fn check_text(text: &str, max: usize) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if text.chars().count() > max {
        return Err(format!("at most {max} characters"));
    }
    Ok(())
}

/// Whether `c` is a Unicode bidirectional embedding, override or isolate
/// (U+202A..U+202E, U+2066..U+2069): in a mail client or a terminal they
/// reorder the text around them, so a line can show what it does not say.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Finds the first character of `text` that `refused` refuses, as
/// "U+001B at character 12".
fn first_refused(text: &str, refused: impl Fn(char) -> bool) -> Option<String> {
    text.chars()
        .enumerate()
        .find(|(_, c)| refused(*c))
        .map(|(i, c)| format!("U+{:04X} at character {}", u32::from(c), i + 1))
}

/// Checks one line of text that becomes a mail subject or a line of a
/// mail: no control character at all (C0 with CR, LF, TAB and ESC, DEL,
/// C1), no line or paragraph separator (U+2028, U+2029), no bidi control.
pub fn check_line(text: &str) -> Result<(), String> {
    match first_refused(text, |c| {
        c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') || is_bidi_control(c)
    }) {
        Some(found) => Err(format!(
            "must be one line without control characters or bidirectional overrides ({found})"
        )),
        None => Ok(()),
    }
}

/// CRLF line ends as LF; a bare CR is left for [`check_multiline`] to
/// refuse.
pub fn normalize_newlines(text: &str) -> String {
    text.replace("\r\n", "\n")
}

/// Checks text of several lines that becomes a mail body (after
/// [`normalize_newlines`]): newline and tab are its only control
/// characters; a bare CR, ESC, DEL, C1 controls and bidi controls are
/// refused.
pub fn check_multiline(text: &str) -> Result<(), String> {
    match first_refused(text, |c| {
        (c.is_control() && !matches!(c, '\n' | '\t')) || is_bidi_control(c)
    }) {
        Some(found) => Err(format!(
            "may contain newline and tab but no other control character or bidirectional override ({found})"
        )),
        None => Ok(()),
    }
}

/// The default of `--inquiries-per-day`: inquiries one contract may send
/// per JST calendar day.
pub const DEFAULT_INQUIRIES_PER_DAY: i64 = 20;

/// The JST calendar day `at` falls in, as the instants `[start, end)`.
pub fn jst_day(at: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let day = super::dates::jst_date(at);
    let start = super::dates::jst_instant(day.and_time(chrono::NaiveTime::MIN));
    (start, start + chrono::Duration::days(1))
}

/// A contract that has sent its inquiries for the day.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "contract {contract_id} has sent its {per_day} inquiries for today; the next one is taken from 00:00 JST"
)]
pub struct DailyLimitReached {
    /// The contract.
    pub contract_id: String,
    /// The limit.
    pub per_day: i64,
    /// How long until the next JST day.
    pub retry_after: std::time::Duration,
}

/// Whether one more inquiry fits into the JST day of `received_at`, when
/// `received_today` were received that day already.
pub fn check_daily_limit(
    contract_id: &str,
    received_today: i64,
    per_day: i64,
    received_at: DateTime<Utc>,
) -> Result<(), DailyLimitReached> {
    if received_today < per_day {
        return Ok(());
    }
    let (_, end) = jst_day(received_at);
    Err(DailyLimitReached {
        contract_id: contract_id.to_owned(),
        per_day,
        retry_after: (end - received_at).to_std().unwrap_or_default(),
    })
}

/// Whether a contract with this status and customization takes the
/// inquiry on `received_on`.
pub fn admit(
    inquiry: &NewInquiry,
    status_on_receipt: ContractStatus,
    received_on: chrono::NaiveDate,
    customized: bool,
) -> Result<(), InquiryRefusal> {
    if inquiry.product == Product::DesknetsNeo {
        return Err(InquiryRefusal::NeoSupportRequired);
    }
    if status_on_receipt != ContractStatus::Active {
        return Err(InquiryRefusal::SupportExpired(received_on));
    }
    if inquiry.category == Category::Customization && !customized {
        return Err(InquiryRefusal::CustomizationNotCovered);
    }
    Ok(())
}

/// The acknowledgement e-mail of a received inquiry, in Japanese:
/// `(subject, body)`. It says when handling starts and the reception hours.
pub fn acknowledgement(inquiry: &Inquiry) -> (String, String) {
    let jst = super::dates::jst();
    let received = inquiry
        .received_at
        .with_timezone(&jst)
        .format("%Y-%m-%d %H:%M");
    let starts = inquiry
        .handling_starts_at
        .with_timezone(&jst)
        .format("%Y-%m-%d %H:%M");
    let subject = format!(
        "【desknet's NEO バックアップサーバー】お問合せを受け付けました（受付番号 {}）",
        inquiry.id
    );
    let body = format!(
        "お問合せを受け付けました。\n\n\
         受付番号: {id}\n\
         契約番号: {contract}\n\
         件名: {subject}\n\
         受付日時: {received}（日本時間）\n\
         対応開始予定: {starts}（日本時間）\n\n\
         技術サポートの受付時間は、土曜日・日曜日・祝日および当社休業日を除く\n\
         午前9:00〜12:00および午後1:00〜5:30です。\n\
         回答は電子メールでお送りします（お電話での対応は行っておりません）。\n",
        id = inquiry.id,
        contract = inquiry.contract_id,
        subject = inquiry.subject,
    );
    (subject, body)
}

/// The e-mail carrying staff's answer to an inquiry: `(subject, body)`.
pub fn answer_mail(inquiry: &Inquiry, answer: &str) -> (String, String) {
    let subject = format!(
        "【desknet's NEO バックアップサーバー】お問合せへの回答（受付番号 {}）",
        inquiry.id
    );
    let body = format!(
        "受付番号 {id}「{subject}」へのご回答です。\n\n{answer}\n\n\
         ※本メールは技術サポートからの回答です。追加のご質問は新しいお問合せとしてお送りください。\n",
        id = inquiry.id,
        subject = inquiry.subject,
    );
    (subject, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inquiry(product: Product, category: Category) -> NewInquiry {
        NewInquiry {
            contract_id: "C-1".into(),
            product,
            category,
            subject: "バックアップが失敗する".into(),
            body: "昨夜から失敗します。".into(),
            reply_to: EmailAddress::parse("it@example.co.jp").unwrap(),
        }
    }

    fn day() -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
    }

    #[test]
    fn a_backup_server_question_on_an_active_contract_is_admitted() {
        let ok = admit(
            &inquiry(Product::BackupServer, Category::Defect),
            ContractStatus::Active,
            day(),
            false,
        );
        assert_eq!(ok, Ok(()));
    }

    #[test]
    fn desknets_neo_questions_need_their_own_support() {
        let refused = admit(
            &inquiry(Product::DesknetsNeo, Category::Operation),
            ContractStatus::Active,
            day(),
            true,
        );
        assert_eq!(refused.unwrap_err().reason(), "NEO_SUPPORT_REQUIRED");
    }

    #[test]
    fn a_contract_not_active_on_the_day_of_receipt_is_refused() {
        for status in [
            ContractStatus::NotStarted,
            ContractStatus::Lapsed,
            ContractStatus::RecontinuationRequired,
        ] {
            let refused = admit(
                &inquiry(Product::BackupServer, Category::Operation),
                status,
                day(),
                false,
            );
            assert_eq!(refused.unwrap_err().reason(), "SUPPORT_EXPIRED");
        }
    }

    #[test]
    fn customization_questions_need_a_customized_contract() {
        let q = inquiry(Product::BackupServer, Category::Customization);
        assert_eq!(
            admit(&q, ContractStatus::Active, day(), false)
                .unwrap_err()
                .reason(),
            "CUSTOMIZATION_NOT_COVERED"
        );
        assert_eq!(admit(&q, ContractStatus::Active, day(), true), Ok(()));
    }

    #[test]
    fn subjects_and_bodies_are_checked() {
        assert!(check_text("x", 5).is_ok());
        assert!(check_text("   ", 5).is_err());
        assert!(check_text("", 5).is_err());
        assert!(check_text("123456", 5).is_err());
        assert!(check_text("あいうえお", 5).is_ok());
    }

    #[test]
    fn the_daily_limit_counts_a_jst_calendar_day() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-25T23:30:00+09:00")
            .unwrap()
            .with_timezone(&Utc);
        let (start, end) = jst_day(at);
        assert_eq!(start.to_rfc3339(), "2026-11-24T15:00:00+00:00");
        assert_eq!(end.to_rfc3339(), "2026-11-25T15:00:00+00:00");
        assert_eq!(check_daily_limit("C-1", 19, 20, at), Ok(()));
        let reached = check_daily_limit("C-1", 20, 20, at).unwrap_err();
        assert_eq!(reached.retry_after, std::time::Duration::from_secs(30 * 60));
        assert!(check_daily_limit("C-1", 0, 0, at).is_err());
    }

    #[test]
    fn a_subject_is_one_line_without_controls_or_bidi_overrides() {
        assert_eq!(check_line("バックアップが失敗する (v1.2)"), Ok(()));
        for bad in [
            "a\r\nBcc: x@evil.example",
            "a\nb",
            "a\tb",
            "\u{1b}[2J\u{1b}]0;pwned\u{7}",
            "a\u{7f}",
            "a\u{85}b",
            "a\u{9b}2J",
            "invoice\u{202E}fdp.exe",
            "a\u{2066}b\u{2069}",
            "a\u{2028}b",
        ] {
            assert!(check_line(bad).is_err(), "{bad:?}");
        }
        assert!(
            check_line("ab\u{1b}")
                .unwrap_err()
                .contains("U+001B at character 3")
        );
    }

    #[test]
    fn a_body_may_hold_newlines_and_tabs_and_crlf_becomes_lf() {
        assert_eq!(check_multiline("一行目\n\t二行目\n"), Ok(()));
        let normalized = normalize_newlines("one\r\ntwo\r\n");
        assert_eq!(normalized, "one\ntwo\n");
        assert_eq!(check_multiline(&normalized), Ok(()));
        for bad in [
            "bare\rcarriage return",
            "\u{1b}[2J",
            "a\u{0}b",
            "a\u{7f}",
            "a\u{9d}0;pwned",
            "a\u{202D}b",
        ] {
            assert!(
                check_multiline(&normalize_newlines(bad)).is_err(),
                "{bad:?}"
            );
        }
    }
}
