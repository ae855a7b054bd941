//! The errors a tool call can end with, as the MCP client sees them.
//!
//! A tool that ran and failed returns a [`ToolError`]: a stable [`ErrorCode`] that a model or a
//! script can branch on, a message saying what went wrong, a suggestion saying what to do next,
//! and whether the same call may succeed if simply tried again. It is sent as
//! `{"error": {"code", "message", "suggestion", "retryable"}}` (see [`ToolError::to_json`]).
//! The codes are part of espomcp's interface: they are never renamed, only added.
//!
//! Failed requests to EspoCRM arrive as [`UpstreamError`]s and are mapped here, in one place,
//! using what EspoCRM says about them (status, `X-Status-Reason`, the body where it sends one),
//! so a 404 for an unknown entity type, a 400 for a missing required field or a 403 for a link to
//! a record that does not exist each become the precise code rather than a generic upstream error.
//! Neither the messages nor the details ever carry the API key or a response body wholesale.

use std::fmt;
use std::time::Duration;

use espomcp_actors::UpstreamError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// What kind of failure a tool call ended with. Serialised as the SCREAMING_SNAKE name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The entity type does not exist, or the API user may not use it.
    InvalidEntityType,
    /// The field (attribute) is not one of the entity type's.
    InvalidField,
    /// The `where` operator does not exist or does not apply to the field's type.
    InvalidOperator,
    /// No record with that id (or the API user may not see it).
    RecordNotFound,
    /// The link (relationship) name is not one of the entity type's.
    InvalidLink,
    /// EspoCRM rejected the API key.
    AuthFailed,
    /// The API user's role does not allow this.
    PermissionDenied,
    /// Too many requests; wait and try again.
    RateLimited,
    /// EspoCRM failed, could not be reached, or answered something unexpected.
    UpstreamError,
    /// EspoCRM did not answer in time.
    UpstreamTimeout,
    /// A field the entity type requires was not given.
    MissingRequiredField,
    /// A value does not fit its field (enum option, format, range).
    InvalidFieldValue,
    /// A delete was confirmed without a live preview of that same record.
    DeleteNotConfirmed,
    /// Creating the record would duplicate existing ones.
    DuplicateDetected,
    /// The prompt or email template does not exist.
    TemplateNotFound,
    /// The call would send an email; espomcp only writes drafts.
    SendBlocked,
    /// An argument is malformed or out of range.
    InvalidArgument,
    /// A string given as a record id cannot be one.
    InvalidId,
    /// Deletes need a person's confirmation (`SERVER_DELETE_CONFIRMATION=human`), and this
    /// client cannot ask one (no form elicitation).
    HumanConfirmationUnavailable,
    /// The person declined (or dismissed) the confirmation of a delete; nothing was deleted.
    DeleteDeclined,
    /// The tool is switched off on this server (read-only mode or its toolset not served).
    ToolDisabled,
    /// The record changed since the `versionNumber` the update was based on; the current values
    /// and version are in `details`.
    RecordChanged,
    /// The record is locked: nothing can change or delete it until someone with lock permission
    /// unlocks it.
    RecordLocked,
    /// EspoCRM refused the request because it conflicts with the current state (a 409 that is
    /// neither a duplicate, a changed record nor a locked one).
    Conflict,
}

impl ErrorCode {
    /// Every code, in the order of the documentation.
    pub const ALL: [Self; 24] = [
        Self::InvalidEntityType,
        Self::InvalidField,
        Self::InvalidOperator,
        Self::RecordNotFound,
        Self::InvalidLink,
        Self::AuthFailed,
        Self::PermissionDenied,
        Self::RateLimited,
        Self::UpstreamError,
        Self::UpstreamTimeout,
        Self::MissingRequiredField,
        Self::InvalidFieldValue,
        Self::DeleteNotConfirmed,
        Self::DuplicateDetected,
        Self::TemplateNotFound,
        Self::SendBlocked,
        Self::InvalidArgument,
        Self::InvalidId,
        Self::HumanConfirmationUnavailable,
        Self::DeleteDeclined,
        Self::ToolDisabled,
        Self::RecordChanged,
        Self::RecordLocked,
        Self::Conflict,
    ];

    /// The stable name, as sent to clients.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidEntityType => "INVALID_ENTITY_TYPE",
            Self::InvalidField => "INVALID_FIELD",
            Self::InvalidOperator => "INVALID_OPERATOR",
            Self::RecordNotFound => "RECORD_NOT_FOUND",
            Self::InvalidLink => "INVALID_LINK",
            Self::AuthFailed => "AUTH_FAILED",
            Self::PermissionDenied => "PERMISSION_DENIED",
            Self::RateLimited => "RATE_LIMITED",
            Self::UpstreamError => "UPSTREAM_ERROR",
            Self::UpstreamTimeout => "UPSTREAM_TIMEOUT",
            Self::MissingRequiredField => "MISSING_REQUIRED_FIELD",
            Self::InvalidFieldValue => "INVALID_FIELD_VALUE",
            Self::DeleteNotConfirmed => "DELETE_NOT_CONFIRMED",
            Self::DuplicateDetected => "DUPLICATE_DETECTED",
            Self::TemplateNotFound => "TEMPLATE_NOT_FOUND",
            Self::SendBlocked => "SEND_BLOCKED",
            Self::InvalidArgument => "INVALID_ARGUMENT",
            Self::InvalidId => "INVALID_ID",
            Self::HumanConfirmationUnavailable => "HUMAN_CONFIRMATION_UNAVAILABLE",
            Self::DeleteDeclined => "DELETE_DECLINED",
            Self::ToolDisabled => "TOOL_DISABLED",
            Self::RecordChanged => "RECORD_CHANGED",
            Self::RecordLocked => "RECORD_LOCKED",
            Self::Conflict => "CONFLICT",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tool call that ran and failed, with what to do about it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ToolError {
    pub code: ErrorCode,
    /// What went wrong, in one or two sentences, naming the values involved.
    pub message: String,
    /// The next step most likely to help: a tool to call, a setting to check.
    pub suggestion: String,
    /// Whether the same call, unchanged, may succeed later.
    pub retryable: bool,
    /// Structured facts a caller can act on, e.g. the ids of duplicates or the seconds to wait.
    pub details: Option<Value>,
}

impl ToolError {
    /// An error with no details; the constructors below fill in the usual message and advice.
    pub fn new(
        code: ErrorCode,
        message: impl Into<String>,
        suggestion: impl Into<String>,
        retryable: bool,
    ) -> Self {
        Self {
            code,
            message: message.into(),
            suggestion: suggestion.into(),
            retryable,
            details: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn with_suggestion(mut self, suggestion: impl Into<String>) -> Self {
        self.suggestion = suggestion.into();
        self
    }

    /// `{"error": {"code", "message", "suggestion", "retryable", "details"?}}`, the body of an
    /// `isError` tool result.
    pub fn to_json(&self) -> Value {
        let mut error = Map::new();
        error.insert("code".into(), Value::from(self.code.as_str()));
        error.insert("message".into(), Value::from(self.message.as_str()));
        error.insert("suggestion".into(), Value::from(self.suggestion.as_str()));
        error.insert("retryable".into(), Value::from(self.retryable));
        if let Some(details) = &self.details {
            error.insert("details".into(), details.clone());
        }
        json!({ "error": error })
    }

    pub fn invalid_entity_type(entity_type: &str) -> Self {
        Self::new(
            ErrorCode::InvalidEntityType,
            format!("There is no entity type {entity_type:?} the API user can use"),
            "Call list_entity_types to see the entity types, spelled exactly (e.g. Account, Contact)",
            false,
        )
        .with_details(json!({ "entityType": entity_type }))
    }

    pub fn invalid_field(entity_type: &str, field: &str) -> Self {
        Self::new(
            ErrorCode::InvalidField,
            format!("{entity_type} has no field {field:?}"),
            format!("Call get_schema for {entity_type} to see its fields"),
            false,
        )
        .with_details(json!({ "entityType": entity_type, "field": field }))
    }

    /// `allowed` is what the field's type accepts; empty when the operator is unknown altogether.
    pub fn invalid_operator(field: &str, operator: &str, allowed: &[&str]) -> Self {
        let suggestion = if allowed.is_empty() {
            "Use one of the where operators listed in the tool description".to_owned()
        } else {
            format!("Use one of: {}", allowed.join(", "))
        };
        Self::new(
            ErrorCode::InvalidOperator,
            format!("The operator {operator:?} cannot be used on the field {field:?}"),
            suggestion,
            false,
        )
        .with_details(json!({ "field": field, "operator": operator, "allowed": allowed }))
    }

    pub fn record_not_found(entity_type: &str, id: &str) -> Self {
        Self::new(
            ErrorCode::RecordNotFound,
            format!("There is no {entity_type} with id {id:?}, or the API user may not see it"),
            format!("Call search on {entity_type} to find the record and use the id it returns"),
            false,
        )
        .with_details(json!({ "entityType": entity_type, "id": id }))
    }

    pub fn invalid_link(entity_type: &str, link: &str) -> Self {
        Self::new(
            ErrorCode::InvalidLink,
            format!("{entity_type} has no link {link:?}"),
            format!("Call get_schema for {entity_type} to see its links"),
            false,
        )
        .with_details(json!({ "entityType": entity_type, "link": link }))
    }

    pub fn auth_failed() -> Self {
        Self::new(
            ErrorCode::AuthFailed,
            "EspoCRM rejected the API key",
            "Check ESPOCRM_API_KEY: it must be the key of an active API user \
             (Administration > API Users) of the EspoCRM at ESPOCRM_URL",
            false,
        )
    }

    /// `reason` is EspoCRM's own, e.g. `No edit access.`.
    pub fn permission_denied(reason: Option<&str>) -> Self {
        let message = match reason.filter(|reason| !reason.trim().is_empty()) {
            Some(reason) => format!("EspoCRM denied access: {reason}"),
            None => "EspoCRM denied access".to_owned(),
        };
        Self::new(
            ErrorCode::PermissionDenied,
            message,
            "Check the role of the API user in EspoCRM (Administration > Roles): it needs this \
             access to this entity type",
            false,
        )
    }

    pub fn rate_limited(retry_after: Option<Duration>) -> Self {
        let (message, suggestion) = match retry_after {
            Some(wait) => (
                format!(
                    "Too many requests; EspoCRM asks to wait {} s",
                    wait.as_secs()
                ),
                format!("Wait {} s, then try again", wait.as_secs()),
            ),
            None => (
                "Too many requests to EspoCRM".to_owned(),
                "Wait a few seconds, then try again".to_owned(),
            ),
        };
        let error = Self::new(ErrorCode::RateLimited, message, suggestion, true);
        match retry_after {
            Some(wait) => error.with_details(json!({ "retryAfterSecs": wait.as_secs() })),
            None => error,
        }
    }

    pub fn upstream_error(message: impl Into<String>, retryable: bool) -> Self {
        let suggestion = if retryable {
            "Try again in a moment; if it keeps failing, check that EspoCRM is up"
        } else {
            "This is unlikely to work if tried again unchanged; check the arguments, or ask an \
             administrator to look at EspoCRM's log"
        };
        Self::new(ErrorCode::UpstreamError, message, suggestion, retryable)
    }

    pub fn upstream_timeout() -> Self {
        Self::new(
            ErrorCode::UpstreamTimeout,
            "EspoCRM did not answer within the request timeout",
            "Try again; for large lists ask for fewer records or fields \
             (or raise ESPOCRM_TIMEOUT_SECS)",
            true,
        )
    }

    pub fn missing_required_field(entity_type: &str, field: &str) -> Self {
        Self::new(
            ErrorCode::MissingRequiredField,
            format!("{entity_type} requires the field {field:?}"),
            format!("Give a value for {field}; get_schema for {entity_type} lists required fields"),
            false,
        )
        .with_details(json!({ "entityType": entity_type, "field": field }))
    }

    /// `problem` says what is wrong with the value, e.g. `is not one of the options`.
    pub fn invalid_field_value(entity_type: &str, field: &str, problem: &str) -> Self {
        Self::new(
            ErrorCode::InvalidFieldValue,
            format!("The value of {entity_type}.{field} {problem}"),
            format!("Call get_schema for {entity_type} to see the type and options of {field}"),
            false,
        )
        .with_details(json!({ "entityType": entity_type, "field": field }))
    }

    /// No live preview of this record: never previewed, already claimed, or expired.
    pub fn delete_not_confirmed(entity_type: &str, id: &str) -> Self {
        Self::new(
            ErrorCode::DeleteNotConfirmed,
            format!(
                "There is no pending delete preview for {entity_type} {id:?}; \
                 it was never previewed, already used, or has expired"
            ),
            "Call delete with confirm: false to preview the record, show it to the user, then \
             call delete with confirm: true before the preview expires",
            false,
        )
        .with_details(json!({ "entityType": entity_type, "id": id }))
    }

    /// Human confirmation of deletes is on, and the client cannot ask the person; `why` says
    /// what is missing, e.g. `this client does not support form elicitation`.
    pub fn human_confirmation_unavailable(entity_type: &str, id: &str, why: &str) -> Self {
        Self::new(
            ErrorCode::HumanConfirmationUnavailable,
            format!(
                "Deleting {entity_type} {id:?} needs a person's confirmation, and it cannot be \
                 asked: {why}; nothing was deleted"
            ),
            "Delete the record in EspoCRM's web UI, use an MCP client that supports form \
             elicitation, or ask the operator to set SERVER_DELETE_CONFIRMATION=agent",
            false,
        )
        .with_details(json!({ "entityType": entity_type, "id": id }))
    }

    /// The person did not say yes to a delete: `action` is `decline`, `cancel`, `accept`
    /// (accepted the form without ticking `confirm`) or `timeout` (did not answer in time).
    pub fn delete_declined(entity_type: &str, id: &str, action: &str) -> Self {
        let what = match action {
            "cancel" => "dismissed the confirmation of",
            "accept" => "did not tick confirm for",
            "timeout" => "did not answer in time about",
            _ => "declined",
        };
        Self::new(
            ErrorCode::DeleteDeclined,
            format!(
                "The person {what} the delete of {entity_type} {id:?}; nothing was deleted and \
                 the preview is used up"
            ),
            "Do not delete this record unless the person asks again; then preview it again \
             (confirm: false) before confirming",
            false,
        )
        .with_details(json!({ "entityType": entity_type, "id": id, "action": action }))
    }

    /// `duplicates` are the existing records as (id, name).
    pub fn duplicate_detected(entity_type: Option<&str>, duplicates: &[(String, String)]) -> Self {
        let what = entity_type.unwrap_or("record");
        let names: Vec<String> = duplicates
            .iter()
            .map(|(id, name)| format!("{name:?} ({id})"))
            .collect();
        let message = if names.is_empty() {
            format!("EspoCRM found existing records that this {what} would duplicate")
        } else {
            format!(
                "EspoCRM found existing records that this {what} would duplicate: {}",
                names.join(", ")
            )
        };
        let list: Vec<Value> = duplicates
            .iter()
            .map(|(id, name)| json!({ "id": id, "name": name }))
            .collect();
        Self::new(
            ErrorCode::DuplicateDetected,
            message,
            "Update one of the existing records instead, or ask the user whether a new one is \
             really wanted",
            false,
        )
        .with_details(json!({ "duplicates": list }))
    }

    /// A save based on a stale `versionNumber` (409 `modified`): `values` are the stored values
    /// of the attributes it would have changed, `version_number` the record's version now.
    pub fn record_changed(values: Value, version_number: Option<i64>) -> Self {
        let now = version_number
            .map(|version| format!(" (it is at versionNumber {version} now)"))
            .unwrap_or_default();
        Self::new(
            ErrorCode::RecordChanged,
            format!(
                "Someone changed the record since the versionNumber this update was based \
                 on{now}; nothing was saved"
            ),
            "Do not overwrite the other change: read the record again (get), check whether \
             your change still makes sense against the current values, then update with the \
             new versionNumber",
            false,
        )
        .with_details(json!({ "values": values, "versionNumber": version_number }))
    }

    /// A locked record refused a change (`field` is the label EspoCRM names) or its delete.
    pub fn record_locked(deleting: bool, field: Option<&str>) -> Self {
        let refused = match (deleting, field) {
            (true, _) => "EspoCRM refuses to delete it".to_owned(),
            (false, Some(field)) => format!("EspoCRM refuses to change its field {field:?}"),
            (false, None) => "EspoCRM refuses to change it".to_owned(),
        };
        let mut details = json!({ "action": if deleting { "delete" } else { "update" } });
        if let Some(field) = field {
            details["field"] = Value::from(field);
        }
        Self::new(
            ErrorCode::RecordLocked,
            format!(
                "The record is locked: {refused}, and nothing can change or delete it until \
                 someone with lock permission unlocks it; nothing was {}",
                if deleting { "deleted" } else { "saved" }
            ),
            format!(
                "Leave the record as it is and tell the user it is locked; only a person with \
                 lock permission (an administrator, or a role with it) can unlock it in EspoCRM{}",
                if deleting {
                    ". Any preview of this delete is used up: preview again once it is unlocked"
                } else {
                    ""
                }
            ),
            false,
        )
        .with_details(details)
    }

    /// A 409 for another reason: `reason` and `label` are EspoCRM's (`X-Status-Reason` and
    /// `messageTranslation.label`).
    pub fn conflict(reason: Option<&str>, label: Option<&str>) -> Self {
        let said = reason
            .or(label)
            .filter(|said| !said.trim().is_empty())
            .map(|said| format!(": {said}"))
            .unwrap_or_default();
        let mut error = Self::new(
            ErrorCode::Conflict,
            format!("EspoCRM refused the request as conflicting with the current state{said}"),
            "Read the records involved to see their current state, then decide with the user; \
             the same call is unlikely to work unchanged",
            false,
        );
        if let Some(label) = label {
            error = error.with_details(json!({ "label": label }));
        }
        error
    }

    /// Adds the record a failed write was about (`entityType`, `id`) to the details of errors
    /// that come from EspoCRM without naming it (RECORD_CHANGED, RECORD_LOCKED, CONFLICT).
    pub fn about_record(mut self, entity_type: &str, id: &str) -> Self {
        if matches!(
            self.code,
            ErrorCode::RecordChanged | ErrorCode::RecordLocked | ErrorCode::Conflict
        ) {
            let details = self.details.get_or_insert_with(|| json!({}));
            if let Some(details) = details.as_object_mut() {
                details.insert("entityType".into(), Value::from(entity_type));
                details.insert("id".into(), Value::from(id));
            }
        }
        self
    }

    pub fn template_not_found(template: &str) -> Self {
        Self::new(
            ErrorCode::TemplateNotFound,
            format!("There is no template {template:?}"),
            "Call search on EmailTemplate to find the templates and use the id it returns",
            false,
        )
        .with_details(json!({ "template": template }))
    }

    /// `what` is the write that was refused, e.g. `create of an Email`.
    pub fn send_blocked(what: &str) -> Self {
        Self::new(
            ErrorCode::SendBlocked,
            format!("Refused {what}: espomcp never sends email, it only writes drafts"),
            "Call draft_email to create a draft; a person reviews and sends it in EspoCRM",
            false,
        )
    }

    /// A call to a tool this server does not serve; `why` completes "… because …".
    pub fn tool_disabled(tool: &str, why: &str, served: &[String]) -> Self {
        let suggestion = if served.is_empty() {
            "This server serves no tools in its current configuration".to_owned()
        } else {
            format!("Use only the tools tools/list shows: {}", served.join(", "))
        };
        Self::new(
            ErrorCode::ToolDisabled,
            format!("The tool {tool:?} is switched off on this server: {why}"),
            suggestion,
            false,
        )
        .with_details(json!({"tool": tool}))
    }

    /// `problem` completes "The argument X ...", e.g. `must be between 1 and 200 (got 500)`.
    pub fn invalid_argument(argument: &str, problem: &str) -> Self {
        Self::new(
            ErrorCode::InvalidArgument,
            format!("The argument {argument:?} {problem}"),
            "Fix the argument as described and call again",
            false,
        )
        .with_details(json!({ "argument": argument }))
    }

    /// A tool call that ran out of SERVER_CALL_TIMEOUT_SECS (server.rs), EspoCRM being slow or
    /// not answering; a write may still have happened.
    pub fn call_timed_out(limit: std::time::Duration) -> Self {
        Self::new(
            ErrorCode::UpstreamTimeout,
            format!(
                "The call did not finish within {} s (SERVER_CALL_TIMEOUT_SECS): EspoCRM \
                 answered too slowly or not at all",
                limit.as_secs()
            ),
            "Try again later; a write may still have happened, so read the record (get or \
             search) before writing again. If EspoCRM is just slow, raise \
             SERVER_CALL_TIMEOUT_SECS (and the client's own timeout)",
            true,
        )
    }

    pub fn invalid_id(id: &str) -> Self {
        Self::new(
            ErrorCode::InvalidId,
            format!("{id:?} is not a record id"),
            "Use an id exactly as a previous search or read returned it (EspoCRM ids are 17 \
             characters, e.g. 6571a3c2e4b1f0d2a)",
            false,
        )
        .with_details(json!({ "id": id }))
    }
}

/// Reads EspoCRM's answer for the precise code it implies, then falls back on the status.
impl From<UpstreamError> for ToolError {
    fn from(error: UpstreamError) -> Self {
        let transient = error.is_transient();
        match error {
            UpstreamError::AuthFailed => Self::auth_failed(),
            UpstreamError::PermissionDenied { reason, body } => {
                from_forbidden(reason.as_deref(), &body)
            }
            UpstreamError::NotFound { reason } => from_not_found(reason.as_deref()),
            UpstreamError::Conflict { duplicates, .. } => {
                Self::duplicate_detected(None, &duplicate_list(&duplicates))
            }
            UpstreamError::Modified {
                values,
                version_number,
            } => Self::record_changed(values, version_number),
            UpstreamError::Locked { reason, field } => {
                Self::record_locked(reason == "cannotRemoveLockedRecord", field.as_deref())
            }
            UpstreamError::OtherConflict { reason, body } => {
                let label = body
                    .pointer("/messageTranslation/label")
                    .and_then(Value::as_str)
                    .map(|label| espomcp_actors::bounded(label, 100));
                Self::conflict(reason.as_deref(), label.as_deref())
            }
            UpstreamError::RateLimited { retry_after } => Self::rate_limited(retry_after),
            UpstreamError::Timeout => Self::upstream_timeout(),
            UpstreamError::Connection { message } => {
                Self::upstream_error(format!("Could not reach EspoCRM: {message}"), true)
            }
            UpstreamError::Unavailable { actor, message } => Self::upstream_error(
                format!("espomcp's {actor} is not available: {message}"),
                true,
            ),
            UpstreamError::Status { status, reason, .. } => {
                from_status(status, reason.as_deref(), transient)
            }
            UpstreamError::InvalidResponse { status, message } => Self::upstream_error(
                format!("EspoCRM's answer (status {status}) could not be understood: {message}"),
                false,
            )
            .with_suggestion(
                "Check that ESPOCRM_URL points at EspoCRM itself, not at a login page or proxy",
            ),
            UpstreamError::ResponseTooLarge { status, limit } => Self::upstream_error(
                format!(
                    "EspoCRM's answer (status {status}) is larger than the cap of {} MiB set by \
                     ESPOCRM_MAX_RESPONSE_MIB; espomcp stopped reading it",
                    limit.div_ceil(1024 * 1024)
                ),
                false,
            )
            .with_suggestion(
                "Ask for less (a smaller limit, fewer fields with select, a narrower where), or \
                 raise ESPOCRM_MAX_RESPONSE_MIB if answers this large are expected",
            ),
            UpstreamError::InvalidRequest { message } => Self::new(
                ErrorCode::InvalidArgument,
                format!("The request was not sent: {message}"),
                "Fix the names and ids in the arguments and call again",
                false,
            ),
            // A variant added to `UpstreamError` later: say what it is, generically.
            other => Self::upstream_error(other.to_string(), transient),
        }
    }
}

/// 403: a link to a record that does not exist is EspoCRM's way of saying "not found".
fn from_forbidden(reason: Option<&str>, body: &Value) -> ToolError {
    let label = body
        .pointer("/messageTranslation/label")
        .and_then(Value::as_str);
    if label == Some("cannotRelateNonExisting") {
        let foreign = body
            .pointer("/messageTranslation/data/foreignEntityType")
            .and_then(Value::as_str)
            .map_or("record".into(), |name| espomcp_actors::bounded(name, 100));
        return ToolError::new(
            ErrorCode::RecordNotFound,
            format!(
                "The {foreign} to link to does not exist{}",
                reason
                    .map(|r| format!(" (EspoCRM: {r})"))
                    .unwrap_or_default()
            ),
            format!("Call search on {foreign} to find the record and use the id it returns"),
            false,
        )
        .with_details(json!({ "entityType": foreign }));
    }
    ToolError::permission_denied(reason)
}

/// 404: EspoCRM names the missing controller when the entity type itself is unknown, and
/// (since 10) the link when a link is unknown.
fn from_not_found(reason: Option<&str>) -> ToolError {
    if let Some(entity_type) = reason.and_then(unknown_controller) {
        return ToolError::invalid_entity_type(entity_type);
    }
    if let Some((entity_type, link)) = reason.and_then(unknown_link) {
        return ToolError::invalid_link(entity_type, link);
    }
    if reason.is_some_and(|reason| reason.trim() == "Link does not exist.") {
        return ToolError::new(
            ErrorCode::InvalidLink,
            "EspoCRM says the link does not exist",
            "Call get_schema for the entity type to see its links",
            false,
        );
    }
    let message = match reason.filter(|reason| !reason.trim().is_empty()) {
        Some(reason) => format!("EspoCRM found nothing there: {reason}"),
        None => "EspoCRM found no such record".to_owned(),
    };
    ToolError::new(
        ErrorCode::RecordNotFound,
        message,
        "Check the id: call search to find the record and use the id it returns",
        false,
    )
}

/// `Controller 'FooBar' does not exist.` → `FooBar`.
fn unknown_controller(reason: &str) -> Option<&str> {
    let rest = reason.strip_prefix("Controller '")?;
    let (name, tail) = rest.split_once('\'')?;
    tail.trim_start()
        .starts_with("does not exist")
        .then_some(name)
}

/// `Entity Account does not have link bogusLink.` → (`Account`, `bogusLink`).
fn unknown_link(reason: &str) -> Option<(&str, &str)> {
    let rest = reason.strip_prefix("Entity ")?;
    let (entity_type, rest) = rest.split_once(" does not have link ")?;
    let link = rest.trim_end().strip_suffix('.')?;
    (!entity_type.contains(' ') && !link.contains(' ')).then_some((entity_type, link))
}

/// The most duplicates a 409 error names; EspoCRM itself lists at most a handful.
const MAX_DUPLICATES_SHOWN: usize = 20;

/// The most characters of a duplicate's id or name quoted.
const MAX_DUPLICATE_TEXT: usize = 200;

/// 409's body is an array of the existing records; keep only what identifies them, bounded.
fn duplicate_list(duplicates: &Value) -> Vec<(String, String)> {
    let Some(records) = duplicates.as_array() else {
        return Vec::new();
    };
    records
        .iter()
        .take(MAX_DUPLICATES_SHOWN)
        .map(|record| {
            let field = |name: &str| {
                let text = record.get(name).and_then(Value::as_str).unwrap_or_default();
                espomcp_actors::bounded(text, MAX_DUPLICATE_TEXT).into_owned()
            };
            (field("id"), field("name"))
        })
        .collect()
}

/// Any other status. A 400 validation failure names the field and the check that failed:
/// `Field validation failure; entityType: Contact, field: lastName, type: required.`
fn from_status(status: u16, reason: Option<&str>, transient: bool) -> ToolError {
    if let Some(failure) = reason.and_then(ValidationFailure::parse) {
        return if failure.check == "required" {
            ToolError::missing_required_field(failure.entity_type, failure.field)
        } else {
            ToolError::invalid_field_value(
                failure.entity_type,
                failure.field,
                &format!("failed EspoCRM's {:?} check", failure.check),
            )
        };
    }
    let message = match reason.filter(|reason| !reason.trim().is_empty()) {
        Some(reason) => format!("EspoCRM answered {status}: {reason}"),
        None => format!("EspoCRM answered {status}"),
    };
    let error = ToolError::upstream_error(message, transient);
    if status == 500 {
        // EspoCRM answers 500 to malformed requests too (an unknown link, a bad `where` item).
        error.with_suggestion(
            "EspoCRM failed on this request; it does so for unknown link names and malformed \
             filters too, so check them with get_schema before trying again",
        )
    } else {
        error
    }
}

struct ValidationFailure<'a> {
    entity_type: &'a str,
    field: &'a str,
    check: &'a str,
}

impl<'a> ValidationFailure<'a> {
    fn parse(reason: &'a str) -> Option<Self> {
        let rest = reason.strip_prefix("Field validation failure;")?;
        let mut entity_type = None;
        let mut field = None;
        let mut check = None;
        for part in rest.trim().trim_end_matches('.').split(',') {
            let (key, value) = part.split_once(':')?;
            let value = value.trim();
            match key.trim() {
                "entityType" => entity_type = Some(value),
                "field" => field = Some(value),
                "type" => check = Some(value),
                _ => {}
            }
        }
        Some(Self {
            entity_type: entity_type?,
            field: field?,
            check: check?,
        })
    }
}

impl From<crate::validate::ValidationError> for ToolError {
    fn from(e: crate::validate::ValidationError) -> Self {
        ToolError::new(e.code(), e.message(), e.suggestion(), false)
    }
}

impl From<crate::validate::write::WriteErrors> for ToolError {
    fn from(e: crate::validate::write::WriteErrors) -> Self {
        ToolError::new(e.code(), e.message(), e.suggestion(), false).with_details(e.details())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_name_every_code_in_screaming_snake_case_and_serialise_it_so() {
        let expected = [
            "INVALID_ENTITY_TYPE",
            "INVALID_FIELD",
            "INVALID_OPERATOR",
            "RECORD_NOT_FOUND",
            "INVALID_LINK",
            "AUTH_FAILED",
            "PERMISSION_DENIED",
            "RATE_LIMITED",
            "UPSTREAM_ERROR",
            "UPSTREAM_TIMEOUT",
            "MISSING_REQUIRED_FIELD",
            "INVALID_FIELD_VALUE",
            "DELETE_NOT_CONFIRMED",
            "DUPLICATE_DETECTED",
            "TEMPLATE_NOT_FOUND",
            "SEND_BLOCKED",
            "INVALID_ARGUMENT",
            "INVALID_ID",
            "HUMAN_CONFIRMATION_UNAVAILABLE",
            "DELETE_DECLINED",
            "TOOL_DISABLED",
            "RECORD_CHANGED",
            "RECORD_LOCKED",
            "CONFLICT",
        ];
        for (code, name) in ErrorCode::ALL.into_iter().zip(expected) {
            assert_eq!(code.as_str(), name);
            assert_eq!(code.to_string(), name);
            assert_eq!(serde_json::to_value(code).ok(), Some(Value::from(name)));
            assert_eq!(
                serde_json::from_value::<ErrorCode>(Value::from(name)).ok(),
                Some(code)
            );
        }
    }

    #[test]
    fn should_build_each_code_with_a_message_a_suggestion_and_retryability() {
        let cases: Vec<(ToolError, ErrorCode, bool, &str, &str)> = vec![
            (
                ToolError::invalid_entity_type("Acount"),
                ErrorCode::InvalidEntityType,
                false,
                "\"Acount\"",
                "list_entity_types",
            ),
            (
                ToolError::invalid_field("Contact", "fristName"),
                ErrorCode::InvalidField,
                false,
                "\"fristName\"",
                "get_schema for Contact",
            ),
            (
                ToolError::invalid_operator("amount", "like", &["equals", "greaterThan"]),
                ErrorCode::InvalidOperator,
                false,
                "\"like\"",
                "equals, greaterThan",
            ),
            (
                ToolError::record_not_found("Account", "0123456789abcdef0"),
                ErrorCode::RecordNotFound,
                false,
                "0123456789abcdef0",
                "search on Account",
            ),
            (
                ToolError::invalid_link("Account", "contatcs"),
                ErrorCode::InvalidLink,
                false,
                "\"contatcs\"",
                "its links",
            ),
            (
                ToolError::auth_failed(),
                ErrorCode::AuthFailed,
                false,
                "rejected the API key",
                "ESPOCRM_API_KEY",
            ),
            (
                ToolError::permission_denied(Some("No edit access.")),
                ErrorCode::PermissionDenied,
                false,
                "No edit access.",
                "role of the API user",
            ),
            (
                ToolError::rate_limited(Some(Duration::from_secs(7))),
                ErrorCode::RateLimited,
                true,
                "7 s",
                "Wait 7 s",
            ),
            (
                ToolError::upstream_error("EspoCRM answered 502", true),
                ErrorCode::UpstreamError,
                true,
                "502",
                "Try again",
            ),
            (
                ToolError::upstream_timeout(),
                ErrorCode::UpstreamTimeout,
                true,
                "timeout",
                "ESPOCRM_TIMEOUT_SECS",
            ),
            (
                ToolError::missing_required_field("Contact", "lastName"),
                ErrorCode::MissingRequiredField,
                false,
                "\"lastName\"",
                "required fields",
            ),
            (
                ToolError::invalid_field_value("Opportunity", "stage", "is not one of the options"),
                ErrorCode::InvalidFieldValue,
                false,
                "Opportunity.stage is not one of the options",
                "options of stage",
            ),
            (
                ToolError::delete_not_confirmed("Account", "0123456789abcdef0"),
                ErrorCode::DeleteNotConfirmed,
                false,
                "no pending delete preview",
                "confirm: false",
            ),
            (
                ToolError::duplicate_detected(
                    Some("Account"),
                    &[("a1".to_owned(), "Acme".to_owned())],
                ),
                ErrorCode::DuplicateDetected,
                false,
                "\"Acme\" (a1)",
                "existing records",
            ),
            (
                ToolError::template_not_found("welcome"),
                ErrorCode::TemplateNotFound,
                false,
                "\"welcome\"",
                "EmailTemplate",
            ),
            (
                ToolError::send_blocked("create of an Email"),
                ErrorCode::SendBlocked,
                false,
                "never sends email",
                "draft_email",
            ),
            (
                ToolError::invalid_argument("limit", "must be between 1 and 200 (got 500)"),
                ErrorCode::InvalidArgument,
                false,
                "\"limit\" must be between 1 and 200 (got 500)",
                "Fix the argument",
            ),
            (
                ToolError::invalid_id("../Account"),
                ErrorCode::InvalidId,
                false,
                "\"../Account\"",
                "17",
            ),
            (
                ToolError::human_confirmation_unavailable(
                    "Account",
                    "0123456789abcdef0",
                    "this client does not support form elicitation",
                ),
                ErrorCode::HumanConfirmationUnavailable,
                false,
                "needs a person's confirmation",
                "SERVER_DELETE_CONFIRMATION=agent",
            ),
            (
                ToolError::delete_declined("Account", "0123456789abcdef0", "decline"),
                ErrorCode::DeleteDeclined,
                false,
                "declined the delete",
                "preview it again",
            ),
            (
                ToolError::tool_disabled(
                    "create",
                    "the server runs read-only",
                    &["search".to_owned()],
                ),
                ErrorCode::ToolDisabled,
                false,
                "\"create\" is switched off",
                "tools/list shows: search",
            ),
            (
                ToolError::record_changed(json!({"website": "https://a.example"}), Some(3)),
                ErrorCode::RecordChanged,
                false,
                "versionNumber 3 now",
                "read the record again",
            ),
            (
                ToolError::record_locked(false, Some("Website")),
                ErrorCode::RecordLocked,
                false,
                "refuses to change its field \"Website\"",
                "lock permission",
            ),
            (
                ToolError::conflict(Some("cannotRemoveUsed"), Some("cannotRemoveUsed")),
                ErrorCode::Conflict,
                false,
                "conflicting with the current state: cannotRemoveUsed",
                "current state",
            ),
        ];
        let covered: Vec<ErrorCode> = cases.iter().map(|case| case.1).collect();
        assert_eq!(covered, ErrorCode::ALL, "one case per code, in order");
        for (error, code, retryable, in_message, in_suggestion) in cases {
            assert_eq!(error.code, code);
            assert_eq!(error.retryable, retryable, "{code}");
            assert!(
                error.message.contains(in_message),
                "{code}: {:?} lacks {in_message:?}",
                error.message
            );
            assert!(
                error.suggestion.contains(in_suggestion),
                "{code}: {:?} lacks {in_suggestion:?}",
                error.suggestion
            );
            assert_eq!(error.to_string(), format!("{code}: {}", error.message));
        }
    }

    #[test]
    fn should_render_the_error_object_with_details_only_when_present() {
        let plain = ToolError::upstream_timeout().to_json();
        assert_eq!(
            plain,
            json!({"error": {
                "code": "UPSTREAM_TIMEOUT",
                "message": "EspoCRM did not answer within the request timeout",
                "suggestion": ToolError::upstream_timeout().suggestion,
                "retryable": true,
            }})
        );
        let detailed = ToolError::rate_limited(Some(Duration::from_secs(3))).to_json();
        assert_eq!(detailed["error"]["details"], json!({"retryAfterSecs": 3}));
        assert_eq!(detailed["error"]["code"], "RATE_LIMITED");
    }

    /// One row per `UpstreamError` variant (and per reading of EspoCRM's reasons).
    #[test]
    fn should_map_every_upstream_error() {
        let cases: Vec<(&str, UpstreamError, ErrorCode, bool, &str)> = vec![
            (
                "401",
                UpstreamError::AuthFailed,
                ErrorCode::AuthFailed,
                false,
                "rejected the API key",
            ),
            (
                "403 with a reason",
                UpstreamError::PermissionDenied {
                    reason: Some("No delete access.".into()),
                    body: Value::Null,
                },
                ErrorCode::PermissionDenied,
                false,
                "No delete access.",
            ),
            (
                "403 without a reason",
                UpstreamError::PermissionDenied {
                    reason: None,
                    body: Value::Null,
                },
                ErrorCode::PermissionDenied,
                false,
                "denied access",
            ),
            (
                "403 for a link to a record that does not exist",
                UpstreamError::PermissionDenied {
                    reason: Some(
                        "Can't relate with non-existing record. entity type: Contact, link: \
                         account."
                            .into(),
                    ),
                    body: json!({"messageTranslation": {"label": "cannotRelateNonExisting",
                        "scope": null, "data": {"foreignEntityType": "Account"}}}),
                },
                ErrorCode::RecordNotFound,
                false,
                "The Account to link to does not exist",
            ),
            (
                "404 for a record",
                UpstreamError::NotFound {
                    reason: Some("Record 0123456789abcdef0 does not exist.".into()),
                },
                ErrorCode::RecordNotFound,
                false,
                "Record 0123456789abcdef0 does not exist.",
            ),
            (
                "404 for an entity type",
                UpstreamError::NotFound {
                    reason: Some("Controller 'FooBar' does not exist.".into()),
                },
                ErrorCode::InvalidEntityType,
                false,
                "\"FooBar\"",
            ),
            (
                "404 without a reason",
                UpstreamError::NotFound { reason: None },
                ErrorCode::RecordNotFound,
                false,
                "no such record",
            ),
            (
                "409",
                UpstreamError::Conflict {
                    reason: Some("duplicate".into()),
                    duplicates: json!([
                        {"id": "a1", "name": "Acme", "createdByName": "Admin"},
                        {"id": "a2", "name": "ACME"},
                    ]),
                },
                ErrorCode::DuplicateDetected,
                false,
                "\"Acme\" (a1), \"ACME\" (a2)",
            ),
            (
                "409 modified",
                UpstreamError::Modified {
                    values: json!({"description": "Updated via PUT"}),
                    version_number: Some(5),
                },
                ErrorCode::RecordChanged,
                false,
                "nothing was saved",
            ),
            (
                "409 cannotModifyLockedRecord",
                UpstreamError::Locked {
                    reason: "cannotModifyLockedRecord".into(),
                    field: Some("Description".into()),
                },
                ErrorCode::RecordLocked,
                false,
                "\"Description\"",
            ),
            (
                "409 cannotRemoveLockedRecord",
                UpstreamError::Locked {
                    reason: "cannotRemoveLockedRecord".into(),
                    field: None,
                },
                ErrorCode::RecordLocked,
                false,
                "refuses to delete it",
            ),
            (
                "409 for another reason",
                UpstreamError::OtherConflict {
                    reason: Some("Field 'cDiscountRate' already exists in 'Opportunity'.".into()),
                    body: json!({"messageTranslation": {"label": "fieldAlreadyExists"}}),
                },
                ErrorCode::Conflict,
                false,
                "already exists in 'Opportunity'",
            ),
            (
                "404 for an unknown link (EspoCRM 10, a write)",
                UpstreamError::NotFound {
                    reason: Some("Entity Account does not have link bogusLink.".into()),
                },
                ErrorCode::InvalidLink,
                false,
                "Account has no link \"bogusLink\"",
            ),
            (
                "404 for an unknown link (EspoCRM 10, a read)",
                UpstreamError::NotFound {
                    reason: Some("Link does not exist.".into()),
                },
                ErrorCode::InvalidLink,
                false,
                "the link does not exist",
            ),
            (
                "429 with Retry-After",
                UpstreamError::RateLimited {
                    retry_after: Some(Duration::from_secs(12)),
                },
                ErrorCode::RateLimited,
                true,
                "wait 12 s",
            ),
            (
                "429 without Retry-After",
                UpstreamError::RateLimited { retry_after: None },
                ErrorCode::RateLimited,
                true,
                "Too many requests",
            ),
            (
                "timeout",
                UpstreamError::Timeout,
                ErrorCode::UpstreamTimeout,
                true,
                "did not answer",
            ),
            (
                "connection",
                UpstreamError::Connection {
                    message: "connection refused".into(),
                },
                ErrorCode::UpstreamError,
                true,
                "Could not reach EspoCRM: connection refused",
            ),
            (
                "400 missing required field",
                UpstreamError::Status {
                    status: 400,
                    reason: Some(
                        "Field validation failure; entityType: Contact, field: lastName, type: \
                         required."
                            .into(),
                    ),
                    body: Value::Null,
                },
                ErrorCode::MissingRequiredField,
                false,
                "Contact requires the field \"lastName\"",
            ),
            (
                "400 invalid value",
                UpstreamError::Status {
                    status: 400,
                    reason: Some(
                        "Field validation failure; entityType: Opportunity, field: stage, type: \
                         valid."
                            .into(),
                    ),
                    body: Value::Null,
                },
                ErrorCode::InvalidFieldValue,
                false,
                "Opportunity.stage failed EspoCRM's \"valid\" check",
            ),
            (
                "400 other",
                UpstreamError::Status {
                    status: 400,
                    reason: Some("Bad request.".into()),
                    body: Value::Null,
                },
                ErrorCode::UpstreamError,
                false,
                "EspoCRM answered 400: Bad request.",
            ),
            (
                "500",
                UpstreamError::Status {
                    status: 500,
                    reason: None,
                    body: Value::Null,
                },
                ErrorCode::UpstreamError,
                false,
                "EspoCRM answered 500",
            ),
            (
                "503 (maintenance)",
                UpstreamError::Status {
                    status: 503,
                    reason: Some("Maintenance mode.".into()),
                    body: Value::Null,
                },
                ErrorCode::UpstreamError,
                true,
                "EspoCRM answered 503: Maintenance mode.",
            ),
            (
                "an answer over the size cap",
                UpstreamError::ResponseTooLarge {
                    status: 200,
                    limit: 1024 * 1024,
                },
                ErrorCode::UpstreamError,
                false,
                "larger than the cap of 1 MiB set by ESPOCRM_MAX_RESPONSE_MIB",
            ),
            (
                "invalid response",
                UpstreamError::InvalidResponse {
                    status: 200,
                    message: "expected JSON, got text/html".into(),
                },
                ErrorCode::UpstreamError,
                false,
                "expected JSON, got text/html",
            ),
            (
                "invalid request",
                UpstreamError::InvalidRequest {
                    message: "the path segment \"..\" is not allowed".into(),
                },
                ErrorCode::InvalidArgument,
                false,
                "was not sent",
            ),
            (
                "unavailable",
                UpstreamError::Unavailable {
                    actor: "HTTP gateway",
                    message: "no answer within 120 s".into(),
                },
                ErrorCode::UpstreamError,
                true,
                "HTTP gateway is not available",
            ),
        ];
        for (name, upstream, code, retryable, in_message) in cases {
            let error = ToolError::from(upstream);
            assert_eq!(error.code, code, "{name}");
            assert_eq!(error.retryable, retryable, "{name}");
            assert!(
                error.message.contains(in_message),
                "{name}: {:?} lacks {in_message:?}",
                error.message
            );
            assert!(!error.suggestion.is_empty(), "{name}");
        }
    }

    #[test]
    fn should_keep_only_ids_and_names_of_duplicates_in_details() {
        let error = ToolError::from(UpstreamError::Conflict {
            reason: Some("duplicate".into()),
            duplicates: json!([{"id": "a1", "name": "Acme", "emailAddress": "x@acme.test"}]),
        });
        assert_eq!(
            error.details,
            Some(json!({"duplicates": [{"id": "a1", "name": "Acme"}]}))
        );
    }

    #[test]
    fn should_put_the_current_values_and_version_of_a_changed_record_in_details() {
        let error = ToolError::from(UpstreamError::Modified {
            values: json!({"amount": 42000, "amountCurrency": "USD"}),
            version_number: Some(2),
        })
        .about_record("Opportunity", "6b0f9dd0913451674");
        assert_eq!(error.code, ErrorCode::RecordChanged);
        assert_eq!(
            error.details,
            Some(json!({
                "values": {"amount": 42000, "amountCurrency": "USD"},
                "versionNumber": 2,
                "entityType": "Opportunity",
                "id": "6b0f9dd0913451674",
            }))
        );
        let locked = ToolError::from(UpstreamError::Locked {
            reason: "cannotRemoveLockedRecord".into(),
            field: None,
        })
        .about_record("Account", "a1");
        assert_eq!(
            locked.details,
            Some(json!({"action": "delete", "entityType": "Account", "id": "a1"}))
        );
        // Other codes name their record themselves.
        let missing = ToolError::record_not_found("Account", "a1").about_record("Contact", "c1");
        assert_eq!(
            missing.details,
            Some(json!({"entityType": "Account", "id": "a1"}))
        );
    }

    #[test]
    fn should_put_the_wait_of_a_429_in_details() {
        let error = ToolError::from(UpstreamError::RateLimited {
            retry_after: Some(Duration::from_secs(12)),
        });
        assert_eq!(error.details, Some(json!({"retryAfterSecs": 12})));
    }

    #[test]
    fn should_never_carry_a_response_body_into_the_message_or_details() {
        let secret_body = json!({"apiKey": "s3cret-key-value", "messageTranslation": {}});
        let errors = [
            ToolError::from(UpstreamError::PermissionDenied {
                reason: Some("No read access.".into()),
                body: secret_body.clone(),
            }),
            ToolError::from(UpstreamError::Status {
                status: 400,
                reason: None,
                body: secret_body,
            }),
        ];
        for error in errors {
            assert!(!error.to_json().to_string().contains("s3cret"), "{error}");
        }
    }
}
