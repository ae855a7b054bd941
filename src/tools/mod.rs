//! The MCP tools, one file per family, each with its own router; this module holds what they
//! share: the [`ToolContext`] (handles of the gateway and metadata actors, limits, the site URL)
//! and the conversion of tool errors into MCP tool results.
//!
//! A tool that ran and failed answers a tool result with `isError: true` and
//! `{"error": {"code", "message", "suggestion", "retryable"}}` in both `structuredContent` and
//! the text; protocol errors are kept for protocol faults. Tool bodies just use `?`.

pub mod human;
pub mod power;
pub mod read;
pub mod write;

use std::sync::Arc;

use espomcp_actors::{DeleteConfirmations, EspoRequest, Gateway, MetadataCache, Schema};
use rmcp::handler::server::tool::IntoCallToolResult;
use rmcp::model::{CallToolResponse, CallToolResult, JsonObject};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ToolError;
use crate::telemetry::Redacted;
use crate::toolsets::{EntityFilter, ToolFilter};

/// What every tool may use. Cheap to clone (handles only).
#[derive(Debug, Clone)]
pub struct ToolContext {
    pub gateway: Gateway,
    pub metadata: MetadataCache,
    /// The largest page a tool asks for (`SERVER_MAX_LIMIT`, at most EspoCRM's 200).
    pub max_limit: u32,
    /// EspoCRM's site URL without a trailing slash, for links to records in its web UI.
    pub site_url: String,
    /// The pending delete previews (two-step delete).
    pub deletes: DeleteConfirmations,
    /// Who is calling, as far as delete previews are concerned: a preview can only be
    /// confirmed by the client that asked for it (one client per stdio process).
    pub caller: String,
    /// `ESPOCRM_EMAIL_FROM`: the default `from` of email drafts.
    pub email_from: Option<String>,
    /// `SERVER_AGGREGATE_MAX_RECORDS`: the most records `aggregate` reads.
    pub aggregate_max_records: u32,
    /// `SERVER_DELETE_CONFIRMATION=human`: a confirmed delete also asks the person (see
    /// `human.rs`). `None` in agent mode.
    pub human_confirmation: Option<human::HumanConfirmation>,
    /// `SERVER_READ_ONLY` and `SERVER_TOOLSETS`: which tools are served.
    pub tools: ToolFilter,
    /// `SERVER_ENTITY_TYPES`: which entity types tools may touch, applied to [`Self::schema`].
    pub entities: EntityFilter,
    /// `SERVER_AUDIT_LOG`: where write tool calls are recorded (off when not set).
    pub audit: crate::audit::AuditLog,
}

impl ToolContext {
    /// The parsed schema (from the metadata actor's cache), as tools may see it: without the
    /// entity types `SERVER_ENTITY_TYPES` leaves out. Every tool reads the schema through here,
    /// so the restriction holds on every path.
    pub async fn schema(&self) -> Result<Arc<Schema>, ToolError> {
        Ok(self.entities.apply(self.metadata.schema().await?))
    }

    /// Sends one request through the gateway and returns the JSON body. At TRACE, the request
    /// and response bodies are logged with personal data redacted.
    pub async fn send(&self, request: EspoRequest) -> Result<Value, ToolError> {
        let described = request.describe();
        if let Some(body) = &request.body {
            tracing::trace!(request = %described, body = %Redacted(body), "to EspoCRM");
        }
        let read = request.method.is_idempotent_read();
        let response = self.gateway.send(request).await;
        crate::audit::note_upstream_status(
            read,
            match &response {
                Ok(answer) => Some(answer.status),
                Err(e) => e.status(),
            },
        );
        let response = response.map_err(|e| {
            let error = ToolError::from(e);
            if read || !error.retryable || error.code == crate::error::ErrorCode::RateLimited {
                return error;
            }
            // A write whose answer was lost (timeout, dropped connection) may have been carried
            // out: trying it again blindly could create a duplicate. Say so instead.
            let mut error = error.with_suggestion(
                "The change may or may not have been made: check the record first (search or get), \
                 then repeat only what is missing.",
            );
            error.retryable = false;
            error
        })?;
        tracing::trace!(request = %described, status = response.status, body = %Redacted(&response.body), "from EspoCRM");
        Ok(response.body)
    }

    /// The record's page in EspoCRM's web UI.
    pub fn record_url(&self, entity_type: &str, id: &str) -> String {
        format!("{}/#{entity_type}/view/{id}", self.site_url)
    }
}

impl IntoCallToolResult for ToolError {
    fn into_call_tool_result(self) -> Result<CallToolResponse, rmcp::ErrorData> {
        Ok(CallToolResult::structured_error(self.to_json()).into())
    }
}

/// Reads a tool's arguments into its parameter type; anything malformed (unknown argument,
/// wrong type, missing required argument) is `INVALID_ARGUMENT` naming the problem.
pub fn parse_args<T: DeserializeOwned>(tool: &str, arguments: JsonObject) -> Result<T, ToolError> {
    serde_json::from_value(Value::Object(arguments))
        .map_err(|e| ToolError::invalid_argument(tool, &e.to_string()))
}

/// The input schema of a parameter type, as rmcp derives it (field doc comments become
/// descriptions). The types are ours and static; a failure is a programming error caught by
/// the schema tests.
pub fn input_schema<T: schemars::JsonSchema + std::any::Any>() -> Arc<JsonObject> {
    rmcp::handler::server::common::schema_for_input::<T>().unwrap_or_else(|e| {
        let mut o = JsonObject::new();
        o.insert("type".into(), Value::String("object".into()));
        o.insert(
            "description".into(),
            Value::String(format!("schema error: {e}")),
        );
        Arc::new(o)
    })
}

/// The order tools are listed in: discover, then read, then write.
pub const TOOL_ORDER: &[&str] = &[
    "list_entity_types",
    "get_schema",
    "search",
    "get",
    "get_related",
    "get_many",
    "global_search",
    "aggregate",
    "upcoming_activities",
    "whoami",
];

/// A tool's place in [`TOOL_ORDER`] (unknown names last).
pub fn tool_order(name: &str) -> usize {
    TOOL_ORDER
        .iter()
        .position(|n| *n == name)
        .unwrap_or(TOOL_ORDER.len())
}
