//! espomcp's settings: where they come from, what they may be, and what is wrong with them.
//!
//! Three layers, merged with figment, each overriding the one before: the built-in defaults, the
//! TOML file (`--config PATH`, else `$XDG_CONFIG_HOME/espocrm-mcp/config.toml`, else
//! `~/.config/espocrm-mcp/config.toml`; a missing default file is fine), and the environment.
//! Every setting is one row of [`SETTINGS`]: its environment variable, TOML key, default, range
//! or kind, and help. The built-in defaults (figment's lowest layer), the bounds a number is
//! checked against and `--help`'s environment section (`cli.rs`) are derived from the rows, and
//! a test holds the README's table to them. A new setting is its row, its field in [`Config`]
//! and the line of `Reader::config` that reads it into that field.
//!
//! Lists (toolsets, entity types, hosts) are written comma-separated, or as a TOML array.
//! Command-line flags (`--read-only`, `--toolsets`, `--entities`, `--http`) are a fourth layer
//! above the environment ([`LoadOptions::flags`]).
//!
//! An environment variable set to the empty string counts as not set. Values are read leniently
//! (`ESPOCRM_TIMEOUT_SECS=30` and `timeout_secs = 30` alike; `true/false/yes/no/on/off/1/0` for
//! switches) and checked strictly: every unusable value becomes one line that names the setting,
//! as the user wrote it (the variable, or the key and the file), and says how to fix it. All such
//! lines are reported at once, and none of them ever shows the API key.
//!
//! The environment is passed in ([`Environment`]) rather than read here, so tests give each load
//! its own variables instead of changing the process's.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use espomcp_actors::{
    ApiKey, GatewayConfig, GatewaySettings, RateLimit, Secret, normalize_base_url,
};
use figment::providers::{Format, Toml};
use figment::value::{Dict, Map, Num, Value};
use figment::{Figment, Metadata, Profile, Provider};

use crate::toolsets::Toolset;

/// The directory under `$XDG_CONFIG_HOME` (or `~/.config`) that holds `config.toml`.
pub const CONFIG_DIR_NAME: &str = "espocrm-mcp";
const CONFIG_FILE_NAME: &str = "config.toml";

/// One setting: every fact about it except its type in [`Config`], written once, in
/// [`SETTINGS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The environment variable, which also names the setting in problems and in `--help`.
    pub env: &'static str,
    /// Where it lives in the TOML file: `[section] key`.
    pub section: &'static str,
    pub key: &'static str,
    /// The values it takes, and its value when no layer sets it.
    pub kind: Kind,
    /// What it does, as `--help` says it after the variable (the default follows it there).
    pub help: &'static str,
}

/// The values a setting takes, and what it is when no layer sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// A whole number in `min..=max`; `unit` says how those bounds read in a problem.
    Whole {
        default: u64,
        min: u64,
        max: u64,
        unit: Unit,
    },
    /// true or false (also yes/no, on/off, 1/0).
    Switch { default: bool },
    /// One word of a fixed set, which the setting's reader knows.
    Word { default: &'static str },
    /// Text (an address, a key, a path, a list of names), with no built-in value.
    Text(Unset),
}

impl Kind {
    /// A whole number: its default, then its bounds.
    const fn whole(default: u64, range: RangeInclusive<u64>, unit: Unit) -> Self {
        Self::Whole {
            default,
            min: *range.start(),
            max: *range.end(),
            unit,
        }
    }
}

/// What leaving a text setting unset means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unset {
    /// It must be set, except in demo mode (where espomcp talks to its in-process sandbox).
    Required,
    /// It may be left unset, and `--help` shows no default: its line says what happens then.
    Optional,
    /// What happens instead, as `--help` shows it in brackets: `stdio`, `all`, `off`.
    Means(&'static str),
}

/// How a number's bounds read in a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Seconds,
    /// 0 turns the thing off.
    ZeroIsOff,
}

impl Setting {
    fn path(self) -> String {
        format!("{}.{}", self.section, self.key)
    }

    /// Must be set (unless in demo mode).
    pub fn is_required(self) -> bool {
        self.kind == Kind::Text(Unset::Required)
    }

    /// The default as `--help` and the README show it (`30`, `true`, `agent`, `stdio`), or
    /// `None` when there is none to show.
    pub fn shown_default(self) -> Option<String> {
        match self.kind {
            Kind::Whole { default, .. } => Some(default.to_string()),
            Kind::Switch { default } => Some(default.to_string()),
            Kind::Word { default } | Kind::Text(Unset::Means(default)) => Some(default.to_owned()),
            Kind::Text(Unset::Required | Unset::Optional) => None,
        }
    }

    /// The value of figment's lowest layer, `None` for a setting without one.
    fn built_in(self) -> Option<Value> {
        match self.kind {
            Kind::Whole { default, .. } => Some(default.into()),
            Kind::Switch { default } => Some(default.into()),
            Kind::Word { default } => Some(default.into()),
            Kind::Text(_) => None,
        }
    }
}

const URL: Setting = Setting {
    env: "ESPOCRM_URL",
    section: "espocrm",
    key: "url",
    kind: Kind::Text(Unset::Required),
    help: "EspoCRM address, e.g. https://crm.example.com",
};
const API_KEY: Setting = Setting {
    env: "ESPOCRM_API_KEY",
    section: "espocrm",
    key: "api_key",
    kind: Kind::Text(Unset::Required),
    help: "API key of an EspoCRM API user",
};
const TIMEOUT: Setting = Setting {
    env: "ESPOCRM_TIMEOUT_SECS",
    section: "espocrm",
    key: "timeout_secs",
    kind: Kind::whole(30, 1..=3600, Unit::Seconds),
    help: "request timeout",
};
const TLS_VERIFY: Setting = Setting {
    env: "ESPOCRM_TLS_VERIFY",
    section: "espocrm",
    key: "tls_verify",
    kind: Kind::Switch { default: true },
    help: "verify TLS certificates",
};
const EMAIL_FROM: Setting = Setting {
    env: "ESPOCRM_EMAIL_FROM",
    section: "espocrm",
    key: "email_from",
    kind: Kind::Text(Unset::Optional),
    help: "default `from` address of email drafts",
};
/// 32 MiB by default: far above any page of 200 records or the metadata (about 1 MB), far below
/// what would hurt the process.
const MAX_RESPONSE: Setting = Setting {
    env: "ESPOCRM_MAX_RESPONSE_MIB",
    section: "espocrm",
    key: "max_response_mib",
    kind: Kind::whole(32, 1..=4096, Unit::Count),
    help: "largest answer read from EspoCRM, in MiB, 1-4096",
};
const MAX_LIMIT: Setting = Setting {
    env: "SERVER_MAX_LIMIT",
    section: "server",
    key: "max_limit",
    kind: Kind::whole(ESPOCRM_MAX_PAGE, 1..=ESPOCRM_MAX_PAGE, Unit::Count),
    help: "largest page a tool returns, 1-200",
};
const METADATA_TTL: Setting = Setting {
    env: "SERVER_METADATA_TTL_SECS",
    section: "server",
    key: "metadata_ttl_secs",
    kind: Kind::whole(300, 1..=86_400, Unit::Seconds),
    help: "how long the schema is cached",
};
const RATE_PER_SECOND: Setting = Setting {
    env: "SERVER_RATE_LIMIT_REQUESTS_PER_SECOND",
    section: "server",
    key: "rate_limit_requests_per_second",
    kind: Kind::whole(10, 0..=1000, Unit::ZeroIsOff),
    help: "requests per second to EspoCRM, 0 = no limit",
};
const RATE_BURST: Setting = Setting {
    env: "SERVER_RATE_LIMIT_BURST",
    section: "server",
    key: "rate_limit_burst",
    kind: Kind::whole(20, 1..=1000, Unit::Count),
    help: "burst above that rate",
};
const MAX_CONCURRENT: Setting = Setting {
    env: "SERVER_RATE_LIMIT_MAX_CONCURRENT",
    section: "server",
    key: "rate_limit_max_concurrent",
    kind: Kind::whole(5, 1..=64, Unit::Count),
    help: "requests in flight at once",
};
const DELETE_TTL: Setting = Setting {
    env: "SERVER_DELETE_CONFIRMATION_TTL_SECS",
    section: "server",
    key: "delete_confirmation_ttl_secs",
    kind: Kind::whole(300, 1..=86_400, Unit::Seconds),
    help: "how long a delete preview stays confirmable",
};
const DELETE_CONFIRMATION: Setting = Setting {
    env: "SERVER_DELETE_CONFIRMATION",
    section: "server",
    key: "delete_confirmation",
    kind: Kind::Word { default: "agent" },
    help: "who confirms a delete: agent, or human (asked via the client)",
};
/// `prompts` in the user's configuration directory ([`default_prompts_dir`]), not under the
/// working directory: clients start espomcp wherever they like (`/` for Claude Desktop on
/// macOS, the open project for editors).
const PROMPTS_DIR: Setting = Setting {
    env: "SERVER_PROMPTS_DIR",
    section: "server",
    key: "prompts_dir",
    kind: Kind::Text(Unset::Means("CONFIG_DIR/espocrm-mcp/prompts")),
    help: "where prompt templates live",
};
/// 50,000 by default: 250 pages of 200.
const AGGREGATE_MAX: Setting = Setting {
    env: "SERVER_AGGREGATE_MAX_RECORDS",
    section: "server",
    key: "aggregate_max_records",
    kind: Kind::whole(50_000, 1..=1_000_000, Unit::Count),
    help: "most records `aggregate` reads, 1-1000000",
};
const CALL_TIMEOUT: Setting = Setting {
    env: "SERVER_CALL_TIMEOUT_SECS",
    section: "server",
    key: "call_timeout_secs",
    kind: Kind::whole(DEFAULT_CALL_TIMEOUT_SECS, 1..=3600, Unit::Seconds),
    help: "longest one tool call may take, retries included",
};
const READ_ONLY: Setting = Setting {
    env: "SERVER_READ_ONLY",
    section: "server",
    key: "read_only",
    kind: Kind::Switch { default: false },
    help: "serve only the read tools, refuse the others",
};
const TOOLSETS: Setting = Setting {
    env: "SERVER_TOOLSETS",
    section: "server",
    key: "toolsets",
    kind: Kind::Text(Unset::Means("all")),
    help: "tool families served: read,write,notes,kanban,email",
};
const ENTITY_TYPES: Setting = Setting {
    env: "SERVER_ENTITY_TYPES",
    section: "server",
    key: "entity_types",
    kind: Kind::Text(Unset::Means("all")),
    help: "the only entity types tools may touch, e.g. Account,Contact",
};
const HTTP_ADDR: Setting = Setting {
    env: "SERVER_HTTP_ADDR",
    section: "server",
    key: "http_addr",
    kind: Kind::Text(Unset::Means("stdio")),
    help: "serve MCP over HTTP at this address (endpoint /mcp)",
};
/// Required when SERVER_HTTP_ADDR is not a loopback address (`Reader::http_needs_token`).
const HTTP_TOKEN: Setting = Setting {
    env: "SERVER_HTTP_TOKEN",
    section: "server",
    key: "http_token",
    kind: Kind::Text(Unset::Optional),
    help: "bearer token every HTTP request must carry (required off loopback)",
};
const HTTP_ALLOWED_HOSTS: Setting = Setting {
    env: "SERVER_HTTP_ALLOWED_HOSTS",
    section: "server",
    key: "http_allowed_hosts",
    kind: Kind::Text(Unset::Optional),
    help: "Host/Origin names accepted besides loopback, e.g. mcp.example.com",
};
const AUDIT_LOG: Setting = Setting {
    env: "SERVER_AUDIT_LOG",
    section: "server",
    key: "audit_log",
    kind: Kind::Text(Unset::Means("off")),
    help: "append one JSON line per write tool call to this file",
};
const LOG_LEVEL: Setting = Setting {
    env: "LOGGING_LEVEL",
    section: "logging",
    key: "level",
    kind: Kind::Word { default: "info" },
    help: "trace, debug, info, warn, error",
};
const LOG_JSON: Setting = Setting {
    env: "LOGGING_JSON",
    section: "logging",
    key: "json",
    kind: Kind::Switch { default: false },
    help: "JSON log lines",
};
const LOG_FILE: Setting = Setting {
    env: "LOGGING_FILE",
    section: "logging",
    key: "file",
    kind: Kind::Text(Unset::Optional),
    help: "also log to this file",
};

/// Every setting espomcp reads, in the order `--help` and the README list them.
pub const SETTINGS: [Setting; 26] = [
    URL,
    API_KEY,
    TIMEOUT,
    TLS_VERIFY,
    EMAIL_FROM,
    MAX_RESPONSE,
    MAX_LIMIT,
    METADATA_TTL,
    RATE_PER_SECOND,
    RATE_BURST,
    MAX_CONCURRENT,
    DELETE_TTL,
    DELETE_CONFIRMATION,
    PROMPTS_DIR,
    AGGREGATE_MAX,
    CALL_TIMEOUT,
    READ_ONLY,
    TOOLSETS,
    ENTITY_TYPES,
    HTTP_ADDR,
    HTTP_TOKEN,
    HTTP_ALLOWED_HOSTS,
    AUDIT_LOG,
    LOG_LEVEL,
    LOG_JSON,
    LOG_FILE,
];

/// EspoCRM answers 403 to a `maxSize` above 200.
const ESPOCRM_MAX_PAGE: u64 = 200;

/// The longest a tool call may take by default, retries included: under the 60 s after which
/// the usual clients (the TypeScript SDK's default request timeout) give up on a call, so the
/// agent reads why it failed instead of a client-side timeout.
pub const DEFAULT_CALL_TIMEOUT_SECS: u64 = 50;

const MIB: u64 = 1024 * 1024;

/// The shortest HTTP bearer token accepted.
const MIN_TOKEN_LENGTH: usize = 16;

/// The variables, besides the settings, that decide where the default config file is.
const XDG_CONFIG_HOME: &str = "XDG_CONFIG_HOME";
const HOME: &str = "HOME";
/// Windows' per-user configuration directory, where the prompts go there.
const APPDATA: &str = "APPDATA";

/// Everything espomcp is configured with, checked.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Config {
    pub espocrm: EspoCrmConfig,
    pub server: ServerConfig,
    pub logging: LoggingConfig,
    /// Started with `--demo`: the in-process sandbox stands in for EspoCRM.
    pub demo: bool,
}

/// How to reach EspoCRM.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EspoCrmConfig {
    /// The address EspoCRM is opened at, with or without `/api/v1`; an `http(s)` URL without
    /// credentials, query or fragment. `None` only in demo mode.
    pub url: Option<String>,
    /// `None` only in demo mode. Its `Debug` never shows it.
    pub api_key: Option<ApiKey>,
    /// The whole of one request attempt.
    pub timeout: Duration,
    /// Off only for a test instance with a self-signed certificate.
    pub tls_verify: bool,
    /// The sender address of drafted emails; EspoCRM's default for the API user when `None`.
    pub email_from: Option<String>,
    /// The largest answer body read from EspoCRM; a longer one is an error, read no further.
    pub max_response_bytes: u64,
}

/// Limits and lifetimes of the MCP server.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The most records one list call may ask for (1–200; EspoCRM refuses more).
    pub max_limit: u32,
    /// How long parsed metadata is trusted before it is fetched again.
    pub metadata_ttl: Duration,
    /// Requests to EspoCRM started per second, with a burst; `None` when set to 0.
    pub rate_limit: Option<RateLimit>,
    /// Requests to EspoCRM in flight at once.
    pub max_concurrent: NonZeroUsize,
    /// How long a delete preview can be confirmed.
    pub delete_confirmation_ttl: Duration,
    /// Who confirms a delete: the agent (two steps) or, in addition, a person asked through
    /// the client.
    pub delete_confirmation: DeleteConfirmation,
    /// Where the prompt templates live; relative paths are relative to the working directory.
    /// By default `prompts` in the configuration directory ([`default_prompts_dir`]).
    pub prompts_dir: PathBuf,
    /// The most records `aggregate` reads; a larger filtered set is refused up front.
    pub aggregate_max_records: u32,
    /// The longest one tool call may take, every request and retry included (not the wait for
    /// a person's answer to a delete confirmation).
    pub call_timeout: Duration,
    /// The file write tool calls are recorded in (one JSON line each); `None`: no audit.
    pub audit_log: Option<PathBuf>,
    /// Serve only the read-only tools, and refuse calls to the others.
    pub read_only: bool,
    /// The tool families served; all five by default.
    pub toolsets: BTreeSet<Toolset>,
    /// The entity types tools may touch; `None` = every one the API user can use.
    pub entity_types: Option<Vec<String>>,
    /// Serve MCP over Streamable HTTP at this address instead of stdio.
    pub http_addr: Option<SocketAddr>,
    /// The bearer token every HTTP request must carry. Its `Debug` never shows it.
    pub http_token: Option<BearerToken>,
    /// `Host` names (and browser `Origin` hosts) the HTTP transport accepts besides the
    /// loopback names, against DNS rebinding.
    pub http_allowed_hosts: Vec<String>,
}

/// The HTTP transport's bearer token, in a type that never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken(String);

impl BearerToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token, for the constant-time comparison in `http.rs` only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

/// Who must agree before `delete` deletes (`SERVER_DELETE_CONFIRMATION`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum DeleteConfirmation {
    /// The two-step flow: a preview, then the agent's `confirm: true`.
    #[default]
    Agent,
    /// The same two steps, and `confirm: true` asks the person through the MCP client (form
    /// elicitation); a client that cannot ask gets HUMAN_CONFIRMATION_UNAVAILABLE.
    Human,
}

impl DeleteConfirmation {
    pub const ALL: [Self; 2] = [Self::Agent, Self::Human];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Human => "human",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|mode| mode.as_str().eq_ignore_ascii_case(text))
    }
}

impl fmt::Display for DeleteConfirmation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where logs go and how much of them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoggingConfig {
    pub level: LogLevel,
    /// One JSON object per line instead of text.
    pub json: bool,
    /// A file that receives the logs too (appended to); stderr always does.
    pub file: Option<PathBuf>,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            level: LogLevel::Info,
            json: false,
            file: None,
        }
    }
}

/// How much espomcp logs. At `Trace`, request and response bodies are logged, redacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    pub const ALL: [Self; 5] = [
        Self::Trace,
        Self::Debug,
        Self::Info,
        Self::Warn,
        Self::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(text))
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The environment variables a load reads: the process's, or a test's own.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Environment {
    vars: BTreeMap<String, String>,
    /// Variables that are set in the process but are not valid UTF-8.
    not_unicode: Vec<&'static str>,
}

impl Environment {
    /// A snapshot of the process's variables that espomcp reads (and no others).
    pub fn process() -> Self {
        let mut environment = Self::default();
        let names =
            SETTINGS
                .iter()
                .map(|setting| setting.env)
                .chain([XDG_CONFIG_HOME, HOME, APPDATA]);
        for name in names {
            match std::env::var(name) {
                Ok(value) => {
                    environment.vars.insert(name.to_owned(), value);
                }
                Err(std::env::VarError::NotUnicode(_)) => environment.not_unicode.push(name),
                Err(std::env::VarError::NotPresent) => {}
            }
        }
        environment
    }

    /// The value, unless it is unset or empty (which count the same).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Environment {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(name, value)| (name.into(), value.into()))
                .collect(),
            not_unicode: Vec::new(),
        }
    }
}

/// Lists the names only: the values include the API key.
impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Environment")
            .field("names", &self.vars.keys().collect::<Vec<_>>())
            .field("not_unicode", &self.not_unicode)
            .finish()
    }
}

/// What [`Config::load`] needs from the command line and the process.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--config PATH`: this file must exist. Without it, the default file is read if it exists.
    pub config_path: Option<PathBuf>,
    /// `--demo`: EspoCRM's URL and API key are not required.
    pub demo: bool,
    pub env: Environment,
    /// Command-line flags that set a setting, above the environment: (the setting's
    /// environment variable, the flag as typed, its value).
    pub flags: Vec<(&'static str, &'static str, String)>,
}

impl LoadOptions {
    /// The options of a real run: the process's environment.
    pub fn from_process(config_path: Option<PathBuf>, demo: bool) -> Self {
        Self {
            config_path,
            demo,
            env: Environment::process(),
            flags: Vec::new(),
        }
    }

    /// Adds a flag that sets the setting whose environment variable is `env`; a flag for no
    /// known setting is ignored.
    pub fn with_flag(mut self, env: &str, flag: &'static str, value: impl Into<String>) -> Self {
        if let Some(setting) = SETTINGS.iter().find(|setting| setting.env == env) {
            self.flags.push((setting.env, flag, value.into()));
        }
        self
    }
}

/// A loaded configuration and what the user should hear about it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Loaded {
    pub config: Config,
    /// Things that work but probably should not be so: a config file others can read, a key in
    /// the file that espomcp does not know (a typo?). One line each.
    pub warnings: Vec<String>,
    /// Keys of the file that espomcp ignored (also among the warnings): `check` fails on them,
    /// since a misspelt key means a setting the user believes set is not.
    pub ignored_settings: Vec<String>,
    /// The config file that was read, if any.
    pub config_file: Option<PathBuf>,
}

/// Why espomcp cannot start with this configuration. Displayed as one line per problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `--config` named a file that is not there.
    #[error("config file {} does not exist: check the --config path", .path.display())]
    FileNotFound { path: PathBuf },

    /// The file is there but cannot be read or is not TOML.
    #[error("config file {} {message}", .path.display())]
    File { path: PathBuf, message: String },

    /// One or more settings are missing or unusable. `warnings` are what [`Loaded::warnings`]
    /// would have held: a misspelt key is often why a setting is missing, so they are shown
    /// with the problems.
    #[error("{}", lines(.problems))]
    Invalid {
        problems: Vec<Problem>,
        warnings: Vec<String>,
    },
}

impl ConfigError {
    /// What else the user should hear (unknown keys in the file, …), besides the error itself.
    pub fn warnings(&self) -> &[String] {
        match self {
            ConfigError::Invalid { warnings, .. } => warnings,
            ConfigError::FileNotFound { .. } | ConfigError::File { .. } => &[],
        }
    }
}

fn lines(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// One unusable setting, as one line that names it and says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The setting's environment variable, whichever layer the bad value came from.
    pub setting: &'static str,
    line: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line)
    }
}

impl Config {
    /// Reads the defaults, the file and the environment, and checks the result.
    pub fn load(options: LoadOptions) -> Result<Loaded, ConfigError> {
        let LoadOptions {
            config_path,
            demo,
            env,
            flags,
        } = options;
        let mut warnings = Vec::new();

        let config_file = match config_path {
            Some(path) if !path.exists() => return Err(ConfigError::FileNotFound { path }),
            Some(path) => Some(path),
            None => default_config_path(&env).filter(|path| path.exists()),
        };

        let mut figment = Figment::from(Defaults);
        let mut ignored_settings = Vec::new();
        if let Some(path) = &config_file {
            let file = ConfigFile::read(path)?;
            ignored_settings = unknown_keys(path, &file.dict);
            warnings.extend(ignored_settings.iter().cloned());
            warnings.extend(permission_warning(path));
            figment = figment.merge(file);
        }
        figment = figment.merge(EnvProvider(&env));
        figment = figment.merge(FlagProvider(&flags));

        let mut reader = Reader {
            figment: &figment,
            env: &env,
            warnings: Vec::new(),
            file: config_file.as_deref(),
            flags: &flags,
            problems: env
                .not_unicode
                .iter()
                .map(|name| Problem {
                    setting: name,
                    line: format!("{name} is not valid UTF-8: set it to plain text"),
                })
                .collect(),
        };
        let config = reader.config(demo);
        warnings.append(&mut reader.warnings);
        match config {
            Some(config) if reader.problems.is_empty() => Ok(Loaded {
                config,
                warnings,
                ignored_settings,
                config_file,
            }),
            _ => Err(ConfigError::Invalid {
                problems: reader.problems,
                warnings,
            }),
        }
    }

    /// The gateway's configuration for the configured EspoCRM; `None` in demo mode without one.
    pub fn gateway_config(&self) -> Option<GatewayConfig> {
        let url = self.espocrm.url.clone()?;
        let api_key = self.espocrm.api_key.clone()?;
        Some(self.gateway_config_for(url, api_key))
    }

    /// The gateway's configuration for another EspoCRM (the demo sandbox), with this
    /// configuration's limits and timeouts.
    pub fn gateway_config_for(
        &self,
        base_url: impl Into<String>,
        api_key: ApiKey,
    ) -> GatewayConfig {
        let settings = GatewaySettings {
            max_concurrent: self.server.max_concurrent,
            rate_limit: self.server.rate_limit,
            request_timeout: self.espocrm.timeout,
            verify_tls: self.espocrm.tls_verify,
            max_response_bytes: self.espocrm.max_response_bytes,
        };
        let mut gateway = GatewayConfig::new(base_url, api_key, settings);
        // An upstream that echoes a credential must not hand it to the agent either.
        gateway.other_secrets = self
            .server
            .http_token
            .iter()
            .map(|token| Secret::new(token.expose()))
            .collect();
        gateway
    }
}

/// A summary for `espomcp check` and for logs: every setting, the API key only as set or not.
impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let or_none = |value: Option<String>| value.unwrap_or_else(|| "(none)".to_owned());
        let rate = match self.server.rate_limit {
            Some(limit) => format!("{}/s, burst {}", limit.per_second, limit.burst),
            None => "off".to_owned(),
        };
        let key = if self.espocrm.api_key.is_some() {
            "set (hidden)"
        } else {
            "(none)"
        };
        writeln!(f, "demo mode:            {}", self.demo)?;
        writeln!(
            f,
            "EspoCRM URL:          {}",
            or_none(self.espocrm.url.clone())
        )?;
        writeln!(f, "API key:              {key}")?;
        writeln!(
            f,
            "request timeout:      {} s",
            self.espocrm.timeout.as_secs()
        )?;
        writeln!(f, "TLS verification:     {}", self.espocrm.tls_verify)?;
        writeln!(
            f,
            "largest answer:       {} MiB",
            self.espocrm.max_response_bytes / MIB
        )?;
        writeln!(
            f,
            "email sender:         {}",
            or_none(self.espocrm.email_from.clone())
        )?;
        writeln!(f, "max records per list: {}", self.server.max_limit)?;
        writeln!(
            f,
            "metadata kept for:    {} s",
            self.server.metadata_ttl.as_secs()
        )?;
        writeln!(f, "rate limit:           {rate}")?;
        writeln!(f, "requests in flight:   {}", self.server.max_concurrent)?;
        writeln!(
            f,
            "delete preview valid: {} s",
            self.server.delete_confirmation_ttl.as_secs()
        )?;
        writeln!(
            f,
            "delete confirmed by:  {}",
            self.server.delete_confirmation
        )?;
        writeln!(
            f,
            "prompts directory:    {}",
            self.server.prompts_dir.display()
        )?;
        writeln!(
            f,
            "aggregate ceiling:    {} records",
            self.server.aggregate_max_records
        )?;
        writeln!(
            f,
            "call timeout:         {} s",
            self.server.call_timeout.as_secs()
        )?;
        let toolsets: Vec<&str> = self.server.toolsets.iter().map(|t| t.as_str()).collect();
        writeln!(f, "read-only:            {}", self.server.read_only)?;
        writeln!(f, "toolsets:             {}", toolsets.join(","))?;
        writeln!(
            f,
            "entity types:         {}",
            self.server
                .entity_types
                .as_ref()
                .map_or_else(|| "all".to_owned(), |types| types.join(","))
        )?;
        writeln!(
            f,
            "HTTP address:         {}",
            or_none(self.server.http_addr.map(|address| address.to_string()))
        )?;
        let token = if self.server.http_token.is_some() {
            "set (hidden)"
        } else {
            "(none)"
        };
        writeln!(f, "HTTP token:           {token}")?;
        writeln!(
            f,
            "audit log:            {}",
            or_none(
                self.server
                    .audit_log
                    .as_ref()
                    .map(|path| path.display().to_string())
            )
        )?;
        writeln!(f, "log level:            {}", self.logging.level)?;
        writeln!(f, "JSON logs:            {}", self.logging.json)?;
        write!(
            f,
            "log file:             {}",
            or_none(
                self.logging
                    .file
                    .as_ref()
                    .map(|path| path.display().to_string())
            )
        )
    }
}

/// `$XDG_CONFIG_HOME/espocrm-mcp/config.toml`, else `$HOME/.config/espocrm-mcp/config.toml`.
/// A relative `XDG_CONFIG_HOME` is ignored, as the XDG specification says.
pub fn default_config_path(env: &Environment) -> Option<PathBuf> {
    let config_home = env
        .get(XDG_CONFIG_HOME)
        .map(PathBuf::from)
        .filter(|path| path.is_absolute())
        .or_else(|| env.get(HOME).map(|home| Path::new(home).join(".config")))?;
    Some(config_home.join(CONFIG_DIR_NAME).join(CONFIG_FILE_NAME))
}

/// Where prompt templates live unless SERVER_PROMPTS_DIR says otherwise: `prompts` beside
/// `config.toml` in the user's configuration directory, so one set of templates serves every
/// client however it starts espomcp. `$XDG_CONFIG_HOME` (when absolute) wherever it is set, else
/// the platform's own: `~/.config` on Linux and the other Unixes, `~/Library/Application
/// Support` on macOS, `%APPDATA%` on Windows. `None` without a home (then the working
/// directory's `.espomcp/prompts` is used, with a warning).
///
/// Written here rather than taken from the `dirs` crate: it is these three cases, and reading
/// them from [`Environment`] lets tests give each load its own HOME without touching the
/// process's (`dirs` reads the process environment, and on Windows asks the shell API).
pub fn default_prompts_dir(env: &Environment) -> Option<PathBuf> {
    let xdg = env
        .get(XDG_CONFIG_HOME)
        .map(PathBuf::from)
        .filter(|path| path.is_absolute());
    let platform = || -> Option<PathBuf> {
        if cfg!(windows) {
            env.get(APPDATA).map(PathBuf::from)
        } else if cfg!(target_os = "macos") {
            env.get(HOME)
                .map(|home| Path::new(home).join("Library").join("Application Support"))
        } else {
            env.get(HOME).map(|home| Path::new(home).join(".config"))
        }
    };
    let config_home = xdg.or_else(platform)?;
    Some(config_home.join(CONFIG_DIR_NAME).join("prompts"))
}

/// The prompts directory when there is no home to put it in.
const FALLBACK_PROMPTS_DIR: &str = ".espomcp/prompts";

/// The built-in defaults, as figment's lowest layer.
struct Defaults;

impl Provider for Defaults {
    fn metadata(&self) -> Metadata {
        Metadata::named("built-in defaults")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let defaults = SETTINGS
            .iter()
            .filter_map(|setting| Some((*setting, setting.built_in()?)));
        Ok(Profile::Default.collect(nest(defaults)))
    }
}

/// The TOML file, as figment's middle layer, read and parsed once.
struct ConfigFile {
    path: PathBuf,
    dict: Dict,
}

impl ConfigFile {
    fn read(path: &Path) -> Result<Self, ConfigError> {
        let failed = |message: String| ConfigError::File {
            path: path.to_owned(),
            message,
        };
        let contents = std::fs::read_to_string(path)
            .map_err(|error| failed(format!("cannot be read: {error}")))?;
        let mut data = Toml::string(&contents)
            .data()
            .map_err(|error| failed(format!("is not valid TOML: {}", toml_error(&error))))?;
        Ok(Self {
            path: path.to_owned(),
            dict: data.remove(&Profile::Default).unwrap_or_default(),
        })
    }
}

impl Provider for ConfigFile {
    fn metadata(&self) -> Metadata {
        Metadata::from("config file", self.path.as_path())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

/// toml's error spans lines and quotes the offending line, which may hold the API key: keep
/// the position and the explanation, on one line, and drop the quote.
fn toml_error(error: &figment::Error) -> String {
    let message = error.to_string();
    let lines: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|line| {
            let quoted = line.starts_with('|')
                || line
                    .split_once('|')
                    .is_some_and(|(number, _)| number.trim().parse::<u64>().is_ok());
            !line.is_empty() && !quoted
        })
        .collect();
    let joined = lines.join("; ");
    match joined.strip_prefix("TOML parse error at ") {
        Some(rest) => rest.replacen(';', ":", 1),
        None => joined,
    }
}

/// The environment, as figment's top layer: each variable is put at its TOML path.
struct EnvProvider<'a>(&'a Environment);

impl Provider for EnvProvider<'_> {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment variable")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let values = SETTINGS.iter().filter_map(|setting| {
            let value = self.0.get(setting.env)?;
            Some((*setting, Value::from(value)))
        });
        Ok(Profile::Default.collect(nest(values)))
    }
}

/// The command-line flags, as figment's top layer.
struct FlagProvider<'a>(&'a [(&'static str, &'static str, String)]);

impl Provider for FlagProvider<'_> {
    fn metadata(&self) -> Metadata {
        Metadata::named("command line")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let values = self.0.iter().filter_map(|(env, _, value)| {
            let setting = SETTINGS.iter().find(|setting| setting.env == *env)?;
            Some((*setting, Value::from(value.as_str())))
        });
        Ok(Profile::Default.collect(nest(values)))
    }
}

/// `[(espocrm.url, v)]` → `{espocrm: {url: v}}`.
fn nest(values: impl IntoIterator<Item = (Setting, Value)>) -> Dict {
    let mut sections: BTreeMap<&str, Dict> = BTreeMap::new();
    for (setting, value) in values {
        sections
            .entry(setting.section)
            .or_default()
            .insert(setting.key.to_owned(), value);
    }
    sections
        .into_iter()
        .map(|(section, keys)| (section.to_owned(), Value::from(keys)))
        .collect()
}

/// Keys of the file that espomcp does not read: probably typos, so the user hears of them.
fn unknown_keys(path: &Path, dict: &Dict) -> Vec<String> {
    let mut warnings = Vec::new();
    for (section, value) in dict {
        let known: Vec<&Setting> = SETTINGS
            .iter()
            .filter(|setting| setting.section == section)
            .collect();
        if known.is_empty() {
            let hint = SETTINGS
                .iter()
                .find(|setting| setting.key == section)
                .map(|setting| format!(": did you mean `{}` under [{}]?", section, setting.section))
                .unwrap_or_default();
            warnings.push(format!(
                "config file {} has an unknown setting `{section}`, which is ignored{hint}",
                path.display()
            ));
            continue;
        }
        let Value::Dict(_, keys) = value else {
            warnings.push(format!(
                "config file {}: `{section}` must be a section ([{section}]); it is ignored",
                path.display()
            ));
            continue;
        };
        for key in keys.keys() {
            if !known.iter().any(|setting| setting.key == key) {
                let names: Vec<&str> = known.iter().map(|setting| setting.key).collect();
                warnings.push(format!(
                    "config file {} has an unknown setting `{key}` in [{section}], which is \
                     ignored: the settings of [{section}] are {}",
                    path.display(),
                    names.join(", ")
                ));
            }
        }
    }
    warnings
}

/// The file may hold the API key, so only its owner should be able to read it.
#[cfg(unix)]
fn permission_warning(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;

    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        let path = path.display();
        format!(
            "config file {path} is readable by other users; it may hold the API key: \
             chmod 600 {path}"
        )
    })
}

#[cfg(not(unix))]
fn permission_warning(_path: &Path) -> Option<String> {
    None
}

/// Which layer a value came from, so a problem names the setting as the user wrote it.
enum Origin {
    Defaults,
    File,
    Environment,
    CommandLine,
}

/// Reads each setting from the merged layers and collects what is wrong with them.
struct Reader<'a> {
    figment: &'a Figment,
    /// For the defaults that depend on where the user's home is.
    env: &'a Environment,
    /// Values that work but probably do not do what the user wants.
    warnings: Vec<String>,
    file: Option<&'a Path>,
    flags: &'a [(&'static str, &'static str, String)],
    problems: Vec<Problem>,
}

/// A value as found, with the name the user knows its setting by.
struct Found {
    value: Value,
    label: String,
}

/// A text or list setting as the user wrote it.
enum Written<T> {
    /// No layer sets it, or the one that does sets it to nothing (blank, an empty list).
    Nothing,
    /// The value, trimmed, with the name the user knows the setting by (problems start with it).
    Value { value: T, label: String },
    /// Not text (or not a list of text): its problem is recorded.
    Unusable,
}

impl Reader<'_> {
    fn config(&mut self, demo: bool) -> Option<Config> {
        let url = self.url(demo);
        let api_key = self.api_key(demo);
        let timeout = self.whole(TIMEOUT);
        let tls_verify = self.switch(TLS_VERIFY);
        let email_from = self.email(EMAIL_FROM);
        let max_response_mib = self.whole(MAX_RESPONSE);
        let max_limit = self.whole(MAX_LIMIT);
        let metadata_ttl = self.whole(METADATA_TTL);
        let per_second = self.whole(RATE_PER_SECOND);
        let burst = self.whole(RATE_BURST);
        let max_concurrent = self.whole(MAX_CONCURRENT);
        let delete_ttl = self.whole(DELETE_TTL);
        let delete_confirmation = self.delete_confirmation(DELETE_CONFIRMATION);
        let prompts_dir = self.path(PROMPTS_DIR);
        let aggregate_max = self.whole(AGGREGATE_MAX);
        let call_timeout = self.whole(CALL_TIMEOUT);
        let read_only = self.switch(READ_ONLY);
        let toolsets = self.toolsets(TOOLSETS);
        let entity_types = self.entity_types(ENTITY_TYPES);
        let http_addr = self.socket_address(HTTP_ADDR);
        let http_token = self.token(HTTP_TOKEN);
        let http_allowed_hosts = self.hosts(HTTP_ALLOWED_HOSTS);
        self.http_needs_token(
            http_addr.flatten(),
            http_token.as_ref().and_then(Option::as_ref),
        );
        let audit_log = self.path(AUDIT_LOG);
        let level = self.level(LOG_LEVEL);
        let json = self.switch(LOG_JSON);
        let log_file = self.path(LOG_FILE);

        let rate_limit = match (per_second?, burst?) {
            (0, _) => None,
            (per_second, burst) => Some(
                RateLimit::per_second(NonZeroU32::new(u32::try_from(per_second).ok()?)?)
                    .with_burst(NonZeroU32::new(u32::try_from(burst).ok()?)?),
            ),
        };
        Some(Config {
            espocrm: EspoCrmConfig {
                url: url?,
                api_key: api_key?,
                timeout: Duration::from_secs(timeout?),
                tls_verify: tls_verify?,
                email_from: email_from?,
                max_response_bytes: max_response_mib? * MIB,
            },
            server: ServerConfig {
                max_limit: u32::try_from(max_limit?).ok()?,
                metadata_ttl: Duration::from_secs(metadata_ttl?),
                rate_limit,
                max_concurrent: NonZeroUsize::new(usize::try_from(max_concurrent?).ok()?)?,
                delete_confirmation_ttl: Duration::from_secs(delete_ttl?),
                delete_confirmation: delete_confirmation?,
                prompts_dir: match prompts_dir? {
                    Some(dir) => dir,
                    None => self.default_prompts_dir(),
                },
                aggregate_max_records: u32::try_from(aggregate_max?).ok()?,
                call_timeout: Duration::from_secs(call_timeout?),
                read_only: read_only?,
                toolsets: toolsets?,
                entity_types: entity_types?,
                http_addr: http_addr?,
                http_token: http_token?,
                http_allowed_hosts: http_allowed_hosts?,
                audit_log: audit_log?,
            },
            logging: LoggingConfig {
                level: level?,
                json: json?,
                file: log_file?,
            },
            demo,
        })
    }

    fn default_prompts_dir(&mut self) -> PathBuf {
        default_prompts_dir(self.env).unwrap_or_else(|| {
            self.warnings.push(format!(
                "neither XDG_CONFIG_HOME nor {} is set: prompt templates go to {} under the \
                 working directory; set SERVER_PROMPTS_DIR to keep them in one place",
                if cfg!(windows) { "APPDATA" } else { HOME },
                FALLBACK_PROMPTS_DIR
            ));
            PathBuf::from(FALLBACK_PROMPTS_DIR)
        })
    }

    /// The value of the highest layer that sets it, or `None` when no layer does.
    fn find(&self, setting: Setting) -> Option<Found> {
        let path = setting.path();
        let value = self.figment.find_value(&path).ok()?;
        let origin = match self.figment.find_metadata(&path) {
            Some(metadata) if metadata.source.is_some() => Origin::File,
            Some(metadata) if metadata.name == "built-in defaults" => Origin::Defaults,
            Some(metadata) if metadata.name == "command line" => Origin::CommandLine,
            _ => Origin::Environment,
        };
        let flag = self
            .flags
            .iter()
            .rev()
            .find(|(env, _, _)| *env == setting.env)
            .map(|(_, flag, _)| *flag);
        let label = match (origin, self.file) {
            (Origin::File, Some(file)) => {
                format!(
                    "`{}` in [{}] of {}",
                    setting.key,
                    setting.section,
                    file.display()
                )
            }
            (Origin::CommandLine, _) if flag.is_some() => flag.unwrap_or_default().to_owned(),
            (Origin::Defaults | Origin::Environment | Origin::File | Origin::CommandLine, _) => {
                setting.env.to_owned()
            }
        };
        Some(Found { value, label })
    }

    fn problem(&mut self, setting: Setting, line: String) {
        self.problems.push(Problem {
            setting: setting.env,
            line,
        });
    }

    /// Text, trimmed; an empty text is [`Written::Nothing`].
    fn text(&mut self, setting: Setting, expected: &str) -> Written<String> {
        let Some(found) = self.find(setting) else {
            return Written::Nothing;
        };
        match &found.value {
            Value::String(_, text) if text.trim().is_empty() => Written::Nothing,
            Value::String(_, text) => Written::Value {
                value: text.trim().to_owned(),
                label: found.label,
            },
            other => {
                let line = format!("{} must be {expected} (got {})", found.label, shown(other));
                self.problem(setting, line);
                Written::Unusable
            }
        }
    }

    fn url(&mut self, demo: bool) -> Option<Option<String>> {
        let (url, label) = match self.text(URL, "an address in quotes") {
            Written::Value { value, label } => (value, label),
            Written::Unusable => return None,
            Written::Nothing if demo => return Some(None),
            Written::Nothing => {
                self.problem(
                    URL,
                    "ESPOCRM_URL is not set: set it to your EspoCRM address, \
                     e.g. https://crm.example.com"
                        .to_owned(),
                );
                return Some(None);
            }
        };
        match normalize_base_url(&url) {
            Ok(_) => Some(Some(url)),
            Err(_) => {
                let line = format!(
                    "{label} {:?} is not an http(s) URL: write the address you open EspoCRM at, \
                     e.g. https://crm.example.com (no user name, password, query or fragment)",
                    without_password(&url)
                );
                self.problem(URL, line);
                None
            }
        }
    }

    /// Never shows the value: not in a problem, not in a log.
    fn api_key(&mut self, demo: bool) -> Option<Option<ApiKey>> {
        let Some(found) = self.find(API_KEY) else {
            return self.missing_api_key(demo);
        };
        let key = match &found.value {
            Value::String(_, key) => key.trim(),
            _ => {
                let line = format!("{} must be text in quotes", found.label);
                self.problem(API_KEY, line);
                return None;
            }
        };
        if key.is_empty() {
            return self.missing_api_key(demo);
        }
        if !key.bytes().all(|byte| byte.is_ascii_graphic()) {
            let line = format!(
                "{} contains spaces, control or non-ASCII characters, which cannot be sent in \
                 an HTTP header: copy the key again from the API user's page in EspoCRM",
                found.label
            );
            self.problem(API_KEY, line);
            return None;
        }
        Some(Some(ApiKey::new(key)))
    }

    fn missing_api_key(&mut self, demo: bool) -> Option<Option<ApiKey>> {
        if demo {
            return Some(None);
        }
        self.problem(
            API_KEY,
            "ESPOCRM_API_KEY is not set: create an API user in EspoCRM (Administration > API \
             Users) and set it to that user's API key"
                .to_owned(),
        );
        None
    }

    fn email(&mut self, setting: Setting) -> Option<Option<String>> {
        let (address, label) = match self.text(setting, "an email address in quotes") {
            Written::Value { value, label } => (value, label),
            Written::Nothing => return Some(None),
            Written::Unusable => return None,
        };
        if looks_like_email(&address) {
            Some(Some(address))
        } else {
            let line = format!(
                "{label} {address:?} is not an email address: use one like sales@example.com"
            );
            self.problem(setting, line);
            None
        }
    }

    fn path(&mut self, setting: Setting) -> Option<Option<PathBuf>> {
        match self.text(setting, "a path in quotes") {
            Written::Value { value, .. } => Some(Some(PathBuf::from(value))),
            Written::Nothing => Some(None),
            Written::Unusable => None,
        }
    }

    /// A number within the bounds of the setting's row.
    fn whole(&mut self, setting: Setting) -> Option<u64> {
        let Kind::Whole { min, max, unit, .. } = setting.kind else {
            unreachable!("{} is not a number in SETTINGS", setting.env)
        };
        let found = self.find(setting)?;
        let number = match &found.value {
            Value::Num(_, number) => integer(*number),
            Value::String(_, text) => text.trim().parse::<i128>().ok(),
            _ => None,
        };
        let Some(number) = number else {
            let line = format!(
                "{} must be a whole number{} (got {})",
                found.label,
                unit.of(),
                shown(&found.value)
            );
            self.problem(setting, line);
            return None;
        };
        match u64::try_from(number) {
            Ok(number) if (min..=max).contains(&number) => Some(number),
            _ => {
                let line = format!(
                    "{} must be between {min}{} and {max}{} (got {number})",
                    found.label,
                    unit.after_min(),
                    unit.after_max()
                );
                self.problem(setting, line);
                None
            }
        }
    }

    fn switch(&mut self, setting: Setting) -> Option<bool> {
        let found = self.find(setting)?;
        let switch = match &found.value {
            Value::Bool(_, switch) => Some(*switch),
            Value::String(_, text) => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => Some(true),
                "false" | "no" | "off" | "0" => Some(false),
                _ => None,
            },
            _ => None,
        };
        if switch.is_none() {
            let line = format!(
                "{} must be true or false (got {})",
                found.label,
                shown(&found.value)
            );
            self.problem(setting, line);
        }
        switch
    }

    fn delete_confirmation(&mut self, setting: Setting) -> Option<DeleteConfirmation> {
        let found = self.find(setting)?;
        let mode = match &found.value {
            Value::String(_, text) => DeleteConfirmation::parse(text.trim()),
            _ => None,
        };
        if mode.is_none() {
            let line = format!(
                "{} must be agent (the agent confirms a previewed delete) or human (the person \
                 is asked through the MCP client) (got {})",
                found.label,
                shown(&found.value)
            );
            self.problem(setting, line);
        }
        mode
    }

    /// A list, comma-separated or a TOML array of strings; an empty one is
    /// [`Written::Nothing`].
    fn list(&mut self, setting: Setting, expected: &str) -> Written<Vec<String>> {
        let Some(found) = self.find(setting) else {
            return Written::Nothing;
        };
        let items: Option<Vec<String>> = match &found.value {
            Value::String(_, text) => Some(
                text.split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
            Value::Array(_, values) => values
                .iter()
                .map(|value| match value {
                    Value::String(_, text) => Some(text.trim().to_owned()),
                    _ => None,
                })
                .collect(),
            _ => None,
        };
        match items {
            Some(items) if items.is_empty() => Written::Nothing,
            Some(items) => Written::Value {
                value: items,
                label: found.label,
            },
            None => {
                let line = format!(
                    "{} must be {expected}, comma-separated or a list (got {})",
                    found.label,
                    shown(&found.value)
                );
                self.problem(setting, line);
                Written::Unusable
            }
        }
    }

    fn toolsets(&mut self, setting: Setting) -> Option<BTreeSet<Toolset>> {
        let names: Vec<&str> = Toolset::ALL.iter().map(|t| t.as_str()).collect();
        let (items, label) = match self.list(setting, "toolset names") {
            Written::Value { value, label } => (value, label),
            Written::Nothing => return Some(Toolset::ALL.into_iter().collect()),
            Written::Unusable => return None,
        };
        let unknown: Vec<&String> = items
            .iter()
            .filter(|item| Toolset::parse(item).is_none())
            .collect();
        if !unknown.is_empty() {
            let line = format!(
                "{label} names unknown toolsets {unknown:?}: the toolsets are {}",
                names.join(", ")
            );
            self.problem(setting, line);
            return None;
        }
        let toolsets: BTreeSet<Toolset> = items
            .iter()
            .filter_map(|item| Toolset::parse(item))
            .collect();
        if !toolsets.contains(&Toolset::Read) {
            self.warnings.push(format!(
                "{label} leaves out the `read` toolset: no search, get or list_entity_types, so \
                 an agent cannot find the records or ids the other tools need; add `read` \
                 unless that is what you want"
            ));
        }
        Some(toolsets)
    }

    /// Entity type names, checked for their form here; whether EspoCRM knows them is checked
    /// against its metadata when espomcp starts.
    fn entity_types(&mut self, setting: Setting) -> Option<Option<Vec<String>>> {
        let (items, label) = match self.list(setting, "entity type names") {
            Written::Value { value, label } => (value, label),
            Written::Nothing => return Some(None),
            Written::Unusable => return None,
        };
        let malformed: Vec<&String> = items
            .iter()
            .filter(|item| {
                !item.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    || !item.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            })
            .collect();
        if !malformed.is_empty() {
            let line = format!(
                "{label} has {malformed:?}, which cannot be entity type names: list them as \
                 EspoCRM names them, e.g. Account,Contact,Opportunity"
            );
            self.problem(setting, line);
            return None;
        }
        Some(Some(items))
    }

    fn socket_address(&mut self, setting: Setting) -> Option<Option<SocketAddr>> {
        let (text, label) = match self.text(setting, "an address in quotes") {
            Written::Value { value, label } => (value, label),
            Written::Nothing => return Some(None),
            Written::Unusable => return None,
        };
        let resolved = match text.strip_prefix("localhost:") {
            Some(port) => format!("127.0.0.1:{port}"),
            None => text.clone(),
        };
        match resolved.parse::<SocketAddr>() {
            Ok(address) => Some(Some(address)),
            Err(_) => {
                let line = format!(
                    "{label} {text:?} is not an address to listen on: write IP:PORT, \
                     e.g. 127.0.0.1:8765"
                );
                self.problem(setting, line);
                None
            }
        }
    }

    /// Never shows the value.
    fn token(&mut self, setting: Setting) -> Option<Option<BearerToken>> {
        let Some(found) = self.find(setting) else {
            return Some(None);
        };
        let Value::String(_, token) = &found.value else {
            let line = format!("{} must be text in quotes", found.label);
            self.problem(setting, line);
            return None;
        };
        let token = token.trim();
        if token.is_empty() {
            return Some(None);
        }
        if token.len() < MIN_TOKEN_LENGTH || !token.bytes().all(|byte| byte.is_ascii_graphic()) {
            let line = format!(
                "{} must be at least {MIN_TOKEN_LENGTH} visible ASCII characters without spaces: \
                 generate one, e.g. with `openssl rand -hex 32`",
                found.label
            );
            self.problem(setting, line);
            return None;
        }
        Some(Some(BearerToken::new(token)))
    }

    fn hosts(&mut self, setting: Setting) -> Option<Vec<String>> {
        let (items, label) = match self.list(setting, "host names") {
            Written::Value { value, label } => (value, label),
            Written::Nothing => return Some(Vec::new()),
            Written::Unusable => return None,
        };
        let bad: Vec<&String> = items
            .iter()
            .filter(|item| {
                item.contains("://")
                    || !item
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
            })
            .collect();
        if !bad.is_empty() {
            let line = format!(
                "{label} has {bad:?}: list host names or IP addresses (optionally with :port), \
                 without a scheme, e.g. mcp.example.com,10.0.0.5:8765"
            );
            self.problem(setting, line);
            return None;
        }
        Some(items)
    }

    /// Anyone who can reach a non-loopback address could use the API key: refuse to serve
    /// there without a token.
    fn http_needs_token(&mut self, address: Option<SocketAddr>, token: Option<&BearerToken>) {
        if let Some(address) = address
            && !address.ip().is_loopback()
            && token.is_none()
        {
            self.problem(
                HTTP_TOKEN,
                format!(
                    "SERVER_HTTP_TOKEN is not set, and HTTP on {address} (not a loopback \
                     address) would let anyone who reaches it use EspoCRM as the API user: set \
                     SERVER_HTTP_TOKEN to a long random secret, or listen on 127.0.0.1"
                ),
            );
        }
    }

    fn level(&mut self, setting: Setting) -> Option<LogLevel> {
        let found = self.find(setting)?;
        let level = match &found.value {
            Value::String(_, text) => LogLevel::parse(text.trim()),
            _ => None,
        };
        if level.is_none() {
            let names: Vec<&str> = LogLevel::ALL.iter().map(|level| level.as_str()).collect();
            let line = format!(
                "{} must be one of {} (got {})",
                found.label,
                names.join(", "),
                shown(&found.value)
            );
            self.problem(setting, line);
        }
        level
    }
}

impl Unit {
    fn of(self) -> &'static str {
        match self {
            Self::Seconds => " of seconds",
            Self::Count | Self::ZeroIsOff => "",
        }
    }

    fn after_min(self) -> &'static str {
        match self {
            Self::ZeroIsOff => " (off)",
            Self::Count | Self::Seconds => "",
        }
    }

    fn after_max(self) -> &'static str {
        match self {
            Self::Seconds => " seconds",
            Self::Count | Self::ZeroIsOff => "",
        }
    }
}

/// Any integer figment holds, signed or not.
fn integer(number: Num) -> Option<i128> {
    number
        .to_i128()
        .or_else(|| number.to_u128().and_then(|n| i128::try_from(n).ok()))
}

/// A value as it appears in a problem: text quoted, numbers and switches bare.
fn shown(value: &Value) -> String {
    match value {
        Value::String(_, text) => match text.trim().parse::<i128>() {
            Ok(number) => number.to_string(),
            Err(_) => format!("{text:?}"),
        },
        Value::Char(_, char) => format!("{:?}", char.to_string()),
        Value::Bool(_, switch) => switch.to_string(),
        Value::Num(_, number) => match (integer(*number), number.to_f64()) {
            (Some(integer), _) => integer.to_string(),
            (None, Some(float)) => float.to_string(),
            (None, None) => "a number".to_owned(),
        },
        Value::Empty(..) => "nothing".to_owned(),
        // How toml hands a date or time to serde.
        Value::Dict(_, dict) if dict.keys().any(|key| key.contains("toml_private_datetime")) => {
            "a date".to_owned()
        }
        Value::Dict(..) => "a table".to_owned(),
        Value::Array(..) => "a list".to_owned(),
    }
}

/// `https://user:pw@host` → `https://user:***@host`, so a rejected URL does not leak a password.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

/// `local@domain.tld`, as [`crate::rules::email`] rules an address.
fn looks_like_email(text: &str) -> bool {
    crate::rules::email::is_valid(text)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    /// A home that is not there, unless `pairs` gives one: no default file is found, and the
    /// prompts directory has a home to go under.
    const TEST_HOME: &str = "/nonexistent/espomcp-test-home";

    fn env(pairs: &[(&str, &str)]) -> Environment {
        [("HOME", TEST_HOME), ("APPDATA", TEST_HOME)]
            .into_iter()
            .chain(pairs.iter().copied())
            .collect()
    }

    fn load(pairs: &[(&str, &str)]) -> Result<Loaded, ConfigError> {
        Config::load(LoadOptions {
            config_path: None,
            demo: false,
            env: env(pairs),
            flags: Vec::new(),
        })
    }

    fn required() -> Vec<(&'static str, &'static str)> {
        vec![
            ("ESPOCRM_URL", "https://crm.example.com"),
            ("ESPOCRM_API_KEY", KEY),
        ]
    }

    /// The lines of the error of loading `required()` plus `extra`.
    fn problems_with(extra: &[(&str, &str)]) -> Vec<String> {
        let mut pairs = required();
        pairs.extend_from_slice(extra);
        match load(&pairs) {
            Ok(loaded) => panic!("expected a problem, loaded {:?}", loaded.config),
            Err(ConfigError::Invalid { problems, .. }) => {
                problems.iter().map(ToString::to_string).collect()
            }
            Err(other) => panic!("expected problems, got {other}"),
        }
    }

    fn config_file(contents: &str, mode: u32) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().expect("a temp file");
        file.write_all(contents.as_bytes()).expect("written");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(mode))
                .expect("chmod");
        }
        #[cfg(not(unix))]
        let _ = mode;
        file
    }

    fn load_file(file: &Path, pairs: &[(&str, &str)]) -> Result<Loaded, ConfigError> {
        Config::load(LoadOptions {
            config_path: Some(file.to_owned()),
            demo: false,
            env: env(pairs),
            flags: Vec::new(),
        })
    }

    #[test]
    fn should_keep_each_row_of_the_settings_table_consistent() {
        let mut names = BTreeSet::new();
        for setting in SETTINGS {
            assert!(names.insert(setting.env), "{} twice", setting.env);
            // What the README says of the TOML keys: the variable in lower case without the
            // section's prefix.
            assert_eq!(
                setting.env.to_ascii_lowercase(),
                format!("{}_{}", setting.section, setting.key),
                "{}",
                setting.env
            );
            if let Kind::Whole {
                default, min, max, ..
            } = setting.kind
            {
                assert!((min..=max).contains(&default), "{}", setting.env);
                // A help that quotes the bounds quotes these.
                let quoted = setting.help.split([' ', ',']).find(|word| {
                    word.split_once('-').is_some_and(|(low, high)| {
                        low.parse::<u64>().is_ok() && high.parse::<u64>().is_ok()
                    })
                });
                if let Some(quoted) = quoted {
                    assert_eq!(quoted, format!("{min}-{max}"), "{}", setting.env);
                }
            }
        }
        let toolsets: Vec<&str> = Toolset::ALL.iter().map(|t| t.as_str()).collect();
        assert!(
            TOOLSETS.help.ends_with(&toolsets.join(",")),
            "{}",
            TOOLSETS.help
        );
        let levels: Vec<&str> = LogLevel::ALL.iter().map(|level| level.as_str()).collect();
        assert_eq!(LOG_LEVEL.help, levels.join(", "));
    }

    #[test]
    fn should_use_the_defaults_when_only_the_required_settings_are_given() {
        let loaded = load(&required()).expect("valid");
        let config = loaded.config;
        assert_eq!(
            config.espocrm.url.as_deref(),
            Some("https://crm.example.com")
        );
        assert_eq!(config.espocrm.api_key, Some(ApiKey::new(KEY)));
        assert_eq!(config.espocrm.timeout, Duration::from_secs(30));
        assert!(config.espocrm.tls_verify);
        assert_eq!(config.espocrm.email_from, None);
        assert_eq!(config.server.max_limit, 200);
        assert_eq!(config.server.metadata_ttl, Duration::from_secs(300));
        let limit = config.server.rate_limit.expect("on by default");
        assert_eq!((limit.per_second.get(), limit.burst.get()), (10, 20));
        assert_eq!(config.server.max_concurrent.get(), 5);
        assert_eq!(
            config.server.delete_confirmation_ttl,
            Duration::from_secs(300)
        );
        assert_eq!(config.server.delete_confirmation, DeleteConfirmation::Agent);
        assert_eq!(
            config.server.prompts_dir,
            default_prompts_dir(&env(&[])).expect("a home")
        );
        assert_eq!(config.server.call_timeout, Duration::from_secs(50));
        assert_eq!(config.logging, LoggingConfig::default());
        assert!(!config.demo);
        assert!(loaded.warnings.is_empty());
        assert_eq!(loaded.config_file, None);
    }

    #[test]
    fn should_read_every_setting_from_the_environment() {
        let loaded = load(&[
            ("ESPOCRM_URL", "http://localhost:8080/api/v1/"),
            ("ESPOCRM_API_KEY", KEY),
            ("ESPOCRM_TIMEOUT_SECS", "12"),
            ("ESPOCRM_TLS_VERIFY", "no"),
            ("ESPOCRM_EMAIL_FROM", "sales@example.com"),
            ("SERVER_MAX_LIMIT", "50"),
            ("SERVER_METADATA_TTL_SECS", "60"),
            ("SERVER_RATE_LIMIT_REQUESTS_PER_SECOND", "0"),
            ("SERVER_RATE_LIMIT_BURST", "3"),
            ("SERVER_RATE_LIMIT_MAX_CONCURRENT", "2"),
            ("SERVER_DELETE_CONFIRMATION_TTL_SECS", "45"),
            ("SERVER_DELETE_CONFIRMATION", "Human"),
            ("SERVER_PROMPTS_DIR", "/srv/prompts"),
            ("LOGGING_LEVEL", "TRACE"),
            ("LOGGING_JSON", "true"),
            ("LOGGING_FILE", "/var/log/espomcp.log"),
        ])
        .expect("valid");
        let config = loaded.config;
        assert_eq!(config.espocrm.timeout, Duration::from_secs(12));
        assert!(!config.espocrm.tls_verify);
        assert_eq!(
            config.espocrm.email_from.as_deref(),
            Some("sales@example.com")
        );
        assert_eq!(config.server.max_limit, 50);
        assert_eq!(config.server.metadata_ttl, Duration::from_secs(60));
        assert_eq!(config.server.rate_limit, None, "0 turns the limiter off");
        assert_eq!(config.server.max_concurrent.get(), 2);
        assert_eq!(
            config.server.delete_confirmation_ttl,
            Duration::from_secs(45)
        );
        assert_eq!(config.server.delete_confirmation, DeleteConfirmation::Human);
        assert_eq!(config.server.prompts_dir, PathBuf::from("/srv/prompts"));
        assert_eq!(config.logging.level, LogLevel::Trace);
        assert!(config.logging.json);
        assert_eq!(
            config.logging.file,
            Some(PathBuf::from("/var/log/espomcp.log"))
        );
    }

    #[test]
    fn should_let_the_file_override_the_defaults_and_the_environment_override_the_file() {
        let file = config_file(
            &format!(
                "[espocrm]\nurl = \"https://file.example.com\"\napi_key = \"{KEY}\"\n\
                 timeout_secs = 60\n\n[server]\nmax_limit = 100\nmetadata_ttl_secs = 600\n\n\
                 [logging]\nlevel = \"debug\"\n"
            ),
            0o600,
        );
        let loaded = load_file(
            file.path(),
            &[("ESPOCRM_TIMEOUT_SECS", "90"), ("SERVER_MAX_LIMIT", "150")],
        )
        .expect("valid");
        let config = &loaded.config;
        assert_eq!(
            config.espocrm.url.as_deref(),
            Some("https://file.example.com"),
            "file over default"
        );
        assert_eq!(
            config.espocrm.timeout,
            Duration::from_secs(90),
            "env over file"
        );
        assert_eq!(config.server.max_limit, 150, "env over file");
        assert_eq!(config.server.metadata_ttl, Duration::from_secs(600), "file");
        assert_eq!(config.logging.level, LogLevel::Debug, "file");
        assert_eq!(config.server.max_concurrent.get(), 5, "default");
        assert_eq!(loaded.config_file.as_deref(), Some(file.path()));
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    }

    #[test]
    fn should_treat_an_empty_variable_as_unset() {
        let file = config_file(
            &format!("[espocrm]\nurl = \"https://file.example.com\"\napi_key = \"{KEY}\"\n"),
            0o600,
        );
        let loaded =
            load_file(file.path(), &[("ESPOCRM_URL", ""), ("LOGGING_FILE", "")]).expect("valid");
        assert_eq!(
            loaded.config.espocrm.url.as_deref(),
            Some("https://file.example.com")
        );
        assert_eq!(loaded.config.logging.file, None);
    }

    #[test]
    fn should_read_the_default_file_under_xdg_config_home_then_home() {
        let xdg = tempfile::tempdir().expect("a temp dir");
        let home = tempfile::tempdir().expect("a temp dir");
        for (root, url) in [
            (xdg.path().to_owned(), "https://xdg.example.com"),
            (home.path().join(".config"), "https://home.example.com"),
        ] {
            let dir = root.join(CONFIG_DIR_NAME);
            std::fs::create_dir_all(&dir).expect("mkdir");
            std::fs::write(
                dir.join("config.toml"),
                format!("[espocrm]\nurl = \"{url}\"\napi_key = \"{KEY}\"\n"),
            )
            .expect("written");
        }
        let home_path = home.path().to_str().expect("utf-8");
        let xdg_path = xdg.path().to_str().expect("utf-8");

        let both = load(&[("HOME", home_path), ("XDG_CONFIG_HOME", xdg_path)]).expect("valid");
        assert_eq!(
            both.config.espocrm.url.as_deref(),
            Some("https://xdg.example.com")
        );
        let home_only =
            load(&[("HOME", home_path), ("XDG_CONFIG_HOME", "relative/dir")]).expect("valid");
        assert_eq!(
            home_only.config.espocrm.url.as_deref(),
            Some("https://home.example.com")
        );
    }

    #[test]
    fn should_accept_a_missing_default_file_but_not_a_missing_explicit_one() {
        let empty = tempfile::tempdir().expect("a temp dir");
        let home = empty.path().to_str().expect("utf-8");
        let mut pairs = required();
        pairs.push(("HOME", home));
        assert!(load(&pairs).is_ok());

        let missing = empty.path().join("nope.toml");
        let error = load_file(&missing, &required()).expect_err("missing");
        assert_eq!(
            error.to_string(),
            format!(
                "config file {} does not exist: check the --config path",
                missing.display()
            )
        );
    }

    #[test]
    fn should_report_a_file_that_is_not_toml_in_one_line_without_quoting_it() {
        let file = config_file(&format!("[espocrm]\napi_key = {KEY}\n"), 0o600);
        let error = load_file(file.path(), &required()).expect_err("not TOML");
        let message = error.to_string();
        assert!(matches!(error, ConfigError::File { .. }), "{message}");
        assert!(
            message.starts_with(&format!(
                "config file {} is not valid TOML: line 2, column ",
                file.path().display()
            )),
            "{message}"
        );
        assert!(!message.contains('\n'), "{message}");
        assert!(!message.contains(KEY), "{message}");
    }

    #[test]
    fn should_report_a_config_path_that_cannot_be_read() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let error = load_file(dir.path(), &required()).expect_err("a directory");
        assert!(
            error.to_string().starts_with(&format!(
                "config file {} cannot be read: ",
                dir.path().display()
            )),
            "{error}"
        );
    }

    #[test]
    fn should_put_the_prompts_in_the_configuration_directory() {
        let xdg = env(&[("XDG_CONFIG_HOME", "/xdg")]);
        assert_eq!(
            default_prompts_dir(&xdg),
            Some(PathBuf::from("/xdg/espocrm-mcp/prompts"))
        );
        let home = env(&[
            ("HOME", "/home/u"),
            ("APPDATA", "C:/Users/u/AppData/Roaming"),
        ]);
        let expected = if cfg!(windows) {
            "C:/Users/u/AppData/Roaming/espocrm-mcp/prompts"
        } else if cfg!(target_os = "macos") {
            "/home/u/Library/Application Support/espocrm-mcp/prompts"
        } else {
            "/home/u/.config/espocrm-mcp/prompts"
        };
        assert_eq!(default_prompts_dir(&home), Some(PathBuf::from(expected)));
        // A relative XDG_CONFIG_HOME is ignored, as for the config file.
        let relative = env(&[("HOME", "/home/u"), ("XDG_CONFIG_HOME", "rel")]);
        assert_ne!(
            default_prompts_dir(&relative),
            Some(PathBuf::from("rel/espocrm-mcp/prompts"))
        );
        // SERVER_PROMPTS_DIR still wins.
        let mut pairs = required();
        pairs.push(("SERVER_PROMPTS_DIR", "/srv/prompts"));
        let loaded = load(&pairs).expect("valid");
        assert_eq!(
            loaded.config.server.prompts_dir,
            PathBuf::from("/srv/prompts")
        );
        // No home at all: the working directory, said in a warning.
        let homeless = Config::load(LoadOptions {
            env: required().into_iter().collect(),
            ..LoadOptions::default()
        })
        .expect("valid");
        assert_eq!(
            homeless.config.server.prompts_dir,
            PathBuf::from(FALLBACK_PROMPTS_DIR)
        );
        assert!(
            homeless
                .warnings
                .iter()
                .any(|w| w.contains("SERVER_PROMPTS_DIR")),
            "{:?}",
            homeless.warnings
        );
    }

    #[test]
    fn should_show_unknown_keys_with_the_problem_they_probably_cause() {
        let file = config_file(
            "[espocrm]\nurl = \"https://crm.example.com\"\napikey = \"abc\"\n",
            0o600,
        );
        let Err(error) = load_file(file.path(), &[]) else {
            panic!("loaded without an API key");
        };
        assert!(error.to_string().contains("ESPOCRM_API_KEY"), "{error}");
        let warnings = error.warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("`apikey` in [espocrm]") && warnings[0].contains("api_key"),
            "{warnings:?}"
        );
        assert!(!warnings[0].contains("abc"), "the value is not shown");
    }

    #[test]
    fn should_warn_when_the_read_toolset_is_left_out() {
        let mut pairs = required();
        pairs.push(("SERVER_TOOLSETS", "write"));
        let loaded = load(&pairs).expect("valid");
        assert!(
            loaded
                .warnings
                .iter()
                .any(|w| w.starts_with("SERVER_TOOLSETS") && w.contains("`read`")),
            "{:?}",
            loaded.warnings
        );
        assert!(load(&required()).expect("valid").warnings.is_empty());
    }

    #[test]
    fn should_echo_an_unusable_address_as_written() {
        let problems = problems_with(&[("SERVER_HTTP_ADDR", "localhost:notaport")]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("\"localhost:notaport\""),
            "{problems:?}"
        );
        assert!(!problems[0].contains("127.0.0.1:notaport"), "{problems:?}");
    }

    #[test]
    fn should_warn_about_unknown_keys_in_the_file() {
        let file = config_file(
            &format!(
                "url = \"x\"\n[espocrm]\nurl = \"https://crm.example.com\"\napi_key = \"{KEY}\"\n\
                 [server]\nmax_limt = 5\n"
            ),
            0o600,
        );
        let loaded = load_file(file.path(), &[]).expect("valid");
        assert_eq!(loaded.ignored_settings, loaded.warnings);
        let warnings = loaded.warnings;
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].contains("`max_limt` in [server]"),
            "{warnings:?}"
        );
        assert!(
            warnings[1].contains("did you mean `url` under [espocrm]?"),
            "{warnings:?}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn should_warn_when_others_can_read_the_config_file() {
        let contents =
            format!("[espocrm]\nurl = \"https://crm.example.com\"\napi_key = \"{KEY}\"\n");
        let shared = config_file(&contents, 0o644);
        let warnings = load_file(shared.path(), &[]).expect("valid").warnings;
        let path = shared.path().display();
        assert_eq!(
            warnings,
            vec![format!(
                "config file {path} is readable by other users; it may hold the API key: \
                 chmod 600 {path}"
            )]
        );

        let private = config_file(&contents, 0o600);
        assert!(
            load_file(private.path(), &[])
                .expect("valid")
                .warnings
                .is_empty()
        );
    }

    #[test]
    fn should_name_the_setting_and_the_fix_for_each_invalid_value() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "ESPOCRM_URL",
                "ftp://x",
                "ESPOCRM_URL \"ftp://x\" is not an http(s) URL: ",
            ),
            (
                "ESPOCRM_URL",
                "crm.example.com",
                "ESPOCRM_URL \"crm.example.com\" is not an http(s) URL: ",
            ),
            (
                "ESPOCRM_API_KEY",
                "abc def",
                "ESPOCRM_API_KEY contains spaces, control or non-ASCII characters",
            ),
            (
                "ESPOCRM_TIMEOUT_SECS",
                "abc",
                "ESPOCRM_TIMEOUT_SECS must be a whole number of seconds (got \"abc\")",
            ),
            (
                "ESPOCRM_TIMEOUT_SECS",
                "0",
                "ESPOCRM_TIMEOUT_SECS must be between 1 and 3600 seconds (got 0)",
            ),
            (
                "ESPOCRM_TLS_VERIFY",
                "maybe",
                "ESPOCRM_TLS_VERIFY must be true or false (got \"maybe\")",
            ),
            (
                "ESPOCRM_EMAIL_FROM",
                "Sales Team",
                "ESPOCRM_EMAIL_FROM \"Sales Team\" is not an email address: use one like \
                 sales@example.com",
            ),
            (
                "SERVER_MAX_LIMIT",
                "500",
                "SERVER_MAX_LIMIT must be between 1 and 200 (got 500)",
            ),
            (
                "SERVER_MAX_LIMIT",
                "-1",
                "SERVER_MAX_LIMIT must be between 1 and 200 (got -1)",
            ),
            (
                "SERVER_METADATA_TTL_SECS",
                "1.5",
                "SERVER_METADATA_TTL_SECS must be a whole number of seconds (got \"1.5\")",
            ),
            (
                "SERVER_RATE_LIMIT_REQUESTS_PER_SECOND",
                "5000",
                "SERVER_RATE_LIMIT_REQUESTS_PER_SECOND must be between 0 (off) and 1000 \
                 (got 5000)",
            ),
            (
                "SERVER_RATE_LIMIT_BURST",
                "0",
                "SERVER_RATE_LIMIT_BURST must be between 1 and 1000 (got 0)",
            ),
            (
                "SERVER_RATE_LIMIT_MAX_CONCURRENT",
                "many",
                "SERVER_RATE_LIMIT_MAX_CONCURRENT must be a whole number (got \"many\")",
            ),
            (
                "SERVER_DELETE_CONFIRMATION_TTL_SECS",
                "100000",
                "SERVER_DELETE_CONFIRMATION_TTL_SECS must be between 1 and 86400 seconds \
                 (got 100000)",
            ),
            (
                "SERVER_DELETE_CONFIRMATION",
                "person",
                "SERVER_DELETE_CONFIRMATION must be agent (the agent confirms a previewed \
                 delete) or human (the person is asked through the MCP client) (got \"person\")",
            ),
            (
                "LOGGING_LEVEL",
                "loud",
                "LOGGING_LEVEL must be one of trace, debug, info, warn, error (got \"loud\")",
            ),
            (
                "LOGGING_JSON",
                "2",
                "LOGGING_JSON must be true or false (got 2)",
            ),
        ];
        for &(name, value, expected) in cases {
            let problems = problems_with(&[(name, value)]);
            assert_eq!(problems.len(), 1, "{name}={value}: {problems:?}");
            assert!(
                problems[0].starts_with(expected),
                "{name}={value}: {:?} does not start with {expected:?}",
                problems[0]
            );
            assert!(!problems[0].contains('\n'));
        }
    }

    #[test]
    fn should_say_how_to_set_the_url_and_the_key_when_missing() {
        let Err(error) = load(&[]) else {
            panic!("loaded without URL and key");
        };
        assert_eq!(
            error.to_string(),
            "ESPOCRM_URL is not set: set it to your EspoCRM address, e.g. \
             https://crm.example.com\n\
             ESPOCRM_API_KEY is not set: create an API user in EspoCRM (Administration > API \
             Users) and set it to that user's API key"
        );
        let ConfigError::Invalid { problems, .. } = error else {
            panic!("not a problem list");
        };
        let settings: Vec<&str> = problems.iter().map(|problem| problem.setting).collect();
        assert_eq!(settings, ["ESPOCRM_URL", "ESPOCRM_API_KEY"]);
    }

    #[test]
    fn should_report_every_problem_at_once() {
        let problems = problems_with(&[("SERVER_MAX_LIMIT", "0"), ("LOGGING_LEVEL", "loud")]);
        assert_eq!(problems.len(), 2, "{problems:?}");
    }

    #[test]
    fn should_describe_toml_values_as_written() {
        let file = config_file(
            "[espocrm]\nurl = 5\ntimeout_secs = 1.5\n[server]\nmax_limit = 2020-01-01\n\
             prompts_dir = []\n",
            0o600,
        );
        let only_key = [("ESPOCRM_API_KEY", KEY)];
        let Err(ConfigError::Invalid { problems, .. }) = load_file(file.path(), &only_key) else {
            panic!("expected problems");
        };
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        let path = file.path().display();
        assert_eq!(
            lines,
            [
                format!("`url` in [espocrm] of {path} must be an address in quotes (got 5)"),
                format!(
                    "`timeout_secs` in [espocrm] of {path} must be a whole number of seconds \
                     (got 1.5)"
                ),
                format!("`max_limit` in [server] of {path} must be a whole number (got a date)"),
                format!(
                    "`prompts_dir` in [server] of {path} must be a path in quotes (got a list)"
                ),
            ]
        );
    }

    #[test]
    fn should_name_the_file_and_key_when_the_bad_value_came_from_the_file() {
        let file = config_file("[espocrm]\ntimeout_secs = \"abc\"\n", 0o600);
        let Err(ConfigError::Invalid { problems, .. }) = load_file(file.path(), &required()) else {
            panic!("expected problems");
        };
        assert_eq!(
            problems[0].to_string(),
            format!(
                "`timeout_secs` in [espocrm] of {} must be a whole number of seconds \
                 (got \"abc\")",
                file.path().display()
            )
        );
        assert_eq!(problems[0].setting, "ESPOCRM_TIMEOUT_SECS");
    }

    #[test]
    fn should_read_the_delete_confirmation_from_the_file_and_refuse_other_values() {
        let file = config_file("[server]\ndelete_confirmation = \"human\"\n", 0o600);
        let loaded = load_file(file.path(), &required()).expect("valid");
        assert_eq!(
            loaded.config.server.delete_confirmation,
            DeleteConfirmation::Human
        );
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        assert!(
            loaded
                .config
                .to_string()
                .contains("delete confirmed by:  human")
        );

        let file = config_file("[server]\ndelete_confirmation = true\n", 0o600);
        let Err(ConfigError::Invalid { problems, .. }) = load_file(file.path(), &required()) else {
            panic!("expected a problem");
        };
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].setting, "SERVER_DELETE_CONFIRMATION");
        assert!(
            problems[0]
                .to_string()
                .starts_with("`delete_confirmation` in [server] of "),
            "{}",
            problems[0]
        );
        assert!(problems[0].to_string().ends_with("(got true)"));
    }

    #[test]
    fn should_never_show_the_api_key_in_debug_display_or_problems() {
        let loaded = load(&required()).expect("valid");
        let options = LoadOptions {
            config_path: None,
            demo: false,
            env: env(&required()),
            flags: Vec::new(),
        };
        let shown = [
            format!("{:?}", loaded.config),
            format!("{:#?}", loaded.config),
            format!("{}", loaded.config),
            format!("{loaded:?}"),
            format!("{options:?}"),
            format!("{:?}", loaded.config.gateway_config()),
        ];
        for text in shown {
            assert!(!text.contains(KEY), "{text}");
        }
        // A key that is refused is not echoed either.
        let bad_key = "s3cret key";
        let problems = problems_with(&[("ESPOCRM_API_KEY", bad_key)]);
        assert!(!problems[0].contains("s3cret"), "{problems:?}");
    }

    #[test]
    fn should_not_show_the_password_of_a_refused_url() {
        let problems = problems_with(&[("ESPOCRM_URL", "https://admin:hunter2@crm.example.com")]);
        assert!(!problems[0].contains("hunter2"), "{problems:?}");
        assert!(
            problems[0].contains("admin:***@crm.example.com"),
            "{problems:?}"
        );
    }

    #[test]
    fn should_load_in_demo_mode_without_url_and_key() {
        let loaded = Config::load(LoadOptions {
            config_path: None,
            demo: true,
            env: Environment::default(),
            flags: Vec::new(),
        })
        .expect("valid in demo mode");
        assert!(loaded.config.demo);
        assert_eq!(loaded.config.espocrm.url, None);
        assert_eq!(loaded.config.espocrm.api_key, None);
        assert!(loaded.config.gateway_config().is_none());

        let gateway = loaded
            .config
            .gateway_config_for("http://127.0.0.1:9", ApiKey::new("demo"));
        assert_eq!(gateway.base_url, "http://127.0.0.1:9");
    }

    #[test]
    fn should_still_check_the_other_settings_in_demo_mode() {
        let error = Config::load(LoadOptions {
            config_path: None,
            demo: true,
            env: env(&[("SERVER_MAX_LIMIT", "500")]),
            flags: Vec::new(),
        })
        .expect_err("invalid");
        assert_eq!(
            error.to_string(),
            "SERVER_MAX_LIMIT must be between 1 and 200 (got 500)"
        );
    }

    #[test]
    fn should_give_the_gateway_the_configured_limits() {
        let loaded = load(&[
            ("ESPOCRM_URL", "https://crm.example.com"),
            ("ESPOCRM_API_KEY", KEY),
            ("ESPOCRM_TIMEOUT_SECS", "100"),
            ("ESPOCRM_TLS_VERIFY", "false"),
            ("SERVER_RATE_LIMIT_REQUESTS_PER_SECOND", "4"),
            ("SERVER_RATE_LIMIT_BURST", "8"),
            ("SERVER_RATE_LIMIT_MAX_CONCURRENT", "3"),
        ])
        .expect("valid");
        let gateway = loaded.config.gateway_config().expect("URL and key are set");
        assert_eq!(gateway.base_url, "https://crm.example.com");
        assert_eq!(gateway.api_key, ApiKey::new(KEY));
        assert_eq!(gateway.max_concurrent.get(), 3);
        let limit = gateway.rate_limit.expect("on");
        assert_eq!((limit.per_second.get(), limit.burst.get()), (4, 8));
        assert_eq!(gateway.request_timeout, Duration::from_secs(100));
        assert!(!gateway.verify_tls);
        assert!(gateway.reply_timeout >= Duration::from_secs(300));
        assert_eq!(gateway.max_response_bytes, 32 * 1024 * 1024);
        assert!(gateway.other_secrets.is_empty());

        let off = load(&[
            ("ESPOCRM_URL", "https://crm.example.com"),
            ("ESPOCRM_API_KEY", KEY),
            ("SERVER_RATE_LIMIT_REQUESTS_PER_SECOND", "0"),
        ])
        .expect("valid");
        let gateway = off.config.gateway_config().expect("URL and key are set");
        assert_eq!(gateway.rate_limit, None);
    }

    #[test]
    fn should_read_toolsets_read_only_and_entity_types() {
        let defaults = load(&required()).expect("valid").config.server;
        assert!(!defaults.read_only);
        assert_eq!(defaults.toolsets, Toolset::ALL.into_iter().collect());
        assert_eq!(defaults.entity_types, None);
        assert_eq!(defaults.http_addr, None);

        let mut pairs = required();
        pairs.extend([
            ("SERVER_READ_ONLY", "yes"),
            ("SERVER_TOOLSETS", " read, Notes ,"),
            ("SERVER_ENTITY_TYPES", "Account,Contact"),
        ]);
        let server = load(&pairs).expect("valid").config.server;
        assert!(server.read_only);
        assert_eq!(
            server.toolsets,
            [Toolset::Read, Toolset::Notes].into_iter().collect()
        );
        assert_eq!(
            server.entity_types,
            Some(vec!["Account".to_owned(), "Contact".to_owned()])
        );

        let file = config_file(
            "[server]\ntoolsets = [\"kanban\", \"email\"]\nentity_types = [\"Lead\"]\n",
            0o600,
        );
        let server = load_file(file.path(), &required())
            .expect("valid")
            .config
            .server;
        assert_eq!(
            server.toolsets,
            [Toolset::Kanban, Toolset::Email].into_iter().collect()
        );
        assert_eq!(server.entity_types, Some(vec!["Lead".to_owned()]));
    }

    #[test]
    fn should_name_unknown_toolsets_and_malformed_entity_types() {
        let problems = problems_with(&[
            ("SERVER_TOOLSETS", "read,writes,mail"),
            ("SERVER_ENTITY_TYPES", "Account,Con tact,../User"),
        ]);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("SERVER_TOOLSETS"), "{problems:?}");
        assert!(problems[0].contains("\"writes\""), "{problems:?}");
        assert!(problems[0].contains("\"mail\""), "{problems:?}");
        assert!(
            problems[0].contains("read, write, notes, kanban, email"),
            "{problems:?}"
        );
        assert!(
            problems[1].starts_with("SERVER_ENTITY_TYPES"),
            "{problems:?}"
        );
        assert!(problems[1].contains("\"Con tact\""), "{problems:?}");
        assert!(problems[1].contains("\"../User\""), "{problems:?}");
        assert!(!problems[1].contains("\"Account\""), "{problems:?}");
    }

    #[test]
    fn should_let_a_flag_override_the_environment_and_name_the_flag() {
        let mut pairs = required();
        pairs.push(("SERVER_TOOLSETS", "read"));
        let options = |flag: &str| {
            LoadOptions {
                config_path: None,
                demo: false,
                env: env(&pairs),
                flags: Vec::new(),
            }
            .with_flag("SERVER_TOOLSETS", "--toolsets", flag)
        };
        let server = Config::load(options("write")).expect("valid").config.server;
        assert_eq!(server.toolsets, [Toolset::Write].into_iter().collect());
        match Config::load(options("wrote")) {
            Err(ConfigError::Invalid { problems, .. }) => {
                let line = problems[0].to_string();
                assert!(
                    line.starts_with("--toolsets names unknown toolsets"),
                    "{line}"
                );
            }
            other => panic!("expected a problem, got {other:?}"),
        }
    }

    #[test]
    fn should_require_a_token_for_http_off_loopback() {
        let mut pairs = required();
        pairs.push(("SERVER_HTTP_ADDR", "127.0.0.1:8765"));
        let server = load(&pairs).expect("loopback needs no token").config.server;
        assert_eq!(
            server.http_addr,
            Some("127.0.0.1:8765".parse().expect("addr"))
        );
        assert_eq!(server.http_token, None);

        let problems = problems_with(&[("SERVER_HTTP_ADDR", "0.0.0.0:8765")]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("SERVER_HTTP_TOKEN is not set"),
            "{problems:?}"
        );
        assert!(problems[0].contains("0.0.0.0:8765"), "{problems:?}");

        let token = "a-long-random-http-token-0123456789";
        let mut pairs = required();
        pairs.extend([
            ("SERVER_HTTP_ADDR", "0.0.0.0:8765"),
            ("SERVER_HTTP_TOKEN", token),
            (
                "SERVER_HTTP_ALLOWED_HOSTS",
                "mcp.example.com, 10.0.0.5:8765",
            ),
        ]);
        let loaded = load(&pairs).expect("valid with a token");
        assert_eq!(
            loaded.config.server.http_token,
            Some(BearerToken::new(token))
        );
        assert_eq!(
            loaded.config.server.http_allowed_hosts,
            ["mcp.example.com", "10.0.0.5:8765"]
        );
        let shown = format!("{:?} {}", loaded.config, loaded.config);
        assert!(!shown.contains(token), "the token shows: {shown}");

        let problems = problems_with(&[
            ("SERVER_HTTP_ADDR", "crm.example.com:80"),
            ("SERVER_HTTP_TOKEN", "short"),
            ("SERVER_HTTP_ALLOWED_HOSTS", "https://mcp.example.com"),
        ]);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("IP:PORT"), "{problems:?}");
        assert!(problems[1].contains("at least 16"), "{problems:?}");
        assert!(!problems[1].contains("short"), "{problems:?}");
        assert!(problems[2].contains("without a scheme"), "{problems:?}");
    }
}
