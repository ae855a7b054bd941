//! Optimistic concurrency (EspoCRM 10.0, `23-version-*`): `versionNumber` on the entity types
//! with `optimisticConcurrencyControl`, counted on every save; `X-Version-Number` differing from
//! it refused with 409 `modified` and the stored values when the request would change something;
//! lists leave it out of a `select` that does not name it. In 8.4 there is no version and the
//! header is ignored (`fixtures/05-update-version-conflict`).

use espocrm_sandbox::EspoVersion;
use serde_json::{Value, json};

use crate::common::{Api, JSON, Who, rows_of, where_query};

const STALE: &str = "X-Version-Number";

/// A fresh Account on a 10.0 sandbox, checked to start at version 1.
async fn new_account(api: &Api, name: &str) -> String {
    let created = api
        .post("Account", &json!({"name": name}))
        .send()
        .await
        .ok_json();
    assert_eq!(created["versionNumber"], json!(1), "{created}");
    created["id"].as_str().expect("an id").to_owned()
}

/// The version the store holds for a record.
fn stored_version(api: &Api, entity: &str, id: &str) -> Value {
    api.sandbox
        .record(entity, id)
        .and_then(|r| r.get("versionNumber").cloned())
        .unwrap_or(Value::Null)
}

fn stored(api: &Api, entity: &str, id: &str, attribute: &str) -> Value {
    api.sandbox
        .record(entity, id)
        .and_then(|r| r.get(attribute).cloned())
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn should_count_versions_and_refuse_stale_update_409() {
    let api = Api::start_version(EspoVersion::V10_0).await;
    let id = new_account(&api, "MCP Version Test Co.").await;
    let path = format!("Account/{id}");
    let read = api.get(&path).send().await.ok_json();
    assert_eq!(read["versionNumber"], json!(1));

    let v1 = "https://v1.mcp-version-test.example.com";
    let current = api
        .put(&path, &json!({"website": v1}))
        .header(STALE, "1")
        .send()
        .await
        .ok_json();
    assert_eq!(current["versionNumber"], json!(2));
    assert_eq!(current["website"], json!(v1));

    let stale = api
        .put(
            &path,
            &json!({"website": "https://v2.mcp-version-test.example.com"}),
        )
        .header(STALE, "1")
        .send()
        .await;
    stale
        .expect_error(409, Some("modified"))
        .expect_content_type(JSON);
    assert_eq!(
        stale.json(),
        json!({"values": {"website": v1}, "versionNumber": 2})
    );
    assert_eq!(stored(&api, "Account", &id, "website"), json!(v1));
    assert_eq!(stored_version(&api, "Account", &id), json!(2));

    // A stale number with the stored values changes nothing: no conflict, but still a save.
    let same = api
        .put(&path, &json!({"website": v1}))
        .header(STALE, "1")
        .send()
        .await
        .ok_json();
    assert_eq!(same["versionNumber"], json!(3));

    let non_numeric = api
        .put(
            &path,
            &json!({"website": "https://v3.mcp-version-test.example.com"}),
        )
        .header(STALE, "abc")
        .send()
        .await;
    non_numeric.expect_error(409, Some("modified"));
    assert_eq!(
        non_numeric.json(),
        json!({"values": {"website": v1}, "versionNumber": 3})
    );

    let v4 = "https://v4.mcp-version-test.example.com";
    let unchecked = api
        .put(&path, &json!({"website": v4}))
        .send()
        .await
        .ok_json();
    assert_eq!(unchecked["versionNumber"], json!(4));
    assert_eq!(stored(&api, "Account", &id, "website"), json!(v4));
    assert_eq!(stored_version(&api, "Account", &id), json!(4));
}

#[tokio::test]
async fn should_name_every_attribute_of_each_changed_field_409() {
    let api = Api::start_version(EspoVersion::V10_0).await;
    let id = new_account(&api, "MCP Version Multi Co.").await;
    let path = format!("Account/{id}");
    api.put(&path, &json!({"description": "first"}))
        .send()
        .await
        .ok_json();
    let conflict = api
        .put(
            &path,
            &json!({"phoneNumber": "+1 212 555 0100", "billingAddressCity": "Boston",
                    "description": "first"}),
        )
        .header(STALE, "1")
        .send()
        .await;
    conflict.expect_error(409, Some("modified"));
    assert_eq!(
        conflict.json(),
        json!({
            "values": {
                "phoneNumber": null,
                "phoneNumberIsOptedOut": null,
                "phoneNumberIsInvalid": null,
                "phoneNumberData": [],
                "billingAddressStreet": null,
                "billingAddressCity": null,
                "billingAddressState": null,
                "billingAddressCountry": null,
                "billingAddressPostalCode": null,
            },
            "versionNumber": 2,
        })
    );
    assert_eq!(
        stored(&api, "Account", &id, "billingAddressCity"),
        Value::Null
    );
    assert_eq!(stored_version(&api, "Account", &id), json!(2));
}

#[tokio::test]
async fn should_give_an_opportunity_amount_with_its_currency_409() {
    let api = Api::start_version(EspoVersion::V10_0).await;
    let created = api
        .post(
            "Opportunity",
            &json!({"name": "MCP Version Test Deal", "amount": 42000, "closeDate": "2027-01-01"}),
        )
        .send()
        .await
        .ok_json();
    assert_eq!(created["versionNumber"], json!(1));
    let id = created["id"].as_str().expect("an id").to_owned();
    let path = format!("Opportunity/{id}");
    let moved = api
        .put(&path, &json!({"stage": "Qualification"}))
        .header(STALE, "1")
        .send()
        .await
        .ok_json();
    assert_eq!(moved["versionNumber"], json!(2));
    let conflict = api
        .put(&path, &json!({"amount": 99000}))
        .header(STALE, "1")
        .send()
        .await;
    conflict.expect_error(409, Some("modified"));
    assert_eq!(
        conflict.json(),
        json!({"values": {"amount": 42000, "amountCurrency": "USD"}, "versionNumber": 2})
    );
    assert_eq!(stored(&api, "Opportunity", &id, "amount"), json!(42000));
    // A link's name is not the link: only its id counts as a change.
    let renamed = api
        .put(&path, &json!({"accountName": "Someone Else Inc."}))
        .header(STALE, "1")
        .send()
        .await
        .ok_json();
    assert_eq!(renamed["versionNumber"], json!(3));
}

#[tokio::test]
async fn should_count_empty_and_ignored_saves_but_not_failed_ones_200() {
    let api = Api::start_version(EspoVersion::V10_0).await;
    let id = new_account(&api, "MCP Version Count Co.").await;
    let path = format!("Account/{id}");
    let empty = api.put(&path, &json!({})).send().await.ok_json();
    assert_eq!(empty["versionNumber"], json!(2));
    // versionNumber itself is read-only input.
    let ignored = api
        .put(&path, &json!({"versionNumber": 99}))
        .send()
        .await
        .ok_json();
    assert_eq!(ignored["versionNumber"], json!(3));
    api.put(&path, &json!({"name": ""}))
        .send()
        .await
        .expect_validation("Account", "name", "required");
    assert_eq!(stored_version(&api, "Account", &id), json!(3));
    // Relating is not a save of the record.
    let contact = api
        .post("Contact", &json!({"lastName": "Versioned"}))
        .send()
        .await
        .ok_json();
    api.post(&format!("{path}/contacts"), &json!({"id": contact["id"]}))
        .send()
        .await
        .ok_json();
    assert_eq!(stored_version(&api, "Account", &id), json!(3));
}

#[tokio::test]
async fn should_start_seeded_records_at_version_one_200() {
    let api = Api::start_version(EspoVersion::V10_0).await;
    for entity in ["Account", "Opportunity", "Task", "Case"] {
        let page = api.list(entity, "maxSize=3").await;
        for row in rows_of(&page) {
            assert_eq!(row["versionNumber"], json!(1), "{entity} list row {row:?}");
            let id = row["id"].as_str().expect("an id");
            let read = api.get(&format!("{entity}/{id}")).send().await.ok_json();
            assert_eq!(read["versionNumber"], json!(1), "{entity} {id}");
        }
    }
}

#[tokio::test]
async fn should_ignore_the_header_without_the_flag_200() {
    let api = Api::start_version(EspoVersion::V10_0).await;
    let page = api.list("Contact", "maxSize=1").await;
    let id = rows_of(&page)[0]["id"].as_str().expect("an id").to_owned();
    let updated = api
        .put(
            &format!("Contact/{id}"),
            &json!({"description": "Prefers e-mail."}),
        )
        .header(STALE, "1")
        .send()
        .await
        .ok_json();
    assert!(updated.get("versionNumber").is_none(), "{updated}");
    assert_eq!(
        stored(&api, "Contact", &id, "description"),
        json!("Prefers e-mail.")
    );
    assert_eq!(stored_version(&api, "Contact", &id), Value::Null);
}

#[tokio::test]
async fn should_leave_the_version_out_of_a_select_unless_named_200() {
    let api = Api::start_version(EspoVersion::V10_0).await;
    let id = new_account(&api, "MCP Version Select Co.").await;
    api.put(
        &format!("Account/{id}"),
        &json!({"website": "https://select.example.com"}),
    )
    .send()
    .await
    .ok_json();
    let by_id = where_query(&json!([{"type": "equals", "attribute": "id", "value": id}]));
    let plain = api.list("Account", &format!("select=name&{by_id}")).await;
    let row = &rows_of(&plain)[0];
    assert!(row.get("versionNumber").is_none(), "{row:?}");

    let newer = where_query(&json!([
        {"type": "equals", "attribute": "id", "value": id},
        {"type": "greaterThan", "attribute": "versionNumber", "value": 1},
    ]));
    let selected = api
        .list("Account", &format!("select=name%2CversionNumber&{newer}"))
        .await;
    assert_eq!(selected["total"], json!(1));
    assert_eq!(rows_of(&selected)[0]["versionNumber"], json!(2));

    let too_new = where_query(&json!([
        {"type": "equals", "attribute": "id", "value": id},
        {"type": "greaterThan", "attribute": "versionNumber", "value": 2},
    ]));
    let none = api.list("Account", &format!("select=name&{too_new}")).await;
    assert_eq!(none["total"], json!(0));
}

#[tokio::test]
async fn should_have_no_versions_in_8_4_and_ignore_the_header_200() {
    let api = Api::start_version(EspoVersion::V8_4).await;
    let created = api
        .post("Account", &json!({"name": "MCP Version 8.4 Co."}))
        .send()
        .await
        .ok_json();
    assert!(created.get("versionNumber").is_none(), "{created}");
    let id = created["id"].as_str().expect("an id").to_owned();
    let path = format!("Account/{id}");
    for description in ["fresh", "stale"] {
        let updated = api
            .put(&path, &json!({"description": description}))
            .header(STALE, "1")
            .who(Who::Agent)
            .send()
            .await
            .ok_json();
        assert!(updated.get("versionNumber").is_none(), "{updated}");
    }
    assert_eq!(stored(&api, "Account", &id, "description"), json!("stale"));
    assert_eq!(stored_version(&api, "Account", &id), Value::Null);
}
