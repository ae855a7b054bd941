//! What EspoCRM's client loads first: the current user with their access and preferences
//! (`App/user`), the metadata filtered by that access (`Metadata`), and the settings
//! (`Settings`).

use axum::body::Body;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::email::email_address_list;
use super::{ApiState, Request, ok};
use crate::acl::{Action, app_data};
use crate::error::ApiError;
use crate::store::AttributeSet;

/// Members of the recorded `App/user` user that are not attributes of the User record.
const APP_USER_ADDRESS_LISTS: &[&str] = &[
    "emailAddressList",
    "userEmailAddressList",
    "excludeFromReplyEmailAddressList",
];

pub fn app_user(state: &ApiState, req: &Request<'_>) -> Result<Response, ApiError> {
    let store = state.store();
    let meta = req.meta();
    let user_entity = meta.entity("User").ok_or_else(ApiError::internal)?;
    // The attributes of the `user` member are those of the recorded one (`userAgent`).
    let attrs: Vec<String> = app_data(req.version)
        .get("userAgent")
        .and_then(Value::as_object)
        .map(|user| {
            user.keys()
                .filter(|k| !APP_USER_ADDRESS_LISTS.contains(&k.as_str()))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
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
        add_null_settings(app, s);
        s.extend(state.settings.clone());
        // Users who cannot write emails are not told the outbound address; a version whose
        // App/user carries no outbound address at all (10.0) tells nobody.
        if req.access.allows("Email", Action::Create) && s.contains_key("outboundEmailFromAddress")
        {
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
        "token": req.caller.auth_token,
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
                obj.remove("listExtraAttributes");
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
        // Sections a version adds to everyone's metadata (10.0: aclDefs, logicDefs, …).
        for section in ["aclDefs", "logicDefs", "notificationDefs"] {
            if let Some(value) = raw.get(section) {
                o.insert(section.into(), value.clone());
            }
        }
    }
    match req.query.get("key").and_then(Value::as_str) {
        Some(key) => Ok(metadata_key(&body, key)),
        None => Ok(ok(body)),
    }
}

/// `GET Metadata?key=a.b.c`: the value at that dotted path of the caller's metadata; a path that
/// leads nowhere answers 200 with an empty body, as EspoCRM does.
fn metadata_key(metadata: &Value, key: &str) -> Response {
    let found = key
        .split('.')
        .try_fold(metadata, |value, segment| value.get(segment));
    match found {
        Some(value) => ok(value.clone()),
        None => {
            let mut response = ok(Value::Null);
            *response.body_mut() = Body::empty();
            response
        }
    }
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
        add_null_settings(app_data(req.version), s);
        s.extend(state.settings.clone());
        // Only where the version's settings name an outbound address at all (not 10.0).
        if s.contains_key("outboundEmailFromAddress") {
            s.insert("outboundEmailFromAddress".into(), json!(state.system_email));
        }
    }
    Ok(ok(settings))
}

/// Settings a version reports as `null` (`nullSettings` in the app data: a merge patch cannot
/// carry a null value, it would remove the key).
fn add_null_settings(app: &Value, settings: &mut Map<String, Value>) {
    let names = app.get("nullSettings").and_then(Value::as_array);
    for name in names.into_iter().flatten().filter_map(Value::as_str) {
        settings.entry(name).or_insert(Value::Null);
    }
}
