//! Streams: posting Notes to a record's stream or one's own (type forced to Post, empty posts
//! stored as null, missing parents refused), reading a record's stream newest first with
//! paging and the posts-only views, the user's own stream in no-total style, and following.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::common::{Api, Row, Who, id_of, key_set, keys, rows_of};

/// Attributes of a record-stream item (recorded).
const STREAM_ITEM: &[&str] = &[
    "id",
    "deleted",
    "post",
    "data",
    "type",
    "targetType",
    "number",
    "isGlobal",
    "createdByGender",
    "isInternal",
    "isPinned",
    "createdAt",
    "modifiedAt",
    "parentId",
    "parentType",
    "relatedId",
    "relatedType",
    "attachmentsIds",
    "attachmentsNames",
    "createdById",
    "createdByName",
    "modifiedById",
    "modifiedByName",
    "superParentId",
    "superParentType",
    "attachmentsTypes",
];

/// Attributes of an item of `GET Stream` (recorded).
const OWN_STREAM_ITEM: &[&str] = &[
    "id",
    "post",
    "data",
    "type",
    "targetType",
    "number",
    "isGlobal",
    "createdByGender",
    "isInternal",
    "createdAt",
    "parentId",
    "parentType",
    "relatedId",
    "relatedType",
    "attachmentsIds",
    "attachmentsNames",
    "teamsIds",
    "teamsNames",
    "usersIds",
    "usersNames",
    "createdById",
    "createdByName",
    "attachmentsTypes",
];

async fn post_note(api: &Api, body: Value) -> Value {
    api.post("Note", &body).send().await.ok_json()
}

async fn post_on(api: &Api, entity: &str, id: &str, text: &str) -> Value {
    post_note(
        api,
        json!({"type": "Post", "parentType": entity, "parentId": id, "post": text}),
    )
    .await
}

async fn whole_stream(api: &Api, entity: &str, id: &str) -> (i64, Vec<Row>) {
    let page = api
        .get(&format!("{entity}/{id}/stream?maxSize=200"))
        .send()
        .await
        .ok_json();
    (page["total"].as_i64().expect("a total"), rows_of(&page))
}

#[tokio::test]
async fn should_post_note_on_account_200() {
    let api = Api::start().await;
    let agent = api.user_id(Who::Agent).await;
    let apex = api.find_one("Account", "name", "Apex Health Co.");
    let before = api.sandbox.count("Note");
    let note = post_on(
        &api,
        "Account",
        &apex,
        "Spoke with procurement; they expect a quote by Friday.",
    )
    .await;
    assert_eq!(note["type"], json!("Post"));
    assert_eq!(
        note["post"],
        json!("Spoke with procurement; they expect a quote by Friday.")
    );
    assert_eq!(note["parentType"], json!("Account"));
    assert_eq!(note["parentId"], json!(apex));
    assert_eq!(note["parentName"], json!("Apex Health Co."));
    assert_eq!(note["data"], json!({}));
    assert_eq!(note["isInternal"], json!(false));
    assert_eq!(note["attachmentsIds"], json!([]));
    assert_eq!(note["createdById"], json!(agent));
    assert_eq!(note["createdByName"], json!("mcp-agent"));
    assert_eq!(note["deleted"], json!(false));
    assert_eq!(api.sandbox.count("Note"), before + 1);
    let id = note["id"].as_str().expect("an id");
    let stored = api.sandbox.record("Note", id).expect("stored");
    assert_eq!(stored["type"], json!("Post"));
    // The author can read the note back.
    let read = api.get(&format!("Note/{id}")).send().await.ok_json();
    assert_eq!(read["post"], note["post"]);
    assert!(read["number"].is_i64());
    // ... and edit it.
    let edited = api
        .put(&format!("Note/{id}"), &json!({"post": "Edited post text."}))
        .send()
        .await
        .ok_json();
    assert_eq!(edited["post"], json!("Edited post text."));
    assert_eq!(edited["type"], json!("Post"));
    assert_eq!(
        api.sandbox.record("Note", id).expect("stored")["post"],
        json!("Edited post text.")
    );
}

/// EspoCRM 8 keeps `isInternal` as posted: an internal note is hidden from portal users (and
/// their stream mail).
#[tokio::test]
async fn should_keep_is_internal_of_a_post_200() {
    let api = Api::start().await;
    let (_, cases) = api.fetch_all("Case", "").await;
    let case = cases[0]["id"].as_str().expect("a case").to_owned();
    let note = post_note(
        &api,
        json!({"type": "Post", "parentType": "Case", "parentId": case, "post": "Internal.", "isInternal": true}),
    )
    .await;
    assert_eq!(note["isInternal"], json!(true));
    let id = note["id"].as_str().expect("an id");
    assert_eq!(
        api.sandbox.record("Note", id).expect("stored")["isInternal"],
        json!(true)
    );
    let (_, stream) = whole_stream(&api, "Case", &case).await;
    let item = stream
        .iter()
        .find(|row| row["id"] == json!(id))
        .expect("the note is in the case's stream");
    assert_eq!(item["isInternal"], json!(true));
}

#[tokio::test]
async fn should_force_note_type_to_post_200() {
    let api = Api::start().await;
    let apex = api.find_one("Account", "name", "Apex Health Co.");
    let note = post_note(
        &api,
        json!({"type": "Update", "parentType": "Account", "parentId": apex, "post": "x"}),
    )
    .await;
    assert_eq!(note["type"], json!("Post"));
    let id = note["id"].as_str().expect("an id");
    assert_eq!(
        api.sandbox.record("Note", id).expect("stored")["type"],
        json!("Post")
    );
}

#[tokio::test]
async fn should_store_empty_post_as_null_200() {
    let api = Api::start().await;
    let apex = api.find_one("Account", "name", "Apex Health Co.");
    let note = post_on(&api, "Account", &apex, "").await;
    assert_eq!(note["post"], Value::Null);
    assert_eq!(note["type"], json!("Post"));
    let id = note["id"].as_str().expect("an id");
    assert_eq!(
        api.sandbox.record("Note", id).expect("stored").get("post"),
        Some(&Value::Null)
    );
}

#[tokio::test]
async fn should_post_note_without_parent_200() {
    let api = Api::start().await;
    let note = post_note(
        &api,
        json!({"type": "Post", "post": "A note without parent."}),
    )
    .await;
    assert_eq!(note["post"], json!("A note without parent."));
    assert_eq!(note["parentName"], Value::Null);
    assert_eq!(note["teamsIds"], json!([]));
    assert_eq!(note["usersIds"], json!([]));
    let object = note.as_object().expect("an object");
    assert!(!object.contains_key("parentId"), "no parent in the answer");
}

#[tokio::test]
async fn should_refuse_note_on_missing_parent_403() {
    let api = Api::start().await;
    let before = api.sandbox.count("Note");
    api.post(
        "Note",
        &json!({"type": "Post", "parentType": "Account", "parentId": "doesnotexist00001", "post": "x"}),
    )
    .send()
    .await
    .expect_json_error(403, Some("No create access."));
    assert_eq!(api.sandbox.count("Note"), before);
}

#[tokio::test]
async fn should_list_record_stream_newest_first_200() {
    let api = Api::start().await;
    let apex = api.find_one("Account", "name", "Apex Health Co.");
    let (total_before, _) = whole_stream(&api, "Account", &apex).await;
    let first = post_on(&api, "Account", &apex, "first").await;
    let second = post_on(&api, "Account", &apex, "second").await;
    let third = post_on(&api, "Account", &apex, "third").await;

    let page = api
        .get(&format!("Account/{apex}/stream?maxSize=5"))
        .send()
        .await
        .ok_json();
    let body = page.as_object().expect("an object");
    assert_eq!(keys(body), key_set(&["total", "list", "pinnedList"]));
    assert_eq!(page["total"], json!(total_before + 3));
    let rows = rows_of(&page);
    assert!(rows.len() <= 5);
    let newest: Vec<Value> = rows.iter().take(3).map(|r| r["id"].clone()).collect();
    assert_eq!(
        newest,
        vec![
            third["id"].clone(),
            second["id"].clone(),
            first["id"].clone()
        ]
    );
    for row in &rows {
        assert_eq!(keys(row), key_set(STREAM_ITEM));
    }

    let (total, all) = whole_stream(&api, "Account", &apex).await;
    assert_eq!(total as usize, all.len());
    let numbers: Vec<i64> = all
        .iter()
        .map(|r| r["number"].as_i64().expect("a number"))
        .collect();
    assert!(
        numbers.windows(2).all(|w| w[0] > w[1]),
        "newest first: {numbers:?}"
    );
    // Every item belongs to the account, directly or through a child record.
    for row in &all {
        let direct = row["parentType"] == json!("Account") && row["parentId"] == json!(apex);
        let child =
            row["superParentType"] == json!("Account") && row["superParentId"] == json!(apex);
        assert!(direct || child, "{row:?}");
    }

    let offset = api
        .get(&format!("Account/{apex}/stream?maxSize=2&offset=1"))
        .send()
        .await
        .ok_json();
    assert_eq!(offset["total"], json!(total));
    let expected: Vec<Value> = all[1..3].iter().map(|r| r["id"].clone()).collect();
    let got: Vec<Value> = rows_of(&offset).iter().map(|r| r["id"].clone()).collect();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn should_keep_only_posts_with_filter_and_posts_route_200() {
    let api = Api::start().await;
    let apex = api.find_one("Account", "name", "Apex Health Co.");
    post_on(&api, "Account", &apex, "one").await;
    post_on(&api, "Account", &apex, "").await;
    let (_, all) = whole_stream(&api, "Account", &apex).await;
    let posts: Vec<String> = all
        .iter()
        .filter(|r| r["type"] == json!("Post"))
        .map(id_of)
        .collect();
    assert!(posts.len() >= 2);
    assert!(
        posts.len() < all.len(),
        "the stream also holds system notes"
    );

    let filtered = api
        .get(&format!("Account/{apex}/stream?maxSize=200&filter=posts"))
        .send()
        .await
        .ok_json();
    assert_eq!(filtered["total"], json!(posts.len()));
    let got: Vec<String> = rows_of(&filtered).iter().map(id_of).collect();
    assert_eq!(got, posts);

    let route = api
        .get(&format!("Account/{apex}/posts?maxSize=200"))
        .send()
        .await
        .ok_json();
    assert_eq!(
        keys(route.as_object().expect("an object")),
        key_set(&["total", "list"])
    );
    assert_eq!(route["total"], json!(posts.len()));
    let got: Vec<String> = rows_of(&route).iter().map(id_of).collect();
    assert_eq!(got, posts);
}

#[tokio::test]
async fn should_answer_stream_of_missing_record_404() {
    let api = Api::start().await;
    api.get("Account/doesnotexist00001/stream")
        .send()
        .await
        .expect_json_error(404, Some("Record not found."));
}

#[tokio::test]
async fn should_list_own_stream_without_total_200() {
    let api = Api::start().await;
    let apex = api.find_one("Account", "name", "Apex Health Co.");
    // A post on a record the agent does not follow stays out of its own stream.
    post_on(&api, "Account", &apex, "On the account").await;
    let own = post_note(
        &api,
        json!({"type": "Post", "post": "A note without parent."}),
    )
    .await;
    let page = api.get("Stream?maxSize=3").send().await.ok_json();
    assert_eq!(page["total"], json!(-2), "no-total style, last page");
    let rows = rows_of(&page);
    let got: Vec<Value> = rows.iter().map(|r| r["id"].clone()).collect();
    assert_eq!(got, vec![own["id"].clone()]);
    for row in &rows {
        assert_eq!(keys(row), key_set(OWN_STREAM_ITEM));
    }
    post_note(&api, json!({"type": "Post", "post": "Another one."})).await;
    let page = api.get("Stream?maxSize=1").send().await.ok_json();
    assert_eq!(page["total"], json!(-1), "more follow");
    assert_eq!(rows_of(&page).len(), 1);
}

/// EspoCRM 10's own stream also says when it checked for changed reactions (none change here);
/// 8.4.2's has neither member.
#[tokio::test]
async fn should_add_reaction_members_to_own_stream_on_10_0() {
    for version in espocrm_sandbox::EspoVersion::ALL {
        let api = Api::start_version(version).await;
        post_note(
            &api,
            json!({"type": "Post", "post": "A note without parent."}),
        )
        .await;
        let page = api.get("Stream?maxSize=3").send().await.ok_json();
        let members: BTreeSet<&str> = page
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        if version == espocrm_sandbox::EspoVersion::V8_4 {
            assert_eq!(members, BTreeSet::from(["list", "total"]));
            continue;
        }
        assert_eq!(
            members,
            BTreeSet::from(["list", "reactionsCheckDate", "total", "updatedReactions"])
        );
        assert_eq!(page["updatedReactions"], json!([]));
        let checked = page["reactionsCheckDate"].as_str().expect("a date-time");
        assert!(
            chrono::NaiveDateTime::parse_from_str(checked, "%Y-%m-%d %H:%M:%S").is_ok(),
            "{checked}"
        );
    }
}

#[tokio::test]
async fn should_follow_and_unfollow_record_200() {
    let api = Api::start().await;
    let agent = api.user_id(Who::Agent).await;
    let apex = api.find_one("Account", "name", "Apex Health Co.");
    let before = api.get(&format!("Account/{apex}")).send().await.ok_json();
    assert_eq!(before["isFollowed"], json!(false));

    let followed = api
        .request(
            reqwest::Method::PUT,
            &format!("Account/{apex}/subscription"),
        )
        .send()
        .await
        .ok_json();
    assert_eq!(followed, json!(true));
    let read = api.get(&format!("Account/{apex}")).send().await.ok_json();
    assert_eq!(read["isFollowed"], json!(true));
    let followers: BTreeSet<&str> = read["followersIds"]
        .as_array()
        .expect("followers")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(followers.contains(agent.as_str()));
    assert_eq!(read["followersNames"][&agent], json!("mcp-agent"));
    let page = api
        .list(
            "Account",
            "boolFilterList%5B%5D=followed&select=name&maxSize=200",
        )
        .await;
    assert!(rows_of(&page).iter().any(|r| id_of(r) == apex));
    // Notes of followed records reach the own stream.
    let note = post_on(&api, "Account", &apex, "Now followed").await;
    let own = api.get("Stream?maxSize=200").send().await.ok_json();
    assert!(rows_of(&own).iter().any(|r| r["id"] == note["id"]));

    let unfollowed = api
        .delete(&format!("Account/{apex}/subscription"))
        .send()
        .await
        .ok_json();
    assert_eq!(unfollowed, json!(true));
    let read = api.get(&format!("Account/{apex}")).send().await.ok_json();
    assert_eq!(read["isFollowed"], json!(false));
    assert!(
        !read["followersIds"]
            .as_array()
            .expect("followers")
            .contains(&json!(agent))
    );
}
