//! Where espomcp's logs go, and what is taken out of them first.
//!
//! Logs are written to stderr, always: over stdio, stdout carries the MCP protocol and a single
//! stray line there breaks the client. With `LOGGING_FILE` they are also appended to that file
//! through tracing-appender's non-blocking writer, so a slow disk never holds up a request; the
//! [`TelemetryGuard`] flushes what is still buffered when it is dropped, so `main` keeps it
//! alive until the end. `LOGGING_LEVEL` applies to espomcp's own crates; its dependencies
//! (HTTP, TLS, the actor runtime) are held at `warn` unless the level is stricter still, because
//! their `trace` output drowns ours and says nothing about EspoCRM.
//!
//! At `trace`, request and response bodies are logged, and they are full of personal data. They
//! go through [`redact`] (or, lazily, [`Redacted`]) first: names, email addresses, phone numbers,
//! street addresses and free text are masked, and credentials never get through at all.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::IsTerminal;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use tracing::Subscriber;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogLevel, LoggingConfig};
use crate::rules::{email, phone};

/// What a masked value is replaced with.
pub const MASK: &str = "[redacted]";

/// The crates whose logs follow `LOGGING_LEVEL`; the others are held at `warn`.
const OWN_CRATES: [&str; 3] = ["espomcp", "espomcp_actors", "espocrm_sandbox"];

/// Keeps the log file's writer running; dropping it flushes the file.
#[must_use = "dropping the guard stops writing to the log file"]
pub struct TelemetryGuard {
    _file_writer: Option<WorkerGuard>,
}

impl fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryGuard")
            .field("writes_file", &self._file_writer.is_some())
            .finish()
    }
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    #[error(
        "LOGGING_FILE {}: cannot open it for appending ({message}): check that its directory \
         exists and is writable",
        .path.display()
    )]
    OpenFile { path: PathBuf, message: String },

    #[error("logging was already set up in this process")]
    AlreadySet,
}

/// Installs the process's logger. Call once, early in `main`, and keep the guard.
pub fn init(config: &LoggingConfig) -> Result<TelemetryGuard, TelemetryError> {
    let (file_writer, guard) = match &config.file {
        Some(path) => {
            let (writer, guard) = tracing_appender::non_blocking(open_log_file(path)?);
            (Some(writer), Some(guard))
        }
        None => (None, None),
    };
    let ansi = std::io::stderr().is_terminal();
    subscriber(config, std::io::stderr, ansi, file_writer)
        .try_init()
        .map_err(|_| TelemetryError::AlreadySet)?;
    Ok(TelemetryGuard {
        _file_writer: guard,
    })
}

/// Appends, creating the file readable by its owner only: it may hold (redacted) bodies.
fn open_log_file(path: &Path) -> Result<File, TelemetryError> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .map_err(|error| TelemetryError::OpenFile {
            path: path.to_owned(),
            message: error.to_string(),
        })
}

/// The whole logger, with its writers passed in so tests can capture what it writes.
fn subscriber<E, F>(
    config: &LoggingConfig,
    stderr: E,
    ansi: bool,
    file: Option<F>,
) -> impl Subscriber + Send + Sync + 'static
where
    E: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
    F: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    tracing_subscriber::registry()
        .with(filter(config.level))
        .with(tracing_subscriber::filter::filter_fn(|metadata| {
            !is_rmcp_response_error(metadata)
        }))
        .with(output(config.json, stderr, ansi))
        .with(file.map(|writer| output(config.json, writer, false)))
}

/// rmcp's "response error" event, which logs every JSON-RPC error answer at `warn` in its
/// `Debug` form (`ErrorData { code: ErrorCode(-32602), … }`): `server.rs` logs the same answers
/// in one readable line instead. Told by its target and fields (`id` and `error`), which no
/// other rmcp event has together.
fn is_rmcp_response_error(metadata: &tracing::Metadata<'_>) -> bool {
    metadata.is_event()
        && metadata.target().starts_with("rmcp::service")
        && metadata.fields().field("error").is_some()
        && metadata.fields().field("id").is_some()
}

/// `LOGGING_LEVEL` for our crates, and at most `warn` for everything else.
fn filter(level: LogLevel) -> EnvFilter {
    let others = level.max(LogLevel::Warn);
    let mut directives = vec![others.as_str().to_owned()];
    directives.extend(OWN_CRATES.iter().map(|name| format!("{name}={level}")));
    EnvFilter::new(directives.join(","))
}

fn output<S, W>(json: bool, writer: W, ansi: bool) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let layer = tracing_subscriber::fmt::layer().with_writer(writer);
    if json {
        layer.json().boxed()
    } else {
        layer.with_ansi(ansi).boxed()
    }
}

/// A body to log, redacted only if the event is actually written:
/// `tracing::trace!(body = %Redacted(&body), "EspoCRM answered")`.
pub struct Redacted<'a>(pub &'a Value);

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", redact(self.0))
    }
}

/// A copy of an EspoCRM body that is safe to log.
///
/// By key, wherever it occurs (case and `_`/`-` ignored):
/// - credentials (`apiKey`, `X-Api-Key`, `password*`, `*token*`, `*secret*`, `authorization`,
///   `cookie`) are replaced whole, whatever they hold;
/// - personal data keeps its shape but every string and number in it is masked: person names
///   (`firstName`, `lastName`, `middleName`, `salutationName`, `userName`, the `*UserName` /
///   `*ByName` / `contactName` / `contactsNames`… of links, `nameHash`), `name` of a person
///   (Contact, Lead, User: told by `_scope`/`entityType`, by name parts beside it, or by the link
///   it was listed under) and of an Email (its subject), `parentName` when the parent is a
///   person, email addresses and phone numbers (`emailAddress*`, `phoneNumber*`, but not the
///   `*Data` lists, whose other entries are not personal), street addresses (`*address*` ending
///   in `Street`, `City`, `PostalCode`, `State` or `Country`) and free text (`description`,
///   `post`, `body`, `bodyPlain`, `text`, `subject`, `fromString`, `replyToString`).
///
/// By value, everywhere else: email addresses inside any string (object keys included) are
/// replaced by `[email]`, and a string that is a phone number is masked. Ids, dates, amounts,
/// booleans, enum values and company names are kept: they are what a log is read for.
pub fn redact(value: &Value) -> Value {
    redact_value(value, Kind::Unknown)
}

/// What a JSON object is a record of, as far as redaction cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Person,
    Email,
    Unknown,
}

const PERSON_TYPES: [&str; 3] = ["Contact", "Lead", "User"];

impl Kind {
    fn of(record: &Map<String, Value>, hint: Kind) -> Kind {
        let scope = ["_scope", "entityType"]
            .iter()
            .find_map(|key| record.get(*key).and_then(Value::as_str));
        match scope {
            Some(scope) if PERSON_TYPES.contains(&scope) => return Kind::Person,
            Some("Email") => return Kind::Email,
            Some(_) => return Kind::Unknown,
            None => {}
        }
        let has = |keys: &[&str]| keys.iter().any(|key| record.contains_key(*key));
        if has(&["firstName", "lastName", "middleName", "salutationName"]) {
            Kind::Person
        } else if has(&["bodyPlain", "fromString", "isHtml"]) {
            Kind::Email
        } else {
            hint
        }
    }

    /// What the records listed under a link are: `contacts` of an Account are persons.
    fn of_link(key: &str) -> Kind {
        match normalize(key).as_str() {
            "contacts" | "leads" | "users" | "assignedusers" | "followers" | "attendees" => {
                Kind::Person
            }
            "emails" => Kind::Email,
            _ => Kind::Unknown,
        }
    }
}

/// How a key's value is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Replaced whole.
    Credential,
    /// Every string and number in it masked.
    Personal,
    /// Looked into.
    Other,
}

fn redact_value(value: &Value, hint: Kind) -> Value {
    match value {
        Value::Object(record) => redact_record(record, hint),
        Value::Array(items) => {
            Value::Array(items.iter().map(|item| redact_value(item, hint)).collect())
        }
        Value::String(text) => Value::String(redact_text(text)),
        Value::Null | Value::Bool(_) | Value::Number(_) => value.clone(),
    }
}

fn redact_record(record: &Map<String, Value>, hint: Kind) -> Value {
    let kind = Kind::of(record, hint);
    let mut redacted = Map::with_capacity(record.len());
    for (key, value) in record {
        let value = match classify(key, kind, record) {
            Class::Credential if value.is_null() => Value::Null,
            Class::Credential => Value::from(MASK),
            Class::Personal => mask(value),
            Class::Other => redact_value(value, Kind::of_link(key)),
        };
        redacted.insert(mask_emails(key), value);
    }
    Value::Object(redacted)
}

fn classify(key: &str, kind: Kind, record: &Map<String, Value>) -> Class {
    let key = normalize(key);
    let key = key.as_str();
    let credential = ["password", "secret", "token"]
        .iter()
        .any(|part| key.contains(part))
        || key.ends_with("apikey")
        || matches!(
            key,
            "authorization"
                | "espoauthorization"
                | "xhmacauthorization"
                | "proxyauthorization"
                | "cookie"
                | "setcookie"
        );
    if credential {
        return Class::Credential;
    }
    let person_name = matches!(
        key,
        "firstname"
            | "lastname"
            | "middlename"
            | "salutationname"
            | "username"
            | "fromname"
            | "replytoname"
            | "contactname"
            | "leadname"
            | "contactsnames"
            | "leadsnames"
            | "usersnames"
            | "assignedusersnames"
            | "namehash"
    ) || key.ends_with("username")
        || key.ends_with("byname");
    let contact_point = (key.starts_with("emailaddress") || key.starts_with("phonenumber"))
        && !key.ends_with("data");
    let street_address = key.contains("address")
        && ["street", "city", "postalcode", "state", "country"]
            .iter()
            .any(|part| key.ends_with(part));
    let free_text = matches!(
        key,
        "description"
            | "post"
            | "body"
            | "bodyplain"
            | "text"
            | "subject"
            | "fromstring"
            | "replytostring"
    );
    let own_name = key == "name" && matches!(kind, Kind::Person | Kind::Email);
    let parent_name = key == "parentname"
        && record
            .get("parentType")
            .and_then(Value::as_str)
            .is_some_and(|parent| PERSON_TYPES.contains(&parent));
    if person_name || contact_point || street_address || free_text || own_name || parent_name {
        Class::Personal
    } else {
        Class::Other
    }
}

/// `X-Api-Key`, `api_key`, `apiKey` → `xapikey`, `apikey`, `apikey`.
fn normalize(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_' && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Keeps the shape (keys, nulls, booleans) and masks every string and number.
fn mask(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (mask_emails(key), mask(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(mask).collect()),
        Value::String(text) if text.is_empty() => value.clone(),
        Value::String(_) | Value::Number(_) => Value::from(MASK),
        Value::Null | Value::Bool(_) => value.clone(),
    }
}

fn redact_text(text: &str) -> String {
    if phone::looks_like(text) {
        MASK.to_owned()
    } else {
        mask_international_phones(&mask_emails(text))
    }
}

/// Replaces every `+49 30 1234567` inside a text by `[phone]` (see
/// [`phone::find_international`]).
fn mask_international_phones(text: &str) -> String {
    replace_all(text, &phone::find_international(text), "[phone]")
}

/// Replaces every `local@domain.tld` in the text by `[email]` (see [`email::find_all`]).
fn mask_emails(text: &str) -> String {
    replace_all(text, &email::find_all(text), "[email]")
}

/// `text` with each of `ranges` (in order, not overlapping) replaced by `with`.
fn replace_all(text: &str, ranges: &[Range<usize>], with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for range in ranges {
        out.push_str(&text[copied..range.start]);
        out.push_str(with);
        copied = range.end;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use espomcp_actors::ApiKey;
    use serde_json::json;

    use super::*;
    use crate::config::{Config, Environment, LoadOptions};

    const KEY: &str = "7f3c9a1e5b2d4f60a8c1e3b5d7f9a2c4";

    /// Collects everything written, for assertions.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Buffer {
        fn text(&self) -> String {
            let bytes = self.0.lock().expect("not poisoned").clone();
            String::from_utf8(bytes).expect("utf-8")
        }
    }

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .expect("not poisoned")
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;

        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    fn logging(level: LogLevel, json: bool) -> LoggingConfig {
        LoggingConfig {
            level,
            json,
            file: None,
        }
    }

    /// Runs `log` with the logger writing into a buffer, and returns what it wrote.
    fn captured(config: &LoggingConfig, log: impl FnOnce()) -> String {
        let buffer = Buffer::default();
        let subscriber = subscriber(config, buffer.clone(), false, None::<Buffer>);
        tracing::subscriber::with_default(subscriber, log);
        buffer.text()
    }

    fn contact() -> Value {
        json!({
            "id": "6571a3c2e4b1f0d2a",
            "_scope": "Contact",
            "name": "Ms. Jane Q. Doe",
            "salutationName": "Ms.",
            "firstName": "Jane",
            "middleName": "Quinn",
            "lastName": "Doe",
            "title": "Head of Procurement",
            "accountId": "6571a3c2e4b1f0d2b",
            "accountName": "Acme Corporation",
            "emailAddress": "jane.doe@acme.example",
            "emailAddressIsOptedOut": false,
            "emailAddressData": [
                {"emailAddress": "jane.doe@acme.example", "lower": "jane.doe@acme.example",
                 "primary": true, "optOut": false, "invalid": false},
                {"emailAddress": "jq@home.example", "lower": "jq@home.example",
                 "primary": false, "optOut": false, "invalid": false}
            ],
            "phoneNumber": "+1 415 555 0123",
            "phoneNumberData": [
                {"phoneNumber": "+1 415 555 0123", "type": "Office", "primary": true},
                {"phoneNumber": "+1 415 555 0199", "type": "Mobile", "primary": false}
            ],
            "addressStreet": "42 Market Street",
            "addressCity": "San Francisco",
            "addressState": "CA",
            "addressPostalCode": "94105",
            "addressCountry": "USA",
            "description": "Met Jane at the expo; her assistant is Bob (bob@acme.example).",
            "assignedUserId": "6571a3c2e4b1f0d2c",
            "assignedUserName": "Sam Seller",
            "createdByName": "Admin Person",
            "teamsNames": {"6571a3c2e4b1f0d2d": "Sales"},
            "createdAt": "2024-01-15 10:30:00",
            "doNotCall": false
        })
    }

    #[test]
    fn should_redact_the_personal_data_of_a_contact_and_keep_the_rest() {
        let redacted = redact(&contact());
        let text = redacted.to_string();
        for personal in [
            "Jane",
            "Quinn",
            "Doe",
            "Ms.",
            "jane.doe",
            "acme.example",
            "home.example",
            "415",
            "Market",
            "San Francisco",
            "94105",
            "USA",
            "expo",
            "bob",
            "Sam Seller",
            "Admin Person",
        ] {
            assert!(!text.contains(personal), "{personal:?} left in {text}");
        }
        assert_eq!(redacted["id"], "6571a3c2e4b1f0d2a");
        assert_eq!(redacted["accountName"], "Acme Corporation");
        assert_eq!(redacted["title"], "Head of Procurement");
        assert_eq!(redacted["createdAt"], "2024-01-15 10:30:00");
        assert_eq!(
            redacted["teamsNames"],
            json!({"6571a3c2e4b1f0d2d": "Sales"})
        );
        assert_eq!(redacted["emailAddressIsOptedOut"], false);
        assert_eq!(redacted["name"], MASK);
        assert_eq!(redacted["addressState"], MASK);
        assert_eq!(redacted["phoneNumberData"][1]["type"], "Mobile");
        assert_eq!(redacted["phoneNumberData"][1]["primary"], false);
        assert_eq!(redacted["emailAddressData"][0]["lower"], "[email]");
    }

    #[test]
    fn should_never_let_a_credential_through() {
        let redacted = redact(&json!({
            "apiKey": KEY,
            "headers": {"X-Api-Key": KEY, "Authorization": format!("Basic {KEY}")},
            "user": {"password": KEY, "passwordConfirm": KEY, "api_key": {"nested": KEY}},
            "authToken": KEY,
            "secretKey": null,
        }));
        assert!(!redacted.to_string().contains(KEY), "{redacted}");
        assert_eq!(redacted["headers"]["X-Api-Key"], MASK);
        assert_eq!(redacted["secretKey"], Value::Null);
    }

    #[test]
    fn should_mask_emails_and_phone_numbers_wherever_they_are() {
        let redacted = redact(&json!({
            "list": [{"customField": "call +49 30 1234567 or write to ann@example.org."}],
            "cPhone": "(415) 555-0123",
            "cMobile": "0301234567",
            "to": "a@example.com;b@example.net",
            "nameHash": {"ann@example.org": "Ann"},
            "other": {"ann@example.org": true},
            "amount": "1500000",
            "price": "12.50",
            "closeDate": "2024-01-15",
            "stage": "Proposal",
            "handle": "@acme",
            "note": "2 + 2 = 4, from 2024-01-15 10:30 to 2024-01-16",
        }));
        assert_eq!(
            redacted["note"],
            "2 + 2 = 4, from 2024-01-15 10:30 to 2024-01-16"
        );
        assert_eq!(
            redacted["list"][0]["customField"],
            "call [phone] or write to [email]."
        );
        assert_eq!(redacted["cPhone"], MASK);
        assert_eq!(redacted["cMobile"], MASK);
        assert_eq!(redacted["to"], "[email];[email]");
        assert_eq!(redacted["nameHash"], json!({"[email]": MASK}));
        assert_eq!(redacted["other"], json!({"[email]": true}));
        for kept in ["amount", "price", "closeDate", "stage", "handle"] {
            assert_eq!(
                redacted[kept],
                json!({
                    "amount": "1500000", "price": "12.50", "closeDate": "2024-01-15",
                    "stage": "Proposal", "handle": "@acme",
                })[kept]
            );
        }
    }

    /// Addresses are found as `rules::email` reads them: every character a local part may hold
    /// is masked with it, and punycode top-level domains count. Before, `bob#` and `to=` were
    /// left in front of `[email]`, and `x@example.xn--p1ai` was not masked at all.
    #[test]
    fn should_mask_addresses_whole_as_the_email_rule_reads_them() {
        let redacted = redact(&json!({
            "hash": "bob#1@example.com",
            "query": "to=bob@example.com",
            "braced": "{ann@example.org}",
            "punycode": "x@example.xn--p1ai",
            "typo": "ann@-example.org",
            "kept": "1 @ 2.com, @acme, a@b",
        }));
        assert_eq!(redacted["hash"], "[email]");
        assert_eq!(redacted["query"], "[email]");
        assert_eq!(redacted["braced"], "[email]}");
        assert_eq!(redacted["punycode"], "[email]");
        assert_eq!(redacted["typo"], "[email]");
        assert_eq!(redacted["kept"], "1 @ 2.com, @acme, a@b");
    }

    #[test]
    fn should_mask_the_name_of_persons_and_emails_but_not_of_companies() {
        let redacted = redact(&json!({
            "account": {"id": "a1", "name": "Acme Corporation", "_scope": "Account"},
            "contacts": [{"id": "c1", "name": "Jane Doe"}],
            "email": {"entityType": "Email", "name": "Re: your divorce papers", "status": "Draft"},
            "call": {"name": "Follow up", "parentType": "Lead", "parentName": "John Roe"},
        }));
        assert_eq!(redacted["account"]["name"], "Acme Corporation");
        assert_eq!(redacted["contacts"][0]["name"], MASK);
        assert_eq!(redacted["contacts"][0]["id"], "c1");
        assert_eq!(redacted["email"]["name"], MASK);
        assert_eq!(redacted["email"]["status"], "Draft");
        assert_eq!(redacted["call"]["name"], "Follow up");
        assert_eq!(redacted["call"]["parentName"], MASK);
    }

    /// Everything espomcp might log about its configuration, at the most verbose level, in
    /// both formats: the key must not appear anywhere in the output.
    #[test]
    fn should_never_write_the_api_key_to_the_log() {
        let env: Environment = [
            ("ESPOCRM_URL", "https://crm.example.com"),
            ("ESPOCRM_API_KEY", KEY),
        ]
        .into_iter()
        .collect();
        let options = LoadOptions {
            config_path: None,
            demo: false,
            env,
            flags: Vec::new(),
        };
        let loaded = Config::load(options.clone()).expect("valid");
        let config = loaded.config;
        let gateway = config.gateway_config().expect("URL and key are set");
        let key = ApiKey::new(KEY);
        let body = json!({"apiKey": KEY, "headers": {"X-Api-Key": KEY}});

        for json in [false, true] {
            let output = captured(&logging(LogLevel::Trace, json), || {
                tracing::trace!(?config, "loaded");
                tracing::trace!(%config, "loaded");
                tracing::trace!("config {config:?} / {config}");
                tracing::debug!(?key, ?options, ?gateway, "starting");
                tracing::info!(api_key = ?key, "key");
                tracing::trace!(body = %Redacted(&body), "EspoCRM answered");
                tracing::warn!(config = ?config.espocrm, "espocrm");
                let span = tracing::trace_span!("request", ?key);
                let _entered = span.enter();
                tracing::trace!("inside the span");
            });
            assert!(output.contains("EspoCRM answered"), "{output}");
            assert!(output.contains("ApiKey(<redacted>)"), "{output}");
            assert!(!output.contains(KEY), "the key was logged:\n{output}");
        }
    }

    #[test]
    fn should_hold_dependencies_at_warn_and_our_crates_at_the_level() {
        let output = captured(&logging(LogLevel::Trace, false), || {
            tracing::trace!(target: "espomcp::server", "ours at trace");
            tracing::trace!(target: "espomcp_actors::gateway", "actors at trace");
            tracing::debug!(target: "hyper_util::client", "theirs at debug");
            tracing::warn!(target: "hyper_util::client", "theirs at warn");
        });
        assert!(output.contains("ours at trace"), "{output}");
        assert!(output.contains("actors at trace"), "{output}");
        assert!(!output.contains("theirs at debug"), "{output}");
        assert!(output.contains("theirs at warn"), "{output}");

        let quiet = captured(&logging(LogLevel::Error, false), || {
            tracing::warn!(target: "espomcp::server", "ours at warn");
            tracing::warn!(target: "hyper_util::client", "theirs at warn");
            tracing::error!(target: "espomcp::server", "ours at error");
        });
        assert_eq!(quiet.lines().count(), 1, "{quiet}");
        assert!(quiet.contains("ours at error"), "{quiet}");
    }

    #[test]
    fn should_write_one_json_object_per_line_when_asked() {
        let output = captured(&logging(LogLevel::Info, true), || {
            tracing::info!(target: "espomcp::server", entity = "Account", "listed");
        });
        let line: Value = serde_json::from_str(output.trim()).expect("one JSON line");
        assert_eq!(line["fields"]["message"], "listed");
        assert_eq!(line["fields"]["entity"], "Account");
        assert_eq!(line["level"], "INFO");
    }

    #[test]
    fn should_write_to_the_log_file_too_and_flush_it_when_the_guard_drops() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("espomcp.log");
        let stderr = Buffer::default();
        let (writer, guard) = tracing_appender::non_blocking(open_log_file(&path).expect("opened"));
        let subscriber = subscriber(
            &logging(LogLevel::Info, false),
            stderr.clone(),
            false,
            Some(writer),
        );
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "espomcp::server", "to both");
        });
        drop(guard);
        let file = std::fs::read_to_string(&path).expect("read back");
        assert!(file.contains("to both"), "{file:?}");
        assert!(stderr.text().contains("to both"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .expect("exists")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "others must not read the log");
        }
    }

    #[test]
    fn should_say_which_log_file_cannot_be_opened() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("missing-dir").join("espomcp.log");
        let error = open_log_file(&path).expect_err("no such directory");
        let message = error.to_string();
        assert!(message.starts_with("LOGGING_FILE "), "{message}");
        assert!(message.contains("missing-dir"), "{message}");
    }

    #[test]
    fn should_install_once_per_process() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let config = LoggingConfig {
            level: LogLevel::Warn,
            json: false,
            file: Some(dir.path().join("espomcp.log")),
        };
        let guard = init(&config).expect("the first install works");
        tracing::warn!(target: "espomcp::telemetry", "installed");
        assert!(matches!(init(&config), Err(TelemetryError::AlreadySet)));
        // The worker thread writes in the background; dropping the guard waits for it.
        drop(guard);
        let file = std::fs::read_to_string(dir.path().join("espomcp.log")).expect("read back");
        assert!(file.contains("installed"), "{file:?}");
    }
}
