//! A phone number as a caller writes one, and the phone numbers the log redaction masks.
//!
//! A value: digits with an optional leading `+` and spaces, `-`, `.`, `(`, `)` between them; at
//! least 4 digits (an extension such as `1234` is a number too). EspoCRM stores numbers in E.164
//! (`+12125550142`) and converts what it is given; letters (`ext. 5`, `call me`), a second `+`
//! or digits other than ASCII ones are refused, because EspoCRM would refuse or mangle them.
//!
//! For the redaction the question is another one, whether a string or a part of a text *is*
//! probably a phone number, which must not catch dates, amounts or ids: [`looks_like`] and
//! [`find_international`].

use std::ops::Range;

/// The fewest digits of a phone number value.
const MIN_DIGITS: usize = 4;

/// How many digits a phone number the redaction masks has: E.164 allows 15; fewer than 7 are
/// more likely counts, codes or years.
const MASKED_DIGITS: std::ops::RangeInclusive<usize> = 7..=15;

/// `+1 212 555 0142`, `(212) 555-0142`, `212.555.0142`, `1234`.
pub fn is_valid(text: &str) -> bool {
    let body = text.strip_prefix('+').unwrap_or(text);
    body.bytes().filter(u8::is_ascii_digit).count() >= MIN_DIGITS
        && body
            .bytes()
            .all(|byte| byte.is_ascii_digit() || b" -.()".contains(&byte))
}

/// Whether the whole of `text` is probably a phone number: `+49 30 1234567`, `(415) 555-0123`,
/// `0301234567`; not `2024-01-15`, `1500000` or `12.50`.
pub fn looks_like(text: &str) -> bool {
    let text = text.trim();
    let digits = text.chars().filter(char::is_ascii_digit).count();
    if !MASKED_DIGITS.contains(&digits)
        || !text
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
    {
        return false;
    }
    let bytes = text.as_bytes();
    let shaped_like_date = bytes.len() == 10 && bytes[4] == b'-' && bytes[7] == b'-';
    let is_decimal =
        text.chars().all(|c| c.is_ascii_digit() || c == '.') && text.matches('.').count() == 1;
    if shaped_like_date || is_decimal {
        return false;
    }
    text.starts_with('+') || text.contains([' ', '-', '(', ')', '.']) || digits >= 10
}

/// Where the numbers written with a leading `+` (`+49 30 1234567`) are inside `text`, in order.
/// Only those are found inside text: without the `+`, dates and times look the same.
pub fn find_international(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(offset) = text[at..].find('+') {
        let plus = at + offset;
        let mut end = plus + 1;
        while end < bytes.len() && (bytes[end].is_ascii_digit() || b" -().".contains(&bytes[end])) {
            end += 1;
        }
        // Separators after the last digit belong to the sentence, not the number.
        while end > plus + 1 && !bytes[end - 1].is_ascii_digit() {
            end -= 1;
        }
        let digits = bytes[plus..end]
            .iter()
            .filter(|byte| byte.is_ascii_digit())
            .count();
        let starts_number = bytes.get(plus + 1).is_some_and(u8::is_ascii_digit);
        if starts_number && MASKED_DIGITS.contains(&digits) {
            found.push(plus..end);
        }
        at = end.max(plus + 1);
    }
    found
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn digits_with_separators_are_phone_numbers() {
        for good in ["+1 212 555 0142", "(212) 555-0142", "212.555.0142", "1234"] {
            assert!(is_valid(good), "{good}");
        }
        for bad in [
            "",
            "call me maybe",
            "123",
            "+1 212 555 0142 ext. 5",
            "1+234",
            "++1234",
            "١٢٣٤٥",
        ] {
            assert!(!is_valid(bad), "{bad}");
        }
    }

    #[test]
    fn the_redaction_takes_phone_numbers_but_not_dates_or_amounts() {
        for phone in [
            "+49 30 1234567",
            "(415) 555-0123",
            "0301234567",
            " 030 1234567 ",
        ] {
            assert!(looks_like(phone), "{phone}");
        }
        for other in [
            "2024-01-15",
            "1500000",
            "12.50",
            "123456",
            "+49 30 12345678901234",
        ] {
            assert!(!looks_like(other), "{other}");
        }
        let text = "call +49 30 1234567, or +1 (415) 555-0123. Not +12 or 3+4.";
        let found: Vec<&str> = find_international(text)
            .into_iter()
            .map(|range| &text[range])
            .collect();
        assert_eq!(found, ["+49 30 1234567", "+1 (415) 555-0123"]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// A number the redaction would mask inside text is a valid phone number value.
        #[test]
        fn found_numbers_are_valid_values(text in "[+0-9 ().a-z-]{0,40}") {
            for range in find_international(&text) {
                prop_assert!(is_valid(&text[range.clone()]), "{:?}", &text[range]);
            }
        }

        #[test]
        fn any_text_is_judged_without_panicking(text in any::<String>()) {
            let _ = (is_valid(&text), looks_like(&text), find_international(&text));
        }
    }
}
