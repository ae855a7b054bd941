//! A calendar date as EspoCRM stores one: `YYYY-MM-DD`, a day that exists.
//!
//! `2028-02-29` is a date; `2026-02-29`, `2026-02-30` and `2026-04-31` are not, although their
//! parts are each in range: MySQL refuses them in strict mode, and a filter or a group on such a
//! day can only be a mistake. The year is written with four digits and is at least `0001` (the
//! calendar has no year 0). Nothing but the ten characters is accepted: no time, no `T`, no
//! single-digit month or day, no other digits than ASCII ones.

use chrono::NaiveDate;

/// How EspoCRM writes a date, for chrono's `format`.
pub const FORMAT: &str = "%Y-%m-%d";

/// The date `text` names, when it is exactly `YYYY-MM-DD` and the day exists.
pub fn parse(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year = super::digits_value(&bytes[0..4])?;
    let month = super::digits_value(&bytes[5..7])?;
    let day = super::digits_value(&bytes[8..10])?;
    if year == 0 {
        return None;
    }
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
}

/// Whether `text` is a date as [`parse`] takes it.
pub fn is_valid(text: &str) -> bool {
    parse(text).is_some()
}

#[cfg(test)]
mod tests {
    use chrono::Datelike;
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn days_that_exist_are_dates() {
        for good in [
            "2026-12-31",
            "2028-02-29",
            "2000-02-29",
            "0001-01-01",
            "9999-12-31",
        ] {
            assert!(is_valid(good), "{good}");
        }
        assert_eq!(
            parse("2024-03-05"),
            NaiveDate::from_ymd_opt(2024, 3, 5),
            "the date is the one written"
        );
    }

    #[test]
    fn days_that_do_not_exist_or_other_shapes_are_not() {
        for bad in [
            "2026-02-30",
            "2026-02-29",
            "1900-02-29",
            "2026-04-31",
            "2026-13-01",
            "2026-00-10",
            "2026-01-00",
            "0000-01-01",
            "31/12/2026",
            "2026-12-1",
            "2026-1-01",
            "+026-01-01",
            "2026-+1-01",
            "2026-12-31 10:00:00",
            "2026-12-31T10:00",
            "２０２６-12-31",
            "",
        ] {
            assert!(!is_valid(bad), "{bad}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// The rule is chrono's calendar: a written date is valid exactly when chrono has that
        /// day, and it parses to that day.
        #[test]
        fn a_written_date_is_valid_exactly_when_the_day_exists(
            year in 1..=9999i32,
            month in 0..=13u32,
            day in 0..=32u32,
        ) {
            let text = format!("{year:04}-{month:02}-{day:02}");
            let day_of_calendar = NaiveDate::from_ymd_opt(year, month, day);
            prop_assert_eq!(parse(&text), day_of_calendar);
            if let Some(date) = day_of_calendar {
                prop_assert_eq!(date.format(FORMAT).to_string(), text);
                prop_assert_eq!((date.year(), date.month(), date.day()), (year, month, day));
            }
        }

        #[test]
        fn any_text_is_judged_without_panicking(text in any::<String>()) {
            let _ = parse(&text);
        }
    }
}
