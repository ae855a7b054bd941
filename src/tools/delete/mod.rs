//! The two-step delete (`delete`, in the write toolset), agent- or human-confirmed.
//!
//! No delete without a claimed preview of that same record, as it was shown: `delete` with
//! `confirm: false` registers a preview with the DeleteConfirmations actor, with the record's
//! state (`modifiedAt`, `versionNumber`, the shown fields); `confirm: true` deletes only after
//! claiming it (once; concurrent confirmations delete once) and reading the record again: if it
//! changed since, nothing is deleted (DELETE_NOT_CONFIRMED, reason `changed`). A locked record
//! (`isLocked`, shown in the preview) is refused with RECORD_LOCKED at either step, before a
//! preview is registered or anyone is asked. In human mode
//! (`SERVER_DELETE_CONFIRMATION=human`, [`human`]) the person must also say yes, asked through
//! the client; the preview is claimed all the same, before the DELETE.

pub mod human;

use std::time::Duration;

use espomcp_actors::{
    Action, ClaimOutcome, EntityType, EspoRequest, HeldPreview, LinkType, Method, PreviewStatus,
    RecordState,
};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::{InputResponses, RequestState};
use rmcp::model::{CallToolResponse, JsonObject, ProtocolVersion};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServiceError, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use self::human::{Answer, HumanConfirmation, RecordSummary, StateRefused};
use super::catalog::ToolSpec;
use super::{ToolContext, input_schema, not_found_as, parse_args};
use crate::audit::{Audited, Recorded, Subject};
use crate::error::{ErrorCode, ToolError};
use crate::server::EspoMcp;
use crate::toolsets::Toolset;
use crate::validate::names;

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
    "isLocked",
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
const DELETE_DESCRIPTION: &str = "Delete a record in two steps. First call with confirm=false: you get a preview of the record (main fields, how many records hang on it) and nothing is deleted. Show it to the user; then call again with confirm=true for the same record before the preview expires. A confirmation without a preview of that same record is DELETE_NOT_CONFIRMED. A locked record is refused (RECORD_LOCKED).";

/// This file's tool, as the catalogue knows it (`catalog.rs`).
pub(super) const TOOLS: &[ToolSpec] = &[ToolSpec::writes::<DeleteArgs>(
    EspoMcp::delete_tool_attr,
    Toolset::Write,
)];

#[tool_router(router = delete_router, vis = "pub")]
impl EspoMcp {
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
    let record = ctx.fetch(entity, id).await?;
    not_locked(&record, &entity.name, id)?;
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
    let record = match ctx.fetch(entity, id).await {
        Ok(record) => record,
        Err(e) => {
            if e.code != ErrorCode::RecordNotFound {
                let _ = ctx.deletes.release(&entity.name, id, &ctx.caller).await;
            }
            return Err(e);
        }
    };
    if let Err(locked) = not_locked(&record, &entity.name, id) {
        let _ = ctx.deletes.refuse(&entity.name, id, &ctx.caller).await;
        return Err(locked);
    }
    let now = record_state(&record, &shown_fields(&record));
    unchanged(ctx, &entity.name, id, held, &now).await
}

/// A locked record (`isLocked`, on lockable entity types) cannot be deleted until someone with
/// lock permission unlocks it: refused before a preview is registered or anyone is asked,
/// rather than left to EspoCRM's 409.
fn not_locked(record: &Map<String, Value>, entity_type: &str, id: &str) -> Result<(), ToolError> {
    if record.get("isLocked").and_then(Value::as_bool) == Some(true) {
        return Err(ToolError::record_locked(true, None).about_record(entity_type, id));
    }
    Ok(())
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
        return Err(not_found_as(e, entity_type, id).about_record(entity_type, id));
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
                if e.code == ErrorCode::RecordLocked {
                    let _ = ctx.deletes.refuse(&entity.name, id, &ctx.caller).await;
                } else if e.code != ErrorCode::RecordNotFound {
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
            let preview = match record_preview(ctx, entity, id).await {
                Ok(preview) => preview,
                Err(e) => {
                    // A record locked since its preview uses the preview up, as in the
                    // handshake era below: nobody is asked about a delete that cannot happen.
                    if e.code == ErrorCode::RecordLocked {
                        let _ = ctx.deletes.refuse(&entity.name, id, &ctx.caller).await;
                    }
                    return Err(e);
                }
            };
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
pub const DELETE_HUMAN_DESCRIPTION: &str = "Delete a record in two steps; a person must agree. First call with confirm=false: you get a preview of the record (main fields, how many records hang on it) and nothing is deleted. Show it to the user; then call again with confirm=true for the same record before the preview expires: the person is then asked through your MCP client (a form to confirm), and only their yes deletes. A decline or cancel deletes nothing (DELETE_DECLINED) and uses the preview up. A client that cannot ask the person gets HUMAN_CONFIRMATION_UNAVAILABLE. A confirmation without a preview of that same record is DELETE_NOT_CONFIRMED. A locked record is refused (RECORD_LOCKED) before anyone is asked.";

/// Makes the listed description of `delete` say that the person will be asked.
pub fn describe_human_delete(router: &mut ToolRouter<EspoMcp>) {
    if let Some(route) = router.map.get_mut("delete") {
        route.attr.description = Some(DELETE_HUMAN_DESCRIPTION.into());
    }
}
