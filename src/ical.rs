//! The business calendar written as an iCalendar document (RFC 5545):
//! CRLF line ends, content lines folded at 75 octets, text values escaped.
//! The entries come from [`crate::domain::feed`]; the HTTP feed and
//! `ExportCalendar` serve the same document.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::domain::feed::FeedEntry;

/// The calendar's name in subscribing clients.
pub const CALENDAR_NAME: &str = "desknet's NEO サポート 営業日カレンダー";

/// The PRODID of every document.
pub const PRODID: &str = "-//neo-support//business calendar//JA";

/// The domain part of every UID.
const UID_DOMAIN: &str = "neo-support";

/// Writes `entries` as one VCALENDAR; `stamp` is every event's DTSTAMP (the
/// time staff last entered a closure or override, so that the document
/// only changes when the calendar does).
pub fn calendar_document(entries: &[FeedEntry], stamp: DateTime<Utc>) -> String {
    let mut out = String::with_capacity(256 + entries.len() * 200);
    let stamp = stamp.format("%Y%m%dT%H%M%SZ").to_string();
    for line in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        &format!("PRODID:{PRODID}"),
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        &format!("X-WR-CALNAME:{}", escape_text(CALENDAR_NAME)),
        "X-WR-TIMEZONE:Asia/Tokyo",
    ] {
        push_line(&mut out, line);
    }
    for entry in entries {
        let after_last = entry.end + Duration::days(1);
        push_line(&mut out, "BEGIN:VEVENT");
        push_line(&mut out, &format!("UID:{}@{UID_DOMAIN}", entry.uid));
        push_line(&mut out, &format!("DTSTAMP:{stamp}"));
        push_line(
            &mut out,
            &format!("DTSTART;VALUE=DATE:{}", ical_date(entry.start)),
        );
        push_line(
            &mut out,
            &format!("DTEND;VALUE=DATE:{}", ical_date(after_last)),
        );
        push_line(
            &mut out,
            &format!("SUMMARY:{}", escape_text(&entry.summary)),
        );
        push_line(&mut out, "TRANSP:TRANSPARENT");
        push_line(&mut out, "END:VEVENT");
    }
    push_line(&mut out, "END:VCALENDAR");
    out
}

fn ical_date(date: NaiveDate) -> String {
    date.format("%Y%m%d").to_string()
}

/// Escapes a TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and
/// line breaks; other control characters are dropped.
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends one content line, folded so that no line is longer than 75
/// octets without its CRLF (RFC 5545 3.1), never inside a UTF-8 sequence.
fn push_line(out: &mut String, line: &str) {
    let mut rest = line;
    let mut limit = 75;
    loop {
        if rest.len() <= limit {
            out.push_str(rest);
            out.push_str("\r\n");
            return;
        }
        let mut cut = limit;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        // A continuation line starts with the space.
        limit = 74;
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn long_japanese_lines_fold_at_75_octets_on_character_boundaries() {
        let entry = FeedEntry {
            uid: "closure-1-20261229".into(),
            start: NaiveDate::from_ymd_opt(2026, 12, 29).unwrap(),
            end: NaiveDate::from_ymd_opt(2027, 1, 3).unwrap(),
            summary: "年末年始休暇,".repeat(10),
        };
        let stamp = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let doc = calendar_document(&[entry], stamp);
        assert!(doc.ends_with("END:VCALENDAR\r\n"));
        for line in doc.split("\r\n") {
            assert!(line.len() <= 75, "{line:?} is {} octets", line.len());
            assert!(!line.contains('\n') && !line.contains('\r'));
        }
        let unfolded = doc.replace("\r\n ", "");
        assert!(unfolded.contains(&format!("SUMMARY:{}", "年末年始休暇\\,".repeat(10))));
        assert!(unfolded.contains("DTEND;VALUE=DATE:20270104\r\n"));
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape_text("a;b,c\\d\ne\u{7}"), "a\\;b\\,c\\\\d\\ne");
    }
}
