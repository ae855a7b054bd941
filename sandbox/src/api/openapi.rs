//! `GET OpenApi` (EspoCRM 10): an OpenAPI 3.1.1 document of the REST API, generated from the
//! metadata the sandbox answers with, the way EspoCRM's `Tools\OpenApi\Provider` builds it from
//! its own: one schema per entity type (and a `_create` one naming the required attributes), the
//! CRUD paths per type, the relationship paths per to-many link, `X-Api-Key` security, and
//! `X-Version-Number` on the update of types with optimistic concurrency control.
//!
//! Only roles with the boolean `OpenApi` scope may read it (administrators always): others get
//! 403 `No access to OpenApi scope.`. `module=Crm` keeps the types of that module, and
//! `skipCustom=true` leaves out custom types, fields and links. The sandbox describes fewer
//! entity types than a real instance (no Campaign, Document, …), so its document is smaller; the
//! shape of each part follows EspoCRM 10.0.0 (outline recorded in `28-openapi-spec-summary`).
//! 8.4 has no such route: there `OpenApi` is an unknown controller (404).

use axum::response::Response;
use serde_json::{Map, Value, json};

use super::{Request, ok};
use crate::error::ApiError;
use crate::model::{EntityDef, FieldDef, LinkDef, Metadata, expand_field};
use crate::where_clause::AttributeKind;

/// Types EspoCRM lists although their scope is no `object` (its `mandatoryEntityTypeList`).
const MANDATORY_ENTITY_TYPES: [&str; 1] = ["Team"];

/// The link types that get a relationship path (to-many links).
const TO_MANY: [&str; 3] = ["hasMany", "manyMany", "hasChildren"];

/// EspoCRM's global field restrictions (`entityAcl`) the sandbox's metadata does not carry:
/// `internal` fields are write-only in the document, `readOnly`/`nonAdminReadOnly`/`onlyAdmin`
/// ones read-only.
const RESTRICTED_FIELDS: [(&str, &str, Restriction); 10] = [
    ("User", "password", Restriction::Internal),
    ("User", "passwordConfirm", Restriction::Internal),
    ("User", "userName", Restriction::ReadOnly),
    ("User", "apiKey", Restriction::ReadOnly),
    ("User", "authMethod", Restriction::ReadOnly),
    ("User", "secretKey", Restriction::ReadOnly),
    ("User", "isActive", Restriction::ReadOnly),
    ("User", "type", Restriction::ReadOnly),
    ("User", "teams", Restriction::ReadOnly),
    ("User", "roles", Restriction::ReadOnly),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restriction {
    Internal,
    ReadOnly,
}

/// EspoCRM's `where` operators (`Select\Where\Item\Type`), in its order.
const WHERE_OPERATORS: [&str; 61] = [
    "and",
    "or",
    "not",
    "subQueryNotIn",
    "subQueryIn",
    "expression",
    "in",
    "notIn",
    "equals",
    "notEquals",
    "on",
    "notOn",
    "like",
    "notLike",
    "startsWith",
    "endsWith",
    "contains",
    "notContains",
    "greaterThan",
    "lessThan",
    "greaterThanOrEquals",
    "lessThanOrEquals",
    "after",
    "before",
    "between",
    "ever",
    "any",
    "none",
    "isNull",
    "isNotNull",
    "isTrue",
    "isFalse",
    "today",
    "past",
    "future",
    "lastSevenDays",
    "lastXDays",
    "nextXDays",
    "olderThanXDays",
    "afterXDays",
    "currentMonth",
    "nextMonth",
    "lastMonth",
    "currentQuarter",
    "lastQuarter",
    "currentYear",
    "lastYear",
    "currentFiscalYear",
    "lastFiscalYear",
    "currentFiscalQuarter",
    "lastFiscalQuarter",
    "arrayAnyOf",
    "arrayNoneOf",
    "arrayAllOf",
    "arrayIsEmpty",
    "arrayIsNotEmpty",
    "linkedWith",
    "notLinkedWith",
    "linkedWithAll",
    "isLinked",
    "isNotLinked",
];

const MESSAGE_400_VALIDATION: &str =
    "Bad request. Might be a validation error. Check logs for details.";
const MESSAGE_400: &str = "Bad request. Check logs for details.";
const MESSAGE_403: &str = "Forbidden. Might be an access control error. Check logs for details.";

/// `GET OpenApi[?module=…][&skipCustom=true]`.
pub fn spec(req: &Request<'_>) -> Result<Response, ApiError> {
    if !req.access.has_scope("OpenApi") {
        return Err(ApiError::forbidden("No access to OpenApi scope.").html());
    }
    let meta = req.meta();
    let module = req.query.get("module").and_then(Value::as_str);
    if let Some(name) = module
        && !modules(meta).contains(&name)
    {
        return Err(ApiError::bad_request("Module does not exist."));
    }
    // A module's document never holds custom parts.
    let skip_custom =
        module.is_some() || req.query.get("skipCustom").and_then(Value::as_str) == Some("true");
    Ok(ok(document(meta, module, skip_custom)))
}

/// The modules entity types belong to (`scopes.*.module`).
fn modules(meta: &Metadata) -> Vec<&str> {
    let mut names: Vec<&str> = scopes(meta)
        .filter_map(|(_, scope)| scope.get("module").and_then(Value::as_str))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

fn scopes(meta: &Metadata) -> impl Iterator<Item = (&String, &Value)> {
    meta.raw
        .get("scopes")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
}

/// The whole document.
pub fn document(meta: &Metadata, module: Option<&str>, skip_custom: bool) -> Value {
    let types = entity_types(meta, module, skip_custom);
    let mut schemas = Map::new();
    for entity in &types {
        let (schema, required) = entity_schema(meta, entity, skip_custom);
        schemas.insert(entity.name.clone(), schema);
        let mut create = json!({"$ref": reference(&entity.name), "type": "object"});
        if !required.is_empty() {
            create["required"] = json!(required);
        }
        schemas.insert(format!("{}_create", entity.name), create);
    }
    schemas.insert("whereItem".into(), where_item_schema());
    let mut paths = Map::new();
    for entity in &types {
        add_crud(meta, &types, entity, skip_custom, &mut paths);
    }
    let title = match module {
        Some(name) => format!("EspoCRM · {name} API"),
        None => "EspoCRM API".to_owned(),
    };
    json!({
        "openapi": "3.1.1",
        "info": {"title": title, "version": "1.0.0"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}
            }
        },
        "security": [{"ApiKeyAuth": []}],
        "servers": [{
            "url": "{siteUrl}/api/v1",
            "variables": {"siteUrl": {
                "default": "http://localhost",
                "description": "An URL of you Espo instance."
            }}
        }]
    })
}

/// Entity types with an `object` scope (or mandatory), not disabled, in the module asked for,
/// by name.
fn entity_types<'m>(
    meta: &'m Metadata,
    module: Option<&str>,
    skip_custom: bool,
) -> Vec<&'m EntityDef> {
    let flag = |scope: &Value, key: &str| scope.get(key).and_then(Value::as_bool) == Some(true);
    let mut types: Vec<&EntityDef> = scopes(meta)
        .filter(|(name, scope)| {
            let scope_module = scope.get("module").and_then(Value::as_str);
            flag(scope, "entity")
                && (flag(scope, "object") || MANDATORY_ENTITY_TYPES.contains(&name.as_str()))
                && !flag(scope, "disabled")
                && module.is_none_or(|m| scope_module == Some(m))
                && !(skip_custom && scope_module == Some("Custom"))
        })
        .filter_map(|(name, _)| meta.entity(name))
        .collect();
    types.sort_by(|a, b| a.name.cmp(&b.name));
    types
}

fn reference(entity: &str) -> String {
    format!("#/components/schemas/{entity}")
}

/// A field's raw definition flag (`disabled`, `utility`, `isCustom`, …).
fn field_flag(meta: &Metadata, entity: &str, field: &str, key: &str) -> bool {
    meta.raw
        .pointer(&format!("/entityDefs/{entity}/fields/{field}/{key}"))
        .and_then(Value::as_bool)
        == Some(true)
}

fn link_flag(meta: &Metadata, entity: &str, link: &str, key: &str) -> bool {
    meta.raw
        .pointer(&format!("/entityDefs/{entity}/links/{link}/{key}"))
        .and_then(Value::as_bool)
        == Some(true)
}

fn restriction(entity: &str, field: &str) -> Option<Restriction> {
    RESTRICTED_FIELDS
        .iter()
        .find(|(e, f, _)| *e == entity && *f == field)
        .map(|(_, _, r)| *r)
}

/// The fields a document describes: not disabled, not utility, not switched off for the API,
/// not custom when asked.
fn described_fields<'e>(
    meta: &'e Metadata,
    entity: &'e EntityDef,
    skip_custom: bool,
) -> impl Iterator<Item = &'e (String, FieldDef)> {
    entity.fields.iter().filter(move |(field, _)| {
        let flag = |key| field_flag(meta, &entity.name, field, key);
        let custom = skip_custom && flag("isCustom");
        !(flag("disabled") || flag("utility") || flag("apiSpecDisabled") || custom)
    })
}

/// An entity type's object schema and its required attributes.
fn entity_schema(meta: &Metadata, entity: &EntityDef, skip_custom: bool) -> (Value, Vec<String>) {
    let mut properties = Map::new();
    properties.insert(
        "id".into(),
        json!({"type": "string", "readOnly": true, "description": "A record ID."}),
    );
    let mut required: Vec<String> = Vec::new();
    for (field, def) in described_fields(meta, entity, skip_custom) {
        let restricted = restriction(&entity.name, field);
        let read_only = def.read_only || restricted == Some(Restriction::ReadOnly);
        for (attribute, kind) in expand_field(field, def) {
            let mut schema = attribute_schema(meta, entity, &attribute, kind, def);
            if read_only {
                schema["readOnly"] = json!(true);
            }
            if restricted == Some(Restriction::Internal) {
                schema["writeOnly"] = json!(true);
            }
            properties.insert(attribute, schema);
        }
        // A required field with a default may be left out of a create.
        if def.required && def.default.is_none() && !read_only {
            for attribute in required_attributes(field, def) {
                if !required.contains(&attribute) {
                    required.push(attribute);
                }
            }
        }
    }
    let schema = json!({"type": "object", "properties": properties});
    (schema, required)
}

/// What a create must carry for a required field: the value, or the id of a link.
fn required_attributes(field: &str, def: &FieldDef) -> Vec<String> {
    match def.kind.as_str() {
        "link" | "linkOne" => vec![format!("{field}Id")],
        "linkMultiple" => vec![format!("{field}Ids")],
        "linkParent" => vec![format!("{field}Id"), format!("{field}Type")],
        "personName" => vec!["lastName".to_owned()],
        "address" => vec![],
        _ => vec![field.to_owned()],
    }
}

/// One attribute's JSON schema, from its kind and its field's definition, as EspoCRM's field
/// schema builders write it: `readOnly` always stated, a value a create may leave out may be
/// `null`, enum options without the empty one, names of linked records read-only.
fn attribute_schema(
    meta: &Metadata,
    entity: &EntityDef,
    attribute: &str,
    kind: AttributeKind,
    def: &FieldDef,
) -> Value {
    let own_field = entity.field(attribute);
    let is_name_of_link = matches!(def.kind.as_str(), "link" | "linkOne" | "linkParent")
        && attribute.ends_with("Name");
    if is_name_of_link {
        return json!({
            "type": ["string", "null"],
            "readOnly": true,
            "description": "A foreign record name."
        });
    }
    let (base, extra) = match kind {
        AttributeKind::Enum => {
            // The attribute's own options (salutationName, amountCurrency), else none.
            let options = own_field.and_then(|_| entity.enum_options(meta, attribute));
            let mut extra = Map::new();
            let mut nullable = !def.required;
            if let Some(options) = options {
                nullable = nullable && options.iter().any(String::is_empty);
                let options: Vec<String> = options.into_iter().filter(|o| !o.is_empty()).collect();
                extra.insert("enum".into(), json!(options));
            }
            return with(schema_type("string", nullable), extra, def);
        }
        AttributeKind::Number => {
            let integer = matches!(def.kind.as_str(), "int" | "autoincrement" | "enumInt");
            (if integer { "integer" } else { "number" }, Map::new())
        }
        AttributeKind::Bool => ("boolean", Map::new()),
        AttributeKind::Date => ("string", one("format", json!("date"))),
        AttributeKind::DateTime => ("string", one("format", json!("date-time"))),
        AttributeKind::Array => {
            let object_items =
                attribute.ends_with("Data") && matches!(def.kind.as_str(), "email" | "phone");
            let items = if object_items { "object" } else { "string" };
            ("array", one("items", json!({"type": items})))
        }
        AttributeKind::Object => ("object", Map::new()),
        AttributeKind::Id => {
            let mut extra = Map::new();
            if let Some(foreign) = entity
                .link(def_link_name(attribute))
                .and_then(|l| l.entity.as_deref())
            {
                extra.insert(
                    "description".into(),
                    json!(format!("An ID of the record of the {foreign} type.")),
                );
            }
            ("string", extra)
        }
        _ => {
            let mut extra = Map::new();
            if own_field.is_some_and(|f| f.kind == "varchar") {
                let max = own_field.and_then(|f| f.max_length).unwrap_or(255);
                extra.insert("maxLength".into(), json!(max));
                extra.insert("description".into(), json!("A one-line string."));
            }
            if def.kind == "decimal" {
                extra.insert("format".into(), json!("decimal"));
            }
            ("string", extra)
        }
    };
    with(schema_type(base, !def.required), extra, def)
}

fn one(key: &str, value: Value) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert(key.to_owned(), value);
    map
}

/// The link an `…Id` attribute belongs to.
fn def_link_name(attribute: &str) -> &str {
    attribute.strip_suffix("Id").unwrap_or(attribute)
}

fn schema_type(base: &str, nullable: bool) -> Value {
    if nullable {
        json!({"type": [base, "null"]})
    } else {
        json!({"type": base})
    }
}

fn with(mut schema: Value, extra: Map<String, Value>, def: &FieldDef) -> Value {
    schema["readOnly"] = json!(def.read_only);
    if let Some(object) = schema.as_object_mut() {
        object.extend(extra);
    }
    schema
}

/// The root and record paths of one type, then its relationship paths.
fn add_crud(
    meta: &Metadata,
    types: &[&EntityDef],
    entity: &EntityDef,
    skip_custom: bool,
    paths: &mut Map<String, Value>,
) {
    let name = entity.name.as_str();
    let actions: Option<Vec<&str>> = entity
        .scope
        .get("aclActionList")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).collect());
    let allows = |action: &str| actions.as_ref().is_none_or(|list| list.contains(&action));
    let mut root = Map::new();
    if allows("create") {
        root.insert("post".into(), operation_create(name));
    }
    if allows("read") {
        root.insert("get".into(), operation_list(meta, entity, skip_custom));
    }
    let mut record = Map::new();
    record.insert("parameters".into(), json!([id_parameter()]));
    if allows("read") {
        record.insert("get".into(), operation_read(name));
    }
    if allows("edit") {
        record.insert("patch".into(), operation_update(meta, name));
    }
    if allows("delete") {
        record.insert("delete".into(), operation_delete(name));
    }
    paths.insert(format!("/{name}"), Value::Object(root));
    paths.insert(format!("/{name}/{{id}}"), Value::Object(record));
    if !allows("read") {
        return;
    }
    let mut links: Vec<&(String, LinkDef)> = entity.links.iter().collect();
    links.sort_by(|a, b| a.0.cmp(&b.0));
    for (link, def) in links {
        let flag = |key| link_flag(meta, name, link, key);
        if !TO_MANY.contains(&def.kind.as_str())
            || flag("readOnly")
            || flag("disabled")
            || flag("apiSpecDisabled")
            || (skip_custom && flag("isCustom"))
        {
            continue;
        }
        let Some(foreign) = def.entity.as_deref() else {
            continue;
        };
        let Some(foreign_entity) = types.iter().find(|t| t.name == foreign) else {
            continue;
        };
        paths.insert(
            format!("/{name}/{{id}}/{link}"),
            json!({
                "parameters": [id_parameter()],
                "get": operation_list_link(meta, name, link, foreign_entity, skip_custom),
                "post": operation_relate(name, link, foreign, "Relate", "Relate '{f}' record though the '{l}' link."),
                "delete": operation_relate(name, link, foreign, "Unrelate", "Unrelate '{f}' record related though the '{l}' link."),
            }),
        );
    }
}

fn id_parameter() -> Value {
    json!({
        "name": "id",
        "in": "path",
        "required": true,
        "schema": {"type": "string"},
        "description": "A record ID."
    })
}

fn record_response(entity: &str) -> Value {
    json!({
        "content": {"application/json": {"schema": {"$ref": reference(entity)}}},
        "description": "Success."
    })
}

fn operation_create(entity: &str) -> Value {
    json!({
        "tags": [entity],
        "requestBody": {"content": {"application/json": {"schema": {
            "$ref": format!("{}_create", reference(entity))
        }}}},
        "parameters": [
            {
                "in": "header",
                "name": "X-Skip-Duplicate-Check",
                "schema": {"type": "string", "enum": ["true", "false"]},
                "description": "Skip duplicate check."
            },
            {
                "in": "header",
                "name": "X-Duplicate-Source-Id",
                "schema": {"type": "string"},
                "description": "A record ID of the entity that is being duplicated."
            }
        ],
        "summary": format!("Create {entity}"),
        "description": format!("Create a new '{entity}' record."),
        "responses": {
            "200": record_response(entity),
            "400": {"description": MESSAGE_400_VALIDATION},
            "403": {"description": MESSAGE_403},
            "409": {"description": "Conflict. May be a possible duplicate. Use X-Skip-Duplicate-Check to skip check."}
        }
    })
}

fn operation_read(entity: &str) -> Value {
    json!({
        "tags": [entity],
        "summary": format!("Read {entity}"),
        "description": format!("Read an existing '{entity}' record."),
        "responses": {
            "200": record_response(entity),
            "403": {"description": MESSAGE_403}
        }
    })
}

/// The update; `X-Version-Number` where the type has optimistic concurrency control.
fn operation_update(meta: &Metadata, entity: &str) -> Value {
    let mut parameters = Vec::new();
    let concurrency = meta
        .raw
        .pointer(&format!(
            "/entityDefs/{entity}/optimisticConcurrencyControl"
        ))
        .and_then(Value::as_bool)
        == Some(true);
    if concurrency {
        parameters.push(json!({
            "in": "header",
            "name": "X-Version-Number",
            "schema": {"type": "string"},
            "description": "A version number for optimistic concurrency control. Obtained from the 'versionNumber' field."
        }));
    }
    json!({
        "tags": [entity],
        "requestBody": {"content": {"application/json": {"schema": {"$ref": reference(entity)}}}},
        "parameters": parameters,
        "summary": format!("Update {entity}"),
        "description": format!("Update an existing '{entity}' record."),
        "responses": {
            "200": record_response(entity),
            "400": {"description": MESSAGE_400_VALIDATION},
            "403": {"description": MESSAGE_403},
            "409": {"description": "Conflict."}
        }
    })
}

fn operation_delete(entity: &str) -> Value {
    json!({
        "tags": [entity],
        "summary": format!("Remove {entity}"),
        "description": format!("Remove an existing '{entity}' record."),
        "responses": {
            "200": {
                "content": {"application/json": {"schema": {
                    "type": "boolean",
                    "description": "Always true. Do not check the value."
                }}},
                "description": "Success."
            },
            "400": {"description": MESSAGE_400},
            "403": {"description": MESSAGE_403}
        }
    })
}

fn operation_list(meta: &Metadata, entity: &EntityDef, skip_custom: bool) -> Value {
    let mut parameters = vec![json!({
        "in": "header",
        "name": "X-No-Total",
        "schema": {"type": "string", "enum": ["true", "false"]},
        "description": "Disable calculation of the total number of records."
    })];
    parameters.extend(search_parameters(meta, entity, skip_custom));
    json!({
        "tags": [entity.name],
        "parameters": parameters,
        "summary": format!("List {}", entity.name),
        "description": format!("List {} records.", entity.name),
        "responses": list_responses(&entity.name)
    })
}

fn operation_list_link(
    meta: &Metadata,
    entity: &str,
    link: &str,
    foreign: &EntityDef,
    skip_custom: bool,
) -> Value {
    json!({
        "tags": [entity],
        "parameters": search_parameters(meta, foreign, skip_custom),
        "summary": format!("List {entity} . {link}"),
        "description": format!("List '{}' records related through the '{link}' link.", foreign.name),
        "responses": list_responses(&foreign.name)
    })
}

/// The relate (`post`) and unrelate (`delete`) operations of a link.
fn operation_relate(entity: &str, link: &str, foreign: &str, verb: &str, text: &str) -> Value {
    json!({
        "tags": [entity],
        "requestBody": {"content": {"application/json": {"schema": {
            "type": "object",
            "properties": {"id": {
                "type": "string",
                "description": format!("An ID of {foreign} record.")
            }}
        }}}},
        "summary": format!("{verb} {entity} . {link}"),
        "description": text.replace("{f}", foreign).replace("{l}", link),
        "responses": {
            "200": {"description": "Success."},
            "400": {"description": MESSAGE_400_VALIDATION},
            "403": {"description": MESSAGE_403}
        }
    })
}

fn list_responses(entity: &str) -> Value {
    json!({
        "200": {
            "content": {"application/json": {"schema": {
                "type": "object",
                "properties": {
                    "list": {
                        "type": "array",
                        "items": {"$ref": reference(entity)},
                        "description": "Records."
                    },
                    "total": {
                        "type": "number",
                        "description": "The total number of records. If the total number is disabled, special values are returned: -1 – there are more records to paginate, -2 – there are no more records."
                    }
                }
            }}},
            "description": "Success."
        },
        "400": {"description": MESSAGE_400},
        "403": {"description": MESSAGE_403}
    })
}

/// Paging, order, text filter, the type's primary and bool filters, the selectable attributes
/// and `whereGroup`.
fn search_parameters(meta: &Metadata, entity: &EntityDef, skip_custom: bool) -> Vec<Value> {
    let mut parameters = vec![
        json!({
            "name": "offset", "in": "query",
            "schema": {"type": "integer", "minimum": 0},
            "description": "A pagination offset."
        }),
        json!({
            "name": "maxSize", "in": "query",
            "schema": {"type": "integer", "minimum": 0, "maximum": crate::list::MAX_SIZE},
            "description": "The maximum number of records to return."
        }),
        json!({
            "name": "orderBy", "in": "query",
            "schema": {"type": "string"},
            "description": "An attribute (field) to order by."
        }),
        json!({
            "name": "order", "in": "query",
            "schema": {"type": "string", "enum": ["asc", "desc"]},
            "description": "An order direction."
        }),
        json!({
            "name": "textFilter", "in": "query",
            "schema": {"type": "string"},
            "description": "A text filter query. Wildcard (*) is supported."
        }),
    ];
    let primary = crate::list::primary_filters(&entity.name);
    if !primary.is_empty() {
        parameters.push(json!({
            "name": "primaryFilter", "in": "query",
            "schema": {"type": "string", "enum": primary},
            "description": "A primary filter."
        }));
    }
    let bool_filters: Vec<&str> = meta
        .raw
        .pointer(&format!("/clientDefs/{}/boolFilterList", entity.name))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str().or_else(|| f.get("name").and_then(Value::as_str)))
        .collect();
    if !bool_filters.is_empty() {
        parameters.push(json!({
            "name": "boolFilterList", "in": "query",
            "schema": {"type": "array", "items": {"type": "string", "enum": bool_filters}},
            "style": "deepObject",
            "explode": true,
            "description": "Bool filters."
        }));
    }
    let mut attributes: Vec<String> = Vec::new();
    for (field, def) in entity.fields.iter().filter(|(field, _)| {
        restriction(&entity.name, field) != Some(Restriction::Internal)
            && !(skip_custom && field_flag(meta, &entity.name, field, "isCustom"))
    }) {
        for (attribute, _) in expand_field(field, def) {
            if !attributes.contains(&attribute) {
                attributes.push(attribute);
            }
        }
    }
    if !attributes.is_empty() {
        parameters.push(json!({
            "name": "attributeSelect", "in": "query",
            "schema": {"type": "array", "items": {"type": "string", "enum": attributes}},
            "style": "form",
            "explode": false,
            "description": "Attributes to return. Select only the necessary ones to improve performance."
        }));
    }
    parameters.push(json!({
        "name": "whereGroup", "in": "query",
        "schema": {"type": "array", "items": {"$ref": "#/components/schemas/whereItem"}},
        "style": "deepObject",
        "explode": true,
        "description": "Where items."
    }));
    parameters
}

/// The `where` item schema: EspoCRM's operators (`Select\Where\Item\Type`).
fn where_item_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "type": {
                "type": "string",
                "enum": WHERE_OPERATORS.as_slice(),
                "description": "An operator."
            },
            "attribute": {"type": "string", "description": "An attribute or field."},
            "value": {
                "oneOf": [
                    {"type": ["string", "integer", "number", "boolean", "null"]},
                    {"type": "array", "items": {"$ref": "#/components/schemas/whereItem"}},
                    {"type": "array", "items": {"type": "string"}}
                ],
                "description": "A value. A scalar, or an array of strings."
            },
            "dateTime": {"type": "boolean", "description": "Set true for date-time fields."},
            "timeZone": {"type": "string", "description": "A time zone. For date-time fields."}
        },
        "required": ["type"],
        "description": "A where item."
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::EspoVersion;

    /// 10.0's description with optimistic concurrency control on Account only.
    fn with_concurrency_on_account() -> Metadata {
        let patch = json!({"entityDefs": {
            "Account": {"optimisticConcurrencyControl": true},
            "Contact": {"optimisticConcurrencyControl": null}
        }});
        Metadata::of(EspoVersion::V10_0)
            .patched(&patch)
            .expect("the patched description parses")
    }

    fn header_names(operation: &Value) -> Vec<&str> {
        operation["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .filter(|p| p["in"] == "header")
            .filter_map(|p| p["name"].as_str())
            .collect()
    }

    #[test]
    fn should_document_version_header_on_update_of_concurrency_types() {
        let doc = document(&with_concurrency_on_account(), None, false);
        let paths = &doc["paths"];
        assert_eq!(
            header_names(&paths["/Account/{id}"]["patch"]),
            ["X-Version-Number"]
        );
        assert!(header_names(&paths["/Contact/{id}"]["patch"]).is_empty());
        assert_eq!(
            header_names(&paths["/Account"]["post"]),
            ["X-Skip-Duplicate-Check", "X-Duplicate-Source-Id"]
        );
    }

    #[test]
    fn should_describe_crud_and_to_many_link_paths() {
        let doc = document(Metadata::of(EspoVersion::V10_0), None, false);
        assert_eq!(doc["openapi"], json!("3.1.1"));
        assert_eq!(
            doc["components"]["securitySchemes"]["ApiKeyAuth"],
            json!({"type": "apiKey", "in": "header", "name": "X-Api-Key"})
        );
        let paths = doc["paths"].as_object().expect("paths");
        let verbs = |path: &str| -> Vec<&str> {
            paths[path]
                .as_object()
                .expect("a path item")
                .keys()
                .map(String::as_str)
                .filter(|k| *k != "parameters")
                .collect()
        };
        assert_eq!(verbs("/Account"), ["post", "get"]);
        assert_eq!(verbs("/Account/{id}"), ["get", "patch", "delete"]);
        assert_eq!(verbs("/Account/{id}/contacts"), ["get", "post", "delete"]);
        // To-one links have no path; nor do links to types the document leaves out.
        assert!(!paths.contains_key("/Account/{id}/assignedUser"));
        assert!(!paths.contains_key("/Account/{id}/targetLists"));
        // Team is listed though not an object type, and only read (its aclActionList).
        assert_eq!(verbs("/Team"), ["get"]);
        assert_eq!(verbs("/Team/{id}"), ["get"]);
        // EmailTemplate is no object type: not listed.
        assert!(!paths.contains_key("/EmailTemplate"));
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        assert_eq!(
            schemas["Account_create"],
            json!({"$ref": "#/components/schemas/Account", "type": "object", "required": ["name"]})
        );
        assert!(schemas.contains_key("whereItem"));
        let account = &schemas["Account"]["properties"];
        assert_eq!(
            account["type"],
            json!({"type": ["string", "null"], "readOnly": false,
                   "enum": ["Customer", "Investor", "Partner", "Reseller"]})
        );
        assert_eq!(account["assignedUserName"]["readOnly"], json!(true));
        assert_eq!(
            account["name"]["type"],
            json!("string"),
            "required: never null"
        );
        // A required field with a default (stage) may be left out of a create.
        assert_eq!(
            schemas["Opportunity_create"]["required"],
            json!(["name", "amount", "closeDate"])
        );
        let user = &schemas["User"]["properties"];
        assert_eq!(user["password"]["writeOnly"], json!(true));
        assert_eq!(user["apiKey"]["readOnly"], json!(true));
    }

    #[test]
    fn should_list_search_parameters_of_the_type() {
        let doc = document(Metadata::of(EspoVersion::V10_0), None, false);
        let list = &doc["paths"]["/Account"]["get"]["parameters"];
        let by_name = |name: &str| {
            list.as_array()
                .expect("parameters")
                .iter()
                .find(|p| p["name"] == name)
                .cloned()
                .unwrap_or(Value::Null)
        };
        assert_eq!(by_name("maxSize")["schema"]["maximum"], json!(200));
        assert_eq!(
            by_name("boolFilterList")["schema"]["items"]["enum"],
            json!(["onlyMy"])
        );
        let attributes = by_name("attributeSelect")["schema"]["items"]["enum"].clone();
        let attributes = attributes.as_array().expect("attributes");
        assert!(attributes.contains(&json!("billingAddressCity")));
        assert!(attributes.contains(&json!("assignedUserId")));
        assert!(
            by_name("primaryFilter")["schema"]["enum"]
                .as_array()
                .expect("primary filters")
                .contains(&json!("customers"))
        );
    }

    #[test]
    fn should_keep_only_the_module_types() {
        let doc = document(Metadata::of(EspoVersion::V10_0), Some("Crm"), true);
        assert_eq!(doc["info"]["title"], json!("EspoCRM · Crm API"));
        let paths = doc["paths"].as_object().expect("paths");
        assert!(paths.contains_key("/Account"));
        assert!(!paths.contains_key("/User"));
        assert!(
            !paths.contains_key("/Account/{id}/portalUsers"),
            "User is not in Crm"
        );
    }
}
