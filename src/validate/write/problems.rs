//! What each refusal of a write says: its code, its message naming the attribute, and what to
//! send instead; and all of one call's refusals together, as [`WriteErrors`].

use std::collections::BTreeSet;
use std::fmt;

use serde_json::{Value, json};

use super::WriteMode;
use crate::error::ErrorCode;
use crate::validate::error::{ValidationError, did_you_mean, quoted_names, quoted_values};

/// How many problems the combined message and suggestion spell out; `problems()` has them all.
const LISTED_PROBLEMS: usize = 20;

/// A value format with a rule of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    Date,
    DateTime,
    Email,
    Url,
    Phone,
    CurrencyCode,
    Decimal,
    EntityTypeName,
}

impl Format {
    pub(super) fn describe(self) -> &'static str {
        match self {
            Self::Date => "a date (YYYY-MM-DD)",
            Self::DateTime => "a date-time (YYYY-MM-DD HH:MM:SS, UTC)",
            Self::Email => "an email address",
            Self::Url => "a web address",
            Self::Phone => "a phone number",
            Self::CurrencyCode => "a currency code",
            Self::Decimal => "a decimal number",
            Self::EntityTypeName => "an entity type name",
        }
    }

    pub(super) fn advice(self) -> &'static str {
        match self {
            Self::Date => "Give a real calendar date as \"YYYY-MM-DD\", e.g. \"2026-12-31\".",
            Self::DateTime => {
                "Give a real UTC date-time as \"YYYY-MM-DD HH:MM:SS\" (or \"YYYY-MM-DD HH:MM\"), \
                 e.g. \"2026-12-31 14:30:00\"."
            }
            Self::Email => {
                "Give one address as local@domain.tld, without spaces or a display name, \
                 e.g. \"anna@example.com\"."
            }
            Self::Url => {
                "Give an http:// or https:// address or a bare domain, \
                 e.g. \"https://example.com\" or \"example.com/about\"."
            }
            Self::Phone => {
                "Give digits with an optional leading + and spaces, dashes, dots or \
                 parentheses, at least 4 digits, e.g. \"+1 212 555 0142\"."
            }
            Self::CurrencyCode => {
                "Give a three-letter ISO 4217 code in capitals, e.g. \"USD\" or \"EUR\"."
            }
            Self::Decimal => {
                "Give a number such as 1000 or 1000.5, or a string such as \"1000.50\"."
            }
            Self::EntityTypeName => "Give an entity type name such as \"Account\".",
        }
    }
}

/// Which limit a number broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Min,
    Max,
}

/// Why an attribute that exists cannot be written.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum NotWritable {
    /// `id`, `deleted`, read-only fields, autoincrement numbers, converted amounts.
    SetByEspo,
    /// `readOnlyAfterCreate`, on an update.
    FixedAfterCreate,
    /// The ACL's `fieldTable` says the API user may not edit it.
    ForbiddenByRole,
    /// Computed from other attributes, which are the ones to write (none when EspoCRM computes
    /// it from elsewhere).
    Derived { from: Vec<String> },
    /// `xxxColumns` of a `linkMultiple`.
    RelationColumns { ids: String },
}

/// What is wrong with one attribute, or with `data` as a whole.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// `data` is `{}`.
    EmptyData {
        mode: WriteMode,
        /// On create, the attributes the required fields need.
        required: Vec<String>,
    },
    TooManyAttributes {
        given: usize,
        max: usize,
    },
    MalformedName {
        closest: Vec<String>,
    },
    UnknownAttribute {
        entity_type: String,
        closest: Vec<String>,
    },
    /// A field that exists only as its parts (`account`, `billingAddress`).
    FieldOnly {
        field_type: String,
        parts: Vec<String>,
    },
    NotWritable(NotWritable),
    /// On create: a required field was not given (or given empty).
    Required {
        field: String,
        /// The attributes that would satisfy it.
        attributes: Vec<String>,
        /// Whether one of `attributes` is enough (else all are needed).
        any_of: bool,
        advice: String,
    },
    /// On update: a required field was given empty.
    Emptied,
    WrongType {
        expected: &'static str,
        given: String,
        advice: String,
    },
    NotAnOption {
        given: String,
        options: Vec<String>,
    },
    TooLong {
        chars: usize,
        max: u64,
    },
    OutOfRange {
        given: String,
        bound: Bound,
        limit: String,
    },
    Malformed {
        given: String,
        format: Format,
    },
    InvalidId {
        given: String,
        reason: &'static str,
    },
    ParentTypeNotAllowed {
        given: String,
        allowed: Vec<String>,
    },
    /// `parentId` without `parentType`, or the other way round.
    Unpaired {
        missing: String,
    },
    TooManyItems {
        given: usize,
        max: usize,
    },
    /// A key the items of `emailAddressData`/`phoneNumberData` do not have.
    UnknownItemKey {
        keys: &'static [&'static str],
    },
    MissingItemKey {
        key: &'static str,
    },
    SeveralPrimary,
}

/// One problem, with the attribute it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteProblem {
    /// The attribute as given (cut to [`crate::validate::error::EXCERPT_CHARS`] characters),
    /// with `[i]` and `.key` for parts of an array value; `None` for `data` as a whole.
    pub(super) attribute: Option<String>,
    pub(super) kind: ProblemKind,
    /// Sorts the problems: `data` first, then names without a field in the order given, then
    /// by field in schema order.
    pub(super) rank: (u8, usize, usize),
}

impl WriteProblem {
    pub fn attribute(&self) -> Option<&str> {
        self.attribute.as_deref()
    }

    pub fn kind(&self) -> &ProblemKind {
        &self.kind
    }

    /// The stable tool error code of this problem alone.
    pub fn code(&self) -> ErrorCode {
        use ProblemKind as K;
        match &self.kind {
            K::EmptyData { .. } | K::TooManyAttributes { .. } => ErrorCode::InvalidArgument,
            K::MalformedName { .. }
            | K::UnknownAttribute { .. }
            | K::FieldOnly { .. }
            | K::NotWritable(_) => ErrorCode::InvalidField,
            K::Required { .. } | K::Emptied => ErrorCode::MissingRequiredField,
            K::InvalidId { .. } => ErrorCode::InvalidId,
            K::WrongType { .. }
            | K::NotAnOption { .. }
            | K::TooLong { .. }
            | K::OutOfRange { .. }
            | K::Malformed { .. }
            | K::ParentTypeNotAllowed { .. }
            | K::Unpaired { .. }
            | K::TooManyItems { .. }
            | K::UnknownItemKey { .. }
            | K::MissingItemKey { .. }
            | K::SeveralPrimary => ErrorCode::InvalidFieldValue,
        }
    }

    /// What is wrong, naming the attribute.
    pub fn message(&self) -> String {
        use ProblemKind as K;
        let at = self
            .attribute
            .as_deref()
            .map_or_else(|| "`data`".to_owned(), shown);
        match &self.kind {
            K::EmptyData {
                mode: WriteMode::Update,
                ..
            } => "`data` is empty: nothing to change".into(),
            K::EmptyData { .. } => "`data` is empty: nothing to create the record from".into(),
            K::TooManyAttributes { given, max } => {
                format!("`data` has {given} attributes, more than the {max} one call may write")
            }
            K::MalformedName { .. } => format!("{at} is not an attribute name"),
            K::UnknownAttribute { entity_type, .. } => format!(
                "`{entity_type}` has no attribute {at} (EspoCRM would drop it without a word)"
            ),
            K::FieldOnly { field_type, .. } => {
                format!("{at} is a {field_type} field, written through its attributes")
            }
            K::NotWritable(reason) => match reason {
                NotWritable::SetByEspo => format!("{at} cannot be written: EspoCRM sets it"),
                NotWritable::FixedAfterCreate => {
                    format!("{at} cannot be changed once the record exists")
                }
                NotWritable::ForbiddenByRole => {
                    format!("{at} cannot be written: the API user's role may not edit it")
                }
                NotWritable::Derived { from } if from.is_empty() => {
                    format!("{at} cannot be written: EspoCRM computes it")
                }
                NotWritable::Derived { from } => format!(
                    "{at} cannot be written: EspoCRM derives it from {}",
                    quoted_names(from)
                ),
                NotWritable::RelationColumns { .. } => {
                    format!("{at} cannot be written: relation columns are not set through `data`")
                }
            },
            K::Required {
                attributes, any_of, ..
            } => match attributes.as_slice() {
                [one] => format!("{} is required", shown(one)),
                many if *any_of => format!("{} is required", alternatives(many, "or")),
                many => format!("{} are required", alternatives(many, "and")),
            },
            K::Emptied => format!("{at} is required and cannot be emptied"),
            K::WrongType {
                expected, given, ..
            } => format!("{at} must be {expected}, not {given}"),
            K::NotAnOption { given, .. } => format!("{at} {given:?} is not an option"),
            K::TooLong { chars, max } => {
                format!("{at} is {chars} characters long, more than its {max}")
            }
            K::OutOfRange {
                given,
                bound: Bound::Min,
                limit,
            } => format!("{at} {given} is below its minimum {limit}"),
            K::OutOfRange {
                given,
                bound: Bound::Max,
                limit,
            } => format!("{at} {given} is above its maximum {limit}"),
            K::Malformed { given, format } => {
                format!("{at} {given:?} is not {}", format.describe())
            }
            K::InvalidId { given, reason } => {
                format!("{at} {given:?} is not an EspoCRM record id: {reason}")
            }
            K::ParentTypeNotAllowed { given, .. } => {
                format!("{at} {given:?} is not an entity type this parent may have")
            }
            K::Unpaired { missing } => format!("{at} is given without `{missing}`"),
            K::TooManyItems { given, max } => {
                format!("{at} has {given} items, more than the {max} one call may write")
            }
            K::UnknownItemKey { .. } => format!("{at} is not a key these items have"),
            K::MissingItemKey { key } => format!("{at} has no `{key}`"),
            K::SeveralPrimary => format!("{at} marks more than one item as primary"),
        }
    }

    /// What to send instead.
    pub fn suggestion(&self) -> String {
        use ProblemKind as K;
        match &self.kind {
            K::EmptyData {
                mode: WriteMode::Update,
                ..
            } => "Give at least one attribute to change, e.g. {\"description\": \"…\"}.".into(),
            K::EmptyData { required, .. } if required.is_empty() => {
                "Give the record's attributes, e.g. {\"name\": \"…\"}.".into()
            }
            K::EmptyData { required, .. } => format!(
                "Give the record's attributes, at least the required {}.",
                quoted_names(required)
            ),
            K::TooManyAttributes { max, .. } => {
                format!("Split the change into calls of at most {max} attributes.")
            }
            K::MalformedName { closest } => did_you_mean(
                closest,
                "Attribute names are a letter followed by letters, digits or `_`, spelled as \
                 EspoCRM spells them, e.g. `accountId`."
                    .into(),
            ),
            K::UnknownAttribute { closest, .. } => did_you_mean(
                closest,
                "Names are case-sensitive; the entity type's schema lists its attributes.".into(),
            ),
            K::FieldOnly { parts, .. } if parts.is_empty() => "Leave it out.".into(),
            K::FieldOnly { parts, .. } => format!("Write {} instead.", quoted_names(parts)),
            K::NotWritable(reason) => match reason {
                NotWritable::SetByEspo => "Leave it out: EspoCRM would ignore it.".into(),
                NotWritable::FixedAfterCreate => {
                    "Leave it out: EspoCRM keeps the value the record was created with.".into()
                }
                NotWritable::ForbiddenByRole => "Leave it out; an administrator can allow the \
                     API user's role to edit it."
                    .into(),
                NotWritable::Derived { from } if from.is_empty() => {
                    "Leave it out: EspoCRM would ignore it.".into()
                }
                NotWritable::Derived { from } => {
                    format!("Write {} instead.", quoted_names(from))
                }
                NotWritable::RelationColumns { ids } => {
                    format!("Leave it out; relate the records through `{ids}`.")
                }
            },
            K::Required { advice, .. } => advice.clone(),
            K::Emptied => "Leave it out to keep the current value, or give a new one.".into(),
            K::WrongType { advice, .. } => advice.clone(),
            K::NotAnOption { options, .. } => format!("Options: {}.", quoted_values(options)),
            K::TooLong { max, .. } => format!("Shorten it to at most {max} characters."),
            K::OutOfRange {
                bound: Bound::Min,
                limit,
                ..
            } => format!("Give a number of at least {limit}."),
            K::OutOfRange {
                bound: Bound::Max,
                limit,
                ..
            } => format!("Give a number of at most {limit}."),
            K::Malformed { format, .. } => format.advice().into(),
            K::InvalidId { .. } => ValidationError::InvalidId {
                given: String::new(),
                reason: "",
            }
            .suggestion(),
            K::ParentTypeNotAllowed { allowed, .. } => {
                format!("Give one of: {}.", quoted_names(allowed))
            }
            K::Unpaired { missing } => format!(
                "Give `{missing}` too: a parent is named by its entity type and its id together; \
                 null in both removes it."
            ),
            K::TooManyItems { max, .. } => format!("Give at most {max} items per call."),
            K::UnknownItemKey { keys } => format!(
                "Item keys: {}.",
                quoted_names(&keys.iter().map(|key| (*key).to_owned()).collect::<Vec<_>>())
            ),
            K::MissingItemKey { key } => format!("Give each item `{key}`."),
            K::SeveralPrimary => "Mark one item with \"primary\": true.".into(),
        }
    }

    /// `{"attribute", "code", "message", "suggestion"}`, for the tool error's `details`.
    pub fn to_json(&self) -> Value {
        json!({
            "attribute": self.attribute,
            "code": self.code().as_str(),
            "message": self.message(),
            "suggestion": self.suggestion(),
        })
    }
}

/// Everything wrong with one call's `data`; never empty.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteErrors {
    pub(super) entity_type: String,
    /// Sorted by [`WriteProblem::rank`].
    pub(super) problems: Vec<WriteProblem>,
}

impl WriteErrors {
    /// The code of the most important problem: `MISSING_REQUIRED_FIELD` when every problem is a
    /// missing field, else the first problem's (unknown names first, then in field order).
    pub fn code(&self) -> ErrorCode {
        self.problems
            .first()
            .map_or(ErrorCode::InvalidArgument, WriteProblem::code)
    }

    /// One problem's message, or "3 problems: …; …; …" naming each.
    pub fn message(&self) -> String {
        match self.problems.as_slice() {
            [one] => one.message(),
            many => {
                let listed: Vec<String> = many
                    .iter()
                    .take(LISTED_PROBLEMS)
                    .map(WriteProblem::message)
                    .collect();
                let mut text = format!("{} problems: {}", many.len(), listed.join("; "));
                if many.len() > LISTED_PROBLEMS {
                    text.push_str(&format!(
                        "; and {} more (see details)",
                        many.len() - LISTED_PROBLEMS
                    ));
                }
                text
            }
        }
    }

    /// One problem's suggestion, or each problem's prefixed with its attribute.
    pub fn suggestion(&self) -> String {
        match self.problems.as_slice() {
            [one] => one.suggestion(),
            many => {
                let mut seen = BTreeSet::new();
                let mut parts = Vec::new();
                for problem in many.iter().take(LISTED_PROBLEMS) {
                    let suggestion = problem.suggestion();
                    let part = match &problem.attribute {
                        Some(attribute) => format!("{}: {suggestion}", shown(attribute)),
                        None => suggestion,
                    };
                    if seen.insert(part.clone()) {
                        parts.push(part);
                    }
                }
                parts.join(" ")
            }
        }
    }

    /// Every problem, in the order the message lists them.
    pub fn problems(&self) -> &[WriteProblem] {
        &self.problems
    }

    /// `{"entityType", "problems": [{attribute, code, message, suggestion}]}`, for the tool
    /// error's `details`.
    pub fn details(&self) -> Value {
        json!({
            "entityType": self.entity_type,
            "problems": self.problems.iter().map(WriteProblem::to_json).collect::<Vec<_>>(),
        })
    }
}

impl fmt::Display for WriteErrors {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message())
    }
}

impl std::error::Error for WriteErrors {}

/// A name for a message: in backticks when it is plain, else quoted and escaped.
pub(super) fn shown(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_[].".contains(c))
    {
        format!("`{name}`")
    } else {
        format!("{name:?}")
    }
}

/// "`a`, `b` or `c`".
pub(super) fn alternatives(names: &[String], conjunction: &str) -> String {
    let shown: Vec<String> = names.iter().map(|name| shown(name)).collect();
    match shown.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} {conjunction} {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use super::super::test_support::*;
    use super::super::{WriteMode, validate};

    #[test]
    fn only_missing_fields_give_missing_required_field() {
        let errors = refused(create("Account", json!({"website": "example.com"})));
        assert_eq!(errors.code().as_str(), "MISSING_REQUIRED_FIELD");
        assert_eq!(errors.message(), "`name` is required");
        assert_eq!(
            errors.suggestion(),
            "Add `name`. Give a string of at most 249 characters."
        );
    }

    #[test]
    fn long_lists_of_problems_are_cut_in_the_message_but_kept_in_details() {
        let many: Map<String, Value> = (0..30)
            .map(|index| (format!("bogus{index}"), Value::Null))
            .collect();
        let errors = refused(validate(entity("Account"), &many, WriteMode::Update));
        assert_eq!(errors.problems().len(), 30);
        assert!(errors.message().starts_with("30 problems: "));
        assert!(errors.message().ends_with("; and 10 more (see details)"));
        assert_eq!(
            errors.details()["problems"].as_array().map(Vec::len),
            Some(30)
        );
    }

    #[test]
    fn odd_names_and_values_are_escaped_and_cut_in_messages() {
        let long = format!("na\u{7}me{}", "x".repeat(10_000));
        let errors = refused(update(
            "Account",
            json!({ long: "x", "name\n": 1, "website": "y".repeat(10_000) }),
        ));
        assert_eq!(errors.problems().len(), 3);
        let message = errors.message();
        assert!(!message.chars().any(char::is_control), "{message}");
        assert!(message.len() < 600, "{}", message.len());
        assert!(
            message.contains("\"name\\n\" is not an attribute name"),
            "{message}"
        );
    }
}
