//! Structured output and portable schemas, checked the way the strictest client checks them.
//!
//! Every tool declares an input and an output schema in the portable subset of JSON Schema
//! (no bare `true`/`false`, no `type` arrays, no untyped schema, no formats outside the
//! standard's, optional properties not null-typed: what the MCP Inspector's `--strict` and the
//! TypeScript SDK's Ajv accept without a word). Every tool is called once with real arguments
//! that succeed and once with real arguments that fail, on both protocol eras; the checks are
//! the TypeScript SDK client's (draft 2020-12, `required` enforced, formats validated):
//! a success's `structuredContent` is valid against the output schema and its text is the same
//! JSON, compact; an error has no `structuredContent` (which that client would validate, and
//! which an error object cannot match) and its one text block is the error object. The
//! arguments of the successful calls are valid against the input schemas too. The checks take
//! any connected client, so the HTTP tests reuse them.

use std::collections::{BTreeMap, BTreeSet};

use espocrm_sandbox::Sandbox;
use espocrm_sandbox::seed::FLAGSHIP_ID;
use jsonschema::Validator;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use serde_json::{Map, Value, json};

use crate::common::{Client, Direct, Era, PATIENCE, Server, error_of, sandbox};

/// A tool's schemas, compiled.
pub struct ToolSchemas {
    pub input: Validator,
    pub output: Validator,
}

/// A validator as strict as the TypeScript SDK's (Ajv with ajv-formats): draft 2020-12 whatever
/// `$schema` says, `required` and every other assertion enforced, formats validated, and an
/// unknown format a compile error rather than a warning.
pub fn strict_validator(schema: &Value) -> Result<Validator, String> {
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .should_ignore_unknown_formats(false)
        .build(schema)
        .map_err(|e| e.to_string())
}

/// Keywords whose value is one subschema, a list of them, or a map of them.
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
const SCHEMA_LISTS: [&str; 4] = ["anyOf", "oneOf", "allOf", "prefixItems"];
const SCHEMA_MAPS: [&str; 5] = [
    "properties",
    "$defs",
    "definitions",
    "patternProperties",
    "dependentSchemas",
];

/// Keywords that constrain a value (the Inspector's list): a schema with none accepts anything.
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

/// The formats of JSON Schema 2020-12 itself (ajv-formats knows them all); anything else, like
/// schemars' `uint32`, is unknown to some client.
const STANDARD_FORMATS: [&str; 19] = [
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uuid",
    "uri-template",
    "json-pointer",
    "relative-json-pointer",
    "regex",
];

/// What in `schema` some client refuses or warns about, one line each with its path.
pub fn portability_problems(schema: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    walk(schema, "", None, &mut problems);
    problems
}

fn walk(schema: &Value, path: &str, keyword: Option<&str>, problems: &mut Vec<String>) {
    let object = match schema {
        Value::Bool(b) => {
            problems.push(format!("{path}: bare `{b}` where a schema is expected"));
            return;
        }
        Value::Object(object) => object,
        other => {
            problems.push(format!("{path}: {other} is not a schema"));
            return;
        }
    };
    if !object.keys().any(|k| CONSTRAINTS.contains(&k.as_str())) && keyword != Some("not") {
        problems.push(format!("{path}: untyped schema (accepts any value)"));
    }
    if let Some(Value::Array(types)) = object.get("type") {
        problems.push(format!("{path}: `type` is an array {types:?}"));
    }
    if let Some(format) = object.get("format").and_then(Value::as_str)
        && !STANDARD_FORMATS.contains(&format)
    {
        problems.push(format!("{path}: non-standard format {format:?}"));
    }
    let required: Vec<&str> = object
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(Value::Object(properties)) = object.get("properties") {
        for (name, property) in properties {
            if !required.contains(&name.as_str()) && admits_null(property) {
                problems.push(format!(
                    "{path}.properties.{name}: optional and null-typed (absent already means no value)"
                ));
            }
        }
    }
    for key in SCHEMA_MAPS {
        if let Some(Value::Object(map)) = object.get(key) {
            for (name, sub) in map {
                walk(sub, &format!("{path}.{key}.{name}"), Some(key), problems);
            }
        }
    }
    for key in SCHEMA_SLOTS {
        match object.get(key) {
            Some(Value::Array(list)) => {
                for (i, sub) in list.iter().enumerate() {
                    walk(sub, &format!("{path}.{key}[{i}]"), Some(key), problems);
                }
            }
            Some(sub) => walk(sub, &format!("{path}.{key}"), Some(key), problems),
            None => {}
        }
    }
    for key in SCHEMA_LISTS {
        if let Some(Value::Array(list)) = object.get(key) {
            for (i, sub) in list.iter().enumerate() {
                walk(sub, &format!("{path}.{key}[{i}]"), Some(key), problems);
            }
        }
    }
    for key in ["additionalProperties", "unevaluatedProperties"] {
        if let Some(sub @ Value::Object(_)) = object.get(key) {
            walk(sub, &format!("{path}.{key}"), Some(key), problems);
        }
    }
}

/// Whether a property's schema lets `null` through by its type.
fn admits_null(schema: &Value) -> bool {
    let null = Value::from("null");
    match schema.get("type") {
        Some(Value::Array(types)) if types.contains(&null) => return true,
        Some(t) if *t == null => return true,
        _ => {}
    }
    ["anyOf", "oneOf"].iter().any(|key| {
        schema
            .get(key)
            .and_then(Value::as_array)
            .is_some_and(|branches| branches.iter().any(admits_null))
    })
}

/// Every tool: its title annotation and schemas, each checked for portability and compiled.
pub async fn tool_schemas(client: &Client) -> BTreeMap<String, ToolSchemas> {
    let tools = client.list_all_tools().await.expect("tools/list");
    tools
        .into_iter()
        .map(|tool| {
            let output = tool
                .output_schema
                .as_ref()
                .unwrap_or_else(|| panic!("{} declares no outputSchema", tool.name));
            let output = Value::Object((**output).clone());
            let input = Value::Object((*tool.input_schema).clone());
            assert_eq!(output["type"], "object", "{}: {output}", tool.name);
            for (which, schema) in [("inputSchema", &input), ("outputSchema", &output)] {
                let problems = portability_problems(schema);
                assert!(
                    problems.is_empty(),
                    "{}'s {which} is not portable: {problems:#?}\n{schema}",
                    tool.name
                );
            }
            let compile = |which: &str, schema: &Value| {
                strict_validator(schema)
                    .unwrap_or_else(|e| panic!("{}: the {which} does not compile: {e}", tool.name))
            };
            let (input, output) = (
                compile("inputSchema", &input),
                compile("outputSchema", &output),
            );
            let annotations = tool.annotations.as_ref().expect("annotations");
            assert!(annotations.title.is_some(), "{} has no title", tool.name);
            assert_eq!(annotations.open_world_hint, Some(false), "{}", tool.name);
            let name = tool.name.to_string();
            (name, ToolSchemas { input, output })
        })
        .collect()
}

fn problems(validator: &Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

async fn call_tool(client: &Client, tool: &str, arguments: &Value) -> CallToolResult {
    let Value::Object(arguments) = arguments.clone() else {
        panic!("arguments must be an object");
    };
    let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
    tokio::time::timeout(PATIENCE, client.call_tool(params))
        .await
        .unwrap_or_else(|_| panic!("{tool} did not answer"))
        .unwrap_or_else(|e| panic!("{tool}: protocol error {e}"))
}

/// What the TypeScript SDK's `Client.callTool` (1.32) does with a result of a tool that has an
/// output schema: no `structuredContent` is refused unless `isError`, and `structuredContent`,
/// when present, must be valid against the schema (errors included). `Err` is the -32602 or
/// -32600 that client would throw instead of handing the result to the agent.
fn typescript_sdk_accepts(result: &CallToolResult, output: &Validator) -> Result<(), String> {
    match &result.structured_content {
        None if result.is_error != Some(true) => {
            Err("the tool has an output schema but did not return structured content".into())
        }
        None => Ok(()),
        Some(structured) => match problems(output, structured) {
            found if found.is_empty() => Ok(()),
            found => Err(format!(
                "structured content does not match the tool's output schema: {found:?}"
            )),
        },
    }
}

/// Calls `tool` with arguments valid against its input schema, and checks its successful
/// answer against the output schema; returns the structured content.
async fn checked_call(
    client: &Client,
    schemas: &BTreeMap<String, ToolSchemas>,
    tool: &str,
    arguments: Value,
) -> Value {
    let ToolSchemas { input, output, .. } = &schemas[tool];
    let bad_arguments = problems(input, &arguments);
    assert!(
        bad_arguments.is_empty(),
        "{tool}: the arguments {arguments} are not valid against the inputSchema: {bad_arguments:?}"
    );
    let result = call_tool(client, tool, &arguments).await;
    assert_eq!(result.is_error, Some(false), "{tool}: {result:?}");
    if let Err(refused) = typescript_sdk_accepts(&result, output) {
        panic!("{tool}: {refused}\n{result:?}");
    }
    let structured = result
        .structured_content
        .clone()
        .unwrap_or_else(|| panic!("{tool}: no structuredContent"));
    let text = crate::common::text_of(&result);
    let from_text: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{tool}: the text is not JSON ({e}): {text}"));
    assert_eq!(
        from_text, structured,
        "{tool}: text and structuredContent differ"
    );
    assert!(!text.contains("\n"), "{tool}: the text is not compact");
    structured
}

/// Calls `tool` with real arguments that fail with `code`, and checks the error result as the
/// TypeScript SDK's client would; returns the error object.
async fn checked_error(
    client: &Client,
    schemas: &BTreeMap<String, ToolSchemas>,
    tool: &str,
    arguments: Value,
    code: &str,
) -> Map<String, Value> {
    let result = call_tool(client, tool, &arguments).await;
    if let Err(refused) = typescript_sdk_accepts(&result, &schemas[tool].output) {
        panic!("{tool} {arguments}: a TypeScript-SDK host would not see this error: {refused}");
    }
    // No structuredContent, one text block holding the error object (common::error_of).
    let error = error_of(&result, &format!("{tool} {arguments}"));
    assert_eq!(error["code"], code, "{tool} {arguments}: {error:?}");
    error
}

/// Calls every tool with real arguments, once to succeed and once to fail, and checks every
/// answer (see the module docs).
pub async fn every_tool_answers_valid_structured_content(client: &Client, sandbox: &Sandbox) {
    let schemas = tool_schemas(client).await;
    let direct = Direct::new(sandbox);
    let called = std::sync::Mutex::new(BTreeSet::new());
    let failed = std::sync::Mutex::new(BTreeSet::new());
    let call = |tool: &'static str, arguments: Value| {
        let schemas = &schemas;
        called.lock().unwrap().insert(tool);
        async move { checked_call(client, schemas, tool, arguments).await }
    };
    let fail = |tool: &'static str, arguments: Value, code: &'static str| {
        let schemas = &schemas;
        failed.lock().unwrap().insert(tool);
        async move { checked_error(client, schemas, tool, arguments, code).await }
    };

    call("list_entity_types", json!({})).await;
    call("get_schema", json!({"entityType": "Opportunity"})).await;
    let page = call("search", json!({"entityType": "Contact", "limit": 20})).await;
    assert_eq!(page["list"].as_array().map(Vec::len), Some(20));
    call("get", json!({"entityType": "Account", "id": FLAGSHIP_ID})).await;
    call(
        "get_related",
        json!({"entityType": "Account", "id": FLAGSHIP_ID, "link": "contacts"}),
    )
    .await;
    let contact_ids: Vec<Value> = page["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].clone())
        .collect();
    call(
        "get_many",
        json!({"entityType": "Contact", "ids": contact_ids[..5]}),
    )
    .await;
    call("global_search", json!({"query": "Apex", "limit": 3})).await;
    call(
        "aggregate",
        json!({"entityType": "Opportunity", "groupBy": "stage",
               "metrics": [{"op": "count"}, {"op": "sum", "field": "amount"}]}),
    )
    .await;
    call("upcoming_activities", json!({"days": 30})).await;
    call("whoami", json!({})).await;

    let unique = format!("Structured {}", std::process::id());
    let created = call(
        "create",
        json!({"entityType": "Account", "data": {"name": unique}}),
    )
    .await;
    let account = created["id"].as_str().expect("created id").to_owned();
    call(
        "update",
        json!({"entityType": "Account", "id": account, "data": {"description": "checked"}}),
    )
    .await;
    let contact = contact_ids[0].as_str().unwrap();
    call(
        "link",
        json!({"entityType": "Account", "id": account, "link": "contacts", "foreignId": contact}),
    )
    .await;
    call(
        "unlink",
        json!({"entityType": "Account", "id": account, "link": "contacts", "foreignId": contact}),
    )
    .await;
    call(
        "add_note",
        json!({"entityType": "Account", "id": account, "text": "structured output"}),
    )
    .await;
    let opportunity = direct.all("Opportunity").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    call(
        "update_kanban",
        json!({"entityType": "Opportunity", "id": opportunity, "group": "Negotiation"}),
    )
    .await;
    call(
        "draft_email",
        json!({"to": ["someone@example.org"], "subject": "A draft", "body": "Hello"}),
    )
    .await;

    // One real failure of every tool: what an agent gets wrong most (a misspelled name, a
    // field or link that does not exist, a skipped step), each with its stable code.
    fail(
        "list_entity_types",
        json!({"entityType": "Account"}),
        "INVALID_ARGUMENT",
    )
    .await;
    fail(
        "get_schema",
        json!({"entityType": "Acount"}),
        "INVALID_ENTITY_TYPE",
    )
    .await;
    fail(
        "search",
        json!({"entityType": "Contact", "where": [{"field": "shoeSize", "type": "equals", "value": 42}]}),
        "INVALID_FIELD",
    )
    .await;
    fail(
        "get",
        json!({"entityType": "Nope", "id": FLAGSHIP_ID}),
        "INVALID_ENTITY_TYPE",
    )
    .await;
    fail(
        "get_related",
        json!({"entityType": "Account", "id": FLAGSHIP_ID, "link": "shoes"}),
        "INVALID_LINK",
    )
    .await;
    fail(
        "get_many",
        json!({"entityType": "Contact", "ids": ["../Account"]}),
        "INVALID_ID",
    )
    .await;
    fail(
        "global_search",
        json!({"query": "Apex", "entityTypes": ["Acount"]}),
        "INVALID_ENTITY_TYPE",
    )
    .await;
    fail(
        "aggregate",
        json!({"entityType": "Opportunity", "metrics": [{"op": "sum", "field": "shoeSize"}]}),
        "INVALID_FIELD",
    )
    .await;
    fail(
        "upcoming_activities",
        json!({"days": 1000}),
        "INVALID_ARGUMENT",
    )
    .await;
    fail("whoami", json!({"verbose": true}), "INVALID_ARGUMENT").await;
    let contacts = sandbox.count("Contact");
    fail(
        "create",
        json!({"entityType": "Contact", "data": {"firstName": "Nameless"}}),
        "MISSING_REQUIRED_FIELD",
    )
    .await;
    assert_eq!(sandbox.count("Contact"), contacts, "no contact was created");
    fail(
        "update",
        json!({"entityType": "Account", "id": account, "data": {"shoeSize": 42}}),
        "INVALID_FIELD",
    )
    .await;
    fail(
        "delete",
        json!({"entityType": "Account", "id": account, "confirm": true}),
        "DELETE_NOT_CONFIRMED",
    )
    .await;
    assert!(
        sandbox.record("Account", &account).is_some(),
        "an unconfirmed delete deletes nothing"
    );
    fail(
        "link",
        json!({"entityType": "Account", "id": account, "link": "shoes", "foreignId": contact}),
        "INVALID_LINK",
    )
    .await;
    fail(
        "unlink",
        json!({"entityType": "Account", "id": account, "link": "contacts", "foreignId": "../x"}),
        "INVALID_ID",
    )
    .await;
    fail(
        "add_note",
        json!({"entityType": "Account", "id": "0000000000000dead", "text": "to nobody"}),
        "RECORD_NOT_FOUND",
    )
    .await;
    fail(
        "update_kanban",
        json!({"entityType": "Opportunity", "id": opportunity, "group": "Daydreaming"}),
        "INVALID_FIELD_VALUE",
    )
    .await;
    let emails = sandbox.count("Email");
    fail(
        "draft_email",
        json!({"to": ["someone@example.org"], "templateId": "0000000000000dead"}),
        "TEMPLATE_NOT_FOUND",
    )
    .await;
    assert_eq!(sandbox.count("Email"), emails, "no draft was written");

    call(
        "delete",
        json!({"entityType": "Account", "id": account, "confirm": false}),
    )
    .await;
    call(
        "delete",
        json!({"entityType": "Account", "id": account, "confirm": true}),
    )
    .await;
    assert!(
        sandbox.record("Account", &account).is_none(),
        "the account was deleted"
    );

    let listed: BTreeSet<&str> = schemas.keys().map(String::as_str).collect();
    assert_eq!(listed.len(), 18, "{listed:?}");
    assert_eq!(
        listed,
        called.into_inner().unwrap(),
        "every listed tool succeeded once"
    );
    assert_eq!(
        listed,
        failed.into_inner().unwrap(),
        "every listed tool failed once"
    );
}

/// The check itself finds what clients complained about in the schemas before they were made
/// portable (get_schema's `FieldInfo`, search's `limit`, `WhereCondition.value`).
#[test]
fn should_find_the_patterns_clients_refuse() {
    let old = json!({
        "type": "object",
        "properties": {
            "limit": {"type": ["integer", "null"], "format": "uint32", "minimum": 0},
            "where": {"type": "array", "items": {"$ref": "#/$defs/WhereCondition"}},
        },
        "$defs": {
            "WhereCondition": {"type": "object", "properties": {"value": {"description": "x"}}},
            "FieldInfo": {"type": "object", "properties": {
                "options": {"type": "array", "items": true},
                "default": true,
            }},
        },
    });
    let found = portability_problems(&old);
    let expect = [
        ".properties.limit: `type` is an array",
        ".properties.limit: non-standard format \"uint32\"",
        ".properties.limit: optional and null-typed",
        ".$defs.WhereCondition.properties.value: untyped schema",
        ".$defs.FieldInfo.properties.options.items: bare `true`",
        ".$defs.FieldInfo.properties.default: bare `true`",
    ];
    for problem in expect {
        assert!(
            found.iter().any(|f| f.starts_with(problem)),
            "{problem:?} not in {found:#?}"
        );
    }
    assert_eq!(found.len(), expect.len(), "{found:#?}");
    assert!(
        strict_validator(&old).is_err(),
        "an unknown format does not compile"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn structured_output_on_2025_11_25() {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, Era::Legacy).await;
    every_tool_answers_valid_structured_content(&server.client, &sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn structured_output_on_2026_07_28() {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, Era::Modern).await;
    every_tool_answers_valid_structured_content(&server.client, &sandbox).await;
}
