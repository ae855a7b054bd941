//! What differs between the two EspoCRM versions the sandbox answers as, in the shape of its
//! answers: the 10.0 metadata and `App/user` (recorded on 10.0.0), the attributes 10.0 adds to
//! records (passive values: stars, locks, collaborators, the stream's last update, reactions),
//! and `GET Metadata?key=`, which both versions answer alike.

use espocrm_sandbox::EspoVersion;
use serde_json::{Value, json};

use crate::common::*;

#[tokio::test]
async fn should_answer_metadata_key_with_the_sub_value_200() {
    for version in EspoVersion::ALL {
        let api = Api::start_version(version).await;
        let whole = api.get("Metadata").send().await.ok_json();
        for key in [
            "scopes.Account",
            "entityDefs.Account.fields.name",
            "entityDefs.Opportunity.fields.stage.options",
            "entityDefs.Task.fields.assignedUser",
        ] {
            let part = api
                .get(&format!("Metadata?key={key}"))
                .send()
                .await
                .ok_json();
            let expected = key
                .split('.')
                .fold(&whole, |value, segment| &value[segment]);
            assert_eq!(&part, expected, "{version} {key}");
        }
        let stage = api
            .get("Metadata?key=entityDefs.Opportunity.fields.stage")
            .send()
            .await
            .ok_json();
        // 10.0 describes the fields clients ask for by key as recorded (24-pipeline-field-stage-*).
        assert_eq!(
            stage.get("labelType").is_some(),
            version == EspoVersion::V10_0,
            "{version} {stage}"
        );
        // A path that leads nowhere: 200, JSON, empty body (26-decimal-field-metadata-after).
        api.get("Metadata?key=entityDefs.Opportunity.fields.cDiscountRate")
            .send()
            .await
            .expect_status(200)
            .expect_content_type(JSON)
            .expect_empty_body();
        // The limited user's metadata has no Opportunity: its key leads nowhere for them.
        api.get("Metadata?key=entityDefs.Opportunity")
            .limited()
            .send()
            .await
            .expect_status(200)
            .expect_empty_body();
    }
}

#[tokio::test]
async fn should_describe_the_10_0_metadata_and_keep_8_4_as_recorded() {
    let old = Api::start_version(EspoVersion::V8_4).await;
    let new = Api::start_version(EspoVersion::V10_0).await;
    let m8 = old.get("Metadata").send().await.ok_json();
    let m10 = new.get("Metadata").send().await.ok_json();

    for entity in ["Account", "Opportunity", "Task", "Case"] {
        assert_eq!(
            m10["entityDefs"][entity]["optimisticConcurrencyControl"],
            json!(true),
            "{entity}"
        );
        assert_eq!(
            m8["entityDefs"][entity]["optimisticConcurrencyControl"],
            Value::Null,
            "{entity}"
        );
    }
    assert_eq!(m10["scopes"]["Account"]["lockable"], json!(true));
    assert_eq!(m8["scopes"]["Account"]["lockable"], Value::Null);
    assert_eq!(m10["scopes"]["Contact"]["stars"], json!(true));
    let is_locked = &m10["entityDefs"]["Account"]["fields"]["isLocked"];
    assert_eq!(is_locked["type"], json!("bool"));
    assert_eq!(is_locked["readOnly"], json!(true));
    assert_eq!(
        m8["entityDefs"]["Account"]["fields"]["isLocked"],
        Value::Null
    );
    for entity in [
        "Account",
        "Contact",
        "Lead",
        "Opportunity",
        "Task",
        "Meeting",
        "Case",
    ] {
        assert_eq!(
            m10["entityDefs"][entity]["fields"]["streamUpdatedAt"]["type"],
            json!("datetime"),
            "{entity}"
        );
    }
    for entity in ["Task", "Case"] {
        let link = &m10["entityDefs"][entity]["links"]["collaborators"];
        assert_eq!(link["entity"], json!("User"), "{entity}");
        assert_eq!(
            link["relationName"],
            json!("entityCollaborator"),
            "{entity}"
        );
    }
    let note_types = |m: &Value| -> Vec<String> {
        serde_json::from_value(m["entityDefs"]["Note"]["fields"]["type"]["options"].clone())
            .expect("Note type options")
    };
    assert!(note_types(&m8).contains(&"Status".to_owned()));
    assert!(!note_types(&m10).contains(&"Status".to_owned()));
    for hash in ["nameHash", "typeHash", "idHash"] {
        assert_eq!(
            m10["entityDefs"]["Email"]["fields"][hash]["type"],
            json!("jsonObject")
        );
        assert_eq!(
            m8["entityDefs"]["Email"]["fields"][hash]["type"],
            json!("text")
        );
    }
    let case_collection = &m10["entityDefs"]["Case"]["collection"];
    assert_eq!(case_collection["fullTextSearch"], json!(true));
    assert_eq!(
        case_collection["textFilterFields"],
        json!(["name", "number", "description"])
    );
    let template_collection = &m10["entityDefs"]["EmailTemplate"]["collection"];
    assert_eq!(template_collection["orderBy"], json!("name"));
    assert_eq!(template_collection["order"], json!("asc"));
    assert_eq!(
        m10["fields"]["decimal"]["params"][4]["name"],
        json!("decimalPlaces")
    );
    assert_eq!(m8["fields"]["decimal"], Value::Null);
    assert_eq!(
        m10["entityDefs"]["Contact"]["links"]["meetingsChildren"]["type"],
        json!("hasChildren")
    );
    // The sandbox's own attribute lists never leave it.
    for entity in ["Account", "Contact", "EmailTemplate"] {
        let def = m10["entityDefs"][entity].as_object().expect("described");
        for private in ["detailAttributes", "listAttributes", "listExtraAttributes"] {
            assert!(!def.contains_key(private), "{entity} {private}");
        }
    }
}

#[tokio::test]
async fn should_describe_the_10_0_app_user_200() {
    let api = Api::start_version(EspoVersion::V10_0).await;
    for who in [Who::Agent, Who::Limited] {
        let me = api.get("App/user").who(who.clone()).send().await.ok_json();
        assert_eq!(me["acl"]["lockPermission"], json!("no"), "{who:?}");
        assert_eq!(me["acl"]["userCalendarPermission"], json!("no"), "{who:?}");
        assert_eq!(me["acl"]["table"]["Pipeline"], json!(true), "{who:?}");
        assert_eq!(me["acl"]["fieldTable"]["Pipeline"], json!({}), "{who:?}");
        let settings = me["settings"].as_object().expect("settings");
        assert_eq!(settings["currencyRates"], json!({"USD": 1}));
        assert_eq!(settings["availableReactions"], json!(["Like"]));
        // Recorded as null; a merge patch cannot carry a null, the data names them instead.
        assert_eq!(settings.get("passwordStrengthLength"), Some(&Value::Null));
        assert!(
            !settings.contains_key("outboundEmailFromAddress"),
            "{who:?}"
        );
        assert!(!settings.contains_key("outboundEmailFromName"), "{who:?}");
        assert!(!settings.contains_key("streamEmailWithContentEntityTypeList"));
        assert_eq!(me["preferences"]["followAsCollaborator"], json!(true));
        assert_eq!(me["appParams"]["pipelines"], json!([]));
        assert_eq!(me["appParams"]["meetingServices"], json!([]));
        assert_eq!(me["appParams"]["currencyRates"], json!({"USD": "1.000000"}));
        assert_eq!(me["user"]["teamsColumns"], json!({}), "{who:?}");
    }
    let old = Api::start_version(EspoVersion::V8_4).await;
    let me = old.get("App/user").send().await.ok_json();
    assert!(me["acl"].get("lockPermission").is_none());
    assert!(me["user"].get("teamsColumns").is_none());
    assert_eq!(me["settings"]["currencyRates"], json!([]));
    assert!(me["settings"]["outboundEmailFromAddress"].is_string());
}

#[tokio::test]
async fn should_give_10_0_records_their_passive_values_200() {
    let api = Api::start_version(EspoVersion::V10_0).await;
    let agent = api.user_id(Who::Agent).await;

    let account = api
        .post(
            "Account",
            &json!({"name": "Passive Values Ltd", "type": "Partner"}),
        )
        .send()
        .await
        .ok_json();
    assert_eq!(account["isLocked"], json!(false));
    assert_eq!(account["isStarred"], json!(false));
    assert_eq!(account["streamUpdatedAt"], account["createdAt"]);
    let account_id = account["id"].as_str().expect("id").to_owned();

    // The Contact's accountType is read through its account (a `foreign` field).
    let contact = api
        .post(
            "Contact",
            &json!({"firstName": "Pia", "lastName": "Passive", "accountId": account_id}),
        )
        .send()
        .await
        .ok_json();
    assert_eq!(contact["accountType"], json!("Partner"));
    assert_eq!(contact["isStarred"], json!(false));

    // The assigned user becomes a collaborator; without one there are none.
    let task = api
        .post(
            "Task",
            &json!({"name": "Collaborate", "assignedUserId": agent}),
        )
        .send()
        .await
        .ok_json();
    assert_eq!(task["collaboratorsIds"], json!([agent]));
    assert_eq!(task["collaboratorsNames"][&agent], json!("mcp-agent"));
    let case = api
        .post("Case", &json!({"name": "Nobody assigned"}))
        .send()
        .await
        .ok_json();
    assert_eq!(case["collaboratorsIds"], json!([]));
    assert_eq!(case["isInternal"], json!(false));

    let meeting = api
        .post(
            "Meeting",
            &json!({"name": "Online?", "dateStart": "2030-01-07 10:00:00",
                    "dateEnd": "2030-01-07 11:00:00", "assignedUserId": agent}),
        )
        .send()
        .await
        .ok_json();
    assert!(meeting.as_object().expect("object").contains_key("joinUrl"));
    assert_eq!(meeting["joinUrl"], Value::Null);

    // streamUpdatedAt follows the last note of the record's stream.
    let note = api
        .post(
            "Note",
            &json!({"post": "hello", "parentType": "Account", "parentId": account_id}),
        )
        .send()
        .await
        .ok_json();
    let read = api
        .get(&format!("Account/{account_id}"))
        .send()
        .await
        .ok_json();
    assert_eq!(read["streamUpdatedAt"], note["createdAt"]);
    assert_eq!(
        api.sandbox.record("Account", &account_id).expect("stored")["streamUpdatedAt"],
        note["createdAt"]
    );

    // Every list row of a type with stars carries isStarred, with or without select; the
    // duplicates of a 409 do not.
    let rows = rows_of(&api.list("Contact", "select=name&maxSize=2").await);
    assert!(rows.iter().all(|r| r["isStarred"] == json!(false)));
    let rows = rows_of(&api.list("Account", "maxSize=2").await);
    assert!(
        rows.iter()
            .all(|r| r["isStarred"] == json!(false) && r.contains_key("isLocked"))
    );
    let rows = rows_of(&api.list("Opportunity", "select=name&maxSize=2").await);
    assert!(rows.iter().all(|r| !r.contains_key("isStarred")));
    let duplicate = api
        .post("Account", &json!({"name": "Passive Values Ltd"}))
        .send()
        .await;
    duplicate.expect_error(409, Some("duplicate"));
    let first = &duplicate.json()[0];
    assert!(first.get("isStarred").is_none(), "{first}");
    assert!(first.get("isLocked").is_some(), "{first}");

    // 10.0 answers a create with the primary addresses the data lists decided.
    let with_data = api
        .post(
            "Contact",
            &json!({"lastName": "Datalist",
                    "emailAddressData": [{"emailAddress": "d@example.org", "primary": true}],
                    "phoneNumberData": [{"phoneNumber": "+1 212 555 0100", "primary": true}]}),
        )
        .send()
        .await
        .ok_json();
    assert_eq!(with_data["emailAddress"], json!("d@example.org"));
    assert_eq!(with_data["phoneNumber"], json!("+12125550100"));
}

#[tokio::test]
async fn should_keep_8_4_records_without_the_10_0_attributes_200() {
    let api = Api::start_version(EspoVersion::V8_4).await;
    let agent = api.user_id(Who::Agent).await;
    let task = api
        .post(
            "Task",
            &json!({"name": "Old style", "assignedUserId": agent}),
        )
        .send()
        .await
        .ok_json();
    for absent in ["collaboratorsIds", "streamUpdatedAt"] {
        assert!(task.get(absent).is_none(), "{absent}: {task}");
    }
    let rows = rows_of(&api.list("Account", "select=name&maxSize=2").await);
    assert!(rows.iter().all(|r| !r.contains_key("isStarred")));
    let contact = api
        .post(
            "Contact",
            &json!({"lastName": "Datalist",
                    "emailAddressData": [{"emailAddress": "d@example.org", "primary": true}]}),
        )
        .send()
        .await
        .ok_json();
    assert!(contact.get("emailAddress").is_none(), "{contact}");
    let note = api
        .post("Note", &json!({"post": "mine"}))
        .send()
        .await
        .ok_json();
    assert!(note.get("myReactions").is_none());
    let stream = api.get("Stream?maxSize=3").send().await.ok_json();
    assert!(stream.get("reactionsCheckDate").is_none());
}

#[tokio::test]
async fn should_show_10_0_note_reactions_and_stream_extras_200() {
    let api = Api::start_version(EspoVersion::V10_0).await;
    let note = api
        .post("Note", &json!({"post": "mine"}))
        .send()
        .await
        .ok_json();
    assert_eq!(note["reactionCounts"], Value::Null);
    assert!(
        note.as_object()
            .expect("object")
            .contains_key("reactionCounts")
    );
    assert_eq!(note["myReactions"], json!([]));
    let id = note["id"].as_str().expect("id");
    let read = api.get(&format!("Note/{id}")).send().await.ok_json();
    assert_eq!(read["myReactions"], json!([]));

    let stream = api.get("Stream?maxSize=3").send().await.ok_json();
    assert!(
        stream["reactionsCheckDate"]
            .as_str()
            .is_some_and(is_datetime),
        "{stream}"
    );
    assert_eq!(stream["updatedReactions"], json!([]));
    let first = &stream["list"][0];
    assert_eq!(first["id"], json!(id));
    assert_eq!(first["myReactions"], json!([]));
    assert!(
        first
            .as_object()
            .expect("object")
            .contains_key("reactionCounts")
    );
}
