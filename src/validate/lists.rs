//! List arguments with a cap: every list a tool takes is a [`BoundedVec`], whose input schema
//! states the cap (`maxItems`) and whose parsing refuses a longer list, so no caller can make a
//! tool carry an unbounded list to EspoCRM or into an error message.
//!
//! The cap is part of the type (`BoundedVec<String, 100>`), so the schema and the check cannot
//! disagree, and a list argument added later gets one by being declared. A list over its cap is
//! refused while it is read, before the tool runs: the error says how many items came and how
//! many are allowed, and never repeats the items (a list of 100,000 ids once came back as an
//! 8 MB error). [`Recipients`] is the one list that may also come as a string: `draft_email`'s
//! `to`, `cc` and `bcc`.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, SeqAccess, Visitor};

/// The most ids one call links, unlinks or reads (`link`/`unlink` `foreignIds`, `get_many`).
pub const MAX_IDS: usize = 100;
/// The most fields one `select` names (EspoCRM's standard entity types have fewer).
pub const MAX_SELECT: usize = 100;
/// The most top-level `where` conditions (the whole tree is bounded by `WhereLimits` as well).
pub const MAX_WHERE: usize = 50;
/// The most entity types one `global_search` is narrowed to.
pub const MAX_ENTITY_TYPES: usize = 100;
/// The most metrics one `aggregate` computes.
pub const MAX_METRICS: usize = 20;
/// The most recipients of one email draft, `to`, `cc` and `bcc` together.
pub const MAX_RECIPIENTS: usize = 100;

/// A list of at most `MAX` items. Reads like a slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundedVec<T, const MAX: usize>(Vec<T>);

impl<T, const MAX: usize> BoundedVec<T, MAX> {
    pub fn into_inner(self) -> Vec<T> {
        self.0
    }
}

impl<T, const MAX: usize> Deref for BoundedVec<T, MAX> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T, const MAX: usize> TryFrom<Vec<T>> for BoundedVec<T, MAX> {
    type Error = TooMany;

    fn try_from(items: Vec<T>) -> Result<Self, TooMany> {
        if items.len() > MAX {
            return Err(TooMany {
                count: items.len(),
                max: MAX,
            });
        }
        Ok(Self(items))
    }
}

/// A list longer than its cap: how long, and the cap. Deliberately without the items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("holds {count} items; at most {max} are allowed")]
pub struct TooMany {
    pub count: usize,
    pub max: usize,
}

impl<'de, T: Deserialize<'de>, const MAX: usize> Deserialize<'de> for BoundedVec<T, MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_seq(BoundedVisitor::<T, MAX>(PhantomData))
            .map(Self)
    }
}

struct BoundedVisitor<T, const MAX: usize>(PhantomData<T>);

impl<'de, T: Deserialize<'de>, const MAX: usize> Visitor<'de> for BoundedVisitor<T, MAX> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a list of at most {MAX} items")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX));
        while items.len() < MAX {
            match seq.next_element()? {
                Some(item) => items.push(item),
                None => return Ok(items),
            }
        }
        // Full: anything more is only counted, never kept.
        let mut count = MAX;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            count += 1;
        }
        if count > MAX {
            return Err(de::Error::custom(TooMany { count, max: MAX }));
        }
        Ok(items)
    }
}

impl<T: JsonSchema, const MAX: usize> JsonSchema for BoundedVec<T, MAX> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        format!("Array_up_to_{MAX}_of_{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut schema = Vec::<T>::json_schema(generator);
        schema.insert("maxItems".into(), MAX.into());
        schema
    }
}

/// Email recipients as a caller may give them: one address (`"a@example.com"`), several in one
/// string separated by commas or semicolons (`"a@example.com, b@example.com"`, as mail clients
/// write them), or a list of addresses. Items are trimmed and empty ones dropped; each address
/// is checked by the tool. At most [`MAX_RECIPIENTS`] in one argument (and in all, which the
/// tool checks).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipients(Vec<String>);

impl Recipients {
    pub fn addresses(&self) -> &[String] {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Recipients {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RecipientsVisitor)
    }
}

struct RecipientsVisitor;

impl RecipientsVisitor {
    fn split<E: de::Error>(text: &str) -> Result<Vec<String>, E> {
        let addresses: Vec<String> = text
            .split([',', ';'])
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect();
        if addresses.len() > MAX_RECIPIENTS {
            return Err(E::custom(TooMany {
                count: addresses.len(),
                max: MAX_RECIPIENTS,
            }));
        }
        Ok(addresses)
    }
}

impl<'de> Visitor<'de> for RecipientsVisitor {
    type Value = Recipients;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "an email address, several separated by commas, or a list of at most \
             {MAX_RECIPIENTS} addresses"
        )
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Recipients, E> {
        Self::split(text).map(Recipients)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Recipients, A::Error> {
        let items = BoundedVisitor::<String, MAX_RECIPIENTS>(PhantomData).visit_seq(seq)?;
        // An item may itself hold several addresses ("a@x.com, b@x.com"): split them too.
        let mut addresses = Vec::with_capacity(items.len());
        for item in &items {
            addresses.extend(Self::split::<A::Error>(item)?);
        }
        if addresses.len() > MAX_RECIPIENTS {
            return Err(de::Error::custom(TooMany {
                count: addresses.len(),
                max: MAX_RECIPIENTS,
            }));
        }
        Ok(Recipients(addresses))
    }
}

impl JsonSchema for Recipients {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Recipients".into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [
                {
                    "type": "string",
                    "description": "One address, or several separated by commas or semicolons",
                },
                {
                    "type": "array",
                    "items": {"type": "string"},
                    "maxItems": MAX_RECIPIENTS,
                },
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[derive(Debug, serde::Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Args {
        ids: BoundedVec<String, 3>,
        #[serde(default)]
        to: Option<Recipients>,
    }

    fn parse(value: Value) -> Result<Args, String> {
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    #[test]
    fn should_read_lists_up_to_the_cap() {
        let args = parse(json!({"ids": ["a", "b", "c"]})).expect("three fit");
        assert_eq!(&*args.ids, ["a", "b", "c"]);
        assert!(parse(json!({"ids": []})).is_ok());
    }

    #[test]
    fn should_refuse_a_longer_list_by_count_without_its_items() {
        let ids: Vec<String> = (0..100_001).map(|i| format!("id-number-{i}")).collect();
        let error = parse(json!({ "ids": ids })).expect_err("over the cap");
        assert!(
            error.contains("holds 100001 items; at most 3 are allowed"),
            "{error}"
        );
        assert!(!error.contains("id-number"), "{error}");
        assert!(error.len() < 200, "{error}");
    }

    #[test]
    fn should_state_the_cap_in_the_schema() {
        let schema = serde_json::to_value(schemars::schema_for!(Args)).expect("serialises");
        let ids = &schema["properties"]["ids"];
        assert_eq!(ids["type"], "array");
        assert_eq!(ids["maxItems"], 3);
        assert_eq!(ids["items"]["type"], "string");
    }

    #[test]
    fn should_read_recipients_as_a_string_a_separated_string_or_a_list() {
        let to = |value: Value| {
            parse(json!({"ids": [], "to": value}))
                .map(|args| args.to.unwrap_or_default().addresses().to_vec())
        };
        assert_eq!(to(json!("a@example.com")), Ok(vec!["a@example.com".into()]));
        assert_eq!(
            to(json!(" a@example.com, b@example.com;c@example.com ;")),
            Ok(vec![
                "a@example.com".into(),
                "b@example.com".into(),
                "c@example.com".into()
            ])
        );
        assert_eq!(
            to(json!(["a@example.com", "b@example.com, c@example.com"])),
            Ok(vec![
                "a@example.com".into(),
                "b@example.com".into(),
                "c@example.com".into()
            ])
        );
        let many = vec!["x@example.com"; MAX_RECIPIENTS + 1];
        let error = to(json!(many)).expect_err("over the cap");
        assert!(error.contains("holds 101 items; at most 100"), "{error}");
        let error = to(json!(many.join(","))).expect_err("over the cap");
        assert!(error.contains("holds 101 items; at most 100"), "{error}");
        assert!(to(json!(42)).is_err());
    }
}
