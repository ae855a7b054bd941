//! What the write validator's tests share: the schema they validate against and short
//! forms of a create, an update and their outcomes.

use std::sync::LazyLock;

use espomcp_actors::{EntityType, Schema};
use serde_json::{Map, Value, json};

use super::{WriteData, WriteErrors, WriteMode, validate};

/// EspoCRM 8.4's own `GET Metadata` and `GET App/user` answers (the actor crate's
/// fixtures), with what the stock entity types lack added: Account fields of the remaining
/// types and an ACL-protected one, and a custom `Candidate` type whose required fields are of
/// every kind that can be given in more than one way.
pub(super) static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    let mut metadata: Value =
        serde_json::from_str(include_str!("../../../actors/tests/fixtures/metadata.json"))
            .expect("the metadata fixture is JSON");
    let mut app_user: Value =
        serde_json::from_str(include_str!("../../../actors/tests/fixtures/app-user.json"))
            .expect("the App/user fixture is JSON");
    let account = &mut metadata["entityDefs"]["Account"]["fields"];
    for (name, definition) in [
        ("employees", json!({"type": "int", "min": 0})),
        ("rating", json!({"type": "float", "min": 0, "max": 5})),
        (
            "tags",
            json!({"type": "multiEnum", "options": ["VIP", "Reference", "Churn risk"]}),
        ),
        ("tier", json!({"type": "enumInt", "options": [1, 2, 3]})),
        ("settings", json!({"type": "jsonObject"})),
        ("logo", json!({"type": "image"})),
        ("isKey", json!({"type": "bool"})),
        ("foundedOn", json!({"type": "date"})),
        ("lastContactedAt", json!({"type": "datetime"})),
        (
            "contractNumber",
            json!({"type": "varchar", "maxLength": 20, "readOnlyAfterCreate": true}),
        ),
        ("internalScore", json!({"type": "int"})),
        ("barcode", json!({"type": "barcode"})),
    ] {
        account[name] = definition;
    }
    metadata["scopes"]["Candidate"] = json!({"entity": true, "object": true});
    metadata["entityDefs"]["Candidate"] = json!({
        "fields": {
            "name": {"type": "personName", "required": true},
            "interview": {"type": "datetimeOptional", "required": true},
            "cv": {"type": "attachmentMultiple", "required": true},
            "homeAddress": {"type": "address", "required": true},
            "emailAddress": {"type": "email", "required": true},
            "source": {"type": "enum", "options": ["Web", "Referral"], "default": "Web",
                       "required": true},
            "parent": {"type": "linkParent", "required": true},
            "mentor": {"type": "link", "required": true}
        },
        "links": {
            "parent": {"type": "belongsToParent", "entityList": ["Account", "Contact"]},
            "mentor": {"type": "belongsTo", "entity": "User"},
            "cv": {"type": "hasChildren", "entity": "Attachment"}
        }
    });
    app_user["acl"]["fieldTable"]["Account"] =
        json!({"internalScore": {"read": "yes", "edit": "no"}});
    app_user["acl"]["table"]["Candidate"] = app_user["acl"]["table"]["Account"].clone();
    Schema::from_espo(&metadata, &app_user).expect("the fixtures make a schema")
});

pub(super) const ID: &str = "6b058e2767a25e5ad";

pub(super) const OTHER_ID: &str = "6b058387bb07ec0ad";

pub(super) fn entity(name: &str) -> &'static EntityType {
    SCHEMA
        .entity(name)
        .unwrap_or_else(|| panic!("{name} is in the test schema"))
}

pub(super) fn data(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("test data must be an object, not {other}"),
    }
}

pub(super) fn create(entity_type: &str, value: Value) -> Result<WriteData, WriteErrors> {
    validate(entity(entity_type), &data(value), WriteMode::Create)
}

pub(super) fn update(entity_type: &str, value: Value) -> Result<WriteData, WriteErrors> {
    validate(entity(entity_type), &data(value), WriteMode::Update)
}

pub(super) fn refused(result: Result<WriteData, WriteErrors>) -> WriteErrors {
    match result {
        Ok(accepted) => panic!("accepted: {:?}", accepted.as_map()),
        Err(errors) => errors,
    }
}

pub(super) fn accepted(result: Result<WriteData, WriteErrors>) -> WriteData {
    result.unwrap_or_else(|errors| panic!("refused: {}", errors.message()))
}

/// The one problem of a refusal, with its code and message.
pub(super) fn only_problem(
    result: Result<WriteData, WriteErrors>,
) -> (String, &'static str, String) {
    let errors = refused(result);
    assert_eq!(errors.problems().len(), 1, "{}", errors.message());
    let problem = &errors.problems()[0];
    (
        problem.attribute().unwrap_or("").to_owned(),
        problem.code().as_str(),
        problem.message(),
    )
}
