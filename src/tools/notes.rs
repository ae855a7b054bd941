//! The notes toolset: `add_note`, an internal note on a record's stream.

use espomcp_actors::EspoRequest;
use rmcp::model::JsonObject;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::catalog::ToolSpec;
use super::write::WrittenRecord;
use super::{input_schema, parse_args};
use crate::audit::{Audited, Recorded, Subject};
use crate::error::ToolError;
use crate::outbound;
use crate::server::EspoMcp;
use crate::toolsets::Toolset;
use crate::validate::names;

/// A note for a record's stream.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddNoteArgs {
    /// The entity type of the record, e.g. `Opportunity`.
    pub entity_type: String,
    /// The record's id.
    pub id: String,
    /// The note's text.
    pub text: String,
}

/// The record the note is posted to; the field is the note's `post`, never its text.
impl Audited for AddNoteArgs {
    fn subject(call: &Recorded<'_>) -> Subject {
        Subject {
            entity_type: call.argument("entityType"),
            id: call.argument("id"),
            fields: vec!["post".to_owned()],
            step: None,
        }
    }
}

/// This file's tool, as the catalogue knows it (`catalog.rs`).
pub(super) const TOOLS: &[ToolSpec] = &[ToolSpec::writes::<AddNoteArgs>(
    EspoMcp::add_note_tool_attr,
    Toolset::Notes,
)];

#[tool_router(router = notes_router, vis = "pub")]
impl EspoMcp {
    #[tool(
        name = "add_note",
        description = "Post an internal note to a record's stream (its activity feed), e.g. a call summary. Internal: EspoCRM keeps it from portal users (customers) and their mail.",
        input_schema = input_schema::<AddNoteArgs>(),
        annotations(title = "Add note", read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = false)
    )]
    async fn add_note(&self, arguments: JsonObject) -> Result<Json<WrittenRecord>, ToolError> {
        let args: AddNoteArgs = parse_args(arguments, Self::add_note_tool_attr)?;
        let schema = self.ctx.schema().await?;
        let entity = names::entity_type(&schema, &args.entity_type)?;
        let id = names::id(&args.id)?;
        if !entity.has_stream {
            return Err(ToolError::invalid_argument("entityType", &format!("{} records have no stream to post notes to", entity.name))
                .with_suggestion("Notes can be posted to types with a stream, e.g. Account, Contact, Lead, Opportunity, Case, Task, Meeting."));
        }
        if args.text.trim().is_empty() {
            return Err(ToolError::invalid_argument("text", "is empty"));
        }
        outbound::check_mail_type(&entity.name)?;
        // The full schema: Note itself is not among the entity types an allow-list names.
        let full = self.ctx.metadata.schema().await?;
        if outbound::post_reaches_portal(&full, &entity.name) {
            return Err(outbound::public_post_blocked(&entity.name).into());
        }
        self.ctx.fetch(entity, id).await?;
        // Internal: EspoCRM keeps the note from portal users (customers), so it is not mailed
        // to them.
        let body = json!({
            "type": "Post",
            "parentType": entity.name,
            "parentId": id,
            "post": args.text,
            "isInternal": true,
        });
        let mut out = self
            .ctx
            .send_record(EspoRequest::post(["Note"], body))
            .await?;
        out.insert(
            "url".into(),
            Value::String(self.ctx.record_url(&entity.name, id)),
        );
        Ok(Json(WrittenRecord(out)))
    }
}
