//! EspoCRM's specific routes: the current user (`App/user`), metadata, settings, streams and
//! notes, follow/unfollow, global search, activities and attendees, the kanban, email drafts,
//! template rendering, and the administrator's user and role management.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::{ApiState, Request, entity_for, now, ok, render_ok};
use crate::acl::{Action, app_data};
use crate::error::ApiError;
use crate::list::{self, ListContext, ListParams};
use crate::model::{EntityDef, Metadata};
use crate::store::{Actor, AttributeSet, Role, Store};

fn actor(req: &Request<'_>) -> Actor {
    Actor {
        user_id: req.caller.user_id.clone(),
        is_admin: req.caller.is_admin,
    }
}

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

/// The addresses a user may pick as an Email's `from` (own first, then the system address).
pub fn email_address_list(store: &Store, state: &ApiState, user_id: &str) -> Vec<String> {
    let mut out: Vec<String> = store
        .get("User", user_id)
        .and_then(|u| u.get("emailAddress"))
        .and_then(Value::as_str)
        .map(|s| vec![s.to_owned()])
        .unwrap_or_default();
    out.push(state.system_email.clone());
    out
}

pub fn app_user(state: &ApiState, req: &Request<'_>) -> Result<Response, ApiError> {
    let store = state.store();
    let meta = Metadata::get();
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
    let app = app_data();
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
    let meta = Metadata::get();
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

pub fn settings(state: &ApiState, _req: &Request<'_>) -> Result<Response, ApiError> {
    let mut settings = app_data()
        .get("settings")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if let Some(s) = settings.as_object_mut() {
        s.extend(state.settings.clone());
    }
    settings["outboundEmailFromAddress"] = json!(state.system_email);
    Ok(ok(settings))
}

/// Attribute sets of stream items (recorded).
const STREAM_ITEM: &[&str] = &[
    "id",
    "deleted",
    "post",
    "data",
    "type",
    "targetType",
    "number",
    "isGlobal",
    "createdByGender",
    "isInternal",
    "isPinned",
    "createdAt",
    "modifiedAt",
    "parentId",
    "parentType",
    "relatedId",
    "relatedType",
    "attachmentsIds",
    "attachmentsNames",
    "createdById",
    "createdByName",
    "modifiedById",
    "modifiedByName",
    "superParentId",
    "superParentType",
    "attachmentsTypes",
];
const OWN_STREAM_ITEM: &[&str] = &[
    "id",
    "post",
    "data",
    "type",
    "targetType",
    "number",
    "isGlobal",
    "createdByGender",
    "isInternal",
    "createdAt",
    "parentId",
    "parentType",
    "relatedId",
    "relatedType",
    "attachmentsIds",
    "attachmentsNames",
    "teamsIds",
    "teamsNames",
    "usersIds",
    "usersNames",
    "createdById",
    "createdByName",
    "attachmentsTypes",
];

fn render_notes(store: &Store, ids: &[String], attributes: &[&str], viewer: &str) -> Vec<Value> {
    let Some(note) = Metadata::get().entity("Note") else {
        return Vec::new();
    };
    let attrs: Vec<String> = attributes.iter().map(|s| (*s).to_owned()).collect();
    ids.iter()
        .filter_map(|id| store.render(note, id, AttributeSet::Only(&attrs), viewer))
        .map(|mut m| {
            for k in ["targetType", "createdByGender"] {
                m.entry(k).or_insert(Value::Null);
            }
            Value::Object(m)
        })
        .collect()
}

fn page_of(req: &Request<'_>) -> (usize, usize) {
    let int = |k: &str| {
        req.query
            .get(k)
            .and_then(Value::as_str)
            .and_then(|s| s.trim().parse::<usize>().ok())
    };
    (
        int("offset").unwrap_or(0),
        int("maxSize").unwrap_or(list::MAX_SIZE).min(list::MAX_SIZE),
    )
}

/// Notes newest first (by their monotonic number).
fn notes_sorted(store: &Store, keep: impl Fn(&Map<String, Value>) -> bool) -> Vec<String> {
    let mut notes: Vec<(i64, String)> = store
        .all("Note")
        .filter(|(_, n)| keep(n))
        .map(|(id, n)| {
            (
                n.get("number").and_then(Value::as_i64).unwrap_or(0),
                id.clone(),
            )
        })
        .collect();
    notes.sort_by_key(|n| std::cmp::Reverse(n.0));
    notes.into_iter().map(|(_, id)| id).collect()
}

/// `GET {E}/{id}/stream` and `GET {E}/{id}/posts`.
pub fn record_stream(
    state: &ApiState,
    req: &Request<'_>,
    segment: &str,
    id: &str,
    posts_only: bool,
) -> Result<Response, ApiError> {
    let entity = entity_for(req, segment, Action::Read)?;
    let store = state.store();
    let Some(record) = store.get(&entity.name, id) else {
        return Err(ApiError::not_found("Record not found."));
    };
    if !req.access.covers(&entity.name, Action::Stream, record) {
        return Err(Action::Stream.denied());
    }
    let filter_posts =
        posts_only || req.query.get("filter").and_then(Value::as_str) == Some("posts");
    let ids = notes_sorted(&store, |n| {
        let s = |k: &str| n.get(k).and_then(Value::as_str);
        let here = (s("parentType") == Some(&entity.name) && s("parentId") == Some(id))
            || (s("superParentType") == Some(&entity.name) && s("superParentId") == Some(id));
        here && (!filter_posts || s("type") == Some("Post"))
    });
    let (offset, max) = page_of(req);
    let page: Vec<String> = ids.iter().skip(offset).take(max).cloned().collect();
    let list = render_notes(&store, &page, STREAM_ITEM, &req.caller.user_id);
    if posts_only {
        Ok(ok(json!({"total": ids.len(), "list": list})))
    } else {
        Ok(ok(
            json!({"total": ids.len(), "list": list, "pinnedList": []}),
        ))
    }
}

/// `GET Stream`: the caller's own posts and the notes of records the caller follows.
pub fn own_stream(state: &ApiState, req: &Request<'_>) -> Result<Response, ApiError> {
    let store = state.store();
    let me = req.caller.user_id.as_str();
    let ids = notes_sorted(&store, |n| {
        let s = |k: &str| n.get(k).and_then(Value::as_str);
        let mine = s("createdById") == Some(me) && s("parentId").is_none();
        let followed = match (s("parentType"), s("parentId")) {
            (Some(t), Some(i)) => store.followers(t, i).iter().any(|f| f == me),
            _ => false,
        };
        mine || followed
    });
    let (offset, max) = page_of(req);
    let page: Vec<String> = ids.iter().skip(offset).take(max).cloned().collect();
    let total = if offset + max < ids.len() { -1 } else { -2 };
    Ok(ok(
        json!({"total": total, "list": render_notes(&store, &page, OWN_STREAM_ITEM, me)}),
    ))
}

/// `POST Note`: a post to a record's stream (type forced to Post) or to the caller's own.
pub fn post_note(state: &ApiState, req: &Request<'_>) -> Result<Response, ApiError> {
    let body = req.json_object()?;
    let meta = Metadata::get();
    let mut store = state.store();
    let parent_type = body
        .get("parentType")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let parent_id = body
        .get("parentId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    if let (Some(t), Some(i)) = (parent_type, parent_id) {
        let parent_entity = meta.entity(t).ok_or_else(|| Action::Create.denied())?;
        let parent = store
            .get(&parent_entity.name, i)
            .ok_or_else(|| Action::Create.denied())?;
        if !req
            .access
            .covers(&parent_entity.name, Action::Stream, parent)
        {
            return Err(Action::Create.denied());
        }
    }
    let mut note = Map::new();
    note.insert("type".into(), json!("Post"));
    let post = body
        .get("post")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    note.insert("post".into(), post.map(|s| json!(s)).unwrap_or(Value::Null));
    if let (Some(t), Some(i)) = (parent_type, parent_id) {
        note.insert("parentType".into(), json!(t));
        note.insert("parentId".into(), json!(i));
    }
    // EspoCRM 8 keeps `isInternal` as posted (it hides the note from portal users); only a bool.
    if let Some(internal) = body.get("isInternal").and_then(Value::as_bool) {
        note.insert("isInternal".into(), json!(internal));
    }
    let id = store.insert_note(note, &actor(req), now());
    let note_entity = meta.entity("Note").ok_or_else(ApiError::internal)?;
    let mut attrs = vec![
        "post".to_owned(),
        "type".to_owned(),
        "isInternal".to_owned(),
    ];
    if parent_type.is_some() {
        attrs.extend(["parentId".to_owned(), "parentType".to_owned()]);
    } else {
        attrs.extend(["teamsIds", "teamsNames", "usersIds", "usersNames"].map(str::to_owned));
    }
    render_ok(
        &store,
        note_entity,
        &id,
        AttributeSet::Create(&attrs),
        &req.caller.user_id,
    )
}

/// `PUT|DELETE {E}/{id}/subscription`: follow or unfollow.
pub fn subscription(
    state: &ApiState,
    req: &Request<'_>,
    segment: &str,
    id: &str,
) -> Result<Response, ApiError> {
    let entity = entity_for(req, segment, Action::Read)?;
    let mut store = state.store();
    let Some(record) = store.get(&entity.name, id) else {
        return Err(ApiError::not_found(format!("Record {id} does not exist.")));
    };
    if !entity.has_stream() || !req.access.covers(&entity.name, Action::Stream, record) {
        return Err(Action::Stream.denied());
    }
    if req.method == Method::PUT {
        store.follow(&entity.name, id, &req.caller.user_id);
    } else {
        store.unfollow(&entity.name, id, &req.caller.user_id);
    }
    Ok(ok(Value::Bool(true)))
}

/// `GET GlobalSearch?q=`: names starting with (or containing) the text, across the
/// global-search entity types the caller may read.
pub fn global_search(state: &ApiState, req: &Request<'_>) -> Result<Response, ApiError> {
    let q = req
        .query
        .get("q")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_lowercase();
    let (offset, max) = page_of(req);
    let store = state.store();
    let entity_list: Vec<String> = app_data()
        .pointer("/settings/globalSearchEntityList")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let mut hits: Vec<(String, String, String)> = Vec::new();
    for scope in entity_list
        .iter()
        .filter(|s| req.access.allows(s, Action::Read))
    {
        for (id, record) in store.all(scope) {
            let name = record.get("name").and_then(Value::as_str).unwrap_or("");
            let lower = name.to_lowercase();
            let words_match = lower.split_whitespace().any(|w| w.starts_with(&q));
            if !q.is_empty()
                && (lower.starts_with(&q) || words_match)
                && req.access.covers(scope, Action::Read, record)
            {
                hits.push((name.to_owned(), id.clone(), scope.clone()));
            }
        }
    }
    hits.sort_by(|a, b| {
        a.0.to_lowercase()
            .cmp(&b.0.to_lowercase())
            .then(a.1.cmp(&b.1))
    });
    let list: Vec<Value> = hits
        .iter()
        .skip(offset)
        .take(max)
        .map(|(name, id, scope)| json!({"id": id, "name": name, "_scope": scope}))
        .collect();
    Ok(ok(json!({"total": -1, "list": list})))
}

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
    let meta = Metadata::get();
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
    let (offset, max) = page_of(req);
    let attrs: Vec<String> = ACTIVITY_ITEM.iter().map(|s| (*s).to_owned()).collect();
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

/// `GET Kanban/{E}`: groups by the status field, `maxSize` per group, the caller's order first.
pub fn kanban(state: &ApiState, req: &Request<'_>, segment: &str) -> Result<Response, ApiError> {
    let meta = Metadata::get();
    let entity = meta
        .resolve(segment)
        .filter(|e| e.scope_bool("object"))
        .ok_or_else(|| ApiError::forbidden("Non-object entities are not supported.").html())?;
    if !req.access.allows(&entity.name, Action::Read) {
        return Err(ApiError::forbidden("").html());
    }
    let status_field = entity
        .status_field()
        .ok_or_else(|| {
            ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                ..ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("No status field for entity type '{}'.", entity.name),
                )
            }
            .html()
        })?
        .to_owned();
    let params = ListParams::from_query(entity, &req.query, false).map_err(ApiError::html)?;
    let ignored: Vec<String> = entity
        .scope
        .get("kanbanStatusIgnoreList")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let groups: Vec<String> = entity
        .enum_options(meta, &status_field)
        .unwrap_or_default()
        .into_iter()
        .filter(|g| !ignored.contains(g) && !g.is_empty())
        .collect();
    let store = state.store();
    let everything = ListParams {
        max_size: usize::MAX,
        offset: 0,
        select: Some(vec![status_field.clone()]),
        ..clone_filters(&params)
    };
    let all_ids: Vec<String> = store.all(&entity.name).map(|(i, _)| i.clone()).collect();
    let all = list::run(
        &store,
        entity,
        all_ids,
        &everything,
        &req.access,
        now(),
        ListContext::Kanban,
        &|_| Map::new(),
    )?;
    let mut out_groups = Vec::new();
    let mut concatenated = Vec::new();
    for group in &groups {
        let mut ids: Vec<String> = all
            .rows
            .iter()
            .filter(|r| r.get(&status_field).and_then(Value::as_str) == Some(group.as_str()))
            .filter_map(|r| r.get("id").and_then(Value::as_str).map(str::to_owned))
            .collect();
        if let Some(order) = store.kanban_order(&req.caller.user_id, &entity.name, group) {
            let mut first: Vec<String> =
                order.iter().filter(|i| ids.contains(i)).cloned().collect();
            ids.retain(|i| !first.contains(i));
            first.extend(ids);
            ids = first;
        }
        let total = ids.len();
        let page_ids: Vec<String> = ids
            .into_iter()
            .skip(params.offset)
            .take(params.max_size)
            .collect();
        let page_params = ListParams {
            max_size: usize::MAX,
            offset: 0,
            select: params.select.clone(),
            order_by: params.order_by.clone(),
            order_desc: params.order_desc,
            ..ListParams::default()
        };
        let mut page = list::run(
            &store,
            entity,
            page_ids.clone(),
            &page_params,
            &req.access,
            now(),
            ListContext::Kanban,
            &|_| Map::new(),
        )?;
        page.rows.sort_by_key(|r| {
            r.get("id")
                .and_then(Value::as_str)
                .and_then(|i| page_ids.iter().position(|p| p == i))
                .unwrap_or(usize::MAX)
        });
        concatenated.extend(page.rows.iter().cloned().map(Value::Object));
        out_groups.push(
            json!({"name": group, "total": total, "list": page.rows, "label": null, "style": null}),
        );
    }
    Ok(ok(
        json!({"total": all.total, "groups": out_groups, "list": concatenated}),
    ))
}

fn clone_filters(p: &ListParams) -> ListParams {
    ListParams {
        where_items: p.where_items.clone(),
        order_by: p.order_by.clone(),
        order_desc: p.order_desc,
        text_filter: p.text_filter.clone(),
        primary_filter: p.primary_filter.clone(),
        bool_filters: p.bool_filters.clone(),
        ..ListParams::default()
    }
}

/// `PUT Kanban/order` `{entityType, group, ids}`: the caller's order within one group.
pub fn kanban_order(state: &ApiState, req: &Request<'_>) -> Result<Response, ApiError> {
    let body = req.json_object().map_err(ApiError::html)?;
    let entity_type = body.get("entityType").and_then(Value::as_str);
    let group = body.get("group").and_then(Value::as_str);
    let ids = body.get("ids").and_then(Value::as_array);
    let (Some(entity_type), Some(group), Some(ids)) = (entity_type, group, ids) else {
        return Err(ApiError::bad_request("").html());
    };
    let entity = Metadata::get()
        .resolve(entity_type)
        .ok_or_else(|| ApiError::forbidden("").html())?;
    if !req.access.allows(&entity.name, Action::Read) {
        return Err(ApiError::forbidden("").html());
    }
    let ids: Vec<String> = ids
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    state
        .store()
        .set_kanban_order(&req.caller.user_id, &entity.name, group, ids);
    Ok(ok(Value::Bool(true)))
}

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
    let meta = Metadata::get();
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

/// `POST Email`: drafts are stored; `status: Sending` fails as EspoCRM without SMTP does
/// (500 `sendingFail`), keeping the email as a Draft. Non-admins may only send from their own
/// addresses.
pub fn create_email(state: &ApiState, req: &Request<'_>) -> Result<Response, ApiError> {
    req.access.require("Email", Action::Create)?;
    let meta = Metadata::get();
    let entity = meta.entity("Email").ok_or_else(ApiError::internal)?;
    let mut data = req.json_object()?;
    let sending = data.get("status").and_then(Value::as_str) == Some("Sending");
    if sending || data.get("status").is_none() {
        data.insert("status".into(), json!("Draft"));
    }
    let mut store = state.store();
    let from = data
        .get("from")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_lowercase();
    if !from.is_empty() && !req.caller.is_admin {
        let own: Vec<String> = email_address_list(&store, state, &req.caller.user_id)
            .into_iter()
            .filter(|a| *a != state.system_email)
            .map(|a| a.to_lowercase())
            .collect();
        if !own.contains(&from) {
            return Err(ApiError::forbidden("Not allowed 'from' address."));
        }
    }
    let subject = data.get("subject").cloned().unwrap_or(Value::Null);
    data.insert("name".into(), subject);
    let id = store.create(entity, &data, &actor(req), now(), false)?;
    fill_email_addresses(&mut store, entity, &id, req);
    if sending {
        return Err(
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "sendingFail")
                .with_body(json!({"id": id, "message": "No system SMTP settings."})),
        );
    }
    let mut echoed: Vec<String> = data
        .keys()
        .filter(|k| entity.has_attribute(k))
        .cloned()
        .collect();
    for k in ["to", "cc", "isHtml"] {
        echoed.push(k.to_owned());
    }
    if !req.caller.is_admin {
        echoed.extend(["inArchive", "inTrash", "isImportant", "sentById"].map(str::to_owned));
    }
    if store
        .get("Email", &id)
        .and_then(|r| r.get("accountId"))
        .is_some_and(|v| !v.is_null())
    {
        echoed.push("accountId".to_owned());
    }
    render_ok(
        &store,
        entity,
        &id,
        AttributeSet::Create(&echoed),
        &req.caller.user_id,
    )
}

/// The address bookkeeping EspoCRM does for an Email: ids of the addresses, the person each
/// address belongs to, the creating user as the owner.
fn fill_email_addresses(store: &mut Store, _entity: &EntityDef, id: &str, req: &Request<'_>) {
    let Some(email) = store.get("Email", id).cloned() else {
        return;
    };
    let split = |k: &str| -> Vec<String> {
        email
            .get(k)
            .and_then(Value::as_str)
            .map(|s| {
                s.split(';')
                    .map(|a| a.trim().to_owned())
                    .filter(|a| !a.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut name_hash = Map::new();
    let mut type_hash = Map::new();
    let mut id_hash = Map::new();
    let mut address_ids =
        |store: &mut Store, addresses: &[String]| -> (Vec<Value>, Map<String, Value>) {
            let mut ids = Vec::new();
            let mut names = Map::new();
            for a in addresses {
                let aid = store.email_address_id(a);
                ids.push(json!(aid));
                names.insert(aid, json!(a));
                for scope in ["User", "Contact", "Lead", "Account"] {
                    if let Some((pid, r)) = store.all(scope).find(|(_, r)| {
                        r.get("emailAddress")
                            .and_then(Value::as_str)
                            .is_some_and(|e| e.eq_ignore_ascii_case(a))
                    }) {
                        name_hash.insert(a.clone(), r.get("name").cloned().unwrap_or(Value::Null));
                        type_hash.insert(a.clone(), json!(scope));
                        id_hash.insert(a.clone(), json!(pid));
                        break;
                    }
                }
            }
            (ids, names)
        };
    let from = split("from");
    let (from_ids, _) = address_ids(store, &from);
    let (to_ids, to_names) = address_ids(store, &split("to"));
    let (cc_ids, cc_names) = address_ids(store, &split("cc"));
    let (bcc_ids, bcc_names) = address_ids(store, &split("bcc"));
    let me = req.caller.user_id.clone();
    let my_name = store
        .name_of("User", &me)
        .map(Value::String)
        .unwrap_or(Value::Null);
    let Some(record) = store.record_mut_public("Email", id) else {
        return;
    };
    record.insert(
        "fromEmailAddressId".into(),
        from_ids.first().cloned().unwrap_or(Value::Null),
    );
    record.insert(
        "fromEmailAddressName".into(),
        from.first().map(|a| json!(a)).unwrap_or(Value::Null),
    );
    record.insert("toEmailAddressesIds".into(), json!(to_ids));
    record.insert("toEmailAddressesNames".into(), Value::Object(to_names));
    record.insert("ccEmailAddressesIds".into(), json!(cc_ids));
    record.insert("ccEmailAddressesNames".into(), Value::Object(cc_names));
    record.insert("bccEmailAddressesIds".into(), json!(bcc_ids));
    record.insert("bccEmailAddressesNames".into(), Value::Object(bcc_names));
    record.insert("nameHash".into(), Value::Object(name_hash));
    record.insert("typeHash".into(), Value::Object(type_hash));
    record.insert("idHash".into(), Value::Object(id_hash));
    // A non-admin's draft belongs to its author (EspoCRM puts it in the author's folders);
    // an administrator's is nobody's.
    let owned = !req.caller.is_admin;
    record.insert(
        "usersIds".into(),
        if owned {
            json!([me.clone()])
        } else {
            json!([])
        },
    );
    record.insert("usersNames".into(), json!({}));
    record.insert(
        "assignedUsersIds".into(),
        if owned {
            json!([me.clone()])
        } else {
            json!([])
        },
    );
    record.insert(
        "assignedUsersNames".into(),
        if owned {
            json!({ me.clone(): my_name })
        } else {
            json!({})
        },
    );
    record.insert("isUsers".into(), json!(owned));
    record.insert("isUsersSent".into(), json!(owned));
    record.insert(
        "sentById".into(),
        if owned {
            json!(me.clone())
        } else {
            Value::Null
        },
    );
    record.insert("messageId".into(), json!(format!("dummy:{id}")));
    record.entry("isRead").or_insert(json!(true));
    record.entry("isNotRead").or_insert(json!(false));
    record.entry("isReplied").or_insert(json!(false));
    record.entry("isNotReplied").or_insert(json!(true));
    record.entry("isImportant").or_insert(json!(false));
    record.entry("inTrash").or_insert(json!(false));
    record.entry("inArchive").or_insert(json!(false));
    record.entry("hasAttachment").or_insert(json!(false));
    record.entry("isSystem").or_insert(json!(false));
    record.entry("isJustSent").or_insert(json!(false));
    record.entry("isBeingImported").or_insert(json!(false));
    record.entry("isHtml").or_insert(json!(true));
    record.entry("to").or_insert(Value::Null);
    record.entry("cc").or_insert(Value::Null);
    record.entry("bcc").or_insert(Value::Null);
}

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
        _ => Ok(super::route_not_found()),
    }
}

/// `POST User` by an administrator: regular, admin or API users (an API user gets a key,
/// returned once in the response).
pub fn create_user(state: &ApiState, req: &Request<'_>) -> Result<Response, ApiError> {
    if !req.caller.is_admin {
        return Err(Action::Create.denied());
    }
    let meta = Metadata::get();
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
    let id = store.create(entity, &data, &actor(req), now(), false)?;
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
