//! The kanban: records grouped by their status field (`GET Kanban/{E}`), and each user's own
//! order of the cards within a group (`PUT Kanban/order`).

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::{ApiState, Request, now, ok};
use crate::acl::Action;
use crate::error::ApiError;
use crate::list::{self, ListContext, ListParams};

/// `GET Kanban/{E}`: groups by the status field, `maxSize` per group, the caller's order first.
pub fn kanban(state: &ApiState, req: &Request<'_>, segment: &str) -> Result<Response, ApiError> {
    let meta = req.meta();
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
    let entity = req
        .meta()
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
