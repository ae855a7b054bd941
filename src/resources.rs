//! MCP resources: EspoCRM records, their related records, entity schemas and the list of entity
//! types, addressed by `espocrm://` URIs.
//!
//! - `espocrm://entity-types`: what `list_entity_types` answers (the one listed resource).
//! - `espocrm://schema/{entityType}`: what `get_schema` answers.
//! - `espocrm://{entityType}/{id}`: what `get` answers for that record.
//! - `espocrm://{entityType}/{id}/{link}`: what `get_related` answers (its first page).
//!
//! Reading a resource runs the same code as the tool it mirrors, so every validation (names,
//! ids, the entity types the operator allows) holds on both paths: the parts of a URI become the
//! tool's arguments, never a piece of a request path.

use rmcp::ErrorData;
use rmcp::model::{
    JsonObject, ListResourceTemplatesResult, ListResourcesResult, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate,
};
use serde::Serialize;
use serde_json::Value;

use crate::error::{ErrorCode, ToolError};
use crate::server::EspoMcp;
use crate::tools::Json;

/// The scheme of every espomcp resource URI.
pub const SCHEME: &str = "espocrm://";
/// The list of entity types.
pub const ENTITY_TYPES_URI: &str = "espocrm://entity-types";
/// The template of one entity type's schema.
pub const SCHEMA_TEMPLATE: &str = "espocrm://schema/{entityType}";
/// The template of one record.
pub const RECORD_TEMPLATE: &str = "espocrm://{entityType}/{id}";
/// The template of the records linked to one record.
pub const RELATED_TEMPLATE: &str = "espocrm://{entityType}/{id}/{link}";

const JSON_MIME: &str = "application/json";

/// A parsed resource URI. The parts are not validated here: the tool that reads them does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceUri {
    EntityTypes,
    Schema {
        entity_type: String,
    },
    Record {
        entity_type: String,
        id: String,
    },
    Related {
        entity_type: String,
        id: String,
        link: String,
    },
}

impl ResourceUri {
    /// Parses an `espocrm://` URI. Anything else (another scheme, a query, a fragment, empty or
    /// extra segments) is `INVALID_ARGUMENT` naming the URI and the forms that exist.
    pub fn parse(uri: &str) -> Result<ResourceUri, ToolError> {
        let invalid = || {
            ToolError::new(
                ErrorCode::InvalidArgument,
                format!("{uri:?} is not an espomcp resource URI"),
                format!(
                    "Use {ENTITY_TYPES_URI}, {SCHEMA_TEMPLATE}, {RECORD_TEMPLATE} or {RELATED_TEMPLATE}."
                ),
                false,
            )
        };
        let rest = uri.strip_prefix(SCHEME).ok_or_else(invalid)?;
        if rest.contains(['?', '#', '%']) {
            return Err(invalid());
        }
        let segments: Vec<&str> = rest.split('/').collect();
        if segments.iter().any(|s| s.is_empty()) {
            return Err(invalid());
        }
        let owned = |s: &str| s.to_owned();
        match segments.as_slice() {
            ["entity-types"] => Ok(ResourceUri::EntityTypes),
            ["schema", entity_type] => Ok(ResourceUri::Schema {
                entity_type: owned(entity_type),
            }),
            [entity_type, id] => Ok(ResourceUri::Record {
                entity_type: owned(entity_type),
                id: owned(id),
            }),
            [entity_type, id, link] => Ok(ResourceUri::Related {
                entity_type: owned(entity_type),
                id: owned(id),
                link: owned(link),
            }),
            _ => Err(invalid()),
        }
    }

    /// The arguments of the tool this resource mirrors.
    fn arguments(&self) -> JsonObject {
        let mut arguments = JsonObject::new();
        let mut put = |key: &str, value: &str| {
            arguments.insert(key.into(), Value::String(value.to_owned()));
        };
        match self {
            ResourceUri::EntityTypes => {}
            ResourceUri::Schema { entity_type } => put("entityType", entity_type),
            ResourceUri::Record { entity_type, id } => {
                put("entityType", entity_type);
                put("id", id);
            }
            ResourceUri::Related {
                entity_type,
                id,
                link,
            } => {
                put("entityType", entity_type);
                put("id", id);
                put("link", link);
            }
        }
        arguments
    }
}

/// The resources a client can list: only the entity types (records are far too many to list;
/// they are reached through the templates).
pub fn list() -> ListResourcesResult {
    let resource = Resource::new(ENTITY_TYPES_URI, "entity-types")
        .with_title("EspoCRM entity types")
        .with_description("The entity types this API user can read, with what it may do on each.")
        .with_mime_type(JSON_MIME);
    ListResourcesResult::with_all_items(vec![resource])
}

/// The resource templates, in the order a person would use them.
pub fn templates() -> ListResourceTemplatesResult {
    let template = |uri: &str, name: &str, title: &str, description: &str| {
        ResourceTemplate::new(uri, name)
            .with_title(title)
            .with_description(description)
            .with_mime_type(JSON_MIME)
    };
    ListResourceTemplatesResult::with_all_items(vec![
        template(
            RECORD_TEMPLATE,
            "record",
            "EspoCRM record",
            "One record with all its fields, e.g. espocrm://Account/<id>.",
        ),
        template(
            RELATED_TEMPLATE,
            "related",
            "Related records",
            "The first page of the records linked to one record, e.g. espocrm://Account/<id>/contacts.",
        ),
        template(
            SCHEMA_TEMPLATE,
            "schema",
            "Entity schema",
            "The fields and links of one entity type, e.g. espocrm://schema/Opportunity.",
        ),
    ])
}

impl EspoMcp {
    /// Reads one resource by running the tool it mirrors.
    pub async fn read_resource_uri(&self, uri: &str) -> Result<ReadResourceResult, ErrorData> {
        let parsed = ResourceUri::parse(uri).map_err(resource_error)?;
        let arguments = parsed.arguments();
        let json = match parsed {
            ResourceUri::EntityTypes => to_json(self.list_entity_types(arguments).await),
            ResourceUri::Schema { .. } => to_json(self.get_schema(arguments).await),
            ResourceUri::Record { .. } => to_json(self.get(arguments).await),
            ResourceUri::Related { .. } => to_json(self.get_related(arguments).await),
        }
        .map_err(resource_error)?;
        Ok(ReadResourceResult::new(vec![
            ResourceContents::text(json, uri).with_mime_type(JSON_MIME),
        ]))
    }
}

fn to_json<T: Serialize>(result: Result<Json<T>, ToolError>) -> Result<String, ToolError> {
    let Json(value) = result?;
    serde_json::to_string(&value).map_err(|e| {
        ToolError::upstream_error(
            format!("the answer could not be written as JSON: {e}"),
            false,
        )
    })
}

/// A tool error as a JSON-RPC error of `resources/read`: names and ids that do not exist are
/// "resource not found" (-32002), other mistakes of the caller are invalid params, and failures
/// of EspoCRM are internal errors. The tool's error object is the error's `data`, so the stable
/// code, the suggestion and `retryable` reach the client.
fn resource_error(error: ToolError) -> ErrorData {
    let data = Some(error.to_json());
    match error.code {
        ErrorCode::RecordNotFound | ErrorCode::InvalidEntityType | ErrorCode::InvalidLink => {
            ErrorData::resource_not_found(error.message, data)
        }
        ErrorCode::InvalidArgument
        | ErrorCode::InvalidId
        | ErrorCode::InvalidField
        | ErrorCode::InvalidOperator => ErrorData::invalid_params(error.message, data),
        _ => ErrorData::internal_error(error.message, data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_form() {
        assert_eq!(
            ResourceUri::parse("espocrm://entity-types").unwrap(),
            ResourceUri::EntityTypes
        );
        assert_eq!(
            ResourceUri::parse("espocrm://schema/Account").unwrap(),
            ResourceUri::Schema {
                entity_type: "Account".into()
            }
        );
        assert_eq!(
            ResourceUri::parse("espocrm://Account/6b05838be1c766a70").unwrap(),
            ResourceUri::Record {
                entity_type: "Account".into(),
                id: "6b05838be1c766a70".into()
            }
        );
        assert_eq!(
            ResourceUri::parse("espocrm://Account/abc/contacts").unwrap(),
            ResourceUri::Related {
                entity_type: "Account".into(),
                id: "abc".into(),
                link: "contacts".into()
            }
        );
    }

    #[test]
    fn refuses_anything_else_naming_the_uri() {
        for uri in [
            "http://Account/abc",
            "espocrm://",
            "espocrm://Account",
            "espocrm://Account/",
            "espocrm://Account//x",
            "espocrm://Account/abc?deleted=true",
            "espocrm://Account/abc#x",
            "espocrm://Account/ab%2Fc",
            "espocrm://Account/abc/contacts/more",
            "espocrm://Account/abc/contacts/",
        ] {
            let error = ResourceUri::parse(uri).unwrap_err();
            assert_eq!(error.code, ErrorCode::InvalidArgument, "{uri}");
            assert!(error.message.contains(uri), "{uri}: {}", error.message);
        }
    }

    #[test]
    fn errors_map_to_json_rpc_codes_with_the_tool_error_as_data() {
        let not_found = resource_error(ToolError::record_not_found("Account", "x"));
        assert_eq!(not_found.code, ErrorData::resource_not_found("", None).code);
        assert_eq!(
            not_found.data.unwrap()["error"]["code"],
            Value::from("RECORD_NOT_FOUND")
        );
        let bad = resource_error(ToolError::invalid_id("a/b"));
        assert_eq!(bad.code, ErrorData::invalid_params("", None).code);
        let upstream = resource_error(ToolError::upstream_timeout());
        assert_eq!(upstream.code, ErrorData::internal_error("", None).code);
        assert_eq!(
            upstream.data.unwrap()["error"]["retryable"],
            Value::from(true)
        );
    }
}
