//! Lost updates and locked records, on both EspoCRM versions the sandbox imitates. Where the
//! metadata shows optimistic concurrency (10.0: Account, Opportunity, Task, Case), `get` and
//! `search` return `versionNumber`, and an `update` or `update_kanban` based on a stale one is
//! RECORD_CHANGED with the current values, the record left as the person wrote it. Where it
//! does not (8.4), `versionNumber` is ignored and updates work as before. A locked record (10.0,
//! Account) refuses updates and deletes with RECORD_LOCKED, the delete before a preview is
//! registered. `espomcp check` reports the version and where each feature is on. EspoCRM 10's
//! other new answers, injected: a 409 for another reason is CONFLICT, and the 404 for a link
//! EspoCRM does not know is INVALID_LINK, as the schema check says it.

use espocrm_sandbox::{FaultConfig, InjectedAnswer, Sandbox};
use serde_json::{Map, Value, json};

use crate::common::{Direct, EspoVersion, Server, command, sandbox_of};

type Object = Map<String, Value>;

/// How many requests took exactly `route` (e.g. `"DELETE Account/{id}"`).
fn hits(sandbox: &Sandbox, route: &str) -> u64 {
    sandbox
        .stats()
        .requests_by_route
        .get(route)
        .copied()
        .unwrap_or(0)
}

fn stored(sandbox: &Sandbox, entity: &str, id: &str) -> Object {
    sandbox
        .record(entity, id)
        .unwrap_or_else(|| panic!("{entity} {id} is in the sandbox"))
}

/// Locks or unlocks a record as the administrator (`POST Action`), as a person with lock
/// permission does in EspoCRM's web UI; the agent's API user may not.
pub(crate) async fn set_lock(sandbox: &Sandbox, entity: &str, id: &str, locked: bool) {
    let action = if locked { "lock" } else { "unlock" };
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/Action", sandbox.url))
        .basic_auth(&sandbox.admin_user, Some(&sandbox.admin_password))
        .json(&json!({"action": action, "entityType": entity, "id": id}))
        .send()
        .await
        .expect("the sandbox answers");
    assert!(
        response.status().is_success(),
        "{action}: {}",
        response.status()
    );
}

#[tokio::test]
async fn a_stale_update_is_refused_with_the_current_values_and_a_fresh_one_succeeds() {
    for version in EspoVersion::ALL {
        let sandbox = sandbox_of(version).await;
        let server = Server::unthrottled(&sandbox).await;
        let direct = Direct::new(&sandbox);
        let id = direct
            .create(
                "Account",
                json!({"name": format!("Lost Update Co. {}", version.name())}),
            )
            .await;
        let record = json!({"entityType": "Account", "id": id});
        let read = server.ok("get", record.clone()).await;
        let search = json!({"entityType": "Account", "select": ["name"],
            "where": [{"field": "id", "type": "equals", "value": id}]});
        // A person edits the record in EspoCRM after the agent read it.
        direct
            .update(
                "Account",
                &id,
                json!({"website": "https://person.example.com"}),
            )
            .await;
        let agents = |version_number: Value| {
            json!({"entityType": "Account", "id": id, "versionNumber": version_number,
                   "data": {"website": "https://agent.example.com"}})
        };
        match version {
            EspoVersion::V10_0 => {
                let read_version = read["versionNumber"].as_u64().expect("a versionNumber");
                let error = server
                    .err_code("update", agents(json!(read_version)), "RECORD_CHANGED")
                    .await;
                let details = &error["details"];
                assert_eq!(
                    details["values"],
                    json!({"website": "https://person.example.com"}),
                    "{error:?}"
                );
                assert_eq!(details["versionNumber"], json!(read_version + 1));
                assert_eq!(details["entityType"], "Account");
                assert_eq!(details["id"], json!(id));
                assert_eq!(error["retryable"], false);
                let kept = stored(&sandbox, "Account", &id);
                assert_eq!(kept["website"], "https://person.example.com");
                assert_eq!(kept["versionNumber"], json!(read_version + 1));

                // Read again, then the same change based on the current version goes through.
                let current = server.ok("get", record.clone()).await["versionNumber"].clone();
                assert_eq!(current, json!(read_version + 1));
                let updated = server.ok("update", agents(current)).await;
                assert_eq!(updated["versionNumber"], json!(read_version + 2));
                assert_eq!(
                    stored(&sandbox, "Account", &id)["website"],
                    "https://agent.example.com"
                );
                // EspoCRM leaves versionNumber out of a selection; search puts it back.
                let page = server.ok("search", search).await;
                assert_eq!(page["list"][0]["versionNumber"], json!(read_version + 2));
                let selected = server
                    .ok(
                        "get",
                        json!({"entityType": "Account", "id": id, "select": ["website"]}),
                    )
                    .await;
                assert_eq!(
                    selected["versionNumber"],
                    json!(read_version + 2),
                    "{selected}"
                );
                // The version alone is a selection of its own, not the whole record.
                let alone = server
                    .ok(
                        "get",
                        json!({"entityType": "Account", "id": id, "select": ["versionNumber"]}),
                    )
                    .await;
                assert_eq!(alone["versionNumber"], json!(read_version + 2), "{alone}");
                assert!(alone.get("website").is_none(), "{alone}");
                assert!(alone.get("name").is_none(), "{alone}");
                // Without versionNumber, last write wins, as before.
                server
                    .ok(
                        "update",
                        json!({"entityType": "Account", "id": id,
                        "data": {"description": "no version given"}}),
                    )
                    .await;
                assert_eq!(
                    stored(&sandbox, "Account", &id)["description"],
                    "no version given"
                );
            }
            EspoVersion::V8_4 => {
                assert!(read.get("versionNumber").is_none(), "{read}");
                // No optimistic concurrency here: a versionNumber is ignored, as is its absence.
                let updated = server.ok("update", agents(json!(1))).await;
                assert_eq!(updated["website"], "https://agent.example.com");
                server
                    .ok(
                        "update",
                        json!({"entityType": "Account", "id": id,
                        "data": {"description": "no version given"}}),
                    )
                    .await;
                let kept = stored(&sandbox, "Account", &id);
                assert_eq!(kept["website"], "https://agent.example.com");
                assert_eq!(kept["description"], "no version given");
                let page = server.ok("search", search).await;
                assert!(page["list"][0].get("versionNumber").is_none(), "{page}");
            }
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn a_stale_kanban_move_is_refused_and_a_fresh_one_moves() {
    for version in EspoVersion::ALL {
        let sandbox = sandbox_of(version).await;
        let server = Server::unthrottled(&sandbox).await;
        let direct = Direct::new(&sandbox);
        let opportunity = direct.all("Opportunity").await.remove(0);
        let id = opportunity["id"].as_str().expect("an id").to_owned();
        let stage = |name: &str| {
            ["Qualification", "Negotiation"]
                .into_iter()
                .find(|s| *s != name)
                .unwrap_or("Proposal")
                .to_owned()
        };
        let read = server
            .ok("get", json!({"entityType": "Opportunity", "id": id}))
            .await;
        let first = stage(read["stage"].as_str().unwrap_or_default());
        direct
            .update("Opportunity", &id, json!({"stage": first}))
            .await;
        let target = stage(&first);
        let move_to = |version_number: &Value| {
            json!({"entityType": "Opportunity", "id": id, "group": target,
                   "versionNumber": version_number})
        };
        match version {
            EspoVersion::V10_0 => {
                let error = server
                    .err_code(
                        "update_kanban",
                        move_to(&read["versionNumber"]),
                        "RECORD_CHANGED",
                    )
                    .await;
                assert_eq!(
                    error["details"]["values"]["stage"],
                    json!(first),
                    "{error:?}"
                );
                assert_eq!(stored(&sandbox, "Opportunity", &id)["stage"], json!(first));
                let current = server
                    .ok("get", json!({"entityType": "Opportunity", "id": id}))
                    .await["versionNumber"]
                    .clone();
                let moved = server.ok("update_kanban", move_to(&current)).await;
                assert_eq!(
                    moved["versionNumber"],
                    json!(current.as_u64().expect("a number") + 1)
                );
            }
            EspoVersion::V8_4 => {
                let moved = server.ok("update_kanban", move_to(&json!(1))).await;
                assert!(moved.get("versionNumber").is_none(), "{moved}");
            }
        }
        assert_eq!(stored(&sandbox, "Opportunity", &id)["stage"], json!(target));
        server.stop().await;
    }
}

#[tokio::test]
async fn a_locked_record_refuses_update_and_delete() {
    for version in EspoVersion::ALL {
        let sandbox = sandbox_of(version).await;
        let server = Server::unthrottled(&sandbox).await;
        let direct = Direct::new(&sandbox);
        let id = direct
            .create(
                "Account",
                json!({"name": format!("Locked Co. {}", version.name()),
                "website": "https://locked.example.com"}),
            )
            .await;
        let preview = json!({"entityType": "Account", "id": id, "confirm": false});
        let confirm = json!({"entityType": "Account", "id": id, "confirm": true});
        let change = json!({"entityType": "Account", "id": id,
            "data": {"website": "https://changed.example.com"}});
        if version == EspoVersion::V8_4 {
            // Nothing is lockable: the preview shows no isLocked, updates and deletes go through.
            server.ok("update", change).await;
            let shown = server.ok("delete", preview).await;
            assert!(shown["fields"].get("isLocked").is_none(), "{shown}");
            assert_eq!(server.ok("delete", confirm).await["status"], "deleted");
            assert!(sandbox.record("Account", &id).is_none());
            server.stop().await;
            continue;
        }

        set_lock(&sandbox, "Account", &id, true).await;
        let before = stored(&sandbox, "Account", &id);
        let error = server
            .err_code("update", change.clone(), "RECORD_LOCKED")
            .await;
        assert_eq!(
            error["details"],
            json!({"action": "update", "field": "Website", "entityType": "Account", "id": id})
        );
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.contains("lock permission"))
        );
        let error = server
            .err_code("delete", preview.clone(), "RECORD_LOCKED")
            .await;
        assert_eq!(error["details"]["action"], "delete");
        // No preview was registered, so there is nothing to confirm.
        server
            .err_code("delete", confirm.clone(), "DELETE_NOT_CONFIRMED")
            .await;
        assert_eq!(hits(&sandbox, "DELETE Account/{id}"), 0);
        assert_eq!(stored(&sandbox, "Account", &id), before, "unchanged");

        // Unlocked, the preview shows isLocked; locked again before the confirmation, nothing
        // is deleted.
        set_lock(&sandbox, "Account", &id, false).await;
        let shown = server.ok("delete", preview.clone()).await;
        assert_eq!(shown["fields"]["isLocked"], false, "{shown}");
        set_lock(&sandbox, "Account", &id, true).await;
        server
            .err_code("delete", confirm.clone(), "RECORD_LOCKED")
            .await;
        assert_eq!(hits(&sandbox, "DELETE Account/{id}"), 0);
        assert!(sandbox.record("Account", &id).is_some());

        set_lock(&sandbox, "Account", &id, false).await;
        server.ok("update", change).await;
        assert_eq!(
            stored(&sandbox, "Account", &id)["website"],
            "https://changed.example.com"
        );
        server.ok("delete", preview).await;
        assert_eq!(server.ok("delete", confirm).await["status"], "deleted");
        assert!(sandbox.record("Account", &id).is_none());
        server.stop().await;
    }
}

#[tokio::test]
async fn check_reports_the_version_and_where_each_feature_is_on() {
    for version in EspoVersion::ALL {
        let sandbox = sandbox_of(version).await;
        let home = tempfile::TempDir::new().expect("a temporary home");
        let output = command(home.path())
            .arg("check")
            .env("ESPOCRM_URL", &sandbox.url)
            .env("ESPOCRM_API_KEY", &sandbox.agent_api_key)
            .output()
            .await
            .expect("espomcp runs");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        assert_eq!(output.status.code(), Some(0), "{text}");
        let line = |label: &str| {
            text.lines()
                .find(|line| line.starts_with(label))
                .unwrap_or_else(|| panic!("no {label} line: {text}"))
                .to_owned()
        };
        assert!(line("version").ends_with(version.release()), "{text}");
        let concurrency = line("optimistic concurrency");
        let locks = line("record locks");
        match version {
            EspoVersion::V10_0 => {
                for entity in ["Account", "Case", "Opportunity", "Task"] {
                    assert!(concurrency.contains(entity), "{concurrency}");
                }
                assert!(!concurrency.contains("Contact"), "{concurrency}");
                assert!(locks.ends_with("on for Account"), "{locks}");
            }
            EspoVersion::V8_4 => {
                assert!(!concurrency.contains("Account"), "{concurrency}");
                assert!(locks.ends_with("off"), "{locks}");
            }
        }
    }
}

#[tokio::test]
async fn other_conflicts_and_unknown_links_keep_their_meaning() {
    let sandbox = sandbox_of(EspoVersion::V10_0).await;
    let server = Server::unthrottled(&sandbox).await;
    let id = Direct::new(&sandbox)
        .create("Account", json!({"name": "Conflicting Co."}))
        .await;
    sandbox.set_faults(FaultConfig {
        answers: vec![
            InjectedAnswer::new(
                "GET Account/{id}/contacts",
                404,
                "",
            )
            .with_header("X-Status-Reason", "Link does not exist."),
            InjectedAnswer::new("POST Account/{id}/contacts", 404, "")
                .with_header("X-Status-Reason", "Entity Account does not have link contacts."),
            InjectedAnswer::new(
                "DELETE Account/{id}",
                409,
                json!({"messageTranslation": {"label": "cannotRemoveUsed", "scope": null, "data": {}}})
                    .to_string(),
            )
            .with_header("X-Status-Reason", "cannotRemoveUsed"),
        ],
        ..FaultConfig::default()
    });

    let related = json!({"entityType": "Account", "id": id, "link": "contacts"});
    let error = server
        .err_code("get_related", related, "INVALID_LINK")
        .await;
    assert_eq!(
        error["details"],
        json!({"entityType": "Account", "link": "contacts"})
    );
    let link = json!({"entityType": "Account", "id": id, "link": "contacts",
        "foreignId": "0123456789abcdef0"});
    let error = server.err_code("link", link, "INVALID_LINK").await;
    assert_eq!(
        error["details"],
        json!({"entityType": "Account", "link": "contacts"})
    );

    server
        .ok(
            "delete",
            json!({"entityType": "Account", "id": id, "confirm": false}),
        )
        .await;
    let confirm = json!({"entityType": "Account", "id": id, "confirm": true});
    let error = server.err_code("delete", confirm.clone(), "CONFLICT").await;
    assert_eq!(
        error["details"],
        json!({"label": "cannotRemoveUsed", "entityType": "Account", "id": id})
    );
    assert!(sandbox.record("Account", &id).is_some());
    // The claim was given back: once EspoCRM lets it go, the same preview deletes.
    sandbox.set_faults(FaultConfig::default());
    assert_eq!(server.ok("delete", confirm).await["status"], "deleted");
    server.stop().await;
}
