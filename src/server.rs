//! The rmcp `ServerHandler`: the server's identity, capabilities and instructions, and the
//! routing of tool calls to the tool families (`tools/`). It serves every protocol revision rmcp
//! supports, from the `initialize` handshake (2024-11-05 … 2025-11-25) to the stateless
//! 2026-07-28 revision (`server/discover`), chosen per connection by rmcp.

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use std::collections::BTreeMap;

use espomcp_actors::{PromptError, PromptStore};
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, GetPromptRequestParams, GetPromptResponse,
    GetPromptResult, Implementation, ListPromptsResult, ListToolsResult, PaginatedRequestParams,
    Prompt, PromptArgument, PromptMessage, ProtocolVersion, ResultType, Role, ServerCapabilities,
    ServerConfig, Tool,
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

/// The MCP server: a router per tool family over one shared [`ToolContext`], and the
/// workflow prompts from the [`PromptStore`].
#[derive(Debug, Clone)]
pub struct EspoMcp {
    pub(crate) ctx: Arc<ToolContext>,
    tool_router: ToolRouter<Self>,
    prompts: PromptStore,
}

impl EspoMcp {
    pub fn new(ctx: ToolContext, prompts: PromptStore) -> EspoMcp {
        EspoMcp {
            prompts,
            ctx: Arc::new(ctx),
            tool_router: Self::read_router() + Self::write_router() + Self::power_router(),
        }
    }

    /// Every tool, in the router's order (for `espomcp tools`).
    pub fn tools(&self) -> Vec<Tool> {
        let mut tools = self.tool_router.list_all();
        tools.sort_by(|a, b| {
            crate::tools::tool_order(&a.name).cmp(&crate::tools::tool_order(&b.name))
        });
        tools
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for EspoMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_prompts()
                .enable_tools()
                .build(),
        )
        .with_server_info(Implementation::new(
            env!("CARGO_PKG_NAME"),
            env!("CARGO_PKG_VERSION"),
        ))
        .with_instructions(INSTRUCTIONS)
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
        let cancelled = context.ct.clone();
        // Write tool calls leave a line in the audit log, however they end (audit.rs).
        let audit = crate::audit::Watch::start(&self.ctx.audit, &request);
        let call = ToolCallContext::new(self, request, context);
        tokio::select! {
            result = audit.scope(self.tool_router.call(call)) => {
                audit.finish(&result);
                result
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
        match self.prompts.render(&request.name, arguments).await {
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
        }
    }
}
