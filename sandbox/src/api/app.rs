//! What EspoCRM's client loads first: the current user with their access and preferences
//! (`App/user`), the metadata filtered by that access (`Metadata`), and the settings
//! (`Settings`).

use axum::response::Response;
use serde_json::{Map, Value, json};

use super::email::email_address_list;
use super::{ApiState, Request, ok};
use crate::acl::{Action, app_data};
use crate::error::ApiError;
use crate::store::AttributeSet;

/// The attributes of the `user` member of `App/user` (recorded).
const APP_USER_ATTRIBUTES: &[&str] = &[
    "id",
    "name",
    "deleted",
    "userName",
    "type",
    "salutationName",
    "firstName",
    "lastName",
    "isActive",
    "title",
    "emailAddress",
    "phoneNumber",
    "ipAddress",
    "avatarColor",
    "createdAt",
    "modifiedAt",
    "middleName",
    "emailAddressIsOptedOut",
    "emailAddressIsInvalid",
    "phoneNumberIsOptedOut",
    "phoneNumberIsInvalid",
    "defaultTeamId",
    "defaultTeamName",
    "teamsIds",
    "teamsNames",
    "contactId",
    "contactName",
    "avatarId",
    "avatarName",
    "createdById",
    "createdByName",
    "workingTimeCalendarId",
];

pub fn app_user(state: &ApiState, req: &Request<'_>) -> Result<Response, ApiError> {
    let store = state.store();
    let meta = req.meta();
    let user_entity = meta.entity("User").ok_or_else(ApiError::internal)?;
    let attrs: Vec<String> = APP_USER_ATTRIBUTES
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let mut user = store
        .render(
            user_entity,
            &req.caller.user_id,
            AttributeSet::Only(&attrs),
            &req.caller.user_id,
        )
        .ok_or_else(ApiError::internal)?;
    user.insert("ipAddress".into(), json!("127.0.0.1"));
    let addresses = email_address_list(&store, state, &req.caller.user_id);
    let own: Vec<String> = addresses
        .iter()
        .filter(|a| **a != state.system_email)
        .cloned()
        .collect();
    user.insert("emailAddressList".into(), json!(addresses));
    user.insert("userEmailAddressList".into(), json!(own));
    user.insert("excludeFromReplyEmailAddressList".into(), json!([]));
    let app = app_data(req.version);
    let mut preferences = app.get("preferences").cloned().unwrap_or_else(|| json!({}));
    preferences["id"] = json!(req.caller.user_id);
    let mut settings = app.get("settings").cloned().unwrap_or_else(|| json!({}));
    if let Some(s) = settings.as_object_mut() {
        s.extend(state.settings.clone());
        // Users who cannot write emails are not told the outbound address.
        if req.access.allows("Email", Action::Create) {
            s.insert("outboundEmailFromAddress".into(), json!(state.system_email));
        } else {
            s.remove("outboundEmailFromAddress");
            s.remove("outboundEmailFromName");
        }
    }
    let mut app_params = app.get("appParams").cloned().unwrap_or_else(|| json!({}));
    if let Some(system) = store
        .all("User")
        .find(|(_, u)| u.get("type").and_then(Value::as_str) == Some("system"))
    {
        app_params["systemUserId"] = json!(system.0);
    }
    Ok(ok(json!({
        "user": user,
        "acl": req.access.to_app_user(),
        "preferences": preferences,
        "token": null,
        "settings": settings,
        "language": "en_US",
        "appParams": app_params,
    })))
}

/// `GET Metadata`, filtered by the caller's access as EspoCRM filters it for non-admins.
pub fn metadata(req: &Request<'_>) -> Result<Response, ApiError> {
    let meta = req.meta();
    let raw = &meta.raw;
    let visible = |scope: &str| {
        req.access.is_admin
            || req.access.visible_scopes().any(|s| s == scope)
            || is_system_scope(scope)
    };
    let mut entity_defs = Map::new();
    if let Some(defs) = raw.get("entityDefs").and_then(Value::as_object) {
        for (name, def) in defs {
            if !visible(name) {
                continue;
            }
            let mut def = def.clone();
            if let Some(obj) = def.as_object_mut() {
                obj.remove("detailAttributes");
                obj.remove("listAttributes");
                obj.remove("createAttributes");
            }
            entity_defs.insert(name.clone(), def);
        }
    }
    let mut scopes = Map::new();
    if let Some(all) = raw.get("scopes").and_then(Value::as_object) {
        for (name, scope) in all {
            if visible(name) || scope.get("entity") != Some(&Value::Bool(true)) {
                scopes.insert(name.clone(), scope.clone());
            }
        }
    }
    if req.access.is_admin {
        for name in &meta.admin_only_scopes {
            scopes.entry(name.clone()).or_insert_with(
                || json!({"entity": true, "object": false, "acl": true, "adminOnly": true}),
            );
        }
    }
    let mut extra = Map::new();
    if req.access.is_admin {
        // Only administrators see these sections (recorded).
        extra.insert("recordDefs".into(), json!({}));
        extra.insert("authenticationMethods".into(), json!({}));
    }
    let mut body = json!({
        "app": {},
        "clientDefs": raw.get("clientDefs").cloned().unwrap_or_else(|| json!({})),
        "dashlets": {},
        "entityAcl": {},
        "entityDefs": entity_defs,
        "fields": raw.get("fieldTypes").cloned().unwrap_or_else(|| json!({})),
        "integrations": {},
        "scopes": scopes,
        "themes": {},
        "streamDefs": {},
    });
    if let Some(o) = body.as_object_mut() {
        o.extend(extra);
    }
    Ok(ok(body))
}

/// Scopes every user's metadata carries whatever the role says.
fn is_system_scope(scope: &str) -> bool {
    [
        "Preferences",
        "Reminder",
        "Target",
        "Notification",
        "ImportEml",
        "Team",
        "User",
        "Note",
        "Attachment",
        "ActionHistoryRecord",
        "EmailAccount",
        "EmailFilter",
        "EmailFolder",
        "GroupEmailFolder",
    ]
    .contains(&scope)
}

pub fn settings(state: &ApiState, req: &Request<'_>) -> Result<Response, ApiError> {
    let mut settings = app_data(req.version)
        .get("settings")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if let Some(s) = settings.as_object_mut() {
        s.extend(state.settings.clone());
    }
    settings["outboundEmailFromAddress"] = json!(state.system_email);
    Ok(ok(settings))
}
