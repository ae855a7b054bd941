//! The test doubles and helpers the where clause's unit tests share: a schema of the fixtures'
//! entities, a record, a fixed clock, and shorthands for parsing and matching one item.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use serde_json::{Map, Value, json};

use super::*;
use crate::query_string;

/// Attributes and links of the fixtures' entities, plus the ones the property test uses.
pub(super) struct TestSchema;

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
pub(super) struct CheckingSchema;

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
pub(super) struct Record {
    pub(super) values: Map<String, Value>,
    pub(super) links: HashMap<String, Vec<String>>,
}

impl Target for Record {
    fn attribute(&self, attribute: &str) -> Option<Value> {
        self.values.get(attribute).cloned()
    }

    fn linked_ids(&self, link: &str) -> Vec<String> {
        self.links.get(link).cloned().unwrap_or_default()
    }
}

pub(super) fn record(values: Value) -> Record {
    match values {
        Value::Object(values) => Record {
            values,
            links: HashMap::new(),
        },
        _ => Record::default(),
    }
}

pub(super) fn clock() -> Clock {
    clock_at("2026-11-24 12:00:00")
}

pub(super) fn clock_at(now: &str) -> Clock {
    Clock {
        now: NaiveDateTime::parse_from_str(now, "%Y-%m-%d %H:%M:%S").expect("valid time"),
    }
}

pub(super) fn items(where_value: Value) -> Vec<WhereItem> {
    parse(&where_value, &TestSchema).expect("where parses")
}

/// Does `values` pass the single where item `item` (searchParams JSON form)?
pub(super) fn hit(item: Value, values: Value) -> bool {
    matches_all(&items(json!([item])), &record(values), &clock())
}

pub(super) fn hit_at(now: &str, item: Value, values: Value) -> bool {
    matches_all(&items(json!([item])), &record(values), &clock_at(now))
}

pub(super) fn error(where_value: Value) -> WhereError {
    parse(&where_value, &TestSchema).expect_err("where is rejected")
}

pub(super) fn from_query(query: &str) -> Result<Vec<WhereItem>, WhereError> {
    parse(&where_from_query(&query_string::parse(query)), &TestSchema)
}

pub(super) fn status_and_reason(error: &WhereError) -> (u16, Option<String>) {
    (error.status(), error.reason())
}

pub(super) fn linked(ids: &[&str]) -> Record {
    Record {
        values: Map::new(),
        links: HashMap::from([(
            "contacts".to_string(),
            ids.iter().map(|id| id.to_string()).collect(),
        )]),
    }
}

pub(super) fn link_hit(item: Value, ids: &[&str]) -> bool {
    matches_all(&items(json!([item])), &linked(ids), &clock())
}
