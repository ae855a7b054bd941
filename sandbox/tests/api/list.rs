//! `GET {E}`: page size and its limit, offsets, ordering, `select` and the attributes EspoCRM
//! always adds, text search (`textFilter`, `q`), named filters, `boolFilterList`, the
//! `searchParams` JSON form, `X-No-Total`, and the two ways of writing brackets.

use std::cmp::Ordering;

use serde_json::json;

use crate::common::{
    Api, Row, id_of, ids, key_set, keys, number, query, rows_of, text, where_query,
};

/// The attributes of an Account list item without `select` (recorded).
const ACCOUNT_LIST_ATTRIBUTES: &[&str] = &[
    "id",
    "name",
    "deleted",
    "website",
    "emailAddress",
    "phoneNumber",
    "type",
    "industry",
    "sicCode",
    "billingAddressStreet",
    "billingAddressCity",
    "billingAddressState",
    "billingAddressCountry",
    "billingAddressPostalCode",
    "shippingAddressStreet",
    "shippingAddressCity",
    "shippingAddressState",
    "shippingAddressCountry",
    "shippingAddressPostalCode",
    "description",
    "createdAt",
    "modifiedAt",
    "emailAddressIsOptedOut",
    "emailAddressIsInvalid",
    "phoneNumberIsOptedOut",
    "phoneNumberIsInvalid",
    "campaignId",
    "campaignName",
    "createdById",
    "createdByName",
    "modifiedById",
    "modifiedByName",
    "assignedUserId",
    "assignedUserName",
    "originalLeadId",
    "originalLeadName",
];

fn lower(row: &Row, attribute: &str) -> String {
    text(row, attribute).unwrap_or_default().to_lowercase()
}

#[tokio::test]
async fn should_default_page_size_to_200_200() {
    let api = Api::start().await;
    let contacts = api.list("Contact", "").await;
    assert_eq!(contacts["total"], json!(api.sandbox.count("Contact")));
    assert!(
        api.sandbox.count("Contact") > 200,
        "the demo has > 200 contacts"
    );
    assert_eq!(rows_of(&contacts).len(), 200);

    let accounts = api.get("Account").send().await.ok_json();
    let rows = rows_of(&accounts);
    assert_eq!(accounts["total"], json!(200));
    assert_eq!(rows.len(), 200);
    for row in &rows {
        assert_eq!(
            keys(row),
            key_set(ACCOUNT_LIST_ATTRIBUTES),
            "list attributes"
        );
    }
    // Default order: createdAt, newest first.
    for pair in rows.windows(2) {
        assert!(
            text(&pair[0], "createdAt") >= text(&pair[1], "createdAt"),
            "createdAt desc: {:?} then {:?}",
            pair[0]["createdAt"],
            pair[1]["createdAt"]
        );
    }
}

#[tokio::test]
async fn should_reject_page_size_above_200_403() {
    let api = Api::start().await;
    api.get("Account?maxSize=201&select=name")
        .send()
        .await
        .expect_json_error(
            403,
            Some("Max size should not exceed 200. Use offset and limit."),
        );
    api.list("Account", "maxSize=200&select=name").await;
}

#[tokio::test]
async fn should_treat_non_numeric_page_size_as_zero_200() {
    let api = Api::start().await;
    let page = api.list("Account", "maxSize=abc&select=name").await;
    assert_eq!(page["total"], json!(200));
    assert_eq!(page["list"], json!([]));
}

#[tokio::test]
async fn should_return_empty_page_beyond_end_200() {
    let api = Api::start().await;
    let page = api
        .list("Account", "select=name&maxSize=5&offset=1000")
        .await;
    assert_eq!(page["total"], json!(200));
    assert_eq!(page["list"], json!([]));
}

#[tokio::test]
async fn should_order_by_name_both_ways_200() {
    let api = Api::start().await;
    let (_, ascending) = api.fetch_all("Account", "orderBy=name&order=asc").await;
    assert_eq!(ascending.len(), 200);
    for pair in ascending.windows(2) {
        assert_ne!(
            lower(&pair[0], "name").cmp(&lower(&pair[1], "name")),
            Ordering::Greater,
            "ascending names: {:?} then {:?}",
            pair[0]["name"],
            pair[1]["name"]
        );
    }
    let (_, descending) = api.fetch_all("Account", "orderBy=name&order=DESC").await;
    for pair in descending.windows(2) {
        assert_ne!(
            lower(&pair[0], "name").cmp(&lower(&pair[1], "name")),
            Ordering::Less,
            "descending names: {:?} then {:?}",
            pair[0]["name"],
            pair[1]["name"]
        );
    }
    // A page is the matching slice of the whole ordering.
    let page = api
        .list("Account", "maxSize=5&offset=10&orderBy=name&order=asc")
        .await;
    let names: Vec<_> = rows_of(&page).iter().map(|r| r["name"].clone()).collect();
    let expected: Vec<_> = ascending[10..15]
        .iter()
        .map(|r| r["name"].clone())
        .collect();
    assert_eq!(names, expected);
    assert_eq!(page["total"], json!(200));
}

#[tokio::test]
async fn should_order_by_amount_descending_200() {
    let api = Api::start().await;
    let (total, rows) = api
        .fetch_all(
            "Opportunity",
            "select=name,amount,stage,closeDate&orderBy=amount&order=desc",
        )
        .await;
    assert_eq!(total as usize, api.sandbox.count("Opportunity"));
    let amounts: Vec<f64> = rows
        .iter()
        .map(|r| number(r, "amount").expect("an amount"))
        .collect();
    assert!(
        amounts.windows(2).all(|w| w[0] >= w[1]),
        "amounts descend numerically: {amounts:?}"
    );
    assert!(amounts.first() > amounts.last(), "amounts differ");
    assert_eq!(
        keys(&rows[0]),
        key_set(&[
            "id",
            "name",
            "amount",
            "stage",
            "closeDate",
            "amountCurrency",
            "accountId",
            "accountName",
            "createdById",
            "assignedUserId"
        ])
    );
    let (_, ascending) = api
        .fetch_all("Opportunity", "select=amount&orderBy=amount&order=asc")
        .await;
    let up: Vec<f64> = ascending
        .iter()
        .map(|r| number(r, "amount").expect("an amount"))
        .collect();
    assert!(
        up.windows(2).all(|w| w[0] <= w[1]),
        "amounts ascend: {up:?}"
    );
}

#[tokio::test]
async fn should_reject_order_by_unknown_field_400() {
    let api = Api::start().await;
    api.get("Account?orderBy=bogusField&maxSize=2")
        .send()
        .await
        .expect_json_error(400, Some("Order by non-existing field 'bogusField'."));
}

#[tokio::test]
async fn should_reject_bad_order_direction_400() {
    let api = Api::start().await;
    api.get("Account?orderBy=name&order=sideways&maxSize=2&select=name")
        .send()
        .await
        .expect_json_error(400, Some("order value is bad."));
}

#[tokio::test]
async fn should_return_selected_attributes_with_required_extras_200() {
    let api = Api::start().await;
    let page = api.list("Account", "select=name&maxSize=3").await;
    for row in rows_of(&page) {
        assert_eq!(
            keys(&row),
            key_set(&["id", "name", "createdAt", "assignedUserId", "createdById"])
        );
    }
    let page = api
        .list(
            "Contact",
            &query(&[
                ("select", "firstName,lastName,accountName,emailAddress"),
                ("maxSize", "3"),
            ]),
        )
        .await;
    assert_eq!(page["total"], json!(api.sandbox.count("Contact")));
    for row in rows_of(&page) {
        assert_eq!(
            keys(&row),
            key_set(&[
                "id",
                "name",
                "firstName",
                "lastName",
                "emailAddress",
                "accountIsInactive",
                "createdAt",
                "accountId",
                "accountName",
                "createdById",
                "assignedUserId"
            ])
        );
        let full = format!(
            "{} {}",
            text(&row, "firstName").unwrap_or_default(),
            text(&row, "lastName").unwrap_or_default()
        );
        assert_eq!(text(&row, "name"), Some(full.trim()));
        if row["accountId"].is_string() {
            assert!(row["accountName"].is_string(), "{row:?}");
        }
    }
}

#[tokio::test]
async fn should_report_active_account_of_contacts_200() {
    let api = Api::start().await;
    let page = api.list("Contact", "select=name&maxSize=20").await;
    for row in rows_of(&page) {
        if row["accountId"].is_string() {
            assert_eq!(row["accountIsInactive"], json!(false), "{row:?}");
        }
    }
}

#[tokio::test]
async fn should_drop_unknown_select_names_200() {
    let api = Api::start().await;
    let page = api
        .list(
            "Account",
            &query(&[("select", "name,bogusField"), ("maxSize", "2")]),
        )
        .await;
    assert_eq!(page["total"], json!(200));
    let rows = rows_of(&page);
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert_eq!(
            keys(&row),
            key_set(&["id", "name", "createdAt", "createdById", "assignedUserId"])
        );
    }
}

#[tokio::test]
async fn should_search_text_filter_by_prefix_200() {
    let api = Api::start().await;
    let (_, all) = api.fetch_all("Account", "select=name,emailAddress").await;
    let brand = "redwood";
    let expected: Vec<&Row> = all
        .iter()
        .filter(|r| {
            lower(r, "name").starts_with(brand) || lower(r, "emailAddress").starts_with(brand)
        })
        .collect();
    assert!(!expected.is_empty(), "the demo has Redwood accounts");
    let (total, rows) = api
        .fetch_all("Account", "textFilter=Redwood&select=name")
        .await;
    assert_eq!(total as usize, expected.len());
    assert_eq!(
        ids(&rows),
        expected.iter().map(|r| id_of(r)).collect(),
        "the matching accounts"
    );
    // "Starts with", not "contains": a word inside names only finds names starting with it.
    let inner = "analytics";
    let expected_inner: Vec<String> = all
        .iter()
        .filter(|r| {
            lower(r, "name").starts_with(inner) || lower(r, "emailAddress").starts_with(inner)
        })
        .map(id_of)
        .collect();
    assert!(
        all.iter().any(|r| lower(r, "name").contains(inner)),
        "some names contain {inner}"
    );
    let (_, rows) = api
        .fetch_all("Account", "textFilter=Analytics&select=name")
        .await;
    assert_eq!(ids(&rows), expected_inner.into_iter().collect());
}

#[tokio::test]
async fn should_report_no_total_for_q_search_200() {
    let api = Api::start().await;
    let (_, all) = api
        .fetch_all("Contact", "select=firstName,lastName,emailAddress")
        .await;
    let needle = "john";
    let matching = all
        .iter()
        .filter(|r| {
            lower(r, "firstName").starts_with(needle)
                || lower(r, "lastName").starts_with(needle)
                || lower(r, "emailAddress").starts_with(needle)
        })
        .count();
    assert!(matching > 3, "the demo has several Johns ({matching})");

    let page = api.list("Contact", "q=John&select=name&maxSize=3").await;
    assert_eq!(page["total"], json!(-1), "more follow");
    let rows = rows_of(&page);
    assert_eq!(rows.len(), 3);
    for row in &rows {
        assert!(lower(row, "name").contains(needle), "{row:?}");
    }
    let page = api
        .list("Contact", &format!("q=John&select=name&maxSize={matching}"))
        .await;
    assert_eq!(page["total"], json!(-2), "the last page");
    assert_eq!(rows_of(&page).len(), matching);
}

#[tokio::test]
async fn should_apply_primary_filter_open_200() {
    let api = Api::start().await;
    let (_, all) = api.fetch_all("Opportunity", "select=stage").await;
    let open: Vec<&Row> = all
        .iter()
        .filter(|r| !matches!(text(r, "stage"), Some("Closed Won" | "Closed Lost")))
        .collect();
    assert!(open.len() < all.len(), "some opportunities are closed");
    let (total, rows) = api
        .fetch_all("Opportunity", "primaryFilter=open&select=name,stage")
        .await;
    assert_eq!(total as usize, open.len());
    assert_eq!(ids(&rows), open.iter().map(|r| id_of(r)).collect());
    for row in &rows {
        assert!(
            !matches!(text(row, "stage"), Some("Closed Won" | "Closed Lost")),
            "{row:?}"
        );
        assert_eq!(
            keys(row),
            key_set(&[
                "id",
                "name",
                "stage",
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
async fn should_reject_unknown_primary_filter_400() {
    let api = Api::start().await;
    api.get("Account?primaryFilter=bogus&maxSize=2&select=name")
        .send()
        .await
        .expect_json_error(400, Some("No primary filter 'bogus' for 'Account'."));
}

#[tokio::test]
async fn should_apply_bool_filter_only_my_200() {
    let api = Api::start().await;
    let agent = api.user_id(crate::common::Who::Agent).await;
    let mine_before = api.sandbox.find("Task", "assignedUserId", &json!(agent));
    let page = api
        .list("Task", "boolFilterList%5B%5D=onlyMy&select=name&maxSize=3")
        .await;
    assert_eq!(page["total"], json!(mine_before.len()));

    let task = api
        .post(
            "Task",
            &json!({"name": "Mine only", "assignedUserId": agent, "status": "Not Started"}),
        )
        .send()
        .await
        .ok_json();
    let page = api
        .list(
            "Task",
            "boolFilterList%5B%5D=onlyMy&select=name,assignedUserId",
        )
        .await;
    assert_eq!(page["total"], json!(mine_before.len() + 1));
    let rows = rows_of(&page);
    assert!(rows.iter().any(|r| r["id"] == task["id"]));
    for row in rows {
        assert_eq!(row["assignedUserId"], json!(agent));
    }
}

#[tokio::test]
async fn should_read_search_params_json_200() {
    let api = Api::start().await;
    let (_, all) = api.fetch_all("Account", "select=name,industry").await;
    let software: Vec<&Row> = all
        .iter()
        .filter(|r| text(r, "industry") == Some("Software"))
        .collect();
    assert!(software.len() > 3, "several software accounts");
    let params = json!({
        "where": [{"type": "equals", "attribute": "industry", "value": "Software"}],
        "select": ["name", "industry"],
        "maxSize": 3,
        "orderBy": "name",
        "order": "desc"
    });
    // The separate maxSize is ignored when searchParams is present.
    let page = api
        .list(
            "Account",
            &query(&[("searchParams", &params.to_string()), ("maxSize", "1")]),
        )
        .await;
    assert_eq!(page["total"], json!(software.len()));
    let rows = rows_of(&page);
    assert_eq!(rows.len(), 3);
    let mut names: Vec<String> = software.iter().map(|r| lower(r, "name")).collect();
    names.sort();
    names.reverse();
    let got: Vec<String> = rows.iter().map(|r| lower(r, "name")).collect();
    assert_eq!(got, names[..3].to_vec(), "the last three names, descending");
    for row in &rows {
        assert_eq!(
            keys(row),
            key_set(&["id", "name", "industry", "createdById", "assignedUserId"])
        );
        assert_eq!(text(row, "industry"), Some("Software"));
    }
}

#[tokio::test]
async fn should_reject_bad_search_params_json_400() {
    let api = Api::start().await;
    api.get("Account?searchParams=%7Bnot+json")
        .send()
        .await
        .expect_json_error(400, Some("Invalid search params JSON."));
}

#[tokio::test]
async fn should_skip_counting_with_no_total_header_200() {
    let api = Api::start().await;
    let first = api
        .get("Account?select=name&maxSize=2")
        .header("X-No-Total", "true")
        .send()
        .await
        .ok_json();
    assert_eq!(first["total"], json!(-1));
    assert_eq!(rows_of(&first).len(), 2);
    let last = api
        .get("Account?select=name&maxSize=5&offset=198")
        .header("X-No-Total", "true")
        .send()
        .await
        .ok_json();
    assert_eq!(last["total"], json!(-2));
    assert_eq!(rows_of(&last).len(), 2);
    // Without the header the total is counted.
    let counted = api.list("Account", "select=name&maxSize=2").await;
    assert_eq!(counted["total"], json!(200));
}

#[tokio::test]
async fn should_parse_literal_and_encoded_brackets_alike_200() {
    let api = Api::start().await;
    let literal = api
        .list(
            "Account",
            "where[0][type]=equals&where[0][attribute]=industry&where[0][value]=Software&select=name,industry&maxSize=3",
        )
        .await;
    let encoded = api
        .list(
            "Account",
            &format!(
                "{}&select=name%2Cindustry&maxSize=3",
                where_query(
                    &json!([{"type": "equals", "attribute": "industry", "value": "Software"}])
                )
            ),
        )
        .await;
    assert_eq!(literal, encoded);
    let software = api
        .sandbox
        .find("Account", "industry", &json!("Software"))
        .len();
    assert_eq!(literal["total"], json!(software));
    for row in rows_of(&literal) {
        assert_eq!(text(&row, "industry"), Some("Software"));
    }
    let literal = api
        .list("Task", "boolFilterList[]=onlyMy&select=name")
        .await;
    let encoded = api
        .list("Task", "boolFilterList%5B%5D=onlyMy&select=name")
        .await;
    assert_eq!(literal, encoded);
}
