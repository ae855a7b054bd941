//! The rmcp `ServerHandler`: the server's identity, capabilities and instructions, and the
//! routing of tool calls to the tool families (`tools/`). It serves every protocol revision rmcp
//! supports, from the `initialize` handshake (2024-11-05 … 2025-11-25) to the stateless
//! 2026-07-28 revision (`server/discover`), chosen per connection by rmcp.

use std::sync::Arc;
use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use std::collections::BTreeMap;

use espomcp_actors::{PromptError, PromptStore};
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CompleteRequestParams, CompleteResult,
    GetPromptRequestParams, GetPromptResponse, GetPromptResult, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    Prompt, PromptArgument, PromptMessage, ProtocolVersion, ReadResourceRequestParams,
    ReadResourceResponse, ResultType, Role, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, tool_handler};

use crate::tools::ToolContext;

/// How an agent should use the tools well; sent to clients as the server's instructions.
pub const INSTRUCTIONS: &str = "espomcp gives you one EspoCRM instance. Work in this order: \
1) list_entity_types to see which entity types you can use; \
2) get_schema for an entity type before filtering on or writing its fields (field names, types, \
enum options, required fields, links); \
3) search (with `where` conditions, `select` to keep answers small, `limit`/`offset` to page) or \
get/get_related to read records; \
4) only then act on the records you found: search before create to avoid duplicates, get \
before update, create/update/link/unlink/add_note/update_kanban to change them. \
Rules: espomcp never sends email — draft_email only prepares a Draft for a person to send. \
delete is two-step: call it with confirm=false, show the preview to the user, and only after \
they agree call it again with confirm=true. \
Errors come back as {\"error\": {\"code\", \"message\", \"suggestion\", \"retryable\"}}: follow \
the suggestion; retry only when retryable is true. Records carry a `url` to show the user.";

/// Added to [`INSTRUCTIONS`] when deletes need a person's confirmation
/// (`SERVER_DELETE_CONFIRMATION=human`).
pub const HUMAN_DELETE_INSTRUCTIONS: &str = " Deletes here also need the person's own yes: \
after the preview, delete with confirm=true asks them through your client (a form to confirm); \
if they decline or cancel nothing is deleted (DELETE_DECLINED): do not ask again unless they \
want to.";

/// The MCP server: a router per tool family over one shared [`ToolContext`], and the
/// workflow prompts from the [`PromptStore`].
#[derive(Debug, Clone)]
pub struct EspoMcp {
    pub(crate) ctx: Arc<ToolContext>,
    tool_router: ToolRouter<Self>,
    prompts: PromptStore,
    /// The longest one tool call may take (SERVER_CALL_TIMEOUT_SECS), so a call ends with an
    /// error the agent can read before the client's own request timeout ends it blindly.
    /// `None`: no bound (only for tests that build a server by hand).
    call_timeout: Option<Duration>,
    /// Deletes wait for a person's answer (SERVER_DELETE_CONFIRMATION=human): a person is not
    /// held to the call timeout, so `delete` is not bounded by it.
    human_delete: bool,
}

impl EspoMcp {
    pub fn new(ctx: ToolContext, prompts: PromptStore) -> EspoMcp {
        let tool_router = crate::tools::router(ctx.human_confirmation.is_some());
        EspoMcp {
            prompts,
            ctx: Arc::new(ctx),
            tool_router,
            call_timeout: None,
            human_delete: false,
        }
    }

    /// Bounds every tool call by `call_timeout`, except `delete` when `human_delete` (it waits
    /// for a person).
    pub fn with_call_timeout(mut self, call_timeout: Duration, human_delete: bool) -> EspoMcp {
        self.call_timeout = Some(call_timeout);
        self.human_delete = human_delete;
        self
    }

    /// The time `tool` may take, if bounded.
    fn deadline_for(&self, tool: &str) -> Option<Duration> {
        if self.human_delete && tool == "delete" {
            return None;
        }
        self.call_timeout
    }

    /// [`INSTRUCTIONS`], and what human confirmation of deletes changes when it is on.
    pub fn instructions(&self) -> String {
        match self.ctx.human_confirmation {
            Some(_) => format!("{INSTRUCTIONS}{HUMAN_DELETE_INSTRUCTIONS}"),
            None => INSTRUCTIONS.to_owned(),
        }
    }

    /// The tools this server serves, in the router's order (for `tools/list` and `espomcp
    /// tools`): those `SERVER_READ_ONLY` and `SERVER_TOOLSETS` leave out are not listed.
    pub fn tools(&self) -> Vec<Tool> {
        Self::served(&self.tool_router, &self.ctx.tools)
    }

    /// The tools a server with this filter serves, without a server: `espomcp tools` lists
    /// them with no EspoCRM to talk to. `human_delete`: SERVER_DELETE_CONFIRMATION=human,
    /// which changes how `delete` describes itself.
    pub fn catalog(filter: &crate::toolsets::ToolFilter, human_delete: bool) -> Vec<Tool> {
        Self::served(&crate::tools::router(human_delete), filter)
    }

    fn served(router: &ToolRouter<Self>, filter: &crate::toolsets::ToolFilter) -> Vec<Tool> {
        let mut tools = router.list_all();
        tools.retain(|tool| filter.check(tool).is_ok());
        tools.sort_by(|a, b| {
            let position = crate::tools::catalog::listing_position;
            position(&a.name).cmp(&position(&b.name))
        });
        tools
    }
}

impl EspoMcp {
    /// The same server for another caller (delete previews are bound to the caller): the HTTP
    /// transport serves all its clients as one.
    pub fn for_caller(&self, caller: &str) -> EspoMcp {
        let mut ctx = (*self.ctx).clone();
        ctx.caller = caller.to_owned();
        EspoMcp {
            ctx: Arc::new(ctx),
            ..self.clone()
        }
    }

    /// A call to a tool this server does not serve, refused with `TOOL_DISABLED` as a tool
    /// result (not "tool not found"): the agent reads why, and which tools it may use instead.
    fn refuse_hidden(&self, name: &str) -> Option<Result<CallToolResponse, ErrorData>> {
        let tool = self.tool_router.get(name)?;
        let why = match self.ctx.tools.check(tool).err()? {
            crate::toolsets::Hidden::ReadOnly => {
                "the server runs read-only (SERVER_READ_ONLY / --read-only)".to_owned()
            }
            crate::toolsets::Hidden::Toolset(toolset) => format!(
                "its toolset `{toolset}` is not served (SERVER_TOOLSETS / --toolsets is {})",
                self.ctx.tools.toolset_names()
            ),
        };
        tracing::info!(tool = name, "refused a call to a disabled tool");
        let served: Vec<String> = self.tools().iter().map(|t| t.name.to_string()).collect();
        Some(
            rmcp::handler::server::tool::IntoCallToolResult::into_call_tool_result(
                crate::error::ToolError::tool_disabled(name, &why, &served),
            ),
        )
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for EspoMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_completions()
                .enable_prompts()
                .enable_resources()
                .enable_tools()
                .build(),
        )
        .with_server_info(Implementation::new(
            env!("CARGO_PKG_NAME"),
            env!("CARGO_PKG_VERSION"),
        ))
        .with_instructions(self.instructions())
    }

    /// Routes a call to its tool, and drops the tool's work when the client cancels the
    /// request: rmcp only signals cancellation, so without this a cancelled call still waiting
    /// in the gateway's queue would be sent to EspoCRM. Dropping the tool's future drops its
    /// reply port, and the gateway discards a queued request whose caller is gone.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if let Some(refused) = self.refuse_hidden(&request.name) {
            return refused;
        }
        let cancelled = context.ct.clone();
        // Write tool calls leave a line in the audit log, however they end (audit.rs).
        let audit = crate::audit::Watch::start(&self.ctx.audit, &request);
        let deadline = self.deadline_for(&request.name);
        let call = ToolCallContext::new(self, request, context);
        let work = audit.scope(self.tool_router.call(call));
        // Dropping the work at the deadline drops its reply ports: the gateway sends no retry
        // and no queued request for it (an attempt already sent runs out its own timeout).
        let bounded = async {
            match deadline {
                Some(limit) => match tokio::time::timeout(limit, work).await {
                    Ok(result) => result,
                    Err(_) => {
                        tracing::warn!(
                            timeout_secs = limit.as_secs(),
                            "a tool call ran out of time"
                        );
                        rmcp::handler::server::tool::IntoCallToolResult::into_call_tool_result(
                            crate::error::ToolError::call_timed_out(limit),
                        )
                    }
                },
                None => work.await,
            }
        };
        tokio::select! {
            result = bounded => {
                audit.finish(&result);
                answered("tools/call", result)
            },
            () = cancelled.cancelled() => {
                tracing::debug!("tool call cancelled by the client");
                audit.cancelled();
                Err(ErrorData::internal_error("the request was cancelled", None))
            },
        }
    }

    /// The tools in their fixed order: discover, read, write.
    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let supports_cache_hints = context
            .protocol_version()
            .is_some_and(|version| version >= ProtocolVersion::V_2026_07_28);
        Ok(ListToolsResult {
            result_type: Some(ResultType::COMPLETE),
            tools: self.tools(),
            meta: None,
            next_cursor: None,
            ttl_ms: supports_cache_hints.then_some(0),
            cache_scope: supports_cache_hints.then_some(CacheScope::Public),
        })
    }

    /// The six workflow prompts with their arguments.
    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let prompts = self
            .prompts
            .list()
            .into_iter()
            .map(|info| {
                let arguments = info
                    .arguments
                    .iter()
                    .map(|a| {
                        PromptArgument::new(a.name)
                            .with_description(a.description)
                            .with_required(a.required)
                    })
                    .collect();
                Prompt::new(info.name, Some(info.description), Some(arguments))
                    .with_title(info.title)
            })
            .collect();
        Ok(ListPromptsResult::with_all_items(prompts))
    }

    /// Renders a prompt from its template file (edited files are served at once). The caller's
    /// mistakes are invalid params; a template that cannot be read or rendered is an internal
    /// error naming the file.
    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let arguments: BTreeMap<String, String> = request
            .arguments
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| {
                let text = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, text)
            })
            .collect();
        let result = match self.prompts.render(&request.name, arguments).await {
            Ok(rendered) => Ok(GetPromptResult::new(vec![PromptMessage::new_text(
                Role::User,
                rendered.text,
            )])
            .with_description(rendered.description)
            .into()),
            Err(
                e @ (PromptError::UnknownPrompt(_)
                | PromptError::MissingArgument(_)
                | PromptError::UnknownArgument(_)),
            ) => Err(ErrorData::invalid_params(e.to_string(), None)),
            Err(e) => {
                tracing::error!("prompt {} failed: {e}", request.name);
                Err(ErrorData::internal_error(e.to_string(), None))
            }
        };
        answered("prompts/get", result)
    }

    /// `espocrm://entity-types`; records and schemas are reached through the templates.
    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(crate::resources::list())
    }

    /// `espocrm://{entityType}/{id}`, `espocrm://{entityType}/{id}/{link}` and
    /// `espocrm://schema/{entityType}`.
    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(crate::resources::templates())
    }

    /// Reads a record, its related records, a schema or the entity types (see `resources.rs`).
    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let result = self.read_resource_uri(&request.uri).await.map(Into::into);
        answered("resources/read", result)
    }

    /// Suggestions for resource-template variables and prompt arguments (see `completions.rs`).
    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let result = self.complete_argument(request).await;
        answered("completion/complete", result)
    }
}

/// Logs a JSON-RPC error answer in one readable line (rmcp's own line, the error's `Debug`
/// form, is filtered out in `telemetry/logging.rs`). Errors a client can cause are logged at
/// `info`; the server's own failures at `warn`.
fn answered<T>(method: &'static str, result: Result<T, ErrorData>) -> Result<T, ErrorData> {
    if let Err(error) = &result {
        let code = error.code.0;
        if code == rmcp::model::ErrorCode::INTERNAL_ERROR.0 {
            tracing::warn!(
                "{method} failed with JSON-RPC error {code}: {}",
                error.message
            );
        } else {
            tracing::info!(
                "{method} refused with JSON-RPC error {code}: {}",
                error.message
            );
        }
    }
    result
}
