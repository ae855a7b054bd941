//! The administrator's user and role management: `POST User` (regular, admin and API users)
//! and `GET|POST Role`, `GET|PUT|DELETE Role/{id}`.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::{ApiState, Request, now, ok, route_not_found};
use crate::acl::Action;
use crate::error::ApiError;
use crate::store::{AttributeSet, Role};

/// Administrator routes for roles: `GET Role`, `POST Role`, `GET|PUT|DELETE Role/{id}`.
pub fn roles(state: &ApiState, req: &Request<'_>) -> Result<Response, ApiError> {
    let method = req.method.clone();
    if !req.caller.is_admin {
        return Err(match method {
            Method::POST => Action::Create.denied(),
            Method::PUT | Method::PATCH => Action::Edit.denied(),
            Method::DELETE => Action::Delete.denied(),
            _ => Action::Read.denied(),
        });
    }
    let mut store = state.store();
    let role_json = |r: &Role| json!({"id": r.id, "name": r.name, "data": r.data, "deleted": false, "createdAt": r.created_at});
    match (method, req.segments.get(1)) {
        (Method::GET, None) => {
            let list: Vec<Value> = store.roles().map(role_json).collect();
            Ok(ok(json!({"total": list.len(), "list": list})))
        }
        (Method::POST, None) => {
            let body = req.json_object()?;
            let name = body
                .get("name")
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty());
            let Some(name) = name else {
                return Err(ApiError::validation("Role", "name", "required"));
            };
            let mut data = body
                .get("data")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            for (k, v) in &body {
                if k.ends_with("Permission") {
                    data.insert(k.clone(), v.clone());
                }
            }
            let role = Role {
                id: store.ids.next_id(),
                name: name.to_owned(),
                data,
                created_at: now().format(crate::store::DATETIME_FORMAT).to_string(),
            };
            let out = role_json(&role);
            store.insert_role(role);
            Ok(ok(out))
        }
        (Method::GET, Some(id)) => store
            .role(id)
            .map(|r| ok(role_json(r)))
            .ok_or_else(|| ApiError::not_found(format!("Record {id} does not exist."))),
        (Method::PUT | Method::PATCH, Some(id)) => {
            let body = req.json_object()?;
            let mut role = store
                .role(id)
                .cloned()
                .ok_or_else(|| ApiError::not_found(format!("Record {id} not found.")))?;
            if let Some(n) = body.get("name").and_then(Value::as_str) {
                role.name = n.to_owned();
            }
            if let Some(d) = body.get("data").and_then(Value::as_object) {
                role.data = d.clone();
            }
            let out = role_json(&role);
            store.insert_role(role);
            Ok(ok(out))
        }
        (Method::DELETE, Some(id)) => {
            if store.remove_role(id) {
                Ok(ok(Value::Bool(true)))
            } else {
                Err(ApiError::not_found(format!("Record {id} not found.")))
            }
        }
        _ => Ok(route_not_found()),
    }
}

/// `POST User` by an administrator: regular, admin or API users (an API user gets a key,
/// returned once in the response).
pub fn create_user(state: &ApiState, req: &Request<'_>) -> Result<Response, ApiError> {
    if !req.caller.is_admin {
        return Err(Action::Create.denied());
    }
    let meta = req.meta();
    let entity = meta.entity("User").ok_or_else(ApiError::internal)?;
    let body = req.json_object()?;
    let user_name = body
        .get("userName")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty());
    let Some(user_name) = user_name else {
        return Err(ApiError::validation("User", "userName", "required"));
    };
    let mut store = state.store();
    if store
        .all("User")
        .any(|(_, u)| u.get("userName").and_then(Value::as_str) == Some(user_name))
    {
        return Err(ApiError::new(StatusCode::CONFLICT, "userNameExists"));
    }
    let kind = body
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("regular")
        .to_owned();
    let mut data = body.clone();
    if kind == "api" {
        data.insert("lastName".into(), json!(user_name));
    }
    let id = store.create(entity, &data, &req.actor(), now(), false)?;
    let api_key = (kind == "api").then(|| store.ids.next_secret());
    let roles = body.get("rolesIds").cloned().unwrap_or_else(|| json!([]));
    if let Some(record) = store.record_mut_public("User", &id) {
        record.insert("type".into(), json!(kind));
        record.insert("userName".into(), json!(user_name));
        record.insert("rolesIds".into(), roles);
        record.entry("isActive").or_insert(json!(true));
        if let Some(p) = body.get("password").and_then(Value::as_str) {
            record.insert("password".into(), json!(p));
        }
        if let Some(k) = &api_key {
            record.insert("apiKey".into(), json!(k));
            record.insert("authMethod".into(), json!("ApiKey"));
        }
    }
    let mut out = store
        .render(entity, &id, AttributeSet::Detail, &req.caller.user_id)
        .ok_or_else(ApiError::internal)?;
    if let Some(k) = api_key {
        out.insert("apiKey".into(), json!(k));
        out.insert("authMethod".into(), json!("ApiKey"));
    }
    out.insert(
        "rolesIds".into(),
        body.get("rolesIds").cloned().unwrap_or_else(|| json!([])),
    );
    Ok(ok(Value::Object(out)))
}
