//! The eight write tools (`create`, `update`, `delete`, `link`, `unlink`, `add_note`,
//! `update_kanban`, `draft_email`) against the sandbox: every success path checked in the
//! sandbox's own store afterwards, every refusal checked for its code and for the absence of any
//! write request upstream, the two-step delete (preview, confirmation, expiry, races), and the
//! email safety rules (nothing is ever sent; drafts stay drafts). After each error the server
//! must still answer a normal call.

use std::collections::BTreeMap;
use std::time::Duration;

use espocrm_sandbox::{Sandbox, Stats};
use serde_json::{Map, Value, json};

use crate::common::{
    Direct, Era, Server, confirm_concurrently, email_create_only, let_time_pass, number, sandbox,
};

/// A well-formed id no record has.
const MISSING_ID: &str = "0123456789abcdef0";

/// The API user's own address (the sandbox's `mcp-agent`).
const AGENT_ADDRESS: &str = "mcp-agent@example.com";

type Object = Map<String, Value>;

async fn start(sandbox: &Sandbox) -> Server {
    Server::unthrottled(sandbox).await
}

/// The requests that could change data (every method but GET), by route.
fn writes(stats: &Stats) -> BTreeMap<String, u64> {
    stats
        .requests_by_route
        .iter()
        .filter(|(route, _)| !route.starts_with("GET "))
        .map(|(route, n)| (route.clone(), *n))
        .collect()
}

/// How many requests took exactly `route` (e.g. `"DELETE Account/{id}"`).
fn hits(sandbox: &Sandbox, route: &str) -> u64 {
    sandbox
        .stats()
        .requests_by_route
        .get(route)
        .copied()
        .unwrap_or(0)
}

/// Calls `tool`, which must fail with `code` without any write request reaching EspoCRM;
/// then checks that the server still answers a normal call. Returns the error object.
async fn refused(
    server: &Server,
    sandbox: &Sandbox,
    tool: &str,
    arguments: Value,
    code: &str,
) -> Object {
    let what = format!("{tool} {arguments}");
    let before = writes(&sandbox.stats());
    let error = server.err_code(tool, arguments, code).await;
    let after = writes(&sandbox.stats());
    assert_eq!(
        before, after,
        "{what}: a refused write must not send any write request to EspoCRM"
    );
    server.assert_still_serving().await;
    error
}

fn text<'a>(error: &'a Object, key: &str) -> &'a str {
    error[key].as_str().unwrap_or_default()
}

/// The attributes `details.problems` names, in order.
fn problem_attributes(error: &Object) -> Vec<String> {
    error
        .get("details")
        .and_then(|d| d["problems"].as_array())
        .map(|problems| {
            problems
                .iter()
                .filter_map(|p| p["attribute"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn id_of(record: &Value) -> String {
    record["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {record}"))
        .to_owned()
}

/// The stored record, which must exist.
fn stored(sandbox: &Sandbox, entity: &str, id: &str) -> Object {
    sandbox
        .record(entity, id)
        .unwrap_or_else(|| panic!("{entity} {id} is not in the sandbox"))
}

/// The id of the sandbox user `mcp-agent` (the API user).
fn agent_user_id(sandbox: &Sandbox) -> String {
    let ids = sandbox.find("User", "userName", &json!("mcp-agent"));
    assert_eq!(ids.len(), 1, "one mcp-agent user: {ids:?}");
    ids[0].clone()
}

/// The ids in one kanban group, as the API user sees them (its own order first).
async fn kanban_group(direct: &Direct<'_>, entity: &str, group: &str) -> Vec<String> {
    let board = direct
        .get(
            &format!("Kanban/{entity}"),
            &[("maxSize", "200".to_owned())],
        )
        .await;
    let groups = board["groups"]
        .as_array()
        .unwrap_or_else(|| panic!("no groups in {board}"));
    let group = groups
        .iter()
        .find(|g| g["name"] == group)
        .unwrap_or_else(|| panic!("no group {group} in {board}"));
    group["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The ids linked to `entity`/`id` through `link`, read from the sandbox directly.
async fn related_ids(direct: &Direct<'_>, entity: &str, id: &str, link: &str) -> Vec<String> {
    direct
        .all_related(entity, id, link)
        .await
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

/// A draft made through `draft_email`; returns its id.
async fn draft(server: &Server, sandbox: &Sandbox) -> String {
    let reply = server
        .ok(
            "draft_email",
            json!({"to": ["someone@example.org"], "subject": "A draft", "body": "Hello"}),
        )
        .await;
    let id = id_of(&reply);
    assert_eq!(stored(sandbox, "Email", &id)["status"], "Draft");
    id
}

// ------------------------------------------------------------------------------------------
// Success paths
// ------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_stores_accounts_contacts_opportunities_and_tasks_as_given() {
    let sandbox = sandbox().await;
    let server = start(&sandbox).await;
    let agent = agent_user_id(&sandbox);

    let accounts = sandbox.count("Account");
    let account = server
        .ok(
            "create",
            json!({"entityType": "Account", "data": {
                "name": "Writetest Lighthouse GmbH",
                "type": "Customer",
                "industry": "Software",
                "website": "https://lighthouse.example.com",
                "billingAddressCity": "Bremen",
                "description": "Created by the write tests"
            }}),
        )
        .await;
    let account_id = id_of(&account);
    assert_eq!(
        account["url"],
        format!("{}/#Account/view/{account_id}", sandbox.url)
    );
    assert_eq!(sandbox.count("Account"), accounts + 1);
    let record = stored(&sandbox, "Account", &account_id);
    assert_eq!(record["name"], "Writetest Lighthouse GmbH");
    assert_eq!(record["type"], "Customer");
    assert_eq!(record["industry"], "Software");
    assert_eq!(record["website"], "https://lighthouse.example.com");
    assert_eq!(record["billingAddressCity"], "Bremen");
    assert_eq!(record["description"], "Created by the write tests");

    let contact = server
        .ok(
            "create",
            json!({"entityType": "Contact", "data": {
                "firstName": "Wilhelmina",
                "lastName": "Writetest",
                "accountId": account_id,
                "emailAddress": "wilhelmina.writetest@example.net",
                "title": "Buyer"
            }}),
        )
        .await;
    let contact_id = id_of(&contact);
    let record = stored(&sandbox, "Contact", &contact_id);
    assert_eq!(record["firstName"], "Wilhelmina");
    assert_eq!(record["lastName"], "Writetest");
    assert_eq!(record["accountId"], account_id.as_str());
    assert_eq!(record["emailAddress"], "wilhelmina.writetest@example.net");
    // accountId also relates the contact to the account's contacts.
    let related = Direct::new(&sandbox)
        .all_related("Account", &account_id, "contacts")
        .await;
    assert!(
        related.iter().any(|c| c["id"] == contact_id.as_str()),
        "{related:?}"
    );

    let opportunity = server
        .ok(
            "create",
            json!({"entityType": "Opportunity", "data": {
                "name": "Writetest Lighthouse renewal",
                "amount": 12345.5,
                "amountCurrency": "USD",
                "closeDate": "2026-12-31",
                "stage": "Proposal",
                "accountId": account_id,
                "contactsIds": [contact_id]
            }}),
        )
        .await;
    let opportunity_id = id_of(&opportunity);
    let record = stored(&sandbox, "Opportunity", &opportunity_id);
    assert_eq!(record["name"], "Writetest Lighthouse renewal");
    assert_eq!(number(&record["amount"]), Some(12345.5), "{record:?}");
    assert_eq!(record["amountCurrency"], "USD");
    assert_eq!(record["closeDate"], "2026-12-31");
    assert_eq!(record["stage"], "Proposal");
    assert_eq!(record["accountId"], account_id.as_str());

    let task = server
        .ok(
            "create",
            json!({"entityType": "Task", "data": {
                "name": "Writetest: call Wilhelmina",
                "assignedUserId": agent,
                "status": "Not Started",
                "priority": "High",
                "dateEnd": "2026-12-01 10:30",
                "parentType": "Account",
                "parentId": account_id
            }}),
        )
        .await;
    let task_id = id_of(&task);
    let record = stored(&sandbox, "Task", &task_id);
    assert_eq!(record["name"], "Writetest: call Wilhelmina");
    assert_eq!(record["assignedUserId"], agent.as_str());
    assert_eq!(record["status"], "Not Started");
    assert_eq!(record["priority"], "High");
    // "YYYY-MM-DD HH:MM" is sent with the seconds added.
    assert_eq!(record["dateEnd"], "2026-12-01 10:30:00");
    assert_eq!(record["parentType"], "Account");
    assert_eq!(record["parentId"], account_id.as_str());

    assert_eq!(sandbox.stats().count("POST Account"), 1);
    assert_eq!(sandbox.stats().count("POST Contact"), 1);
    assert_eq!(sandbox.stats().count("POST Opportunity"), 1);
    assert_eq!(sandbox.stats().count("POST Task"), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_works_on_the_modern_era_too() {
    let sandbox = sandbox().await;
    let server = Server::builder(&sandbox).era(Era::Modern).start().await;
    let reply = server
        .ok(
            "create",
            json!({"entityType": "Account", "data": {"name": "Writetest Modern Era AB"}}),
        )
        .await;
    let id = id_of(&reply);
    assert_eq!(
        stored(&sandbox, "Account", &id)["name"],
        "Writetest Modern Era AB"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_changes_only_the_given_fields() {
    let sandbox = sandbox().await;
    let direct = Direct::new(&sandbox);
    let id = direct
        .create(
            "Account",
            json!({
                "name": "Writetest Unchanged Oy",
                "type": "Customer",
                "industry": "Retail",
                "website": "https://unchanged.example.com",
                "description": "before",
                "billingAddressCity": "Turku"
            }),
        )
        .await;
    let before = stored(&sandbox, "Account", &id);
    let server = start(&sandbox).await;
    let reply = server
        .ok(
            "update",
            json!({"entityType": "Account", "id": id, "data": {
                "type": "Partner",
                "description": "after"
            }}),
        )
        .await;
    assert_eq!(id_of(&reply), id);
    assert_eq!(reply["type"], "Partner");
    let after = stored(&sandbox, "Account", &id);
    assert_eq!(after["type"], "Partner");
    assert_eq!(after["description"], "after");
    for key in [
        "name",
        "industry",
        "website",
        "billingAddressCity",
        "createdAt",
    ] {
        assert_eq!(after[key], before[key], "{key} changed");
    }
    let allowed = [
        "type",
        "description",
        "modifiedAt",
        "modifiedById",
        "modifiedByName",
        "versionNumber",
    ];
    for key in before.keys().chain(after.keys()) {
        if !allowed.contains(&key.as_str()) {
            assert_eq!(
                before.get(key),
                after.get(key),
                "the update changed {key}, which it was not given"
            );
        }
    }
    assert_eq!(hits(&sandbox, "PUT Account/{id}"), 1);

    // An Opportunity's stage: only the stage (and what EspoCRM derives from it) changes.
    let opportunity = direct
        .create(
            "Opportunity",
            json!({"name": "Writetest stage move", "amount": 500, "closeDate": "2026-10-01", "stage": "Prospecting"}),
        )
        .await;
    server
        .ok(
            "update",
            json!({"entityType": "Opportunity", "id": opportunity, "data": {"closeDate": "2027-01-15"}}),
        )
        .await;
    let record = stored(&sandbox, "Opportunity", &opportunity);
    assert_eq!(record["closeDate"], "2027-01-15");
    assert_eq!(record["stage"], "Prospecting");
    assert_eq!(number(&record["amount"]), Some(500.0));
    assert_eq!(record["name"], "Writetest stage move");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_and_unlink_account_contacts() {
    let sandbox = sandbox().await;
    let direct = Direct::new(&sandbox);
    let account = direct
        .create("Account", json!({"name": "Writetest Linkage Ltd"}))
        .await;
    let mut contacts = Vec::new();
    for last in ["Linkone", "Linktwo", "Linkthree"] {
        contacts.push(
            direct
                .create(
                    "Contact",
                    json!({"firstName": "Writetest", "lastName": last}),
                )
                .await,
        );
    }
    let server = start(&sandbox).await;
    let linked_ids = |list: &Value| -> Vec<String> {
        list["list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(
        related_ids(&direct, "Account", &account, "contacts")
            .await
            .is_empty()
    );

    // One contact by foreignId.
    let reply = server
        .ok(
            "link",
            json!({"entityType": "Account", "id": account, "link": "contacts", "foreignId": contacts[0]}),
        )
        .await;
    assert_eq!(reply["status"], "linked");
    assert_eq!(reply["foreignIds"], json!([contacts[0]]));
    assert_eq!(
        related_ids(&direct, "Account", &account, "contacts").await,
        vec![contacts[0].clone()]
    );
    // The other side sees it too.
    let accounts_of_contact = server
        .ok(
            "get_related",
            json!({"entityType": "Contact", "id": contacts[0], "link": "accounts"}),
        )
        .await;
    assert_eq!(linked_ids(&accounts_of_contact), vec![account.clone()]);
    let contacts_of_account = server
        .ok(
            "get_related",
            json!({"entityType": "Account", "id": account, "link": "contacts"}),
        )
        .await;
    assert_eq!(linked_ids(&contacts_of_account), vec![contacts[0].clone()]);

    // Two more by foreignIds.
    server
        .ok(
            "link",
            json!({"entityType": "Account", "id": account, "link": "contacts", "foreignIds": [contacts[1], contacts[2]]}),
        )
        .await;
    let mut now = related_ids(&direct, "Account", &account, "contacts").await;
    now.sort();
    let mut all = contacts.clone();
    all.sort();
    assert_eq!(now, all);
    assert_eq!(hits(&sandbox, "POST Account/{id}/contacts"), 2);

    // Unlink one, then two; the records themselves stay.
    let reply = server
        .ok(
            "unlink",
            json!({"entityType": "Account", "id": account, "link": "contacts", "foreignId": contacts[0]}),
        )
        .await;
    assert_eq!(reply["status"], "unlinked");
    let mut now = related_ids(&direct, "Account", &account, "contacts").await;
    now.sort();
    let mut rest = contacts[1..].to_vec();
    rest.sort();
    assert_eq!(now, rest);
    let accounts_of_contact = server
        .ok(
            "get_related",
            json!({"entityType": "Contact", "id": contacts[0], "link": "accounts"}),
        )
        .await;
    assert!(linked_ids(&accounts_of_contact).is_empty());
    server
        .ok(
            "unlink",
            json!({"entityType": "Account", "id": account, "link": "contacts", "foreignIds": [contacts[1], contacts[2]]}),
        )
        .await;
    assert!(
        related_ids(&direct, "Account", &account, "contacts")
            .await
            .is_empty()
    );
    assert_eq!(hits(&sandbox, "DELETE Account/{id}/contacts"), 2);
    for contact in &contacts {
        assert!(sandbox.record("Contact", contact).is_some());
    }
    assert!(sandbox.record("Account", &account).is_some());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_note_posts_to_the_record_stream() {
    let sandbox = sandbox().await;
    let direct = Direct::new(&sandbox);
    let account = direct
        .create("Account", json!({"name": "Writetest Noted Inc"}))
        .await;
    let opportunity = direct
        .create(
            "Opportunity",
            json!({"name": "Writetest noted deal", "amount": 10, "closeDate": "2026-12-01"}),
        )
        .await;
    let server = start(&sandbox).await;
    let notes = sandbox.count("Note");
    for (entity, id, text) in [
        (
            "Account",
            &account,
            "Called them: they want a demo next week.",
        ),
        ("Opportunity", &opportunity, "Budget confirmed."),
    ] {
        let reply = server
            .ok(
                "add_note",
                json!({"entityType": entity, "id": id, "text": text}),
            )
            .await;
        let note_id = id_of(&reply);
        let note = stored(&sandbox, "Note", &note_id);
        assert_eq!(note["type"], "Post", "{note:?}");
        assert_eq!(note["parentType"], entity);
        assert_eq!(note["parentId"], id.as_str());
        assert_eq!(note["post"], text);
    }
    assert_eq!(sandbox.count("Note"), notes + 2);
    assert_eq!(hits(&sandbox, "POST Note"), 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_kanban_moves_between_and_within_groups() {
    let sandbox = sandbox().await;
    let direct = Direct::new(&sandbox);
    let mut prospects: Vec<Object> = direct
        .all("Opportunity")
        .await
        .into_iter()
        .filter(|o| o["stage"] == "Prospecting")
        .collect();
    assert!(prospects.len() >= 2, "the demo data has prospects");
    prospects.sort_by(|a, b| {
        b["createdAt"]
            .as_str()
            .unwrap_or_default()
            .cmp(a["createdAt"].as_str().unwrap_or_default())
    });
    let newest = prospects[0]["id"].as_str().unwrap().to_owned();
    let oldest = prospects.last().unwrap()["id"].as_str().unwrap().to_owned();
    let server = start(&sandbox).await;

    // A move to another column is an update of the stage.
    let reply = server
        .ok(
            "update_kanban",
            json!({"entityType": "Opportunity", "id": newest, "group": "Negotiation"}),
        )
        .await;
    assert_eq!(reply["field"], "stage");
    assert_eq!(reply["group"], "Negotiation");
    assert_eq!(
        stored(&sandbox, "Opportunity", &newest)["stage"],
        "Negotiation"
    );
    assert_eq!(hits(&sandbox, "PUT Opportunity/{id}"), 1);
    assert_eq!(hits(&sandbox, "PUT Kanban/order"), 0);

    server
        .ok(
            "update_kanban",
            json!({"entityType": "Opportunity", "id": oldest, "group": "Negotiation"}),
        )
        .await;
    assert_eq!(
        stored(&sandbox, "Opportunity", &oldest)["stage"],
        "Negotiation"
    );
    let group = kanban_group(&direct, "Opportunity", "Negotiation").await;
    let at = group.iter().position(|i| *i == oldest);
    assert!(
        at.is_some_and(|p| p > 0),
        "the oldest card is not on top by default: {group:?}"
    );

    // Position 0: on top of the column.
    server
        .ok(
            "update_kanban",
            json!({"entityType": "Opportunity", "id": oldest, "group": "Negotiation", "position": 0}),
        )
        .await;
    let group = kanban_group(&direct, "Opportunity", "Negotiation").await;
    assert_eq!(group.first(), Some(&oldest), "{group:?}");
    assert_eq!(hits(&sandbox, "PUT Kanban/order"), 1);

    // Position 1: right below it.
    server
        .ok(
            "update_kanban",
            json!({"entityType": "Opportunity", "id": newest, "group": "Negotiation", "position": 1}),
        )
        .await;
    let group = kanban_group(&direct, "Opportunity", "Negotiation").await;
    assert_eq!(&group[..2], &[oldest.clone(), newest.clone()], "{group:?}");
    assert_eq!(
        stored(&sandbox, "Opportunity", &newest)["stage"],
        "Negotiation"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draft_email_stores_a_draft_from_the_api_users_address() {
    let sandbox = sandbox().await;
    let server = start(&sandbox).await;
    let emails = sandbox.count("Email");
    let reply = server
        .ok(
            "draft_email",
            json!({
                "to": ["anna@example.org", "ben@example.org"],
                "cc": ["carla@example.org"],
                "bcc": ["dora@example.org", " emil@example.org "],
                "subject": "Writetest proposal",
                "body": "<p>Here it is.</p>"
            }),
        )
        .await;
    let id = id_of(&reply);
    assert_eq!(reply["status"], "Draft");
    assert_eq!(reply["from"], AGENT_ADDRESS);
    assert_eq!(sandbox.count("Email"), emails + 1);
    let email = stored(&sandbox, "Email", &id);
    assert_eq!(email["status"], "Draft");
    assert_eq!(email["from"], AGENT_ADDRESS);
    assert_eq!(email["to"], "anna@example.org;ben@example.org");
    assert_eq!(email["cc"], "carla@example.org");
    assert_eq!(email["bcc"], "dora@example.org;emil@example.org");
    assert_eq!(email["subject"], "Writetest proposal");
    assert_eq!(email["body"], "<p>Here it is.</p>");
    assert_eq!(hits(&sandbox, "POST Email"), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draft_email_renders_a_template_for_a_contact() {
    let sandbox = sandbox().await;
    let contacts = Direct::new(&sandbox).all("Contact").await;
    let contact = contacts
        .iter()
        .find(|c| {
            c["firstName"].as_str().is_some_and(|f| !f.is_empty())
                && c["emailAddress"].as_str().is_some_and(|e| e.contains('@'))
        })
        .expect("a contact with a first name and an address");
    let contact_id = contact["id"].as_str().unwrap().to_owned();
    let first_name = contact["firstName"].as_str().unwrap().to_owned();
    let address = contact["emailAddress"].as_str().unwrap().to_owned();
    let templates = sandbox.find("EmailTemplate", "name", &json!("Welcome new contact"));
    assert_eq!(templates.len(), 1, "{templates:?}");
    let server = start(&sandbox).await;
    let reply = server
        .ok(
            "draft_email",
            json!({
                "to": [address],
                "templateId": templates[0],
                "parentType": "Contact",
                "parentId": contact_id
            }),
        )
        .await;
    let id = id_of(&reply);
    assert_eq!(reply["status"], "Draft");
    let email = stored(&sandbox, "Email", &id);
    assert_eq!(email["status"], "Draft");
    let subject = email["subject"].as_str().unwrap_or_default();
    assert!(
        subject.contains(&first_name),
        "subject {subject:?} lacks {first_name}"
    );
    assert!(!subject.contains('{'), "unrendered subject {subject:?}");
    assert_eq!(reply["subject"], subject);
    assert_eq!(email["parentType"], "Contact");
    assert_eq!(email["parentId"], contact_id.as_str());
    assert_eq!(email["to"], address.as_str());
    assert_eq!(email["from"], AGENT_ADDRESS);
    assert_eq!(email["isHtml"], true);
    assert_eq!(hits(&sandbox, "POST EmailTemplate/{id}/prepare"), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draft_email_renders_a_plain_text_template_for_an_account() {
    let sandbox = sandbox().await;
    let account = sandbox.find("Account", "name", &json!("Apex Health Co."))[0].clone();
    let templates = sandbox.find("EmailTemplate", "name", &json!("Follow-up after meeting"));
    assert_eq!(templates.len(), 1, "{templates:?}");
    let server = start(&sandbox).await;
    let reply = server
        .ok(
            "draft_email",
            json!({
                "to": ["buyer@example.org"],
                "templateId": templates[0],
                "parentType": "Account",
                "parentId": account
            }),
        )
        .await;
    let email = stored(&sandbox, "Email", &id_of(&reply));
    assert_eq!(email["status"], "Draft");
    assert_eq!(
        email["subject"],
        "Follow-up: our meeting with Apex Health Co."
    );
    assert_eq!(email["isHtml"], false, "the template's format is kept");
    assert!(
        email["body"]
            .as_str()
            .is_some_and(|b| b.contains("mcp-agent")),
        "{{User.name}} is rendered: {:?}",
        email["body"]
    );
    // A subject given explicitly wins over the template's.
    let reply = server
        .ok(
            "draft_email",
            json!({
                "to": ["buyer@example.org"],
                "templateId": templates[0],
                "subject": "My own subject",
                "parentType": "Account",
                "parentId": account
            }),
        )
        .await;
    assert_eq!(
        stored(&sandbox, "Email", &id_of(&reply))["subject"],
        "My own subject"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draft_email_about_a_missing_parent_names_parent_id() {
    let sandbox = sandbox().await;
    let server = start(&sandbox).await;
    let emails = sandbox.count("Email");
    let error = server
        .err_code(
            "draft_email",
            json!({"to": ["ok@example.org"], "subject": "x", "parentType": "Account", "parentId": MISSING_ID}),
            "INVALID_FIELD_VALUE",
        )
        .await;
    assert_eq!(error["details"]["field"], "parentId", "{error:?}");
    assert_eq!(sandbox.count("Email"), emails);
    server.assert_still_serving().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_to_a_missing_record_names_that_record() {
    let sandbox = sandbox().await;
    let direct = Direct::new(&sandbox);
    let account = sandbox.find("Account", "name", &json!("Apex Health Co."))[0].clone();
    let before = related_ids(&direct, "Account", &account, "contacts").await;
    let server = start(&sandbox).await;
    let error = server
        .err_code(
            "link",
            json!({"entityType": "Account", "id": account, "link": "contacts", "foreignId": MISSING_ID}),
            "RECORD_NOT_FOUND",
        )
        .await;
    assert_eq!(
        related_ids(&direct, "Account", &account, "contacts").await,
        before
    );
    server.assert_still_serving().await;
    // The Account exists and is readable; the error must not say otherwise, and must name the
    // Contact id that does not exist.
    let shown = serde_json::to_string(&error).unwrap();
    assert!(
        shown.contains(MISSING_ID),
        "the error does not name the missing contact {MISSING_ID}: {error:?}"
    );
    let message = text(&error, "message");
    assert!(
        !message.contains(&format!("There is no Account with id \"{account}\"")),
        "the error claims the existing Account is missing: {error:?}"
    );
    server.stop().await;
}

// ------------------------------------------------------------------------------------------
// Refused data
// ------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_read_only_attributes_are_invalid_fields() {
    let sandbox = sandbox().await;
    let server = start(&sandbox).await;
    let accounts = sandbox.count("Account");
    let error = refused(
        &server,
        &sandbox,
        "create",
        json!({"entityType": "Account", "data": {"name": "Writetest X", "nmae": "typo"}}),
        "INVALID_FIELD",
    )
    .await;
    assert_eq!(problem_attributes(&error), ["nmae"], "{error:?}");
    assert!(text(&error, "suggestion").contains("name"), "{error:?}");

    let error = refused(
        &server,
        &sandbox,
        "create",
        json!({"entityType": "Account", "data": {"name": "Writetest X", "createdAt": "2020-01-01 00:00:00"}}),
        "INVALID_FIELD",
    )
    .await;
    assert_eq!(problem_attributes(&error), ["createdAt"], "{error:?}");

    let account = sandbox.find("Account", "name", &json!("Apex Health Co."));
    let error = refused(
        &server,
        &sandbox,
        "create",
        json!({"entityType": "Contact", "data": {"lastName": "Writetest", "accountName": "Apex Health Co."}}),
        "INVALID_FIELD",
    )
    .await;
    assert_eq!(problem_attributes(&error), ["accountName"], "{error:?}");
    assert!(
        text(&error, "suggestion").contains("accountId"),
        "{error:?}"
    );

    // The same on update.
    let error = refused(
        &server,
        &sandbox,
        "update",
        json!({"entityType": "Account", "id": account[0], "data": {"createdAt": "2020-01-01 00:00:00"}}),
        "INVALID_FIELD",
    )
    .await;
    assert_eq!(problem_attributes(&error), ["createdAt"], "{error:?}");
    refused(
        &server,
        &sandbox,
        "update",
        json!({"entityType": "Account", "id": account[0], "data": {"bogusField": 1}}),
        "INVALID_FIELD",
    )
    .await;
    assert_eq!(sandbox.count("Account"), accounts);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_required_fields_are_all_named() {
    let sandbox = sandbox().await;
    let server = start(&sandbox).await;
    let opportunities = sandbox.count("Opportunity");
    let error = refused(
        &server,
        &sandbox,
        "create",
        json!({"entityType": "Opportunity", "data": {"name": "Writetest no amount"}}),
        "MISSING_REQUIRED_FIELD",
    )
    .await;
    let message = text(&error, "message");
    assert!(
        message.contains("amount") && message.contains("closeDate"),
        "{error:?}"
    );
    assert_eq!(
        problem_attributes(&error),
        ["amount", "closeDate"],
        "{error:?}"
    );
    assert_eq!(sandbox.count("Opportunity"), opportunities);

    // Emptying a required field on update, with "" or null.
    let account = sandbox.find("Account", "name", &json!("Apex Health Co."))[0].clone();
    for empty in [json!(""), json!(null), json!("   ")] {
        let error = refused(
            &server,
            &sandbox,
            "update",
            json!({"entityType": "Account", "id": account, "data": {"name": empty}}),
            "MISSING_REQUIRED_FIELD",
        )
        .await;
        assert_eq!(problem_attributes(&error), ["name"], "{error:?}");
    }
    assert_eq!(
        stored(&sandbox, "Account", &account)["name"],
        "Apex Health Co."
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_values_are_invalid_field_values() {
    let sandbox = sandbox().await;
    let server = start(&sandbox).await;
    let agent = agent_user_id(&sandbox);
    let cases: Vec<(&str, Value, &str)> = vec![
        // wrong JSON type
        ("Account", json!({"name": 42}), "name"),
        (
            "Opportunity",
            json!({"name": "W", "amount": "lots", "closeDate": "2026-12-31"}),
            "amount",
        ),
        (
            "Account",
            json!({"name": "W", "type": ["Customer"]}),
            "type",
        ),
        // too long: Account.name has maxLength 249
        ("Account", json!({"name": "W".repeat(250)}), "name"),
        (
            "Account",
            json!({"name": "W", "sicCode": "9".repeat(41)}),
            "sicCode",
        ),
        // dates and date-times
        (
            "Opportunity",
            json!({"name": "W", "amount": 1, "closeDate": "31/12/2026"}),
            "closeDate",
        ),
        (
            "Opportunity",
            json!({"name": "W", "amount": 1, "closeDate": "2026-02-30"}),
            "closeDate",
        ),
        (
            "Task",
            json!({"name": "W", "assignedUserId": agent, "dateEnd": "2026-13-01 10:00:00"}),
            "dateEnd",
        ),
        (
            "Task",
            json!({"name": "W", "assignedUserId": agent, "dateStart": "tomorrow at noon"}),
            "dateStart",
        ),
        // addresses
        (
            "Account",
            json!({"name": "W", "emailAddress": "not-an-email"}),
            "emailAddress",
        ),
        (
            "Account",
            json!({"name": "W", "emailAddress": "a@b@example.com"}),
            "emailAddress",
        ),
        (
            "Account",
            json!({"name": "W", "website": "not a url"}),
            "website",
        ),
        (
            "Account",
            json!({"name": "W", "website": "ftp://files.example.com"}),
            "website",
        ),
        (
            "Account",
            json!({"name": "W", "phoneNumber": "call me maybe"}),
            "phoneNumber",
        ),
    ];
    let counts: Vec<usize> = ["Account", "Opportunity", "Task"]
        .iter()
        .map(|e| sandbox.count(e))
        .collect();
    for (entity, data, attribute) in cases {
        let error = refused(
            &server,
            &sandbox,
            "create",
            json!({"entityType": entity, "data": data}),
            "INVALID_FIELD_VALUE",
        )
        .await;
        assert_eq!(
            problem_attributes(&error),
            [attribute],
            "{entity} {data}: {error:?}"
        );
    }

    // An enum value outside the options: the suggestion lists them.
    let error = refused(
        &server,
        &sandbox,
        "create",
        json!({"entityType": "Account", "data": {"name": "W", "type": "Competitor"}}),
        "INVALID_FIELD_VALUE",
    )
    .await;
    let suggestion = text(&error, "suggestion");
    for option in ["Customer", "Investor", "Partner", "Reseller"] {
        assert!(suggestion.contains(option), "{option} missing: {error:?}");
    }
    let opportunity = sandbox.find("Opportunity", "stage", &json!("Prospecting"))[0].clone();
    let error = refused(
        &server,
        &sandbox,
        "update",
        json!({"entityType": "Opportunity", "id": opportunity, "data": {"stage": "Almost won"}}),
        "INVALID_FIELD_VALUE",
    )
    .await;
    assert!(
        text(&error, "suggestion").contains("Negotiation"),
        "{error:?}"
    );
    assert_eq!(
        stored(&sandbox, "Opportunity", &opportunity)["stage"],
        "Prospecting"
    );
    let after: Vec<usize> = ["Account", "Opportunity", "Task"]
        .iter()
        .map(|e| sandbox.count(e))
        .collect();
    assert_eq!(after, counts);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_id_of_a_missing_record_is_an_invalid_field_value() {
    let sandbox = sandbox().await;
    let server = start(&sandbox).await;
    let contacts = sandbox.count("Contact");
    let error = server
        .err_code(
            "create",
            json!({"entityType": "Contact", "data": {"lastName": "Writetest Orphan", "accountId": MISSING_ID}}),
            "INVALID_FIELD_VALUE",
        )
        .await;
    assert_eq!(error["details"]["field"], "accountId", "{error:?}");
    assert!(text(&error, "message").contains("accountId"), "{error:?}");
    // EspoCRM decided it (403 cannotRelateNonExisting), and created nothing.
    assert_eq!(hits(&sandbox, "POST Contact"), 1);
    assert_eq!(sandbox.count("Contact"), contacts);
    assert!(
        sandbox
            .find("Contact", "lastName", &json!("Writetest Orphan"))
            .is_empty()
    );
    server.assert_still_serving().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_are_reported_then_created_on_request() {
    let sandbox = sandbox().await;
    let existing = sandbox.find("Account", "name", &json!("Apex Health Co."));
    assert_eq!(existing.len(), 1);
    let server = start(&sandbox).await;
    let accounts = sandbox.count("Account");
    for name in ["Apex Health Co.", "APEX HEALTH CO."] {
        let error = server
            .err_code(
                "create",
                json!({"entityType": "Account", "data": {"name": name}}),
                "DUPLICATE_DETECTED",
            )
            .await;
        let duplicates = error["details"]["duplicates"]
            .as_array()
            .unwrap_or_else(|| panic!("no duplicates in {error:?}"));
        assert!(
            duplicates
                .iter()
                .any(|d| d["id"] == existing[0].as_str() && d["name"] == "Apex Health Co."),
            "{error:?}"
        );
        for d in duplicates {
            let keys: Vec<&String> = d.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["id", "name"], "only ids and names: {d}");
        }
        assert_eq!(sandbox.count("Account"), accounts);
        server.assert_still_serving().await;
    }
    let reply = server
        .ok(
            "create",
            json!({"entityType": "Account", "data": {"name": "Apex Health Co."}, "skipDuplicateCheck": true}),
        )
        .await;
    let id = id_of(&reply);
    assert_ne!(id, existing[0]);
    assert_eq!(sandbox.count("Account"), accounts + 1);
    assert_eq!(stored(&sandbox, "Account", &id)["name"], "Apex Health Co.");
    assert_eq!(
        sandbox
            .find("Account", "name", &json!("Apex Health Co."))
            .len(),
        2
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_refuses_unknown_links_and_ambiguous_targets() {
    let sandbox = sandbox().await;
    let account = sandbox.find("Account", "name", &json!("Apex Health Co."))[0].clone();
    let contact = Direct::new(&sandbox).all("Contact").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let server = start(&sandbox).await;
    for tool in ["link", "unlink"] {
        let error = refused(
            &server,
            &sandbox,
            tool,
            json!({"entityType": "Account", "id": account, "link": "bogusLink", "foreignId": contact}),
            "INVALID_LINK",
        )
        .await;
        let suggestion = text(&error, "suggestion");
        for link in ["contacts", "opportunities", "cases"] {
            assert!(suggestion.contains(link), "{link} missing: {error:?}");
        }
        for arguments in [
            json!({"entityType": "Account", "id": account, "link": "contacts", "foreignId": contact, "foreignIds": [contact]}),
            json!({"entityType": "Account", "id": account, "link": "contacts"}),
            json!({"entityType": "Account", "id": account, "link": "contacts", "foreignIds": []}),
        ] {
            refused(&server, &sandbox, tool, arguments, "INVALID_ARGUMENT").await;
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_note_refuses_missing_records_and_types_without_a_stream() {
    let sandbox = sandbox().await;
    let call = Direct::new(&sandbox).all("Call").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let server = start(&sandbox).await;
    let notes = sandbox.count("Note");
    refused(
        &server,
        &sandbox,
        "add_note",
        json!({"entityType": "Account", "id": MISSING_ID, "text": "Hello"}),
        "RECORD_NOT_FOUND",
    )
    .await;
    let error = refused(
        &server,
        &sandbox,
        "add_note",
        json!({"entityType": "Call", "id": call, "text": "Hello"}),
        "INVALID_ARGUMENT",
    )
    .await;
    assert!(text(&error, "message").contains("stream"), "{error:?}");
    assert_eq!(sandbox.count("Note"), notes);
    assert_eq!(hits(&sandbox, "POST Note"), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_kanban_refuses_unknown_groups_and_types_without_status() {
    let sandbox = sandbox().await;
    let opportunity = sandbox.find("Opportunity", "stage", &json!("Prospecting"))[0].clone();
    let account = sandbox.find("Account", "name", &json!("Apex Health Co."))[0].clone();
    let server = start(&sandbox).await;
    let error = refused(
        &server,
        &sandbox,
        "update_kanban",
        json!({"entityType": "Opportunity", "id": opportunity, "group": "Almost won"}),
        "INVALID_FIELD_VALUE",
    )
    .await;
    let suggestion = text(&error, "suggestion");
    for group in [
        "Prospecting",
        "Qualification",
        "Proposal",
        "Negotiation",
        "Closed Won",
    ] {
        assert!(suggestion.contains(group), "{group} missing: {error:?}");
    }
    assert_eq!(
        stored(&sandbox, "Opportunity", &opportunity)["stage"],
        "Prospecting"
    );
    refused(
        &server,
        &sandbox,
        "update_kanban",
        json!({"entityType": "Opportunity", "id": MISSING_ID, "group": "Negotiation"}),
        "RECORD_NOT_FOUND",
    )
    .await;
    let error = server
        .err(
            "update_kanban",
            json!({"entityType": "Account", "id": account, "group": "Customer"}),
        )
        .await;
    assert!(
        ["INVALID_ARGUMENT", "INVALID_ENTITY_TYPE", "INVALID_FIELD"]
            .contains(&text(&error, "code")),
        "{error:?}"
    );
    server.assert_still_serving().await;
    refused(
        &server,
        &sandbox,
        "update_kanban",
        json!({"entityType": "Account", "id": account, "group": "Customer"}),
        text(&error, "code"),
    )
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draft_email_refuses_bad_addresses_and_unknown_templates() {
    let sandbox = sandbox().await;
    let server = start(&sandbox).await;
    let emails = sandbox.count("Email");
    for arguments in [
        json!({"to": ["not an address"], "subject": "x"}),
        json!({"to": ["ok@example.org", "broken@"], "subject": "x"}),
        json!({"to": ["ok@example.org"], "cc": ["a@b;c@d.org"], "subject": "x"}),
        json!({"to": ["ok@example.org"], "bcc": ["Anna <anna@example.org>"], "subject": "x"}),
        json!({"to": ["ok@example.org"], "from": "nobody"}),
    ] {
        refused(
            &server,
            &sandbox,
            "draft_email",
            arguments,
            "INVALID_FIELD_VALUE",
        )
        .await;
    }
    refused(
        &server,
        &sandbox,
        "draft_email",
        json!({"to": [], "subject": "x"}),
        "INVALID_ARGUMENT",
    )
    .await;
    refused(
        &server,
        &sandbox,
        "draft_email",
        json!({"to": ["ok@example.org"], "parentType": "Account"}),
        "INVALID_ARGUMENT",
    )
    .await;
    let error = server
        .err_code(
            "draft_email",
            json!({"to": ["ok@example.org"], "templateId": MISSING_ID}),
            "TEMPLATE_NOT_FOUND",
        )
        .await;
    assert!(
        serde_json::to_string(&error).unwrap().contains(MISSING_ID),
        "{error:?}"
    );
    server.assert_still_serving().await;
    assert_eq!(hits(&sandbox, "POST Email"), 0);
    assert_eq!(sandbox.count("Email"), emails);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draft_email_address_errors_suggest_a_call_that_works() {
    let sandbox = sandbox().await;
    email_create_only(&sandbox).await;
    let server = start(&sandbox).await;
    // get_schema does not serve Email to this API user ...
    server
        .err_code(
            "get_schema",
            json!({"entityType": "Email"}),
            "INVALID_ENTITY_TYPE",
        )
        .await;
    // ... so the suggestion for a malformed address must not send the agent there.
    for (field, arguments) in [
        ("to", json!({"to": ["not an address"], "subject": "x"})),
        (
            "cc",
            json!({"to": ["ok@example.org"], "cc": ["a@b;c@d.org"]}),
        ),
        ("from", json!({"to": ["ok@example.org"], "from": "nobody"})),
    ] {
        let error = refused(
            &server,
            &sandbox,
            "draft_email",
            arguments,
            "INVALID_FIELD_VALUE",
        )
        .await;
        assert_eq!(error["details"]["field"], field, "{error:?}");
        assert!(
            !text(&error, "suggestion").contains("get_schema"),
            "{field}: the suggestion points at get_schema for Email, which is refused: {error:?}"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draft_email_from_a_foreign_address_names_the_setting() {
    let sandbox = sandbox().await;
    let server = start(&sandbox).await;
    let emails = sandbox.count("Email");
    let error = server
        .err_code(
            "draft_email",
            json!({"to": ["ok@example.org"], "subject": "x", "from": "someone@else.example.com"}),
            "INVALID_FIELD_VALUE",
        )
        .await;
    assert!(
        text(&error, "suggestion").contains("ESPOCRM_EMAIL_FROM"),
        "{error:?}"
    );
    assert_eq!(error["details"]["field"], "from", "{error:?}");
    assert_eq!(sandbox.count("Email"), emails, "nothing stored");
    server.assert_still_serving().await;
    server.stop().await;

    // The same address from the setting fails the same way.
    let server = Server::builder(&sandbox)
        .env("ESPOCRM_EMAIL_FROM", "someone@else.example.com")
        .start()
        .await;
    let error = server
        .err_code(
            "draft_email",
            json!({"to": ["ok@example.org"], "subject": "x"}),
            "INVALID_FIELD_VALUE",
        )
        .await;
    assert!(
        text(&error, "suggestion").contains("ESPOCRM_EMAIL_FROM"),
        "{error:?}"
    );
    assert_eq!(sandbox.count("Email"), emails);
    server.stop().await;

    // The API user's own address in the setting works.
    let server = Server::builder(&sandbox)
        .env("ESPOCRM_EMAIL_FROM", AGENT_ADDRESS)
        .start()
        .await;
    let reply = server
        .ok(
            "draft_email",
            json!({"to": ["ok@example.org"], "subject": "From the setting"}),
        )
        .await;
    assert_eq!(reply["from"], AGENT_ADDRESS);
    let email = stored(&sandbox, "Email", &id_of(&reply));
    assert_eq!(email["from"], AGENT_ADDRESS);
    assert_eq!(email["status"], "Draft");
    assert_eq!(sandbox.count("Email"), emails + 1);
    server.stop().await;
}

// ------------------------------------------------------------------------------------------
// Delete in two steps
// ------------------------------------------------------------------------------------------

async fn account_to_delete(sandbox: &Sandbox, name: &str) -> String {
    Direct::new(sandbox)
        .create("Account", json!({"name": name, "type": "Customer"}))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_previews_then_deletes_on_confirmation() {
    let sandbox = sandbox().await;
    let id = account_to_delete(&sandbox, "Writetest Doomed SA").await;
    let server = start(&sandbox).await;
    let preview = server
        .ok(
            "delete",
            json!({"entityType": "Account", "id": id, "confirm": false}),
        )
        .await;
    assert_eq!(preview["status"], "preview");
    assert_eq!(preview["id"], id.as_str());
    assert_eq!(preview["name"], "Writetest Doomed SA");
    assert_eq!(preview["fields"]["name"], "Writetest Doomed SA");
    assert_eq!(preview["fields"]["type"], "Customer");
    assert!(preview["expiresInSecs"].as_u64().is_some_and(|s| s > 0));
    assert!(
        sandbox.record("Account", &id).is_some(),
        "a preview deletes nothing"
    );
    // The preview of a record with related records counts them as EspoCRM does.
    let apex = sandbox.find("Account", "name", &json!("Apex Health Co."))[0].clone();
    let apex_preview = server
        .ok(
            "delete",
            json!({"entityType": "Account", "id": apex, "confirm": false}),
        )
        .await;
    let related = apex_preview["related"]
        .as_object()
        .unwrap_or_else(|| panic!("no related counts in {apex_preview}"));
    assert!(!related.is_empty(), "{apex_preview}");
    let direct = Direct::new(&sandbox);
    for (link, count) in related {
        let actual = direct.all_related("Account", &apex, link).await.len();
        assert_eq!(
            count.as_u64(),
            Some(actual as u64),
            "{link}: {apex_preview}"
        );
    }
    assert!(sandbox.record("Account", &apex).is_some());
    assert_eq!(sandbox.stats().count("DELETE "), 0);

    let deleted = server
        .ok(
            "delete",
            json!({"entityType": "Account", "id": id, "confirm": true}),
        )
        .await;
    assert_eq!(deleted["status"], "deleted");
    assert!(sandbox.record("Account", &id).is_none());
    assert_eq!(hits(&sandbox, "DELETE Account/{id}"), 1);
    assert_eq!(sandbox.stats().count("DELETE "), 1);

    // A preview is used once.
    refused(
        &server,
        &sandbox,
        "delete",
        json!({"entityType": "Account", "id": id, "confirm": true}),
        "DELETE_NOT_CONFIRMED",
    )
    .await;
    assert_eq!(hits(&sandbox, "DELETE Account/{id}"), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_of_a_record_changed_since_its_preview_is_not_confirmed() {
    let sandbox = sandbox().await;
    let id = account_to_delete(&sandbox, "Writetest Previewed As Is SA").await;
    let server = start(&sandbox).await;
    let delete = |confirm: bool| json!({"entityType": "Account", "id": id, "confirm": confirm});
    let preview = server.ok("delete", delete(false)).await;
    assert_eq!(preview["name"], "Writetest Previewed As Is SA");
    Direct::new(&sandbox)
        .update(
            "Account",
            &id,
            json!({"name": "Writetest Renamed Since SA"}),
        )
        .await;

    let error = server
        .err_code("delete", delete(true), "DELETE_NOT_CONFIRMED")
        .await;
    assert_eq!(error["details"]["reason"], "changed", "{error:?}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("changed since it was previewed")),
        "{error:?}"
    );
    assert_eq!(
        sandbox.record("Account", &id).map(|r| r["name"].clone()),
        Some(json!("Writetest Renamed Since SA"))
    );
    assert_eq!(sandbox.stats().count("DELETE "), 0);

    // The preview is used up; a new one shows the record as it is, and confirms.
    let error = server
        .err_code("delete", delete(true), "DELETE_NOT_CONFIRMED")
        .await;
    assert_ne!(error["details"]["reason"], "changed", "{error:?}");
    let preview = server.ok("delete", delete(false)).await;
    assert_eq!(preview["name"], "Writetest Renamed Since SA");
    let deleted = server.ok("delete", delete(true)).await;
    assert_eq!(deleted["status"], "deleted");
    assert!(sandbox.record("Account", &id).is_none());
    assert_eq!(sandbox.stats().count("DELETE "), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_without_a_preview_is_not_confirmed() {
    let sandbox = sandbox().await;
    let id = account_to_delete(&sandbox, "Writetest Survivor BV").await;
    let server = start(&sandbox).await;
    let error = refused(
        &server,
        &sandbox,
        "delete",
        json!({"entityType": "Account", "id": id, "confirm": true}),
        "DELETE_NOT_CONFIRMED",
    )
    .await;
    assert_eq!(error["retryable"], false);
    assert!(sandbox.record("Account", &id).is_some());
    assert_eq!(sandbox.stats().count("DELETE "), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_confirms_only_its_own_record() {
    let sandbox = sandbox().await;
    let a = account_to_delete(&sandbox, "Writetest Previewed AG").await;
    let b = account_to_delete(&sandbox, "Writetest Bystander AG").await;
    let server = start(&sandbox).await;
    server
        .ok(
            "delete",
            json!({"entityType": "Account", "id": a, "confirm": false}),
        )
        .await;
    refused(
        &server,
        &sandbox,
        "delete",
        json!({"entityType": "Account", "id": b, "confirm": true}),
        "DELETE_NOT_CONFIRMED",
    )
    .await;
    assert!(sandbox.record("Account", &b).is_some());
    assert!(sandbox.record("Account", &a).is_some());
    // Another type with the same id is another record too.
    refused(
        &server,
        &sandbox,
        "delete",
        json!({"entityType": "Contact", "id": a, "confirm": true}),
        "DELETE_NOT_CONFIRMED",
    )
    .await;
    // A is still confirmable.
    let deleted = server
        .ok(
            "delete",
            json!({"entityType": "Account", "id": a, "confirm": true}),
        )
        .await;
    assert_eq!(deleted["status"], "deleted");
    assert!(sandbox.record("Account", &a).is_none());
    assert!(sandbox.record("Account", &b).is_some());
    assert_eq!(hits(&sandbox, "DELETE Account/{id}"), 1);
    server.stop().await;
}

/// In process, on tokio's clock: the preview's TTL passes without waiting for it.
#[tokio::test]
async fn an_expired_preview_does_not_confirm() {
    let sandbox = sandbox().await;
    let id = account_to_delete(&sandbox, "Writetest Expired KG").await;
    let server = Server::builder(&sandbox)
        .env("SERVER_DELETE_CONFIRMATION_TTL_SECS", 1)
        .start_in_process()
        .await;
    let preview = server
        .ok(
            "delete",
            json!({"entityType": "Account", "id": id, "confirm": false}),
        )
        .await;
    assert_eq!(preview["status"], "preview");
    assert_eq!(preview["expiresInSecs"], 1, "{preview}");
    let_time_pass(Duration::from_millis(1500)).await;
    let error = refused(
        &server,
        &sandbox,
        "delete",
        json!({"entityType": "Account", "id": id, "confirm": true}),
        "DELETE_NOT_CONFIRMED",
    )
    .await;
    assert!(text(&error, "suggestion").contains("confirm"), "{error:?}");
    assert!(sandbox.record("Account", &id).is_some());
    assert_eq!(sandbox.stats().count("DELETE "), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_confirmations_delete_once() {
    let sandbox = sandbox().await;
    let id = account_to_delete(&sandbox, "Writetest Contested Ltd").await;
    let server = start(&sandbox).await;
    server
        .ok(
            "delete",
            json!({"entityType": "Account", "id": id, "confirm": false}),
        )
        .await;
    let (deleted, refusals) = confirm_concurrently(server.client.peer(), "Account", &id, 16).await;
    assert_eq!((deleted, refusals), (1, 15));
    assert_eq!(hits(&sandbox, "DELETE Account/{id}"), 1);
    assert!(sandbox.record("Account", &id).is_none());
    server.assert_still_serving().await;
    server.stop().await;
}

// ------------------------------------------------------------------------------------------
// No email is ever sent
// ------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_that_could_send_mail_is_written() {
    let sandbox = sandbox().await;
    let server = start(&sandbox).await;
    let draft_id = draft(&server, &sandbox).await;
    let emails = sandbox.count("Email");
    let email_writes = || {
        let stats = sandbox.stats();
        stats.count("POST Email") + stats.count("PUT Email") + stats.count("PATCH Email")
    };
    let before = email_writes();
    let calls = [
        (
            "create",
            json!({"entityType": "Email", "data": {"status": "Sending", "from": AGENT_ADDRESS, "to": "x@example.org", "subject": "s"}}),
        ),
        (
            "create",
            json!({"entityType": "Email", "data": {"status": "Draft", "from": AGENT_ADDRESS, "to": "x@example.org"}}),
        ),
        (
            "create",
            json!({"entityType": "email", "data": {"subject": "s"}}),
        ),
        (
            "update",
            json!({"entityType": "Email", "id": draft_id, "data": {"status": "Sending"}}),
        ),
        (
            "update",
            json!({"entityType": "Email", "id": draft_id, "data": {"status": "Sent"}}),
        ),
        (
            "update_kanban",
            json!({"entityType": "Email", "id": draft_id, "group": "Sent"}),
        ),
        (
            "update_kanban",
            json!({"entityType": "Email", "id": draft_id, "group": "Draft"}),
        ),
        (
            "create",
            json!({"entityType": "MassEmail", "data": {"name": "Blast", "status": "Pending"}}),
        ),
        (
            "update",
            json!({"entityType": "MassEmail", "id": MISSING_ID, "data": {"status": "Pending"}}),
        ),
        (
            "create",
            json!({"entityType": "EmailQueueItem", "data": {"emailAddress": "x@example.org"}}),
        ),
        (
            "update",
            json!({"entityType": "EmailQueueItem", "id": MISSING_ID, "data": {"status": "Pending"}}),
        ),
        (
            "create",
            json!({"entityType": "Campaign", "data": {"name": "Spring", "type": "Email"}}),
        ),
        (
            "update",
            json!({"entityType": "Campaign", "id": MISSING_ID, "data": {"status": "Active"}}),
        ),
        (
            "link",
            json!({"entityType": "Campaign", "id": MISSING_ID, "link": "targetLists", "foreignId": MISSING_ID}),
        ),
        (
            "create",
            json!({"entityType": "InboundEmail", "data": {"name": "Inbox"}}),
        ),
        (
            "create",
            json!({"entityType": "EmailAccount", "data": {"name": "Mine"}}),
        ),
        (
            "update",
            json!({"entityType": "OutboundEmail", "id": MISSING_ID, "data": {"name": "x"}}),
        ),
        (
            "create",
            json!({"entityType": " Email ", "data": {"subject": "padded"}}),
        ),
    ];
    for (tool, arguments) in calls {
        refused(&server, &sandbox, tool, arguments, "SEND_BLOCKED").await;
        assert_eq!(email_writes(), before);
        assert_eq!(stored(&sandbox, "Email", &draft_id)["status"], "Draft");
    }
    assert_eq!(sandbox.count("Email"), emails);
    for entity in ["MassEmail", "EmailQueueItem", "Campaign"] {
        assert_eq!(sandbox.count(entity), 0, "{entity}");
    }
    server.stop().await;
}
