//! EspoCRM's global search (`GET GlobalSearch?q=`): records of the global-search entity types
//! whose name starts with the text, or has a word that does.

use axum::response::Response;
use serde_json::{Value, json};

use super::{ApiState, Request, ok};
use crate::acl::{Action, app_data};
use crate::error::ApiError;

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
    let (offset, max) = req.page();
    let store = state.store();
    let entity_list: Vec<String> = app_data(req.version)
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
