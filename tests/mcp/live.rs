//! The live scenarios: the read and write tools end to end, written once against any EspoCRM
//! given by URL and API key, relying on nothing but what `espomcp seed` creates there.
//!
//! - `against_a_seeded_sandbox` runs them in CI: a sandbox without its demo data, prepared by
//!   the real `espomcp seed`, with the key seed printed — proving the scenarios need no more.
//! - `against_live_espocrm` runs them against a real EspoCRM when `ESPOCRM_LIVE_URL` and
//!   `ESPOCRM_LIVE_API_KEY` are set (`make test-live`; run `espomcp seed` there first), and
//!   otherwise says on stderr that it was skipped and why.
//!
//! Every record the scenarios write has a unique name and is deleted afterwards through the
//! two-step delete, even when a step fails. An email draft is deleted too when the API user
//! may delete emails; the recommended role may not, and the draft's id is then printed.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use espomcp::seed;
use serde_json::{Value, json};

use crate::common::{Era, Server, empty_sandbox, entity_type_names, rows, total};
use crate::seed::run_seed;

/// Where the scenarios run.
struct Upstream {
    url: String,
    api_key: String,
    /// Extra settings for the server (ESPOCRM_EMAIL_FROM on a live instance).
    env: Vec<(String, String)>,
}

#[tokio::test]
async fn against_a_seeded_sandbox() {
    let sandbox = empty_sandbox().await;
    assert_eq!(sandbox.count("Account"), 0, "no data but seed's");
    let run = run_seed(&sandbox, &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let api_key = run.api_key().expect("seed prints the key");
    let upstream = Upstream {
        url: sandbox.url.clone(),
        api_key,
        env: Vec::new(),
    };
    let accounts = sandbox.count("Account");
    scenarios(&upstream).await;
    assert_eq!(
        sandbox.count("Account"),
        accounts,
        "the scenarios cleaned up"
    );
    assert_eq!(sandbox.count("Opportunity"), seed::OPPORTUNITIES.len());
    assert_eq!(sandbox.count("Contact"), seed::CONTACTS.len());
}

#[tokio::test]
async fn against_live_espocrm() {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let (Some(url), Some(api_key)) = (var("ESPOCRM_LIVE_URL"), var("ESPOCRM_LIVE_API_KEY")) else {
        eprintln!(
            "skipped: ESPOCRM_LIVE_URL and ESPOCRM_LIVE_API_KEY are not set (the live scenarios \
             ran against a seeded sandbox instead; `make test-live` runs them on a real EspoCRM)"
        );
        return;
    };
    let mut env = Vec::new();
    if let Some(from) = var("ESPOCRM_LIVE_EMAIL_FROM") {
        env.push(("ESPOCRM_EMAIL_FROM".to_owned(), from));
    }
    if let Some(verify) = var("ESPOCRM_LIVE_TLS_VERIFY") {
        env.push(("ESPOCRM_TLS_VERIFY".to_owned(), verify));
    }
    eprintln!("running the live scenarios against {url}");
    scenarios(&Upstream { url, api_key, env }).await;
}

/// Runs every scenario on one server; whatever happens, deletes what they created.
async fn scenarios(upstream: &Upstream) {
    let server = Arc::new(
        Server::start_at(&upstream.url, &upstream.api_key, Era::Legacy, &upstream.env).await,
    );
    let created: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let outcome = {
        let (server, created) = (server.clone(), created.clone());
        tokio::spawn(async move {
            read_scenario(&server).await;
            write_scenario(&server, &created).await;
        })
        .await
    };
    let leftovers = created.lock().expect("the list").clone();
    for (entity, id) in leftovers.iter().rev() {
        cleanup(&server, entity, id).await;
    }
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
}

/// A name no one else has.
fn unique(what: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("espomcp live test {what} {}-{nanos}", std::process::id())
}

fn id_of(value: &Value) -> String {
    value["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {value}"))
        .to_owned()
}

/// The two-step delete of one record; a record already gone is fine.
async fn cleanup(server: &Server, entity: &str, id: &str) {
    let preview = server
        .call(
            "delete",
            json!({"entityType": entity, "id": id, "confirm": false}),
        )
        .await;
    if preview.is_error == Some(true) {
        let error = crate::common::error_of(&preview, "delete preview");
        if error["code"] != json!("RECORD_NOT_FOUND") {
            eprintln!(
                "left behind: {entity} {id}, the API user may not delete it ({}): delete it by hand",
                error["code"]
            );
        }
        return;
    }
    server
        .ok(
            "delete",
            json!({"entityType": entity, "id": id, "confirm": true}),
        )
        .await;
}

/// The read tools, on what seed made.
async fn read_scenario(server: &Server) {
    let types = server.ok("list_entity_types", json!({})).await;
    let names = entity_type_names(&types);
    for entity in seed::RECORD_TYPES.iter().filter(|t| **t != "EmailTemplate") {
        assert!(names.iter().any(|n| n == entity), "{entity} in {names:?}");
    }

    let schema = server
        .ok("get_schema", json!({"entityType": "Opportunity"}))
        .await;
    let schema_text = schema.to_string();
    for stage in ["Prospecting", "Negotiation", "Closed Won"] {
        assert!(
            schema_text.contains(stage),
            "the stage options list {stage}"
        );
    }

    let marked =
        json!([{"field": "description", "type": "startsWith", "value": seed::DESCRIPTION_MARK}]);
    let page = server
        .ok(
            "search",
            json!({"entityType": "Account", "where": marked, "select": ["name"], "limit": 200}),
        )
        .await;
    assert!(total(&page) >= seed::ACCOUNTS.len() as u64, "{page}");
    let found: Vec<String> = rows(&page)
        .iter()
        .filter_map(|r| r["name"].as_str().map(str::to_owned))
        .collect();
    for (name, ..) in seed::ACCOUNTS {
        assert!(found.iter().any(|f| f == name), "{name} was seeded");
    }

    let (name, ..) = seed::ACCOUNTS[0];
    let account = rows(&page)
        .into_iter()
        .find(|r| r["name"] == json!(name))
        .expect("the first demo account");
    let id = account["id"].as_str().expect("an id").to_owned();
    let record = server
        .ok("get", json!({"entityType": "Account", "id": id}))
        .await;
    assert_eq!(record["name"], json!(name));
    let related = server
        .ok(
            "get_related",
            json!({"entityType": "Account", "id": id, "link": "contacts", "select": ["name"], "limit": 200}),
        )
        .await;
    let contact_names: Vec<String> = rows(&related)
        .iter()
        .filter_map(|r| r["name"].as_str().map(str::to_owned))
        .collect();
    for (first, last, _, account) in seed::CONTACTS {
        if account == 0 {
            let full = format!("{first} {last}");
            assert!(contact_names.contains(&full), "{full} in {contact_names:?}");
        }
    }
}

/// The write tools, each on records of its own, registered for the cleanup as they are made.
async fn write_scenario(server: &Server, created: &Mutex<Vec<(String, String)>>) {
    let remember = |entity: &str, id: &str| {
        created
            .lock()
            .expect("the list")
            .push((entity.to_owned(), id.to_owned()));
    };

    let account_name = unique("account");
    let account = id_of(
        &server
            .ok(
                "create",
                json!({"entityType": "Account", "data": {"name": account_name, "type": "Customer"}}),
            )
            .await,
    );
    remember("Account", &account);
    server
        .ok(
            "update",
            json!({"entityType": "Account", "id": account, "data": {"industry": "Software"}}),
        )
        .await;
    let read = server
        .ok("get", json!({"entityType": "Account", "id": account}))
        .await;
    assert_eq!(read["industry"], json!("Software"));
    assert_eq!(read["name"], json!(account_name));

    let contact = id_of(
        &server
            .ok(
                "create",
                json!({"entityType": "Contact", "data": {"firstName": "Live", "lastName": unique("contact")}}),
            )
            .await,
    );
    remember("Contact", &contact);
    let linked = |page: &Value| rows(page).iter().any(|r| r["id"] == json!(contact));
    let related =
        json!({"entityType": "Account", "id": account, "link": "contacts", "select": ["name"]});
    server
        .ok(
            "link",
            json!({"entityType": "Account", "id": account, "link": "contacts", "foreignId": contact}),
        )
        .await;
    assert!(linked(&server.ok("get_related", related.clone()).await));
    server
        .ok(
            "unlink",
            json!({"entityType": "Account", "id": account, "link": "contacts", "foreignId": contact}),
        )
        .await;
    assert!(!linked(&server.ok("get_related", related).await));

    let note = server
        .ok(
            "add_note",
            json!({"entityType": "Account", "id": account, "text": "Live test note"}),
        )
        .await;
    assert!(note["id"].as_str().is_some(), "{note}");

    let deal = id_of(
        &server
            .ok(
                "create",
                json!({"entityType": "Opportunity", "data": {"name": unique("deal"), "accountId": account,
                       "stage": "Prospecting", "amount": 1234.5, "closeDate": "2031-06-30"}}),
            )
            .await,
    );
    remember("Opportunity", &deal);
    server
        .ok(
            "update_kanban",
            json!({"entityType": "Opportunity", "id": deal, "group": "Negotiation", "position": 0}),
        )
        .await;
    let moved = server
        .ok("get", json!({"entityType": "Opportunity", "id": deal}))
        .await;
    assert_eq!(moved["stage"], json!("Negotiation"));

    let draft = server
        .ok(
            "draft_email",
            json!({"to": ["live-test@example.com"], "subject": unique("draft"), "body": "Not sent.",
                   "parentType": "Account", "parentId": account}),
        )
        .await;
    assert_eq!(draft["status"], json!("Draft"));
    remember("Email", &id_of(&draft));

    // The two-step delete, checked step by step on the deal.
    let preview = server
        .ok(
            "delete",
            json!({"entityType": "Opportunity", "id": deal, "confirm": false}),
        )
        .await;
    assert_eq!(preview["status"], json!("preview"));
    let gone = server
        .ok(
            "delete",
            json!({"entityType": "Opportunity", "id": deal, "confirm": true}),
        )
        .await;
    assert_eq!(gone["status"], json!("deleted"));
    server
        .err_code(
            "get",
            json!({"entityType": "Opportunity", "id": deal}),
            "RECORD_NOT_FOUND",
        )
        .await;
}
