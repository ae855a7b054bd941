//! Deterministic demo data for the sandbox.
//!
//! The sandbox starts out holding the same kind of CRM content the real EspoCRM 8.4.2 lab
//! instance was seeded with when the reference exchanges were recorded: an admin, the two API
//! users the MCP server authenticates as, four sales/support users, 200 accounts with their
//! contacts, leads, opportunities in every stage, tasks, meetings, calls, cases, three e-mail
//! templates and a few stream posts. Everything is derived from a `seed` and a reference time
//! `now` through the sandbox's generator ([`crate::random`]), so the same inputs always give
//! byte-identical records (tests and demos can rely on them), while another seed gives
//! different but equally realistic data. Dates of records and activities are placed around
//! `now`, so "overdue", "upcoming" and "past" filters always find something. All names are
//! invented and every e-mail address and website uses an `.example.com`, `.example.net` or
//! `.example.org` domain.

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeDelta};
use serde_json::{Map, Value, json};

use crate::random::Rng;

/// One record to insert, with its attributes as the REST API would accept them in a create body
/// (plus `id`, `createdAt`, `createdById`, which the loader keeps for seed records).
#[derive(Debug, Clone, PartialEq)]
pub struct SeedRecord {
    /// Entity type, e.g. `"Account"`.
    pub entity_type: &'static str,
    /// Create-body attributes (`accountId`, `contactsIds`, `parentType`/`parentId`, …).
    pub attributes: Map<String, Value>,
}

/// Ids of the users the sandbox's authentication needs to know about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedUsers {
    /// The `admin` user (type `admin`, password login).
    pub admin_id: String,
    /// The full-access API user `mcp-agent`.
    pub agent_id: String,
    /// The read-only API user `mcp-readonly`.
    pub limited_id: String,
    /// The regular user who logs in with a password and holds no role ([`PERSON_USER_NAME`]),
    /// as a person using EspoCRM would; the token-login exchanges log in as them.
    pub person_id: String,
}

/// The user name of [`SeedUsers::person_id`] (the recording lab's regular user, too).
pub const PERSON_USER_NAME: &str = "james.wong";

/// The password of [`SeedUsers::person_id`], derived from the seed (a test credential, printed
/// by the sandbox, no secret): 24 hexadecimal characters.
pub fn person_password(seed: u64) -> String {
    // Its own sequence, so the demo data of a seed stays what it was.
    let mut random = Rng::new(seed ^ 0x7e45_0a11_0000_0017);
    format!("{:016x}{:08x}", random.next_u64(), random.next_u64() >> 32)
}

/// Accounts are generated as brand × sector; each brand gets this many sectors.
const ACCOUNTS_PER_BRAND: usize = 5;
const CONTACT_COUNT: usize = 500;
const LEAD_COUNT: usize = 100;
const OPPORTUNITY_COUNT: usize = 150;
const TASK_COUNT: usize = 150;
const MEETING_COUNT: usize = 60;
const CALL_COUNT: usize = 60;
const CASE_COUNT: usize = 40;
/// Only the alphabetically first account is guaranteed this many contacts, so that the account
/// a client most likely opens first has a populated "contacts" panel.
const FIRST_ACCOUNT_CONTACTS: usize = 3;

/// Everything the demo instance holds, in insertion order (referenced records first).
///
/// Users come first, then accounts, contacts, leads, opportunities, cases, tasks, meetings,
/// calls, e-mail templates and notes; every id attribute refers to a record earlier in the
/// list. The admin user carries no `createdById` (in EspoCRM it is created by the `system`
/// user, which the sandbox does not hold). Opportunity `probability` and case `number` are
/// left to the loader, which derives them as EspoCRM does.
pub fn demo_records(seed: u64, now: NaiveDateTime) -> (SeedUsers, Vec<SeedRecord>) {
    let mut b = Builder {
        rng: Rng::new(seed),
        ids: IdGen::new(seed),
        now,
        records: Vec::new(),
    };
    let users = b.users();
    let accounts = b.accounts(&users);
    let people = b.people_pool();
    let (contacts, by_account) = b.contacts(&users, &accounts, &people);
    b.leads(&users, &people);
    let opportunities = b.opportunities(&users, &accounts, &by_account, &contacts);
    b.cases(&users, &accounts, &by_account, &contacts);
    b.tasks(&users, &accounts, &contacts, &opportunities);
    b.meetings_and_calls(&users, &accounts, &by_account, &contacts);
    b.email_templates(&users);
    b.notes(&accounts, &opportunities, &users);
    b.feature_flagship();
    let seed_users = SeedUsers {
        admin_id: users.admin.clone(),
        agent_id: users.agent.clone(),
        limited_id: users.limited.clone(),
        person_id: users.person.clone(),
    };
    (seed_users, b.records)
}

// ---------------------------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------------------------

/// Brand part of account names; every brand gets [`ACCOUNTS_PER_BRAND`] accounts, so queries
/// like "starts with Apex" or "contains Redwood" always match several accounts.
const BRANDS: [&str; 40] = [
    "Apex",
    "Atlas",
    "Beacon",
    "Blue Harbor",
    "Bright Path",
    "Cobalt",
    "Crescent",
    "Delta Ridge",
    "Emerald",
    "Evergreen",
    "Falcon",
    "Golden Gate",
    "Granite",
    "Harbor Point",
    "Horizon",
    "Ironclad",
    "Juniper",
    "Kestrel",
    "Keystone",
    "Lakeside",
    "Lumen",
    "Maple Leaf",
    "Meridian",
    "Nimbus",
    "Northwind",
    "Nova",
    "Oakmont",
    "Orion",
    "Pinnacle",
    "Pioneer",
    "Quantum",
    "Redwood",
    "Riverstone",
    "Silver Oak",
    "Sterling",
    "Summit",
    "Trident",
    "Unity",
    "Vanguard",
    "Westfield",
];

/// Sector word used in company names, with the `Account.industry` option it stands for.
const SECTORS: [(&str, &str); 20] = [
    ("Health", "Healthcare"),
    ("Media", "Mass Media"),
    ("Retail", "Retail"),
    ("Telecom", "Telecommunications"),
    ("Capital", "Finance"),
    ("Labs", "Biotechnology"),
    ("Logistics", "Transportation"),
    ("Motors", "Automotive"),
    ("Analytics", "Technology"),
    ("Systems", "Computer"),
    ("Construction", "Construction"),
    ("Biotech", "Biotechnology"),
    ("Foods", "Food & Beverage"),
    ("Robotics", "Electronics"),
    ("Aerospace", "Aerospace"),
    ("Energy", "Energy"),
    ("Software", "Software"),
    ("Consulting", "Consulting"),
    ("Insurance", "Insurance"),
    ("Manufacturing", "Manufacturing"),
];

/// The demo's flagship customer, "Apex Health Co.", is the first account by name (as on the
/// EspoCRM instance the sandbox's behaviour was recorded from): the first brand, and its other
/// accounts use sector words that sort after "Health".
const FLAGSHIP_BRAND: &str = "Apex";
/// The flagship's id. It equals the id the recorded EspoCRM instance had for the account whose
/// activities were recorded: the recordings' replay tool maps most recorded ids onto the
/// target's records, but not that one, so the demo keeps it.
pub const FLAGSHIP_ID: &str = "6b05838be1c766a70";

/// Replaces one id wherever it appears in an attribute value (ids, id lists).
fn replace_id(value: &mut Value, from: &str, to: &str) {
    match value {
        Value::String(s) if s == from => *s = to.to_owned(),
        Value::Array(items) => items.iter_mut().for_each(|v| replace_id(v, from, to)),
        _ => {}
    }
}

/// Indices into [`SECTORS`]: Health first, then Media, Retail, Systems, Software.
const FLAGSHIP_SECTORS: [usize; 5] = [0, 1, 2, 9, 16];

const COMPANY_SUFFIXES: [&str; 7] = ["Inc.", "LLC", "Ltd.", "Co.", "Corp.", "Group", "Partners"];

/// A US city with the values that go into addresses and phone numbers.
struct City {
    name: &'static str,
    state: &'static str,
    postal_code: &'static str,
    area_code: &'static str,
}

const CITIES: [City; 12] = [
    City {
        name: "New York",
        state: "NY",
        postal_code: "10001",
        area_code: "212",
    },
    City {
        name: "San Francisco",
        state: "CA",
        postal_code: "94105",
        area_code: "415",
    },
    City {
        name: "Chicago",
        state: "IL",
        postal_code: "60601",
        area_code: "312",
    },
    City {
        name: "Austin",
        state: "TX",
        postal_code: "78701",
        area_code: "512",
    },
    City {
        name: "Seattle",
        state: "WA",
        postal_code: "98101",
        area_code: "206",
    },
    City {
        name: "Boston",
        state: "MA",
        postal_code: "02108",
        area_code: "617",
    },
    City {
        name: "Denver",
        state: "CO",
        postal_code: "80202",
        area_code: "303",
    },
    City {
        name: "Atlanta",
        state: "GA",
        postal_code: "30303",
        area_code: "404",
    },
    City {
        name: "Miami",
        state: "FL",
        postal_code: "33130",
        area_code: "305",
    },
    City {
        name: "Newark",
        state: "NJ",
        postal_code: "07102",
        area_code: "201",
    },
    City {
        name: "Portland",
        state: "OR",
        postal_code: "97204",
        area_code: "503",
    },
    City {
        name: "Minneapolis",
        state: "MN",
        postal_code: "55401",
        area_code: "612",
    },
];

const STREETS: [&str; 14] = [
    "Main St",
    "Market St",
    "Oak Ave",
    "Pine St",
    "Elm St",
    "Park Blvd",
    "Broadway",
    "2nd Ave",
    "Cedar Rd",
    "Harbor Way",
    "Lake Shore Dr",
    "Sunset Blvd",
    "Maple Ave",
    "Commerce Dr",
];

/// `Account.type` options with their weights ("" = not classified yet).
const ACCOUNT_TYPES: [(&str, u64); 5] = [
    ("Customer", 45),
    ("Partner", 12),
    ("Reseller", 13),
    ("Investor", 12),
    ("", 18),
];

/// First names with whether the salutation is male (`true`) or female.
const FIRST_NAMES: [(&str, bool); 60] = [
    ("John", true),
    ("Matthew", true),
    ("James", true),
    ("Robert", true),
    ("Michael", true),
    ("William", true),
    ("David", true),
    ("Richard", true),
    ("Joseph", true),
    ("Thomas", true),
    ("Charles", true),
    ("Daniel", true),
    ("Anthony", true),
    ("Mark", true),
    ("Steven", true),
    ("Andrew", true),
    ("Kevin", true),
    ("Brian", true),
    ("Edward", true),
    ("Ronald", true),
    ("Jason", true),
    ("Lukas", true),
    ("Carlos", true),
    ("Hiroshi", true),
    ("Omar", true),
    ("Ravi", true),
    ("Samuel", true),
    ("Victor", true),
    ("Peter", true),
    ("George", true),
    ("Mary", false),
    ("Patricia", false),
    ("Jennifer", false),
    ("Linda", false),
    ("Elizabeth", false),
    ("Barbara", false),
    ("Susan", false),
    ("Jessica", false),
    ("Sarah", false),
    ("Karen", false),
    ("Nancy", false),
    ("Lisa", false),
    ("Betty", false),
    ("Sandra", false),
    ("Ashley", false),
    ("Emily", false),
    ("Michelle", false),
    ("Laura", false),
    ("Stephanie", false),
    ("Rebecca", false),
    ("Ingrid", false),
    ("Aiko", false),
    ("Fatima", false),
    ("Elena", false),
    ("Grace", false),
    ("Hannah", false),
    ("Olivia", false),
    ("Sofia", false),
    ("Nadia", false),
    ("Chloe", false),
];

const LAST_NAMES: [&str; 60] = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Harris",
    "Clark",
    "Lewis",
    "Walker",
    "Hall",
    "Young",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Adams",
    "Nelson",
    "Hill",
    "Campbell",
    "Mitchell",
    "Roberts",
    "Carter",
    "Phillips",
    "Evans",
    "Turner",
    "Parker",
    "Collins",
    "Edwards",
    "Stewart",
    "Morris",
    "Murphy",
    "Cook",
    "O'Brien",
    "Kumar",
    "Tanaka",
    "Silva",
    "Santos",
    "Larsen",
    "Weber",
    "Rossi",
    "Novak",
    "Sanchez",
    "Hughes",
];

const CONTACT_TITLES: [&str; 15] = [
    "CEO",
    "CTO",
    "CFO",
    "VP of Sales",
    "Head of Procurement",
    "IT Manager",
    "Operations Manager",
    "Finance Director",
    "Office Manager",
    "Marketing Manager",
    "Purchasing Agent",
    "Product Manager",
    "Software Engineer",
    "Customer Success Lead",
    "HR Director",
];

const CONTACT_NOTES: [&str; 6] = [
    "Met at trade show.",
    "Referred by an existing customer.",
    "Prefers email over phone.",
    "Decision maker for the renewal.",
    "Attended the spring webinar.",
    "Main technical contact for the integration.",
];

/// `Lead.status` options (all of them) with weights for leads past the first round.
const LEAD_STATUSES: [(&str, u64); 6] = [
    ("New", 25),
    ("Assigned", 20),
    ("In Process", 25),
    ("Converted", 10),
    ("Recycled", 10),
    ("Dead", 10),
];

/// `Lead.source` options (all of them, "" = unknown included, last so that the first leads,
/// which cover every option in turn, start with real sources) with weights.
const LEAD_SOURCES: [(&str, u64); 9] = [
    ("Call", 12),
    ("Email", 14),
    ("Existing Customer", 10),
    ("Partner", 10),
    ("Public Relations", 6),
    ("Web Site", 24),
    ("Campaign", 14),
    ("Other", 6),
    ("", 4),
];

const LEAD_NOTES: [&str; 5] = [
    "Downloaded the pricing sheet.",
    "Asked for a demo next month.",
    "Evaluating two other vendors.",
    "Budget is expected in the next quarter.",
    "Filled in the contact form on the website.",
];

/// `Opportunity.leadSource` values (the `Lead.source` options except the empty one).
const OPPORTUNITY_SOURCES: [(&str, u64); 8] = [
    ("Call", 12),
    ("Email", 14),
    ("Existing Customer", 16),
    ("Partner", 12),
    ("Public Relations", 4),
    ("Web Site", 20),
    ("Campaign", 14),
    ("Other", 8),
];

/// `Opportunity.stage` options in pipeline order, with weights for the random part.
const STAGES: [(&str, u64); 6] = [
    ("Prospecting", 20),
    ("Qualification", 20),
    ("Proposal", 18),
    ("Negotiation", 15),
    ("Closed Won", 15),
    ("Closed Lost", 12),
];

/// Every stage is used this many times before stages are drawn at random.
const STAGE_ROUNDS: usize = 4;

const PRODUCTS: [&str; 8] = [
    "New licenses",
    "Renewal",
    "Upsell",
    "Expansion",
    "Pilot",
    "Services",
    "Support plan",
    "Training",
];

const OPPORTUNITY_NOTES: [&str; 6] = [
    "Budget approved for the next fiscal year.",
    "Competing with two other vendors.",
    "Requires SSO and an audit log.",
    "Procurement wants a three-year term.",
    "Champion is the head of operations.",
    "Security questionnaire pending.",
];

const TASK_STATUSES: [(&str, u64); 5] = [
    ("Not Started", 35),
    ("Started", 25),
    ("Completed", 25),
    ("Canceled", 7),
    ("Deferred", 8),
];

const PRIORITIES: [(&str, u64); 4] = [("Low", 20), ("Normal", 50), ("High", 22), ("Urgent", 8)];

const ACCOUNT_TASKS: [&str; 6] = [
    "Call back",
    "Send product brochure to",
    "Schedule quarterly review with",
    "Update billing details for",
    "Check renewal status of",
    "Send onboarding checklist to",
];

const OPPORTUNITY_TASKS: [&str; 5] = [
    "Prepare quote for",
    "Send proposal for",
    "Review contract terms for",
    "Get legal sign-off for",
    "Update forecast for",
];

const CONTACT_TASKS: [&str; 4] = [
    "Follow up with",
    "Send case study to",
    "Book intro call with",
    "Confirm meeting time with",
];

const TASK_NOTES: [&str; 5] = [
    "See last email thread.",
    "Customer asked for an answer this week.",
    "Use the updated price list.",
    "Coordinate with support before calling.",
    "Attach the signed NDA.",
];

/// Meeting and call status options; the status decides whether the activity lies in the past.
const ACTIVITY_STATUSES: [(&str, u64); 3] = [("Planned", 40), ("Held", 45), ("Not Held", 15)];

const MEETING_NAMES: [&str; 8] = [
    "Product demo",
    "Quarterly business review",
    "Contract negotiation",
    "Kick-off meeting",
    "Onboarding session",
    "Technical deep dive",
    "Renewal discussion",
    "Executive briefing",
];

const MEETING_AGENDAS: [&str; 4] = [
    "Agenda: introductions, current status, next steps.",
    "Walk through the proposal and open questions.",
    "Review adoption metrics and the support backlog.",
    "Align on timeline, budget and decision process.",
];

/// Meeting lengths in seconds (a subset of `Meeting.duration` options).
const MEETING_DURATIONS: [(i64, u64); 3] = [(1800, 30), (3600, 50), (7200, 20)];

const CALL_NAMES: [&str; 7] = [
    "Discovery call",
    "Follow-up call",
    "Pricing discussion",
    "Support check-in",
    "Renewal call",
    "Intro call",
    "Reference call",
];

/// Call lengths in seconds (a subset of `Call.duration` options).
const CALL_DURATIONS: [(i64, u64); 4] = [(300, 15), (900, 40), (1800, 30), (2700, 15)];

const CALL_DIRECTIONS: [(&str, u64); 2] = [("Outbound", 65), ("Inbound", 35)];

const CASE_STATUSES: [(&str, u64); 6] = [
    ("New", 20),
    ("Assigned", 25),
    ("Pending", 20),
    ("Closed", 25),
    ("Rejected", 5),
    ("Duplicate", 5),
];

const CASE_TYPES: [(&str, u64); 3] = [("Question", 40), ("Incident", 30), ("Problem", 30)];

const CASE_SUBJECTS: [&str; 20] = [
    "API returns 500 error",
    "Shipment delayed",
    "Cannot log in to portal",
    "Integration with ERP failing",
    "License key expired",
    "Question about pricing tier",
    "Pilot environment not reachable",
    "Invoice shows wrong amount",
    "Password reset email not received",
    "Export to CSV times out",
    "Request for additional user seats",
    "Data import failed",
    "SSO configuration question",
    "Report totals do not match",
    "Mobile app crashes on start",
    "Need copy of signed contract",
    "Webhook deliveries delayed",
    "Dashboard loads slowly",
    "Duplicate charge on invoice",
    "How to archive old records",
];

const CASE_NOTES: [&str; 5] = [
    "Customer reported the issue via email. Investigating.",
    "Reproduced on staging; escalated to engineering.",
    "Waiting for logs from the customer.",
    "Reported by phone; workaround provided.",
    "Affects several users since the last update.",
];

const POSTS: [&str; 8] = [
    "Spoke with procurement; they expect a quote by Friday.",
    "Security review passed. Legal is looking at the MSA next.",
    "Our champion moved to a new role; we need a new sponsor.",
    "Pricing approved by their CFO, waiting for the signed order form.",
    "They asked for a reference customer in the same industry.",
    "Renewal call went well; they want to add 25 seats next quarter.",
    "Kick-off scheduled with their IT team for next week.",
    "Competitor offered a discount; holding our price for now.",
];

/// Regular users: first name, last name, title.
const REGULAR_USERS: [(&str, &str, &str); 4] = [
    ("Sarah", "Chen", "Account Executive"),
    ("James", "Wong", "Sales Manager"),
    ("Priya", "Patel", "Support Engineer"),
    ("Daniel", "Okafor", "Customer Success Manager"),
];

// ---------------------------------------------------------------------------------------------
// Ids and time
// ---------------------------------------------------------------------------------------------

/// The time part of demo ids (2026-11-24, like the recorded instance's).
const ID_EPOCH_SECS: u32 = 0x6b05_8000;

/// EspoCRM-style ids: PHP `uniqid()` (8 hex digits of seconds, 5 of microseconds) plus 4
/// random hex digits, 17 characters in all. The clock part starts shortly before `now` and
/// advances by a random step per id, so ids are unique by construction and sort in insertion
/// order, like ids of records seeded through the real API.
struct IdGen {
    rng: Rng,
    secs: u32,
    micros: u32,
}

impl IdGen {
    /// Ids depend on the seed only (not on the time the demo is generated), so the same seed
    /// always yields the same ids; their time part is a fixed moment in November 2026.
    fn new(seed: u64) -> Self {
        let secs = ID_EPOCH_SECS;
        // A separate stream, so that adding a record type does not reshuffle unrelated data.
        let mut rng = Rng::new(seed ^ 0x1D5E_ED00_C0FF_EE11);
        let micros = rng.below(1_000_000) as u32;
        Self { rng, secs, micros }
    }

    fn next(&mut self) -> String {
        self.micros += 1 + self.rng.below(4000) as u32;
        if self.micros >= 1_000_000 {
            self.micros -= 1_000_000;
            self.secs = self.secs.wrapping_add(1);
        }
        let tail = self.rng.below(0x1_0000);
        format!("{:08x}{:05x}{:04x}", self.secs, self.micros, tail)
    }
}

fn format_datetime(dt: NaiveDateTime) -> String {
    dt.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn format_date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// `dt` moved by `secs`; unchanged when that would leave chrono's range.
fn add_secs(dt: NaiveDateTime, secs: i64) -> NaiveDateTime {
    TimeDelta::try_seconds(secs)
        .and_then(|d| dt.checked_add_signed(d))
        .unwrap_or(dt)
}

/// `hour:minute` on the day `days` away from `now`'s date (`now` itself when out of range).
fn day_at(now: NaiveDateTime, days: i64, hour: u32, minute: u32) -> NaiveDateTime {
    TimeDelta::try_days(days)
        .and_then(|d| now.date().checked_add_signed(d))
        .and_then(|d| d.and_hms_opt(hour, minute, 0))
        .unwrap_or(now)
}

/// Lowercase ASCII letters and digits of `s`, for e-mail local parts and domains.
fn slug(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Like [`slug`], but words are kept apart with `-` ("Granite Biotech Group" ->
/// "granite-biotech-group").
fn dashed_slug(s: &str) -> String {
    s.split_whitespace()
        .map(slug)
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// A US number in the fictional 555-01xx block, already in E.164 as EspoCRM stores it.
fn phone(rng: &mut Rng, area_code: &str) -> String {
    format!("+1{area_code}5550{}", 100 + rng.below(100))
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------------------------

struct Users {
    admin: String,
    agent: String,
    limited: String,
    /// Ids of the regular users, who own (are assigned to) the CRM records.
    regular: Vec<String>,
    /// The one of them named [`PERSON_USER_NAME`].
    person: String,
    admin_created: NaiveDateTime,
}

struct AccountInfo {
    id: String,
    name: String,
    brand: &'static str,
    domain: String,
    city: &'static City,
    assigned: usize,
    created: NaiveDateTime,
}

struct ContactInfo {
    id: String,
    name: String,
    assigned: usize,
    created: NaiveDateTime,
}

struct OpportunityInfo {
    id: String,
    name: String,
    assigned: usize,
    created: NaiveDateTime,
}

/// A (first name, male?, last name) triple; unique across contacts and leads.
type Person = (&'static str, bool, &'static str);

struct Builder {
    rng: Rng,
    ids: IdGen,
    now: NaiveDateTime,
    records: Vec<SeedRecord>,
}

impl Builder {
    /// Appends a record (`id` first, `createdAt`/`createdById` last) and returns its id.
    /// Gives the flagship account ("Apex Health Co.") a planned meeting with two of its
    /// contacts and the id [`FLAGSHIP_ID`], so that its "activities" panel is populated.
    fn feature_flagship(&mut self) {
        let text = |r: &SeedRecord, k: &str| {
            r.attributes
                .get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let Some(flagship) = self
            .records
            .iter()
            .find(|r| {
                r.entity_type == "Account" && text(r, "name").as_deref() == Some("Apex Health Co.")
            })
            .and_then(|r| text(r, "id"))
        else {
            return;
        };
        let contacts: Vec<Value> = self
            .records
            .iter()
            .filter(|r| {
                r.entity_type == "Contact"
                    && text(r, "accountId").as_deref() == Some(flagship.as_str())
            })
            .filter_map(|r| text(r, "id").map(Value::String))
            .take(2)
            .collect();
        if let Some(meeting) = self.records.iter_mut().find(|r| {
            r.entity_type == "Meeting"
                && r.attributes.get("status").and_then(Value::as_str) == Some("Planned")
        }) {
            meeting
                .attributes
                .insert("parentType".into(), "Account".into());
            meeting
                .attributes
                .insert("parentId".into(), flagship.clone().into());
            meeting
                .attributes
                .insert("contactsIds".into(), Value::Array(contacts));
        }
        for record in &mut self.records {
            for value in record.attributes.values_mut() {
                replace_id(value, &flagship, FLAGSHIP_ID);
            }
        }
    }

    fn push(
        &mut self,
        entity_type: &'static str,
        created: NaiveDateTime,
        created_by: Option<&str>,
        fields: Map<String, Value>,
    ) -> String {
        let id = self.ids.next();
        let mut attributes = Map::new();
        attributes.insert("id".into(), Value::String(id.clone()));
        attributes.extend(fields);
        attributes.insert("createdAt".into(), format_datetime(created).into());
        if let Some(by) = created_by {
            attributes.insert("createdById".into(), by.into());
        }
        self.records.push(SeedRecord {
            entity_type,
            attributes,
        });
        id
    }

    /// A moment between `lo` and `hi` (`lo` when `hi` is not later), whole seconds.
    fn between(&mut self, lo: NaiveDateTime, hi: NaiveDateTime) -> NaiveDateTime {
        let span = hi.signed_duration_since(lo).num_seconds();
        add_secs(lo, self.rng.range(0, span))
    }

    /// A random regular user index, or `preferred` most of the time (records of an account are
    /// usually handled by the account's owner).
    fn owner(&mut self, preferred: usize, users: &Users) -> usize {
        if self.rng.percent(75) {
            preferred
        } else {
            self.rng.index(users.regular.len())
        }
    }

    fn user_id(users: &Users, index: usize) -> &str {
        users.regular.get(index).map_or(&users.admin, |id| id)
    }

    fn users(&mut self) -> Users {
        let admin_created = day_at(self.now, -760, 9, 0);
        let admin = self.push(
            "User",
            admin_created,
            None,
            object(json!({
                "userName": "admin",
                "type": "admin",
                "lastName": "Admin",
                "isActive": true,
            })),
        );
        let api_user = |b: &mut Self, name: &str, offset: i64| {
            let created = add_secs(admin_created, offset);
            b.push(
                "User",
                created,
                Some(&admin),
                object(json!({
                    "userName": name,
                    "type": "api",
                    "authMethod": "ApiKey",
                    "lastName": name,
                    "emailAddress": format!("{name}@example.com"),
                    "isActive": true,
                })),
            )
        };
        let agent = api_user(self, "mcp-agent", 3_600);
        let limited = api_user(self, "mcp-readonly", 3_900);
        // The read-only API user has no address of its own (as recorded): it never writes mail.
        if let Some(record) = self.records.last_mut() {
            record.attributes.remove("emailAddress");
        }
        let mut regular = Vec::new();
        let mut person = String::new();
        for (i, (first, last, title)) in REGULAR_USERS.iter().enumerate() {
            let user_name = format!("{}.{}", slug(first), slug(last));
            let created = add_secs(admin_created, 86_400 * (1 + i as i64));
            let id = self.push(
                "User",
                created,
                Some(&admin),
                object(json!({
                    "userName": user_name,
                    "type": "regular",
                    "firstName": first,
                    "lastName": last,
                    "emailAddress": format!("{user_name}@example.com"),
                    "title": title,
                    "isActive": true,
                })),
            );
            if user_name == PERSON_USER_NAME {
                person = id.clone();
            }
            regular.push(id);
        }
        Users {
            admin,
            agent,
            limited,
            regular,
            person,
            admin_created,
        }
    }

    fn accounts(&mut self, users: &Users) -> Vec<AccountInfo> {
        // Each brand gets ACCOUNTS_PER_BRAND consecutive sectors of a shuffled sector list, so
        // names are unique and every sector (industry) occurs equally often.
        let mut sector_order: Vec<usize> = (0..SECTORS.len()).collect();
        self.rng.shuffle(&mut sector_order);
        let mut plans: Vec<(&'static str, usize, &'static str)> = Vec::new();
        for (b, brand) in BRANDS.iter().enumerate() {
            for k in 0..ACCOUNTS_PER_BRAND {
                let sector = if *brand == FLAGSHIP_BRAND {
                    FLAGSHIP_SECTORS[k % FLAGSHIP_SECTORS.len()]
                } else {
                    sector_order
                        .get((b * ACCOUNTS_PER_BRAND + k) % SECTORS.len())
                        .copied()
                        .unwrap_or(0)
                };
                let kind = self.rng.weighted(&ACCOUNT_TYPES);
                plans.push((brand, sector, kind));
            }
        }
        // Recorded queries look for a Software customer; make sure one exists.
        let software = SECTORS.iter().position(|(word, _)| *word == "Software");
        let has_software_customer = plans
            .iter()
            .any(|&(_, s, kind)| Some(s) == software && kind == "Customer");
        if !has_software_customer
            && let Some(plan) = plans.iter_mut().find(|p| Some(p.1) == software)
        {
            plan.2 = "Customer";
        }
        // Insert in a random order, as a real CRM fills up over time.
        self.rng.shuffle(&mut plans);

        let mut accounts = Vec::new();
        for (brand, sector, kind) in plans {
            let (word, industry) = SECTORS.get(sector).copied().unwrap_or(SECTORS[0]);
            let suffix = if brand == FLAGSHIP_BRAND && sector == FLAGSHIP_SECTORS[0] {
                "Co."
            } else {
                self.rng.pick(&COMPANY_SUFFIXES)
            };
            let name = format!("{brand} {word} {suffix}");
            let domain = format!("{}{}.example.com", slug(brand), slug(word));
            let city = &CITIES[self.rng.index(CITIES.len())];
            let assigned = self.rng.index(users.regular.len());
            let created = add_secs(self.now, -self.rng.range(3_600, 730 * 86_400));
            let article = if industry.starts_with(['A', 'E', 'I', 'O', 'U']) {
                "an"
            } else {
                "a"
            };
            let street = format!("{} {}", self.rng.range(100, 9_899), self.rng.pick(&STREETS));
            let fields = object(json!({
                "name": name,
                "type": kind,
                "industry": industry,
                "website": format!("https://www.{domain}"),
                "emailAddress": format!("info@{domain}"),
                "phoneNumber": phone(&mut self.rng, city.area_code),
                "billingAddressStreet": street,
                "billingAddressCity": city.name,
                "billingAddressState": city.state,
                "billingAddressCountry": "USA",
                "billingAddressPostalCode": city.postal_code,
                "description": format!(
                    "{brand} {word} is {article} {} company based in {}.",
                    industry.to_lowercase(),
                    city.name
                ),
                "assignedUserId": Self::user_id(users, assigned),
            }));
            let id = self.push("Account", created, Some(&users.admin), fields);
            accounts.push(AccountInfo {
                id,
                name,
                brand,
                domain,
                city,
                assigned,
                created,
            });
        }
        accounts
    }

    /// Distinct people for contacts (first) and leads (after them); at least one contact is
    /// called John, since recorded searches look for one.
    fn people_pool(&mut self) -> Vec<Person> {
        let mut pool: Vec<Person> = FIRST_NAMES
            .iter()
            .flat_map(|&(first, male)| LAST_NAMES.iter().map(move |&last| (first, male, last)))
            .collect();
        self.rng.shuffle(&mut pool);
        let has_john = pool.iter().take(CONTACT_COUNT).any(|p| p.0 == "John");
        if !has_john && let Some(pos) = pool.iter().skip(CONTACT_COUNT).position(|p| p.0 == "John")
        {
            pool.swap(0, CONTACT_COUNT + pos);
        }
        pool.truncate(CONTACT_COUNT + LEAD_COUNT);
        pool
    }

    fn contacts(
        &mut self,
        users: &Users,
        accounts: &[AccountInfo],
        people: &[Person],
    ) -> (Vec<ContactInfo>, Vec<Vec<usize>>) {
        // Every account gets one contact, the alphabetically first one a few; the rest are
        // spread at random.
        let first = first_by_name(accounts);
        let mut owners: Vec<usize> = (0..accounts.len()).collect();
        if let Some(first) = first {
            owners.extend(std::iter::repeat_n(first, FIRST_ACCOUNT_CONTACTS - 1));
        }
        while owners.len() < CONTACT_COUNT && !accounts.is_empty() {
            owners.push(self.rng.index(accounts.len()));
        }
        self.rng.shuffle(&mut owners);

        let mut contacts = Vec::new();
        let mut by_account = vec![Vec::new(); accounts.len()];
        for (&account_index, &(first_name, male, last_name)) in owners.iter().zip(people) {
            let Some(account) = accounts.get(account_index) else {
                continue;
            };
            let salutation = match (male, self.rng.below(10)) {
                (_, 0) => Some("Dr."),
                (true, 1..=7) => Some("Mr."),
                (false, 1..=5) => Some("Ms."),
                (false, 6..=7) => Some("Mrs."),
                _ => None,
            };
            let assigned = self.owner(account.assigned, users);
            let created = self.between(account.created, self.now);
            let email = format!(
                "{}.{}@{}",
                slug(first_name),
                slug(last_name),
                account.domain
            );
            let mut fields = object(json!({
                "firstName": first_name,
                "lastName": last_name,
            }));
            if let Some(salutation) = salutation {
                fields.insert("salutationName".into(), salutation.into());
            }
            fields.extend(object(json!({
                "accountId": account.id,
                "title": self.rng.pick(&CONTACT_TITLES),
                "emailAddress": email,
                "phoneNumber": phone(&mut self.rng, account.city.area_code),
                "addressCity": account.city.name,
                "addressState": account.city.state,
                "addressCountry": "USA",
                "addressPostalCode": account.city.postal_code,
                "assignedUserId": Self::user_id(users, assigned),
            })));
            if self.rng.percent(40) {
                fields.insert("description".into(), self.rng.pick(&CONTACT_NOTES).into());
            }
            let id = self.push("Contact", created, Some(&users.admin), fields);
            if let Some(list) = by_account.get_mut(account_index) {
                list.push(contacts.len());
            }
            contacts.push(ContactInfo {
                id,
                name: format!("{first_name} {last_name}"),
                assigned,
                created,
            });
        }
        (contacts, by_account)
    }

    fn leads(&mut self, users: &Users, people: &[Person]) {
        for (i, &(first_name, male, last_name)) in people.iter().skip(CONTACT_COUNT).enumerate() {
            let brand = self.rng.pick(&BRANDS);
            let (word, industry) = self.rng.pick(&SECTORS);
            let company = format!("{brand} {word} {}", self.rng.pick(&COMPANY_SUFFIXES));
            let city = &CITIES[self.rng.index(CITIES.len())];
            let status = self.rng.covering(i, &LEAD_STATUSES);
            let source = self.rng.covering(i, &LEAD_SOURCES);
            // Both "amount known" and "amount unknown" leads must exist.
            let amount = match i {
                0 => Some(1_000 * self.rng.range(5, 150)),
                1 => None,
                _ if self.rng.percent(78) => Some(1_000 * self.rng.range(2, 150)),
                _ => None,
            };
            let email = format!(
                "{}.{}.lead{}@{}.example.net",
                slug(first_name),
                slug(last_name),
                i + 1,
                dashed_slug(&company)
            );
            let mut fields = object(json!({
                "salutationName": if male { "Mr." } else { "Ms." },
                "firstName": first_name,
                "lastName": last_name,
                "title": self.rng.pick(&CONTACT_TITLES),
                "status": status,
                "source": source,
                "industry": industry,
                "accountName": company,
                "emailAddress": email,
                "phoneNumber": phone(&mut self.rng, city.area_code),
                "addressCity": city.name,
                "addressState": city.state,
                "addressCountry": "USA",
            }));
            if let Some(amount) = amount {
                fields.insert("opportunityAmount".into(), amount.into());
                fields.insert("opportunityAmountCurrency".into(), "USD".into());
            }
            if self.rng.percent(50) {
                fields.insert("description".into(), self.rng.pick(&LEAD_NOTES).into());
            }
            let assigned = self.rng.index(users.regular.len());
            fields.insert(
                "assignedUserId".into(),
                Self::user_id(users, assigned).into(),
            );
            let created = add_secs(self.now, -self.rng.range(3_600, 300 * 86_400));
            self.push("Lead", created, Some(&users.admin), fields);
        }
    }

    fn opportunities(
        &mut self,
        users: &Users,
        accounts: &[AccountInfo],
        by_account: &[Vec<usize>],
        contacts: &[ContactInfo],
    ) -> Vec<OpportunityInfo> {
        let first = first_by_name(accounts);
        let mut opportunities = Vec::new();
        for i in 0..OPPORTUNITY_COUNT {
            // The first account by name gets a couple of deals, so its panels are not empty.
            let account_index = match first {
                Some(first) if i < 2 => first,
                _ => self.rng.index(accounts.len()),
            };
            let Some(account) = accounts.get(account_index) else {
                continue;
            };
            let stage = if i < STAGES.len() * STAGE_ROUNDS {
                STAGES[i % STAGES.len()].0
            } else {
                self.rng.weighted(&STAGES)
            };
            let closed = stage.starts_with("Closed");
            let close_days = if closed {
                -self.rng.range(3, 270)
            } else if self.rng.percent(12) {
                -self.rng.range(1, 30)
            } else {
                self.rng.range(3, 270)
            };
            let close = day_at(self.now, close_days, 0, 0);
            let mut amount = if self.rng.percent(10) {
                1_000 * self.rng.range(250, 900)
            } else {
                1_000 * self.rng.range(1, 250)
            };
            // Small pilots exist (recorded queries look for deals under 8,000).
            if i == 1 {
                amount = 6_000;
            }
            // Recorded queries want a large deal at probability >= 50.
            if i < STAGES.len() && stage == "Negotiation" {
                amount = amount.max(75_000);
            }
            let name = format!(
                "{} - {} {} #{}",
                account.brand,
                self.rng.pick(&PRODUCTS),
                close.year(),
                i + 1
            );
            let assigned = self.owner(account.assigned, users);
            let created =
                self.between(account.created, add_secs(close, -14 * 86_400).min(self.now));
            let mut fields = object(json!({
                "name": name,
                "accountId": account.id,
                "stage": stage,
                "amount": amount,
                "amountCurrency": "USD",
                "closeDate": format_date(close.date()),
                "leadSource": self.rng.weighted(&OPPORTUNITY_SOURCES),
            }));
            let pool = by_account.get(account_index).map_or(&[][..], Vec::as_slice);
            // Every deal has at least one contact of its account (the kanban card shows them).
            let chosen = self.rng.some_of(pool, 3);
            let mut ids: Vec<&str> = chosen
                .iter()
                .filter_map(|&c| contacts.get(c))
                .map(|c| c.id.as_str())
                .collect();
            if ids.is_empty() {
                ids.extend(
                    pool.first()
                        .and_then(|&c| contacts.get(c))
                        .map(|c| c.id.as_str()),
                );
            }
            if !ids.is_empty() {
                fields.insert("contactsIds".into(), json!(ids));
            }
            if self.rng.percent(35) {
                fields.insert(
                    "description".into(),
                    self.rng.pick(&OPPORTUNITY_NOTES).into(),
                );
            }
            fields.insert(
                "assignedUserId".into(),
                Self::user_id(users, assigned).into(),
            );
            let id = self.push("Opportunity", created, Some(&users.admin), fields);
            opportunities.push(OpportunityInfo {
                id,
                name,
                assigned,
                created,
            });
        }
        opportunities
    }

    fn cases(
        &mut self,
        users: &Users,
        accounts: &[AccountInfo],
        by_account: &[Vec<usize>],
        contacts: &[ContactInfo],
    ) {
        for i in 0..CASE_COUNT {
            let account_index = self.rng.index(accounts.len());
            let Some(account) = accounts.get(account_index) else {
                continue;
            };
            let status = self.rng.covering(i, &CASE_STATUSES);
            let priority = self.rng.covering(i, &PRIORITIES);
            let kind = self.rng.covering(i, &CASE_TYPES);
            let created = self.between(
                account.created.max(add_secs(self.now, -120 * 86_400)),
                self.now,
            );
            let mut fields = object(json!({
                "name": self.rng.pick(&CASE_SUBJECTS),
                "status": status,
                "priority": priority,
                "type": kind,
                "accountId": account.id,
            }));
            let pool = by_account.get(account_index).map_or(&[][..], Vec::as_slice);
            if let Some(contact) = pool
                .get(self.rng.index(pool.len()))
                .and_then(|&c| contacts.get(c))
            {
                fields.insert("contactId".into(), contact.id.clone().into());
            }
            fields.insert("description".into(), self.rng.pick(&CASE_NOTES).into());
            let assigned = self.rng.index(users.regular.len());
            fields.insert(
                "assignedUserId".into(),
                Self::user_id(users, assigned).into(),
            );
            self.push("Case", created, Some(&users.admin), fields);
        }
    }

    fn tasks(
        &mut self,
        users: &Users,
        accounts: &[AccountInfo],
        contacts: &[ContactInfo],
        opportunities: &[OpportunityInfo],
    ) {
        for i in 0..TASK_COUNT {
            let status = self.rng.covering(i, &TASK_STATUSES);
            let priority = self.rng.covering(i, &PRIORITIES);
            // Parent: (entity type, id, subject for the task name, owner, created).
            let parent =
                match self
                    .rng
                    .weighted(&[("Account", 50), ("Opportunity", 30), ("Contact", 20)])
                {
                    "Opportunity" => {
                        opportunities
                            .get(self.rng.index(opportunities.len()))
                            .map(|o| {
                                let verb = self.rng.pick(&OPPORTUNITY_TASKS);
                                (
                                    "Opportunity",
                                    &o.id,
                                    format!("{verb} {}", o.name),
                                    o.assigned,
                                    o.created,
                                )
                            })
                    }
                    "Contact" => contacts.get(self.rng.index(contacts.len())).map(|c| {
                        let verb = self.rng.pick(&CONTACT_TASKS);
                        (
                            "Contact",
                            &c.id,
                            format!("{verb} {}", c.name),
                            c.assigned,
                            c.created,
                        )
                    }),
                    _ => accounts.get(self.rng.index(accounts.len())).map(|a| {
                        let verb = self.rng.pick(&ACCOUNT_TASKS);
                        (
                            "Account",
                            &a.id,
                            format!("{verb} {}", a.name),
                            a.assigned,
                            a.created,
                        )
                    }),
                };
            let Some((parent_type, parent_id, name, parent_owner, parent_created)) = parent else {
                continue;
            };
            // Finished tasks lie in the past; open ones are mostly upcoming, some overdue.
            let days = match status {
                "Completed" | "Canceled" => -self.rng.range(1, 60),
                "Deferred" => self.rng.range(14, 90),
                _ if self.rng.percent(35) => -self.rng.range(1, 30),
                _ => self.rng.range(1, 45),
            };
            let hour = self.rng.range(9, 17) as u32;
            let date_end = day_at(self.now, days, hour, 0);
            let date_start = self
                .rng
                .percent(40)
                .then(|| add_secs(date_end, -86_400 * self.rng.range(1, 5)));
            let assigned = self.owner(parent_owner, users);
            let latest = add_secs(date_start.unwrap_or(date_end), -3_600).min(self.now);
            let created = self.between(parent_created, latest);
            let mut fields = object(json!({
                "name": name,
                "status": status,
                "priority": priority,
            }));
            if let Some(start) = date_start {
                fields.insert("dateStart".into(), format_datetime(start).into());
            }
            fields.insert("dateEnd".into(), format_datetime(date_end).into());
            fields.insert("parentType".into(), parent_type.into());
            fields.insert("parentId".into(), parent_id.clone().into());
            if self.rng.percent(40) {
                fields.insert("description".into(), self.rng.pick(&TASK_NOTES).into());
            }
            fields.insert(
                "assignedUserId".into(),
                Self::user_id(users, assigned).into(),
            );
            self.push("Task", created, Some(&users.admin), fields);
        }
    }

    fn meetings_and_calls(
        &mut self,
        users: &Users,
        accounts: &[AccountInfo],
        by_account: &[Vec<usize>],
        contacts: &[ContactInfo],
    ) {
        for (entity_type, count) in [("Meeting", MEETING_COUNT), ("Call", CALL_COUNT)] {
            let is_call = entity_type == "Call";
            for i in 0..count {
                let account_index = self.rng.index(accounts.len());
                let Some(account) = accounts.get(account_index) else {
                    continue;
                };
                let status = self.rng.covering(i, &ACTIVITY_STATUSES);
                let days = if status == "Planned" {
                    self.rng.range(1, 45)
                } else {
                    -self.rng.range(1, 60)
                };
                let hour = self.rng.range(9, 16) as u32;
                let minute = if self.rng.percent(50) { 0 } else { 30 };
                let start = day_at(self.now, days, hour, minute);
                let duration = if is_call {
                    self.rng.weighted(&CALL_DURATIONS)
                } else {
                    self.rng.weighted(&MEETING_DURATIONS)
                };
                let end = add_secs(start, duration);
                let assigned = self.owner(account.assigned, users);
                let mut attendees = vec![Self::user_id(users, assigned).to_owned()];
                if self.rng.percent(30) {
                    let other = Self::user_id(users, self.rng.index(users.regular.len()));
                    if !attendees.iter().any(|a| a == other) {
                        attendees.push(other.to_owned());
                    }
                }
                let pool = by_account.get(account_index).map_or(&[][..], Vec::as_slice);
                let chosen = self.rng.some_of(pool, if is_call { 1 } else { 3 });
                let contact_ids: Vec<&str> = chosen
                    .iter()
                    .filter_map(|&c| contacts.get(c))
                    .map(|c| c.id.as_str())
                    .collect();
                let latest = add_secs(start, -86_400).min(self.now);
                let created = self.between(account.created, latest);
                let name = if is_call {
                    self.rng.pick(&CALL_NAMES)
                } else {
                    self.rng.pick(&MEETING_NAMES)
                };
                let mut fields = object(json!({
                    "name": name,
                    "status": status,
                    "dateStart": format_datetime(start),
                    "dateEnd": format_datetime(end),
                }));
                if is_call {
                    fields.insert(
                        "direction".into(),
                        self.rng.weighted(&CALL_DIRECTIONS).into(),
                    );
                } else {
                    fields.insert("description".into(), self.rng.pick(&MEETING_AGENDAS).into());
                }
                fields.extend(object(json!({
                    "parentType": "Account",
                    "parentId": account.id,
                    "usersIds": attendees,
                    "contactsIds": contact_ids,
                    "assignedUserId": Self::user_id(users, assigned),
                })));
                self.push(entity_type, created, Some(&users.admin), fields);
            }
        }
    }

    /// The three templates of the recorded instance, with the placeholders EspoCRM fills in.
    fn email_templates(&mut self, users: &Users) {
        let templates = [
            (
                "Welcome new contact",
                "Welcome to Acme Cloud, {Contact.firstName}!",
                "<p>Hi {Person.name},</p><p>Thanks for your interest. Your account manager \
                 {User.name} will reach out shortly.</p><p>Company on file: \
                 {Contact.accountName}</p><p>Best regards,<br>{User.name}</p>",
                true,
            ),
            (
                "Follow-up after meeting",
                "Follow-up: our meeting with {Account.name}",
                "Hello {Person.firstName},\n\nThank you for taking the time to meet today. As \
                 discussed, I will send over the proposal this week.\n\nKind regards,\n\
                 {User.name}\nDate: {today}",
                false,
            ),
            (
                "Case acknowledgement",
                "[Case] We received your request",
                "<p>Hello {Person.name},</p><p>Thank you for contacting Acme Cloud support. We \
                 have opened case #{Case.number} \"{Case.name}\" and will get back to you within \
                 one business day.</p><p>Regards,<br>{User.name}<br>Acme Cloud Support</p>",
                true,
            ),
        ];
        for (i, (name, subject, body, is_html)) in templates.into_iter().enumerate() {
            let created = add_secs(users.admin_created, 2 * 86_400 + 600 * i as i64);
            self.push(
                "EmailTemplate",
                created,
                Some(&users.admin),
                object(json!({
                    "name": name,
                    "subject": subject,
                    "body": body,
                    "isHtml": is_html,
                })),
            );
        }
    }

    /// A few stream posts by the record owners, half on accounts (the first one by name
    /// included) and half on opportunities.
    fn notes(
        &mut self,
        accounts: &[AccountInfo],
        opportunities: &[OpportunityInfo],
        users: &Users,
    ) {
        let mut posts = POSTS.to_vec();
        self.rng.shuffle(&mut posts);
        let half = posts.len() / 2;

        let mut account_picks: Vec<usize> = (0..accounts.len()).collect();
        self.rng.shuffle(&mut account_picks);
        if let Some(first) = first_by_name(accounts) {
            account_picks.retain(|&a| a != first);
            account_picks.insert(0, first);
        }
        let mut opportunity_picks: Vec<usize> = (0..opportunities.len()).collect();
        self.rng.shuffle(&mut opportunity_picks);

        let mut parents = Vec::new();
        for &a in account_picks.iter().take(half) {
            if let Some(acc) = accounts.get(a) {
                parents.push(("Account", acc.id.clone(), acc.assigned, acc.created));
            }
        }
        for &o in opportunity_picks.iter().take(posts.len() - half) {
            if let Some(opp) = opportunities.get(o) {
                parents.push(("Opportunity", opp.id.clone(), opp.assigned, opp.created));
            }
        }
        for ((parent_type, parent_id, owner, parent_created), post) in
            parents.into_iter().zip(posts)
        {
            let created = self.between(parent_created, self.now);
            let author = Self::user_id(users, owner).to_owned();
            self.push(
                "Note",
                created,
                Some(&author),
                object(json!({
                    "type": "Post",
                    "parentType": parent_type,
                    "parentId": parent_id,
                    "post": post,
                })),
            );
        }
    }
}

/// Index of the account that sorts first by name (case-insensitively, as MariaDB does).
fn first_by_name(accounts: &[AccountInfo]) -> Option<usize> {
    accounts
        .iter()
        .enumerate()
        .min_by_key(|(_, a)| a.name.to_lowercase())
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    const METADATA: &str = include_str!("../data/metadata.json");
    const SEEDS: [u64; 6] = [0, 1, 7, 42, 0xDEAD_BEEF, u64::MAX];

    fn now() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 24)
            .and_then(|d| d.and_hms_opt(12, 31, 0))
            .expect("valid date")
    }

    fn metadata() -> Value {
        serde_json::from_str(METADATA).expect("metadata.json parses")
    }

    fn fields<'m>(meta: &'m Value, entity_type: &str) -> &'m Map<String, Value> {
        meta["entityDefs"][entity_type]["fields"]
            .as_object()
            .unwrap_or_else(|| panic!("no fields for {entity_type}"))
    }

    fn dump(records: &[SeedRecord]) -> String {
        records
            .iter()
            .map(|r| {
                format!(
                    "{} {}\n",
                    r.entity_type,
                    Value::Object(r.attributes.clone())
                )
            })
            .collect()
    }

    fn text<'r>(r: &'r SeedRecord, key: &str) -> Option<&'r str> {
        r.attributes.get(key).and_then(Value::as_str)
    }

    fn of_type<'r>(records: &'r [SeedRecord], t: &'r str) -> impl Iterator<Item = &'r SeedRecord> {
        records.iter().filter(move |r| r.entity_type == t)
    }

    fn id_list(v: &Value) -> Vec<&str> {
        match v {
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().expect("id string"))
                .collect(),
            other => panic!("not an id or id list: {other}"),
        }
    }

    fn parse_datetime(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
            .unwrap_or_else(|e| panic!("bad datetime {s}: {e}"))
    }

    #[test]
    fn same_seed_and_time_give_identical_output() {
        for seed in SEEDS {
            let (users_a, a) = demo_records(seed, now());
            let (users_b, b) = demo_records(seed, now());
            assert_eq!(users_a, users_b);
            assert_eq!(dump(&a), dump(&b));
        }
    }

    #[test]
    fn person_is_a_regular_user_with_a_password_per_seed() {
        let (users, records) = demo_records(42, now());
        let person = of_type(&records, "User")
            .find(|r| text(r, "id") == Some(users.person_id.as_str()))
            .expect("the person is seeded");
        assert_eq!(text(person, "userName"), Some(PERSON_USER_NAME));
        assert_eq!(text(person, "type"), Some("regular"));
        assert_eq!(person_password(42), person_password(42));
        assert_ne!(person_password(42), person_password(43));
        assert_eq!(person_password(42).len(), 24);
    }

    #[test]
    fn different_seeds_give_different_output() {
        let dumps: HashSet<String> = SEEDS
            .iter()
            .map(|&seed| dump(&demo_records(seed, now()).1))
            .collect();
        assert_eq!(dumps.len(), SEEDS.len());
        // Names (not only ids) differ too.
        let names = |seed| -> Vec<String> {
            let (_, records) = demo_records(seed, now());
            of_type(&records, "Contact")
                .filter_map(|r| text(r, "lastName").map(str::to_owned))
                .collect()
        };
        assert_ne!(names(1), names(2));
    }

    #[test]
    fn ids_are_unique_espo_shaped_and_increasing() {
        for seed in SEEDS {
            let (_, records) = demo_records(seed, now());
            let ids: Vec<&str> = records.iter().map(|r| text(r, "id").expect("id")).collect();
            for id in &ids {
                assert_eq!(id.len(), 17, "{id}");
                assert!(
                    id.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
                    "{id}"
                );
            }
            let unique: HashSet<&&str> = ids.iter().collect();
            assert_eq!(unique.len(), ids.len());
            // The flagship keeps a fixed id (see FLAGSHIP_ID); all others sort in insertion order.
            let ordered: Vec<&&str> = ids.iter().filter(|i| **i != FLAGSHIP_ID).collect();
            assert!(
                ordered.windows(2).all(|w| w[0] < w[1]),
                "ids sort in insertion order"
            );
        }
    }

    #[test]
    fn counts_per_entity_type() {
        let (_, records) = demo_records(42, now());
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for r in &records {
            *counts.entry(r.entity_type).or_default() += 1;
        }
        let expected = [
            ("User", 7),
            ("Account", 200),
            ("Contact", 500),
            ("Lead", 100),
            ("Opportunity", 150),
            ("Case", 40),
            ("Task", 150),
            ("Meeting", 60),
            ("Call", 60),
            ("EmailTemplate", 3),
            ("Note", 8),
        ];
        for (entity_type, count) in expected {
            assert_eq!(counts.get(entity_type), Some(&count), "{entity_type}");
        }
        assert_eq!(counts.len(), expected.len());
    }

    #[test]
    fn enum_values_exist_in_metadata() {
        let meta = metadata();
        for seed in SEEDS {
            let (_, records) = demo_records(seed, now());
            for r in &records {
                let defs = fields(&meta, r.entity_type);
                for (key, value) in &r.attributes {
                    let Some(def) = defs.get(key) else { continue };
                    if def["type"] != "enum" {
                        continue;
                    }
                    let options = match (def.get("options"), def["optionsReference"].as_str()) {
                        (Some(options), _) => options.clone(),
                        (None, Some(reference)) => {
                            let (entity, field) = reference.split_once('.').expect("E.field");
                            fields(&meta, entity)[field]["options"].clone()
                        }
                        (None, None) => {
                            // Currency code enums have no options in the metadata.
                            assert!(key.ends_with("Currency"), "{}.{key}", r.entity_type);
                            assert_eq!(value, "USD");
                            continue;
                        }
                    };
                    let options = options.as_array().expect("options array");
                    assert!(
                        options.contains(value),
                        "{}.{key} = {value} not in {options:?}",
                        r.entity_type
                    );
                }
            }
        }
    }

    #[test]
    fn attribute_names_exist_in_metadata_and_are_writable() {
        let meta = metadata();
        let (_, records) = demo_records(3, now());
        for r in &records {
            let defs = fields(&meta, r.entity_type);
            for key in r.attributes.keys() {
                if key == "id" {
                    continue;
                }
                if let Some(def) = defs.get(key) {
                    // `Note.type` is read-only for updates, but a create body sets it to
                    // "Post" (recorded POST /Note exchanges).
                    let settable =
                        key == "createdAt" || (r.entity_type, key.as_str()) == ("Note", "type");
                    assert!(
                        def["readOnly"] != true || settable,
                        "{}.{key} is read-only",
                        r.entity_type
                    );
                    continue;
                }
                let (stem, allowed): (&str, &[&str]) = if let Some(s) = key.strip_suffix("Ids") {
                    (s, &["linkMultiple"])
                } else if let Some(s) = key.strip_suffix("Id") {
                    (s, &["link", "linkOne", "linkParent"])
                } else if let Some(s) = key.strip_suffix("Type") {
                    (s, &["linkParent"])
                } else {
                    panic!("{}.{key} is not a field", r.entity_type)
                };
                let def = defs
                    .get(stem)
                    .unwrap_or_else(|| panic!("{}.{key}: no field {stem}", r.entity_type));
                let kind = def["type"].as_str().unwrap_or_default();
                assert!(
                    allowed.contains(&kind),
                    "{}.{key}: {stem} is {kind}",
                    r.entity_type
                );
                assert!(
                    def["readOnly"] != true || stem == "createdBy",
                    "{}.{key} is read-only",
                    r.entity_type
                );
            }
        }
    }

    #[test]
    fn references_point_to_earlier_records_of_the_right_type() {
        let meta = metadata();
        for seed in SEEDS {
            let (_, records) = demo_records(seed, now());
            let mut seen: HashMap<&str, &str> = HashMap::new();
            let mut user_types: HashMap<&str, &str> = HashMap::new();
            let mut contact_account: HashMap<&str, &str> = HashMap::new();
            for r in &records {
                for (key, value) in &r.attributes {
                    let expected = match key.as_str() {
                        "accountId" => "Account",
                        "contactId" | "contactsIds" => "Contact",
                        "assignedUserId" | "createdById" | "usersIds" => "User",
                        "parentId" => text(r, "parentType").expect("parentType with parentId"),
                        other => {
                            assert!(
                                !other.ends_with("Id") && !other.ends_with("Ids"),
                                "unchecked reference {}.{other}",
                                r.entity_type
                            );
                            continue;
                        }
                    };
                    let ids = id_list(value);
                    assert!(!ids.is_empty(), "{}.{key} empty", r.entity_type);
                    for id in ids {
                        assert_eq!(
                            seen.get(id),
                            Some(&expected),
                            "{}.{key} -> {id}",
                            r.entity_type
                        );
                    }
                }
                if let Some(parent_type) = text(r, "parentType")
                    && let Some(list) =
                        fields(&meta, r.entity_type)["parent"]["entityList"].as_array()
                {
                    assert!(list.iter().any(|e| e == parent_type), "{parent_type}");
                }
                if let Some(user) = text(r, "assignedUserId") {
                    assert_eq!(
                        user_types.get(user),
                        Some(&"regular"),
                        "owners are regular users"
                    );
                }
                // Contacts of a deal, case or activity work for the account it concerns.
                let account = text(r, "accountId").or_else(|| {
                    (text(r, "parentType") == Some("Account"))
                        .then(|| text(r, "parentId"))
                        .flatten()
                });
                if r.entity_type != "Contact" {
                    for key in ["contactId", "contactsIds"] {
                        for contact in r.attributes.get(key).map(id_list).unwrap_or_default() {
                            assert_eq!(contact_account.get(contact).copied(), account);
                        }
                    }
                }
                let id = text(r, "id").expect("id");
                seen.insert(id, r.entity_type);
                if r.entity_type == "User" {
                    user_types.insert(id, text(r, "type").expect("user type"));
                }
                if r.entity_type == "Contact" {
                    contact_account.insert(id, text(r, "accountId").expect("contact account"));
                }
            }
        }
    }

    #[test]
    fn every_option_of_the_main_enums_is_used() {
        let meta = metadata();
        let checks = [
            ("Opportunity", "stage"),
            ("Lead", "status"),
            ("Lead", "source"),
            ("Task", "status"),
            ("Task", "priority"),
            ("Case", "status"),
            ("Case", "priority"),
            ("Meeting", "status"),
            ("Call", "status"),
            ("Call", "direction"),
            ("Account", "type"),
        ];
        for seed in SEEDS {
            let (_, records) = demo_records(seed, now());
            for (entity_type, field) in checks {
                let used: HashSet<&str> = of_type(&records, entity_type)
                    .filter_map(|r| text(r, field))
                    .collect();
                for option in fields(&meta, entity_type)[field]["options"]
                    .as_array()
                    .expect("options")
                {
                    let option = option.as_str().expect("string option");
                    assert!(
                        used.contains(option),
                        "{entity_type}.{field} never {option:?}"
                    );
                }
            }
            let proposals = of_type(&records, "Opportunity")
                .filter(|r| text(r, "stage") == Some("Proposal"))
                .count();
            assert!(proposals >= 3);
            for stage in STAGES.map(|(s, _)| s) {
                let n = of_type(&records, "Opportunity")
                    .filter(|r| text(r, "stage") == Some(stage))
                    .count();
                assert!(n >= STAGE_ROUNDS, "{stage}: {n}");
            }
        }
    }

    #[test]
    fn recorded_queries_find_matches() {
        for seed in SEEDS {
            let (_, records) = demo_records(seed, now());
            let accounts: Vec<&SeedRecord> = of_type(&records, "Account").collect();
            let name = |r: &&SeedRecord| text(r, "name").unwrap_or_default().to_owned();
            assert!(accounts.iter().any(|r| {
                text(r, "type") == Some("Customer") && text(r, "industry") == Some("Software")
            }));
            assert!(
                accounts
                    .iter()
                    .filter(|r| name(r).contains("Redwood"))
                    .count()
                    >= 2
            );
            assert!(
                accounts
                    .iter()
                    .filter(|r| name(r).starts_with("Apex"))
                    .count()
                    >= 2
            );
            assert!(of_type(&records, "Contact").any(|r| text(r, "firstName") == Some("John")));
            let leads: Vec<&SeedRecord> = of_type(&records, "Lead").collect();
            assert!(
                leads
                    .iter()
                    .any(|r| r.attributes.get("opportunityAmount").is_none())
            );
            assert!(
                leads
                    .iter()
                    .any(|r| r.attributes.get("opportunityAmount").is_some())
            );
            assert!(of_type(&records, "Opportunity").any(|r| {
                r.attributes["amount"].as_i64() > Some(50_000)
                    && matches!(
                        text(r, "stage"),
                        Some("Proposal" | "Negotiation" | "Closed Won")
                    )
            }));
            assert!(
                of_type(&records, "Opportunity").any(|r| r.attributes.contains_key("contactsIds"))
            );
            assert!(
                of_type(&records, "Task")
                    .any(|r| parse_datetime(text(r, "dateEnd").expect("dateEnd")) < now())
            );
            assert!(of_type(&records, "Meeting").any(|r| {
                !id_list(&r.attributes["usersIds"]).is_empty()
                    && !id_list(&r.attributes["contactsIds"]).is_empty()
            }));
            // The first account by name has contacts, deals and a post.
            let first = accounts
                .iter()
                .min_by_key(|r| name(r).to_lowercase())
                .expect("accounts");
            let first_id = text(first, "id");
            let related = |t| {
                of_type(&records, t)
                    .filter(|r| text(r, "accountId") == first_id || text(r, "parentId") == first_id)
                    .count()
            };
            assert!(related("Contact") >= FIRST_ACCOUNT_CONTACTS);
            assert!(related("Opportunity") >= 2);
            assert!(related("Note") >= 1);
            // Every account has at least one contact.
            let with_contacts: HashSet<&str> = of_type(&records, "Contact")
                .filter_map(|r| text(r, "accountId"))
                .collect();
            assert_eq!(with_contacts.len(), accounts.len());
        }
    }

    #[test]
    fn names_emails_and_phones_look_real_and_do_not_collide() {
        for seed in SEEDS {
            let (_, records) = demo_records(seed, now());
            for entity_type in ["Account", "Contact", "Lead"] {
                let mut names = HashSet::new();
                let mut emails = HashSet::new();
                for r in of_type(&records, entity_type) {
                    let name = match text(r, "name") {
                        Some(name) => name.to_lowercase(),
                        None => format!(
                            "{} {}",
                            text(r, "firstName").unwrap_or_default(),
                            text(r, "lastName").unwrap_or_default()
                        )
                        .to_lowercase(),
                    };
                    assert!(names.insert(name), "duplicate {entity_type} name");
                    let email = text(r, "emailAddress").expect("email");
                    assert!(emails.insert(email.to_owned()), "duplicate {email}");
                }
            }
            let opportunity_names: HashSet<&str> = of_type(&records, "Opportunity")
                .filter_map(|r| text(r, "name"))
                .collect();
            assert_eq!(opportunity_names.len(), OPPORTUNITY_COUNT);
            for r in &records {
                if let Some(email) = text(r, "emailAddress") {
                    let (local, domain) = email.split_once('@').expect("@ in email");
                    assert!(
                        !local.is_empty() && local == local.to_lowercase(),
                        "{email}"
                    );
                    assert!(
                        ["example.com", "example.net", "example.org"]
                            .iter()
                            .any(|d| domain == *d || domain.ends_with(&format!(".{d}"))),
                        "{email}"
                    );
                }
                if let Some(website) = text(r, "website") {
                    assert!(
                        website.starts_with("https://www.") && website.ends_with(".example.com")
                    );
                }
                if let Some(phone) = text(r, "phoneNumber") {
                    assert_eq!(phone.len(), 12, "{phone}");
                    assert!(
                        phone.starts_with("+1") && phone[1..].chars().all(|c| c.is_ascii_digit())
                    );
                }
            }
        }
    }

    #[test]
    fn dates_are_consistent() {
        for seed in SEEDS {
            let (_, records) = demo_records(seed, now());
            for r in &records {
                let created = parse_datetime(text(r, "createdAt").expect("createdAt"));
                assert!(created <= now(), "{} created in the future", r.entity_type);
                if let (Some(start), Some(end)) = (text(r, "dateStart"), text(r, "dateEnd")) {
                    assert!(
                        parse_datetime(start) < parse_datetime(end),
                        "{}",
                        r.entity_type
                    );
                }
                if let Some(date) = text(r, "closeDate") {
                    NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("closeDate");
                }
            }
            for entity_type in ["Meeting", "Call"] {
                for r in of_type(&records, entity_type) {
                    let start = parse_datetime(text(r, "dateStart").expect("dateStart"));
                    let past = start < now();
                    assert_eq!(text(r, "status") != Some("Planned"), past, "{entity_type}");
                }
            }
            for r in of_type(&records, "Opportunity") {
                let close =
                    NaiveDate::parse_from_str(text(r, "closeDate").unwrap_or_default(), "%Y-%m-%d")
                        .expect("closeDate");
                if text(r, "stage").is_some_and(|s| s.starts_with("Closed")) {
                    assert!(close < now().date());
                }
            }
            let accounts: Vec<NaiveDateTime> = of_type(&records, "Account")
                .map(|r| parse_datetime(text(r, "createdAt").unwrap_or_default()))
                .collect();
            let oldest = accounts.iter().min().expect("accounts");
            assert!(
                now().signed_duration_since(*oldest).num_days() > 365,
                "spread over 2 years"
            );
            assert!(now().signed_duration_since(*oldest).num_days() <= 731);
        }
    }

    #[test]
    fn seed_users_point_at_the_user_records() {
        let (users, records) = demo_records(5, now());
        let user = |id: &str| {
            of_type(&records, "User")
                .find(|r| text(r, "id") == Some(id))
                .expect("user record")
        };
        let admin = user(&users.admin_id);
        assert_eq!(text(admin, "userName"), Some("admin"));
        assert_eq!(text(admin, "type"), Some("admin"));
        assert_eq!(text(admin, "lastName"), Some("Admin"));
        let agent = user(&users.agent_id);
        assert_eq!(text(agent, "userName"), Some("mcp-agent"));
        assert_eq!(text(agent, "type"), Some("api"));
        assert_eq!(text(agent, "emailAddress"), Some("mcp-agent@example.com"));
        let limited = user(&users.limited_id);
        assert_eq!(text(limited, "userName"), Some("mcp-readonly"));
        assert_eq!(text(limited, "type"), Some("api"));
        let regular = of_type(&records, "User")
            .filter(|r| text(r, "type") == Some("regular"))
            .count();
        assert_eq!(regular, REGULAR_USERS.len());
        let templates: Vec<(&str, bool)> = of_type(&records, "EmailTemplate")
            .map(|r| {
                (
                    text(r, "name").unwrap_or_default(),
                    r.attributes["isHtml"] == true,
                )
            })
            .collect();
        assert_eq!(
            templates,
            [
                ("Welcome new contact", true),
                ("Follow-up after meeting", false),
                ("Case acknowledgement", true)
            ]
        );
    }

    #[test]
    fn extreme_times_do_not_panic() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("epoch");
        for when in [NaiveDateTime::MIN, NaiveDateTime::MAX, epoch] {
            let (_, records) = demo_records(9, when);
            assert_eq!(records.len(), 1_278);
            let ids: HashSet<&str> = records.iter().filter_map(|r| text(r, "id")).collect();
            assert_eq!(ids.len(), records.len());
            assert!(ids.iter().all(|id| id.len() == 17));
        }
    }
}
