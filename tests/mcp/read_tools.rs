//! The success paths of the five read tools, each check run on both protocol eras. Every answer
//! is compared with what the sandbox holds, read directly over HTTP (not through espomcp).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::common::{Direct, Era, Server, ids, lower, number, record_url, rows, sandbox, total};

/// One `#[tokio::test]` per era for each check.
macro_rules! on_both_eras {
    ($($check:ident),* $(,)?) => {
        $(
            mod $check {
                use crate::common::Era;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_2025_11_25() {
                    super::$check(Era::Legacy).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_2026_07_28() {
                    super::$check(Era::Modern).await;
                }
            }
        )*
    };
}

on_both_eras!(
    values_cannot_change_the_query,
    lists_entity_types,
    describes_a_schema,
    searches_with_every_operator,
    pages_through_results,
    selects_fields,
    orders_results,
    filters_by_text,
    gets_a_record,
    gets_related_records,
);

type Record = Map<String, Value>;

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("an array")
        .iter()
        .map(|e| e["name"].as_str().expect("a name").to_owned())
        .collect()
}

async fn lists_entity_types(era: Era) {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, era).await;
    let answer = server.ok("list_entity_types", json!({})).await;
    let list = &answer["entityTypes"];
    let found = names(list);
    for expected in [
        "Account",
        "Call",
        "Case",
        "Contact",
        "Lead",
        "Meeting",
        "Opportunity",
        "Task",
    ] {
        let entry = list
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == expected)
            .unwrap_or_else(|| panic!("{expected} missing from {found:?}"));
        assert_eq!(
            entry["actions"],
            json!(["read", "create", "edit", "delete"]),
            "{expected}"
        );
        assert!(
            entry["label"].as_str().is_some_and(|l| !l.is_empty()),
            "{entry}"
        );
    }
    // The agent reads and edits its own e-mails and writes drafts, but never deletes them.
    let email = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "Email")
        .expect("Email is readable (own)");
    assert_eq!(email["actions"], json!(["read", "create", "edit"]));
    // System types are never listed.
    for absent in ["Note", "Team", "Preferences", "EmailTemplate"] {
        assert!(!found.iter().any(|n| n == absent), "{absent} in {found:?}");
    }
    let user = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "User")
        .expect("User is readable");
    assert_eq!(user["actions"], json!(["read"]));
    server.stop().await;
}

fn field<'a>(schema: &'a Value, name: &str) -> &'a Value {
    schema["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no field {name}"))
}

fn link<'a>(schema: &'a Value, name: &str) -> &'a Value {
    schema["links"]
        .as_array()
        .expect("links")
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no link {name}"))
}

async fn describes_a_schema(era: Era) {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, era).await;
    let schema = server
        .ok("get_schema", json!({"entityType": "Opportunity"}))
        .await;
    assert_eq!(schema["entityType"], "Opportunity");

    let stage = field(&schema, "stage");
    assert_eq!(stage["type"], "enum");
    let options = stage["options"].as_array().expect("stage has options");
    for option in [
        "Prospecting",
        "Proposal",
        "Negotiation",
        "Closed Won",
        "Closed Lost",
    ] {
        assert!(
            options.contains(&json!(option)),
            "{option} not in {options:?}"
        );
    }
    let amount = field(&schema, "amount");
    assert_eq!(amount["required"], true, "{amount}");
    assert_eq!(amount["type"], "currency");
    assert_eq!(field(&schema, "name")["required"], true);
    assert_eq!(field(&schema, "closeDate")["required"], true);
    assert_eq!(field(&schema, "description")["required"], false);
    for f in schema["fields"].as_array().unwrap() {
        assert!(f["readOnly"].is_boolean(), "{f}");
    }

    let account = link(&schema, "account");
    assert_eq!(account["type"], "belongsTo");
    assert_eq!(account["entity"], "Account");
    let contacts = link(&schema, "contacts");
    assert_eq!(contacts["type"], "hasMany");
    assert_eq!(contacts["entity"], "Contact");

    // Entity types are found whatever their case, and answered in EspoCRM's spelling.
    let lower = server
        .ok("get_schema", json!({"entityType": "opportunity"}))
        .await;
    assert_eq!(lower["entityType"], "Opportunity");

    // Fields the role hides are not described.
    let user = server.ok("get_schema", json!({"entityType": "User"})).await;
    let fields: Vec<&str> = user["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"userName"), "{fields:?}");
    for secret in ["password", "apiKey", "secretKey", "authMethod"] {
        assert!(!fields.contains(&secret), "{secret} in {fields:?}");
    }

    // A parent link names no single entity type.
    let task = server.ok("get_schema", json!({"entityType": "Task"})).await;
    let parent = link(&task, "parent");
    assert_eq!(parent["type"], "belongsToParent");
    assert!(parent.get("entity").is_none(), "{parent}");
    server.stop().await;
}

type Predicate = Box<dyn Fn(&Record) -> bool>;

struct Case {
    label: &'static str,
    entity: &'static str,
    conditions: Value,
    holds: Predicate,
}

fn text(r: &Record, key: &str) -> Option<String> {
    r.get(key).and_then(lower)
}

fn num(r: &Record, key: &str) -> Option<f64> {
    r.get(key).and_then(number)
}

fn string(r: &Record, key: &str) -> Option<String> {
    r.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// The median of the amounts: a value that exists, for inclusive bounds.
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

async fn searches_with_every_operator(era: Era) {
    let sandbox = sandbox().await;
    let direct = Direct::new(&sandbox);
    // The demo data has no Contact with doNotCall true: add a few, directly.
    // (Distinct names: EspoCRM refuses likely duplicates with 409.)
    for (last, flag) in [
        ("Flagged-One", true),
        ("Flagged-Two", true),
        ("Flagged-Three", true),
        ("Cleared-One", false),
        ("Cleared-Two", false),
    ] {
        direct
            .create("Contact", json!({"lastName": last, "doNotCall": flag}))
            .await;
    }
    let mut data: BTreeMap<&str, Vec<Record>> = BTreeMap::new();
    for entity in ["Opportunity", "Contact", "Account"] {
        data.insert(entity, direct.all(entity).await);
    }
    let opportunities = &data["Opportunity"];
    let mut amounts: Vec<f64> = opportunities
        .iter()
        .filter_map(|r| num(r, "amount"))
        .collect();
    let mid = median(&mut amounts);
    let some_name = string(&opportunities[7], "name").expect("a name");
    let prefix = some_name.split_whitespace().next().unwrap().to_owned();
    let account_id = string(&opportunities[3], "accountId").expect("an account");
    let three_ids: Vec<String> = opportunities[10..13]
        .iter()
        .map(|r| string(r, "id").unwrap())
        .collect();

    let stage_is = |stage: &'static str| move |r: &Record| r.get("stage") == Some(&json!(stage));
    let (ids_in, ids_out) = (three_ids.clone(), three_ids.clone());
    let (name_eq, prefix_sw, account_eq) = (
        some_name.to_lowercase(),
        prefix.to_lowercase(),
        account_id.clone(),
    );
    let cases = vec![
        Case {
            label: "equals (enum)",
            entity: "Opportunity",
            conditions: json!([{"field": "stage", "type": "equals", "value": "Proposal"}]),
            holds: Box::new(stage_is("Proposal")),
        },
        Case {
            label: "equals (text)",
            entity: "Opportunity",
            conditions: json!([{"field": "name", "type": "equals", "value": some_name}]),
            holds: Box::new(move |r| text(r, "name").as_deref() == Some(&*name_eq)),
        },
        Case {
            label: "equals (link id)",
            entity: "Opportunity",
            conditions: json!([{"field": "accountId", "type": "equals", "value": account_id}]),
            holds: Box::new(move |r| string(r, "accountId").as_deref() == Some(&*account_eq)),
        },
        Case {
            label: "notEquals",
            entity: "Opportunity",
            conditions: json!([{"field": "stage", "type": "notEquals", "value": "Proposal"}]),
            holds: Box::new(|r| {
                r.get("stage")
                    .is_some_and(|s| !s.is_null() && s != "Proposal")
            }),
        },
        Case {
            label: "like",
            entity: "Opportunity",
            conditions: json!([{"field": "name", "type": "like", "value": "%Expansion%"}]),
            holds: Box::new(|r| text(r, "name").is_some_and(|n| n.contains("expansion"))),
        },
        Case {
            label: "notLike",
            entity: "Opportunity",
            conditions: json!([{"field": "name", "type": "notLike", "value": "%Expansion%"}]),
            holds: Box::new(|r| text(r, "name").is_some_and(|n| !n.contains("expansion"))),
        },
        Case {
            label: "contains",
            entity: "Opportunity",
            conditions: json!([{"field": "name", "type": "contains", "value": "support"}]),
            holds: Box::new(|r| text(r, "name").is_some_and(|n| n.contains("support"))),
        },
        Case {
            label: "startsWith",
            entity: "Opportunity",
            conditions: json!([{"field": "name", "type": "startsWith", "value": prefix}]),
            holds: Box::new(move |r| text(r, "name").is_some_and(|n| n.starts_with(&prefix_sw))),
        },
        Case {
            label: "greaterThan",
            entity: "Opportunity",
            conditions: json!([{"field": "amount", "type": "greaterThan", "value": mid}]),
            holds: Box::new(move |r| num(r, "amount").is_some_and(|a| a > mid)),
        },
        Case {
            label: "greaterThanOrEquals",
            entity: "Opportunity",
            conditions: json!([{"field": "amount", "type": "greaterThanOrEquals", "value": mid}]),
            holds: Box::new(move |r| num(r, "amount").is_some_and(|a| a >= mid)),
        },
        Case {
            label: "lessThan",
            entity: "Opportunity",
            conditions: json!([{"field": "amount", "type": "lessThan", "value": mid}]),
            holds: Box::new(move |r| num(r, "amount").is_some_and(|a| a < mid)),
        },
        Case {
            label: "lessThanOrEquals",
            entity: "Opportunity",
            conditions: json!([{"field": "amount", "type": "lessThanOrEquals", "value": mid}]),
            holds: Box::new(move |r| num(r, "amount").is_some_and(|a| a <= mid)),
        },
        Case {
            label: "greaterThan (date)",
            entity: "Opportunity",
            conditions: json!([{"field": "closeDate", "type": "greaterThan", "value": "2027-01-31"}]),
            holds: Box::new(|r| string(r, "closeDate").is_some_and(|d| d.as_str() > "2027-01-31")),
        },
        Case {
            label: "in",
            entity: "Opportunity",
            conditions: json!([{"field": "stage", "type": "in", "value": ["Proposal", "Negotiation"]}]),
            holds: Box::new(|r| {
                r.get("stage")
                    .is_some_and(|s| s == "Proposal" || s == "Negotiation")
            }),
        },
        Case {
            label: "in (ids)",
            entity: "Opportunity",
            conditions: json!([{"field": "id", "type": "in", "value": three_ids}]),
            holds: Box::new(move |r| string(r, "id").is_some_and(|id| ids_in.contains(&id))),
        },
        Case {
            label: "notIn",
            entity: "Opportunity",
            conditions: json!([{"field": "stage", "type": "notIn", "value": ["Proposal", "Negotiation"]}]),
            holds: Box::new(|r| {
                r.get("stage")
                    .is_some_and(|s| !s.is_null() && s != "Proposal" && s != "Negotiation")
            }),
        },
        Case {
            label: "notIn (ids)",
            entity: "Opportunity",
            conditions: json!([{"field": "id", "type": "notIn", "value": ids_out.clone()}]),
            holds: Box::new(move |r| string(r, "id").is_some_and(|id| !ids_out.contains(&id))),
        },
        Case {
            label: "isNull",
            entity: "Opportunity",
            conditions: json!([{"field": "description", "type": "isNull"}]),
            holds: Box::new(|r| r.get("description").is_none_or(Value::is_null)),
        },
        Case {
            label: "isNotNull",
            entity: "Opportunity",
            conditions: json!([{"field": "description", "type": "isNotNull"}]),
            holds: Box::new(|r| r.get("description").is_some_and(|d| !d.is_null())),
        },
        Case {
            label: "between (number)",
            entity: "Opportunity",
            conditions: json!([{"field": "amount", "type": "between", "value": [50000, mid]}]),
            holds: Box::new(move |r| {
                num(r, "amount").is_some_and(|a| (50000.0..=mid).contains(&a))
            }),
        },
        Case {
            label: "between (date)",
            entity: "Opportunity",
            conditions: json!([{"field": "closeDate", "type": "between", "value": ["2027-01-01", "2027-03-31"]}]),
            holds: Box::new(|r| {
                string(r, "closeDate")
                    .is_some_and(|d| ("2027-01-01"..="2027-03-31").contains(&d.as_str()))
            }),
        },
        Case {
            label: "isTrue",
            entity: "Contact",
            conditions: json!([{"field": "doNotCall", "type": "isTrue"}]),
            holds: Box::new(|r| r.get("doNotCall") == Some(&json!(true))),
        },
        Case {
            label: "isFalse",
            entity: "Contact",
            conditions: json!([{"field": "doNotCall", "type": "isFalse"}]),
            holds: Box::new(|r| r.get("doNotCall") == Some(&json!(false))),
        },
        Case {
            label: "isFalse (email opt-out)",
            entity: "Account",
            conditions: json!([
                {"field": "emailAddressIsOptedOut", "type": "isFalse"},
                {"field": "name", "type": "startsWith", "value": "E"}
            ]),
            holds: Box::new(|r| {
                r.get("emailAddressIsOptedOut") == Some(&json!(false))
                    && text(r, "name").is_some_and(|n| n.starts_with('e'))
            }),
        },
        Case {
            label: "nested or/and, ANDed with a top-level condition",
            entity: "Opportunity",
            conditions: json!([
                {"type": "or", "value": [
                    {"field": "stage", "type": "equals", "value": "Proposal"},
                    {"type": "and", "value": [
                        {"field": "stage", "type": "equals", "value": "Closed Won"},
                        {"field": "amount", "type": "greaterThan", "value": mid}
                    ]}
                ]},
                {"field": "leadSource", "type": "notEquals", "value": "Other"}
            ]),
            holds: Box::new(move |r| {
                let stage = r.get("stage");
                let proposal = stage == Some(&json!("Proposal"));
                let big_win = stage == Some(&json!("Closed Won"))
                    && num(r, "amount").is_some_and(|a| a > mid);
                let source = r.get("leadSource");
                (proposal || big_win) && source.is_some_and(|s| !s.is_null() && s != "Other")
            }),
        },
    ];

    let server = Server::start(&sandbox, era).await;
    for case in &cases {
        let all = &data[case.entity];
        let expected: BTreeSet<String> = all
            .iter()
            .filter(|r| (case.holds)(r))
            .map(|r| string(r, "id").unwrap())
            .collect();
        assert!(
            !expected.is_empty() && expected.len() < all.len(),
            "{}: the data must make this case meaningful ({} of {})",
            case.label,
            expected.len(),
            all.len()
        );
        let page = server
            .ok(
                "search",
                json!({"entityType": case.entity, "where": case.conditions, "limit": 200}),
            )
            .await;
        assert_eq!(total(&page), expected.len() as u64, "{}: total", case.label);
        let found = rows(&page);
        assert_eq!(found.len(), expected.len().min(200), "{}: rows", case.label);
        for row in &found {
            assert!(
                (case.holds)(row),
                "{}: a row breaks the condition: {row:?}",
                case.label
            );
            let id = string(row, "id").unwrap();
            assert!(expected.contains(&id), "{}: unexpected {id}", case.label);
            assert_eq!(
                row["url"],
                record_url(&sandbox, case.entity, &id),
                "{}",
                case.label
            );
        }
        let distinct: BTreeSet<String> = ids(&page).into_iter().collect();
        assert_eq!(
            distinct.len(),
            found.len(),
            "{}: duplicate rows",
            case.label
        );
    }
    server.stop().await;
}

async fn pages_through_results(era: Era) {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, era).await;
    let page = |offset: u32, limit: u32| {
        json!({"entityType": "Opportunity", "orderBy": "name", "order": "asc",
               "offset": offset, "limit": limit, "select": ["name"]})
    };
    let first = server.ok("search", page(0, 10)).await;
    let second = server.ok("search", page(10, 10)).await;
    let both = server.ok("search", page(0, 20)).await;
    assert_eq!(
        (first["offset"].clone(), first["limit"].clone()),
        (json!(0), json!(10))
    );
    assert_eq!(
        (second["offset"].clone(), second["limit"].clone()),
        (json!(10), json!(10))
    );
    for p in [&first, &second, &both] {
        assert_eq!(total(p), 150);
    }
    let (a, b) = (ids(&first), ids(&second));
    assert_eq!((a.len(), b.len()), (10, 10));
    assert!(a.iter().all(|id| !b.contains(id)), "pages overlap");
    assert_eq!([a, b].concat(), ids(&both), "consecutive pages");

    // No limit: 20 records.
    let default = server
        .ok("search", json!({"entityType": "Opportunity"}))
        .await;
    assert_eq!(default["limit"], 20);
    assert_eq!(default["offset"], 0);
    assert_eq!(rows(&default).len(), 20);

    // Past the end: an empty page with the real total.
    let past = server.ok("search", page(1000, 10)).await;
    assert_eq!(total(&past), 150);
    assert!(rows(&past).is_empty());

    // The last, partial page.
    let last = server.ok("search", page(140, 20)).await;
    assert_eq!(rows(&last).len(), 10);

    // Above EspoCRM's own maximum, the page is capped at 200 rather than refused.
    let big = server
        .ok(
            "search",
            json!({"entityType": "Contact", "limit": 500, "select": ["lastName"]}),
        )
        .await;
    assert_eq!(big["limit"], 200);
    assert_eq!(rows(&big).len(), 200);
    assert_eq!(total(&big), 500);
    server.stop().await;

    // SERVER_MAX_LIMIT caps every page.
    let capped = Server::builder(&sandbox)
        .era(era)
        .env("SERVER_MAX_LIMIT", 50)
        .start()
        .await;
    let page = capped
        .ok("search", json!({"entityType": "Opportunity", "limit": 100}))
        .await;
    assert_eq!(page["limit"], 50);
    assert_eq!(rows(&page).len(), 50);
    assert_eq!(total(&page), 150);
    let account = Direct::new(&sandbox).all("Account").await;
    let id = string(&account[0], "id").unwrap();
    let related = capped
        .ok(
            "get_related",
            json!({"entityType": "Account", "id": id, "link": "contacts", "limit": 199}),
        )
        .await;
    assert_eq!(related["limit"], 50);
    capped.stop().await;

    // Below the default page size, the default is the cap.
    let tiny = Server::builder(&sandbox)
        .era(era)
        .env("SERVER_MAX_LIMIT", 5)
        .start()
        .await;
    let page = tiny
        .ok("search", json!({"entityType": "Opportunity"}))
        .await;
    assert_eq!(page["limit"], 5);
    assert_eq!(rows(&page).len(), 5);
    tiny.stop().await;
}

/// Attributes EspoCRM adds to any `select` of a list (the order attribute, the ACL owners, and
/// the attributes a type's list rows need).
const ALWAYS_ADDED: [&str; 7] = [
    "createdAt",
    "assignedUserId",
    "createdById",
    "accountId",
    "accountName",
    "accountIsInactive",
    "name",
];

fn keys(record: &Record) -> BTreeSet<String> {
    record.keys().cloned().collect()
}

async fn selects_fields(era: Era) {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, era).await;
    let page = server
        .ok(
            "search",
            json!({"entityType": "Opportunity", "select": ["name", "amount"], "limit": 5}),
        )
        .await;
    assert_eq!(rows(&page).len(), 5);
    // An amount comes with its currency, as in EspoCRM's own answers.
    let selected = ["id", "name", "amount", "amountCurrency", "url"];
    for row in rows(&page) {
        let keys = keys(&row);
        for needed in selected {
            assert!(keys.contains(needed), "{needed} missing from {keys:?}");
        }
        let id = row["id"].as_str().expect("an id");
        let stored = sandbox.record("Opportunity", id).expect("the record");
        assert_eq!(row["amountCurrency"], stored["amountCurrency"], "{id}");
        for key in &keys {
            assert!(
                selected.contains(&key.as_str()) || ALWAYS_ADDED.contains(&key.as_str()),
                "{key} was not selected: {keys:?}"
            );
        }
        for absent in [
            "stage",
            "description",
            "closeDate",
            "probability",
            "leadSource",
        ] {
            assert!(!keys.contains(absent), "{absent} in {keys:?}");
        }
    }

    // A link field stands for its id and name.
    let page = server
        .ok(
            "search",
            json!({"entityType": "Contact", "select": ["account", "lastName"], "limit": 3}),
        )
        .await;
    for row in rows(&page) {
        let keys = keys(&row);
        for needed in ["id", "lastName", "accountId", "accountName", "url"] {
            assert!(keys.contains(needed), "{needed} missing from {keys:?}");
        }
        for absent in ["emailAddress", "title", "description"] {
            assert!(!keys.contains(absent), "{absent} in {keys:?}");
        }
    }

    // `get` keeps exactly the selection, the id and the url.
    let id = ids(&page)[0].clone();
    let record = server
        .ok(
            "get",
            json!({"entityType": "Contact", "id": id, "select": ["lastName", "title"]}),
        )
        .await;
    let keys: BTreeSet<String> = record.as_object().unwrap().keys().cloned().collect();
    let expected: BTreeSet<String> = ["id", "lastName", "title", "url"]
        .map(String::from)
        .into_iter()
        .collect();
    assert_eq!(keys, expected);

    // So does `get`'s: the currency is kept with the amount, and only with it.
    let opportunity = ids(&server
        .ok("search", json!({"entityType": "Opportunity", "limit": 1}))
        .await)[0]
        .clone();
    let record = server
        .ok(
            "get",
            json!({"entityType": "Opportunity", "id": opportunity, "select": ["amount"]}),
        )
        .await;
    let keys: BTreeSet<&str> = record
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["id", "amount", "amountCurrency", "url"])
    );
    let stored = sandbox
        .record("Opportunity", &opportunity)
        .expect("the record");
    assert_eq!(record["amountCurrency"], stored["amountCurrency"]);
    assert_eq!(record["amount"], stored["amount"]);
    server.stop().await;
}

async fn orders_results(era: Era) {
    let sandbox = sandbox().await;
    let direct = Direct::new(&sandbox);
    let all = direct.all("Opportunity").await;
    let max = all
        .iter()
        .filter_map(|r| num(r, "amount"))
        .fold(f64::MIN, f64::max);
    let min = all
        .iter()
        .filter_map(|r| num(r, "amount"))
        .fold(f64::MAX, f64::min);
    let server = Server::start(&sandbox, era).await;
    let search = |order_by: &str, order: &str| {
        json!({"entityType": "Opportunity", "orderBy": order_by, "order": order,
               "limit": 200, "select": ["amount", "closeDate"]})
    };
    let desc = rows(&server.ok("search", search("amount", "desc")).await);
    let amounts: Vec<f64> = desc.iter().map(|r| num(r, "amount").unwrap()).collect();
    assert!(amounts.windows(2).all(|w| w[0] >= w[1]), "not descending");
    assert_eq!(amounts[0], max);

    let asc = rows(&server.ok("search", search("amount", "asc")).await);
    let amounts: Vec<f64> = asc.iter().map(|r| num(r, "amount").unwrap()).collect();
    assert!(amounts.windows(2).all(|w| w[0] <= w[1]), "not ascending");
    assert_eq!(amounts[0], min);

    let dates = rows(&server.ok("search", search("closeDate", "asc")).await);
    let dates: Vec<String> = dates
        .iter()
        .map(|r| string(r, "closeDate").unwrap())
        .collect();
    assert!(
        dates.windows(2).all(|w| w[0] <= w[1]),
        "dates not ascending"
    );
    let dates = rows(&server.ok("search", search("closeDate", "desc")).await);
    let dates: Vec<String> = dates
        .iter()
        .map(|r| string(r, "closeDate").unwrap())
        .collect();
    assert!(
        dates.windows(2).all(|w| w[0] >= w[1]),
        "dates not descending"
    );
    server.stop().await;
}

async fn filters_by_text(era: Era) {
    let sandbox = sandbox().await;
    let accounts = Direct::new(&sandbox).all("Account").await;
    let word = string(&accounts[0], "name")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let needle = word.to_lowercase();
    // EspoCRM's text filter: a name or email address starting with the text.
    let matches = |r: &Record| {
        ["name", "emailAddress"]
            .iter()
            .any(|k| text(r, k).is_some_and(|v| v.starts_with(&needle)))
    };
    let expected: BTreeSet<String> = accounts
        .iter()
        .filter(|r| matches(r))
        .map(|r| string(r, "id").unwrap())
        .collect();
    assert!(!expected.is_empty() && expected.len() < accounts.len());
    let server = Server::start(&sandbox, era).await;
    let page = server
        .ok(
            "search",
            json!({"entityType": "Account", "textFilter": word, "limit": 200}),
        )
        .await;
    assert_eq!(total(&page), expected.len() as u64);
    for row in rows(&page) {
        assert!(matches(&row), "{row:?} does not match {word:?}");
    }
    let found: BTreeSet<String> = ids(&page).into_iter().collect();
    assert_eq!(found, expected);

    // Combined with a condition.
    let page = server
        .ok(
            "search",
            json!({"entityType": "Account", "textFilter": word, "limit": 200,
                   "where": [{"field": "id", "type": "notEquals", "value": expected.iter().next().unwrap()}]}),
        )
        .await;
    assert_eq!(total(&page), expected.len() as u64 - 1);

    // A blank text filter filters nothing.
    let page = server
        .ok(
            "search",
            json!({"entityType": "Account", "textFilter": "  ", "limit": 1}),
        )
        .await;
    assert_eq!(total(&page), accounts.len() as u64);
    server.stop().await;
}

async fn gets_a_record(era: Era) {
    let sandbox = sandbox().await;
    let all = Direct::new(&sandbox).all("Opportunity").await;
    let stored = &all[5];
    let id = string(stored, "id").unwrap();
    let server = Server::start(&sandbox, era).await;
    let record = server
        .ok("get", json!({"entityType": "Opportunity", "id": id}))
        .await;
    for key in [
        "id",
        "name",
        "amount",
        "stage",
        "closeDate",
        "accountId",
        "probability",
    ] {
        assert_eq!(record[key], stored[key], "{key}");
    }
    assert_eq!(record["url"], record_url(&sandbox, "Opportunity", &id));
    // The record as the sandbox keeps it agrees too.
    let kept = sandbox.record("Opportunity", &id).expect("stored");
    assert_eq!(record["name"], kept["name"]);

    // Any case of the entity type; the link uses EspoCRM's spelling.
    let record = server
        .ok(
            "get",
            json!({"entityType": "OPPORTUNITY", "id": id, "select": ["stage"]}),
        )
        .await;
    assert_eq!(record["stage"], stored["stage"]);
    assert_eq!(record["url"], record_url(&sandbox, "Opportunity", &id));
    assert!(record.get("name").is_none(), "{record}");
    server.stop().await;
}

async fn gets_related_records(era: Era) {
    let sandbox = sandbox().await;
    let direct = Direct::new(&sandbox);
    let contacts = direct.all("Contact").await;
    let opportunities = direct.all("Opportunity").await;
    // The account with the most contacts.
    let mut by_account: BTreeMap<String, Vec<&Record>> = BTreeMap::new();
    for c in &contacts {
        if let Some(a) = string(c, "accountId") {
            by_account.entry(a).or_default().push(c);
        }
    }
    let (account, its_contacts) = by_account
        .iter()
        .max_by_key(|(_, v)| v.len())
        .map(|(a, v)| (a.clone(), v.clone()))
        .expect("contacts with accounts");
    assert!(its_contacts.len() >= 3, "need an account with contacts");
    let expected: BTreeSet<String> = its_contacts
        .iter()
        .map(|c| string(c, "id").unwrap())
        .collect();
    // The sandbox's own relation agrees with the contacts' account.
    let related_direct: BTreeSet<String> = direct
        .all_related("Account", &account, "contacts")
        .await
        .iter()
        .map(|c| string(c, "id").unwrap())
        .collect();
    assert_eq!(related_direct, expected);

    let server = Server::start(&sandbox, era).await;
    let page = server
        .ok(
            "get_related",
            json!({"entityType": "Account", "id": account, "link": "contacts", "limit": 200}),
        )
        .await;
    assert_eq!(total(&page), expected.len() as u64);
    let found: BTreeSet<String> = ids(&page).into_iter().collect();
    assert_eq!(found, expected);
    for row in rows(&page) {
        let id = string(&row, "id").unwrap();
        assert_eq!(row["url"], record_url(&sandbox, "Contact", &id));
        assert_eq!(string(&row, "accountId").as_deref(), Some(account.as_str()));
    }
    assert_eq!(page["offset"], 0);
    assert_eq!(page["limit"], 200);

    // Paging.
    let first = server
        .ok(
            "get_related",
            json!({"entityType": "Account", "id": account, "link": "contacts", "limit": 1}),
        )
        .await;
    let second = server
        .ok(
            "get_related",
            json!({"entityType": "Account", "id": account, "link": "contacts", "limit": 1, "offset": 1}),
        )
        .await;
    assert_eq!(total(&first), expected.len() as u64);
    assert_eq!(rows(&first).len(), 1);
    assert_eq!(rows(&second).len(), 1);
    assert_ne!(ids(&first), ids(&second));

    // With a condition and a selection.
    let one = its_contacts[0];
    let last = string(one, "lastName").unwrap();
    let same_last: BTreeSet<String> = its_contacts
        .iter()
        .filter(|c| text(c, "lastName") == Some(last.to_lowercase()))
        .map(|c| string(c, "id").unwrap())
        .collect();
    let page = server
        .ok(
            "get_related",
            json!({"entityType": "Account", "id": account, "link": "contacts",
                   "where": [{"field": "lastName", "type": "equals", "value": last}],
                   "select": ["lastName"]}),
        )
        .await;
    assert_eq!(total(&page), same_last.len() as u64);
    let found: BTreeSet<String> = ids(&page).into_iter().collect();
    assert_eq!(found, same_last);
    for row in rows(&page) {
        assert!(!row.contains_key("emailAddress"), "{row:?}");
        assert!(!row.contains_key("title"), "{row:?}");
        assert_eq!(text(&row, "lastName"), Some(last.to_lowercase()));
    }

    // Another link, checked against the opportunities' own account.
    let expected: BTreeSet<String> = opportunities
        .iter()
        .filter(|o| string(o, "accountId").as_deref() == Some(account.as_str()))
        .map(|o| string(o, "id").unwrap())
        .collect();
    let page = server
        .ok(
            "get_related",
            json!({"entityType": "Account", "id": account, "link": "opportunities", "limit": 200}),
        )
        .await;
    assert_eq!(total(&page), expected.len() as u64);
    let found: BTreeSet<String> = ids(&page).into_iter().collect();
    assert_eq!(found, expected);
    for row in rows(&page) {
        let id = string(&row, "id").unwrap();
        assert_eq!(row["url"], record_url(&sandbox, "Opportunity", &id));
    }
    server.stop().await;
}

/// Values are data: whatever they hold, they cannot add parameters to EspoCRM's query or
/// change its path.
async fn values_cannot_change_the_query(era: Era) {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, era).await;
    for value in [
        "x&maxSize=1&where[0][type]=isNotNull&where[0][attribute]=name",
        "x#fragment",
        "x%26where%5B0%5D%5Btype%5D%3DisNotNull",
        "x\n&select=apiKey",
        "../../User",
    ] {
        let page = server
            .ok(
                "search",
                json!({"entityType": "Account",
                       "where": [{"field": "name", "type": "equals", "value": value}]}),
            )
            .await;
        assert_eq!(total(&page), 0, "{value}: {page}");
        let page = server
            .ok(
                "search",
                json!({"entityType": "Account", "textFilter": value}),
            )
            .await;
        assert_eq!(total(&page), 0, "textFilter {value}: {page}");
    }
    // A name with the query's characters, stored as such, is found exactly.
    let odd = "Odd & Sons #1 [x]=y";
    let id = Direct::new(&sandbox)
        .create("Account", json!({"name": odd}))
        .await;
    let page = server
        .ok(
            "search",
            json!({"entityType": "Account",
                   "where": [{"field": "name", "type": "equals", "value": odd}]}),
        )
        .await;
    assert_eq!(ids(&page), std::slice::from_ref(&id));
    let page = server
        .ok(
            "search",
            json!({"entityType": "Account", "textFilter": "Odd & Sons"}),
        )
        .await;
    assert_eq!(ids(&page), [id]);
    server.stop().await;
}

/// ESPOCRM_URL may name the API (`…/api/v1`); record links point at the web UI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_urls_when_the_url_names_the_api() {
    let sandbox = sandbox().await;
    let server = Server::builder(&sandbox)
        .env("ESPOCRM_URL", format!("{}/api/v1/", sandbox.url))
        .start()
        .await;
    let page = server
        .ok("search", json!({"entityType": "Contact", "limit": 2}))
        .await;
    for id in ids(&page) {
        let record = server
            .ok("get", json!({"entityType": "Contact", "id": id}))
            .await;
        assert_eq!(record["url"], record_url(&sandbox, "Contact", &id));
    }
    for row in rows(&page) {
        let id = string(&row, "id").unwrap();
        assert_eq!(row["url"], record_url(&sandbox, "Contact", &id));
    }
    server.stop().await;
}
