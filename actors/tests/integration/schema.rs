//! The schema parsed from EspoCRM 8.4.2's recorded `GET Metadata` and `GET App/user` (trimmed to
//! a few entity types, as the API user `mcp-agent` saw them).

use espomcp_actors::{AccessLevel, Action, FieldType, LinkType, Schema, ScopeAccess};
use serde_json::{Value, json};

fn schema() -> Schema {
    let metadata: Value =
        serde_json::from_str(include_str!("../fixtures/metadata.json")).expect("fixture JSON");
    let app_user: Value =
        serde_json::from_str(include_str!("../fixtures/app-user.json")).expect("fixture JSON");
    Schema::from_espo(&metadata, &app_user).expect("the recorded metadata parses")
}

#[test]
fn should_tell_record_types_from_system_entities() {
    let schema = schema();
    let records: Vec<&str> = schema
        .record_entities()
        .map(|entity| entity.name.as_str())
        .collect();
    assert_eq!(
        records,
        [
            "Account",
            "Contact",
            "Email",
            "Meeting",
            "Opportunity",
            "User"
        ]
    );
    for system in ["EmailTemplate", "Note", "Team", "Preferences"] {
        let entity = schema.entity(system).expect("kept");
        assert!(!entity.is_record, "{system}");
    }
    assert!(schema.entity("Stream").is_none(), "not an entity scope");
    assert_eq!(
        schema
            .entity_ignoring_case("account")
            .map(|e| e.name.as_str()),
        Some("Account")
    );
}

#[test]
fn should_parse_fields_with_their_constraints() {
    let schema = schema();
    let account = schema.entity("Account").expect("Account");

    let name = account.field("name").expect("name");
    assert_eq!(name.field_type, FieldType::Varchar);
    assert!(name.required);
    assert_eq!(name.max_length, Some(249));

    let kind = account.field("type").expect("type");
    assert_eq!(kind.field_type, FieldType::Enum);
    let options = kind.options.as_ref().expect("options");
    assert!(options.contains(&json!("Customer")) && options.contains(&json!("")));

    let created_at = account.field("createdAt").expect("createdAt");
    assert!(created_at.read_only && !created_at.required);
    assert!(
        account
            .field("contactRole")
            .expect("contactRole")
            .not_storable
    );

    let opportunity = schema.entity("Opportunity").expect("Opportunity");
    let amount = opportunity.field("amount").expect("amount");
    assert_eq!(amount.field_type, FieldType::Currency);
    assert!(amount.required);
    assert_eq!(amount.min, Some(0.0));
    let probability = opportunity.field("probability").expect("probability");
    assert_eq!((probability.min, probability.max), (Some(0.0), Some(100.0)));
    assert_eq!(
        opportunity.field("stage").expect("stage").default,
        Some(json!("Prospecting"))
    );

    let week_start = schema
        .entity("Preferences")
        .and_then(|preferences| preferences.field("weekStart"))
        .expect("weekStart");
    assert_eq!(week_start.field_type, FieldType::EnumInt);
    assert_eq!(week_start.options.as_ref().map(Vec::len), Some(7));
    assert!(
        schema
            .entity("Meeting")
            .and_then(|m| m.field("dateStartDate"))
            .expect("dateStartDate")
            .disabled
    );
}

#[test]
fn should_parse_links_and_duplicate_checks() {
    let schema = schema();
    let account = schema.entity("Account").expect("Account");

    let contacts = account.link("contacts").expect("contacts");
    assert_eq!(contacts.link_type, LinkType::HasMany);
    assert_eq!(contacts.entity.as_deref(), Some("Contact"));
    assert_eq!(contacts.foreign.as_deref(), Some("accounts"));
    assert_eq!(
        account.link("assignedUser").map(|l| l.link_type.clone()),
        Some(LinkType::BelongsTo)
    );
    assert_eq!(account.duplicate_check_fields, ["name", "emailAddress"]);
    assert!(account.has_stream);

    let parent = schema
        .entity("Meeting")
        .and_then(|meeting| meeting.link("parent"))
        .expect("parent");
    assert_eq!(parent.link_type, LinkType::BelongsToParent);
    assert_eq!(parent.entity, None);
}

#[test]
fn should_read_the_api_users_rights() {
    let schema = schema();
    let account = schema.entity("Account").expect("Account");
    assert!(account.allows(Action::Read) && account.allows(Action::Delete));

    let email = schema.entity("Email").expect("Email");
    assert!(email.allows(Action::Create));
    assert!(!email.allows(Action::Read) && !email.allows(Action::Edit));
    let Some(ScopeAccess::Levels(levels)) = email.access else {
        panic!("Email has per-action levels");
    };
    assert_eq!(levels.create, AccessLevel::All);
    assert_eq!(levels.read, AccessLevel::No);

    let template = schema.entity("EmailTemplate").expect("EmailTemplate");
    assert!(template.allows(Action::Read) && !template.allows(Action::Create));

    let user = schema.entity("User").expect("User");
    assert!(user.unreadable_fields.contains("password"));
    assert!(user.uneditable_fields.contains("apiKey"));

    assert_eq!(schema.user.user_name, "mcp-agent");
    assert_eq!(schema.user.user_type.as_deref(), Some("api"));
    assert!(
        schema
            .user
            .from_addresses
            .contains(&"mcp-agent@example.com".to_owned())
    );
    assert_eq!(schema.record_list_max_size, Some(200));
}

#[test]
fn should_refuse_metadata_without_its_parts() {
    let app_user: Value =
        serde_json::from_str(include_str!("../fixtures/app-user.json")).expect("fixture JSON");
    assert!(Schema::from_espo(&json!({"scopes": {}}), &app_user).is_err());
    assert!(
        Schema::from_espo(
            &json!({"entityDefs": {}, "scopes": {}}),
            &json!({"user": {"id": "x"}})
        )
        .is_err()
    );
    let empty = Schema::from_espo(&json!({"entityDefs": {}, "scopes": {}}), &app_user)
        .expect("no entities is still a schema");
    assert_eq!(empty.entities().count(), 0);
}

#[test]
fn should_serialize_types_as_espocrm_names_them() {
    let schema = schema();
    let name = serde_json::to_value(schema.entity("Account").and_then(|a| a.field("name")))
        .expect("serializes");
    assert_eq!(name["type"], "varchar");
    assert_eq!(name["maxLength"], 249);
}

/// EspoCRM 10's features are read from the metadata, per entity type; the version is kept for
/// reports only. The 8.4.2 recording has neither optimistic concurrency on record types nor
/// locks, and its trimmed App/user no version.
#[test]
fn should_read_optimistic_concurrency_locks_and_the_version_from_the_metadata() {
    let recorded = schema();
    let account = recorded.entity("Account").expect("Account");
    assert!(!account.optimistic_concurrency);
    assert!(!account.lockable);
    assert_eq!(recorded.espocrm_version, None);

    // As EspoCRM 10.0.0 reports them (fixtures-10.0/01-metadata-full, 01-app-user-agent).
    let metadata = json!({
        "scopes": {
            "Account": {"entity": true, "object": true, "lockable": true},
            "Contact": {"entity": true, "object": true},
            "Task": {"entity": true, "object": true, "lockable": "yes"}
        },
        "entityDefs": {
            "Account": {"optimisticConcurrencyControl": true, "fields": {"isLocked": {"type": "bool", "readOnly": true}}},
            "Contact": {"fields": {}},
            "Task": {"optimisticConcurrencyControl": true, "fields": {}}
        }
    });
    let app_user = json!({
        "user": {"id": "u1", "userName": "mcp-agent"},
        "acl": {"table": {}, "lockPermission": "no"},
        "settings": {"version": "10.0.0"}
    });
    let ten = Schema::from_espo(&metadata, &app_user).expect("parses");
    let flags = |name: &str| {
        let entity = ten.entity(name).expect("kept");
        (entity.optimistic_concurrency, entity.lockable)
    };
    assert_eq!(flags("Account"), (true, true));
    assert_eq!(flags("Contact"), (false, false));
    assert_eq!(flags("Task"), (true, false), "an odd flag reads as absent");
    assert_eq!(ten.espocrm_version.as_deref(), Some("10.0.0"));
    let restricted = ten.restricted_to(|name| name == "Account");
    assert_eq!(restricted.espocrm_version.as_deref(), Some("10.0.0"));
    assert!(restricted.entity("Account").expect("kept").lockable);
}
