//! `GET Kanban/{E}`: one group per status option minus the ignored ones, `maxSize` per group,
//! a top-level total that still counts the ignored statuses; the per-user order set with
//! `PUT Kanban/order`; moving a card by updating its status; and the single-action route's
//! `text/html` errors.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::common::{Api, HTML, Row, id_of, key_set, keys, number, rows_of, text, where_query};

const OPPORTUNITY_GROUPS: [&str; 5] = [
    "Prospecting",
    "Qualification",
    "Proposal",
    "Negotiation",
    "Closed Won",
];

fn groups(board: &Value) -> Vec<Value> {
    board["groups"].as_array().expect("groups").clone()
}

fn counts_by(rows: &[Row], attribute: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for row in rows {
        *out.entry(text(row, attribute).unwrap_or_default().to_owned())
            .or_insert(0) += 1;
    }
    out
}

#[tokio::test]
async fn should_group_opportunities_by_stage_200() {
    let api = Api::start().await;
    let (total, all) = api.fetch_all("Opportunity", "select=stage").await;
    let per_stage = counts_by(&all, "stage");
    assert!(per_stage.get("Closed Lost").is_some_and(|n| *n > 0));

    let board = api
        .get("Kanban/Opportunity?maxSize=3&select=name%2Cstage%2Camount%2CcloseDate")
        .send()
        .await
        .ok_json();
    assert_eq!(
        keys(board.as_object().expect("an object")),
        key_set(&["total", "groups", "list"])
    );
    assert_eq!(board["total"], json!(total), "counts Closed Lost too");
    let names: Vec<String> = groups(&board)
        .iter()
        .map(|g| g["name"].as_str().expect("a name").to_owned())
        .collect();
    assert_eq!(
        names,
        OPPORTUNITY_GROUPS.map(str::to_owned).to_vec(),
        "no Closed Lost group"
    );
    let mut concatenated = Vec::new();
    for group in groups(&board) {
        let name = group["name"].as_str().expect("a name");
        let expected = per_stage.get(name).copied().unwrap_or(0);
        assert_eq!(group["total"], json!(expected), "{name}");
        assert_eq!(group["label"], Value::Null);
        assert_eq!(group["style"], Value::Null);
        let rows = rows_of(&group);
        assert_eq!(rows.len(), expected.min(3), "maxSize per group");
        for row in &rows {
            assert_eq!(text(row, "stage"), Some(name));
            assert_eq!(
                keys(row),
                key_set(&[
                    "id",
                    "name",
                    "amount",
                    "stage",
                    "closeDate",
                    "createdAt",
                    "createdById",
                    "assignedUserId"
                ])
            );
        }
        concatenated.extend(group["list"].as_array().expect("a list").clone());
    }
    assert_eq!(board["list"], Value::Array(concatenated));
}

#[tokio::test]
async fn should_filter_and_order_kanban_200() {
    let api = Api::start().await;
    let (_, all) = api.fetch_all("Opportunity", "select=stage,amount").await;
    let big: Vec<Row> = all
        .into_iter()
        .filter(|r| number(r, "amount").is_some_and(|a| a > 150_000.0))
        .collect();
    let per_stage = counts_by(&big, "stage");
    let items = json!([{"type": "greaterThan", "attribute": "amount", "value": "150000"}]);
    let board = api
        .get(&format!(
            "Kanban/Opportunity?{}&maxSize=2&select=name%2Cstage%2Camount&orderBy=amount&order=desc",
            where_query(&items)
        ))
        .send()
        .await
        .ok_json();
    assert_eq!(board["total"], json!(big.len()));
    for group in groups(&board) {
        let name = group["name"].as_str().expect("a name");
        let expected = per_stage.get(name).copied().unwrap_or(0);
        assert_eq!(group["total"], json!(expected), "{name}");
        let rows = rows_of(&group);
        assert_eq!(rows.len(), expected.min(2));
        let amounts: Vec<f64> = rows.iter().filter_map(|r| number(r, "amount")).collect();
        assert!(amounts.iter().all(|a| *a > 150_000.0), "{amounts:?}");
        assert!(
            amounts.windows(2).all(|w| w[0] >= w[1]),
            "desc: {amounts:?}"
        );
        // The biggest ones of the group come first.
        let mut group_amounts: Vec<f64> = big
            .iter()
            .filter(|r| text(r, "stage") == Some(name))
            .filter_map(|r| number(r, "amount"))
            .collect();
        group_amounts.sort_by(|a, b| b.total_cmp(a));
        assert_eq!(
            amounts,
            group_amounts.into_iter().take(2).collect::<Vec<_>>()
        );
        for row in &rows {
            assert_eq!(
                keys(row),
                key_set(&[
                    "id",
                    "name",
                    "amount",
                    "stage",
                    "amountCurrency",
                    "createdById",
                    "assignedUserId"
                ])
            );
        }
    }
}

#[tokio::test]
async fn should_group_tasks_without_ignored_statuses_200() {
    let api = Api::start().await;
    let board = api
        .get("Kanban/Task?maxSize=1&select=name%2Cstatus")
        .send()
        .await
        .ok_json();
    let names: Vec<String> = groups(&board)
        .iter()
        .map(|g| g["name"].as_str().expect("a name").to_owned())
        .collect();
    assert_eq!(names, ["Not Started", "Started", "Completed"]);
    assert_eq!(board["total"], json!(api.sandbox.count("Task")));
}

#[tokio::test]
async fn should_fail_kanban_without_status_field_500() {
    let api = Api::start().await;
    api.get("Kanban/Account?maxSize=1")
        .send()
        .await
        .expect_html_error(500, Some("No status field for entity type 'Account'."));
}

#[tokio::test]
async fn should_refuse_kanban_of_unknown_entity_403() {
    let api = Api::start().await;
    api.get("Kanban/FooBar")
        .send()
        .await
        .expect_html_error(403, Some("Non-object entities are not supported."));
}

#[tokio::test]
async fn should_refuse_kanban_to_limited_key_403() {
    let api = Api::start().await;
    api.get("Kanban/Opportunity?maxSize=1")
        .limited()
        .send()
        .await
        .expect_html_error(403, Some(""));
}

#[tokio::test]
async fn should_put_ordered_ids_first_200() {
    let api = Api::start().await;
    let path = "Kanban/Opportunity?maxSize=5&select=name%2Cstage";
    let before = api.get(path).send().await.ok_json();
    let group = groups(&before)
        .into_iter()
        .find(|g| g["name"] == json!("Proposal"))
        .expect("the Proposal group");
    let total = group["total"].as_u64().expect("a total") as usize;
    assert!(total >= 6, "enough proposals ({total})");
    // The normal order of the group: the list's default order, filtered by stage.
    let (_, all) = api.fetch_all("Opportunity", "select=stage").await;
    let proposals: Vec<&Row> = all
        .iter()
        .filter(|r| text(r, "stage") == Some("Proposal"))
        .collect();
    assert_eq!(proposals.len(), total);
    let normal: Vec<String> = proposals.iter().take(5).map(|r| id_of(r)).collect();
    assert_eq!(
        rows_of(&group).iter().map(id_of).collect::<Vec<_>>(),
        normal
    );
    // Three cards from the end of the normal order, reversed.
    let mut chosen: Vec<String> = proposals.iter().rev().take(3).map(|r| id_of(r)).collect();
    chosen.swap(0, 2);
    let answer = api
        .put(
            "Kanban/order",
            &json!({"entityType": "Opportunity", "group": "Proposal", "ids": chosen}),
        )
        .send()
        .await
        .ok_json();
    assert_eq!(answer, json!(true));

    let after = api.get(path).send().await.ok_json();
    let group = groups(&after)
        .into_iter()
        .find(|g| g["name"] == json!("Proposal"))
        .expect("the Proposal group");
    assert_eq!(group["total"], json!(total));
    let listed: Vec<String> = rows_of(&group).iter().map(id_of).collect();
    assert_eq!(listed.len(), 5);
    assert_eq!(listed[..3].to_vec(), chosen, "the ordered ids first");
    // The rest follow in the normal order.
    let rest: Vec<String> = proposals
        .iter()
        .map(|r| id_of(r))
        .filter(|i| !chosen.contains(i))
        .take(2)
        .collect();
    assert_eq!(listed[3..].to_vec(), rest);
    // The order is the agent's own: the administrator still sees the normal order.
    let admin = api.get(path).admin().send().await.ok_json();
    let admin_group = groups(&admin)
        .into_iter()
        .find(|g| g["name"] == json!("Proposal"))
        .expect("the Proposal group");
    let admin_listed: Vec<String> = rows_of(&admin_group).iter().map(id_of).collect();
    assert_eq!(admin_listed, normal);
}

#[tokio::test]
async fn should_refuse_order_without_group_400() {
    let api = Api::start().await;
    let (_, rows) = api.fetch_all("Opportunity", "select=name").await;
    let ids: Vec<String> = rows.iter().take(3).map(id_of).collect();
    api.put(
        "Kanban/order",
        &json!({"entityType": "Opportunity", "ids": ids}),
    )
    .send()
    .await
    .expect_html_error(400, Some(""));
    api.put(
        "Kanban/order",
        &json!({"entityType": "Opportunity", "group": "Proposal", "ids": "not-a-list"}),
    )
    .send()
    .await
    .expect_error(400, Some(""))
    .expect_content_type(HTML);
}

#[tokio::test]
async fn should_move_card_by_updating_stage_200() {
    let api = Api::start().await;
    let before = api
        .get("Kanban/Opportunity?maxSize=1&select=name%2Cstage")
        .send()
        .await
        .ok_json();
    let totals = |board: &Value| -> BTreeMap<String, u64> {
        groups(board)
            .iter()
            .map(|g| {
                (
                    g["name"].as_str().expect("a name").to_owned(),
                    g["total"].as_u64().expect("a total"),
                )
            })
            .collect()
    };
    let (_, all) = api.fetch_all("Opportunity", "select=stage").await;
    let proposals: Vec<&Row> = all
        .iter()
        .filter(|r| text(r, "stage") == Some("Proposal"))
        .collect();
    let card = id_of(proposals[0]);
    let moved = api
        .put(
            &format!("Opportunity/{card}"),
            &json!({"stage": "Negotiation"}),
        )
        .send()
        .await
        .ok_json();
    assert_eq!(moved["stage"], json!("Negotiation"));
    assert_eq!(moved["lastStage"], json!("Negotiation"));
    assert_eq!(moved["probability"], json!(80));
    let after = api
        .get("Kanban/Opportunity?maxSize=1&select=name%2Cstage")
        .send()
        .await
        .ok_json();
    let (b, a) = (totals(&before), totals(&after));
    assert_eq!(a["Proposal"] + 1, b["Proposal"]);
    assert_eq!(a["Negotiation"], b["Negotiation"] + 1);
    assert_eq!(after["total"], before["total"]);
}
