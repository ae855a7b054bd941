//! From the decoded `where` parameter to [`WhereItem`]s, in EspoCRM's order: each item is
//! built (`Item::fromRaw`), the whole tree is checked (`Where\Checker`), and only then are the
//! items converted (`ItemGeneralConverter`). Also what comes before: picking the parameter from
//! the query string and lifting the legacy filters out of it.

use chrono::{NaiveDateTime, TimeDelta};
use serde_json::{Map, Value};

use super::mysql::{format_date_time, operand, parse_temporal};
use super::php::{
    dropped_inside_groups, is_php_list, like_pattern, php_array_values, php_concat_string,
    php_index, php_intval, php_is_numeric, php_scalar_string, php_truthy,
};
use super::{
    ArrayTest, AttributeKind, Comparison, GroupKind, LinkTest, Operand, ParseOptions, RelativeDate,
    Schema, WhereError, WhereItem,
};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query_string;
    use crate::where_clause::test_support::*;
    use crate::where_clause::*;
    use proptest::prelude::*;
    use serde_json::json;

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

    // --- in / notIn ---

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

    // --- dates ---

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

    // --- arrays ---

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
}
