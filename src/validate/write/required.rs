//! The fields a create must give and an update may not empty.
//!
//! On create every `required` field must be given, unless EspoCRM fills it from a default: a
//! `link` by `xxxId`, a `linkParent` by `xxxType` and `xxxId`, a `linkMultiple` by a non-empty
//! `xxxIds`, a `personName` by `lastName` or `firstName`, an `email`/`phone` by the address or
//! its `…Data`, a `datetimeOptional` by the date-time or its `…Date`. On update required fields
//! may be left out but not emptied (`null`, a blank string, `[]`). Both are
//! `MISSING_REQUIRED_FIELD`, naming every missing field at once.

use std::collections::BTreeSet;

use espomcp_actors::{Field, FieldType};
use serde_json::{Map, Value};

use super::problems::{ProblemKind, alternatives};
use super::values::Shape;
use super::{Run, WriteMode};
use crate::validate::error::quoted_names;

impl<'a> Run<'a> {
    /// The required fields a create must give, and how each can be given.
    pub(super) fn requirements(&self) -> Vec<(usize, &'a Field, Vec<String>, bool)> {
        self.entity
            .fields
            .values()
            .enumerate()
            .filter(|(_, field)| {
                let fixed = self.mode == WriteMode::Update && field.read_only_after_create;
                field.required
                    && !field.disabled
                    && !field.read_only
                    && !fixed
                    && !self.is_uneditable(&field.name)
            })
            .map(|(position, field)| {
                let (attributes, any_of) = satisfying(field);
                (position, field, attributes, any_of)
            })
            .collect()
    }

    /// The attributes that satisfy the required fields, for the empty-create suggestion.
    pub(super) fn required_attributes(&self) -> Vec<String> {
        self.requirements()
            .into_iter()
            .filter(|(_, field, ..)| !has_default(field))
            .filter_map(|(_, _, attributes, _)| attributes.into_iter().next())
            .collect()
    }

    /// Reports required fields missing (create) or emptied (update); returns the attributes
    /// reported, whose values need no further check.
    pub(super) fn check_required(&mut self) -> BTreeSet<String> {
        let mut reported = BTreeSet::new();
        let filled = |name: &String| self.data.get(name).is_some_and(|value| !is_empty(value));
        let emptied = |name: &String| self.data.get(name).is_some_and(is_empty);
        let mut found = Vec::new();
        for (position, field, attributes, any_of) in self.requirements() {
            match self.mode {
                WriteMode::Create => {
                    let absent = attributes.iter().all(|name| !self.data.contains_key(name));
                    let missing: Vec<String> = if any_of {
                        if attributes.iter().any(filled) {
                            continue;
                        }
                        attributes.clone()
                    } else {
                        attributes
                            .iter()
                            .filter(|name| !filled(name))
                            .cloned()
                            .collect()
                    };
                    let Some(first) = missing.first().cloned() else {
                        continue;
                    };
                    if absent && has_default(field) {
                        continue;
                    }
                    reported.extend(missing.iter().cloned());
                    let advice = self.required_advice(field, &attributes);
                    found.push((
                        first,
                        ProblemKind::Required {
                            field: field.name.clone(),
                            attributes: missing,
                            any_of,
                            advice,
                        },
                        (2, position, 0),
                    ));
                }
                WriteMode::Update => {
                    let flagged: Vec<&String> = match (any_of, attributes.iter().all(emptied)) {
                        (true, true) => {
                            reported.extend(attributes.iter().cloned());
                            attributes.iter().take(1).collect()
                        }
                        (true, false) => Vec::new(),
                        (false, _) => attributes.iter().filter(|name| emptied(name)).collect(),
                    };
                    for name in flagged {
                        let index = self.data.keys().position(|key| key == name).unwrap_or(0);
                        reported.insert(name.clone());
                        found.push((name.clone(), ProblemKind::Emptied, (2, position, index + 1)));
                    }
                }
            }
        }
        for (attribute, kind, rank) in found {
            self.push(Some(attribute), kind, rank);
        }
        reported
    }

    /// How to give a missing required field.
    pub(super) fn required_advice(&self, field: &Field, attributes: &[String]) -> String {
        let linked = || {
            self.entity
                .link(&field.name)
                .and_then(|link| link.entity.clone())
                .unwrap_or_else(|| "linked".to_owned())
        };
        let first = attributes
            .first()
            .map_or(field.name.as_str(), String::as_str);
        match &field.field_type {
            FieldType::Link | FieldType::LinkOne => format!(
                "Add `{first}`: the id of the {} record to link (from a list or search call).",
                linked()
            ),
            FieldType::File | FieldType::Image => {
                format!("Add `{first}`: the id of an uploaded attachment.")
            }
            FieldType::LinkMultiple | FieldType::AttachmentMultiple => format!(
                "Add `{first}`: an array of at least one {} record id.",
                linked()
            ),
            FieldType::LinkParent => {
                let allowed = match self.classify(&format!("{}Type", field.name)) {
                    Ok((Shape::ParentType { allowed }, _)) if !allowed.is_empty() => {
                        format!(" ({})", quoted_names(allowed))
                    }
                    _ => String::new(),
                };
                format!(
                    "Add `{}Type`{allowed} and `{}Id`: the parent record's entity type and id.",
                    field.name, field.name
                )
            }
            FieldType::PersonName | FieldType::Address | FieldType::Email | FieldType::Phone => {
                format!("Add {}.", alternatives(attributes, "or"))
            }
            FieldType::DatetimeOptional => format!(
                "Add `{first}` as \"YYYY-MM-DD HH:MM:SS\" (UTC), or `{first}Date` as \
                 \"YYYY-MM-DD\" for an all-day value."
            ),
            _ => match self.classify(first) {
                Ok((shape, _)) => format!("Add `{first}`. {}", shape.advice()),
                Err(_) => format!("Add `{first}`."),
            },
        }
    }

    /// Reports a `linkParent` whose type and id were not given together. Skips parents whose
    /// attributes were already refused, so each mistake is reported once.
    pub(super) fn check_parents(&mut self, body: &Map<String, Value>, reported: &BTreeSet<String>) {
        let mut found = Vec::new();
        for (position, field) in self.entity.fields.values().enumerate() {
            if field.disabled || field.field_type != FieldType::LinkParent {
                continue;
            }
            let id = format!("{}Id", field.name);
            let kind = format!("{}Type", field.name);
            let settled = |name: &String| {
                !reported.contains(name)
                    && (body.contains_key(name) || !self.data.contains_key(name))
            };
            if !settled(&id) || !settled(&kind) {
                continue;
            }
            let set = |name: &String| body.get(name).is_some_and(|value| !is_empty(value));
            let (given, missing) = match (set(&id), set(&kind)) {
                (true, false) => (id, kind),
                (false, true) => (kind, id),
                _ => continue,
            };
            let index = self.data.keys().position(|key| *key == given).unwrap_or(0);
            found.push((given, missing, (2, position, index + 1)));
        }
        for (given, missing, rank) in found {
            self.push(Some(given), ProblemKind::Unpaired { missing }, rank);
        }
    }
}

/// The attributes that satisfy a required field, and whether one of them is enough.
fn satisfying(field: &Field) -> (Vec<String>, bool) {
    let name = &field.name;
    let with = |suffix: &str| format!("{name}{suffix}");
    match &field.field_type {
        FieldType::Link | FieldType::LinkOne | FieldType::File | FieldType::Image => {
            (vec![with("Id")], false)
        }
        FieldType::LinkParent => (vec![with("Type"), with("Id")], false),
        FieldType::LinkMultiple | FieldType::AttachmentMultiple => (vec![with("Ids")], false),
        FieldType::PersonName => (person_parts(field), true),
        FieldType::Address => (
            ["Street", "City", "State", "Country", "PostalCode"]
                .map(with)
                .to_vec(),
            true,
        ),
        FieldType::Email | FieldType::Phone => (vec![name.clone(), with("Data")], true),
        FieldType::DatetimeOptional => (vec![name.clone(), with("Date")], true),
        _ => (vec![name.clone()], false),
    }
}

/// `lastName`, `firstName` for a person name `name` (EspoCRM's `personName` parts that make it).
pub(super) fn person_parts(field: &Field) -> Vec<String> {
    let mut chars = field.name.chars();
    let upper: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    vec![format!("last{upper}"), format!("first{upper}")]
}

/// Whether EspoCRM fills the field itself when a create leaves it out. A `javascript:` default
/// is evaluated by the browser only.
fn has_default(field: &Field) -> bool {
    match &field.default {
        Some(Value::String(text)) => !text.trim().is_empty() && !text.starts_with("javascript:"),
        Some(value) => !is_empty(value),
        None => false,
    }
}

/// What EspoCRM's required check counts as not given.
pub(super) fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::WriteProblem;
    use super::super::test_support::*;

    #[test]
    fn every_missing_required_field_is_named_on_create() {
        let errors = refused(create("Opportunity", json!({"description": "No basics"})));
        assert_eq!(errors.code().as_str(), "MISSING_REQUIRED_FIELD");
        assert_eq!(
            errors.message(),
            "3 problems: `amount` is required; `closeDate` is required; `name` is required"
        );
        let attributes: Vec<_> = errors
            .problems()
            .iter()
            .map(|problem| problem.attribute().unwrap_or(""))
            .collect();
        assert_eq!(attributes, ["amount", "closeDate", "name"]);
        assert!(
            errors
                .suggestion()
                .contains("`closeDate`: Add `closeDate`. Give a real calendar date")
        );

        let meeting = refused(create("Meeting", json!({"name": "Kick-off"})));
        assert_eq!(
            meeting.message(),
            "3 problems: `assignedUserId` is required; `dateEnd` or `dateEndDate` is required; \
             `dateStart` or `dateStartDate` is required"
        );
        assert!(
            meeting
                .suggestion()
                .contains("the id of the User record to link")
        );

        // A link is given by its id, empty values are missing values.
        let errors = refused(create(
            "Meeting",
            json!({"name": " ", "assignedUserId": null, "dateStart": "2026-12-01 14:00:00",
                   "dateEndDate": ""}),
        ));
        let attributes: Vec<_> = errors
            .problems()
            .iter()
            .filter_map(WriteProblem::attribute)
            .collect();
        assert_eq!(attributes, ["assignedUserId", "dateEnd", "name"]);
    }

    #[test]
    fn required_fields_can_be_given_in_each_of_their_ways() {
        let errors = refused(create("Candidate", json!({"source": "Web"})));
        assert_eq!(errors.code().as_str(), "MISSING_REQUIRED_FIELD");
        assert_eq!(
            errors.message(),
            "7 problems: `cvIds` is required; `emailAddress` or `emailAddressData` is required; \
             `homeAddressStreet`, `homeAddressCity`, `homeAddressState`, `homeAddressCountry` or \
             `homeAddressPostalCode` is required; `interview` or `interviewDate` is required; \
             `mentorId` is required; `lastName` or `firstName` is required; `parentType` and \
             `parentId` are required"
        );
        assert!(
            errors
                .suggestion()
                .contains("Add `parentType` (`Account`, `Contact`) and `parentId`")
        );

        let complete = json!({
            "firstName": "Ada",
            "emailAddressData": [{"emailAddress": "ada@example.com", "primary": true}],
            "homeAddressCity": "London",
            "interviewDate": "2027-01-15",
            "cvIds": [ID],
            "parentType": "Contact",
            "parentId": ID,
            "mentorId": OTHER_ID,
        });
        // `source` is left out: EspoCRM fills its default.
        assert!(create("Candidate", complete).is_ok());

        let errors = refused(create(
            "Candidate",
            json!({"lastName": "Lovelace", "emailAddress": "ada@example.com",
                   "homeAddressStreet": "1 St James's Sq", "interview": "2027-01-15 10:00",
                   "cvIds": [], "parentId": ID, "mentorId": OTHER_ID, "source": ""}),
        ));
        let messages: Vec<String> = errors
            .problems()
            .iter()
            .map(WriteProblem::message)
            .collect();
        assert_eq!(
            messages,
            [
                "`cvIds` is required",
                "`parentType` is required",
                "`source` is required"
            ]
        );
    }

    #[test]
    fn required_fields_may_be_left_out_of_an_update_but_not_emptied() {
        assert!(update("Opportunity", json!({"stage": "Closed Won"})).is_ok());
        assert!(
            update(
                "Opportunity",
                json!({"contactsIds": [], "probability": null})
            )
            .is_ok()
        );
        for (entity_type, given, attribute) in [
            ("Account", json!({"name": ""}), "name"),
            ("Opportunity", json!({"amount": null}), "amount"),
            ("Contact", json!({"lastName": "   "}), "lastName"),
            ("Meeting", json!({"assignedUserId": null}), "assignedUserId"),
            (
                "Meeting",
                json!({"dateStart": "", "dateStartDate": null}),
                "dateStart",
            ),
            ("Candidate", json!({"cvIds": []}), "cvIds"),
            (
                "Candidate",
                json!({"firstName": "", "lastName": null}),
                "lastName",
            ),
        ] {
            let (problem, code, message) = only_problem(update(entity_type, given));
            assert_eq!(
                (problem.as_str(), code),
                (attribute, "MISSING_REQUIRED_FIELD")
            );
            assert!(
                message.ends_with("is required and cannot be emptied"),
                "{message}"
            );
        }
        // One part of a person's name may be emptied while the other stays.
        assert!(update("Candidate", json!({"firstName": ""})).is_ok());
    }

    #[test]
    fn a_parent_is_given_by_type_and_id_together() {
        assert!(update("Meeting", json!({"parentType": "Account", "parentId": ID})).is_ok());
        assert!(update("Meeting", json!({"parentType": null, "parentId": null})).is_ok());
        let (attribute, code, message) = only_problem(update("Meeting", json!({"parentId": ID})));
        assert_eq!(
            (attribute.as_str(), code),
            ("parentId", "INVALID_FIELD_VALUE")
        );
        assert_eq!(message, "`parentId` is given without `parentType`");
        let (attribute, _, _) = only_problem(update(
            "Meeting",
            json!({"parentType": "Account", "parentId": null}),
        ));
        assert_eq!(attribute, "parentType");
        // Meeting's parent link lists no entity types: any name-shaped one is taken.
        let (_, _, message) = only_problem(update(
            "Meeting",
            json!({"parentType": "Account/1", "parentId": ID}),
        ));
        assert!(message.ends_with("is not an entity type name"), "{message}");
        // Candidate's does.
        let errors = refused(update(
            "Candidate",
            json!({"parentType": "Lead", "parentId": ID}),
        ));
        assert_eq!(
            errors.message(),
            "`parentType` \"Lead\" is not an entity type this parent may have"
        );
        assert_eq!(errors.suggestion(), "Give one of: `Account`, `Contact`.");
        // A refused half is reported once, not again as unpaired.
        let errors = refused(update("Meeting", json!({"parentType": 5, "parentId": ID})));
        assert_eq!(errors.problems().len(), 1, "{}", errors.message());
    }
}
