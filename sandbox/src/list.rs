//! Listing records as EspoCRM's `GET {E}` does: the search parameters (`where`, `select`,
//! `orderBy`, `order`, `maxSize`, `offset`, `textFilter`, `q`, `primaryFilter`,
//! `boolFilterList`, or one `searchParams` JSON), their errors, and running them over the store.
//! The same machinery serves related lists (`GET {E}/{id}/{link}`) and the kanban.

use std::cmp::Ordering;

use chrono::{Duration, NaiveDateTime};
use serde_json::{Map, Value};

use crate::acl::{Access, Action};
use crate::error::ApiError;
use crate::model::EntityDef;
use crate::store::{AttributeSet, Store};
use crate::where_clause::{self, AttributeKind, Clock, WhereItem};

/// The largest page EspoCRM allows (`recordListMaxSizeLimit`), and the default page size.
pub const MAX_SIZE: usize = 200;

/// Where a list is shown: the select dependencies EspoCRM adds differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListContext {
    Records,
    Kanban,
}

/// Parsed search parameters of one list request.
#[derive(Debug, Default)]
pub struct ListParams {
    pub where_items: Vec<WhereItem>,
    pub select: Option<Vec<String>>,
    pub order_by: Option<String>,
    pub order_desc: Option<bool>,
    pub max_size: usize,
    pub offset: usize,
    pub text_filter: Option<String>,
    pub primary_filter: Option<String>,
    pub bool_filters: Vec<String>,
    /// `X-No-Total` or `q`: report -1 (more follow) or -2 (last page) instead of counting.
    pub no_total: bool,
}

/// PHP's `intval` on a query value: leading digits, else 0.
fn int_value(v: &Value) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => {
            let t = s.trim();
            let (sign, digits) = match t.strip_prefix('-') {
                Some(rest) => (-1, rest),
                None => (1, t.strip_prefix('+').unwrap_or(t)),
            };
            let n: String = digits
                .chars()
                .take_while(char::is_ascii_digit)
                .take(18)
                .collect();
            sign * n.parse::<i64>().unwrap_or(0)
        }
        Value::Bool(b) => i64::from(*b),
        _ => 0,
    }
}

fn string_list(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => s
            .split(',')
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect(),
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        Value::Object(o) => o
            .values()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

impl ListParams {
    /// Reads the parameters from a decoded query (see `query_string::parse`).
    pub fn from_query(
        entity: &EntityDef,
        query: &Map<String, Value>,
        no_total_header: bool,
    ) -> Result<ListParams, ApiError> {
        let searched;
        let source: &Map<String, Value> = match query.get("searchParams") {
            Some(Value::String(json)) => {
                searched = match serde_json::from_str::<Value>(json) {
                    Ok(Value::Object(m)) => m,
                    _ => return Err(ApiError::bad_request("Invalid search params JSON.")),
                };
                &searched
            }
            _ => query,
        };
        let mut params = ListParams {
            max_size: MAX_SIZE,
            no_total: no_total_header,
            ..ListParams::default()
        };
        if let Some(v) = source.get("maxSize") {
            let n = int_value(v);
            if n > MAX_SIZE as i64 {
                return Err(ApiError::forbidden(format!(
                    "Max size should not exceed {MAX_SIZE}. Use offset and limit."
                )));
            }
            params.max_size = n.max(0) as usize;
        }
        if let Some(v) = source.get("offset") {
            params.offset = int_value(v).max(0) as usize;
        }
        if let Some(v) = source.get("select") {
            params.select = Some(string_list(v));
        }
        if let Some(order) = source.get("order").and_then(Value::as_str) {
            params.order_desc = match order.to_ascii_lowercase().as_str() {
                "asc" => Some(false),
                "desc" => Some(true),
                _ => return Err(ApiError::bad_request("order value is bad.")),
            };
        }
        if let Some(order_by) = source.get("orderBy").and_then(Value::as_str)
            && !order_by.is_empty()
        {
            if !entity.has_attribute(order_by) && entity.field(order_by).is_none() {
                return Err(ApiError::bad_request(format!(
                    "Order by non-existing field '{order_by}'."
                )));
            }
            params.order_by = Some(order_by.to_owned());
        }
        if let Some(w) = source.get("where") {
            params.where_items = where_clause::parse(w, entity).map_err(|e| match e.reason() {
                Some(reason) => ApiError::new(status_code(e.status()), reason),
                None => ApiError {
                    status: status_code(e.status()),
                    ..ApiError::internal()
                },
            })?;
        }
        if let Some(t) = source.get("textFilter").and_then(Value::as_str) {
            params.text_filter = Some(t.to_owned());
        }
        if let Some(q) = source.get("q").and_then(Value::as_str) {
            params.text_filter = Some(q.to_owned());
            params.no_total = true;
        }
        if let Some(p) = source.get("primaryFilter").and_then(Value::as_str)
            && !p.is_empty()
        {
            if !primary_filter_known(&entity.name, p) {
                return Err(ApiError::bad_request(format!(
                    "No primary filter '{p}' for '{}'.",
                    entity.name
                )));
            }
            params.primary_filter = Some(p.to_owned());
        }
        if let Some(b) = source.get("boolFilterList") {
            params.bool_filters = string_list(b);
        }
        Ok(params)
    }

    pub fn order(&self, entity: &EntityDef) -> (String, bool) {
        let by = self
            .order_by
            .clone()
            .unwrap_or_else(|| entity.default_order_by.clone());
        let desc = self.order_desc.unwrap_or(if self.order_by.is_some() {
            false
        } else {
            entity.default_order_desc
        });
        (by, desc)
    }
}

fn status_code(code: u16) -> axum::http::StatusCode {
    axum::http::StatusCode::from_u16(code).unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR)
}

fn primary_filter_known(entity: &str, filter: &str) -> bool {
    primary_filters(entity).contains(&filter)
}

/// The primary filters EspoCRM 8.4 defines per entity type.
pub fn primary_filters(entity: &str) -> &'static [&'static str] {
    match entity {
        "Opportunity" => &["open", "won", "lost"],
        "Account" => &["customers", "partners", "resellers", "recentlyCreated"],
        "Contact" => &["portalUsers", "notPortalUsers", "accountActive"],
        "Lead" => &["actual", "active", "converted"],
        "Task" => &[
            "actual",
            "completed",
            "deferred",
            "todays",
            "overdue",
            "actualStartingNotInFuture",
        ],
        "Case" => &["open", "closed"],
        "Meeting" | "Call" => &["planned", "held", "todays"],
        "Email" => &["inbox", "sent", "archived", "drafts", "trash", "important"],
        "User" => &[
            "active",
            "activePortal",
            "activeApi",
            "internal",
            "portal",
            "api",
        ],
        _ => &[],
    }
}

fn primary_filter_matches(
    entity: &str,
    filter: &str,
    get: &dyn Fn(&str) -> Value,
    now: NaiveDateTime,
) -> bool {
    let s = |k: &str| get(k).as_str().map(str::to_owned).unwrap_or_default();
    let today = now.format("%Y-%m-%d").to_string();
    match (entity, filter) {
        ("Opportunity", "open") => !["Closed Won", "Closed Lost"].contains(&s("stage").as_str()),
        ("Opportunity", "won") => s("stage") == "Closed Won",
        ("Opportunity", "lost") => s("stage") == "Closed Lost",
        ("Account", "customers") => s("type") == "Customer",
        ("Account", "partners") => s("type") == "Partner",
        ("Account", "resellers") => s("type") == "Reseller",
        ("Account", "recentlyCreated") => {
            let week_ago = (now - Duration::days(7))
                .format("%Y-%m-%d %H:%M:%S")
                .to_string();
            s("createdAt") >= week_ago
        }
        ("Lead", "actual") | ("Lead", "active") => {
            !["Converted", "Recycled", "Dead"].contains(&s("status").as_str())
        }
        ("Lead", "converted") => s("status") == "Converted",
        ("Task", "actual") => {
            !["Completed", "Canceled", "Deferred"].contains(&s("status").as_str())
        }
        ("Task", "completed") => s("status") == "Completed",
        ("Task", "deferred") => s("status") == "Deferred",
        ("Task", "todays") => s("dateEnd").starts_with(&today),
        ("Task", "overdue") => {
            let end = s("dateEnd");
            !end.is_empty()
                && end < now.format("%Y-%m-%d %H:%M:%S").to_string()
                && !["Completed", "Canceled"].contains(&s("status").as_str())
        }
        ("Task", "actualStartingNotInFuture") => {
            let start = s("dateStart");
            !["Completed", "Canceled", "Deferred"].contains(&s("status").as_str())
                && (start.is_empty() || start <= now.format("%Y-%m-%d %H:%M:%S").to_string())
        }
        ("Case", "open") => !["Closed", "Rejected", "Duplicate"].contains(&s("status").as_str()),
        ("Case", "closed") => s("status") == "Closed",
        ("Meeting" | "Call", "planned") => s("status") == "Planned",
        ("Meeting" | "Call", "held") => s("status") == "Held",
        ("Meeting" | "Call", "todays") => s("dateStart").starts_with(&today),
        ("Email", "drafts") => s("status") == "Draft",
        ("User", "active") => get("isActive") == Value::Bool(true) && s("type") != "api",
        ("User", "activeApi") | ("User", "api") => s("type") == "api",
        _ => true,
    }
}

/// Attributes EspoCRM adds to a `select` so that list rows can be rendered (recorded per type).
fn select_dependencies(entity: &str, context: ListContext) -> &'static [&'static str] {
    match (entity, context) {
        ("Contact", ListContext::Records) => &["accountId", "accountIsInactive", "accountName"],
        ("Lead", ListContext::Records) => &["accountName", "emailAddress", "phoneNumber"],
        ("Opportunity", ListContext::Records) => &["accountId", "accountName"],
        ("Task", _) => &["parentName"],
        _ => &[],
    }
}

/// The attributes of a list row for a given `select`: the known selected ones, `id`, the order
/// attribute, the ACL attributes, the per-type dependencies (unknown names are dropped) and the
/// type's list extras (EspoCRM 10's `isStarred`).
pub fn selected_attributes(
    entity: &EntityDef,
    select: &[String],
    order_by: &str,
    context: ListContext,
) -> Vec<String> {
    let mut out = vec!["id".to_owned()];
    let mut push = |a: &str| {
        if !out.iter().any(|x| x == a) {
            out.push(a.to_owned());
        }
    };
    let person = entity.field("name").is_some_and(|f| f.kind == "personName");
    for a in select {
        if entity.has_attribute(a) {
            push(a);
            if person
                && ["firstName", "lastName", "middleName", "salutationName"].contains(&a.as_str())
            {
                push("name");
            }
        }
    }
    if entity.has_attribute(order_by) {
        push(order_by);
    }
    if entity.field(order_by).is_some_and(|f| f.kind == "currency") {
        push(&format!("{order_by}Currency"));
    }
    for a in ["assignedUserId", "createdById"] {
        if entity.has_attribute(a) {
            push(a);
        }
    }
    for a in select_dependencies(&entity.name, context) {
        if entity.has_attribute(a) {
            push(a);
        }
    }
    for a in &entity.list_extra_attributes {
        push(a);
    }
    out
}

/// A record as the where engine sees it: stored and derived attributes, links.
struct View<'a> {
    store: &'a Store,
    entity: &'a EntityDef,
    id: &'a str,
    viewer: &'a str,
    cache: std::cell::RefCell<Map<String, Value>>,
}

impl View<'_> {
    fn value(&self, attribute: &str) -> Value {
        if let Some(v) = self.cache.borrow().get(attribute) {
            return v.clone();
        }
        let v = self
            .store
            .get(&self.entity.name, self.id)
            .map(|r| {
                self.store
                    .attribute_value(self.entity, self.id, r, attribute, self.viewer)
            })
            .unwrap_or(Value::Null);
        self.cache
            .borrow_mut()
            .insert(attribute.to_owned(), v.clone());
        v
    }
}

impl where_clause::Target for View<'_> {
    fn attribute(&self, attribute: &str) -> Option<Value> {
        Some(self.value(attribute))
    }

    fn linked_ids(&self, link: &str) -> Vec<String> {
        self.store
            .linked(&self.entity.name, self.id, link)
            .into_iter()
            .map(|(i, _)| i)
            .collect()
    }
}

impl where_clause::Schema for EntityDef {
    fn attribute_kind(&self, attribute: &str) -> Option<AttributeKind> {
        EntityDef::attribute_kind(self, attribute)
    }

    fn is_link(&self, name: &str) -> bool {
        self.link(name).is_some()
    }
}

/// One page of a list.
#[derive(Debug)]
pub struct Page {
    pub total: i64,
    pub rows: Vec<Map<String, Value>>,
}

/// Filters, sorts and pages `candidates` (ids of `entity`), rendering each row.
/// `extra` adds per-row attributes (relation columns of a related list).
#[allow(clippy::too_many_arguments)]
pub fn run(
    store: &Store,
    entity: &EntityDef,
    candidates: Vec<String>,
    params: &ListParams,
    access: &Access,
    now: NaiveDateTime,
    context: ListContext,
    extra: &dyn Fn(&str) -> Map<String, Value>,
) -> Result<Page, ApiError> {
    let clock = Clock { now };
    let viewer = access.user_id.as_str();
    let mut matched: Vec<(String, Value, Value)> = Vec::new();
    let (order_by, desc) = params.order(entity);
    let sort_attribute = sort_attribute(entity, &order_by);
    for id in candidates {
        let Some(record) = store.get(&entity.name, &id) else {
            continue;
        };
        if !access.covers(&entity.name, Action::Read, record) {
            continue;
        }
        let view = View {
            store,
            entity,
            id: &id,
            viewer,
            cache: Default::default(),
        };
        if !where_clause::matches_all(&params.where_items, &view, &clock) {
            continue;
        }
        if let Some(filter) = &params.primary_filter
            && !primary_filter_matches(&entity.name, filter, &|a| view.value(a), now)
        {
            continue;
        }
        if !bool_filters_match(&params.bool_filters, &view, store, entity, &id, viewer) {
            continue;
        }
        if let Some(text) = &params.text_filter
            && !text_filter_matches(entity, text, &view)
        {
            continue;
        }
        let key = view.value(&sort_attribute);
        let name = view.value("name");
        matched.push((id, key, name));
    }
    let kind = entity.attribute_kind(&sort_attribute);
    matched.sort_by(|a, b| {
        let primary = compare_values(&a.1, &b.1, kind);
        let primary = if desc { primary.reverse() } else { primary };
        primary.then_with(|| if desc { b.0.cmp(&a.0) } else { a.0.cmp(&b.0) })
    });
    let count = matched.len();
    let select_attributes = params
        .select
        .as_ref()
        .map(|s| selected_attributes(entity, s, &order_by, context));
    let rows: Vec<Map<String, Value>> = matched
        .iter()
        .skip(params.offset)
        .take(params.max_size)
        .filter_map(|(id, _, _)| {
            let set = match &select_attributes {
                Some(list) => AttributeSet::Only(list),
                None => AttributeSet::List,
            };
            let mut row = store.render(entity, id, set, viewer)?;
            cut_long_texts(entity, &mut row);
            for (k, v) in extra(id) {
                if select_attributes.as_ref().is_none_or(|s| {
                    s.contains(&k) || params.select.as_ref().is_some_and(|sel| sel.contains(&k))
                }) {
                    row.insert(k, v);
                }
            }
            Some(row)
        })
        .collect();
    let total = if params.no_total {
        if params.offset + params.max_size < count {
            -1
        } else {
            -2
        }
    } else {
        count as i64
    };
    Ok(Page { total, rows })
}

/// Ordering by a link or person name sorts by the displayed name.
fn sort_attribute(entity: &EntityDef, order_by: &str) -> String {
    match entity.field(order_by).map(|f| f.kind.as_str()) {
        Some("link" | "linkParent" | "linkOne") => format!("{order_by}Name"),
        _ => order_by.to_owned(),
    }
}

/// MySQL-like ordering: NULL first, numbers numerically, text case-insensitively.
pub fn compare_values(a: &Value, b: &Value, kind: Option<AttributeKind>) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => {
            if kind == Some(AttributeKind::Number) {
                let n = |v: &Value| {
                    v.as_f64()
                        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                        .unwrap_or(0.0)
                };
                return n(a).total_cmp(&n(b));
            }
            let s = |v: &Value| {
                v.as_str()
                    .map(str::to_lowercase)
                    .unwrap_or_else(|| v.to_string())
            };
            s(a).cmp(&s(b))
        }
    }
}

fn text_filter_matches(entity: &EntityDef, text: &str, view: &View<'_>) -> bool {
    let needle = text.trim().to_lowercase();
    if needle.is_empty() {
        return true;
    }
    let (pattern, contains) = match needle.strip_prefix('*') {
        Some(rest) => (rest.replace('*', ""), true),
        None => (needle.replace('*', ""), needle.contains('*')),
    };
    let person = entity.field("name").is_some_and(|f| f.kind == "personName");
    let check = |value: &Value| -> bool {
        let Some(s) = value.as_str() else {
            return false;
        };
        let s = s.to_lowercase();
        if contains {
            s.contains(&pattern)
        } else {
            s.starts_with(&pattern)
        }
    };
    entity.text_filter_fields.iter().any(|field| {
        if person && field == "name" {
            return check(&view.value("name"))
                || check(&view.value("firstName"))
                || check(&view.value("lastName"));
        }
        check(&view.value(field))
    })
}

fn bool_filters_match(
    filters: &[String],
    view: &View<'_>,
    store: &Store,
    entity: &EntityDef,
    id: &str,
    viewer: &str,
) -> bool {
    filters.iter().all(|f| match f.as_str() {
        "onlyMy" => {
            view.value("assignedUserId").as_str() == Some(viewer)
                || (entity.link("users").is_some()
                    && store
                        .linked(&entity.name, id, "users")
                        .iter()
                        .any(|(u, _)| u == viewer))
        }
        "followed" => store
            .followers(&entity.name, id)
            .iter()
            .any(|u| u == viewer),
        _ => true,
    })
}

/// The longest text a list row carries (EspoCRM cuts text attributes in lists).
pub const LIST_TEXT_MAX_CHARS: usize = 10_000;

fn cut_long_texts(entity: &EntityDef, row: &mut Map<String, Value>) {
    for (name, value) in row.iter_mut() {
        let is_text = entity
            .field(name)
            .is_some_and(|f| matches!(f.kind.as_str(), "text" | "wysiwyg"));
        if let (true, Value::String(s)) = (is_text, &mut *value)
            && s.chars().count() > LIST_TEXT_MAX_CHARS
        {
            *s = s.chars().take(LIST_TEXT_MAX_CHARS).collect();
        }
    }
}
