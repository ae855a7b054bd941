//! Email drafts and templates: the `from` rules for API users (own address only, not the
//! system address without SMTP), sending without SMTP (500 `sendingFail`, the email kept as a
//! Draft), the create-only Email role, and rendering templates with `prepare`.

use serde_json::{Value, json};

use crate::common::{Api, JSON, Row, Who, date_text, key_set, keys, rows_of, text, today};

/// The agent's own address, as `App/user` tells it.
async fn own_address(api: &Api) -> String {
    let me = api.get("App/user").send().await.ok_json();
    me["user"]["emailAddress"]
        .as_str()
        .expect("the agent has an address")
        .to_owned()
}

fn draft(from: &str, subject: &str) -> Value {
    json!({"status": "Draft", "from": from, "to": "someone@example.org", "subject": subject,
           "body": "x", "isHtml": false})
}

#[tokio::test]
async fn should_create_draft_from_own_address_200() {
    let api = Api::start().await;
    let agent = api.user_id(Who::Agent).await;
    let from = own_address(&api).await;
    let apex = api.find_one("Account", "name", "Apex Health Co.");
    let before = api.sandbox.count("Email");
    let email = api
        .post(
            "Email",
            &json!({"status": "Draft", "from": from, "to": "matthew@example.com;someone@example.org",
                    "cc": "", "subject": "Quote for your team",
                    "body": "<p>Hello,</p><p>please find the quote attached.</p>",
                    "isHtml": true, "parentType": "Account", "parentId": apex}),
        )
        .send()
        .await
        .ok_json();
    let id = email["id"].as_str().expect("an id");
    assert_eq!(email["status"], json!("Draft"));
    assert_eq!(email["name"], json!("Quote for your team"));
    assert_eq!(email["subject"], json!("Quote for your team"));
    assert_eq!(email["from"], json!(from));
    assert_eq!(
        email["to"],
        json!("matthew@example.com;someone@example.org")
    );
    assert_eq!(email["isHtml"], json!(true));
    assert_eq!(email["parentId"], json!(apex));
    assert!(
        email["messageId"]
            .as_str()
            .is_some_and(|m| m.starts_with("dummy:")),
        "{}",
        email["messageId"]
    );
    assert_eq!(email["assignedUsersIds"], json!([agent]));
    assert_eq!(email["usersIds"], json!([agent]));
    assert_eq!(email["isUsers"], json!(true));
    assert_eq!(email["accountId"], json!(apex), "the parent account");
    assert!(email["fromEmailAddressId"].is_string());
    assert_eq!(
        email["toEmailAddressesIds"].as_array().expect("ids").len(),
        2,
        "one id per recipient"
    );
    assert_eq!(email["typeHash"][&from], json!("User"));
    assert_eq!(api.sandbox.count("Email"), before + 1);
    let stored = api.sandbox.record("Email", id).expect("stored");
    assert_eq!(stored["status"], json!("Draft"));

    // `to` is not required for drafts.
    let no_to = api
        .post(
            "Email",
            &json!({"status": "Draft", "from": from, "subject": "No to", "body": "x"}),
        )
        .send()
        .await
        .ok_json();
    assert_eq!(no_to["status"], json!("Draft"));
}

#[tokio::test]
async fn should_mark_agent_draft_as_sent_by_agent_200() {
    let api = Api::start().await;
    let agent = api.user_id(Who::Agent).await;
    let from = own_address(&api).await;
    let email = api
        .post("Email", &draft(&from, "Sent by me"))
        .send()
        .await
        .ok_json();
    assert_eq!(email["sentById"], json!(agent));
    assert_eq!(email["sentByName"], json!("mcp-agent"));
    assert_eq!(email["isUsersSent"], json!(true));
}

#[tokio::test]
async fn should_require_from_400() {
    let api = Api::start().await;
    let before = api.sandbox.count("Email");
    api.post(
        "Email",
        &json!({"status": "Draft", "to": "someone@example.org", "subject": "No from", "body": "x"}),
    )
    .send()
    .await
    .expect_validation("Email", "from", "required");
    assert_eq!(api.sandbox.count("Email"), before);
}

#[tokio::test]
async fn should_refuse_foreign_and_system_from_403() {
    let api = Api::start().await;
    let before = api.sandbox.count("Email");
    let me = api.get("App/user").send().await.ok_json();
    let listed: Vec<&str> = me["user"]["emailAddressList"]
        .as_array()
        .expect("emailAddressList")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        listed.contains(&"crm@example.com"),
        "App/user lists the system address"
    );
    for from in ["ceo@evil.example", "crm@example.com"] {
        api.post("Email", &draft(from, "x"))
            .send()
            .await
            .expect_json_error(403, Some("Not allowed 'from' address."));
    }
    assert_eq!(api.sandbox.count("Email"), before);
}

#[tokio::test]
async fn should_fail_sending_without_smtp_500() {
    let api = Api::start().await;
    let from = own_address(&api).await;
    let before = api.sandbox.count("Email");
    let mut body = draft(&from, "Send attempt");
    body["status"] = json!("Sending");
    let r = api.post("Email", &body).send().await;
    r.expect_error(500, Some("sendingFail"))
        .expect_content_type(JSON);
    let answer = r.json();
    let object = answer.as_object().expect("an object");
    assert_eq!(keys(object), key_set(&["id", "message"]));
    assert_eq!(answer["message"], json!("No system SMTP settings."));
    let id = answer["id"].as_str().expect("the email id");
    assert_eq!(api.sandbox.count("Email"), before + 1, "the email is kept");
    let stored = api.sandbox.record("Email", id).expect("stored");
    assert_eq!(stored["status"], json!("Draft"));
    assert_eq!(stored["subject"], json!("Send attempt"));
}

#[tokio::test]
async fn should_refuse_reading_email_to_agent_403() {
    let api = Api::start().await;
    let from = own_address(&api).await;
    let email = api
        .post("Email", &draft(&from, "Mine"))
        .send()
        .await
        .ok_json();
    let id = email["id"].as_str().expect("an id");
    api.get(&format!("Email/{id}"))
        .send()
        .await
        .expect_json_error(403, Some("No read access."));
    api.get("Email?maxSize=1")
        .send()
        .await
        .expect_json_error(403, Some("No read access."));
}

#[tokio::test]
async fn should_let_admin_draft_from_any_address_200() {
    let api = Api::start().await;
    let email = api
        .post("Email", &draft("crm@example.com", "Admin draft"))
        .admin()
        .send()
        .await
        .ok_json();
    assert_eq!(email["status"], json!("Draft"));
    assert_eq!(email["from"], json!("crm@example.com"));
    assert_eq!(email["isUsers"], json!(false));
    let id = email["id"].as_str().expect("an id");
    let read = api
        .get(&format!("Email/{id}"))
        .admin()
        .send()
        .await
        .ok_json();
    assert_eq!(read["subject"], json!("Admin draft"));
}

#[tokio::test]
async fn should_list_and_read_templates_200() {
    let api = Api::start().await;
    let page = api
        .list(
            "EmailTemplate",
            "select=name%2Csubject%2CisHtml&orderBy=name",
        )
        .await;
    assert_eq!(page["total"], json!(api.sandbox.count("EmailTemplate")));
    let rows = rows_of(&page);
    let names: Vec<String> = rows
        .iter()
        .map(|r| text(r, "name").expect("a name").to_lowercase())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    for row in &rows {
        assert_eq!(
            keys(row),
            key_set(&[
                "id",
                "name",
                "subject",
                "isHtml",
                "assignedUserId",
                "createdById"
            ])
        );
    }
    let welcome = api.find_one("EmailTemplate", "name", "Welcome new contact");
    let read = api
        .get(&format!("EmailTemplate/{welcome}"))
        .send()
        .await
        .ok_json();
    assert_eq!(
        read["subject"],
        json!("Welcome to Acme Cloud, {Contact.firstName}!")
    );
    assert_eq!(read["isHtml"], json!(true));
    assert!(
        read["body"]
            .as_str()
            .expect("a body")
            .contains("{User.name}")
    );
}

#[tokio::test]
async fn should_refuse_template_creation_403() {
    let api = Api::start().await;
    let before = api.sandbox.count("EmailTemplate");
    api.post(
        "EmailTemplate",
        &json!({"name": "x", "subject": "x", "body": "x"}),
    )
    .send()
    .await
    .expect_json_error(403, Some("No create access."));
    assert_eq!(api.sandbox.count("EmailTemplate"), before);
}

/// A contact with an account and an address.
async fn contact_with_account(api: &Api, account: Option<&str>) -> Row {
    let (_, contacts) = api
        .fetch_all(
            "Contact",
            "select=firstName,lastName,emailAddress,accountId,accountName",
        )
        .await;
    contacts
        .into_iter()
        .find(|c| {
            text(c, "emailAddress").is_some()
                && text(c, "firstName").is_some()
                && match account {
                    Some(a) => text(c, "accountId") == Some(a),
                    None => text(c, "accountName").is_some(),
                }
        })
        .expect("a contact with an account and an address")
}

#[tokio::test]
async fn should_prepare_template_for_contact_200() {
    let api = Api::start().await;
    let welcome = api.find_one("EmailTemplate", "name", "Welcome new contact");
    let contact = contact_with_account(&api, None).await;
    let first = text(&contact, "firstName").expect("a first name");
    let last = text(&contact, "lastName").expect("a last name");
    let company = text(&contact, "accountName").expect("an account");
    let prepared = api
        .post(
            &format!("EmailTemplate/{welcome}/prepare"),
            &json!({"parentType": "Contact", "parentId": contact["id"],
                    "emailAddress": contact["emailAddress"]}),
        )
        .send()
        .await
        .ok_json();
    assert_eq!(
        prepared,
        json!({
            "subject": format!("Welcome to Acme Cloud, {first}!"),
            "body": format!("<p>Hi {first} {last},</p><p>Thanks for your interest. Your account manager mcp-agent will reach out shortly.</p><p>Company on file: {company}</p><p>Best regards,<br>mcp-agent</p>"),
            "isHtml": true,
            "attachmentsIds": [],
            "attachmentsNames": {}
        })
    );
}

fn follow_up(account: &str, first: &str) -> Value {
    json!({
        "subject": format!("Follow-up: our meeting with {account}"),
        "body": format!("Hello {first},\n\nThank you for taking the time to meet today. As discussed, I will send over the proposal this week.\n\nKind regards,\nmcp-agent\nDate: {}", date_text(today())),
        "isHtml": false,
        "attachmentsIds": [],
        "attachmentsNames": {}
    })
}

#[tokio::test]
async fn should_prepare_template_for_account_parent_200() {
    let api = Api::start().await;
    let template = api.find_one("EmailTemplate", "name", "Follow-up after meeting");
    let apex = api.find_one("Account", "name", "Apex Health Co.");
    let contact = contact_with_account(&api, Some(&apex)).await;
    let first = text(&contact, "firstName").expect("a first name");
    let prepared = api
        .post(
            &format!("EmailTemplate/{template}/prepare"),
            &json!({"parentType": "Account", "parentId": apex,
                    "emailAddress": contact["emailAddress"]}),
        )
        .send()
        .await
        .ok_json();
    assert_eq!(prepared, follow_up("Apex Health Co.", first));
}

#[tokio::test]
async fn should_prepare_template_for_related_record_200() {
    let api = Api::start().await;
    let template = api.find_one("EmailTemplate", "name", "Follow-up after meeting");
    let apex = api.find_one("Account", "name", "Apex Health Co.");
    let contact = contact_with_account(&api, Some(&apex)).await;
    let first = text(&contact, "firstName").expect("a first name");
    let prepared = api
        .post(
            &format!("EmailTemplate/{template}/prepare"),
            &json!({"relatedType": "Account", "relatedId": apex,
                    "emailAddress": contact["emailAddress"]}),
        )
        .send()
        .await
        .ok_json();
    assert_eq!(prepared, follow_up("Apex Health Co.", first));
}

#[tokio::test]
async fn should_prepare_template_without_context_200() {
    let api = Api::start().await;
    let welcome = api.find_one("EmailTemplate", "name", "Welcome new contact");
    let prepared = api
        .post(&format!("EmailTemplate/{welcome}/prepare"), &json!({}))
        .send()
        .await
        .ok_json();
    assert_eq!(
        prepared,
        json!({
            "subject": "Welcome to Acme Cloud, {Contact.firstName}!",
            "body": "<p>Hi {Person.name},</p><p>Thanks for your interest. Your account manager mcp-agent will reach out shortly.</p><p>Company on file: {Contact.accountName}</p><p>Best regards,<br>mcp-agent</p>",
            "isHtml": true,
            "attachmentsIds": [],
            "attachmentsNames": {}
        })
    );
}

#[tokio::test]
async fn should_answer_prepare_of_missing_template_404() {
    let api = Api::start().await;
    let contact = contact_with_account(&api, None).await;
    api.post(
        "EmailTemplate/doesnotexist00001/prepare",
        &json!({"parentType": "Contact", "parentId": contact["id"]}),
    )
    .send()
    .await
    .expect_html_error(404, Some(""));
}
