//! The five power tools (`get_many`, `global_search`, `aggregate`, `upcoming_activities`,
//! `whoami`): every answer compared with a computation of the test's own over the sandbox's
//! data, read directly over HTTP; `aggregate`'s progress notifications, cancellation, ceiling
//! and currency handling.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use espocrm_sandbox::{FaultConfig, Sandbox};
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, ClientCapabilities, ClientConfig, ClientRequest,
    Implementation, JsonObject, ProgressNotificationParam, ProtocolVersion,
};
use rmcp::service::{NotificationContext, PeerRequestOptions, RunningService};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Map, Value, json};
use tempfile::TempDir;
use tokio::sync::watch;

use crate::common::{
    Direct, Era, InProcess, PATIENCE, Server, assert_no_upstream_request, command, fast_forward,
    let_time_pass, number, record_url, sandbox, settle, success_of,
};

type Record = Map<String, Value>;

const POWER_TOOLS: [&str; 5] = [
    "get_many",
    "global_search",
    "aggregate",
    "upcoming_activities",
    "whoami",
];

fn text<'a>(record: &'a Record, key: &str) -> Option<&'a str> {
    record.get(key).and_then(Value::as_str)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

// ---------------------------------------------------------------------------------------------
// A client that records progress notifications
// ---------------------------------------------------------------------------------------------

#[derive(Clone)]
struct ProgressClient {
    progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
    /// How many have arrived, for the tests to wait on instead of polling.
    arrived: Arc<watch::Sender<usize>>,
}

impl Default for ProgressClient {
    fn default() -> Self {
        ProgressClient {
            progress: Arc::default(),
            arrived: Arc::new(watch::Sender::new(0)),
        }
    }
}

impl ClientHandler for ProgressClient {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("espomcp-power-tests", "0.0.0"),
        )
        .with_protocol_version(ProtocolVersion::V_2025_11_25)
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let mut progress = self.progress.lock().unwrap();
        progress.push(params);
        self.arrived.send_replace(progress.len());
    }
}

struct ProgressSession {
    client: RunningService<RoleClient, ProgressClient>,
    progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
    arrived: Arc<watch::Sender<usize>>,
    /// The child process's HOME, or the server in this process.
    _home: Option<TempDir>,
    in_process: Option<InProcess>,
}

impl ProgressSession {
    async fn start(sandbox: &Sandbox, env: &[(&str, &str)]) -> ProgressSession {
        let home = TempDir::new().expect("a temporary home");
        let command = command(home.path()).configure(|c| {
            c.env("ESPOCRM_URL", &sandbox.url)
                .env("ESPOCRM_API_KEY", &sandbox.agent_api_key)
                .env("LOGGING_LEVEL", "warn");
            for (name, value) in env {
                c.env(name, value);
            }
        });
        let (transport, _stderr) = TokioChildProcess::builder(command)
            .stderr(Stdio::null())
            .spawn()
            .expect("espomcp spawns");
        let mut session = ProgressSession::connect(transport).await;
        session._home = Some(home);
        session
    }

    /// The same session with the server in this process, for tests that move tokio's clock.
    async fn start_in_process(sandbox: &Sandbox, env: &[(&str, &str)]) -> ProgressSession {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        let (server, transport) =
            InProcess::start(&sandbox.url, &sandbox.agent_api_key, &env).await;
        let mut session = ProgressSession::connect(transport).await;
        session.in_process = Some(server);
        session
    }

    async fn connect<T, E, A>(transport: T) -> ProgressSession
    where
        T: rmcp::transport::IntoTransport<RoleClient, E, A>,
        E: std::error::Error + Send + Sync + 'static,
    {
        let handler = ProgressClient::default();
        let progress = handler.progress.clone();
        let arrived = handler.arrived.clone();
        let client = handler
            .serve(transport)
            .await
            .expect("the MCP session starts");
        ProgressSession {
            client,
            progress,
            arrived,
            _home: None,
            in_process: None,
        }
    }

    fn progress(&self) -> Vec<ProgressNotificationParam> {
        self.progress.lock().unwrap().clone()
    }

    /// Waits until `count` notifications have arrived, at most `deadline`.
    async fn wait_for_progress(&self, count: usize, deadline: Duration) {
        let mut arrived = self.arrived.subscribe();
        let _ = tokio::time::timeout(deadline, arrived.wait_for(|n| *n >= count)).await;
    }

    async fn stop(self) {
        let _ = tokio::time::timeout(PATIENCE, self.client.cancel()).await;
        if let Some(server) = self.in_process {
            server.stop().await;
        }
    }
}

fn params(tool: &str, arguments: Value) -> CallToolRequestParams {
    let arguments: JsonObject = arguments.as_object().cloned().expect("an object");
    CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments)
}

// ---------------------------------------------------------------------------------------------
// Listing
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_power_tools_are_listed_read_only_with_output_schemas() {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, Era::Legacy).await;
    let tools = server.client.list_all_tools().await.expect("tools/list");
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    let at = |name: &str| names.iter().position(|n| *n == name).expect(name);
    for tool in POWER_TOOLS {
        let listed = tools.iter().find(|t| t.name == tool).expect(tool);
        let annotations = listed.annotations.as_ref().expect("annotations");
        assert_eq!(annotations.read_only_hint, Some(true), "{tool}");
        assert_eq!(annotations.destructive_hint, Some(false), "{tool}");
        assert!(listed.output_schema.is_some(), "{tool} has no outputSchema");
        assert!(at(tool) > at("get_related"), "{tool} after the read tools");
        assert!(at(tool) < at("create"), "{tool} before the write tools");
    }
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// global_search
// ---------------------------------------------------------------------------------------------

/// What EspoCRM's global search finds: names starting with the text, or with a word that does.
fn name_matches(name: &str, query: &str) -> bool {
    let name = name.to_lowercase();
    let query = query.to_lowercase();
    name.starts_with(&query) || name.split_whitespace().any(|w| w.starts_with(&query))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_search_finds_names_across_types() {
    let sandbox = sandbox().await;
    let direct = Direct::new(&sandbox);
    let server = Server::start(&sandbox, Era::Legacy).await;
    let query = "a";

    let mut expected: Vec<(String, String, String)> = Vec::new();
    for entity in ["Account", "Contact"] {
        for record in direct.all(entity).await {
            let name = text(&record, "name").unwrap_or_default().to_owned();
            if name_matches(&name, query) {
                expected.push((name, text(&record, "id").unwrap().to_owned(), entity.into()));
            }
        }
    }
    expected.sort_by(|a, b| {
        a.0.to_lowercase()
            .cmp(&b.0.to_lowercase())
            .then(a.1.cmp(&b.1))
    });
    assert!(expected.len() > 3, "the data has hits for {query:?}");

    let answer = server
        .ok(
            "global_search",
            json!({"query": query, "entityTypes": ["Account", "contact"], "limit": 200}),
        )
        .await;
    let list = answer["list"].as_array().expect("list");
    let got: Vec<(String, String, String)> = list
        .iter()
        .map(|h| {
            (
                h["name"].as_str().unwrap().to_owned(),
                h["id"].as_str().unwrap().to_owned(),
                h["entityType"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    for hit in list {
        let (entity, id) = (
            hit["entityType"].as_str().unwrap(),
            hit["id"].as_str().unwrap(),
        );
        assert_eq!(hit["url"], record_url(&sandbox, entity, id));
    }

    // The limit holds; without a filter all four global-search types may appear.
    let few = server
        .ok("global_search", json!({"query": query, "limit": 3}))
        .await;
    assert_eq!(few["list"].as_array().unwrap().len(), 3, "{few}");
    for hit in few["list"].as_array().unwrap() {
        assert!(name_matches(hit["name"].as_str().unwrap(), query), "{hit}");
    }

    server
        .err_code("global_search", json!({"query": "  "}), "INVALID_ARGUMENT")
        .await;
    server
        .err_code(
            "global_search",
            json!({"query": "a", "entityTypes": ["Acount"]}),
            "INVALID_ENTITY_TYPE",
        )
        .await;
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// get_many
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_many_reads_a_hundred_ids_in_at_most_two_requests() {
    let sandbox = sandbox().await;
    let direct = Direct::new(&sandbox);
    let contacts = direct.all("Contact").await;
    assert!(contacts.len() >= 98);
    let server = Server::start(&sandbox, Era::Legacy).await;
    server.ok("whoami", json!({})).await; // the schema is cached before counting

    // 98 real ids, in reverse order of the data, and two that exist nowhere.
    let chosen: Vec<&Record> = contacts.iter().rev().take(98).collect();
    let mut ids: Vec<String> = chosen
        .iter()
        .map(|r| text(r, "id").unwrap().to_owned())
        .collect();
    ids.insert(10, "doesnotexist00001".into());
    ids.push("doesnotexist00002".into());
    assert_eq!(ids.len(), 100);

    sandbox.reset_stats();
    let answer = server
        .ok(
            "get_many",
            json!({"entityType": "Contact", "ids": ids, "select": ["firstName", "lastName"]}),
        )
        .await;
    let stats = sandbox.stats();
    assert!(stats.requests_total <= 2, "{:?}", stats.requests_by_route);
    assert_eq!(
        stats.count("GET Contact"),
        1,
        "{:?}",
        stats.requests_by_route
    );

    assert_eq!(
        answer["notFound"],
        json!(["doesnotexist00001", "doesnotexist00002"])
    );
    let list = answer["list"].as_array().unwrap();
    let got: Vec<&str> = list.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let expected: Vec<&str> = chosen.iter().map(|r| text(r, "id").unwrap()).collect();
    assert_eq!(got, expected, "in the order given");
    for (record, original) in list.iter().zip(&chosen) {
        assert_eq!(record["firstName"], original["firstName"]);
        assert_eq!(record["lastName"], original["lastName"]);
        assert!(record.get("emailAddress").is_none(), "only the selection");
        let id = record["id"].as_str().unwrap();
        assert_eq!(record["url"], record_url(&sandbox, "Contact", id));
    }

    // Malformed ids and too many ids are refused before any request.
    assert_no_upstream_request(&sandbox, "bad ids", || async {
        server
            .err_code(
                "get_many",
                json!({"entityType": "Contact", "ids": ["a/b"]}),
                "INVALID_ID",
            )
            .await;
        let many: Vec<String> = (0..101).map(|i| format!("id{i}")).collect();
        server
            .err_code(
                "get_many",
                json!({"entityType": "Contact", "ids": many}),
                "INVALID_ARGUMENT",
            )
            .await;
    })
    .await;
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// aggregate
// ---------------------------------------------------------------------------------------------

/// Per group: count, and sum/min/max/values of `amount` per currency.
#[derive(Debug, Default)]
struct Expected {
    count: u64,
    by_currency: BTreeMap<String, (f64, f64, f64, u64)>,
}

fn expected_groups(
    records: &[Record],
    key: impl Fn(&Record) -> Value,
) -> BTreeMap<String, Expected> {
    let mut groups: BTreeMap<String, Expected> = BTreeMap::new();
    for record in records {
        let group = groups.entry(key(record).to_string()).or_default();
        group.count += 1;
        if let Some(amount) = record.get("amount").and_then(number) {
            let currency = text(record, "amountCurrency").unwrap_or("").to_owned();
            let entry = group.by_currency.entry(currency).or_insert((
                0.0,
                f64::INFINITY,
                f64::NEG_INFINITY,
                0,
            ));
            entry.0 += amount;
            entry.1 = entry.1.min(amount);
            entry.2 = entry.2.max(amount);
            entry.3 += 1;
        }
    }
    groups
}

fn assert_rows_match(rows: &[Value], group_key: &str, expected: &BTreeMap<String, Expected>) {
    assert_eq!(rows.len(), expected.len(), "{rows:?}");
    for row in rows {
        let key = row[group_key].to_string();
        let want = expected
            .get(&key)
            .unwrap_or_else(|| panic!("unexpected group {key} in {row}"));
        assert_eq!(row["count"], json!(want.count), "{row}");
        if want.by_currency.len() == 1 {
            let (currency, (sum, min, max, n)) = want.by_currency.iter().next().unwrap();
            assert_eq!(row["amountCurrency"], json!(currency), "{row}");
            assert!(close(row["sum_amount"].as_f64().unwrap(), *sum), "{row}");
            assert!(
                close(row["avg_amount"].as_f64().unwrap(), sum / *n as f64),
                "{row}"
            );
            assert!(close(row["min_amount"].as_f64().unwrap(), *min), "{row}");
            assert!(close(row["max_amount"].as_f64().unwrap(), *max), "{row}");
        } else {
            let currencies: Vec<&String> = want.by_currency.keys().collect();
            assert_eq!(row["amountCurrency"], json!(currencies), "{row}");
            for (currency, (sum, min, max, n)) in &want.by_currency {
                let of = |metric: &str| row[metric][currency].as_f64().unwrap();
                assert!(close(of("sum_amount"), *sum), "{row}");
                assert!(close(of("avg_amount"), sum / *n as f64), "{row}");
                assert!(close(of("min_amount"), *min), "{row}");
                assert!(close(of("max_amount"), *max), "{row}");
            }
        }
    }
}

const AMOUNT_METRICS: &str = r#"[{"op": "count"}, {"op": "sum", "field": "amount"},
    {"op": "avg", "field": "amount"}, {"op": "min", "field": "amount"},
    {"op": "max", "field": "amount"}]"#;

fn amount_metrics() -> Value {
    serde_json::from_str(AMOUNT_METRICS).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregate_groups_match_the_data() {
    let sandbox = sandbox().await;
    let direct = Direct::new(&sandbox);
    let opportunities = direct.all("Opportunity").await;
    // Pages of 20, so the tool must page (150 records).
    let server = Server::builder(&sandbox)
        .env("SERVER_MAX_LIMIT", 20)
        .start()
        .await;

    let answer = server
        .ok(
            "aggregate",
            json!({"entityType": "Opportunity", "groupBy": "stage", "metrics": amount_metrics()}),
        )
        .await;
    assert_eq!(answer["total"], json!(opportunities.len()));
    let rows = answer["rows"].as_array().unwrap();
    let expected = expected_groups(&opportunities, |r| r["stage"].clone());
    assert_rows_match(rows, "stage", &expected);
    let stages: Vec<&str> = rows.iter().map(|r| r["stage"].as_str().unwrap()).collect();
    let mut sorted = stages.clone();
    sorted.sort();
    assert_eq!(stages, sorted, "groups in order");

    // With a filter.
    let big: Vec<Record> = opportunities
        .iter()
        .filter(|r| {
            r.get("amount")
                .and_then(number)
                .is_some_and(|a| a > 150_000.0)
        })
        .cloned()
        .collect();
    let answer = server
        .ok(
            "aggregate",
            json!({"entityType": "Opportunity", "groupBy": "assignedUserId",
                   "where": [{"field": "amount", "type": "greaterThan", "value": 150000}],
                   "metrics": amount_metrics()}),
        )
        .await;
    assert_eq!(answer["total"], json!(big.len()));
    let expected = expected_groups(&big, |r| r["assignedUserId"].clone());
    assert_rows_match(
        answer["rows"].as_array().unwrap(),
        "assignedUserId",
        &expected,
    );

    // No groupBy: one row over everything.
    let answer = server
        .ok(
            "aggregate",
            json!({"entityType": "Opportunity", "metrics": amount_metrics()}),
        )
        .await;
    let expected = expected_groups(&opportunities, |_| Value::Null);
    let rows = answer["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].get("stage").is_none());
    let only = expected.values().next().unwrap();
    assert_eq!(rows[0]["count"], json!(only.count));
    server.stop().await;
}

/// How the test buckets a date itself.
type Bucketer = fn(&str) -> String;

fn quarter(date: &str) -> String {
    let month: u32 = date[5..7].parse().unwrap();
    format!("{}-Q{}", &date[..4], (month - 1) / 3 + 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregate_buckets_dates() {
    let sandbox = sandbox().await;
    let direct = Direct::new(&sandbox);
    let opportunities = direct.all("Opportunity").await;
    let server = Server::start(&sandbox, Era::Modern).await;
    let buckets: [(&str, Bucketer); 4] = [
        ("day", |d| d[..10].to_owned()),
        ("month", |d| d[..7].to_owned()),
        ("quarter", quarter),
        ("year", |d| d[..4].to_owned()),
    ];
    for (bucket, of) in buckets {
        let answer = server
            .ok(
                "aggregate",
                json!({"entityType": "Opportunity", "groupBy": "closeDate",
                       "dateBucket": bucket, "metrics": amount_metrics()}),
            )
            .await;
        let expected = expected_groups(&opportunities, |r| match text(r, "closeDate") {
            Some(date) => Value::String(of(date)),
            None => Value::Null,
        });
        let rows = answer["rows"].as_array().unwrap();
        assert_rows_match(rows, "bucket", &expected);
        let keys: Vec<String> = rows.iter().map(|r| r["bucket"].to_string()).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "{bucket}: chronological");
    }

    // Date-times bucket by their UTC date: calls by week, counted.
    let calls = direct.all("Call").await;
    let answer = server
        .ok(
            "aggregate",
            json!({"entityType": "Call", "groupBy": "dateStart", "dateBucket": "month",
                   "metrics": [{"op": "count"}]}),
        )
        .await;
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for call in &calls {
        *expected
            .entry(text(call, "dateStart").unwrap()[..7].to_owned())
            .or_default() += 1;
    }
    let got: BTreeMap<String, u64> = answer["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["bucket"].as_str().unwrap().to_owned(),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregate_never_adds_different_currencies() {
    let sandbox = sandbox().await;
    let direct = Direct::new(&sandbox);
    let account = text(&direct.all("Account").await[0], "id")
        .unwrap()
        .to_owned();
    for (name, amount) in [("Euro deal one", 1000.5), ("Euro deal two", 2500.0)] {
        direct
            .create(
                "Opportunity",
                json!({"name": name, "amount": amount, "amountCurrency": "EUR",
                       "closeDate": "2027-02-01", "stage": "Proposal", "accountId": account}),
            )
            .await;
    }
    let opportunities = direct.all("Opportunity").await;
    let server = Server::start(&sandbox, Era::Legacy).await;
    let answer = server
        .ok(
            "aggregate",
            json!({"entityType": "Opportunity", "groupBy": "stage", "metrics": amount_metrics()}),
        )
        .await;
    let rows = answer["rows"].as_array().unwrap();
    let expected = expected_groups(&opportunities, |r| r["stage"].clone());
    assert_eq!(
        expected[&json!("Proposal").to_string()].by_currency.len(),
        2
    );
    assert_rows_match(rows, "stage", &expected);
    let proposal = rows.iter().find(|r| r["stage"] == "Proposal").unwrap();
    assert_eq!(proposal["amountCurrency"], json!(["EUR", "USD"]));
    assert_eq!(proposal["sum_amount"]["EUR"], json!(3500.5));
    let negotiation = rows.iter().find(|r| r["stage"] == "Negotiation").unwrap();
    assert!(negotiation["sum_amount"].is_number(), "{negotiation}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregate_refuses_sets_above_the_ceiling() {
    let sandbox = sandbox().await;
    let direct = Direct::new(&sandbox);
    let opportunities = direct.all("Opportunity").await;
    assert!(opportunities.len() > 100);
    let server = Server::builder(&sandbox)
        .env("SERVER_AGGREGATE_MAX_RECORDS", 100)
        .start()
        .await;
    server.ok("whoami", json!({})).await;
    sandbox.reset_stats();
    let error = server
        .err_code(
            "aggregate",
            json!({"entityType": "Opportunity", "metrics": [{"op": "count"}]}),
            "INVALID_ARGUMENT",
        )
        .await;
    assert_eq!(error["details"]["total"], json!(opportunities.len()));
    assert_eq!(error["details"]["maxRecords"], json!(100));
    assert!(
        error["suggestion"].as_str().unwrap().contains("Narrow"),
        "{error:?}"
    );
    assert_eq!(
        sandbox.stats().count("GET Opportunity"),
        1,
        "refused up front"
    );

    // A narrower filter passes.
    let won: Vec<&Record> = opportunities
        .iter()
        .filter(|r| text(r, "stage") == Some("Closed Won"))
        .collect();
    let answer = server
        .ok(
            "aggregate",
            json!({"entityType": "Opportunity", "metrics": [{"op": "count"}],
                   "where": [{"field": "stage", "type": "equals", "value": "Closed Won"}]}),
        )
        .await;
    assert_eq!(answer["rows"][0]["count"], json!(won.len()));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregate_checks_its_arguments_before_reading() {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, Era::Legacy).await;
    server.ok("whoami", json!({})).await;
    assert_no_upstream_request(&sandbox, "bad aggregates", || async {
        for (arguments, code) in [
            (
                json!({"entityType": "Opportunity", "metrics": [{"op": "sum", "field": "name"}]}),
                "INVALID_ARGUMENT",
            ),
            (
                json!({"entityType": "Opportunity", "metrics": [{"op": "sum"}]}),
                "INVALID_ARGUMENT",
            ),
            (
                json!({"entityType": "Opportunity", "metrics": []}),
                "INVALID_ARGUMENT",
            ),
            (
                json!({"entityType": "Opportunity", "groupBy": "stage", "dateBucket": "month",
                       "metrics": [{"op": "count"}]}),
                "INVALID_ARGUMENT",
            ),
            (
                json!({"entityType": "Opportunity", "dateBucket": "month",
                       "metrics": [{"op": "count"}]}),
                "INVALID_ARGUMENT",
            ),
            (
                json!({"entityType": "Opportunity", "metrics": [{"op": "median", "field": "amount"}]}),
                "INVALID_ARGUMENT",
            ),
            (
                json!({"entityType": "Opportunity", "metrics": [{"op": "max", "field": "amont"}]}),
                "INVALID_FIELD",
            ),
            (
                json!({"entityType": "Opportunity", "metrics": [{"op": "count"}],
                       "where": [{"field": "stage", "type": "greaterThan", "value": 3}]}),
                "INVALID_OPERATOR",
            ),
        ] {
            server.err_code("aggregate", arguments, code).await;
        }
    })
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregate_reports_progress_while_paging() {
    let sandbox = sandbox().await;
    let total = Direct::new(&sandbox).all("Opportunity").await.len();
    let session = ProgressSession::start(&sandbox, &[("SERVER_MAX_LIMIT", "20")]).await;
    let result = tokio::time::timeout(
        PATIENCE,
        session.client.call_tool(params(
            "aggregate",
            json!({"entityType": "Opportunity", "metrics": [{"op": "count"}]}),
        )),
    )
    .await
    .expect("in time")
    .expect("answers");
    let answer = success_of(&result, "aggregate");
    assert_eq!(answer["total"], json!(total));
    // Notifications may trail the result by a moment.
    let pages = total.div_ceil(20);
    session
        .wait_for_progress(pages, Duration::from_secs(20))
        .await;
    let progress = session.progress();
    assert_eq!(progress.len(), pages, "one notification per page");
    // The server sends them in order; the client may hand them to its handler out of order
    // on a busy machine, so compare the set: one distinct, growing count per page.
    let mut values: Vec<f64> = progress.iter().map(|p| p.progress).collect();
    values.sort_by(f64::total_cmp);
    assert!(values.windows(2).all(|w| w[0] < w[1]), "{values:?}");
    assert_eq!(values.last().copied(), Some(total as f64));
    assert!(progress.iter().all(|p| p.total == Some(total as f64)));
    session.stop().await;
}

/// In process, on tokio's clock: the sandbox's slow pages and the watch for pages after the
/// cancellation pass without waiting for them.
#[tokio::test]
async fn a_cancelled_aggregate_stops_paging() {
    let sandbox = sandbox().await;
    let session = ProgressSession::start_in_process(
        &sandbox,
        &[
            ("SERVER_MAX_LIMIT", "5"),
            ("SERVER_RATE_LIMIT_MAX_CONCURRENT", "1"),
            ("SERVER_RATE_LIMIT_REQUESTS_PER_SECOND", "0"),
        ],
    )
    .await;
    // Warm the schema, then make every page slow: 150 records in pages of 5 take 30 pages.
    session
        .client
        .call_tool(params("whoami", json!({})))
        .await
        .expect("whoami");
    sandbox.set_faults(FaultConfig {
        latency_ms: 200,
        ..FaultConfig::default()
    });
    sandbox.reset_stats();
    let handle = session
        .client
        .peer()
        .send_cancellable_request(
            ClientRequest::CallToolRequest(CallToolRequest::new(params(
                "aggregate",
                json!({"entityType": "Opportunity", "metrics": [{"op": "count"}]}),
            ))),
            PeerRequestOptions::no_options(),
        )
        .await
        .expect("sent");
    fast_forward(
        Duration::from_secs(1),
        session.wait_for_progress(1, PATIENCE),
    )
    .await;
    assert!(!session.progress().is_empty(), "a first progress");
    handle
        .cancel(Some("enough".into()))
        .await
        .expect("cancelled");
    // The page in flight at the cancellation may still arrive; nothing after it.
    let_time_pass(Duration::from_millis(500)).await;
    settle().await;
    let after_cancel = sandbox.stats().count("GET Opportunity");
    let_time_pass(Duration::from_millis(1500)).await;
    settle().await;
    let later = sandbox.stats().count("GET Opportunity");
    sandbox.set_faults(FaultConfig::default());
    assert_eq!(after_cancel, later, "paging went on after the cancellation");
    assert!(later <= 4, "{later} pages read of 30");
    // The server still serves.
    let result = session
        .client
        .call_tool(params("whoami", json!({})))
        .await
        .expect("whoami");
    success_of(&result, "whoami");
    session.stop().await;
}

// ---------------------------------------------------------------------------------------------
// whoami
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whoami_describes_the_agent_and_its_role() {
    let sandbox = sandbox().await;
    let direct = Direct::new(&sandbox);
    let app = direct.get("App/user", &[]).await;
    let server = Server::start(&sandbox, Era::Modern).await;
    let me = server.ok("whoami", json!({})).await;
    assert_eq!(me["id"], app["user"]["id"]);
    assert_eq!(me["userName"], "mcp-agent");
    assert_eq!(me["type"], "api");
    assert!(
        me["emailAddresses"]
            .as_array()
            .unwrap()
            .contains(&json!("mcp-agent@example.com")),
        "{me}"
    );
    let access = |entity: &str| -> Value {
        me["access"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["entityType"] == entity)
            .cloned()
            .unwrap_or_else(|| panic!("no access row for {entity}: {me}"))
    };
    let full =
        json!({"read": "all", "create": "all", "edit": "all", "delete": "all", "stream": "all"});
    for entity in ["Account", "Contact", "Opportunity", "Meeting"] {
        let mut row = access(entity);
        row.as_object_mut().unwrap().remove("entityType");
        assert_eq!(row, full, "{entity}");
    }
    let email = access("Email");
    assert_eq!(email["create"], "all");
    // Its own e-mails only (the recommended role), and never deleted.
    for (action, level) in [
        ("read", "own"),
        ("edit", "own"),
        ("delete", "no"),
        ("stream", "own"),
    ] {
        assert_eq!(email[action], level, "Email {action}");
    }
    // Every row agrees with the ACL table EspoCRM sends.
    let table = &app["acl"]["table"];
    for row in me["access"].as_array().unwrap() {
        let scope = &table[row["entityType"].as_str().unwrap()];
        if let Some(levels) = scope.as_object() {
            for action in ["read", "edit", "delete", "stream"] {
                let level = levels.get(action).and_then(Value::as_str).unwrap_or("no");
                assert_eq!(row[action], level, "{row}");
            }
        }
    }
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// upcoming_activities
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upcoming_activities_match_the_data() {
    let sandbox = sandbox().await;
    let direct = Direct::new(&sandbox);
    let meetings = direct.all("Meeting").await;
    let calls = direct.all("Call").await;
    let tasks = direct.all("Task").await;
    // The regular user with the most planned meetings.
    let mut planned: BTreeMap<String, usize> = BTreeMap::new();
    for meeting in &meetings {
        if text(meeting, "status") == Some("Planned")
            && let Some(user) = text(meeting, "assignedUserId")
        {
            *planned.entry(user.to_owned()).or_default() += 1;
        }
    }
    let (user, _) = planned
        .iter()
        .max_by_key(|(_, n)| **n)
        .expect("planned meetings");
    let server = Server::start(&sandbox, Era::Legacy).await;
    let answer = server
        .ok(
            "upcoming_activities",
            json!({"userId": user, "days": 30, "limit": 200}),
        )
        .await;
    let (from, to) = (
        answer["from"].as_str().unwrap(),
        answer["to"].as_str().unwrap(),
    );
    let within = |at: Option<&str>| at.is_some_and(|at| at >= from && at <= to);
    let mut expected: Vec<(String, String, String)> = Vec::new();
    for (entity, records) in [("Meeting", &meetings), ("Call", &calls)] {
        for r in records.iter() {
            if text(r, "assignedUserId") == Some(user.as_str())
                && text(r, "status") == Some("Planned")
                && within(text(r, "dateStart"))
            {
                expected.push((
                    text(r, "dateStart").unwrap().to_owned(),
                    text(r, "id").unwrap().to_owned(),
                    entity.to_owned(),
                ));
            }
        }
    }
    for r in &tasks {
        if text(r, "assignedUserId") == Some(user.as_str())
            && !matches!(text(r, "status"), Some("Completed" | "Canceled"))
            && within(text(r, "dateEnd"))
        {
            expected.push((
                text(r, "dateEnd").unwrap().to_owned(),
                text(r, "id").unwrap().to_owned(),
                "Task".into(),
            ));
        }
    }
    expected.sort();
    assert!(
        expected.iter().any(|e| e.2 == "Meeting"),
        "the user has planned meetings in the window"
    );
    let list = answer["list"].as_array().unwrap();
    let got: Vec<(String, String, String)> = list
        .iter()
        .map(|a| {
            let at = a.get("start").or_else(|| a.get("due")).unwrap();
            (
                at.as_str().unwrap().to_owned(),
                a["id"].as_str().unwrap().to_owned(),
                a["entityType"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    assert_eq!(answer["truncated"], false);
    for a in list {
        let (entity, id) = (a["entityType"].as_str().unwrap(), a["id"].as_str().unwrap());
        assert_eq!(a["url"], record_url(&sandbox, entity, id));
        assert!(a["name"].is_string() && a["status"].is_string(), "{a}");
    }

    // A small limit keeps the soonest and says more exist.
    if expected.len() > 2 {
        let answer = server
            .ok(
                "upcoming_activities",
                json!({"userId": user, "days": 30, "limit": 2}),
            )
            .await;
        let ids: Vec<&str> = answer["list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap())
            .collect();
        let soonest: Vec<&str> = expected.iter().take(2).map(|e| e.1.as_str()).collect();
        assert_eq!(ids, soonest);
        assert_eq!(answer["truncated"], true);
    }

    // The API user by default (it owns nothing in the demo data).
    let mine = server.ok("upcoming_activities", json!({})).await;
    let me = server.ok("whoami", json!({})).await;
    assert_eq!(mine["userId"], me["id"]);
    server
        .err_code(
            "upcoming_activities",
            json!({"days": 0}),
            "INVALID_ARGUMENT",
        )
        .await;
    server
        .err_code(
            "upcoming_activities",
            json!({"userId": "not an id"}),
            "INVALID_ID",
        )
        .await;
    server.stop().await;
}
