//! `POST Action`: EspoCRM 10's record actions, `{"action": …, "entityType": …, "id": …}`.
//! The sandbox knows `lock` and `unlock` (see [`crate::locks`]); errors are `text/html`, as
//! EspoCRM's action routes answer them.

use axum::response::Response;
use serde_json::Value;

use super::{ApiState, Request, render_ok};
use crate::acl::Action;
use crate::error::ApiError;
use crate::locks;
use crate::store::AttributeSet;

pub fn action(state: &ApiState, req: &Request<'_>) -> Result<Response, ApiError> {
    let body = req.json_object()?;
    let text = |key: &str| body.get(key).and_then(Value::as_str).unwrap_or_default();
    let (name, entity_type, id) = (text("action"), text("entityType"), text("id"));
    if entity_type.is_empty() || id.is_empty() {
        return Err(ApiError::bad_request("").html());
    }
    let locked = match name {
        "lock" => true,
        "unlock" => false,
        _ => return Err(ApiError::not_found(format!("Action '{name}' not found.")).html()),
    };
    let meta = req.meta();
    let Some(entity) = meta.resolve(entity_type) else {
        return Err(ApiError::forbidden("").html());
    };
    req.access
        .require(&entity.name, Action::Edit)
        .map_err(ApiError::html)?;
    if !locks::is_lockable(entity) {
        return Err(ApiError::forbidden("Not enabled.").html());
    }
    if req.access.permission(locks::PERMISSION) != "yes" && !req.caller.is_admin {
        return Err(ApiError::forbidden("Not allowed.").html());
    }
    let mut store = state.store();
    let Some(record) = store.get(&entity.name, id) else {
        return Err(ApiError::not_found(format!("Record {id} not found.")).html());
    };
    if !req.access.covers(&entity.name, Action::Edit, record) {
        return Err(Action::Edit.denied().html());
    }
    locks::set_locked(&mut store, meta, entity, id, locked)?;
    render_ok(
        &store,
        entity,
        id,
        AttributeSet::Detail,
        &req.caller.user_id,
    )
}
