//! The five read-only power tools, in the read toolset: `get_many`, `global_search`, `aggregate`,
//! `upcoming_activities`, `whoami`.
//!
//! They validate exactly as the read tools do (names, ids and where clauses against the schema)
//! and only ever read. `aggregate` pages through the filtered records itself, because EspoCRM
//! has no aggregation endpoint: it refuses up front a set larger than
//! `SERVER_AGGREGATE_MAX_RECORDS`, reports MCP progress while paging, and stops paging when the
//! client cancels (the server drops the tool's future, see `server.rs`); what it computes is
//! [`super::aggregation`]'s.

use std::collections::HashMap;

use espomcp_actors::{AccessLevel, Action, EspoRequest, ScopeAccess};
use rmcp::model::{JsonObject, ProgressNotificationParam};
use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::aggregation::{AggregatePlan, Aggregation, DateBucket, Metric};
use crate::error::ToolError;
use crate::espo::query::ListQuery;
use crate::server::EspoMcp;
use crate::tools::catalog::ToolSpec;
use crate::tools::{input_schema, parse_args};
use crate::toolsets::Toolset;
use crate::validate::lists::{BoundedVec, MAX_ENTITY_TYPES, MAX_SELECT, MAX_WHERE};
use crate::validate::names;
use crate::validate::where_clause::{self, Where, WhereCondition};

/// The most ids one `get_many` call takes.
pub use crate::validate::lists::MAX_IDS;

/// The most metrics one `aggregate` call computes.
pub use crate::validate::lists::MAX_METRICS;

/// The longest `global_search` text.
pub const MAX_QUERY_CHARS: usize = 200;

/// How many pages of global-search hits `global_search` reads when filtering by entity type.
const GLOBAL_SEARCH_PAGES: u32 = 5;

/// The longest window `upcoming_activities` looks ahead.
pub const MAX_DAYS: u32 = 366;

// ---------------------------------------------------------------------------------------------
// Arguments and answers
// ---------------------------------------------------------------------------------------------

/// Several records of one type by id.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetManyArgs {
    /// The entity type, e.g. `Contact`.
    pub entity_type: String,
    /// The record ids (1 to 100), as `search` returns them.
    pub ids: BoundedVec<String, MAX_IDS>,
    /// Only these fields (plus `id`); at most 100.
    #[serde(default)]
    pub select: Option<BoundedVec<String, MAX_SELECT>>,
}

/// Records found by id, and the ids that were not.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManyRecords {
    /// The records found, in the order their ids were given; each carries `url`.
    pub list: Vec<Map<String, Value>>,
    /// The ids with no record this API user can read.
    pub not_found: Vec<String>,
}

/// A search by name across entity types.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GlobalSearchArgs {
    /// The text: records whose name (or a word of it) starts with it, e.g. `acme`.
    pub query: String,
    /// Only hits of these entity types, e.g. `["Account", "Contact"]`; at most 100.
    #[serde(default)]
    pub entity_types: Option<BoundedVec<String, MAX_ENTITY_TYPES>>,
    /// Hits to return: 20 when omitted, at most the server's limit (SERVER_MAX_LIMIT).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// One global-search hit.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchHit {
    pub entity_type: String,
    pub id: String,
    pub name: String,
    /// The record's page in EspoCRM.
    pub url: String,
}

/// Global-search hits, in EspoCRM's order (by name).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchHits {
    pub list: Vec<SearchHit>,
}

/// Counts, sums, averages, minima and maxima over the records matching a filter.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AggregateArgs {
    /// The entity type, e.g. `Opportunity`.
    pub entity_type: String,
    /// Conditions, as for `search`: only matching records are aggregated. At most 50.
    #[serde(default, rename = "where")]
    pub where_: Option<BoundedVec<WhereCondition, MAX_WHERE>>,
    /// The field to group by, e.g. `stage`, `assignedUserId`, or a date field with `dateBucket`.
    #[serde(default)]
    pub group_by: Option<String>,
    /// What to compute: `[{"op": "count"}, {"op": "sum", "field": "amount"}]`; 1 to 20 metrics.
    pub metrics: BoundedVec<Metric, MAX_METRICS>,
    /// Group the `groupBy` date or date-time field by `day`, `week` (ISO, `2024-W09`), `month`
    /// (`2024-03`), `quarter` (`2024-Q1`) or `year` (`2024`); date-times by their UTC date.
    #[serde(default)]
    pub date_bucket: Option<DateBucket>,
}

/// The aggregated groups.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AggregateOut {
    /// One row per group: the group's value under the `groupBy` field's name (or `bucket`
    /// with `dateBucket`; `null` for records without a value), then `count` and
    /// `<op>_<field>` per metric, e.g. `{"stage": "Proposal", "sum_amount": 412000, "count": 7}`.
    /// Currency fields also give `<field>Currency`; when a group mixes currencies, each such
    /// metric is an object per currency and `<field>Currency` lists them.
    pub rows: Vec<Map<String, Value>>,
    /// Records aggregated.
    pub total: u64,
}

/// The API user and its rights.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WhoAmI {
    pub id: String,
    pub user_name: String,
    /// `api`, `regular`, `admin`, …
    #[serde(rename = "type")]
    pub user_type: Option<String>,
    /// The user's own email addresses.
    pub email_addresses: Vec<String>,
    /// What the user may do per entity type it has any right on.
    pub access: Vec<EntityAccess>,
}

/// The access levels of one entity type: `all`, `team`, `own` or `no`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EntityAccess {
    pub entity_type: String,
    pub read: String,
    pub create: String,
    pub edit: String,
    pub delete: String,
    pub stream: String,
}

/// Planned meetings and calls, and open tasks, of one user.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpcomingArgs {
    /// The user whose activities to list (their `assignedUserId`); the API user when omitted.
    #[serde(default)]
    pub user_id: Option<String>,
    /// How many days ahead to look, from now: 7 when omitted, at most 366.
    #[serde(default)]
    pub days: Option<u32>,
    /// Activities to return: 20 when omitted, at most the server's limit.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// One upcoming activity.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    /// `Meeting`, `Call` or `Task`.
    pub entity_type: String,
    pub id: String,
    pub name: Option<String>,
    pub status: Option<String>,
    /// When a meeting or call starts (UTC, `YYYY-MM-DD HH:MM:SS`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// When a meeting or call ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// When a task is due.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due: Option<String>,
    pub url: String,
}

/// Upcoming activities, soonest first.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpcomingOut {
    pub user_id: String,
    /// The window, UTC.
    pub from: String,
    pub to: String,
    pub list: Vec<Activity>,
    /// Whether more activities fall in the window than `limit`.
    pub truncated: bool,
    /// Activity types the API user cannot read, so not searched.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A where clause built by this module, validated like a caller's.
fn condition(field: &str, operator: &str, value: Option<Value>) -> WhereCondition {
    WhereCondition {
        field: Some(field.to_owned()),
        operator: operator.to_owned(),
        value,
    }
}

fn list_request(entity: &str, query: &ListQuery) -> EspoRequest {
    let mut request = EspoRequest::get([entity]);
    request.query = query.to_pairs();
    request
}

/// `YYYY-MM-DD HH:MM:SS` of a UNIX time, UTC.
fn format_datetime(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .format(crate::rules::date_time::FORMAT)
        .to_string()
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

fn level_name(level: AccessLevel) -> &'static str {
    match level {
        AccessLevel::All => "all",
        AccessLevel::Team => "team",
        AccessLevel::Own => "own",
        AccessLevel::No => "no",
    }
}

// ---------------------------------------------------------------------------------------------
// The tools
// ---------------------------------------------------------------------------------------------

/// This file's tools, as the catalogue knows them (`catalog.rs`), in the order they are listed.
pub(in crate::tools) const TOOLS: &[ToolSpec] = &[
    ToolSpec::reads(EspoMcp::get_many_tool_attr, Toolset::Read),
    ToolSpec::reads(EspoMcp::global_search_tool_attr, Toolset::Read),
    ToolSpec::reads(EspoMcp::aggregate_tool_attr, Toolset::Read),
    ToolSpec::reads(EspoMcp::upcoming_activities_tool_attr, Toolset::Read),
    ToolSpec::reads(EspoMcp::whoami_tool_attr, Toolset::Read),
];

#[tool_router(router = power_router, vis = "pub")]
impl EspoMcp {
    #[tool(
        name = "get_many",
        description = "Read up to 100 records of one entity type by id in one call (one request to EspoCRM). Returns {list, notFound}: the records (with `url`) in the order given, and the ids with no readable record.",
        input_schema = input_schema::<GetManyArgs>(),
        annotations(title = "Get many records", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn get_many(&self, arguments: JsonObject) -> Result<Json<ManyRecords>, ToolError> {
        let args: GetManyArgs = parse_args(arguments, Self::get_many_tool_attr)?;
        let schema = self.ctx.schema().await?;
        let entity = names::entity_type(&schema, &args.entity_type)?;
        if args.ids.is_empty() || args.ids.len() > MAX_IDS {
            return Err(ToolError::invalid_argument(
                "ids",
                &format!("must hold 1 to {MAX_IDS} ids (got {})", args.ids.len()),
            ));
        }
        let mut ids: Vec<String> = Vec::new();
        for id in args.ids.iter() {
            let id = names::id(id)?;
            if !ids.iter().any(|i| i == id) {
                ids.push(id.to_owned());
            }
        }
        let select = match &args.select {
            Some(s) => names::select(entity, s)?,
            None => None,
        };
        let filter = where_clause::validate(entity, &[condition("id", "in", Some(json!(ids)))])?;
        let page_size = u32::try_from(ids.len())
            .unwrap_or(u32::MAX)
            .min(self.ctx.max_limit.max(1));
        let mut found: HashMap<String, Map<String, Value>> = HashMap::new();
        let mut offset = 0u32;
        loop {
            let query = ListQuery {
                filter: filter.clone(),
                select: select.clone(),
                max_size: Some(page_size),
                offset: Some(offset),
                ..ListQuery::default()
            };
            let page = self
                .ctx
                .send_list(list_request(&entity.name, &query))
                .await?;
            let (total, list) = (page.counted_total(), page.list);
            let read = list.len();
            for record in list {
                if let Some(id) = record.get("id").and_then(Value::as_str) {
                    found.insert(id.to_owned(), record.clone());
                }
            }
            offset = offset.saturating_add(u32::try_from(read).unwrap_or(u32::MAX));
            if read == 0 || u64::from(offset) >= total.unwrap_or(0) || offset as usize >= ids.len()
            {
                break;
            }
        }
        let mut list = Vec::new();
        let mut not_found = Vec::new();
        for id in ids {
            match found.remove(&id) {
                Some(mut record) => {
                    record.insert(
                        "url".into(),
                        Value::String(self.ctx.record_url(&entity.name, &id)),
                    );
                    list.push(record);
                }
                None => not_found.push(id),
            }
        }
        Ok(Json(ManyRecords { list, not_found }))
    }

    #[tool(
        name = "global_search",
        description = "Find records by name across entity types (EspoCRM's global search: accounts, contacts, leads, opportunities, …). Returns {list: [{entityType, id, name, url}]}; narrow with `entityTypes`.",
        input_schema = input_schema::<GlobalSearchArgs>(),
        annotations(title = "Global search", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn global_search(&self, arguments: JsonObject) -> Result<Json<SearchHits>, ToolError> {
        let args: GlobalSearchArgs = parse_args(arguments, Self::global_search_tool_attr)?;
        let query = args.query.trim();
        if query.is_empty() {
            return Err(ToolError::invalid_argument("query", "must not be empty"));
        }
        if query.chars().count() > MAX_QUERY_CHARS {
            return Err(ToolError::invalid_argument(
                "query",
                &format!("may be at most {MAX_QUERY_CHARS} characters"),
            ));
        }
        let limit = names::limit(args.limit, self.ctx.max_limit)?;
        let view = self.ctx.view().await?;
        let schema = std::sync::Arc::clone(&view.restricted);
        let only: Option<Vec<String>> = match &args.entity_types {
            Some(types) if !types.is_empty() => Some(
                types
                    .iter()
                    .map(|t| names::entity_type(&schema, t).map(|e| e.name.clone()))
                    .collect::<Result<_, _>>()?,
            ),
            // With SERVER_ENTITY_TYPES, only hits of the allowed types.
            _ if view.is_restricted() => Some(
                schema
                    .record_entities()
                    .filter(|e| e.allows(Action::Read))
                    .map(|e| e.name.clone())
                    .collect(),
            ),
            _ => None,
        };
        // Without a filter, one page of `limit` hits; with one, pages of the largest size
        // until enough hits of the wanted types are found (EspoCRM cannot filter by type).
        let (page_size, pages) = match only {
            None => (limit, 1),
            Some(_) => (self.ctx.max_limit.max(1), GLOBAL_SEARCH_PAGES),
        };
        let mut list = Vec::new();
        for page in 0..pages {
            let mut request = EspoRequest::get(["GlobalSearch"]);
            request.query = vec![
                ("q".into(), query.to_owned()),
                ("maxSize".into(), page_size.to_string()),
                ("offset".into(), (page * page_size).to_string()),
            ];
            let hits = self.ctx.send_list(request).await?.list;
            let got = hits.len();
            for hit in hits {
                let (Some(id), Some(scope)) = (
                    hit.get("id").and_then(Value::as_str),
                    hit.get("_scope").and_then(Value::as_str),
                ) else {
                    continue;
                };
                if only.as_ref().is_some_and(|o| !o.iter().any(|t| t == scope)) {
                    continue;
                }
                list.push(SearchHit {
                    entity_type: scope.to_owned(),
                    id: id.to_owned(),
                    name: hit
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    url: self.ctx.record_url(scope, id),
                });
            }
            if list.len() >= limit as usize || (got as u32) < page_size {
                break;
            }
        }
        list.truncate(limit as usize);
        Ok(Json(SearchHits { list }))
    }

    #[tool(
        name = "aggregate",
        description = "Count, sum, average, minimum and maximum over the records of one entity type that match `where`, optionally grouped by a field (`groupBy`) or by a date field's day/week/month/quarter/year (`dateBucket`). Returns {rows, total}; a row is e.g. {\"stage\": \"Proposal\", \"sum_amount\": 412000, \"amountCurrency\": \"USD\", \"count\": 7}. Amounts in different currencies are never added: a group that mixes them gives each currency metric as an object per currency. Reads every matching record, so sets above the server's ceiling (SERVER_AGGREGATE_MAX_RECORDS) are refused: narrow `where` then.",
        input_schema = input_schema::<AggregateArgs>(),
        annotations(title = "Aggregate records", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn aggregate(
        &self,
        arguments: JsonObject,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<AggregateOut>, ToolError> {
        let args: AggregateArgs = parse_args(arguments, Self::aggregate_tool_attr)?;
        let schema = self.ctx.schema().await?;
        let entity = names::entity_type(&schema, &args.entity_type)?;
        let filter: Where =
            where_clause::validate(entity, args.where_.as_deref().unwrap_or_default())?;
        let plan = AggregatePlan::new(
            entity,
            args.group_by.as_deref(),
            &args.metrics,
            args.date_bucket,
        )?;
        let select = names::select(entity, &plan.select())?;
        let order_by = names::order_by(entity, "id").ok();
        let page_size = self.ctx.max_limit.max(1);
        let ceiling = u64::from(self.ctx.aggregate_max_records);
        let token = context.meta.get_progress_token();

        let mut aggregation = Aggregation::new(plan);
        let mut read: u64 = 0;
        let mut expected: Option<u64> = None;
        loop {
            let query = ListQuery {
                filter: filter.clone(),
                select: select.clone(),
                order_by: order_by.clone(),
                order: order_by.as_ref().map(|_| names::SortOrder::Asc),
                max_size: Some(page_size),
                offset: Some(u32::try_from(read).unwrap_or(u32::MAX)),
                text_filter: None,
            };
            let page = self
                .ctx
                .send_list(list_request(&entity.name, &query))
                .await?;
            let (total, list) = (page.counted_total(), page.list);
            let total = total.unwrap_or(0);
            if expected.is_none() && total > ceiling {
                return Err(ToolError::invalid_argument(
                    "where",
                    &format!(
                        "matches {total} {} records, more than the {ceiling} aggregate reads at most",
                        entity.name
                    ),
                )
                .with_suggestion(
                    "Narrow `where` (e.g. a date range or a stage) so fewer records match, and aggregate the parts separately if needed",
                )
                .with_details(json!({"argument": "where", "total": total, "maxRecords": ceiling})));
            }
            let total = *expected.get_or_insert(total);
            let got = list.len();
            for record in &list {
                aggregation.add(record);
            }
            read += got as u64;
            if let Some(token) = &token {
                let progress = ProgressNotificationParam::new(token.clone(), read as f64)
                    .with_total(total as f64)
                    .with_message(format!("{read} of {total} records read"));
                if let Err(e) = context.peer.notify_progress(progress).await {
                    tracing::debug!("progress notification not sent: {e}");
                }
            }
            if got == 0 || read >= total || read >= ceiling {
                break;
            }
        }
        Ok(Json(AggregateOut {
            rows: aggregation.into_rows(),
            total: read,
        }))
    }

    #[tool(
        name = "upcoming_activities",
        description = "The planned meetings and calls starting, and the open tasks due, in the next `days` days (7 by default) of one user (the API user by default), soonest first, each with entityType, id, name, status, start/end or due, and url.",
        input_schema = input_schema::<UpcomingArgs>(),
        annotations(title = "Upcoming activities", read_only_hint = true, destructive_hint = false, idempotent_hint = false, open_world_hint = false)
    )]
    async fn upcoming_activities(
        &self,
        arguments: JsonObject,
    ) -> Result<Json<UpcomingOut>, ToolError> {
        let args: UpcomingArgs = parse_args(arguments, Self::upcoming_activities_tool_attr)?;
        let days = args.days.unwrap_or(7);
        if days == 0 || days > MAX_DAYS {
            return Err(ToolError::invalid_argument(
                "days",
                &format!("must be between 1 and {MAX_DAYS} (got {days})"),
            ));
        }
        let limit = names::limit(args.limit, self.ctx.max_limit)?;
        let schema = self.ctx.schema().await?;
        let user_id = match &args.user_id {
            Some(id) => names::id(id)?.to_owned(),
            None => schema.user.id.clone(),
        };
        let now = now_secs();
        let from = format_datetime(now);
        let to = format_datetime(now + i64::from(days) * 86_400);

        let mut list: Vec<Activity> = Vec::new();
        let mut truncated = false;
        let mut skipped = Vec::new();
        for (entity_type, date_field) in [
            ("Meeting", "dateStart"),
            ("Call", "dateStart"),
            ("Task", "dateEnd"),
        ] {
            let Some(entity) = schema
                .entity(entity_type)
                .filter(|e| e.is_record && e.allows(Action::Read))
            else {
                skipped.push(entity_type.to_owned());
                continue;
            };
            let status = if entity_type == "Task" {
                condition("status", "notIn", Some(json!(["Completed", "Canceled"])))
            } else {
                condition("status", "equals", Some(json!("Planned")))
            };
            let filter = where_clause::validate(
                entity,
                &[
                    condition("assignedUserId", "equals", Some(json!(user_id))),
                    status,
                    condition(date_field, "between", Some(json!([from, to]))),
                ],
            )?;
            let query = ListQuery {
                filter,
                select: names::select(entity, &["name", "status", "dateStart", "dateEnd"])?,
                order_by: Some(names::order_by(entity, date_field)?),
                order: Some(names::SortOrder::Asc),
                max_size: Some(limit),
                offset: Some(0),
                text_filter: None,
            };
            let page = self
                .ctx
                .send_list(list_request(&entity.name, &query))
                .await?;
            let (total, records) = (page.counted_total(), page.list);
            truncated |= total.unwrap_or(0) > records.len() as u64;
            for record in records {
                let Some(id) = record.get("id").and_then(Value::as_str) else {
                    continue;
                };
                let text = |key: &str| record.get(key).and_then(Value::as_str).map(str::to_owned);
                let is_task = entity_type == "Task";
                list.push(Activity {
                    entity_type: entity_type.to_owned(),
                    id: id.to_owned(),
                    name: text("name"),
                    status: text("status"),
                    start: if is_task { None } else { text("dateStart") },
                    end: if is_task { None } else { text("dateEnd") },
                    due: if is_task { text("dateEnd") } else { None },
                    url: self.ctx.record_url(entity_type, id),
                });
            }
        }
        list.sort_by(|a, b| {
            let at = |x: &Activity| {
                x.start
                    .clone()
                    .or_else(|| x.due.clone())
                    .unwrap_or_default()
            };
            at(a).cmp(&at(b)).then_with(|| a.id.cmp(&b.id))
        });
        if list.len() > limit as usize {
            truncated = true;
            list.truncate(limit as usize);
        }
        Ok(Json(UpcomingOut {
            user_id,
            from,
            to,
            list,
            truncated,
            skipped,
        }))
    }

    #[tool(
        name = "whoami",
        description = "The API user espomcp acts as (id, userName, type, own email addresses) and its access per entity type: read, create, edit, delete and stream levels (all, team, own, no).",
        input_schema = input_schema::<super::NoArgs>(),
        annotations(title = "Who am I", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn whoami(&self, arguments: JsonObject) -> Result<Json<WhoAmI>, ToolError> {
        let _: super::NoArgs = parse_args(arguments, Self::whoami_tool_attr)?;
        let schema = self.ctx.schema().await?;
        let access = schema
            .record_entities()
            .filter_map(|entity| {
                let level = |action: Action| -> &'static str {
                    match entity.access {
                        Some(ScopeAccess::Levels(levels)) => level_name(levels.level(action)),
                        Some(ScopeAccess::Enabled(true)) => "all",
                        _ => "no",
                    }
                };
                let row = EntityAccess {
                    entity_type: entity.name.clone(),
                    read: level(Action::Read).into(),
                    create: level(Action::Create).into(),
                    edit: level(Action::Edit).into(),
                    delete: level(Action::Delete).into(),
                    stream: level(Action::Stream).into(),
                };
                let any = [&row.read, &row.create, &row.edit, &row.delete, &row.stream]
                    .iter()
                    .any(|l| *l != "no");
                any.then_some(row)
            })
            .collect();
        Ok(Json(WhoAmI {
            id: schema.user.id.clone(),
            user_name: schema.user.user_name.clone(),
            user_type: schema.user.user_type.clone(),
            email_addresses: schema.user.own_addresses.clone(),
            access,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_write_date_times_in_utc_to_the_second() {
        assert_eq!(format_datetime(0), "1970-01-01 00:00:00");
        assert_eq!(format_datetime(951_782_400 + 3_723), "2000-02-29 01:02:03");
        assert_eq!(format_datetime(-1), "1969-12-31 23:59:59");
        assert_eq!(format_datetime(4_102_444_800), "2100-01-01 00:00:00");
    }
}
