//! The whole language, parsed and evaluated, against a straightforward reference filter over
//! generated records and conditions (property tests).

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::mysql::format_date_time;
use super::test_support::*;
use super::*;
use crate::query_string;

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
        Tree::Leaf(Leaf::NameEquals(_, "0") | Leaf::NameLike(_, "0") | Leaf::Amount(_, "0")) => {
            RefPart::DroppedInGroups
        }
        Tree::Leaf(Leaf::NameIn(_, values)) if values.is_empty() => RefPart::DroppedInGroups,
        Tree::Leaf(Leaf::Link(LinkOp::WithAll, values)) if values.is_empty() => RefPart::Nothing,
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
                || (stamp.time() == NaiveTime::MIN && date_in(rel, days(stamp.date(), -1), today))
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
        Leaf::NameIn(false, values) => name.is_some_and(|n| values.iter().any(|v| same_text(n, v))),
        Leaf::NameIn(true, values) => {
            values.is_empty() || name.is_some_and(|n| !values.iter().any(|v| same_text(n, v)))
        }
        Leaf::NameStarts(v) => {
            name.is_some_and(|n| n.to_lowercase().starts_with(&v.to_lowercase()))
        }
        Leaf::NameEnds(v) => name.is_some_and(|n| n.to_lowercase().ends_with(&v.to_lowercase())),
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
    pick(&SPECIAL_DAYS).prop_map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).expect("valid date"))
}

fn date_leaf() -> impl Strategy<Value = Leaf> {
    prop_oneof![
        (date_op(), boundary_date()).prop_map(|(op, d)| Leaf::Day(op, d)),
        (boundary_date(), boundary_date()).prop_map(|(a, b)| Leaf::DayBetween(a, b)),
        rel().prop_map(Leaf::DayRel),
        (date_op(), boundary_date(), any::<bool>()).prop_map(|(op, d, f)| Leaf::Stamp(op, d, f)),
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
