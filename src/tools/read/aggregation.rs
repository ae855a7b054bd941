//! The aggregation engine behind the `aggregate` tool ([`super::power`]): the validated plan
//! (what to group by, which metrics over which numeric fields), the running figures per group
//! and currency, the date buckets (on chrono: ISO weeks, months, quarters, years), and the rows
//! of the answer. It reads records already fetched and sends nothing; the tool pages through
//! EspoCRM and feeds it.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate};
use espomcp_actors::{EntityType, FieldType};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::ToolError;
use crate::espo::attributes::AttributeKind;
use crate::validate::lists::MAX_METRICS;
use crate::validate::names;

/// What to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MetricOp {
    Count,
    Sum,
    Avg,
    Min,
    Max,
}

impl MetricOp {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Count => "count",
            Self::Sum => "sum",
            Self::Avg => "avg",
            Self::Min => "min",
            Self::Max => "max",
        }
    }
}

/// One metric of `aggregate`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    /// `count` (records), or `sum`, `avg`, `min`, `max` of a numeric field.
    pub op: MetricOp,
    /// The numeric field for `sum`, `avg`, `min`, `max`, e.g. `amount`; none for `count`.
    #[serde(default)]
    pub field: Option<String>,
}

/// A calendar period to group dates by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DateBucket {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A whole number as an integer, anything else as a float.
fn number_value(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        Value::from(x as i64)
    } else {
        serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
    }
}

/// The date at the start of a date or date-time value (`YYYY-MM-DD`, then anything); `None`
/// for a value that does not start with a day that exists (`rules::date`, as the where
/// validator holds too).
fn parse_date(text: &str) -> Option<NaiveDate> {
    crate::rules::date::parse(text.get(..10)?)
}

/// The bucket a date or date-time value falls in; `None` for a value that is not a date.
pub fn bucket_of(text: &str, bucket: DateBucket) -> Option<String> {
    let date = parse_date(text)?;
    let year = date.year();
    Some(match bucket {
        DateBucket::Day => format!("{year:04}-{:02}-{:02}", date.month(), date.day()),
        DateBucket::Month => format!("{year:04}-{:02}", date.month()),
        DateBucket::Quarter => format!("{year:04}-Q{}", (date.month() - 1) / 3 + 1),
        DateBucket::Year => format!("{year:04}"),
        DateBucket::Week => {
            // ISO 8601: the week belongs to the year of its Thursday.
            let week = date.iso_week();
            format!("{:04}-W{:02}", week.year(), week.week())
        }
    })
}

/// Running figures of one numeric field within one group and currency.
#[derive(Debug, Default, Clone)]
struct Figures {
    values: u64,
    sum: f64,
    min: Option<f64>,
    max: Option<f64>,
}

impl Figures {
    fn add(&mut self, x: f64) {
        self.values += 1;
        self.sum += x;
        self.min = Some(self.min.map_or(x, |m| m.min(x)));
        self.max = Some(self.max.map_or(x, |m| m.max(x)));
    }

    fn result(&self, op: MetricOp) -> Value {
        match op {
            MetricOp::Count => Value::from(self.values),
            MetricOp::Sum => number_value(self.sum),
            MetricOp::Avg if self.values > 0 => number_value(self.sum / self.values as f64),
            MetricOp::Avg => Value::Null,
            MetricOp::Min => self.min.map_or(Value::Null, number_value),
            MetricOp::Max => self.max.map_or(Value::Null, number_value),
        }
    }
}

/// A numeric field an aggregate reads, and its currency attribute when it is a currency field.
#[derive(Debug, Clone)]
struct NumericField {
    name: String,
    currency: Option<String>,
}

/// One group: its value, records, and per field the figures per currency (`""` for fields
/// without one).
#[derive(Debug, Default)]
struct Group {
    value: Value,
    records: u64,
    fields: BTreeMap<String, BTreeMap<String, Figures>>,
}

/// Nulls last; numbers by value; everything else by its text.
fn compare_group_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Greater,
        (_, Value::Null) => Ordering::Less,
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

/// The plan of one aggregate, validated: what to group by and what to compute.
#[derive(Debug)]
pub struct AggregatePlan {
    group_by: Option<String>,
    bucket: Option<DateBucket>,
    metrics: Vec<(MetricOp, Option<String>)>,
    fields: Vec<NumericField>,
}

impl AggregatePlan {
    /// The plan of `metrics` over the records of `entity`, grouped by the attribute `group_by`
    /// (its dates by `bucket`), checked against the schema; mistakes are `INVALID_ARGUMENT`
    /// naming the argument (`metrics[1]`, `groupBy`, `dateBucket`).
    pub fn new(
        entity: &EntityType,
        group_by: Option<&str>,
        metrics: &[Metric],
        bucket: Option<DateBucket>,
    ) -> Result<Self, ToolError> {
        if metrics.is_empty() {
            return Err(ToolError::invalid_argument(
                "metrics",
                "must name at least one metric, e.g. [{\"op\": \"count\"}]",
            ));
        }
        if metrics.len() > MAX_METRICS {
            return Err(ToolError::invalid_argument(
                "metrics",
                &format!("may hold at most {MAX_METRICS} metrics"),
            ));
        }
        let group_by = match group_by {
            Some(name) => {
                let attribute = names::attribute(entity, name)?;
                if matches!(
                    attribute.kind,
                    AttributeKind::List | AttributeKind::Unfilterable
                ) {
                    return Err(ToolError::invalid_argument(
                        "groupBy",
                        &format!(
                            "cannot be {name:?}: a {} field has no single value to group by",
                            attribute.kind.describe()
                        ),
                    ));
                }
                if bucket.is_some()
                    && !matches!(
                        attribute.kind,
                        AttributeKind::Date | AttributeKind::DateTime
                    )
                {
                    return Err(ToolError::invalid_argument(
                        "dateBucket",
                        &format!(
                            "needs a date or date-time groupBy field; {name:?} is a {} field",
                            attribute.kind.describe()
                        ),
                    ));
                }
                Some(attribute.name)
            }
            None if bucket.is_some() => {
                return Err(ToolError::invalid_argument(
                    "dateBucket",
                    "needs groupBy: the date or date-time field to bucket, e.g. \"closeDate\"",
                ));
            }
            None => None,
        };
        let mut planned = Vec::new();
        let mut fields: Vec<NumericField> = Vec::new();
        for (index, metric) in metrics.iter().enumerate() {
            let argument = format!("metrics[{index}]");
            match (metric.op, &metric.field) {
                (MetricOp::Count, None) => planned.push((MetricOp::Count, None)),
                (MetricOp::Count, Some(_)) => {
                    return Err(ToolError::invalid_argument(
                        &argument,
                        "counts records and takes no field: give {\"op\": \"count\"}",
                    ));
                }
                (op, None) => {
                    return Err(ToolError::invalid_argument(
                        &argument,
                        &format!("needs a numeric field for {:?}", op.as_str()),
                    ));
                }
                (op, Some(name)) => {
                    let attribute = names::attribute(entity, name)?;
                    if attribute.kind != AttributeKind::Number {
                        return Err(ToolError::invalid_argument(
                            &argument,
                            &format!(
                                "needs a numeric field for {:?}; {name:?} is a {} field",
                                op.as_str(),
                                attribute.kind.describe()
                            ),
                        ));
                    }
                    let currency = attribute
                        .field
                        .filter(|f| f.field_type == FieldType::Currency && f.name == attribute.name)
                        .map(|f| format!("{}Currency", f.name));
                    if !fields.iter().any(|f| f.name == attribute.name) {
                        fields.push(NumericField {
                            name: attribute.name.clone(),
                            currency,
                        });
                    }
                    planned.push((op, Some(attribute.name)));
                }
            }
        }
        Ok(Self {
            group_by,
            bucket,
            metrics: planned,
            fields,
        })
    }

    /// The attributes to read: the group, the fields and their currencies; `id` for a count.
    pub fn select(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut push = |name: &str| {
            if !out.iter().any(|n| n == name) {
                out.push(name.to_owned());
            }
        };
        push("id");
        if let Some(group) = &self.group_by {
            push(group);
        }
        for field in &self.fields {
            push(&field.name);
            if let Some(currency) = &field.currency {
                push(currency);
            }
        }
        out
    }

    fn group_value(&self, record: &Map<String, Value>) -> Value {
        let Some(group) = &self.group_by else {
            return Value::Null;
        };
        let value = record.get(group).cloned().unwrap_or(Value::Null);
        match (self.bucket, &value) {
            (Some(bucket), Value::String(text)) => {
                bucket_of(text, bucket).map_or(Value::Null, Value::String)
            }
            (Some(_), _) => Value::Null,
            (None, _) => value,
        }
    }

    fn row(&self, group: &Group) -> Map<String, Value> {
        let mut row = Map::new();
        if let Some(name) = &self.group_by {
            let key = if self.bucket.is_some() {
                "bucket"
            } else {
                name.as_str()
            };
            row.insert(key.to_owned(), group.value.clone());
        }
        let empty = BTreeMap::new();
        for (op, field) in &self.metrics {
            let Some(field) = field else {
                row.insert("count".into(), Value::from(group.records));
                continue;
            };
            let key = format!("{}_{field}", op.as_str());
            let per_currency = group.fields.get(field).unwrap_or(&empty);
            let spec = self.fields.iter().find(|f| &f.name == field);
            let currency_key = spec.and_then(|f| f.currency.as_ref());
            match (currency_key, per_currency.len()) {
                (_, 0) => {
                    row.insert(key, Figures::default().result(*op));
                    if let Some(c) = currency_key {
                        row.insert(c.clone(), Value::Null);
                    }
                }
                (None, _) | (Some(_), 1) => {
                    let (currency, figures) = per_currency.iter().next().expect("one entry");
                    row.insert(key, figures.result(*op));
                    if let Some(c) = currency_key {
                        let shown = if currency.is_empty() {
                            Value::Null
                        } else {
                            Value::from(currency.as_str())
                        };
                        row.insert(c.clone(), shown);
                    }
                }
                (Some(c), _) => {
                    let split: Map<String, Value> = per_currency
                        .iter()
                        .map(|(currency, figures)| (currency.clone(), figures.result(*op)))
                        .collect();
                    row.insert(key, Value::Object(split));
                    row.insert(
                        c.clone(),
                        Value::Array(
                            per_currency
                                .keys()
                                .map(|k| Value::from(k.as_str()))
                                .collect(),
                        ),
                    );
                }
            }
        }
        row
    }
}

/// One aggregate under way: its plan and the groups seen so far, in the order they were met.
#[derive(Debug)]
pub struct Aggregation {
    plan: AggregatePlan,
    groups: Vec<Group>,
    /// A group's place in `groups`, by its value's JSON text.
    index: HashMap<String, usize>,
}

impl Aggregation {
    pub fn new(plan: AggregatePlan) -> Aggregation {
        Aggregation {
            plan,
            groups: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// Counts `record` in its group, and its numbers in the group's figures.
    pub fn add(&mut self, record: &Map<String, Value>) {
        let plan = &self.plan;
        let (groups, index) = (&mut self.groups, &mut self.index);
        let value = plan.group_value(record);
        let key = value.to_string();
        let at = *index.entry(key).or_insert_with(|| {
            groups.push(Group {
                value,
                ..Group::default()
            });
            groups.len() - 1
        });
        let group = &mut groups[at];
        group.records += 1;
        for field in &plan.fields {
            let Some(x) = record.get(&field.name).and_then(number) else {
                continue;
            };
            let currency = field
                .currency
                .as_ref()
                .map(|c| {
                    record
                        .get(c)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned()
                })
                .unwrap_or_default();
            group
                .fields
                .entry(field.name.clone())
                .or_default()
                .entry(currency)
                .or_default()
                .add(x);
        }
    }

    /// One row per group, ordered by the group's value (nulls last). Without `groupBy`, one row
    /// even when no record matched.
    pub fn into_rows(mut self) -> Vec<Map<String, Value>> {
        self.groups
            .sort_by(|a, b| compare_group_values(&a.value, &b.value));
        if self.groups.is_empty() && self.plan.group_by.is_none() {
            self.groups.push(Group::default());
        }
        self.groups.iter().map(|g| self.plan.row(g)).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use espomcp_actors::Schema;
    use serde_json::json;

    use super::*;

    fn fixture_schema() -> Arc<Schema> {
        let metadata: Value =
            serde_json::from_str(include_str!("../../../actors/tests/fixtures/metadata.json"))
                .expect("the metadata fixture is JSON");
        let app_user: Value =
            serde_json::from_str(include_str!("../../../actors/tests/fixtures/app-user.json"))
                .expect("the app-user fixture is JSON");
        Arc::new(Schema::from_espo(&metadata, &app_user).expect("the fixtures make a schema"))
    }

    fn metrics(value: Value) -> Vec<Metric> {
        serde_json::from_value(value).expect("metrics")
    }

    /// Aggregates `records` of Opportunity as planned.
    fn rows(
        group_by: Option<&str>,
        metrics_given: Value,
        bucket: Option<DateBucket>,
        records: Value,
    ) -> Vec<Map<String, Value>> {
        let schema = fixture_schema();
        let entity = schema.entity("Opportunity").expect("Opportunity");
        let plan = AggregatePlan::new(entity, group_by, &metrics(metrics_given), bucket)
            .expect("a valid plan");
        let mut aggregation = Aggregation::new(plan);
        for record in records.as_array().expect("records") {
            aggregation.add(record.as_object().expect("a record"));
        }
        aggregation.into_rows()
    }

    fn refused(group_by: Option<&str>, metrics_given: Value, bucket: Option<DateBucket>) -> Value {
        let schema = fixture_schema();
        let entity = schema.entity("Opportunity").expect("Opportunity");
        let error = AggregatePlan::new(entity, group_by, &metrics(metrics_given), bucket)
            .expect_err("an invalid plan");
        error.to_json()["error"].clone()
    }

    #[test]
    fn buckets() {
        let b = |t: &str, k| bucket_of(t, k).unwrap();
        assert_eq!(b("2024-03-05", DateBucket::Day), "2024-03-05");
        assert_eq!(b("2024-03-05 23:59:00", DateBucket::Month), "2024-03");
        assert_eq!(b("2024-03-05", DateBucket::Quarter), "2024-Q1");
        assert_eq!(b("2024-12-31", DateBucket::Quarter), "2024-Q4");
        assert_eq!(b("2024-07-01", DateBucket::Year), "2024");
        // ISO weeks at year boundaries.
        assert_eq!(b("2024-12-30", DateBucket::Week), "2025-W01");
        assert_eq!(b("2021-01-03", DateBucket::Week), "2020-W53");
        assert_eq!(b("2021-01-04", DateBucket::Week), "2021-W01");
        assert_eq!(b("2024-03-05", DateBucket::Week), "2024-W10");
        assert_eq!(bucket_of("soon", DateBucket::Day), None);
        // A day that does not exist is no date (rules::date), as the where validator holds too.
        assert_eq!(bucket_of("2026-02-30", DateBucket::Day), None);
        assert_eq!(bucket_of("2026-02-30 10:00:00", DateBucket::Week), None);
    }

    #[test]
    fn should_bucket_only_real_dates() {
        assert_eq!(
            bucket_of("2024-02-29", DateBucket::Day).as_deref(),
            Some("2024-02-29")
        );
        assert_eq!(bucket_of("2023-02-29", DateBucket::Day), None);
        assert_eq!(bucket_of("2024-13-01", DateBucket::Month), None);
        assert_eq!(bucket_of("2024-3-5", DateBucket::Day), None);
        assert_eq!(bucket_of("", DateBucket::Year), None);
        assert_eq!(
            bucket_of("2020-12-31 23:59:59", DateBucket::Week).as_deref(),
            Some("2020-W53")
        );
    }

    #[test]
    fn figures() {
        let mut f = Figures::default();
        assert_eq!(f.result(MetricOp::Sum), json!(0));
        assert_eq!(f.result(MetricOp::Avg), Value::Null);
        for x in [3.0, 1.5, 4.5] {
            f.add(x);
        }
        assert_eq!(f.result(MetricOp::Sum), json!(9));
        assert_eq!(f.result(MetricOp::Avg), json!(3));
        assert_eq!(f.result(MetricOp::Min), json!(1.5));
        assert_eq!(f.result(MetricOp::Max), json!(4.5));
    }

    #[test]
    fn should_group_by_a_field_with_nulls_last() {
        let rows = rows(
            Some("stage"),
            json!([{"op": "count"}, {"op": "sum", "field": "amount"}]),
            None,
            json!([
                {"id": "1", "stage": "Proposal", "amount": 100, "amountCurrency": "USD"},
                {"id": "2", "stage": null, "amount": 5, "amountCurrency": "USD"},
                {"id": "3", "stage": "Closed Won", "amount": "250.5", "amountCurrency": "USD"},
                {"id": "4", "stage": "Proposal", "amount": 20, "amountCurrency": "USD"},
                {"id": "5", "amount": null},
            ]),
        );
        let rows = Value::Array(rows.into_iter().map(Value::Object).collect());
        assert_eq!(
            rows,
            json!([
                {"stage": "Closed Won", "count": 1, "sum_amount": 250.5, "amountCurrency": "USD"},
                {"stage": "Proposal", "count": 2, "sum_amount": 120, "amountCurrency": "USD"},
                {"stage": null, "count": 2, "sum_amount": 5, "amountCurrency": "USD"},
            ])
        );
    }

    #[test]
    fn should_never_add_amounts_in_different_currencies() {
        let rows = rows(
            None,
            json!([{"op": "sum", "field": "amount"}, {"op": "max", "field": "amount"}, {"op": "count"}]),
            None,
            json!([
                {"id": "1", "amount": 100, "amountCurrency": "USD"},
                {"id": "2", "amount": 30, "amountCurrency": "EUR"},
                {"id": "3", "amount": 50, "amountCurrency": "USD"},
            ]),
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(
            Value::Object(rows[0].clone()),
            json!({
                "sum_amount": {"EUR": 30, "USD": 150},
                "amountCurrency": ["EUR", "USD"],
                "max_amount": {"EUR": 30, "USD": 100},
                "count": 3,
            })
        );
    }

    #[test]
    fn should_bucket_dates_and_order_the_buckets() {
        let rows = rows(
            Some("closeDate"),
            json!([{"op": "count"}, {"op": "avg", "field": "probability"}]),
            Some(DateBucket::Quarter),
            json!([
                {"id": "1", "closeDate": "2024-05-01", "probability": 10},
                {"id": "2", "closeDate": "2024-01-15", "probability": 50},
                {"id": "3", "closeDate": "2024-06-30", "probability": 20},
                {"id": "4", "closeDate": "2024-02-30", "probability": 90},
                {"id": "5", "closeDate": null},
            ]),
        );
        let rows = Value::Array(rows.into_iter().map(Value::Object).collect());
        assert_eq!(
            rows,
            json!([
                {"bucket": "2024-Q1", "count": 1, "avg_probability": 50},
                {"bucket": "2024-Q2", "count": 2, "avg_probability": 15},
                {"bucket": null, "count": 2, "avg_probability": 90},
            ])
        );
    }

    #[test]
    fn should_answer_one_row_when_nothing_matched_without_group_by() {
        let ungrouped = rows(
            None,
            json!([{"op": "count"}, {"op": "sum", "field": "amount"}, {"op": "min", "field": "amount"}]),
            None,
            json!([]),
        );
        assert_eq!(
            Value::Array(ungrouped.into_iter().map(Value::Object).collect()),
            json!([{"count": 0, "sum_amount": 0, "amountCurrency": null, "min_amount": null}])
        );
        let grouped = rows(Some("stage"), json!([{"op": "count"}]), None, json!([]));
        assert!(grouped.is_empty());
    }

    #[test]
    fn should_read_only_the_attributes_it_needs() {
        let schema = fixture_schema();
        let entity = schema.entity("Opportunity").expect("Opportunity");
        let plan = AggregatePlan::new(
            entity,
            Some("stage"),
            &metrics(json!([{"op": "sum", "field": "amount"}, {"op": "avg", "field": "amount"}])),
            None,
        )
        .expect("a valid plan");
        assert_eq!(plan.select(), ["id", "stage", "amount", "amountCurrency"]);
    }

    #[test]
    fn should_refuse_plans_that_cannot_be_computed() {
        let error = refused(None, json!([{"op": "count"}]), Some(DateBucket::Month));
        assert_eq!(error["code"], "INVALID_ARGUMENT");
        assert_eq!(error["details"]["argument"], "dateBucket");
        let error = refused(
            Some("stage"),
            json!([{"op": "count"}]),
            Some(DateBucket::Month),
        );
        assert_eq!(error["details"]["argument"], "dateBucket");
        let error = refused(None, json!([{"op": "count", "field": "amount"}]), None);
        assert_eq!(error["details"]["argument"], "metrics[0]");
        let error = refused(None, json!([{"op": "count"}, {"op": "sum"}]), None);
        assert_eq!(error["details"]["argument"], "metrics[1]");
        let error = refused(None, json!([{"op": "sum", "field": "name"}]), None);
        assert_eq!(error["details"]["argument"], "metrics[0]");
        let error = refused(None, json!([]), None);
        assert_eq!(error["details"]["argument"], "metrics");
    }
}
