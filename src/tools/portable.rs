//! Tool schemas in the portable subset of JSON Schema that every MCP client accepts.
//!
//! schemars writes what serde means, in the full language: an `Option` is `type: [X, "null"]`,
//! a `u32` is `format: "uint32"` (a format only schemars knows), a `serde_json::Value` is the
//! bare schema `true`. Clients are less forgiving: the MCP Inspector's `--strict` check refuses
//! bare booleans and flags type arrays and untyped schemas, the TypeScript SDK's Ajv warns about
//! every unknown format, and clients that map schemas onto a one-`type` dialect (Gemini's
//! function declarations) drop what they cannot express. [`make_portable`] rewrites a derived
//! schema into the subset they all read, keeping every constraint:
//!
//! - an optional property (not `required`) is not null-typed: absent already says "no value"
//!   (serde still reads a `null`, so nothing a client sent before is refused);
//! - a type union (`type: [X, Y]`, kept where a required property may be `null`) becomes an
//!   `anyOf` of single-`type` branches;
//! - integer formats (`uint32`, `int64`, …) become `minimum`/`maximum`, and `double` (every
//!   JSON number a client can send) is dropped;
//! - "any value" (`true`, `{}` or a schema with only a description) becomes a typed `anyOf` of
//!   the six JSON types; a bare `false` becomes `{"not": {}}`.
//!
//! It runs once per server, over every tool's input and output schema (`EspoMcp::new`), so a
//! tool added later is covered without doing anything; tests/mcp/structured.rs fails on any of
//! the patterns above in `tools/list` and checks real answers against the rewritten schemas.

use serde_json::{Map, Value, json};

use rmcp::handler::server::router::tool::ToolRouter;

/// Rewrites the input and output schema of every tool of `router` (see the module docs).
pub fn make_router_portable<S>(router: &mut ToolRouter<S>) {
    for route in router.map.values_mut() {
        let tool = &mut route.attr;
        let mut input = (*tool.input_schema).clone();
        make_portable(&mut input);
        tool.input_schema = input.into();
        if let Some(output) = &tool.output_schema {
            let mut output = (**output).clone();
            make_portable(&mut output);
            tool.output_schema = Some(output.into());
        }
    }
}

/// Rewrites one root schema (an object) in place; running it twice changes nothing more.
pub fn make_portable(root: &mut Map<String, Value>) {
    rewrite_object(root);
}

/// The JSON types, as the branches of "any value".
const JSON_TYPES: [&str; 6] = ["string", "number", "boolean", "object", "array", "null"];

/// Keywords whose value is a map of subschemas.
const SCHEMA_MAPS: [&str; 5] = [
    "properties",
    "$defs",
    "definitions",
    "patternProperties",
    "dependentSchemas",
];

/// Keywords whose value is one subschema.
const SCHEMA_SLOTS: [&str; 9] = [
    "items",
    "additionalItems",
    "contains",
    "not",
    "if",
    "then",
    "else",
    "propertyNames",
    "unevaluatedItems",
];

/// Keywords whose value is a list of subschemas.
const SCHEMA_LISTS: [&str; 4] = ["anyOf", "oneOf", "allOf", "prefixItems"];

/// Keywords that constrain a value: a schema with none of them accepts anything.
const CONSTRAINTS: [&str; 31] = [
    "type",
    "enum",
    "const",
    "$ref",
    "anyOf",
    "oneOf",
    "allOf",
    "not",
    "if",
    "properties",
    "patternProperties",
    "additionalProperties",
    "unevaluatedProperties",
    "propertyNames",
    "required",
    "minProperties",
    "maxProperties",
    "items",
    "prefixItems",
    "contains",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
];

/// The bounds an integer format stands for.
fn integer_bounds(format: &str) -> Option<(Value, Value)> {
    Some(match format {
        "int8" => (i8::MIN.into(), i8::MAX.into()),
        "int16" => (i16::MIN.into(), i16::MAX.into()),
        "int32" => (i32::MIN.into(), i32::MAX.into()),
        "int64" => (i64::MIN.into(), i64::MAX.into()),
        "uint8" => (0.into(), u8::MAX.into()),
        "uint16" => (0.into(), u16::MAX.into()),
        "uint32" => (0.into(), u32::MAX.into()),
        "uint64" => (0.into(), u64::MAX.into()),
        "uint" => (0.into(), u64::MAX.into()),
        "int" => (i64::MIN.into(), i64::MAX.into()),
        _ => return None,
    })
}

/// Rewrites a subschema in place.
fn rewrite(schema: &mut Value) {
    match schema {
        Value::Bool(true) => *schema = any_value(Map::new()),
        Value::Bool(false) => *schema = json!({"not": {}}),
        Value::Object(object) => {
            rewrite_object(object);
            if !object.keys().any(|key| CONSTRAINTS.contains(&key.as_str())) {
                *schema = any_value(std::mem::take(object));
            }
        }
        _ => {}
    }
}

/// "Any value", written as a typed `anyOf`, keeping `annotations` (description, title, …).
fn any_value(mut annotations: Map<String, Value>) -> Value {
    let branches = JSON_TYPES.iter().map(|t| json!({ "type": t })).collect();
    annotations.insert("anyOf".into(), Value::Array(branches));
    Value::Object(annotations)
}

fn rewrite_object(object: &mut Map<String, Value>) {
    for key in SCHEMA_MAPS {
        if let Some(Value::Object(map)) = object.get_mut(key) {
            map.values_mut().for_each(rewrite);
        }
    }
    for key in SCHEMA_SLOTS {
        match object.get_mut(key) {
            // `not: {}` ("nothing") is already the portable spelling of `false`.
            Some(Value::Object(empty)) if key == "not" && empty.is_empty() => {}
            Some(Value::Array(list)) => list.iter_mut().for_each(rewrite),
            Some(slot) => rewrite(slot),
            None => {}
        }
    }
    for key in SCHEMA_LISTS {
        if let Some(Value::Array(list)) = object.get_mut(key) {
            list.iter_mut().for_each(rewrite);
        }
    }
    // `additionalProperties: true` is the keyword's own boolean, not a schema to rewrite.
    for key in ["additionalProperties", "unevaluatedProperties"] {
        if let Some(slot @ Value::Object(_)) = object.get_mut(key) {
            rewrite(slot);
        }
    }
    split_type_union(object);
    bounds_for_format(object);
    optional_without_null(object);
}

/// `type: [X, Y]` as `anyOf: [{type: X}, {type: Y}]`; a one-element array as its element.
fn split_type_union(object: &mut Map<String, Value>) {
    let Some(Value::Array(types)) = object.get("type") else {
        return;
    };
    if let [single] = types.as_slice() {
        let single = single.clone();
        object.insert("type".into(), single);
        return;
    }
    let branches: Vec<Value> = types.iter().map(|t| json!({ "type": t })).collect();
    object.remove("type");
    match object.remove("anyOf") {
        // Both must hold: keep each as its own `anyOf` under `allOf`.
        Some(existing) => {
            let all = json!([{ "anyOf": existing }, { "anyOf": branches }]);
            object.insert("allOf".into(), all);
        }
        None => {
            object.insert("anyOf".into(), Value::Array(branches));
        }
    }
}

/// An integer format as the bounds it stands for (the tighter bound wins where one is already
/// given); `double` dropped, since every JSON number a client can send is one.
fn bounds_for_format(object: &mut Map<String, Value>) {
    let Some(format) = object.get("format").and_then(Value::as_str) else {
        return;
    };
    if format == "double" {
        object.remove("format");
        return;
    }
    let Some((low, high)) = integer_bounds(format) else {
        return;
    };
    object.remove("format");
    let tighter = |current: Option<&Value>, bound: Value, keep_larger: bool| match current {
        Some(current) if current.is_number() => {
            let (c, b) = (current.as_f64(), bound.as_f64());
            if (keep_larger && c >= b) || (!keep_larger && c <= b) {
                current.clone()
            } else {
                bound
            }
        }
        _ => bound,
    };
    let minimum = tighter(object.get("minimum"), low, true);
    let maximum = tighter(object.get("maximum"), high, false);
    object.insert("minimum".into(), minimum);
    object.insert("maximum".into(), maximum);
}

/// Properties that are not `required` lose their `null` branch (and a `default: null`): a
/// property that may be absent needs no second way of saying "no value".
fn optional_without_null(object: &mut Map<String, Value>) {
    let required: Vec<String> = match object.get("required") {
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let Some(Value::Object(properties)) = object.get_mut("properties") else {
        return;
    };
    for (name, property) in properties.iter_mut() {
        if required.contains(name) {
            continue;
        }
        let Value::Object(property) = property else {
            continue;
        };
        if property.get("default") == Some(&Value::Null) {
            property.remove("default");
        }
        let Some(Value::Array(branches)) = property.get_mut("anyOf") else {
            continue;
        };
        let is_null = |branch: &Value| branch.get("type") == Some(&Value::from("null"));
        if !branches.iter().any(is_null) {
            continue;
        }
        branches.retain(|branch| !is_null(branch));
        if let [Value::Object(only)] = branches.as_slice() {
            let only = only.clone();
            property.remove("anyOf");
            for (key, value) in only {
                property.entry(key).or_insert(value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn portable(schema: Value) -> Value {
        let Value::Object(mut root) = schema else {
            panic!("a root schema is an object");
        };
        make_portable(&mut root);
        let once = Value::Object(root.clone());
        make_portable(&mut root);
        assert_eq!(
            Value::Object(root),
            once,
            "running it again changes nothing"
        );
        once
    }

    #[test]
    fn should_make_optional_properties_plain_and_keep_required_nulls_as_any_of() {
        let schema = portable(json!({
            "type": "object",
            "properties": {
                "limit": {"type": ["integer", "null"], "format": "uint32", "minimum": 0, "default": null},
                "order": {"description": "asc or desc", "anyOf": [{"$ref": "#/$defs/Order"}, {"type": "null"}]},
                "subject": {"type": ["string", "null"]},
            },
            "required": ["subject"],
        }));
        assert_eq!(
            schema["properties"]["limit"],
            json!({"type": "integer", "minimum": 0, "maximum": u32::MAX})
        );
        assert_eq!(
            schema["properties"]["order"],
            json!({"description": "asc or desc", "$ref": "#/$defs/Order"})
        );
        assert_eq!(
            schema["properties"]["subject"],
            json!({"anyOf": [{"type": "string"}, {"type": "null"}]})
        );
    }

    #[test]
    fn should_type_any_value_and_leave_additional_properties_alone() {
        let schema = portable(json!({
            "type": "object",
            "properties": {
                "options": {"type": ["array", "null"], "items": true},
                "default": true,
                "value": {"description": "what to compare with"},
                "data": {"type": "object", "additionalProperties": true},
                "never": false,
            },
        }));
        let any: Vec<Value> = JSON_TYPES.iter().map(|t| json!({"type": t})).collect();
        assert_eq!(
            schema["properties"]["options"],
            json!({"type": "array", "items": {"anyOf": any}})
        );
        // Not required: absent is "no value", so the null branch goes too.
        assert_eq!(
            schema["properties"]["default"]["anyOf"]
                .as_array()
                .map(Vec::len),
            Some(5)
        );
        assert_eq!(
            schema["properties"]["value"]["description"],
            "what to compare with"
        );
        assert_eq!(
            schema["properties"]["value"]["anyOf"]
                .as_array()
                .map(Vec::len),
            Some(5)
        );
        assert_eq!(schema["properties"]["data"]["additionalProperties"], true);
        assert_eq!(schema["properties"]["never"], json!({"not": {}}));
    }

    #[test]
    fn should_turn_integer_formats_into_bounds_keeping_the_tighter_one() {
        let schema = portable(json!({
            "type": "object",
            "properties": {
                "days": {"type": "integer", "format": "uint32", "minimum": 1, "maximum": 366},
                "total": {"type": "integer", "format": "int64"},
                "min": {"type": "number", "format": "double"},
                "when": {"type": "string", "format": "date-time"},
            },
            "required": ["days", "total", "min", "when"],
        }));
        assert_eq!(
            schema["properties"]["days"],
            json!({"type": "integer", "minimum": 1, "maximum": 366})
        );
        assert_eq!(
            schema["properties"]["total"],
            json!({"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX})
        );
        assert_eq!(schema["properties"]["min"], json!({"type": "number"}));
        assert_eq!(schema["properties"]["when"]["format"], "date-time");
    }
}
