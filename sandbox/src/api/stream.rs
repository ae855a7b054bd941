//! Streams: a record's stream and posts (`GET {E}/{id}/stream|posts`), the caller's own stream
//! (`GET Stream`), posting a note (`POST Note`), and following or unfollowing a record
//! (`PUT|DELETE {E}/{id}/subscription`).

use axum::http::Method;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::{ApiState, Request, entity_for, now, ok, render_ok};
use crate::acl::Action;
use crate::error::ApiError;
use crate::model::EntityDef;
use crate::store::{AttributeSet, Store};

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

/// The reactions of a note (EspoCRM 10; the sandbox records none).
const REACTION_ATTRIBUTES: &[&str] = &["reactionCounts", "myReactions"];

/// Whether notes have reactions in this description (fields `reactionCounts`/`myReactions`).
fn has_reactions(note: &EntityDef) -> bool {
    REACTION_ATTRIBUTES.iter().all(|a| note.field(a).is_some())
}

fn render_notes(store: &Store, ids: &[String], attributes: &[&str], viewer: &str) -> Vec<Value> {
    let meta = store.meta();
    let Some(note) = meta.entity("Note") else {
        return Vec::new();
    };
    let mut attrs: Vec<String> = attributes.iter().map(|s| (*s).to_owned()).collect();
    if has_reactions(note) {
        // EspoCRM 10 shows the reactions before the note's times.
        let at = attrs
            .iter()
            .position(|a| a == "createdAt")
            .unwrap_or(attrs.len());
        attrs.splice(at..at, REACTION_ATTRIBUTES.iter().map(|s| (*s).to_owned()));
    }
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
    let (offset, max) = req.page();
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

/// `GET Stream`: the caller's own posts and the notes of records the caller follows (10.0 adds
/// `reactionsCheckDate` and `updatedReactions`).
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
    let (offset, max) = req.page();
    let page: Vec<String> = ids.iter().skip(offset).take(max).cloned().collect();
    let total = if offset + max < ids.len() { -1 } else { -2 };
    let mut body =
        json!({"total": total, "list": render_notes(&store, &page, OWN_STREAM_ITEM, me)});
    if req.version.at_least(crate::version::EspoVersion::V10_0) {
        // EspoCRM 9+ tells the client when it looked for changed reactions and which notes'
        // reactions changed since `reactionsAfter`; the sandbox has no reactions to change.
        body["reactionsCheckDate"] = json!(now().format(crate::store::DATETIME_FORMAT).to_string());
        body["updatedReactions"] = json!([]);
    }
    Ok(ok(body))
}

/// `POST Note`: a post to a record's stream (type forced to Post) or to the caller's own.
pub fn post_note(state: &ApiState, req: &Request<'_>) -> Result<Response, ApiError> {
    let body = req.json_object()?;
    let meta = req.meta();
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
    let note_entity = meta.entity("Note").ok_or_else(ApiError::internal)?;
    crate::attachments::check_adoptable(&store, &req.access, note_entity, None, &body)?;
    let id = store.insert_note(note, &req.actor(), now());
    for (field, ids) in crate::attachments::requested(note_entity, &body) {
        crate::attachments::adopt(&mut store, "Note", &id, &field, &ids);
    }
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
