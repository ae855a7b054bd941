//! The where round trip, end to end in process: what the sandbox decodes is what was validated.
//!
//! Filters are generated from a real EspoCRM 8.4 schema (the recorded `GET Metadata` and
//! `GET App/user` in `actors/tests/fixtures`): any readable record type, any attribute a where
//! item can test, any operator that fits it, values of the attribute's form (an enum's options,
//! dates, ids, numbers, and free text with every character a query string treats specially).
//! Each filter is validated by [`where_clause::validate`], encoded by [`ListQuery::to_pairs`], put
//! into a URL by the gateway's own [`build_url`], and read back by the sandbox's PHP-style
//! decoder ([`espocrm_sandbox::query_string::parse`]) and where parser. The properties:
//!
//! - the URL's path is the entity type's, whatever the values hold; there is no fragment;
//! - the decoded query has exactly the top-level parameters the request set, no other;
//! - the decoded `where` is, item for item and value for value, the validated tree;
//! - the sandbox's where parser (with the API's restrictions) accepts it, with as many
//!   top-level items and the same attributes;
//! - a refusal on size is only ever for a filter that really is over a limit, and no accepted
//!   filter is longer than the 1,000 variables PHP reads; the only other refusal is a lone "0"
//!   inside a group, which EspoCRM would silently drop (found by this test).

use std::collections::BTreeSet;
use std::sync::LazyLock;

use espocrm_sandbox::query_string;
use espocrm_sandbox::where_clause::{self as sandbox, ParseOptions, WhereItem};
use espomcp_actors::{Action, EntityType, Schema, build_url, normalize_base_url};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::espo::attributes::{self, AttributeKind};
use crate::espo::query::ListQuery;
use crate::validate::ValidationError;
use crate::validate::names;
use crate::validate::strategies::{count, date, tricky_text};
use crate::validate::where_clause::{
    Arity, Condition, Operand, Operator, WhereCondition, WhereLimits, operators_for, validate,
};

const METADATA: &str = include_str!("../../actors/tests/fixtures/metadata.json");
const APP_USER: &str = include_str!("../../actors/tests/fixtures/app-user.json");

/// PHP's `max_input_vars`: EspoCRM reads no more query variables than this.
const PHP_MAX_INPUT_VARS: usize = 1000;

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    let metadata: Value = serde_json::from_str(METADATA).expect("the metadata fixture is JSON");
    let app_user: Value = serde_json::from_str(APP_USER).expect("the app-user fixture is JSON");
    Schema::from_espo(&metadata, &app_user).expect("the fixtures make a schema")
});

/// An attribute a where item can test, with what the validator accepts for it.
#[derive(Debug, Clone)]
struct Filterable {
    name: String,
    kind: AttributeKind,
    /// The enum's options; empty when any text goes.
    options: Vec<String>,
    operators: &'static [Operator],
}

/// Every readable record type with the attributes its where items can test.
static TARGETS: LazyLock<Vec<(&'static EntityType, Vec<Filterable>)>> = LazyLock::new(|| {
    SCHEMA
        .record_entities()
        .filter(|entity| entity.allows(Action::Read))
        .map(|entity| {
            let filterable: Vec<Filterable> = attributes::all_names(entity)
                .into_iter()
                .filter_map(|name| {
                    let attribute = names::attribute(entity, &name).ok()?;
                    let operators = operators_for(attribute.kind);
                    let options = attribute
                        .options()
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|option| match option {
                            Value::String(text) => Some(text.clone()),
                            Value::Number(number) => Some(number.to_string()),
                            _ => None,
                        })
                        .collect();
                    (!operators.is_empty()).then_some(Filterable {
                        name: attribute.name,
                        kind: attribute.kind,
                        options,
                        operators,
                    })
                })
                .collect();
            (entity, filterable)
        })
        .filter(|(_, filterable)| !filterable.is_empty())
        .collect()
});

/// One value of the form `attribute` holds, as a caller would send it.
fn value_for(attribute: &Filterable) -> BoxedStrategy<Value> {
    match attribute.kind {
        AttributeKind::Enum if !attribute.options.is_empty() => {
            prop::sample::select(attribute.options.clone())
                .prop_map(Value::String)
                .boxed()
        }
        AttributeKind::Number => prop_oneof![
            any::<i64>().prop_map(|n| json!(n)),
            (any::<i32>(), 0..100u8)
                .prop_map(|(whole, cents)| json!(format!("{whole}.{cents:02}"))),
            (-99..99i32, -20..20i32)
                .prop_map(|(mantissa, exponent)| json!(format!("{mantissa}e{exponent}"))),
        ]
        .boxed(),
        AttributeKind::Date => date().prop_map(Value::String).boxed(),
        AttributeKind::DateTime => prop_oneof![
            date().prop_map(Value::String),
            (date(), 0..24u32, 0..60u32, 0..60u32)
                .prop_map(|(d, h, m, s)| json!(format!("{d} {h:02}:{m:02}:{s:02}"))),
        ]
        .boxed(),
        AttributeKind::Id => prop_oneof![
            "[a-f0-9]{17}".prop_map(Value::String),
            "[A-Za-z0-9_-]{1,64}".prop_map(Value::String),
        ]
        .boxed(),
        AttributeKind::EntityName => "[A-Z][A-Za-z0-9_]{0,20}".prop_map(Value::String).boxed(),
        _ => tricky_text().prop_map(Value::String).boxed(),
    }
}

/// A comparison on `attribute` that the validator must accept.
fn comparison(attribute: Filterable) -> BoxedStrategy<Value> {
    prop::sample::select(attribute.operators.to_vec())
        .prop_flat_map(move |operator| {
            let name = attribute.name.clone();
            let item = move |value: Option<Value>| {
                let mut item = json!({"field": name, "type": operator.as_str()});
                if let Some(value) = value {
                    item["value"] = value;
                }
                item
            };
            let value = value_for(&attribute);
            match operator.arity() {
                Arity::None => Just(item(None)).boxed(),
                Arity::One => value.prop_map(move |v| item(Some(v))).boxed(),
                Arity::Pair => (value.clone(), value)
                    .prop_map(move |(from, to)| item(Some(json!([from, to]))))
                    .boxed(),
                // Mostly short lists; now and then long ones, which add up past the budget.
                Arity::Many => prop_oneof![
                    6 => prop::collection::vec(value.clone(), 1..5),
                    1 => prop::collection::vec(value, 1..=100),
                ]
                .prop_map(move |values| item(Some(Value::Array(values))))
                .boxed(),
            }
        })
        .boxed()
}

/// Conditions and groups over `attributes`, nested up to three levels below the top.
fn tree(attributes: Vec<Filterable>) -> BoxedStrategy<Value> {
    let leaf = prop::sample::select(attributes).prop_flat_map(comparison);
    leaf.prop_recursive(3, 48, 4, |inner| {
        (
            prop::sample::select(vec!["and", "or"]),
            prop::collection::vec(inner, 1..4),
        )
            .prop_map(|(kind, children)| json!({"type": kind, "value": children}))
    })
    .boxed()
}

/// A generated list request: the record type, the caller's where items, and the other
/// parameters as a caller gives them.
#[derive(Debug, Clone)]
struct Request {
    entity: &'static EntityType,
    conditions: Vec<Value>,
    select: Vec<String>,
    order_by: Option<String>,
    order: Option<&'static str>,
    max_size: Option<u32>,
    offset: Option<u32>,
    text_filter: Option<String>,
}

fn request() -> impl Strategy<Value = Request> {
    (0..TARGETS.len()).prop_flat_map(|index| {
        let (entity, attributes) = &TARGETS[index];
        let entity: &'static EntityType = entity;
        let names: Vec<String> = attributes.iter().map(|a| a.name.clone()).collect();
        (
            prop::collection::vec(tree(attributes.clone()), 0..6),
            prop::collection::vec(prop::sample::select(names.clone()), 0..4),
            prop::option::of(prop::sample::select(names)),
            prop::option::of(prop::sample::select(vec!["asc", "desc", "DESC"])),
            any::<Option<u32>>(),
            any::<Option<u32>>(),
            prop::option::of(tricky_text()),
        )
            .prop_map(
                move |(conditions, select, order_by, order, max_size, offset, text_filter)| {
                    Request {
                        entity,
                        conditions,
                        select,
                        order_by,
                        order,
                        max_size,
                        offset,
                        text_filter,
                    }
                },
            )
    })
}

/// The validated tree as PHP's `$_GET['where']` must hold it: every value a string, every list
/// an array.
fn php_where(conditions: &[Condition]) -> Value {
    Value::Array(
        conditions
            .iter()
            .map(|condition| match condition {
                Condition::Comparison {
                    attribute,
                    operator,
                    operand,
                } => {
                    let mut item = json!({"type": operator.as_str(), "attribute": attribute});
                    match operand {
                        Operand::None => {}
                        Operand::One(value) => item["value"] = json!(value),
                        Operand::List(values) => item["value"] = json!(values),
                    }
                    item
                }
                Condition::Group { kind, conditions } => {
                    json!({"type": kind.as_str(), "value": php_where(conditions)})
                }
            })
            .collect(),
    )
}

/// The attributes a validated tree tests.
fn validated_attributes(conditions: &[Condition], into: &mut BTreeSet<String>) {
    for condition in conditions {
        match condition {
            Condition::Comparison { attribute, .. } => {
                into.insert(attribute.clone());
            }
            Condition::Group { conditions, .. } => validated_attributes(conditions, into),
        }
    }
}

/// The attributes the sandbox's parsed items test.
fn parsed_attributes(items: &[WhereItem], into: &mut BTreeSet<String>) {
    for item in items {
        match item {
            WhereItem::Group { items, .. } => parsed_attributes(items, into),
            WhereItem::Compare { attribute, .. }
            | WhereItem::In { attribute, .. }
            | WhereItem::Like { attribute, .. }
            | WhereItem::Null { attribute, .. }
            | WhereItem::Relative { attribute, .. }
            | WhereItem::Array { attribute, .. } => {
                into.insert(attribute.clone());
            }
            WhereItem::Link { link, .. } => {
                into.insert(link.clone());
            }
            WhereItem::Constant(_) => {}
        }
    }
}

fn values(conditions: &[Condition]) -> usize {
    conditions
        .iter()
        .map(|condition| match condition {
            Condition::Comparison { operand, .. } => match operand {
                Operand::None => 0,
                Operand::One(_) => 1,
                Operand::List(values) => values.len(),
            },
            Condition::Group { conditions, .. } => values(conditions),
        })
        .sum()
}

/// Values of the caller's tree, counted before validation.
fn given_values(items: &[Value]) -> usize {
    items
        .iter()
        .map(|item| match (&item["type"], &item["value"]) {
            (Value::String(kind), Value::Array(children)) if kind == "and" || kind == "or" => {
                given_values(children)
            }
            (_, Value::Array(values)) => values.len(),
            (_, Value::Null) => 0,
            _ => 1,
        })
        .sum()
}

fn given_conditions(items: &[Value]) -> usize {
    items
        .iter()
        .map(|item| match (&item["type"], &item["value"]) {
            (Value::String(kind), Value::Array(children)) if kind == "and" || kind == "or" => {
                1 + given_conditions(children)
            }
            _ => 1,
        })
        .sum()
}

/// espomcp's view of an entity type, as the sandbox's where parser asks about it.
struct SandboxView(&'static EntityType);

impl sandbox::Schema for SandboxView {
    fn attribute_kind(&self, attribute: &str) -> Option<sandbox::AttributeKind> {
        let attribute = names::attribute(self.0, attribute).ok()?;
        Some(match attribute.kind {
            AttributeKind::Text | AttributeKind::EntityName | AttributeKind::Opaque => {
                sandbox::AttributeKind::Text
            }
            AttributeKind::Enum => sandbox::AttributeKind::Enum,
            AttributeKind::Number => sandbox::AttributeKind::Number,
            AttributeKind::Date => sandbox::AttributeKind::Date,
            AttributeKind::DateTime => sandbox::AttributeKind::DateTime,
            AttributeKind::Bool => sandbox::AttributeKind::Bool,
            AttributeKind::Id => sandbox::AttributeKind::Id,
            AttributeKind::List => sandbox::AttributeKind::Array,
            AttributeKind::Unfilterable => sandbox::AttributeKind::Object,
        })
    }

    fn is_link(&self, name: &str) -> bool {
        self.0.link(name).is_some()
    }
}

#[test]
fn the_fixture_schema_gives_the_generator_enough_to_work_with() {
    assert!(TARGETS.len() >= 5, "{} record types", TARGETS.len());
    let kinds: BTreeSet<String> = TARGETS
        .iter()
        .flat_map(|(_, attributes)| attributes.iter().map(|a| format!("{:?}", a.kind)))
        .collect();
    for kind in ["Text", "Enum", "Number", "Date", "DateTime", "Bool", "Id"] {
        assert!(kinds.contains(kind), "no {kind} attribute in {kinds:?}");
    }
}

#[test]
fn a_filter_longer_than_php_reads_is_refused() {
    // Ten `in` conditions of 100 values each: 1,020 variables, past PHP's 1,000.
    let (entity, _) = TARGETS
        .iter()
        .find(|(entity, _)| entity.name == "Account")
        .expect("Account");
    let values: Vec<String> = (0..100).map(|i| format!("v{i}")).collect();
    let conditions: Vec<WhereCondition> = (0..10)
        .map(|_| {
            serde_json::from_value(json!({"field": "name", "type": "in", "value": values}))
                .expect("a condition")
        })
        .collect();
    let error = validate(entity, &conditions).expect_err("over the budget");
    assert_eq!(
        error,
        ValidationError::TooManyValues {
            max: WhereLimits::default().max_total_values
        }
    );
    assert_eq!(error.code().as_str(), "INVALID_ARGUMENT");
    assert!(error.suggestion().contains("800"), "{}", error.suggestion());
    // Eight are within it, and reach the sandbox whole.
    let filter = validate(entity, &conditions[..8]).expect("within the budget");
    let pairs = ListQuery {
        filter,
        ..ListQuery::default()
    }
    .to_pairs();
    assert_eq!(pairs.len(), 8 * 102);
    let base = normalize_base_url("http://crm.example").expect("a base URL");
    let url = build_url(&base, &["Account".to_owned()], &pairs).expect("a URL");
    let decoded = query_string::parse(url.query().unwrap_or_default());
    assert_eq!(decoded["where"].as_array().map(Vec::len), Some(8));
    assert_eq!(decoded["where"][7]["value"][99], json!("v99"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn what_the_sandbox_decodes_is_what_was_validated(
        request in request(),
        base in prop::sample::select(vec!["http://crm.example", "https://crm.example/espo/", "http://127.0.0.1:8080/api/v1"]),
    ) {
        let entity = request.entity;
        let conditions: Vec<WhereCondition> = serde_json::from_value(Value::Array(request.conditions.clone()))
            .map_err(|error| TestCaseError::fail(error.to_string()))?;
        let limits = WhereLimits::default();
        let filter = match validate(entity, &conditions) {
            Ok(filter) => filter,
            Err(ValidationError::TooManyConditions { max }) => {
                prop_assert!(given_conditions(&request.conditions) > max);
                return Ok(());
            }
            Err(ValidationError::TooManyValues { max }) => {
                prop_assert!(given_values(&request.conditions) > max);
                return Ok(());
            }
            // EspoCRM would drop it from its group (see `where_clause::inside_group`).
            Err(ValidationError::InvalidValue { at, given, .. }) if given == "\"0\"" && at.contains(".value[") => {
                return Ok(());
            }
            Err(error) => {
                return Err(TestCaseError::fail(format!("{} refused a valid filter: {error}", entity.name)));
            }
        };
        prop_assert!(count(filter.conditions()) <= limits.max_conditions);
        prop_assert!(values(filter.conditions()) <= limits.max_total_values);
        let select = names::select(entity, &request.select).map_err(|e| TestCaseError::fail(e.message()))?;
        let order_by = match &request.order_by {
            // Not every filterable attribute is sortable; a refusal is fine here.
            Some(name) => names::order_by(entity, name).ok(),
            None => None,
        };
        let query = ListQuery {
            filter,
            select,
            order_by,
            order: request.order.map(names::order).transpose().map_err(|e| TestCaseError::fail(e.message()))?,
            max_size: request.max_size.map(|size| names::limit(Some(size), 200)).and_then(Result::ok),
            offset: request.offset,
            text_filter: request.text_filter.clone(),
        };
        let pairs = query.to_pairs();
        prop_assert!(pairs.len() <= PHP_MAX_INPUT_VARS, "{} variables", pairs.len());

        let base = normalize_base_url(base).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let url = build_url(&base, std::slice::from_ref(&entity.name), &pairs)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(url.path(), format!("{}{}", base.path(), entity.name));
        prop_assert_eq!(url.fragment(), None);
        prop_assert_eq!(url.host_str(), base.host_str());

        let decoded = query_string::parse(url.query().unwrap_or_default());
        let mut expected = Map::new();
        if !query.filter.is_empty() {
            expected.insert("where".into(), php_where(query.filter.conditions()));
        }
        if let Some(select) = &query.select {
            expected.insert("select".into(), json!(select.attributes().join(",")));
        }
        if let Some(order_by) = &query.order_by {
            expected.insert("orderBy".into(), json!(order_by.name()));
        }
        if let Some(order) = query.order {
            expected.insert("order".into(), json!(order.as_str()));
        }
        if let Some(max_size) = query.max_size {
            expected.insert("maxSize".into(), json!(max_size.to_string()));
        }
        if let Some(offset) = query.offset {
            expected.insert("offset".into(), json!(offset.to_string()));
        }
        if let Some(text_filter) = &query.text_filter {
            expected.insert("textFilter".into(), json!(text_filter));
        }
        let decoded_keys: Vec<&String> = decoded.keys().collect();
        let expected_keys: Vec<&String> = expected.keys().collect();
        prop_assert_eq!(decoded_keys, expected_keys);
        prop_assert_eq!(&decoded, &expected);

        let parsed = sandbox::parse_with(
            &sandbox::where_from_query(&decoded),
            &SandboxView(entity),
            ParseOptions::API,
        );
        let items = parsed.map_err(|error| TestCaseError::fail(format!("the sandbox refused it: {error}")))?;
        prop_assert_eq!(items.len(), query.filter.conditions().len());
        let (mut validated, mut parsed) = (BTreeSet::new(), BTreeSet::new());
        validated_attributes(query.filter.conditions(), &mut validated);
        parsed_attributes(&items, &mut parsed);
        prop_assert_eq!(parsed, validated);
    }
}
