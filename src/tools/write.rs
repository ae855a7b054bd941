//! The write toolset: `create`, `update`, `link`, `unlink`, and what the tools that change
//! data share (the other write families are `delete/`, `notes.rs`, `kanban.rs`, `email.rs`).
//!
//! Safety rules that hold on every path of a tool that changes data:
//! - No email is ever sent. Emails are created only by `draft_email`, always with status Draft;
//!   `create` of an Email, an update that would move an Email out of Draft, a kanban move of an
//!   Email, any write to the entity types through which EspoCRM sends mail on its own
//!   (`outbound::MAIL_ENTITY_TYPES`), Email reminders, links into target lists, campaigns and
//!   mail accounts, and Case status changes EspoCRM would mail to portal users are
//!   `SEND_BLOCKED` before any request; notes are posted internal. These early checks are the
//!   outbound policy's own functions, which `ToolContext::send` applies again to every write.
//! - No delete without a claimed preview of that same record, as it was shown (`delete/`).
//! - Data is checked against the schema before any request, reporting every problem at once
//!   (EspoCRM reports only the first, and silently drops unknown and read-only attributes).

use espomcp_actors::{Action, EntityType, EspoRequest, Method, Schema};
use rmcp::model::JsonObject;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::catalog::ToolSpec;
use super::{ToolContext, input_schema, not_found_as, parse_args, unknown_link_as};
use crate::audit::{Audited, Recorded, Subject};
use crate::error::{ErrorCode, ToolError};
use crate::outbound;
use crate::server::EspoMcp;
use crate::toolsets::Toolset;
use crate::validate::lists::{BoundedVec, MAX_IDS};
use crate::validate::names;
use crate::validate::write::{self, WriteMode};

/// Whether a requested entity type name means `entity_type` (names are matched as EspoCRM
/// routes them, whatever the case).
pub(super) fn is_type(requested: &str, entity_type: &str) -> bool {
    requested.trim().eq_ignore_ascii_case(entity_type)
}

/// Refuses the entity types that can send mail (`outbound::MAIL_ENTITY_TYPES`) — by the
/// requested name, before any lookup, so the answer is SEND_BLOCKED whether or not the API user
/// could see the type.
pub(super) fn not_sending(requested: &str) -> Result<(), ToolError> {
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
    /// The record's `versionNumber` as you read it (get, search).
    #[serde(default)]
    pub version_number: Option<u64>,
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

/// A record after a write; it carries `url`, its page in EspoCRM.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct WrittenRecord(pub Map<String, Value>);

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

/// Adds `url` to a record answer.
pub(super) fn with_url(
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

/// A save based on the `versionNumber` the agent read: sent as `X-Version-Number` where the
/// entity type keeps one (optimistic concurrency), so EspoCRM refuses it (409 `modified`) if the
/// record changed since. Elsewhere there is nothing to check it against and it is left out.
pub(super) fn based_on_version(
    request: EspoRequest,
    entity: &EntityType,
    version_number: Option<u64>,
) -> EspoRequest {
    match version_number {
        Some(version) if entity.optimistic_concurrency => {
            request.with_header("X-Version-Number", version.to_string())
        }
        _ => request,
    }
}

fn writable_entity<'s>(
    schema: &'s Schema,
    name: &str,
    action: Action,
) -> Result<&'s EntityType, ToolError> {
    not_sending(name)?;
    Ok(names::entity_type_for(schema, name, action)?)
}

/// This file's tools, as the catalogue knows them (`catalog.rs`): each one's toolset, and the
/// argument type whose [`Audited`] declaration says what the audit log records of a call.
pub(super) const TOOLS: &[ToolSpec] = &[
    ToolSpec::writes::<CreateArgs>(EspoMcp::create_tool_attr, Toolset::Write),
    ToolSpec::writes::<UpdateArgs>(EspoMcp::update_tool_attr, Toolset::Write),
    ToolSpec::writes::<LinkArgs>(EspoMcp::link_tool_attr, Toolset::Write),
    ToolSpec::writes::<LinkArgs>(EspoMcp::unlink_tool_attr, Toolset::Write),
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
        description = "Change some fields of a record; only the given fields change. Checked against the schema like create; required fields may not be emptied. With versionNumber, a record changed since you read it is refused (RECORD_CHANGED, with its current values) instead of overwritten; ignored on types that keep no versionNumber. A locked record is RECORD_LOCKED. An Email can only stay a Draft. Refused with SEND_BLOCKED: Email reminders, target lists and campaigns, and status changes EspoCRM would mail to customers (a Case's status while portal stream email notifications are on).",
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
        let request = based_on_version(
            EspoRequest::new(Method::Put, [entity.name.as_str(), id]).with_body(data.into_body()),
            entity,
            args.version_number,
        );
        let body = self.ctx.send_record(request).await.map_err(|e| {
            relation_error(
                not_found_as(e, &entity.name, id).about_record(&entity.name, id),
                entity,
            )
        })?;
        Ok(Json(WrittenRecord(with_url(&self.ctx, &entity.name, body))))
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
                return Err(unknown_link_as(&self.ctx, e, &entity.name, &link.name));
            }
            // EspoCRM answers the same empty 404 whether the record or a linked one is
            // missing: look which, so the error names the right one.
            self.ctx.fetch(entity, id).await?;
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
