//! How EspoCRM turns fields into attributes, and what each attribute can be filtered with.
//!
//! EspoCRM's metadata describes *fields*, but lists, `select`, `where` and `orderBy` speak of
//! *attributes*: a `link` field `account` is read and filtered as `accountId` and `accountName`,
//! an `address` field `billingAddress` as `billingAddressStreet` … `billingAddressPostalCode`,
//! and `account` itself is no attribute at all (a where item on it is a 400, a select of it is
//! silently dropped). This module holds that expansion, written from EspoCRM 8's
//! `fields.<type>.actualFields/notActualFields` (as EspoCRM 8.4.2's metadata answers them), and gives each attribute an
//! [`AttributeKind`] that decides which where operators fit it.
//!
//! Metadata often declares the parts as fields of their own (`billingAddressCity` is a `varchar`
//! field of Account); a declared field always wins over the derived attribute of the same name,
//! because its own type is the more precise one.

use espomcp_actors::{EntityType, Field, FieldType};
use serde_json::Value;

/// What kind of value an attribute holds, as far as filtering and sorting are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AttributeKind {
    /// Free text: `varchar`, `text`, `url`, `email`, `phone`, names of links, address parts.
    Text,
    /// One of the field's options (`enum`, `enumInt`, a currency code, a salutation).
    Enum,
    /// `int`, `float`, `currency`, `autoincrement`, `duration`.
    Number,
    /// `YYYY-MM-DD`.
    Date,
    /// `YYYY-MM-DD HH:MM:SS` in UTC.
    DateTime,
    /// `bool`: filtered with `isTrue` / `isFalse` only.
    Bool,
    /// A record id: `id`, `accountId`, `parentId`.
    Id,
    /// The entity type of a parent (`parentType`).
    EntityName,
    /// A stored list or JSON value (`multiEnum`, `array`, `checklist`, `jsonArray`,
    /// `jsonObject`): only tested for being set.
    List,
    /// A field type this crate does not know: only compared for equality and tested for being set.
    Opaque,
    /// Readable but not a column a where item can test: the ids and names of a `linkMultiple`,
    /// `emailAddressData`, an address map, a password.
    Unfilterable,
}

impl AttributeKind {
    /// A short description for messages: "text", "number", …
    pub fn describe(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Enum => "enum",
            Self::Number => "number",
            Self::Date => "date",
            Self::DateTime => "date-time",
            Self::Bool => "boolean",
            Self::Id => "record id",
            Self::EntityName => "entity type name",
            Self::List => "list",
            Self::Opaque => "unknown type",
            Self::Unfilterable => "not filterable",
        }
    }

    /// Whether EspoCRM can order a list by an attribute of this kind.
    pub fn is_sortable(self) -> bool {
        !matches!(self, Self::List | Self::Unfilterable)
    }
}

/// One attribute of an entity type, with the field it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute<'a> {
    /// The attribute as EspoCRM spells it, e.g. `accountId`.
    pub name: String,
    /// The field the attribute is, or belongs to; `None` only for `id` when metadata does not
    /// declare it.
    pub field: Option<&'a Field>,
    pub kind: AttributeKind,
}

impl<'a> Attribute<'a> {
    /// The allowed values, when this attribute is an enum field itself with options declared.
    /// Derived attributes (`amountCurrency` of a currency field) have none known.
    pub fn options(&self) -> Option<&'a [Value]> {
        let field = self.field?;
        if self.kind != AttributeKind::Enum || field.name != self.name {
            return None;
        }
        field
            .options
            .as_deref()
            .filter(|options| !options.is_empty())
    }

    /// The field type behind the attribute, for messages: `varchar`, `link`, …
    pub fn field_type(&self) -> &'a str {
        self.field.map_or("id", |field| field.field_type.as_str())
    }
}

/// The attributes one field stands for, with their kinds. The field's own name is among them
/// unless the field exists only as its parts (`link`, `linkMultiple`, `linkParent`, `address`,
/// `file`, `image`, `attachmentMultiple`).
pub fn expand(field: &Field) -> Vec<(String, AttributeKind)> {
    use AttributeKind::{
        Bool, Date, DateTime, EntityName, Enum, Id, List, Number, Opaque, Text, Unfilterable,
    };
    let name = field.name.as_str();
    let with = |suffix: &str, kind| (format!("{name}{suffix}"), kind);
    let prefixed = |prefix: &str, kind| (format!("{prefix}{}", upper_first(name)), kind);
    match &field.field_type {
        FieldType::Link | FieldType::LinkOne | FieldType::File | FieldType::Image => {
            vec![with("Id", Id), with("Name", Text)]
        }
        FieldType::LinkMultiple => vec![with("Ids", Unfilterable), with("Names", Unfilterable)],
        FieldType::AttachmentMultiple => vec![
            with("Ids", Unfilterable),
            with("Names", Unfilterable),
            with("Types", Unfilterable),
        ],
        FieldType::LinkParent => vec![with("Id", Id), with("Type", EntityName), with("Name", Text)],
        FieldType::Address => vec![
            with("Street", Text),
            with("City", Text),
            with("State", Text),
            with("Country", Text),
            with("PostalCode", Text),
        ],
        FieldType::PersonName => vec![
            with("", Text),
            prefixed("salutation", Enum),
            prefixed("first", Text),
            prefixed("last", Text),
            prefixed("middle", Text),
        ],
        FieldType::Email | FieldType::Phone => vec![
            with("", Text),
            with("IsOptedOut", Bool),
            with("IsInvalid", Bool),
            with("Data", Unfilterable),
        ],
        FieldType::Currency => vec![with("", Number), with("Currency", Enum)],
        FieldType::DatetimeOptional => vec![with("", DateTime), with("Date", Date)],
        FieldType::Int
        | FieldType::Float
        | FieldType::CurrencyConverted
        | FieldType::Autoincrement
        | FieldType::Duration => vec![with("", Number)],
        FieldType::Enum | FieldType::EnumInt => vec![with("", Enum)],
        FieldType::Bool => vec![with("", Bool)],
        FieldType::Date => vec![with("", Date)],
        FieldType::Datetime => vec![with("", DateTime)],
        FieldType::MultiEnum
        | FieldType::Array
        | FieldType::Checklist
        | FieldType::JsonArray
        | FieldType::JsonObject => vec![with("", List)],
        FieldType::Map | FieldType::Password => vec![with("", Unfilterable)],
        FieldType::Varchar
        | FieldType::Text
        | FieldType::Url
        | FieldType::Wysiwyg
        | FieldType::Number
        | FieldType::Colorpicker
        | FieldType::Foreign => vec![with("", Text)],
        _ => vec![with("", Opaque)],
    }
}

/// What a name denotes among an entity type's fields and attributes.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup<'a> {
    /// An attribute (which may also be a field's own name: `name`, `amount`).
    Attribute(Attribute<'a>),
    /// A field that exists only as its parts (`account` → `accountId`, `accountName`).
    FieldOnly {
        field: &'a Field,
        attributes: Vec<Attribute<'a>>,
    },
    NotFound,
}

/// Finds `name` among the enabled fields and their attributes, spelled exactly.
pub fn lookup<'a>(entity: &'a EntityType, name: &str) -> Lookup<'a> {
    if let Some(field) = entity.field(name).filter(|field| !field.disabled) {
        let attributes = attributes_of(field);
        if let Some(own) = attributes.iter().find(|attribute| attribute.name == name) {
            return Lookup::Attribute(own.clone());
        }
        return Lookup::FieldOnly { field, attributes };
    }
    if name == "id" {
        return Lookup::Attribute(Attribute {
            name: "id".to_owned(),
            field: None,
            kind: AttributeKind::Id,
        });
    }
    entity
        .fields
        .values()
        .filter(|field| !field.disabled)
        .flat_map(attributes_of)
        .find(|attribute| attribute.name == name)
        .map_or(Lookup::NotFound, Lookup::Attribute)
}

/// The attributes of one field, as [`Attribute`]s.
pub fn attributes_of(field: &Field) -> Vec<Attribute<'_>> {
    expand(field)
        .into_iter()
        .map(|(name, kind)| Attribute {
            name,
            field: Some(field),
            kind,
        })
        .collect()
}

/// Every name `lookup` can find on this entity type: `id`, the fields, their attributes.
/// Used to suggest close matches, so it holds each name once.
pub fn all_names(entity: &EntityType) -> Vec<String> {
    let mut names = vec!["id".to_owned()];
    for field in entity.fields.values().filter(|field| !field.disabled) {
        names.push(field.name.clone());
        names.extend(expand(field).into_iter().map(|(name, _)| name));
    }
    names.sort();
    names.dedup();
    names
}

fn upper_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
