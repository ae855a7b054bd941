//! Related records: `GET {E}/{id}/{link}` (has-many, many-to-many with relation columns,
//! children by parent), relating and unrelating with `{id}` or `{ids}` and what both sides see
//! afterwards, the odd answers (`{}` → false, missing ids → 404 with an empty reason, unknown
//! links → 500), the read-only key's refusal, and a meeting's attendees.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::common::{
    Api, JSON, Row, id_of, ids, key_set, keys, number, rows_of, text, where_query,
};

/// `n` contacts whose primary account is another one (ids).
async fn spare_contacts(api: &Api, account: &str, n: usize) -> Vec<String> {
    let (_, contacts) = api.fetch_all("Contact", "select=accountId").await;
    contacts
        .iter()
        .filter(|c| text(c, "accountId").is_some_and(|a| a != account))
        .take(n)
        .map(id_of)
        .collect()
}

async fn accounts_of_contact(api: &Api, contact: &str) -> Vec<String> {
    let read = api
        .get(&format!("Contact/{contact}"))
        .send()
        .await
        .ok_json();
    read["accountsIds"]
        .as_array()
        .expect("accountsIds")
        .iter()
        .map(|v| v.as_str().expect("an id").to_owned())
        .collect()
}

async fn related_ids(api: &Api, path: &str) -> BTreeSet<String> {
    let (total, rows) = api.fetch_all(path, "select=name").await;
    assert_eq!(total as usize, rows.len());
    ids(&rows)
}

#[tokio::test]
async fn should_list_related_contacts_of_account_200() {
    let api = Api::start().await;
    let apex = api.find_one("Account", "name", "Apex Health Co.");
    let page = api
        .list(
            &format!("Account/{apex}/contacts"),
            "select=name%2CemailAddress%2CaccountRole&maxSize=10",
        )
        .await;
    let rows = rows_of(&page);
    assert!(!rows.is_empty(), "the flagship has contacts");
    for row in &rows {
        assert_eq!(
            keys(row),
            key_set(&[
                "id",
                "name",
                "emailAddress",
                "accountRole",
                "accountIsInactive",
                "createdAt",
                "accountId",
                "accountName",
                "createdById",
                "assignedUserId"
            ])
        );
        let id = id_of(row);
        assert!(
            accounts_of_contact(&api, &id).await.contains(&apex),
            "{id} is linked to the account"
        );
    }
    // Every contact whose primary account it is appears.
    let primary: BTreeSet<String> = api
        .sandbox
        .find("Contact", "accountId", &json!(apex))
        .into_iter()
        .collect();
    let listed = related_ids(&api, &format!("Account/{apex}/contacts")).await;
    assert!(primary.is_subset(&listed), "{primary:?} within {listed:?}");
    assert_eq!(page["total"], json!(listed.len()));
}

#[tokio::test]
async fn should_list_related_opportunities_of_account_200() {
    let api = Api::start().await;
    let (_, opportunities) = api.fetch_all("Opportunity", "select=accountId").await;
    let account = text(&opportunities[0], "accountId")
        .expect("an account")
        .to_owned();
    let expected: BTreeSet<String> = opportunities
        .iter()
        .filter(|o| text(o, "accountId") == Some(account.as_str()))
        .map(id_of)
        .collect();
    let page = api
        .list(
            &format!("Account/{account}/opportunities"),
            "select=name%2Cstage%2Camount&orderBy=amount&order=desc",
        )
        .await;
    let rows = rows_of(&page);
    assert_eq!(page["total"], json!(expected.len()));
    assert_eq!(ids(&rows), expected);
    let amounts: Vec<f64> = rows.iter().filter_map(|r| number(r, "amount")).collect();
    assert!(amounts.windows(2).all(|w| w[0] >= w[1]), "{amounts:?}");
    for row in &rows {
        assert_eq!(
            keys(row),
            key_set(&[
                "id",
                "name",
                "amount",
                "stage",
                "amountCurrency",
                "accountId",
                "accountName",
                "createdById",
                "assignedUserId"
            ])
        );
    }
}

#[tokio::test]
async fn should_list_tasks_by_parent_200() {
    let api = Api::start().await;
    let (_, tasks) = api.fetch_all("Task", "select=parentType,parentId").await;
    let parent = tasks
        .iter()
        .find(|t| text(t, "parentType") == Some("Account"))
        .and_then(|t| text(t, "parentId"))
        .expect("a task under an account")
        .to_owned();
    let expected: BTreeSet<String> = tasks
        .iter()
        .filter(|t| {
            text(t, "parentType") == Some("Account") && text(t, "parentId") == Some(parent.as_str())
        })
        .map(id_of)
        .collect();
    let page = api
        .list(
            &format!("Account/{parent}/tasks"),
            "select=name%2Cstatus&maxSize=200",
        )
        .await;
    assert_eq!(page["total"], json!(expected.len()));
    assert_eq!(ids(&rows_of(&page)), expected);
}

#[tokio::test]
async fn should_filter_and_page_related_list_200() {
    let api = Api::start().await;
    let apex = api.find_one("Account", "name", "Apex Health Co.");
    let all = related_ids(&api, &format!("Account/{apex}/contacts")).await;
    let items = json!([{"type": "like", "attribute": "lastName", "value": "%"}]);
    let page = api
        .list(
            &format!("Account/{apex}/contacts"),
            &format!("{}&select=name&maxSize=2&offset=0", where_query(&items)),
        )
        .await;
    assert_eq!(page["total"], json!(all.len()));
    let rows = rows_of(&page);
    assert_eq!(rows.len(), all.len().min(2));
    for row in &rows {
        assert!(all.contains(&id_of(row)));
        assert_eq!(
            keys(row),
            key_set(&[
                "id",
                "name",
                "accountIsInactive",
                "createdAt",
                "accountId",
                "accountName",
                "createdById",
                "assignedUserId"
            ])
        );
    }
}

#[tokio::test]
async fn should_link_one_and_many_contacts_200() {
    let api = Api::start().await;
    let account = api
        .post("Account", &json!({"name": "Link Target GmbH"}))
        .send()
        .await
        .ok_json();
    let account = account["id"].as_str().expect("an id").to_owned();
    let spare = spare_contacts(&api, &account, 3).await;
    let primary_before =
        api.sandbox.record("Contact", &spare[0]).expect("a contact")["accountId"].clone();

    let linked = api
        .post(
            &format!("Account/{account}/contacts"),
            &json!({"id": spare[0]}),
        )
        .send()
        .await
        .ok_json();
    assert_eq!(linked, json!(true));
    let linked = api
        .post(
            &format!("Account/{account}/contacts"),
            &json!({"ids": [spare[1], spare[2]]}),
        )
        .send()
        .await
        .ok_json();
    assert_eq!(linked, json!(true));

    let listed = related_ids(&api, &format!("Account/{account}/contacts")).await;
    assert_eq!(listed, spare.iter().cloned().collect());
    for contact in &spare {
        assert!(
            accounts_of_contact(&api, contact).await.contains(&account),
            "the contact sees the account"
        );
    }
    // The many-to-many link leaves the contact's primary account alone.
    assert_eq!(
        api.sandbox.record("Contact", &spare[0]).expect("a contact")["accountId"],
        primary_before
    );
    let read = api
        .get(&format!("Contact/{}", spare[0]))
        .send()
        .await
        .ok_json();
    assert_ne!(read["accountId"], json!(account));
}

#[tokio::test]
async fn should_unlink_contacts_200() {
    let api = Api::start().await;
    let account = api
        .post("Account", &json!({"name": "Unlink Target GmbH"}))
        .send()
        .await
        .ok_json();
    let account = account["id"].as_str().expect("an id").to_owned();
    let spare = spare_contacts(&api, &account, 3).await;
    api.post(
        &format!("Account/{account}/contacts"),
        &json!({"ids": spare}),
    )
    .send()
    .await
    .ok_json();

    let unlinked = api
        .delete(&format!("Account/{account}/contacts"))
        .json(&json!({"id": spare[0]}))
        .send()
        .await
        .ok_json();
    assert_eq!(unlinked, json!(true));
    assert!(
        !accounts_of_contact(&api, &spare[0])
            .await
            .contains(&account)
    );
    let unlinked = api
        .delete(&format!("Account/{account}/contacts"))
        .json(&json!({"ids": [spare[1], spare[2]]}))
        .send()
        .await
        .ok_json();
    assert_eq!(unlinked, json!(true));
    assert!(
        related_ids(&api, &format!("Account/{account}/contacts"))
            .await
            .is_empty()
    );
    // Unlinking what is not linked still answers true.
    let again = api
        .delete(&format!("Account/{account}/contacts"))
        .json(&json!({"id": spare[0]}))
        .send()
        .await
        .ok_json();
    assert_eq!(again, json!(true));
    assert!(
        api.sandbox.record("Contact", &spare[0]).is_some(),
        "the contact stays"
    );
}

#[tokio::test]
async fn should_link_opportunity_contact_many_to_many_200() {
    let api = Api::start().await;
    let (_, opportunities) = api.fetch_all("Opportunity", "select=name").await;
    let opportunity = id_of(&opportunities[0]);
    let before = related_ids(&api, &format!("Opportunity/{opportunity}/contacts")).await;
    let (_, contacts) = api.fetch_all("Contact", "select=name").await;
    let contact = contacts
        .iter()
        .map(id_of)
        .find(|c| !before.contains(c))
        .expect("a contact not yet linked");
    api.post(
        &format!("Opportunity/{opportunity}/contacts"),
        &json!({"id": contact}),
    )
    .send()
    .await
    .ok_json();
    let after = related_ids(&api, &format!("Opportunity/{opportunity}/contacts")).await;
    assert_eq!(after.len(), before.len() + 1);
    assert!(after.contains(&contact));
    let read = api
        .get(&format!("Opportunity/{opportunity}"))
        .send()
        .await
        .ok_json();
    assert!(
        read["contactsIds"]
            .as_array()
            .expect("ids")
            .contains(&json!(contact))
    );
    let seen_from_contact = related_ids(&api, &format!("Contact/{contact}/opportunities")).await;
    assert!(seen_from_contact.contains(&opportunity));
}

#[tokio::test]
async fn should_answer_false_to_link_without_ids_200() {
    let api = Api::start().await;
    let apex = api.find_one("Account", "name", "Apex Health Co.");
    let before = related_ids(&api, &format!("Account/{apex}/contacts")).await;
    let answer = api
        .post(&format!("Account/{apex}/contacts"), &json!({}))
        .send()
        .await
        .ok_json();
    assert_eq!(answer, json!(false));
    assert_eq!(
        related_ids(&api, &format!("Account/{apex}/contacts")).await,
        before
    );
}

#[tokio::test]
async fn should_answer_link_to_missing_foreign_record_404() {
    let api = Api::start().await;
    let apex = api.find_one("Account", "name", "Apex Health Co.");
    api.post(
        &format!("Account/{apex}/contacts"),
        &json!({"id": "doesnotexist00001"}),
    )
    .send()
    .await
    .expect_json_error(404, Some(""));
}

#[tokio::test]
async fn should_answer_link_on_missing_record_404() {
    let api = Api::start().await;
    let contact = api.sandbox.find("Contact", "deleted", &json!(false));
    api.post(
        "Account/doesnotexist00001/contacts",
        &json!({"id": contact[0]}),
    )
    .send()
    .await
    .expect_json_error(404, Some(""));
}

#[tokio::test]
async fn should_fail_on_unknown_link_500() {
    let api = Api::start().await;
    let apex = api.find_one("Account", "name", "Apex Health Co.");
    api.get(&format!("Account/{apex}/bogusLink"))
        .send()
        .await
        .expect_json_error(500, None);
    let contact = api.sandbox.find("Contact", "deleted", &json!(false));
    api.post(
        &format!("Account/{apex}/bogusLink"),
        &json!({"id": contact[0]}),
    )
    .send()
    .await
    .expect_json_error(500, None);
}

#[tokio::test]
async fn should_refuse_link_with_limited_key_403() {
    let api = Api::start().await;
    let apex = api.find_one("Account", "name", "Apex Health Co.");
    let spare = spare_contacts(&api, &apex, 1).await;
    let before = related_ids(&api, &format!("Account/{apex}/contacts")).await;
    let r = api
        .post(
            &format!("Account/{apex}/contacts"),
            &json!({"id": spare[0]}),
        )
        .limited()
        .send()
        .await;
    r.expect_error(
        403,
        Some("No record access for link operation (Account:contacts)."),
    )
    .expect_content_type(JSON);
    assert_eq!(
        r.json(),
        json!({"messageTranslation": {"label": "noAccessToRecord", "scope": null, "data": {"action": "edit"}}})
    );
    assert_eq!(
        related_ids(&api, &format!("Account/{apex}/contacts")).await,
        before
    );
}

/// A meeting that has user attendees, and its detail read.
async fn meeting_with_attendees(api: &Api) -> (String, Value) {
    let (_, meetings) = api.fetch_all("Meeting", "select=name").await;
    for meeting in &meetings {
        let id = id_of(meeting);
        let read = api.get(&format!("Meeting/{id}")).send().await.ok_json();
        if read["usersIds"].as_array().is_some_and(|u| !u.is_empty())
            && read["contactsIds"]
                .as_array()
                .is_some_and(|c| !c.is_empty())
        {
            return (id, read);
        }
    }
    panic!("no meeting with users and contacts");
}

#[tokio::test]
async fn should_list_meeting_users_with_acceptance_status_200() {
    let api = Api::start().await;
    let (meeting, read) = meeting_with_attendees(&api).await;
    let page = api.list(&format!("Meeting/{meeting}/users"), "").await;
    let rows: Vec<Row> = rows_of(&page);
    let users: BTreeSet<String> = read["usersIds"]
        .as_array()
        .expect("usersIds")
        .iter()
        .map(|v| v.as_str().expect("an id").to_owned())
        .collect();
    assert_eq!(page["total"], json!(users.len()));
    assert_eq!(ids(&rows), users);
    for row in &rows {
        let id = id_of(row);
        assert_eq!(
            row.get("acceptanceStatus"),
            Some(&read["usersColumns"][&id]["status"]),
            "relation column of {id}"
        );
        assert!(row.contains_key("userName"));
    }
}

#[tokio::test]
async fn should_list_meeting_attendees_200() {
    let api = Api::start().await;
    let (meeting, read) = meeting_with_attendees(&api).await;
    let body = api
        .get(&format!("Meeting/{meeting}/attendees"))
        .send()
        .await
        .ok_json();
    let object = body.as_object().expect("an object");
    assert_eq!(keys(object), key_set(&["list"]), "no total");
    let mut expected: BTreeSet<(String, String)> = BTreeSet::new();
    for (attribute, scope) in [
        ("usersIds", "User"),
        ("contactsIds", "Contact"),
        ("leadsIds", "Lead"),
    ] {
        for id in read[attribute].as_array().expect("ids") {
            expected.insert((scope.to_owned(), id.as_str().expect("an id").to_owned()));
        }
    }
    let mut got = BTreeSet::new();
    for item in body["list"].as_array().expect("a list") {
        let item = item.as_object().expect("an object");
        assert_eq!(
            keys(item),
            key_set(&["id", "name", "emailAddress", "acceptanceStatus", "_scope"])
        );
        assert!(item["acceptanceStatus"].is_string());
        got.insert((
            item["_scope"].as_str().expect("a scope").to_owned(),
            item["id"].as_str().expect("an id").to_owned(),
        ));
    }
    assert_eq!(got, expected);
}

#[tokio::test]
async fn should_keep_old_account_when_primary_account_changes_200() {
    let api = Api::start().await;
    let mut accounts = Vec::new();
    for name in ["Old Home GmbH", "New Home GmbH"] {
        let account = api
            .post("Account", &json!({"name": name}))
            .send()
            .await
            .ok_json();
        accounts.push(account["id"].as_str().expect("an id").to_owned());
    }
    let contact = api
        .post(
            "Contact",
            &json!({"firstName": "Moving", "lastName": "Person", "accountId": accounts[0]}),
        )
        .send()
        .await
        .ok_json();
    let contact = contact["id"].as_str().expect("an id").to_owned();
    let updated = api
        .put(
            &format!("Contact/{contact}"),
            &json!({"accountId": accounts[1]}),
        )
        .send()
        .await
        .ok_json();
    assert_eq!(updated["accountId"], json!(accounts[1]));
    assert_eq!(updated["accountName"], json!("New Home GmbH"));
    for account in &accounts {
        let listed = related_ids(&api, &format!("Account/{account}/contacts")).await;
        assert!(listed.contains(&contact), "{account} lists the contact");
    }
    let linked: BTreeSet<String> = accounts_of_contact(&api, &contact)
        .await
        .into_iter()
        .collect();
    assert_eq!(linked, accounts.iter().cloned().collect());
}
