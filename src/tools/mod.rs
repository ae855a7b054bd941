//! The MCP tools, one file (or folder) per toolset, each with its own router: [`read`] (with the
//! power tools in [`read::power`]), [`write`](mod@write), [`delete`], [`notes`], [`kanban`], [`email`].
//! Each tool declares its toolset and what the audit log records of it next to its `#[tool]`
//! attribute ([`catalog`]). This module holds what they share: the [`ToolContext`] (handles of
//! the gateway and metadata actors, limits, the site URL), the reading of arguments, the merged
//! [`router`] and the conversion of tool errors into MCP tool results.
//!
//! A tool that ran and failed answers a tool result with `isError: true` and
//! `{"error": {"code", "message", "suggestion", "retryable"}}` as its only text block, and no
//! `structuredContent` (which clients validate against the tool's `outputSchema`, even on
//! errors); protocol errors are kept for protocol faults. Tool bodies just use `?`.

pub mod catalog;
pub mod delete;
pub mod email;
pub mod kanban;
pub mod notes;
pub mod portable;
pub mod read;
pub mod write;

use std::sync::Arc;

use espomcp_actors::{
    DeleteConfirmations, EntityType, EspoRequest, MetadataCache, Schema, SchemaView,
};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::IntoCallToolResult;
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock, JsonObject, Tool};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::ToolError;
use crate::espo::answer::{self, ListPage};
use crate::server::EspoMcp;
use crate::telemetry::Redacted;
use crate::toolsets::{EntityFilter, ToolFilter};

/// What every tool may use. Cheap to clone (handles only).
#[derive(Debug, Clone)]
pub struct ToolContext {
    /// The gateway behind the outbound write policy (`outbound.rs`): the only way tools reach
    /// EspoCRM, so every write is checked for mail EspoCRM would send.
    pub gateway: crate::outbound::Outbound,
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
    /// `delete/human.rs`). `None` in agent mode.
    pub human_confirmation: Option<delete::human::HumanConfirmation>,
    /// `SERVER_READ_ONLY` and `SERVER_TOOLSETS`: which tools are served.
    pub tools: ToolFilter,
    /// `SERVER_ENTITY_TYPES`: which entity types tools may touch. The metadata actor applies it
    /// to every schema it hands out ([`Self::schema`]); tools read it from there, not here.
    pub entities: EntityFilter,
    /// `SERVER_AUDIT_LOG`: where write tool calls are recorded (off when not set).
    pub audit: crate::audit::AuditLog,
}

impl ToolContext {
    /// The parsed schema (from the metadata actor's cache), as tools may see it: without the
    /// entity types `SERVER_ENTITY_TYPES` leaves out, restricted once per fetch by the metadata
    /// actor. Every tool reads the schema through here (or [`Self::view`]), so the restriction
    /// holds on every path.
    pub async fn schema(&self) -> Result<Arc<Schema>, ToolError> {
        Ok(Arc::clone(&self.view().await?.restricted))
    }

    /// The current [`SchemaView`]: the restricted schema and the answers rendered from it.
    pub async fn view(&self) -> Result<Arc<SchemaView>, ToolError> {
        Ok(self.metadata.view().await?)
    }

    /// Sends one request through the gateway and returns the JSON body. Every write is first
    /// checked by the outbound policy (`outbound::check`): one that could make EspoCRM send
    /// mail is `SEND_BLOCKED` and never sent. At TRACE, the request and response bodies are
    /// logged with personal data redacted. Tools that read the answer use
    /// [`Self::send_record`], [`Self::send_list`] or [`Self::send_object`], which refuse an
    /// answer of another shape.
    pub async fn send(&self, request: EspoRequest) -> Result<Value, ToolError> {
        use crate::outbound::OutboundError;
        let described = request.describe();
        if let Some(body) = &request.body {
            tracing::trace!(request = %described, body = %Redacted(body), "to EspoCRM");
        }
        let read = request.method.is_idempotent_read();
        let response = match self.gateway.send(request).await {
            Ok(answer) => Ok(answer),
            Err(OutboundError::Upstream(error)) => Err(error),
            Err(OutboundError::Blocked(blocked)) => {
                tracing::warn!(request = %described, reason = %blocked, "refused by the outbound policy");
                return Err(blocked.into());
            }
            Err(OutboundError::Schema(error)) => return Err(error.into()),
        };
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

    /// [`Self::send`] for an answer that must be one record (see `espo::answer`).
    pub async fn send_record(&self, request: EspoRequest) -> Result<Map<String, Value>, ToolError> {
        let described = request.describe();
        answer::record(self.send(request).await?, &described)
    }

    /// [`Self::send`] for an answer that must be a JSON object.
    pub async fn send_object(&self, request: EspoRequest) -> Result<Map<String, Value>, ToolError> {
        let described = request.describe();
        answer::object(self.send(request).await?, &described)
    }

    /// [`Self::send`] for an answer that must be a page of records.
    pub async fn send_list(&self, request: EspoRequest) -> Result<ListPage, ToolError> {
        let described = request.describe();
        answer::list_page(self.send(request).await?, &described)
    }

    /// The current record, or RECORD_NOT_FOUND naming it.
    pub async fn fetch(
        &self,
        entity: &EntityType,
        id: &str,
    ) -> Result<Map<String, Value>, ToolError> {
        self.send_record(EspoRequest::get([entity.name.as_str(), id]))
            .await
            .map_err(|e| not_found_as(e, &entity.name, id))
    }

    /// The record's page in EspoCRM's web UI.
    pub fn record_url(&self, entity_type: &str, id: &str) -> String {
        format!("{}/#{entity_type}/view/{id}", self.site_url)
    }
}

/// A 404 on a record route means the record does not exist: say which.
pub fn not_found_as(error: ToolError, entity_type: &str, id: &str) -> ToolError {
    if error.code == crate::error::ErrorCode::RecordNotFound {
        ToolError::record_not_found(entity_type, id)
    } else {
        error
    }
}

/// EspoCRM (10 and later) answers a link it does not know with a 404 naming it; the schema had
/// that link, or the request would not have been sent, so the schema is stale: it is fetched
/// again next time, and the error names the link as the schema check would have.
pub fn unknown_link_as(
    ctx: &ToolContext,
    error: ToolError,
    entity_type: &str,
    link: &str,
) -> ToolError {
    if error.code == crate::error::ErrorCode::InvalidLink {
        ctx.metadata.invalidate();
        ToolError::invalid_link(entity_type, link)
    } else {
        error
    }
}

/// A tool's answer, as rmcp's `rmcp::Json<T>`: `structuredContent` and its compact JSON as the
/// text. The difference is how the value is made: rmcp's serialises `T` into a new `Value`,
/// which for records (already `Value`s) copies every field; [`Structured`] moves them in.
/// `#[tool]` derives the output schema from a return type named `Json<T>`, so the tools'
/// listing is the same as with rmcp's.
#[derive(Debug)]
pub struct Json<T>(pub T);

/// An answer that can become `structuredContent` without a copy (see [`Json`]).
pub trait Structured {
    fn into_value(self) -> Value;

    /// The tool result: the value and its compact JSON as the text.
    fn into_result(self) -> CallToolResult
    where
        Self: Sized,
    {
        structured(self.into_value())
    }
}

/// A result with `value` as `structuredContent` and its compact JSON as the text, as rmcp's
/// `CallToolResult::structured`, whose text goes through `Display` (a formatter call per
/// token): [`compact`] writes the bytes straight into one buffer, about 2.4 times faster for a
/// page of records (BENCHMARKS.md, `answer`).
pub fn structured(value: Value) -> CallToolResult {
    let mut result = CallToolResult::structured(Value::Null);
    result.content = vec![ContentBlock::text(compact(&value))];
    result.structured_content = Some(value);
    result
}

/// `value`'s compact JSON, the same text as `value.to_string()`.
pub fn compact(value: &Value) -> String {
    // Writing a `Value` into a `Vec` cannot fail: its keys are strings.
    serde_json::to_string(value).unwrap_or_else(|_| value.to_string())
}

impl<T: Structured> IntoCallToolResult for Json<T> {
    fn into_call_tool_result(self) -> Result<CallToolResponse, rmcp::ErrorData> {
        Ok(self.0.into_result().into())
    }
}

/// A failed call: `isError: true`, the error object as the one text block, and no
/// `structuredContent`. The error object does not match the tools' output schemas, and the
/// TypeScript SDK's client (the base of most hosts) validates `structuredContent` against the
/// `outputSchema` even on errors: with it, the agent would get a -32602 instead of the error.
/// The MCP specification only asks that structured content, when given, match the schema, so
/// leaving it out is valid for every client; ARCHITECTURE.md, "Decisions", says more.
impl IntoCallToolResult for ToolError {
    fn into_call_tool_result(self) -> Result<CallToolResponse, rmcp::ErrorData> {
        Ok(error_result(&self).into())
    }
}

/// The tool result of a failed call (see the `IntoCallToolResult` impl of [`ToolError`]).
pub fn error_result(error: &ToolError) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(compact(&error.to_json()))])
}

/// The `error` object of a failed call's result, read back from its text block; `None` when
/// the result is not an error or its text is not one of ours.
pub fn error_of(result: &CallToolResult) -> Option<Value> {
    if result.is_error != Some(true) {
        return None;
    }
    result
        .content
        .iter()
        .filter_map(|block| block.as_text())
        .find_map(|text| serde_json::from_str::<Value>(&text.text).ok())
        .and_then(|mut value| value.get_mut("error").map(Value::take))
        .filter(Value::is_object)
}

/// Reads a tool's arguments into its parameter type; anything malformed (unknown argument,
/// wrong type, missing required argument) is `INVALID_ARGUMENT` naming that argument, as a
/// path where it is nested (`limit`, `where[0].field`), in the message and in
/// `details.argument` (`arguments` when they are wrong as a whole), after the tool's name.
/// `tool` is the `<tool>_tool_attr` function `#[tool]` generates, so the name is the one its
/// attribute declares (read only when the arguments are wrong).
pub fn parse_args<T: DeserializeOwned>(
    arguments: JsonObject,
    tool: fn() -> Tool,
) -> Result<T, ToolError> {
    crate::validate::deserialize::from_value(Value::Object(arguments)).map_err(|misfit| {
        let tool = tool().name;
        // The tool's name, then the argument at fault: "search: the argument \"limit\" is
        // invalid: invalid type: string \"5\", expected u32".
        let (message, argument) = match misfit.argument {
            Some(argument) => (
                format!("{tool}: the argument {argument:?} {}", misfit.problem),
                argument,
            ),
            None => {
                let problem = misfit.problem.strip_prefix("is invalid: ");
                let problem = problem.unwrap_or(&misfit.problem);
                (
                    format!("{tool}: the arguments are invalid: {problem}"),
                    "arguments".to_owned(),
                )
            }
        };
        ToolError::new(
            crate::error::ErrorCode::InvalidArgument,
            message,
            "Fix the argument as described and call again",
            false,
        )
        .with_details(serde_json::json!({ "argument": argument }))
    })
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

/// Every tool: the routers of the tool files merged, in the subset of JSON Schema every
/// client accepts (`portable.rs`). `human_delete`: SERVER_DELETE_CONFIRMATION=human, which
/// changes how `delete` describes itself.
pub fn router(human_delete: bool) -> ToolRouter<EspoMcp> {
    let mut router = EspoMcp::read_router()
        + EspoMcp::power_router()
        + EspoMcp::write_router()
        + EspoMcp::delete_router()
        + EspoMcp::notes_router()
        + EspoMcp::kanban_router()
        + EspoMcp::email_router();
    if human_delete {
        delete::describe_human_delete(&mut router);
    }
    portable::make_router_portable(&mut router);
    router
}
