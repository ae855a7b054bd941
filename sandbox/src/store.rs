//! The sandbox's data: records of every entity type, the many-to-many relation rows between
//! them, followers, stream notes, roles and kanban orderings — and the rules EspoCRM applies
//! when they change (validation, duplicate detection, derived attributes, both sides of a link).
//!
//! Records are stored as the attributes a client may set (`accountId`, `emailAddress`, …);
//! everything derived (`accountName`, `contactsIds`, `followersNames`, …) is computed when a
//! record is rendered, so the two sides of a relation can never disagree.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::ids::IdGenerator;
use crate::model::{EntityDef, FieldDef, LinkDef, Metadata};
use crate::version::EspoVersion;

/// A stored record: its settable attributes.
pub type Record = Map<String, Value>;

/// Format of datetime attributes on the wire.
pub const DATETIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// One row of a many-to-many relation, with the relation's extra columns.
#[derive(Debug, Clone)]
struct RelationRow {
    left: (String, String),
    right: (String, String),
    columns: Map<String, Value>,
}

/// A role: what its users may do per scope, in EspoCRM's own format
/// (`{"Account": {"create": "yes", "read": "all", …}, "Activities": true}`).
#[derive(Debug, Clone)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub data: Map<String, Value>,
    pub created_at: String,
}

/// Which attributes a rendered record carries.
#[derive(Debug, Clone)]
pub enum AttributeSet<'a> {
    /// `GET {E}/{id}`, update responses.
    Detail,
    /// A list item without `select`.
    List,
    /// A create response: the always-present attributes plus those the request set.
    Create(&'a [String]),
    /// Exactly these attributes (already resolved by the caller).
    Only(&'a [String]),
}

/// The whole in-memory CRM.
#[derive(Debug)]
pub struct Store {
    records: HashMap<String, BTreeMap<String, Record>>,
    relations: HashMap<String, Vec<RelationRow>>,
    followers: HashMap<(String, String), BTreeSet<String>>,
    roles: BTreeMap<String, Role>,
    /// (user, entity type, group) → ids in the user's chosen order.
    kanban_orders: HashMap<(String, String, String), Vec<String>>,
    next_note_number: i64,
    next_case_number: i64,
    /// Lower-cased email address → id of its EmailAddress record.
    email_addresses: HashMap<String, String>,
    /// Contents of the uploaded files (Attachment records hold the rest).
    pub files: crate::attachments::Files,
    pub ids: IdGenerator,
    version: EspoVersion,
    /// This sandbox's own description of the entity types: the version's, plus what an
    /// administrator changed since start.
    metadata: Arc<Metadata>,
}

/// Who is acting (for createdBy, followers, stream visibility).
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: String,
    pub is_admin: bool,
}

impl Store {
    pub fn new(ids: IdGenerator, version: EspoVersion) -> Store {
        Store {
            records: HashMap::new(),
            relations: HashMap::new(),
            followers: HashMap::new(),
            roles: BTreeMap::new(),
            kanban_orders: HashMap::new(),
            next_note_number: 1,
            next_case_number: 1,
            email_addresses: HashMap::new(),
            files: Default::default(),
            ids,
            version,
            metadata: Arc::new(Metadata::of(version).clone()),
        }
    }

    /// The EspoCRM version whose behaviour this store follows.
    pub fn version(&self) -> EspoVersion {
        self.version
    }

    /// The description of the entity types as it is now (an administrator may change it).
    pub fn meta(&self) -> Arc<Metadata> {
        Arc::clone(&self.metadata)
    }

    /// Applies an RFC 7396 merge patch to the raw description, as an administrator's change in
    /// the Entity Manager or Field Manager does; requests that started before keep the
    /// description they started with.
    pub fn patch_metadata(&mut self, patch: &Value) -> Result<(), serde_json::Error> {
        self.metadata = Arc::new(self.metadata.patched(patch)?);
        Ok(())
    }

    // ---------------------------------------------------------------- plain access

    pub fn get(&self, entity: &str, id: &str) -> Option<&Record> {
        self.records.get(entity).and_then(|t| t.get(id))
    }

    pub fn exists(&self, entity: &str, id: &str) -> bool {
        self.get(entity, id).is_some()
    }

    pub fn all(&self, entity: &str) -> impl Iterator<Item = (&String, &Record)> {
        self.records.get(entity).into_iter().flat_map(|t| t.iter())
    }

    pub fn count(&self, entity: &str) -> usize {
        self.records.get(entity).map_or(0, BTreeMap::len)
    }

    pub fn roles(&self) -> impl Iterator<Item = &Role> {
        self.roles.values()
    }

    pub fn role(&self, id: &str) -> Option<&Role> {
        self.roles.get(id)
    }

    pub fn insert_role(&mut self, role: Role) {
        self.roles.insert(role.id.clone(), role);
    }

    /// Roles of a user (stored as `rolesIds` on the User record).
    pub fn user_roles(&self, user_id: &str) -> Vec<&Role> {
        self.get("User", user_id)
            .and_then(|u| u.get("rolesIds"))
            .and_then(Value::as_array)
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| id.as_str().and_then(|id| self.roles.get(id)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The display name of a record: its `name`, computed for persons.
    pub fn name_of(&self, entity: &str, id: &str) -> Option<String> {
        let record = self.get(entity, id)?;
        record
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    // ---------------------------------------------------------------- relations

    /// The key under which rows of a many-to-many link are kept: the relation name when
    /// EspoCRM has one, otherwise the pair of link ends.
    fn relation_key(&self, entity: &str, link: &str, def: &LinkDef) -> String {
        if let Some(name) = &def.relation_name {
            return name.clone();
        }
        let foreign_relation = def
            .entity
            .as_deref()
            .zip(def.foreign.as_deref())
            .and_then(|(t, f)| self.meta().entity(t)?.link(f)?.relation_name.clone());
        if let Some(name) = foreign_relation {
            return name;
        }
        let here = format!("{entity}.{link}");
        let there = format!(
            "{}.{}",
            def.entity.as_deref().unwrap_or(""),
            def.foreign.as_deref().unwrap_or("")
        );
        if here <= there {
            format!("{here}|{there}")
        } else {
            format!("{there}|{here}")
        }
    }

    /// Whether a hasMany link is many-to-many (its foreign end is hasMany too, or absent).
    fn is_many_to_many(&self, def: &LinkDef) -> bool {
        if def.kind != "hasMany" {
            return false;
        }
        match (def.entity.as_deref(), def.foreign.as_deref()) {
            (Some(t), Some(f)) => self
                .meta()
                .entity(t)
                .and_then(|e| e.link(f))
                .is_none_or(|l| l.kind == "hasMany"),
            _ => true,
        }
    }

    /// Ids linked to `entity/id` through `link`, with the relation columns where there are any.
    pub fn linked(&self, entity: &str, id: &str, link: &str) -> Vec<(String, Map<String, Value>)> {
        let meta = self.meta();
        let Some(def) = meta.entity(entity).and_then(|e| e.link(link)) else {
            return Vec::new();
        };
        let Some(record) = self.get(entity, id) else {
            return Vec::new();
        };
        let foreign_entity = def.entity.clone().unwrap_or_default();
        let foreign = def.foreign.clone().unwrap_or_default();
        let single = |v: Option<&Value>| -> Vec<(String, Map<String, Value>)> {
            v.and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(|s| vec![(s.to_owned(), Map::new())])
                .unwrap_or_default()
        };
        match def.kind.as_str() {
            "belongsTo" => single(record.get(&format!("{link}Id"))),
            "belongsToParent" => single(record.get(&format!("{link}Id"))),
            "hasChildren" => self
                .all(&foreign_entity)
                .filter(|(_, r)| {
                    r.get(&format!("{foreign}Id")).and_then(Value::as_str) == Some(id)
                        && r.get(&format!("{foreign}Type")).and_then(Value::as_str) == Some(entity)
                })
                .map(|(i, _)| (i.clone(), Map::new()))
                .collect(),
            "hasOne" => self
                .all(&foreign_entity)
                .filter(|(_, r)| r.get(&format!("{foreign}Id")).and_then(Value::as_str) == Some(id))
                .map(|(i, _)| (i.clone(), Map::new()))
                .take(1)
                .collect(),
            "hasMany" if !self.is_many_to_many(def) => self
                .all(&foreign_entity)
                .filter(|(_, r)| r.get(&format!("{foreign}Id")).and_then(Value::as_str) == Some(id))
                .map(|(i, _)| (i.clone(), Map::new()))
                .collect(),
            "hasMany" => {
                let key = self.relation_key(entity, link, def);
                let here = (entity.to_owned(), id.to_owned());
                self.relations
                    .get(&key)
                    .into_iter()
                    .flatten()
                    .filter_map(|row| {
                        if row.left == here && row.right.0 == foreign_entity {
                            Some((row.right.1.clone(), row.columns.clone()))
                        } else if row.right == here && row.left.0 == foreign_entity {
                            Some((row.left.1.clone(), row.columns.clone()))
                        } else {
                            None
                        }
                    })
                    .filter(|(other, _)| self.exists(&foreign_entity, other))
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    /// Relates two records through `link`. Returns false when the link cannot hold the pair.
    pub fn relate(
        &mut self,
        entity: &str,
        id: &str,
        link: &str,
        foreign_id: &str,
        columns: Option<Map<String, Value>>,
    ) -> bool {
        let Some(def) = self
            .meta()
            .entity(entity)
            .and_then(|e| e.link(link))
            .cloned()
        else {
            return false;
        };
        let foreign_entity = def.entity.clone().unwrap_or_default();
        let foreign = def.foreign.clone().unwrap_or_default();
        match def.kind.as_str() {
            "belongsTo" => {
                if let Some(r) = self.record_mut(entity, id) {
                    r.insert(format!("{link}Id"), json!(foreign_id));
                }
                true
            }
            "hasMany" if !self.is_many_to_many(&def) => {
                if let Some(r) = self.record_mut(&foreign_entity, foreign_id) {
                    r.insert(format!("{foreign}Id"), json!(id));
                }
                true
            }
            "hasChildren" => {
                if let Some(r) = self.record_mut(&foreign_entity, foreign_id) {
                    r.insert(format!("{foreign}Id"), json!(id));
                    r.insert(format!("{foreign}Type"), json!(entity));
                }
                true
            }
            "hasMany" => {
                let key = self.relation_key(entity, link, &def);
                let here = (entity.to_owned(), id.to_owned());
                let there = (foreign_entity.clone(), foreign_id.to_owned());
                let defaults = default_columns(&def);
                let rows = self.relations.entry(key).or_default();
                if let Some(row) = rows.iter_mut().find(|r| {
                    (r.left == here && r.right == there) || (r.left == there && r.right == here)
                }) {
                    if let Some(c) = columns {
                        row.columns.extend(c);
                    }
                } else {
                    let mut cols = defaults;
                    if let Some(c) = columns {
                        cols.extend(c);
                    }
                    rows.push(RelationRow {
                        left: here,
                        right: there,
                        columns: cols,
                    });
                }
                true
            }
            _ => false,
        }
    }

    /// Removes the relation between two records (a no-op when they were not related).
    pub fn unrelate(&mut self, entity: &str, id: &str, link: &str, foreign_id: &str) {
        let Some(def) = self
            .meta()
            .entity(entity)
            .and_then(|e| e.link(link))
            .cloned()
        else {
            return;
        };
        let foreign_entity = def.entity.clone().unwrap_or_default();
        let foreign = def.foreign.clone().unwrap_or_default();
        match def.kind.as_str() {
            "belongsTo" => {
                if let Some(r) = self.record_mut(entity, id)
                    && r.get(&format!("{link}Id")).and_then(Value::as_str) == Some(foreign_id)
                {
                    r.insert(format!("{link}Id"), Value::Null);
                }
            }
            "hasMany" if !self.is_many_to_many(&def) => {
                if let Some(r) = self.record_mut(&foreign_entity, foreign_id)
                    && r.get(&format!("{foreign}Id")).and_then(Value::as_str) == Some(id)
                {
                    r.insert(format!("{foreign}Id"), Value::Null);
                }
            }
            "hasChildren" => {
                if let Some(r) = self.record_mut(&foreign_entity, foreign_id)
                    && r.get(&format!("{foreign}Id")).and_then(Value::as_str) == Some(id)
                {
                    r.insert(format!("{foreign}Id"), Value::Null);
                    r.insert(format!("{foreign}Type"), Value::Null);
                }
            }
            "hasMany" => {
                let key = self.relation_key(entity, link, &def);
                let here = (entity.to_owned(), id.to_owned());
                let there = (foreign_entity, foreign_id.to_owned());
                if let Some(rows) = self.relations.get_mut(&key) {
                    rows.retain(|r| {
                        !((r.left == here && r.right == there)
                            || (r.left == there && r.right == here))
                    });
                }
            }
            _ => {}
        }
    }

    fn record_mut(&mut self, entity: &str, id: &str) -> Option<&mut Record> {
        self.records.get_mut(entity).and_then(|t| t.get_mut(id))
    }

    /// Direct access for handlers that maintain attributes EspoCRM computes itself
    /// (email address bookkeeping, user credentials).
    pub fn record_mut_public(&mut self, entity: &str, id: &str) -> Option<&mut Record> {
        self.record_mut(entity, id)
    }

    /// The id of an email address record, created on first use (EspoCRM keeps addresses as
    /// records of their own).
    pub fn email_address_id(&mut self, address: &str) -> String {
        let key = address.to_lowercase();
        if let Some(id) = self.email_addresses.get(&key) {
            return id.clone();
        }
        let id = self.ids.next_id();
        self.email_addresses.insert(key, id.clone());
        id
    }

    pub fn remove_role(&mut self, id: &str) -> bool {
        self.roles.remove(id).is_some()
    }

    // ---------------------------------------------------------------- followers

    pub fn follow(&mut self, entity: &str, id: &str, user_id: &str) {
        self.followers
            .entry((entity.to_owned(), id.to_owned()))
            .or_default()
            .insert(user_id.to_owned());
    }

    pub fn unfollow(&mut self, entity: &str, id: &str, user_id: &str) {
        if let Some(set) = self.followers.get_mut(&(entity.to_owned(), id.to_owned())) {
            set.remove(user_id);
        }
    }

    pub fn followers(&self, entity: &str, id: &str) -> Vec<String> {
        self.followers
            .get(&(entity.to_owned(), id.to_owned()))
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    // ---------------------------------------------------------------- kanban order

    pub fn set_kanban_order(&mut self, user: &str, entity: &str, group: &str, ids: Vec<String>) {
        self.kanban_orders
            .insert((user.to_owned(), entity.to_owned(), group.to_owned()), ids);
    }

    pub fn kanban_order(&self, user: &str, entity: &str, group: &str) -> Option<&Vec<String>> {
        self.kanban_orders
            .get(&(user.to_owned(), entity.to_owned(), group.to_owned()))
    }

    // ---------------------------------------------------------------- writes

    /// Creates a record after validation; `attributes` is the request body.
    /// `keep_identity` keeps a given `id`, `createdAt` and `createdById` (demo data only).
    pub fn create(
        &mut self,
        entity: &EntityDef,
        attributes: &Map<String, Value>,
        actor: &Actor,
        now: NaiveDateTime,
        keep_identity: bool,
    ) -> Result<String, ApiError> {
        let meta = self.meta();
        let mut values = self.writable_values(entity, attributes, true);
        for (field, def) in &entity.fields {
            if let Some(default) = &def.default
                && !values.contains_key(field)
                && !default.is_null()
                && is_plain_field(&def.kind)
            {
                values.insert(field.clone(), default.clone());
            }
        }
        if (entity.field("amountCurrency").is_some()
            || entity.field("amount").is_some_and(|f| f.kind == "currency"))
            && values.get("amount").is_some_and(|v| !v.is_null())
            && !values.contains_key("amountCurrency")
        {
            values.insert("amountCurrency".into(), json!("USD"));
        }
        for (field, def) in &entity.fields {
            if def.kind == "currency" {
                let cur = format!("{field}Currency");
                if values.get(field).is_some_and(|v| !v.is_null()) && !values.contains_key(&cur) {
                    values.insert(cur, json!("USD"));
                }
            }
        }
        for (field, def) in &entity.fields {
            // EspoCRM stores booleans as 0/1 columns: unset means false, never null.
            if def.kind == "bool" && !values.contains_key(field) {
                values.insert(field.clone(), json!(false));
            }
        }
        self.validate(entity, &values, true)?;
        self.check_relations_exist(entity, &values)?;
        let id = match attributes.get("id").and_then(Value::as_str) {
            Some(id) if keep_identity => id.to_owned(),
            _ => self.ids.next_id(),
        };
        let stamp = now.format(DATETIME_FORMAT).to_string();
        let mut record = Record::new();
        record.insert("id".into(), json!(id));
        record.insert("deleted".into(), json!(false));
        let created_at = attributes
            .get("createdAt")
            .filter(|_| keep_identity)
            .cloned()
            .unwrap_or_else(|| json!(stamp));
        let created_by = attributes
            .get("createdById")
            .filter(|_| keep_identity)
            .cloned()
            .unwrap_or_else(|| json!(actor.user_id));
        record.insert("createdAt".into(), created_at.clone());
        record.insert("modifiedAt".into(), created_at);
        record.insert("createdById".into(), created_by);
        record.insert("modifiedById".into(), Value::Null);
        if entity.name == "Case" {
            record.insert("number".into(), json!(self.next_case_number));
            self.next_case_number += 1;
        }
        if entity.name == "Note" {
            record.insert("number".into(), json!(self.next_note_number));
            self.next_note_number += 1;
        }
        let (plain, multiples) = split_multiples(entity, values);
        record.extend(plain);
        crate::concurrency::on_create(&meta, entity, &mut record);
        derive_attributes(entity, &mut record, None, &meta);
        self.records
            .entry(entity.name.clone())
            .or_default()
            .insert(id.clone(), record);
        self.apply_multiples(entity, &id, multiples);
        self.after_save(entity, &id, None);
        if entity.has_stream() {
            if let Some(user) = self
                .get(&entity.name, &id)
                .and_then(|r| r.get("assignedUserId"))
                .and_then(Value::as_str)
                .map(str::to_owned)
            {
                self.follow(&entity.name, &id, &user);
            }
            self.add_system_note(entity, &id, "Create", actor, now);
        }
        Ok(id)
    }

    /// Applies a partial update after validation.
    pub fn update(
        &mut self,
        entity: &EntityDef,
        id: &str,
        attributes: &Map<String, Value>,
        actor: &Actor,
        now: NaiveDateTime,
    ) -> Result<(), ApiError> {
        let meta = self.meta();
        let values = self.writable_values(entity, attributes, false);
        self.validate(entity, &values, false)?;
        self.check_relations_exist(entity, &values)?;
        let Some(before) = self.get(&entity.name, id).cloned() else {
            return Err(ApiError::not_found(format!("Record {id} not found.")));
        };
        crate::locks::before_save(self, &meta, entity, id, &values, &actor.user_id)?;
        crate::concurrency::count_save(self, &meta, entity, id);
        if values.is_empty() {
            return Ok(());
        }
        let (plain, multiples) = split_multiples(entity, values);
        let status_field = entity.status_field().map(str::to_owned);
        let status_changed = status_field
            .as_ref()
            .is_some_and(|f| plain.get(f).is_some_and(|v| Some(v) != before.get(f)));
        if let Some(record) = self.record_mut(&entity.name, id) {
            record.extend(plain);
            record.insert(
                "modifiedAt".into(),
                json!(now.format(DATETIME_FORMAT).to_string()),
            );
            record.insert("modifiedById".into(), json!(actor.user_id));
            derive_attributes(entity, record, Some(&before), &meta);
        }
        self.apply_multiples(entity, id, multiples);
        self.after_save(entity, id, Some(&before));
        if entity.has_stream() {
            let assigned = self
                .get(&entity.name, id)
                .and_then(|r| r.get("assignedUserId"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            if let Some(user) = assigned
                && before.get("assignedUserId").and_then(Value::as_str) != Some(&user)
            {
                self.follow(&entity.name, id, &user);
            }
            if status_changed {
                self.add_system_note(entity, id, "Status", actor, now);
            }
        }
        Ok(())
    }

    pub fn delete(&mut self, entity: &str, id: &str) -> bool {
        let removed = self
            .records
            .get_mut(entity)
            .and_then(|t| t.remove(id))
            .is_some();
        if removed && entity == "Attachment" {
            self.files.remove(id);
        }
        if removed {
            self.followers.remove(&(entity.to_owned(), id.to_owned()));
            for rows in self.relations.values_mut() {
                rows.retain(|r| {
                    !((r.left.0 == entity && r.left.1 == id)
                        || (r.right.0 == entity && r.right.1 == id))
                });
            }
        }
        removed
    }

    /// Inserts a Note as EspoCRM's stream would (number, createdBy), returning its id.
    pub fn insert_note(&mut self, mut note: Record, actor: &Actor, now: NaiveDateTime) -> String {
        let id = self.ids.next_id();
        let stamp = json!(now.format(DATETIME_FORMAT).to_string());
        note.insert("id".into(), json!(id));
        note.insert("deleted".into(), json!(false));
        note.insert("number".into(), json!(self.next_note_number));
        self.next_note_number += 1;
        note.entry("createdAt").or_insert(stamp.clone());
        note.insert("modifiedAt".into(), stamp);
        note.insert("createdById".into(), json!(actor.user_id));
        note.insert("modifiedById".into(), Value::Null);
        note.entry("data").or_insert(json!({}));
        note.entry("isInternal").or_insert(json!(false));
        note.entry("isPinned").or_insert(json!(false));
        note.entry("isGlobal").or_insert(json!(false));
        let parent = note
            .get("parentType")
            .and_then(Value::as_str)
            .zip(note.get("parentId").and_then(Value::as_str))
            .map(|(t, i)| (t.to_owned(), i.to_owned()));
        let created_at = note.get("createdAt").cloned();
        self.records
            .entry("Note".into())
            .or_default()
            .insert(id.clone(), note);
        if let (Some((entity, parent_id)), Some(at)) = (parent, created_at) {
            self.stamp_stream_updated(&entity, &parent_id, at);
        }
        id
    }

    /// A record whose type has `streamUpdatedAt` (EspoCRM 10) keeps the time of its last note.
    fn stamp_stream_updated(&mut self, entity: &str, id: &str, at: Value) {
        if self
            .meta()
            .entity(entity)
            .is_some_and(|e| e.field("streamUpdatedAt").is_some())
            && let Some(record) = self.record_mut(entity, id)
        {
            record.insert("streamUpdatedAt".into(), at);
        }
    }

    fn add_system_note(
        &mut self,
        entity: &EntityDef,
        id: &str,
        kind: &str,
        actor: &Actor,
        now: NaiveDateTime,
    ) {
        let record = self.get(&entity.name, id).cloned().unwrap_or_default();
        let mut data = Map::new();
        if let Some(user) = record.get("assignedUserId").filter(|v| !v.is_null()) {
            data.insert("assignedUserId".into(), user.clone());
        }
        if let Some(field) = entity.status_field() {
            data.insert("statusField".into(), json!(field));
            data.insert(
                "statusValue".into(),
                record.get(field).cloned().unwrap_or(Value::Null),
            );
            data.insert("statusStyle".into(), json!("default"));
        }
        let mut note = Record::new();
        note.insert("type".into(), json!(kind));
        note.insert("post".into(), Value::Null);
        note.insert("data".into(), Value::Object(data));
        note.insert("parentType".into(), json!(entity.name));
        note.insert("parentId".into(), json!(id));
        // Notes of child records also appear in the stream of the parent's parent.
        if let (Some(pt), Some(pid)) = (
            record.get("parentType").and_then(Value::as_str),
            record.get("parentId").and_then(Value::as_str),
        ) {
            note.insert("superParentType".into(), json!(pt));
            note.insert("superParentId".into(), json!(pid));
        }
        self.insert_note(note, actor, now);
    }

    /// Attributes from a request body that EspoCRM would store: known, not read-only;
    /// unknown and read-only ones are silently dropped, as EspoCRM does.
    fn writable_values(
        &self,
        entity: &EntityDef,
        attributes: &Map<String, Value>,
        creating: bool,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        for (name, value) in attributes {
            if name == "id" || !entity.has_attribute(name) {
                continue;
            }
            let field = entity.field_of_attribute(name).unwrap_or(name);
            let def = entity.field(field);
            let read_only = def.is_some_and(|d| d.read_only)
                || [
                    "createdAt",
                    "modifiedAt",
                    "createdById",
                    "modifiedById",
                    "deleted",
                    "number",
                    crate::concurrency::ATTRIBUTE,
                    crate::locks::ATTRIBUTE,
                ]
                .contains(&name.as_str());
            if read_only && !(creating && entity.name == "Email" && name == "status") {
                continue;
            }
            // Name attributes of links are derived, not stored.
            if name.ends_with("Name")
                && def.is_some_and(|d| matches!(d.kind.as_str(), "link" | "linkOne" | "linkParent"))
            {
                continue;
            }
            // Derived display maps are never stored; linkMultiple columns (`contactsColumns`)
            // are kept for `split_multiples`, other `…Columns` attributes are not stored.
            let link_multiple_columns = name.ends_with("sColumns");
            if name.ends_with("Names") || (name.ends_with("Columns") && !link_multiple_columns) {
                continue;
            }
            out.insert(name.clone(), value.clone());
        }
        if entity.name == "Email" && creating {
            for key in [
                "from",
                "to",
                "cc",
                "bcc",
                "status",
                "subject",
                "body",
                "isHtml",
                "parentType",
                "parentId",
            ] {
                if let Some(v) = attributes.get(key) {
                    out.insert(key.into(), v.clone());
                }
            }
        }
        // emailAddressData / phoneNumberData decide the primary address.
        for (data, plain, key) in [
            ("emailAddressData", "emailAddress", "emailAddress"),
            ("phoneNumberData", "phoneNumber", "phoneNumber"),
        ] {
            if let Some(items) = out.get(data).and_then(Value::as_array) {
                let primary = items
                    .iter()
                    .find(|i| i.get("primary").and_then(Value::as_bool) == Some(true))
                    .or_else(|| items.first())
                    .and_then(|i| i.get(key))
                    .cloned();
                if let Some(p) = primary {
                    out.entry(plain).or_insert(p);
                }
            }
        }
        out
    }

    /// EspoCRM's field validation: the first failing field in definition order.
    fn validate(
        &self,
        entity: &EntityDef,
        values: &Map<String, Value>,
        creating: bool,
    ) -> Result<(), ApiError> {
        let meta = self.meta();
        let fail = |field: &str, check: &str| Err(ApiError::validation(&entity.name, field, check));
        let is_draft_email = entity.name == "Email"
            && values
                .get("status")
                .and_then(Value::as_str)
                .is_none_or(|s| s == "Draft");
        for (field, def) in &entity.fields {
            let attrs: Vec<String> = crate::model::expand_field(field, def)
                .into_iter()
                .map(|(a, _)| a)
                .collect();
            let main = match def.kind.as_str() {
                "link" | "linkOne" => format!("{field}Id"),
                "linkParent" => format!("{field}Id"),
                "linkMultiple" => format!("{field}Ids"),
                _ => field.clone(),
            };
            let given = values.get(&main);
            let given_any = attrs.iter().any(|a| values.contains_key(a));
            if def.required && !def.read_only {
                let skip =
                    is_draft_email && (field == "to" || field == "name" || field == "subject");
                let empty = |v: Option<&Value>| match v {
                    None | Some(Value::Null) => true,
                    Some(Value::String(s)) => s.trim().is_empty(),
                    Some(Value::Array(a)) => a.is_empty(),
                    _ => false,
                };
                let missing = if def.kind == "personName" || def.kind == "address" {
                    false
                } else if creating {
                    empty(given)
                } else {
                    values.contains_key(&main) && empty(given)
                };
                if missing && !skip {
                    return fail(field, "required");
                }
            }
            if !given_any {
                continue;
            }
            let Some(value) = given.filter(|v| !v.is_null()) else {
                continue;
            };
            let text = value.as_str();
            match def.kind.as_str() {
                "enum" => {
                    if let Some(options) = entity.enum_options(&meta, field) {
                        let s = text.map(str::to_owned).unwrap_or_else(|| value.to_string());
                        if !options.is_empty() && !options.contains(&s) && field != "amountCurrency"
                        {
                            return fail(field, "valid");
                        }
                    }
                }
                "email" if text.is_some_and(|s| !s.is_empty() && !is_email(s)) => {
                    return fail(field, "emailAddress");
                }
                "phone" if text.is_some_and(|s| !s.is_empty() && !is_phone(s)) => {
                    return fail(field, "valid");
                }
                "date"
                    if (text.is_some_and(|s| {
                        !s.is_empty() && NaiveDate::parse_from_str(s, "%Y-%m-%d").is_err()
                    }) || !(value.is_string())) =>
                {
                    return fail(field, "valid");
                }
                "datetime" | "datetimeOptional"
                    if (text.is_some_and(|s| {
                        !s.is_empty() && NaiveDateTime::parse_from_str(s, DATETIME_FORMAT).is_err()
                    }) || !value.is_string()) =>
                {
                    return fail(field, "valid");
                }
                "int" | "float" | "currency" => {
                    let number = value
                        .as_f64()
                        .or_else(|| text.and_then(|s| s.trim().parse::<f64>().ok()));
                    let Some(n) = number else {
                        return fail(field, "valid");
                    };
                    if def.min.is_some_and(|m| n < m) {
                        return fail(field, "min");
                    }
                    if def.max.is_some_and(|m| n > m) {
                        return fail(field, "max");
                    }
                }
                "varchar" | "text" | "url" | "wysiwyg" => {
                    if let (Some(max), Some(s)) = (def.max_length, text)
                        && s.chars().count() as u64 > max
                    {
                        return fail(field, "maxLength");
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Link attributes must point at existing records (403 cannotRelateNonExisting).
    fn check_relations_exist(
        &self,
        entity: &EntityDef,
        values: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        for (link, def) in &entity.links {
            let ids: Vec<String> = match def.kind.as_str() {
                "belongsTo" => values
                    .get(&format!("{link}Id"))
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(|s| vec![s.to_owned()])
                    .unwrap_or_default(),
                "hasMany" if entity.field(link).is_some_and(|f| f.kind == "linkMultiple") => values
                    .get(&format!("{link}Ids"))
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
                "belongsToParent" => {
                    let (Some(t), Some(i)) = (
                        values.get(&format!("{link}Type")).and_then(Value::as_str),
                        values.get(&format!("{link}Id")).and_then(Value::as_str),
                    ) else {
                        continue;
                    };
                    if !self.exists(t, i) {
                        return Err(ApiError::cannot_relate(&entity.name, link, t));
                    }
                    continue;
                }
                _ => continue,
            };
            let Some(foreign) = def.entity.as_deref() else {
                continue;
            };
            if foreign == "Role" {
                // Roles live beside the records (see `Store::roles`).
                if ids.iter().any(|i| !self.roles.contains_key(i)) {
                    return Err(ApiError::cannot_relate(&entity.name, link, foreign));
                }
                continue;
            }
            if ["Team", "Campaign", "EmailAddress", "Attachment"].contains(&foreign) {
                continue;
            }
            if let Some(missing) = ids.iter().find(|i| !self.exists(foreign, i)) {
                let _ = missing;
                return Err(ApiError::cannot_relate(&entity.name, link, foreign));
            }
        }
        Ok(())
    }

    /// Replaces the many-to-many rows named by `xxxIds` attributes.
    fn apply_multiples(&mut self, entity: &EntityDef, id: &str, multiples: Vec<LinkMultipleValue>) {
        for (link, ids, columns) in multiples {
            if entity
                .field(&link)
                .is_some_and(|d| d.kind == "attachmentMultiple")
            {
                crate::attachments::adopt(self, &entity.name, id, &link, &ids);
                continue;
            }
            let current: Vec<String> = self
                .linked(&entity.name, id, &link)
                .into_iter()
                .map(|(i, _)| i)
                .collect();
            for old in current.iter().filter(|o| !ids.contains(o)) {
                self.unrelate(&entity.name, id, &link, old);
            }
            for new in &ids {
                let cols = columns
                    .as_ref()
                    .and_then(|c| c.get(new))
                    .and_then(Value::as_object)
                    .cloned();
                self.relate(&entity.name, id, &link, new, cols);
            }
        }
    }

    /// Side effects of a save that EspoCRM performs (Contact.accountId joins Account.contacts).
    /// A Contact's primary account joins its accounts; a Case's contact joins its contacts; the
    /// assigned user of a new Meeting or Call becomes an attendee.
    fn after_save(&mut self, entity: &EntityDef, id: &str, before: Option<&Record>) {
        let primary = match entity.name.as_str() {
            "Contact" => Some(("accountId", "accounts")),
            "Case" => Some(("contactId", "contacts")),
            _ => None,
        };
        if let Some((attribute, link)) = primary {
            let now = self
                .get(&entity.name, id)
                .and_then(|r| r.get(attribute))
                .and_then(Value::as_str)
                .map(str::to_owned);
            let old = before
                .and_then(|r| r.get(attribute))
                .and_then(Value::as_str);
            if let Some(target) = now.filter(|t| old != Some(t.as_str())) {
                // A contact's title becomes its role at the account (EspoCRM copies it).
                let columns = (entity.name == "Contact").then(|| {
                    let title = self
                        .get("Contact", id)
                        .and_then(|r| r.get("title"))
                        .cloned();
                    let mut c = Map::new();
                    c.insert("role".into(), title.unwrap_or(Value::Null));
                    c.insert("isInactive".into(), json!(false));
                    c
                });
                self.relate(&entity.name, id, link, &target, columns);
            }
        }
        if entity.name == "Task" {
            // Completing a task stamps when.
            let completed = self
                .get("Task", id)
                .and_then(|r| r.get("status"))
                .and_then(Value::as_str)
                == Some("Completed");
            let was =
                before.and_then(|r| r.get("status")).and_then(Value::as_str) == Some("Completed");
            if completed && !was {
                let stamp = self
                    .get("Task", id)
                    .and_then(|r| r.get("modifiedAt"))
                    .cloned();
                if let (Some(stamp), Some(r)) = (stamp, self.record_mut("Task", id)) {
                    r.insert("dateCompleted".into(), stamp);
                }
            }
        }
        self.assigned_user_collaborates(entity, id, before);
        if before.is_none() && matches!(entity.name.as_str(), "Meeting" | "Call") {
            let assigned = self
                .get(&entity.name, id)
                .and_then(|r| r.get("assignedUserId"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            if let Some(user) = assigned {
                self.relate(&entity.name, id, "users", &user, None);
            }
        }
    }

    /// Types with collaborators (EspoCRM 10: Task, Case) add the assigned user to them whenever
    /// the assignment changes.
    fn assigned_user_collaborates(
        &mut self,
        entity: &EntityDef,
        id: &str,
        before: Option<&Record>,
    ) {
        if entity.field("collaborators").is_none() {
            return;
        }
        let assigned = |r: Option<&Record>| {
            r.and_then(|r| r.get("assignedUserId"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let now = assigned(self.get(&entity.name, id));
        if let Some(user) = now.filter(|u| assigned(before).as_deref() != Some(u.as_str())) {
            self.relate(&entity.name, id, "collaborators", &user, None);
        }
    }

    // ---------------------------------------------------------------- rendering

    /// A record as the API returns it, with the attribute set asked for.
    pub fn render(
        &self,
        entity: &EntityDef,
        id: &str,
        set: AttributeSet<'_>,
        viewer: &str,
    ) -> Option<Map<String, Value>> {
        let record = self.get(&entity.name, id)?;
        let names: Vec<String> = match set {
            AttributeSet::Detail => entity.detail_attributes.clone(),
            AttributeSet::List => {
                let mut v = entity.list_attributes.clone();
                v.extend(entity.list_extra_attributes.iter().cloned());
                v
            }
            AttributeSet::Create(extra) => {
                let mut v: Vec<String> = entity
                    .detail_attributes
                    .iter()
                    .filter(|a| entity.create_attributes.contains(a) || extra.contains(a))
                    .cloned()
                    .collect();
                for a in entity.create_attributes.iter().chain(extra) {
                    if !v.contains(a) {
                        v.push(a.clone());
                    }
                }
                v
            }
            AttributeSet::Only(list) => list.to_vec(),
        };
        let mut out = Map::new();
        for name in names {
            let value = self.attribute_value(entity, id, record, &name, viewer);
            out.insert(name, value);
        }
        Some(out)
    }

    /// One attribute's value: stored, or derived from links, followers and relations.
    pub fn attribute_value(
        &self,
        entity: &EntityDef,
        id: &str,
        record: &Record,
        name: &str,
        viewer: &str,
    ) -> Value {
        if let Some(v) = record.get(name) {
            return v.clone();
        }
        if entity.name == "Contact" && name == "accountIsInactive" {
            // A column of the contact's row at its primary account.
            let Some(account) = record.get("accountId").and_then(Value::as_str) else {
                return Value::Null;
            };
            return self
                .linked("Contact", id, "accounts")
                .into_iter()
                .find(|(a, _)| a == account)
                .and_then(|(_, c)| c.get("isInactive").cloned())
                .filter(|v| !v.is_null())
                .unwrap_or(json!(false));
        }
        if entity.name == "User" && name == "rolesNames" {
            let ids: Vec<String> = record
                .get("rolesIds")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            return Value::Object(
                ids.into_iter()
                    .map(|i| {
                        let n = self
                            .roles
                            .get(&i)
                            .map(|r| json!(r.name))
                            .unwrap_or(Value::Null);
                        (i, n)
                    })
                    .collect(),
            );
        }
        match name {
            "isFollowed" => {
                return json!(self.followers(&entity.name, id).iter().any(|f| f == viewer));
            }
            "followersIds" => return json!(self.followers(&entity.name, id)),
            "followersNames" => {
                let m: Map<String, Value> = self
                    .followers(&entity.name, id)
                    .into_iter()
                    .map(|u| {
                        let n = self
                            .name_of("User", &u)
                            .map(Value::String)
                            .unwrap_or(Value::Null);
                        (u, n)
                    })
                    .collect();
                return Value::Object(m);
            }
            "isStarred" => return json!(false),
            // Nobody reacts to notes in the sandbox (EspoCRM 10 reactions).
            "myReactions" => return json!([]),
            "emailAddressData" | "phoneNumberData" => return json!([]),
            _ => {}
        }
        if let Some(def) = entity.field(name).filter(|d| d.kind == "foreign") {
            return self.foreign_value(entity, record, def);
        }
        if let Some(field) = name.strip_suffix("Name")
            && let Some(def) = entity
                .field(field)
                .filter(|d| matches!(d.kind.as_str(), "link" | "linkOne" | "linkParent"))
        {
            let target = if def.kind == "linkParent" {
                record
                    .get(&format!("{field}Type"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            } else {
                entity.link(field).and_then(|l| l.entity.clone())
            };
            let linked = if def.kind == "linkOne" {
                self.linked(&entity.name, id, field)
                    .into_iter()
                    .next()
                    .map(|(i, _)| i)
            } else {
                record
                    .get(&format!("{field}Id"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            return match (target, linked) {
                (Some(t), Some(i)) => self
                    .name_of(&t, &i)
                    .map(Value::String)
                    .unwrap_or(Value::Null),
                _ => Value::Null,
            };
        }
        if let Some(field) = name.strip_suffix("Id")
            && entity.field(field).is_some_and(|d| d.kind == "linkOne")
        {
            return self
                .linked(&entity.name, id, field)
                .into_iter()
                .next()
                .map(|(i, _)| json!(i))
                .unwrap_or(Value::Null);
        }
        for (suffix, kind) in [("Ids", 0), ("Names", 1), ("Columns", 2), ("Types", 3)] {
            if let Some(field) = name.strip_suffix(suffix)
                && let Some(def) = entity
                    .field(field)
                    .filter(|d| matches!(d.kind.as_str(), "linkMultiple" | "attachmentMultiple"))
            {
                if def.kind == "attachmentMultiple" {
                    return crate::attachments::field_value(self, &entity.name, id, field, suffix);
                }
                let foreign = entity
                    .link(field)
                    .and_then(|l| l.entity.clone())
                    .unwrap_or_default();
                let linked = self.linked(&entity.name, id, field);
                return match kind {
                    0 => json!(linked.iter().map(|(i, _)| i.clone()).collect::<Vec<_>>()),
                    1 => Value::Object(
                        linked
                            .iter()
                            .map(|(i, _)| {
                                (
                                    i.clone(),
                                    self.name_of(&foreign, i)
                                        .map(Value::String)
                                        .unwrap_or(Value::Null),
                                )
                            })
                            .collect(),
                    ),
                    _ => {
                        let column_names: Vec<String> = def
                            .columns
                            .as_ref()
                            .map(|c| c.keys().cloned().collect())
                            .unwrap_or_default();
                        Value::Object(
                            linked
                                .into_iter()
                                .map(|(i, cols)| {
                                    let m: Map<String, Value> = column_names
                                        .iter()
                                        .map(|c| {
                                            (c.clone(), cols.get(c).cloned().unwrap_or(Value::Null))
                                        })
                                        .collect();
                                    (i, Value::Object(m))
                                })
                                .collect(),
                        )
                    }
                };
            }
        }
        if name == "teamsIds" || name.ends_with("Ids") {
            return json!([]);
        }
        if name.ends_with("Names") || name.ends_with("Types") {
            return json!({});
        }
        if name.ends_with("IsOptedOut") || name.ends_with("IsInvalid") {
            let base = name
                .trim_end_matches("IsOptedOut")
                .trim_end_matches("IsInvalid");
            return if base == "phoneNumber" && entity.name == "User" {
                Value::Null
            } else {
                json!(false)
            };
        }
        Value::Null
    }
}

impl Store {
    /// A `foreign` field's value: the field it names on the record its `belongsTo` link leads to.
    fn foreign_value(&self, entity: &EntityDef, record: &Record, def: &FieldDef) -> Value {
        let (Some(link), Some(field)) = (def.link.as_deref(), def.field.as_deref()) else {
            return Value::Null;
        };
        let Some(target) = entity.link(link).and_then(|l| l.entity.as_deref()) else {
            return Value::Null;
        };
        record
            .get(&format!("{link}Id"))
            .and_then(Value::as_str)
            .and_then(|id| self.get(target, id))
            .and_then(|linked| linked.get(field))
            .cloned()
            .unwrap_or(Value::Null)
    }
}

/// Field types stored as one plain attribute with a metadata default.
fn is_plain_field(kind: &str) -> bool {
    matches!(
        kind,
        "enum"
            | "bool"
            | "int"
            | "float"
            | "varchar"
            | "multiEnum"
            | "array"
            | "jsonArray"
            | "text"
    )
}

/// Default values of a relation's extra columns (e.g. attendee status "None").
fn default_columns(def: &LinkDef) -> Map<String, Value> {
    def.additional_columns
        .as_ref()
        .map(|cols| {
            cols.iter()
                .map(|(k, v)| (k.clone(), v.get("default").cloned().unwrap_or(Value::Null)))
                .collect()
        })
        .unwrap_or_default()
}

/// A linkMultiple field's new value: the field, the ids, the relation columns per id.
type LinkMultipleValue = (String, Vec<String>, Option<Map<String, Value>>);

/// Separates `xxxIds`/`xxxColumns` of linkMultiple fields (kept as relation rows) and `xxxIds`
/// of attachmentMultiple fields (set on the attachments) from the rest.
fn split_multiples(
    entity: &EntityDef,
    mut values: Map<String, Value>,
) -> (Map<String, Value>, Vec<LinkMultipleValue>) {
    let mut multiples = Vec::new();
    for (field, def) in &entity.fields {
        if def.kind == "attachmentMultiple" {
            // Attachments are their own records, pointing at their owner; names and types
            // are derived from them.
            values.remove(&format!("{field}Types"));
        } else if def.kind != "linkMultiple" {
            continue;
        }
        let columns = values
            .remove(&format!("{field}Columns"))
            .and_then(|v| v.as_object().cloned());
        if let Some(ids) = values.remove(&format!("{field}Ids")) {
            let ids: Vec<String> = ids
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            multiples.push((field.clone(), ids, columns));
        }
    }
    (values, multiples)
}

/// Attributes EspoCRM computes on save: person names, E.164 phones, email data,
/// Opportunity probability, Meeting/Call duration.
fn derive_attributes(
    entity: &EntityDef,
    record: &mut Record,
    before: Option<&Record>,
    meta: &Metadata,
) {
    if entity.field("name").is_some_and(|f| f.kind == "personName") {
        let part = |k: &str| {
            record
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim()
                .to_owned()
        };
        let full = [part("firstName"), part("middleName"), part("lastName")]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let name =
            if entity.name == "User" && record.get("type").and_then(Value::as_str) == Some("api") {
                record.get("userName").cloned().unwrap_or(Value::Null)
            } else if full.is_empty() {
                Value::Null
            } else {
                json!(full)
            };
        record.insert("name".into(), name);
    }
    for (field, def) in &entity.fields {
        match def.kind.as_str() {
            "phone" => {
                if let Some(s) = record.get(field).and_then(Value::as_str) {
                    let normalised = normalise_phone(s);
                    record.insert(
                        field.clone(),
                        if normalised.is_empty() {
                            Value::Null
                        } else {
                            json!(normalised)
                        },
                    );
                }
                sync_address_data(record, field, "phoneNumber");
            }
            "email" => sync_address_data(record, field, "emailAddress"),
            _ => {}
        }
    }
    if entity.name == "Opportunity" {
        let stage = record
            .get("stage")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let stage_changed = before.is_none_or(|b| b.get("stage") != record.get("stage"));
        if let (Some(stage), Some(map)) = (
            &stage,
            entity
                .field("stage")
                .and_then(|f| f.probability_map.as_ref()),
        ) {
            let given = record.get("probability").is_some_and(|p| !p.is_null());
            if stage_changed
                && (before.is_some() || !given)
                && let Some(p) = map.get(stage)
            {
                record.insert("probability".into(), json!(p));
            }
            if stage != "Closed Lost" {
                record.insert("lastStage".into(), json!(stage));
            }
        }
        let amount = record.get("amount").and_then(Value::as_f64);
        let probability = record.get("probability").and_then(Value::as_f64);
        record.insert(
            "amountConverted".into(),
            amount.map(number).unwrap_or(Value::Null),
        );
        record.insert(
            "amountWeightedConverted".into(),
            match (amount, probability) {
                (Some(a), Some(p)) => number(a * p / 100.0),
                _ => Value::Null,
            },
        );
    }
    if matches!(entity.name.as_str(), "Meeting" | "Call") {
        let parse = |k: &str| {
            record
                .get(k)
                .and_then(Value::as_str)
                .and_then(|s| NaiveDateTime::parse_from_str(s, DATETIME_FORMAT).ok())
        };
        if let (Some(start), Some(end)) = (parse("dateStart"), parse("dateEnd")) {
            record.insert("duration".into(), json!((end - start).num_seconds()));
        }
    }
    if let (Some(pt), Some(pid)) = (
        record
            .get("parentType")
            .and_then(Value::as_str)
            .map(str::to_owned),
        record
            .get("parentId")
            .and_then(Value::as_str)
            .map(str::to_owned),
    ) {
        // Activities under an Account also carry accountId (EspoCRM fills it from the parent).
        if pt == "Account" && entity.has_attribute("accountId") && entity.field("account").is_some()
        {
            record.insert("accountId".into(), json!(pid));
        }
    }
    let _ = meta;
}

/// A number as EspoCRM prints it: whole values without a fraction (`8400`, not `8400.0`).
fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

/// Keeps `emailAddress` and `emailAddressData` (or the phone pair) in agreement.
fn sync_address_data(record: &mut Record, field: &str, key: &str) {
    let data_key = format!("{field}Data");
    let primary = record.get(field).and_then(Value::as_str).map(str::to_owned);
    let mut data: Vec<Value> = record
        .get(&data_key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if key == "phoneNumber" {
        for item in &mut data {
            if let Some(s) = item
                .get("phoneNumber")
                .and_then(Value::as_str)
                .map(normalise_phone)
            {
                item["phoneNumber"] = json!(s);
            }
        }
    }
    match primary {
        Some(p) => {
            let present = data
                .iter()
                .any(|i| i.get(key).and_then(Value::as_str) == Some(p.as_str()));
            for item in &mut data {
                let is = item.get(key).and_then(Value::as_str) == Some(p.as_str());
                item["primary"] = json!(is);
            }
            if !present {
                let mut item = Map::new();
                item.insert(key.into(), json!(p));
                if key == "emailAddress" {
                    item.insert("lower".into(), json!(p.to_lowercase()));
                } else {
                    item.insert("type".into(), json!("Office"));
                }
                item.insert("primary".into(), json!(true));
                item.insert("optOut".into(), json!(false));
                item.insert("invalid".into(), json!(false));
                data.insert(0, Value::Object(item));
            }
        }
        None => data.clear(),
    }
    for item in &mut data {
        if key == "emailAddress"
            && let Some(s) = item
                .get("emailAddress")
                .and_then(Value::as_str)
                .map(str::to_lowercase)
        {
            item["lower"] = json!(s);
        }
        for k in ["optOut", "invalid"] {
            if item.get(k).is_none() {
                item[k] = json!(false);
            }
        }
    }
    record.insert(data_key, Value::Array(data));
}

pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
}

pub fn is_phone(s: &str) -> bool {
    let digits = s.chars().filter(char::is_ascii_digit).count();
    digits >= 4
        && s.chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
}

/// `"+1 212 555 0142"` → `"+12125550142"`.
pub fn normalise_phone(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.trim().chars().enumerate() {
        if c.is_ascii_digit() || (c == '+' && i == 0) {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_normalise_to_e164_and_emails_validate() {
        assert_eq!(normalise_phone("+1 212 555 0142"), "+12125550142");
        assert!(is_phone("+1 (212) 555-0142"));
        assert!(!is_phone("call me maybe"));
        assert!(is_email("a@b.example.com"));
        assert!(!is_email("not-an-email"));
    }

    #[test]
    fn an_administrators_change_reaches_later_readers_only() {
        let mut store = Store::new(IdGenerator::new(7), EspoVersion::V10_0);
        let before = store.meta();
        assert!(before.entity("Account").unwrap().field("cRating").is_none());
        let patch = serde_json::json!({
            "entityDefs": {"Account": {"fields": {"cRating": {"type": "int"}}}},
        });
        store
            .patch_metadata(&patch)
            .expect("the patched description parses");
        let after = store.meta();
        assert!(after.entity("Account").unwrap().field("cRating").is_some());
        assert!(before.entity("Account").unwrap().field("cRating").is_none());
        // The version's own description, shared by every sandbox, is untouched.
        let shared = Metadata::of(EspoVersion::V10_0);
        assert!(shared.entity("Account").unwrap().field("cRating").is_none());
        assert_eq!(after.entities().count(), shared.entities().count());
    }
}
