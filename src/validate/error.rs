//! Why a name, an id, a limit or a where clause was refused, and what to send instead.
//!
//! Every refusal names the offending part (the name as given, the attribute, the position in the
//! where tree) and carries what a caller needs to correct it (the close matches, the fitting
//! operators, the enum options), because the caller is usually a language model that can only
//! fix what the message spells out. [`ValidationError::code`] gives the tool error code it maps
//! to, typed, so no refusal can name a code that does not exist; the tool layer turns the three parts into its own error result.
//!
//! Values given by the caller are shown quoted and escaped, and cut to [`EXCERPT_CHARS`]
//! characters, so a message never carries control characters or a whole pasted document.

use crate::error::ErrorCode;
use crate::espo::attributes::AttributeKind;
use crate::validate::where_clause::Operator;

/// How many characters of a caller's value a message shows.
pub const EXCERPT_CHARS: usize = 60;

/// How many names a suggestion lists before it says "and N more".
const LISTED_NAMES: usize = 30;

/// Which kind of name was malformed; decides the error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameKind {
    EntityType,
    Field,
    Link,
}

impl NameKind {
    fn describe(self) -> &'static str {
        match self {
            Self::EntityType => "entity type",
            Self::Field => "field",
            Self::Link => "link",
        }
    }
}

/// Why an existing entity type cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Inaccessible {
    /// A system scope (Note, Team, Preferences, …), reached through other tools if at all.
    SystemType,
    /// The API user's role does not allow this action on any record of the type.
    NoAccess(&'static str),
    /// This deployment does not let tools touch the type (`SERVER_ENTITY_TYPES`).
    Excluded,
}

/// A refused input. `#[non_exhaustive]`: new checks add variants.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    #[error(
        "{given:?} is not a valid {} name: a name is a letter followed by letters, digits or `_`",
        kind.describe()
    )]
    MalformedName {
        kind: NameKind,
        given: String,
        closest: Vec<String>,
    },

    #[error("there is no entity type {given:?}")]
    UnknownEntityType {
        given: String,
        closest: Vec<String>,
        available: Vec<String>,
    },

    #[error("{}", inaccessible_message(entity_type, *reason))]
    EntityTypeNotAccessible {
        entity_type: String,
        reason: Inaccessible,
        available: Vec<String>,
    },

    #[error("`{entity_type}` has no field or attribute {given:?}")]
    UnknownField {
        entity_type: String,
        given: String,
        closest: Vec<String>,
    },

    #[error("the API user may not read `{field}` of `{entity_type}`")]
    FieldNotReadable { entity_type: String, field: String },

    #[error(
        "`{field}` of `{entity_type}` is a {field_type} field that EspoCRM only knows by its \
         attributes here"
    )]
    NotAnAttribute {
        entity_type: String,
        field: String,
        field_type: String,
        attributes: Vec<String>,
    },

    #[error("`{entity_type}` records cannot be ordered by `{field}`")]
    NotSortable {
        entity_type: String,
        field: String,
        alternatives: Vec<String>,
    },

    #[error("`{entity_type}` has no link {given:?}")]
    UnknownLink {
        entity_type: String,
        given: String,
        closest: Vec<String>,
        available: Vec<String>,
    },

    #[error("{given:?} is not an EspoCRM record id: {reason}")]
    InvalidId { given: String, reason: &'static str },

    #[error("`{argument}` {problem}")]
    InvalidArgument {
        argument: &'static str,
        problem: String,
        suggestion: String,
    },

    #[error("{at}: there is no where operator {given:?}")]
    UnknownOperator { at: String, given: String },

    #[error(
        "{at}: operator `{}` does not apply to `{attribute}` ({}, field type {field_type})",
        operator.as_str(),
        kind.describe()
    )]
    OperatorNotApplicable {
        at: String,
        attribute: String,
        kind: AttributeKind,
        field_type: String,
        operator: Operator,
        /// The operators that do fit `kind`.
        fitting: &'static [Operator],
    },

    #[error("{at}: a `{operator}` condition needs a `field`")]
    MissingField { at: String, operator: &'static str },

    #[error("{at}: `{operator}` on `{attribute}` needs {expected}, not {given}")]
    InvalidValue {
        at: String,
        attribute: String,
        operator: &'static str,
        expected: String,
        given: String,
    },

    #[error("{at}: {given:?} is not an option of `{attribute}`")]
    NotAnOption {
        at: String,
        attribute: String,
        given: String,
        options: Vec<String>,
    },

    #[error("{at}: groups are nested deeper than {max_depth} levels")]
    TooDeep { at: String, max_depth: usize },

    #[error("the where clause has more than {max} conditions")]
    TooManyConditions { max: usize },

    #[error("the where clause holds more than {max} values in all")]
    TooManyValues { max: usize },

    #[error("{at}: {problem}")]
    MalformedCondition { at: String, problem: String },
}

impl ValidationError {
    /// The stable tool error code this refusal maps to.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::MalformedName { kind, .. } => match kind {
                NameKind::EntityType => ErrorCode::InvalidEntityType,
                NameKind::Field => ErrorCode::InvalidField,
                NameKind::Link => ErrorCode::InvalidLink,
            },
            Self::UnknownEntityType { .. } | Self::EntityTypeNotAccessible { .. } => {
                ErrorCode::InvalidEntityType
            }
            Self::UnknownField { .. }
            | Self::FieldNotReadable { .. }
            | Self::NotAnAttribute { .. }
            | Self::NotSortable { .. } => ErrorCode::InvalidField,
            Self::UnknownLink { .. } => ErrorCode::InvalidLink,
            Self::InvalidId { .. } => ErrorCode::InvalidId,
            Self::UnknownOperator { .. } | Self::OperatorNotApplicable { .. } => {
                ErrorCode::InvalidOperator
            }
            Self::InvalidArgument { .. }
            | Self::MissingField { .. }
            | Self::InvalidValue { .. }
            | Self::NotAnOption { .. }
            | Self::TooDeep { .. }
            | Self::TooManyConditions { .. }
            | Self::TooManyValues { .. }
            | Self::MalformedCondition { .. } => ErrorCode::InvalidArgument,
        }
    }

    /// What went wrong, naming the offending part.
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// What to send instead.
    pub fn suggestion(&self) -> String {
        match self {
            Self::MalformedName { kind, closest, .. } => {
                let rule = format!(
                    "Give the {} name exactly as EspoCRM spells it, e.g. `Account`, `emailAddress`.",
                    kind.describe()
                );
                with_closest(closest, rule)
            }
            Self::UnknownEntityType {
                closest, available, ..
            } => with_closest(
                closest,
                format!("Entity types available: {}.", names(available)),
            ),
            Self::EntityTypeNotAccessible { available, .. } => format!(
                "Entity types the API user can use this way: {}.",
                names(available)
            ),
            Self::UnknownField { closest, .. } => with_closest(
                closest,
                "Field names are case-sensitive; the entity type's metadata lists them.".into(),
            ),
            Self::FieldNotReadable { .. } => {
                "Leave it out: the API user's role hides this field.".into()
            }
            Self::NotAnAttribute { attributes, .. } => {
                format!("Use one of its attributes: {}.", names(attributes))
            }
            Self::NotSortable { alternatives, .. } if alternatives.is_empty() => {
                "Order by a text, number, date or enum field instead.".into()
            }
            Self::NotSortable { alternatives, .. } => {
                format!("Order by one of: {}.", names(alternatives))
            }
            Self::UnknownLink {
                closest, available, ..
            } => with_closest(closest, format!("Links available: {}.", names(available))),
            Self::InvalidId { .. } => "EspoCRM ids are 1 to 64 letters, digits, `_` or `-`, \
                 usually 17 lowercase hex characters such as `6b05838b2c728cbdb`; \
                 take the id from a list or search result."
                .into(),
            Self::InvalidArgument { suggestion, .. } => suggestion.clone(),
            Self::UnknownOperator { .. } => format!(
                "Use one of: {}; or `or`/`and` with an array of conditions as `value`.",
                quoted(Operator::ALL.map(Operator::as_str))
            ),
            Self::OperatorNotApplicable { fitting: [], .. } => {
                "This attribute cannot be filtered on; filter on another field.".into()
            }
            Self::OperatorNotApplicable { fitting, .. } => {
                format!(
                    "Operators that fit it: {}.",
                    quoted(fitting.iter().map(|operator| operator.as_str()))
                )
            }
            Self::MissingField { .. } => "Add `field` with the field or attribute to test, \
                 e.g. {\"field\": \"name\", \"type\": \"equals\", \"value\": \"Acme\"}."
                .into(),
            Self::InvalidValue { expected, .. } => format!("Give {expected} as `value`."),
            Self::NotAnOption { options, .. } => {
                format!("Options: {}.", quote_values(options))
            }
            Self::TooDeep { max_depth, .. } => {
                format!("Flatten the groups: at most {max_depth} levels, counting the top level.")
            }
            Self::TooManyConditions { max } => format!(
                "Use at most {max} conditions; `in` tests many values of one field at once."
            ),
            Self::TooManyValues { max } => format!(
                "Use at most {max} values over all conditions (EspoCRM drops query parameters \
                 beyond its limit); split the search into several calls."
            ),
            Self::MalformedCondition { .. } => {
                "Each condition is {\"field\", \"type\", \"value\"}; \
                 a group is {\"type\": \"or\" or \"and\", \"value\": [conditions]}."
                    .into()
            }
        }
    }
}

/// The first [`EXCERPT_CHARS`] characters of a caller's value, marked when cut.
pub fn excerpt(given: &str) -> String {
    let mut chars = given.chars();
    let mut shown: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    if chars.next().is_some() {
        shown.push('…');
    }
    shown
}

fn inaccessible_message(entity_type: &str, reason: Inaccessible) -> String {
    match reason {
        Inaccessible::SystemType => {
            format!("`{entity_type}` is a system entity type, not a record type this tool serves")
        }
        Inaccessible::NoAccess(action) => {
            format!("the API user may not {action} `{entity_type}` records")
        }
        Inaccessible::Excluded => format!(
            "`{entity_type}` is not among the entity types this server is configured to use \
             (SERVER_ENTITY_TYPES / --entities)"
        ),
    }
}

fn with_closest(closest: &[String], rest: String) -> String {
    if closest.is_empty() {
        rest
    } else {
        format!("Did you mean {}? {rest}", names(closest))
    }
}

/// `` `a`, `b` and 3 more ``.
fn names(list: &[String]) -> String {
    quoted(list.iter().map(String::as_str))
}

fn quoted<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    join(items.into_iter().map(|item| format!("`{item}`")))
}

fn quote_values(list: &[String]) -> String {
    join(list.iter().map(|item| format!("{item:?}")))
}

fn join(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    if items.is_empty() {
        return "none".into();
    }
    let mut text = items
        .iter()
        .take(LISTED_NAMES)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > LISTED_NAMES {
        text.push_str(&format!(" and {} more", items.len() - LISTED_NAMES));
    }
    text
}

/// `` `a`, `b` and 3 more ``, for refusals phrased outside this file (the write checks).
pub(crate) fn quoted_names(list: &[String]) -> String {
    names(list)
}

/// `"a", "b" and 3 more`, for refusals phrased outside this file (the write checks).
pub(crate) fn quoted_values(list: &[String]) -> String {
    quote_values(list)
}

/// `rest`, preceded by "Did you mean …?" when there are close matches.
pub(crate) fn did_you_mean(closest: &[String], rest: String) -> String {
    with_closest(closest, rest)
}
