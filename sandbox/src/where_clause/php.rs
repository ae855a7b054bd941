//! PHP's value semantics, where EspoCRM's PHP code decides before any SQL: truthiness, arrays
//! with numeric keys, string conversion, `intval` and `is_numeric`.

use serde_json::Value;

use super::mysql::{number_text, numeric_length, numeric_prefix};

/// PHP truthiness: null, false, 0, 0.0, "", "0" and empty arrays are false.
pub(super) fn php_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_f64().is_some_and(|float| float != 0.0),
        Value::String(text) => !(text.is_empty() || text == "0"),
        Value::Array(values) => !values.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

/// Whether EspoCRM's `groupProcessAndOr` drops a part with this value: PHP-empty, but not
/// null, "", 0 or false.
pub(super) fn dropped_inside_groups(value: &Value) -> bool {
    match value {
        Value::String(text) => text == "0",
        Value::Number(number) => number.is_f64() && number.as_f64() == Some(0.0),
        Value::Array(values) => values.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::Null | Value::Bool(_) => false,
    }
}

/// The values of a PHP array (JSON array or object) in order; None for scalars.
pub(super) fn php_array_values(value: &Value) -> Option<Vec<&Value>> {
    match value {
        Value::Array(values) => Some(values.iter().collect()),
        Value::Object(map) => Some(map.values().collect()),
        _ => None,
    }
}

/// `$value[$index]`.
pub(super) fn php_index(value: &Value, index: usize) -> Option<&Value> {
    match value {
        Value::Array(values) => values.get(index),
        Value::Object(map) => map.get(&index.to_string()),
        _ => None,
    }
}

/// A PHP array whose keys are exactly 0..n-1 in order.
pub(super) fn is_php_list(value: &Value) -> bool {
    match value {
        Value::Array(_) => true,
        Value::Object(map) => map
            .keys()
            .enumerate()
            .all(|(index, key)| *key == index.to_string()),
        _ => false,
    }
}

/// A scalar coerced to a PHP string parameter; None for arrays (a TypeError in PHP).
pub(super) fn php_scalar_string(value: &Value) -> Option<String> {
    match value {
        Value::Array(_) | Value::Object(_) => None,
        other => Some(php_concat_string(other)),
    }
}

/// `(string) $value` as string concatenation does it (arrays become "Array").
pub(super) fn php_concat_string(value: &Value) -> String {
    match value {
        Value::Null | Value::Bool(false) => String::new(),
        Value::Bool(true) => "1".into(),
        Value::Number(number) => number_text(number),
        Value::String(text) => text.clone(),
        Value::Array(_) | Value::Object(_) => "Array".into(),
    }
}

/// The pattern of `like`/`notLike` as the ORM binds it; None for NULL or an array.
pub(super) fn like_pattern(value: &Value) -> Option<String> {
    match value {
        Value::Null | Value::Array(_) | Value::Object(_) => None,
        Value::Bool(flag) => Some(if *flag { "1" } else { "0" }.into()),
        other => Some(php_concat_string(other)),
    }
}

/// PHP's `intval`.
pub(super) fn php_intval(value: &Value) -> i64 {
    match value {
        Value::Null => 0,
        Value::Bool(flag) => i64::from(*flag),
        // `as` saturates, matching PHP for out-of-range floats closely enough.
        Value::Number(number) => number
            .as_i64()
            .unwrap_or_else(|| number.as_f64().map_or(0, |float| float as i64)),
        Value::String(text) => numeric_prefix(text) as i64,
        Value::Array(values) => i64::from(!values.is_empty()),
        Value::Object(map) => i64::from(!map.is_empty()),
    }
}

/// PHP's `is_numeric` (PHP 8: surrounding whitespace allowed, no hex).
pub(super) fn php_is_numeric(text: &str) -> bool {
    let trimmed =
        text.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'));
    !trimmed.is_empty() && numeric_length(trimmed.as_bytes()) == trimmed.len()
}
