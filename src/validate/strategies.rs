//! proptest generators shared by the validator and encoder tests: caller-given text with every
//! character a query string treats specially, and `where` conditions on the test schema's
//! `Account` that the validator must accept, each with the tree it must produce.

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::validate::where_clause::{Condition, GroupKind, Operand, Operator};

/// Text with everything a query string treats specially, and unicode.
pub(crate) fn tricky_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[&=\\[\\]%#/?+;, a-zA-Z0-9éü✓🙂\\\\.-]{0,12}",
        Just("where[0][type]=isNull&x=1".to_owned()),
        Just(String::new()),
    ]
}

/// Any one of `items`.
pub(crate) fn pick<T: Clone + std::fmt::Debug + 'static>(items: &[T]) -> prop::sample::Select<T> {
    prop::sample::select(items.to_vec())
}

/// A comparison as the caller sends it, with the tree node the validator must make of it.
pub(crate) fn condition(
    field: &str,
    operator: Operator,
    value: Option<Value>,
    operand: Operand,
) -> (Value, Condition) {
    let mut input = json!({"field": field, "type": operator.as_str()});
    if let Some(value) = value {
        input["value"] = value;
    }
    let expected = Condition::Comparison {
        attribute: field.to_owned(),
        operator,
        operand,
    };
    (input, expected)
}

/// A `YYYY-MM-DD` date.
pub(crate) fn date() -> impl Strategy<Value = String> {
    (1000..=9999u32, 1..=12u32, 1..=28u32).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}"))
}

/// A condition on Account that the validator must accept, with the tree it must produce.
pub(crate) fn valid_comparison() -> impl Strategy<Value = (Value, Condition)> {
    use Operator::*;
    let text_fields = [
        "name",
        "website",
        "description",
        "billingAddressCity",
        "billingAddressStreet",
        "emailAddress",
        "campaignName",
    ];
    let industries = ["", "Software", "Finance", "Apparel & Accessories"];
    prop_oneof![
        (
            pick(&text_fields),
            pick(&[Equals, NotEquals, Like, NotLike, Contains, StartsWith]),
            // A lone "0" inside a group is refused (see `where_clause::inside_group`).
            tricky_text().prop_filter("a lone zero", |text| text != "0")
        )
            .prop_map(|(f, op, v)| condition(f, op, Some(json!(v)), Operand::One(v))),
        (
            pick(&text_fields),
            pick(&[In, NotIn]),
            prop::collection::vec(tricky_text(), 1..5)
        )
            .prop_map(|(f, op, v)| condition(f, op, Some(json!(v)), Operand::List(v))),
        (
            pick(&[
                "name",
                "industry",
                "employees",
                "foundedOn",
                "createdAt",
                "campaignId",
                "tags",
                "barcode"
            ]),
            pick(&[IsNull, IsNotNull])
        )
            .prop_map(|(f, op)| condition(f, op, None, Operand::None)),
        (pick(&industries), pick(&[Equals, NotEquals])).prop_map(|(v, op)| condition(
            "industry",
            op,
            Some(json!(v)),
            Operand::One(v.to_owned())
        )),
        (
            prop::collection::vec(pick(&industries), 1..4),
            pick(&[In, NotIn])
        )
            .prop_map(|(v, op)| condition(
                "industry",
                op,
                Some(json!(v)),
                Operand::List(v.iter().map(|s| s.to_string()).collect())
            )),
        (
            pick(&["employees", "rating"]),
            pick(&[
                Equals,
                NotEquals,
                GreaterThan,
                GreaterThanOrEquals,
                LessThan,
                LessThanOrEquals
            ]),
            // A zero inside a group is sent as "0.0" (see `where_clause::inside_group`).
            any::<i64>().prop_filter("zero", |n| *n != 0)
        )
            .prop_map(|(f, op, n)| condition(
                f,
                op,
                Some(json!(n)),
                Operand::One(n.to_string())
            )),
        (any::<i32>(), any::<i32>()).prop_map(|(a, b)| condition(
            "employees",
            Between,
            Some(json!([a, b.to_string()])),
            Operand::List(vec![a.to_string(), b.to_string()])
        )),
        (
            pick(&["foundedOn", "createdAt"]),
            pick(&[Equals, GreaterThan, LessThanOrEquals]),
            date()
        )
            .prop_map(|(f, op, d)| condition(f, op, Some(json!(d)), Operand::One(d))),
        (date(), 0..24u32, 0..60u32).prop_map(|(d, h, m)| {
            let t = format!("{d} {h:02}:{m:02}:00");
            condition(
                "createdAt",
                Between,
                Some(json!([d, t])),
                Operand::List(vec![d.clone(), t.clone()]),
            )
        }),
        (
            pick(&[
                "isPartner",
                "emailAddressIsOptedOut",
                "phoneNumberIsInvalid"
            ]),
            pick(&[IsTrue, IsFalse])
        )
            .prop_map(|(f, op)| condition(f, op, None, Operand::None)),
        (
            "[a-f0-9]{17}",
            pick(&["campaignId", "assignedUserId", "id", "logoId"])
        )
            .prop_map(|(id, f)| condition(f, Equals, Some(json!(id)), Operand::One(id))),
    ]
}

/// A valid condition or an `and`/`or` group of them, up to three levels deep.
pub(crate) fn valid_tree() -> impl Strategy<Value = (Value, Condition)> {
    valid_comparison().prop_recursive(3, 64, 4, |inner| {
        (
            pick(&[GroupKind::And, GroupKind::Or]),
            prop::collection::vec(inner, 1..4),
        )
            .prop_map(|(kind, children)| {
                let (inputs, conditions): (Vec<Value>, Vec<Condition>) =
                    children.into_iter().unzip();
                (
                    json!({"type": kind.as_str(), "value": inputs}),
                    Condition::Group { kind, conditions },
                )
            })
    })
}

/// How many conditions a tree holds, groups included.
pub(crate) fn count(conditions: &[Condition]) -> usize {
    conditions
        .iter()
        .map(|condition| match condition {
            Condition::Comparison { .. } => 1,
            Condition::Group { conditions, .. } => 1 + count(conditions),
        })
        .sum()
}
