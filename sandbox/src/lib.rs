//! `espocrm-sandbox`: an in-memory EspoCRM REST API, faithful to the behaviour recorded on a
//! real EspoCRM 8.4.2 or 10.0.0 ([`EspoVersion`], chosen at start), for espomcp's tests,
//! benchmarks and demo mode.
//!
//! # Layout
//! - [`version`]: which EspoCRM to answer as, and the data patches of each version.
//! - [`model`]: the entity types (fields, links, scopes, attribute sets), from `data/metadata.json`.
//! - [`store`]: records, relations, followers, notes, roles; validation and derived attributes.
//! - [`attachments`]: uploaded files' bytes (capped) and how attachments join their owner.
//! - [`concurrency`]: record versions (`versionNumber`, 409 `modified`); [`locks`]: locked
//!   records.
//! - [`acl`]: roles and access levels; [`roles`]: the two API users' roles, also used by
//!   `espomcp seed`.
//! - [`list`]: search parameters and listing.
//! - [`query_string`]: PHP-style query decoding; [`where_clause`]: EspoCRM's `where` language.
//! - `api`: the HTTP routes; [`error`]: error answers shaped as EspoCRM's.
//! - [`faults`]: fault injection and observed statistics.
//! - [`random`]: the one pseudo-random generator; [`ids`]: record ids and API keys from it.
//! - [`seed`]: the deterministic demo data; [`Sandbox`]: starting one on a loopback port.

pub mod acl;
mod api;
pub mod attachments;
pub mod concurrency;
pub mod error;
pub mod faults;
pub mod ids;
pub mod list;
pub mod locks;
pub mod model;
pub mod query_string;
pub mod random;
pub mod roles;
pub mod seed;
pub mod store;
pub mod version;
pub mod where_clause;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::{get, post, put};
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::{FaultConfig, FaultScope, InjectedAnswer, Stats};
pub use version::EspoVersion;

use crate::ids::IdGenerator;
use crate::store::{Actor, Role, Store};

/// How a sandbox starts.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Seed of the demo data and of generated ids.
    pub seed: u64,
    /// Load the demo data (otherwise only the three users and their roles exist).
    pub demo_data: bool,
    /// API key of `mcp-agent`, the full-access API user (derived from the seed when `None`).
    pub agent_api_key: Option<String>,
    /// API key of `mcp-readonly`, whose role can only read Account and Contact.
    pub limited_api_key: Option<String>,
    pub admin_user: String,
    pub admin_password: String,
    pub faults: FaultConfig,
    /// Settings an administrator changed (Administration), over the recorded ones that
    /// `GET App/user` and `GET Settings` serve: e.g. `portalStreamEmailNotifications: false`.
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// The EspoCRM version whose recorded behaviour the sandbox answers with.
    pub espocrm_version: EspoVersion,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            seed: 42,
            demo_data: true,
            agent_api_key: None,
            limited_api_key: None,
            admin_user: "admin".into(),
            admin_password: "sandbox-admin".into(),
            faults: FaultConfig::default(),
            settings: serde_json::Map::new(),
            espocrm_version: EspoVersion::default(),
        }
    }
}

/// Why a sandbox could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("the demo data could not be loaded: {0}")]
    Seed(String),
}

/// A running sandbox. Dropping it stops the server.
#[derive(Debug)]
pub struct Sandbox {
    /// Site root, e.g. `http://127.0.0.1:40123` (the API is under `/api/v1`).
    pub url: String,
    pub addr: SocketAddr,
    pub agent_api_key: String,
    pub limited_api_key: String,
    pub admin_user: String,
    pub admin_password: String,
    /// A regular user (a person, not an API user) with a password and no role: the token
    /// login's user ([`seed::PERSON_USER_NAME`]).
    pub user_name: String,
    /// That user's password, derived from the seed.
    pub user_password: String,
    control: Arc<faults::Control>,
    state: Arc<api::ApiState>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// A sandbox with demo data on an ephemeral 127.0.0.1 port.
    pub async fn start() -> Result<Sandbox, SandboxError> {
        Sandbox::start_with(SandboxConfig::default(), "127.0.0.1:0").await
    }

    /// A sandbox with demo data on an ephemeral 127.0.0.1 port, answering as `version`.
    pub async fn start_version(version: EspoVersion) -> Result<Sandbox, SandboxError> {
        let config = SandboxConfig {
            espocrm_version: version,
            ..SandboxConfig::default()
        };
        Sandbox::start_with(config, "127.0.0.1:0").await
    }

    pub async fn start_with(config: SandboxConfig, listen: &str) -> Result<Sandbox, SandboxError> {
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| SandboxError::Bind {
                addr: listen.to_owned(),
                source,
            })?;
        Sandbox::serve(config, listener)
    }

    /// Serves on a listener the caller bound.
    pub fn serve(config: SandboxConfig, listener: TcpListener) -> Result<Sandbox, SandboxError> {
        let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
            addr: "listener".into(),
            source,
        })?;
        let (store, keys) = build_store(&config)?;
        let state = Arc::new(api::ApiState {
            store: Mutex::new(store),
            system_email: "crm@example.com".into(),
            settings: config.settings.clone(),
            version: config.espocrm_version,
            auth_tokens: api::AuthTokens::new(config.seed),
        });
        let control = faults::Control::new(config.faults.clone());
        let app = router(state.clone(), control.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Sandbox {
            url: format!("http://{addr}"),
            addr,
            agent_api_key: keys.0,
            limited_api_key: keys.1,
            admin_user: config.admin_user,
            admin_password: config.admin_password,
            user_name: seed::PERSON_USER_NAME.to_owned(),
            user_password: seed::person_password(config.seed),
            control,
            state,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// The `KEY=VALUE` lines a standalone sandbox prints on stdout for scripts to read.
    pub fn connection_lines(&self) -> String {
        format!(
            "url={}\nagent_api_key={}\nlimited_api_key={}\nadmin_user={}\nadmin_password={}\n\
             user_name={}\nuser_password={}\n",
            self.url,
            self.agent_api_key,
            self.limited_api_key,
            self.admin_user,
            self.admin_password,
            self.user_name,
            self.user_password
        )
    }

    /// What the sandbox has seen so far.
    pub fn stats(&self) -> Stats {
        self.control.stats()
    }

    pub fn reset_stats(&self) {
        self.control.reset_stats();
    }

    pub fn set_faults(&self, faults: FaultConfig) {
        self.control.set_faults(faults);
    }

    /// Number of records of a type (for asserting state after a test).
    pub fn count(&self, entity: &str) -> usize {
        self.state.store().count(entity)
    }

    /// One stored record's attributes, if it exists.
    pub fn record(&self, entity: &str, id: &str) -> Option<Map<String, Value>> {
        self.state.store().get(entity, id).cloned()
    }

    /// Ids of the records of a type whose attribute equals `value`.
    pub fn find(&self, entity: &str, attribute: &str, value: &Value) -> Vec<String> {
        self.state
            .store()
            .all(entity)
            .filter(|(_, r)| r.get(attribute) == Some(value))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        self.stop_inner().await;
    }

    async fn stop_inner(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn router(state: Arc<api::ApiState>, control: Arc<faults::Control>) -> Router {
    let control_routes = Router::new()
        .route("/__sandbox/stats", get(faults::get_stats))
        .route("/__sandbox/faults", put(faults::put_faults))
        .route("/__sandbox/reset-stats", post(faults::reset_stats))
        .with_state(control.clone());
    Router::new()
        .fallback(api::dispatch)
        .with_state(state)
        .merge(control_routes)
        .layer(axum::middleware::from_fn_with_state(control, faults::layer))
}

/// Users, roles and (optionally) the demo data.
fn build_store(config: &SandboxConfig) -> Result<(Store, (String, String)), SandboxError> {
    let mut ids = IdGenerator::new(config.seed);
    let agent_key = config
        .agent_api_key
        .clone()
        .unwrap_or_else(|| ids.next_secret());
    let limited_key = config
        .limited_api_key
        .clone()
        .unwrap_or_else(|| ids.next_secret());
    let mut store = Store::new(ids, config.espocrm_version);
    let now = api::now();
    let (users, records) = seed::demo_records(config.seed, now);
    let meta = store.meta();
    let admin = Actor {
        user_id: users.admin_id.clone(),
        is_admin: true,
    };
    let stamp = now.format(store::DATETIME_FORMAT).to_string();
    let agent_role = Role {
        id: store.ids.next_id(),
        name: roles::AGENT_ROLE_NAME.into(),
        data: roles::agent_role_data(),
        created_at: stamp.clone(),
    };
    let limited_role = Role {
        id: store.ids.next_id(),
        name: roles::LIMITED_ROLE_NAME.into(),
        data: roles::limited_role_data(),
        created_at: stamp,
    };
    let (agent_role_id, limited_role_id) = (agent_role.id.clone(), limited_role.id.clone());
    store.insert_role(agent_role);
    store.insert_role(limited_role);
    for record in records {
        let is_user = record.entity_type == "User";
        if !config.demo_data && !is_user {
            continue;
        }
        let entity = meta.entity(record.entity_type).ok_or_else(|| {
            SandboxError::Seed(format!("unknown entity type {}", record.entity_type))
        })?;
        let mut attributes = record.attributes.clone();
        attributes
            .entry("createdById")
            .or_insert(json!(users.admin_id));
        let id = store
            .create(entity, &attributes, &admin, now, true)
            .map_err(|e| {
                SandboxError::Seed(format!(
                    "{} {:?}: {:?}",
                    record.entity_type,
                    record.attributes.get("name"),
                    e.reason
                ))
            })?;
        if is_user {
            let user_name = attributes
                .get("userName")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let (password, key, roles) = if id == users.admin_id {
                (Some(config.admin_password.clone()), None, vec![])
            } else if id == users.person_id {
                (Some(seed::person_password(config.seed)), None, vec![])
            } else if id == users.agent_id {
                (None, Some(agent_key.clone()), vec![agent_role_id.clone()])
            } else if id == users.limited_id {
                (
                    None,
                    Some(limited_key.clone()),
                    vec![limited_role_id.clone()],
                )
            } else {
                (
                    Some(format!("{user_name}-password")),
                    None,
                    vec![agent_role_id.clone()],
                )
            };
            if let Some(r) = store.record_mut_public("User", &id) {
                for k in ["type", "userName", "isActive"] {
                    if let Some(v) = attributes.get(k) {
                        r.insert(k.into(), v.clone());
                    }
                }
                if id == users.admin_id {
                    r.insert("userName".into(), json!(config.admin_user));
                }
                r.entry("isActive").or_insert(json!(true));
                r.insert("rolesIds".into(), json!(roles));
                if let Some(p) = password {
                    r.insert("password".into(), json!(p));
                }
                if let Some(k) = key {
                    r.insert("apiKey".into(), json!(k));
                    r.insert("authMethod".into(), json!("ApiKey"));
                    r.insert("lastName".into(), json!(user_name));
                    r.insert("name".into(), json!(user_name));
                }
            }
        }
    }
    Ok((store, (agent_key, limited_key)))
}
