//! The eight write tools: `create`, `update`, `delete`, `link`, `unlink`, `add_note`,
//! `update_kanban`, `draft_email`.
//!
//! Safety rules that hold on every path here:
//! - No email is ever sent. Emails are created only by `draft_email`, always with status Draft;
//!   `create` of an Email, an update that would move an Email out of Draft, a kanban move of an
//!   Email, any write to the entity types through which EspoCRM sends mail on its own
//!   (`outbound::MAIL_ENTITY_TYPES`), Email reminders, links into target lists, campaigns and
//!   mail accounts, and Case status changes EspoCRM would mail to portal users are
//!   `SEND_BLOCKED` before any request; notes are posted internal. These early checks are the
//!   outbound policy's own functions, which `ToolContext::send` applies again to every write.
//! - No delete without a claimed preview of that same record, as it was shown: `delete` with
//!   `confirm: false` registers a preview with the DeleteConfirmations actor, with the record's
//!   state (`modifiedAt`, `versionNumber`, the shown fields); `confirm: true` deletes only after
//!   claiming it (once; concurrent confirmations delete once) and reading the record again: if
//!   it changed since, nothing is deleted (DELETE_NOT_CONFIRMED, reason `changed`). In human mode
//!   (`SERVER_DELETE_CONFIRMATION=human`, `human.rs`) the person must also say yes, asked
//!   through the client; the preview is claimed all the same, before the DELETE.
//! - Data is checked against the schema before any request, reporting every problem at once
//!   (EspoCRM reports only the first, and silently drops unknown and read-only attributes).

use std::time::Duration;

use espomcp_actors::{
    Action, ClaimOutcome, EntityType, EspoRequest, HeldPreview, LinkType, Method, PreviewStatus,
    RecordState, Schema,
};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::{InputResponses, RequestState};
use rmcp::model::{CallToolResponse, JsonObject, ProtocolVersion};
use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, ServiceError, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::catalog::ToolSpec;
use super::human::{self, Answer, HumanConfirmation, RecordSummary, StateRefused};
use super::{ToolContext, input_schema, parse_args};
use crate::audit::{Audited, Recorded, Subject};
use crate::error::{ErrorCode, ToolError};
use crate::outbound;
use crate::server::EspoMcp;
use crate::toolsets::Toolset;
use crate::validate::lists::{BoundedVec, MAX_IDS, MAX_RECIPIENTS, Recipients};
use crate::validate::names;
use crate::validate::write::{self, WriteMode};

/// Whether a requested entity type name means `entity_type` (names are matched as EspoCRM
/// routes them, whatever the case).
fn is_type(requested: &str, entity_type: &str) -> bool {
    requested.trim().eq_ignore_ascii_case(entity_type)
}

/// Refuses the entity types that can send mail (`outbound::MAIL_ENTITY_TYPES`) — by the
/// requested name, before any lookup, so the answer is SEND_BLOCKED whether or not the API user
/// could see the type.
fn not_sending(requested: &str) -> Result<(), ToolError> {
    Ok(outbound::check_mail_type(requested)?)
}

/// A record to create.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateArgs {
    /// The entity type, e.g. `Account`, `Task`.
    pub entity_type: String,
    /// The attributes: `{"name": "Acme", "industry": "Software", "assignedUserId": "…"}`.
    /// Links are set by id attributes (`accountId`, `contactsIds`, `parentType` + `parentId`).
    /// Call `get_schema` first: unknown, read-only and malformed values are refused.
    pub data: Map<String, Value>,
    /// Create even when EspoCRM finds a duplicate (same name or email address). Default false:
    /// duplicates are reported as DUPLICATE_DETECTED with their ids and names.
    #[serde(default)]
    pub skip_duplicate_check: bool,
}

/// The type, the new record's id, the names of the fields set.
impl Audited for CreateArgs {
    fn subject(call: &Recorded<'_>) -> Subject {
        Subject {
            entity_type: call.argument("entityType"),
            id: call.answered("id"),
            fields: call.keys_of("data"),
            step: None,
        }
    }
}

/// Changes to one record.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateArgs {
    /// The entity type, e.g. `Opportunity`.
    pub entity_type: String,
    /// The record's id.
    pub id: String,
    /// Only the attributes to change; required fields may not be emptied.
    pub data: Map<String, Value>,
}

/// The record and the names of the fields set.
impl Audited for UpdateArgs {
    fn subject(call: &Recorded<'_>) -> Subject {
        Subject {
            entity_type: call.argument("entityType"),
            id: call.argument("id"),
            fields: call.keys_of("data"),
            step: None,
        }
    }
}

/// A delete, in two steps.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteArgs {
    /// The entity type.
    pub entity_type: String,
    /// The record's id.
    pub id: String,
    /// false: preview the record and register the preview (nothing is deleted).
    /// true: delete it — only after a preview of this same record, within its expiry.
    pub confirm: bool,
}

/// The record and the step: `preview` (confirm=false) or `confirm`.
impl Audited for DeleteArgs {
    fn subject(call: &Recorded<'_>) -> Subject {
        let step = if call.is_true("confirm") {
            "confirm"
        } else {
            "preview"
        };
        Subject {
            entity_type: call.argument("entityType"),
            id: call.argument("id"),
            fields: Vec::new(),
            step: Some(step),
        }
    }
}

/// A link between records.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinkArgs {
    /// The entity type of the record, e.g. `Account`.
    pub entity_type: String,
    /// The record's id.
    pub id: String,
    /// The link, e.g. `contacts` (see `get_schema` → links).
    pub link: String,
    /// One record to link (or unlink). Give exactly one of foreignId and foreignIds.
    #[serde(default)]
    pub foreign_id: Option<String>,
    /// Several records to link (or unlink): 1 to 100 ids.
    #[serde(default)]
    pub foreign_ids: Option<BoundedVec<String, MAX_IDS>>,
}

/// The record and the link (for `link` and `unlink` alike).
impl Audited for LinkArgs {
    fn subject(call: &Recorded<'_>) -> Subject {
        Subject {
            entity_type: call.argument("entityType"),
            id: call.argument("id"),
            fields: call.argument("link").into_iter().collect(),
            step: None,
        }
    }
}

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

/// An email draft. espomcp never sends mail: the draft waits in EspoCRM for a person.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DraftEmailArgs {
    /// Recipients' email addresses: one (`"client@example.com"`), several in one string
    /// separated by commas or semicolons, or a list. At most 100 recipients in `to`, `cc` and
    /// `bcc` together.
    pub to: Recipients,
    /// Copy recipients, given like `to`.
    #[serde(default)]
    pub cc: Option<Recipients>,
    /// Blind-copy recipients, given like `to`.
    #[serde(default)]
    pub bcc: Option<Recipients>,
    /// Subject (from the template when omitted and templateId is given).
    #[serde(default)]
    pub subject: Option<String>,
    /// Body (from the template when omitted and templateId is given).
    #[serde(default)]
    pub body: Option<String>,
    /// Whether the body is HTML (default: the template's, else true).
    #[serde(default)]
    pub is_html: Option<bool>,
    /// An EmailTemplate id, rendered by EspoCRM for the parent record.
    #[serde(default)]
    pub template_id: Option<String>,
    /// The record the email is about, e.g. `Account`, `Contact`, `Opportunity`.
    #[serde(default)]
    pub parent_type: Option<String>,
    /// That record's id.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// Sender address; default ESPOCRM_EMAIL_FROM, else the API user's own address.
    #[serde(default)]
    pub from: Option<String>,
}

/// An Email, the draft's id, and the Email attributes the call set, named as its arguments are
/// (never the addresses or the text).
impl Audited for DraftEmailArgs {
    fn subject(call: &Recorded<'_>) -> Subject {
        Subject {
            entity_type: Some("Email".to_owned()),
            id: call.answered("id"),
            fields: call.argument_names(),
            step: None,
        }
    }
}

/// A record after a write; it carries `url`, its page in EspoCRM.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct WrittenRecord(pub Map<String, Value>);

/// What a delete step did.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteOutcome {
    /// `preview` (nothing deleted yet) or `deleted`.
    pub status: String,
    pub entity_type: String,
    pub id: String,
    /// The record's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The main fields of the record (preview only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<Map<String, Value>>,
    /// How many records hang on its main links (preview only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub related: Option<Map<String, Value>>,
    /// Seconds the preview stays confirmable (preview only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in_secs: Option<u64>,
    /// What happens next, in words.
    pub note: String,
}

/// What a link or unlink did.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkOutcome {
    pub entity_type: String,
    pub id: String,
    pub link: String,
    pub foreign_ids: Vec<String>,
    /// `linked` or `unlinked`.
    pub status: String,
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
    pub url: String,
}

/// The draft that was stored.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DraftOutcome {
    pub id: String,
    /// Always `Draft`.
    pub status: String,
    pub from: String,
    pub to: Vec<String>,
    pub subject: Option<String>,
    pub url: String,
}

/// Adds `url` to a record answer.
fn with_url(
    ctx: &ToolContext,
    entity_type: &str,
    mut record: Map<String, Value>,
) -> Map<String, Value> {
    if let Some(id) = record.get("id").and_then(Value::as_str).map(str::to_owned) {
        record.insert(
            "url".into(),
            Value::String(ctx.record_url(entity_type, &id)),
        );
    }
    record
}

/// EspoCRM's 403 for a link id naming a missing record is about the data, not permissions.
fn relation_error(error: ToolError, entity: &EntityType) -> ToolError {
    let Some(link) = error
        .message
        .split("link: ")
        .nth(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|_| error.message.contains("non-existing record"))
    else {
        return error;
    };
    let attribute = match entity.field(&link).map(|f| f.field_type.as_str()) {
        Some("linkMultiple") => format!("{link}Ids"),
        Some("linkParent") => format!("{link}Id"),
        _ => format!("{link}Id"),
    };
    ToolError::invalid_field_value(
        &entity.name,
        &attribute,
        "points at a record that does not exist",
    )
    .with_suggestion(format!(
        "Find the right record with search and use its id in {attribute}."
    ))
}

fn record_missing(error: ToolError, entity_type: &str, id: &str) -> ToolError {
    if error.code == ErrorCode::RecordNotFound {
        ToolError::record_not_found(entity_type, id)
    } else {
        error
    }
}

/// The current record, or RECORD_NOT_FOUND.
async fn fetch(
    ctx: &ToolContext,
    entity: &EntityType,
    id: &str,
) -> Result<Map<String, Value>, ToolError> {
    ctx.send_record(EspoRequest::get([entity.name.as_str(), id]))
        .await
        .map_err(|e| record_missing(e, &entity.name, id))
}

fn writable_entity<'s>(
    schema: &'s Schema,
    name: &str,
    action: Action,
) -> Result<&'s EntityType, ToolError> {
    not_sending(name)?;
    Ok(names::entity_type_for(schema, name, action)?)
}

fn check_address(field: &str, address: &str) -> Result<String, ToolError> {
    let a = address.trim();
    if crate::rules::email::is_valid(a) {
        Ok(a.to_owned())
    } else {
        Err(ToolError::new(
            ErrorCode::InvalidFieldValue,
            format!(
                "`{field}` \"{}\" is not an email address",
                crate::validate::error::excerpt(a)
            ),
            "Give plain addresses such as name@example.com, without display names; several \
             recipients as a list or separated by commas.",
            false,
        )
        .with_details(json!({"entityType": "Email", "field": field})))
    }
}

/// Main fields shown in a delete preview, when the record has them.
const PREVIEW_FIELDS: &[&str] = &[
    "name",
    "status",
    "stage",
    "type",
    "amount",
    "amountCurrency",
    "closeDate",
    "dateStart",
    "dateEnd",
    "emailAddress",
    "phoneNumber",
    "accountName",
    "parentType",
    "parentName",
    "assignedUserName",
    "createdAt",
    "modifiedAt",
];

/// Links whose record counts a preview reports (at most three requests).
const PREVIEW_LINKS: &[&str] = &[
    "contacts",
    "opportunities",
    "cases",
    "tasks",
    "meetings",
    "calls",
];

/// The description of `delete` in agent mode (the default).
const DELETE_DESCRIPTION: &str = "Delete a record in two steps. First call with confirm=false: you get a preview of the record (main fields, how many records hang on it) and nothing is deleted. Show it to the user; then call again with confirm=true for the same record before the preview expires. A confirmation without a preview of that same record is DELETE_NOT_CONFIRMED.";

/// This file's tools, as the catalogue knows them (`catalog.rs`): each one's toolset, and the
/// argument type whose [`Audited`] declaration says what the audit log records of a call.
pub(super) const TOOLS: &[ToolSpec] = &[
    ToolSpec::writes::<CreateArgs>(EspoMcp::create_tool_attr, Toolset::Write),
    ToolSpec::writes::<UpdateArgs>(EspoMcp::update_tool_attr, Toolset::Write),
    ToolSpec::writes::<DeleteArgs>(EspoMcp::delete_tool_attr, Toolset::Write),
    ToolSpec::writes::<LinkArgs>(EspoMcp::link_tool_attr, Toolset::Write),
    ToolSpec::writes::<LinkArgs>(EspoMcp::unlink_tool_attr, Toolset::Write),
    ToolSpec::writes::<AddNoteArgs>(EspoMcp::add_note_tool_attr, Toolset::Notes),
    ToolSpec::writes::<KanbanArgs>(EspoMcp::update_kanban_tool_attr, Toolset::Kanban),
    ToolSpec::writes::<DraftEmailArgs>(EspoMcp::draft_email_tool_attr, Toolset::Email),
];

#[tool_router(router = write_router, vis = "pub")]
impl EspoMcp {
    #[tool(
        name = "create",
        description = "Create a record. `data` is checked against the schema first (call get_schema): unknown or read-only fields, missing required fields (all of them are named), wrong types, enum values outside the options, malformed dates/emails/phones are refused. EspoCRM's duplicate check answers DUPLICATE_DETECTED with the existing records; set skipDuplicateCheck to create anyway. Emails cannot be created here: use draft_email. Nothing that would make EspoCRM send mail is accepted (SEND_BLOCKED): Email reminders (Popup reminders are fine), target lists, campaigns.",
        input_schema = input_schema::<CreateArgs>(),
        annotations(title = "Create record", read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = false)
    )]
    async fn create(&self, arguments: JsonObject) -> Result<Json<WrittenRecord>, ToolError> {
        let args: CreateArgs = parse_args(arguments, Self::create_tool_attr)?;
        let schema = self.ctx.schema().await?;
        let entity = writable_entity(&schema, &args.entity_type, Action::Create)?;
        outbound::check_record_data(&schema, entity, Some(&args.data), false)?;
        let data = write::validate(entity, &args.data, WriteMode::Create)?;
        let mut request = EspoRequest::post([entity.name.as_str()], data.into_body());
        if args.skip_duplicate_check {
            request = request.with_header("X-Skip-Duplicate-Check", "true");
        }
        let body = self
            .ctx
            .send_record(request)
            .await
            .map_err(|e| relation_error(e, entity))?;
        Ok(Json(WrittenRecord(with_url(&self.ctx, &entity.name, body))))
    }

    #[tool(
        name = "update",
        description = "Change some fields of a record; only the given fields change. Checked against the schema like create; required fields may not be emptied. An Email can only stay a Draft. Refused with SEND_BLOCKED: Email reminders, target lists and campaigns, and status changes EspoCRM would mail to customers (a Case's status while portal stream email notifications are on).",
        input_schema = input_schema::<UpdateArgs>(),
        annotations(title = "Update record", read_only_hint = false, destructive_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn update(&self, arguments: JsonObject) -> Result<Json<WrittenRecord>, ToolError> {
        let args: UpdateArgs = parse_args(arguments, Self::update_tool_attr)?;
        let schema = self.ctx.schema().await?;
        if is_type(&args.entity_type, "Email") {
            // A draft may be edited, never moved on towards sending.
            if args
                .data
                .get("status")
                .is_some_and(|s| s.as_str() != Some("Draft"))
            {
                return Err(ToolError::send_blocked(
                    "changing an Email's status to anything but Draft",
                ));
            }
        } else {
            not_sending(&args.entity_type)?;
        }
        let entity = names::entity_type_for(&schema, &args.entity_type, Action::Edit)?;
        let id = names::id(&args.id)?;
        outbound::check_record_data(&schema, entity, Some(&args.data), true)?;
        let data = write::validate(entity, &args.data, WriteMode::Update)?;
        let request =
            EspoRequest::new(Method::Put, [entity.name.as_str(), id]).with_body(data.into_body());
        let body = self
            .ctx
            .send_record(request)
            .await
            .map_err(|e| relation_error(record_missing(e, &entity.name, id), entity))?;
        Ok(Json(WrittenRecord(with_url(&self.ctx, &entity.name, body))))
    }

    #[tool(
        name = "delete",
        description = DELETE_DESCRIPTION,
        input_schema = input_schema::<DeleteArgs>(),
        output_schema = rmcp::handler::server::tool::schema_for_output::<DeleteOutcome>(),
        annotations(title = "Delete record (two-step)", read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = false)
    )]
    async fn delete(
        &self,
        arguments: JsonObject,
        context: RequestContext<RoleServer>,
        RequestState(request_state): RequestState,
        InputResponses(responses): InputResponses,
    ) -> Result<CallToolResponse, ToolError> {
        let args: DeleteArgs = parse_args(arguments, Self::delete_tool_attr)?;
        let schema = self.ctx.schema().await?;
        let entity = names::entity_type_for(&schema, &args.entity_type, Action::Delete)?;
        let id = names::id(&args.id)?.to_owned();
        let owner = self.ctx.caller.as_str();
        if !args.confirm {
            let preview = record_preview(&self.ctx, entity, &id).await?;
            let pending = self
                .ctx
                .deletes
                .register(&entity.name, &id, owner, preview.state)
                .await?;
            let seconds = pending.expires_in.as_secs();
            let next = if self.ctx.human_confirmation.is_some() {
                format!(
                    "Show it to the user. To delete this {} call delete again with confirm=true within {seconds} seconds: the person will then be asked to confirm through your MCP client, and only their yes deletes it.",
                    entity.name
                )
            } else {
                format!(
                    "To delete this {} call delete again with confirm=true within {seconds} seconds.",
                    entity.name
                )
            };
            return complete(DeleteOutcome {
                status: "preview".into(),
                entity_type: entity.name.clone(),
                id: id.clone(),
                name: preview.name,
                fields: Some(preview.fields),
                related: Some(preview.related),
                expires_in_secs: Some(seconds),
                note: format!(
                    "Nothing was deleted. {next} EspoCRM marks deleted records as deleted; an administrator can restore them."
                ),
            });
        }
        match &self.ctx.human_confirmation {
            None => {
                let held = claim_preview(&self.ctx, &entity.name, &id, None).await?;
                unchanged_since(&self.ctx, entity, &id, &held).await?;
                complete(delete_claimed(&self.ctx, &entity.name, &id).await?)
            }
            Some(human) => {
                self.delete_asking(human, entity, &id, &context, request_state, responses)
                    .await
            }
        }
    }

    #[tool(
        name = "link",
        description = "Link records through a link of the first one (e.g. add contacts to an Account's `contacts`). Give foreignId or foreignIds. Links into target lists, campaigns and mail accounts are refused (SEND_BLOCKED): they decide who EspoCRM mails.",
        input_schema = input_schema::<LinkArgs>(),
        annotations(title = "Link records", read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn link(&self, arguments: JsonObject) -> Result<Json<LinkOutcome>, ToolError> {
        let args: LinkArgs = parse_args(arguments, Self::link_tool_attr)?;
        self.relate(args, true).await.map(Json)
    }

    #[tool(
        name = "unlink",
        description = "Remove links between records (the records themselves stay). Give foreignId or foreignIds.",
        input_schema = input_schema::<LinkArgs>(),
        annotations(title = "Unlink records", read_only_hint = false, destructive_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn unlink(&self, arguments: JsonObject) -> Result<Json<LinkOutcome>, ToolError> {
        let args: LinkArgs = parse_args(arguments, Self::unlink_tool_attr)?;
        self.relate(args, false).await.map(Json)
    }

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
        fetch(&self.ctx, entity, id).await?;
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

    #[tool(
        name = "update_kanban",
        description = "Move a record to another kanban column (its status field: Opportunity stage, Task/Case/Lead status) and optionally to a position within the column. A move EspoCRM would mail to customers (a Case while portal stream email notifications are on) is refused (SEND_BLOCKED).",
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
        fetch(&self.ctx, entity, id).await?;
        let request = EspoRequest::new(Method::Put, [entity.name.as_str(), id])
            .with_body(json!({ field_name.clone(): args.group }));
        self.ctx
            .send(request)
            .await
            .map_err(|e| record_missing(e, &entity.name, id))?;
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
            url: self.ctx.record_url(&entity.name, id),
        }))
    }

    #[tool(
        name = "draft_email",
        description = "Prepare an email as a Draft in EspoCRM (never sent: a person reviews and sends it). Optionally render an EmailTemplate for the parent record. `from` defaults to ESPOCRM_EMAIL_FROM, else the API user's own address.",
        input_schema = input_schema::<DraftEmailArgs>(),
        annotations(title = "Draft email", read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = false)
    )]
    async fn draft_email(&self, arguments: JsonObject) -> Result<Json<DraftOutcome>, ToolError> {
        let args: DraftEmailArgs = parse_args(arguments, Self::draft_email_tool_attr)?;
        let schema = self.ctx.schema().await?;
        names::entity_type_for(&schema, "Email", Action::Create)?;
        if args.to.addresses().is_empty() {
            return Err(ToolError::invalid_argument(
                "to",
                "needs at least one recipient",
            ));
        }
        let recipients =
            |field: &str, given: Option<&Recipients>| -> Result<Vec<String>, ToolError> {
                given
                    .map(Recipients::addresses)
                    .unwrap_or_default()
                    .iter()
                    .map(|a| check_address(field, a))
                    .collect()
            };
        let to = recipients("to", Some(&args.to))?;
        let cc = recipients("cc", args.cc.as_ref())?;
        let bcc = recipients("bcc", args.bcc.as_ref())?;
        let count = to.len() + cc.len() + bcc.len();
        if count > MAX_RECIPIENTS {
            return Err(ToolError::invalid_argument(
                "to",
                &format!(
                    "with cc and bcc holds {count} recipients; at most {MAX_RECIPIENTS} are allowed in all"
                ),
            ));
        }
        let from = match args.from.as_deref().or(self.ctx.email_from.as_deref()) {
            Some(f) => check_address("from", f)?,
            None => schema
                .user
                .own_addresses
                .first()
                .or(schema.user.from_addresses.first())
                .cloned()
                .ok_or_else(|| {
                    ToolError::invalid_field_value("Email", "from", "the API user has no email address")
                        .with_suggestion("Give `from`, or set ESPOCRM_EMAIL_FROM to an address the API user may send from.")
                })?,
        };
        let parent = match (&args.parent_type, &args.parent_id) {
            (Some(t), Some(i)) => {
                let entity = names::entity_type(&schema, t)?;
                Some((entity.name.clone(), names::id(i)?.to_owned()))
            }
            (None, None) => None,
            _ => {
                return Err(ToolError::invalid_argument(
                    "parentType",
                    "parentType and parentId go together",
                ));
            }
        };
        let (mut subject, mut body, mut is_html) =
            (args.subject.clone(), args.body.clone(), args.is_html);
        if let Some(template_id) = &args.template_id {
            let template_id = names::id(template_id)?;
            let mut prepare = Map::new();
            prepare.insert("emailAddress".into(), json!(to[0]));
            if let Some((t, i)) = &parent {
                prepare.insert("parentType".into(), json!(t));
                prepare.insert("parentId".into(), json!(i));
            }
            let rendered = self
                .ctx
                .send_object(EspoRequest::post(
                    ["EmailTemplate", template_id, "prepare"],
                    Value::Object(prepare),
                ))
                .await
                .map_err(|e| {
                    if e.code == ErrorCode::RecordNotFound {
                        ToolError::template_not_found(template_id)
                    } else {
                        e
                    }
                })?;
            subject = subject.or_else(|| {
                rendered
                    .get("subject")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
            body = body.or_else(|| {
                rendered
                    .get("body")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
            is_html = is_html.or_else(|| rendered.get("isHtml").and_then(Value::as_bool));
        }
        let mut email = Map::new();
        email.insert("status".into(), json!("Draft"));
        email.insert("from".into(), json!(from));
        email.insert("to".into(), json!(to.join(";")));
        if !cc.is_empty() {
            email.insert("cc".into(), json!(cc.join(";")));
        }
        if !bcc.is_empty() {
            email.insert("bcc".into(), json!(bcc.join(";")));
        }
        if let Some(s) = &subject {
            email.insert("subject".into(), json!(s));
        }
        email.insert("body".into(), json!(body.unwrap_or_default()));
        email.insert("isHtml".into(), json!(is_html.unwrap_or(true)));
        if let Some((t, i)) = &parent {
            email.insert("parentType".into(), json!(t));
            email.insert("parentId".into(), json!(i));
        }
        let created = self.ctx.send_record(EspoRequest::post(["Email"], Value::Object(email))).await.map_err(|e| {
            if e.message.contains("Not allowed 'from' address") {
                ToolError::invalid_field_value("Email", "from", &format!("EspoCRM does not let the API user send from {from}"))
                    .with_suggestion("Set ESPOCRM_EMAIL_FROM (or `from`) to one of the API user's own addresses, as shown by `espomcp check` / the user's profile in EspoCRM.")
            } else if e.code == ErrorCode::RecordNotFound || e.message.contains("non-existing") {
                ToolError::new(
                    ErrorCode::InvalidFieldValue,
                    "The parent record (parentType/parentId) does not exist",
                    "Find the record with search and pass its entity type and id.",
                    false,
                )
                .with_details(json!({"entityType": "Email", "field": "parentId"}))
            } else {
                e
            }
        })?;
        let id = created
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Ok(Json(DraftOutcome {
            url: self.ctx.record_url("Email", &id),
            id,
            status: "Draft".into(),
            from,
            to,
            subject,
        }))
    }
}

impl EspoMcp {
    /// `link` and `unlink`.
    async fn relate(&self, args: LinkArgs, relate: bool) -> Result<LinkOutcome, ToolError> {
        let schema = self.ctx.schema().await?;
        not_sending(&args.entity_type)?;
        let entity = names::entity_type_for(&schema, &args.entity_type, Action::Edit)?;
        let id = names::id(&args.id)?;
        let link = names::link(entity, &args.link)?;
        if relate {
            outbound::check_relation(entity, &link.name)?;
        }
        if let Some(foreign) = link.entity.as_deref().filter(|f| schema.is_excluded(f)) {
            // The linked type is left out by SERVER_ENTITY_TYPES: refused as that type.
            names::entity_type(&schema, foreign)?;
        }
        let foreign_ids: Vec<String> = match (&args.foreign_id, args.foreign_ids.as_deref()) {
            (Some(one), None) => vec![names::id(one)?.to_owned()],
            (None, Some(many)) if !many.is_empty() => many
                .iter()
                .map(|i| names::id(i).map(str::to_owned))
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(ToolError::invalid_argument(
                    "foreignId",
                    "give exactly one of foreignId and foreignIds (a non-empty list)",
                ));
            }
        };
        let body = if foreign_ids.len() == 1 {
            json!({"id": foreign_ids[0]})
        } else {
            json!({"ids": foreign_ids})
        };
        let method = if relate { Method::Post } else { Method::Delete };
        let request = EspoRequest::new(method, [entity.name.as_str(), id, link.name.as_str()])
            .with_body(body);
        if let Err(e) = self.ctx.send(request).await {
            if e.code != ErrorCode::RecordNotFound {
                return Err(e);
            }
            // EspoCRM answers the same empty 404 whether the record or a linked one is
            // missing: look which, so the error names the right one.
            fetch(&self.ctx, entity, id).await?;
            let foreign = link
                .entity
                .clone()
                .unwrap_or_else(|| "linked record".into());
            return Err(ToolError::new(
                ErrorCode::RecordNotFound,
                format!(
                    "No {foreign} with id {} exists (or the API user may not see it)",
                    foreign_ids.join(", ")
                ),
                format!("Find the {foreign} records with search and use the ids it returns."),
                false,
            )
            .with_details(json!({"entityType": foreign, "ids": foreign_ids})));
        }
        Ok(LinkOutcome {
            entity_type: entity.name.clone(),
            id: id.to_owned(),
            link: link.name.clone(),
            foreign_ids,
            status: if relate { "linked" } else { "unlinked" }.into(),
        })
    }
}

/// What `delete` shows of a record: in the preview, and to the person in human mode.
struct RecordPreview {
    name: Option<String>,
    /// The main fields ([`PREVIEW_FIELDS`]) that have a value.
    fields: Map<String, Value>,
    /// How many records hang on its main links ([`PREVIEW_LINKS`], at most three).
    related: Map<String, Value>,
    /// What a confirmation must find again before it deletes.
    state: RecordState,
}

/// The main fields ([`PREVIEW_FIELDS`]) of a record that have a value.
fn shown_fields(record: &Map<String, Value>) -> Map<String, Value> {
    PREVIEW_FIELDS
        .iter()
        .filter_map(|k| {
            record
                .get(*k)
                .filter(|v| !v.is_null())
                .map(|v| ((*k).to_owned(), v.clone()))
        })
        .collect()
}

/// The state a preview is bound to: `modifiedAt` (to the second), `versionNumber` (EspoCRM 9+,
/// where the entity type keeps one) and the shown fields, which also catch a change made within
/// the second of the preview.
fn record_state(record: &Map<String, Value>, fields: &Map<String, Value>) -> RecordState {
    RecordState {
        modified_at: record
            .get("modifiedAt")
            .and_then(Value::as_str)
            .map(str::to_owned),
        version_number: record
            .get("versionNumber")
            .filter(|v| !v.is_null())
            .map(Value::to_string),
        shown: serde_json::to_string(fields).unwrap_or_default(),
    }
}

/// Reads the record and counts what hangs on it. A count that cannot be read is left out.
async fn record_preview(
    ctx: &ToolContext,
    entity: &EntityType,
    id: &str,
) -> Result<RecordPreview, ToolError> {
    let record = fetch(ctx, entity, id).await?;
    let fields = shown_fields(&record);
    let state = record_state(&record, &fields);
    let mut related = Map::new();
    for link in PREVIEW_LINKS
        .iter()
        .filter_map(|l| entity.link(l))
        .filter(|l| l.link_type == LinkType::HasMany || l.link_type == LinkType::HasChildren)
        .take(3)
    {
        let request = EspoRequest::get([entity.name.as_str(), id, link.name.as_str()])
            .with_query("maxSize", "1")
            .with_query("select", "id");
        if let Ok(body) = ctx.send(request).await
            && let Some(total) = body.get("total").and_then(Value::as_i64)
        {
            related.insert(link.name.clone(), json!(total));
        }
    }
    Ok(RecordPreview {
        name: record
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned),
        fields,
        related,
        state,
    })
}

/// Reads the record of a claimed preview again, right before the DELETE: it must still be as
/// the preview showed it. If it changed, the preview is forgotten (a new one shows what the
/// record is now) and nothing is deleted; if it cannot be read (other than gone), the claim is
/// given back, as after a failed DELETE.
async fn unchanged_since(
    ctx: &ToolContext,
    entity: &EntityType,
    id: &str,
    held: &HeldPreview,
) -> Result<(), ToolError> {
    let record = match fetch(ctx, entity, id).await {
        Ok(record) => record,
        Err(e) => {
            if e.code != ErrorCode::RecordNotFound {
                let _ = ctx.deletes.release(&entity.name, id, &ctx.caller).await;
            }
            return Err(e);
        }
    };
    let now = record_state(&record, &shown_fields(&record));
    unchanged(ctx, &entity.name, id, held, &now).await
}

/// Compares the record as it is `now` with what the preview showed.
async fn unchanged(
    ctx: &ToolContext,
    entity_type: &str,
    id: &str,
    held: &HeldPreview,
    now: &RecordState,
) -> Result<(), ToolError> {
    if *now == held.state {
        return Ok(());
    }
    tracing::info!(
        entity_type,
        id,
        token = held.token,
        previewed_modified_at = ?held.state.modified_at,
        modified_at = ?now.modified_at,
        "delete refused: the record changed since its preview"
    );
    let _ = ctx.deletes.refuse(entity_type, id, &ctx.caller).await;
    Err(ToolError::new(
        ErrorCode::DeleteNotConfirmed,
        format!(
            "{entity_type} {id:?} changed since it was previewed; nothing was deleted and the \
             preview is used up"
        ),
        "Preview the record again (confirm: false), show the user what it is now, then confirm \
         that preview",
        false,
    )
    .with_details(json!({"entityType": entity_type, "id": id, "reason": "changed"})))
}

/// A successful delete step, as structured content (the schema is `DeleteOutcome`'s).
fn complete(outcome: DeleteOutcome) -> Result<CallToolResponse, ToolError> {
    let value = serde_json::to_value(outcome).map_err(|e| {
        ToolError::upstream_error(format!("the answer could not be encoded: {e}"), false)
    })?;
    Ok(super::structured(value).into())
}

/// Claims the caller's preview of the record (with a token, only that registration), or says
/// why there is none to claim.
async fn claim_preview(
    ctx: &ToolContext,
    entity_type: &str,
    id: &str,
    token: Option<u64>,
) -> Result<HeldPreview, ToolError> {
    let outcome = match token {
        None => ctx.deletes.claim(entity_type, id, &ctx.caller).await?,
        Some(token) => {
            ctx.deletes
                .claim_token(entity_type, id, &ctx.caller, token)
                .await?
        }
    };
    match outcome {
        ClaimOutcome::Claimed(held) => Ok(held),
        ClaimOutcome::Expired => Err(preview_expired(entity_type, id)),
        ClaimOutcome::NotPending => Err(ToolError::delete_not_confirmed(entity_type, id)),
        ClaimOutcome::Superseded => Err(ToolError::new(
            ErrorCode::DeleteNotConfirmed,
            format!(
                "The person's answer (requestState) was given about an earlier preview of \
                 {entity_type} {id:?}, not the current one; nothing was deleted"
            ),
            "Call delete with confirm: true again, without requestState, so that the person is \
             asked about the current preview",
            false,
        )
        .with_details(json!({
            "entityType": entity_type,
            "id": id,
            "requestState": "superseded",
            "reason": "superseded",
        }))),
    }
}

fn preview_expired(entity_type: &str, id: &str) -> ToolError {
    ToolError::delete_not_confirmed(entity_type, id).with_suggestion(
        "The preview expired: call delete with confirm=false again, show it to the user, then confirm.",
    )
}

/// Sends the DELETE of a record whose preview this call has claimed. If it fails with the
/// record still there, the claim is given back so the agent can retry without a new preview.
async fn delete_claimed(
    ctx: &ToolContext,
    entity_type: &str,
    id: &str,
) -> Result<DeleteOutcome, ToolError> {
    let request = EspoRequest::new(Method::Delete, [entity_type, id]);
    if let Err(e) = ctx.send(request).await {
        if e.code != ErrorCode::RecordNotFound {
            let _ = ctx.deletes.release(entity_type, id, &ctx.caller).await;
        }
        return Err(record_missing(e, entity_type, id));
    }
    Ok(DeleteOutcome {
        status: "deleted".into(),
        entity_type: entity_type.to_owned(),
        id: id.to_owned(),
        name: None,
        fields: None,
        related: None,
        expires_in_secs: None,
        note: "Deleted.".into(),
    })
}

impl EspoMcp {
    /// `delete` with `confirm: true` in human mode: the person decides (see `human.rs`).
    async fn delete_asking(
        &self,
        human: &HumanConfirmation,
        entity: &EntityType,
        id: &str,
        context: &RequestContext<RoleServer>,
        request_state: Option<String>,
        responses: Option<rmcp::model::InputResponses>,
    ) -> Result<CallToolResponse, ToolError> {
        if !human::can_ask(context.client_capabilities().as_ref()) {
            return Err(ToolError::human_confirmation_unavailable(
                &entity.name,
                id,
                "this MCP client did not declare form elicitation, so it cannot ask the person",
            ));
        }
        let stateless = context
            .protocol_version()
            .is_some_and(|version| version >= ProtocolVersion::V_2026_07_28);
        if stateless {
            return self
                .delete_in_rounds(human, entity, id, request_state, responses)
                .await;
        }
        // The handshake era: claim first, so that of concurrent confirmations only one asks.
        let ctx = &self.ctx;
        let held = claim_preview(ctx, &entity.name, id, None).await?;
        let preview = match record_preview(ctx, entity, id).await {
            Ok(preview) => preview,
            Err(e) => {
                if e.code != ErrorCode::RecordNotFound {
                    let _ = ctx.deletes.release(&entity.name, id, &ctx.caller).await;
                }
                return Err(e);
            }
        };
        // The person is shown the record as it is now, which must be what the agent previewed.
        unchanged(ctx, &entity.name, id, &held, &preview.state).await?;
        let url = ctx.record_url(&entity.name, id);
        let form = human::form(&summary(&entity.name, id, &preview, &url));
        match context
            .peer
            .create_elicitation_with_timeout(form, Some(human.ttl()))
            .await
        {
            Ok(result) => match human::answer(&result) {
                Answer::Confirmed => {
                    tracing::info!(entity_type = %entity.name, id, "delete confirmed by the person");
                    // The person may have taken minutes: what they said yes to must still be so.
                    unchanged_since(ctx, entity, id, &held).await?;
                    complete(delete_claimed(ctx, &entity.name, id).await?)
                }
                Answer::Refused(action) => {
                    tracing::info!(entity_type = %entity.name, id, action, "delete refused by the person");
                    let _ = ctx.deletes.refuse(&entity.name, id, &ctx.caller).await;
                    Err(ToolError::delete_declined(&entity.name, id, action))
                }
            },
            Err(ServiceError::Timeout { .. }) => {
                let _ = ctx.deletes.refuse(&entity.name, id, &ctx.caller).await;
                Err(ToolError::delete_declined(&entity.name, id, "timeout"))
            }
            Err(error) => {
                // The client could not ask (or failed to answer): nothing was decided, so the
                // preview may be confirmed again.
                let _ = ctx.deletes.release(&entity.name, id, &ctx.caller).await;
                Err(ToolError::human_confirmation_unavailable(
                    &entity.name,
                    id,
                    &format!("asking the person through the client failed ({error})"),
                ))
            }
        }
    }

    /// Human mode on 2026-07-28: the first call answers input-required with a sealed state;
    /// the retry brings the person's answer and the state back.
    async fn delete_in_rounds(
        &self,
        human: &HumanConfirmation,
        entity: &EntityType,
        id: &str,
        request_state: Option<String>,
        responses: Option<rmcp::model::InputResponses>,
    ) -> Result<CallToolResponse, ToolError> {
        let ctx = &self.ctx;
        let owner = ctx.caller.as_str();
        let Some(state) = request_state else {
            // Ask only if there is something to confirm; the claim waits for the answer.
            let held = match ctx.deletes.status(&entity.name, id, owner).await? {
                PreviewStatus::Pending(held) => held,
                PreviewStatus::Expired => return Err(preview_expired(&entity.name, id)),
                PreviewStatus::NotPending => {
                    return Err(ToolError::delete_not_confirmed(&entity.name, id));
                }
            };
            let preview = record_preview(ctx, entity, id).await?;
            unchanged(ctx, &entity.name, id, &held, &preview.state).await?;
            let url = ctx.record_url(&entity.name, id);
            // The answer may claim this registration only, never a preview made later.
            let sealed = human.seal(owner, &entity.name, id, held.token);
            let asked = human::input_required(&summary(&entity.name, id, &preview, &url), sealed);
            return Ok(asked.into());
        };
        let token = match human.open(&state, owner, &entity.name, id) {
            Ok(token) => token,
            Err(refused) => return Err(state_refused(&entity.name, id, refused, human.ttl())),
        };
        let Some(answer) = human::answer_in(responses.as_ref()) else {
            return Err(ToolError::new(
                ErrorCode::DeleteNotConfirmed,
                format!(
                    "The confirmation of the delete of {} {id:?} came back without the person's answer (inputResponses.{}); nothing was deleted",
                    entity.name,
                    human::INPUT_KEY
                ),
                "Call delete with confirm: true again, without requestState, so that the person is asked",
                false,
            )
            .with_details(json!({"entityType": entity.name, "id": id})));
        };
        match answer {
            Answer::Confirmed => {
                let held = claim_preview(ctx, &entity.name, id, Some(token)).await?;
                tracing::info!(entity_type = %entity.name, id, "delete confirmed by the person");
                unchanged_since(ctx, entity, id, &held).await?;
                complete(delete_claimed(ctx, &entity.name, id).await?)
            }
            Answer::Refused(action) => {
                // The person said no: forget the preview for good, whichever it was, so that
                // nothing gives it back and a later answer must be about a new preview.
                let _ = ctx.deletes.refuse(&entity.name, id, owner).await;
                tracing::info!(entity_type = %entity.name, id, action, "delete refused by the person");
                Err(ToolError::delete_declined(&entity.name, id, action))
            }
        }
    }
}

fn summary<'a>(
    entity_type: &'a str,
    id: &'a str,
    preview: &'a RecordPreview,
    url: &'a str,
) -> RecordSummary<'a> {
    RecordSummary {
        entity_type,
        id,
        name: preview.name.as_deref(),
        related: &preview.related,
        url,
    }
}

/// A `requestState` that does not confirm this delete: DELETE_NOT_CONFIRMED, saying why.
fn state_refused(entity_type: &str, id: &str, refused: StateRefused, ttl: Duration) -> ToolError {
    let (reason, message, suggestion) = match refused {
        StateRefused::Expired => (
            "expired",
            format!(
                "The confirmation request (requestState) for the delete of {entity_type} {id:?} has expired: the answer must come back within {} seconds; nothing was deleted",
                ttl.as_secs()
            ),
            "Preview the record again (confirm: false), show it to the user, then call delete with confirm: true so that the person is asked again",
        ),
        StateRefused::Invalid => (
            "invalid",
            format!(
                "The requestState sent back is not one this server made for the delete of {entity_type} {id:?} (it was changed, made for another record, or by an earlier server process); nothing was deleted"
            ),
            "Call delete with confirm: true again, without requestState, so that the person is asked; send the requestState back unchanged",
        ),
    };
    ToolError::new(ErrorCode::DeleteNotConfirmed, message, suggestion, false)
        .with_details(json!({"entityType": entity_type, "id": id, "requestState": reason}))
}

/// The description of `delete` when the operator has turned human confirmation on.
pub const DELETE_HUMAN_DESCRIPTION: &str = "Delete a record in two steps; a person must agree. First call with confirm=false: you get a preview of the record (main fields, how many records hang on it) and nothing is deleted. Show it to the user; then call again with confirm=true for the same record before the preview expires: the person is then asked through your MCP client (a form to confirm), and only their yes deletes. A decline or cancel deletes nothing (DELETE_DECLINED) and uses the preview up. A client that cannot ask the person gets HUMAN_CONFIRMATION_UNAVAILABLE. A confirmation without a preview of that same record is DELETE_NOT_CONFIRMED.";

/// Makes the listed description of `delete` say that the person will be asked.
pub fn describe_human_delete(router: &mut ToolRouter<EspoMcp>) {
    if let Some(route) = router.map.get_mut("delete") {
        route.attr.description = Some(DELETE_HUMAN_DESCRIPTION.into());
    }
}
