//! The `where` filter of the list tools: what the caller sends, and the validated tree EspoCRM
//! is given.
//!
//! The caller sends `[{field, type, value}]`, with `{type: "or"|"and", value: [conditions]}` for
//! groups; top-level conditions are ANDed, as in EspoCRM. [`validate`] checks every part against
//! the schema before anything is sent, because EspoCRM's own answers are poor guides: an
//! unknown attribute is a 400 that names no alternative, an item without attribute is a bare
//! 500, and a wrong value type is silently compared as a string. So:
//!
//! - every `field` must be an attribute of the entity type the API user may read
//!   ([`names::attribute`]), and every condition must have one;
//! - every operator must fit the attribute's kind ([`operators_for`]); a refusal lists the ones
//!   that do;
//! - every value must have the shape the operator takes (none, one, a pair, a non-empty list)
//!   and the form the attribute holds (a number, a `YYYY-MM-DD` date, an id, one of an enum's
//!   options);
//! - the tree is at most [`WhereLimits::max_depth`] levels deep and holds at most
//!   [`WhereLimits::max_conditions`] conditions with at most [`WhereLimits::max_total_values`]
//!   values in all, so one call cannot build an unbounded query, nor one longer than the 1,000
//!   query variables EspoCRM's PHP reads (it drops the rest silently).
//!
//! The result, [`Where`], can only be built here, and holds values as the strings EspoCRM
//! receives; `crate::espo::query` encodes it.

use serde::Deserialize;
use serde_json::Value;

use espomcp_actors::EntityType;

use crate::espo::attributes::{Attribute, AttributeKind};
use crate::rules::{date, date_time};
use crate::validate::error::{ValidationError, excerpt};
use crate::validate::names;

/// One condition of a `where` filter, as the caller sends it.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhereCondition {
    /// The field or attribute to test, exactly as EspoCRM names it: `name`, `stage`, `amount`,
    /// `accountId` (the id of the link `account`), `billingAddressCity`,
    /// `emailAddressIsOptedOut`. Not used by `or`/`and` groups.
    #[serde(default, alias = "attribute")]
    pub field: Option<String>,
    /// The operator: `equals`, `notEquals`, `like` (`%` is the wildcard), `notLike`,
    /// `contains`, `startsWith`, `greaterThan`, `greaterThanOrEquals`, `lessThan`,
    /// `lessThanOrEquals`, `in`, `notIn`, `between`, `isNull`, `isNotNull`, `isTrue`, `isFalse`;
    /// or `or` / `and` to group the conditions given as `value`.
    #[serde(rename = "type")]
    pub operator: String,
    /// What to compare with: one value for most operators; a non-empty array for `in` and
    /// `notIn`; `[from, to]` (inclusive) for `between`; nothing for `isNull`, `isNotNull`,
    /// `isTrue` and `isFalse`; an array of conditions for `or` and `and`. Dates are
    /// `YYYY-MM-DD`, date-times `YYYY-MM-DD HH:MM:SS` in UTC.
    #[serde(default)]
    #[schemars(schema_with = "value_schema")]
    pub value: Option<Value>,
}

/// The schema of [`WhereCondition::value`]: a scalar, or a list (the values of `in`/`notIn`/
/// `between`, or the conditions of a group) capped as the validator caps it, so clients see the
/// same bound as every other list argument. The validator, not this schema, checks that the
/// shape fits the operator.
fn value_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let item = serde_json::json!({"anyOf": [
        {"type": "string"}, {"type": "number"}, {"type": "boolean"}, {"type": "object"},
    ]});
    schemars::json_schema!({
        "anyOf": [
            {"type": "string"},
            {"type": "number"},
            {"type": "boolean"},
            {"type": "array", "items": item, "maxItems": WhereLimits::default().max_values},
        ]
    })
}

/// A comparison operator of EspoCRM's where language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    Equals,
    NotEquals,
    Like,
    NotLike,
    Contains,
    StartsWith,
    GreaterThan,
    GreaterThanOrEquals,
    LessThan,
    LessThanOrEquals,
    In,
    NotIn,
    IsNull,
    IsNotNull,
    Between,
    IsTrue,
    IsFalse,
}

/// How many values an operator takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    None,
    One,
    /// Exactly two: `between`.
    Pair,
    /// At least one: `in`, `notIn`.
    Many,
}

impl Operator {
    pub const ALL: [Self; 17] = [
        Self::Equals,
        Self::NotEquals,
        Self::Like,
        Self::NotLike,
        Self::Contains,
        Self::StartsWith,
        Self::GreaterThan,
        Self::GreaterThanOrEquals,
        Self::LessThan,
        Self::LessThanOrEquals,
        Self::In,
        Self::NotIn,
        Self::IsNull,
        Self::IsNotNull,
        Self::Between,
        Self::IsTrue,
        Self::IsFalse,
    ];

    /// The name EspoCRM uses for `where[i][type]`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Equals => "equals",
            Self::NotEquals => "notEquals",
            Self::Like => "like",
            Self::NotLike => "notLike",
            Self::Contains => "contains",
            Self::StartsWith => "startsWith",
            Self::GreaterThan => "greaterThan",
            Self::GreaterThanOrEquals => "greaterThanOrEquals",
            Self::LessThan => "lessThan",
            Self::LessThanOrEquals => "lessThanOrEquals",
            Self::In => "in",
            Self::NotIn => "notIn",
            Self::IsNull => "isNull",
            Self::IsNotNull => "isNotNull",
            Self::Between => "between",
            Self::IsTrue => "isTrue",
            Self::IsFalse => "isFalse",
        }
    }

    /// The operator EspoCRM calls `name`, spelled exactly.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|operator| operator.as_str() == name)
    }

    pub fn arity(self) -> Arity {
        match self {
            Self::IsNull | Self::IsNotNull | Self::IsTrue | Self::IsFalse => Arity::None,
            Self::Between => Arity::Pair,
            Self::In | Self::NotIn => Arity::Many,
            _ => Arity::One,
        }
    }
}

/// The operators that fit an attribute of `kind`. Text patterns only on text, order
/// comparisons only on numbers and dates, `isTrue`/`isFalse` only (and alone) on booleans,
/// where a `bool` column compared with the string `"true"` would silently match nothing.
pub fn operators_for(kind: AttributeKind) -> &'static [Operator] {
    use Operator::*;
    match kind {
        AttributeKind::Text => &[
            Equals, NotEquals, Like, NotLike, Contains, StartsWith, In, NotIn, IsNull, IsNotNull,
        ],
        AttributeKind::Enum | AttributeKind::Id | AttributeKind::EntityName => {
            &[Equals, NotEquals, In, NotIn, IsNull, IsNotNull]
        }
        AttributeKind::Number => &[
            Equals,
            NotEquals,
            GreaterThan,
            GreaterThanOrEquals,
            LessThan,
            LessThanOrEquals,
            Between,
            In,
            NotIn,
            IsNull,
            IsNotNull,
        ],
        AttributeKind::Date | AttributeKind::DateTime => &[
            Equals,
            NotEquals,
            GreaterThan,
            GreaterThanOrEquals,
            LessThan,
            LessThanOrEquals,
            Between,
            IsNull,
            IsNotNull,
        ],
        AttributeKind::Bool => &[IsTrue, IsFalse],
        AttributeKind::List => &[IsNull, IsNotNull],
        AttributeKind::Opaque => &[Equals, NotEquals, IsNull, IsNotNull],
        AttributeKind::Unfilterable => &[],
    }
}

/// How conditions are combined in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    And,
    Or,
}

impl GroupKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::And => "and",
            Self::Or => "or",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "and" => Some(Self::And),
            "or" => Some(Self::Or),
            _ => None,
        }
    }
}

/// What a comparison compares with, as the strings EspoCRM receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    None,
    One(String),
    /// The values of `in`/`notIn` (at least one), or `between`'s two bounds.
    List(Vec<String>),
}

/// One validated condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Comparison {
        /// An attribute of the entity type, shaped like a name.
        attribute: String,
        operator: Operator,
        operand: Operand,
    },
    Group {
        kind: GroupKind,
        /// At least one.
        conditions: Vec<Condition>,
    },
}

/// A validated where filter: its top-level conditions are ANDed. Only [`validate`] makes one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Where(Vec<Condition>);

impl Where {
    pub fn conditions(&self) -> &[Condition] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// For tests that decode an encoded query back into a tree.
    #[cfg(test)]
    pub(crate) fn new_unchecked(conditions: Vec<Condition>) -> Self {
        Self(conditions)
    }
}

/// The bounds of one where filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WhereLimits {
    /// Levels of nesting, the top level counting as 1.
    pub max_depth: usize,
    /// Conditions in all, groups included.
    pub max_conditions: usize,
    /// Values of one `in`/`notIn`.
    pub max_values: usize,
    /// Values of all conditions together. EspoCRM's PHP reads at most 1,000 query variables
    /// (`max_input_vars`) and silently drops the rest, which would drop parts of the filter; a
    /// filter within these limits is at most `2 × max_conditions + max_total_values` variables
    /// (a type and an attribute per condition, one per value), 900 by default, which leaves
    /// room for `select`, `orderBy`, `maxSize` and the like.
    pub max_total_values: usize,
}

impl Default for WhereLimits {
    fn default() -> Self {
        Self {
            max_depth: 5,
            max_conditions: 50,
            max_values: 100,
            max_total_values: 800,
        }
    }
}

/// Validates `conditions` for a list of `entity` records, within the default limits.
pub fn validate(
    entity: &EntityType,
    conditions: &[WhereCondition],
) -> Result<Where, ValidationError> {
    validate_with(entity, conditions, &WhereLimits::default())
}

/// Validates `conditions` for a list of `entity` records, within `limits`.
pub fn validate_with(
    entity: &EntityType,
    conditions: &[WhereCondition],
    limits: &WhereLimits,
) -> Result<Where, ValidationError> {
    let mut walker = Walker {
        entity,
        limits,
        seen: 0,
        values: 0,
    };
    walker.conditions(conditions, "where", 1).map(Where)
}

/// One pass over the caller's tree; counts conditions and values as it goes.
struct Walker<'a> {
    entity: &'a EntityType,
    limits: &'a WhereLimits,
    seen: usize,
    values: usize,
}

impl Walker<'_> {
    fn conditions(
        &mut self,
        items: &[WhereCondition],
        prefix: &str,
        depth: usize,
    ) -> Result<Vec<Condition>, ValidationError> {
        self.count(items.len())?;
        items
            .iter()
            .enumerate()
            .map(|(index, item)| self.condition(item, &format!("{prefix}[{index}]"), depth))
            .collect()
    }

    fn count(&mut self, more: usize) -> Result<(), ValidationError> {
        self.seen = self.seen.saturating_add(more);
        if self.seen > self.limits.max_conditions {
            return Err(ValidationError::TooManyConditions {
                max: self.limits.max_conditions,
            });
        }
        Ok(())
    }

    fn condition(
        &mut self,
        item: &WhereCondition,
        at: &str,
        depth: usize,
    ) -> Result<Condition, ValidationError> {
        if let Some(kind) = GroupKind::parse(&item.operator) {
            return self.group(kind, item, at, depth);
        }
        let Some(operator) = Operator::parse(&item.operator) else {
            return Err(ValidationError::UnknownOperator {
                at: at.to_owned(),
                given: excerpt(&item.operator),
            });
        };
        let Some(field) = &item.field else {
            return Err(ValidationError::MissingField {
                at: at.to_owned(),
                operator: operator.as_str(),
            });
        };
        let attribute = names::attribute(self.entity, field)?;
        let fitting = operators_for(attribute.kind);
        if !fitting.contains(&operator) {
            return Err(ValidationError::OperatorNotApplicable {
                at: at.to_owned(),
                attribute: attribute.name.clone(),
                kind: attribute.kind,
                field_type: attribute.field_type().to_owned(),
                operator,
                fitting,
            });
        }
        let operand = Check {
            at,
            attribute: &attribute,
            operator,
        }
        .operand(item.value.as_ref(), self.limits.max_values)?;
        let operand = if depth > 1 {
            inside_group(operand, &attribute, operator, at)?
        } else {
            operand
        };
        self.values += match &operand {
            Operand::None => 0,
            Operand::One(_) => 1,
            Operand::List(values) => values.len(),
        };
        if self.values > self.limits.max_total_values {
            return Err(ValidationError::TooManyValues {
                max: self.limits.max_total_values,
            });
        }
        Ok(Condition::Comparison {
            attribute: attribute.name,
            operator,
            operand,
        })
    }

    fn group(
        &mut self,
        kind: GroupKind,
        item: &WhereCondition,
        at: &str,
        depth: usize,
    ) -> Result<Condition, ValidationError> {
        let malformed = |problem: String| ValidationError::MalformedCondition {
            at: at.to_owned(),
            problem,
        };
        if item.field.is_some() {
            return Err(malformed(format!(
                "an `{}` group takes no `field`; to test one field against several values, \
                 use `in`",
                kind.as_str()
            )));
        }
        let children = match &item.value {
            Some(Value::Array(children)) if !children.is_empty() => children,
            _ => {
                return Err(malformed(format!(
                    "an `{}` group needs a non-empty array of conditions as `value`",
                    kind.as_str()
                )));
            }
        };
        if depth >= self.limits.max_depth {
            return Err(ValidationError::TooDeep {
                at: at.to_owned(),
                max_depth: self.limits.max_depth,
            });
        }
        // Count before parsing, so an oversized group costs nothing.
        if self.seen.saturating_add(children.len()) > self.limits.max_conditions {
            return Err(ValidationError::TooManyConditions {
                max: self.limits.max_conditions,
            });
        }
        let prefix = format!("{at}.value");
        let parsed = children
            .iter()
            .enumerate()
            .map(|(index, child)| {
                WhereCondition::deserialize(child).map_err(|error| {
                    ValidationError::MalformedCondition {
                        at: format!("{prefix}[{index}]"),
                        problem: format!("is not a condition: {error}"),
                    }
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Condition::Group {
            kind,
            conditions: self.conditions(&parsed, &prefix, depth + 1)?,
        })
    }
}

/// A comparison's value as it can stand inside an `and`/`or` group. EspoCRM's SQL composer
/// silently leaves out of a group every item whose value PHP calls empty, and of the values a
/// query string carries that is the string "0" (`amount equals 0` inside an `or` would vanish,
/// widening the filter; the sandbox imitates it). A number is sent as "0.0" there, the same number
/// to MySQL; any other lone "0" (a text, an option) is refused with what to send instead.
/// `contains` and `startsWith` are safe: EspoCRM wraps their value in `%` first.
fn inside_group(
    operand: Operand,
    attribute: &Attribute<'_>,
    operator: Operator,
    at: &str,
) -> Result<Operand, ValidationError> {
    match operand {
        Operand::One(value)
            if value == "0" && !matches!(operator, Operator::Contains | Operator::StartsWith) =>
        {
            if attribute.kind == AttributeKind::Number {
                return Ok(Operand::One("0.0".to_owned()));
            }
            Err(ValidationError::InvalidValue {
                at: at.to_owned(),
                attribute: attribute.name.clone(),
                operator: operator.as_str(),
                expected: "a value other than \"0\" inside an `and`/`or` group (EspoCRM drops \
                           such a condition from groups); use `in` with [\"0\"], or move the \
                           condition to the top level"
                    .to_owned(),
                given: "\"0\"".to_owned(),
            })
        }
        other => Ok(other),
    }
}

/// The value checks of one comparison.
struct Check<'a> {
    at: &'a str,
    attribute: &'a Attribute<'a>,
    operator: Operator,
}

impl Check<'_> {
    fn operand(
        &self,
        value: Option<&Value>,
        max_values: usize,
    ) -> Result<Operand, ValidationError> {
        let value = value.filter(|value| !value.is_null());
        match (self.operator.arity(), value) {
            (Arity::None, None) => Ok(Operand::None),
            (Arity::None, Some(value)) => Err(self.invalid("no value", value)),
            (Arity::One, Some(value)) if is_scalar(value) => self.scalar(value).map(Operand::One),
            (Arity::Pair, Some(Value::Array(items))) if items.len() == 2 => self.list(items),
            (Arity::Many, Some(Value::Array(items)))
                if !items.is_empty() && items.len() <= max_values =>
            {
                self.list(items)
            }
            (arity, value) => {
                let expected = match arity {
                    Arity::None | Arity::One => self.element(),
                    Arity::Pair => format!("an array of two {}s: [from, to]", self.element()),
                    Arity::Many => format!(
                        "an array of 1 to {max_values} values, each {}",
                        self.element()
                    ),
                };
                Err(self.invalid_described(expected, describe(value)))
            }
        }
    }

    fn list(&self, items: &[Value]) -> Result<Operand, ValidationError> {
        items
            .iter()
            .map(|item| {
                if is_scalar(item) {
                    self.scalar(item)
                } else {
                    Err(self.invalid(&self.element(), item))
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Operand::List)
    }

    /// One value, as the string EspoCRM receives.
    fn scalar(&self, value: &Value) -> Result<String, ValidationError> {
        let text = match value {
            Value::String(text) => text.clone(),
            Value::Number(number) if self.attribute.kind != AttributeKind::Id => number.to_string(),
            _ => return Err(self.invalid(&self.element(), value)),
        };
        let fits = match self.attribute.kind {
            AttributeKind::Number => is_number(&text),
            AttributeKind::Date => date::is_valid(&text),
            AttributeKind::DateTime => date::is_valid(&text) || date_time::is_valid(&text),
            AttributeKind::Id => names::id(&text).is_ok(),
            AttributeKind::EntityName => names::is_name(&text),
            AttributeKind::Enum => return self.option(text),
            _ => true,
        };
        if fits {
            Ok(text)
        } else {
            Err(self.invalid(&self.element(), value))
        }
    }

    /// `text` if the enum has no declared options or it is one of them.
    fn option(&self, text: String) -> Result<String, ValidationError> {
        let Some(options) = self.attribute.options() else {
            return Ok(text);
        };
        let options: Vec<String> = options.iter().filter_map(option_text).collect();
        if options.contains(&text) {
            Ok(text)
        } else {
            Err(ValidationError::NotAnOption {
                at: self.at.to_owned(),
                attribute: self.attribute.name.clone(),
                given: excerpt(&text),
                options,
            })
        }
    }

    /// What one value of this attribute looks like, for messages.
    fn element(&self) -> String {
        match self.attribute.kind {
            AttributeKind::Number => "a number, e.g. 1000 or \"1000.50\"".into(),
            AttributeKind::Date => "a date as \"YYYY-MM-DD\"".into(),
            AttributeKind::DateTime => {
                "a UTC date-time as \"YYYY-MM-DD HH:MM:SS\" (or a date \"YYYY-MM-DD\")".into()
            }
            AttributeKind::Id => "a record id such as \"6b05838b2c728cbdb\"".into(),
            AttributeKind::EntityName => "an entity type name such as \"Account\"".into(),
            AttributeKind::Enum => "one of the field's options".into(),
            _ => "a text or a number".into(),
        }
    }

    fn invalid(&self, expected: &str, given: &Value) -> ValidationError {
        self.invalid_described(expected.to_owned(), describe(Some(given)))
    }

    fn invalid_described(&self, expected: String, given: String) -> ValidationError {
        ValidationError::InvalidValue {
            at: self.at.to_owned(),
            attribute: self.attribute.name.clone(),
            operator: self.operator.as_str(),
            expected,
            given,
        }
    }
}

fn is_scalar(value: &Value) -> bool {
    matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

/// An option as the string a where value is compared with (`enumInt` options are numbers).
fn option_text(option: &Value) -> Option<String> {
    match option {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// A short description of what the caller sent, for messages.
fn describe(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "nothing".into(),
        Some(Value::Bool(flag)) => flag.to_string(),
        Some(Value::Number(number)) => number.to_string(),
        Some(Value::String(text)) => format!("{:?}", excerpt(text)),
        Some(Value::Array(items)) => format!("an array of {} values", items.len()),
        Some(Value::Object(_)) => "an object".into(),
    }
}

/// A decimal number as MySQL reads one: `-12`, `3.5`, `1e6`; finite.
fn is_number(text: &str) -> bool {
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit());
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, Some(exponent)),
        None => (unsigned, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, fraction)) => digits(whole) && digits(fraction),
        None => digits(mantissa),
    };
    let exponent_ok = exponent
        .is_none_or(|exponent| digits(exponent.strip_prefix(['+', '-']).unwrap_or(exponent)));
    mantissa_ok && exponent_ok && text.parse::<f64>().is_ok_and(f64::is_finite)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::validate::test_schema::entity;

    fn check(entity_type: &str, conditions: Value) -> Result<Where, ValidationError> {
        let conditions: Vec<WhereCondition> =
            serde_json::from_value(conditions).expect("the test input is a condition list");
        validate(entity(entity_type), &conditions)
    }

    fn compare(attribute: &str, operator: Operator, operand: Operand) -> Condition {
        Condition::Comparison {
            attribute: attribute.into(),
            operator,
            operand,
        }
    }

    fn one(value: &str) -> Operand {
        Operand::One(value.into())
    }

    fn list(values: &[&str]) -> Operand {
        Operand::List(values.iter().map(|value| (*value).to_owned()).collect())
    }

    #[test]
    fn a_simple_condition_is_kept_as_given() {
        let filter = check(
            "Account",
            json!([{"field": "name", "type": "equals", "value": "Acme"}]),
        );
        assert_eq!(
            filter.map(|f| f.conditions().to_vec()),
            Ok(vec![compare("name", Operator::Equals, one("Acme"))])
        );
    }

    #[test]
    fn espocrm_spelling_attribute_is_accepted_for_field() {
        let filter = check(
            "Account",
            json!([{"attribute": "name", "type": "like", "value": "Ac%"}]),
        );
        assert!(filter.is_ok(), "{filter:?}");
    }

    #[test]
    fn groups_nest() {
        let filter = check(
            "Meeting",
            json!([
                {"type": "or", "value": [
                    {"field": "status", "type": "equals", "value": "Held"},
                    {"type": "and", "value": [
                        {"field": "status", "type": "equals", "value": "Planned"},
                        {"field": "isAllDay", "type": "isTrue"}
                    ]}
                ]},
                {"field": "parentType", "type": "equals", "value": "Account"}
            ]),
        );
        let expected = vec![
            Condition::Group {
                kind: GroupKind::Or,
                conditions: vec![
                    compare("status", Operator::Equals, one("Held")),
                    Condition::Group {
                        kind: GroupKind::And,
                        conditions: vec![
                            compare("status", Operator::Equals, one("Planned")),
                            compare("isAllDay", Operator::IsTrue, Operand::None),
                        ],
                    },
                ],
            },
            compare("parentType", Operator::Equals, one("Account")),
        ];
        assert_eq!(filter.map(|f| f.conditions().to_vec()), Ok(expected));
    }

    #[test]
    fn values_take_the_form_espocrm_receives() {
        let cases = [
            (
                json!({"field": "employees", "type": "greaterThan", "value": 10}),
                one("10"),
            ),
            (
                json!({"field": "employees", "type": "lessThan", "value": "10.5"}),
                one("10.5"),
            ),
            (
                json!({"field": "rating", "type": "equals", "value": 1.5}),
                one("1.5"),
            ),
            (
                json!({"field": "employees", "type": "between", "value": [1, "100"]}),
                list(&["1", "100"]),
            ),
            (
                json!({"field": "industry", "type": "in", "value": ["Software", "Finance"]}),
                list(&["Software", "Finance"]),
            ),
            (
                json!({"field": "type", "type": "equals", "value": ""}),
                one(""),
            ),
            (
                json!({"field": "foundedOn", "type": "between", "value": ["2026-12-24", "2027-01-23"]}),
                list(&["2026-12-24", "2027-01-23"]),
            ),
            (
                json!({"field": "createdAt", "type": "lessThan", "value": "2026-11-24 10:00:00"}),
                one("2026-11-24 10:00:00"),
            ),
            (
                json!({"field": "createdAt", "type": "greaterThan", "value": "2026-11-24"}),
                one("2026-11-24"),
            ),
            (
                json!({"field": "campaignId", "type": "equals", "value": "6b05838b2c728cbdb"}),
                one("6b05838b2c728cbdb"),
            ),
            (
                json!({"field": "name", "type": "contains", "value": 42}),
                one("42"),
            ),
            (
                json!({"field": "name", "type": "isNull", "value": null}),
                Operand::None,
            ),
            (
                json!({"field": "emailAddressIsOptedOut", "type": "isFalse"}),
                Operand::None,
            ),
        ];
        for (condition, operand) in cases {
            let filter = check("Account", json!([condition.clone()]));
            let Ok(filter) = filter else {
                panic!("{condition} was refused: {filter:?}");
            };
            let [Condition::Comparison { operand: got, .. }] = filter.conditions() else {
                panic!("one comparison");
            };
            assert_eq!(got, &operand, "{condition}");
        }
        let priority = json!([{"field": "priority", "type": "in", "value": [2, "3"]}]);
        assert!(check("Opportunity", priority).is_ok());
        let currency = json!([{"field": "amountCurrency", "type": "equals", "value": "EUR"}]);
        assert!(check("Opportunity", currency).is_ok());
    }

    #[test]
    fn unknown_operators_are_refused_with_the_list() {
        let error = check(
            "Account",
            json!([{"field": "name", "type": "bogusType", "value": "x"}]),
        )
        .unwrap_err();
        assert_eq!(error.code().as_str(), "INVALID_OPERATOR");
        assert!(error.message().contains("where[0]") && error.message().contains("\"bogusType\""));
        assert!(error.suggestion().contains("`greaterThanOrEquals`"));
        assert!(error.suggestion().contains("`or`"));
    }

    #[test]
    fn operators_must_fit_the_attribute() {
        let refused = [
            ("name", "isTrue", "`like`"),
            ("name", "greaterThan", "`startsWith`"),
            ("isPartner", "equals", "`isTrue`, `isFalse`"),
            ("industry", "like", "`in`"),
            ("employees", "contains", "`between`"),
            ("foundedOn", "in", "`lessThanOrEquals`"),
            ("campaignId", "like", "`notIn`"),
            ("tags", "equals", "`isNull`, `isNotNull`"),
            ("teamsIds", "equals", "cannot be filtered"),
        ];
        for (field, operator, suggested) in refused {
            let value = json!([{"field": field, "type": operator, "value": "x"}]);
            let error = check("Account", value).unwrap_err();
            assert_eq!(
                error.code().as_str(),
                "INVALID_OPERATOR",
                "{field} {operator}"
            );
            assert!(
                error.message().contains(&format!("`{operator}`"))
                    && error.message().contains(&format!("`{field}`")),
                "{}",
                error.message()
            );
            assert!(
                error.suggestion().contains(suggested),
                "{}",
                error.suggestion()
            );
        }
        let error = check("Account", json!([{"field": "name", "type": "isTrue"}])).unwrap_err();
        assert!(!error.suggestion().contains("isTrue"));
    }

    #[test]
    fn fields_are_checked_against_the_schema() {
        let error = check(
            "Account",
            json!([{"field": "bogusField", "type": "equals", "value": "x"}]),
        )
        .unwrap_err();
        assert_eq!(error.code().as_str(), "INVALID_FIELD");
        assert!(error.message().contains("bogusField"));

        let error = check(
            "Contact",
            json!([{"field": "account", "type": "equals", "value": "x"}]),
        )
        .unwrap_err();
        assert_eq!(error.code().as_str(), "INVALID_FIELD");
        assert!(error.suggestion().contains("`accountId`"));

        let error = check("Account", json!([{"type": "equals", "value": "x"}])).unwrap_err();
        assert_eq!(error.code().as_str(), "INVALID_ARGUMENT");
        assert!(error.message().contains("where[0]") && error.message().contains("`field`"));
    }

    #[test]
    fn value_shapes_are_checked() {
        let refused = [
            (
                json!({"field": "industry", "type": "in", "value": "Software"}),
                "array",
            ),
            (
                json!({"field": "industry", "type": "in", "value": []}),
                "array",
            ),
            (
                json!({"field": "employees", "type": "between", "value": [1]}),
                "two",
            ),
            (
                json!({"field": "employees", "type": "between", "value": 1}),
                "two",
            ),
            (
                json!({"field": "name", "type": "isNull", "value": "x"}),
                "no value",
            ),
            (
                json!({"field": "isPartner", "type": "isTrue", "value": false}),
                "no value",
            ),
            (json!({"field": "name", "type": "equals"}), "text"),
            (
                json!({"field": "name", "type": "equals", "value": ["a"]}),
                "text",
            ),
            (
                json!({"field": "name", "type": "equals", "value": {"a": 1}}),
                "text",
            ),
            (
                json!({"field": "name", "type": "equals", "value": true}),
                "text",
            ),
            (
                json!({"field": "name", "type": "in", "value": ["a", null]}),
                "text",
            ),
            (
                json!({"field": "employees", "type": "equals", "value": "ten"}),
                "number",
            ),
            (
                json!({"field": "employees", "type": "equals", "value": "1e999"}),
                "number",
            ),
            (
                json!({"field": "foundedOn", "type": "equals", "value": "24/12/2026"}),
                "YYYY-MM-DD",
            ),
            (
                json!({"field": "foundedOn", "type": "equals", "value": "2026-13-01"}),
                "YYYY-MM-DD",
            ),
            (
                json!({"field": "createdAt", "type": "equals", "value": "2026-11-24T10:00:00Z"}),
                "HH:MM:SS",
            ),
            (
                json!({"field": "campaignId", "type": "equals", "value": "a/b"}),
                "record id",
            ),
            (
                json!({"field": "campaignId", "type": "equals", "value": 17}),
                "record id",
            ),
        ];
        for (condition, expected) in refused {
            let error = check("Account", json!([condition.clone()])).unwrap_err();
            assert_eq!(error.code().as_str(), "INVALID_ARGUMENT", "{condition}");
            let field = condition["field"].as_str().unwrap_or_default();
            assert!(
                error.message().contains(&format!("`{field}`")),
                "{}",
                error.message()
            );
            assert!(
                error.message().contains(expected) || error.suggestion().contains(expected),
                "{condition}: {} / {}",
                error.message(),
                error.suggestion()
            );
        }
        let many: Vec<String> = (0..101).map(|i| i.to_string()).collect();
        let error = check(
            "Account",
            json!([{"field": "name", "type": "in", "value": many}]),
        );
        assert_eq!(
            error.map_err(|e| e.code().as_str()),
            Err("INVALID_ARGUMENT")
        );
        let parent = json!([{"field": "parentType", "type": "equals", "value": "Acc ount"}]);
        assert!(check("Meeting", parent).is_err());
    }

    /// Dates follow `rules::date`, as the write validator does: a day that does not exist is
    /// refused (it was taken before, with any month 01–12 and day 01–31, and year 0000).
    #[test]
    fn dates_and_date_times_must_exist() {
        for (field, value) in [
            ("foundedOn", "2026-02-30"),
            ("foundedOn", "2026-02-29"),
            ("foundedOn", "2026-04-31"),
            ("foundedOn", "0000-01-01"),
            ("createdAt", "2026-02-30"),
            ("createdAt", "2026-02-30 10:00:00"),
            ("createdAt", "2026-04-31 10:00"),
        ] {
            let condition = json!({"field": field, "type": "equals", "value": value});
            let error = check("Account", json!([condition])).unwrap_err();
            assert_eq!(error.code().as_str(), "INVALID_ARGUMENT", "{value}");
            assert!(error.message().contains(value), "{}", error.message());
        }
        for (field, value) in [
            ("foundedOn", "2028-02-29"),
            ("createdAt", "2028-02-29"),
            ("createdAt", "2028-02-29 23:59"),
            ("createdAt", "2028-02-29 23:59:59"),
        ] {
            let condition = json!({"field": field, "type": "equals", "value": value});
            assert!(check("Account", json!([condition])).is_ok(), "{value}");
        }
    }

    #[test]
    fn enum_values_must_be_options() {
        let error = check(
            "Account",
            json!([{"field": "industry", "type": "in", "value": ["Software", "Sofware"]}]),
        )
        .unwrap_err();
        assert_eq!(error.code().as_str(), "INVALID_ARGUMENT");
        assert!(error.message().contains("\"Sofware\"") && error.message().contains("`industry`"));
        assert!(error.suggestion().contains("\"Software\""));
        assert!(error.suggestion().contains("\"Apparel & Accessories\""));
        let priority = json!([{"field": "priority", "type": "equals", "value": 5}]);
        assert!(matches!(
            check("Opportunity", priority),
            Err(ValidationError::NotAnOption { .. })
        ));
    }

    fn nested(levels: usize) -> Value {
        let mut condition = json!({"field": "name", "type": "equals", "value": "x"});
        for _ in 0..levels {
            condition = json!({"type": "and", "value": [condition]});
        }
        json!([condition])
    }

    #[test]
    fn depth_is_limited() {
        assert!(check("Account", nested(4)).is_ok(), "five levels");
        let error = check("Account", nested(5)).unwrap_err();
        assert_eq!(error.code().as_str(), "INVALID_ARGUMENT");
        assert!(
            error
                .message()
                .contains("where[0].value[0].value[0].value[0].value[0]")
        );
        assert!(error.message().contains('5'));
    }

    #[test]
    fn the_number_of_conditions_is_limited() {
        let condition = json!({"field": "name", "type": "equals", "value": "x"});
        let fifty = Value::Array(vec![condition.clone(); 50]);
        assert!(check("Account", fifty).is_ok());
        let fifty_one = Value::Array(vec![condition.clone(); 51]);
        let error = check("Account", fifty_one).unwrap_err();
        assert_eq!(error.code().as_str(), "INVALID_ARGUMENT");
        assert!(error.message().contains("50"));
        // Groups count too.
        let grouped = json!([{"type": "or", "value": vec![condition; 50]}]);
        assert!(matches!(
            check("Account", grouped),
            Err(ValidationError::TooManyConditions { max: 50 })
        ));
    }

    #[test]
    fn malformed_groups_are_refused_where_they_are() {
        let cases = [
            (
                json!([{"field": "status", "type": "or", "value": ["Held", "Planned"]}]),
                "where[0]",
                "`in`",
            ),
            (
                json!([{"type": "or", "value": []}]),
                "where[0]",
                "non-empty",
            ),
            (json!([{"type": "and"}]), "where[0]", "non-empty"),
            (
                json!([{"type": "or", "value": [{"field": "status", "type": "isNull"}, "Held"]}]),
                "where[0].value[1]",
                "not a condition",
            ),
            (
                json!([{"type": "or", "value": [{"field": "status", "type": "isNull", "extra": 1}]}]),
                "where[0].value[0]",
                "extra",
            ),
        ];
        for (conditions, at, said) in cases {
            let error = check("Meeting", conditions).unwrap_err();
            assert_eq!(error.code().as_str(), "INVALID_ARGUMENT");
            assert!(error.message().starts_with(at), "{}", error.message());
            assert!(error.message().contains(said), "{}", error.message());
        }
        let error = check(
            "Meeting",
            json!([{"type": "or", "value": [
                {"field": "status", "type": "isNull"},
                {"field": "status", "type": "equals", "value": "Gone"}
            ]}]),
        )
        .unwrap_err();
        assert!(
            error.message().starts_with("where[0].value[1]"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn unknown_keys_are_refused_by_the_input_type() {
        let parsed = serde_json::from_value::<Vec<WhereCondition>>(
            json!([{"field": "name", "type": "equals", "value": "x", "extra": 1}]),
        );
        assert!(parsed.is_err());
    }

    #[test]
    fn the_fitting_table_is_consistent() {
        for operator in Operator::ALL {
            assert_eq!(Operator::parse(operator.as_str()), Some(operator));
        }
        assert_eq!(
            operators_for(AttributeKind::Bool),
            [Operator::IsTrue, Operator::IsFalse]
        );
        for kind in [
            AttributeKind::Text,
            AttributeKind::Enum,
            AttributeKind::Number,
            AttributeKind::Date,
            AttributeKind::DateTime,
            AttributeKind::Id,
            AttributeKind::EntityName,
            AttributeKind::List,
            AttributeKind::Opaque,
        ] {
            let fitting = operators_for(kind);
            assert!(!fitting.contains(&Operator::IsTrue), "{kind:?}");
            assert!(fitting.contains(&Operator::IsNull), "{kind:?}");
        }
    }

    /// Any JSON at all: objects with the right keys more often than not.
    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            any::<String>().prop_map(Value::String),
            prop::sample::select(vec![
                "name",
                "industry",
                "employees",
                "isPartner",
                "or",
                "and",
                "in",
                "equals",
                "between",
                "isNull",
                "2026-01-01",
                "6b05838b2c728cbdb",
                "Software",
            ])
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                (
                    prop::sample::select(vec!["field", "type", "value", "attribute", "other"]),
                    inner.clone(),
                    prop::sample::select(vec!["field", "type", "value"]),
                    inner,
                )
                    .prop_map(|(k1, v1, k2, v2)| json!({k1: v1, k2: v2})),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn arbitrary_input_never_panics(input in any_json(), which in 0..3usize) {
            let entity = entity(["Account", "Meeting", "Opportunity"][which]);
            let list = match input {
                Value::Array(items) => items,
                other => vec![other],
            };
            let conditions: Vec<WhereCondition> = list
                .iter()
                .filter_map(|item| WhereCondition::deserialize(item).ok())
                .collect();
            if let Err(error) = validate(entity, &conditions) {
                prop_assert!(!error.message().is_empty() && !error.suggestion().is_empty());
                prop_assert!(["INVALID_FIELD", "INVALID_OPERATOR", "INVALID_ARGUMENT"]
                    .contains(&error.code().as_str()), "{}", error.code().as_str());
            }
        }

        #[test]
        fn arbitrary_values_never_panic(
            field in prop::sample::select(vec![
                "name", "industry", "employees", "rating", "isPartner", "foundedOn", "createdAt",
                "campaignId", "tags", "teamsIds", "barcode", "id", "nope", "campaign",
            ]),
            operator in prop::sample::select(
                Operator::ALL.iter().map(|op| op.as_str()).chain(["or", "and", "x"]).collect::<Vec<_>>()
            ),
            value in any_json(),
        ) {
            let condition = WhereCondition {
                field: Some(field.to_owned()),
                operator: operator.to_owned(),
                value: Some(value),
            };
            if let Ok(filter) = validate(entity("Account"), &[condition]) {
                for condition in filter.conditions() {
                    if let Condition::Comparison { attribute, .. } = condition {
                        prop_assert!(names::is_name(attribute));
                    }
                }
            }
        }
    }

    #[test]
    fn a_lone_zero_inside_a_group_is_kept_from_being_dropped() {
        let group = |condition: Value| json!([{"type": "or", "value": [condition, {"field": "name", "type": "isNull"}]}]);
        // A number: sent as "0.0", which EspoCRM keeps (and MySQL reads as 0).
        let filter = check(
            "Account",
            group(json!({"field": "employees", "type": "equals", "value": 0})),
        )
        .expect("valid");
        let Condition::Group { conditions, .. } = &filter.conditions()[0] else {
            panic!("a group: {filter:?}");
        };
        assert_eq!(
            conditions[0],
            compare("employees", Operator::Equals, one("0.0"))
        );
        // At the top level nothing is dropped, so nothing changes.
        let filter = check(
            "Account",
            json!([{"field": "employees", "type": "greaterThan", "value": "0"}]),
        )
        .expect("valid");
        assert_eq!(
            filter.conditions()[0],
            compare("employees", Operator::GreaterThan, one("0"))
        );
        // A text "0" has no such spelling: refused, naming the place and a way out.
        let error = check(
            "Account",
            group(json!({"field": "name", "type": "equals", "value": "0"})),
        )
        .expect_err("dropped by EspoCRM");
        assert_eq!(error.code().as_str(), "INVALID_ARGUMENT");
        assert!(
            error.message().starts_with("where[0].value[0]: "),
            "{}",
            error.message()
        );
        assert!(
            error.suggestion().contains("`in`"),
            "{}",
            error.suggestion()
        );
        // `in` with ["0"] and `contains` "0" are kept by EspoCRM as they are.
        for (operator, value) in [("in", json!(["0"])), ("contains", json!("0"))] {
            let filter = check(
                "Account",
                group(json!({"field": "name", "type": operator, "value": value})),
            );
            assert!(filter.is_ok(), "{operator}: {filter:?}");
        }
    }

    /// Every place a condition can go: (the indices of the groups leading there, the index in
    /// that group's list), the top level being the empty path.
    fn slots(items: &[Value], path: &[usize], out: &mut Vec<(Vec<usize>, usize)>) {
        for index in 0..=items.len() {
            out.push((path.to_vec(), index));
        }
        for (index, item) in items.iter().enumerate() {
            if let (Some("and" | "or"), Some(children)) =
                (item["type"].as_str(), item["value"].as_array())
            {
                let mut inner = path.to_vec();
                inner.push(index);
                slots(children, &inner, out);
            }
        }
    }

    /// Puts `leaf` into the slot; returns its position as refusals spell it.
    fn insert(items: &mut Vec<Value>, groups: &[usize], index: usize, leaf: Value) -> String {
        let mut at = String::from("where");
        let mut list = items;
        for group in groups {
            at.push_str(&format!("[{group}].value"));
            list = list[*group]["value"]
                .as_array_mut()
                .expect("a slot path leads through groups");
        }
        list.insert(index, leaf);
        format!("{at}[{index}]")
    }

    /// One faulty condition: the item, the code it must be refused with, the text the refusal
    /// must name, and whether the refusal names the position (a field is named by itself).
    fn fault() -> impl Strategy<Value = (Value, &'static str, String, bool)> {
        let quoted = |text: &str| format!("{:?}", excerpt(text));
        prop_oneof![
            "zz[a-zA-Z0-9_]{0,70}".prop_map(move |field| (
                json!({"field": field, "type": "equals", "value": "x"}),
                "INVALID_FIELD",
                quoted(&field),
                false
            )),
            any::<String>()
                .prop_filter("a name", |field| !names::is_name(field))
                .prop_map(move |field| (
                    json!({"field": field, "type": "isNull"}),
                    "INVALID_FIELD",
                    quoted(&field),
                    false
                )),
            any::<String>()
                .prop_filter("an operator", |operator| {
                    Operator::parse(operator).is_none() && GroupKind::parse(operator).is_none()
                })
                .prop_map(move |operator| (
                    json!({"field": "name", "type": operator, "value": "x"}),
                    "INVALID_OPERATOR",
                    quoted(&operator),
                    true
                )),
            prop::sample::select(vec!["like", "greaterThan", "in", "between", "equals"]).prop_map(
                |operator| (
                    json!({"field": "isPartner", "type": operator, "value": "1"}),
                    "INVALID_OPERATOR",
                    "`isPartner`".to_owned(),
                    true
                )
            ),
            "[a-z][a-z ]{0,8}".prop_map(|text| (
                json!({"field": "employees", "type": "greaterThan", "value": text}),
                "INVALID_ARGUMENT",
                "`employees`".to_owned(),
                true
            )),
            "Nope[a-z]{0,70}".prop_map(move |option| (
                json!({"field": "industry", "type": "in", "value": ["Software", option]}),
                "INVALID_ARGUMENT",
                quoted(&option),
                true
            )),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn a_refusal_names_the_offending_condition(
            trees in prop::collection::vec(crate::validate::strategies::valid_tree(), 0..4),
            (leaf, code, named, positional) in fault(),
            slot in any::<prop::sample::Index>(),
        ) {
            let mut trees = trees;
            while crate::validate::strategies::count(
                &trees.iter().map(|(_, tree)| tree.clone()).collect::<Vec<_>>(),
            ) + 1 > WhereLimits::default().max_conditions {
                trees.pop();
            }
            let mut items: Vec<Value> = trees.into_iter().map(|(input, _)| input).collect();
            let mut places = Vec::new();
            slots(&items, &[], &mut places);
            let (groups, index) = places[slot.index(places.len())].clone();
            let at = insert(&mut items, &groups, index, leaf);
            let error = check("Account", Value::Array(items)).expect_err("a faulty condition");
            let message = error.message();
            prop_assert_eq!(error.code().as_str(), code, "{}", message);
            prop_assert!(message.contains(&named), "{message:?} does not name {named}");
            if positional {
                prop_assert!(message.starts_with(&format!("{at}: ")), "{message:?} is not at {at}");
            }
            prop_assert!(!error.suggestion().is_empty());
        }
    }
}
