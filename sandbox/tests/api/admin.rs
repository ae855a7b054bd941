//! What an administrator can set up and what each user is told about itself: roles and API
//! users (whose key grants exactly the role's access), `App/user` with its ACL table,
//! `Metadata` filtered by access, global search across entity types, and the Activities
//! routes that need a boolean scope the agent's role does not grant.

use std::collections::BTreeSet;

use espocrm_sandbox::EspoVersion;
use serde_json::{Value, json};

use crate::common::{Api, HTML, Row, Who, id_of, ids, key_set, keys, text};

/// `entityDefs` the agent's metadata holds (recorded).
const AGENT_ENTITY_DEFS: &[&str] = &[
    "Account",
    "ActionHistoryRecord",
    "Attachment",
    "Call",
    "Case",
    "Contact",
    "Email",
    "EmailAccount",
    "EmailFilter",
    "EmailFolder",
    "EmailTemplate",
    "GroupEmailFolder",
    "ImportEml",
    "Lead",
    "Meeting",
    "Note",
    "Notification",
    "Opportunity",
    "Preferences",
    "Reminder",
    "Target",
    "Task",
    "Team",
    "User",
];

/// `entityDefs` the read-only user's metadata holds (recorded).
const LIMITED_ENTITY_DEFS: &[&str] = &[
    "Account",
    "ActionHistoryRecord",
    "Attachment",
    "Contact",
    "EmailAccount",
    "EmailFilter",
    "EmailFolder",
    "GroupEmailFolder",
    "ImportEml",
    "Note",
    "Notification",
    "Preferences",
    "Reminder",
    "Target",
    "Team",
    "User",
];

const METADATA_KEYS: &[&str] = &[
    "app",
    "clientDefs",
    "dashlets",
    "entityAcl",
    "entityDefs",
    "fields",
    "integrations",
    "scopes",
    "streamDefs",
    "themes",
];

fn levels(create: &str, read: &str, edit: &str, delete: &str, stream: &str) -> Value {
    json!({"create": create, "read": read, "edit": edit, "delete": delete, "stream": stream})
}

#[tokio::test]
async fn should_create_role_and_api_user_with_its_access_200() {
    let api = Api::start().await;
    let role = api
        .post(
            "Role",
            &json!({"name": "Lead Desk", "data": {
                "Account": levels("no", "all", "no", "no", "no"),
                "Lead": levels("yes", "all", "all", "no", "no")
            }}),
        )
        .admin()
        .send()
        .await
        .ok_json();
    let role_id = role["id"].as_str().expect("a role id").to_owned();
    assert_eq!(role["name"], json!("Lead Desk"));

    let users_before = api.sandbox.count("User");
    let user = api
        .post(
            "User",
            &json!({"userName": "lead-desk-bot", "type": "api", "authMethod": "ApiKey",
                    "rolesIds": [role_id]}),
        )
        .admin()
        .send()
        .await
        .ok_json();
    assert_eq!(user["userName"], json!("lead-desk-bot"));
    assert_eq!(user["type"], json!("api"));
    let key = user["apiKey"].as_str().expect("the new key").to_owned();
    assert!(!key.is_empty());
    assert_eq!(api.sandbox.count("User"), users_before + 1);
    let bot = Who::ApiKey(key);

    let me = api.get("App/user").who(bot.clone()).send().await.ok_json();
    assert_eq!(me["user"]["userName"], json!("lead-desk-bot"));
    assert_eq!(me["acl"]["table"]["Lead"]["create"], json!("yes"));
    assert_eq!(me["acl"]["table"]["Account"]["edit"], json!("no"));

    api.get("Account?maxSize=1")
        .who(bot.clone())
        .send()
        .await
        .ok_json();
    api.get("Lead?maxSize=1")
        .who(bot.clone())
        .send()
        .await
        .ok_json();
    let lead = api
        .post("Lead", &json!({"lastName": "Botmade", "status": "New"}))
        .who(bot.clone())
        .send()
        .await
        .ok_json();
    let lead_id = lead["id"].as_str().expect("an id");
    api.put(&format!("Lead/{lead_id}"), &json!({"status": "Assigned"}))
        .who(bot.clone())
        .send()
        .await
        .ok_json();
    api.delete(&format!("Lead/{lead_id}"))
        .who(bot.clone())
        .send()
        .await
        .expect_json_error(403, Some("No delete access."));
    api.post("Account", &json!({"name": "Bot Account"}))
        .who(bot.clone())
        .send()
        .await
        .expect_json_error(403, Some("No create access."));
    api.get("Opportunity?maxSize=1")
        .who(bot.clone())
        .send()
        .await
        .expect_json_error(403, Some("No read access."));
    assert!(api.sandbox.record("Lead", lead_id).is_some());
}

#[tokio::test]
async fn should_create_api_user_without_roles_with_no_access_403() {
    let api = Api::start().await;
    let user = api
        .post("User", &json!({"userName": "idle-bot", "type": "api"}))
        .admin()
        .send()
        .await
        .ok_json();
    let key = user["apiKey"].as_str().expect("the new key").to_owned();
    let bot = Who::ApiKey(key);
    let me = api.get("App/user").who(bot.clone()).send().await.ok_json();
    assert_eq!(me["user"]["userName"], json!("idle-bot"));
    assert_eq!(me["user"]["type"], json!("api"));
    for path in ["Account?maxSize=1", "Lead?maxSize=1"] {
        api.get(path)
            .who(bot.clone())
            .send()
            .await
            .expect_json_error(403, Some("No read access."));
    }
    // Another user's key is not this one's.
    api.get("Account?maxSize=1").send().await.ok_json();
}

#[tokio::test]
async fn should_refuse_user_and_role_creation_to_non_admin_403() {
    let api = Api::start().await;
    let before = api.sandbox.count("User");
    api.post("User", &json!({"userName": "sneaky", "type": "api"}))
        .send()
        .await
        .expect_json_error(403, Some("No create access."));
    api.post("User", &json!({"userName": "sneaky", "type": "api"}))
        .limited()
        .send()
        .await
        .expect_json_error(403, Some("No create access."));
    api.post("Role", &json!({"name": "Sneaky", "data": {}}))
        .send()
        .await
        .expect_json_error(403, Some("No create access."));
    assert_eq!(api.sandbox.count("User"), before);
}

#[tokio::test]
async fn should_report_the_version_it_answers_as_in_app_user() {
    for (version, release) in [(EspoVersion::V8_4, "8.4.2"), (EspoVersion::V10_0, "10.0.0")] {
        let api = Api::start_version(version).await;
        let me = api.get("App/user").send().await.ok_json();
        assert_eq!(me["settings"]["version"], json!(release), "{version}");
        let admin = api.get("App/user").admin().send().await.ok_json();
        assert_eq!(admin["settings"]["version"], json!(release), "{version}");
    }
}

#[tokio::test]
async fn should_describe_agent_in_app_user_200() {
    let api = Api::start().await;
    let me = api.get("App/user").send().await.ok_json();
    assert_eq!(
        keys(me.as_object().expect("an object")),
        key_set(&[
            "user",
            "acl",
            "preferences",
            "token",
            "settings",
            "language",
            "appParams"
        ])
    );
    let user = &me["user"];
    assert_eq!(user["userName"], json!("mcp-agent"));
    assert_eq!(user["name"], json!("mcp-agent"));
    assert_eq!(user["lastName"], json!("mcp-agent"));
    assert_eq!(user["type"], json!("api"));
    assert!(user.get("apiKey").is_none());
    assert!(user.get("authMethod").is_none());
    let address = user["emailAddress"].as_str().expect("an address");
    assert_eq!(
        user["emailAddressList"],
        json!([address, "crm@example.com"])
    );
    assert_eq!(user["userEmailAddressList"], json!([address]));
    assert_eq!(me["token"], Value::Null);
    assert_eq!(me["language"], json!("en_US"));
    assert_eq!(me["settings"]["recordListMaxSizeLimit"], json!(200));

    let table = &me["acl"]["table"];
    let full = levels("yes", "all", "all", "all", "all");
    for scope in [
        "Account",
        "Contact",
        "Lead",
        "Opportunity",
        "Task",
        "Meeting",
        "Call",
        "Case",
    ] {
        assert_eq!(table[scope], full, "{scope}");
    }
    // The role as the labs hold it now (10.0's 01-app-user-agent; API-NOTES-10 §0): own e-mails.
    assert_eq!(table["Email"], levels("yes", "own", "own", "no", "own"));
    assert_eq!(
        table["EmailTemplate"],
        levels("no", "all", "no", "no", "all")
    );
    assert_eq!(table["User"], levels("no", "all", "no", "no", "no"));
    assert_eq!(table["Stream"], json!(true));
    assert_eq!(me["acl"]["assignmentPermission"], json!("all"));
    assert_eq!(me["acl"]["exportPermission"], json!("no"));
}

#[tokio::test]
async fn should_describe_limited_user_in_app_user_200() {
    let api = Api::start().await;
    let me = api.get("App/user").limited().send().await.ok_json();
    let user = &me["user"];
    assert_eq!(user["userName"], json!("mcp-readonly"));
    assert_eq!(user["emailAddress"], Value::Null);
    assert_eq!(user["emailAddressList"], json!(["crm@example.com"]));
    assert_eq!(user["userEmailAddressList"], json!([]));
    let table = me["acl"]["table"].as_object().expect("a table");
    let read_only = levels("no", "all", "no", "no", "no");
    assert_eq!(table["Account"], read_only);
    assert_eq!(table["Contact"], read_only);
    for scope in ["Lead", "Opportunity", "Task", "Email", "EmailTemplate"] {
        assert!(!table.contains_key(scope), "{scope} is not granted");
    }
    assert_eq!(table["User"]["read"], json!("own"));
    assert_eq!(me["acl"]["assignmentPermission"], json!("no"));
}

#[tokio::test]
async fn should_filter_metadata_by_access_200() {
    let api = Api::start().await;
    let agent = api.get("Metadata").send().await.ok_json();
    assert_eq!(
        keys(agent.as_object().expect("an object")),
        key_set(METADATA_KEYS)
    );
    let defs = agent["entityDefs"].as_object().expect("entityDefs");
    assert_eq!(keys(defs), key_set(AGENT_ENTITY_DEFS));
    let stage = &agent["entityDefs"]["Opportunity"]["fields"]["stage"];
    assert_eq!(stage["type"], json!("enum"));
    assert_eq!(stage["probabilityMap"]["Proposal"], json!(50));
    assert_eq!(
        agent["scopes"]["Opportunity"]["statusField"],
        json!("stage")
    );

    let limited = api.get("Metadata").limited().send().await.ok_json();
    assert_eq!(
        keys(limited.as_object().expect("an object")),
        key_set(METADATA_KEYS)
    );
    let defs = limited["entityDefs"].as_object().expect("entityDefs");
    assert_eq!(keys(defs), key_set(LIMITED_ENTITY_DEFS));
    assert!(defs.get("Opportunity").is_none());
}

#[tokio::test]
async fn should_give_admin_unfiltered_metadata_200() {
    let api = Api::start().await;
    let admin = api.get("Metadata").admin().send().await.ok_json();
    let admin_keys = keys(admin.as_object().expect("an object"));
    for key in ["recordDefs", "authenticationMethods"] {
        assert!(
            admin_keys.contains(key),
            "admin metadata has {key}: {admin_keys:?}"
        );
    }
    let scopes = admin["scopes"].as_object().expect("scopes");
    for scope in ["Role", "Document", "Opportunity"] {
        assert!(scopes.contains_key(scope), "admin sees the {scope} scope");
    }
}

#[tokio::test]
async fn should_hide_api_users_from_user_list_200() {
    let api = Api::start().await;
    let (total, rows) = api
        .fetch_all(
            "User",
            "select=userName%2Cname%2Ctype%2CisActive%2CemailAddress&orderBy=userName",
        )
        .await;
    assert_eq!(total as usize, rows.len());
    let mut names = Vec::new();
    for row in &rows {
        assert_eq!(
            keys(row),
            key_set(&[
                "id",
                "name",
                "userName",
                "type",
                "isActive",
                "emailAddress",
                "createdById"
            ])
        );
        assert_ne!(text(row, "type"), Some("api"), "{row:?}");
        names.push(text(row, "userName").expect("a user name").to_owned());
    }
    assert!(names.contains(&"admin".to_owned()));
    assert!(!names.contains(&"mcp-agent".to_owned()));
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "ordered by userName");
    let api_users = api.sandbox.find("User", "type", &json!("api")).len();
    assert_eq!(rows.len() + api_users, api.sandbox.count("User"));
}

#[tokio::test]
async fn should_search_globally_across_types_200() {
    let api = Api::start().await;
    let page = api
        .get("GlobalSearch?q=Apex&maxSize=200")
        .send()
        .await
        .ok_json();
    assert_eq!(page["total"], json!(-1));
    let items: Vec<Row> = page["list"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|v| v.as_object().expect("an object").clone())
        .collect();
    for item in &items {
        assert_eq!(keys(item), key_set(&["id", "name", "_scope"]));
        let name = text(item, "name").expect("a name").to_lowercase();
        assert!(
            name.split_whitespace().any(|w| w.starts_with("apex")),
            "{name}"
        );
    }
    let scopes: BTreeSet<&str> = items.iter().filter_map(|i| text(i, "_scope")).collect();
    assert!(
        scopes.contains("Account") && scopes.contains("Opportunity"),
        "{scopes:?}"
    );
    // Every Apex account is found.
    let (_, accounts) = api.fetch_all("Account", "select=name").await;
    let apex_accounts: BTreeSet<String> = accounts
        .iter()
        .filter(|a| text(a, "name").is_some_and(|n| n.starts_with("Apex")))
        .map(id_of)
        .collect();
    let found: Vec<Row> = items
        .iter()
        .filter(|i| text(i, "_scope") == Some("Account"))
        .cloned()
        .collect();
    assert_eq!(ids(&found), apex_accounts);

    let page = api
        .get("GlobalSearch?q=Apex&maxSize=5")
        .send()
        .await
        .ok_json();
    assert_eq!(page["list"].as_array().expect("a list").len(), 5);

    // The read-only key only finds what it may read.
    let limited = api
        .get("GlobalSearch?q=Apex&maxSize=200")
        .limited()
        .send()
        .await
        .ok_json();
    for item in limited["list"].as_array().expect("a list") {
        assert!(
            matches!(item["_scope"].as_str(), Some("Account" | "Contact")),
            "{item}"
        );
    }
}

#[tokio::test]
async fn should_refuse_activities_to_agent_403() {
    let api = Api::start().await;
    let apex = api.find_one("Account", "name", "Apex Health Co.");
    for kind in ["activities", "history"] {
        api.get(&format!("Activities/Account/{apex}/{kind}?maxSize=5"))
            .send()
            .await
            .expect_html_error(403, Some(""));
    }
}

#[tokio::test]
async fn should_list_activities_to_admin_200() {
    let api = Api::start().await;
    let (_, meetings) = api
        .fetch_all("Meeting", "select=status,parentType,parentId")
        .await;
    let (_, calls) = api
        .fetch_all("Call", "select=status,parentType,parentId")
        .await;
    let planned =
        |r: &&Row| text(r, "status") == Some("Planned") && text(r, "parentType") == Some("Account");
    let account = meetings
        .iter()
        .chain(calls.iter())
        .find(planned)
        .and_then(|r| text(r, "parentId"))
        .expect("a planned activity under an account")
        .to_owned();
    let of_account = |r: &&Row| text(r, "parentId") == Some(account.as_str());
    let expected_upcoming: BTreeSet<String> = meetings
        .iter()
        .chain(calls.iter())
        .filter(planned)
        .filter(of_account)
        .map(|r| id_of(r))
        .collect();
    let expected_history: BTreeSet<String> = meetings
        .iter()
        .chain(calls.iter())
        .filter(|r| matches!(text(r, "status"), Some("Held" | "Not Held")))
        .filter(of_account)
        .map(|r| id_of(r))
        .collect();

    let upcoming = api
        .get(&format!(
            "Activities/Account/{account}/activities?maxSize=200"
        ))
        .admin()
        .send()
        .await
        .ok_json();
    assert_eq!(upcoming["total"], json!(expected_upcoming.len()));
    let rows: Vec<Row> = upcoming["list"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|v| v.as_object().expect("an object").clone())
        .collect();
    assert_eq!(ids(&rows), expected_upcoming);
    for row in &rows {
        assert!(matches!(text(row, "_scope"), Some("Meeting" | "Call")));
        assert_eq!(text(row, "status"), Some("Planned"));
        if text(row, "_scope") == Some("Meeting") {
            assert_eq!(
                keys(row),
                key_set(&[
                    "id",
                    "name",
                    "deleted",
                    "status",
                    "dateStart",
                    "dateEnd",
                    "isAllDay",
                    "duration",
                    "createdAt",
                    "dateStartDate",
                    "dateEndDate",
                    "parentId",
                    "parentType",
                    "assignedUserId",
                    "assignedUserName",
                    "isFollowed",
                    "_scope"
                ])
            );
        }
    }
    let history = api
        .get(&format!("Activities/Account/{account}/history?maxSize=200"))
        .admin()
        .send()
        .await;
    let history = history.ok_json();
    assert_eq!(history["total"], json!(expected_history.len()));
    let rows: Vec<Row> = history["list"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|v| v.as_object().expect("an object").clone())
        .collect();
    assert_eq!(ids(&rows), expected_history);

    // Errors of this route are text/html.
    let r = api
        .get("Activities/Account/doesnotexist00001/activities")
        .send()
        .await;
    assert_eq!(r.content_type(), HTML);
}
