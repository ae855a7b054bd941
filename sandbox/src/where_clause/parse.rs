//! EspoCRM's `where` filter language, as the list endpoints of EspoCRM 8.4.2 accept it: parsing
//! the decoded `where` parameter into [`WhereItem`]s (with the same validation order, error
//! statuses and reasons as the real server) and evaluating them against in-memory records with
//! the semantics of the SQL EspoCRM would have run on MariaDB.
//!
//! Where the fixtures are silent, behaviour follows EspoCRM's own code path: an item is first
//! built (`Item::fromRaw`, whose failures are HTTP 500 without a reason), then the whole tree is
//! checked (`Where\Checker`: forbidden sub-queries and expressions, attribute and relation
//! existence), and only then converted (`ItemGeneralConverter`: unknown types, bad values). So
//! an item with an unknown type *and* an unknown attribute reports the attribute. Evaluation
//! mirrors MySQL: comparisons involving NULL are never true, text compares case- and
//! accent-insensitively with trailing spaces ignored (`utf8mb4_unicode_ci`, approximated), a
//! number compared with a string compares numerically, and a date-only value compared with a
//! datetime means midnight. Two quirks of EspoCRM's SQL composer are kept on purpose: inside
//! an `and`/`or`/`not` group an item whose value is `"0"`, `0.0` or an empty array is dropped,
//! and a group left empty that way is dropped too (at the top level it matches everything).

use std::cmp::Ordering;

use chrono::{Datelike, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};
use serde_json::{Map, Value};

/// How an attribute's values are stored and therefore compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttributeKind {
    /// varchar/text: compared as text under a case-insensitive collation.
    Text,
    /// int/float/currency: compared numerically.
    Number,
    /// bool (a tinyint column): compared numerically, `true` is 1.
    Bool,
    /// `YYYY-MM-DD`.
    Date,
    /// `YYYY-MM-DD HH:MM:SS`, UTC.
    DateTime,
    /// A record id (or a foreign-key attribute such as `accountId`): compared as text.
    Id,
    /// enum: compared as text.
    Enum,
    /// array/multiEnum: a JSON array; `array*` items look at its elements, other items at its
    /// JSON text.
    Array,
    /// jsonObject: compared as its JSON text.
    Object,
}

/// What the entity being filtered looks like.
pub trait Schema {
    /// None when the entity has no such attribute.
    fn attribute_kind(&self, attribute: &str) -> Option<AttributeKind>;

    /// True when `name` is a link of the entity (linkedWith, isLinked, … take link names).
    fn is_link(&self, name: &str) -> bool;

    /// The entity type `link` points to. EspoCRM checks that every id given to `linkedWith`,
    /// `notLinkedWith` and `linkedWithAll` exists there (403 otherwise); returning None (the
    /// default) skips that check.
    fn link_entity(&self, _link: &str) -> Option<String> {
        None
    }

    /// Whether `entity_type` has a record with this id; only asked when [`Schema::link_entity`]
    /// names an entity type. Defaults to true.
    fn record_exists(&self, _entity_type: &str, _id: &str) -> bool {
        true
    }
}

/// One record to test against parsed where items.
pub trait Target {
    /// The attribute's stored value; None (or JSON null) is SQL NULL.
    fn attribute(&self, attribute: &str) -> Option<Value>;

    /// Ids of the records linked to this one through `link`.
    fn linked_ids(&self, link: &str) -> Vec<String>;
}

/// A value as EspoCRM's ORM binds it into SQL.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// SQL NULL: any comparison with it is unknown, so never true.
    Null,
    /// A quoted string (everything from a query string is one).
    Text(String),
    /// A number (from searchParams JSON).
    Number(f64),
    /// A boolean, bound as 1 or 0.
    Bool(bool),
    /// An array or object where a scalar was expected: matches nothing.
    Unbindable,
}

/// A binary SQL comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `=`
    Equals,
    /// `!=`
    NotEquals,
    /// `<`
    LessThan,
    /// `>`
    GreaterThan,
    /// `<=`
    LessThanOrEquals,
    /// `>=`
    GreaterThanOrEquals,
}

impl Comparison {
    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Comparison::Equals => ordering == Ordering::Equal,
            Comparison::NotEquals => ordering != Ordering::Equal,
            Comparison::LessThan => ordering == Ordering::Less,
            Comparison::GreaterThan => ordering == Ordering::Greater,
            Comparison::LessThanOrEquals => ordering != Ordering::Greater,
            Comparison::GreaterThanOrEquals => ordering != Ordering::Less,
        }
    }
}

/// How a group combines its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    /// All items hold (an empty `and` holds).
    And,
    /// Some item holds. An empty `or` only survives at the top level, where EspoCRM's SQL
    /// composer drops it, so it holds.
    Or,
    /// `id NOT IN (records matching all items)`: the complement of an `and`, so NULLs inside
    /// make it true and an empty `not` matches nothing.
    Not,
}

/// Date filters relative to the current day; resolved against a [`Clock`] when evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelativeDate {
    /// `today`
    Today,
    /// `past`
    Past,
    /// `future`
    Future,
    /// `lastSevenDays`
    LastSevenDays,
    /// `lastXDays` with the number of days.
    LastXDays(i64),
    /// `nextXDays` with the number of days.
    NextXDays(i64),
    /// `olderThanXDays` with the number of days.
    OlderThanXDays(i64),
    /// `afterXDays` with the number of days.
    AfterXDays(i64),
    /// `currentMonth`
    CurrentMonth,
    /// `lastMonth`
    LastMonth,
    /// `nextMonth`
    NextMonth,
    /// `currentQuarter`
    CurrentQuarter,
    /// `lastQuarter`
    LastQuarter,
    /// `currentYear`
    CurrentYear,
    /// `lastYear`
    LastYear,
    /// `currentFiscalYear` (fiscal year shift 0, the default: the calendar year).
    CurrentFiscalYear,
    /// `lastFiscalYear`
    LastFiscalYear,
    /// `currentFiscalQuarter`
    CurrentFiscalQuarter,
    /// `lastFiscalQuarter`
    LastFiscalQuarter,
}

/// What a link item asks about the linked ids.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkTest {
    /// `linkedWith`: linked to at least one of the ids.
    AnyOf(Vec<String>),
    /// `notLinkedWith`: linked to none of the ids.
    NoneOf(Vec<String>),
    /// `linkedWithAll`: linked to every id.
    AllOf(Vec<String>),
    /// `isLinked`
    Linked,
    /// `isNotLinked`
    NotLinked,
}

/// What an array item asks about the elements of an array attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum ArrayTest {
    /// `arrayAnyOf`
    AnyOf(Vec<Operand>),
    /// `arrayNoneOf` (also true for an empty or NULL array)
    NoneOf(Vec<Operand>),
    /// `arrayAllOf`
    AllOf(Vec<Operand>),
    /// `arrayIsEmpty` (NULL counts as empty)
    Empty,
    /// `arrayIsNotEmpty`
    NotEmpty,
}

/// One parsed where item, already reduced to what EspoCRM's SQL would test.
#[derive(Debug, Clone, PartialEq)]
pub enum WhereItem {
    /// `and`, `or`, `not` (and `between`, which is an `and` of two comparisons).
    Group {
        kind: GroupKind,
        items: Vec<WhereItem>,
    },
    /// `attribute <op> operand`: equals, notEquals, on, notOn, before, after, greaterThan,
    /// lessThan, greaterThanOrEquals, lessThanOrEquals, isTrue, isFalse.
    Compare {
        attribute: String,
        kind: AttributeKind,
        op: Comparison,
        operand: Operand,
    },
    /// `attribute [NOT] IN (…)`: in, notIn, and equals/notEquals with an array value.
    In {
        attribute: String,
        kind: AttributeKind,
        negated: bool,
        operands: Vec<Operand>,
    },
    /// `attribute [NOT] LIKE pattern`: like, notLike, startsWith, endsWith, contains,
    /// notContains. A missing pattern (`LIKE NULL`) matches nothing.
    Like {
        attribute: String,
        negated: bool,
        pattern: Option<String>,
    },
    /// `attribute IS [NOT] NULL`: isNull, isNotNull, ever, and equals/notEquals without a value.
    Null { attribute: String, negated: bool },
    /// today, past, lastXDays, currentMonth, …; `date_time` is set for items sent with
    /// `dateTime: true` (what EspoCRM's web UI sends for datetime fields), which compare
    /// against the current moment and whole days instead of midnight.
    Relative {
        attribute: String,
        kind: AttributeKind,
        date: RelativeDate,
        date_time: bool,
    },
    /// linkedWith, notLinkedWith, linkedWithAll, isLinked, isNotLinked.
    Link { link: String, test: LinkTest },
    /// arrayAnyOf, arrayNoneOf, arrayAllOf, arrayIsEmpty, arrayIsNotEmpty.
    Array { attribute: String, test: ArrayTest },
    /// `any` (true) and `none` (false).
    Constant(bool),
}

/// Why a where parameter was rejected; maps to the status and `X-Status-Reason` EspoCRM sends.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WhereError {
    /// 400 `Unknown where item type 'X'.`
    #[error("Unknown where item type '{0}'.")]
    UnknownType(String),
    /// 400 `Bad where item 'X'.` (e.g. `in` or `between` with a scalar value)
    #[error("Bad where item '{0}'.")]
    BadItem(String),
    /// 400 `Not existing attribute 'X' in where.`
    #[error("Not existing attribute '{0}' in where.")]
    UnknownAttribute(String),
    /// 400 `Not existing relation 'X' in where.` (a link item naming no link)
    #[error("Not existing relation '{0}' in where.")]
    UnknownRelation(String),
    /// 400 with this reason, e.g. `Bad where item. Empty value.`
    #[error("{0}")]
    BadRequest(String),
    /// 403 with this reason, e.g. `Sub-queries are forbidden in where.`
    #[error("{0}")]
    Forbidden(String),
    /// 500 with no reason: an item without `attribute` where one is needed, or not an object at all
    #[error("malformed where item")]
    Malformed,
}

impl WhereError {
    /// The HTTP status EspoCRM answers with.
    pub fn status(&self) -> u16 {
        match self {
            WhereError::UnknownType(_)
            | WhereError::BadItem(_)
            | WhereError::UnknownAttribute(_)
            | WhereError::UnknownRelation(_)
            | WhereError::BadRequest(_) => 400,
            WhereError::Forbidden(_) => 403,
            WhereError::Malformed => 500,
        }
    }

    /// The `X-Status-Reason` header value; None when EspoCRM sends none.
    pub fn reason(&self) -> Option<String> {
        match self {
            WhereError::Malformed => None,
            other => Some(other.to_string()),
        }
    }
}

/// Which of EspoCRM's restrictions apply while parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Reject `not`, `subQueryIn`, `subQueryNotIn` and attribute expressions (anything with
    /// `.` or `:`, a leading `#`, or a literal) with 403, as EspoCRM does for every API list
    /// request (`withStrictAccessControl`).
    pub forbid_complex_expressions: bool,
    /// Check the ids given to link items (strings only; existing records, see
    /// [`Schema::link_entity`]), as EspoCRM's where permission check does.
    pub check_permissions: bool,
}

impl ParseOptions {
    /// What the REST API applies to `where` on list requests.
    pub const API: ParseOptions = ParseOptions {
        forbid_complex_expressions: true,
        check_permissions: true,
    };

    /// No restrictions: for filters the sandbox builds itself (e.g. primary filters), and for
    /// exercising `not` groups.
    pub const TRUSTED: ParseOptions = ParseOptions {
        forbid_complex_expressions: false,
        check_permissions: false,
    };
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions::API
    }
}

/// The moment filters such as `today` or `lastSevenDays` are relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// The current time, UTC (EspoCRM's configured time zone in the recordings).
    pub now: NaiveDateTime,
}

impl Clock {
    /// The current day.
    pub fn today(&self) -> NaiveDate {
        self.now.date()
    }
}

/// The `where` value of a decoded query string, as EspoCRM's `SearchParamsFetcher` picks it:
/// `whereGroup` if present, else `where`; anything that is not an array is ignored (Null).
pub fn where_from_query(query: &Map<String, Value>) -> Value {
    let chosen = query
        .get("whereGroup")
        .filter(|value| !value.is_null())
        .or_else(|| query.get("where"));
    match chosen {
        Some(value @ (Value::Array(_) | Value::Object(_))) => value.clone(),
        _ => Value::Null,
    }
}

/// The legacy items EspoCRM lifts out of a top-level `where` before filtering
/// (`SearchParams::adjustParams`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LegacyFilters {
    /// From `{"type": "bool", "value": [...]}`: replaces `boolFilterList`.
    pub bool_filter_list: Option<Value>,
    /// From `{"type": "textFilter", "value": ...}`: replaces `textFilter`.
    pub text_filter: Option<Value>,
    /// From `{"type": "primary", "value": ...}`: replaces `primaryFilter`.
    pub primary_filter: Option<Value>,
}

/// Splits the legacy `bool`, `textFilter` and `primary` items (with a usable value) off a
/// top-level `where`, returning the remaining items as a list, as EspoCRM does before [`parse`]
/// sees them. A null or empty `where` is returned unchanged.
pub fn take_legacy_filters(where_value: &Value) -> (Value, LegacyFilters) {
    let mut legacy = LegacyFilters::default();
    let Some(items) = php_array_values(where_value).filter(|items| !items.is_empty()) else {
        return (where_value.clone(), legacy);
    };
    let mut rest = Vec::new();
    for item in items {
        let field = |name: &str| match item {
            Value::Object(map) => map.get(name),
            _ => None,
        };
        let item_type = field("type").and_then(Value::as_str);
        let value = field("value").filter(|value| php_truthy(value));
        match (item_type, value) {
            (Some("bool"), Some(value)) if php_array_values(value).is_some() => {
                legacy.bool_filter_list = Some(value.clone());
            }
            (Some("textFilter"), Some(value)) => legacy.text_filter = Some(value.clone()),
            (Some("primary"), Some(value)) => legacy.primary_filter = Some(value.clone()),
            _ => rest.push(item.clone()),
        }
    }
    (Value::Array(rest), legacy)
}

/// Parses the decoded `where` parameter with the API's restrictions ([`ParseOptions::API`]).
///
/// `value` is the decoded `where` parameter (array, or PHP object with numeric keys, or from
/// searchParams JSON where values may be numbers/bools/arrays). Null means no filter; any other
/// scalar is the 400 `where should be array.` EspoCRM gives for searchParams (the query-string
/// form drops such a value first, see [`where_from_query`]). The returned items are ANDed.
pub fn parse(value: &Value, schema: &dyn Schema) -> Result<Vec<WhereItem>, WhereError> {
    parse_with(value, schema, ParseOptions::API)
}

/// [`parse`] with explicit restrictions.
pub fn parse_with(
    value: &Value,
    schema: &dyn Schema,
    options: ParseOptions,
) -> Result<Vec<WhereItem>, WhereError> {
    let raw_items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(_) | Value::Object(_) => php_array_values(value).unwrap_or_default(),
        _ => return Err(WhereError::BadRequest("where should be array.".into())),
    };
    for raw in &raw_items {
        check(raw, schema, options)?;
    }
    let mut items = Vec::new();
    for raw in raw_items {
        match convert(raw, schema)? {
            Part::Keep(item) | Part::DroppedInGroups(item) => items.push(item),
            Part::Nothing => {}
        }
    }
    Ok(items)
}

/// True when `target` passes every item (the top-level items are ANDed).
pub fn matches_all(items: &[WhereItem], target: &dyn Target, clock: &Clock) -> bool {
    items.iter().all(|item| matches(item, target, clock))
}

// ---------------------------------------------------------------------------------------------
// Building items (Item::fromRaw)

/// Types that need no `attribute`.
const NO_ATTRIBUTE_TYPES: [&str; 5] = ["and", "or", "not", "subQueryIn", "subQueryNotIn"];
/// Types whose value is a list of items.
const NESTING_TYPES: [&str; 5] = ["or", "and", "not", "subQueryIn", "subQueryNotIn"];
/// Types rejected when complex expressions are forbidden.
const SUB_QUERY_TYPES: [&str; 3] = ["subQueryIn", "subQueryNotIn", "not"];
/// Types whose `attribute` is a link name.
const LINK_TYPES: [&str; 7] = [
    "inCategory",
    "isUserFromTeams",
    "linkedWith",
    "notLinkedWith",
    "linkedWithAll",
    "isLinked",
    "isNotLinked",
];
/// Link types whose value is a list of ids.
const LINK_WITH_IDS_TYPES: [&str; 5] = [
    "inCategory",
    "isUserFromTeams",
    "linkedWith",
    "notLinkedWith",
    "linkedWithAll",
];
/// Keys an item may have (properties of EspoCRM's `Item` plus the ones it unsets).
const KNOWN_KEYS: [&str; 10] = [
    "type",
    "attribute",
    "value",
    "data",
    "noAttributeTypeList",
    "withNestedItemsTypeList",
    "field",
    "dateTime",
    "date",
    "timeZone",
];

/// A where item as `Item::fromRaw` leaves it.
#[derive(Debug, Clone)]
struct RawItem {
    item_type: String,
    /// Only when truthy in PHP's sense (not empty, not "0").
    attribute: Option<String>,
    value: Value,
    date_time: bool,
}

fn from_raw(raw: &Value) -> Result<RawItem, WhereError> {
    let Value::Object(map) = raw else {
        return Err(WhereError::Malformed);
    };
    let item_type = match map.get("type") {
        Some(value) if php_truthy(value) => {
            php_scalar_string(value).ok_or(WhereError::Malformed)?
        }
        _ => return Err(WhereError::Malformed),
    };
    // `$params['attribute'] ?? $params['field']`, coerced to ?string.
    let attribute = match map
        .get("attribute")
        .filter(|value| !value.is_null())
        .or_else(|| map.get("field").filter(|value| !value.is_null()))
    {
        Some(value) => Some(php_scalar_string(value).ok_or(WhereError::Malformed)?),
        None => None,
    };
    let mut value = map.get("value").cloned().unwrap_or(Value::Null);
    let date_time = map.get("dateTime").is_some_and(php_truthy);
    if map.keys().any(|key| !KNOWN_KEYS.contains(&key.as_str())) {
        return Err(WhereError::Malformed);
    }
    let attribute = attribute.filter(|name| !name.is_empty() && name != "0");
    if attribute.is_none() && !NO_ATTRIBUTE_TYPES.contains(&item_type.as_str()) {
        return Err(WhereError::Malformed);
    }
    if item_type == "and" || item_type == "or" {
        if value.is_null() {
            value = Value::Array(Vec::new());
        }
        if !is_php_list(&value) {
            return Err(WhereError::Malformed);
        }
    }
    Ok(RawItem {
        item_type,
        attribute,
        value,
        date_time,
    })
}

// ---------------------------------------------------------------------------------------------
// Checking the tree (Where\Checker)

fn check(raw: &Value, schema: &dyn Schema, options: ParseOptions) -> Result<(), WhereError> {
    let item = from_raw(raw)?;
    let item_type = item.item_type.as_str();
    if options.forbid_complex_expressions && SUB_QUERY_TYPES.contains(&item_type) {
        return Err(WhereError::Forbidden(
            "Sub-queries are forbidden in where.".into(),
        ));
    }
    if let Some(attribute) = &item.attribute {
        if options.forbid_complex_expressions && is_complex_expression(attribute) {
            return Err(WhereError::Forbidden(
                "Complex expressions are forbidden in where.".into(),
            ));
        }
        if LINK_TYPES.contains(&item_type) {
            if !schema.is_link(attribute) {
                return Err(WhereError::UnknownRelation(attribute.clone()));
            }
        } else if schema.attribute_kind(attribute).is_none() {
            return Err(WhereError::UnknownAttribute(attribute.clone()));
        }
        if options.check_permissions && LINK_WITH_IDS_TYPES.contains(&item_type) {
            check_link_ids(attribute, &item.value, schema)?;
        }
    }
    if NESTING_TYPES.contains(&item_type)
        && let Some(children) = php_array_values(&item.value)
    {
        for child in children {
            check(child, schema, options)?;
        }
    }
    Ok(())
}

fn check_link_ids(link: &str, value: &Value, schema: &dyn Schema) -> Result<(), WhereError> {
    if value.is_null() {
        return Ok(());
    }
    let ids = php_array_values(value).unwrap_or_else(|| vec![value]);
    let mut strings = Vec::with_capacity(ids.len());
    for id in ids {
        match id {
            Value::String(id) => strings.push(id.as_str()),
            _ => {
                return Err(WhereError::BadRequest(
                    "Bad where item. Non-string ID.".into(),
                ));
            }
        }
    }
    if let Some(entity) = schema.link_entity(link) {
        for id in strings {
            if !schema.record_exists(&entity, id) {
                return Err(WhereError::Forbidden(format!(
                    "Record '{entity}' `{id}` not found."
                )));
            }
        }
    }
    Ok(())
}

/// `QueryComposer\Util::isComplexExpression`.
fn is_complex_expression(attribute: &str) -> bool {
    let quoted = |quote: char| attribute.starts_with(quote) && attribute.ends_with(quote);
    quoted('\'')
        || quoted('"')
        || php_is_numeric(attribute)
        || ["NULL", "TRUE", "FALSE"].contains(&attribute.to_uppercase().as_str())
        || attribute.contains('.')
        || attribute.contains(':')
        || attribute.starts_with('#')
}

// ---------------------------------------------------------------------------------------------
// Converting (ItemGeneralConverter)

/// A converted item and how EspoCRM's SQL composer treats it.
enum Part {
    /// Always part of the query.
    Keep(WhereItem),
    /// Its SQL value is PHP-empty (`"0"`, `0.0`, `[]`): kept at the top level, silently
    /// dropped inside `and`/`or`/`not` groups.
    DroppedInGroups(WhereItem),
    /// Converts to nothing at all (`arrayAllOf`/`linkedWithAll` with no values).
    Nothing,
}

/// `Keep`, or `DroppedInGroups` when the SQL value is PHP-empty.
fn part_for(value: &Value, item: WhereItem) -> Part {
    if dropped_inside_groups(value) {
        Part::DroppedInGroups(item)
    } else {
        Part::Keep(item)
    }
}

fn convert(raw: &Value, schema: &dyn Schema) -> Result<Part, WhereError> {
    let item = from_raw(raw)?;
    if item.date_time {
        return match transform_date_time(item, schema)? {
            Transformed::Item(item) => convert_item(item, schema),
            Transformed::Part(part) => Ok(part),
        };
    }
    convert_item(item, schema)
}

fn convert_item(item: RawItem, schema: &dyn Schema) -> Result<Part, WhereError> {
    let value = &item.value;
    match item.item_type.as_str() {
        "or" => return group(GroupKind::Or, value, schema),
        "and" => return group(GroupKind::And, value, schema),
        kind @ ("not" | "subQueryNotIn" | "subQueryIn") => {
            if php_array_values(value).is_none() {
                return Err(WhereError::BadRequest("Bad where item.".into()));
            }
            // The items become an `and` item: a list is required.
            if !is_php_list(value) {
                return Err(WhereError::Malformed);
            }
            let items = group_items(value, schema)?;
            let kind = if kind == "subQueryIn" {
                GroupKind::And
            } else {
                GroupKind::Not
            };
            return Ok(Part::Keep(WhereItem::Group { kind, items }));
        }
        _ => {}
    }
    let Some(attribute) = item.attribute.clone() else {
        return Err(WhereError::BadRequest(
            "Bad where item. No 'attribute'.".into(),
        ));
    };
    if let Some(part) = convert_link(&item.item_type, &attribute, value)? {
        return Ok(part);
    }
    if LINK_TYPES.contains(&item.item_type.as_str()) {
        // inCategory and isUserFromTeams are not imitated.
        return Err(WhereError::UnknownType(item.item_type.clone()));
    }
    if let Some(part) = convert_array(&item.item_type, &attribute, value)? {
        return Ok(part);
    }
    let kind = schema
        .attribute_kind(&attribute)
        .ok_or_else(|| WhereError::UnknownAttribute(attribute.clone()))?;
    let compare = |op: Comparison| {
        part_for(
            value,
            WhereItem::Compare {
                attribute: attribute.clone(),
                kind,
                op,
                operand: operand(value),
            },
        )
    };
    let pattern = |pattern: String, negated: bool| {
        Part::Keep(WhereItem::Like {
            attribute: attribute.clone(),
            negated,
            pattern: Some(pattern),
        })
    };
    let keep = |item: WhereItem| Ok(Part::Keep(item));
    let relative = |date: RelativeDate| {
        keep(WhereItem::Relative {
            attribute: attribute.clone(),
            kind,
            date,
            date_time: false,
        })
    };
    match item.item_type.as_str() {
        "columnLike" | "columnIn" | "columnNotIn" | "columnIsNotNull" | "columnEquals"
        | "columnNotEquals" => Err(WhereError::BadRequest("Bad where item 'column'.".into())),
        "in" | "notIn" => {
            let Some(values) = php_array_values(value) else {
                return Err(WhereError::BadItem(item.item_type.clone()));
            };
            Ok(part_for(
                value,
                WhereItem::In {
                    attribute,
                    kind,
                    negated: item.item_type == "notIn",
                    operands: values.into_iter().map(operand).collect(),
                },
            ))
        }
        "equals" | "on" => Ok(equality(attribute, kind, value, false)),
        "notEquals" | "notOn" => Ok(equality(attribute, kind, value, true)),
        "ever" | "isNotNull" => keep(WhereItem::Null {
            attribute,
            negated: true,
        }),
        "isNull" => keep(WhereItem::Null {
            attribute,
            negated: false,
        }),
        "today" => relative(RelativeDate::Today),
        "past" => relative(RelativeDate::Past),
        "future" => relative(RelativeDate::Future),
        "lastSevenDays" => relative(RelativeDate::LastSevenDays),
        "lastXDays" => relative(RelativeDate::LastXDays(php_intval(value))),
        "nextXDays" => relative(RelativeDate::NextXDays(php_intval(value))),
        "olderThanXDays" => relative(RelativeDate::OlderThanXDays(php_intval(value))),
        "afterXDays" => relative(RelativeDate::AfterXDays(php_intval(value))),
        "currentMonth" => relative(RelativeDate::CurrentMonth),
        "lastMonth" => relative(RelativeDate::LastMonth),
        "nextMonth" => relative(RelativeDate::NextMonth),
        "currentQuarter" => relative(RelativeDate::CurrentQuarter),
        "lastQuarter" => relative(RelativeDate::LastQuarter),
        "currentYear" => relative(RelativeDate::CurrentYear),
        "lastYear" => relative(RelativeDate::LastYear),
        "currentFiscalYear" => relative(RelativeDate::CurrentFiscalYear),
        "lastFiscalYear" => relative(RelativeDate::LastFiscalYear),
        "currentFiscalQuarter" => relative(RelativeDate::CurrentFiscalQuarter),
        "lastFiscalQuarter" => relative(RelativeDate::LastFiscalQuarter),
        "before" | "lessThan" => Ok(compare(Comparison::LessThan)),
        "after" | "greaterThan" => Ok(compare(Comparison::GreaterThan)),
        "lessThanOrEquals" => Ok(compare(Comparison::LessThanOrEquals)),
        "greaterThanOrEquals" => Ok(compare(Comparison::GreaterThanOrEquals)),
        "between" => {
            let values = php_array_values(value).unwrap_or_default();
            if values.len() < 2 {
                return Err(WhereError::BadItem("between".into()));
            }
            let bound = |index: usize, op: Comparison| WhereItem::Compare {
                attribute: attribute.clone(),
                kind,
                op,
                operand: php_index(value, index).map_or(Operand::Null, operand),
            };
            keep(WhereItem::Group {
                kind: GroupKind::And,
                items: vec![
                    bound(0, Comparison::GreaterThanOrEquals),
                    bound(1, Comparison::LessThanOrEquals),
                ],
            })
        }
        "like" | "notLike" => Ok(part_for(
            value,
            WhereItem::Like {
                attribute,
                negated: item.item_type == "notLike",
                pattern: like_pattern(value),
            },
        )),
        "startsWith" => Ok(pattern(format!("{}%", php_concat_string(value)), false)),
        "endsWith" => Ok(pattern(format!("%{}", php_concat_string(value)), false)),
        "contains" => Ok(pattern(format!("%{}%", php_concat_string(value)), false)),
        "notContains" => Ok(pattern(format!("%{}%", php_concat_string(value)), true)),
        "isTrue" => Ok(Part::Keep(WhereItem::Compare {
            attribute,
            kind,
            op: Comparison::Equals,
            operand: Operand::Bool(true),
        })),
        "isFalse" => Ok(Part::Keep(WhereItem::Compare {
            attribute,
            kind,
            op: Comparison::Equals,
            operand: Operand::Bool(false),
        })),
        "any" => keep(WhereItem::Constant(true)),
        "none" => keep(WhereItem::Constant(false)),
        // inCategory, isUserFromTeams, expression and custom types are not imitated.
        other => Err(WhereError::UnknownType(other.to_string())),
    }
}

/// equals/notEquals: `= NULL` is `IS NULL`, an array value is `IN`.
fn equality(attribute: String, kind: AttributeKind, value: &Value, negated: bool) -> Part {
    if value.is_null() {
        return Part::Keep(WhereItem::Null { attribute, negated });
    }
    if let Some(values) = php_array_values(value) {
        return part_for(
            value,
            WhereItem::In {
                attribute,
                kind,
                negated,
                operands: values.into_iter().map(operand).collect(),
            },
        );
    }
    let op = if negated {
        Comparison::NotEquals
    } else {
        Comparison::Equals
    };
    part_for(
        value,
        WhereItem::Compare {
            attribute,
            kind,
            op,
            operand: operand(value),
        },
    )
}

fn group(kind: GroupKind, value: &Value, schema: &dyn Schema) -> Result<Part, WhereError> {
    let items = group_items(value, schema)?;
    let empty = items.is_empty();
    let item = WhereItem::Group { kind, items };
    Ok(if empty {
        Part::DroppedInGroups(item)
    } else {
        Part::Keep(item)
    })
}

/// The items of a group, without the ones EspoCRM's composer drops.
fn group_items(value: &Value, schema: &dyn Schema) -> Result<Vec<WhereItem>, WhereError> {
    let mut items = Vec::new();
    for child in php_array_values(value).unwrap_or_default() {
        if let Part::Keep(item) = convert(child, schema)? {
            items.push(item);
        }
    }
    Ok(items)
}

fn convert_link(item_type: &str, link: &str, value: &Value) -> Result<Option<Part>, WhereError> {
    let empty_value = || WhereError::BadRequest("Bad where item. Empty value.".into());
    let ids = || -> Vec<String> {
        php_array_values(value)
            .unwrap_or_else(|| vec![value])
            .into_iter()
            .map(php_concat_string)
            .collect()
    };
    let test = match item_type {
        "linkedWith" => {
            if !php_truthy(value) && php_array_values(value).is_none() {
                return Err(empty_value());
            }
            LinkTest::AnyOf(ids())
        }
        "notLinkedWith" => {
            if value.is_null() {
                return Err(empty_value());
            }
            LinkTest::NoneOf(ids())
        }
        "linkedWithAll" => {
            if !php_truthy(value) && php_array_values(value).is_none() {
                return Err(empty_value());
            }
            let ids = ids();
            if ids.is_empty() {
                return Ok(Some(Part::Nothing));
            }
            LinkTest::AllOf(ids)
        }
        "isLinked" => LinkTest::Linked,
        "isNotLinked" => LinkTest::NotLinked,
        _ => return Ok(None),
    };
    Ok(Some(Part::Keep(WhereItem::Link {
        link: link.to_string(),
        test,
    })))
}

fn convert_array(
    item_type: &str,
    attribute: &str,
    value: &Value,
) -> Result<Option<Part>, WhereError> {
    let no_value = !php_truthy(value) && php_array_values(value).is_none();
    let operands = || -> Vec<Operand> {
        php_array_values(value)
            .unwrap_or_else(|| vec![value])
            .into_iter()
            .map(operand)
            .collect()
    };
    let array_error = || WhereError::BadRequest("Bad where item 'array'. No value.".into());
    let test = match item_type {
        "arrayAnyOf" => {
            if no_value {
                return Err(WhereError::BadRequest("Bad where item. No value.".into()));
            }
            ArrayTest::AnyOf(operands())
        }
        "arrayNoneOf" => {
            if no_value {
                return Err(array_error());
            }
            ArrayTest::NoneOf(operands())
        }
        "arrayAllOf" => {
            if no_value {
                return Err(array_error());
            }
            let operands = operands();
            if operands.is_empty() {
                return Ok(Some(Part::Nothing));
            }
            ArrayTest::AllOf(operands)
        }
        "arrayIsEmpty" => ArrayTest::Empty,
        "arrayIsNotEmpty" => ArrayTest::NotEmpty,
        _ => return Ok(None),
    };
    Ok(Some(Part::Keep(WhereItem::Array {
        attribute: attribute.to_string(),
        test,
    })))
}

/// The result of EspoCRM's `DefaultDateTimeItemTransformer`.
enum Transformed {
    /// A plain item to convert (the transformer's output has no `dateTime` flag).
    Item(RawItem),
    /// A clock-relative filter, kept symbolic until evaluation.
    Part(Part),
}

/// Items flagged `dateTime: true`: whole days for date values, the current moment for
/// `past`/`future`. Types the transformer does not know keep their type but lose their value.
fn transform_date_time(item: RawItem, schema: &dyn Schema) -> Result<Transformed, WhereError> {
    let Some(attribute) = item.attribute.clone() else {
        return Err(WhereError::BadRequest(
            "Bad datetime where item. Empty 'attribute'.".into(),
        ));
    };
    let item_type = item.item_type.as_str();
    if matches!(item_type, "on" | "before" | "after") && !php_truthy(&item.value) {
        return Err(WhereError::BadRequest(
            "Bad where item. Empty value.".into(),
        ));
    }
    let relative = match item_type {
        "today" => Some(RelativeDate::Today),
        "past" => Some(RelativeDate::Past),
        "future" => Some(RelativeDate::Future),
        "lastSevenDays" => Some(RelativeDate::LastSevenDays),
        "lastXDays" => Some(RelativeDate::LastXDays(php_intval(&item.value))),
        "nextXDays" => Some(RelativeDate::NextXDays(php_intval(&item.value))),
        "olderThanXDays" => Some(RelativeDate::OlderThanXDays(php_intval(&item.value))),
        "afterXDays" => Some(RelativeDate::AfterXDays(php_intval(&item.value))),
        "currentMonth" => Some(RelativeDate::CurrentMonth),
        "lastMonth" => Some(RelativeDate::LastMonth),
        "nextMonth" => Some(RelativeDate::NextMonth),
        "currentQuarter" => Some(RelativeDate::CurrentQuarter),
        "lastQuarter" => Some(RelativeDate::LastQuarter),
        "currentYear" => Some(RelativeDate::CurrentYear),
        "lastYear" => Some(RelativeDate::LastYear),
        "currentFiscalYear" => Some(RelativeDate::CurrentFiscalYear),
        "lastFiscalYear" => Some(RelativeDate::LastFiscalYear),
        "currentFiscalQuarter" => Some(RelativeDate::CurrentFiscalQuarter),
        "lastFiscalQuarter" => Some(RelativeDate::LastFiscalQuarter),
        _ => None,
    };
    if let Some(date) = relative {
        let kind = schema
            .attribute_kind(&attribute)
            .ok_or_else(|| WhereError::UnknownAttribute(attribute.clone()))?;
        return Ok(Transformed::Part(Part::Keep(WhereItem::Relative {
            attribute,
            kind,
            date,
            date_time: true,
        })));
    }
    let text = |moment: NaiveDateTime| Value::String(format_date_time(moment));
    let (item_type, value) = match item_type {
        "on" => {
            let (from, short) = php_date_time(&item.value)?;
            let to = if short { end_of_day(from) } else { Some(from) };
            let to = to.ok_or_else(bad_date)?;
            ("between", Value::Array(vec![text(from), text(to)]))
        }
        "before" => ("before", text(php_date_time(&item.value)?.0)),
        "after" => {
            let (moment, short) = php_date_time(&item.value)?;
            let moment = if short {
                end_of_day(moment)
            } else {
                Some(moment)
            };
            ("after", text(moment.ok_or_else(bad_date)?))
        }
        "between" => {
            let values = php_array_values(&item.value).unwrap_or_default();
            if values.len() < 2 {
                return Err(WhereError::BadRequest("Bad where item. Bad value.".into()));
            }
            let (from, _) = php_date_time(php_index(&item.value, 0).unwrap_or(&Value::Null))?;
            let (to, short) = php_date_time(php_index(&item.value, 1).unwrap_or(&Value::Null))?;
            let to = if short { end_of_day(to) } else { Some(to) };
            let to = to.ok_or_else(bad_date)?;
            ("between", Value::Array(vec![text(from), text(to)]))
        }
        other => (other, Value::Null),
    };
    Ok(Transformed::Item(RawItem {
        item_type: item_type.to_string(),
        attribute: Some(attribute),
        value,
        date_time: false,
    }))
}

fn bad_date() -> WhereError {
    WhereError::BadRequest("Bad date value or timezone.".into())
}

/// `new DateTime($value)` for the formats EspoCRM clients send (PHP accepts more, e.g.
/// `tomorrow`); the flag says whether the text was date-only (`strlen <= 10`).
fn php_date_time(value: &Value) -> Result<(NaiveDateTime, bool), WhereError> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Array(_) | Value::Object(_) => return Err(WhereError::Malformed),
        Value::Null => return Err(bad_date()),
        other => php_concat_string(other),
    };
    let moment = parse_temporal(&text).ok_or_else(bad_date)?;
    Ok((moment, text.len() <= 10))
}

/// `+1 day -1 second`.
fn end_of_day(moment: NaiveDateTime) -> Option<NaiveDateTime> {
    moment.checked_add_signed(TimeDelta::try_seconds(86_399)?)
}

// ---------------------------------------------------------------------------------------------
// Evaluation

fn matches(item: &WhereItem, target: &dyn Target, clock: &Clock) -> bool {
    match item {
        WhereItem::Group { kind, items } => {
            let all = || items.iter().all(|item| matches(item, target, clock));
            match kind {
                GroupKind::And => all(),
                GroupKind::Or => {
                    items.is_empty() || items.iter().any(|item| matches(item, target, clock))
                }
                GroupKind::Not => !all(),
            }
        }
        WhereItem::Compare {
            attribute,
            kind,
            op,
            operand,
        } => sql_compare(target.attribute(attribute).as_ref(), *kind, operand)
            .is_some_and(|o| op.holds(o)),
        WhereItem::In {
            attribute,
            kind,
            negated,
            operands,
        } => sql_in(
            target.attribute(attribute).as_ref(),
            *kind,
            operands,
            *negated,
        ),
        WhereItem::Like {
            attribute,
            negated,
            pattern,
        } => match (
            target.attribute(attribute).as_ref().and_then(sql_text),
            pattern,
        ) {
            (Some(text), Some(pattern)) => like(&text, pattern) != *negated,
            _ => false,
        },
        WhereItem::Null { attribute, negated } => {
            target
                .attribute(attribute)
                .as_ref()
                .is_none_or(Value::is_null)
                != *negated
        }
        WhereItem::Relative {
            attribute,
            kind,
            date,
            date_time,
        } => relative_conditions(*date, *date_time, clock).is_some_and(|conditions| {
            conditions.iter().all(|(op, bound)| {
                sql_compare(
                    target.attribute(attribute).as_ref(),
                    *kind,
                    &Operand::Text(bound.clone()),
                )
                .is_some_and(|ordering| op.holds(ordering))
            })
        }),
        WhereItem::Link { link, test } => {
            let linked = target.linked_ids(link);
            let is_linked = |id: &String| linked.iter().any(|other| collate_eq(other, id));
            match test {
                LinkTest::AnyOf(ids) => ids.iter().any(is_linked),
                LinkTest::NoneOf(ids) => !ids.iter().any(is_linked),
                LinkTest::AllOf(ids) => ids.iter().all(is_linked),
                LinkTest::Linked => !linked.is_empty(),
                LinkTest::NotLinked => linked.is_empty(),
            }
        }
        WhereItem::Array { attribute, test } => {
            let elements: Vec<String> = match target.attribute(attribute).as_ref() {
                Some(Value::Array(values)) => values.iter().filter_map(sql_text).collect(),
                _ => Vec::new(),
            };
            let contains = |operand: &Operand| {
                elements.iter().any(|element| {
                    let element = Value::String(element.clone());
                    sql_compare(Some(&element), AttributeKind::Text, operand)
                        == Some(Ordering::Equal)
                })
            };
            match test {
                ArrayTest::AnyOf(operands) => operands.iter().any(contains),
                ArrayTest::NoneOf(operands) => !operands.iter().any(contains),
                ArrayTest::AllOf(operands) => operands.iter().all(contains),
                ArrayTest::Empty => elements.is_empty(),
                ArrayTest::NotEmpty => !elements.is_empty(),
            }
        }
        WhereItem::Constant(value) => *value,
    }
}

/// The comparisons a relative date filter stands for on `clock`'s day, as EspoCRM builds them;
/// None when the dates fall outside the calendar (the item then matches nothing).
fn relative_conditions(
    date: RelativeDate,
    date_time: bool,
    clock: &Clock,
) -> Option<Vec<(Comparison, String)>> {
    use Comparison::{Equals, GreaterThan, GreaterThanOrEquals, LessThan, LessThanOrEquals};
    let today = clock.today();
    let now = format_date_time(clock.now);
    let day = |days: i64| today.checked_add_signed(TimeDelta::try_days(days)?);
    let as_date = |date: NaiveDate| date.format("%Y-%m-%d").to_string();
    let midnight = |date: NaiveDate| format_date_time(date.and_time(NaiveTime::MIN));
    let month_start = today.with_day(1)?;
    let quarter_start = NaiveDate::from_ymd_opt(today.year(), (today.month0() / 3) * 3 + 1, 1)?;
    let year_start = NaiveDate::from_ymd_opt(today.year(), 1, 1)?;
    // Calendar periods: [from, to), or [from 00:00:00, to 00:00:00] with `dateTime`.
    let period = |from: Option<NaiveDate>, to: Option<NaiveDate>| {
        let (from, to) = (from?, to?);
        Some(if date_time {
            vec![
                (GreaterThanOrEquals, midnight(from)),
                (LessThanOrEquals, midnight(to)),
            ]
        } else {
            vec![
                (GreaterThanOrEquals, as_date(from)),
                (LessThan, as_date(to)),
            ]
        })
    };
    let months = |date: NaiveDate, count: i32| -> Option<NaiveDate> {
        if count >= 0 {
            date.checked_add_months(Months::new(count.unsigned_abs()))
        } else {
            date.checked_sub_months(Months::new(count.unsigned_abs()))
        }
    };
    match date {
        RelativeDate::CurrentMonth => period(Some(month_start), months(month_start, 1)),
        RelativeDate::LastMonth => period(months(month_start, -1), Some(month_start)),
        RelativeDate::NextMonth => period(months(month_start, 1), months(month_start, 2)),
        RelativeDate::CurrentQuarter | RelativeDate::CurrentFiscalQuarter => {
            period(Some(quarter_start), months(quarter_start, 3))
        }
        RelativeDate::LastQuarter | RelativeDate::LastFiscalQuarter => {
            period(months(quarter_start, -3), Some(quarter_start))
        }
        RelativeDate::CurrentYear | RelativeDate::CurrentFiscalYear => {
            period(Some(year_start), months(year_start, 12))
        }
        RelativeDate::LastYear | RelativeDate::LastFiscalYear => {
            period(months(year_start, -12), Some(year_start))
        }
        _ if date_time => {
            let end_of_today = format_date_time(today.and_hms_opt(23, 59, 59)?);
            Some(match date {
                RelativeDate::Today => vec![
                    (GreaterThanOrEquals, midnight(today)),
                    (LessThanOrEquals, end_of_today),
                ],
                RelativeDate::Past => vec![(LessThan, now)],
                RelativeDate::Future => vec![(GreaterThan, now)],
                RelativeDate::LastSevenDays => {
                    vec![
                        (GreaterThanOrEquals, midnight(day(-7)?)),
                        (LessThanOrEquals, now),
                    ]
                }
                RelativeDate::LastXDays(days) => vec![
                    (GreaterThanOrEquals, midnight(day(days.checked_neg()?)?)),
                    (LessThanOrEquals, now),
                ],
                // EspoCRM's `setTime(24, 59, 59)`: 00:59:59 on the day after.
                RelativeDate::NextXDays(days) => vec![
                    (GreaterThanOrEquals, now),
                    (
                        LessThanOrEquals,
                        format_date_time(day(days.checked_add(1)?)?.and_hms_opt(0, 59, 59)?),
                    ),
                ],
                RelativeDate::OlderThanXDays(days) => {
                    vec![(LessThan, midnight(day(days.checked_neg()?)?))]
                }
                RelativeDate::AfterXDays(days) => vec![(GreaterThan, midnight(day(days)?))],
                _ => return None,
            })
        }
        _ => Some(match date {
            RelativeDate::Today => vec![(Equals, as_date(today))],
            RelativeDate::Past => vec![(LessThan, as_date(today))],
            RelativeDate::Future => vec![(GreaterThan, as_date(today))],
            RelativeDate::LastSevenDays => vec![
                (GreaterThanOrEquals, as_date(day(-7)?)),
                (LessThanOrEquals, as_date(today)),
            ],
            RelativeDate::LastXDays(days) => vec![
                (GreaterThanOrEquals, as_date(day(days.checked_neg()?)?)),
                (LessThanOrEquals, as_date(today)),
            ],
            RelativeDate::NextXDays(days) => vec![
                (GreaterThanOrEquals, as_date(today)),
                (LessThanOrEquals, as_date(day(days)?)),
            ],
            RelativeDate::OlderThanXDays(days) => {
                vec![(LessThan, as_date(day(days.checked_neg()?)?))]
            }
            RelativeDate::AfterXDays(days) => vec![(GreaterThan, as_date(day(days)?))],
            _ => return None,
        }),
    }
}

/// `value IN (…)` / `value NOT IN (…)` with SQL's NULL rules; an empty list is the constant
/// EspoCRM's composer writes instead (`0` for IN, `1` for NOT IN).
fn sql_in(value: Option<&Value>, kind: AttributeKind, operands: &[Operand], negated: bool) -> bool {
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
fn sql_compare(value: Option<&Value>, kind: AttributeKind, operand: &Operand) -> Option<Ordering> {
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

fn operand(value: &Value) -> Operand {
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
fn sql_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        Value::Bool(flag) => Some(if *flag { "1" } else { "0" }.to_string()),
        Value::Number(number) => Some(number_text(number)),
        other => Some(other.to_string()),
    }
}

fn number_text(number: &serde_json::Number) -> String {
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
fn numeric_prefix(text: &str) -> f64 {
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
fn numeric_length(bytes: &[u8]) -> usize {
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

/// PHP's `is_numeric` (PHP 8: surrounding whitespace allowed, no hex).
fn php_is_numeric(text: &str) -> bool {
    let trimmed =
        text.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'));
    !trimmed.is_empty() && numeric_length(trimmed.as_bytes()) == trimmed.len()
}

/// Lenient MySQL-style date/datetime text: `YYYY-M-D`, optionally followed by a space or `T`
/// and `H:M[:S[.fraction]]`.
fn parse_temporal(text: &str) -> Option<NaiveDateTime> {
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

fn format_date_time(moment: NaiveDateTime) -> String {
    moment.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Text compared under a case- and accent-insensitive, PAD SPACE collation.
fn collate_cmp(left: &str, right: &str) -> Ordering {
    fold(left.trim_end_matches(' ')).cmp(&fold(right.trim_end_matches(' ')))
}

fn collate_eq(left: &str, right: &str) -> bool {
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
fn like(text: &str, pattern: &str) -> bool {
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

// ---------------------------------------------------------------------------------------------
// PHP value semantics

/// PHP truthiness: null, false, 0, 0.0, "", "0" and empty arrays are false.
fn php_truthy(value: &Value) -> bool {
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
fn dropped_inside_groups(value: &Value) -> bool {
    match value {
        Value::String(text) => text == "0",
        Value::Number(number) => number.is_f64() && number.as_f64() == Some(0.0),
        Value::Array(values) => values.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::Null | Value::Bool(_) => false,
    }
}

/// The values of a PHP array (JSON array or object) in order; None for scalars.
fn php_array_values(value: &Value) -> Option<Vec<&Value>> {
    match value {
        Value::Array(values) => Some(values.iter().collect()),
        Value::Object(map) => Some(map.values().collect()),
        _ => None,
    }
}

/// `$value[$index]`.
fn php_index(value: &Value, index: usize) -> Option<&Value> {
    match value {
        Value::Array(values) => values.get(index),
        Value::Object(map) => map.get(&index.to_string()),
        _ => None,
    }
}

/// A PHP array whose keys are exactly 0..n-1 in order.
fn is_php_list(value: &Value) -> bool {
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
fn php_scalar_string(value: &Value) -> Option<String> {
    match value {
        Value::Array(_) | Value::Object(_) => None,
        other => Some(php_concat_string(other)),
    }
}

/// `(string) $value` as string concatenation does it (arrays become "Array").
fn php_concat_string(value: &Value) -> String {
    match value {
        Value::Null | Value::Bool(false) => String::new(),
        Value::Bool(true) => "1".into(),
        Value::Number(number) => number_text(number),
        Value::String(text) => text.clone(),
        Value::Array(_) | Value::Object(_) => "Array".into(),
    }
}

/// The pattern of `like`/`notLike` as the ORM binds it; None for NULL or an array.
fn like_pattern(value: &Value) -> Option<String> {
    match value {
        Value::Null | Value::Array(_) | Value::Object(_) => None,
        Value::Bool(flag) => Some(if *flag { "1" } else { "0" }.into()),
        other => Some(php_concat_string(other)),
    }
}

/// PHP's `intval`.
fn php_intval(value: &Value) -> i64 {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query_string;
    use proptest::prelude::*;
    use serde_json::json;
    use std::collections::HashMap;

    /// Attributes and links of the fixtures' entities, plus the ones the property test uses.
    struct TestSchema;

    impl Schema for TestSchema {
        fn attribute_kind(&self, attribute: &str) -> Option<AttributeKind> {
            use AttributeKind::*;
            Some(match attribute {
                "name" | "lastName" | "description" | "emailAddress" => Text,
                "amount" | "probability" | "opportunityAmount" => Number,
                "emailAddressIsOptedOut" | "flag" => Bool,
                "closeDate" | "day" => Date,
                "dateEnd" | "createdAt" | "stamp" => DateTime,
                "id" | "accountId" => Id,
                "type" | "industry" | "status" | "stage" => Enum,
                "tags" => Array,
                "data" => Object,
                _ => return None,
            })
        }

        fn is_link(&self, name: &str) -> bool {
            matches!(name, "contacts" | "account" | "teams")
        }
    }

    /// A schema that also knows which contacts exist, for EspoCRM's id check of link items.
    struct CheckingSchema;

    impl Schema for CheckingSchema {
        fn attribute_kind(&self, attribute: &str) -> Option<AttributeKind> {
            TestSchema.attribute_kind(attribute)
        }

        fn is_link(&self, name: &str) -> bool {
            TestSchema.is_link(name)
        }

        fn link_entity(&self, link: &str) -> Option<String> {
            (link == "contacts").then(|| "Contact".to_string())
        }

        fn record_exists(&self, entity_type: &str, id: &str) -> bool {
            entity_type == "Contact" && id.starts_with('c')
        }
    }

    #[derive(Debug, Default)]
    struct Record {
        values: Map<String, Value>,
        links: HashMap<String, Vec<String>>,
    }

    impl Target for Record {
        fn attribute(&self, attribute: &str) -> Option<Value> {
            self.values.get(attribute).cloned()
        }

        fn linked_ids(&self, link: &str) -> Vec<String> {
            self.links.get(link).cloned().unwrap_or_default()
        }
    }

    fn record(values: Value) -> Record {
        match values {
            Value::Object(values) => Record {
                values,
                links: HashMap::new(),
            },
            _ => Record::default(),
        }
    }

    fn clock() -> Clock {
        clock_at("2026-11-24 12:00:00")
    }

    fn clock_at(now: &str) -> Clock {
        Clock {
            now: NaiveDateTime::parse_from_str(now, "%Y-%m-%d %H:%M:%S").expect("valid time"),
        }
    }

    fn items(where_value: Value) -> Vec<WhereItem> {
        parse(&where_value, &TestSchema).expect("where parses")
    }

    /// Does `values` pass the single where item `item` (searchParams JSON form)?
    fn hit(item: Value, values: Value) -> bool {
        matches_all(&items(json!([item])), &record(values), &clock())
    }

    fn hit_at(now: &str, item: Value, values: Value) -> bool {
        matches_all(&items(json!([item])), &record(values), &clock_at(now))
    }

    fn error(where_value: Value) -> WhereError {
        parse(&where_value, &TestSchema).expect_err("where is rejected")
    }

    fn from_query(query: &str) -> Result<Vec<WhereItem>, WhereError> {
        parse(&where_from_query(&query_string::parse(query)), &TestSchema)
    }

    fn status_and_reason(error: &WhereError) -> (u16, Option<String>) {
        (error.status(), error.reason())
    }

    // --- the recorded error cases (query strings exactly as in the fixtures) ---

    #[test]
    fn fixture_between_with_one_value_is_400() {
        let e = from_query("where%5B0%5D%5Btype%5D=between&where%5B0%5D%5Battribute%5D=amount&where%5B0%5D%5Bvalue%5D=5&maxSize=2&select=name").expect_err("rejected");
        assert_eq!(
            status_and_reason(&e),
            (400, Some("Bad where item 'between'.".into()))
        );
    }

    #[test]
    fn fixture_in_with_scalar_value_is_400() {
        let e = from_query("where%5B0%5D%5Btype%5D=in&where%5B0%5D%5Battribute%5D=industry&where%5B0%5D%5Bvalue%5D=Software&maxSize=2&select=name").expect_err("rejected");
        assert_eq!(
            status_and_reason(&e),
            (400, Some("Bad where item 'in'.".into()))
        );
    }

    #[test]
    fn fixture_unknown_attribute_is_400() {
        let e = from_query("where%5B0%5D%5Btype%5D=equals&where%5B0%5D%5Battribute%5D=bogusField&where%5B0%5D%5Bvalue%5D=x&maxSize=2").expect_err("rejected");
        assert_eq!(
            status_and_reason(&e),
            (
                400,
                Some("Not existing attribute 'bogusField' in where.".into())
            )
        );
    }

    #[test]
    fn fixture_unknown_type_is_400() {
        let e = from_query("where%5B0%5D%5Btype%5D=bogusType&where%5B0%5D%5Battribute%5D=name&where%5B0%5D%5Bvalue%5D=x&maxSize=2").expect_err("rejected");
        assert_eq!(
            status_and_reason(&e),
            (400, Some("Unknown where item type 'bogusType'.".into()))
        );
    }

    #[test]
    fn fixture_missing_attribute_is_500_without_reason() {
        let e = from_query(
            "where%5B0%5D%5Btype%5D=equals&where%5B0%5D%5Bvalue%5D=x&maxSize=2&select=name",
        )
        .expect_err("rejected");
        assert_eq!(e, WhereError::Malformed);
        assert_eq!(status_and_reason(&e), (500, None));
    }

    #[test]
    fn fixture_where_queries_all_parse() {
        let queries = [
            "where%5B0%5D%5Btype%5D=between&where%5B0%5D%5Battribute%5D=closeDate&where%5B0%5D%5Bvalue%5D%5B0%5D=2026-12-24&where%5B0%5D%5Bvalue%5D%5B1%5D=2027-01-23&select=name%2CcloseDate&maxSize=5",
            "where%5B0%5D%5Btype%5D=between&where%5B0%5D%5Battribute%5D=amount&where%5B0%5D%5Bvalue%5D%5B0%5D=50000&where%5B0%5D%5Bvalue%5D%5B1%5D=60000&select=name%2Camount&maxSize=5",
            "where%5B0%5D%5Btype%5D=contains&where%5B0%5D%5Battribute%5D=name&where%5B0%5D%5Bvalue%5D=Robot&select=name&maxSize=5",
            "where%5B0%5D%5Btype%5D=before&where%5B0%5D%5Battribute%5D=closeDate&where%5B0%5D%5Bvalue%5D=2026-11-24&select=name%2CcloseDate%2Cstage&maxSize=3",
            "where%5B0%5D%5Btype%5D=past&where%5B0%5D%5Battribute%5D=dateEnd&select=name%2CdateEnd%2Cstatus&maxSize=3",
            "where%5B0%5D%5Btype%5D=equals&where%5B0%5D%5Battribute%5D=accountId&where%5B0%5D%5Bvalue%5D=6b05838b2c728cbdb&select=name%2CaccountId%2CaccountName&maxSize=5",
            "where%5B0%5D%5Btype%5D=equals&where%5B0%5D%5Battribute%5D=type&where%5B0%5D%5Bvalue%5D=Customer&select=name%2Ctype&maxSize=3",
            "where%5B0%5D%5Btype%5D=greaterThan&where%5B0%5D%5Battribute%5D=amount&where%5B0%5D%5Bvalue%5D=240000&select=name%2Camount&maxSize=5",
            "where%5B0%5D%5Btype%5D=greaterThanOrEquals&where%5B0%5D%5Battribute%5D=probability&where%5B0%5D%5Bvalue%5D=80&select=name%2Cprobability%2Cstage&maxSize=3",
            "where%5B0%5D%5Btype%5D=in&where%5B0%5D%5Battribute%5D=industry&where%5B0%5D%5Bvalue%5D%5B0%5D=Software&where%5B0%5D%5Bvalue%5D%5B1%5D=Finance&select=name%2Cindustry&maxSize=5",
            "where%5B0%5D%5Btype%5D=isFalse&where%5B0%5D%5Battribute%5D=emailAddressIsOptedOut&select=name&maxSize=2",
            "where%5B0%5D%5Btype%5D=isNotNull&where%5B0%5D%5Battribute%5D=opportunityAmount&select=name%2CopportunityAmount&maxSize=3",
            "where%5B0%5D%5Btype%5D=isNull&where%5B0%5D%5Battribute%5D=opportunityAmount&select=name%2CopportunityAmount&maxSize=3",
            "where%5B0%5D%5Btype%5D=lessThan&where%5B0%5D%5Battribute%5D=amount&where%5B0%5D%5Bvalue%5D=8000&select=name%2Camount&maxSize=5",
            "where%5B0%5D%5Btype%5D=like&where%5B0%5D%5Battribute%5D=name&where%5B0%5D%5Bvalue%5D=North&select=name&maxSize=5",
            "where%5B0%5D%5Btype%5D=like&where%5B0%5D%5Battribute%5D=name&where%5B0%5D%5Bvalue%5D=North%25&select=name&maxSize=5",
            "where%5B0%5D%5Btype%5D=linkedWith&where%5B0%5D%5Battribute%5D=contacts&where%5B0%5D%5Bvalue%5D%5B0%5D=6b058391591ea8790&select=name&maxSize=5",
            "where%5B0%5D%5Btype%5D=equals&where%5B0%5D%5Battribute%5D=stage&where%5B0%5D%5Bvalue%5D=Negotiation&where%5B1%5D%5Btype%5D=greaterThan&where%5B1%5D%5Battribute%5D=amount&where%5B1%5D%5Bvalue%5D=100000&select=name%2Cstage%2Camount&maxSize=5",
            "where%5B0%5D%5Btype%5D=notEquals&where%5B0%5D%5Battribute%5D=status&where%5B0%5D%5Bvalue%5D=New&select=name%2Cstatus&maxSize=3",
            "where%5B0%5D%5Btype%5D=notIn&where%5B0%5D%5Battribute%5D=status&where%5B0%5D%5Bvalue%5D%5B0%5D=New&where%5B0%5D%5Bvalue%5D%5B1%5D=Assigned&where%5B0%5D%5Bvalue%5D%5B2%5D=In+Process&select=name%2Cstatus&maxSize=5",
            "where%5B0%5D%5Btype%5D=or&where%5B0%5D%5Bvalue%5D%5B0%5D%5Btype%5D=equals&where%5B0%5D%5Bvalue%5D%5B0%5D%5Battribute%5D=status&where%5B0%5D%5Bvalue%5D%5B0%5D%5Bvalue%5D=Dead&where%5B0%5D%5Bvalue%5D%5B1%5D%5Btype%5D=equals&where%5B0%5D%5Bvalue%5D%5B1%5D%5Battribute%5D=status&where%5B0%5D%5Bvalue%5D%5B1%5D%5Bvalue%5D=Recycled&select=name%2Cstatus&maxSize=5",
            "where%5B0%5D%5Btype%5D=startsWith&where%5B0%5D%5Battribute%5D=name&where%5B0%5D%5Bvalue%5D=Sum&select=name&maxSize=5",
            "where[0][type]=equals&where[0][attribute]=industry&where[0][value]=Software&select=name,industry&maxSize=3",
            "where%5B0%5D%5Btype%5D=like&where%5B0%5D%5Battribute%5D=lastName&where%5B0%5D%5Bvalue%5D=%25&select=name&maxSize=2&offset=0",
        ];
        for query in queries {
            let parsed = from_query(query);
            assert!(
                parsed.as_ref().is_ok_and(|items| !items.is_empty()),
                "{query}: {parsed:?}"
            );
        }
        // The searchParams form carries the same items as JSON.
        let search: Value = serde_json::from_str(
            r#"{"where": [{"type": "equals", "attribute": "industry", "value": "Software"}], "select": ["name", "industry"], "maxSize": 3}"#,
        )
        .expect("json");
        assert_eq!(
            items(search["where"].clone()),
            from_query(
                "where[0][type]=equals&where[0][attribute]=industry&where[0][value]=Software"
            )
            .expect("parses")
        );
    }

    #[test]
    fn fixture_where_semantics() {
        // like without a wildcard is an exact match, with `%` a prefix match.
        let north = |pattern: &str, name: &str| {
            hit(
                json!({"type": "like", "attribute": "name", "value": pattern}),
                json!({"name": name}),
            )
        };
        assert!(!north("North", "Northwind Robotics"));
        assert!(north("North%", "Northwind Robotics"));
        assert!(north("North", "north"));
        // Several top-level items are ANDed.
        let both = items(json!([
            {"type": "equals", "attribute": "stage", "value": "Negotiation"},
            {"type": "greaterThan", "attribute": "amount", "value": "100000"},
        ]));
        let matches = |values: Value| matches_all(&both, &record(values), &clock());
        assert!(matches(json!({"stage": "Negotiation", "amount": 150000})));
        assert!(!matches(json!({"stage": "Negotiation", "amount": 90000})));
        assert!(!matches(json!({"stage": "Proposal", "amount": 150000})));
        // `past` on a datetime: before today's midnight.
        let past = json!({"type": "past", "attribute": "dateEnd"});
        assert!(hit(past.clone(), json!({"dateEnd": "2026-11-23 23:59:59"})));
        assert!(!hit(past, json!({"dateEnd": "2026-11-24 00:00:00"})));
    }

    // --- equality ---

    #[test]
    fn equals_is_case_insensitive_ignores_trailing_spaces_and_never_matches_null() {
        let equals =
            |value: Value| json!({"type": "equals", "attribute": "industry", "value": value});
        assert!(hit(
            equals(json!("software")),
            json!({"industry": "Software"})
        ));
        assert!(hit(
            equals(json!("Software  ")),
            json!({"industry": "Software"})
        ));
        assert!(hit(
            equals(json!("Sóftware")),
            json!({"industry": "software"})
        ));
        assert!(!hit(
            equals(json!(" Software")),
            json!({"industry": "Software"})
        ));
        assert!(!hit(equals(json!("Soft")), json!({"industry": "Software"})));
        assert!(!hit(equals(json!("Software")), json!({"industry": null})));
        assert!(!hit(equals(json!("Software")), json!({})));
        assert!(hit(equals(json!("")), json!({"industry": ""})));
    }

    #[test]
    fn equals_without_value_is_null_and_with_an_array_is_in() {
        let item = json!({"type": "equals", "attribute": "industry"});
        assert!(hit(item.clone(), json!({"industry": null})));
        assert!(!hit(item, json!({"industry": "x"})));
        let item = json!({"type": "equals", "attribute": "industry", "value": ["a", "B"]});
        assert!(hit(item.clone(), json!({"industry": "b"})));
        assert!(!hit(item, json!({"industry": "c"})));
        let item = json!({"type": "notEquals", "attribute": "industry"});
        assert!(hit(item.clone(), json!({"industry": ""})));
        assert!(!hit(item, json!({"industry": null})));
    }

    #[test]
    fn not_equals_excludes_nulls() {
        let item = json!({"type": "notEquals", "attribute": "status", "value": "New"});
        assert!(hit(item.clone(), json!({"status": "Assigned"})));
        assert!(!hit(item.clone(), json!({"status": "new"})));
        assert!(!hit(item.clone(), json!({"status": null})));
        assert!(hit(item, json!({"status": ""})));
    }

    #[test]
    fn numbers_compare_numerically_and_mysql_style() {
        let item = |t: &str, v: Value| json!({"type": t, "attribute": "amount", "value": v});
        assert!(hit(item("greaterThan", json!("9")), json!({"amount": 10})));
        assert!(hit(item("lessThan", json!("10")), json!({"amount": 9.5})));
        assert!(hit(item("equals", json!("10.0")), json!({"amount": 10})));
        assert!(hit(item("equals", json!(10)), json!({"amount": 10.0})));
        assert!(hit(
            item("greaterThanOrEquals", json!("80")),
            json!({"amount": 80})
        ));
        assert!(hit(
            item("lessThanOrEquals", json!("80")),
            json!({"amount": 80})
        ));
        assert!(!hit(
            item("greaterThan", json!("80")),
            json!({"amount": 80})
        ));
        assert!(!hit(
            item("greaterThan", json!("1")),
            json!({"amount": null})
        ));
        // A non-numeric string is 0 in a numeric context; a leading number counts.
        assert!(hit(item("equals", json!("abc")), json!({"amount": 0})));
        assert!(hit(item("equals", json!(" 12abc")), json!({"amount": 12})));
        // Stored as text (e.g. a decimal string) still compares as a number.
        assert!(hit(
            item("greaterThan", json!("9")),
            json!({"amount": "10.00"})
        ));
    }

    #[test]
    fn text_orders_by_collation_and_numbers_against_text_compare_numerically() {
        let item = |t: &str, v: Value| json!({"type": t, "attribute": "name", "value": v});
        assert!(hit(
            item("greaterThan", json!("apple")),
            json!({"name": "Banana"})
        ));
        assert!(hit(item("lessThan", json!("B")), json!({"name": "apple"})));
        // Text order, not numeric order, for text compared with text.
        assert!(hit(item("lessThan", json!("9")), json!({"name": "10"})));
        // A JSON number makes MySQL compare numerically.
        assert!(hit(item("greaterThan", json!(9)), json!({"name": "10"})));
        assert!(hit(item("equals", json!(0)), json!({"name": "abc"})));
    }

    // --- like family ---

    #[test]
    fn like_supports_percent_underscore_and_escapes() {
        let like = |pattern: &str, name: &str| {
            hit(
                json!({"type": "like", "attribute": "name", "value": pattern}),
                json!({"name": name}),
            )
        };
        assert!(like("%wind%", "Northwind Robotics"));
        assert!(like("n_rth%", "North"));
        assert!(!like("n_rth", "Norrth"));
        assert!(like("%", ""));
        assert!(like("100\\%", "100%"));
        assert!(!like("100\\%", "1000"));
        assert!(like("a\\_b", "a_b"));
        assert!(!like("a\\_b", "axb"));
        assert!(like("ends\\", "ends\\"));
        assert!(like("ÉCOLE", "ecole"));
        // No padding for LIKE.
        assert!(!like("abc", "abc "));
        assert!(!hit(
            json!({"type": "like", "attribute": "name", "value": "%"}),
            json!({"name": null})
        ));
        // LIKE NULL matches nothing.
        assert!(!hit(
            json!({"type": "like", "attribute": "name"}),
            json!({"name": "x"})
        ));
    }

    #[test]
    fn not_like_excludes_nulls() {
        let item = json!({"type": "notLike", "attribute": "name", "value": "a%"});
        assert!(hit(item.clone(), json!({"name": "banana"})));
        assert!(!hit(item.clone(), json!({"name": "Apple"})));
        assert!(!hit(item, json!({"name": null})));
    }

    #[test]
    fn starts_ends_contains() {
        let test = |t: &str, v: &str, name: Value| {
            hit(
                json!({"type": t, "attribute": "name", "value": v}),
                json!({"name": name}),
            )
        };
        assert!(test("startsWith", "sum", json!("Summit Partners")));
        assert!(!test("startsWith", "mit", json!("Summit Partners")));
        assert!(test("endsWith", "PARTNERS", json!("Summit Partners")));
        assert!(test("contains", "robot", json!("Northwind Robotics")));
        assert!(!test("contains", "robot", json!(null)));
        assert!(test("notContains", "robot", json!("Acme")));
        assert!(!test("notContains", "robot", json!("Robot Inc")));
        assert!(!test("notContains", "robot", json!(null)));
        // The value is not escaped: its wildcards work.
        assert!(test("contains", "a_c", json!("xabcx")));
        assert!(test("startsWith", "", json!("")));
        // Numbers as LIKE text.
        assert!(hit(
            json!({"type": "startsWith", "attribute": "amount", "value": "25"}),
            json!({"amount": 2500})
        ));
    }

    // --- in / notIn ---

    #[test]
    fn in_and_not_in_follow_sql() {
        let item = |t: &str, v: Value| json!({"type": t, "attribute": "status", "value": v});
        assert!(hit(
            item("in", json!(["New", "assigned"])),
            json!({"status": "Assigned"})
        ));
        assert!(!hit(item("in", json!(["New"])), json!({"status": null})));
        assert!(hit(
            item("notIn", json!(["New", "Assigned"])),
            json!({"status": "Dead"})
        ));
        assert!(!hit(
            item("notIn", json!(["New"])),
            json!({"status": "new"})
        ));
        assert!(!hit(item("notIn", json!(["New"])), json!({"status": null})));
        // A NULL in the list makes NOT IN unknown.
        assert!(!hit(
            item("notIn", json!(["New", null])),
            json!({"status": "Dead"})
        ));
        assert!(hit(
            item("in", json!(["New", null])),
            json!({"status": "New"})
        ));
        // Empty lists are the constants the composer writes: IN () is false, NOT IN () true.
        assert!(!hit(item("in", json!([])), json!({"status": "New"})));
        assert!(hit(item("notIn", json!([])), json!({"status": null})));
        // PHP objects are arrays too.
        assert!(hit(
            item("in", json!({"a": "New"})),
            json!({"status": "New"})
        ));
    }

    #[test]
    fn in_and_not_in_require_arrays() {
        let e = error(json!([{"type": "in", "attribute": "status", "value": "New"}]));
        assert_eq!(e, WhereError::BadItem("in".into()));
        let e = error(json!([{"type": "notIn", "attribute": "status", "value": "New"}]));
        assert_eq!(
            status_and_reason(&e),
            (400, Some("Bad where item 'notIn'.".into()))
        );
        let e = error(json!([{"type": "in", "attribute": "status"}]));
        assert_eq!(e, WhereError::BadItem("in".into()));
    }

    // --- between ---

    #[test]
    fn between_is_inclusive_and_needs_two_values() {
        let item = json!({"type": "between", "attribute": "amount", "value": ["50000", "60000"]});
        assert!(hit(item.clone(), json!({"amount": 50000})));
        assert!(hit(item.clone(), json!({"amount": 60000})));
        assert!(!hit(item.clone(), json!({"amount": 60000.01})));
        assert!(!hit(item, json!({"amount": null})));
        let dates = json!({"type": "between", "attribute": "closeDate", "value": ["2026-12-24", "2027-01-23"]});
        assert!(hit(dates.clone(), json!({"closeDate": "2027-01-23"})));
        assert!(!hit(dates, json!({"closeDate": "2027-01-24"})));
        for value in [json!("5"), json!(["5"]), json!(null)] {
            let e = error(json!([{"type": "between", "attribute": "amount", "value": value}]));
            assert_eq!(e, WhereError::BadItem("between".into()));
        }
        // More than two values: the first two count.
        let item = json!({"type": "between", "attribute": "amount", "value": [1, 3, 100]});
        assert!(hit(item, json!({"amount": 2})));
    }

    // --- null and booleans ---

    #[test]
    fn is_null_and_is_not_null() {
        let null = json!({"type": "isNull", "attribute": "opportunityAmount"});
        let not_null = json!({"type": "isNotNull", "attribute": "opportunityAmount"});
        assert!(hit(null.clone(), json!({"opportunityAmount": null})));
        assert!(hit(null.clone(), json!({})));
        assert!(!hit(null, json!({"opportunityAmount": 0})));
        assert!(hit(not_null.clone(), json!({"opportunityAmount": 0})));
        assert!(!hit(not_null, json!({"opportunityAmount": null})));
        // An empty string is not NULL.
        assert!(hit(
            json!({"type": "isNotNull", "attribute": "name"}),
            json!({"name": ""})
        ));
        assert!(hit(
            json!({"type": "ever", "attribute": "closeDate"}),
            json!({"closeDate": "2026-01-01"})
        ));
        assert!(!hit(
            json!({"type": "ever", "attribute": "closeDate"}),
            json!({"closeDate": null})
        ));
    }

    #[test]
    fn is_true_and_is_false_never_match_null() {
        let is_true = json!({"type": "isTrue", "attribute": "emailAddressIsOptedOut"});
        let is_false = json!({"type": "isFalse", "attribute": "emailAddressIsOptedOut"});
        assert!(hit(
            is_true.clone(),
            json!({"emailAddressIsOptedOut": true})
        ));
        assert!(!hit(
            is_true.clone(),
            json!({"emailAddressIsOptedOut": false})
        ));
        assert!(!hit(is_true, json!({"emailAddressIsOptedOut": null})));
        assert!(hit(
            is_false.clone(),
            json!({"emailAddressIsOptedOut": false})
        ));
        assert!(!hit(
            is_false.clone(),
            json!({"emailAddressIsOptedOut": true})
        ));
        assert!(!hit(is_false, json!({"emailAddressIsOptedOut": null})));
        // equals on a bool column is numeric: "1" is true, and "true" is 0, i.e. false.
        let equals = |v: &str| json!({"type": "equals", "attribute": "flag", "value": v});
        assert!(hit(equals("1"), json!({"flag": true})));
        assert!(hit(equals("true"), json!({"flag": false})));
        assert!(!hit(equals("true"), json!({"flag": true})));
    }

    // --- dates ---

    #[test]
    fn date_comparisons() {
        let item = |t: &str| json!({"type": t, "attribute": "closeDate", "value": "2026-11-24"});
        let on = |t: &str, date: &str| hit(item(t), json!({"closeDate": date}));
        assert!(on("on", "2026-11-24"));
        assert!(!on("on", "2026-11-25"));
        assert!(on("notOn", "2026-11-25"));
        assert!(!hit(item("notOn"), json!({"closeDate": null})));
        assert!(on("before", "2026-11-23"));
        assert!(!on("before", "2026-11-24"));
        assert!(on("after", "2026-11-25"));
        assert!(!on("after", "2026-11-24"));
        // Lenient date text, and a datetime value against a date means that moment.
        assert!(hit(
            json!({"type": "on", "attribute": "closeDate", "value": "2026-11-4"}),
            json!({"closeDate": "2026-11-04"})
        ));
        assert!(!hit(
            json!({"type": "on", "attribute": "closeDate", "value": "2026-11-24 10:00:00"}),
            json!({"closeDate": "2026-11-24"})
        ));
        // An unparseable date matches nothing.
        assert!(!hit(
            json!({"type": "before", "attribute": "closeDate", "value": "soon"}),
            json!({"closeDate": "2000-01-01"})
        ));
    }

    #[test]
    fn datetime_with_a_date_means_midnight_unless_flagged_date_time() {
        let raw = |t: &str| json!({"type": t, "attribute": "dateEnd", "value": "2026-11-24"});
        let flagged = |t: &str| json!({"type": t, "attribute": "dateEnd", "value": "2026-11-24", "dateTime": true});
        let at = |time: &str| json!({"dateEnd": format!("2026-11-24 {time}")});
        // As sent over the API: SQL compares with 2026-11-24 00:00:00.
        assert!(hit(raw("on"), at("00:00:00")));
        assert!(!hit(raw("on"), at("10:00:00")));
        assert!(hit(raw("after"), at("10:00:00")));
        assert!(!hit(raw("before"), at("10:00:00")));
        // With `dateTime: true` (EspoCRM's UI): whole days.
        assert!(hit(flagged("on"), at("10:00:00")));
        assert!(hit(flagged("on"), at("23:59:59")));
        assert!(!hit(
            flagged("on"),
            json!({"dateEnd": "2026-11-25 00:00:00"})
        ));
        assert!(!hit(flagged("after"), at("23:59:59")));
        assert!(hit(
            flagged("after"),
            json!({"dateEnd": "2026-11-25 00:00:00"})
        ));
        assert!(hit(
            flagged("before"),
            json!({"dateEnd": "2026-11-23 23:59:59"})
        ));
        assert!(!hit(flagged("before"), at("00:00:00")));
        let between = json!({"type": "between", "attribute": "dateEnd", "value": ["2026-11-20", "2026-11-24"], "dateTime": true});
        assert!(hit(between.clone(), at("23:59:59")));
        assert!(hit(
            between.clone(),
            json!({"dateEnd": "2026-11-20 00:00:00"})
        ));
        assert!(!hit(between, json!({"dateEnd": "2026-11-25 00:00:00"})));
        let raw_between = json!({"type": "between", "attribute": "dateEnd", "value": ["2026-11-20", "2026-11-24"]});
        assert!(!hit(raw_between, at("10:00:00")));
        // A full datetime value is used as it is.
        let exact = json!({"type": "on", "attribute": "dateEnd", "value": "2026-11-24 10:00:00", "dateTime": true});
        assert!(hit(exact.clone(), at("10:00:00")));
        assert!(!hit(exact, at("10:00:01")));
        // Types the transformer does not know lose their value: notOn becomes IS NOT NULL.
        assert!(hit(flagged("notOn"), at("00:00:00")));
        assert!(hit(flagged("equals"), json!({"dateEnd": null})));
    }

    #[test]
    fn date_time_flag_errors() {
        let e =
            error(json!([{"type": "on", "attribute": "dateEnd", "value": "", "dateTime": true}]));
        assert_eq!(
            status_and_reason(&e),
            (400, Some("Bad where item. Empty value.".into()))
        );
        let e = error(
            json!([{"type": "after", "attribute": "dateEnd", "value": "soon", "dateTime": true}]),
        );
        assert_eq!(
            status_and_reason(&e),
            (400, Some("Bad date value or timezone.".into()))
        );
        let e = error(
            json!([{"type": "between", "attribute": "dateEnd", "value": "2026-01-01", "dateTime": true}]),
        );
        assert_eq!(
            status_and_reason(&e),
            (400, Some("Bad where item. Bad value.".into()))
        );
        let e = error(json!([{"type": "and", "value": [], "dateTime": true}]));
        assert_eq!(
            status_and_reason(&e),
            (
                400,
                Some("Bad datetime where item. Empty 'attribute'.".into())
            )
        );
    }

    #[test]
    fn relative_date_filters_on_a_date_attribute() {
        let rel = |t: &str, value: Value, date: &str| {
            hit(
                json!({"type": t, "attribute": "closeDate", "value": value}),
                json!({"closeDate": date}),
            )
        };
        // The clock reads 2026-11-24 12:00:00.
        assert!(rel("today", json!(null), "2026-11-24"));
        assert!(!rel("today", json!(null), "2026-11-23"));
        assert!(rel("past", json!(null), "2026-11-23"));
        assert!(!rel("past", json!(null), "2026-11-24"));
        assert!(rel("future", json!(null), "2026-11-25"));
        assert!(!rel("future", json!(null), "2026-11-24"));
        assert!(rel("lastSevenDays", json!(null), "2026-11-17"));
        assert!(rel("lastSevenDays", json!(null), "2026-11-24"));
        assert!(!rel("lastSevenDays", json!(null), "2026-11-16"));
        assert!(!rel("lastSevenDays", json!(null), "2026-11-25"));
        assert!(rel("lastXDays", json!("3"), "2026-11-21"));
        assert!(!rel("lastXDays", json!("3"), "2026-11-20"));
        assert!(rel("nextXDays", json!(3), "2026-11-27"));
        assert!(!rel("nextXDays", json!(3), "2026-11-28"));
        assert!(rel("olderThanXDays", json!("3"), "2026-11-20"));
        assert!(!rel("olderThanXDays", json!("3"), "2026-11-21"));
        assert!(rel("afterXDays", json!("3"), "2026-11-28"));
        assert!(!rel("afterXDays", json!("3"), "2026-11-27"));
        // intval: "3 days" is 3, "abc" is 0.
        assert!(rel("lastXDays", json!("3 days"), "2026-11-21"));
        assert!(rel("lastXDays", json!("abc"), "2026-11-24"));
        assert!(!rel("lastXDays", json!("abc"), "2026-11-23"));
        assert!(rel("currentMonth", json!(null), "2026-11-01"));
        assert!(rel("currentMonth", json!(null), "2026-11-30"));
        assert!(!rel("currentMonth", json!(null), "2026-12-01"));
        assert!(rel("lastMonth", json!(null), "2026-10-31"));
        assert!(!rel("lastMonth", json!(null), "2026-11-01"));
        assert!(rel("nextMonth", json!(null), "2026-12-31"));
        assert!(!rel("nextMonth", json!(null), "2027-01-01"));
        assert!(rel("currentQuarter", json!(null), "2026-10-01"));
        assert!(!rel("currentQuarter", json!(null), "2026-09-30"));
        assert!(rel("lastQuarter", json!(null), "2026-07-01"));
        assert!(rel("lastQuarter", json!(null), "2026-09-30"));
        assert!(!rel("lastQuarter", json!(null), "2026-10-01"));
        assert!(rel("currentYear", json!(null), "2026-01-01"));
        assert!(!rel("currentYear", json!(null), "2027-01-01"));
        assert!(rel("lastYear", json!(null), "2025-12-31"));
        assert!(!rel("lastYear", json!(null), "2026-01-01"));
        assert!(rel("currentFiscalYear", json!(null), "2026-06-01"));
        assert!(rel("lastFiscalYear", json!(null), "2025-06-01"));
        assert!(rel("currentFiscalQuarter", json!(null), "2026-12-31"));
        assert!(rel("lastFiscalQuarter", json!(null), "2026-08-15"));
        assert!(!rel("today", json!(null), "not a date"));
    }

    #[test]
    fn relative_periods_cross_year_boundaries() {
        let rel = |t: &str, date: &str| {
            hit_at(
                "2027-01-15 08:00:00",
                json!({"type": t, "attribute": "closeDate"}),
                json!({"closeDate": date}),
            )
        };
        assert!(rel("lastMonth", "2026-12-01"));
        assert!(rel("lastQuarter", "2026-10-01"));
        assert!(!rel("lastQuarter", "2027-01-01"));
        assert!(rel("lastYear", "2026-07-04"));
        assert!(rel("currentQuarter", "2027-03-31"));
        // Far outside the calendar: matches nothing instead of failing.
        let huge =
            json!({"type": "lastXDays", "attribute": "closeDate", "value": "99999999999999"});
        assert!(!hit(huge, json!({"closeDate": "2026-11-24"})));
    }

    #[test]
    fn relative_date_filters_on_a_datetime_attribute() {
        let rel = |item: Value, stamp: &str| hit(item, json!({"dateEnd": stamp}));
        let raw = |t: &str| json!({"type": t, "attribute": "dateEnd", "value": "2"});
        let flagged =
            |t: &str| json!({"type": t, "attribute": "dateEnd", "value": "2", "dateTime": true});
        // Over the API: compared with midnight.
        assert!(rel(raw("today"), "2026-11-24 00:00:00"));
        assert!(!rel(raw("today"), "2026-11-24 09:00:00"));
        assert!(rel(raw("future"), "2026-11-24 09:00:00"));
        assert!(rel(raw("currentMonth"), "2026-11-30 23:59:59"));
        assert!(!rel(raw("currentMonth"), "2026-12-01 00:00:00"));
        // Flagged: the current moment and whole days.
        assert!(rel(flagged("today"), "2026-11-24 23:59:59"));
        assert!(rel(flagged("past"), "2026-11-24 11:59:59"));
        assert!(!rel(flagged("past"), "2026-11-24 12:00:00"));
        assert!(rel(flagged("future"), "2026-11-24 12:00:01"));
        assert!(rel(flagged("lastSevenDays"), "2026-11-17 00:00:00"));
        assert!(!rel(flagged("lastSevenDays"), "2026-11-24 12:00:01"));
        assert!(rel(flagged("lastXDays"), "2026-11-22 00:00:00"));
        assert!(!rel(flagged("lastXDays"), "2026-11-21 23:59:59"));
        assert!(rel(flagged("nextXDays"), "2026-11-27 00:59:59"));
        assert!(!rel(flagged("nextXDays"), "2026-11-27 01:00:00"));
        assert!(!rel(flagged("nextXDays"), "2026-11-24 11:00:00"));
        assert!(rel(flagged("olderThanXDays"), "2026-11-21 23:59:59"));
        assert!(!rel(flagged("olderThanXDays"), "2026-11-22 00:00:00"));
        assert!(rel(flagged("afterXDays"), "2026-11-26 00:00:01"));
        assert!(!rel(flagged("afterXDays"), "2026-11-26 00:00:00"));
        // BETWEEN is inclusive, so the first moment of the next month counts too.
        assert!(rel(flagged("currentMonth"), "2026-12-01 00:00:00"));
        assert!(!rel(flagged("currentMonth"), "2026-12-01 00:00:01"));
        assert!(rel(flagged("currentYear"), "2026-01-01 00:00:00"));
    }

    // --- arrays ---

    #[test]
    fn array_filters() {
        let item = |t: &str, v: Value| json!({"type": t, "attribute": "tags", "value": v});
        let tags = json!({"tags": ["Red", "green"]});
        assert!(hit(
            item("arrayAnyOf", json!(["red", "blue"])),
            tags.clone()
        ));
        assert!(hit(item("arrayAnyOf", json!("GREEN")), tags.clone()));
        assert!(!hit(item("arrayAnyOf", json!(["blue"])), tags.clone()));
        assert!(!hit(item("arrayAnyOf", json!([])), tags.clone()));
        assert!(hit(item("arrayNoneOf", json!(["blue"])), tags.clone()));
        assert!(!hit(item("arrayNoneOf", json!(["red"])), tags.clone()));
        assert!(hit(
            item("arrayNoneOf", json!(["red"])),
            json!({"tags": null})
        ));
        assert!(hit(
            item("arrayAllOf", json!(["red", "GREEN"])),
            tags.clone()
        ));
        assert!(!hit(
            item("arrayAllOf", json!(["red", "blue"])),
            tags.clone()
        ));
        assert!(hit(
            json!({"type": "arrayIsEmpty", "attribute": "tags"}),
            json!({"tags": []})
        ));
        assert!(hit(
            json!({"type": "arrayIsEmpty", "attribute": "tags"}),
            json!({"tags": null})
        ));
        assert!(!hit(
            json!({"type": "arrayIsEmpty", "attribute": "tags"}),
            tags.clone()
        ));
        assert!(hit(
            json!({"type": "arrayIsNotEmpty", "attribute": "tags"}),
            tags
        ));
        // arrayAllOf with no values converts to nothing: everything matches.
        assert!(hit(item("arrayAllOf", json!([])), json!({"tags": null})));
        // Non-array attributes have no array values.
        assert!(hit(
            json!({"type": "arrayIsEmpty", "attribute": "name"}),
            json!({"name": "x"})
        ));
    }

    #[test]
    fn array_filters_need_a_value() {
        let e = error(json!([{"type": "arrayAnyOf", "attribute": "tags"}]));
        assert_eq!(
            status_and_reason(&e),
            (400, Some("Bad where item. No value.".into()))
        );
        for t in ["arrayNoneOf", "arrayAllOf"] {
            let e = error(json!([{"type": t, "attribute": "tags", "value": ""}]));
            assert_eq!(
                status_and_reason(&e),
                (400, Some("Bad where item 'array'. No value.".into()))
            );
        }
    }

    // --- links ---

    fn linked(ids: &[&str]) -> Record {
        Record {
            values: Map::new(),
            links: HashMap::from([(
                "contacts".to_string(),
                ids.iter().map(|id| id.to_string()).collect(),
            )]),
        }
    }

    fn link_hit(item: Value, ids: &[&str]) -> bool {
        matches_all(&items(json!([item])), &linked(ids), &clock())
    }

    #[test]
    fn link_filters() {
        let item = |t: &str, v: Value| json!({"type": t, "attribute": "contacts", "value": v});
        assert!(link_hit(
            item("linkedWith", json!(["c1", "c9"])),
            &["c1", "c2"]
        ));
        assert!(link_hit(item("linkedWith", json!("C2")), &["c1", "c2"]));
        assert!(!link_hit(item("linkedWith", json!(["c9"])), &["c1"]));
        assert!(!link_hit(item("linkedWith", json!([])), &["c1"]));
        assert!(link_hit(item("notLinkedWith", json!(["c9"])), &["c1"]));
        assert!(link_hit(item("notLinkedWith", json!(["c9"])), &[]));
        assert!(!link_hit(item("notLinkedWith", json!(["c1"])), &["c1"]));
        assert!(link_hit(
            item("linkedWithAll", json!(["c1", "c2"])),
            &["c1", "c2", "c3"]
        ));
        assert!(!link_hit(
            item("linkedWithAll", json!(["c1", "c4"])),
            &["c1", "c2"]
        ));
        assert!(link_hit(
            json!({"type": "isLinked", "attribute": "contacts"}),
            &["c1"]
        ));
        assert!(!link_hit(
            json!({"type": "isLinked", "attribute": "contacts"}),
            &[]
        ));
        assert!(link_hit(
            json!({"type": "isNotLinked", "attribute": "contacts"}),
            &[]
        ));
        assert!(!link_hit(
            json!({"type": "isNotLinked", "attribute": "contacts"}),
            &["c1"]
        ));
    }

    #[test]
    fn link_errors() {
        let e = error(json!([{"type": "linkedWith", "attribute": "bogus", "value": ["x"]}]));
        assert_eq!(
            status_and_reason(&e),
            (400, Some("Not existing relation 'bogus' in where.".into()))
        );
        // A link name is not an attribute.
        let e = error(json!([{"type": "equals", "attribute": "contacts", "value": "x"}]));
        assert_eq!(e, WhereError::UnknownAttribute("contacts".into()));
        let e = error(json!([{"type": "linkedWith", "attribute": "contacts", "value": [5]}]));
        assert_eq!(
            status_and_reason(&e),
            (400, Some("Bad where item. Non-string ID.".into()))
        );
        let e = error(json!([{"type": "linkedWith", "attribute": "contacts"}]));
        assert_eq!(
            status_and_reason(&e),
            (400, Some("Bad where item. Empty value.".into()))
        );
        let e = error(json!([{"type": "notLinkedWith", "attribute": "contacts"}]));
        assert_eq!(
            status_and_reason(&e),
            (400, Some("Bad where item. Empty value.".into()))
        );
        let e = error(json!([{"type": "linkedWithAll", "attribute": "contacts", "value": ""}]));
        assert_eq!(
            status_and_reason(&e),
            (400, Some("Bad where item. Empty value.".into()))
        );
        // With a schema that knows the records, unknown ids are 403.
        let value = json!([{"type": "linkedWith", "attribute": "contacts", "value": ["c1", "x9"]}]);
        let e = parse(&value, &CheckingSchema).expect_err("rejected");
        assert_eq!(
            status_and_reason(&e),
            (403, Some("Record 'Contact' `x9` not found.".into()))
        );
        assert!(
            parse(
                &json!([{"type": "linkedWith", "attribute": "contacts", "value": ["c1"]}]),
                &CheckingSchema
            )
            .is_ok()
        );
        // The trusted mode skips the id checks.
        assert!(parse_with(&value, &CheckingSchema, ParseOptions::TRUSTED).is_ok());
    }

    // --- groups ---

    #[test]
    fn or_and_nested_groups() {
        let or = json!({"type": "or", "value": [
            {"type": "equals", "attribute": "status", "value": "Dead"},
            {"type": "equals", "attribute": "status", "value": "Recycled"},
        ]});
        assert!(hit(or.clone(), json!({"status": "recycled"})));
        assert!(!hit(or, json!({"status": "New"})));
        let nested = json!({"type": "and", "value": [
            {"type": "or", "value": [
                {"type": "isNull", "attribute": "amount"},
                {"type": "greaterThan", "attribute": "amount", "value": "10"},
            ]},
            {"type": "and", "value": [{"type": "startsWith", "attribute": "name", "value": "a"}]},
        ]});
        assert!(hit(nested.clone(), json!({"amount": null, "name": "Acme"})));
        assert!(hit(nested.clone(), json!({"amount": 11, "name": "Acme"})));
        assert!(!hit(nested.clone(), json!({"amount": 5, "name": "Acme"})));
        assert!(!hit(nested, json!({"amount": 11, "name": "Zeta"})));
        // Group values may be PHP objects with keys 0..n-1 (as from a query string).
        let object = json!({"type": "or", "value": {"0": {"type": "isNull", "attribute": "name"}}});
        assert!(hit(object, json!({"name": null})));
    }

    #[test]
    fn not_is_forbidden_over_the_api_but_works_when_trusted() {
        let not = json!([{"type": "not", "value": [
            {"type": "equals", "attribute": "status", "value": "New"},
        ]}]);
        let e = error(not.clone());
        assert_eq!(
            status_and_reason(&e),
            (403, Some("Sub-queries are forbidden in where.".into()))
        );
        let e = error(json!([{"type": "or", "value": [{"type": "subQueryIn", "value": []}]}]));
        assert_eq!(e.status(), 403);
        let trusted = parse_with(&not, &TestSchema, ParseOptions::TRUSTED).expect("parses");
        let check = |values: Value| matches_all(&trusted, &record(values), &clock());
        assert!(check(json!({"status": "Dead"})));
        assert!(!check(json!({"status": "new"})));
        // NOT IN (…) is a set complement: NULLs are in it.
        assert!(check(json!({"status": null})));
        let e = parse_with(
            &json!([{"type": "not", "value": "x"}]),
            &TestSchema,
            ParseOptions::TRUSTED,
        );
        assert_eq!(e, Err(WhereError::BadRequest("Bad where item.".into())));
        let e = parse_with(
            &json!([{"type": "not", "value": {"a": {"type": "isNull", "attribute": "name"}}}]),
            &TestSchema,
            ParseOptions::TRUSTED,
        );
        assert_eq!(e, Err(WhereError::Malformed));
    }

    #[test]
    fn composer_drops_zero_and_empty_values_inside_groups() {
        // Inside a group, `equals "0"` vanishes; the `or` then only tests the other item.
        let or = json!({"type": "or", "value": [
            {"type": "equals", "attribute": "amount", "value": "0"},
            {"type": "equals", "attribute": "name", "value": "x"},
        ]});
        assert!(!hit(or.clone(), json!({"amount": 0, "name": "y"})));
        assert!(hit(or, json!({"amount": 5, "name": "x"})));
        // At the top level it is an ordinary comparison.
        assert!(hit(
            json!({"type": "equals", "attribute": "amount", "value": "0"}),
            json!({"amount": 0})
        ));
        // A JSON 0 is kept, a 0.0 is dropped.
        let group = |value: Value| json!({"type": "and", "value": [{"type": "equals", "attribute": "amount", "value": value}]});
        assert!(!hit(group(json!(0)), json!({"amount": 5})));
        assert!(hit(group(json!(0.0)), json!({"amount": 5})));
        // A group left empty vanishes in its parent, and matches all at the top level.
        let emptied = json!({"type": "or", "value": [
            {"type": "in", "attribute": "name", "value": []},
        ]});
        assert!(hit(emptied.clone(), json!({"name": "anything"})));
        let parent =
            json!({"type": "or", "value": [emptied, {"type": "isNull", "attribute": "name"}]});
        assert!(!hit(parent, json!({"name": "anything"})));
        assert!(hit(json!({"type": "or", "value": []}), json!({})));
        // `not` of nothing is NOT IN (all records): matches nothing.
        let not = parse_with(&json!([{"type": "not", "value": [{"type": "like", "attribute": "name", "value": "0"}]}]), &TestSchema, ParseOptions::TRUSTED).expect("parses");
        assert!(!matches_all(&not, &record(json!({"name": "zz"})), &clock()));
    }

    #[test]
    fn constants() {
        assert!(hit(json!({"type": "any", "attribute": "name"}), json!({})));
        assert!(!hit(
            json!({"type": "none", "attribute": "name"}),
            json!({})
        ));
    }

    // --- validation order and malformed items ---

    #[test]
    fn attributes_are_checked_before_types_across_the_whole_tree() {
        let e = error(json!([{"type": "bogusType", "attribute": "bogusField"}]));
        assert_eq!(e, WhereError::UnknownAttribute("bogusField".into()));
        let e = error(json!([
            {"type": "bogusType", "attribute": "name"},
            {"type": "equals", "attribute": "bogusField", "value": "x"},
        ]));
        assert_eq!(e, WhereError::UnknownAttribute("bogusField".into()));
        let e = error(json!([
            {"type": "in", "attribute": "name", "value": "x"},
            {"type": "or", "value": [{"type": "equals", "value": "x"}]},
        ]));
        assert_eq!(e, WhereError::Malformed);
        let e = error(json!([
            {"type": "in", "attribute": "name", "value": "x"},
            {"type": "bogusType", "attribute": "name"},
        ]));
        assert_eq!(e, WhereError::BadItem("in".into()));
    }

    #[test]
    fn malformed_items_are_500() {
        for item in [
            json!("equals"),
            json!(["equals", "name"]),
            json!(5),
            json!(null),
            json!({"attribute": "name", "value": "x"}),
            json!({"type": "", "attribute": "name"}),
            json!({"type": "0", "attribute": "name"}),
            json!({"type": ["equals"], "attribute": "name"}),
            json!({"type": "equals", "attribute": "0", "value": "x"}),
            json!({"type": "equals", "attribute": "", "value": "x"}),
            json!({"type": "equals", "attribute": ["name"], "value": "x"}),
            json!({"type": "equals", "attribute": "name", "value": "x", "bogus": 1}),
            json!({"type": "or", "value": "x"}),
            json!({"type": "or", "value": {"a": {"type": "isNull", "attribute": "name"}}}),
            json!({"type": "bogusType"}),
        ] {
            assert_eq!(
                error(json!([item.clone()])),
                WhereError::Malformed,
                "{item}"
            );
        }
    }

    #[test]
    fn field_is_accepted_where_attribute_is_missing() {
        // EspoCRM's Item::fromRaw reads `attribute ?? field`.
        assert!(hit(
            json!({"type": "equals", "field": "name", "value": "x"}),
            json!({"name": "X"})
        ));
        assert!(hit(
            json!({"type": "equals", "attribute": "name", "field": "bogus", "value": "x"}),
            json!({"name": "x"})
        ));
        // The fixture's item had neither.
        assert_eq!(
            error(json!([{"type": "equals", "value": "x"}])),
            WhereError::Malformed
        );
    }

    #[test]
    fn complex_expressions_are_forbidden() {
        for attribute in ["account.name", "LOWER:(name)", "#x", "123", "'x'", "null"] {
            let e = error(json!([{"type": "equals", "attribute": attribute, "value": "x"}]));
            assert_eq!(
                status_and_reason(&e),
                (
                    403,
                    Some("Complex expressions are forbidden in where.".into())
                ),
                "{attribute}"
            );
        }
        let trusted = parse_with(
            &json!([{"type": "equals", "attribute": "account.name", "value": "x"}]),
            &TestSchema,
            ParseOptions::TRUSTED,
        );
        assert_eq!(
            trusted,
            Err(WhereError::UnknownAttribute("account.name".into()))
        );
    }

    #[test]
    fn unsupported_types() {
        let e = error(json!([{"type": "columnLike", "attribute": "name", "value": "x"}]));
        assert_eq!(
            status_and_reason(&e),
            (400, Some("Bad where item 'column'.".into()))
        );
        let e = error(json!([{"type": "inCategory", "attribute": "teams", "value": ["x"]}]));
        assert_eq!(e, WhereError::UnknownType("inCategory".into()));
        let e = error(json!([{"type": "Equals", "attribute": "name", "value": "x"}]));
        assert_eq!(e, WhereError::UnknownType("Equals".into()));
    }

    #[test]
    fn top_level_shapes() {
        assert_eq!(parse(&Value::Null, &TestSchema), Ok(Vec::new()));
        assert_eq!(parse(&json!([]), &TestSchema), Ok(Vec::new()));
        let e = error(json!("x"));
        assert_eq!(
            status_and_reason(&e),
            (400, Some("where should be array.".into()))
        );
        // Top-level keys do not matter (EspoCRM reindexes them).
        let keyed = items(
            json!({"5": {"type": "isNull", "attribute": "name"}, "a": {"type": "isNotNull", "attribute": "amount"}}),
        );
        assert_eq!(keyed.len(), 2);
        // Only arrayAllOf/linkedWithAll without values vanish at the top level.
        let vanished = items(json!([{"type": "arrayAllOf", "attribute": "tags", "value": []}]));
        assert!(vanished.is_empty());
    }

    #[test]
    fn where_from_query_follows_the_fetcher() {
        let pick = |query: &str| where_from_query(&query_string::parse(query));
        assert_eq!(pick("where=x"), Value::Null);
        assert_eq!(pick("select=name"), Value::Null);
        assert_eq!(
            pick("where[0][type]=isNull&where[0][attribute]=name"),
            json!([{"type": "isNull", "attribute": "name"}])
        );
        assert_eq!(
            pick("whereGroup[0][type]=any&where[0][type]=none"),
            json!([{"type": "any"}])
        );
        // A scalar whereGroup still hides `where`.
        assert_eq!(pick("whereGroup=x&where[0][type]=none"), Value::Null);
    }

    #[test]
    fn legacy_filters_are_lifted_out() {
        let (rest, legacy) = take_legacy_filters(&json!([
            {"type": "bool", "value": ["onlyMy"]},
            {"type": "isNull", "attribute": "name"},
            {"type": "textFilter", "value": "Acme"},
            {"type": "primary", "value": "open"},
            {"type": "primary", "value": ""},
        ]));
        assert_eq!(
            rest,
            json!([{"type": "isNull", "attribute": "name"}, {"type": "primary", "value": ""}])
        );
        assert_eq!(
            legacy,
            LegacyFilters {
                bool_filter_list: Some(json!(["onlyMy"])),
                text_filter: Some(json!("Acme")),
                primary_filter: Some(json!("open")),
            }
        );
        assert_eq!(
            take_legacy_filters(&Value::Null),
            (Value::Null, LegacyFilters::default())
        );
    }

    // --- helpers ---

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

    // --- property tests ---

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn parse_never_panics(value in arbitrary_json()) {
            let _ = parse(&value, &TestSchema);
            let _ = parse_with(&value, &TestSchema, ParseOptions::TRUSTED);
            if let Ok(items) = parse_with(&value, &TestSchema, ParseOptions::TRUSTED) {
                let _ = matches_all(&items, &record(json!({"name": "a", "amount": 1, "tags": ["x"]})), &clock());
            }
        }

        #[test]
        fn parse_never_panics_on_decoded_query_strings(query in "[\\[\\]%&=+. a-z0-9]{0,80}") {
            let _ = parse(&where_from_query(&query_string::parse(&query)), &TestSchema);
        }
    }

    /// Arbitrary JSON biased towards where items.
    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let word = prop_oneof![
            Just("type"),
            Just("attribute"),
            Just("value"),
            Just("dateTime"),
            Just("field"),
            Just("equals"),
            Just("in"),
            Just("between"),
            Just("or"),
            Just("not"),
            Just("and"),
            Just("linkedWith"),
            Just("contacts"),
            Just("name"),
            Just("amount"),
            Just("dateEnd"),
            Just("today"),
            Just("lastXDays"),
            Just("arrayAllOf"),
            Just("tags"),
            Just("0"),
            Just(""),
            Just("on"),
            Just("like"),
            Just("2026-11-24"),
            Just("%a_"),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|f| json!(f)),
            word.clone().prop_map(|w| json!(w)),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 5, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((word.clone(), inner), 0..4).prop_map(|entries| {
                    Value::Object(
                        entries
                            .into_iter()
                            .map(|(k, v)| (k.to_string(), v))
                            .collect(),
                    )
                }),
            ]
        })
    }

    // --- the engine against a straightforward reference filter ---

    /// The values the generated records and conditions draw from.
    const NAMES: [&str; 11] = [
        "alpha",
        "Alpha",
        "ALPHA",
        "beta",
        "beta ",
        "Gamma ray",
        "gamma",
        "",
        "0",
        "a_b",
        "a%b",
    ];
    const FRAGMENTS: [&str; 8] = ["al", "AL", "a", "ray", "", "0", "b", "Gam"];
    const PATTERNS: [&str; 12] = [
        "al%", "%a", "%", "_", "a_b", "%ray", "ALPHA", "alpha ", "0", "a%b", "%_%", "b_ta",
    ];
    const NUMBERS: [&str; 8] = ["-2.5", "-1", "0", "0.0", "1", "1.0", "2.5", "3"];
    const AMOUNTS: [f64; 6] = [-2.5, -1.0, 0.0, 1.0, 2.5, 3.0];
    const TAGS: [&str; 4] = ["x", "y", "z", "X"];
    const IDS: [&str; 4] = ["c1", "c2", "c3", "C1"];
    const TIMES: [(u32, u32, u32); 6] = [
        (0, 0, 0),
        (0, 59, 59),
        (11, 59, 59),
        (12, 0, 0),
        (12, 0, 1),
        (23, 59, 59),
    ];

    #[derive(Debug, Clone)]
    struct Row {
        name: Option<&'static str>,
        amount: Option<f64>,
        flag: Option<bool>,
        day: Option<NaiveDate>,
        stamp: Option<NaiveDateTime>,
        tags: Option<Vec<&'static str>>,
        contacts: Vec<&'static str>,
    }

    impl Row {
        fn to_record(&self) -> Record {
            let mut values = Map::new();
            values.insert("name".into(), json!(self.name));
            values.insert("amount".into(), json!(self.amount));
            values.insert("flag".into(), json!(self.flag));
            values.insert(
                "day".into(),
                json!(self.day.map(|d| d.format("%Y-%m-%d").to_string())),
            );
            values.insert("stamp".into(), json!(self.stamp.map(format_date_time)));
            values.insert("tags".into(), json!(self.tags));
            Record {
                values,
                links: HashMap::from([(
                    "contacts".to_string(),
                    self.contacts.iter().map(|id| id.to_string()).collect(),
                )]),
            }
        }
    }

    #[derive(Debug, Clone, Copy)]
    enum Cmp {
        Eq,
        Ne,
        Lt,
        Gt,
        Le,
        Ge,
    }

    #[derive(Debug, Clone, Copy)]
    enum DateOp {
        On,
        NotOn,
        Before,
        After,
    }

    #[derive(Debug, Clone, Copy)]
    enum Rel {
        Today,
        Past,
        Future,
        LastSevenDays,
        LastX(i64),
        NextX(i64),
        OlderThanX(i64),
        AfterX(i64),
        CurrentMonth,
        LastMonth,
        NextMonth,
        CurrentQuarter,
        LastQuarter,
        CurrentYear,
        LastYear,
    }

    #[derive(Debug, Clone, Copy)]
    enum LinkOp {
        With,
        NotWith,
        WithAll,
        IsLinked,
        IsNotLinked,
    }

    #[derive(Debug, Clone, Copy)]
    enum TagOp {
        Any,
        NoneOf,
        All,
        Empty,
        NotEmpty,
    }

    #[derive(Debug, Clone)]
    enum Leaf {
        NameEquals(bool, &'static str),
        NameIn(bool, Vec<&'static str>),
        NameStarts(&'static str),
        NameEnds(&'static str),
        NameContains(bool, &'static str),
        NameLike(bool, &'static str),
        NameNull(bool),
        Amount(Cmp, &'static str),
        AmountBetween(&'static str, &'static str),
        Flag(bool),
        Day(DateOp, NaiveDate),
        DayBetween(NaiveDate, NaiveDate),
        DayRel(Rel),
        /// The flag says `dateTime: true`.
        Stamp(DateOp, NaiveDate, bool),
        StampRel(Rel, bool),
        Link(LinkOp, Vec<&'static str>),
        Tags(TagOp, Vec<&'static str>),
    }

    #[derive(Debug, Clone)]
    enum Tree {
        Leaf(Leaf),
        Group(GroupKind, Vec<Tree>),
    }

    fn pick<T: Clone + std::fmt::Debug + 'static>(
        values: &'static [T],
    ) -> impl Strategy<Value = T> + Clone {
        prop::sample::select(values)
    }

    /// Days around the clock's 2026-11-24 and period starts, where boundaries are.
    const SPECIAL_DAYS: [(i32, u32, u32); 14] = [
        (2026, 7, 1),
        (2026, 9, 1),
        (2026, 10, 1),
        (2026, 11, 1),
        (2026, 12, 1),
        (2027, 1, 1),
        (2026, 11, 17),
        (2026, 11, 23),
        (2026, 11, 24),
        (2026, 11, 25),
        (2026, 11, 26),
        (2026, 11, 27),
        (2026, 11, 28),
        (2025, 12, 31),
    ];

    fn date() -> impl Strategy<Value = NaiveDate> + Clone {
        let base = NaiveDate::from_ymd_opt(2026, 8, 1).expect("valid date");
        prop_oneof![
            (0i64..240).prop_map(move |offset| base + TimeDelta::days(offset)),
            pick(&SPECIAL_DAYS)
                .prop_map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).expect("valid date")),
        ]
    }

    fn day_count() -> impl Strategy<Value = i64> + Clone {
        prop_oneof![-3i64..40, 0i64..4]
    }

    fn rel() -> impl Strategy<Value = Rel> + Clone {
        prop_oneof![
            Just(Rel::Today),
            Just(Rel::Past),
            Just(Rel::Future),
            Just(Rel::LastSevenDays),
            day_count().prop_map(Rel::LastX),
            day_count().prop_map(Rel::NextX),
            day_count().prop_map(Rel::OlderThanX),
            day_count().prop_map(Rel::AfterX),
            Just(Rel::CurrentMonth),
            Just(Rel::LastMonth),
            Just(Rel::NextMonth),
            Just(Rel::CurrentQuarter),
            Just(Rel::LastQuarter),
            Just(Rel::CurrentYear),
            Just(Rel::LastYear),
        ]
    }

    fn date_op() -> impl Strategy<Value = DateOp> + Clone {
        pick(&[DateOp::On, DateOp::NotOn, DateOp::Before, DateOp::After])
    }

    fn row() -> impl Strategy<Value = Row> {
        let stamp = (date(), pick(&TIMES))
            .prop_map(|(day, (h, m, s))| day.and_hms_opt(h, m, s).expect("valid time"));
        (
            prop::option::of(pick(&NAMES)),
            prop::option::of(pick(&AMOUNTS)),
            prop::option::of(any::<bool>()),
            prop::option::of(date()),
            prop::option::of(stamp),
            prop::option::of(prop::collection::vec(pick(&TAGS), 0..3)),
            prop::collection::vec(pick(&IDS), 0..3),
        )
            .prop_map(|(name, amount, flag, day, stamp, tags, contacts)| Row {
                name,
                amount,
                flag,
                day,
                stamp,
                tags,
                contacts,
            })
    }

    fn leaf() -> impl Strategy<Value = Leaf> {
        let names = || prop::collection::vec(pick(&NAMES), 0..3);
        prop_oneof![
            (any::<bool>(), pick(&NAMES)).prop_map(|(n, v)| Leaf::NameEquals(n, v)),
            (any::<bool>(), names()).prop_map(|(n, v)| Leaf::NameIn(n, v)),
            pick(&FRAGMENTS).prop_map(Leaf::NameStarts),
            pick(&FRAGMENTS).prop_map(Leaf::NameEnds),
            (any::<bool>(), pick(&FRAGMENTS)).prop_map(|(n, v)| Leaf::NameContains(n, v)),
            (any::<bool>(), pick(&PATTERNS)).prop_map(|(n, v)| Leaf::NameLike(n, v)),
            any::<bool>().prop_map(Leaf::NameNull),
            (
                pick(&[Cmp::Eq, Cmp::Ne, Cmp::Lt, Cmp::Gt, Cmp::Le, Cmp::Ge]),
                pick(&NUMBERS)
            )
                .prop_map(|(c, v)| Leaf::Amount(c, v)),
            (pick(&NUMBERS), pick(&NUMBERS)).prop_map(|(a, b)| Leaf::AmountBetween(a, b)),
            any::<bool>().prop_map(Leaf::Flag),
            (date_op(), date()).prop_map(|(op, d)| Leaf::Day(op, d)),
            (date(), date()).prop_map(|(a, b)| Leaf::DayBetween(a, b)),
            rel().prop_map(Leaf::DayRel),
            (date_op(), date(), any::<bool>()).prop_map(|(op, d, f)| Leaf::Stamp(op, d, f)),
            (rel(), any::<bool>()).prop_map(|(r, f)| Leaf::StampRel(r, f)),
            (
                pick(&[
                    LinkOp::With,
                    LinkOp::NotWith,
                    LinkOp::WithAll,
                    LinkOp::IsLinked,
                    LinkOp::IsNotLinked
                ]),
                prop::collection::vec(pick(&IDS), 0..3)
            )
                .prop_map(|(op, ids)| Leaf::Link(op, ids)),
            (
                pick(&[
                    TagOp::Any,
                    TagOp::NoneOf,
                    TagOp::All,
                    TagOp::Empty,
                    TagOp::NotEmpty
                ]),
                prop::collection::vec(pick(&TAGS), 0..3)
            )
                .prop_map(|(op, tags)| Leaf::Tags(op, tags)),
        ]
    }

    fn tree() -> impl Strategy<Value = Tree> {
        leaf()
            .prop_map(Tree::Leaf)
            .prop_recursive(3, 32, 4, |inner| {
                (
                    pick(&[GroupKind::And, GroupKind::Or, GroupKind::Not]),
                    prop::collection::vec(inner, 0..4),
                )
                    .prop_map(|(kind, children)| Tree::Group(kind, children))
            })
    }

    fn rel_json(rel: Rel) -> (&'static str, Value) {
        match rel {
            Rel::Today => ("today", Value::Null),
            Rel::Past => ("past", Value::Null),
            Rel::Future => ("future", Value::Null),
            Rel::LastSevenDays => ("lastSevenDays", Value::Null),
            Rel::LastX(n) => ("lastXDays", json!(n.to_string())),
            Rel::NextX(n) => ("nextXDays", json!(n.to_string())),
            Rel::OlderThanX(n) => ("olderThanXDays", json!(n.to_string())),
            Rel::AfterX(n) => ("afterXDays", json!(n.to_string())),
            Rel::CurrentMonth => ("currentMonth", Value::Null),
            Rel::LastMonth => ("lastMonth", Value::Null),
            Rel::NextMonth => ("nextMonth", Value::Null),
            Rel::CurrentQuarter => ("currentQuarter", Value::Null),
            Rel::LastQuarter => ("lastQuarter", Value::Null),
            Rel::CurrentYear => ("currentYear", Value::Null),
            Rel::LastYear => ("lastYear", Value::Null),
        }
    }

    fn date_text(date: NaiveDate) -> String {
        date.format("%Y-%m-%d").to_string()
    }

    fn item_json(item_type: &str, attribute: &str, value: Value) -> Value {
        let mut map = Map::new();
        map.insert("type".into(), json!(item_type));
        map.insert("attribute".into(), json!(attribute));
        if !value.is_null() {
            map.insert("value".into(), value);
        }
        Value::Object(map)
    }

    fn leaf_json(leaf: &Leaf) -> Value {
        let date_op_type = |op: DateOp| match op {
            DateOp::On => "on",
            DateOp::NotOn => "notOn",
            DateOp::Before => "before",
            DateOp::After => "after",
        };
        match leaf {
            Leaf::NameEquals(negated, v) => item_json(
                if *negated { "notEquals" } else { "equals" },
                "name",
                json!(v),
            ),
            Leaf::NameIn(negated, v) => {
                item_json(if *negated { "notIn" } else { "in" }, "name", json!(v))
            }
            Leaf::NameStarts(v) => item_json("startsWith", "name", json!(v)),
            Leaf::NameEnds(v) => item_json("endsWith", "name", json!(v)),
            Leaf::NameContains(negated, v) => item_json(
                if *negated { "notContains" } else { "contains" },
                "name",
                json!(v),
            ),
            Leaf::NameLike(negated, v) => {
                item_json(if *negated { "notLike" } else { "like" }, "name", json!(v))
            }
            Leaf::NameNull(negated) => item_json(
                if *negated { "isNotNull" } else { "isNull" },
                "name",
                Value::Null,
            ),
            Leaf::Amount(cmp, v) => {
                let item_type = match cmp {
                    Cmp::Eq => "equals",
                    Cmp::Ne => "notEquals",
                    Cmp::Lt => "lessThan",
                    Cmp::Gt => "greaterThan",
                    Cmp::Le => "lessThanOrEquals",
                    Cmp::Ge => "greaterThanOrEquals",
                };
                item_json(item_type, "amount", json!(v))
            }
            Leaf::AmountBetween(a, b) => item_json("between", "amount", json!([a, b])),
            Leaf::Flag(flag) => item_json(
                if *flag { "isTrue" } else { "isFalse" },
                "flag",
                Value::Null,
            ),
            Leaf::Day(op, d) => item_json(date_op_type(*op), "day", json!(date_text(*d))),
            Leaf::DayBetween(a, b) => {
                item_json("between", "day", json!([date_text(*a), date_text(*b)]))
            }
            Leaf::DayRel(rel) => {
                let (item_type, value) = rel_json(*rel);
                item_json(item_type, "day", value)
            }
            Leaf::Stamp(op, d, flagged) => {
                let mut item = item_json(date_op_type(*op), "stamp", json!(date_text(*d)));
                if *flagged && let Value::Object(map) = &mut item {
                    map.insert("dateTime".into(), json!(true));
                }
                item
            }
            Leaf::StampRel(rel, flagged) => {
                let (item_type, value) = rel_json(*rel);
                let mut item = item_json(item_type, "stamp", value);
                if *flagged && let Value::Object(map) = &mut item {
                    map.insert("dateTime".into(), json!(true));
                }
                item
            }
            Leaf::Link(op, ids) => match op {
                LinkOp::With => item_json("linkedWith", "contacts", json!(ids)),
                LinkOp::NotWith => item_json("notLinkedWith", "contacts", json!(ids)),
                LinkOp::WithAll => item_json("linkedWithAll", "contacts", json!(ids)),
                LinkOp::IsLinked => item_json("isLinked", "contacts", Value::Null),
                LinkOp::IsNotLinked => item_json("isNotLinked", "contacts", Value::Null),
            },
            Leaf::Tags(op, tags) => match op {
                TagOp::Any => item_json("arrayAnyOf", "tags", json!(tags)),
                TagOp::NoneOf => item_json("arrayNoneOf", "tags", json!(tags)),
                TagOp::All => item_json("arrayAllOf", "tags", json!(tags)),
                TagOp::Empty => item_json("arrayIsEmpty", "tags", Value::Null),
                TagOp::NotEmpty => item_json("arrayIsNotEmpty", "tags", Value::Null),
            },
        }
    }

    fn tree_json(tree: &Tree) -> Value {
        match tree {
            Tree::Leaf(leaf) => leaf_json(leaf),
            Tree::Group(kind, children) => {
                let item_type = match kind {
                    GroupKind::And => "and",
                    GroupKind::Or => "or",
                    GroupKind::Not => "not",
                };
                json!({"type": item_type, "value": children.iter().map(tree_json).collect::<Vec<_>>()})
            }
        }
    }

    // The reference. Each condition is spelled out on the typed row; the only EspoCRM
    // specifics restated here are the documented composer quirks (what vanishes where).

    #[derive(Debug, PartialEq)]
    enum RefPart {
        Keep,
        DroppedInGroups,
        Nothing,
    }

    fn reference_part(tree: &Tree) -> RefPart {
        match tree {
            Tree::Leaf(
                Leaf::NameEquals(_, "0") | Leaf::NameLike(_, "0") | Leaf::Amount(_, "0"),
            ) => RefPart::DroppedInGroups,
            Tree::Leaf(Leaf::NameIn(_, values)) if values.is_empty() => RefPart::DroppedInGroups,
            Tree::Leaf(Leaf::Link(LinkOp::WithAll, values)) if values.is_empty() => {
                RefPart::Nothing
            }
            Tree::Leaf(Leaf::Tags(TagOp::All, values)) if values.is_empty() => RefPart::Nothing,
            Tree::Leaf(_) | Tree::Group(GroupKind::Not, _) => RefPart::Keep,
            Tree::Group(_, children) if kept(children).is_empty() => RefPart::DroppedInGroups,
            Tree::Group(..) => RefPart::Keep,
        }
    }

    fn kept(children: &[Tree]) -> Vec<&Tree> {
        children
            .iter()
            .filter(|child| reference_part(child) == RefPart::Keep)
            .collect()
    }

    fn reference_top(trees: &[Tree], row: &Row, now: NaiveDateTime) -> bool {
        trees
            .iter()
            .filter(|tree| reference_part(tree) != RefPart::Nothing)
            .all(|tree| reference(tree, row, now))
    }

    fn reference(tree: &Tree, row: &Row, now: NaiveDateTime) -> bool {
        match tree {
            Tree::Leaf(leaf) => reference_leaf(leaf, row, now),
            Tree::Group(GroupKind::And, children) => {
                kept(children).iter().all(|c| reference(c, row, now))
            }
            Tree::Group(GroupKind::Or, children) => {
                let children = kept(children);
                children.is_empty() || children.iter().any(|c| reference(c, row, now))
            }
            Tree::Group(GroupKind::Not, children) => {
                !kept(children).iter().all(|c| reference(c, row, now))
            }
        }
    }

    fn sql_like(text: &[char], pattern: &[char]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some(('%', rest)) => (0..=text.len()).any(|skip| sql_like(&text[skip..], rest)),
            Some(('_', rest)) => !text.is_empty() && sql_like(&text[1..], rest),
            Some((c, rest)) => text.first() == Some(c) && sql_like(&text[1..], rest),
        }
    }

    fn chars(text: &str) -> Vec<char> {
        text.to_lowercase().chars().collect()
    }

    fn same_text(a: &str, b: &str) -> bool {
        a.trim_end().to_lowercase() == b.trim_end().to_lowercase()
    }

    fn days(date: NaiveDate, n: i64) -> NaiveDate {
        date + TimeDelta::days(n)
    }

    fn midnight(date: NaiveDate) -> NaiveDateTime {
        date.and_time(NaiveTime::MIN)
    }

    fn quarter(date: NaiveDate) -> (i32, u32) {
        (date.year(), date.month0() / 3)
    }

    fn previous_quarter(date: NaiveDate) -> (i32, u32) {
        match quarter(date) {
            (year, 0) => (year - 1, 3),
            (year, q) => (year, q - 1),
        }
    }

    fn month(date: NaiveDate) -> (i32, u32) {
        (date.year(), date.month())
    }

    fn shift_month(date: NaiveDate, by: i32) -> (i32, u32) {
        let index = date.year() * 12 + date.month0() as i32 + by;
        (index.div_euclid(12), index.rem_euclid(12) as u32 + 1)
    }

    /// Calendar terms for a date; for the X-days filters, plain day arithmetic.
    fn date_in(rel: Rel, x: NaiveDate, today: NaiveDate) -> bool {
        match rel {
            Rel::Today => x == today,
            Rel::Past => x < today,
            Rel::Future => x > today,
            Rel::LastSevenDays => days(today, -7) <= x && x <= today,
            Rel::LastX(n) => days(today, -n) <= x && x <= today,
            Rel::NextX(n) => today <= x && x <= days(today, n),
            Rel::OlderThanX(n) => x < days(today, -n),
            Rel::AfterX(n) => x > days(today, n),
            Rel::CurrentMonth => month(x) == month(today),
            Rel::LastMonth => month(x) == shift_month(today, -1),
            Rel::NextMonth => month(x) == shift_month(today, 1),
            Rel::CurrentQuarter => quarter(x) == quarter(today),
            Rel::LastQuarter => quarter(x) == previous_quarter(today),
            Rel::CurrentYear => x.year() == today.year(),
            Rel::LastYear => x.year() == today.year() - 1,
        }
    }

    fn is_calendar_period(rel: Rel) -> bool {
        matches!(
            rel,
            Rel::CurrentMonth
                | Rel::LastMonth
                | Rel::NextMonth
                | Rel::CurrentQuarter
                | Rel::LastQuarter
                | Rel::CurrentYear
                | Rel::LastYear
        )
    }

    /// A datetime against a relative filter sent over the API: the filter's dates mean
    /// midnight.
    fn stamp_in_raw(rel: Rel, stamp: NaiveDateTime, today: NaiveDate) -> bool {
        let at = |n: i64| midnight(days(today, n));
        match rel {
            _ if is_calendar_period(rel) => date_in(rel, stamp.date(), today),
            Rel::Today => stamp == at(0),
            Rel::Past => stamp < at(0),
            Rel::Future => stamp > at(0),
            Rel::LastSevenDays => at(-7) <= stamp && stamp <= at(0),
            Rel::LastX(n) => at(-n) <= stamp && stamp <= at(0),
            Rel::NextX(n) => at(0) <= stamp && stamp <= at(n),
            Rel::OlderThanX(n) => stamp < at(-n),
            Rel::AfterX(n) => stamp > at(n),
            _ => false,
        }
    }

    /// A datetime against a relative filter flagged `dateTime`: whole days, the current
    /// moment, and periods that include the first moment after them (BETWEEN is inclusive).
    fn stamp_in_flagged(rel: Rel, stamp: NaiveDateTime, now: NaiveDateTime) -> bool {
        let today = now.date();
        let at = |n: i64| midnight(days(today, n));
        match rel {
            _ if is_calendar_period(rel) => {
                date_in(rel, stamp.date(), today)
                    || (stamp.time() == NaiveTime::MIN
                        && date_in(rel, days(stamp.date(), -1), today))
            }
            Rel::Today => stamp.date() == today,
            Rel::Past => stamp < now,
            Rel::Future => stamp > now,
            Rel::LastSevenDays => at(-7) <= stamp && stamp <= now,
            Rel::LastX(n) => at(-n) <= stamp && stamp <= now,
            Rel::NextX(n) => now <= stamp && stamp <= at(n + 1) + TimeDelta::seconds(59 * 60 + 59),
            Rel::OlderThanX(n) => stamp < at(-n),
            Rel::AfterX(n) => stamp > at(n),
            _ => false,
        }
    }

    fn reference_leaf(leaf: &Leaf, row: &Row, now: NaiveDateTime) -> bool {
        let today = now.date();
        let name = row.name;
        let same_id = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        let tags = row.tags.clone().unwrap_or_default();
        let has_tag = |tag: &str| tags.iter().any(|t| t.eq_ignore_ascii_case(tag));
        let linked = |id: &str| row.contacts.iter().any(|c| same_id(c, id));
        let number = |text: &str| text.parse::<f64>().expect("numeric test value");
        match leaf {
            Leaf::NameEquals(negated, v) => name.is_some_and(|n| same_text(n, v) != *negated),
            Leaf::NameIn(false, values) => {
                name.is_some_and(|n| values.iter().any(|v| same_text(n, v)))
            }
            Leaf::NameIn(true, values) => {
                values.is_empty() || name.is_some_and(|n| !values.iter().any(|v| same_text(n, v)))
            }
            Leaf::NameStarts(v) => {
                name.is_some_and(|n| n.to_lowercase().starts_with(&v.to_lowercase()))
            }
            Leaf::NameEnds(v) => {
                name.is_some_and(|n| n.to_lowercase().ends_with(&v.to_lowercase()))
            }
            Leaf::NameContains(negated, v) => {
                name.is_some_and(|n| n.to_lowercase().contains(&v.to_lowercase()) != *negated)
            }
            Leaf::NameLike(negated, p) => {
                name.is_some_and(|n| sql_like(&chars(n), &chars(p)) != *negated)
            }
            Leaf::NameNull(negated) => name.is_none() != *negated,
            Leaf::Amount(cmp, v) => row.amount.is_some_and(|a| {
                let v = number(v);
                match cmp {
                    Cmp::Eq => a == v,
                    Cmp::Ne => a != v,
                    Cmp::Lt => a < v,
                    Cmp::Gt => a > v,
                    Cmp::Le => a <= v,
                    Cmp::Ge => a >= v,
                }
            }),
            Leaf::AmountBetween(low, high) => row
                .amount
                .is_some_and(|a| number(low) <= a && a <= number(high)),
            Leaf::Flag(flag) => row.flag == Some(*flag),
            Leaf::Day(op, d) => row.day.is_some_and(|x| match op {
                DateOp::On => x == *d,
                DateOp::NotOn => x != *d,
                DateOp::Before => x < *d,
                DateOp::After => x > *d,
            }),
            Leaf::DayBetween(a, b) => row.day.is_some_and(|x| *a <= x && x <= *b),
            Leaf::DayRel(rel) => row.day.is_some_and(|x| date_in(*rel, x, today)),
            Leaf::Stamp(op, d, false) => row.stamp.is_some_and(|s| match op {
                DateOp::On => s == midnight(*d),
                DateOp::NotOn => s != midnight(*d),
                DateOp::Before => s < midnight(*d),
                DateOp::After => s > midnight(*d),
            }),
            Leaf::Stamp(op, d, true) => row.stamp.is_some_and(|s| match op {
                DateOp::On => s.date() == *d,
                // Not known to the transformer: it loses its value, i.e. IS NOT NULL.
                DateOp::NotOn => true,
                DateOp::Before => s.date() < *d,
                DateOp::After => s.date() > *d,
            }),
            Leaf::StampRel(rel, false) => row.stamp.is_some_and(|s| stamp_in_raw(*rel, s, today)),
            Leaf::StampRel(rel, true) => row.stamp.is_some_and(|s| stamp_in_flagged(*rel, s, now)),
            Leaf::Link(op, ids) => match op {
                LinkOp::With => ids.iter().any(|id| linked(id)),
                LinkOp::NotWith => !ids.iter().any(|id| linked(id)),
                LinkOp::WithAll => ids.iter().all(|id| linked(id)),
                LinkOp::IsLinked => !row.contacts.is_empty(),
                LinkOp::IsNotLinked => row.contacts.is_empty(),
            },
            Leaf::Tags(op, values) => match op {
                TagOp::Any => values.iter().any(|v| has_tag(v)),
                TagOp::NoneOf => !values.iter().any(|v| has_tag(v)),
                TagOp::All => values.iter().all(|v| has_tag(v)),
                TagOp::Empty => tags.is_empty(),
                TagOp::NotEmpty => !tags.is_empty(),
            },
        }
    }

    fn contains_not(trees: &[Tree]) -> bool {
        trees.iter().any(|tree| match tree {
            Tree::Leaf(_) => false,
            Tree::Group(GroupKind::Not, _) => true,
            Tree::Group(_, children) => contains_not(children),
        })
    }

    fn has_empty_array(value: &Value) -> bool {
        match value {
            Value::Array(values) => values.is_empty() || values.iter().any(has_empty_array),
            Value::Object(map) => map.values().any(has_empty_array),
            _ => false,
        }
    }

    /// The query-string form of a where value, with percent-encoded or literal brackets.
    fn query_pairs(prefix: &str, value: &Value, literal: bool, out: &mut Vec<String>) {
        let (open, close) = if literal { ("[", "]") } else { ("%5B", "%5D") };
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    query_pairs(&format!("{prefix}{open}{key}{close}"), value, literal, out);
                }
            }
            Value::Array(values) => {
                for (index, value) in values.iter().enumerate() {
                    query_pairs(
                        &format!("{prefix}{open}{index}{close}"),
                        value,
                        literal,
                        out,
                    );
                }
            }
            Value::Bool(flag) => out.push(format!("{prefix}={}", u8::from(*flag))),
            Value::String(text) => {
                out.push(format!(
                    "{prefix}={}",
                    form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>()
                ));
            }
            Value::Null => {}
            Value::Number(number) => out.push(format!("{prefix}={number}")),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1500))]

        #[test]
        fn engine_agrees_with_the_reference_filter(
            trees in prop::collection::vec(tree(), 0..4),
            rows in prop::collection::vec(row(), 1..8),
            literal in any::<bool>(),
        ) {
            let now = clock().now;
            let where_value = Value::Array(trees.iter().map(tree_json).collect());
            let parsed = parse_with(&where_value, &TestSchema, ParseOptions::TRUSTED);
            prop_assert!(parsed.is_ok(), "{where_value}: {parsed:?}");
            let parsed = parsed.unwrap_or_default();
            for row in &rows {
                let expected = reference_top(&trees, row, now);
                let actual = matches_all(&parsed, &row.to_record(), &clock());
                prop_assert_eq!(actual, expected, "row {:?}\nwhere {}\nitems {:?}", row, where_value, parsed);
            }
            // Over the API, `not` is refused and everything else parses the same.
            let api = parse(&where_value, &TestSchema);
            if contains_not(&trees) {
                prop_assert_eq!(api, Err(WhereError::Forbidden("Sub-queries are forbidden in where.".into())));
            } else {
                prop_assert_eq!(api, Ok(parsed.clone()));
            }
            // Sent as a query string (possible when no list is empty) it means the same.
            if !has_empty_array(&where_value) {
                let mut pairs = Vec::new();
                query_pairs("where", &where_value, literal, &mut pairs);
                let decoded = where_from_query(&query_string::parse(&pairs.join("&")));
                let from_query = parse_with(&decoded, &TestSchema, ParseOptions::TRUSTED);
                if trees.is_empty() {
                    prop_assert_eq!(from_query, Ok(Vec::new()));
                } else {
                    prop_assert_eq!(from_query, Ok(parsed));
                }
            }
        }
    }

    /// Dates and times concentrated on the boundaries of the date filters.
    fn boundary_date() -> impl Strategy<Value = NaiveDate> + Clone {
        pick(&SPECIAL_DAYS)
            .prop_map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).expect("valid date"))
    }

    fn date_leaf() -> impl Strategy<Value = Leaf> {
        prop_oneof![
            (date_op(), boundary_date()).prop_map(|(op, d)| Leaf::Day(op, d)),
            (boundary_date(), boundary_date()).prop_map(|(a, b)| Leaf::DayBetween(a, b)),
            rel().prop_map(Leaf::DayRel),
            (date_op(), boundary_date(), any::<bool>())
                .prop_map(|(op, d, f)| Leaf::Stamp(op, d, f)),
            (rel(), any::<bool>()).prop_map(|(r, f)| Leaf::StampRel(r, f)),
        ]
    }

    fn date_row() -> impl Strategy<Value = Row> {
        let time = prop_oneof![Just((0, 0, 0)), pick(&TIMES)];
        let stamp = (boundary_date(), time)
            .prop_map(|(day, (h, m, s))| day.and_hms_opt(h, m, s).expect("valid time"));
        (prop::option::of(boundary_date()), prop::option::of(stamp)).prop_map(|(day, stamp)| Row {
            name: None,
            amount: None,
            flag: None,
            day,
            stamp,
            tags: None,
            contacts: Vec::new(),
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1500))]

        #[test]
        fn date_filters_agree_with_the_reference_at_boundaries(
            leaf in date_leaf(),
            rows in prop::collection::vec(date_row(), 1..32),
        ) {
            let now = clock().now;
            let tree = Tree::Leaf(leaf);
            let where_value = json!([tree_json(&tree)]);
            let parsed = parse(&where_value, &TestSchema);
            prop_assert!(parsed.is_ok(), "{where_value}: {parsed:?}");
            let parsed = parsed.unwrap_or_default();
            for row in &rows {
                let expected = reference_top(std::slice::from_ref(&tree), row, now);
                let actual = matches_all(&parsed, &row.to_record(), &clock());
                prop_assert_eq!(actual, expected, "row {:?}\nwhere {}\nitems {:?}", row, where_value, parsed);
            }
        }
    }
}
