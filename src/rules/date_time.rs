//! A date-time as EspoCRM stores one: `YYYY-MM-DD HH:MM:SS`, in UTC.
//!
//! The date part follows [`super::date`] (a day that exists); hours run 00–23, minutes and
//! seconds 00–59 (no leap second). `YYYY-MM-DD HH:MM` is taken too and means the minute's first
//! second: [`normalize`] completes it with `:00`, which is how it is sent. No `T`, no zone, no
//! fractions: EspoCRM's columns hold none, and a zone would suggest a conversion that does not
//! happen.

use chrono::{NaiveDateTime, NaiveTime};

/// How EspoCRM writes a date-time, for chrono's `format`.
pub const FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// The date-time `text` names, when it is `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DD HH:MM` and
/// exists.
pub fn parse(text: &str) -> Option<NaiveDateTime> {
    let bytes = text.as_bytes();
    if !(bytes.len() == 16 || bytes.len() == 19) || !text.is_ascii() {
        return None;
    }
    let date = super::date::parse(&text[..10])?;
    if bytes[10] != b' ' || bytes[13] != b':' {
        return None;
    }
    let hour = super::digits_value(&bytes[11..13])?;
    let minute = super::digits_value(&bytes[14..16])?;
    let second = match bytes.len() {
        19 if bytes[16] == b':' => super::digits_value(&bytes[17..19])?,
        19 => return None,
        _ => 0,
    };
    if second > 59 {
        return None;
    }
    NaiveTime::from_hms_opt(hour, minute, second).map(|time| date.and_time(time))
}

/// Whether `text` is a date-time as [`parse`] takes it.
pub fn is_valid(text: &str) -> bool {
    parse(text).is_some()
}

/// `text` as EspoCRM stores it: `YYYY-MM-DD HH:MM:SS`, with `:00` added to `YYYY-MM-DD HH:MM`;
/// `None` when it is not a date-time.
pub fn normalize(text: &str) -> Option<String> {
    parse(text).map(|_| {
        if text.len() == 16 {
            format!("{text}:00")
        } else {
            text.to_owned()
        }
    })
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn date_times_with_or_without_seconds_are_taken() {
        assert_eq!(
            normalize("2026-12-01 14:00").as_deref(),
            Some("2026-12-01 14:00:00")
        );
        assert_eq!(
            normalize("2026-12-01 15:30:59").as_deref(),
            Some("2026-12-01 15:30:59")
        );
        assert_eq!(
            parse("2028-02-29 23:59:59"),
            NaiveDate::from_ymd_opt(2028, 2, 29).and_then(|day| day.and_hms_opt(23, 59, 59))
        );
    }

    #[test]
    fn other_shapes_and_times_that_do_not_exist_are_refused() {
        for bad in [
            "2026-12-01T14:00:00Z",
            "2026-12-01T14:00:00",
            "2026-12-01 24:00:00",
            "2026-12-01 14:60",
            "2026-12-01 14:00:60",
            "2026-12-01 14:00:00.000",
            "2026-12-01 14:00:",
            "2026-12-01 14:0",
            "2026-12-01 1:00:00",
            "2026-12-01",
            "2026-02-30 10:00:00",
            "0000-01-01 10:00:00",
            "2026-12-01 14-00-00",
            "2026-12-01 １4:00",
            "",
        ] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// Whatever is accepted is sent in EspoCRM's form, and that form is accepted as it is.
        #[test]
        fn normalising_is_stable_and_keeps_the_moment(
            day in 1..=3_000_000i64,
            hour in 0..=23u32,
            minute in 0..=59u32,
            second in prop::option::of(0..=59u32),
        ) {
            let date = NaiveDate::from_num_days_from_ce_opt(i32::try_from(day).unwrap_or(1))
                .unwrap_or_default();
            let day = date.format(crate::rules::date::FORMAT);
            let mut text = format!("{day} {hour:02}:{minute:02}");
            if let Some(second) = second {
                text.push_str(&format!(":{second:02}"));
            }
            let sent = normalize(&text);
            prop_assert!(sent.is_some(), "{text}");
            let sent = sent.unwrap_or_default();
            prop_assert_eq!(normalize(&sent), Some(sent.clone()));
            prop_assert_eq!(parse(&sent), parse(&text));
            let moment = parse(&sent).map(|moment| moment.format(FORMAT).to_string());
            prop_assert_eq!(moment, Some(sent));
        }

        #[test]
        fn any_text_is_judged_without_panicking(text in any::<String>()) {
            let _ = normalize(&text);
        }
    }
}
