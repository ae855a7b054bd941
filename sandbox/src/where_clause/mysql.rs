//! How MariaDB compares the values EspoCRM binds: NULL is never equal, text compares under
//! `utf8mb4_unicode_ci` (approximated: case- and accent-insensitive, trailing spaces ignored),
//! numbers and text compare numerically, LIKE patterns, and lenient date text.

use std::cmp::Ordering;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde_json::Value;

use super::{AttributeKind, Operand};

/// `value IN (…)` / `value NOT IN (…)` with SQL's NULL rules; an empty list is the constant
/// EspoCRM's composer writes instead (`0` for IN, `1` for NOT IN).
pub(super) fn sql_in(
    value: Option<&Value>,
    kind: AttributeKind,
    operands: &[Operand],
    negated: bool,
) -> bool {
    if operands.is_empty() {
        return negated;
    }
    let mut unknown = false;
    for operand in operands {
        match sql_compare(value, kind, operand) {
            Some(Ordering::Equal) => return !negated,
            Some(_) => {}
            None => unknown = true,
        }
    }
    negated && !unknown
}

/// Compares a stored value with an operand the way MariaDB would; None when the result is
/// unknown (a NULL on either side, an unbindable operand, an unparseable date).
pub(super) fn sql_compare(
    value: Option<&Value>,
    kind: AttributeKind,
    operand: &Operand,
) -> Option<Ordering> {
    let value = value.filter(|value| !value.is_null())?;
    if matches!(operand, Operand::Null | Operand::Unbindable) {
        return None;
    }
    match kind {
        AttributeKind::Number | AttributeKind::Bool => {
            sql_number(value)?.partial_cmp(&operand_number(operand)?)
        }
        AttributeKind::Date | AttributeKind::DateTime => {
            let (Value::String(stored), Operand::Text(text)) = (value, operand) else {
                return None;
            };
            Some(parse_temporal(stored)?.cmp(&parse_temporal(text)?))
        }
        AttributeKind::Text
        | AttributeKind::Id
        | AttributeKind::Enum
        | AttributeKind::Array
        | AttributeKind::Object => match operand {
            Operand::Text(text) => Some(collate_cmp(&sql_text(value)?, text)),
            _ => sql_number(value)?.partial_cmp(&operand_number(operand)?),
        },
    }
}

pub(super) fn operand(value: &Value) -> Operand {
    match value {
        Value::Null => Operand::Null,
        Value::Bool(flag) => Operand::Bool(*flag),
        Value::Number(number) => number.as_f64().map_or(Operand::Unbindable, Operand::Number),
        Value::String(text) => Operand::Text(text.clone()),
        Value::Array(_) | Value::Object(_) => Operand::Unbindable,
    }
}

fn operand_number(operand: &Operand) -> Option<f64> {
    match operand {
        Operand::Text(text) => Some(numeric_prefix(text)),
        Operand::Number(number) => Some(*number),
        Operand::Bool(flag) => Some(f64::from(u8::from(*flag))),
        Operand::Null | Operand::Unbindable => None,
    }
}

/// A stored value in a numeric context (MySQL's implicit string-to-double conversion).
fn sql_number(value: &Value) -> Option<f64> {
    match value {
        Value::Null => None,
        Value::Bool(flag) => Some(f64::from(u8::from(*flag))),
        Value::Number(number) => number.as_f64(),
        other => Some(numeric_prefix(&sql_text(other)?)),
    }
}

/// A stored value in a text context; None for NULL.
pub(super) fn sql_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        Value::Bool(flag) => Some(if *flag { "1" } else { "0" }.to_string()),
        Value::Number(number) => Some(number_text(number)),
        other => Some(other.to_string()),
    }
}

pub(super) fn number_text(number: &serde_json::Number) -> String {
    if number.is_f64()
        && let Some(float) = number.as_f64()
    {
        if float.fract() == 0.0 && float.abs() < 1e15 {
            return format!("{float:.0}");
        }
        return float.to_string();
    }
    number.to_string()
}

/// The leading number of a string as MySQL (and PHP's intval) read it: optional whitespace,
/// sign, digits, fraction and exponent; 0 when there is none.
pub(super) fn numeric_prefix(text: &str) -> f64 {
    let text = text.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let length = numeric_length(text.as_bytes());
    let number = text
        .get(..length)
        .and_then(|prefix| prefix.parse::<f64>().ok())
        .unwrap_or(0.0);
    if number.is_infinite() {
        f64::MAX.copysign(number)
    } else {
        number
    }
}

/// Length of the longest prefix of `bytes` that is a decimal number; 0 when none.
pub(super) fn numeric_length(bytes: &[u8]) -> usize {
    let digits_from = |mut index: usize| {
        while bytes.get(index).is_some_and(u8::is_ascii_digit) {
            index += 1;
        }
        index
    };
    let mut index = usize::from(matches!(bytes.first(), Some(b'+' | b'-')));
    let integer_end = digits_from(index);
    let mut has_digits = integer_end > index;
    index = integer_end;
    if bytes.get(index) == Some(&b'.') {
        let fraction_end = digits_from(index + 1);
        if fraction_end > index + 1 || has_digits {
            has_digits |= fraction_end > index + 1;
            index = fraction_end;
        }
    }
    if !has_digits {
        return 0;
    }
    if matches!(bytes.get(index), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(bytes.get(index + 1), Some(b'+' | b'-')));
        let exponent_end = digits_from(index + 1 + sign);
        if exponent_end > index + 1 + sign {
            index = exponent_end;
        }
    }
    index
}

/// Lenient MySQL-style date/datetime text: `YYYY-M-D`, optionally followed by a space or `T`
/// and `H:M[:S[.fraction]]`.
pub(super) fn parse_temporal(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    let (date, time) = match text.find([' ', 'T']) {
        Some(split) => (&text[..split], Some(text[split + 1..].trim_start())),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let year = parts.next().filter(|part| part.len() == 4)?;
    let month = parts.next().filter(|part| (1..=2).contains(&part.len()))?;
    let day = parts.next().filter(|part| (1..=2).contains(&part.len()))?;
    if parts.next().is_some() {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(
        small_number(year)?.try_into().ok()?,
        small_number(month)?,
        small_number(day)?,
    )?;
    let time = match time {
        None => NaiveTime::MIN,
        Some(time) => {
            let (clock, fraction) = match time.split_once('.') {
                Some((clock, fraction)) => (clock, Some(fraction)),
                None => (time, None),
            };
            let mut parts = clock.split(':');
            let hour = parts.next().filter(|part| (1..=2).contains(&part.len()))?;
            let minute = parts.next().filter(|part| (1..=2).contains(&part.len()))?;
            let second = match parts.next() {
                Some(part) if (1..=2).contains(&part.len()) => small_number(part)?,
                Some(_) => return None,
                None => 0,
            };
            if parts.next().is_some() || fraction.is_some_and(|f| small_number(f).is_none()) {
                return None;
            }
            NaiveTime::from_hms_opt(small_number(hour)?, small_number(minute)?, second)?
        }
    };
    Some(date.and_time(time))
}

/// A short run of ASCII digits.
fn small_number(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 9 || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

pub(super) fn format_date_time(moment: NaiveDateTime) -> String {
    moment.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Text compared under a case- and accent-insensitive, PAD SPACE collation.
fn collate_cmp(left: &str, right: &str) -> Ordering {
    fold(left.trim_end_matches(' ')).cmp(&fold(right.trim_end_matches(' ')))
}

pub(super) fn collate_eq(left: &str, right: &str) -> bool {
    collate_cmp(left, right) == Ordering::Equal
}

/// Lower case with the accents of Latin letters removed: `utf8mb4_unicode_ci` equality for the
/// letters CRM data uses (expansions such as ß = ss are not imitated).
fn fold(text: &str) -> Vec<char> {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(strip_accent)
        .collect()
}

fn strip_accent(c: char) -> char {
    match c {
        'à'..='å' | 'ā' | 'ă' | 'ą' => 'a',
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => 'c',
        'ď' => 'd',
        'è'..='ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => 'e',
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => 'g',
        'ĥ' => 'h',
        'ì'..='ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' => 'i',
        'ĵ' => 'j',
        'ķ' => 'k',
        'ĺ' | 'ļ' | 'ľ' => 'l',
        'ñ' | 'ń' | 'ņ' | 'ň' => 'n',
        'ò'..='ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => 'o',
        'ŕ' | 'ŗ' | 'ř' => 'r',
        'ś' | 'ŝ' | 'ş' | 'š' => 's',
        'ţ' | 'ť' => 't',
        'ù'..='ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => 'u',
        'ŵ' => 'w',
        'ý' | 'ÿ' | 'ŷ' => 'y',
        'ź' | 'ż' | 'ž' => 'z',
        other => other,
    }
}

/// SQL LIKE under the same collation: `%` any run, `_` one character, `\` escapes the next
/// character (a trailing `\` is literal). No PAD SPACE: `'a '` is not LIKE `'a'`.
pub(super) fn like(text: &str, pattern: &str) -> bool {
    #[derive(PartialEq)]
    enum Token {
        Any,
        One,
        Literal(char),
    }
    let mut tokens = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => tokens.push(Token::Any),
            '_' => tokens.push(Token::One),
            '\\' => {
                let escaped = chars.next().unwrap_or('\\');
                tokens.extend(fold(&escaped.to_string()).into_iter().map(Token::Literal));
            }
            other => tokens.extend(fold(&other.to_string()).into_iter().map(Token::Literal)),
        }
    }
    let text = fold(text);
    let (mut t, mut p) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match tokens.get(p) {
            Some(Token::Any) => {
                backtrack = Some((p + 1, t));
                p += 1;
                continue;
            }
            Some(Token::One) => {
                t += 1;
                p += 1;
                continue;
            }
            Some(Token::Literal(c)) if *c == text[t] => {
                t += 1;
                p += 1;
                continue;
            }
            _ => {}
        }
        match backtrack {
            Some((after_any, start)) => {
                p = after_any;
                t = start + 1;
                backtrack = Some((after_any, start + 1));
            }
            None => return false,
        }
    }
    tokens[p.min(tokens.len())..]
        .iter()
        .all(|token| *token == Token::Any)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::where_clause::php::php_is_numeric;

    #[test]
    fn numeric_prefix_reads_like_mysql() {
        assert_eq!(numeric_prefix("12abc"), 12.0);
        assert_eq!(numeric_prefix("  -1.5e2x"), -150.0);
        assert_eq!(numeric_prefix(".5"), 0.5);
        assert_eq!(numeric_prefix("5."), 5.0);
        assert_eq!(numeric_prefix("1e"), 1.0);
        assert_eq!(numeric_prefix("abc"), 0.0);
        assert_eq!(numeric_prefix("-"), 0.0);
        assert_eq!(numeric_prefix("."), 0.0);
        assert_eq!(numeric_prefix("1e999"), f64::MAX);
        assert!(php_is_numeric(" 1.5 "));
        assert!(php_is_numeric("1e5"));
        assert!(!php_is_numeric("1e"));
        assert!(!php_is_numeric("0x1A"));
        assert!(!php_is_numeric(""));
        assert!(!php_is_numeric("name"));
    }

    #[test]
    fn temporal_text_parses_leniently() {
        let parsed = |text: &str| parse_temporal(text).map(format_date_time);
        assert_eq!(parsed("2026-11-24"), Some("2026-11-24 00:00:00".into()));
        assert_eq!(parsed("2026-1-5 7:05"), Some("2026-01-05 07:05:00".into()));
        assert_eq!(
            parsed("2026-11-24T10:11:12.345"),
            Some("2026-11-24 10:11:12".into())
        );
        assert_eq!(parsed("2026-02-30"), None);
        assert_eq!(parsed("2026-11"), None);
        assert_eq!(parsed("24.11.2026"), None);
        assert_eq!(parsed("2026-11-24 25:00"), None);
        assert_eq!(parsed(""), None);
    }
}
