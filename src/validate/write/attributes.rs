//! Which attributes a write may name, and the form each one's value must have.
//!
//! Names are attributes as EspoCRM spells them (see [`crate::espo::attributes`]): `name`,
//! `accountId`, `contactsIds`, `parentType` + `parentId`, `billingAddressCity`, `amount` +
//! `amountCurrency`, `firstName`, `emailAddressData`. Refused, with `INVALID_FIELD`:
//!
//! - names the entity type does not have (with close matches), and fields known only by their
//!   parts (`account`, `billingAddress`: the refusal names `accountId`, the address parts);
//! - `id`, `deleted`, read-only fields (`createdAt`, `createdById`, `amountConverted`,
//!   autoincrement numbers), fields the API user's role may not edit, and on an update the fields
//!   that are fixed after create — each "cannot be written", because EspoCRM would drop them;
//! - derived attributes: the names of links (`accountName`, `contactsNames`, `parentName`), the
//!   `name` of a person (written as `firstName`/`lastName`), `foreign`, `map` and `duration`
//!   fields (a meeting's duration follows from `dateEnd`);
//! - `xxxColumns` of a `linkMultiple`: the schema does not describe the relation columns, so
//!   their names and values cannot be checked, and EspoCRM drops unknown ones.
//!
//! `notStorable` fields are accepted: several are written through hooks (Contact `title`,
//! `emailAddressIsOptedOut`).

use espomcp_actors::{Field, FieldType, LinkType};

use super::problems::{NotWritable, ProblemKind};
use super::required::person_parts;
use super::values::{DataKind, Shape};
use super::{Refusal, Run, Writable, WriteMode};
use crate::espo::attributes::{self, Lookup};
use crate::validate::names;
use crate::validate::suggest::closest;

/// The length of a `varchar` column when the field declares no `maxLength`.
const VARCHAR_COLUMN_CHARS: u64 = 255;

/// The range of an `int` column when the field declares no `min`/`max`.
const INT_COLUMN_MIN: f64 = i32::MIN as f64;
const INT_COLUMN_MAX: f64 = i32::MAX as f64;

impl<'a> Run<'a> {
    pub(super) fn is_uneditable(&self, name: &str) -> bool {
        self.entity.uneditable_fields.contains(name)
    }

    /// What `name` is, and whether and how it may be written. Close matches for an unknown
    /// name are left empty here (they are built from `classify` itself) and added by
    /// [`Run::with_closest`].
    pub(super) fn classify(&self, name: &str) -> Result<Writable<'a>, Refusal<'a>> {
        if !names::is_name(name) {
            return Err((
                ProblemKind::MalformedName {
                    closest: Vec::new(),
                },
                None,
            ));
        }
        if name == "id" || name == "deleted" {
            return Err((ProblemKind::NotWritable(NotWritable::SetByEspo), None));
        }
        let attribute = match attributes::lookup(self.entity, name) {
            Lookup::Attribute(attribute) => attribute,
            Lookup::FieldOnly { field, attributes } => {
                let parts: Vec<String> = attributes
                    .iter()
                    .filter(|part| self.classify(&part.name).is_ok())
                    .map(|part| part.name.clone())
                    .collect();
                if parts.is_empty()
                    && let Some(first) = attributes.first()
                    && let Err(refusal) = self.classify(&first.name)
                {
                    return Err(refusal);
                }
                return Err((
                    ProblemKind::FieldOnly {
                        field_type: field.field_type.as_str().to_owned(),
                        parts,
                    },
                    Some(field),
                ));
            }
            Lookup::NotFound => {
                if let Some(link) = name.strip_suffix("Columns")
                    && let Some(field) = self.enabled_field(link)
                    && field.field_type == FieldType::LinkMultiple
                {
                    let ids = format!("{link}Ids");
                    return Err((
                        ProblemKind::NotWritable(NotWritable::RelationColumns { ids }),
                        Some(field),
                    ));
                }
                return Err((
                    ProblemKind::UnknownAttribute {
                        entity_type: self.entity.name.clone(),
                        closest: Vec::new(),
                    },
                    None,
                ));
            }
        };
        let Some(field) = attribute.field else {
            return Err((ProblemKind::NotWritable(NotWritable::SetByEspo), None));
        };
        let refuse = |reason| Err((ProblemKind::NotWritable(reason), Some(field)));
        if field.read_only {
            return refuse(NotWritable::SetByEspo);
        }
        if self.is_uneditable(&field.name) || self.is_uneditable(name) {
            return refuse(NotWritable::ForbiddenByRole);
        }
        if self.mode == WriteMode::Update && field.read_only_after_create {
            return refuse(NotWritable::FixedAfterCreate);
        }
        match self.shape(name, field) {
            Ok(shape) => Ok((shape, field)),
            Err(reason) => refuse(reason),
        }
    }

    /// The form the value of attribute `name` of `field` must have.
    pub(super) fn shape(&self, name: &str, field: &'a Field) -> Result<Shape<'a>, NotWritable> {
        let own = name == field.name;
        let part = name.strip_prefix(field.name.as_str()).unwrap_or("");
        let options = field
            .options
            .as_deref()
            .filter(|options| !options.is_empty());
        let derived = |from: &[&str]| NotWritable::Derived {
            from: from
                .iter()
                .map(|name| format!("{}{name}", field.name))
                .collect(),
        };
        if own
            && let Some(currency) = name.strip_suffix("Currency")
            && self
                .enabled_field(currency)
                .is_some_and(|field| field.field_type == FieldType::Currency)
        {
            return Ok(Shape::CurrencyCode);
        }
        let shape = match &field.field_type {
            FieldType::Link | FieldType::LinkOne | FieldType::File | FieldType::Image => match part
            {
                "Id" => Shape::Id,
                _ => return Err(derived(&["Id"])),
            },
            FieldType::LinkMultiple | FieldType::AttachmentMultiple => match part {
                "Ids" => Shape::Ids,
                _ => return Err(derived(&["Ids"])),
            },
            FieldType::LinkParent => match part {
                "Id" => Shape::Id,
                "Type" => Shape::ParentType {
                    allowed: self
                        .entity
                        .link(&field.name)
                        .filter(|link| link.link_type == LinkType::BelongsToParent)
                        .map_or(&[][..], |link| link.entity_list.as_slice()),
                },
                _ => return Err(derived(&["Type", "Id"])),
            },
            FieldType::PersonName if own => {
                return Err(NotWritable::Derived {
                    from: person_parts(field),
                });
            }
            FieldType::PersonName if name.starts_with("salutation") => Shape::Enum {
                options: None,
                max_chars: None,
            },
            FieldType::Address | FieldType::PersonName => Shape::Text { max_chars: None },
            FieldType::Email | FieldType::Phone => {
                let email = field.field_type == FieldType::Email;
                match part {
                    "" if email => Shape::Email,
                    "" => Shape::Phone,
                    "Data" if email => Shape::Data(DataKind::Email),
                    "Data" => Shape::Data(DataKind::Phone),
                    _ => Shape::Bool,
                }
            }
            FieldType::Currency => match part {
                "" => Shape::Money {
                    min: field.min,
                    max: field.max,
                },
                _ => Shape::CurrencyCode,
            },
            FieldType::DatetimeOptional => match part {
                "" => Shape::DateTime,
                _ => Shape::Date,
            },
            FieldType::Datetime => Shape::DateTime,
            FieldType::Date => Shape::Date,
            FieldType::Bool => Shape::Bool,
            FieldType::Int => Shape::Int {
                min: field.min.unwrap_or(INT_COLUMN_MIN),
                max: field.max.unwrap_or(INT_COLUMN_MAX),
            },
            FieldType::Float => Shape::Float {
                min: field.min,
                max: field.max,
            },
            FieldType::Enum => Shape::Enum {
                options,
                max_chars: field.max_length,
            },
            FieldType::EnumInt => Shape::EnumInt { options },
            FieldType::MultiEnum | FieldType::Array | FieldType::Checklist => {
                Shape::List { options }
            }
            FieldType::JsonObject => Shape::JsonObject,
            FieldType::JsonArray => Shape::JsonArray,
            FieldType::Varchar => Shape::Text {
                max_chars: Some(field.max_length.unwrap_or(VARCHAR_COLUMN_CHARS)),
            },
            FieldType::Text | FieldType::Wysiwyg | FieldType::Password | FieldType::Colorpicker => {
                Shape::Text {
                    max_chars: field.max_length,
                }
            }
            FieldType::Url => Shape::Url {
                max_chars: field.max_length,
            },
            FieldType::Autoincrement | FieldType::CurrencyConverted | FieldType::Number => {
                return Err(NotWritable::SetByEspo);
            }
            FieldType::Duration => {
                return Err(NotWritable::Derived {
                    from: ["dateStart", "dateEnd"]
                        .into_iter()
                        .filter(|name| self.enabled_field(name).is_some())
                        .map(str::to_owned)
                        .collect(),
                });
            }
            FieldType::Foreign | FieldType::Map => {
                return Err(NotWritable::Derived { from: Vec::new() });
            }
            _ => Shape::Any,
        };
        Ok(shape)
    }

    pub(super) fn enabled_field(&self, name: &str) -> Option<&'a Field> {
        self.entity.field(name).filter(|field| !field.disabled)
    }

    /// `kind`, with the close matches of `name` when it is an unknown or malformed name.
    pub(super) fn with_closest(&self, kind: ProblemKind, name: &str) -> ProblemKind {
        match kind {
            ProblemKind::MalformedName { .. } => ProblemKind::MalformedName {
                closest: self.closest(name),
            },
            ProblemKind::UnknownAttribute { entity_type, .. } => ProblemKind::UnknownAttribute {
                entity_type,
                closest: self.closest(name),
            },
            other => other,
        }
    }

    /// The writable attributes closest to `name`.
    pub(super) fn closest(&self, name: &str) -> Vec<String> {
        let writable = self.writable.get_or_init(|| {
            attributes::all_names(self.entity)
                .into_iter()
                .filter(|candidate| names::is_name(candidate) && self.classify(candidate).is_ok())
                .collect()
        });
        closest(name, writable.iter().map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::*;

    #[test]
    fn unknown_attributes_are_refused_with_close_matches() {
        let errors = refused(create(
            "Opportunity",
            json!({"name": "Deal", "amount": 5, "closeDate": "2027-01-01", "closedate": "x"}),
        ));
        assert_eq!(errors.code().as_str(), "INVALID_FIELD");
        assert_eq!(errors.problems().len(), 1);
        assert!(
            errors
                .message()
                .contains("`Opportunity` has no attribute `closedate`")
        );
        assert!(
            errors.suggestion().starts_with("Did you mean `closeDate`"),
            "{}",
            errors.suggestion()
        );

        let (attribute, code, _) =
            only_problem(update("Account", json!({"emailAdress": "a@b.co"})));
        assert_eq!((attribute.as_str(), code), ("emailAdress", "INVALID_FIELD"));
        let suggestion = refused(update("Account", json!({"emailAdress": "a@b.co"}))).suggestion();
        assert!(suggestion.contains("`emailAddress`"), "{suggestion}");

        // Close matches are writable names only: never `createdAt`.
        let suggestion = refused(update("Account", json!({"createdAtt": "x"}))).suggestion();
        assert!(!suggestion.contains("`createdAt`"), "{suggestion}");

        // A declared but disabled part is still the attribute of its enabled field.
        assert!(update("Meeting", json!({"dateStartDate": "2026-12-01"})).is_ok());
    }

    #[test]
    fn fields_known_by_their_parts_name_the_parts_to_write() {
        let errors = refused(create(
            "Contact",
            json!({"lastName": "Fixture", "account": ID}),
        ));
        assert_eq!(errors.code().as_str(), "INVALID_FIELD");
        assert!(errors.message().contains("`account` is a link field"));
        assert_eq!(errors.suggestion(), "Write `accountId` instead.");

        let address = refused(update("Account", json!({"billingAddress": "Main St 1"})));
        assert!(address.suggestion().contains("`billingAddressCity`"));
        assert!(address.suggestion().contains("`billingAddressStreet`"));

        let parent = refused(update("Meeting", json!({"parent": ID})));
        assert_eq!(
            parent.suggestion(),
            "Write `parentId`, `parentType` instead."
        );

        // A read-only link has no part to write instead.
        let (_, code, message) = only_problem(update("Account", json!({"createdBy": ID})));
        assert_eq!(code, "INVALID_FIELD");
        assert!(
            message.contains("cannot be written: EspoCRM sets it"),
            "{message}"
        );
    }

    #[test]
    fn system_and_read_only_attributes_cannot_be_written() {
        for (entity_type, name) in [
            ("Account", "id"),
            ("Account", "deleted"),
            ("Account", "createdAt"),
            ("Account", "modifiedAt"),
            ("Account", "createdById"),
            ("Account", "modifiedById"),
            ("Account", "billingAddressMap"),
            ("Opportunity", "amountConverted"),
            ("Meeting", "accountId"),
            ("Contact", "accountType"),
            ("Note", "number"),
        ] {
            let (attribute, code, message) =
                only_problem(update(entity_type, json!({ name: "x", })));
            assert_eq!(attribute, name);
            assert_eq!(code, "INVALID_FIELD", "{entity_type}.{name}");
            assert!(message.contains("cannot be written"), "{message}");
        }
    }

    #[test]
    fn derived_attributes_name_what_to_write_instead() {
        for (entity_type, name, instead) in [
            ("Contact", "accountName", "Write `accountId` instead."),
            (
                "Opportunity",
                "contactsNames",
                "Write `contactsIds` instead.",
            ),
            (
                "Meeting",
                "parentName",
                "Write `parentType`, `parentId` instead.",
            ),
            ("Contact", "name", "Write `lastName`, `firstName` instead."),
            (
                "Meeting",
                "duration",
                "Write `dateStart`, `dateEnd` instead.",
            ),
            ("Account", "logoName", "Write `logoId` instead."),
            (
                "Note",
                "attachmentsTypes",
                "Write `attachmentsIds` instead.",
            ),
        ] {
            let errors = refused(update(entity_type, json!({ name: "x" })));
            assert_eq!(errors.code().as_str(), "INVALID_FIELD", "{name}");
            assert!(
                errors.message().contains("derives it from"),
                "{}",
                errors.message()
            );
            assert_eq!(errors.suggestion(), instead);
        }
    }

    #[test]
    fn relation_columns_are_refused_with_the_ids_to_use() {
        let errors = refused(update(
            "Contact",
            json!({"accountsColumns": {ID: {"role": "CTO"}}}),
        ));
        assert_eq!(errors.code().as_str(), "INVALID_FIELD");
        assert!(errors.message().contains("relation columns"));
        assert!(errors.suggestion().contains("`accountsIds`"));
    }

    #[test]
    fn fields_the_role_may_not_edit_are_refused() {
        let errors = refused(update("Account", json!({"internalScore": 5})));
        assert_eq!(errors.code().as_str(), "INVALID_FIELD");
        assert!(errors.message().contains("role may not edit"));
        let errors = refused(update("User", json!({"password": "secret"})));
        assert!(errors.message().contains("role may not edit"));
    }

    #[test]
    fn fields_fixed_after_create_are_refused_on_update_only() {
        let data = json!({"name": "Acme", "contractNumber": "C-2026-001"});
        assert!(create("Account", data).is_ok());
        let errors = refused(update("Account", json!({"contractNumber": "C-2026-002"})));
        assert_eq!(errors.code().as_str(), "INVALID_FIELD");
        assert!(
            errors
                .message()
                .contains("cannot be changed once the record exists")
        );

        assert!(
            create(
                "Note",
                json!({"post": "Hi", "parentType": "Account", "parentId": ID})
            )
            .is_ok()
        );
        let errors = refused(update(
            "Note",
            json!({"parentType": "Contact", "parentId": ID}),
        ));
        assert_eq!(errors.problems().len(), 2, "{}", errors.message());
        assert!(update("Note", json!({"post": "Edited"})).is_ok());
    }
}
