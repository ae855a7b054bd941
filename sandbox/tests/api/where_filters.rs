//! The `where` language of `GET {E}`: each operator is sent as EspoCRM's web client sends it
//! (`where[0][type]=...`), and the answer is checked twice — every returned row satisfies the
//! condition, and the rows are exactly those of a full unfiltered listing that satisfy it (so a
//! filter that returns too little fails as surely as one that returns too much). Comparisons
//! follow MySQL: text is case-insensitive, and a condition on NULL is never true.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Days, NaiveDate, NaiveTime};
use serde_json::{Value, json};

use crate::common::{
    Api, Row, date_text, datetime_text, id_of, ids, number, rows_of, text, today, where_query,
};

/// Runs one filter on `entity` and compares it with `all` (the unfiltered listing) filtered by
/// `holds`. Returns the number of matching records.
async fn check(
    api: &Api,
    entity: &str,
    all: &[Row],
    items: Value,
    holds: impl Fn(&Row) -> bool,
) -> usize {
    let expected: BTreeSet<String> = all.iter().filter(|r| holds(r)).map(id_of).collect();
    let (total, rows) = api.fetch_all(entity, &where_query(&items)).await;
    for row in &rows {
        assert!(
            holds(row),
            "{entity} row {} does not satisfy {items}: {row:?}",
            id_of(row)
        );
    }
    assert_eq!(
        total as usize,
        expected.len(),
        "total of {entity} where {items}"
    );
    let got = ids(&rows);
    let missing: Vec<_> = expected.difference(&got).collect();
    let extra: Vec<_> = got.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{entity} where {items}: missing {missing:?}, unexpected {extra:?}"
    );
    expected.len()
}

async fn everything(api: &Api, entity: &str) -> Vec<Row> {
    let (total, rows) = api.fetch_all(entity, "").await;
    assert_eq!(total as usize, rows.len());
    assert_eq!(rows.len(), api.sandbox.count(entity), "all {entity} listed");
    rows
}

fn ci(row: &Row, attribute: &str) -> Option<String> {
    text(row, attribute).map(str::to_lowercase)
}

/// SQL `LIKE` under a case-insensitive collation: `%` any run, `_` one character.
fn like(value: &str, pattern: &str) -> bool {
    fn go(v: &[char], p: &[char]) -> bool {
        match p.first() {
            None => v.is_empty(),
            Some('%') => (0..=v.len()).any(|i| go(&v[i..], &p[1..])),
            Some('_') => !v.is_empty() && go(&v[1..], &p[1..]),
            Some(c) => v.first() == Some(c) && go(&v[1..], &p[1..]),
        }
    }
    let v: Vec<char> = value.to_lowercase().chars().collect();
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    go(&v, &p)
}

fn at(date: NaiveDate, hms: (u32, u32, u32)) -> String {
    datetime_text(date.and_time(NaiveTime::from_hms_opt(hms.0, hms.1, hms.2).expect("a time")))
}

fn plus(date: NaiveDate, days: i64) -> NaiveDate {
    if days >= 0 {
        date.checked_add_days(Days::new(days as u64))
            .expect("a date")
    } else {
        date.checked_sub_days(Days::new(days.unsigned_abs()))
            .expect("a date")
    }
}

/// Every detail read of `entity`, id → the ids in `attribute` (e.g. `contactsIds`).
async fn linked_ids(
    api: &Api,
    entity: &str,
    all: &[Row],
    attribute: &str,
) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for row in all {
        let id = id_of(row);
        let record = api.get(&format!("{entity}/{id}")).send().await.ok_json();
        let linked: Vec<String> = record[attribute]
            .as_array()
            .unwrap_or_else(|| panic!("{entity} detail has {attribute}: {record}"))
            .iter()
            .map(|v| v.as_str().expect("an id").to_owned())
            .collect();
        out.insert(id, linked);
    }
    out
}

// ------------------------------------------------------------------------------ equality

#[tokio::test]
async fn should_filter_equals_200() {
    let api = Api::start().await;
    let accounts = everything(&api, "Account").await;
    let n = check(
        &api,
        "Account",
        &accounts,
        json!([{"type": "equals", "attribute": "type", "value": "Customer"}]),
        |r| ci(r, "type").as_deref() == Some("customer"),
    )
    .await;
    assert!(n > 0 && n < accounts.len(), "a real subset ({n})");
    // Case-insensitive, as MySQL compares text.
    let m = check(
        &api,
        "Account",
        &accounts,
        json!([{"type": "equals", "attribute": "type", "value": "CUSTOMER"}]),
        |r| ci(r, "type").as_deref() == Some("customer"),
    )
    .await;
    assert_eq!(m, n);
}

#[tokio::test]
async fn should_filter_equals_on_link_id_200() {
    let api = Api::start().await;
    let account = api.find_one("Account", "name", "Apex Health Co.");
    let contacts = everything(&api, "Contact").await;
    let n = check(
        &api,
        "Contact",
        &contacts,
        json!([{"type": "equals", "attribute": "accountId", "value": account}]),
        |r| text(r, "accountId") == Some(account.as_str()),
    )
    .await;
    assert!(n >= 1, "the flagship account has contacts");
}

#[tokio::test]
async fn should_filter_not_equals_200() {
    let api = Api::start().await;
    let leads = everything(&api, "Lead").await;
    let n = check(
        &api,
        "Lead",
        &leads,
        json!([{"type": "notEquals", "attribute": "status", "value": "New"}]),
        |r| ci(r, "status").is_some_and(|s| s != "new"),
    )
    .await;
    assert!(n > 0 && n < leads.len(), "a real subset ({n})");
}

// ------------------------------------------------------------------------------ text patterns

#[tokio::test]
async fn should_filter_like_with_wildcard_200() {
    let api = Api::start().await;
    let accounts = everything(&api, "Account").await;
    let n = check(
        &api,
        "Account",
        &accounts,
        json!([{"type": "like", "attribute": "name", "value": "North%"}]),
        |r| ci(r, "name").is_some_and(|s| like(&s, "north%")),
    )
    .await;
    assert!(n > 0, "Northwind accounts exist");
    let m = check(
        &api,
        "Account",
        &accounts,
        json!([{"type": "like", "attribute": "name", "value": "%o_n%"}]),
        |r| ci(r, "name").is_some_and(|s| like(&s, "%o_n%")),
    )
    .await;
    assert!(m > 0);
}

#[tokio::test]
async fn should_filter_like_without_wildcard_as_exact_match_200() {
    let api = Api::start().await;
    let accounts = everything(&api, "Account").await;
    let none = check(
        &api,
        "Account",
        &accounts,
        json!([{"type": "like", "attribute": "name", "value": "North"}]),
        |r| ci(r, "name").as_deref() == Some("north"),
    )
    .await;
    assert_eq!(none, 0);
    let one = check(
        &api,
        "Account",
        &accounts,
        json!([{"type": "like", "attribute": "name", "value": "apex health co."}]),
        |r| ci(r, "name").as_deref() == Some("apex health co."),
    )
    .await;
    assert_eq!(one, 1);
}

#[tokio::test]
async fn should_filter_not_like_200() {
    let api = Api::start().await;
    let accounts = everything(&api, "Account").await;
    let n = check(
        &api,
        "Account",
        &accounts,
        json!([{"type": "notLike", "attribute": "name", "value": "%a%"}]),
        |r| ci(r, "name").is_some_and(|s| !like(&s, "%a%")),
    )
    .await;
    assert!(n > 0 && n < accounts.len(), "a real subset ({n})");
}

#[tokio::test]
async fn should_filter_contains_starts_with_and_ends_with_200() {
    let api = Api::start().await;
    let accounts = everything(&api, "Account").await;
    let contains = check(
        &api,
        "Account",
        &accounts,
        json!([{"type": "contains", "attribute": "name", "value": "Robot"}]),
        |r| ci(r, "name").is_some_and(|s| s.contains("robot")),
    )
    .await;
    assert!(contains > 0);
    let starts = check(
        &api,
        "Account",
        &accounts,
        json!([{"type": "startsWith", "attribute": "name", "value": "Sum"}]),
        |r| ci(r, "name").is_some_and(|s| s.starts_with("sum")),
    )
    .await;
    assert!(starts > 0);
    let ends = check(
        &api,
        "Account",
        &accounts,
        json!([{"type": "endsWith", "attribute": "name", "value": "inc."}]),
        |r| ci(r, "name").is_some_and(|s| s.ends_with("inc.")),
    )
    .await;
    assert!(ends > 0 && ends < accounts.len());
    let not_contains = check(
        &api,
        "Account",
        &accounts,
        json!([{"type": "notContains", "attribute": "name", "value": "Robot"}]),
        |r| ci(r, "name").is_some_and(|s| !s.contains("robot")),
    )
    .await;
    assert_eq!(not_contains + contains, accounts.len());
}

// ------------------------------------------------------------------------------ sets

#[tokio::test]
async fn should_filter_in_200() {
    let api = Api::start().await;
    let accounts = everything(&api, "Account").await;
    let n = check(
        &api,
        "Account",
        &accounts,
        json!([{"type": "in", "attribute": "industry", "value": ["Software", "Finance"]}]),
        |r| matches!(text(r, "industry"), Some("Software" | "Finance")),
    )
    .await;
    assert!(n > 0 && n < accounts.len());
}

#[tokio::test]
async fn should_filter_not_in_200() {
    let api = Api::start().await;
    let leads = everything(&api, "Lead").await;
    let n = check(
        &api,
        "Lead",
        &leads,
        json!([{"type": "notIn", "attribute": "status", "value": ["New", "Assigned", "In Process"]}]),
        |r| text(r, "status").is_some_and(|s| !["New", "Assigned", "In Process"].contains(&s)),
    )
    .await;
    assert!(n > 0 && n < leads.len());
}

// ------------------------------------------------------------------------------ numbers

#[tokio::test]
async fn should_filter_greater_and_less_than_200() {
    let api = Api::start().await;
    let all = everything(&api, "Opportunity").await;
    let amount = |r: &Row| number(r, "amount");
    let gt = check(
        &api,
        "Opportunity",
        &all,
        json!([{"type": "greaterThan", "attribute": "amount", "value": "100000"}]),
        |r| amount(r).is_some_and(|a| a > 100_000.0),
    )
    .await;
    let lte = check(
        &api,
        "Opportunity",
        &all,
        json!([{"type": "lessThanOrEquals", "attribute": "amount", "value": "100000"}]),
        |r| amount(r).is_some_and(|a| a <= 100_000.0),
    )
    .await;
    assert!(gt > 0 && lte > 0);
    assert_eq!(gt + lte, all.len(), "amount is required, never NULL");
    let gte = check(
        &api,
        "Opportunity",
        &all,
        json!([{"type": "greaterThanOrEquals", "attribute": "probability", "value": "80"}]),
        |r| number(r, "probability").is_some_and(|p| p >= 80.0),
    )
    .await;
    assert!(gte > 0);
    let lt = check(
        &api,
        "Opportunity",
        &all,
        json!([{"type": "lessThan", "attribute": "amount", "value": 20000}]),
        |r| amount(r).is_some_and(|a| a < 20_000.0),
    )
    .await;
    assert!(lt < all.len());
}

#[tokio::test]
async fn should_filter_between_numbers_200() {
    let api = Api::start().await;
    let all = everything(&api, "Opportunity").await;
    let n = check(
        &api,
        "Opportunity",
        &all,
        json!([{"type": "between", "attribute": "amount", "value": ["50000", "100000"]}]),
        |r| number(r, "amount").is_some_and(|a| (50_000.0..=100_000.0).contains(&a)),
    )
    .await;
    assert!(n > 0 && n < all.len());
}

// ------------------------------------------------------------------------------ null and bool

#[tokio::test]
async fn should_filter_is_null_and_is_not_null_200() {
    let api = Api::start().await;
    let leads = everything(&api, "Lead").await;
    let null = check(
        &api,
        "Lead",
        &leads,
        json!([{"type": "isNull", "attribute": "opportunityAmount"}]),
        |r| r.get("opportunityAmount").is_none_or(Value::is_null),
    )
    .await;
    let not_null = check(
        &api,
        "Lead",
        &leads,
        json!([{"type": "isNotNull", "attribute": "opportunityAmount"}]),
        |r| r.get("opportunityAmount").is_some_and(|v| !v.is_null()),
    )
    .await;
    assert!(null > 0 && not_null > 0);
    assert_eq!(null + not_null, leads.len());
}

#[tokio::test]
async fn should_filter_is_true_and_is_false_200() {
    let api = Api::start().await;
    for (last, flag) in [("Nocall", true), ("Maycall", false)] {
        api.post(
            "Contact",
            &json!({"firstName": "Nora", "lastName": last, "doNotCall": flag}),
        )
        .send()
        .await
        .ok_json();
    }
    let contacts = everything(&api, "Contact").await;
    let yes = check(
        &api,
        "Contact",
        &contacts,
        json!([{"type": "isTrue", "attribute": "doNotCall"}]),
        |r| r.get("doNotCall") == Some(&json!(true)),
    )
    .await;
    let no = check(
        &api,
        "Contact",
        &contacts,
        json!([{"type": "isFalse", "attribute": "doNotCall"}]),
        |r| r.get("doNotCall") == Some(&json!(false)),
    )
    .await;
    assert!(yes >= 1, "the contact just created");
    assert!(no >= 1, "contacts that may be called");

    let accounts = everything(&api, "Account").await;
    let not_opted_out = check(
        &api,
        "Account",
        &accounts,
        json!([{"type": "isFalse", "attribute": "emailAddressIsOptedOut"}]),
        |r| r.get("emailAddressIsOptedOut") == Some(&json!(false)),
    )
    .await;
    assert_eq!(not_opted_out, accounts.len(), "nobody opted out");
}

// ------------------------------------------------------------------------------ dates

#[tokio::test]
async fn should_filter_dates_relative_to_today_200() {
    let api = Api::start().await;
    let all = everything(&api, "Opportunity").await;
    let day = date_text(today());
    let close = |r: &Row| text(r, "closeDate").map(str::to_owned);
    let past = check(
        &api,
        "Opportunity",
        &all,
        json!([{"type": "past", "attribute": "closeDate"}]),
        |r| close(r).is_some_and(|d| d < day),
    )
    .await;
    let future = check(
        &api,
        "Opportunity",
        &all,
        json!([{"type": "future", "attribute": "closeDate"}]),
        |r| close(r).is_some_and(|d| d > day),
    )
    .await;
    let on_today = check(
        &api,
        "Opportunity",
        &all,
        json!([{"type": "today", "attribute": "closeDate"}]),
        |r| close(r).is_some_and(|d| d == day),
    )
    .await;
    assert!(past > 0 && future > 0);
    assert_eq!(past + future + on_today, all.len());

    let from = date_text(plus(today(), -30));
    let last = check(
        &api,
        "Opportunity",
        &all,
        json!([{"type": "lastXDays", "attribute": "closeDate", "value": "30"}]),
        |r| close(r).is_some_and(|d| d >= from && d <= day),
    )
    .await;
    let to = date_text(plus(today(), 60));
    let next = check(
        &api,
        "Opportunity",
        &all,
        json!([{"type": "nextXDays", "attribute": "closeDate", "value": "60"}]),
        |r| close(r).is_some_and(|d| d >= day && d <= to),
    )
    .await;
    assert!(
        last > 0 && next > 0,
        "close dates around today ({last}, {next})"
    );
}

#[tokio::test]
async fn should_filter_dates_before_after_on_and_between_200() {
    let api = Api::start().await;
    let all = everything(&api, "Opportunity").await;
    let close = |r: &Row| text(r, "closeDate").map(str::to_owned);
    // A date some opportunity closes on, so that `on` finds something.
    let pivot = close(&all[0]).expect("a close date");
    let before = check(
        &api,
        "Opportunity",
        &all,
        json!([{"type": "before", "attribute": "closeDate", "value": pivot}]),
        |r| close(r).is_some_and(|d| d < pivot),
    )
    .await;
    let after = check(
        &api,
        "Opportunity",
        &all,
        json!([{"type": "after", "attribute": "closeDate", "value": pivot}]),
        |r| close(r).is_some_and(|d| d > pivot),
    )
    .await;
    let on = check(
        &api,
        "Opportunity",
        &all,
        json!([{"type": "on", "attribute": "closeDate", "value": pivot}]),
        |r| close(r).is_some_and(|d| d == pivot),
    )
    .await;
    assert!(on >= 1);
    assert_eq!(before + after + on, all.len());

    let from = date_text(plus(today(), 30));
    let to = date_text(plus(today(), 60));
    let between = check(
        &api,
        "Opportunity",
        &all,
        json!([{"type": "between", "attribute": "closeDate", "value": [from, to]}]),
        |r| close(r).is_some_and(|d| d >= from && d <= to),
    )
    .await;
    assert!(between > 0 && between < all.len());
}

#[tokio::test]
async fn should_filter_datetimes_relative_to_now_200() {
    let api = Api::start().await;
    let tasks = everything(&api, "Task").await;
    let end = |r: &Row| text(r, "dateEnd").map(str::to_owned);
    // The web client flags datetime items with dateTime: true.
    let now = datetime_text(crate::common::now());
    let past = check(
        &api,
        "Task",
        &tasks,
        json!([{"type": "past", "attribute": "dateEnd", "dateTime": true}]),
        |r| end(r).is_some_and(|d| d < now),
    )
    .await;
    let future = check(
        &api,
        "Task",
        &tasks,
        json!([{"type": "future", "attribute": "dateEnd", "dateTime": true}]),
        |r| end(r).is_some_and(|d| d > now),
    )
    .await;
    assert!(past > 0 && future > 0);
    assert_eq!(past + future, tasks.len(), "every demo task has a dateEnd");

    let meetings = everything(&api, "Meeting").await;
    let start = |r: &Row| text(r, "dateStart").map(str::to_owned);
    let (first, last) = (at(today(), (0, 0, 0)), at(today(), (23, 59, 59)));
    check(
        &api,
        "Meeting",
        &meetings,
        json!([{"type": "today", "attribute": "dateStart", "dateTime": true}]),
        |r| start(r).is_some_and(|d| d >= first && d <= last),
    )
    .await;
    let from = at(plus(today(), -14), (0, 0, 0));
    let last_days = check(
        &api,
        "Meeting",
        &meetings,
        json!([{"type": "lastXDays", "attribute": "dateStart", "value": "14", "dateTime": true}]),
        |r| start(r).is_some_and(|d| d >= from && d <= now),
    )
    .await;
    // EspoCRM's end of the window is `setTime(24, 59, 59)`: 00:59:59 the day after.
    let to = at(plus(today(), 15), (0, 59, 59));
    let next_days = check(
        &api,
        "Meeting",
        &meetings,
        json!([{"type": "nextXDays", "attribute": "dateStart", "value": "14", "dateTime": true}]),
        |r| start(r).is_some_and(|d| d >= now && d <= to),
    )
    .await;
    assert!(
        last_days > 0 && next_days > 0,
        "meetings around now ({last_days}, {next_days})"
    );
}

#[tokio::test]
async fn should_filter_datetimes_before_after_and_on_200() {
    let api = Api::start().await;
    let tasks = everything(&api, "Task").await;
    let end = |r: &Row| text(r, "dateEnd").map(str::to_owned);
    // The median due date, so that there is something before and after it.
    let mut moments: Vec<String> = tasks.iter().filter_map(&end).collect();
    moments.sort();
    let pivot_moment = moments[moments.len() / 2].clone();
    let pivot_day: String = pivot_moment[..10].to_owned();
    let day = NaiveDate::parse_from_str(&pivot_day, "%Y-%m-%d").expect("a date");
    let (first, last) = (at(day, (0, 0, 0)), at(day, (23, 59, 59)));
    // Whole days when the web client flags the item as a datetime one.
    let on = check(
        &api,
        "Task",
        &tasks,
        json!([{"type": "on", "attribute": "dateEnd", "value": pivot_day, "dateTime": true}]),
        |r| end(r).is_some_and(|d| d >= first && d <= last),
    )
    .await;
    let before = check(
        &api,
        "Task",
        &tasks,
        json!([{"type": "before", "attribute": "dateEnd", "value": pivot_day, "dateTime": true}]),
        |r| end(r).is_some_and(|d| d < first),
    )
    .await;
    let after = check(
        &api,
        "Task",
        &tasks,
        json!([{"type": "after", "attribute": "dateEnd", "value": pivot_day, "dateTime": true}]),
        |r| end(r).is_some_and(|d| d > last),
    )
    .await;
    assert!(
        on >= 1 && before >= 1 && after >= 1,
        "({before}, {on}, {after})"
    );
    assert_eq!(before + on + after, tasks.len());
    // Full datetimes without the flag compare as they are.
    let moment = pivot_moment.clone();
    let strictly_after = check(
        &api,
        "Task",
        &tasks,
        json!([{"type": "after", "attribute": "dateEnd", "value": moment}]),
        |r| end(r).is_some_and(|d| d > pivot_moment),
    )
    .await;
    let until = check(
        &api,
        "Task",
        &tasks,
        json!([{"type": "before", "attribute": "dateEnd", "value": pivot_moment}]),
        |r| end(r).is_some_and(|d| d < pivot_moment),
    )
    .await;
    let at_pivot = tasks
        .iter()
        .filter(|r| end(r).as_deref() == Some(pivot_moment.as_str()))
        .count();
    assert!(at_pivot >= 1);
    assert_eq!(until + at_pivot + strictly_after, tasks.len());
}

// ------------------------------------------------------------------------------ links

#[tokio::test]
async fn should_filter_linked_with_and_not_linked_with_200() {
    let api = Api::start().await;
    let all = everything(&api, "Opportunity").await;
    let contacts = linked_ids(&api, "Opportunity", &all, "contactsIds").await;
    let contact = contacts
        .values()
        .flatten()
        .next()
        .expect("some opportunity has contacts")
        .clone();
    let linked = |r: &Row| contacts[&id_of(r)].contains(&contact);
    let with = check(
        &api,
        "Opportunity",
        &all,
        json!([{"type": "linkedWith", "attribute": "contacts", "value": [contact]}]),
        linked,
    )
    .await;
    let without = check(
        &api,
        "Opportunity",
        &all,
        json!([{"type": "notLinkedWith", "attribute": "contacts", "value": [contact]}]),
        |r| !linked(r),
    )
    .await;
    assert!(with >= 1);
    assert_eq!(with + without, all.len());
}

#[tokio::test]
async fn should_filter_is_linked_and_is_not_linked_200() {
    let api = Api::start().await;
    let all = everything(&api, "Opportunity").await;
    let contacts = linked_ids(&api, "Opportunity", &all, "contactsIds").await;
    let has = |r: &Row| !contacts[&id_of(r)].is_empty();
    let linked = check(
        &api,
        "Opportunity",
        &all,
        json!([{"type": "isLinked", "attribute": "contacts"}]),
        has,
    )
    .await;
    let unlinked = check(
        &api,
        "Opportunity",
        &all,
        json!([{"type": "isNotLinked", "attribute": "contacts"}]),
        |r| !has(r),
    )
    .await;
    assert!(linked > 0);
    assert_eq!(linked + unlinked, all.len());
}

// ------------------------------------------------------------------------------ groups

#[tokio::test]
async fn should_and_top_level_items_200() {
    let api = Api::start().await;
    let all = everything(&api, "Opportunity").await;
    let n = check(
        &api,
        "Opportunity",
        &all,
        json!([
            {"type": "equals", "attribute": "stage", "value": "Negotiation"},
            {"type": "greaterThan", "attribute": "amount", "value": "100000"}
        ]),
        |r| {
            text(r, "stage") == Some("Negotiation")
                && number(r, "amount").is_some_and(|a| a > 100_000.0)
        },
    )
    .await;
    assert!(n > 0);
}

#[tokio::test]
async fn should_filter_nested_or_and_groups_200() {
    let api = Api::start().await;
    let leads = everything(&api, "Lead").await;
    let status = |r: &Row| text(r, "status").map(str::to_owned);
    let or_only = check(
        &api,
        "Lead",
        &leads,
        json!([{"type": "or", "value": [
            {"type": "equals", "attribute": "status", "value": "Dead"},
            {"type": "equals", "attribute": "status", "value": "Recycled"}
        ]}]),
        |r| matches!(status(r).as_deref(), Some("Dead" | "Recycled")),
    )
    .await;
    assert!(or_only > 0);
    let nested = json!([
        {"type": "or", "value": [
            {"type": "equals", "attribute": "status", "value": "Dead"},
            {"type": "and", "value": [
                {"type": "equals", "attribute": "status", "value": "New"},
                {"type": "isNotNull", "attribute": "opportunityAmount"}
            ]}
        ]},
        {"type": "notEquals", "attribute": "source", "value": "Web Site"}
    ]);
    let n = check(&api, "Lead", &leads, nested, |r| {
        let dead = status(r).as_deref() == Some("Dead");
        let new_with_amount = status(r).as_deref() == Some("New")
            && r.get("opportunityAmount").is_some_and(|v| !v.is_null());
        let source_ok = text(r, "source").is_some_and(|s| s != "Web Site");
        (dead || new_with_amount) && source_ok
    })
    .await;
    assert!(n > 0 && n < leads.len());
}

// ------------------------------------------------------------------------------ related lists

#[tokio::test]
async fn should_filter_related_list_200() {
    let api = Api::start().await;
    let account = api.find_one("Account", "name", "Apex Health Co.");
    let (_, contacts) = api
        .fetch_all(&format!("Account/{account}/contacts"), "")
        .await;
    assert!(!contacts.is_empty());
    let first = text(&contacts[0], "lastName")
        .expect("a last name")
        .to_owned();
    let items = json!([{"type": "equals", "attribute": "lastName", "value": first}]);
    let page = api
        .list(&format!("Account/{account}/contacts"), &where_query(&items))
        .await;
    let expected: BTreeSet<String> = contacts
        .iter()
        .filter(|r| text(r, "lastName") == Some(first.as_str()))
        .map(id_of)
        .collect();
    assert_eq!(page["total"], json!(expected.len()));
    assert_eq!(ids(&rows_of(&page)), expected);
}

// ------------------------------------------------------------------------------ errors

#[tokio::test]
async fn should_reject_unknown_where_attribute_400() {
    let api = Api::start().await;
    let items = json!([{"type": "equals", "attribute": "bogusField", "value": "x"}]);
    api.get(&format!("Account?{}&maxSize=2", where_query(&items)))
        .send()
        .await
        .expect_json_error(400, Some("Not existing attribute 'bogusField' in where."));
}

#[tokio::test]
async fn should_reject_unknown_where_type_400() {
    let api = Api::start().await;
    let items = json!([{"type": "bogusType", "attribute": "name", "value": "x"}]);
    api.get(&format!("Account?{}&maxSize=2", where_query(&items)))
        .send()
        .await
        .expect_json_error(400, Some("Unknown where item type 'bogusType'."));
}

#[tokio::test]
async fn should_reject_in_with_scalar_value_400() {
    let api = Api::start().await;
    let items = json!([{"type": "in", "attribute": "industry", "value": "Software"}]);
    api.get(&format!(
        "Account?{}&maxSize=2&select=name",
        where_query(&items)
    ))
    .send()
    .await
    .expect_json_error(400, Some("Bad where item 'in'."));
}

#[tokio::test]
async fn should_reject_between_with_scalar_value_400() {
    let api = Api::start().await;
    let items = json!([{"type": "between", "attribute": "amount", "value": "5"}]);
    api.get(&format!(
        "Opportunity?{}&maxSize=2&select=name",
        where_query(&items)
    ))
    .send()
    .await
    .expect_json_error(400, Some("Bad where item 'between'."));
}

#[tokio::test]
async fn should_fail_where_item_without_attribute_500() {
    let api = Api::start().await;
    let items = json!([{"type": "equals", "value": "x"}]);
    api.get(&format!(
        "Account?{}&maxSize=2&select=name",
        where_query(&items)
    ))
    .send()
    .await
    .expect_json_error(500, None);
}
