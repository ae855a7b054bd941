//! Activities: the planned and past meetings and calls of a record
//! (`GET Activities/{parentType}/{id}/activities|history`), and the attendees of a meeting or
//! call (`GET Meeting/{id}/attendees`).

use axum::response::Response;
use serde_json::{Value, json};

use super::{ApiState, Request, entity_for, ok};
use crate::acl::Action;
use crate::error::ApiError;
use crate::store::AttributeSet;

/// Attributes of an activity row (recorded).
const ACTIVITY_ITEM: &[&str] = &[
    "id",
    "name",
    "deleted",
    "status",
    "dateStart",
    "dateEnd",
    "dateStartDate",
    "dateEndDate",
    "isAllDay",
    "duration",
    "createdAt",
    "parentId",
    "parentType",
    "assignedUserId",
    "assignedUserName",
    "isFollowed",
];

/// `GET Activities/{parentType}/{id}/activities|history` (needs the Activities scope).
pub fn activities(
    state: &ApiState,
    req: &Request<'_>,
    parent: &str,
    id: &str,
    kind: &str,
) -> Result<Response, ApiError> {
    if !req.access.has_scope("Activities") {
        return Err(ApiError::forbidden("").html());
    }
    let meta = req.meta();
    let parent_entity = meta
        .resolve(parent)
        .ok_or_else(|| ApiError::not_found("").html())?;
    let store = state.store();
    if !store.exists(&parent_entity.name, id) {
        return Err(ApiError::not_found("").html());
    }
    let planned = kind == "activities";
    let mut rows: Vec<(String, String, String)> = Vec::new();
    for scope in ["Meeting", "Call"] {
        for (rid, r) in store.all(scope) {
            let s = |k: &str| r.get(k).and_then(Value::as_str);
            let related = (s("parentType") == Some(&parent_entity.name)
                && s("parentId") == Some(id))
                || (parent_entity.name == "Account" && s("accountId") == Some(id));
            let status_fits = if planned {
                s("status") == Some("Planned")
            } else {
                matches!(s("status"), Some("Held" | "Not Held"))
            };
            if related && status_fits {
                rows.push((
                    s("dateStart").unwrap_or("").to_owned(),
                    rid.clone(),
                    scope.to_owned(),
                ));
            }
        }
    }
    if planned {
        rows.sort()
    } else {
        rows.sort_by(|a, b| b.cmp(a))
    }
    let (offset, max) = req.page();
    let mut attrs: Vec<String> = ACTIVITY_ITEM.iter().map(|s| (*s).to_owned()).collect();
    // Meetings with an online link (EspoCRM 10) show it in every row, after the duration.
    if meta
        .entity("Meeting")
        .is_some_and(|m| m.field("joinUrl").is_some())
    {
        let at = attrs
            .iter()
            .position(|a| a == "createdAt")
            .unwrap_or(attrs.len());
        attrs.insert(at, "joinUrl".to_owned());
    }
    let list: Vec<Value> = rows
        .iter()
        .skip(offset)
        .take(max)
        .filter_map(|(_, rid, scope)| {
            let e = meta.entity(scope)?;
            let mut m = store.render(e, rid, AttributeSet::Only(&attrs), &req.caller.user_id)?;
            m.insert("_scope".into(), json!(scope));
            Some(Value::Object(m))
        })
        .collect();
    Ok(ok(json!({"total": rows.len(), "list": list})))
}

/// `GET Meeting/{id}/attendees`: users, contacts and leads with their acceptance status.
pub fn attendees(
    state: &ApiState,
    req: &Request<'_>,
    segment: &str,
    id: &str,
) -> Result<Response, ApiError> {
    let entity = entity_for(req, segment, Action::Read)?;
    let store = state.store();
    if !store.exists(&entity.name, id) {
        return Err(ApiError::not_found(format!("Record {id} does not exist.")));
    }
    let mut list = Vec::new();
    for (link, scope) in [
        ("users", "User"),
        ("contacts", "Contact"),
        ("leads", "Lead"),
    ] {
        for (other, columns) in store.linked(&entity.name, id, link) {
            let Some(r) = store.get(scope, &other) else {
                continue;
            };
            list.push(json!({
                "id": other,
                "name": r.get("name").cloned().unwrap_or(Value::Null),
                "emailAddress": r.get("emailAddress").cloned().unwrap_or(Value::Null),
                "acceptanceStatus": columns.get("status").cloned().unwrap_or(json!("None")),
                "_scope": scope,
            }));
        }
    }
    Ok(ok(json!({"list": list})))
}
