//! The rmcp `ServerHandler`: the server's identity, capabilities and instructions, and the
//! routing of tool calls to the tool families (`tools/`). It serves every protocol revision rmcp
//! supports, from the `initialize` handshake (2024-11-05 … 2025-11-25) to the stateless
//! 2026-07-28 revision (`server/discover`), chosen per connection by rmcp.

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult,
    PaginatedRequestParams, ProtocolVersion, ResultType, ServerCapabilities, ServerConfig, Tool,
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

/// The MCP server: a router per tool family over one shared [`ToolContext`].
#[derive(Debug, Clone)]
pub struct EspoMcp {
    pub(crate) ctx: Arc<ToolContext>,
    tool_router: ToolRouter<Self>,
}

impl EspoMcp {
    pub fn new(ctx: ToolContext) -> EspoMcp {
        EspoMcp {
            ctx: Arc::new(ctx),
            tool_router: Self::read_router() + Self::write_router(),
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
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
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
        let call = ToolCallContext::new(self, request, context);
        tokio::select! {
            result = self.tool_router.call(call) => result,
            () = cancelled.cancelled() => {
                tracing::debug!("tool call cancelled by the client");
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
}
