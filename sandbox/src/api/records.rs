//! EspoCRM's generic record routes: list, create, read, update, delete, related lists,
//! relate and unrelate — with the statuses, reasons and bodies a real EspoCRM 8.4.2 gives.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::{ApiState, Request, entity_for, now, ok, render_ok};
use crate::acl::Action;
use crate::error::ApiError;
use crate::list::{self, ListContext, ListParams};
use crate::model::EntityDef;
use crate::store::{AttributeSet, Store};
use crate::version::EspoVersion;
use crate::{concurrency, locks};

fn no_total(req: &Request<'_>) -> bool {
    req.header("X-No-Total")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Users of type api (and the system user) are not listed to other users.
fn listable(entity: &EntityDef, store: &Store, id: &str, req: &Request<'_>) -> bool {
    if entity.name != "User" {
        return true;
    }
    let kind = store
        .get("User", id)
        .and_then(|u| u.get("type"))
        .and_then(Value::as_str);
    req.caller.is_admin || !matches!(kind, Some("api") | Some("system"))
}

pub fn list(state: &ApiState, req: &Request<'_>, segment: &str) -> Result<Response, ApiError> {
    let entity = entity_for(req, segment, Action::Read)?;
    let params = ListParams::from_query(entity, &req.query, no_total(req))?;
    let store = state.store();
    let ids: Vec<String> = store
        .all(&entity.name)
        .map(|(id, _)| id.clone())
        .filter(|id| listable(entity, &store, id, req))
        .collect();
    let page = list::run(
        &store,
        entity,
        ids,
        &params,
        &req.access,
        now(),
        ListContext::Records,
        &|_| Map::new(),
    )?;
    Ok(ok(json!({"total": page.total, "list": page.rows})))
}

/// Followers are part of the stream: a user without stream access does not see them.
fn hide_followers(
    mut body: Map<String, Value>,
    entity: &EntityDef,
    req: &Request<'_>,
) -> Map<String, Value> {
    if entity.has_stream() && !req.access.allows(&entity.name, Action::Stream) {
        body.remove("followersIds");
        body.remove("followersNames");
    }
    body
}

pub fn read(
    state: &ApiState,
    req: &Request<'_>,
    segment: &str,
    id: &str,
) -> Result<Response, ApiError> {
    let entity = entity_for(req, segment, Action::Read)?;
    let store = state.store();
    let Some(record) = store.get(&entity.name, id) else {
        return Err(ApiError::not_found(format!("Record {id} does not exist.")));
    };
    if !req.access.covers(&entity.name, Action::Read, record) {
        return Err(Action::Read.denied());
    }
    let body = store
        .render(entity, id, AttributeSet::Detail, &req.caller.user_id)
        .ok_or_else(|| ApiError::not_found(format!("Record {id} does not exist.")))?;
    Ok(ok(Value::Object(hide_followers(body, entity, req))))
}

/// The duplicate check of EspoCRM's create: same name (case-insensitively) or same email address.
fn duplicates(
    store: &Store,
    entity: &EntityDef,
    data: &Map<String, Value>,
    req: &Request<'_>,
) -> Vec<Value> {
    let fields = entity.duplicate_check_fields();
    if fields.is_empty() {
        return Vec::new();
    }
    let person = entity.field("name").is_some_and(|f| f.kind == "personName");
    let name = if person {
        let part = |k: &str| {
            data.get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim()
                .to_owned()
        };
        let full = [part("firstName"), part("lastName")]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        Some(full).filter(|s| !s.is_empty() && !part("lastName").is_empty())
    } else {
        data.get("name").and_then(Value::as_str).map(str::to_owned)
    };
    let email = data
        .get("emailAddress")
        .and_then(Value::as_str)
        .map(str::to_lowercase)
        .filter(|s| !s.is_empty());
    let mut found = Vec::new();
    for (id, record) in store.all(&entity.name) {
        let same_name = name.as_ref().is_some_and(|n| {
            record
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|r| r.to_lowercase() == n.to_lowercase())
        });
        let same_email = email.as_ref().is_some_and(|e| {
            record
                .get("emailAddressData")
                .and_then(Value::as_array)
                .is_some_and(|items| {
                    items
                        .iter()
                        .any(|i| i.get("lower").and_then(Value::as_str) == Some(e.as_str()))
                })
                || record
                    .get("emailAddress")
                    .and_then(Value::as_str)
                    .map(str::to_lowercase)
                    .as_deref()
                    == Some(e.as_str())
        });
        if same_name || same_email {
            let mut attrs: Vec<String> = entity.list_attributes.clone();
            for a in ["createdByName", "assignedUserName"] {
                if !attrs.iter().any(|x| x == a) {
                    attrs.push(a.to_owned());
                }
            }
            if let Some(row) =
                store.render(entity, id, AttributeSet::Only(&attrs), &req.caller.user_id)
            {
                found.push(Value::Object(row));
            }
        }
    }
    found
}

/// `X-Skip-Duplicate-Check: true`, or (8.4 only, without the header) a legacy body flag.
fn skip_duplicate_check(req: &Request<'_>, data: &Map<String, Value>) -> bool {
    match req.header("X-Skip-Duplicate-Check") {
        Some(v) => v.eq_ignore_ascii_case("true"),
        None if req.version.at_least(EspoVersion::V10_0) => false,
        None => [
            "skipDuplicateCheck",
            "_skipDuplicateCheck",
            "forceDuplicate",
        ]
        .iter()
        .any(|k| {
            matches!(data.get(*k), Some(Value::Bool(true)))
                || data.get(*k).and_then(Value::as_str) == Some("true")
        }),
    }
}

/// Attributes a create request set that the response echoes (known, writable ones), and the
/// enum fields the save gave their default (a Case's `status` and `priority`): EspoCRM answers
/// with every attribute the new record had set. EspoCRM 10 also answers with the primary address
/// that `emailAddressData`/`phoneNumberData` decided.
fn echoed_attributes(
    entity: &EntityDef,
    data: &Map<String, Value>,
    version: EspoVersion,
) -> Vec<String> {
    let defaulted = entity.fields.iter().filter(|(field, def)| {
        def.kind == "enum"
            && def.default.as_ref().is_some_and(|d| !d.is_null())
            && !data.contains_key(field.as_str())
    });
    let mut echoed: Vec<String> = data
        .keys()
        .filter(|k| entity.has_attribute(k) && k.as_str() != "id")
        .filter(|k| {
            let field = entity.field_of_attribute(k).unwrap_or(k);
            !entity.field(field).is_some_and(|f| f.read_only)
        })
        .chain(defaulted.map(|(field, _)| field))
        .cloned()
        .collect();
    if version.at_least(EspoVersion::V10_0) {
        for (list, primary) in [
            ("emailAddressData", "emailAddress"),
            ("phoneNumberData", "phoneNumber"),
        ] {
            if echoed.iter().any(|a| a == list) && !echoed.iter().any(|a| a == primary) {
                echoed.push(primary.to_owned());
            }
        }
    }
    echoed
}

pub fn create(state: &ApiState, req: &Request<'_>, segment: &str) -> Result<Response, ApiError> {
    let entity = entity_for(req, segment, Action::Create)?;
    let data = req.json_object()?;
    let mut store = state.store();
    if !skip_duplicate_check(req, &data) {
        let found = duplicates(&store, entity, &data, req);
        if !found.is_empty() {
            return Err(
                ApiError::new(StatusCode::CONFLICT, "duplicate").with_body(Value::Array(found))
            );
        }
    }
    crate::attachments::check_adoptable(&store, &req.access, entity, None, &data)?;
    let id = store.create(entity, &data, &req.actor(), now(), false)?;
    let extra = echoed_attributes(entity, &data, req.version);
    render_ok(
        &store,
        entity,
        &id,
        AttributeSet::Create(&extra),
        &req.caller.user_id,
    )
}

pub fn update(
    state: &ApiState,
    req: &Request<'_>,
    segment: &str,
    id: &str,
) -> Result<Response, ApiError> {
    let entity = entity_for(req, segment, Action::Edit)?;
    let data = req.json_object()?;
    let mut store = state.store();
    let Some(record) = store.get(&entity.name, id) else {
        return Err(ApiError::not_found(format!("Record {id} not found.")));
    };
    if !req.access.covers(&entity.name, Action::Edit, record) {
        return Err(Action::Edit.denied());
    }
    crate::attachments::check_adoptable(&store, &req.access, entity, Some(id), &data)?;
    let (meta, viewer) = (req.meta(), &req.caller.user_id);
    concurrency::before_update(
        &store,
        meta,
        entity,
        id,
        &data,
        req.header(concurrency::HEADER),
        viewer,
    )?;
    store.update(entity, id, &data, &req.actor(), now())?;
    render_ok(
        &store,
        entity,
        id,
        AttributeSet::Detail,
        &req.caller.user_id,
    )
}

pub fn delete(
    state: &ApiState,
    req: &Request<'_>,
    segment: &str,
    id: &str,
) -> Result<Response, ApiError> {
    let entity = entity_for(req, segment, Action::Delete)?;
    let mut store = state.store();
    let Some(record) = store.get(&entity.name, id) else {
        return Err(ApiError::not_found(format!("Record {id} not found.")));
    };
    if !req.access.covers(&entity.name, Action::Delete, record) {
        return Err(Action::Delete.denied());
    }
    locks::before_delete(&store, entity, id)?;
    store.delete(&entity.name, id);
    Ok(ok(Value::Bool(true)))
}

/// The link of `entity` named `link`. An unknown name is an unhandled 500 in 8.4; 10.0 answers
/// 404, worded differently for a related list and for relating.
fn link_of<'e>(
    req: &Request<'_>,
    entity: &'e EntityDef,
    link: &str,
) -> Result<&'e crate::model::LinkDef, ApiError> {
    entity.link(link).ok_or_else(|| {
        if !req.version.at_least(EspoVersion::V10_0) {
            ApiError::internal()
        } else if req.method == axum::http::Method::GET {
            ApiError::not_found("Link does not exist.")
        } else {
            ApiError::not_found(format!("Entity {} does not have link {link}.", entity.name))
        }
    })
}

pub fn list_related(
    state: &ApiState,
    req: &Request<'_>,
    segment: &str,
    id: &str,
    link: &str,
) -> Result<Response, ApiError> {
    let entity = entity_for(req, segment, Action::Read)?;
    let def = link_of(req, entity, link)?;
    let meta = req.meta();
    let foreign_name = match def.kind.as_str() {
        "belongsToParent" => {
            let store = state.store();
            store
                .get(&entity.name, id)
                .and_then(|r| r.get(&format!("{link}Type")))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_default()
        }
        _ => def.entity.clone().unwrap_or_default(),
    };
    let foreign = meta.entity(&foreign_name).ok_or_else(ApiError::internal)?;
    if !req.access.allows(&foreign.name, Action::Read) {
        return Err(ApiError::forbidden(""));
    }
    let params = ListParams::from_query(foreign, &req.query, no_total(req))?;
    let store = state.store();
    let Some(record) = store.get(&entity.name, id) else {
        return Err(ApiError::not_found(format!("Record {id} does not exist.")));
    };
    if !req.access.covers(&entity.name, Action::Read, record) {
        return Err(Action::Read.denied());
    }
    let linked = store.linked(&entity.name, id, link);
    let column_map = def
        .foreign
        .as_deref()
        .and_then(|f| foreign.link(f))
        .and_then(|l| l.column_attribute_map.clone())
        .unwrap_or_default();
    let ids: Vec<String> = linked.iter().map(|(i, _)| i.clone()).collect();
    let extra = |row_id: &str| -> Map<String, Value> {
        let columns = linked
            .iter()
            .find(|(i, _)| i == row_id)
            .map(|(_, c)| c.clone())
            .unwrap_or_default();
        column_map
            .iter()
            .map(|(column, attribute)| {
                (
                    attribute.clone(),
                    columns.get(column).cloned().unwrap_or(Value::Null),
                )
            })
            .collect()
    };
    let page = list::run(
        &store,
        foreign,
        ids,
        &params,
        &req.access,
        now(),
        ListContext::Records,
        &extra,
    )?;
    Ok(ok(json!({"total": page.total, "list": page.rows})))
}

/// `POST|DELETE {E}/{id}/{link}` with `{"id": …}` or `{"ids": […]}`.
pub fn link(
    state: &ApiState,
    req: &Request<'_>,
    segment: &str,
    id: &str,
    link: &str,
) -> Result<Response, ApiError> {
    let meta = req.meta();
    let entity = match meta.resolve(segment) {
        Some(e) => e,
        None if meta.is_known_scope(segment) => return Err(Action::Edit.denied()),
        None => return Err(ApiError::unknown_controller(segment)),
    };
    let body = req.json_object()?;
    let mut store = state.store();
    let Some(record) = store.get(&entity.name, id) else {
        return Err(ApiError::not_found(""));
    };
    if !req.access.covers(&entity.name, Action::Edit, record) {
        return Err(ApiError::forbidden(format!("No record access for link operation ({}:{link}).", entity.name))
            .with_body(json!({"messageTranslation": {"label": "noAccessToRecord", "scope": null, "data": {"action": "edit"}}})));
    }
    // EspoCRM looks at the link once it has the record and the access to it.
    let def = link_of(req, entity, link)?;
    let ids: Vec<String> = match (body.get("id"), body.get("ids")) {
        (Some(Value::String(one)), _) => vec![one.clone()],
        (_, Some(Value::Array(many))) => many
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => return Ok(ok(Value::Bool(false))),
    };
    let foreign = def.entity.clone().unwrap_or_default();
    if ids.iter().any(|f| !store.exists(&foreign, f)) {
        return Err(ApiError::not_found(""));
    }
    let columns = body.get("columns").and_then(Value::as_object).cloned();
    let relate = req.method == axum::http::Method::POST;
    for foreign_id in &ids {
        if relate {
            store.relate(&entity.name, id, link, foreign_id, columns.clone());
        } else {
            store.unrelate(&entity.name, id, link, foreign_id);
        }
    }
    Ok(ok(Value::Bool(true)))
}
