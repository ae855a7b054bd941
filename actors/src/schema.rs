//! The parsed EspoCRM schema: entity types, their fields and links, and what the API user may do.
//!
//! Built from two answers — `GET Metadata` (`entityDefs` and `scopes`) and `GET App/user` (the
//! user, the ACL table, the settings) — into plain data the validators can check requests
//! against without knowing EspoCRM's JSON layout. Parsing is lenient where EspoCRM varies (an
//! unknown field type is kept as [`FieldType::Other`], an odd flag reads as absent) and strict
//! only where nothing sensible can be built (no `entityDefs`, no ACL table).
//!
//! Every entity scope EspoCRM reports is kept, with [`EntityType::is_record`] telling the record
//! types people work with (`scopes.X.object == true`: Account, Contact, Task, Email, …) from the
//! system ones that are reached in other ways (Note through the stream, EmailTemplate through
//! templates, Team, Preferences, …).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Map, Value};

/// Why metadata could not be turned into a [`Schema`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unexpected EspoCRM metadata: {0}")]
pub struct SchemaError(String);

/// Everything known about the EspoCRM instance, as the API user sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Schema {
    entities: BTreeMap<String, EntityType>,
    pub user: CurrentUser,
    /// `recordListMaxSizeLimit`: the largest page EspoCRM serves (200 by default).
    pub record_list_max_size: Option<u64>,
    /// The entity types left out by [`Schema::restricted_to`]: they exist in EspoCRM but this
    /// deployment does not let tools touch them.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    excluded: BTreeSet<String>,
    /// What EspoCRM mails people by itself about changes, as far as the API user can read it.
    pub notifications: MailNotifications,
    /// Which record types keep a note's `isInternal` (hidden from portal users).
    pub internal_notes: InternalNotes,
    /// EspoCRM's version as `GET App/user` reports it (`settings.version`, e.g. `10.0.0`), for
    /// reports only: what espomcp does is decided by the features the metadata shows.
    pub espocrm_version: Option<String>,
}

/// EspoCRM's own mail about changes (Administration > Notifications), as the API user reads it
/// in `GET App/user`'s `settings`. A flag EspoCRM does not show a non-admin (`None`) is unknown.
/// espomcp refuses a write when these say it would mail a portal user (a customer); the mail
/// EspoCRM sends its own users stays the administrator's choice and is only reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct MailNotifications {
    /// `assignmentEmailNotifications`: a user is mailed when a record is assigned to them.
    pub assignment: Option<bool>,
    /// `assignmentEmailNotificationsEntityList`: the types whose assignment is mailed.
    pub assignment_entity_types: Vec<String>,
    /// `mentionEmailNotifications`: a user is mailed when a post mentions them (admin-only).
    pub mention: Option<bool>,
    /// `streamEmailNotifications`: internal users are mailed about notes in the streams they
    /// follow (admin-only).
    pub stream: Option<bool>,
    /// `portalStreamEmailNotifications`: portal users are mailed about notes in the streams
    /// they follow.
    pub portal_stream: Option<bool>,
    /// `streamEmailNotificationsEntityList`: the parent types whose notes are mailed.
    pub stream_entity_types: Option<Vec<String>>,
    /// `streamEmailNotificationsTypeList`: the note types that are mailed (`Post`, `Status`,
    /// `EmailReceived`).
    pub stream_note_types: Option<Vec<String>>,
}

/// EspoCRM's defaults (`defaultConfig.php`), for what `App/user` leaves out: portal stream
/// notifications on, for notes of type Post, Status and EmailReceived on Cases.
const DEFAULT_STREAM_ENTITY_TYPES: &[&str] = &["Case"];
const DEFAULT_STREAM_NOTE_TYPES: &[&str] = &["Post", "Status", "EmailReceived"];

impl MailNotifications {
    fn from_settings(settings: Option<&Value>) -> Self {
        let bool_of = |key: &str| settings.and_then(|s| s.get(key)).and_then(Value::as_bool);
        let list_of = |key: &str| {
            settings
                .and_then(|s| s.get(key))
                .filter(|v| v.is_array())
                .map(|v| strings(Some(v)))
        };
        Self {
            assignment: bool_of("assignmentEmailNotifications"),
            assignment_entity_types: list_of("assignmentEmailNotificationsEntityList")
                .unwrap_or_default(),
            mention: bool_of("mentionEmailNotifications"),
            stream: bool_of("streamEmailNotifications"),
            portal_stream: bool_of("portalStreamEmailNotifications"),
            stream_entity_types: list_of("streamEmailNotificationsEntityList"),
            stream_note_types: list_of("streamEmailNotificationsTypeList"),
        }
    }

    /// Whether a note of `note_type` (`Post`, `Status`) in the stream of a `parent_type` record
    /// that is not internal would be mailed to the portal users who follow it. What the API user
    /// cannot read counts as EspoCRM's default, which mails (Cases; Post and Status notes).
    pub fn mails_portal_users(&self, parent_type: &str, note_type: &str) -> bool {
        if self.portal_stream == Some(false) {
            return false;
        }
        let listed = |list: &Option<Vec<String>>, defaults: &[&str], name: &str| match list {
            Some(list) => list.iter().any(|item| item == name),
            None => defaults.contains(&name),
        };
        listed(
            &self.stream_entity_types,
            DEFAULT_STREAM_ENTITY_TYPES,
            parent_type,
        ) && listed(
            &self.stream_note_types,
            DEFAULT_STREAM_NOTE_TYPES,
            note_type,
        )
    }
}

/// Where EspoCRM keeps a posted note's `isInternal` flag, which hides the note from portal
/// users (and so from their mail). EspoCRM 9+ keeps it only for the parent types whose
/// `streamDefs` say `allowInternalNotes` (Case) and quietly clears it elsewhere; EspoCRM 8 has no
/// such setting and keeps it for every parent.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum InternalNotes {
    /// No `streamDefs` entry speaks of `allowInternalNotes` (EspoCRM 8).
    AnyParent,
    /// The parent types whose `streamDefs` allow internal notes.
    Only(BTreeSet<String>),
}

impl InternalNotes {
    fn from_metadata(metadata: &Value) -> Self {
        let Some(defs) = object(metadata, "streamDefs") else {
            return Self::AnyParent;
        };
        let mut mentioned = false;
        let mut allowed = BTreeSet::new();
        for (name, def) in defs {
            if let Some(flag) = def.get("allowInternalNotes") {
                mentioned = true;
                if flag.as_bool() == Some(true) {
                    allowed.insert(name.clone());
                }
            }
        }
        if mentioned {
            Self::Only(allowed)
        } else {
            Self::AnyParent
        }
    }

    /// Whether a post in the stream of a `parent_type` record keeps `isInternal: true`.
    pub fn kept_for(&self, parent_type: &str) -> bool {
        match self {
            Self::AnyParent => true,
            Self::Only(types) => types.contains(parent_type),
        }
    }
}

/// The API user the key belongs to.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CurrentUser {
    pub id: String,
    pub user_name: String,
    /// `api` for an API user.
    pub user_type: Option<String>,
    /// `emailAddressList`: the addresses this user may put in an Email's `from`.
    pub from_addresses: Vec<String>,
    /// `userEmailAddressList`: the user's own addresses (the first is the natural `from`).
    pub own_addresses: Vec<String>,
}

/// One entity type (`Account`, `Note`, …).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EntityType {
    pub name: String,
    /// A record type people work with (`scopes.X.object`), not a system entity.
    pub is_record: bool,
    /// Records have a stream (notes, posts, follow).
    pub has_stream: bool,
    /// Fields EspoCRM checks for duplicates on create (answering 409), e.g. `name`, `emailAddress`.
    pub duplicate_check_fields: Vec<String>,
    /// The field a kanban groups by and a card move changes (`scopes.X.statusField`: `stage`
    /// for Opportunity, `status` for Task, Case, Lead, …); `None` when the type has no kanban.
    pub status_field: Option<String>,
    /// Status values the kanban does not show as columns (`kanbanStatusIgnoreList`).
    pub kanban_ignored: Vec<String>,
    pub fields: BTreeMap<String, Field>,
    pub links: BTreeMap<String, Link>,
    /// The API user's rights from the ACL table; `None` when the table does not mention the type.
    pub access: Option<ScopeAccess>,
    /// Fields the ACL hides from this user (`fieldTable`, read `no`).
    pub unreadable_fields: BTreeSet<String>,
    /// Fields the ACL does not let this user set (`fieldTable`, edit `no`).
    pub uneditable_fields: BTreeSet<String>,
    /// Records carry a `versionNumber`, and a save that sends the one it was based on
    /// (`X-Version-Number`) is refused when the record has changed since
    /// (`entityDefs.X.optimisticConcurrencyControl`; EspoCRM 10: Account, Opportunity, Task, Case, EmailTemplate).
    pub optimistic_concurrency: bool,
    /// Records can be locked (`scopes.X.lockable`, attribute `isLocked`): a locked record
    /// refuses changes and deletes until someone with lock permission unlocks it.
    pub lockable: bool,
}

/// One field of an entity type, with the facts a write must respect.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    pub required: bool,
    /// Set by EspoCRM only (`createdAt`, computed names); ignored in writes.
    pub read_only: bool,
    /// Settable on create, fixed afterwards.
    pub read_only_after_create: bool,
    /// Not a database column: computed or only meaningful through a relation.
    pub not_storable: bool,
    /// Switched off in this instance.
    pub disabled: bool,
    /// Allowed values of an `enum`, `multiEnum`, `enumInt`, …: strings, or numbers for `enumInt`
    /// and `duration`.
    pub options: Option<Vec<Value>>,
    pub max_length: Option<u64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub default: Option<Value>,
}

/// One relation of an entity type.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Link {
    pub name: String,
    #[serde(rename = "type")]
    pub link_type: LinkType,
    /// The entity type at the other end; `None` for `belongsToParent` (see `entity_list`).
    pub entity: Option<String>,
    /// The name of this relation seen from the other end.
    pub foreign: Option<String>,
    /// For `belongsToParent`: the entity types a parent may have, when restricted.
    pub entity_list: Vec<String>,
}

/// What the API user may do with records of one type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ScopeAccess {
    /// A scope the ACL table lists as just `true` or `false`.
    Enabled(bool),
    Levels(AccessLevels),
}

/// The per-action levels of a record scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessLevels {
    pub read: AccessLevel,
    pub stream: AccessLevel,
    pub edit: AccessLevel,
    pub delete: AccessLevel,
    /// Create is `yes`/`no` in EspoCRM; `yes` reads as `All`.
    pub create: AccessLevel,
}

/// Which records an action applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AccessLevel {
    All,
    Team,
    Own,
    /// Also what an unknown level reads as: unknown rights are no rights.
    No,
}

/// The actions the ACL table rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    Stream,
    Edit,
    Delete,
    Create,
}

impl Action {
    /// The action's name in EspoCRM's ACL table.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Stream => "stream",
            Action::Edit => "edit",
            Action::Delete => "delete",
            Action::Create => "create",
        }
    }
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($variant,)*
            /// A type this crate does not name, kept as EspoCRM spells it.
            Other(String),
        }

        impl $name {
            pub fn parse(text: &str) -> Self {
                match text {
                    $($text => Self::$variant,)*
                    other => Self::Other(other.to_owned()),
                }
            }

            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)*
                    Self::Other(other) => other,
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// A field type as EspoCRM names it in `entityDefs.X.fields.f.type`.
    FieldType {
        Address => "address",
        Array => "array",
        AttachmentMultiple => "attachmentMultiple",
        Autoincrement => "autoincrement",
        Base => "base",
        Bool => "bool",
        Checklist => "checklist",
        Colorpicker => "colorpicker",
        Currency => "currency",
        CurrencyConverted => "currencyConverted",
        Date => "date",
        Datetime => "datetime",
        DatetimeOptional => "datetimeOptional",
        Duration => "duration",
        Email => "email",
        Enum => "enum",
        EnumInt => "enumInt",
        File => "file",
        Float => "float",
        Foreign => "foreign",
        Image => "image",
        Int => "int",
        JsonArray => "jsonArray",
        JsonObject => "jsonObject",
        Link => "link",
        LinkMultiple => "linkMultiple",
        LinkOne => "linkOne",
        LinkParent => "linkParent",
        Map => "map",
        MultiEnum => "multiEnum",
        Number => "number",
        Password => "password",
        PersonName => "personName",
        Phone => "phone",
        Text => "text",
        Url => "url",
        Varchar => "varchar",
        Wysiwyg => "wysiwyg",
    }
}

string_enum! {
    /// A relation type as EspoCRM names it in `entityDefs.X.links.l.type`.
    LinkType {
        BelongsTo => "belongsTo",
        BelongsToParent => "belongsToParent",
        HasChildren => "hasChildren",
        HasMany => "hasMany",
        HasOne => "hasOne",
    }
}

impl Schema {
    /// Builds the schema from the bodies of `GET Metadata` and `GET App/user`.
    pub fn from_espo(metadata: &Value, app_user: &Value) -> Result<Self, SchemaError> {
        let entity_defs = object(metadata, "entityDefs")
            .ok_or_else(|| SchemaError("GET Metadata has no entityDefs object".into()))?;
        let scopes = object(metadata, "scopes")
            .ok_or_else(|| SchemaError("GET Metadata has no scopes object".into()))?;
        let acl = object(app_user, "acl")
            .ok_or_else(|| SchemaError("GET App/user has no acl object".into()))?;
        let access_table = acl
            .get("table")
            .and_then(Value::as_object)
            .ok_or_else(|| SchemaError("GET App/user has no acl.table object".into()))?;
        let field_table = acl.get("fieldTable").and_then(Value::as_object);
        let user = app_user
            .get("user")
            .and_then(Value::as_object)
            .ok_or_else(|| SchemaError("GET App/user has no user object".into()))?;

        let mut entities = BTreeMap::new();
        for (name, scope) in scopes {
            let Some(definition) = entity_defs.get(name) else {
                continue;
            };
            if !flag(scope, "entity") || flag(scope, "disabled") {
                continue;
            }
            let (unreadable_fields, uneditable_fields) =
                forbidden_fields(field_table.and_then(|table| table.get(name)));
            entities.insert(
                name.clone(),
                EntityType {
                    name: name.clone(),
                    is_record: flag(scope, "object"),
                    has_stream: flag(scope, "stream"),
                    duplicate_check_fields: strings(scope.get("duplicateCheckFieldList")),
                    status_field: scope
                        .get("statusField")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    kanban_ignored: strings(scope.get("kanbanStatusIgnoreList")),
                    fields: parse_fields(definition.get("fields")),
                    links: parse_links(definition.get("links")),
                    access: access_table.get(name).and_then(parse_access),
                    unreadable_fields,
                    uneditable_fields,
                    optimistic_concurrency: flag(definition, "optimisticConcurrencyControl"),
                    lockable: flag(scope, "lockable"),
                },
            );
        }

        let text = |key: &str| user.get(key).and_then(Value::as_str).map(str::to_owned);
        Ok(Self {
            entities,
            user: CurrentUser {
                id: text("id").ok_or_else(|| SchemaError("the user has no id".into()))?,
                user_name: text("userName").unwrap_or_default(),
                user_type: text("type"),
                from_addresses: strings(user.get("emailAddressList")),
                own_addresses: strings(user.get("userEmailAddressList")),
            },
            record_list_max_size: app_user
                .get("settings")
                .and_then(|settings| settings.get("recordListMaxSizeLimit"))
                .and_then(Value::as_u64),
            excluded: BTreeSet::new(),
            notifications: MailNotifications::from_settings(app_user.get("settings")),
            internal_notes: InternalNotes::from_metadata(metadata),
            espocrm_version: app_user
                .get("settings")
                .and_then(|settings| settings.get("version"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }

    /// The schema without the entity types `allowed` refuses: they are left out of every
    /// lookup and list and remembered as excluded. Parent links list only allowed types (an
    /// open list becomes the allowed record types; a parent link left with none goes, with its
    /// field). Other links to an excluded type stay (EspoCRM has them); following one fails on
    /// the excluded type.
    pub fn restricted_to(&self, allowed: impl Fn(&str) -> bool) -> Schema {
        let (kept, excluded): (Vec<&EntityType>, Vec<&EntityType>) = self
            .entities
            .values()
            .partition(|entity| allowed(&entity.name));
        let kept_records: Vec<String> = kept
            .iter()
            .filter(|entity| entity.is_record)
            .map(|entity| entity.name.clone())
            .collect();
        let entities = kept
            .into_iter()
            .map(|entity| {
                let mut entity = entity.clone();
                let mut unusable = Vec::new();
                for link in entity.links.values_mut() {
                    if link.link_type != LinkType::BelongsToParent {
                        continue;
                    }
                    if link.entity_list.is_empty() {
                        // Any type before; now any allowed one.
                        link.entity_list = kept_records.clone();
                    } else {
                        link.entity_list.retain(|name| allowed(name));
                    }
                    if link.entity_list.is_empty() {
                        unusable.push(link.name.clone());
                    }
                }
                // An empty list would read as "any type": a parent link none of whose types
                // is allowed goes, with its field.
                for name in unusable {
                    entity.links.remove(&name);
                    entity.fields.remove(&name);
                }
                (entity.name.clone(), entity)
            })
            .collect();
        Schema {
            entities,
            user: self.user.clone(),
            record_list_max_size: self.record_list_max_size,
            excluded: excluded
                .into_iter()
                .map(|entity| entity.name.clone())
                .chain(self.excluded.iter().cloned())
                .collect(),
            notifications: self.notifications.clone(),
            internal_notes: self.internal_notes.clone(),
            espocrm_version: self.espocrm_version.clone(),
        }
    }

    /// Whether `name` (any case) is an entity type [`Schema::restricted_to`] left out.
    pub fn is_excluded(&self, name: &str) -> bool {
        self.excluded
            .iter()
            .any(|excluded| excluded.eq_ignore_ascii_case(name))
    }

    /// The entity type spelled exactly so.
    pub fn entity(&self, name: &str) -> Option<&EntityType> {
        self.entities.get(name)
    }

    /// The entity type whatever the case (`account` finds `Account`), as EspoCRM routes it.
    pub fn entity_ignoring_case(&self, name: &str) -> Option<&EntityType> {
        self.entity(name).or_else(|| {
            self.entities
                .values()
                .find(|entity| entity.name.eq_ignore_ascii_case(name))
        })
    }

    /// All entity types, by name.
    pub fn entities(&self) -> impl Iterator<Item = &EntityType> {
        self.entities.values()
    }

    /// The record types people work with, by name.
    pub fn record_entities(&self) -> impl Iterator<Item = &EntityType> {
        self.entities.values().filter(|entity| entity.is_record)
    }
}

impl EntityType {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.get(name)
    }

    pub fn link(&self, name: &str) -> Option<&Link> {
        self.links.get(name)
    }

    /// Whether the API user may do `action` on at least some records of this type.
    pub fn allows(&self, action: Action) -> bool {
        match self.access {
            None => false,
            Some(ScopeAccess::Enabled(enabled)) => enabled,
            Some(ScopeAccess::Levels(levels)) => levels.level(action) != AccessLevel::No,
        }
    }
}

impl AccessLevels {
    pub fn level(&self, action: Action) -> AccessLevel {
        match action {
            Action::Read => self.read,
            Action::Stream => self.stream,
            Action::Edit => self.edit,
            Action::Delete => self.delete,
            Action::Create => self.create,
        }
    }
}

impl AccessLevel {
    fn parse(value: Option<&Value>) -> Self {
        match value.and_then(Value::as_str) {
            Some("all" | "yes") => Self::All,
            Some("team") => Self::Team,
            Some("own") => Self::Own,
            _ => Self::No,
        }
    }
}

fn object<'a>(value: &'a Value, key: &str) -> Option<&'a Map<String, Value>> {
    value.get(key).and_then(Value::as_object)
}

fn flag(value: &Value, key: &str) -> bool {
    value.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn parse_fields(fields: Option<&Value>) -> BTreeMap<String, Field> {
    let Some(fields) = fields.and_then(Value::as_object) else {
        return BTreeMap::new();
    };
    fields
        .iter()
        .filter_map(|(name, definition)| {
            let field_type = definition.get("type").and_then(Value::as_str)?;
            Some((
                name.clone(),
                Field {
                    name: name.clone(),
                    field_type: FieldType::parse(field_type),
                    required: flag(definition, "required"),
                    read_only: flag(definition, "readOnly"),
                    read_only_after_create: flag(definition, "readOnlyAfterCreate"),
                    not_storable: flag(definition, "notStorable"),
                    disabled: flag(definition, "disabled"),
                    options: definition.get("options").and_then(Value::as_array).cloned(),
                    max_length: definition.get("maxLength").and_then(Value::as_u64),
                    min: definition.get("min").and_then(Value::as_f64),
                    max: definition.get("max").and_then(Value::as_f64),
                    default: definition.get("default").filter(|v| !v.is_null()).cloned(),
                },
            ))
        })
        .collect()
}

fn parse_links(links: Option<&Value>) -> BTreeMap<String, Link> {
    let Some(links) = links.and_then(Value::as_object) else {
        return BTreeMap::new();
    };
    links
        .iter()
        .filter_map(|(name, definition)| {
            let link_type = definition.get("type").and_then(Value::as_str)?;
            let text = |key: &str| {
                definition
                    .get(key)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            Some((
                name.clone(),
                Link {
                    name: name.clone(),
                    link_type: LinkType::parse(link_type),
                    entity: text("entity"),
                    foreign: text("foreign"),
                    entity_list: strings(definition.get("entityList")),
                },
            ))
        })
        .collect()
}

fn parse_access(entry: &Value) -> Option<ScopeAccess> {
    match entry {
        Value::Bool(enabled) => Some(ScopeAccess::Enabled(*enabled)),
        Value::Object(levels) => Some(ScopeAccess::Levels(AccessLevels {
            read: AccessLevel::parse(levels.get("read")),
            stream: AccessLevel::parse(levels.get("stream")),
            edit: AccessLevel::parse(levels.get("edit")),
            delete: AccessLevel::parse(levels.get("delete")),
            create: AccessLevel::parse(levels.get("create")),
        })),
        _ => None,
    }
}

/// The fields `fieldTable` marks unreadable and uneditable for one scope.
fn forbidden_fields(table: Option<&Value>) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut unreadable = BTreeSet::new();
    let mut uneditable = BTreeSet::new();
    if let Some(fields) = table.and_then(Value::as_object) {
        for (name, rights) in fields {
            if rights.get("read").and_then(Value::as_str) == Some("no") {
                unreadable.insert(name.clone());
            }
            if rights.get("edit").and_then(Value::as_str) == Some("no") {
                uneditable.insert(name.clone());
            }
        }
    }
    (unreadable, uneditable)
}
