//! The `data` of a create or an update, checked attribute by attribute against the entity type
//! before EspoCRM sees it.
//!
//! EspoCRM is a poor judge of a write body: it drops attributes it does not know and attributes
//! that are read-only without a word, so a misspelt `closedate` or a derived `accountName` loses
//! the caller's value while the call reports success; and when it does refuse, it names only the
//! first failing field. [`validate`] therefore refuses every attribute EspoCRM would ignore, checks
//! every value against its field's type, and reports all problems at once, each naming its
//! attribute and what would have been accepted, so a model can correct the whole call in one step.
//! What it accepts, [`WriteData`], holds only attributes the entity type has and the API user may
//! write, with values in the form EspoCRM stores.
//!
//! # Layout
//!
//! - `attributes.rs` — which attribute names may be written, and the form each one's value must
//!   have.
//! - `values.rs` — each value checked against that form, in the form EspoCRM stores.
//! - `required.rs` — the required fields a create must give and an update may not empty, and
//!   parents given by type and id together.
//! - `problems.rs` — [`WriteProblem`] and [`WriteErrors`]: what each refusal says and its code.
//! - `test_support.rs` — the schema the tests validate against, and their short forms.
//!
//! # Codes and order
//!
//! Each [`WriteProblem`] has its code: `INVALID_FIELD` for a name that cannot be written,
//! `MISSING_REQUIRED_FIELD`, `INVALID_ID` for a malformed id, `INVALID_FIELD_VALUE` for any
//! other value, `INVALID_ARGUMENT` for `data` as a whole (empty, more than [`MAX_ATTRIBUTES`]).
//! [`WriteErrors`] lists them with problems of names that have no field first (fixing a misspelt
//! name often settles a "required" too), then by field in the schema's order, which is
//! alphabetical; its code is the first problem's, so it is `MISSING_REQUIRED_FIELD` exactly when
//! nothing but required fields is wrong, or when a missing field comes first.

use std::cell::OnceCell;

use espomcp_actors::{EntityType, Field};
use serde_json::{Map, Value};

use crate::validate::error::excerpt;

mod attributes;
mod problems;
mod required;
#[cfg(test)]
mod test_support;
mod values;

pub use problems::{Bound, Format, NotWritable, ProblemKind, WriteErrors, WriteProblem};
use values::{Shape, check_value};

/// The most attributes one call may write; EspoCRM's widest entity types have fewer fields.
pub const MAX_ATTRIBUTES: usize = 200;

/// The most items one array value may hold (ids, options, addresses).
pub const MAX_ITEMS: usize = 500;

/// Which request the data is for; decides how required and fixed fields are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// `POST {E}`: required fields must be given.
    Create,
    /// `PUT {E}/{id}`: only the given attributes change; required ones may not be emptied and
    /// fields fixed after create may not be given.
    Update,
}

/// The checked data, ready to send as an EspoCRM create or update body. Only [`validate`]
/// builds one, so holding it means every attribute is one the entity type has and the API user
/// may write.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteData {
    body: Map<String, Value>,
    /// The fields the attributes belong to, each once, in the order given.
    fields: Vec<String>,
}

impl WriteData {
    /// The JSON object to send.
    pub fn into_body(self) -> Value {
        Value::Object(self.body)
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.body
    }

    /// The fields the call changes (`account` for `accountId`), for audit logs that must name
    /// what changed without carrying the values.
    pub fn field_names(&self) -> &[String] {
        &self.fields
    }
}

/// Validates `data` (the tool's `data` argument: attribute → value) for a create or update of
/// `entity`, and reports every problem, not only the first.
pub fn validate(
    entity: &EntityType,
    data: &Map<String, Value>,
    mode: WriteMode,
) -> Result<WriteData, WriteErrors> {
    let mut run = Run {
        entity,
        mode,
        data,
        problems: Vec::new(),
        writable: OnceCell::new(),
    };
    if data.is_empty() {
        let required = match mode {
            WriteMode::Create => run.required_attributes(),
            WriteMode::Update => Vec::new(),
        };
        run.data_problem(ProblemKind::EmptyData { mode, required });
        return Err(run.into_errors());
    }
    if data.len() > MAX_ATTRIBUTES {
        run.data_problem(ProblemKind::TooManyAttributes {
            given: data.len(),
            max: MAX_ATTRIBUTES,
        });
        return Err(run.into_errors());
    }

    let reported = run.check_required();
    let mut body = Map::new();
    let mut fields: Vec<String> = Vec::new();
    for (index, (name, value)) in data.iter().enumerate() {
        let (shape, field) = match run.classify(name) {
            Ok(found) => found,
            Err((kind, field)) => {
                let rank = match field {
                    Some(field) => (2, run.position(field), index + 1),
                    None => (1, index, 0),
                };
                let kind = run.with_closest(kind, name);
                run.push(Some(excerpt(name)), kind, rank);
                continue;
            }
        };
        if reported.contains(name) {
            continue;
        }
        let rank = (2, run.position(field), index + 1);
        let mut found = Vec::new();
        let accepted = check_value(&shape, value, name, &mut found);
        let clean = found.is_empty();
        for (attribute, kind) in found {
            run.push(Some(attribute), kind, rank);
        }
        if let (true, Some(accepted)) = (clean, accepted) {
            body.insert(name.clone(), accepted);
            if !fields.contains(&field.name) {
                fields.push(field.name.clone());
            }
        }
    }
    run.check_parents(&body, &reported);

    if run.problems.is_empty() {
        Ok(WriteData { body, fields })
    } else {
        Err(run.into_errors())
    }
}

/// The state of one validation.
struct Run<'a> {
    entity: &'a EntityType,
    mode: WriteMode,
    data: &'a Map<String, Value>,
    problems: Vec<WriteProblem>,
    /// The attributes that could be written, for close matches; built on the first unknown name.
    writable: OnceCell<Vec<String>>,
}

/// An attribute that may be written: the form its value must have, and its field.
type Writable<'a> = (Shape<'a>, &'a Field);

/// Why an attribute may not be written, and its field when it has one.
type Refusal<'a> = (ProblemKind, Option<&'a Field>);

impl<'a> Run<'a> {
    fn push(&mut self, attribute: Option<String>, kind: ProblemKind, rank: (u8, usize, usize)) {
        self.problems.push(WriteProblem {
            attribute,
            kind,
            rank,
        });
    }

    fn data_problem(&mut self, kind: ProblemKind) {
        self.push(None, kind, (0, 0, 0));
    }

    fn into_errors(mut self) -> WriteErrors {
        self.problems.sort_by_key(|problem| problem.rank);
        WriteErrors {
            entity_type: self.entity.name.clone(),
            problems: self.problems,
        }
    }

    /// Where `field` stands in the schema's field order.
    fn position(&self, field: &Field) -> usize {
        self.entity
            .fields
            .keys()
            .position(|name| *name == field.name)
            .unwrap_or(usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use espomcp_actors::FieldType;
    use proptest::prelude::*;
    use serde_json::json;

    use super::test_support::*;
    use super::*;
    use crate::espo::attributes::{self, Lookup};
    use crate::validate::names;

    #[test]
    fn a_realistic_opportunity_create_is_sent_as_given() {
        let given = json!({
            "name": "Fixture Dynamics – pilot",
            "amount": 25000,
            "amountCurrency": "EUR",
            "closeDate": "2027-01-31",
            "stage": "Qualification",
            "probability": 20,
            "accountId": ID,
            "contactsIds": [ID, OTHER_ID],
            "assignedUserId": OTHER_ID,
            "teamsIds": [],
            "description": null,
        });
        let written = accepted(create("Opportunity", given.clone()));
        assert_eq!(written.as_map(), given.as_object().expect("an object"));
        assert_eq!(
            written.field_names(),
            [
                "name",
                "amount",
                "amountCurrency",
                "closeDate",
                "stage",
                "probability",
                "account",
                "contacts",
                "assignedUser",
                "teams",
                "description"
            ]
        );
        assert_eq!(written.into_body(), given);
    }

    #[test]
    fn a_contact_takes_its_name_parts_addresses_and_data_lists() {
        let given = json!({
            "salutationName": "Dr.",
            "firstName": "Hugo",
            "lastName": "Fixture",
            "title": "CTO",
            "accountId": ID,
            "addressCity": "Berlin",
            "emailAddress": "hugo@fixture-dynamics.example.org",
            "emailAddressIsOptedOut": false,
            "emailAddressData": [
                {"emailAddress": "hugo@fixture-dynamics.example.org", "primary": true,
                 "optOut": false, "invalid": false},
                {"emailAddress": "hugo.private@example.net", "primary": false,
                 "lower": "hugo.private@example.net"}
            ],
            "phoneNumberData": [
                {"phoneNumber": "+1 212 555 0143", "primary": true, "type": "Office"},
                {"phoneNumber": "(415) 555-0144", "type": "Mobile"}
            ],
            "doNotCall": true,
        });
        let written = accepted(create("Contact", given.clone()));
        assert_eq!(written.into_body(), given);
        assert!(update("Contact", json!({"accountsIds": [ID], "accountId": null})).is_ok());
    }

    #[test]
    fn empty_and_oversized_data_are_refused_as_a_whole() {
        let errors = refused(update("Account", json!({})));
        assert_eq!(errors.code().as_str(), "INVALID_ARGUMENT");
        assert_eq!(errors.message(), "`data` is empty: nothing to change");
        assert_eq!(errors.problems()[0].attribute(), None);

        let errors = refused(create("Opportunity", json!({})));
        assert_eq!(errors.code().as_str(), "INVALID_ARGUMENT");
        assert_eq!(
            errors.suggestion(),
            "Give the record's attributes, at least the required `amount`, `closeDate`, `name`."
        );

        let many: Map<String, Value> = (0..=MAX_ATTRIBUTES)
            .map(|index| (format!("field{index}"), Value::Null))
            .collect();
        let errors = refused(validate(entity("Account"), &many, WriteMode::Update));
        assert_eq!(errors.code().as_str(), "INVALID_ARGUMENT");
        assert_eq!(errors.problems().len(), 1);
        assert!(
            errors
                .message()
                .contains("201 attributes, more than the 200")
        );
    }

    #[test]
    fn all_problems_are_reported_at_once_in_field_order() {
        let errors = refused(create(
            "Opportunity",
            json!({"name": "Deal", "stage": "Won", "closeDate": "31/12/2026"}),
        ));
        assert_eq!(errors.code().as_str(), "MISSING_REQUIRED_FIELD");
        assert_eq!(
            errors.message(),
            "3 problems: `amount` is required; `closeDate` \"31/12/2026\" is not a date \
             (YYYY-MM-DD); `stage` \"Won\" is not an option"
        );
        assert!(errors.suggestion().starts_with("`amount`: Add `amount`."));
        assert!(
            errors
                .suggestion()
                .contains("`stage`: Options: \"Prospecting\"")
        );
        let details = errors.details();
        assert_eq!(details["entityType"], "Opportunity");
        assert_eq!(details["problems"].as_array().map(Vec::len), Some(3));
        assert_eq!(
            details["problems"][1],
            json!({
                "attribute": "closeDate",
                "code": "INVALID_FIELD_VALUE",
                "message": "`closeDate` \"31/12/2026\" is not a date (YYYY-MM-DD)",
                "suggestion": "Give a real calendar date as \"YYYY-MM-DD\", e.g. \"2026-12-31\"."
            })
        );

        // Unknown names come first: correcting them may settle the rest.
        let errors = refused(create(
            "Opportunity",
            json!({"name": "", "amount": "lots", "closedate": "2027-01-01", "accountName": "Acme",
                   "accountId": "x y", "probability": 120}),
        ));
        let codes: Vec<_> = errors
            .problems()
            .iter()
            .map(|problem| problem.code().as_str())
            .collect();
        assert_eq!(
            codes,
            [
                "INVALID_FIELD",
                "INVALID_FIELD",
                "INVALID_ID",
                "INVALID_FIELD_VALUE",
                "MISSING_REQUIRED_FIELD",
                "MISSING_REQUIRED_FIELD",
                "INVALID_FIELD_VALUE",
            ],
            "{}",
            errors.message()
        );
        assert_eq!(errors.code().as_str(), "INVALID_FIELD");
        assert!(
            errors
                .message()
                .starts_with("7 problems: `Opportunity` has no attribute `closedate`")
        );
        assert_eq!(errors.to_string(), errors.message());
    }

    /// Whether `name` is, by the schema alone, an attribute EspoCRM would store from a write.
    fn writable_by_schema(entity: &EntityType, name: &str, mode: WriteMode) -> bool {
        let Lookup::Attribute(attribute) = attributes::lookup(entity, name) else {
            return false;
        };
        let Some(field) = attribute.field else {
            return false;
        };
        let own = |suffix: &str| name == format!("{}{suffix}", field.name);
        let derived = match field.field_type {
            FieldType::Link
            | FieldType::LinkOne
            | FieldType::File
            | FieldType::Image
            | FieldType::LinkParent => own("Name"),
            FieldType::LinkMultiple | FieldType::AttachmentMultiple => own("Names") || own("Types"),
            FieldType::PersonName => own(""),
            FieldType::Foreign
            | FieldType::Map
            | FieldType::Duration
            | FieldType::Autoincrement
            | FieldType::CurrencyConverted
            | FieldType::Number => true,
            _ => false,
        };
        names::is_name(name)
            && !matches!(name, "id" | "deleted")
            && !field.disabled
            && !field.read_only
            && !derived
            && !entity.uneditable_fields.contains(&field.name)
            && !entity.uneditable_fields.contains(name)
            && !(mode == WriteMode::Update && field.read_only_after_create)
    }

    const ENTITY_TYPES: [&str; 8] = [
        "Account",
        "Contact",
        "Opportunity",
        "Meeting",
        "Candidate",
        "Note",
        "Email",
        "User",
    ];

    /// Data that creates a record of each of [`ENTITY_TYPES`], so generated additions are judged
    /// on their own rather than drowned by missing required fields.
    fn minimal_create(entity_type: &str) -> Value {
        match entity_type {
            "Account" => json!({"name": "Acme"}),
            "Contact" | "User" => json!({"lastName": "Fixture", "userName": "fixture"}),
            "Opportunity" => json!({"name": "Deal", "amount": 1, "closeDate": "2027-01-01"}),
            "Meeting" => json!({"name": "Kick-off", "dateStart": "2026-12-01 14:00:00",
                                "dateEnd": "2026-12-01 15:00:00", "assignedUserId": ID}),
            "Candidate" => json!({"lastName": "Lovelace", "emailAddress": "ada@example.com",
                                  "homeAddressCity": "London", "interviewDate": "2027-01-15",
                                  "cvIds": [ID], "parentType": "Account", "parentId": ID,
                                  "mentorId": OTHER_ID}),
            "Email" => json!({"name": "Hello", "subject": "Hello", "from": "a@example.com",
                              "to": "b@example.com"}),
            _ => json!({"post": "Hello"}),
        }
    }

    #[test]
    fn the_minimal_creates_are_accepted() {
        for entity_type in ENTITY_TYPES {
            let mut minimal = data(minimal_create(entity_type));
            if entity_type == "Contact" {
                minimal.remove("userName");
            }
            accepted(create(entity_type, Value::Object(minimal)));
        }
    }

    /// Every name the test entity types know, and names near them: most are not writable on
    /// a given type (read-only, derived, another type's, a field known by its parts).
    static KNOWN_NAMES: LazyLock<Vec<String>> = LazyLock::new(|| {
        let mut known: Vec<String> = ENTITY_TYPES
            .iter()
            .flat_map(|name| attributes::all_names(entity(name)))
            .collect();
        known.extend(
            [
                "deleted",
                "accountsColumns",
                "contactsColumns",
                "Name",
                "nAME",
                "parent_id",
            ]
            .map(String::from),
        );
        known.sort();
        known.dedup();
        known
    });

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => prop::sample::select(KNOWN_NAMES.clone()),
            1 => any::<String>(),
            1 => "[A-Za-z][A-Za-z0-9_]{0,12}",
            1 => "[ -~]{0,10}",
        ]
    }

    /// Mostly the names of one entity type (its fields and attributes, writable or not), with
    /// other types' names and arbitrary strings among them.
    fn own_key(which: usize) -> impl Strategy<Value = String> {
        let mut own = attributes::all_names(entity(ENTITY_TYPES[which]));
        own.extend(["deleted", "accountsColumns", "contactsColumns"].map(String::from));
        prop_oneof![
            6 => prop::sample::select(own),
            2 => key(),
        ]
    }

    /// Strings that fit some field, or nearly.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => prop::sample::select(vec![
                "", " ", "2026-12-31", "2026-02-30", "2026-12-31 14:30", "2026-12-31 14:30:00",
                ID, "../x", "anna@example.com", "anna@", "https://example.com", "example",
                "+1 212 555 0142", "USD", "usd", "Account", "Lead", "Prospecting", "Customer",
                "VIP", "Dr.", "1000.50", "12,5", "javascript:alert(1)", "Web", "Planned",
            ])
            .prop_map(String::from),
            1 => any::<String>(),
        ]
    }

    /// Any JSON value, nested up to three levels.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-200i64..200).prop_map(Value::from),
            any::<f64>().prop_filter_map("JSON numbers are finite", |number| {
                serde_json::Number::from_f64(number).map(Value::Number)
            }),
            text().prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map(key(), inner, 0..4)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    /// Values that fit many fields: scalars, id lists, option lists, address lists.
    fn plausible_value() -> impl Strategy<Value = Value> {
        let listed = prop::sample::select(vec![ID, OTHER_ID, "VIP", "Reference", "../x"]);
        prop_oneof![
            2 => Just(Value::Null),
            1 => any::<bool>().prop_map(Value::Bool),
            2 => (0i64..120).prop_map(Value::from),
            4 => text().prop_map(Value::String),
            2 => prop::collection::vec(listed.prop_map(Value::from), 0..3).prop_map(Value::Array),
            1 => Just(json!([{"emailAddress": "anna@example.com", "primary": true}])),
            1 => Just(json!([{"phoneNumber": "+1 212 555 0142", "type": "Office"}])),
            1 => Just(json!({"theme": "dark"})),
            1 => json_value(),
        ]
    }

    /// Mostly `null`, which nearly every type takes, so that acceptance turns on the keys.
    fn key_test_value() -> impl Strategy<Value = Value> {
        prop_oneof![3 => Just(Value::Null), 2 => plausible_value()]
    }

    fn mode() -> impl Strategy<Value = WriteMode> {
        prop_oneof![Just(WriteMode::Create), Just(WriteMode::Update)]
    }

    /// What `validate` may have made of a value it accepted.
    fn is_kept_or_normalised(given: &Value, sent: &Value) -> bool {
        given == sent
            || (given.as_str() == Some("") && sent.is_null())
            || matches!((given, sent), (Value::String(given), Value::String(sent))
                if *sent == format!("{given}:00"))
    }

    /// The invariants of a refusal: problems, known codes, words, no control characters.
    fn check_refusal(errors: &WriteErrors) -> Result<(), TestCaseError> {
        prop_assert!(!errors.problems().is_empty());
        prop_assert_eq!(errors.code().as_str(), errors.problems()[0].code().as_str());
        let message = errors.message();
        prop_assert!(!message.is_empty() && !errors.suggestion().is_empty());
        prop_assert!(!message.chars().any(char::is_control), "{}", message);
        for problem in errors.problems() {
            prop_assert!(
                [
                    "INVALID_ARGUMENT",
                    "INVALID_FIELD",
                    "INVALID_FIELD_VALUE",
                    "INVALID_ID",
                    "MISSING_REQUIRED_FIELD",
                ]
                .contains(&problem.code().as_str())
            );
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// No generated data makes `validate` panic, and no accepted data reaches EspoCRM with an
        /// attribute the schema does not have or would not store. Keys are mostly the entity
        /// type's own names, writable or not, values mostly `null`, and a create starts from
        /// [`minimal_create`], so that whether data is accepted turns on its keys.
        #[test]
        fn accepted_data_holds_only_writable_attributes(
            (which, additions) in (0..ENTITY_TYPES.len()).prop_flat_map(|which| {
                (Just(which), prop::collection::btree_map(own_key(which), key_test_value(), 1..4))
            }),
            mode in mode(),
        ) {
            let entity_type = ENTITY_TYPES[which];
            let entity = entity(entity_type);
            let mut given = match mode {
                WriteMode::Create => data(minimal_create(entity_type)),
                WriteMode::Update => Map::new(),
            };
            if entity_type == "Contact" && mode == WriteMode::Create {
                given.remove("userName");
            }
            given.extend(additions);
            match validate(entity, &given, mode) {
                Ok(written) => {
                    prop_assert_eq!(written.as_map().len(), given.len());
                    for (name, sent) in written.as_map() {
                        prop_assert!(
                            writable_by_schema(entity, name, mode), "{} was accepted", name
                        );
                        prop_assert!(
                            is_kept_or_normalised(&given[name], sent), "{}: {}", name, sent
                        );
                    }
                }
                Err(errors) => check_refusal(&errors)?,
            }
        }

        /// Whatever the keys and however deep the values, `validate` answers without panicking.
        #[test]
        fn arbitrary_data_never_panics(
            which in 0..ENTITY_TYPES.len(),
            mode in mode(),
            given in prop::collection::btree_map(
                prop_oneof![key(), any::<String>()], json_value(), 0..8),
        ) {
            let entity = entity(ENTITY_TYPES[which]);
            let given: Map<String, Value> = given.into_iter().collect();
            match validate(entity, &given, mode) {
                Ok(written) => {
                    for name in written.as_map().keys() {
                        prop_assert!(
                            writable_by_schema(entity, name, mode), "{} was accepted", name
                        );
                    }
                }
                Err(errors) => check_refusal(&errors)?,
            }
        }

        /// Writable names with plausible values are refused, if at all, for their values only,
        /// and accepted values are sent as given or in their normal form.
        #[test]
        fn writable_names_are_judged_by_their_values(
            which in 0..ENTITY_TYPES.len(),
            mode in mode(),
            picks in prop::collection::vec((any::<prop::sample::Index>(), plausible_value()), 1..6),
        ) {
            let entity = entity(ENTITY_TYPES[which]);
            let writable: Vec<String> = attributes::all_names(entity)
                .into_iter()
                .filter(|name| writable_by_schema(entity, name, mode))
                .collect();
            prop_assume!(!writable.is_empty());
            let given: Map<String, Value> = picks
                .into_iter()
                .map(|(index, value)| (index.get(&writable).clone(), value))
                .collect();
            match validate(entity, &given, mode) {
                Ok(written) => {
                    for (name, sent) in written.as_map() {
                        prop_assert!(
                            is_kept_or_normalised(&given[name], sent), "{}: {}", name, sent
                        );
                    }
                }
                Err(errors) => {
                    check_refusal(&errors)?;
                    for problem in errors.problems() {
                        prop_assert!(
                            problem.code().as_str() != "INVALID_FIELD",
                            "{}",
                            problem.message()
                        );
                    }
                }
            }
        }
    }
}
