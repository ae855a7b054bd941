//! The kanban toolset: `update_kanban`, a move to another column of a record's status field.

use espomcp_actors::{Action, EspoRequest, Method};
use rmcp::model::JsonObject;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::catalog::ToolSpec;
use super::write::{based_on_version, is_type, not_sending};
use super::{input_schema, not_found_as, parse_args};
use crate::audit::{Audited, Recorded, Subject};
use crate::error::ToolError;
use crate::outbound;
use crate::server::EspoMcp;
use crate::toolsets::Toolset;
use crate::validate::names;

/// A kanban move.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KanbanArgs {
    /// The entity type, e.g. `Opportunity` (grouped by `stage`) or `Task` (by `status`).
    pub entity_type: String,
    /// The record's id.
    pub id: String,
    /// The group (column) to move it to, e.g. `Negotiation`.
    pub group: String,
    /// Its place within the group, 0 = top. Omitted: EspoCRM's usual order.
    #[serde(default)]
    pub position: Option<u32>,
    /// The record's `versionNumber` as you read it (get, search).
    #[serde(default)]
    pub version_number: Option<u64>,
}

/// The record and the status field the kanban groups by (from the result).
impl Audited for KanbanArgs {
    fn subject(call: &Recorded<'_>) -> Subject {
        Subject {
            entity_type: call.argument("entityType"),
            id: call.argument("id"),
            fields: call.answered("field").into_iter().collect(),
            step: None,
        }
    }
}

/// What a kanban move did.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KanbanOutcome {
    pub entity_type: String,
    pub id: String,
    /// The status field the kanban groups by.
    pub field: String,
    pub group: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u32>,
    /// The record's version after the move, where its type keeps one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_number: Option<u64>,
    pub url: String,
}

/// This file's tool, as the catalogue knows it (`catalog.rs`).
pub(super) const TOOLS: &[ToolSpec] = &[ToolSpec::writes::<KanbanArgs>(
    EspoMcp::update_kanban_tool_attr,
    Toolset::Kanban,
)];

#[tool_router(router = kanban_router, vis = "pub")]
impl EspoMcp {
    #[tool(
        name = "update_kanban",
        description = "Move a record to another kanban column (its status field: Opportunity stage, Task/Case/Lead status) and optionally to a position within the column. versionNumber works as in update (RECORD_CHANGED); a locked record is RECORD_LOCKED. A move EspoCRM would mail to customers (a Case while portal stream email notifications are on) is refused (SEND_BLOCKED).",
        input_schema = input_schema::<KanbanArgs>(),
        annotations(title = "Move on kanban", read_only_hint = false, destructive_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn update_kanban(&self, arguments: JsonObject) -> Result<Json<KanbanOutcome>, ToolError> {
        let args: KanbanArgs = parse_args(arguments, Self::update_kanban_tool_attr)?;
        let schema = self.ctx.schema().await?;
        if is_type(&args.entity_type, "Email") {
            return Err(ToolError::send_blocked("moving an Email on the kanban"));
        }
        not_sending(&args.entity_type)?;
        let entity = names::entity_type_for(&schema, &args.entity_type, Action::Edit)?;
        let id = names::id(&args.id)?;
        let field_name = entity.status_field.clone().ok_or_else(|| {
            ToolError::invalid_argument(
                "entityType",
                &format!("{} has no kanban (no status field)", entity.name),
            )
            .with_suggestion(
                "Kanban types: Opportunity (stage), Task, Case, Lead, Meeting, Call (status).",
            )
        })?;
        let options: Vec<String> = entity
            .field(&field_name)
            .and_then(|f| f.options.clone())
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .filter(|v| !v.is_empty())
            .collect();
        if !options.contains(&args.group) {
            return Err(ToolError::invalid_field_value(
                &entity.name,
                &field_name,
                &format!(
                    "\"{}\" is not a kanban group",
                    crate::validate::error::excerpt(&args.group)
                ),
            )
            .with_suggestion(format!("Groups: {}", options.join(", "))));
        }
        if schema
            .notifications
            .mails_portal_users(&entity.name, "Status")
        {
            return Err(outbound::status_change_blocked(entity, &field_name).into());
        }
        self.ctx.fetch(entity, id).await?;
        let request = based_on_version(
            EspoRequest::new(Method::Put, [entity.name.as_str(), id])
                .with_body(json!({ field_name.clone(): args.group })),
            entity,
            args.version_number,
        );
        let moved = self
            .ctx
            .send(request)
            .await
            .map_err(|e| not_found_as(e, &entity.name, id).about_record(&entity.name, id))?;
        if let Some(position) = args.position {
            let list = EspoRequest::get(["Kanban", entity.name.as_str()])
                .with_query("where[0][type]", "equals")
                .with_query("where[0][attribute]", field_name.as_str())
                .with_query("where[0][value]", args.group.as_str())
                .with_query("select", "id")
                .with_query("maxSize", "200");
            // EspoCRM's kanban answer has the groups' records concatenated in `list` too.
            let page = self.ctx.send_list(list).await?;
            let mut ids: Vec<String> = page
                .list
                .iter()
                .filter_map(|r| r.get("id").and_then(Value::as_str).map(str::to_owned))
                .collect();
            ids.retain(|other| other != id);
            let at = (position as usize).min(ids.len());
            ids.insert(at, id.to_owned());
            let order = json!({"entityType": entity.name, "group": args.group, "ids": ids});
            self.ctx
                .send(EspoRequest::new(Method::Put, ["Kanban", "order"]).with_body(order))
                .await?;
        }
        Ok(Json(KanbanOutcome {
            entity_type: entity.name.clone(),
            id: id.to_owned(),
            field: field_name,
            group: args.group,
            position: args.position,
            version_number: moved.get("versionNumber").and_then(Value::as_u64),
            url: self.ctx.record_url(&entity.name, id),
        }))
    }
}
