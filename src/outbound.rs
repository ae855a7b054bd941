//! The one check of every write espomcp sends to EspoCRM: nothing may make EspoCRM send mail.
//!
//! EspoCRM sends mail by itself as a side effect of ordinary writes: an Email saved with a status
//! other than Draft, a reminder of type Email on a Meeting, Call or Task, a record put into a
//! target list or campaign, a note or a status change in the stream of a Case that portal users
//! follow. Checking entity type names in each tool misses these, and a tool written later could
//! forget them all. So the rule lives here, over the request itself (method, path, body) and the
//! schema, and [`Outbound`] is the only handle through which tools reach the gateway
//! (`ToolContext::send`): every POST, PUT, PATCH and DELETE passes [`check`] first, and a refusal
//! is `SEND_BLOCKED` with the reason, before anything reaches EspoCRM. The tools run the same
//! checks early ([`check_record_data`], [`check_relation`], [`check_mail_type`]) so that their
//! refusals come before any other request.
//!
//! # The rule
//!
//! Reads pass. A write passes only in one of these shapes, each checked:
//!
//! - `POST {E}`, `PUT|PATCH {E}/{id}`: create and update. `E` is not a mail type
//!   ([`MAIL_ENTITY_TYPES`]), except an Email that is and stays a Draft. Every attribute of the
//!   body is looked up in the schema: a link into a mail type (`targetListsIds`, `campaignId`,
//!   `inboundEmailId`, a `parentType` naming one) is refused unless it empties the link; a
//!   `jsonArray`/`jsonObject` field passes only when it is known to be safe — the reminder lists
//!   (`reminders`, `defaultReminders…`), item by item, `Popup` only — or is `null`. On an update,
//!   a change of the type's status field is refused when EspoCRM would mail the resulting Status
//!   note to portal users (see [`MailNotifications::mails_portal_users`]). `sendAccessInfo` is
//!   refused everywhere (it mails a new user their password).
//! - `POST Note`: a Post on a record's stream, `isInternal: true` (EspoCRM then keeps it from
//!   portal users); refused where EspoCRM would mail it to portal users anyway (a parent type
//!   that does not keep the flag, see `InternalNotes`), and without a parent (a post to users,
//!   teams, portals or everyone is mailed to them).
//! - `DELETE {E}/{id}`, and `DELETE {E}/{id}/{link}` (unlinking mails nobody).
//! - `POST {E}/{id}/{link}`: a link of `E` in the schema whose foreign type is not a mail type.
//! - `PUT|DELETE {E}/{id}/subscription` (follow), `PUT Kanban/order`,
//!   `POST EmailTemplate/{id}/prepare` (renders a template, sends nothing).
//!
//! Anything else — `Email/action/sendTestEmail`, `Meeting/action/sendInvitations`,
//! `User/passwordChangeRequest`, a path of a shape not listed — is refused: espomcp cannot tell
//! what it would do, so it does not send it.
//!
//! What remains EspoCRM's own behaviour, reported by `espomcp check` and the README: mail to its
//! own users about assignments, mentions and the streams they follow.

use espomcp_actors::{
    EntityType, EspoRequest, EspoResponse, FieldType, Gateway, LinkType, MailNotifications,
    MetadataCache, Method, Schema, UpstreamError,
};
use serde_json::{Map, Value, json};

use crate::error::{ErrorCode, ToolError};
use crate::espo::attributes::{self, Lookup};
use crate::validate::error::excerpt;

/// Entity types through which EspoCRM sends mail by itself, or whose records decide who gets
/// mail: emails and their queue, mass email and campaigns with their target lists, mail
/// accounts, lead capture (opt-in mail), reminders, and the automation that can send mail
/// (workflows, BPM, scheduled jobs). No write may create or change them, or link a record into
/// them; an Email may only be written as a Draft.
pub const MAIL_ENTITY_TYPES: &[&str] = &[
    "Email",
    "MassEmail",
    "EmailQueueItem",
    "Campaign",
    "CampaignLogRecord",
    "CampaignTrackingUrl",
    "TargetList",
    "InboundEmail",
    "EmailAccount",
    "OutboundEmail",
    "LeadCapture",
    "Reminder",
    "Workflow",
    "BpmnFlowchart",
    "BpmnProcess",
    "ScheduledJob",
];

/// `jsonArray` fields whose items are reminders (`{"type": "Popup"|"Email", "seconds": …}`):
/// the only JSON fields a write may carry, each item a `Popup`.
const REMINDER_FIELDS: &[&str] = &["reminders", "defaultReminders", "defaultRemindersTask"];

/// The suffixes by which a link's attributes are named (`accountId`, `contactsIds`,
/// `parentType`, `contactsColumns`).
const LINK_SUFFIXES: &[&str] = &["Ids", "Id", "Names", "Name", "Columns", "Type"];

/// A write refused because EspoCRM could send mail because of it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("Refused {what}: {why}")]
pub struct SendBlocked {
    /// What was refused, after "Refused": `an Email reminder in Meeting.reminders[0]`.
    pub what: String,
    /// Why EspoCRM would send mail because of it.
    pub why: String,
    /// What the caller can do instead.
    pub suggestion: String,
    /// The entity type and the attribute or link concerned, when there is one.
    pub entity_type: Option<String>,
    pub field: Option<String>,
}

impl SendBlocked {
    fn new(what: impl Into<String>, why: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            why: why.into(),
            suggestion: "Leave that part out: espomcp never makes EspoCRM send mail. To write to \
                         someone, prepare a draft with draft_email for a person to send."
                .into(),
            entity_type: None,
            field: None,
        }
    }

    fn suggest(mut self, suggestion: impl Into<String>) -> Self {
        self.suggestion = suggestion.into();
        self
    }

    fn at(mut self, entity_type: &str, field: Option<&str>) -> Self {
        self.entity_type = Some(entity_type.to_owned());
        self.field = field.map(str::to_owned);
        self
    }
}

impl From<SendBlocked> for ToolError {
    fn from(blocked: SendBlocked) -> Self {
        let message = blocked.to_string();
        let mut details = Map::new();
        if let Some(entity_type) = &blocked.entity_type {
            details.insert("entityType".into(), json!(entity_type));
        }
        if let Some(field) = &blocked.field {
            details.insert("field".into(), json!(field));
        }
        details.insert("reason".into(), json!(blocked.why));
        ToolError::new(ErrorCode::SendBlocked, message, blocked.suggestion, false)
            .with_details(Value::Object(details))
    }
}

/// The gateway behind the policy: the only handle through which tools send requests, so no
/// write reaches EspoCRM without [`check`].
#[derive(Debug, Clone)]
pub struct Outbound {
    gateway: Gateway,
    /// Where the schema for the check comes from (the full schema, not the entity-type
    /// allow-list's view of it: a link into an excluded mail type is still a link into it).
    metadata: MetadataCache,
}

/// Why [`Outbound::send`] did not bring an answer.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The policy refused the request; nothing was sent.
    #[error(transparent)]
    Blocked(#[from] SendBlocked),
    /// The schema the check needs could not be read; nothing was sent.
    #[error("the schema for checking a write could not be read: {0}")]
    Schema(UpstreamError),
    /// The request was sent (or tried) and failed.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
}

impl Outbound {
    pub fn new(gateway: Gateway, metadata: MetadataCache) -> Self {
        Self { gateway, metadata }
    }

    /// Checks a write against the policy, then sends it; reads go straight to the gateway.
    pub async fn send(&self, request: EspoRequest) -> Result<EspoResponse, OutboundError> {
        if request.method != Method::Get {
            let schema = self
                .metadata
                .schema()
                .await
                .map_err(OutboundError::Schema)?;
            check(&request, &schema)?;
        }
        Ok(self.gateway.send(request).await?)
    }
}

/// Whether `request` may go to EspoCRM: reads always, writes only in the shapes the module
/// documentation lists, checked against `schema`.
pub fn check(request: &EspoRequest, schema: &Schema) -> Result<(), SendBlocked> {
    let method = request.method;
    if method == Method::Get {
        return Ok(());
    }
    let segments: Vec<&str> = request.path_segments.iter().map(String::as_str).collect();
    let body = request.body.as_ref();
    let path = excerpt(&segments.join("/"));
    let other = || {
        SendBlocked::new(
            format!("{method} {path}"),
            "espomcp sends only the record writes it can check for mail EspoCRM would send, \
             and this request is not one of them",
        )
    };
    match (method, segments.as_slice()) {
        (Method::Put, ["Kanban", "order"]) => Ok(()),
        (Method::Post, [template, _, "prepare"])
            if template.eq_ignore_ascii_case("EmailTemplate") =>
        {
            Ok(())
        }
        (Method::Put | Method::Delete, [entity, _, "subscription"]) => check_mail_type(entity),
        (Method::Post, [note]) if note.eq_ignore_ascii_case("Note") => {
            check_note(schema, body.and_then(Value::as_object))
        }
        (Method::Post, [entity]) => {
            let entity = known_entity(schema, entity)?;
            check_email_status(entity, body, true)?;
            check_record_data(schema, entity, object_of(body), false)
        }
        (Method::Put | Method::Patch, [entity, _]) => {
            let entity = known_entity(schema, entity)?;
            check_email_status(entity, body, false)?;
            check_record_data(schema, entity, object_of(body), true)
        }
        (Method::Delete, [_, _] | [_, _, _]) => Ok(()),
        (Method::Post, [entity, _, link]) => {
            check_mail_type(entity)?;
            let entity = known_entity(schema, entity)?;
            match entity.link(link) {
                Some(_) => check_relation(entity, link),
                None => Err(other()),
            }
        }
        _ => Err(other()),
    }
}

/// Refuses a mail type ([`MAIL_ENTITY_TYPES`]) by its requested name, whatever the case.
pub fn check_mail_type(requested: &str) -> Result<(), SendBlocked> {
    match mail_type(requested) {
        Some("Email") => Err(SendBlocked::new(
            "writing Email records",
            "EspoCRM sends an Email whose status leaves Draft; espomcp writes only drafts",
        )
        .suggest("Use draft_email to prepare an email; espomcp never sends mail.")
        .at("Email", None)),
        Some(name) => Err(SendBlocked::new(
            format!("writing {name} records"),
            format!("EspoCRM sends mail through {name} records by itself"),
        )
        .at(name, None)),
        None => Ok(()),
    }
}

/// The mail type `requested` names, as spelt in [`MAIL_ENTITY_TYPES`].
fn mail_type(requested: &str) -> Option<&'static str> {
    MAIL_ENTITY_TYPES
        .iter()
        .find(|name| requested.trim().eq_ignore_ascii_case(name))
        .copied()
}

fn object_of(body: Option<&Value>) -> Option<&Map<String, Value>> {
    body.and_then(Value::as_object)
}

/// The entity type of a create or update path; a type the schema does not describe cannot be
/// checked, so it is refused (the tools refuse it earlier as unknown).
fn known_entity<'s>(schema: &'s Schema, requested: &str) -> Result<&'s EntityType, SendBlocked> {
    if let Some(name) = mail_type(requested)
        && name != "Email"
    {
        check_mail_type(name)?;
    }
    schema.entity_ignoring_case(requested).ok_or_else(|| {
        let requested = excerpt(requested);
        SendBlocked::new(
            format!("writing {requested} records"),
            "EspoCRM's metadata does not describe this entity type, so espomcp cannot tell \
             whether the write would make EspoCRM send mail",
        )
        .at(&requested, None)
    })
}

/// An Email may be created only as a Draft and may never leave Draft.
fn check_email_status(
    entity: &EntityType,
    body: Option<&Value>,
    create: bool,
) -> Result<(), SendBlocked> {
    if entity.name != "Email" {
        return Ok(());
    }
    let status = body.and_then(|b| b.get("status"));
    let draft = status.and_then(Value::as_str) == Some("Draft");
    if draft || (!create && status.is_none()) {
        return Ok(());
    }
    Err(SendBlocked::new(
        if create {
            "creating an Email that is not a Draft".to_owned()
        } else {
            "changing an Email's status to anything but Draft".to_owned()
        },
        "EspoCRM sends an Email whose status leaves Draft; espomcp writes only drafts",
    )
    .suggest("Use draft_email to prepare an email; a person reviews and sends it in EspoCRM.")
    .at("Email", Some("status")))
}

/// Linking a record of `entity` through `link`: refused when the record at the other end is of
/// a mail type (a target list, a campaign, a mail account).
pub fn check_relation(entity: &EntityType, link: &str) -> Result<(), SendBlocked> {
    check_mail_type(&entity.name)?;
    let Some(definition) = entity.link(link) else {
        return Ok(());
    };
    let foreign: Vec<&str> = match &definition.entity {
        Some(foreign) => vec![foreign.as_str()],
        None => definition.entity_list.iter().map(String::as_str).collect(),
    };
    if let Some(mail) = foreign.iter().find_map(|name| mail_type(name)) {
        return Err(SendBlocked::new(
            format!(
                "linking a {} into {mail} records ({}.{link})",
                entity.name, entity.name
            ),
            mail_link_reason(mail),
        )
        .at(&entity.name, Some(link)));
    }
    Ok(())
}

fn mail_link_reason(mail: &str) -> String {
    match mail {
        "TargetList" | "Campaign" | "MassEmail" => format!(
            "EspoCRM's mass email and campaigns mail the records of a {mail}: membership decides who \
             gets mail"
        ),
        _ => format!("EspoCRM sends mail through {mail} records by itself"),
    }
}

/// The data of a create or update of `entity`, attribute by attribute (see the module
/// documentation). `update` adds the check of a status change.
pub fn check_record_data(
    schema: &Schema,
    entity: &EntityType,
    data: Option<&Map<String, Value>>,
    update: bool,
) -> Result<(), SendBlocked> {
    check_mail_type(&entity.name).or_else(|blocked| {
        // An Email draft is the one mail record espomcp writes; its status is checked apart.
        if entity.name == "Email" {
            Ok(())
        } else {
            Err(blocked)
        }
    })?;
    let Some(data) = data else {
        return Ok(());
    };
    for (key, value) in data {
        if key == "sendAccessInfo" && !matches!(value, Value::Null | Value::Bool(false)) {
            return Err(SendBlocked::new(
                format!("{}.sendAccessInfo", entity.name),
                "EspoCRM mails the new user their access details",
            )
            .at(&entity.name, Some(key)));
        }
        check_link_attribute(entity, key, value)?;
        check_json_field(entity, key, value)?;
    }
    if update && let Some(status) = &entity.status_field {
        let changes = data.get(status).is_some_and(|value| !value.is_null());
        if changes
            && schema
                .notifications
                .mails_portal_users(&entity.name, "Status")
        {
            return Err(status_change_blocked(entity, status));
        }
    }
    Ok(())
}

/// The refusal of a status change whose Status note EspoCRM would mail to portal users.
pub fn status_change_blocked(entity: &EntityType, status: &str) -> SendBlocked {
    SendBlocked::new(
        format!("changing the {status} of a {}", entity.name),
        format!(
            "EspoCRM posts a Status note to the record's stream and mails it to the portal users \
             who follow it (portal stream email notifications are on for {} status changes); \
             EspoCRM has no way to make that note internal",
            entity.name
        ),
    )
    .suggest(format!(
        "Ask a person to change it in EspoCRM, or have an administrator turn off portal stream \
         email notifications (Administration > Notifications) or remove {} from their entity \
         list; you may add an internal note with add_note meanwhile.",
        entity.name
    ))
    .at(&entity.name, Some(status))
}

/// An attribute of a link (`targetListsIds`, `campaignId`, `parentType`) that would put the
/// record into a mail type; emptying such a link is allowed.
fn check_link_attribute(entity: &EntityType, key: &str, value: &Value) -> Result<(), SendBlocked> {
    let empties = match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::String(text) => text.is_empty(),
        _ => false,
    };
    let candidates = std::iter::once(key).chain(
        LINK_SUFFIXES
            .iter()
            .filter_map(|suffix| key.strip_suffix(suffix)),
    );
    for name in candidates {
        let Some(link) = entity.link(name) else {
            continue;
        };
        let mail = match (&link.link_type, &link.entity) {
            (LinkType::BelongsToParent, _) => {
                // `parentType` names the foreign type itself.
                if key == format!("{name}Type") {
                    value.as_str().and_then(mail_type)
                } else {
                    None
                }
            }
            (_, Some(foreign)) => mail_type(foreign),
            (_, None) => None,
        };
        if let Some(mail) = mail
            && !empties
        {
            return Err(SendBlocked::new(
                format!(
                    "{key} of a {}: it links the record into {mail} records",
                    entity.name
                ),
                mail_link_reason(mail),
            )
            .at(&entity.name, Some(key)));
        }
    }
    Ok(())
}

/// `jsonArray`/`jsonObject` fields: reminders are checked item by item, other JSON fields may
/// only be cleared (espomcp cannot tell what EspoCRM does with their contents).
fn check_json_field(entity: &EntityType, key: &str, value: &Value) -> Result<(), SendBlocked> {
    let field = match attributes::lookup(entity, key) {
        Lookup::Attribute(attribute) => attribute.field,
        _ => None,
    };
    let Some(field) = field else {
        return Ok(());
    };
    if !matches!(
        field.field_type,
        FieldType::JsonArray | FieldType::JsonObject
    ) || value.is_null()
    {
        return Ok(());
    }
    let at = |index: usize| format!("{}.{key}[{index}]", entity.name);
    if REMINDER_FIELDS.contains(&field.name.as_str()) {
        let Some(items) = value.as_array() else {
            return Err(unchecked_json(entity, key, "is not a list of reminders"));
        };
        for (index, item) in items.iter().enumerate() {
            match item.get("type").and_then(Value::as_str) {
                Some("Popup") => {}
                Some(kind) => {
                    return Err(SendBlocked::new(
                        format!("a reminder of type {:?} in {}", excerpt(kind), at(index)),
                        "EspoCRM's reminder job mails the attendees an Email reminder; only Popup \
                         reminders stay inside EspoCRM",
                    )
                    .suggest(format!(
                        "Use {{\"type\": \"Popup\", \"seconds\": …}} reminders, or leave {key} out."
                    ))
                    .at(&entity.name, Some(key)));
                }
                None => {
                    return Err(SendBlocked::new(
                        format!("a reminder without a type in {}", at(index)),
                        "EspoCRM could make it an Email reminder, which its reminder job mails",
                    )
                    .suggest(format!(
                        "Give every reminder \"type\": \"Popup\", or leave {key} out."
                    ))
                    .at(&entity.name, Some(key)));
                }
            }
        }
        return Ok(());
    }
    Err(unchecked_json(
        entity,
        key,
        &format!("is a {} field", field.field_type.as_str()),
    ))
}

fn unchecked_json(entity: &EntityType, key: &str, what: &str) -> SendBlocked {
    SendBlocked::new(
        format!("{}.{key}", entity.name),
        format!(
            "it {what} whose contents espomcp cannot check for mail EspoCRM would send (only \
             Popup reminders are)"
        ),
    )
    .suggest(format!("Leave {key} out, or set it to null."))
    .at(&entity.name, Some(key))
}

/// `POST Note`: an internal post on a record's stream (see the module documentation).
fn check_note(schema: &Schema, body: Option<&Map<String, Value>>) -> Result<(), SendBlocked> {
    let empty = Map::new();
    let body = body.unwrap_or(&empty);
    let text = |key: &str| {
        body.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    for key in [
        "targetType",
        "usersIds",
        "teamsIds",
        "portalsIds",
        "isGlobal",
    ] {
        if body.get(key).is_some_and(|value| !value.is_null()) {
            return Err(SendBlocked::new(
                format!("a note with {key}"),
                "EspoCRM mails a post addressed to users, teams, portals or everyone to them",
            )
            .suggest("Post notes to a record's stream only: use add_note.")
            .at("Note", Some(key)));
        }
    }
    if let Some(kind) = text("type").filter(|kind| *kind != "Post") {
        return Err(SendBlocked::new(
            format!("a note of type {:?}", excerpt(kind)),
            "espomcp posts only Post notes, which it can make internal",
        )
        .at("Note", Some("type")));
    }
    let Some(parent_type) = text("parentType").filter(|_| text("parentId").is_some()) else {
        return Err(SendBlocked::new(
            "a note without a parent record",
            "EspoCRM mails a post that is not on a record's stream to the users it is addressed to",
        )
        .suggest("Post notes to a record's stream only: use add_note.")
        .at("Note", Some("parentType")));
    };
    check_mail_type(parent_type)?;
    let shown = excerpt(parent_type);
    let parent_type = schema
        .entity_ignoring_case(parent_type)
        .map_or(shown.as_str(), |entity| entity.name.as_str());
    let has_flag = schema
        .entity("Note")
        .is_some_and(|note| note.field("isInternal").is_some());
    if has_flag && body.get("isInternal") != Some(&Value::Bool(true)) {
        return Err(SendBlocked::new(
            format!("a note on a {parent_type} that is not internal"),
            "EspoCRM mails stream posts to the portal users who follow the record; espomcp posts \
             internal notes only (isInternal: true)",
        )
        .suggest("Use add_note, which posts internal notes.")
        .at("Note", Some("isInternal")));
    }
    if post_reaches_portal(schema, parent_type) {
        return Err(public_post_blocked(parent_type));
    }
    Ok(())
}

/// Whether a note espomcp posts on a `parent_type` record would be mailed to portal users: the
/// type does not keep notes internal, and portal stream notifications cover its posts.
pub fn post_reaches_portal(schema: &Schema, parent_type: &str) -> bool {
    let has_flag = schema
        .entity("Note")
        .is_some_and(|note| note.field("isInternal").is_some());
    let internal = has_flag && schema.internal_notes.kept_for(parent_type);
    !internal && schema.notifications.mails_portal_users(parent_type, "Post")
}

/// The refusal of a note EspoCRM would mail to portal users whatever espomcp asks.
pub fn public_post_blocked(parent_type: &str) -> SendBlocked {
    SendBlocked::new(
        format!("a note on a {parent_type}"),
        format!(
            "EspoCRM does not keep notes on {parent_type} records internal, and it mails their \
             posts to the portal users who follow them (portal stream email notifications)"
        ),
    )
    .suggest(
        "Ask an administrator to turn off portal stream email notifications (Administration > \
         Notifications) for this type, or post the note on another record.",
    )
    .at("Note", Some("parentType"))
}

/// What `espomcp check` shows of the mail EspoCRM sends by itself: one (setting, state) row
/// each. Settings EspoCRM does not show the API user read "not readable by the API user".
pub fn notification_report(notifications: &MailNotifications) -> Vec<(&'static str, String)> {
    let flag = |value: Option<bool>| match value {
        Some(true) => "on".to_owned(),
        Some(false) => "off".to_owned(),
        None => "not readable by the API user (admin-only setting)".to_owned(),
    };
    let list = |value: &Option<Vec<String>>| match value {
        Some(items) if items.is_empty() => "none".to_owned(),
        Some(items) => items.join(", "),
        None => "not readable by the API user".to_owned(),
    };
    let assignment = match notifications.assignment {
        Some(true) if !notifications.assignment_entity_types.is_empty() => {
            format!("on ({})", notifications.assignment_entity_types.join(", "))
        }
        other => flag(other),
    };
    let portal = match notifications.portal_stream {
        Some(true) => format!(
            "on: status changes of {} are refused (SEND_BLOCKED)",
            list(&notifications.stream_entity_types)
        ),
        other => flag(other),
    };
    vec![
        ("assignment mail", assignment),
        ("mention mail", flag(notifications.mention)),
        ("stream mail", flag(notifications.stream)),
        ("portal stream", portal),
        ("stream types", list(&notifications.stream_note_types)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A small EspoCRM: the fields and links the policy decides on, as the recordings have them.
    fn metadata(stream_defs: Value) -> Value {
        json!({
            "entityDefs": {
                "Account": {"fields": {"name": {"type": "varchar"}}, "links": {
                    "targetLists": {"type": "hasMany", "entity": "TargetList"},
                    "contacts": {"type": "hasMany", "entity": "Contact"}}},
                "Lead": {"fields": {
                    "lastName": {"type": "varchar"},
                    "status": {"type": "enum", "options": ["New", "Assigned"]},
                    "campaign": {"type": "link"},
                    "targetLists": {"type": "linkMultiple"}},
                    "links": {
                        "campaign": {"type": "belongsTo", "entity": "Campaign"},
                        "targetLists": {"type": "hasMany", "entity": "TargetList"}}},
                "Case": {"fields": {
                    "name": {"type": "varchar"},
                    "status": {"type": "enum", "options": ["New", "Assigned", "Closed"]},
                    "inboundEmail": {"type": "link"}},
                    "links": {"inboundEmail": {"type": "belongsTo", "entity": "InboundEmail"},
                              "contacts": {"type": "hasMany", "entity": "Contact"}}},
                "Contact": {"fields": {"lastName": {"type": "varchar"}}, "links": {}},
                "Meeting": {"fields": {
                    "name": {"type": "varchar"},
                    "status": {"type": "enum", "options": ["Planned", "Held"]},
                    "reminders": {"type": "jsonArray", "notStorable": true}}, "links": {}},
                "Call": {"fields": {
                    "reminders": {"type": "jsonArray", "notStorable": true},
                    "phoneNumbersMap": {"type": "jsonObject", "notStorable": true}}, "links": {}},
                "Task": {"fields": {
                    "status": {"type": "enum", "options": ["Not Started", "Completed"]},
                    "reminders": {"type": "jsonArray", "notStorable": true},
                    "parent": {"type": "linkParent"}},
                    "links": {"parent": {"type": "belongsToParent", "entityList": ["Account", "Campaign"]}}},
                "Email": {"fields": {"status": {"type": "enum"}, "subject": {"type": "varchar"}}, "links": {}},
                "Note": {"fields": {"post": {"type": "text"}, "isInternal": {"type": "bool"}}, "links": {}},
                "Preferences": {"fields": {
                    "defaultReminders": {"type": "jsonArray"},
                    "dashboardLayout": {"type": "jsonArray"}}, "links": {}}
            },
            "scopes": {
                "Account": {"entity": true, "object": true, "stream": true},
                "Lead": {"entity": true, "object": true, "stream": true, "statusField": "status"},
                "Case": {"entity": true, "object": true, "stream": true, "statusField": "status"},
                "Contact": {"entity": true, "object": true, "stream": true},
                "Meeting": {"entity": true, "object": true, "stream": true, "statusField": "status"},
                "Call": {"entity": true, "object": true},
                "Task": {"entity": true, "object": true, "stream": true, "statusField": "status"},
                "Email": {"entity": true, "object": true},
                "Note": {"entity": true},
                "Preferences": {"entity": true}
            },
            "streamDefs": stream_defs
        })
    }

    /// The recorded settings (portal stream notifications on for Case, Post and Status), with
    /// `changes` over them.
    fn schema_with(changes: Value, stream_defs: Value) -> Schema {
        let mut settings = json!({
            "assignmentEmailNotifications": false,
            "assignmentEmailNotificationsEntityList": ["Lead", "Opportunity", "Task", "Case"],
            "portalStreamEmailNotifications": true,
            "streamEmailNotificationsEntityList": ["Case"],
            "streamEmailNotificationsTypeList": ["Post", "Status", "EmailReceived"]
        });
        if let (Some(settings), Some(changes)) = (settings.as_object_mut(), changes.as_object()) {
            settings.extend(changes.clone());
        }
        let app_user = json!({
            "user": {"id": "u1", "userName": "agent"},
            "acl": {"table": {}},
            "settings": settings
        });
        Schema::from_espo(&metadata(stream_defs), &app_user).expect("the test schema parses")
    }

    fn schema() -> Schema {
        schema_with(json!({}), json!({}))
    }

    fn request(method: Method, path: &str, body: Option<Value>) -> EspoRequest {
        let mut request = EspoRequest::new(method, path.split('/'));
        request.body = body;
        request
    }

    /// (method, path, body, the field the refusal names — `None` when it passes).
    type Case = (
        Method,
        &'static str,
        Option<Value>,
        Option<Option<&'static str>>,
    );

    fn run(schema: &Schema, cases: &[Case]) {
        for (method, path, body, expected) in cases {
            let outcome = check(&request(*method, path, body.clone()), schema);
            match (expected, &outcome) {
                (None, Ok(())) => {}
                (Some(field), Err(blocked)) => assert_eq!(
                    blocked.field.as_deref(),
                    *field,
                    "{method} {path} {body:?}: {blocked}"
                ),
                _ => panic!("{method} {path} {body:?}: expected {expected:?}, got {outcome:?}"),
            }
        }
    }

    const PASS: Option<Option<&str>> = None;
    const BLOCKED: Option<Option<&str>> = Some(None);

    fn blocked_at(field: &'static str) -> Option<Option<&'static str>> {
        Some(Some(field))
    }

    #[test]
    fn should_decide_every_write_by_method_path_and_body() {
        use Method::{Delete, Get, Patch, Post, Put};
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            // Reads always pass.
            (Get, "Email/action/sendTestEmail", None, PASS),
            (Get, "Campaign", None, PASS),
            // Plain record writes.
            (Post, "Account", Some(json!({"name": "Acme"})), PASS),
            (Put, "Account/a1", Some(json!({"name": "Acme"})), PASS),
            (Patch, "Account/a1", Some(json!({"name": "Acme"})), PASS),
            (Delete, "Account/a1", None, PASS),
            (Delete, "Email/e1", None, PASS),
            // Email: drafts only, and no other Email route.
            (Post, "Email", Some(json!({"status": "Draft", "to": "a@b.c"})), PASS),
            (Post, "email", Some(json!({"status": "Draft"})), PASS),
            (Post, "Email", Some(json!({"status": "Sending"})), blocked_at("status")),
            (Post, "Email", Some(json!({"subject": "no status"})), blocked_at("status")),
            (Put, "Email/e1", Some(json!({"subject": "s"})), PASS),
            (Put, "Email/e1", Some(json!({"status": "Draft"})), PASS),
            (Put, "Email/e1", Some(json!({"status": "Sending"})), blocked_at("status")),
            (Post, "Email/action/sendTestEmail", Some(json!({})), BLOCKED),
            (Post, "Email/sendTestEmail", Some(json!({})), BLOCKED),
            (Post, "Email/e1/send", Some(json!({})), BLOCKED),
            // Mail types, whatever the case and the shape.
            (Post, "MassEmail", Some(json!({"name": "Blast"})), BLOCKED),
            (Put, "campaign/c1", Some(json!({"status": "Active"})), BLOCKED),
            (Post, "Campaign/c1/targetLists", Some(json!({"id": "t1"})), BLOCKED),
            (Post, "TargetList", Some(json!({"name": "Customers"})), BLOCKED),
            (Post, "EmailQueueItem", Some(json!({})), BLOCKED),
            (Post, "Reminder", Some(json!({"type": "Popup"})), BLOCKED),
            (Post, "LeadCapture/k1", Some(json!({})), BLOCKED),
            (Put, "Workflow/w1", Some(json!({"isActive": true})), BLOCKED),
            // Actions and shapes espomcp does not send.
            (Post, "Meeting/m1/sendInvitations", Some(json!({})), BLOCKED),
            (Post, "Meeting/action/sendInvitations", Some(json!({"id": "m1"})), BLOCKED),
            (Post, "User/passwordChangeRequest", Some(json!({})), BLOCKED),
            (Post, "Lead/l1/convert", Some(json!({})), BLOCKED),
            (Post, "Account/a1/contacts/x", Some(json!({})), BLOCKED),
            (Put, "Account", Some(json!({"name": "x"})), BLOCKED),
            // Unknown entity types cannot be checked.
            (Post, "Widget", Some(json!({"name": "x"})), BLOCKED),
            // Reminders: Popup only, item by item.
            (Post, "Meeting", Some(json!({"name": "m", "reminders": [{"type": "Popup", "seconds": 600}]})), PASS),
            (Post, "Meeting", Some(json!({"name": "m", "reminders": []})), PASS),
            (Put, "Meeting/m1", Some(json!({"reminders": null})), PASS),
            (Post, "Meeting", Some(json!({"reminders": [{"type": "Popup", "seconds": 0}, {"type": "Email", "seconds": 3600}]}),), blocked_at("reminders")),
            (Put, "Call/c1", Some(json!({"reminders": [{"type": "Email", "seconds": 60}]})), blocked_at("reminders")),
            (Put, "Task/t1", Some(json!({"reminders": [{"seconds": 60}]})), blocked_at("reminders")),
            (Put, "Task/t1", Some(json!({"reminders": {"type": "Popup"}})), blocked_at("reminders")),
            (Put, "Preferences/u1", Some(json!({"defaultReminders": [{"type": "Email", "seconds": 60}]})), blocked_at("defaultReminders")),
            // Other JSON fields may only be cleared.
            (Put, "Preferences/u1", Some(json!({"dashboardLayout": [{"name": "My"}]})), blocked_at("dashboardLayout")),
            (Put, "Preferences/u1", Some(json!({"dashboardLayout": null})), PASS),
            (Put, "Call/c1", Some(json!({"phoneNumbersMap": {"x": "y"}})), blocked_at("phoneNumbersMap")),
            // Links into mail types: by relation and by attribute.
            (Post, "Lead/l1/targetLists", Some(json!({"id": "t1"})), blocked_at("targetLists")),
            (Post, "Account/a1/targetLists", Some(json!({"ids": ["t1"]})), blocked_at("targetLists")),
            (Post, "Lead/l1/campaign", Some(json!({"id": "c1"})), blocked_at("campaign")),
            (Post, "Case/c1/inboundEmail", Some(json!({"id": "i1"})), blocked_at("inboundEmail")),
            (Post, "Account/a1/contacts", Some(json!({"id": "c1"})), PASS),
            (Delete, "Lead/l1/targetLists", Some(json!({"id": "t1"})), PASS),
            (Put, "Lead/l1", Some(json!({"targetListsIds": ["t1"]})), blocked_at("targetListsIds")),
            (Put, "Lead/l1", Some(json!({"targetListsNames": {"t1": "List"}})), blocked_at("targetListsNames")),
            (Put, "Lead/l1", Some(json!({"targetListsColumns": {"t1": {"optedOut": false}}})), blocked_at("targetListsColumns")),
            (Post, "Lead", Some(json!({"lastName": "Doe", "campaignId": "c1"})), blocked_at("campaignId")),
            (Put, "Case/c1", Some(json!({"inboundEmailId": "i1"})), blocked_at("inboundEmailId")),
            (Put, "Lead/l1", Some(json!({"targetListsIds": [], "campaignId": null})), PASS),
            (Post, "Task", Some(json!({"parentType": "Campaign", "parentId": "c1"})), blocked_at("parentType")),
            (Post, "Task", Some(json!({"parentType": "Account", "parentId": "a1"})), PASS),
            // Mail to a new user.
            (Post, "Account", Some(json!({"name": "x", "sendAccessInfo": true})), blocked_at("sendAccessInfo")),
            // Status changes: Case's Status notes reach portal users; others do not.
            (Put, "Case/c1", Some(json!({"status": "Closed"})), blocked_at("status")),
            (Put, "Case/c1", Some(json!({"name": "Renamed"})), PASS),
            (Post, "Case", Some(json!({"name": "New case", "status": "New"})), PASS),
            (Put, "Task/t1", Some(json!({"status": "Completed"})), PASS),
            (Put, "Lead/l1", Some(json!({"status": "Assigned"})), PASS),
            // Notes: internal posts on a record only.
            (Post, "Note", Some(json!({"type": "Post", "parentType": "Case", "parentId": "c1", "post": "x", "isInternal": true}),), PASS),
            (Post, "Note", Some(json!({"type": "Post", "parentType": "Account", "parentId": "a1", "post": "x", "isInternal": true}),), PASS),
            (Post, "Note", Some(json!({"type": "Post", "parentType": "Case", "parentId": "c1", "post": "x"})), blocked_at("isInternal")),
            (Post, "Note", Some(json!({"type": "Post", "parentType": "Case", "parentId": "c1", "post": "x", "isInternal": false}),), blocked_at("isInternal")),
            (Post, "Note", Some(json!({"post": "x", "isInternal": true})), blocked_at("parentType")),
            (Post, "Note", Some(json!({"post": "x", "targetType": "portals", "portalsIds": ["p1"]})), blocked_at("targetType")),
            (Post, "Note", Some(json!({"type": "Update", "parentType": "Case", "parentId": "c1", "isInternal": true}),), blocked_at("type")),
            (Post, "Note", Some(json!({"parentType": "Campaign", "parentId": "c1", "isInternal": true})), BLOCKED),
            // The other routes the tools use.
            (Put, "Kanban/order", Some(json!({"entityType": "Task", "group": "x", "ids": []})), PASS),
            (Post, "EmailTemplate/t1/prepare", Some(json!({"emailAddress": "a@b.c"})), PASS),
            (Put, "Account/a1/subscription", None, PASS),
            (Delete, "Account/a1/subscription", None, PASS),
        ];
        run(&schema(), &cases);
    }

    #[test]
    fn should_follow_the_notification_settings_for_status_changes_and_posts() {
        use Method::{Post, Put};
        let case_closed: Case = (Put, "Case/c1", Some(json!({"status": "Closed"})), PASS);
        let case_post: Case = (
            Post,
            "Note",
            Some(json!({"parentType": "Case", "parentId": "c1", "isInternal": true})),
            PASS,
        );
        // Portal stream notifications off: a Case status change mails no customer.
        run(
            &schema_with(json!({"portalStreamEmailNotifications": false}), json!({})),
            std::slice::from_ref(&case_closed),
        );
        // Status notes are not among the mailed types.
        run(
            &schema_with(
                json!({"streamEmailNotificationsTypeList": ["Post"]}),
                json!({}),
            ),
            std::slice::from_ref(&case_closed),
        );
        // Cases are not among the mailed types, but Leads are.
        let leads = schema_with(
            json!({"streamEmailNotificationsEntityList": ["Lead"]}),
            json!({}),
        );
        run(
            &leads,
            &[
                case_closed.clone(),
                (
                    Put,
                    "Lead/l1",
                    Some(json!({"status": "Assigned"})),
                    blocked_at("status"),
                ),
            ],
        );
        // Settings the API user cannot read count as EspoCRM's defaults, which mail.
        let unread = Schema::from_espo(
            &metadata(json!({})),
            &json!({"user": {"id": "u1"}, "acl": {"table": {}}}),
        )
        .expect("parses");
        run(
            &unread,
            &[(
                Put,
                "Case/c1",
                Some(json!({"status": "Closed"})),
                blocked_at("status"),
            )],
        );
        // EspoCRM 9+: internal notes only where streamDefs allow them. Case keeps the flag;
        // an Account post would lose it, and is refused once Accounts' posts are mailed.
        let modern = schema_with(
            json!({"streamEmailNotificationsEntityList": ["Case", "Account"]}),
            json!({"Case": {"allowInternalNotes": true}}),
        );
        run(
            &modern,
            &[
                case_post.clone(),
                (
                    Post,
                    "Note",
                    Some(json!({"parentType": "Account", "parentId": "a1", "isInternal": true})),
                    blocked_at("parentType"),
                ),
            ],
        );
        assert!(!post_reaches_portal(&modern, "Case"));
        assert!(post_reaches_portal(&modern, "Account"));
        assert!(!post_reaches_portal(&schema(), "Account"));
    }

    #[test]
    fn should_report_the_notifications_espocrm_sends_its_users() {
        let report = notification_report(&schema().notifications);
        let row = |name: &str| {
            report
                .iter()
                .find(|(setting, _)| *setting == name)
                .map(|(_, state)| state.clone())
                .unwrap_or_default()
        };
        assert_eq!(row("assignment mail"), "off");
        assert!(
            row("mention mail").starts_with("not readable"),
            "{report:?}"
        );
        assert!(
            row("portal stream").starts_with("on: status changes of Case"),
            "{report:?}"
        );
        assert_eq!(row("stream types"), "Post, Status, EmailReceived");
    }

    #[test]
    fn should_name_the_field_and_reason_in_the_tool_error() {
        let blocked = check(
            &request(
                Method::Post,
                "Meeting",
                Some(json!({"reminders": [{"type": "Email", "seconds": 60}]})),
            ),
            &schema(),
        )
        .expect_err("an Email reminder");
        let error = ToolError::from(blocked);
        assert_eq!(error.code, ErrorCode::SendBlocked);
        assert!(
            error.message.contains("Meeting.reminders[0]"),
            "{}",
            error.message
        );
        assert!(error.message.contains("\"Email\""), "{}", error.message);
        assert!(error.suggestion.contains("Popup"), "{}", error.suggestion);
        let details = error.to_json();
        assert_eq!(
            details["error"]["details"]["field"], "reminders",
            "{details}"
        );
        assert_eq!(details["error"]["details"]["entityType"], "Meeting");

        // A value from the caller is shown cut short, never whole.
        let long = "x".repeat(10_000);
        let blocked = check(
            &request(
                Method::Post,
                "Meeting",
                Some(json!({"reminders": [{"type": long}]})),
            ),
            &schema(),
        )
        .expect_err("an unknown reminder type");
        assert!(blocked.to_string().len() < 1_000, "{blocked}");
    }

    /// Every write a tool sends goes through the policy in `ToolContext::send`: raw requests no
    /// tool would build (as a tool written next year might) are refused there, and the
    /// in-process sandbox sees no write.
    #[tokio::test]
    async fn should_refuse_raw_writes_in_tool_context_send_without_reaching_espocrm() {
        use crate::config::{Config, LoadOptions};
        let loaded = Config::load(LoadOptions {
            demo: true,
            ..LoadOptions::default()
        })
        .expect("the demo configuration loads");
        let runtime = crate::runtime::Runtime::start(&loaded.config)
            .await
            .expect("espomcp starts on the demo sandbox");
        let ctx = runtime.server.ctx.clone();
        let Some(sandbox) = runtime.sandbox.as_ref() else {
            panic!("demo mode runs a sandbox");
        };
        let writes = || -> Vec<(String, u64)> {
            sandbox
                .stats()
                .requests_by_route
                .into_iter()
                .filter(|(route, _)| !route.starts_with("GET "))
                .collect()
        };
        let first = |entity: &'static str| {
            let ctx = ctx.clone();
            async move {
                let page = ctx
                    .send(EspoRequest::get([entity]).with_query("maxSize", "1"))
                    .await
                    .expect("reads pass");
                page["list"][0]["id"].as_str().expect("an id").to_owned()
            }
        };
        let case = first("Case").await;
        let lead = first("Lead").await;
        let refused = [
            EspoRequest::post(
                ["Email", "action", "sendTestEmail"],
                json!({"emailAddress": "x@example.org"}),
            ),
            EspoRequest::post(
                ["Email"],
                json!({"status": "Sending", "to": "x@example.org"}),
            ),
            EspoRequest::post(
                ["Meeting"],
                json!({"name": "m", "reminders": [{"type": "Email", "seconds": 60}]}),
            ),
            EspoRequest::post(
                ["Lead", lead.as_str(), "targetLists"],
                json!({"id": "0123456789abcdef0"}),
            ),
            EspoRequest::new(Method::Put, ["Lead", lead.as_str()])
                .with_body(json!({"campaignId": "0123456789abcdef0"})),
            EspoRequest::post(
                ["Note"],
                json!({"type": "Post", "parentType": "Case", "parentId": case, "post": "x"}),
            ),
            EspoRequest::new(Method::Put, ["Case", case.as_str()])
                .with_body(json!({"status": "Closed"})),
            EspoRequest::post(
                ["Meeting", "action", "sendInvitations"],
                json!({"id": "0123456789abcdef0"}),
            ),
        ];
        for request in refused {
            let described = format!("{} {:?}", request.describe(), request.body);
            let before = writes();
            let error = ctx.send(request).await.expect_err(&described);
            assert_eq!(error.code, ErrorCode::SendBlocked, "{described}: {error:?}");
            assert_eq!(writes(), before, "{described} reached EspoCRM");
        }
        // What the policy allows still goes through.
        let note = ctx
            .send(EspoRequest::post(
                ["Note"],
                json!({"type": "Post", "parentType": "Case", "parentId": case, "post": "x", "isInternal": true}),
            ))
            .await
            .expect("an internal note passes");
        assert_eq!(note["isInternal"], json!(true));
        runtime.stop().await;
    }
}
