//! `espomcp seed`: prepares a real EspoCRM (or the sandbox) for trying and testing espomcp.
//!
//! As an administrator (`ESPOCRM_ADMIN_USER` / `ESPOCRM_ADMIN_PASSWORD`, sent the way EspoCRM's
//! own web client sends them, in `Espo-Authorization`), it makes sure these exist, finding what
//! is already there instead of creating it twice:
//!
//! - the role "MCP Agent" with the permissions the README recommends ([`role_scopes`]);
//! - an API user `espomcp-seed-agent` with that role, whose API key is printed on stdout, once,
//!   by the run that creates it (`ESPOCRM_API_KEY=…`): the only thing seed ever prints there;
//! - a few regular users (`espomcp-seed-alice`, …) and demo data assigned across them: accounts,
//!   contacts linked to them, leads, opportunities in every stage with amounts and close dates,
//!   tasks, meetings, calls, cases and email templates, with dates relative to today.
//!
//! # How its records are recognised
//!
//! EspoCRM 8 has no tags, so each record carries a mark where a person can see it and a filter
//! can find it: the `description` of accounts, contacts, leads, opportunities, tasks, meetings,
//! calls and cases starts with `espomcp-seed:` ([`DESCRIPTION_MARK`]); user names start with
//! `espomcp-seed-` ([`USER_PREFIX`]); email template names end with ` (espomcp-seed)`
//! ([`TEMPLATE_SUFFIX`]). A second run finds its records by these marks (and by name) and creates
//! only what is missing. `--reset` deletes exactly the marked records and users. It keeps the
//! role: a role cannot carry a mark, and the role may be the one an administrator set up by
//! hand for their own API user (deleting it would silently take that user's access away).
//!
//! Progress goes to stderr: a progress bar when stderr is a terminal, and always one summary
//! line per kind of record.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Duration;

use base64::Engine;
use chrono::{Days, NaiveDate, NaiveTime, Utc};
use espomcp_actors::{MAX_REASON_CHARS, Scrubber, Secret, bounded};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::{Method, StatusCode, Url};
use serde_json::{Map, Value, json};

/// The start of the `description` of every record seed creates.
pub const DESCRIPTION_MARK: &str = "espomcp-seed:";
/// The start of the user name of every user seed creates.
pub const USER_PREFIX: &str = "espomcp-seed-";
/// The end of the name of every email template seed creates.
pub const TEMPLATE_SUFFIX: &str = " (espomcp-seed)";
/// The API user whose key espomcp uses.
pub const API_USER: &str = "espomcp-seed-agent";
/// The role of the API user (and of the demo users), as the README recommends it: defined once,
/// in the sandbox, whose API user holds the same role.
pub use espocrm_sandbox::roles::{
    AGENT_ROLE_NAME as ROLE_NAME, AGENT_ROLE_PERMISSIONS as ROLE_PERMISSIONS,
    agent_role_scopes as role_scopes,
};
/// The most regular users seed creates.
pub const MAX_USERS: usize = USERS.len();

/// The record types seed fills, in the order they are created (reset goes backwards).
pub const RECORD_TYPES: [&str; 9] = [
    "Account",
    "Contact",
    "Lead",
    "Opportunity",
    "Task",
    "Meeting",
    "Call",
    "Case",
    "EmailTemplate",
];

/// A demo user: `espomcp-seed-{key}`.
struct DemoUser {
    key: &'static str,
    first: &'static str,
    last: &'static str,
    title: &'static str,
}

const USERS: [DemoUser; 5] = [
    DemoUser {
        key: "alice",
        first: "Alice",
        last: "Moreau",
        title: "Account Executive",
    },
    DemoUser {
        key: "bruno",
        first: "Bruno",
        last: "Keller",
        title: "Sales Manager",
    },
    DemoUser {
        key: "chiara",
        first: "Chiara",
        last: "Russo",
        title: "Customer Success Manager",
    },
    DemoUser {
        key: "deepak",
        first: "Deepak",
        last: "Nair",
        title: "Sales Development Rep",
    },
    DemoUser {
        key: "emma",
        first: "Emma",
        last: "Lindqvist",
        title: "Support Lead",
    },
];

/// (name, industry, type, website, city, country, phone)
type AccountRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

/// The demo accounts, by name.
pub const ACCOUNTS: [AccountRow; 8] = [
    (
        "Brightwater Analytics",
        "Software",
        "Customer",
        "brightwater-analytics.example.com",
        "Portland",
        "United States",
        "+1 503 555 0142",
    ),
    (
        "Kestrel Logistics",
        "Transportation",
        "Customer",
        "kestrel-logistics.example.com",
        "Rotterdam",
        "Netherlands",
        "+31 10 555 0199",
    ),
    (
        "Larchmont Health Partners",
        "Healthcare",
        "Customer",
        "larchmont-health.example.com",
        "Boston",
        "United States",
        "+1 617 555 0110",
    ),
    (
        "Novara Foods",
        "Food & Beverage",
        "Customer",
        "novara-foods.example.com",
        "Milan",
        "Italy",
        "+39 02 5550 1234",
    ),
    (
        "Quillfeather Publishing",
        "Publishing",
        "Partner",
        "quillfeather.example.com",
        "Edinburgh",
        "United Kingdom",
        "+44 131 555 0170",
    ),
    (
        "Solvang Energy",
        "Energy",
        "Investor",
        "solvang-energy.example.com",
        "Oslo",
        "Norway",
        "+47 22 55 50 18",
    ),
    (
        "Tidewater Marine Supply",
        "Wholesale",
        "Reseller",
        "tidewater-marine.example.com",
        "Halifax",
        "Canada",
        "+1 902 555 0133",
    ),
    (
        "Verdant Architecture Studio",
        "Architecture",
        "Customer",
        "verdant-studio.example.com",
        "Copenhagen",
        "Denmark",
        "+45 33 55 50 77",
    ),
];

/// (first name, last name, title, account index)
pub const CONTACTS: [(&str, &str, &str, usize); 12] = [
    ("Hannah", "Okoro", "Head of Data", 0),
    ("Marcus", "Feld", "CTO", 0),
    ("Ingrid", "de Vries", "Operations Director", 1),
    ("Tomasz", "Wrona", "Fleet Manager", 1),
    ("Rachel", "Abernathy", "Chief Medical Officer", 2),
    ("Luca", "Bianchi", "Procurement Manager", 3),
    ("Giulia", "Conti", "CFO", 3),
    ("Fiona", "MacLeod", "Managing Editor", 4),
    ("Sigrid", "Halvorsen", "Investment Director", 5),
    ("Owen", "Thibodeau", "Purchasing Lead", 6),
    ("Mette", "Kjaer", "Partner", 7),
    ("Anders", "Bloch", "Project Architect", 7),
];

/// (first name, last name, company, title, status, source)
pub const LEADS: [(&str, &str, &str, &str, &str, &str); 6] = [
    (
        "Priyanka",
        "Desai",
        "Orchid Biotech",
        "VP Research",
        "New",
        "Web Site",
    ),
    (
        "Jonas",
        "Eriksen",
        "Fjord Outdoor Gear",
        "Owner",
        "Assigned",
        "Call",
    ),
    (
        "Camille",
        "Laurent",
        "Atelier Laurent",
        "Creative Director",
        "In Process",
        "Email",
    ),
    (
        "Samuel",
        "Adeyemi",
        "Harmattan Solar",
        "COO",
        "New",
        "Partner",
    ),
    (
        "Yuki",
        "Tanaka",
        "Sakura Robotics",
        "Engineering Manager",
        "Recycled",
        "Campaign",
    ),
    (
        "Diego",
        "Ramirez",
        "Ramirez Construction",
        "Founder",
        "Dead",
        "Existing Customer",
    ),
];

/// (name, account index, stage, amount, close date in days from today)
pub const OPPORTUNITIES: [(&str, usize, &str, f64, i64); 10] = [
    (
        "Brightwater data platform renewal",
        0,
        "Negotiation",
        84_000.0,
        12,
    ),
    (
        "Brightwater analytics add-on",
        0,
        "Prospecting",
        18_500.0,
        75,
    ),
    (
        "Kestrel route optimisation pilot",
        1,
        "Proposal",
        42_000.0,
        30,
    ),
    (
        "Larchmont patient portal",
        2,
        "Qualification",
        120_000.0,
        60,
    ),
    ("Novara ERP integration", 3, "Closed Won", 56_000.0, -20),
    ("Novara supply dashboard", 3, "Proposal", 23_750.0, 25),
    (
        "Quillfeather digital archive",
        4,
        "Closed Lost",
        31_000.0,
        -45,
    ),
    ("Solvang grid monitoring", 5, "Negotiation", 97_500.0, 8),
    ("Tidewater inventory sync", 6, "Prospecting", 12_000.0, 90),
    (
        "Verdant project planning suite",
        7,
        "Qualification",
        38_900.0,
        45,
    ),
];

/// (name, status, priority, opportunity index it is about, due in days from today)
pub const TASKS: [(&str, &str, &str, usize, i64); 8] = [
    ("Send revised renewal quote", "Not Started", "High", 0, 2),
    ("Prepare pilot success criteria", "Started", "Normal", 2, 5),
    ("Schedule security review", "Not Started", "Urgent", 3, 1),
    ("Collect dashboard requirements", "Started", "Normal", 5, 7),
    ("Confirm grid sensor volumes", "Not Started", "High", 7, 3),
    ("Share reference customers", "Completed", "Low", 9, -2),
    ("Draft integration timeline", "Deferred", "Normal", 8, 21),
    (
        "Close out won deal paperwork",
        "Completed",
        "Normal",
        4,
        -10,
    ),
];

/// (name, account index, contact indexes, in days from today, hour UTC, minutes, status)
type MeetingRow = (
    &'static str,
    usize,
    &'static [usize],
    i64,
    u32,
    i64,
    &'static str,
);

pub const MEETINGS: [MeetingRow; 5] = [
    (
        "Renewal negotiation with Brightwater",
        0,
        &[0, 1],
        2,
        15,
        60,
        "Planned",
    ),
    ("Kestrel pilot kickoff", 1, &[2, 3], 4, 9, 90, "Planned"),
    (
        "Larchmont discovery workshop",
        2,
        &[4],
        6,
        13,
        120,
        "Planned",
    ),
    (
        "Novara quarterly business review",
        3,
        &[5, 6],
        -7,
        10,
        60,
        "Held",
    ),
    ("Verdant product demo", 7, &[10, 11], 1, 14, 45, "Planned"),
];

/// (name, account index, contact index, in days from today, hour UTC, direction, status)
pub const CALLS: [(&str, usize, usize, i64, u32, &str, &str); 5] = [
    (
        "Follow up on renewal pricing",
        0,
        1,
        1,
        16,
        "Outbound",
        "Planned",
    ),
    ("Fleet data questions", 1, 3, -1, 11, "Inbound", "Held"),
    (
        "Grid monitoring scope call",
        5,
        8,
        3,
        8,
        "Outbound",
        "Planned",
    ),
    ("Inventory sync intro", 6, 9, -3, 15, "Outbound", "Not Held"),
    ("Archive project debrief", 4, 7, -30, 12, "Outbound", "Held"),
];

/// (name, account index, contact index, status, priority, type)
pub const CASES: [(&str, usize, usize, &str, &str, &str); 4] = [
    (
        "Dashboard export times out",
        0,
        0,
        "Assigned",
        "High",
        "Incident",
    ),
    (
        "Question about invoice layout",
        3,
        6,
        "Pending",
        "Low",
        "Question",
    ),
    (
        "Sensor feed missing readings",
        5,
        8,
        "New",
        "Urgent",
        "Problem",
    ),
    (
        "Access for new project team",
        7,
        11,
        "Closed",
        "Normal",
        "Question",
    ),
];

/// (name without the suffix, subject, body)
pub const TEMPLATES: [(&str, &str, &str); 3] = [
    (
        "Meeting follow-up",
        "Thank you for your time today",
        "Hello {Person.firstName},\n\nThank you for meeting with us today. As promised, here is a short summary of what we discussed and the next steps.\n\nBest regards",
    ),
    (
        "Proposal sent",
        "Our proposal for {Account.name}",
        "Hello {Person.firstName},\n\nPlease find our proposal for {Account.name} attached. I am happy to walk you through it whenever suits you.\n\nBest regards",
    ),
    (
        "Checking in",
        "Checking in",
        "Hello {Person.firstName},\n\nI wanted to check in and see whether anything has changed on your side since we last spoke.\n\nBest regards",
    ),
];

/// What `espomcp seed` is told.
#[derive(Clone)]
pub struct SeedOptions {
    /// EspoCRM's address, with or without `/api/v1`.
    pub url: String,
    pub admin_user: String,
    pub admin_password: String,
    /// Regular demo users to create (1 to [`MAX_USERS`]).
    pub users: usize,
    /// Delete the marked records and users instead of creating them.
    pub reset: bool,
    pub tls_verify: bool,
    pub timeout: Duration,
}

/// Never shows the password.
impl std::fmt::Debug for SeedOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeedOptions")
            .field("url", &self.url)
            .field("admin_user", &self.admin_user)
            .field("users", &self.users)
            .field("reset", &self.reset)
            .finish_non_exhaustive()
    }
}

/// Why seeding stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeedError {
    #[error("ESPOCRM_URL {url:?} is not usable: {message}")]
    Url { url: String, message: String },
    #[error("could not reach EspoCRM at {url}: {message}")]
    Connection { url: String, message: String },
    #[error(
        "EspoCRM rejected the administrator's user name or password (401): check \
         ESPOCRM_ADMIN_USER and ESPOCRM_ADMIN_PASSWORD"
    )]
    AuthFailed,
    #[error(
        "EspoCRM refused {what} (403{reason}): ESPOCRM_ADMIN_USER must be an administrator \
         (type admin), since seed creates users and roles"
    )]
    NotAdmin { what: String, reason: String },
    #[error("EspoCRM answered {status} to {what}{reason}")]
    Upstream {
        what: String,
        status: u16,
        reason: String,
    },
    #[error("EspoCRM's answer to {what} could not be understood: {message}")]
    InvalidResponse { what: String, message: String },
}

/// What a run did, per kind of record (users and the role included).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SeedReport {
    /// Created (seed) or deleted (reset), per entity type.
    pub changed: BTreeMap<String, usize>,
    /// Found already there (seed) — nothing is found by reset.
    pub found: BTreeMap<String, usize>,
    /// The new API user's key, when this run created it.
    pub api_key: Option<String>,
    /// The API user was there already (its key was printed by the run that created it).
    pub api_user_found: bool,
}

/// The administrator's view of EspoCRM: plain requests with the user's credentials.
struct Admin {
    http: reqwest::Client,
    base: Url,
    authorization: String,
    /// Takes the administrator's password (as written, encoded, or inside the Basic pair) out
    /// of what EspoCRM or a proxy says back, before it reaches an error message.
    scrubber: Scrubber,
}

impl Admin {
    fn new(options: &SeedOptions) -> Result<Admin, SeedError> {
        let base =
            espomcp_actors::normalize_base_url(&options.url).map_err(|e| SeedError::Url {
                url: options.url.clone(),
                message: e.to_string(),
            })?;
        let http = reqwest::Client::builder()
            .timeout(options.timeout)
            .danger_accept_invalid_certs(!options.tls_verify)
            .user_agent(concat!("espomcp-seed/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SeedError::Connection {
                url: options.url.clone(),
                message: e.to_string(),
            })?;
        let pair = format!("{}:{}", options.admin_user, options.admin_password);
        Ok(Admin {
            http,
            base,
            authorization: base64::engine::general_purpose::STANDARD.encode(pair),
            scrubber: Scrubber::for_secrets(&[Secret::new(options.admin_password.clone())]),
        })
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    async fn send(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Value, SeedError> {
        let what = format!("{method} {}", segments.join("/"));
        let mut url = self.url(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut request = self
            .http
            .request(method.clone(), url)
            .header("Espo-Authorization", &self.authorization);
        if let Some(body) = body {
            // Seed finds its own records by their marks; EspoCRM's name check would refuse a
            // demo account that happens to share a name with a real one.
            request = request.header("X-Skip-Duplicate-Check", "true").json(body);
        }
        let response = request.send().await.map_err(|e| SeedError::Connection {
            url: self.base.to_string(),
            message: self.scrubber.scrub(&without_url(e)).into_owned(),
        })?;
        let status = response.status();
        let reason = response
            .headers()
            .get("X-Status-Reason")
            .and_then(|v| v.to_str().ok())
            .map(|r| format!(": {}", bounded(&self.scrubber.scrub(r), MAX_REASON_CHARS)))
            .unwrap_or_default();
        match status {
            s if s.is_success() => {}
            StatusCode::UNAUTHORIZED => return Err(SeedError::AuthFailed),
            StatusCode::FORBIDDEN => return Err(SeedError::NotAdmin { what, reason }),
            _ => {
                return Err(SeedError::Upstream {
                    what,
                    status: status.as_u16(),
                    reason,
                });
            }
        }
        let bytes = response.bytes().await.map_err(|e| SeedError::Connection {
            url: self.base.to_string(),
            message: without_url(e),
        })?;
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| SeedError::InvalidResponse {
            what,
            message: e.to_string(),
        })
    }

    async fn post(&self, entity_type: &str, body: &Value) -> Result<Map<String, Value>, SeedError> {
        let answer = self
            .send(Method::POST, &[entity_type], &[], Some(body))
            .await?;
        match answer {
            Value::Object(record) if record.get("id").and_then(Value::as_str).is_some() => {
                Ok(record)
            }
            _ => Err(SeedError::InvalidResponse {
                what: format!("POST {entity_type}"),
                message: "no id in the answer".into(),
            }),
        }
    }

    async fn delete(&self, entity_type: &str, id: &str) -> Result<(), SeedError> {
        match self
            .send(Method::DELETE, &[entity_type, id], &[], None)
            .await
        {
            // Already gone (deleted by hand in between): that is what reset wants.
            Err(SeedError::Upstream { status: 404, .. }) | Ok(_) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every record matching one `where` condition, all pages.
    async fn find_all(
        &self,
        entity_type: &str,
        condition: (&str, &str, &str),
        select: &str,
        extra: &[(&str, &str)],
    ) -> Result<Vec<Map<String, Value>>, SeedError> {
        let (operator, attribute, value) = condition;
        let mut found = Vec::new();
        loop {
            let mut query: Vec<(String, String)> = vec![
                ("where[0][type]".into(), operator.into()),
                ("where[0][attribute]".into(), attribute.into()),
                ("where[0][value]".into(), value.into()),
                ("select".into(), select.into()),
                ("maxSize".into(), "200".into()),
                ("offset".into(), found.len().to_string()),
                ("orderBy".into(), "createdAt".into()),
            ];
            query.extend(
                extra
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            );
            let page = self.send(Method::GET, &[entity_type], &query, None).await?;
            let list: Vec<Map<String, Value>> = page
                .get("list")
                .and_then(Value::as_array)
                .map(|l| l.iter().filter_map(|r| r.as_object().cloned()).collect())
                .unwrap_or_default();
            let total = page.get("total").and_then(Value::as_u64).unwrap_or(0) as usize;
            let done = list.is_empty();
            found.extend(list);
            if done || found.len() >= total {
                return Ok(found);
            }
        }
    }
}

/// reqwest's error with its causes, without the URL (said once already).
fn without_url(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    message
}

/// Progress on stderr: a bar on a terminal, and summary lines always.
struct Progress {
    bar: ProgressBar,
}

impl Progress {
    fn new(total: usize, verb: &str) -> Progress {
        let target = if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(total as u64), target);
        if let Ok(style) =
            ProgressStyle::with_template(&format!("{verb} {{bar:30}} {{pos}}/{{len}} {{msg}}"))
        {
            bar.set_style(style);
        }
        Progress { bar }
    }

    fn step(&self, what: &str) {
        self.bar.set_message(what.to_owned());
        self.bar.inc(1);
    }

    /// A line on stderr that the bar does not overwrite.
    fn say(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Runs seed (or `--reset`); the API key, when one is created, is in the report for the caller
/// to print on stdout.
pub async fn run(options: &SeedOptions) -> Result<SeedReport, SeedError> {
    let admin = Admin::new(options)?;
    if options.reset {
        reset(&admin).await
    } else {
        seed(&admin, options.users.clamp(1, MAX_USERS)).await
    }
}

/// The records of one type that carry seed's mark, by their identity (name, or user name).
async fn marked(admin: &Admin, entity_type: &str) -> Result<BTreeMap<String, String>, SeedError> {
    let records = match entity_type {
        "EmailTemplate" => {
            admin
                .find_all(
                    entity_type,
                    ("endsWith", "name", TEMPLATE_SUFFIX),
                    "id,name",
                    &[],
                )
                .await?
        }
        "User" => {
            // EspoCRM lists API users only under their own filter.
            let condition = ("startsWith", "userName", USER_PREFIX);
            let mut users = admin
                .find_all("User", condition, "id,userName", &[])
                .await?;
            let api = admin
                .find_all(
                    "User",
                    condition,
                    "id,userName",
                    &[("primaryFilter", "api")],
                )
                .await?;
            users.extend(api);
            users
        }
        _ => {
            admin
                .find_all(
                    entity_type,
                    ("startsWith", "description", DESCRIPTION_MARK),
                    "id,name,firstName,lastName",
                    &[],
                )
                .await?
        }
    };
    let mut by_identity = BTreeMap::new();
    for record in records {
        let text = |k: &str| record.get(k).and_then(Value::as_str).unwrap_or_default();
        let identity = match entity_type {
            "User" => text("userName").to_owned(),
            "Contact" | "Lead" => person(text("firstName"), text("lastName")),
            _ => text("name").to_owned(),
        };
        // A filter is a LIKE: keep only what really carries the mark.
        let really = match entity_type {
            "User" => identity.starts_with(USER_PREFIX),
            "EmailTemplate" => identity.ends_with(TEMPLATE_SUFFIX),
            _ => true,
        };
        if really && let Some(id) = record.get("id").and_then(Value::as_str) {
            by_identity.insert(identity, id.to_owned());
        }
    }
    Ok(by_identity)
}

fn person(first: &str, last: &str) -> String {
    format!("{first} {last}").trim().to_owned()
}

fn describe(text: &str) -> String {
    format!(
        "{DESCRIPTION_MARK} {text} (demo data of `espomcp seed`; `espomcp seed --reset` deletes it)"
    )
}

fn email_of(first: &str, last: &str, domain: &str) -> String {
    let clean = |s: &str| {
        s.to_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
    };
    format!("{}.{}@{domain}", clean(first), clean(last))
}

fn date_in(today: NaiveDate, days: i64) -> NaiveDate {
    if days >= 0 {
        today.checked_add_days(Days::new(days.unsigned_abs()))
    } else {
        today.checked_sub_days(Days::new(days.unsigned_abs()))
    }
    .unwrap_or(today)
}

fn datetime_in(today: NaiveDate, days: i64, hour: u32, plus_minutes: i64) -> String {
    let start = date_in(today, days)
        .and_time(NaiveTime::from_hms_opt(hour.min(23), 0, 0).unwrap_or_default());
    (start + chrono::Duration::minutes(plus_minutes))
        .format(crate::rules::date_time::FORMAT)
        .to_string()
}

/// One record to make sure of: its type, its identity and the body to create it with.
struct Planned {
    entity_type: &'static str,
    identity: String,
    body: Value,
}

/// Creates what is missing; counts what was there.
struct Seeder<'a> {
    admin: &'a Admin,
    progress: Progress,
    report: SeedReport,
}

impl Seeder<'_> {
    /// Makes sure each planned record exists; returns their ids in order.
    async fn ensure(&mut self, planned: Vec<Planned>) -> Result<Vec<String>, SeedError> {
        let Some(entity_type) = planned.first().map(|p| p.entity_type) else {
            return Ok(Vec::new());
        };
        let existing = marked(self.admin, entity_type).await?;
        let mut ids = Vec::with_capacity(planned.len());
        let (mut created, mut found) = (0, 0);
        for plan in planned {
            self.progress
                .step(&format!("{entity_type} {}", plan.identity));
            if let Some(id) = existing.get(&plan.identity) {
                ids.push(id.clone());
                found += 1;
                if entity_type == "User" && plan.identity == API_USER {
                    self.report.api_user_found = true;
                }
                continue;
            }
            let record = self.admin.post(entity_type, &plan.body).await?;
            ids.push(text(&record, "id"));
            created += 1;
            if entity_type == "User"
                && plan.identity == API_USER
                && let Some(key) = record.get("apiKey").and_then(Value::as_str)
            {
                self.report.api_key = Some(key.to_owned());
            }
        }
        self.count(entity_type, created, found);
        Ok(ids)
    }

    fn count(&mut self, entity_type: &str, created: usize, found: usize) {
        *self.report.changed.entry(entity_type.into()).or_default() += created;
        *self.report.found.entry(entity_type.into()).or_default() += found;
    }
}

fn text(record: &Map<String, Value>, key: &str) -> String {
    record
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

async fn seed(admin: &Admin, user_count: usize) -> Result<SeedReport, SeedError> {
    let settings = admin.send(Method::GET, &["Settings"], &[], None).await?;
    let currency = settings
        .get("defaultCurrency")
        .and_then(Value::as_str)
        .unwrap_or("USD")
        .to_owned();
    let today = Utc::now().date_naive();
    let total = 2
        + user_count
        + ACCOUNTS.len()
        + CONTACTS.len()
        + LEADS.len()
        + OPPORTUNITIES.len()
        + TASKS.len()
        + MEETINGS.len()
        + CALLS.len()
        + CASES.len()
        + TEMPLATES.len();
    let mut seeder = Seeder {
        admin,
        progress: Progress::new(total, "seeding"),
        report: SeedReport::default(),
    };

    let role_id = ensure_role(&mut seeder).await?;

    let users: Vec<Planned> = USERS
        .iter()
        .take(user_count)
        .map(|u| Planned {
            entity_type: "User",
            identity: format!("{USER_PREFIX}{}", u.key),
            body: json!({
                "userName": format!("{USER_PREFIX}{}", u.key),
                "type": "regular",
                "isActive": true,
                "firstName": u.first,
                "lastName": u.last,
                "title": u.title,
                "emailAddress": email_of(u.first, u.last, "example.com"),
                "rolesIds": [role_id],
            }),
        })
        .chain(std::iter::once(Planned {
            entity_type: "User",
            identity: API_USER.to_owned(),
            body: json!({
                "userName": API_USER,
                "type": "api",
                "authMethod": "ApiKey",
                "isActive": true,
                // EspoCRM lets a user draft only from its own addresses (or shared ones).
                "emailAddress": format!("{API_USER}@example.com"),
                "rolesIds": [role_id],
            }),
        }))
        .collect();
    let mut user_ids = seeder.ensure(users).await?;
    user_ids.pop(); // the API user owns no demo data
    let owner = |i: usize| user_ids[i % user_ids.len()].clone();

    let accounts = ACCOUNTS
        .iter()
        .enumerate()
        .map(
            |(i, (name, industry, kind, website, city, country, phone))| Planned {
                entity_type: "Account",
                identity: (*name).to_owned(),
                body: json!({
                    "name": name,
                    "industry": industry,
                    "type": kind,
                    "website": website,
                    "phoneNumber": phone,
                    "emailAddress": format!("info@{website}"),
                    "billingAddressCity": city,
                    "billingAddressCountry": country,
                    "description": describe(&format!("{kind} in {industry}, based in {city}.")),
                    "assignedUserId": owner(i),
                }),
            },
        )
        .collect();
    let account_ids = seeder.ensure(accounts).await?;

    let contacts = CONTACTS
        .iter()
        .enumerate()
        .map(|(i, (first, last, title, account))| {
            let (_, _, _, website, ..) = ACCOUNTS[*account];
            Planned {
                entity_type: "Contact",
                identity: person(first, last),
                body: json!({
                    "firstName": first,
                    "lastName": last,
                    "title": title,
                    "accountId": account_ids[*account],
                    "emailAddress": email_of(first, last, website),
                    "description": describe(&format!("{title} at {}.", ACCOUNTS[*account].0)),
                    "assignedUserId": owner(i),
                }),
            }
        })
        .collect();
    let contact_ids = seeder.ensure(contacts).await?;

    let leads = LEADS
        .iter()
        .enumerate()
        .map(
            |(i, (first, last, company, title, status, source))| Planned {
                entity_type: "Lead",
                identity: person(first, last),
                body: json!({
                    "firstName": first,
                    "lastName": last,
                    "accountName": company,
                    "title": title,
                    "status": status,
                    "source": source,
                    "emailAddress": email_of(first, last, "example.org"),
                    "description": describe(&format!("{title} at {company}, came in by {source}.")),
                    "assignedUserId": owner(i),
                }),
            },
        )
        .collect();
    seeder.ensure(leads).await?;

    let opportunities = OPPORTUNITIES
        .iter()
        .enumerate()
        .map(|(i, (name, account, stage, amount, close_in))| Planned {
            entity_type: "Opportunity",
            identity: (*name).to_owned(),
            body: json!({
                "name": name,
                "accountId": account_ids[*account],
                "stage": stage,
                "amount": amount,
                "amountCurrency": currency,
                "closeDate": date_in(today, *close_in).to_string(),
                "leadSource": "Existing Customer",
                "description": describe(&format!("{stage} deal with {}.", ACCOUNTS[*account].0)),
                "assignedUserId": owner(i),
            }),
        })
        .collect();
    let opportunity_ids = seeder.ensure(opportunities).await?;

    let tasks = TASKS
        .iter()
        .enumerate()
        .map(
            |(i, (name, status, priority, opportunity, due_in))| Planned {
                entity_type: "Task",
                identity: (*name).to_owned(),
                body: json!({
                    "name": name,
                    "status": status,
                    "priority": priority,
                    "dateEnd": datetime_in(today, *due_in, 17, 0),
                    "parentType": "Opportunity",
                    "parentId": opportunity_ids[*opportunity],
                    "description": describe(&format!("For {}.", OPPORTUNITIES[*opportunity].0)),
                    "assignedUserId": owner(i),
                }),
            },
        )
        .collect();
    seeder.ensure(tasks).await?;

    let meetings = MEETINGS
        .iter()
        .enumerate()
        .map(|(i, (name, account, contacts, in_days, hour, minutes, status))| Planned {
            entity_type: "Meeting",
            identity: (*name).to_owned(),
            body: json!({
                "name": name,
                "status": status,
                "dateStart": datetime_in(today, *in_days, *hour, 0),
                "dateEnd": datetime_in(today, *in_days, *hour, *minutes),
                "parentType": "Account",
                "parentId": account_ids[*account],
                "contactsIds": contacts.iter().map(|c| contact_ids[*c].clone()).collect::<Vec<_>>(),
                "description": describe(&format!("With {}.", ACCOUNTS[*account].0)),
                "assignedUserId": owner(i),
            }),
        })
        .collect();
    seeder.ensure(meetings).await?;

    let calls = CALLS
        .iter()
        .enumerate()
        .map(|(i, (name, account, contact, in_days, hour, direction, status))| Planned {
            entity_type: "Call",
            identity: (*name).to_owned(),
            body: json!({
                "name": name,
                "status": status,
                "direction": direction,
                "dateStart": datetime_in(today, *in_days, *hour, 0),
                "dateEnd": datetime_in(today, *in_days, *hour, 15),
                "parentType": "Account",
                "parentId": account_ids[*account],
                "contactsIds": [contact_ids[*contact]],
                "description": describe(&format!("{direction} call with {} {}.", CONTACTS[*contact].0, CONTACTS[*contact].1)),
                "assignedUserId": owner(i + 1),
            }),
        })
        .collect();
    seeder.ensure(calls).await?;

    let cases = CASES
        .iter()
        .enumerate()
        .map(|(i, (name, account, contact, status, priority, kind))| Planned {
            entity_type: "Case",
            identity: (*name).to_owned(),
            body: json!({
                "name": name,
                "status": status,
                "priority": priority,
                "type": kind,
                "accountId": account_ids[*account],
                "contactId": contact_ids[*contact],
                "description": describe(&format!("Reported by {} {}.", CONTACTS[*contact].0, CONTACTS[*contact].1)),
                "assignedUserId": owner(i + 2),
            }),
        })
        .collect();
    seeder.ensure(cases).await?;

    let templates = TEMPLATES
        .iter()
        .map(|(name, subject, body)| Planned {
            entity_type: "EmailTemplate",
            identity: format!("{name}{TEMPLATE_SUFFIX}"),
            body: json!({
                "name": format!("{name}{TEMPLATE_SUFFIX}"),
                "subject": subject,
                "body": body,
                "isHtml": false,
            }),
        })
        .collect();
    seeder.ensure(templates).await?;

    seeder.progress.finish();
    for entity_type in ["Role", "User"].iter().chain(RECORD_TYPES.iter()) {
        let created = seeder
            .report
            .changed
            .get(*entity_type)
            .copied()
            .unwrap_or(0);
        let found = seeder.report.found.get(*entity_type).copied().unwrap_or(0);
        seeder.progress.say(&format!(
            "{entity_type:<14} {created} created, {found} already there"
        ));
    }
    Ok(seeder.report)
}

/// Finds the "MCP Agent" role or creates it; a found role that differs from the recommended
/// permissions is used as it is, with a warning naming the differences.
async fn ensure_role(seeder: &mut Seeder<'_>) -> Result<String, SeedError> {
    seeder.progress.step(&format!("Role {ROLE_NAME}"));
    let roles = seeder
        .admin
        .find_all("Role", ("equals", "name", ROLE_NAME), "id,name,data", &[])
        .await?;
    // Filtered again here: the condition is also what a LIKE-free equals would give.
    if let Some(role) = roles.iter().find(|r| text(r, "name") == ROLE_NAME) {
        // The whole record: a list need not carry the permissions.
        let id = text(role, "id");
        let full = seeder
            .admin
            .send(Method::GET, &["Role", &id], &[], None)
            .await?;
        let data = full
            .get("data")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let differences: Vec<String> = role_scopes()
            .iter()
            .filter(|(scope, levels)| data.get(*scope) != Some(levels))
            .map(|(scope, levels)| format!("{scope} (recommended {levels})"))
            .collect();
        if !differences.is_empty() {
            seeder.progress.say(&format!(
                "warning: the existing role \"{ROLE_NAME}\" is used as it is, but differs from \
                 the recommended permissions for: {}",
                differences.join("; ")
            ));
        }
        seeder.count("Role", 0, 1);
        return Ok(text(role, "id"));
    }
    let mut body = Map::new();
    body.insert("name".into(), json!(ROLE_NAME));
    body.insert("data".into(), Value::Object(role_scopes()));
    for (permission, level) in ROLE_PERMISSIONS {
        body.insert(permission.into(), json!(level));
    }
    let role = seeder.admin.post("Role", &Value::Object(body)).await?;
    seeder.count("Role", 1, 0);
    Ok(text(&role, "id"))
}

async fn reset(admin: &Admin) -> Result<SeedReport, SeedError> {
    let mut marked_records = Vec::new();
    for entity_type in RECORD_TYPES.iter().rev().chain(std::iter::once(&"User")) {
        let found = marked(admin, entity_type).await?;
        marked_records.extend(
            found
                .into_iter()
                .map(|(identity, id)| (*entity_type, identity, id)),
        );
    }
    let progress = Progress::new(marked_records.len(), "resetting");
    let mut report = SeedReport::default();
    for (entity_type, identity, id) in &marked_records {
        progress.step(&format!("{entity_type} {identity}"));
        admin.delete(entity_type, id).await?;
        *report.changed.entry((*entity_type).to_owned()).or_default() += 1;
    }
    progress.finish();
    for entity_type in RECORD_TYPES.iter().rev().chain(std::iter::once(&"User")) {
        if let Some(deleted) = report.changed.get(*entity_type) {
            progress.say(&format!("{entity_type:<14} {deleted} deleted"));
        }
    }
    if report.changed.is_empty() {
        progress.say("nothing to delete: no record carries seed's mark");
    }
    progress.say(&format!(
        "the role \"{ROLE_NAME}\" is kept (a role carries no mark, and other users may hold it): \
         delete it in Administration > Roles if nothing uses it"
    ));
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_reference_only_existing_rows() {
        for (_, account, ..) in OPPORTUNITIES {
            assert!(account < ACCOUNTS.len());
        }
        for (.., account) in CONTACTS {
            assert!(account < ACCOUNTS.len());
        }
        for (_, _, _, opportunity, _) in TASKS {
            assert!(opportunity < OPPORTUNITIES.len());
        }
        for (_, account, contacts, ..) in MEETINGS {
            assert!(account < ACCOUNTS.len());
            assert!(contacts.iter().all(|c| *c < CONTACTS.len()));
        }
        for (_, account, contact, ..) in CALLS {
            assert!(account < ACCOUNTS.len() && contact < CONTACTS.len());
        }
        for (_, account, contact, ..) in CASES {
            assert!(account < ACCOUNTS.len() && contact < CONTACTS.len());
        }
    }

    #[test]
    fn should_cover_every_stage() {
        for stage in [
            "Prospecting",
            "Qualification",
            "Proposal",
            "Negotiation",
            "Closed Won",
            "Closed Lost",
        ] {
            assert!(OPPORTUNITIES.iter().any(|o| o.2 == stage), "{stage}");
        }
    }

    #[test]
    fn should_mark_descriptions_and_build_plain_addresses() {
        assert!(describe("x").starts_with(DESCRIPTION_MARK));
        assert_eq!(
            email_of("Ingrid", "de Vries", "example.com"),
            "ingrid.devries@example.com"
        );
    }

    #[test]
    fn should_grant_only_own_emails_and_no_sending_types() {
        let scopes = role_scopes();
        // The user's own e-mails (those it is a user of), never anyone else's, never deleted.
        assert_eq!(scopes["Email"]["read"], "own");
        assert_eq!(scopes["Email"]["edit"], "own");
        assert_eq!(scopes["Email"]["delete"], "no");
        for scope in [
            "MassEmail",
            "Campaign",
            "EmailAccount",
            "InboundEmail",
            "OutboundEmail",
        ] {
            assert!(!scopes.contains_key(scope), "{scope}");
        }
    }
}
