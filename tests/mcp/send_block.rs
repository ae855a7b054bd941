//! No mail leaves because of anything espomcp sends: the side effects through which EspoCRM
//! mails people by itself — Email reminders, links into target lists, campaigns and mail
//! accounts, stream notes and status changes that portal users follow — are refused with
//! `SEND_BLOCKED` naming the field, and the sandbox receives no write; what is allowed (Popup
//! reminders, internal notes, status changes nobody is mailed about) is checked in the store.
//! `espomcp check` reports EspoCRM's own notification mail.

use espocrm_sandbox::{Sandbox, SandboxConfig};
use serde_json::{Map, Value, json};

use crate::common::{Direct, Server, assert_no_upstream_write, sandbox, std_command};

type Object = Map<String, Value>;

async fn start(sandbox: &Sandbox) -> Server {
    Server::unthrottled(sandbox).await
}

/// The id of the first record of a type in the demo data.
async fn first_id(sandbox: &Sandbox, entity: &str) -> String {
    Direct::new(sandbox).all(entity).await[0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("the demo data has a {entity}"))
        .to_owned()
}

/// Calls `tool`, which must be `SEND_BLOCKED` without any write reaching the sandbox; then the
/// server must still serve. Returns the error object.
async fn blocked(server: &Server, sandbox: &Sandbox, tool: &str, arguments: Value) -> Object {
    let what = format!("{tool} {arguments}");
    let error = assert_no_upstream_write(sandbox, &what, || {
        server.err_code(tool, arguments, "SEND_BLOCKED")
    })
    .await;
    server.assert_still_serving().await;
    error
}

fn text<'a>(error: &'a Object, key: &str) -> &'a str {
    error[key].as_str().unwrap_or_default()
}

fn field_of(error: &Object) -> &str {
    error["details"]["field"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn email_reminders_are_refused_and_popup_reminders_kept() {
    let sandbox = sandbox().await;
    let server = start(&sandbox).await;
    let meetings = sandbox.count("Meeting");
    let meeting = json!({
        "name": "Pilot kick-off",
        "dateStart": "2026-12-01 14:00:00",
        "dateEnd": "2026-12-01 15:00:00",
        "reminders": [{"type": "Popup", "seconds": 600}, {"type": "Email", "seconds": 3600}],
    });
    let error = blocked(
        &server,
        &sandbox,
        "create",
        json!({"entityType": "Meeting", "data": meeting}),
    )
    .await;
    assert_eq!(field_of(&error), "reminders", "{error:?}");
    assert!(
        text(&error, "message").contains("Meeting.reminders[1]"),
        "{error:?}"
    );
    assert!(text(&error, "message").contains("\"Email\""), "{error:?}");
    assert_eq!(sandbox.count("Meeting"), meetings);

    let call = first_id(&sandbox, "Call").await;
    let task = first_id(&sandbox, "Task").await;
    for (entity, id, reminders) in [
        ("Call", &call, json!([{"type": "Email", "seconds": 60}])),
        ("Task", &task, json!([{"seconds": 60}])),
        ("Task", &task, json!([{"type": "Sms", "seconds": 60}])),
    ] {
        let error = blocked(
            &server,
            &sandbox,
            "update",
            json!({"entityType": entity, "id": id, "data": {"reminders": reminders}}),
        )
        .await;
        assert_eq!(field_of(&error), "reminders", "{entity}: {error:?}");
    }

    // Popup reminders stay inside EspoCRM: allowed, and stored as given.
    let agent = sandbox.find("User", "userName", &json!("mcp-agent"));
    let created = server
        .ok(
            "create",
            json!({"entityType": "Meeting", "data": {
                "name": "Pilot kick-off",
                "dateStart": "2026-12-01 14:00:00",
                "dateEnd": "2026-12-01 15:00:00",
                "assignedUserId": agent[0],
                "reminders": [{"type": "Popup", "seconds": 600}],
            }}),
        )
        .await;
    let id = created["id"].as_str().expect("an id");
    let stored = sandbox.record("Meeting", id).expect("stored");
    assert_eq!(
        stored["reminders"],
        json!([{"type": "Popup", "seconds": 600}])
    );
    server.stop().await;
}

#[tokio::test]
async fn notes_are_internal_and_case_status_changes_mailed_to_portal_users_are_refused() {
    let sandbox = sandbox().await;
    let server = start(&sandbox).await;
    let case = first_id(&sandbox, "Case").await;
    let account = first_id(&sandbox, "Account").await;

    // A note espomcp posts is internal: EspoCRM keeps it from portal users and their mail.
    for (entity, id) in [("Case", &case), ("Account", &account)] {
        let note = server
            .ok(
                "add_note",
                json!({"entityType": entity, "id": id, "text": "Customer called back."}),
            )
            .await;
        let note_id = note["id"].as_str().expect("the note's id");
        let stored = sandbox.record("Note", note_id).expect("stored");
        assert_eq!(stored["isInternal"], json!(true), "{entity}: {stored:?}");
        assert_eq!(stored["parentId"], json!(id));
    }

    // The recorded settings mail a Case's Status notes to its portal followers, and EspoCRM
    // cannot make those internal: the status change is refused, on both paths.
    let status = sandbox.record("Case", &case).expect("the case")["status"].clone();
    let error = blocked(
        &server,
        &sandbox,
        "update",
        json!({"entityType": "Case", "id": case, "data": {"status": "Closed"}}),
    )
    .await;
    assert_eq!(field_of(&error), "status", "{error:?}");
    assert!(text(&error, "message").contains("portal"), "{error:?}");
    assert!(
        text(&error, "suggestion").contains("Administration > Notifications"),
        "{error:?}"
    );
    blocked(
        &server,
        &sandbox,
        "update_kanban",
        json!({"entityType": "Case", "id": case, "group": "Closed"}),
    )
    .await;
    assert_eq!(
        sandbox.record("Case", &case).expect("the case")["status"],
        status
    );

    // Other changes of a Case, and status changes of types nobody is mailed about, go through.
    server
        .ok(
            "update",
            json!({"entityType": "Case", "id": case, "data": {"name": "Renamed by espomcp"}}),
        )
        .await;
    let task = first_id(&sandbox, "Task").await;
    server
        .ok(
            "update_kanban",
            json!({"entityType": "Task", "id": task, "group": "Completed"}),
        )
        .await;
    assert_eq!(
        sandbox.record("Task", &task).expect("the task")["status"],
        "Completed"
    );
    server.stop().await;
}

#[tokio::test]
async fn case_status_changes_pass_when_portal_stream_mail_is_off() {
    let mut settings = Map::new();
    settings.insert("portalStreamEmailNotifications".into(), json!(false));
    let sandbox = Sandbox::start_with(
        SandboxConfig {
            settings,
            ..SandboxConfig::default()
        },
        "127.0.0.1:0",
    )
    .await
    .expect("the sandbox starts");
    let server = start(&sandbox).await;
    let case = first_id(&sandbox, "Case").await;
    server
        .ok(
            "update",
            json!({"entityType": "Case", "id": case, "data": {"status": "Closed"}}),
        )
        .await;
    assert_eq!(
        sandbox.record("Case", &case).expect("the case")["status"],
        "Closed"
    );
    server.stop().await;
}

#[tokio::test]
async fn links_into_target_lists_campaigns_and_mail_accounts_are_refused() {
    let sandbox = sandbox().await;
    let server = start(&sandbox).await;
    let lead = first_id(&sandbox, "Lead").await;
    let account = first_id(&sandbox, "Account").await;
    let contact = first_id(&sandbox, "Contact").await;
    let case = first_id(&sandbox, "Case").await;
    let some_id = "0123456789abcdef0";
    for (entity, id, link) in [
        ("Lead", &lead, "targetLists"),
        ("Account", &account, "targetLists"),
        ("Contact", &contact, "targetLists"),
        ("Lead", &lead, "campaign"),
        ("Case", &case, "inboundEmail"),
    ] {
        let error = blocked(
            &server,
            &sandbox,
            "link",
            json!({"entityType": entity, "id": id, "link": link, "foreignId": some_id}),
        )
        .await;
        assert_eq!(field_of(&error), link, "{entity}.{link}: {error:?}");
    }
    for (tool, arguments, attribute) in [
        (
            "update",
            json!({"entityType": "Lead", "id": lead, "data": {"targetListsIds": [some_id]}}),
            "targetListsIds",
        ),
        (
            "update",
            json!({"entityType": "Case", "id": case, "data": {"inboundEmailId": some_id}}),
            "inboundEmailId",
        ),
        (
            "create",
            json!({"entityType": "Lead", "data": {"lastName": "Doe", "campaignId": some_id}}),
            "campaignId",
        ),
    ] {
        let error = blocked(&server, &sandbox, tool, arguments).await;
        assert_eq!(field_of(&error), attribute, "{error:?}");
    }
    // Ordinary links still work.
    server
        .ok(
            "link",
            json!({"entityType": "Account", "id": account, "link": "contacts", "foreignId": contact}),
        )
        .await;
    server.stop().await;
}

#[test]
fn check_shows_the_notification_mail_espocrm_sends_itself() {
    let home = tempfile::TempDir::new().expect("a temporary home");
    let output = std_command(home.path())
        .args(["--demo", "check"])
        .output()
        .expect("espomcp runs");
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    let line = |setting: &str| {
        text.lines()
            .find(|l| l.starts_with(setting))
            .unwrap_or_else(|| panic!("no {setting} line in {text}"))
            .to_owned()
    };
    assert!(text.contains("Administration > Notifications"), "{text}");
    assert!(line("assignment mail").ends_with("off"), "{text}");
    assert!(line("mention mail").contains("not readable"), "{text}");
    assert!(
        line("portal stream").contains("on: status changes of Case"),
        "{text}"
    );
    assert!(line("stream types").contains("Post, Status"), "{text}");
}

/// An entity-type allow-list never names Note: notes on an allowed Case are still posted, and
/// internal.
#[tokio::test]
async fn notes_stay_internal_under_an_entity_type_allow_list() {
    let sandbox = sandbox().await;
    let server = Server::builder(&sandbox)
        .env("SERVER_RATE_LIMIT_REQUESTS_PER_SECOND", 0)
        .env("SERVER_ENTITY_TYPES", "Case,Account")
        .start()
        .await;
    let case = first_id(&sandbox, "Case").await;
    let note = server
        .ok(
            "add_note",
            json!({"entityType": "Case", "id": case, "text": "Checked the logs."}),
        )
        .await;
    let stored = sandbox
        .record("Note", note["id"].as_str().expect("an id"))
        .expect("stored");
    assert_eq!(stored["isInternal"], json!(true), "{stored:?}");
    server.stop().await;
}
