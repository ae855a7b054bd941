//! Email drafts and templates: the `from` rules for API users (own address only, not the
//! system address without SMTP), sending without SMTP (500 `sendingFail`, the email kept as a
//! Draft), the "own" Email role (with 8.4's recorded scope-level answers), archived e-mails of
//! records and what each user sees of them, and rendering templates with `prepare`.

use espocrm_sandbox::EspoVersion;
use serde_json::{Value, json};

use crate::common::{
    Api, JSON, Row, Who, date_text, id_of, ids, key_set, keys, rows_of, text, today, where_query,
};

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
async fn should_read_own_draft_and_refuse_others_as_recorded_in_8_4_403() {
    let api = Api::start().await;
    let agent = api.user_id(Who::Agent).await;
    let from = own_address(&api).await;
    let mine = api
        .post("Email", &draft(&from, "Mine"))
        .send()
        .await
        .ok_json();
    let mine = mine["id"].as_str().expect("an id").to_owned();
    let read = api.get(&format!("Email/{mine}")).send().await.ok_json();
    assert_eq!(read["subject"], json!("Mine"));
    assert_eq!(read["isUsers"], json!(true));
    assert_eq!(read["isUsersSent"], json!(true));
    assert_eq!(read["assignedUsersIds"], json!([agent]));
    assert_eq!(
        read["fromAddress"],
        json!(""),
        "8.4 answers an empty string"
    );
    assert!(
        read.get("usersIds").is_none(),
        "not listed to an assigned user"
    );
    // The entity type is matched case-insensitively, as EspoCRM's router does.
    let lower = api.get(&format!("email/{mine}")).send().await.ok_json();
    let object = |v: &Value| v.as_object().cloned().expect("an object");
    assert_eq!(
        keys(&object(&lower)),
        keys(&object(&read)),
        "the same detail view"
    );
    assert_eq!(
        lower["isRead"],
        json!(true),
        "the first read marked it read"
    );

    // The administrator's draft: not the agent's. 8.4 mode answers the original recording's
    // scope-level reason for a draft (10-email-read-forbidden), and for an unfiltered list.
    let theirs = api
        .post("Email", &draft("crm@example.com", "Theirs"))
        .admin()
        .send()
        .await
        .ok_json();
    let theirs = theirs["id"].as_str().expect("an id").to_owned();
    api.get(&format!("Email/{theirs}"))
        .send()
        .await
        .expect_json_error(403, Some("No read access."));
    api.get("Email?maxSize=1")
        .send()
        .await
        .expect_json_error(403, Some("No read access."));

    // Filtered, the list is the agent's own e-mails, counted no-total style.
    let page = api
        .list(
            "Email",
            &format!(
                "{}&select=subject",
                where_query(&json!([{"type": "equals", "attribute": "status", "value": "Draft"}]))
            ),
        )
        .await;
    assert_eq!(page["total"], json!(-2));
    let rows = rows_of(&page);
    assert_eq!(ids(&rows), [mine.clone()].into_iter().collect());
    // The administrator lists both.
    let all = api
        .get("Email?select=subject")
        .admin()
        .send()
        .await
        .ok_json();
    assert_eq!(
        ids(&rows_of(&all)),
        [mine, theirs].into_iter().collect(),
        "the administrator sees every e-mail"
    );
}

/// The recorded story of group 21: an account, its contact and a case (made by the agent), and
/// four archived e-mails the administrator stores on them.
struct MailStory {
    agent: String,
    account: String,
    case: String,
    /// To a support address: the agent is not involved.
    inbound: String,
    /// HTML, to the agent's address.
    to_agent: String,
    /// Plain text, the agent in cc.
    cc_agent: String,
    /// To the agent, on the account.
    on_account: String,
}

async fn mail_story(api: &Api) -> MailStory {
    let agent = api.user_id(Who::Agent).await;
    let me = own_address(api).await;
    let account = api
        .post("Account", &json!({"name": "MCP Mail Test Co."}))
        .send()
        .await
        .ok_json();
    let account = account["id"].as_str().expect("an id").to_owned();
    let dana = "dana.whitfield@mcp-mail-test.example.com";
    api.post(
        "Contact",
        &json!({"firstName": "Dana", "lastName": "Whitfield", "emailAddress": dana,
                "accountId": account}),
    )
    .send()
    .await
    .ok_json();
    let case = api
        .post(
            "Case",
            &json!({"name": "Login fails after update", "accountId": account}),
        )
        .send()
        .await
        .ok_json();
    let case = case["id"].as_str().expect("an id").to_owned();
    let support = "support@mcp-mail-test.example.com";
    let archived = |from: &str,
                    to: &str,
                    cc: &str,
                    body: &str,
                    html: bool,
                    sent: &str,
                    parent: (&str, &str)| {
        json!({"status": "Archived", "from": from, "to": to, "cc": cc,
               "subject": "Re: Login fails after update", "body": body, "isHtml": html,
               "dateSent": sent, "parentType": parent.0, "parentId": parent.1})
    };
    let bodies = [
        archived(
            dana,
            support,
            "",
            "<p>Hello,</p><p>since the update the <b>login fails</b> with error 42.</p>",
            true,
            "2026-11-30 09:30:00",
            ("Case", &case),
        ),
        archived(
            dana,
            &me,
            "",
            "<p>Hi,</p><p>it happens on <i>every</i> login since version 5.2.</p><ul><li>Browser: Firefox</li><li>OS: Windows 11</li></ul>",
            true,
            "2026-11-30 10:15:00",
            ("Case", &case),
        ),
        archived(
            support,
            dana,
            &me,
            "Hi Dana,\n\nthanks, we can reproduce it.\n\nSupport",
            false,
            "2026-11-30 11:00:00",
            ("Case", &case),
        ),
        archived(
            dana,
            &me,
            "",
            "<p>Can we talk about the renewal next week?</p>",
            true,
            "2026-11-30 12:00:00",
            ("Account", &account),
        ),
    ];
    let mut created = Vec::new();
    for body in &bodies {
        let email = api.post("Email", body).admin().send().await.ok_json();
        assert_eq!(email["accountId"], json!(account), "the parent's account");
        created.push(email["id"].as_str().expect("an id").to_owned());
    }
    let [inbound, to_agent, cc_agent, on_account] =
        <[String; 4]>::try_from(created).expect("four e-mails");
    MailStory {
        agent,
        account,
        case,
        inbound,
        to_agent,
        cc_agent,
        on_account,
    }
}

#[tokio::test]
async fn should_make_users_of_archived_recipients_200() {
    let api = Api::start().await;
    let story = mail_story(&api).await;
    let stored = |id: &str| api.sandbox.record("Email", id).expect("stored");
    let inbound = stored(&story.inbound);
    assert_eq!(inbound["usersIds"], json!([]));
    assert_eq!(inbound["assignedUsersIds"], json!([]));
    let to_agent = stored(&story.to_agent);
    assert_eq!(
        to_agent["usersIds"],
        json!([story.agent]),
        "a recipient is a user"
    );
    assert_eq!(
        to_agent["assignedUsersIds"],
        json!([story.agent]),
        "and, in `to`, an assigned user"
    );
    assert_eq!(
        to_agent["usersColumns"][&story.agent]["isRead"],
        json!(false)
    );
    let cc_agent = stored(&story.cc_agent);
    assert_eq!(cc_agent["usersIds"], json!([story.agent]));
    assert_eq!(
        cc_agent["assignedUsersIds"],
        json!([]),
        "cc is not assigned"
    );
    assert_eq!(stored(&story.on_account)["accountId"], json!(story.account));
}

#[tokio::test]
async fn should_list_case_emails_the_agent_is_a_user_of_200() {
    for version in EspoVersion::ALL {
        case_emails_of_agent(version).await;
    }
}

async fn case_emails_of_agent(version: EspoVersion) {
    let v10 = version == EspoVersion::V10_0;
    let api = Api::start_version(version).await;
    let story = mail_story(&api).await;
    let page = api
        .get(&format!("Case/{}/emails", story.case))
        .send()
        .await
        .ok_json();
    assert_eq!(page["total"], json!(2));
    let rows = rows_of(&page);
    let order: Vec<String> = rows.iter().map(id_of).collect();
    assert_eq!(
        order,
        vec![story.cc_agent.clone(), story.to_agent.clone()],
        "newest first"
    );
    let (cc, html) = (&rows[0], &rows[1]);
    assert_eq!(cc["isRead"], json!(false));
    assert_eq!(cc["isUsers"], json!(true));
    assert_eq!(cc["isImportant"], json!(false));
    assert_eq!(
        cc["personStringData"],
        json!("support@mcp-mail-test.example.com")
    );
    assert_eq!(html["personStringData"], json!("Dana Whitfield"));
    let plain = if v10 {
        "Hi,\r\n\r\nit happens on *every* login since version 5.2.\r\n\r\n- Browser: Firefox\r\n- OS: Windows 11"
    } else {
        "Hi,it happens on every login since version 5.2.Browser: FirefoxOS: Windows 11"
    };
    assert_eq!(html["bodyPlain"], json!(plain), "{version}");
    assert_eq!(
        cc["bodyPlain"], cc["body"],
        "a plain-text body is its own plain text"
    );
    assert_eq!(
        html["fromAddress"],
        if v10 { Value::Null } else { json!("") }
    );
    for added in ["isAutoReply", "sendAt", "groupStatusFolder"] {
        assert_eq!(html.contains_key(added), v10, "{added} in {version}");
    }
    if v10 {
        assert_eq!(html["isAutoReply"], json!(false));
    }
    assert!(html.get("cc").is_none() && html.get("idHash").is_none());
    assert!(html.get("attachmentsIds").is_none());

    let admin = api
        .get(&format!("Case/{}/emails", story.case))
        .admin()
        .send()
        .await
        .ok_json();
    assert_eq!(admin["total"], json!(3));
    let first = &rows_of(&admin)[0];
    assert_eq!(first["isUsers"], json!(false));
    assert_eq!(first["isRead"], json!(true));
    assert_eq!(first["isImportant"], Value::Null);

    let selected = api
        .get(&format!(
            "Case/{}/emails?select=subject%2CdateSent%2CbodyPlain&orderBy=dateSent&order=asc",
            story.case
        ))
        .send()
        .await
        .ok_json();
    let rows = rows_of(&selected);
    let order: Vec<String> = rows.iter().map(id_of).collect();
    assert_eq!(order, vec![story.to_agent.clone(), story.cc_agent.clone()]);
    assert!(rows[0].contains_key("bodyPlain") && rows[0].contains_key("personStringData"));
    assert!(!rows[0].contains_key("body") && !rows[0].contains_key("deleted"));
}

#[tokio::test]
async fn should_list_only_emails_whose_parent_is_the_account_200() {
    let api = Api::start().await;
    let story = mail_story(&api).await;
    for admin in [false, true] {
        let call = api.get(&format!("Account/{}/emails", story.account));
        let call = if admin { call.admin() } else { call };
        let page = call.send().await.ok_json();
        assert_eq!(page["total"], json!(1), "admin: {admin}");
        assert_eq!(id_of(&rows_of(&page)[0]), story.on_account);
    }
}

#[tokio::test]
async fn should_mark_an_email_read_by_its_first_read_200() {
    let api = Api::start().await;
    let story = mail_story(&api).await;
    let unread_query = format!(
        "{}&select=subject",
        where_query(&json!([{"type": "isFalse", "attribute": "isRead"}]))
    );
    let unread = api.list("Email", &unread_query).await;
    assert_eq!(
        ids(&rows_of(&unread)),
        [&story.to_agent, &story.cc_agent, &story.on_account]
            .into_iter()
            .cloned()
            .collect(),
        "the agent's own unread e-mails"
    );
    let first = api
        .get(&format!("Email/{}", story.to_agent))
        .send()
        .await
        .ok_json();
    assert_eq!(first["isRead"], json!(false), "unread until this read");
    assert_eq!(
        first["nameHash"]["dana.whitfield@mcp-mail-test.example.com"],
        json!("Dana Whitfield")
    );
    assert!(
        first.get("usersIds").is_none(),
        "an assigned user is not shown the users"
    );
    let stored = api
        .sandbox
        .record("Email", &story.to_agent)
        .expect("stored");
    assert_eq!(stored["usersColumns"][&story.agent]["isRead"], json!(true));
    let again = api
        .get(&format!("Email/{}", story.to_agent))
        .send()
        .await
        .ok_json();
    assert_eq!(again["isRead"], json!(true));
    // The administrator's reading changes nothing for the agent, and it is not a user.
    let admin = api
        .get(&format!("Email/{}", story.cc_agent))
        .admin()
        .send()
        .await
        .ok_json();
    assert_eq!(admin["isUsers"], json!(false));
    let plain = api
        .get(&format!("Email/{}", story.cc_agent))
        .send()
        .await
        .ok_json();
    assert_eq!(plain["isRead"], json!(false));
    assert_eq!(plain["usersIds"], json!([story.agent]));
    assert_eq!(
        plain["usersNames"],
        json!({ story.agent.clone(): "mcp-agent" })
    );
    assert_eq!(plain["assignedUsersIds"], json!([]));
    // Filtered by the agent's own folder state: only the one it has not opened.
    let unread = api.list("Email", &unread_query).await;
    assert_eq!(
        ids(&rows_of(&unread)),
        [story.on_account].into_iter().collect()
    );
}

#[tokio::test]
async fn should_refuse_an_email_the_agent_is_no_user_of_403() {
    let api = Api::start().await;
    let story = mail_story(&api).await;
    api.get(&format!("Email/{}", story.inbound))
        .send()
        .await
        .expect_json_error(403, Some("No 'read' access."));
    api.put(
        &format!("Email/{}", story.inbound),
        &json!({"subject": "mine now"}),
    )
    .send()
    .await
    .expect_json_error(403, Some("No edit access."));
    let stored = api.sandbox.record("Email", &story.inbound).expect("stored");
    assert_eq!(stored["subject"], json!("Re: Login fails after update"));
    let own = api
        .list(
            "Email",
            &format!(
                "{}&select=subject%2CparentId",
                where_query(
                    &json!([{"type": "equals", "attribute": "parentId", "value": story.case}])
                )
            ),
        )
        .await;
    assert_eq!(own["total"], json!(-2));
    assert_eq!(
        ids(&rows_of(&own)),
        [story.to_agent, story.cc_agent].into_iter().collect()
    );
}

#[tokio::test]
async fn should_read_own_emails_only_in_10_0_403() {
    let api = Api::start_version(EspoVersion::V10_0).await;
    let from = own_address(&api).await;
    let mine = api
        .post(
            "Email",
            &json!({"status": "Draft", "from": from, "to": "someone@example.org",
                    "subject": "Quote", "body": "<p>Hello,</p><p>please find the quote attached.</p>"}),
        )
        .send()
        .await
        .ok_json();
    // 10.0 fills the plain text at once and no longer answers `sentById`.
    assert_eq!(
        mine["bodyPlain"],
        json!("Hello,\r\n\r\nplease find the quote attached.")
    );
    assert_eq!(mine["isAutoReply"], json!(false));
    assert!(mine.get("sentById").is_none(), "{mine}");
    let mine = mine["id"].as_str().expect("an id").to_owned();
    let theirs = api
        .post("Email", &draft("crm@example.com", "Theirs"))
        .admin()
        .send()
        .await
        .ok_json();
    let theirs = theirs["id"].as_str().expect("an id").to_owned();
    // A record-level denial, also for a draft; the unfiltered list is the agent's own.
    api.get(&format!("Email/{theirs}"))
        .send()
        .await
        .expect_json_error(403, Some("No 'read' access."));
    let page = api.list("Email", "maxSize=1").await;
    assert_eq!(page["total"], json!(-2), "no-total style, last page");
    let rows = rows_of(&page);
    assert_eq!(ids(&rows), [mine.clone()].into_iter().collect());
    assert!(rows[0].contains_key("toEmailAddressesIds"));
    assert!(!rows[0].contains_key("personStringData"));
    assert_eq!(rows[0]["fromAddress"], Value::Null);
    let read = api.get(&format!("Email/{mine}")).send().await.ok_json();
    assert_eq!(read["sendAt"], Value::Null);
    assert_eq!(read["groupStatusFolder"], Value::Null);
}

#[tokio::test]
async fn should_fail_sending_without_smtp_and_reason_in_10_0_500() {
    let api = Api::start_version(EspoVersion::V10_0).await;
    let from = own_address(&api).await;
    let before = api.sandbox.count("Email");
    let mut body = draft(&from, "Send attempt");
    body["status"] = json!("Sending");
    api.post("Email", &body)
        .send()
        .await
        .expect_json_error(500, None);
    assert_eq!(api.sandbox.count("Email"), before + 1, "the email is kept");
    let kept = api.sandbox.find("Email", "subject", &json!("Send attempt"));
    let stored = api.sandbox.record("Email", &kept[0]).expect("stored");
    assert_eq!(stored["status"], json!("Draft"));
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
