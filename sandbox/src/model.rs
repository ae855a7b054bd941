//! The sandbox's description of EspoCRM's entity types: fields, links, scopes and the
//! attribute sets a real EspoCRM 8.4.2 returns for a detail read, a list and a create.
//!
//! The description lives in `data/metadata.json`, written by us from the behaviour recorded on a
//! real EspoCRM 8.4.2 (entity definitions, scopes and the attribute lists its responses carried);
//! `data/metadata-10.0.patch.json` turns it into 10.0.0's, recorded the same way (new fields,
//! links and flags, and the attribute lists 10.0 answers with). Besides EspoCRM's own keys an
//! entity may carry the sandbox's `detailAttributes`, `listAttributes`, `createAttributes` and
//! `listExtraAttributes`, which `GET Metadata` never shows. Both are compiled into the binary, so
//! the sandbox needs no file at run time.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::version::{self, EspoVersion};
use crate::where_clause::AttributeKind;

/// The raw description, as embedded at build time.
const METADATA_JSON: &str = include_str!("../data/metadata.json");

/// Attributes a detail read carries but a list item does not: recorded on EspoCRM 8.4.2,
/// `GET {E}/{id}` returns them and the rows of `GET {E}` do not.
pub const DETAIL_ONLY_ATTRIBUTES: &[&str] = &[
    "emailAddressData",
    "phoneNumberData",
    "teamsIds",
    "teamsNames",
    "isFollowed",
    "followersIds",
    "followersNames",
    "isStarred",
];

/// One field of an entity type, as far as validation and storage need it.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct FieldDef {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub not_storable: bool,
    pub options: Option<Vec<Value>>,
    pub options_reference: Option<String>,
    pub default: Option<Value>,
    pub max_length: Option<u64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub entity_list: Option<Vec<String>>,
    /// linkMultiple relation columns, e.g. `{"role": "opportunityRole"}`.
    pub columns: Option<BTreeMap<String, String>>,
    /// Opportunity `stage`: the probability each stage implies.
    pub probability_map: Option<BTreeMap<String, i64>>,
    /// A `foreign` field: the link it reads through and the field it reads there
    /// (Contact `accountType` = the account's `type`).
    pub link: Option<String>,
    pub field: Option<String>,
}

/// One link of an entity type.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct LinkDef {
    #[serde(rename = "type")]
    pub kind: String,
    pub entity: Option<String>,
    pub foreign: Option<String>,
    pub relation_name: Option<String>,
    /// Relation columns, e.g. `{"role": {...}, "isInactive": {...}}`.
    pub additional_columns: Option<Map<String, Value>>,
    /// Column → attribute name on the foreign record when listed through this link.
    pub column_attribute_map: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawEntity {
    #[serde(default)]
    fields: indexed::Ordered<FieldDef>,
    #[serde(default)]
    links: indexed::Ordered<LinkDef>,
    #[serde(default)]
    collection: Map<String, Value>,
    detail_attributes: Option<Vec<String>>,
    list_attributes: Option<Vec<String>>,
    create_attributes: Option<Vec<String>>,
    list_extra_attributes: Option<Vec<String>>,
    /// Records carry a `versionNumber` (see [`crate::concurrency`]).
    #[serde(default)]
    optimistic_concurrency_control: bool,
}

/// Keeps the order of a JSON object's members while deserialising (field order matters: EspoCRM
/// validates fields in definition order and reports the first failure).
mod indexed {
    use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
    use std::fmt;
    use std::marker::PhantomData;

    #[derive(Debug, Clone)]
    pub struct Ordered<T>(pub Vec<(String, T)>);

    impl<T> Default for Ordered<T> {
        fn default() -> Self {
            Ordered(Vec::new())
        }
    }

    impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct V<T>(PhantomData<T>);
            impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
                type Value = Ordered<T>;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                    let mut out = Vec::new();
                    while let Some((k, v)) = map.next_entry::<String, T>()? {
                        out.push((k, v));
                    }
                    Ok(Ordered(out))
                }
            }
            deserializer.deserialize_map(V(PhantomData))
        }
    }
}

/// An entity type with everything the sandbox derives from its definition.
#[derive(Debug, Clone)]
pub struct EntityDef {
    pub name: String,
    /// Fields in definition order.
    pub fields: Vec<(String, FieldDef)>,
    pub links: Vec<(String, LinkDef)>,
    pub default_order_by: String,
    pub default_order_desc: bool,
    pub text_filter_fields: Vec<String>,
    /// `scopes.{E}` as EspoCRM describes it.
    pub scope: Map<String, Value>,
    pub detail_attributes: Vec<String>,
    pub list_attributes: Vec<String>,
    /// Attributes a create response carries besides those the request set.
    pub create_attributes: Vec<String>,
    /// Attributes every list row carries after the others, with or without `select` (EspoCRM 10:
    /// `isStarred` of the types with stars); the duplicates of a 409 `duplicate` do not.
    pub list_extra_attributes: Vec<String>,
    /// attribute name → (owning field, kind)
    attributes: HashMap<String, (String, AttributeKind)>,
}

impl EntityDef {
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, f)| f)
    }

    pub fn link(&self, name: &str) -> Option<&LinkDef> {
        self.links.iter().find(|(n, _)| n == name).map(|(_, l)| l)
    }

    pub fn has_attribute(&self, attribute: &str) -> bool {
        attribute == "id" || attribute == "deleted" || self.attributes.contains_key(attribute)
    }

    pub fn attribute_kind(&self, attribute: &str) -> Option<AttributeKind> {
        match attribute {
            "id" => Some(AttributeKind::Id),
            "deleted" => Some(AttributeKind::Bool),
            _ => self.attributes.get(attribute).map(|(_, k)| *k),
        }
    }

    /// The field an attribute belongs to (`billingAddressCity` → `billingAddress`).
    pub fn field_of_attribute(&self, attribute: &str) -> Option<&str> {
        self.attributes.get(attribute).map(|(f, _)| f.as_str())
    }

    pub fn scope_bool(&self, key: &str) -> bool {
        self.scope
            .get(key)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    pub fn scope_str(&self, key: &str) -> Option<&str> {
        self.scope.get(key).and_then(Value::as_str)
    }

    /// Whether records of this type have a stream (followers, notes).
    pub fn has_stream(&self) -> bool {
        self.scope_bool("stream")
    }

    /// The kanban / status field (`scopes.{E}.statusField`).
    pub fn status_field(&self) -> Option<&str> {
        self.scope_str("statusField")
    }

    pub fn duplicate_check_fields(&self) -> Vec<String> {
        match self.name.as_str() {
            // scopes.{E}.duplicateCheckFieldList is hidden from non-admin metadata; recorded behaviour
            // shows name or email address for these three.
            "Account" | "Contact" | "Lead" => vec!["name".into(), "emailAddress".into()],
            _ => Vec::new(),
        }
    }

    /// Enum options of a field, following `optionsReference` (e.g. Opportunity.leadSource → Lead.source).
    pub fn enum_options(&self, metadata: &Metadata, field: &str) -> Option<Vec<String>> {
        let def = self.field(field)?;
        let options = match (&def.options, &def.options_reference) {
            (Some(o), _) => o.clone(),
            (None, Some(reference)) => {
                let (entity, field) = reference.split_once('.')?;
                metadata.entity(entity)?.field(field)?.options.clone()?
            }
            _ => return None,
        };
        Some(
            options
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string())
                })
                .collect(),
        )
    }
}

/// Every entity type and scope the sandbox knows.
#[derive(Debug, Clone)]
pub struct Metadata {
    /// The embedded description as JSON (served, trimmed, by `GET Metadata`).
    pub raw: Value,
    entities: BTreeMap<String, EntityDef>,
    /// Entity types with a full description (the twelve everyday CRM types).
    pub core: Vec<String>,
    /// Scope names only an administrator sees (Role, MassEmail, EmailQueueItem, …).
    pub admin_only_scopes: HashSet<String>,
}

impl Metadata {
    /// The description of one EspoCRM version, parsed once per process.
    pub fn of(version: EspoVersion) -> &'static Metadata {
        static METADATA: [OnceLock<Metadata>; 2] = [OnceLock::new(), OnceLock::new()];
        let slot = match version {
            EspoVersion::V8_4 => &METADATA[0],
            EspoVersion::V10_0 => &METADATA[1],
        };
        slot.get_or_init(|| {
            version::patched(METADATA_JSON, version.metadata_patch())
                .and_then(Metadata::from_value)
                .expect(
                    "the embedded metadata and its version patches are valid (checked by tests)",
                )
        })
    }

    /// This description with an RFC 7396 merge patch applied to its raw form.
    pub fn patched(&self, patch: &Value) -> Result<Metadata, serde_json::Error> {
        let mut raw = self.raw.clone();
        json_patch::merge(&mut raw, patch);
        Metadata::from_value(raw)
    }

    fn from_value(raw: Value) -> Result<Metadata, serde_json::Error> {
        let defs: BTreeMap<String, RawEntity> =
            serde_json::from_value(raw.get("entityDefs").cloned().unwrap_or(Value::Null))?;
        let scopes = raw
            .get("scopes")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let core: Vec<String> =
            serde_json::from_value(raw.get("core").cloned().unwrap_or(Value::Null))?;
        let admin_only_scopes: HashSet<String> =
            serde_json::from_value(raw.get("adminOnlyScopes").cloned().unwrap_or(Value::Null))?;
        let mut entities = BTreeMap::new();
        for (name, def) in defs {
            let scope = scopes
                .get(&name)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            entities.insert(name.clone(), build_entity(name, def, scope));
        }
        Ok(Metadata {
            raw,
            entities,
            core,
            admin_only_scopes,
        })
    }

    pub fn entity(&self, name: &str) -> Option<&EntityDef> {
        self.entities.get(name)
    }

    /// Resolves an entity type from a URL segment: exact first, then case-insensitively, as
    /// EspoCRM's router does (`/api/v1/account` works like `/Account`).
    pub fn resolve(&self, segment: &str) -> Option<&EntityDef> {
        self.entities.get(segment).or_else(|| {
            self.entities
                .values()
                .find(|e| e.name.eq_ignore_ascii_case(segment))
        })
    }

    /// Whether `name` is a scope EspoCRM knows (so an unknown-controller 404 does not apply).
    pub fn is_known_scope(&self, name: &str) -> bool {
        self.entities.contains_key(name)
            || self.admin_only_scopes.contains(name)
            || self.raw.get("scopes").and_then(|s| s.get(name)).is_some()
    }

    pub fn entities(&self) -> impl Iterator<Item = &EntityDef> {
        self.entities.values()
    }
}

fn build_entity(name: String, raw: RawEntity, scope: Map<String, Value>) -> EntityDef {
    let fields = raw.fields.0;
    let links = raw.links.0;
    let versioned = raw.optimistic_concurrency_control;
    let mut attributes = HashMap::new();
    for (field, def) in &fields {
        for (attribute, kind) in expand_field(field, def) {
            attributes.entry(attribute).or_insert((field.clone(), kind));
        }
    }
    for (link, def) in &links {
        // belongsTo links without a field still carry an id attribute (e.g. Note.superParent).
        if def.kind == "belongsTo" {
            attributes
                .entry(format!("{link}Id"))
                .or_insert((link.clone(), AttributeKind::Id));
        }
    }
    let mut detail_attributes = raw.detail_attributes.unwrap_or_else(|| {
        let mut out = vec!["id".to_owned(), "deleted".to_owned()];
        for (field, def) in &fields {
            out.extend(expand_field(field, def).into_iter().map(|(a, _)| a));
        }
        out
    });
    for attribute in &detail_attributes {
        attributes
            .entry(attribute.clone())
            .or_insert_with(|| (attribute.clone(), guess_kind(attribute)));
    }
    // Lists carry neither the detail-only attributes nor linkMultiple ones (EspoCRM loads
    // those for a detail view only).
    let multiple: Vec<String> = fields
        .iter()
        .filter(|(_, d)| d.kind == "linkMultiple")
        .flat_map(|(f, d)| expand_field(f, d).into_iter().map(|(a, _)| a))
        .collect();
    let list_extra_attributes = raw.list_extra_attributes.unwrap_or_default();
    let mut list_attributes = raw.list_attributes.unwrap_or_else(|| {
        detail_attributes
            .iter()
            .filter(|a| !DETAIL_ONLY_ATTRIBUTES.contains(&a.as_str()) && !multiple.contains(a))
            .cloned()
            .collect()
    });
    let mut create_attributes = raw.create_attributes.unwrap_or_else(|| {
        detail_attributes
            .iter()
            .filter(|a| {
                a.ends_with("Name")
                    || a.ends_with("Names")
                    || ["id", "deleted", "createdAt", "modifiedAt", "createdById"]
                        .contains(&a.as_str())
            })
            .cloned()
            .collect()
    });
    // Attributes EspoCRM 10 adds to every versioned or lockable type.
    let added = [
        (
            versioned,
            crate::concurrency::ATTRIBUTE,
            AttributeKind::Number,
        ),
        (
            scope.get("lockable").and_then(Value::as_bool) == Some(true),
            crate::locks::ATTRIBUTE,
            AttributeKind::Bool,
        ),
    ];
    for (_, attribute, kind) in added.into_iter().filter(|(on, _, _)| *on) {
        // Over a kind guessed from an attribute list that names it.
        attributes.insert(attribute.to_owned(), (attribute.to_owned(), kind));
        for set in [
            &mut detail_attributes,
            &mut list_attributes,
            &mut create_attributes,
        ] {
            if !set.iter().any(|a| a == attribute) {
                set.push(attribute.to_owned());
            }
        }
    }
    let default_order_by = raw
        .collection
        .get("orderBy")
        .and_then(Value::as_str)
        .unwrap_or("createdAt")
        .to_owned();
    let default_order_desc = raw.collection.get("order").and_then(Value::as_str) == Some("desc");
    let text_filter_fields = raw
        .collection
        .get("textFilterFields")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_else(|| vec!["name".to_owned()]);
    EntityDef {
        name,
        fields,
        links,
        default_order_by,
        default_order_desc,
        text_filter_fields,
        scope,
        detail_attributes,
        list_attributes,
        create_attributes,
        list_extra_attributes,
        attributes,
    }
}

fn guess_kind(attribute: &str) -> AttributeKind {
    if attribute.ends_with("Id") {
        AttributeKind::Id
    } else if attribute.ends_with("Ids") {
        AttributeKind::Array
    } else if attribute.ends_with("Names") || attribute.ends_with("Columns") {
        AttributeKind::Object
    } else if attribute.starts_with("is") {
        AttributeKind::Bool
    } else {
        AttributeKind::Text
    }
}

/// How one field becomes attributes (metadata `fields.{type}.actualFields/notActualFields`).
pub fn expand_field(field: &str, def: &FieldDef) -> Vec<(String, AttributeKind)> {
    use AttributeKind::*;
    let a = |suffix: &str, kind| (format!("{field}{suffix}"), kind);
    match def.kind.as_str() {
        "personName" => {
            let mut out = vec![
                ("salutationName".to_owned(), Enum),
                ("firstName".to_owned(), Text),
                ("lastName".to_owned(), Text),
                ("middleName".to_owned(), Text),
            ];
            out.push((field.to_owned(), Text));
            out
        }
        "address" => vec![
            a("Street", Text),
            a("City", Text),
            a("State", Text),
            a("Country", Text),
            a("PostalCode", Text),
        ],
        "email" | "phone" => vec![
            a("", Text),
            a("IsOptedOut", Bool),
            a("IsInvalid", Bool),
            a("Data", Array),
        ],
        "link" | "linkOne" => vec![a("Id", Id), a("Name", Text)],
        "linkMultiple" => {
            let mut out = vec![a("Ids", Array), a("Names", Object)];
            if def.columns.is_some() {
                out.push(a("Columns", Object));
            }
            out
        }
        "linkParent" => vec![a("Id", Id), a("Type", Text), a("Name", Text)],
        "attachmentMultiple" => vec![a("Ids", Array), a("Names", Object), a("Types", Object)],
        "currency" => vec![a("", Number), a("Currency", Enum)],
        "datetimeOptional" => vec![a("", DateTime), a("Date", Date)],
        "int" | "float" | "currencyConverted" | "autoincrement" | "enumInt" | "enumFloat"
        | "number" => {
            vec![a("", Number)]
        }
        "bool" => vec![a("", Bool)],
        "date" => vec![a("", Date)],
        "datetime" => vec![a("", DateTime)],
        "enum" => vec![a("", Enum)],
        "multiEnum" | "array" | "checklist" | "urlMultiple" | "jsonArray" => vec![a("", Array)],
        "jsonObject" | "map" => vec![a("", Object)],
        _ => vec![a("", Text)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_version_has_a_description() {
        for version in EspoVersion::ALL {
            let meta = Metadata::of(version);
            assert_eq!(
                meta.core.len(),
                Metadata::of(EspoVersion::V8_4).core.len(),
                "{version}"
            );
            assert!(meta.entity("Account").is_some(), "{version}");
        }
    }
    #[test]
    fn embedded_description_parses_with_the_core_types() {
        let m = Metadata::of(EspoVersion::V8_4);
        for e in &m.core {
            let def = m.entity(e).unwrap_or_else(|| panic!("{e} described"));
            assert!(
                !def.detail_attributes.is_empty(),
                "{e} has detail attributes"
            );
        }
        let opp = m.entity("Opportunity").unwrap();
        assert_eq!(opp.status_field(), Some("stage"));
        assert!(opp.field("amount").unwrap().required);
        assert_eq!(
            opp.enum_options(m, "leadSource")
                .unwrap()
                .first()
                .map(String::as_str),
            Some("")
        );
    }

    #[test]
    fn field_order_is_kept_for_first_failure_reporting() {
        let opp = Metadata::of(EspoVersion::V8_4)
            .entity("Opportunity")
            .unwrap();
        let names: Vec<&str> = opp.fields.iter().map(|(n, _)| n.as_str()).collect();
        let amount = names.iter().position(|n| *n == "amount").unwrap();
        let close = names.iter().position(|n| *n == "closeDate").unwrap();
        assert!(amount < close);
    }

    #[test]
    fn resolve_is_case_insensitive_and_attributes_expand() {
        let m = Metadata::of(EspoVersion::V8_4);
        assert_eq!(m.resolve("account").unwrap().name, "Account");
        let acc = m.entity("Account").unwrap();
        assert!(acc.has_attribute("billingAddressCity"));
        assert!(acc.has_attribute("assignedUserId"));
        assert!(!acc.has_attribute("bogusField"));
        assert_eq!(
            acc.attribute_kind("emailAddressIsOptedOut"),
            Some(AttributeKind::Bool)
        );
    }

    #[test]
    fn the_10_0_description_adds_what_10_0_answers_with() {
        let old = Metadata::of(EspoVersion::V8_4);
        let new = Metadata::of(EspoVersion::V10_0);
        for e in &new.core {
            let def = new.entity(e).unwrap_or_else(|| panic!("{e} described"));
            for attribute in def
                .detail_attributes
                .iter()
                .chain(&def.list_extra_attributes)
            {
                assert!(def.has_attribute(attribute), "{e}.{attribute}");
            }
        }
        let account = new.entity("Account").unwrap();
        assert!(account.detail_attributes.iter().any(|a| a == "isLocked"));
        assert!(
            account
                .list_attributes
                .iter()
                .any(|a| a == "streamUpdatedAt")
        );
        assert_eq!(account.list_extra_attributes, ["isStarred"]);
        assert!(account.scope_bool("lockable"));
        assert!(
            old.entity("Account")
                .unwrap()
                .list_extra_attributes
                .is_empty()
        );
        let contact_type = new.entity("Contact").unwrap().field("accountType").unwrap();
        assert_eq!(contact_type.link.as_deref(), Some("account"));
        assert_eq!(contact_type.field.as_deref(), Some("type"));
        assert!(new.entity("Task").unwrap().link("collaborators").is_some());
        assert!(old.entity("Task").unwrap().link("collaborators").is_none());
    }
}
