//! Rendering an email template for a record (`POST EmailTemplate/{id}/prepare`): its
//! placeholders filled from the record, the person addressed and the current user.

use axum::response::Response;
use serde_json::{Value, json};

use super::{ApiState, Request, now, ok};
use crate::acl::Action;
use crate::error::ApiError;

/// `POST EmailTemplate/{id}/prepare`: renders `{Entity.attribute}`, `{Person.*}`, `{User.*}`
/// and `{today}` placeholders; placeholders without data stay as they are.
pub fn prepare_template(
    state: &ApiState,
    req: &Request<'_>,
    id: &str,
) -> Result<Response, ApiError> {
    if !req.access.allows("EmailTemplate", Action::Read) {
        return Err(ApiError::forbidden("").html());
    }
    let body = req.json_object().map_err(ApiError::html)?;
    let meta = req.meta();
    let store = state.store();
    let template = store
        .get("EmailTemplate", id)
        .ok_or_else(|| ApiError::not_found("").html())?;
    let mut sources: Vec<(String, String, String)> = Vec::new(); // (placeholder prefix, entity, id)
    let s = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    for (t, i) in [
        (s("parentType"), s("parentId")),
        (s("relatedType"), s("relatedId")),
    ] {
        if let (Some(t), Some(i)) = (t, i)
            && store.exists(&t, &i)
        {
            sources.push((t.clone(), t.clone(), i.clone()));
            if ["Contact", "Lead", "User"].contains(&t.as_str()) {
                sources.push(("Person".into(), t, i));
            }
        }
    }
    if let Some(address) = s("emailAddress").map(|a| a.to_lowercase()) {
        for scope in ["Contact", "Lead", "User"] {
            if let Some((pid, _)) = store.all(scope).find(|(_, r)| {
                r.get("emailAddress")
                    .and_then(Value::as_str)
                    .map(str::to_lowercase)
                    .as_deref()
                    == Some(address.as_str())
            }) {
                sources.push(("Person".into(), scope.into(), pid.clone()));
                break;
            }
        }
    }
    sources.push(("User".into(), "User".into(), req.caller.user_id.clone()));
    let today = now().format("%Y-%m-%d").to_string();
    let render = |text: &str| -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let token = &after[..end];
            let replacement = if token == "today" {
                Some(today.clone())
            } else {
                token.split_once('.').and_then(|(prefix, attribute)| {
                    let (_, entity, rid) = sources.iter().find(|(p, _, _)| p == prefix)?;
                    let def = meta.entity(entity)?;
                    let record = store.get(entity, rid)?;
                    match store.attribute_value(def, rid, record, attribute, &req.caller.user_id) {
                        Value::String(v) => Some(v),
                        Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    }
                })
            };
            match replacement {
                Some(v) => out.push_str(&v),
                None => {
                    out.push('{');
                    out.push_str(token);
                    out.push('}');
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    };
    let text = |k: &str| template.get(k).and_then(Value::as_str).unwrap_or("");
    Ok(ok(json!({
        "subject": render(text("subject")),
        "body": render(text("body")),
        "isHtml": template.get("isHtml").cloned().unwrap_or(json!(true)),
        "attachmentsIds": [],
        "attachmentsNames": {},
    })))
}
