//! What every test needs: a sandbox of its own, requests made as one of the recorded actors
//! (`mcp-agent`, `mcp-readonly`, `admin`, nobody), answers decoded with assertions that show the
//! status, `X-Status-Reason` and body when they fail, and helpers that list whole entity types
//! or encode `where` items the way EspoCRM's web client does.

#![allow(dead_code)]

use std::collections::BTreeSet;

use base64::Engine;
use espocrm_sandbox::{EspoVersion, Sandbox};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Map, Value};

/// One record as the API returns it.
pub type Row = Map<String, Value>;

/// The `Content-Type` of EspoCRM's JSON answers and of its generic record routes' errors.
pub const JSON: &str = "application/json";
/// The `Content-Type` of 401s and of the single-action routes' errors (Kanban, prepare, Activities).
pub const HTML: &str = "text/html; charset=UTF-8";
/// The `Content-Type` of Slim's "no route" page (no space after the semicolon).
pub const SLIM_HTML: &str = "text/html;charset=UTF-8";

/// Whose credentials a request carries.
#[derive(Debug, Clone)]
pub enum Who {
    /// `mcp-agent`: the full-access API user (X-Api-Key).
    Agent,
    /// `mcp-readonly`: may only read Account and Contact (X-Api-Key).
    Limited,
    /// The administrator, through `Espo-Authorization`.
    Admin,
    /// No credentials at all.
    Anonymous,
    /// Another API key (a user created during the test, or an unknown key).
    ApiKey(String),
}

/// A running sandbox and a client for it; dropping it stops the sandbox.
pub struct Api {
    pub sandbox: Sandbox,
    client: reqwest::Client,
}

impl Api {
    /// A sandbox answering as EspoCRM 8.4.2.
    pub async fn start() -> Api {
        Api::start_version(EspoVersion::V8_4).await
    }

    /// A sandbox answering as `version`.
    pub async fn start_version(version: EspoVersion) -> Api {
        let sandbox = Sandbox::start_version(version)
            .await
            .expect("the sandbox starts");
        let client = reqwest::Client::builder()
            .build()
            .expect("the HTTP client builds");
        Api { sandbox, client }
    }

    /// `path` is relative to `/api/v1/` and may carry a query string, sent as written.
    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v1/{}", self.sandbox.url, path)
    }

    pub fn request(&self, method: Method, path: &str) -> Call<'_> {
        Call {
            api: self,
            method,
            url: self.url(path),
            who: Who::Agent,
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn get(&self, path: &str) -> Call<'_> {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str, body: &Value) -> Call<'_> {
        self.request(Method::POST, path).json(body)
    }

    pub fn put(&self, path: &str, body: &Value) -> Call<'_> {
        self.request(Method::PUT, path).json(body)
    }

    pub fn patch(&self, path: &str, body: &Value) -> Call<'_> {
        self.request(Method::PATCH, path).json(body)
    }

    pub fn delete(&self, path: &str) -> Call<'_> {
        self.request(Method::DELETE, path)
    }

    /// A request to the sandbox's own control routes (`/__sandbox/...`), outside `/api/v1`.
    pub fn control(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}/__sandbox/{}", self.sandbox.url, path))
    }

    /// The id of the user a key belongs to, from `App/user`.
    pub async fn user_id(&self, who: Who) -> String {
        let me = self.get("App/user").who(who).send().await.ok_json();
        me["user"]["id"]
            .as_str()
            .expect("App/user names the user")
            .to_owned()
    }

    /// One page of `GET {entity}?{query}` as the agent; the answer must be a 200 list.
    pub async fn list(&self, entity: &str, query: &str) -> Value {
        let page = self
            .get(&format!("{entity}?{query}"))
            .send()
            .await
            .ok_json();
        assert!(page["total"].is_i64(), "a list has a total: {page}");
        assert!(page["list"].is_array(), "a list has a list: {page}");
        page
    }

    /// Every record `GET {entity}?{query}` matches, fetched 200 at a time (the most EspoCRM
    /// allows), with the total the first page reported.
    pub async fn fetch_all(&self, entity: &str, query: &str) -> (i64, Vec<Row>) {
        self.fetch_all_as(Who::Agent, entity, query).await
    }

    pub async fn fetch_all_as(&self, who: Who, entity: &str, query: &str) -> (i64, Vec<Row>) {
        let mut rows: Vec<Row> = Vec::new();
        let mut total = None;
        loop {
            let paging = format!("maxSize=200&offset={}", rows.len());
            let full = if query.is_empty() {
                paging
            } else {
                format!("{query}&{paging}")
            };
            let page = self
                .get(&format!("{entity}?{full}"))
                .who(who.clone())
                .send()
                .await
                .ok_json();
            let reported = page["total"].as_i64().expect("the total is a number");
            let first_total = *total.get_or_insert(reported);
            assert_eq!(
                reported, first_total,
                "the total must not change between pages of {entity}?{query}"
            );
            let list = page["list"].as_array().expect("a list").clone();
            let got = list.len();
            rows.extend(list.into_iter().map(|v| match v {
                Value::Object(m) => m,
                other => panic!("a list item is an object, got {other}"),
            }));
            if got == 0 || rows.len() as i64 >= first_total {
                break;
            }
            assert!(rows.len() < 100_000, "runaway paging of {entity}");
        }
        (total.unwrap_or(0), rows)
    }

    /// The id of the one record of `entity` whose `attribute` equals `value` (via the store).
    #[track_caller]
    pub fn find_one(&self, entity: &str, attribute: &str, value: &str) -> String {
        let ids = self
            .sandbox
            .find(entity, attribute, &Value::String(value.to_owned()));
        assert_eq!(
            ids.len(),
            1,
            "exactly one {entity} with {attribute} = {value:?}, got {ids:?}"
        );
        ids[0].clone()
    }

    pub fn agent_key(&self) -> String {
        self.sandbox.agent_api_key.clone()
    }
}

/// A request being put together; nothing is sent before [`Call::send`].
pub struct Call<'a> {
    api: &'a Api,
    method: Method,
    url: String,
    who: Who,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl Call<'_> {
    pub fn who(mut self, who: Who) -> Self {
        self.who = who;
        self
    }

    pub fn limited(self) -> Self {
        self.who(Who::Limited)
    }

    pub fn admin(self) -> Self {
        self.who(Who::Admin)
    }

    pub fn anonymous(self) -> Self {
        self.who(Who::Anonymous)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn json(mut self, body: &Value) -> Self {
        self.body = Some(body.to_string().into_bytes());
        self.header("Content-Type", "application/json")
    }

    /// A body sent exactly as given (with a JSON content type, as a client would claim).
    pub fn raw_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        if !self
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            self.headers
                .push(("Content-Type".into(), "application/json".into()));
        }
        self
    }

    pub fn builder(self) -> reqwest::RequestBuilder {
        let sandbox = &self.api.sandbox;
        let mut request = self.api.client.request(self.method, &self.url);
        request = match &self.who {
            Who::Agent => request.header("X-Api-Key", &sandbox.agent_api_key),
            Who::Limited => request.header("X-Api-Key", &sandbox.limited_api_key),
            Who::Admin => request.header(
                "Espo-Authorization",
                basic(&sandbox.admin_user, &sandbox.admin_password),
            ),
            Who::Anonymous => request,
            Who::ApiKey(key) => request.header("X-Api-Key", key),
        };
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        if let Some(body) = self.body {
            request = request.body(body);
        }
        request
    }

    pub async fn send(self) -> Resp {
        let response = self.builder().send().await.expect("the sandbox answers");
        Resp::read(response).await
    }
}

/// `base64(user:password)`, the value of `Espo-Authorization` (and of Basic after "Basic ").
pub fn basic(user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// A whole answer, read.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Resp {
    pub async fn read(response: reqwest::Response) -> Resp {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.expect("the body is read");
        Resp {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }

    /// `X-Status-Reason`: `None` when the header is absent, `Some("")` when present but empty.
    pub fn reason(&self) -> Option<String> {
        self.header("X-Status-Reason")
    }

    pub fn content_type(&self) -> String {
        self.header("Content-Type").unwrap_or_default()
    }

    fn describe(&self) -> String {
        let body: String = self.body.chars().take(600).collect();
        format!(
            "status {} reason {:?} content-type {:?} body {body:?}",
            self.status,
            self.reason(),
            self.content_type()
        )
    }

    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("the body is JSON ({e}): {}", self.describe()))
    }

    #[track_caller]
    pub fn expect_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status,
            status,
            "unexpected answer: {}",
            self.describe()
        );
        self
    }

    /// 200, `application/json`, no `X-Status-Reason`; returns the decoded body.
    #[track_caller]
    pub fn ok_json(&self) -> Value {
        self.expect_status(200);
        assert_eq!(self.content_type(), JSON, "{}", self.describe());
        assert_eq!(self.reason(), None, "{}", self.describe());
        self.json()
    }

    /// The status and `X-Status-Reason` of an error: `Some(text)` exact (an empty text means
    /// the header is present but empty), `None` means the header must be absent.
    #[track_caller]
    pub fn expect_error(&self, status: u16, reason: Option<&str>) -> &Self {
        self.expect_status(status);
        assert_eq!(
            self.reason().as_deref(),
            reason,
            "X-Status-Reason of {}",
            self.describe()
        );
        self
    }

    #[track_caller]
    pub fn expect_content_type(&self, content_type: &str) -> &Self {
        assert_eq!(self.content_type(), content_type, "{}", self.describe());
        self
    }

    #[track_caller]
    pub fn expect_empty_body(&self) -> &Self {
        assert_eq!(
            self.body,
            "",
            "the body should be empty: {}",
            self.describe()
        );
        self
    }

    /// An error EspoCRM answers with an empty JSON-typed body (the generic record routes).
    #[track_caller]
    pub fn expect_json_error(&self, status: u16, reason: Option<&str>) -> &Self {
        self.expect_error(status, reason)
            .expect_content_type(JSON)
            .expect_empty_body()
    }

    /// An error EspoCRM answers with an empty `text/html` body (single-action routes).
    #[track_caller]
    pub fn expect_html_error(&self, status: u16, reason: Option<&str>) -> &Self {
        self.expect_error(status, reason)
            .expect_content_type(HTML)
            .expect_empty_body()
    }

    /// A 400 validation failure, with EspoCRM's reason text and JSON body.
    #[track_caller]
    pub fn expect_validation(&self, entity: &str, field: &str, check: &str) -> &Self {
        let reason = format!(
            "Field validation failure; entityType: {entity}, field: {field}, type: {check}."
        );
        self.expect_error(400, Some(&reason))
            .expect_content_type(JSON);
        assert_eq!(
            self.json(),
            serde_json::json!({"messageTranslation": {"label": "validationFailure", "scope": null, "data": {"field": field, "type": check}}}),
            "validation body of {}",
            self.describe()
        );
        self
    }
}

// ------------------------------------------------------------------------------ query strings

/// PHP-style pairs for a nested value: `where[0][type]=equals`, arrays as `[0]`, `[1]`, ...
pub fn php_pairs(name: &str, value: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    flatten(name.to_owned(), value, &mut out);
    out
}

fn flatten(prefix: String, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                flatten(format!("{prefix}[{k}]"), v, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(format!("{prefix}[{i}]"), v, out);
            }
        }
        Value::String(s) => out.push((prefix, s.clone())),
        Value::Bool(b) => out.push((prefix, b.to_string())),
        Value::Number(n) => out.push((prefix, n.to_string())),
        Value::Null => out.push((prefix, String::new())),
    }
}

/// Percent-encodes pairs (brackets become `%5B`/`%5D`, spaces `+`), as browsers send them.
pub fn encode(pairs: &[(String, String)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        serializer.append_pair(k, v);
    }
    serializer.finish()
}

/// `where[...]` items, percent-encoded.
pub fn where_query(items: &Value) -> String {
    encode(&php_pairs("where", items))
}

/// Plain `key=value` parameters, percent-encoded.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let owned: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    encode(&owned)
}

// ------------------------------------------------------------------------------ row helpers

pub fn ids(rows: &[Row]) -> BTreeSet<String> {
    rows.iter().map(|r| id_of(r)).collect()
}

#[track_caller]
pub fn id_of(row: &Row) -> String {
    row.get("id")
        .and_then(Value::as_str)
        .expect("a record has an id")
        .to_owned()
}

/// The rows of a list answer.
#[track_caller]
pub fn rows_of(page: &Value) -> Vec<Row> {
    page["list"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|v| v.as_object().expect("a list item is an object").clone())
        .collect()
}

pub fn text<'r>(row: &'r Row, attribute: &str) -> Option<&'r str> {
    row.get(attribute).and_then(Value::as_str)
}

pub fn number(row: &Row, attribute: &str) -> Option<f64> {
    match row.get(attribute) {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
}

pub fn keys(row: &Row) -> BTreeSet<String> {
    row.keys().cloned().collect()
}

pub fn key_set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// EspoCRM's id format: 17 lowercase hexadecimal characters.
pub fn is_espo_id(id: &str) -> bool {
    id.len() == 17
        && id
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

/// `YYYY-MM-DD HH:MM:SS`.
pub fn is_datetime(text: &str) -> bool {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").is_ok() && text.len() == 19
}

/// Today in UTC, the sandbox's (and the recorded instance's) time zone.
pub fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

pub fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

pub fn date_text(date: chrono::NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

pub fn datetime_text(moment: chrono::NaiveDateTime) -> String {
    moment.format("%Y-%m-%d %H:%M:%S").to_string()
}
