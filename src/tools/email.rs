//! The email toolset: `draft_email`. espomcp never sends mail: a draft waits in EspoCRM for a
//! person to review and send it.

use espomcp_actors::{Action, EspoRequest};
use rmcp::model::JsonObject;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::catalog::ToolSpec;
use super::{input_schema, parse_args};
use crate::audit::{Audited, Recorded, Subject};
use crate::error::{ErrorCode, ToolError};
use crate::server::EspoMcp;
use crate::toolsets::Toolset;
use crate::validate::lists::{MAX_RECIPIENTS, Recipients};
use crate::validate::names;

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

/// This file's tool, as the catalogue knows it (`catalog.rs`).
pub(super) const TOOLS: &[ToolSpec] = &[ToolSpec::writes::<DraftEmailArgs>(
    EspoMcp::draft_email_tool_attr,
    Toolset::Email,
)];

#[tool_router(router = email_router, vis = "pub")]
impl EspoMcp {
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
