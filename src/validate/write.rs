//! The `data` of a create or an update, checked attribute by attribute against the entity type
//! before EspoCRM sees it.
//!
//! EspoCRM is a poor judge of a write body: it drops attributes it does not know and attributes
//! that are read-only without a word, so a misspelt `closedate` or a derived `accountName` loses
//! the caller's value while the call reports success; and when it does refuse, it names only the
//! first failing field. [`validate`] therefore refuses every attribute EspoCRM would ignore, checks
//! every value against its field's type, and reports all problems at once, each naming its
//! attribute and what would have been accepted, so a model can correct the whole call in one step.
//! What it accepts, [`WriteData`], holds only attributes the entity type has and the API user may
//! write, with values in the form EspoCRM stores.
//!
//! # Attributes
//!
//! Names are attributes as EspoCRM spells them (see [`crate::espo::attributes`]): `name`,
//! `accountId`, `contactsIds`, `parentType` + `parentId`, `billingAddressCity`, `amount` +
//! `amountCurrency`, `firstName`, `emailAddressData`. Refused, with `INVALID_FIELD`:
//!
//! - names the entity type does not have (with close matches), and fields known only by their
//!   parts (`account`, `billingAddress`: the refusal names `accountId`, the address parts);
//! - `id`, `deleted`, read-only fields (`createdAt`, `createdById`, `amountConverted`,
//!   autoincrement numbers), fields the API user's role may not edit, and on an update the fields
//!   that are fixed after create — each "cannot be written", because EspoCRM would drop them;
//! - derived attributes: the names of links (`accountName`, `contactsNames`, `parentName`), the
//!   `name` of a person (written as `firstName`/`lastName`), `foreign`, `map` and `duration`
//!   fields (a meeting's duration follows from `dateEnd`);
//! - `xxxColumns` of a `linkMultiple`: the schema does not describe the relation columns, so
//!   their names and values cannot be checked, and EspoCRM drops unknown ones.
//!
//! `notStorable` fields are accepted: several are written through hooks (Contact `title`,
//! `emailAddressIsOptedOut`).
//!
//! # Values
//!
//! `null` clears a value and is accepted for every type but `bool`, ids lists and address lists,
//! unless it would empty a required field. Values are kept as given except where noted.
//!
//! What each field type (or attribute) accepts:
//!
//! - `varchar`, `text`, `wysiwyg`, `password`, `colorpicker`, address parts, `firstName` …: a
//!   string of at most `maxLength` characters (a `varchar` without one: 255, its column's).
//! - `email`: `""`, or `local@domain.tld` in ASCII, without spaces, one `@`, a dotted domain.
//! - `phone`: `""`, or digits with an optional leading `+` and spaces, `-`, `.`, `(`, `)`; at
//!   least 4 digits (the rule the sandbox applies; EspoCRM stores E.164).
//! - `url`: `""`, or an `http://`/`https://` address or a bare domain (`example.com/about`,
//!   which EspoCRM's url field also takes); no other scheme, no spaces, no `user@`; hosts in
//!   ASCII (punycode for international names).
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
//! - `date`, the `…Date` of a `datetimeOptional`: `"YYYY-MM-DD"`, a date that exists.
//! - `datetime`, `datetimeOptional`: `"YYYY-MM-DD HH:MM:SS"` in UTC; `"YYYY-MM-DD HH:MM"` is
//!   sent with `:00` added.
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
//!
//! # Required fields
//!
//! On create every `required` field must be given, unless EspoCRM fills it from a default: a
//! `link` by `xxxId`, a `linkParent` by `xxxType` and `xxxId`, a `linkMultiple` by a non-empty
//! `xxxIds`, a `personName` by `lastName` or `firstName`, an `email`/`phone` by the address or
//! its `…Data`, a `datetimeOptional` by the date-time or its `…Date`. On update required fields
//! may be left out but not emptied (`null`, a blank string, `[]`). Both are
//! `MISSING_REQUIRED_FIELD`, naming every missing field at once.
//!
//! # Codes and order
//!
//! Each [`WriteProblem`] has its code: `INVALID_FIELD` for a name that cannot be written,
//! `MISSING_REQUIRED_FIELD`, `INVALID_ID` for a malformed id, `INVALID_FIELD_VALUE` for any
//! other value, `INVALID_ARGUMENT` for `data` as a whole (empty, more than [`MAX_ATTRIBUTES`]).
//! [`WriteErrors`] lists them with problems of names that have no field first (fixing a misspelt
//! name often settles a "required" too), then by field in the schema's order, which is
//! alphabetical; its code is the first problem's, so it is `MISSING_REQUIRED_FIELD` exactly when
//! nothing but required fields is wrong, or when a missing field comes first.

use std::cell::OnceCell;
use std::collections::BTreeSet;
use std::fmt;

use espomcp_actors::{EntityType, Field, FieldType, LinkType};
use serde_json::{Map, Value, json};

use crate::error::ErrorCode;
use crate::espo::attributes::{self, Lookup};
use crate::rules::{date, date_time, email, phone, url};
use crate::validate::error::{ValidationError, did_you_mean, excerpt, quoted_names, quoted_values};
use crate::validate::names;
use crate::validate::suggest::closest;

/// The most attributes one call may write; EspoCRM's widest entity types have fewer fields.
pub const MAX_ATTRIBUTES: usize = 200;

/// The most items one array value may hold (ids, options, addresses).
pub const MAX_ITEMS: usize = 500;

/// How many problems the combined message and suggestion spell out; `problems()` has them all.
const LISTED_PROBLEMS: usize = 20;

/// The length of a `varchar` column when the field declares no `maxLength`.
const VARCHAR_COLUMN_CHARS: u64 = 255;

/// The range of an `int` column when the field declares no `min`/`max`.
const INT_COLUMN_MIN: f64 = i32::MIN as f64;
const INT_COLUMN_MAX: f64 = i32::MAX as f64;

/// Which request the data is for; decides how required and fixed fields are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// `POST {E}`: required fields must be given.
    Create,
    /// `PUT {E}/{id}`: only the given attributes change; required ones may not be emptied and
    /// fields fixed after create may not be given.
    Update,
}

/// The checked data, ready to send as an EspoCRM create or update body. Only [`validate`]
/// builds one, so holding it means every attribute is one the entity type has and the API user
/// may write.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteData {
    body: Map<String, Value>,
    /// The fields the attributes belong to, each once, in the order given.
    fields: Vec<String>,
}

impl WriteData {
    /// The JSON object to send.
    pub fn into_body(self) -> Value {
        Value::Object(self.body)
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.body
    }

    /// The fields the call changes (`account` for `accountId`), for audit logs that must name
    /// what changed without carrying the values.
    pub fn field_names(&self) -> &[String] {
        &self.fields
    }
}

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
    fn describe(self) -> &'static str {
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

    fn advice(self) -> &'static str {
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
    attribute: Option<String>,
    kind: ProblemKind,
    /// Sorts the problems: `data` first, then names without a field in the order given, then
    /// by field in schema order.
    rank: (u8, usize, usize),
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
    entity_type: String,
    /// Sorted by [`WriteProblem::rank`].
    problems: Vec<WriteProblem>,
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

/// Validates `data` (the tool's `data` argument: attribute → value) for a create or update of
/// `entity`, and reports every problem, not only the first.
pub fn validate(
    entity: &EntityType,
    data: &Map<String, Value>,
    mode: WriteMode,
) -> Result<WriteData, WriteErrors> {
    let mut run = Run {
        entity,
        mode,
        data,
        problems: Vec::new(),
        writable: OnceCell::new(),
    };
    if data.is_empty() {
        let required = match mode {
            WriteMode::Create => run.required_attributes(),
            WriteMode::Update => Vec::new(),
        };
        run.data_problem(ProblemKind::EmptyData { mode, required });
        return Err(run.into_errors());
    }
    if data.len() > MAX_ATTRIBUTES {
        run.data_problem(ProblemKind::TooManyAttributes {
            given: data.len(),
            max: MAX_ATTRIBUTES,
        });
        return Err(run.into_errors());
    }

    let reported = run.check_required();
    let mut body = Map::new();
    let mut fields: Vec<String> = Vec::new();
    for (index, (name, value)) in data.iter().enumerate() {
        let (shape, field) = match run.classify(name) {
            Ok(found) => found,
            Err((kind, field)) => {
                let rank = match field {
                    Some(field) => (2, run.position(field), index + 1),
                    None => (1, index, 0),
                };
                let kind = run.with_closest(kind, name);
                run.push(Some(excerpt(name)), kind, rank);
                continue;
            }
        };
        if reported.contains(name) {
            continue;
        }
        let rank = (2, run.position(field), index + 1);
        let mut found = Vec::new();
        let accepted = check_value(&shape, value, name, &mut found);
        let clean = found.is_empty();
        for (attribute, kind) in found {
            run.push(Some(attribute), kind, rank);
        }
        if let (true, Some(accepted)) = (clean, accepted) {
            body.insert(name.clone(), accepted);
            if !fields.contains(&field.name) {
                fields.push(field.name.clone());
            }
        }
    }
    run.check_parents(&body, &reported);

    if run.problems.is_empty() {
        Ok(WriteData { body, fields })
    } else {
        Err(run.into_errors())
    }
}

/// The state of one validation.
struct Run<'a> {
    entity: &'a EntityType,
    mode: WriteMode,
    data: &'a Map<String, Value>,
    problems: Vec<WriteProblem>,
    /// The attributes that could be written, for close matches; built on the first unknown name.
    writable: OnceCell<Vec<String>>,
}

/// An attribute that may be written: the form its value must have, and its field.
type Writable<'a> = (Shape<'a>, &'a Field);

/// Why an attribute may not be written, and its field when it has one.
type Refusal<'a> = (ProblemKind, Option<&'a Field>);

impl<'a> Run<'a> {
    fn push(&mut self, attribute: Option<String>, kind: ProblemKind, rank: (u8, usize, usize)) {
        self.problems.push(WriteProblem {
            attribute,
            kind,
            rank,
        });
    }

    fn data_problem(&mut self, kind: ProblemKind) {
        self.push(None, kind, (0, 0, 0));
    }

    fn into_errors(mut self) -> WriteErrors {
        self.problems.sort_by_key(|problem| problem.rank);
        WriteErrors {
            entity_type: self.entity.name.clone(),
            problems: self.problems,
        }
    }

    /// Where `field` stands in the schema's field order.
    fn position(&self, field: &Field) -> usize {
        self.entity
            .fields
            .keys()
            .position(|name| *name == field.name)
            .unwrap_or(usize::MAX)
    }

    fn is_uneditable(&self, name: &str) -> bool {
        self.entity.uneditable_fields.contains(name)
    }

    /// What `name` is, and whether and how it may be written. Close matches for an unknown
    /// name are left empty here (they are built from `classify` itself) and added by
    /// [`Run::with_closest`].
    fn classify(&self, name: &str) -> Result<Writable<'a>, Refusal<'a>> {
        if !names::is_name(name) {
            return Err((
                ProblemKind::MalformedName {
                    closest: Vec::new(),
                },
                None,
            ));
        }
        if name == "id" || name == "deleted" {
            return Err((ProblemKind::NotWritable(NotWritable::SetByEspo), None));
        }
        let attribute = match attributes::lookup(self.entity, name) {
            Lookup::Attribute(attribute) => attribute,
            Lookup::FieldOnly { field, attributes } => {
                let parts: Vec<String> = attributes
                    .iter()
                    .filter(|part| self.classify(&part.name).is_ok())
                    .map(|part| part.name.clone())
                    .collect();
                if parts.is_empty()
                    && let Some(first) = attributes.first()
                    && let Err(refusal) = self.classify(&first.name)
                {
                    return Err(refusal);
                }
                return Err((
                    ProblemKind::FieldOnly {
                        field_type: field.field_type.as_str().to_owned(),
                        parts,
                    },
                    Some(field),
                ));
            }
            Lookup::NotFound => {
                if let Some(link) = name.strip_suffix("Columns")
                    && let Some(field) = self.enabled_field(link)
                    && field.field_type == FieldType::LinkMultiple
                {
                    let ids = format!("{link}Ids");
                    return Err((
                        ProblemKind::NotWritable(NotWritable::RelationColumns { ids }),
                        Some(field),
                    ));
                }
                return Err((
                    ProblemKind::UnknownAttribute {
                        entity_type: self.entity.name.clone(),
                        closest: Vec::new(),
                    },
                    None,
                ));
            }
        };
        let Some(field) = attribute.field else {
            return Err((ProblemKind::NotWritable(NotWritable::SetByEspo), None));
        };
        let refuse = |reason| Err((ProblemKind::NotWritable(reason), Some(field)));
        if field.read_only {
            return refuse(NotWritable::SetByEspo);
        }
        if self.is_uneditable(&field.name) || self.is_uneditable(name) {
            return refuse(NotWritable::ForbiddenByRole);
        }
        if self.mode == WriteMode::Update && field.read_only_after_create {
            return refuse(NotWritable::FixedAfterCreate);
        }
        match self.shape(name, field) {
            Ok(shape) => Ok((shape, field)),
            Err(reason) => refuse(reason),
        }
    }

    /// The form the value of attribute `name` of `field` must have.
    fn shape(&self, name: &str, field: &'a Field) -> Result<Shape<'a>, NotWritable> {
        let own = name == field.name;
        let part = name.strip_prefix(field.name.as_str()).unwrap_or("");
        let options = field
            .options
            .as_deref()
            .filter(|options| !options.is_empty());
        let derived = |from: &[&str]| NotWritable::Derived {
            from: from
                .iter()
                .map(|name| format!("{}{name}", field.name))
                .collect(),
        };
        if own
            && let Some(currency) = name.strip_suffix("Currency")
            && self
                .enabled_field(currency)
                .is_some_and(|field| field.field_type == FieldType::Currency)
        {
            return Ok(Shape::CurrencyCode);
        }
        let shape = match &field.field_type {
            FieldType::Link | FieldType::LinkOne | FieldType::File | FieldType::Image => match part
            {
                "Id" => Shape::Id,
                _ => return Err(derived(&["Id"])),
            },
            FieldType::LinkMultiple | FieldType::AttachmentMultiple => match part {
                "Ids" => Shape::Ids,
                _ => return Err(derived(&["Ids"])),
            },
            FieldType::LinkParent => match part {
                "Id" => Shape::Id,
                "Type" => Shape::ParentType {
                    allowed: self
                        .entity
                        .link(&field.name)
                        .filter(|link| link.link_type == LinkType::BelongsToParent)
                        .map_or(&[][..], |link| link.entity_list.as_slice()),
                },
                _ => return Err(derived(&["Type", "Id"])),
            },
            FieldType::PersonName if own => {
                return Err(NotWritable::Derived {
                    from: person_parts(field),
                });
            }
            FieldType::PersonName if name.starts_with("salutation") => Shape::Enum {
                options: None,
                max_chars: None,
            },
            FieldType::Address | FieldType::PersonName => Shape::Text { max_chars: None },
            FieldType::Email | FieldType::Phone => {
                let email = field.field_type == FieldType::Email;
                match part {
                    "" if email => Shape::Email,
                    "" => Shape::Phone,
                    "Data" if email => Shape::Data(DataKind::Email),
                    "Data" => Shape::Data(DataKind::Phone),
                    _ => Shape::Bool,
                }
            }
            FieldType::Currency => match part {
                "" => Shape::Money {
                    min: field.min,
                    max: field.max,
                },
                _ => Shape::CurrencyCode,
            },
            FieldType::DatetimeOptional => match part {
                "" => Shape::DateTime,
                _ => Shape::Date,
            },
            FieldType::Datetime => Shape::DateTime,
            FieldType::Date => Shape::Date,
            FieldType::Bool => Shape::Bool,
            FieldType::Int => Shape::Int {
                min: field.min.unwrap_or(INT_COLUMN_MIN),
                max: field.max.unwrap_or(INT_COLUMN_MAX),
            },
            FieldType::Float => Shape::Float {
                min: field.min,
                max: field.max,
            },
            FieldType::Enum => Shape::Enum {
                options,
                max_chars: field.max_length,
            },
            FieldType::EnumInt => Shape::EnumInt { options },
            FieldType::MultiEnum | FieldType::Array | FieldType::Checklist => {
                Shape::List { options }
            }
            FieldType::JsonObject => Shape::JsonObject,
            FieldType::JsonArray => Shape::JsonArray,
            FieldType::Varchar => Shape::Text {
                max_chars: Some(field.max_length.unwrap_or(VARCHAR_COLUMN_CHARS)),
            },
            FieldType::Text | FieldType::Wysiwyg | FieldType::Password | FieldType::Colorpicker => {
                Shape::Text {
                    max_chars: field.max_length,
                }
            }
            FieldType::Url => Shape::Url {
                max_chars: field.max_length,
            },
            FieldType::Autoincrement | FieldType::CurrencyConverted | FieldType::Number => {
                return Err(NotWritable::SetByEspo);
            }
            FieldType::Duration => {
                return Err(NotWritable::Derived {
                    from: ["dateStart", "dateEnd"]
                        .into_iter()
                        .filter(|name| self.enabled_field(name).is_some())
                        .map(str::to_owned)
                        .collect(),
                });
            }
            FieldType::Foreign | FieldType::Map => {
                return Err(NotWritable::Derived { from: Vec::new() });
            }
            _ => Shape::Any,
        };
        Ok(shape)
    }

    fn enabled_field(&self, name: &str) -> Option<&'a Field> {
        self.entity.field(name).filter(|field| !field.disabled)
    }

    /// `kind`, with the close matches of `name` when it is an unknown or malformed name.
    fn with_closest(&self, kind: ProblemKind, name: &str) -> ProblemKind {
        match kind {
            ProblemKind::MalformedName { .. } => ProblemKind::MalformedName {
                closest: self.closest(name),
            },
            ProblemKind::UnknownAttribute { entity_type, .. } => ProblemKind::UnknownAttribute {
                entity_type,
                closest: self.closest(name),
            },
            other => other,
        }
    }

    /// The writable attributes closest to `name`.
    fn closest(&self, name: &str) -> Vec<String> {
        let writable = self.writable.get_or_init(|| {
            attributes::all_names(self.entity)
                .into_iter()
                .filter(|candidate| names::is_name(candidate) && self.classify(candidate).is_ok())
                .collect()
        });
        closest(name, writable.iter().map(String::as_str))
    }

    /// The required fields a create must give, and how each can be given.
    fn requirements(&self) -> Vec<(usize, &'a Field, Vec<String>, bool)> {
        self.entity
            .fields
            .values()
            .enumerate()
            .filter(|(_, field)| {
                let fixed = self.mode == WriteMode::Update && field.read_only_after_create;
                field.required
                    && !field.disabled
                    && !field.read_only
                    && !fixed
                    && !self.is_uneditable(&field.name)
            })
            .map(|(position, field)| {
                let (attributes, any_of) = satisfying(field);
                (position, field, attributes, any_of)
            })
            .collect()
    }

    /// The attributes that satisfy the required fields, for the empty-create suggestion.
    fn required_attributes(&self) -> Vec<String> {
        self.requirements()
            .into_iter()
            .filter(|(_, field, ..)| !has_default(field))
            .filter_map(|(_, _, attributes, _)| attributes.into_iter().next())
            .collect()
    }

    /// Reports required fields missing (create) or emptied (update); returns the attributes
    /// reported, whose values need no further check.
    fn check_required(&mut self) -> BTreeSet<String> {
        let mut reported = BTreeSet::new();
        let filled = |name: &String| self.data.get(name).is_some_and(|value| !is_empty(value));
        let emptied = |name: &String| self.data.get(name).is_some_and(is_empty);
        let mut found = Vec::new();
        for (position, field, attributes, any_of) in self.requirements() {
            match self.mode {
                WriteMode::Create => {
                    let absent = attributes.iter().all(|name| !self.data.contains_key(name));
                    let missing: Vec<String> = if any_of {
                        if attributes.iter().any(filled) {
                            continue;
                        }
                        attributes.clone()
                    } else {
                        attributes
                            .iter()
                            .filter(|name| !filled(name))
                            .cloned()
                            .collect()
                    };
                    let Some(first) = missing.first().cloned() else {
                        continue;
                    };
                    if absent && has_default(field) {
                        continue;
                    }
                    reported.extend(missing.iter().cloned());
                    let advice = self.required_advice(field, &attributes);
                    found.push((
                        first,
                        ProblemKind::Required {
                            field: field.name.clone(),
                            attributes: missing,
                            any_of,
                            advice,
                        },
                        (2, position, 0),
                    ));
                }
                WriteMode::Update => {
                    let flagged: Vec<&String> = match (any_of, attributes.iter().all(emptied)) {
                        (true, true) => {
                            reported.extend(attributes.iter().cloned());
                            attributes.iter().take(1).collect()
                        }
                        (true, false) => Vec::new(),
                        (false, _) => attributes.iter().filter(|name| emptied(name)).collect(),
                    };
                    for name in flagged {
                        let index = self.data.keys().position(|key| key == name).unwrap_or(0);
                        reported.insert(name.clone());
                        found.push((name.clone(), ProblemKind::Emptied, (2, position, index + 1)));
                    }
                }
            }
        }
        for (attribute, kind, rank) in found {
            self.push(Some(attribute), kind, rank);
        }
        reported
    }

    /// How to give a missing required field.
    fn required_advice(&self, field: &Field, attributes: &[String]) -> String {
        let linked = || {
            self.entity
                .link(&field.name)
                .and_then(|link| link.entity.clone())
                .unwrap_or_else(|| "linked".to_owned())
        };
        let first = attributes
            .first()
            .map_or(field.name.as_str(), String::as_str);
        match &field.field_type {
            FieldType::Link | FieldType::LinkOne => format!(
                "Add `{first}`: the id of the {} record to link (from a list or search call).",
                linked()
            ),
            FieldType::File | FieldType::Image => {
                format!("Add `{first}`: the id of an uploaded attachment.")
            }
            FieldType::LinkMultiple | FieldType::AttachmentMultiple => format!(
                "Add `{first}`: an array of at least one {} record id.",
                linked()
            ),
            FieldType::LinkParent => {
                let allowed = match self.classify(&format!("{}Type", field.name)) {
                    Ok((Shape::ParentType { allowed }, _)) if !allowed.is_empty() => {
                        format!(" ({})", quoted_names(allowed))
                    }
                    _ => String::new(),
                };
                format!(
                    "Add `{}Type`{allowed} and `{}Id`: the parent record's entity type and id.",
                    field.name, field.name
                )
            }
            FieldType::PersonName | FieldType::Address | FieldType::Email | FieldType::Phone => {
                format!("Add {}.", alternatives(attributes, "or"))
            }
            FieldType::DatetimeOptional => format!(
                "Add `{first}` as \"YYYY-MM-DD HH:MM:SS\" (UTC), or `{first}Date` as \
                 \"YYYY-MM-DD\" for an all-day value."
            ),
            _ => match self.classify(first) {
                Ok((shape, _)) => format!("Add `{first}`. {}", shape.advice()),
                Err(_) => format!("Add `{first}`."),
            },
        }
    }

    /// Reports a `linkParent` whose type and id were not given together. Skips parents whose
    /// attributes were already refused, so each mistake is reported once.
    fn check_parents(&mut self, body: &Map<String, Value>, reported: &BTreeSet<String>) {
        let mut found = Vec::new();
        for (position, field) in self.entity.fields.values().enumerate() {
            if field.disabled || field.field_type != FieldType::LinkParent {
                continue;
            }
            let id = format!("{}Id", field.name);
            let kind = format!("{}Type", field.name);
            let settled = |name: &String| {
                !reported.contains(name)
                    && (body.contains_key(name) || !self.data.contains_key(name))
            };
            if !settled(&id) || !settled(&kind) {
                continue;
            }
            let set = |name: &String| body.get(name).is_some_and(|value| !is_empty(value));
            let (given, missing) = match (set(&id), set(&kind)) {
                (true, false) => (id, kind),
                (false, true) => (kind, id),
                _ => continue,
            };
            let index = self.data.keys().position(|key| *key == given).unwrap_or(0);
            found.push((given, missing, (2, position, index + 1)));
        }
        for (given, missing, rank) in found {
            self.push(Some(given), ProblemKind::Unpaired { missing }, rank);
        }
    }
}

/// The attributes that satisfy a required field, and whether one of them is enough.
fn satisfying(field: &Field) -> (Vec<String>, bool) {
    let name = &field.name;
    let with = |suffix: &str| format!("{name}{suffix}");
    match &field.field_type {
        FieldType::Link | FieldType::LinkOne | FieldType::File | FieldType::Image => {
            (vec![with("Id")], false)
        }
        FieldType::LinkParent => (vec![with("Type"), with("Id")], false),
        FieldType::LinkMultiple | FieldType::AttachmentMultiple => (vec![with("Ids")], false),
        FieldType::PersonName => (person_parts(field), true),
        FieldType::Address => (
            ["Street", "City", "State", "Country", "PostalCode"]
                .map(with)
                .to_vec(),
            true,
        ),
        FieldType::Email | FieldType::Phone => (vec![name.clone(), with("Data")], true),
        FieldType::DatetimeOptional => (vec![name.clone(), with("Date")], true),
        _ => (vec![name.clone()], false),
    }
}

/// `lastName`, `firstName` for a person name `name` (EspoCRM's `personName` parts that make it).
fn person_parts(field: &Field) -> Vec<String> {
    let mut chars = field.name.chars();
    let upper: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    vec![format!("last{upper}"), format!("first{upper}")]
}

/// Whether EspoCRM fills the field itself when a create leaves it out. A `javascript:` default
/// is evaluated by the browser only.
fn has_default(field: &Field) -> bool {
    match &field.default {
        Some(Value::String(text)) => !text.trim().is_empty() && !text.starts_with("javascript:"),
        Some(value) => !is_empty(value),
        None => false,
    }
}

/// What EspoCRM's required check counts as not given.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// A name for a message: in backticks when it is plain, else quoted and escaped.
fn shown(name: &str) -> String {
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
fn alternatives(names: &[String], conjunction: &str) -> String {
    let shown: Vec<String> = names.iter().map(|name| shown(name)).collect();
    match shown.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} {conjunction} {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// A short description of what the caller sent, for messages.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => excerpt(&number.to_string()),
        Value::String(text) => format!("{:?}", excerpt(text)),
        Value::Array(items) => format!("an array of {} values", items.len()),
        Value::Object(_) => "an object".into(),
    }
}

/// Which list of addresses a `…Data` attribute holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataKind {
    Email,
    Phone,
}

impl DataKind {
    /// The key every item must have.
    fn address_key(self) -> &'static str {
        match self {
            Self::Email => "emailAddress",
            Self::Phone => "phoneNumber",
        }
    }

    fn keys(self) -> &'static [&'static str] {
        match self {
            Self::Email => &["emailAddress", "primary", "optOut", "invalid", "lower"],
            Self::Phone => &["phoneNumber", "type", "primary", "optOut", "invalid"],
        }
    }

    fn format(self) -> Format {
        match self {
            Self::Email => Format::Email,
            Self::Phone => Format::Phone,
        }
    }
}

/// The form a value must have; decided by [`Run::shape`].
#[derive(Debug, Clone)]
enum Shape<'a> {
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
    fn expected(&self) -> &'static str {
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
    fn advice(&self) -> String {
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
fn check_value(
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

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use espomcp_actors::Schema;
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    /// EspoCRM 8.4's own `GET Metadata` and `GET App/user` answers (the actor crate's
    /// fixtures), with what the stock entity types lack added: Account fields of the remaining
    /// types and an ACL-protected one, and a custom `Candidate` type whose required fields are of
    /// every kind that can be given in more than one way.
    static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
        let mut metadata: Value =
            serde_json::from_str(include_str!("../../actors/tests/fixtures/metadata.json"))
                .expect("the metadata fixture is JSON");
        let mut app_user: Value =
            serde_json::from_str(include_str!("../../actors/tests/fixtures/app-user.json"))
                .expect("the App/user fixture is JSON");
        let account = &mut metadata["entityDefs"]["Account"]["fields"];
        for (name, definition) in [
            ("employees", json!({"type": "int", "min": 0})),
            ("rating", json!({"type": "float", "min": 0, "max": 5})),
            (
                "tags",
                json!({"type": "multiEnum", "options": ["VIP", "Reference", "Churn risk"]}),
            ),
            ("tier", json!({"type": "enumInt", "options": [1, 2, 3]})),
            ("settings", json!({"type": "jsonObject"})),
            ("logo", json!({"type": "image"})),
            ("isKey", json!({"type": "bool"})),
            ("foundedOn", json!({"type": "date"})),
            ("lastContactedAt", json!({"type": "datetime"})),
            (
                "contractNumber",
                json!({"type": "varchar", "maxLength": 20, "readOnlyAfterCreate": true}),
            ),
            ("internalScore", json!({"type": "int"})),
            ("barcode", json!({"type": "barcode"})),
        ] {
            account[name] = definition;
        }
        metadata["scopes"]["Candidate"] = json!({"entity": true, "object": true});
        metadata["entityDefs"]["Candidate"] = json!({
            "fields": {
                "name": {"type": "personName", "required": true},
                "interview": {"type": "datetimeOptional", "required": true},
                "cv": {"type": "attachmentMultiple", "required": true},
                "homeAddress": {"type": "address", "required": true},
                "emailAddress": {"type": "email", "required": true},
                "source": {"type": "enum", "options": ["Web", "Referral"], "default": "Web",
                           "required": true},
                "parent": {"type": "linkParent", "required": true},
                "mentor": {"type": "link", "required": true}
            },
            "links": {
                "parent": {"type": "belongsToParent", "entityList": ["Account", "Contact"]},
                "mentor": {"type": "belongsTo", "entity": "User"},
                "cv": {"type": "hasChildren", "entity": "Attachment"}
            }
        });
        app_user["acl"]["fieldTable"]["Account"] =
            json!({"internalScore": {"read": "yes", "edit": "no"}});
        app_user["acl"]["table"]["Candidate"] = app_user["acl"]["table"]["Account"].clone();
        Schema::from_espo(&metadata, &app_user).expect("the fixtures make a schema")
    });

    const ID: &str = "6b058e2767a25e5ad";
    const OTHER_ID: &str = "6b058387bb07ec0ad";

    fn entity(name: &str) -> &'static EntityType {
        SCHEMA
            .entity(name)
            .unwrap_or_else(|| panic!("{name} is in the test schema"))
    }

    fn data(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("test data must be an object, not {other}"),
        }
    }

    fn create(entity_type: &str, value: Value) -> Result<WriteData, WriteErrors> {
        validate(entity(entity_type), &data(value), WriteMode::Create)
    }

    fn update(entity_type: &str, value: Value) -> Result<WriteData, WriteErrors> {
        validate(entity(entity_type), &data(value), WriteMode::Update)
    }

    fn refused(result: Result<WriteData, WriteErrors>) -> WriteErrors {
        match result {
            Ok(accepted) => panic!("accepted: {:?}", accepted.as_map()),
            Err(errors) => errors,
        }
    }

    fn accepted(result: Result<WriteData, WriteErrors>) -> WriteData {
        result.unwrap_or_else(|errors| panic!("refused: {}", errors.message()))
    }

    /// The one problem of a refusal, with its code and message.
    fn only_problem(result: Result<WriteData, WriteErrors>) -> (String, &'static str, String) {
        let errors = refused(result);
        assert_eq!(errors.problems().len(), 1, "{}", errors.message());
        let problem = &errors.problems()[0];
        (
            problem.attribute().unwrap_or("").to_owned(),
            problem.code().as_str(),
            problem.message(),
        )
    }

    #[test]
    fn a_realistic_opportunity_create_is_sent_as_given() {
        let given = json!({
            "name": "Fixture Dynamics – pilot",
            "amount": 25000,
            "amountCurrency": "EUR",
            "closeDate": "2027-01-31",
            "stage": "Qualification",
            "probability": 20,
            "accountId": ID,
            "contactsIds": [ID, OTHER_ID],
            "assignedUserId": OTHER_ID,
            "teamsIds": [],
            "description": null,
        });
        let written = accepted(create("Opportunity", given.clone()));
        assert_eq!(written.as_map(), given.as_object().expect("an object"));
        assert_eq!(
            written.field_names(),
            [
                "name",
                "amount",
                "amountCurrency",
                "closeDate",
                "stage",
                "probability",
                "account",
                "contacts",
                "assignedUser",
                "teams",
                "description"
            ]
        );
        assert_eq!(written.into_body(), given);
    }

    #[test]
    fn a_contact_takes_its_name_parts_addresses_and_data_lists() {
        let given = json!({
            "salutationName": "Dr.",
            "firstName": "Hugo",
            "lastName": "Fixture",
            "title": "CTO",
            "accountId": ID,
            "addressCity": "Berlin",
            "emailAddress": "hugo@fixture-dynamics.example.org",
            "emailAddressIsOptedOut": false,
            "emailAddressData": [
                {"emailAddress": "hugo@fixture-dynamics.example.org", "primary": true,
                 "optOut": false, "invalid": false},
                {"emailAddress": "hugo.private@example.net", "primary": false,
                 "lower": "hugo.private@example.net"}
            ],
            "phoneNumberData": [
                {"phoneNumber": "+1 212 555 0143", "primary": true, "type": "Office"},
                {"phoneNumber": "(415) 555-0144", "type": "Mobile"}
            ],
            "doNotCall": true,
        });
        let written = accepted(create("Contact", given.clone()));
        assert_eq!(written.into_body(), given);
        assert!(update("Contact", json!({"accountsIds": [ID], "accountId": null})).is_ok());
    }

    #[test]
    fn unknown_attributes_are_refused_with_close_matches() {
        let errors = refused(create(
            "Opportunity",
            json!({"name": "Deal", "amount": 5, "closeDate": "2027-01-01", "closedate": "x"}),
        ));
        assert_eq!(errors.code().as_str(), "INVALID_FIELD");
        assert_eq!(errors.problems().len(), 1);
        assert!(
            errors
                .message()
                .contains("`Opportunity` has no attribute `closedate`")
        );
        assert!(
            errors.suggestion().starts_with("Did you mean `closeDate`"),
            "{}",
            errors.suggestion()
        );

        let (attribute, code, _) =
            only_problem(update("Account", json!({"emailAdress": "a@b.co"})));
        assert_eq!((attribute.as_str(), code), ("emailAdress", "INVALID_FIELD"));
        let suggestion = refused(update("Account", json!({"emailAdress": "a@b.co"}))).suggestion();
        assert!(suggestion.contains("`emailAddress`"), "{suggestion}");

        // Close matches are writable names only: never `createdAt`.
        let suggestion = refused(update("Account", json!({"createdAtt": "x"}))).suggestion();
        assert!(!suggestion.contains("`createdAt`"), "{suggestion}");

        // A declared but disabled part is still the attribute of its enabled field.
        assert!(update("Meeting", json!({"dateStartDate": "2026-12-01"})).is_ok());
    }

    #[test]
    fn fields_known_by_their_parts_name_the_parts_to_write() {
        let errors = refused(create(
            "Contact",
            json!({"lastName": "Fixture", "account": ID}),
        ));
        assert_eq!(errors.code().as_str(), "INVALID_FIELD");
        assert!(errors.message().contains("`account` is a link field"));
        assert_eq!(errors.suggestion(), "Write `accountId` instead.");

        let address = refused(update("Account", json!({"billingAddress": "Main St 1"})));
        assert!(address.suggestion().contains("`billingAddressCity`"));
        assert!(address.suggestion().contains("`billingAddressStreet`"));

        let parent = refused(update("Meeting", json!({"parent": ID})));
        assert_eq!(
            parent.suggestion(),
            "Write `parentId`, `parentType` instead."
        );

        // A read-only link has no part to write instead.
        let (_, code, message) = only_problem(update("Account", json!({"createdBy": ID})));
        assert_eq!(code, "INVALID_FIELD");
        assert!(
            message.contains("cannot be written: EspoCRM sets it"),
            "{message}"
        );
    }

    #[test]
    fn system_and_read_only_attributes_cannot_be_written() {
        for (entity_type, name) in [
            ("Account", "id"),
            ("Account", "deleted"),
            ("Account", "createdAt"),
            ("Account", "modifiedAt"),
            ("Account", "createdById"),
            ("Account", "modifiedById"),
            ("Account", "billingAddressMap"),
            ("Opportunity", "amountConverted"),
            ("Meeting", "accountId"),
            ("Contact", "accountType"),
            ("Note", "number"),
        ] {
            let (attribute, code, message) =
                only_problem(update(entity_type, json!({ name: "x", })));
            assert_eq!(attribute, name);
            assert_eq!(code, "INVALID_FIELD", "{entity_type}.{name}");
            assert!(message.contains("cannot be written"), "{message}");
        }
    }

    #[test]
    fn derived_attributes_name_what_to_write_instead() {
        for (entity_type, name, instead) in [
            ("Contact", "accountName", "Write `accountId` instead."),
            (
                "Opportunity",
                "contactsNames",
                "Write `contactsIds` instead.",
            ),
            (
                "Meeting",
                "parentName",
                "Write `parentType`, `parentId` instead.",
            ),
            ("Contact", "name", "Write `lastName`, `firstName` instead."),
            (
                "Meeting",
                "duration",
                "Write `dateStart`, `dateEnd` instead.",
            ),
            ("Account", "logoName", "Write `logoId` instead."),
            (
                "Note",
                "attachmentsTypes",
                "Write `attachmentsIds` instead.",
            ),
        ] {
            let errors = refused(update(entity_type, json!({ name: "x" })));
            assert_eq!(errors.code().as_str(), "INVALID_FIELD", "{name}");
            assert!(
                errors.message().contains("derives it from"),
                "{}",
                errors.message()
            );
            assert_eq!(errors.suggestion(), instead);
        }
    }

    #[test]
    fn relation_columns_are_refused_with_the_ids_to_use() {
        let errors = refused(update(
            "Contact",
            json!({"accountsColumns": {ID: {"role": "CTO"}}}),
        ));
        assert_eq!(errors.code().as_str(), "INVALID_FIELD");
        assert!(errors.message().contains("relation columns"));
        assert!(errors.suggestion().contains("`accountsIds`"));
    }

    #[test]
    fn fields_the_role_may_not_edit_are_refused() {
        let errors = refused(update("Account", json!({"internalScore": 5})));
        assert_eq!(errors.code().as_str(), "INVALID_FIELD");
        assert!(errors.message().contains("role may not edit"));
        let errors = refused(update("User", json!({"password": "secret"})));
        assert!(errors.message().contains("role may not edit"));
    }

    #[test]
    fn fields_fixed_after_create_are_refused_on_update_only() {
        let data = json!({"name": "Acme", "contractNumber": "C-2026-001"});
        assert!(create("Account", data).is_ok());
        let errors = refused(update("Account", json!({"contractNumber": "C-2026-002"})));
        assert_eq!(errors.code().as_str(), "INVALID_FIELD");
        assert!(
            errors
                .message()
                .contains("cannot be changed once the record exists")
        );

        assert!(
            create(
                "Note",
                json!({"post": "Hi", "parentType": "Account", "parentId": ID})
            )
            .is_ok()
        );
        let errors = refused(update(
            "Note",
            json!({"parentType": "Contact", "parentId": ID}),
        ));
        assert_eq!(errors.problems().len(), 2, "{}", errors.message());
        assert!(update("Note", json!({"post": "Edited"})).is_ok());
    }

    #[test]
    fn every_missing_required_field_is_named_on_create() {
        let errors = refused(create("Opportunity", json!({"description": "No basics"})));
        assert_eq!(errors.code().as_str(), "MISSING_REQUIRED_FIELD");
        assert_eq!(
            errors.message(),
            "3 problems: `amount` is required; `closeDate` is required; `name` is required"
        );
        let attributes: Vec<_> = errors
            .problems()
            .iter()
            .map(|problem| problem.attribute().unwrap_or(""))
            .collect();
        assert_eq!(attributes, ["amount", "closeDate", "name"]);
        assert!(
            errors
                .suggestion()
                .contains("`closeDate`: Add `closeDate`. Give a real calendar date")
        );

        let meeting = refused(create("Meeting", json!({"name": "Kick-off"})));
        assert_eq!(
            meeting.message(),
            "3 problems: `assignedUserId` is required; `dateEnd` or `dateEndDate` is required; \
             `dateStart` or `dateStartDate` is required"
        );
        assert!(
            meeting
                .suggestion()
                .contains("the id of the User record to link")
        );

        // A link is given by its id, empty values are missing values.
        let errors = refused(create(
            "Meeting",
            json!({"name": " ", "assignedUserId": null, "dateStart": "2026-12-01 14:00:00",
                   "dateEndDate": ""}),
        ));
        let attributes: Vec<_> = errors
            .problems()
            .iter()
            .filter_map(WriteProblem::attribute)
            .collect();
        assert_eq!(attributes, ["assignedUserId", "dateEnd", "name"]);
    }

    #[test]
    fn required_fields_can_be_given_in_each_of_their_ways() {
        let errors = refused(create("Candidate", json!({"source": "Web"})));
        assert_eq!(errors.code().as_str(), "MISSING_REQUIRED_FIELD");
        assert_eq!(
            errors.message(),
            "7 problems: `cvIds` is required; `emailAddress` or `emailAddressData` is required; \
             `homeAddressStreet`, `homeAddressCity`, `homeAddressState`, `homeAddressCountry` or \
             `homeAddressPostalCode` is required; `interview` or `interviewDate` is required; \
             `mentorId` is required; `lastName` or `firstName` is required; `parentType` and \
             `parentId` are required"
        );
        assert!(
            errors
                .suggestion()
                .contains("Add `parentType` (`Account`, `Contact`) and `parentId`")
        );

        let complete = json!({
            "firstName": "Ada",
            "emailAddressData": [{"emailAddress": "ada@example.com", "primary": true}],
            "homeAddressCity": "London",
            "interviewDate": "2027-01-15",
            "cvIds": [ID],
            "parentType": "Contact",
            "parentId": ID,
            "mentorId": OTHER_ID,
        });
        // `source` is left out: EspoCRM fills its default.
        assert!(create("Candidate", complete).is_ok());

        let errors = refused(create(
            "Candidate",
            json!({"lastName": "Lovelace", "emailAddress": "ada@example.com",
                   "homeAddressStreet": "1 St James's Sq", "interview": "2027-01-15 10:00",
                   "cvIds": [], "parentId": ID, "mentorId": OTHER_ID, "source": ""}),
        ));
        let messages: Vec<String> = errors
            .problems()
            .iter()
            .map(WriteProblem::message)
            .collect();
        assert_eq!(
            messages,
            [
                "`cvIds` is required",
                "`parentType` is required",
                "`source` is required"
            ]
        );
    }

    #[test]
    fn required_fields_may_be_left_out_of_an_update_but_not_emptied() {
        assert!(update("Opportunity", json!({"stage": "Closed Won"})).is_ok());
        assert!(
            update(
                "Opportunity",
                json!({"contactsIds": [], "probability": null})
            )
            .is_ok()
        );
        for (entity_type, given, attribute) in [
            ("Account", json!({"name": ""}), "name"),
            ("Opportunity", json!({"amount": null}), "amount"),
            ("Contact", json!({"lastName": "   "}), "lastName"),
            ("Meeting", json!({"assignedUserId": null}), "assignedUserId"),
            (
                "Meeting",
                json!({"dateStart": "", "dateStartDate": null}),
                "dateStart",
            ),
            ("Candidate", json!({"cvIds": []}), "cvIds"),
            (
                "Candidate",
                json!({"firstName": "", "lastName": null}),
                "lastName",
            ),
        ] {
            let (problem, code, message) = only_problem(update(entity_type, given));
            assert_eq!(
                (problem.as_str(), code),
                (attribute, "MISSING_REQUIRED_FIELD")
            );
            assert!(
                message.ends_with("is required and cannot be emptied"),
                "{message}"
            );
        }
        // One part of a person's name may be emptied while the other stays.
        assert!(update("Candidate", json!({"firstName": ""})).is_ok());
    }

    #[test]
    fn empty_and_oversized_data_are_refused_as_a_whole() {
        let errors = refused(update("Account", json!({})));
        assert_eq!(errors.code().as_str(), "INVALID_ARGUMENT");
        assert_eq!(errors.message(), "`data` is empty: nothing to change");
        assert_eq!(errors.problems()[0].attribute(), None);

        let errors = refused(create("Opportunity", json!({})));
        assert_eq!(errors.code().as_str(), "INVALID_ARGUMENT");
        assert_eq!(
            errors.suggestion(),
            "Give the record's attributes, at least the required `amount`, `closeDate`, `name`."
        );

        let many: Map<String, Value> = (0..=MAX_ATTRIBUTES)
            .map(|index| (format!("field{index}"), Value::Null))
            .collect();
        let errors = refused(validate(entity("Account"), &many, WriteMode::Update));
        assert_eq!(errors.code().as_str(), "INVALID_ARGUMENT");
        assert_eq!(errors.problems().len(), 1);
        assert!(
            errors
                .message()
                .contains("201 attributes, more than the 200")
        );
    }

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

    #[test]
    fn a_parent_is_given_by_type_and_id_together() {
        assert!(update("Meeting", json!({"parentType": "Account", "parentId": ID})).is_ok());
        assert!(update("Meeting", json!({"parentType": null, "parentId": null})).is_ok());
        let (attribute, code, message) = only_problem(update("Meeting", json!({"parentId": ID})));
        assert_eq!(
            (attribute.as_str(), code),
            ("parentId", "INVALID_FIELD_VALUE")
        );
        assert_eq!(message, "`parentId` is given without `parentType`");
        let (attribute, _, _) = only_problem(update(
            "Meeting",
            json!({"parentType": "Account", "parentId": null}),
        ));
        assert_eq!(attribute, "parentType");
        // Meeting's parent link lists no entity types: any name-shaped one is taken.
        let (_, _, message) = only_problem(update(
            "Meeting",
            json!({"parentType": "Account/1", "parentId": ID}),
        ));
        assert!(message.ends_with("is not an entity type name"), "{message}");
        // Candidate's does.
        let errors = refused(update(
            "Candidate",
            json!({"parentType": "Lead", "parentId": ID}),
        ));
        assert_eq!(
            errors.message(),
            "`parentType` \"Lead\" is not an entity type this parent may have"
        );
        assert_eq!(errors.suggestion(), "Give one of: `Account`, `Contact`.");
        // A refused half is reported once, not again as unpaired.
        let errors = refused(update("Meeting", json!({"parentType": 5, "parentId": ID})));
        assert_eq!(errors.problems().len(), 1, "{}", errors.message());
    }

    #[test]
    fn all_problems_are_reported_at_once_in_field_order() {
        let errors = refused(create(
            "Opportunity",
            json!({"name": "Deal", "stage": "Won", "closeDate": "31/12/2026"}),
        ));
        assert_eq!(errors.code().as_str(), "MISSING_REQUIRED_FIELD");
        assert_eq!(
            errors.message(),
            "3 problems: `amount` is required; `closeDate` \"31/12/2026\" is not a date \
             (YYYY-MM-DD); `stage` \"Won\" is not an option"
        );
        assert!(errors.suggestion().starts_with("`amount`: Add `amount`."));
        assert!(
            errors
                .suggestion()
                .contains("`stage`: Options: \"Prospecting\"")
        );
        let details = errors.details();
        assert_eq!(details["entityType"], "Opportunity");
        assert_eq!(details["problems"].as_array().map(Vec::len), Some(3));
        assert_eq!(
            details["problems"][1],
            json!({
                "attribute": "closeDate",
                "code": "INVALID_FIELD_VALUE",
                "message": "`closeDate` \"31/12/2026\" is not a date (YYYY-MM-DD)",
                "suggestion": "Give a real calendar date as \"YYYY-MM-DD\", e.g. \"2026-12-31\"."
            })
        );

        // Unknown names come first: correcting them may settle the rest.
        let errors = refused(create(
            "Opportunity",
            json!({"name": "", "amount": "lots", "closedate": "2027-01-01", "accountName": "Acme",
                   "accountId": "x y", "probability": 120}),
        ));
        let codes: Vec<_> = errors
            .problems()
            .iter()
            .map(|problem| problem.code().as_str())
            .collect();
        assert_eq!(
            codes,
            [
                "INVALID_FIELD",
                "INVALID_FIELD",
                "INVALID_ID",
                "INVALID_FIELD_VALUE",
                "MISSING_REQUIRED_FIELD",
                "MISSING_REQUIRED_FIELD",
                "INVALID_FIELD_VALUE",
            ],
            "{}",
            errors.message()
        );
        assert_eq!(errors.code().as_str(), "INVALID_FIELD");
        assert!(
            errors
                .message()
                .starts_with("7 problems: `Opportunity` has no attribute `closedate`")
        );
        assert_eq!(errors.to_string(), errors.message());
    }

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

    /// Whether `name` is, by the schema alone, an attribute EspoCRM would store from a write.
    fn writable_by_schema(entity: &EntityType, name: &str, mode: WriteMode) -> bool {
        let Lookup::Attribute(attribute) = attributes::lookup(entity, name) else {
            return false;
        };
        let Some(field) = attribute.field else {
            return false;
        };
        let own = |suffix: &str| name == format!("{}{suffix}", field.name);
        let derived = match field.field_type {
            FieldType::Link
            | FieldType::LinkOne
            | FieldType::File
            | FieldType::Image
            | FieldType::LinkParent => own("Name"),
            FieldType::LinkMultiple | FieldType::AttachmentMultiple => own("Names") || own("Types"),
            FieldType::PersonName => own(""),
            FieldType::Foreign
            | FieldType::Map
            | FieldType::Duration
            | FieldType::Autoincrement
            | FieldType::CurrencyConverted
            | FieldType::Number => true,
            _ => false,
        };
        names::is_name(name)
            && !matches!(name, "id" | "deleted")
            && !field.disabled
            && !field.read_only
            && !derived
            && !entity.uneditable_fields.contains(&field.name)
            && !entity.uneditable_fields.contains(name)
            && !(mode == WriteMode::Update && field.read_only_after_create)
    }

    const ENTITY_TYPES: [&str; 8] = [
        "Account",
        "Contact",
        "Opportunity",
        "Meeting",
        "Candidate",
        "Note",
        "Email",
        "User",
    ];

    /// Data that creates a record of each of [`ENTITY_TYPES`], so generated additions are judged
    /// on their own rather than drowned by missing required fields.
    fn minimal_create(entity_type: &str) -> Value {
        match entity_type {
            "Account" => json!({"name": "Acme"}),
            "Contact" | "User" => json!({"lastName": "Fixture", "userName": "fixture"}),
            "Opportunity" => json!({"name": "Deal", "amount": 1, "closeDate": "2027-01-01"}),
            "Meeting" => json!({"name": "Kick-off", "dateStart": "2026-12-01 14:00:00",
                                "dateEnd": "2026-12-01 15:00:00", "assignedUserId": ID}),
            "Candidate" => json!({"lastName": "Lovelace", "emailAddress": "ada@example.com",
                                  "homeAddressCity": "London", "interviewDate": "2027-01-15",
                                  "cvIds": [ID], "parentType": "Account", "parentId": ID,
                                  "mentorId": OTHER_ID}),
            "Email" => json!({"name": "Hello", "subject": "Hello", "from": "a@example.com",
                              "to": "b@example.com"}),
            _ => json!({"post": "Hello"}),
        }
    }

    #[test]
    fn the_minimal_creates_are_accepted() {
        for entity_type in ENTITY_TYPES {
            let mut minimal = data(minimal_create(entity_type));
            if entity_type == "Contact" {
                minimal.remove("userName");
            }
            accepted(create(entity_type, Value::Object(minimal)));
        }
    }

    /// Every name the test entity types know, and names near them: most are not writable on
    /// a given type (read-only, derived, another type's, a field known by its parts).
    static KNOWN_NAMES: LazyLock<Vec<String>> = LazyLock::new(|| {
        let mut known: Vec<String> = ENTITY_TYPES
            .iter()
            .flat_map(|name| attributes::all_names(entity(name)))
            .collect();
        known.extend(
            [
                "deleted",
                "accountsColumns",
                "contactsColumns",
                "Name",
                "nAME",
                "parent_id",
            ]
            .map(String::from),
        );
        known.sort();
        known.dedup();
        known
    });

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => prop::sample::select(KNOWN_NAMES.clone()),
            1 => any::<String>(),
            1 => "[A-Za-z][A-Za-z0-9_]{0,12}",
            1 => "[ -~]{0,10}",
        ]
    }

    /// Mostly the names of one entity type (its fields and attributes, writable or not), with
    /// other types' names and arbitrary strings among them.
    fn own_key(which: usize) -> impl Strategy<Value = String> {
        let mut own = attributes::all_names(entity(ENTITY_TYPES[which]));
        own.extend(["deleted", "accountsColumns", "contactsColumns"].map(String::from));
        prop_oneof![
            6 => prop::sample::select(own),
            2 => key(),
        ]
    }

    /// Strings that fit some field, or nearly.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => prop::sample::select(vec![
                "", " ", "2026-12-31", "2026-02-30", "2026-12-31 14:30", "2026-12-31 14:30:00",
                ID, "../x", "anna@example.com", "anna@", "https://example.com", "example",
                "+1 212 555 0142", "USD", "usd", "Account", "Lead", "Prospecting", "Customer",
                "VIP", "Dr.", "1000.50", "12,5", "javascript:alert(1)", "Web", "Planned",
            ])
            .prop_map(String::from),
            1 => any::<String>(),
        ]
    }

    /// Any JSON value, nested up to three levels.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-200i64..200).prop_map(Value::from),
            any::<f64>().prop_filter_map("JSON numbers are finite", |number| {
                serde_json::Number::from_f64(number).map(Value::Number)
            }),
            text().prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map(key(), inner, 0..4)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    /// Values that fit many fields: scalars, id lists, option lists, address lists.
    fn plausible_value() -> impl Strategy<Value = Value> {
        let listed = prop::sample::select(vec![ID, OTHER_ID, "VIP", "Reference", "../x"]);
        prop_oneof![
            2 => Just(Value::Null),
            1 => any::<bool>().prop_map(Value::Bool),
            2 => (0i64..120).prop_map(Value::from),
            4 => text().prop_map(Value::String),
            2 => prop::collection::vec(listed.prop_map(Value::from), 0..3).prop_map(Value::Array),
            1 => Just(json!([{"emailAddress": "anna@example.com", "primary": true}])),
            1 => Just(json!([{"phoneNumber": "+1 212 555 0142", "type": "Office"}])),
            1 => Just(json!({"theme": "dark"})),
            1 => json_value(),
        ]
    }

    /// Mostly `null`, which nearly every type takes, so that acceptance turns on the keys.
    fn key_test_value() -> impl Strategy<Value = Value> {
        prop_oneof![3 => Just(Value::Null), 2 => plausible_value()]
    }

    fn mode() -> impl Strategy<Value = WriteMode> {
        prop_oneof![Just(WriteMode::Create), Just(WriteMode::Update)]
    }

    /// What `validate` may have made of a value it accepted.
    fn is_kept_or_normalised(given: &Value, sent: &Value) -> bool {
        given == sent
            || (given.as_str() == Some("") && sent.is_null())
            || matches!((given, sent), (Value::String(given), Value::String(sent))
                if *sent == format!("{given}:00"))
    }

    /// The invariants of a refusal: problems, known codes, words, no control characters.
    fn check_refusal(errors: &WriteErrors) -> Result<(), TestCaseError> {
        prop_assert!(!errors.problems().is_empty());
        prop_assert_eq!(errors.code().as_str(), errors.problems()[0].code().as_str());
        let message = errors.message();
        prop_assert!(!message.is_empty() && !errors.suggestion().is_empty());
        prop_assert!(!message.chars().any(char::is_control), "{}", message);
        for problem in errors.problems() {
            prop_assert!(
                [
                    "INVALID_ARGUMENT",
                    "INVALID_FIELD",
                    "INVALID_FIELD_VALUE",
                    "INVALID_ID",
                    "MISSING_REQUIRED_FIELD",
                ]
                .contains(&problem.code().as_str())
            );
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// No generated data makes `validate` panic, and no accepted data reaches EspoCRM with an
        /// attribute the schema does not have or would not store. Keys are mostly the entity
        /// type's own names, writable or not, values mostly `null`, and a create starts from
        /// [`minimal_create`], so that whether data is accepted turns on its keys.
        #[test]
        fn accepted_data_holds_only_writable_attributes(
            (which, additions) in (0..ENTITY_TYPES.len()).prop_flat_map(|which| {
                (Just(which), prop::collection::btree_map(own_key(which), key_test_value(), 1..4))
            }),
            mode in mode(),
        ) {
            let entity_type = ENTITY_TYPES[which];
            let entity = entity(entity_type);
            let mut given = match mode {
                WriteMode::Create => data(minimal_create(entity_type)),
                WriteMode::Update => Map::new(),
            };
            if entity_type == "Contact" && mode == WriteMode::Create {
                given.remove("userName");
            }
            given.extend(additions);
            match validate(entity, &given, mode) {
                Ok(written) => {
                    prop_assert_eq!(written.as_map().len(), given.len());
                    for (name, sent) in written.as_map() {
                        prop_assert!(
                            writable_by_schema(entity, name, mode), "{} was accepted", name
                        );
                        prop_assert!(
                            is_kept_or_normalised(&given[name], sent), "{}: {}", name, sent
                        );
                    }
                }
                Err(errors) => check_refusal(&errors)?,
            }
        }

        /// Whatever the keys and however deep the values, `validate` answers without panicking.
        #[test]
        fn arbitrary_data_never_panics(
            which in 0..ENTITY_TYPES.len(),
            mode in mode(),
            given in prop::collection::btree_map(
                prop_oneof![key(), any::<String>()], json_value(), 0..8),
        ) {
            let entity = entity(ENTITY_TYPES[which]);
            let given: Map<String, Value> = given.into_iter().collect();
            match validate(entity, &given, mode) {
                Ok(written) => {
                    for name in written.as_map().keys() {
                        prop_assert!(
                            writable_by_schema(entity, name, mode), "{} was accepted", name
                        );
                    }
                }
                Err(errors) => check_refusal(&errors)?,
            }
        }

        /// Writable names with plausible values are refused, if at all, for their values only,
        /// and accepted values are sent as given or in their normal form.
        #[test]
        fn writable_names_are_judged_by_their_values(
            which in 0..ENTITY_TYPES.len(),
            mode in mode(),
            picks in prop::collection::vec((any::<prop::sample::Index>(), plausible_value()), 1..6),
        ) {
            let entity = entity(ENTITY_TYPES[which]);
            let writable: Vec<String> = attributes::all_names(entity)
                .into_iter()
                .filter(|name| writable_by_schema(entity, name, mode))
                .collect();
            prop_assume!(!writable.is_empty());
            let given: Map<String, Value> = picks
                .into_iter()
                .map(|(index, value)| (index.get(&writable).clone(), value))
                .collect();
            match validate(entity, &given, mode) {
                Ok(written) => {
                    for (name, sent) in written.as_map() {
                        prop_assert!(
                            is_kept_or_normalised(&given[name], sent), "{}: {}", name, sent
                        );
                    }
                }
                Err(errors) => {
                    check_refusal(&errors)?;
                    for problem in errors.problems() {
                        prop_assert!(problem.code().as_str() != "INVALID_FIELD", "{}", problem.message());
                    }
                }
            }
        }
    }
}
