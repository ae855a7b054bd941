//! Parsing EspoCRM's answers into [`Value`]s, the same values as `serde_json::from_slice`,
//! faster.
//!
//! serde_json builds each object by inserting into an empty map, which for an EspoCRM record
//! (about 40 attributes) grows and re-hashes it five times. Here an object's entries are
//! collected first and the map is made at its final size. For a page of 20 Accounts (21 KB)
//! that is about a sixth less time for the parse, which is the largest single cost of a `search`
//! answer (BENCHMARKS.md). Numbers, strings, nesting limits and duplicate keys (the last value
//! wins, in the first one's place) are serde_json's own: its deserializer does the reading.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// `body` as a [`Value`], equal to `serde_json::from_slice::<Value>(body)`.
pub fn parse(body: &[u8]) -> Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = ValueSeed.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

struct ValueSeed;

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(ValueSeed)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries: Vec<(String, Value)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            entries.push((key, map.next_value_seed(ValueSeed)?));
        }
        let mut object = Map::with_capacity(entries.len());
        for (key, value) in entries {
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn same_as_serde_json(text: &str) {
        let ours = parse(text.as_bytes()).map_err(|e| e.to_string());
        let theirs = serde_json::from_str::<Value>(text).map_err(|e| e.to_string());
        assert_eq!(ours, theirs, "{text}");
        if let Ok(value) = ours {
            // Equal maps may differ in order; the text may not.
            assert_eq!(value.to_string(), theirs.unwrap().to_string(), "{text}");
        }
    }

    #[test]
    fn should_parse_what_serde_json_parses_into_the_same_value() {
        for text in [
            r#"{"total":2,"list":[{"id":"a1","name":"Acme","amount":1.5,"n":-3,"big":18446744073709551615,"deleted":false,"x":null,"tags":["a","b"],"nested":{"k":{}}}]}"#,
            r#"{"a":1,"b":2,"a":3}"#,
            r#"  [1e400, -0.0, 0, "é\u00e9\ud83d\ude00", "\"\\\/\b\f\n\r\t"]  "#,
            "null",
            "true",
            "{}",
            "[]",
        ] {
            same_as_serde_json(text);
        }
    }

    #[test]
    fn should_refuse_what_serde_json_refuses_with_the_same_error() {
        let deep = "[".repeat(200) + &"]".repeat(200);
        for text in [
            "",
            "{",
            r#"{"a":}"#,
            "[1,]",
            "nul",
            "{} x",
            "\"\\x\"",
            deep.as_str(),
        ] {
            same_as_serde_json(text);
        }
    }

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<u64>().prop_map(|n| json!(n)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| json!(f)),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::vec(("[a-c]{1,2}", inner), 0..8)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]

        #[test]
        fn should_equal_serde_json_on_any_document(value in any_json()) {
            same_as_serde_json(&value.to_string());
        }
    }
}
