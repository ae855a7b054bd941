//! Each value checked against the form its attribute takes.
//!
//! `null` clears a value and is accepted for every type but `bool`, ids lists and address lists,
//! unless it would empty a required field. Values are kept as given except where noted.
//!
//! What each field type (or attribute) accepts:
//!
//! - `varchar`, `text`, `wysiwyg`, `password`, `colorpicker`, address parts, `firstName` …: a
//!   string of at most `maxLength` characters (a `varchar` without one: 255, its column's).
//! - `email`: `""`, or `local@domain.tld` in ASCII, without spaces, one `@`, a dotted domain
//!   ([`crate::rules::email`]).
//! - `phone`: `""`, or digits with an optional leading `+` and spaces, `-`, `.`, `(`, `)`; at
//!   least 4 digits (the rule the sandbox applies; EspoCRM stores E.164) ([`crate::rules::phone`]).
//! - `url`: `""`, or an `http://`/`https://` address or a bare domain (`example.com/about`,
//!   which EspoCRM's url field also takes); no other scheme, no spaces, no `user@`; hosts in
//!   ASCII (punycode for international names) ([`crate::rules::url`]).
//! - `enum`, `salutationName`: a string among the options when the field declares any (`""`
//!   only if it is one of them).
//! - `enumInt`: an integer among the options (or a string option such as `""`).
//! - `multiEnum`, `array`, `checklist`: an array of strings, each among the options when
//!   declared.
//! - `int`: an integer within `min`/`max` (by default the 32-bit column's range); `float`: a
//!   number within `min`/`max`; `currency` (`amount`): a number, or a decimal string such as
//!   `"1000.50"`, within `min`/`max`.
//! - the currency code (`amountCurrency`): three capital letters, e.g. `"USD"`.
//! - `bool`, `…IsOptedOut`, `…IsInvalid`: `true` or `false`, not `null`.
//! - `date`, the `…Date` of a `datetimeOptional`: `"YYYY-MM-DD"`, a date that exists
//!   ([`crate::rules::date`]).
//! - `datetime`, `datetimeOptional`: `"YYYY-MM-DD HH:MM:SS"` in UTC; `"YYYY-MM-DD HH:MM"` is
//!   sent with `:00` added ([`crate::rules::date_time`]).
//! - `link`, `linkOne`, `file`, `image` (`xxxId`): a record id as [`names::id`] takes it.
//! - `linkMultiple`, `attachmentMultiple` (`xxxIds`): an array of record ids (`[]` unlinks all).
//! - `linkParent` (`parentType` + `parentId`): an entity type among the link's `entityList`
//!   when it has one, else any name, and an id; both or neither (two nulls remove the parent).
//! - `emailAddressData`: an array of `{emailAddress, primary?, optOut?, invalid?, lower?}`;
//!   `phoneNumberData`: of `{phoneNumber, type?, primary?, optOut?, invalid?}`; at most one
//!   primary.
//! - `jsonObject`: an object; `jsonArray`: an array.
//! - a type this crate does not know: anything (EspoCRM checks it).
//!
//! `""` for a date, a date-time, an id or a parent type is sent as `null`.
//!
//! Arrays hold at most [`MAX_ITEMS`] items and `data` at most [`MAX_ATTRIBUTES`] attributes.
//! Whether linked records exist is not checked here: EspoCRM answers that (403
//! `cannotRelateNonExisting`).

use serde_json::Value;

use super::MAX_ITEMS;
use super::problems::{Bound, Format, ProblemKind};
use crate::rules::{date, date_time, email, phone, url};
use crate::validate::error::{ValidationError, excerpt, quoted_names, quoted_values};
use crate::validate::names;

/// Which list of addresses a `…Data` attribute holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DataKind {
    Email,
    Phone,
}

impl DataKind {
    /// The key every item must have.
    pub(super) fn address_key(self) -> &'static str {
        match self {
            Self::Email => "emailAddress",
            Self::Phone => "phoneNumber",
        }
    }

    pub(super) fn keys(self) -> &'static [&'static str] {
        match self {
            Self::Email => &["emailAddress", "primary", "optOut", "invalid", "lower"],
            Self::Phone => &["phoneNumber", "type", "primary", "optOut", "invalid"],
        }
    }

    pub(super) fn format(self) -> Format {
        match self {
            Self::Email => Format::Email,
            Self::Phone => Format::Phone,
        }
    }
}

/// The form a value must have; decided by [`Run::shape`].
#[derive(Debug, Clone)]
pub(super) enum Shape<'a> {
    Text {
        max_chars: Option<u64>,
    },
    Email,
    Phone,
    Url {
        max_chars: Option<u64>,
    },
    Enum {
        options: Option<&'a [Value]>,
        max_chars: Option<u64>,
    },
    EnumInt {
        options: Option<&'a [Value]>,
    },
    List {
        options: Option<&'a [Value]>,
    },
    Int {
        min: f64,
        max: f64,
    },
    Float {
        min: Option<f64>,
        max: Option<f64>,
    },
    Money {
        min: Option<f64>,
        max: Option<f64>,
    },
    CurrencyCode,
    Bool,
    Date,
    DateTime,
    Id,
    Ids,
    ParentType {
        allowed: &'a [String],
    },
    Data(DataKind),
    JsonObject,
    JsonArray,
    Any,
}

impl Shape<'_> {
    /// What a value must be, for "must be X, not Y".
    pub(super) fn expected(&self) -> &'static str {
        match self {
            Self::Text { .. }
            | Self::Email
            | Self::Phone
            | Self::Url { .. }
            | Self::Enum { .. }
            | Self::CurrencyCode => "a string",
            Self::EnumInt { .. } | Self::Int { .. } => "a whole number",
            Self::List { .. } => "an array of strings",
            Self::Float { .. } | Self::Money { .. } => "a number",
            Self::Bool => "true or false",
            Self::Date => "a date string \"YYYY-MM-DD\"",
            Self::DateTime => "a date-time string \"YYYY-MM-DD HH:MM:SS\"",
            Self::Id => "a record id string",
            Self::Ids => "an array of record ids",
            Self::ParentType { .. } => "an entity type name",
            Self::Data(DataKind::Email) => "an array of {emailAddress, primary} objects",
            Self::Data(DataKind::Phone) => "an array of {phoneNumber, type, primary} objects",
            Self::JsonObject => "an object",
            Self::JsonArray => "an array",
            Self::Any => "a value",
        }
    }

    /// How to give a value of this shape, as a sentence.
    pub(super) fn advice(&self) -> String {
        let options_text = |options: Option<&[Value]>| {
            options.map(|options| quoted_values(&option_texts(options)))
        };
        match self {
            Self::Text {
                max_chars: Some(max),
            } => format!("Give a string of at most {max} characters."),
            Self::Text { max_chars: None } => "Give a string.".into(),
            Self::Email => Format::Email.advice().into(),
            Self::Phone => Format::Phone.advice().into(),
            Self::Url { .. } => Format::Url.advice().into(),
            Self::Enum { options, .. } | Self::EnumInt { options } => {
                match options_text(*options) {
                    Some(options) => format!("Give one of: {options}."),
                    None => format!("Give {}.", self.expected()),
                }
            }
            Self::List { options } => match options_text(*options) {
                Some(options) => format!("Give an array of options from: {options}."),
                None => "Give an array of strings, e.g. [\"a\", \"b\"].".into(),
            },
            Self::Int { .. } => "Give a whole number, e.g. 42.".into(),
            Self::Float { .. } => "Give a number, e.g. 2.5.".into(),
            Self::Money { .. } => Format::Decimal.advice().into(),
            Self::CurrencyCode => Format::CurrencyCode.advice().into(),
            Self::Bool => "Give true or false, not a string.".into(),
            Self::Date => Format::Date.advice().into(),
            Self::DateTime => Format::DateTime.advice().into(),
            Self::Id => {
                "Give the id as a string, e.g. \"6b05838b2c728cbdb\", or null to unlink.".into()
            }
            Self::Ids => {
                "Give an array of id strings, e.g. [\"6b05838b2c728cbdb\"]; [] removes all.".into()
            }
            Self::ParentType { allowed } if !allowed.is_empty() => {
                format!("Give one of: {}.", quoted_names(allowed))
            }
            Self::ParentType { .. } => Format::EntityTypeName.advice().into(),
            Self::Data(DataKind::Email) => "Give e.g. [{\"emailAddress\": \"anna@example.com\", \
                 \"primary\": true}]."
                .into(),
            Self::Data(DataKind::Phone) => "Give e.g. [{\"phoneNumber\": \"+1 212 555 0142\", \
                 \"type\": \"Office\", \"primary\": true}]."
                .into(),
            Self::JsonObject => "Give a JSON object, or null.".into(),
            Self::JsonArray => "Give a JSON array, or null.".into(),
            Self::Any => "Give a value.".into(),
        }
    }
}

/// Options as strings for messages (`enumInt` options are numbers).
fn option_texts(options: &[Value]) -> Vec<String> {
    options
        .iter()
        .filter_map(|option| match option {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        })
        .collect()
}

/// Checks `value` against `shape`, adding each problem with its attribute path to `found`;
/// returns what goes into the body when nothing was found.
pub(super) fn check_value(
    shape: &Shape<'_>,
    value: &Value,
    path: &str,
    found: &mut Vec<(String, ProblemKind)>,
) -> Option<Value> {
    match (shape, value) {
        (Shape::Ids, Value::Array(items)) => {
            if too_many(items, path, found) {
                return None;
            }
            let mut clean = true;
            for (index, item) in items.iter().enumerate() {
                clean &= check_id(item, &format!("{path}[{index}]"), false, found).is_some();
            }
            clean.then(|| value.clone())
        }
        (Shape::Data(kind), Value::Array(items)) => check_data(*kind, items, path, found),
        (Shape::List { options }, Value::Array(items)) => {
            if too_many(items, path, found) {
                return None;
            }
            let before = found.len();
            for (index, item) in items.iter().enumerate() {
                let problem = match (item, options) {
                    (Value::String(text), Some(options))
                        if !options.iter().any(|option| option.as_str() == Some(text)) =>
                    {
                        ProblemKind::NotAnOption {
                            given: excerpt(text),
                            options: option_texts(options),
                        }
                    }
                    (Value::String(_), _) => continue,
                    _ => ProblemKind::WrongType {
                        expected: "a string",
                        given: describe(item),
                        advice: shape.advice(),
                    },
                };
                found.push((excerpt(&format!("{path}[{index}]")), problem));
            }
            (found.len() == before).then(|| value.clone())
        }
        (Shape::Id, _) => check_id(value, path, true, found),
        _ => match check_single(shape, value) {
            Ok(accepted) => Some(accepted),
            Err(problem) => {
                found.push((excerpt(path), problem));
                None
            }
        },
    }
}

/// The shapes whose value has at most one problem.
fn check_single(shape: &Shape<'_>, value: &Value) -> Result<Value, ProblemKind> {
    let malformed = |text: &str, format| ProblemKind::Malformed {
        given: excerpt(text),
        format,
    };
    let accept = || Ok(value.clone());
    match (shape, value) {
        (Shape::Any, _)
        | (Shape::Bool, Value::Bool(_))
        | (Shape::JsonObject, Value::Object(_))
        | (Shape::JsonArray, Value::Array(_)) => accept(),
        (Shape::Bool | Shape::Ids | Shape::Data(_), _) => Err(wrong_type(shape, value)),
        (_, Value::Null) => Ok(Value::Null),
        (Shape::Text { max_chars }, Value::String(text)) => match too_long(text, *max_chars) {
            Some(problem) => Err(problem),
            None => accept(),
        },
        (Shape::Email, Value::String(text)) if text.is_empty() || email::is_valid(text) => accept(),
        (Shape::Email, Value::String(text)) => Err(malformed(text, Format::Email)),
        (Shape::Phone, Value::String(text)) if text.is_empty() || phone::is_valid(text) => accept(),
        (Shape::Phone, Value::String(text)) => Err(malformed(text, Format::Phone)),
        (Shape::Url { max_chars }, Value::String(text)) => {
            if !text.is_empty() && !url::is_valid(text) {
                return Err(malformed(text, Format::Url));
            }
            too_long(text, *max_chars).map_or_else(accept, Err)
        }
        (Shape::Enum { options, max_chars }, Value::String(text)) => {
            if let Some(options) = options
                && !options.iter().any(|option| option.as_str() == Some(text))
            {
                return Err(ProblemKind::NotAnOption {
                    given: excerpt(text),
                    options: option_texts(options),
                });
            }
            too_long(text, *max_chars).map_or_else(accept, Err)
        }
        (Shape::EnumInt { options }, Value::Number(number)) if number.as_i64().is_some() => {
            match options {
                Some(options)
                    if !options.iter().any(|option| {
                        option.as_i64().is_some() && option.as_i64() == number.as_i64()
                    }) =>
                {
                    Err(ProblemKind::NotAnOption {
                        given: number.to_string(),
                        options: option_texts(options),
                    })
                }
                _ => accept(),
            }
        }
        (
            Shape::EnumInt {
                options: Some(options),
            },
            Value::String(text),
        ) if options.iter().any(|option| option.as_str() == Some(text)) => accept(),
        (Shape::Int { min, max }, Value::Number(number)) => {
            let whole = number
                .as_i64()
                .map(|whole| whole as f64)
                .or_else(|| number.as_u64().map(|whole| whole as f64))
                .ok_or_else(|| wrong_type(shape, value))?;
            out_of_range(whole, &number.to_string(), Some(*min), Some(*max))
                .map_or_else(accept, Err)
        }
        (Shape::Float { min, max } | Shape::Money { min, max }, Value::Number(number)) => {
            let given = number.as_f64().ok_or_else(|| wrong_type(shape, value))?;
            out_of_range(given, &number.to_string(), *min, *max).map_or_else(accept, Err)
        }
        (Shape::Money { min, max }, Value::String(text)) => {
            let given = text
                .parse::<f64>()
                .ok()
                .filter(|given| is_decimal(text) && given.is_finite())
                .ok_or_else(|| malformed(text, Format::Decimal))?;
            out_of_range(given, &excerpt(text), *min, *max).map_or_else(accept, Err)
        }
        (Shape::CurrencyCode, Value::String(text))
            if text.len() == 3 && text.bytes().all(|byte| byte.is_ascii_uppercase()) =>
        {
            accept()
        }
        (Shape::CurrencyCode, Value::String(text)) => Err(malformed(text, Format::CurrencyCode)),
        (Shape::Date | Shape::DateTime | Shape::ParentType { .. }, Value::String(text))
            if text.is_empty() =>
        {
            Ok(Value::Null)
        }
        (Shape::Date, Value::String(text)) if date::is_valid(text) => accept(),
        (Shape::Date, Value::String(text)) => Err(malformed(text, Format::Date)),
        (Shape::DateTime, Value::String(text)) => date_time::normalize(text)
            .map(Value::String)
            .ok_or_else(|| malformed(text, Format::DateTime)),
        (Shape::ParentType { allowed }, Value::String(text)) => {
            if !allowed.is_empty() && !allowed.iter().any(|allowed| allowed == text) {
                Err(ProblemKind::ParentTypeNotAllowed {
                    given: excerpt(text),
                    allowed: allowed.to_vec(),
                })
            } else if !names::is_name(text) {
                Err(malformed(text, Format::EntityTypeName))
            } else {
                accept()
            }
        }
        _ => Err(wrong_type(shape, value)),
    }
}

fn wrong_type(shape: &Shape<'_>, value: &Value) -> ProblemKind {
    ProblemKind::WrongType {
        expected: shape.expected(),
        given: describe(value),
        advice: shape.advice(),
    }
}

/// One record id; where `nullable`, `null` and `""` unlink (a blank `" "` is no id: it is
/// refused rather than read as an unlink the caller may not have meant).
fn check_id(
    value: &Value,
    path: &str,
    nullable: bool,
    found: &mut Vec<(String, ProblemKind)>,
) -> Option<Value> {
    match value {
        Value::Null if nullable => Some(Value::Null),
        Value::String(text) if nullable && text.is_empty() => Some(Value::Null),
        Value::String(text) => match names::id(text) {
            Ok(_) => Some(value.clone()),
            Err(error) => {
                let reason = match error {
                    ValidationError::InvalidId { reason, .. } => reason,
                    _ => "it is not shaped like one",
                };
                found.push((
                    excerpt(path),
                    ProblemKind::InvalidId {
                        given: excerpt(text),
                        reason,
                    },
                ));
                None
            }
        },
        _ => {
            found.push((
                excerpt(path),
                ProblemKind::WrongType {
                    expected: Shape::Id.expected(),
                    given: describe(value),
                    advice: Shape::Id.advice(),
                },
            ));
            None
        }
    }
}

/// The items of `emailAddressData` / `phoneNumberData`.
fn check_data(
    kind: DataKind,
    items: &[Value],
    path: &str,
    found: &mut Vec<(String, ProblemKind)>,
) -> Option<Value> {
    if too_many(items, path, found) {
        return None;
    }
    let before = found.len();
    let mut primaries = 0;
    for (index, item) in items.iter().enumerate() {
        let at = format!("{path}[{index}]");
        let Value::Object(item) = item else {
            found.push((
                excerpt(&at),
                ProblemKind::WrongType {
                    expected: "an object",
                    given: describe(item),
                    advice: Shape::Data(kind).advice(),
                },
            ));
            continue;
        };
        let address_key = kind.address_key();
        match item.get(address_key) {
            Some(Value::String(text)) if text.is_empty() => found.push((
                excerpt(&at),
                ProblemKind::MissingItemKey { key: address_key },
            )),
            Some(Value::String(text)) => {
                let fits = match kind {
                    DataKind::Email => email::is_valid(text),
                    DataKind::Phone => phone::is_valid(text),
                };
                if !fits {
                    found.push((
                        excerpt(&format!("{at}.{address_key}")),
                        ProblemKind::Malformed {
                            given: excerpt(text),
                            format: kind.format(),
                        },
                    ));
                }
            }
            Some(other) => found.push((
                excerpt(&format!("{at}.{address_key}")),
                ProblemKind::WrongType {
                    expected: "a string",
                    given: describe(other),
                    advice: kind.format().advice().into(),
                },
            )),
            None => found.push((
                excerpt(&at),
                ProblemKind::MissingItemKey { key: address_key },
            )),
        }
        for (key, value) in item {
            let key_at = || excerpt(&format!("{at}.{key}"));
            match key.as_str() {
                key if key == address_key => {}
                "primary" | "optOut" | "invalid" => match value {
                    Value::Bool(primary) => primaries += usize::from(key == "primary" && *primary),
                    _ => found.push((
                        key_at(),
                        ProblemKind::WrongType {
                            expected: "true or false",
                            given: describe(value),
                            advice: "Give true or false, not a string.".into(),
                        },
                    )),
                },
                "lower" | "type" if kind.keys().contains(&key.as_str()) => {
                    if !matches!(value, Value::String(_) | Value::Null) {
                        found.push((
                            key_at(),
                            ProblemKind::WrongType {
                                expected: "a string",
                                given: describe(value),
                                advice: Shape::Data(kind).advice(),
                            },
                        ));
                    }
                }
                _ => found.push((key_at(), ProblemKind::UnknownItemKey { keys: kind.keys() })),
            }
        }
    }
    if primaries > 1 {
        found.push((excerpt(path), ProblemKind::SeveralPrimary));
    }
    (found.len() == before).then(|| Value::Array(items.to_vec()))
}

/// Reports an array longer than [`MAX_ITEMS`].
fn too_many(items: &[Value], path: &str, found: &mut Vec<(String, ProblemKind)>) -> bool {
    if items.len() <= MAX_ITEMS {
        return false;
    }
    found.push((
        excerpt(path),
        ProblemKind::TooManyItems {
            given: items.len(),
            max: MAX_ITEMS,
        },
    ));
    true
}

fn too_long(text: &str, max_chars: Option<u64>) -> Option<ProblemKind> {
    let max = max_chars?;
    let chars = text.chars().count();
    (chars as u64 > max).then_some(ProblemKind::TooLong { chars, max })
}

fn out_of_range(
    given: f64,
    shown: &str,
    min: Option<f64>,
    max: Option<f64>,
) -> Option<ProblemKind> {
    let problem = |bound, limit: f64| ProblemKind::OutOfRange {
        given: shown.to_owned(),
        bound,
        limit: number_text(limit),
    };
    if let Some(min) = min.filter(|min| given < *min) {
        return Some(problem(Bound::Min, min));
    }
    max.filter(|max| given > *max)
        .map(|max| problem(Bound::Max, max))
}

/// `100` rather than `100.0` for whole limits.
fn number_text(number: f64) -> String {
    if number.fract() == 0.0 && number.abs() < 1e15 {
        format!("{}", number as i64)
    } else {
        number.to_string()
    }
}

/// `-12`, `1000`, `1000.50`: the decimal strings EspoCRM takes for a currency amount.
fn is_decimal(text: &str) -> bool {
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit());
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    match unsigned.split_once('.') {
        Some((whole, fraction)) => digits(whole) && digits(fraction),
        None => digits(unsigned),
    }
}

/// A short description of what the caller sent, for messages.
pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => excerpt(&number.to_string()),
        Value::String(text) => format!("{:?}", excerpt(text)),
        Value::Array(items) => format!("an array of {} values", items.len()),
        Value::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::*;

    #[test]
    fn values_of_the_wrong_json_type_are_refused() {
        for (given, expected) in [
            (
                json!({"employees": "ten"}),
                "`employees` must be a whole number, not \"ten\"",
            ),
            (
                json!({"name": {"first": "A"}}),
                "`name` must be a string, not an object",
            ),
            (json!({"name": 42}), "`name` must be a string, not 42"),
            (
                json!({"isKey": "yes"}),
                "`isKey` must be true or false, not \"yes\"",
            ),
            (
                json!({"isKey": null}),
                "`isKey` must be true or false, not null",
            ),
            (
                json!({"tags": "VIP"}),
                "`tags` must be an array of strings, not \"VIP\"",
            ),
            (
                json!({"tags": ["VIP", 3]}),
                "`tags[1]` must be a string, not 3",
            ),
            (
                json!({"teamsIds": ID}),
                "`teamsIds` must be an array of record ids, not \"6b058e2767a25e5ad\"",
            ),
            (
                json!({"teamsIds": null}),
                "`teamsIds` must be an array of record ids, not null",
            ),
            (
                json!({"settings": []}),
                "`settings` must be an object, not an array of 0 values",
            ),
            (
                json!({"rating": "high"}),
                "`rating` must be a number, not \"high\"",
            ),
            (
                json!({"campaignId": 42}),
                "`campaignId` must be a record id string, not 42",
            ),
            (
                json!({"foundedOn": 2026}),
                "`foundedOn` must be a date string \"YYYY-MM-DD\", not 2026",
            ),
            (
                json!({"type": ["Customer"]}),
                "`type` must be a string, not an array of 1 values",
            ),
            (
                json!({"tier": 2.5}),
                "`tier` must be a whole number, not 2.5",
            ),
            (
                json!({"emailAddressData": {"emailAddress": "a@b.co"}}),
                "`emailAddressData` must be an array of {emailAddress, primary} objects, \
                 not an object",
            ),
        ] {
            let (_, code, message) = only_problem(update("Account", given.clone()));
            assert_eq!(code, "INVALID_FIELD_VALUE", "{given}");
            assert_eq!(message, expected);
        }
        // A type this crate does not know is left to EspoCRM.
        assert!(update("Account", json!({"barcode": {"any": ["thing"]}})).is_ok());
    }

    #[test]
    fn enum_values_must_be_options_and_the_suggestion_lists_them() {
        let errors = refused(update("Opportunity", json!({"stage": "Won"})));
        assert_eq!(errors.code().as_str(), "INVALID_FIELD_VALUE");
        assert_eq!(errors.message(), "`stage` \"Won\" is not an option");
        assert_eq!(
            errors.suggestion(),
            "Options: \"Prospecting\", \"Qualification\", \"Proposal\", \"Negotiation\", \
             \"Closed Won\", \"Closed Lost\"."
        );
        // "" only where it is an option.
        assert!(update("Account", json!({"type": ""})).is_ok());
        assert!(update("Opportunity", json!({"stage": ""})).is_err());
        assert!(update("Opportunity", json!({"stage": null})).is_ok());
        assert!(update("Contact", json!({"salutationName": "Dr."})).is_ok());
        assert!(update("Contact", json!({"salutationName": "Prof."})).is_err());
        // Options are matched exactly.
        assert!(update("Opportunity", json!({"stage": "closed won"})).is_err());
        // An enum whose options metadata does not list takes any string.
        assert!(update("Opportunity", json!({"leadSource": "Web Site"})).is_ok());

        let (attribute, _, message) =
            only_problem(update("Account", json!({"tags": ["VIP", "Gold"]})));
        assert_eq!(attribute, "tags[1]");
        assert_eq!(message, "`tags[1]` \"Gold\" is not an option");
        assert!(update("Account", json!({"tags": ["VIP", "Churn risk"]})).is_ok());
        assert!(update("Account", json!({"tags": []})).is_ok());

        assert!(update("Account", json!({"tier": 2})).is_ok());
        let (_, _, message) = only_problem(update("Account", json!({"tier": 4})));
        assert_eq!(message, "`tier` \"4\" is not an option");
        assert!(update("Account", json!({"tier": "2"})).is_err());
    }

    #[test]
    fn text_longer_than_max_length_is_refused_counting_characters() {
        let fits = "é".repeat(249);
        assert!(fits.len() > 249);
        assert!(update("Account", json!({"name": fits})).is_ok());
        let (_, code, message) = only_problem(update("Account", json!({"name": "é".repeat(250)})));
        assert_eq!(code, "INVALID_FIELD_VALUE");
        assert_eq!(message, "`name` is 250 characters long, more than its 249");
        // A varchar without maxLength has its 255-character column.
        assert!(update("Opportunity", json!({"name": "x".repeat(255)})).is_ok());
        assert!(update("Opportunity", json!({"name": "x".repeat(256)})).is_err());
        // Text has no limit unless declared.
        assert!(update("Opportunity", json!({"description": "x".repeat(100_000)})).is_ok());
        // The declared amountCurrency has maxLength 3, and is a currency code anyway.
        assert!(update("Opportunity", json!({"amountCurrency": "USD"})).is_ok());
        for bad in ["EURO", "usd", "U$D", ""] {
            let (_, _, message) =
                only_problem(update("Opportunity", json!({"amountCurrency": bad})));
            assert!(message.ends_with("is not a currency code"), "{message}");
        }
    }

    #[test]
    fn numbers_must_be_within_their_limits() {
        for (given, expected) in [
            (
                json!({"probability": -1}),
                "`probability` -1 is below its minimum 0",
            ),
            (
                json!({"probability": 101}),
                "`probability` 101 is above its maximum 100",
            ),
            (
                json!({"probability": 50.5}),
                "`probability` must be a whole number, not 50.5",
            ),
            (json!({"amount": -5}), "`amount` -5 is below its minimum 0"),
            (
                json!({"amount": "-5.50"}),
                "`amount` -5.50 is below its minimum 0",
            ),
            (
                json!({"amount": "12,5"}),
                "`amount` \"12,5\" is not a decimal number",
            ),
            (
                json!({"amount": "1e3"}),
                "`amount` \"1e3\" is not a decimal number",
            ),
        ] {
            let (_, code, message) = only_problem(update("Opportunity", given.clone()));
            assert_eq!(code, "INVALID_FIELD_VALUE", "{given}");
            assert_eq!(message, expected);
        }
        assert!(
            update(
                "Opportunity",
                json!({"amount": "1000.50", "probability": 100})
            )
            .is_ok()
        );
        assert!(update("Opportunity", json!({"amount": 0.5, "probability": 0})).is_ok());
        let (_, _, message) =
            only_problem(update("Account", json!({"employees": 3_000_000_000u64})));
        assert_eq!(
            message,
            "`employees` 3000000000 is above its maximum 2147483647"
        );
        let (_, _, message) = only_problem(update("Account", json!({"rating": 5.5})));
        assert_eq!(message, "`rating` 5.5 is above its maximum 5");
        let errors = refused(update("Account", json!({"employees": -1})));
        assert_eq!(errors.suggestion(), "Give a number of at least 0.");
    }

    #[test]
    fn dates_and_date_times_must_exist_and_are_normalised() {
        for good in ["2026-12-31", "2028-02-29", "2000-02-29", "0001-01-01"] {
            assert!(
                update("Opportunity", json!({"closeDate": good})).is_ok(),
                "{good}"
            );
        }
        for bad in [
            "31/12/2026",
            "2026-02-29",
            "1900-02-29",
            "2026-13-01",
            "2026-04-31",
            "2026-12-1",
            "2026-12-31 10:00:00",
            "２０２６-12-31",
            "0000-01-01",
        ] {
            let (_, code, message) = only_problem(update("Opportunity", json!({"closeDate": bad})));
            assert_eq!(code, "INVALID_FIELD_VALUE", "{bad}");
            assert!(message.ends_with("is not a date (YYYY-MM-DD)"), "{message}");
        }
        let written = accepted(update(
            "Meeting",
            json!({"dateStart": "2026-12-01 14:00", "dateEnd": "2026-12-01 15:30:00",
                   "dateStartDate": ""}),
        ));
        assert_eq!(
            written.into_body(),
            json!({"dateStart": "2026-12-01 14:00:00", "dateEnd": "2026-12-01 15:30:00",
                   "dateStartDate": null})
        );
        for bad in [
            "2026-12-01T14:00:00Z",
            "2026-12-01 24:00:00",
            "2026-12-01 14:60",
            "2026-12-01 14:00:00.000",
            "2026-12-01",
            "2026-02-30 10:00:00",
        ] {
            let (_, _, message) = only_problem(update("Meeting", json!({"dateStart": bad})));
            assert!(
                message.ends_with("is not a date-time (YYYY-MM-DD HH:MM:SS, UTC)"),
                "{message}"
            );
        }
        assert!(update("Account", json!({"lastContactedAt": "2026-11-24 13:16:23"})).is_ok());
    }

    #[test]
    fn email_addresses_are_checked_strictly() {
        for good in [
            "anna@example.com",
            "anna.b+crm@mail.example.co.uk",
            "o'brien@example.ie",
            "x@xn--bcher-kva.example",
            "",
        ] {
            assert!(
                update("Account", json!({"emailAddress": good})).is_ok(),
                "{good}"
            );
        }
        for bad in [
            "not-an-email",
            "anna@example",
            "anna @example.com",
            "Anna <anna@example.com>",
            "anna@@example.com",
            "anna@example.com, bob@example.com",
            ".anna@example.com",
            "anna@-example.com",
            "anna@example.c",
            "änna@example.com",
        ] {
            let (_, code, message) = only_problem(update("Account", json!({"emailAddress": bad})));
            assert_eq!(code, "INVALID_FIELD_VALUE", "{bad}");
            assert!(message.ends_with("is not an email address"), "{message}");
        }
    }

    #[test]
    fn address_data_items_are_checked_one_by_one() {
        let errors = refused(update(
            "Contact",
            json!({"emailAddressData": [
                {"emailAddress": "ok@example.com", "primary": true},
                {"emailAddress": "broken", "primary": true},
                {"primary": false},
                {"emailAddress": "x@example.com", "optOut": "no", "label": "work"},
                "bare@example.com"
            ]}),
        ));
        let problems: Vec<(&str, String)> = errors
            .problems()
            .iter()
            .map(|problem| (problem.attribute().unwrap_or(""), problem.message()))
            .collect();
        assert_eq!(
            problems,
            [
                (
                    "emailAddressData[1].emailAddress",
                    "`emailAddressData[1].emailAddress` \"broken\" is not an email address".into()
                ),
                (
                    "emailAddressData[2]",
                    "`emailAddressData[2]` has no `emailAddress`".into()
                ),
                (
                    "emailAddressData[3].optOut",
                    "`emailAddressData[3].optOut` must be true or false, not \"no\"".into()
                ),
                (
                    "emailAddressData[3].label",
                    "`emailAddressData[3].label` is not a key these items have".into()
                ),
                (
                    "emailAddressData[4]",
                    "`emailAddressData[4]` must be an object, not \"bare@example.com\"".into()
                ),
                (
                    "emailAddressData",
                    "`emailAddressData` marks more than one item as primary".into()
                ),
            ]
        );
        let (attribute, _, _) = only_problem(update(
            "Contact",
            json!({"phoneNumberData": [{"phoneNumber": "call me", "type": "Mobile"}]}),
        ));
        assert_eq!(attribute, "phoneNumberData[0].phoneNumber");
        assert!(update("Contact", json!({"emailAddressData": []})).is_ok());
    }

    #[test]
    fn urls_are_web_addresses_with_or_without_a_scheme() {
        for good in [
            "https://example.com",
            "http://example.com:8080/a/b?c=d#e",
            "HTTPS://EXAMPLE.COM",
            "example.com",
            "www.example.co.uk/about",
            "https://192.168.0.10/crm",
            "http://localhost:8080",
            "",
        ] {
            assert!(
                update("Account", json!({"website": good})).is_ok(),
                "{good}"
            );
        }
        for bad in [
            "javascript:alert(1)",
            "ftp://example.com",
            "mailto:anna@example.com",
            "example",
            "localhost",
            "https://exa mple.com",
            "https://user:pw@example.com",
            "//example.com",
            "https://",
            "https://example.com:99999",
            "https://-example.com",
        ] {
            let (_, code, message) = only_problem(update("Account", json!({"website": bad})));
            assert_eq!(code, "INVALID_FIELD_VALUE", "{bad}");
            assert!(message.ends_with("is not a web address"), "{message}");
        }
    }

    #[test]
    fn phone_numbers_are_digits_with_separators() {
        for good in [
            "+1 212 555 0142",
            "(212) 555-0142",
            "212.555.0142",
            "1234",
            "",
        ] {
            assert!(
                update("Account", json!({"phoneNumber": good})).is_ok(),
                "{good}"
            );
        }
        for bad in [
            "call me maybe",
            "123",
            "+1 212 555 0142 ext. 5",
            "1+234",
            "++1234",
            "١٢٣٤٥",
        ] {
            let (_, code, message) = only_problem(update("Account", json!({"phoneNumber": bad})));
            assert_eq!(code, "INVALID_FIELD_VALUE", "{bad}");
            assert!(message.ends_with("is not a phone number"), "{message}");
        }
    }

    #[test]
    fn ids_must_be_shaped_like_record_ids() {
        let (attribute, code, message) =
            only_problem(update("Contact", json!({"accountId": "../x"})));
        assert_eq!((attribute.as_str(), code), ("accountId", "INVALID_ID"));
        assert!(message.starts_with("`accountId` \"../x\" is not an EspoCRM record id"));
        let (attribute, code, _) = only_problem(update(
            "Opportunity",
            json!({"contactsIds": [ID, "a b", ID]}),
        ));
        assert_eq!((attribute.as_str(), code), ("contactsIds[1]", "INVALID_ID"));
        let (_, code, _) = only_problem(update("Opportunity", json!({"contactsIds": [ID, null]})));
        assert_eq!(code, "INVALID_FIELD_VALUE");

        let (_, code, _) = only_problem(update("Contact", json!({"accountId": " "})));
        assert_eq!(code, "INVALID_ID");
        let written = accepted(update(
            "Contact",
            json!({"accountId": "", "campaignId": null}),
        ));
        assert_eq!(
            written.into_body(),
            json!({"accountId": null, "campaignId": null})
        );
        assert!(update("Account", json!({"logoId": ID})).is_ok());
    }
}
