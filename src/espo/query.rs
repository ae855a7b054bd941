//! A validated list request as EspoCRM's PHP-style query pairs.
//!
//! EspoCRM reads `GET {E}` parameters the way PHP reads a query string (`$_GET`): a where item is
//! `where[0][type]=equals&where[0][attribute]=name&where[0][value]=Acme`, an array value is
//! `where[0][value][0]=…&where[0][value][1]=…`, and a group nests its items under its own
//! value: `where[0][type]=or&where[0][value][0][type]=…`. The other parameters are plain:
//! `select=name,stage`, `orderBy`, `order`, `maxSize`, `offset`, `textFilter`.
//!
//! The pairs are returned raw, for [`EspoRequest::query`](espomcp_actors::EspoRequest); the
//! gateway form-encodes them. Every key is built from fixed words and indices, and every
//! caller-given string (an attribute, a value, the text filter) sits in a value, so the number
//! and the keys of the pairs follow from the shape of the request alone: no value can add,
//! remove or rename a parameter.

use crate::validate::names::{OrderBy, Select, SortOrder};
use crate::validate::where_clause::{Condition, Operand, Where};

/// Everything a list or search sends besides the entity type, each part already validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub filter: Where,
    pub select: Option<Select>,
    pub order_by: Option<OrderBy>,
    pub order: Option<SortOrder>,
    /// EspoCRM's own default is its maximum (200), so callers normally set this.
    pub max_size: Option<u32>,
    pub offset: Option<u32>,
    /// EspoCRM's quick search over the entity type's text filter fields; free text, sent as is.
    pub text_filter: Option<String>,
}

impl ListQuery {
    /// The raw pairs, in a fixed order: where items, `select`, `orderBy`, `order`, `maxSize`,
    /// `offset`, `textFilter`.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let mut pairs = encode_where(&self.filter);
        let mut push = |key: &str, value: String| pairs.push((key.to_owned(), value));
        if let Some(select) = &self.select {
            push("select", select.attributes().join(","));
        }
        if let Some(order_by) = &self.order_by {
            push("orderBy", order_by.name().to_owned());
        }
        if let Some(order) = self.order {
            push("order", order.as_str().to_owned());
        }
        if let Some(max_size) = self.max_size {
            push("maxSize", max_size.to_string());
        }
        if let Some(offset) = self.offset {
            push("offset", offset.to_string());
        }
        if let Some(text_filter) = &self.text_filter {
            push("textFilter", text_filter.clone());
        }
        pairs
    }
}

/// The `where[…]` pairs of a validated filter; none for an empty one. Also what a related list
/// (`GET {E}/{id}/{link}`) sends.
pub fn encode_where(filter: &Where) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    encode_conditions(filter.conditions(), "where", &mut pairs);
    pairs
}

fn encode_conditions(conditions: &[Condition], prefix: &str, pairs: &mut Vec<(String, String)>) {
    for (index, condition) in conditions.iter().enumerate() {
        let item = format!("{prefix}[{index}]");
        match condition {
            Condition::Comparison {
                attribute,
                operator,
                operand,
            } => {
                pairs.push((format!("{item}[type]"), operator.as_str().to_owned()));
                pairs.push((format!("{item}[attribute]"), attribute.clone()));
                match operand {
                    Operand::None => {}
                    Operand::One(value) => pairs.push((format!("{item}[value]"), value.clone())),
                    Operand::List(values) => {
                        for (position, value) in values.iter().enumerate() {
                            pairs.push((format!("{item}[value][{position}]"), value.clone()));
                        }
                    }
                }
            }
            Condition::Group { kind, conditions } => {
                pairs.push((format!("{item}[type]"), kind.as_str().to_owned()));
                encode_conditions(conditions, &format!("{item}[value]"), pairs);
            }
        }
    }
}

/// The reverse of [`ListQuery::to_pairs`], strict about shape, so tests can prove that what
/// was validated is exactly what EspoCRM will read.
#[cfg(test)]
pub(crate) mod decode {
    use super::ListQuery;
    use crate::validate::names::{OrderBy, Select, SortOrder};
    use crate::validate::where_clause::{Condition, GroupKind, Operand, Operator, Where};

    /// The where pairs as a tree: `where[0][value][1]=x` puts the leaf `x` under `0`, `value`,
    /// `1`, in the order the keys first appear.
    #[derive(Debug)]
    enum Node {
        Leaf(String),
        Branch(Vec<(String, Node)>),
    }

    pub(crate) fn decode(pairs: &[(String, String)]) -> Result<ListQuery, String> {
        let mut query = ListQuery::default();
        let mut where_root = Node::Branch(Vec::new());
        let mut saw_where = false;
        let mut seen: Vec<&str> = Vec::new();
        for (key, value) in pairs {
            if let Some(path) = key.strip_prefix("where") {
                insert(&mut where_root, &segments(path)?, value.clone())?;
                saw_where = true;
                continue;
            }
            if seen.contains(&key.as_str()) {
                return Err(format!("{key} given twice"));
            }
            seen.push(key);
            match key.as_str() {
                "select" => {
                    query.select = Some(Select::new_unchecked(
                        value.split(',').map(str::to_owned).collect(),
                    ));
                }
                "orderBy" => query.order_by = Some(OrderBy::new_unchecked(value.clone())),
                "order" => {
                    query.order = Some(match value.as_str() {
                        "asc" => SortOrder::Asc,
                        "desc" => SortOrder::Desc,
                        other => return Err(format!("order {other:?}")),
                    });
                }
                "maxSize" => query.max_size = Some(value.parse().map_err(|_| "maxSize")?),
                "offset" => query.offset = Some(value.parse().map_err(|_| "offset")?),
                "textFilter" => query.text_filter = Some(value.clone()),
                other => return Err(format!("unexpected parameter {other:?}")),
            }
        }
        if saw_where {
            query.filter = Where::new_unchecked(conditions(where_root)?);
        }
        Ok(query)
    }

    /// `[0][value][1]` → `["0", "value", "1"]`.
    fn segments(path: &str) -> Result<Vec<String>, String> {
        let mut rest = path;
        let mut out = Vec::new();
        while !rest.is_empty() {
            let inner = rest
                .strip_prefix('[')
                .ok_or_else(|| format!("bad key part {rest:?}"))?;
            let end = inner
                .find(']')
                .ok_or_else(|| format!("unclosed bracket in {path:?}"))?;
            let segment = &inner[..end];
            if segment.is_empty() || segment.contains('[') {
                return Err(format!("bad segment in {path:?}"));
            }
            out.push(segment.to_owned());
            rest = &inner[end + 1..];
        }
        if out.is_empty() {
            return Err("bare `where`".into());
        }
        Ok(out)
    }

    fn insert(node: &mut Node, path: &[String], value: String) -> Result<(), String> {
        let Node::Branch(children) = node else {
            return Err("a value and a branch share a key".into());
        };
        let Some((first, rest)) = path.split_first() else {
            return Err("empty path".into());
        };
        let existing = children.iter().position(|(key, _)| key == first);
        match (existing, rest.is_empty()) {
            (Some(_), true) => Err(format!("{first} given twice")),
            (None, true) => {
                children.push((first.clone(), Node::Leaf(value)));
                Ok(())
            }
            (Some(position), false) => insert(&mut children[position].1, rest, value),
            (None, false) => {
                children.push((first.clone(), Node::Branch(Vec::new())));
                let last = children.len() - 1;
                insert(&mut children[last].1, rest, value)
            }
        }
    }

    /// Children keyed `0`, `1`, … in that order.
    fn indexed(node: Node) -> Result<Vec<Node>, String> {
        let Node::Branch(children) = node else {
            return Err("expected a list".into());
        };
        children
            .into_iter()
            .enumerate()
            .map(|(expected, (key, child))| {
                if key == expected.to_string() {
                    Ok(child)
                } else {
                    Err(format!("index {key} where {expected} was due"))
                }
            })
            .collect()
    }

    fn conditions(node: Node) -> Result<Vec<Condition>, String> {
        indexed(node)?.into_iter().map(condition).collect()
    }

    fn condition(node: Node) -> Result<Condition, String> {
        let Node::Branch(parts) = node else {
            return Err("a where item is not a branch".into());
        };
        let mut kind = None;
        let mut attribute = None;
        let mut value = None;
        for (key, part) in parts {
            match (key.as_str(), part) {
                ("type", Node::Leaf(text)) => kind = Some(text),
                ("attribute", Node::Leaf(text)) => attribute = Some(text),
                ("value", part) => value = Some(part),
                (other, _) => return Err(format!("unexpected item part {other:?}")),
            }
        }
        let kind = kind.ok_or("item without type")?;
        if let Some(group) = GroupKind::parse(&kind) {
            if attribute.is_some() {
                return Err("a group with an attribute".into());
            }
            return Ok(Condition::Group {
                kind: group,
                conditions: conditions(value.ok_or("group without value")?)?,
            });
        }
        let operator = Operator::parse(&kind).ok_or_else(|| format!("operator {kind:?}"))?;
        let operand = match value {
            None => Operand::None,
            Some(Node::Leaf(text)) => Operand::One(text),
            Some(list) => Operand::List(
                indexed(list)?
                    .into_iter()
                    .map(|item| match item {
                        Node::Leaf(text) => Ok(text),
                        Node::Branch(_) => Err("nested value in a comparison".to_owned()),
                    })
                    .collect::<Result<_, _>>()?,
            ),
        };
        Ok(Condition::Comparison {
            attribute: attribute.ok_or("item without attribute")?,
            operator,
            operand,
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::decode::decode;
    use super::*;
    use crate::validate::ValidationError;
    use crate::validate::names;
    use crate::validate::strategies::{count, pick, tricky_text, valid_tree};
    use crate::validate::test_schema::entity;
    use crate::validate::where_clause::{GroupKind, Operator, WhereCondition, validate};

    fn filter(entity_type: &str, conditions: Value) -> Where {
        let conditions: Vec<WhereCondition> =
            serde_json::from_value(conditions).expect("the test input is a condition list");
        validate(entity(entity_type), &conditions).expect("the test filter is valid")
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    /// What the gateway puts on the wire, and what EspoCRM's PHP reads back.
    fn over_the_wire(pairs: &[(String, String)]) -> (String, Vec<(String, String)>) {
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        let decoded = form_urlencoded::parse(encoded.as_bytes())
            .into_owned()
            .collect();
        (encoded, decoded)
    }

    #[test]
    fn an_or_group_is_encoded_as_espocrm_reads_it() {
        // As in the recorded exchange 02-list-where-or-group.
        let query = ListQuery {
            filter: filter(
                "Meeting",
                json!([{"type": "or", "value": [
                    {"field": "status", "type": "equals", "value": "Held"},
                    {"field": "status", "type": "equals", "value": "Not Held"}
                ]}]),
            ),
            select: names::select(entity("Meeting"), &["name", "status"]).expect("valid"),
            max_size: Some(5),
            ..ListQuery::default()
        };
        assert_eq!(
            query.to_pairs(),
            pairs(&[
                ("where[0][type]", "or"),
                ("where[0][value][0][type]", "equals"),
                ("where[0][value][0][attribute]", "status"),
                ("where[0][value][0][value]", "Held"),
                ("where[0][value][1][type]", "equals"),
                ("where[0][value][1][attribute]", "status"),
                ("where[0][value][1][value]", "Not Held"),
                ("select", "name,status"),
                ("maxSize", "5"),
            ])
        );
    }

    #[test]
    fn arrays_and_valueless_items_are_encoded_as_espocrm_reads_them() {
        let where_pairs = encode_where(&filter(
            "Account",
            json!([
                {"field": "industry", "type": "in", "value": ["Software", "Finance"]},
                {"field": "emailAddressIsOptedOut", "type": "isFalse"},
                {"field": "campaignId", "type": "equals", "value": "6b05838b2c728cbdb"}
            ]),
        ));
        assert_eq!(
            where_pairs,
            pairs(&[
                ("where[0][type]", "in"),
                ("where[0][attribute]", "industry"),
                ("where[0][value][0]", "Software"),
                ("where[0][value][1]", "Finance"),
                ("where[1][type]", "isFalse"),
                ("where[1][attribute]", "emailAddressIsOptedOut"),
                ("where[2][type]", "equals"),
                ("where[2][attribute]", "campaignId"),
                ("where[2][value]", "6b05838b2c728cbdb"),
            ])
        );
    }

    #[test]
    fn every_parameter_has_its_place() {
        let account = entity("Account");
        let query = ListQuery {
            filter: Where::default(),
            select: names::select(account, &["name", "campaign"]).expect("valid"),
            order_by: names::order_by(account, "createdAt").ok(),
            order: names::order("DESC").ok(),
            max_size: names::limit(Some(500), 200).ok(),
            offset: Some(names::offset(Some(40))),
            text_filter: Some("Redwood".into()),
        };
        let encoded = query.to_pairs();
        assert_eq!(
            encoded,
            pairs(&[
                ("select", "name,campaignId,campaignName"),
                ("orderBy", "createdAt"),
                ("order", "desc"),
                ("maxSize", "200"),
                ("offset", "40"),
                ("textFilter", "Redwood"),
            ])
        );
        assert_eq!(decode(&encoded), Ok(query));
        assert!(ListQuery::default().to_pairs().is_empty());
    }

    #[test]
    fn values_that_look_like_parameters_stay_values() {
        let sneaky = "x&where[1][type]=isNotNull&maxSize=9999#frag %41 /../";
        let query = ListQuery {
            filter: filter(
                "Account",
                json!([{"field": "name", "type": "equals", "value": sneaky}]),
            ),
            text_filter: Some(sneaky.into()),
            ..ListQuery::default()
        };
        let pairs = query.to_pairs();
        assert_eq!(pairs.len(), 4);
        let (encoded, decoded) = over_the_wire(&pairs);
        assert_eq!(encoded.split('&').count(), 4, "{encoded}");
        assert!(
            !encoded.contains('#') && !encoded.contains("&maxSize="),
            "{encoded}"
        );
        assert_eq!(decoded, pairs);
        assert_eq!(decode(&decoded), Ok(query));
    }

    #[test]
    fn the_decoder_is_strict() {
        for bad in [
            &[("where[0][type]", "equals")][..],
            &[("where[0][type]", "bogus"), ("where[0][attribute]", "name")],
            &[
                ("where[1][type]", "isNull"),
                ("where[1][attribute]", "name"),
            ],
            &[("where[0][type]", "isNull"), ("where[0][type]", "isNull")],
            &[("where[0]type", "isNull")],
            &[("maxSize", "x")],
            &[("bogus", "1")],
            &[("order", "up")],
        ] {
            assert!(decode(&pairs(bad)).is_err(), "{bad:?}");
        }
    }

    // ----- property tests -----

    /// The pairs a tree must produce, from its shape alone.
    fn shape_pairs(conditions: &[Condition]) -> usize {
        conditions
            .iter()
            .map(|condition| match condition {
                Condition::Comparison { operand, .. } => {
                    2 + match operand {
                        Operand::None => 0,
                        Operand::One(_) => 1,
                        Operand::List(values) => values.len(),
                    }
                }
                Condition::Group { conditions, .. } => 1 + shape_pairs(conditions),
            })
            .sum()
    }

    /// Any tree at all, unvalidated, with any strings: the encoder's guarantees do not rest on
    /// validation. Lists and groups are non-empty, as validated ones are.
    fn any_tree() -> impl Strategy<Value = Condition> {
        let operators = Operator::ALL.to_vec();
        let leaf = (
            any::<String>(),
            prop::sample::select(operators),
            prop_oneof![
                Just(Operand::None),
                tricky_text().prop_map(Operand::One),
                prop::collection::vec(tricky_text(), 1..4).prop_map(Operand::List),
            ],
        )
            .prop_map(|(attribute, operator, operand)| Condition::Comparison {
                attribute,
                operator,
                operand,
            });
        leaf.prop_recursive(4, 64, 5, |inner| {
            (
                pick(&[GroupKind::And, GroupKind::Or]),
                prop::collection::vec(inner, 1..5),
            )
                .prop_map(|(kind, conditions)| Condition::Group { kind, conditions })
        })
    }

    fn assert_key_is_fixed(key: &str) {
        assert!(
            key.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'[' || b == b']'),
            "{key:?}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn validated_filters_survive_the_wire_unchanged(
            trees in prop::collection::vec(valid_tree(), 0..5),
            selected in prop::collection::vec(pick(&["name", "campaign", "billingAddress", "industry", "id", "teamsIds"]), 0..4),
            order_by in prop::option::of(pick(&["name", "createdAt", "campaign", "employees"])),
            order in prop::option::of(pick(&["asc", "DESC"])),
            max_size in any::<Option<u32>>(),
            offset in any::<Option<u32>>(),
            text_filter in prop::option::of(tricky_text()),
        ) {
            let (inputs, expected): (Vec<Value>, Vec<Condition>) = trees.into_iter().unzip();
            let conditions: Vec<WhereCondition> = serde_json::from_value(Value::Array(inputs))
                .map_err(|error| TestCaseError::fail(error.to_string()))?;
            let account = entity("Account");
            let filter = match validate(account, &conditions) {
                Ok(filter) => filter,
                Err(ValidationError::TooManyConditions { max }) => {
                    prop_assert!(count(&expected) > max);
                    return Ok(());
                }
                Err(error) => return Err(TestCaseError::fail(format!("refused: {error}"))),
            };
            prop_assert!(count(&expected) <= 50);
            prop_assert_eq!(filter.conditions(), expected.as_slice());

            let query = ListQuery {
                filter,
                select: names::select(account, &selected).map_err(|e| TestCaseError::fail(e.message()))?,
                order_by: order_by.map(|name| names::order_by(account, name)).transpose().map_err(|e| TestCaseError::fail(e.message()))?,
                order: order.map(names::order).transpose().map_err(|e| TestCaseError::fail(e.message()))?,
                max_size: max_size.map(|size| names::limit(Some(size), 200)).and_then(Result::ok),
                offset,
                text_filter,
            };
            let pairs = query.to_pairs();
            let others = [query.select.is_some(), query.order_by.is_some(), query.order.is_some(),
                query.max_size.is_some(), query.offset.is_some(), query.text_filter.is_some()];
            prop_assert_eq!(pairs.len(), shape_pairs(&expected) + others.iter().filter(|x| **x).count());
            for (key, _) in &pairs {
                assert_key_is_fixed(key);
            }
            let (encoded, decoded) = over_the_wire(&pairs);
            if !pairs.is_empty() {
                prop_assert_eq!(encoded.split('&').count(), pairs.len());
            }
            prop_assert!(!encoded.contains('#') && !encoded.contains(' '));
            prop_assert_eq!(&decoded, &pairs);
            prop_assert_eq!(decode(&decoded), Ok(query));
        }

        #[test]
        fn any_tree_encodes_to_its_shape_and_back(trees in prop::collection::vec(any_tree(), 0..4)) {
            let filter = Where::new_unchecked(trees);
            let pairs = encode_where(&filter);
            prop_assert_eq!(pairs.len(), shape_pairs(filter.conditions()));
            for (key, _) in &pairs {
                assert_key_is_fixed(key);
            }
            let (encoded, decoded) = over_the_wire(&pairs);
            if !pairs.is_empty() {
                prop_assert_eq!(encoded.split('&').count(), pairs.len());
            }
            prop_assert_eq!(&decoded, &pairs);
            let query = decode(&decoded).map_err(TestCaseError::fail)?;
            prop_assert_eq!(query.filter, filter);
        }
    }
}
