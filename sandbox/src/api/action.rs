//! `POST Action`: EspoCRM's record actions, `{"action": …, "entityType": …, "id": …}`, answered
//! with the record as a read gives it. The sandbox knows 10.0's `lock` and `unlock` (see
//! [`crate::locks`]); any other action, and those two in 8.4, is an unknown one. The checks and
//! their answers follow EspoCRM's `Core\Action\Service` and `Actions\Lock`; errors are
//! `text/html`, as EspoCRM's action routes answer them.

use axum::response::Response;
use serde_json::Value;

use super::{ApiState, Request, now, render_ok};
use crate::acl::Action;
use crate::error::ApiError;
use crate::locks;
use crate::store::AttributeSet;
use crate::version::EspoVersion;

pub fn action(state: &ApiState, req: &Request<'_>) -> Result<Response, ApiError> {
    let body = req.json_object()?;
    let text = |key: &str| body.get(key).and_then(Value::as_str).unwrap_or_default();
    let (name, entity_type, id) = (text("action"), text("entityType"), text("id"));
    if name.is_empty() || entity_type.is_empty() || id.is_empty() {
        return Err(ApiError::bad_request("").html());
    }
    let meta = req.meta();
    let entity = meta
        .resolve(entity_type)
        .filter(|e| req.access.allows(&e.name, Action::Read))
        .ok_or_else(|| ApiError::forbidden("").html())?;
    let locked = match name {
        "lock" if req.version.at_least(EspoVersion::V10_0) => true,
        "unlock" if req.version.at_least(EspoVersion::V10_0) => false,
        _ => return Err(ApiError::not_found(format!("Action '{name}' not found.")).html()),
    };
    if !locks::is_lockable(entity) {
        return Err(ApiError::forbidden("Not enabled.").html());
    }
    let permitted = req.caller.is_admin || req.access.permission(locks::PERMISSION) == "yes";
    if !permitted || !req.access.allows(&entity.name, Action::Edit) {
        return Err(ApiError::forbidden("Not allowed.").html());
    }
    let mut store = state.store();
    let Some(record) = store.get(&entity.name, id) else {
        return Err(ApiError::not_found("").html());
    };
    if !req.access.covers(&entity.name, Action::Read, record) {
        return Err(ApiError::forbidden("").html());
    }
    if !req.access.covers(&entity.name, Action::Edit, record) {
        return Err(ApiError::forbidden("No edit access.").html());
    }
    locks::set_locked(&mut store, meta, entity, id, locked, &req.actor(), now())?;
    render_ok(
        &store,
        entity,
        id,
        AttributeSet::Detail,
        &req.caller.user_id,
    )
}
