//! The read toolset: the five read tools here (`list_entity_types`, `get_schema`, `search`,
//! `get`, `get_related`) and the power tools in [`power`], with the engine of `aggregate` in
//! [`aggregation`].
//!
//! Every entity type, field, link, operator and id is checked against the schema before a
//! request is built, so EspoCRM's own weak spots never show: an unknown link (EspoCRM: 500),
//! a where item without a field (500), an unknown `select` name (silently dropped), a page over
//! 200 (403) all become precise error codes instead.

pub mod aggregation;
pub mod power;

use espomcp_actors::{Action, EntityType, EspoRequest, Field, Link, Rendered};
use std::sync::Arc;

use rmcp::model::{CallToolResult, ContentBlock, JsonObject};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::catalog::ToolSpec;
use super::{
    Json, Structured, ToolContext, input_schema, not_found_as, parse_args, unknown_link_as,
};
use crate::error::ToolError;
use crate::espo::answer::ListPage;
use crate::espo::query::ListQuery;
use crate::server::EspoMcp;
use crate::toolsets::Toolset;
use crate::validate::lists::{BoundedVec, MAX_SELECT, MAX_WHERE};
use crate::validate::names;
use crate::validate::where_clause::{self, WhereCondition};

/// No arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// Which entity type.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EntityTypeArgs {
    /// The entity type, exactly as `list_entity_types` names it, e.g. `Account`, `Opportunity`.
    pub entity_type: String,
}

/// Sort direction.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    Asc,
    Desc,
}

/// A search over one entity type.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SearchArgs {
    /// The entity type to search, e.g. `Opportunity`.
    pub entity_type: String,
    /// Conditions, all of which must hold: `[{"field": "stage", "type": "equals", "value":
    /// "Proposal"}]`. Group alternatives with `{"type": "or", "value": [conditions]}`.
    /// Call `get_schema` first: fields and operators are checked against it. At most 50
    /// conditions, groups and their members included.
    #[serde(default, rename = "where")]
    pub where_: Option<BoundedVec<WhereCondition, MAX_WHERE>>,
    /// Field to sort by, e.g. `createdAt`, `name`, `amount`.
    #[serde(default)]
    pub order_by: Option<String>,
    /// `asc` or `desc`.
    #[serde(default)]
    pub order: Option<Order>,
    /// Records per page: 20 when omitted, at most the server's limit (SERVER_MAX_LIMIT).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Records to skip, for paging.
    #[serde(default)]
    pub offset: Option<u32>,
    /// Only these fields (plus `id` and a few EspoCRM always adds); keeps answers small. At
    /// most 100.
    #[serde(default)]
    pub select: Option<BoundedVec<String, MAX_SELECT>>,
    /// Quick text search over the entity type's main text fields (name, email address, …).
    #[serde(default)]
    pub text_filter: Option<String>,
}

/// One record.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetArgs {
    /// The entity type, e.g. `Contact`.
    pub entity_type: String,
    /// The record's id (17 characters, as `search` returns it).
    pub id: String,
    /// Only these fields (plus `id`); at most 100.
    #[serde(default)]
    pub select: Option<BoundedVec<String, MAX_SELECT>>,
}

/// Records linked to one record.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetRelatedArgs {
    /// The entity type of the record, e.g. `Account`.
    pub entity_type: String,
    /// The record's id.
    pub id: String,
    /// The link to follow, e.g. `contacts`, `opportunities` (see `get_schema` → links).
    pub link: String,
    /// Records per page: 20 when omitted.
    #[serde(default)]
    pub limit: Option<u32>,
    /// Records to skip, for paging.
    #[serde(default)]
    pub offset: Option<u32>,
    /// Only these fields of the linked records; at most 100.
    #[serde(default)]
    pub select: Option<BoundedVec<String, MAX_SELECT>>,
    /// Conditions on the linked records, as for `search`; at most 50.
    #[serde(default, rename = "where")]
    pub where_: Option<BoundedVec<WhereCondition, MAX_WHERE>>,
}

/// An entity type the API user can read.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EntityTypeInfo {
    pub name: String,
    /// A readable label.
    pub label: String,
    /// What the API user may do: `read`, `create`, `edit`, `delete`.
    pub actions: Vec<String>,
}

/// The entity types this API user can read.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EntityTypeList {
    pub entity_types: Vec<EntityTypeInfo>,
}

/// One field of an entity type.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FieldInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub field_type: String,
    pub required: bool,
    pub read_only: bool,
    /// Allowed values of enum and multi-enum fields (`""` = empty allowed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
}

/// One link of an entity type.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkInfo {
    pub name: String,
    /// `belongsTo`, `hasMany`, `hasOne`, `hasChildren`, `belongsToParent`.
    #[serde(rename = "type")]
    pub link_type: String,
    /// The entity type on the other side (absent for parent links, which may point at several).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    /// For parent links: the entity types the parent may be.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entity_list: Vec<String>,
}

/// The fields and links of an entity type.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchemaInfo {
    pub entity_type: String,
    pub fields: Vec<FieldInfo>,
    pub links: Vec<LinkInfo>,
}

/// One page of records.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordPage {
    /// Records matching in all (not only this page).
    pub total: i64,
    pub offset: u32,
    pub limit: u32,
    /// The records; each carries `url`, its page in EspoCRM.
    pub list: Vec<Map<String, Value>>,
}

/// One record; it carries `url`, its page in EspoCRM.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct RecordOut(pub Map<String, Value>);

impl Structured for EntityTypeList {
    fn into_value(self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl Structured for RecordOut {
    fn into_value(self) -> Value {
        Value::Object(self.0)
    }
}

impl Structured for RecordPage {
    /// The fields in the struct's order, as serde writes them; the records are moved.
    fn into_value(self) -> Value {
        let mut page = Map::with_capacity(4);
        page.insert("total".into(), self.total.into());
        page.insert("offset".into(), self.offset.into());
        page.insert("limit".into(), self.limit.into());
        page.insert(
            "list".into(),
            Value::Array(self.list.into_iter().map(Value::Object).collect()),
        );
        Value::Object(page)
    }
}

/// `get_schema`'s answer (a [`SchemaInfo`]), rendered once per schema and entity type by the
/// metadata actor's [`espomcp_actors::SchemaView`].
#[derive(Debug)]
pub struct SchemaAnswer(pub Arc<Rendered>);

impl Serialize for SchemaAnswer {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.value.serialize(serializer)
    }
}

impl Structured for SchemaAnswer {
    fn into_value(self) -> Value {
        self.0.value.clone()
    }

    /// The cached text, not serialised again.
    fn into_result(self) -> CallToolResult {
        let mut result = CallToolResult::structured(Value::Null);
        result.content = vec![ContentBlock::text(self.0.text.clone())];
        result.structured_content = Some(self.0.value.clone());
        result
    }
}

fn label(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if i > 0 && c.is_uppercase() {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn field_info(field: &Field) -> FieldInfo {
    FieldInfo {
        name: field.name.clone(),
        field_type: field.field_type.as_str().to_owned(),
        required: field.required,
        read_only: field.read_only,
        options: field.options.clone(),
        max_length: field.max_length,
        min: field.min,
        max: field.max,
        default: field.default.clone(),
    }
}

fn link_info(link: &Link) -> LinkInfo {
    LinkInfo {
        name: link.name.clone(),
        link_type: link.link_type.as_str().to_owned(),
        entity: link.entity.clone(),
        entity_list: link.entity_list.clone(),
    }
}

/// A page of records with their web-UI `url` added (the records are moved, not copied).
fn records_with_urls(
    ctx: &ToolContext,
    entity_type: &str,
    page: ListPage,
) -> (i64, Vec<Map<String, Value>>) {
    let list = page
        .list
        .into_iter()
        .map(|mut record| {
            let url = record
                .get("id")
                .and_then(Value::as_str)
                .map(|id| ctx.record_url(entity_type, id));
            if let Some(url) = url {
                record.insert("url".into(), Value::String(url));
            }
            record
        })
        .collect();
    (page.total, list)
}

/// The attribute that says which version of a record was read, on entity types with
/// optimistic concurrency; what `update` and `update_kanban` take back as `versionNumber`.
const VERSION_NUMBER: &str = "versionNumber";

/// The selection of `names`, with `versionNumber` on entity types with optimistic concurrency:
/// EspoCRM leaves it out of a selection, and the metadata does not list it as a field, so it
/// is added here (and accepted when asked for) rather than checked.
fn select_with_version(
    entity: &EntityType,
    names: &[String],
) -> Result<Option<names::Select>, ToolError> {
    if !entity.optimistic_concurrency {
        return Ok(names::select(entity, names)?);
    }
    let fields: Vec<&String> = names.iter().filter(|n| *n != VERSION_NUMBER).collect();
    if fields.is_empty() && !names.is_empty() {
        // Only the version was asked for: select it alone, not the whole record.
        return Ok(Some(names::Select::only(VERSION_NUMBER)));
    }
    Ok(names::select(entity, &fields)?.map(|select| select.with(VERSION_NUMBER)))
}

/// The list parameters shared by `search` and `get_related`, before validation.
struct ListInput<'a> {
    conditions: Option<&'a [WhereCondition]>,
    select: Option<&'a [String]>,
    order_by: Option<&'a str>,
    order: Option<Order>,
    limit: Option<u32>,
    offset: Option<u32>,
    text_filter: Option<String>,
}

/// Builds the list query of `search` and `get_related` from validated parts.
fn list_query(
    ctx: &ToolContext,
    entity: &EntityType,
    input: ListInput<'_>,
) -> Result<(ListQuery, u32, u32), ToolError> {
    let ListInput {
        conditions,
        select,
        order_by,
        order,
        limit,
        offset,
        text_filter,
    } = input;
    let filter = where_clause::validate(entity, conditions.unwrap_or_default())?;
    let select = match select {
        Some(s) => select_with_version(entity, s)?,
        None => None,
    };
    let order_by = order_by.map(|o| names::order_by(entity, o)).transpose()?;
    let order = order.map(|o| match o {
        Order::Asc => names::SortOrder::Asc,
        Order::Desc => names::SortOrder::Desc,
    });
    let limit = names::limit(limit, ctx.max_limit)?;
    let offset = names::offset(offset);
    let query = ListQuery {
        filter,
        select,
        order_by,
        order,
        max_size: Some(limit),
        offset: Some(offset),
        text_filter: text_filter.filter(|t| !t.trim().is_empty()),
    };
    Ok((query, limit, offset))
}

/// This file's tools, as the catalogue knows them (`catalog.rs`), in the order they are listed.
pub(super) const TOOLS: &[ToolSpec] = &[
    ToolSpec::reads(EspoMcp::list_entity_types_tool_attr, Toolset::Read),
    ToolSpec::reads(EspoMcp::get_schema_tool_attr, Toolset::Read),
    ToolSpec::reads(EspoMcp::search_tool_attr, Toolset::Read),
    ToolSpec::reads(EspoMcp::get_tool_attr, Toolset::Read),
    ToolSpec::reads(EspoMcp::get_related_tool_attr, Toolset::Read),
];

#[tool_router(router = read_router, vis = "pub")]
impl EspoMcp {
    #[tool(
        name = "list_entity_types",
        description = "List the EspoCRM entity types this API user can read (Account, Contact, Lead, Opportunity, …) with what it may do on each. Start here.",
        input_schema = input_schema::<NoArgs>(),
        annotations(title = "List entity types", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    pub(crate) async fn list_entity_types(
        &self,
        arguments: JsonObject,
    ) -> Result<Json<EntityTypeList>, ToolError> {
        let _: NoArgs = parse_args(arguments, Self::list_entity_types_tool_attr)?;
        let schema = self.ctx.schema().await?;
        let entity_types = schema
            .record_entities()
            .filter(|e| e.allows(Action::Read))
            .map(|e| EntityTypeInfo {
                name: e.name.clone(),
                label: label(&e.name),
                actions: [Action::Read, Action::Create, Action::Edit, Action::Delete]
                    .into_iter()
                    .filter(|a| e.allows(*a))
                    .map(|a| a.as_str().to_owned())
                    .collect(),
            })
            .collect();
        Ok(Json(EntityTypeList { entity_types }))
    }

    #[tool(
        name = "get_schema",
        description = "The fields (type, required, read-only, enum options, max length, default) and links of one entity type. Call it before filtering on, creating or updating records of that type.",
        input_schema = input_schema::<EntityTypeArgs>(),
        output_schema = rmcp::handler::server::tool::schema_for_output::<SchemaInfo>(),
        annotations(title = "Get entity schema", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    pub(crate) async fn get_schema(
        &self,
        arguments: JsonObject,
    ) -> Result<Json<SchemaAnswer>, ToolError> {
        let args: EntityTypeArgs = parse_args(arguments, Self::get_schema_tool_attr)?;
        let view = self.ctx.view().await?;
        let schema = &view.restricted;
        let entity = names::entity_type(schema, &args.entity_type)?;
        let answer = view.answer(&entity.name, || {
            let info = SchemaInfo {
                entity_type: entity.name.clone(),
                fields: entity
                    .fields
                    .values()
                    .filter(|f| !f.disabled && !entity.unreadable_fields.contains(&f.name))
                    .map(field_info)
                    .collect(),
                // Links to entity types this server leaves out (SERVER_ENTITY_TYPES) are
                // not shown.
                links: entity
                    .links
                    .values()
                    .filter(|l| l.entity.as_deref().is_none_or(|e| !schema.is_excluded(e)))
                    .map(link_info)
                    .collect(),
            };
            serde_json::to_value(info).unwrap_or(Value::Null)
        });
        Ok(Json(SchemaAnswer(answer)))
    }

    #[tool(
        name = "search",
        description = "Search records of one entity type with conditions (`where`), sorting, paging and a field selection. Returns {total, offset, limit, list}. Operators: equals, notEquals, like (% wildcard), notLike, contains, startsWith, greaterThan, greaterThanOrEquals, lessThan, lessThanOrEquals, in, notIn, isNull, isNotNull, between ([a, b]), isTrue, isFalse, and or/and groups.",
        input_schema = input_schema::<SearchArgs>(),
        annotations(title = "Search records", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    pub(crate) async fn search(
        &self,
        arguments: JsonObject,
    ) -> Result<Json<RecordPage>, ToolError> {
        let args: SearchArgs = parse_args(arguments, Self::search_tool_attr)?;
        let schema = self.ctx.schema().await?;
        let entity = names::entity_type(&schema, &args.entity_type)?;
        let input = ListInput {
            conditions: args.where_.as_deref(),
            select: args.select.as_deref(),
            order_by: args.order_by.as_deref(),
            order: args.order,
            limit: args.limit,
            offset: args.offset,
            text_filter: args.text_filter,
        };
        let (query, limit, offset) = list_query(&self.ctx, entity, input)?;
        let mut request = EspoRequest::get([entity.name.as_str()]);
        request.query = query.to_pairs();
        let page = self.ctx.send_list(request).await?;
        let (total, list) = records_with_urls(&self.ctx, &entity.name, page);
        Ok(Json(RecordPage {
            total,
            offset,
            limit,
            list,
        }))
    }

    #[tool(
        name = "get",
        description = "Read one record by entity type and id, with all its fields (or only `select`ed ones).",
        input_schema = input_schema::<GetArgs>(),
        annotations(title = "Get record", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    pub(crate) async fn get(&self, arguments: JsonObject) -> Result<Json<RecordOut>, ToolError> {
        let args: GetArgs = parse_args(arguments, Self::get_tool_attr)?;
        let schema = self.ctx.schema().await?;
        let entity = names::entity_type(&schema, &args.entity_type)?;
        let id = names::id(&args.id)?;
        let select = match &args.select {
            Some(s) => select_with_version(entity, s)?,
            None => None,
        };
        let mut record = self
            .ctx
            .send_record(EspoRequest::get([entity.name.as_str(), id]))
            .await
            .map_err(|e| not_found_as(e, &entity.name, id))?;
        if let Some(select) = select {
            let keep = select.attributes();
            record.retain(|k, _| k == "id" || keep.iter().any(|a| a == k));
        }
        record.insert(
            "url".into(),
            Value::String(self.ctx.record_url(&entity.name, id)),
        );
        Ok(Json(RecordOut(record)))
    }

    #[tool(
        name = "get_related",
        description = "List the records linked to one record through a link (e.g. an Account's `contacts` or `opportunities`), with paging, conditions and a field selection. Returns {total, offset, limit, list}.",
        input_schema = input_schema::<GetRelatedArgs>(),
        annotations(title = "Get related records", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    pub(crate) async fn get_related(
        &self,
        arguments: JsonObject,
    ) -> Result<Json<RecordPage>, ToolError> {
        let args: GetRelatedArgs = parse_args(arguments, Self::get_related_tool_attr)?;
        let schema = self.ctx.schema().await?;
        let entity = names::entity_type(&schema, &args.entity_type)?;
        let id = names::id(&args.id)?;
        let link = names::link(entity, &args.link)?;
        let foreign_name = link.entity.clone().ok_or_else(|| {
            ToolError::invalid_link(&entity.name, &link.name)
                .with_suggestion("This link points at several entity types; read the record's parentType/parentId with `get` instead.")
        })?;
        let foreign = names::entity_type(&schema, &foreign_name)?;
        let input = ListInput {
            conditions: args.where_.as_deref(),
            select: args.select.as_deref(),
            order_by: None,
            order: None,
            limit: args.limit,
            offset: args.offset,
            text_filter: None,
        };
        let (query, limit, offset) = list_query(&self.ctx, foreign, input)?;
        let mut request = EspoRequest::get([entity.name.as_str(), id, link.name.as_str()]);
        request.query = query.to_pairs();
        let page = self.ctx.send_list(request).await.map_err(|e| {
            let e = not_found_as(e, &entity.name, id);
            unknown_link_as(&self.ctx, e, &entity.name, &link.name)
        })?;
        let (total, list) = records_with_urls(&self.ctx, &foreign.name, page);
        Ok(Json(RecordPage {
            total,
            offset,
            limit,
            list,
        }))
    }
}
