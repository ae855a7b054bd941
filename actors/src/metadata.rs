//! MetadataCache: the one holder of the parsed EspoCRM schema.
//!
//! The actor owns the current [`Schema`] and when it expires. A lookup that finds a fresh schema
//! is answered at once. A miss starts one fetch (`GET Metadata` and `GET App/user`, through the
//! gateway and its limits) in a task of its own; misses that arrive while that fetch is under way
//! join its list of waiters instead of starting another, so twenty concurrent cold lookups make
//! one pair of upstream requests. The fetch's outcome goes to every waiter; a success is kept for
//! the TTL, a failure is not kept, so the next lookup tries again.
//!
//! What tools need derived from the schema is built here too, once per fetch, and handed out
//! with it ([`SchemaView`]): the schema restricted to the entity types a deployment allows, and
//! a slot per entity type for `get_schema`'s rendered answer. A new fetch brings a new view, so
//! nothing derived outlives its schema, and no caller keeps a cache or a lock of its own.
//!
//! The schema is one value fetched in one piece, so expiry is a single deadline kept by the actor
//! rather than a keyed cache: there is nothing to evict, and one mailbox already serialises
//! lookups, fetches and expiry.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::error::{SpawnError, UpstreamError};
use crate::gateway::Gateway;
use crate::plumbing;
use crate::schema::Schema;
use crate::wire::EspoRequest;

const ACTOR_NAME: &str = "metadata cache";

/// Time for the cache itself on top of the gateway's reply timeout, which bounds the fetch.
const REPLY_MARGIN: Duration = Duration::from_secs(5);

type SchemaResult = Result<Arc<SchemaView>, UpstreamError>;

/// The callers' handle to the metadata cache actor.
#[derive(Debug, Clone)]
pub struct MetadataCache {
    actor: ActorRef<MetadataMsg>,
    reply_timeout: Duration,
}

impl MetadataCache {
    /// Starts the cache. Nothing is fetched until the first lookup; entries live for `ttl`.
    pub async fn spawn(
        gateway: Gateway,
        ttl: Duration,
    ) -> Result<(Self, JoinHandle<()>), SpawnError> {
        let reply_timeout = gateway.reply_timeout() + REPLY_MARGIN;
        let args = MetadataArgs { gateway, ttl };
        let (actor, join) = plumbing::spawn(ACTOR_NAME, MetadataActor, args).await?;
        Ok((
            Self {
                actor,
                reply_timeout,
            },
            join,
        ))
    }

    /// The current schema, fetched first if there is none or it has expired.
    pub async fn schema(&self) -> Result<Arc<Schema>, UpstreamError> {
        Ok(Arc::clone(&self.view().await?.full))
    }

    /// The current schema and what is derived from it ([`SchemaView`]), fetched first if there
    /// is none or it has expired.
    pub async fn view(&self) -> Result<Arc<SchemaView>, UpstreamError> {
        plumbing::call(&self.actor, MetadataMsg::Get, self.reply_timeout)
            .await
            .map_err(|silence| silence.unavailable(ACTOR_NAME))?
    }

    /// Forgets the schema, so the next lookup fetches it again (e.g. after an admin changed
    /// fields). A fetch already under way still answers its waiters.
    pub fn invalidate(&self) {
        // Fails only when the actor is gone, and then there is nothing to forget.
        let _ = self.actor.cast(MetadataMsg::Invalidate);
    }

    /// Restricts the schema tools see ([`SchemaView::restricted`]) to the entity types
    /// `allowed` keeps (`SERVER_ENTITY_TYPES`). Sent once at start, before the first lookup: the
    /// mailbox keeps the order, so every view is built with it. A view already built is dropped,
    /// and a fetch under way when it arrives answers with a view restricted by it.
    pub fn restrict(&self, allowed: Restriction) {
        // Fails only when the actor is gone, and then there is nothing to restrict.
        let _ = self.actor.cast(MetadataMsg::Restrict(allowed));
    }

    pub fn stop(&self) {
        self.actor.stop(None);
    }
}

pub(crate) struct MetadataActor;

pub(crate) struct MetadataArgs {
    gateway: Gateway,
    ttl: Duration,
}

pub(crate) enum MetadataMsg {
    Get(RpcReplyPort<SchemaResult>),
    /// The fetch task's outcome.
    Fetched(SchemaResult),
    Invalidate,
    Restrict(Restriction),
}

pub(crate) struct MetadataState {
    gateway: Gateway,
    ttl: Duration,
    /// The schema and the moment it stops being served.
    cached: Option<(Arc<SchemaView>, Instant)>,
    /// The entity types tools may see; `None`: all of them.
    restriction: Option<Restriction>,
    /// The restriction the fetch under way builds its view with.
    fetching_under: Option<Restriction>,
    /// `Some` while a fetch is under way: the callers waiting for it.
    waiting: Option<Vec<RpcReplyPort<SchemaResult>>>,
}

impl Actor for MetadataActor {
    type Msg = MetadataMsg;
    type State = MetadataState;
    type Arguments = MetadataArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: MetadataArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(MetadataState {
            gateway: args.gateway,
            ttl: args.ttl,
            cached: None,
            restriction: None,
            fetching_under: None,
            waiting: None,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            MetadataMsg::Get(reply) => {
                if let Some((schema, expires_at)) = &state.cached
                    && Instant::now() < *expires_at
                {
                    let _ = reply.send(Ok(Arc::clone(schema)));
                    return Ok(());
                }
                state.cached = None;
                match &mut state.waiting {
                    Some(waiting) => waiting.push(reply),
                    None => {
                        state.waiting = Some(vec![reply]);
                        let gateway = state.gateway.clone();
                        let restriction = state.restriction.clone();
                        state.fetching_under = restriction.clone();
                        let report = FetchReport {
                            cache: myself,
                            result: None,
                        };
                        tokio::spawn(async move {
                            let result = fetch(&gateway).await.map(|schema| {
                                Arc::new(SchemaView::new(schema, restriction.as_deref()))
                            });
                            report.deliver(result);
                        });
                    }
                }
            }
            MetadataMsg::Fetched(result) => {
                // A restriction that arrived during the fetch wins over the one it started with.
                let result = match result {
                    Ok(view) if !same(&state.fetching_under, &state.restriction) => Ok(Arc::new(
                        SchemaView::new(Arc::clone(&view.full), state.restriction.as_deref()),
                    )),
                    other => other,
                };
                if let Ok(schema) = &result {
                    state.cached = Some((Arc::clone(schema), Instant::now() + state.ttl));
                }
                if let Err(error) = &result {
                    tracing::warn!(%error, "fetching EspoCRM metadata failed");
                }
                for reply in state.waiting.take().unwrap_or_default() {
                    let _ = reply.send(result.clone());
                }
            }
            MetadataMsg::Invalidate => state.cached = None,
            MetadataMsg::Restrict(allowed) => {
                state.restriction = Some(allowed);
                state.cached = None;
            }
        }
        Ok(())
    }
}

/// Whether two restrictions are the same one (the same `Arc`, or both none).
fn same(a: &Option<Restriction>, b: &Option<Restriction>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// The fetch task's way back to the actor. Dropping it sends `Fetched` — with the outcome, or an
/// error if the task panicked or was cancelled — so waiters are never left without an answer.
struct FetchReport {
    cache: ActorRef<MetadataMsg>,
    result: Option<SchemaResult>,
}

impl FetchReport {
    fn deliver(mut self, result: SchemaResult) {
        self.result = Some(result);
    }
}

impl Drop for FetchReport {
    fn drop(&mut self) {
        let result = self.result.take().unwrap_or_else(|| {
            Err(UpstreamError::Unavailable {
                actor: ACTOR_NAME,
                message: "the metadata fetch was abandoned".to_owned(),
            })
        });
        // Fails only when the cache has stopped; nobody is waiting then.
        let _ = self.cache.send_message(MetadataMsg::Fetched(result));
    }
}

/// Fetches both documents at once and parses them.
async fn fetch(gateway: &Gateway) -> Result<Arc<Schema>, UpstreamError> {
    let (metadata, app_user) = tokio::join!(
        gateway.send(EspoRequest::get(["Metadata"])),
        gateway.send(EspoRequest::get(["App", "user"])),
    );
    let (metadata, app_user) = (metadata?, app_user?);
    Schema::from_espo(&metadata.body, &app_user.body)
        .map(Arc::new)
        .map_err(|error| UpstreamError::InvalidResponse {
            status: metadata.status,
            message: error.to_string(),
        })
}

/// Which entity types tools may see, by name (see [`MetadataCache::restrict`]).
pub type Restriction = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// A fetched schema and what is derived from it, built once per fetch by the metadata cache
/// and handed out with it. Cheap to share (behind an `Arc`); nothing in it is ever replaced, and
/// the rendered answers are filled in once each, on first use.
pub struct SchemaView {
    /// The schema as EspoCRM reports it.
    pub full: Arc<Schema>,
    /// The schema as tools may see it: without the entity types the deployment leaves out
    /// ([`Schema::restricted_to`]); the same `Arc` as `full` when nothing is restricted.
    pub restricted: Arc<Schema>,
    /// `get_schema`'s answer per entity type of `restricted`, rendered on first use.
    answers: BTreeMap<String, OnceLock<Arc<Rendered>>>,
}

/// An answer rendered once: the JSON value and its compact text.
#[derive(Debug)]
pub struct Rendered {
    pub value: Value,
    pub text: String,
}

impl SchemaView {
    /// The view of `full`, restricted to the entity types `allowed` keeps (all without one).
    pub fn new(full: Arc<Schema>, allowed: Option<&(dyn Fn(&str) -> bool + Send + Sync)>) -> Self {
        let restricted = match allowed {
            Some(allowed) => Arc::new(full.restricted_to(allowed)),
            None => Arc::clone(&full),
        };
        let answers = restricted
            .entities()
            .map(|entity| (entity.name.clone(), OnceLock::new()))
            .collect();
        SchemaView {
            full,
            restricted,
            answers,
        }
    }

    /// Whether a restriction left some entity types out of [`Self::restricted`].
    pub fn is_restricted(&self) -> bool {
        !Arc::ptr_eq(&self.full, &self.restricted)
    }

    /// The answer about `entity_type` (as the restricted schema spells it), rendered by
    /// `render` the first time it is asked for; an entity type the schema does not have is
    /// rendered every time.
    pub fn answer(&self, entity_type: &str, render: impl FnOnce() -> Value) -> Arc<Rendered> {
        let rendered = || {
            let value = render();
            // Writing a `Value` into a string cannot fail: its keys are strings.
            let text = serde_json::to_string(&value).unwrap_or_else(|_| value.to_string());
            Arc::new(Rendered { value, text })
        };
        match self.answers.get(entity_type) {
            Some(slot) => Arc::clone(slot.get_or_init(rendered)),
            None => rendered(),
        }
    }
}

/// Not the schemas (large): which one, and how many answers are rendered.
impl fmt::Debug for SchemaView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rendered = self.answers.values().filter(|slot| slot.get().is_some());
        f.debug_struct("SchemaView")
            .field("restricted", &!Arc::ptr_eq(&self.full, &self.restricted))
            .field("rendered", &rendered.count())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use serde_json::json;

    use super::*;

    fn fixture_schema() -> Arc<Schema> {
        let metadata: Value = serde_json::from_str(include_str!("../tests/fixtures/metadata.json"))
            .expect("the metadata fixture is JSON");
        let app_user: Value = serde_json::from_str(include_str!("../tests/fixtures/app-user.json"))
            .expect("the app-user fixture is JSON");
        Arc::new(Schema::from_espo(&metadata, &app_user).expect("the fixtures make a schema"))
    }

    #[test]
    fn should_render_a_schema_answer_once_per_schema_and_entity_type() {
        let view = SchemaView::new(fixture_schema(), None);
        let renders = Cell::new(0);
        let render = |name: &str| {
            renders.set(renders.get() + 1);
            json!({"entityType": name, "fields": [], "links": []})
        };
        let first = view.answer("Account", || render("Account"));
        let again = view.answer("Account", || render("Account"));
        assert_eq!(renders.get(), 1);
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(
            first.text,
            r#"{"entityType":"Account","fields":[],"links":[]}"#
        );
        assert_eq!(first.text, first.value.to_string());

        let contact = view.answer("Contact", || render("Contact"));
        assert_eq!(renders.get(), 2);
        assert_eq!(contact.value["entityType"], "Contact");

        // A new fetch (a new view) renders again: no answer outlives its schema.
        let refetched = SchemaView::new(fixture_schema(), None);
        let fresh = refetched.answer("Account", || render("Account"));
        assert_eq!(renders.get(), 3);
        assert!(!Arc::ptr_eq(&first, &fresh));
        view.answer("Account", || render("Account"));
        assert_eq!(renders.get(), 3, "the first view still has its answer");
    }

    #[test]
    fn should_restrict_the_schema_once_per_fetch() {
        let full = fixture_schema();
        let open = SchemaView::new(Arc::clone(&full), None);
        assert!(Arc::ptr_eq(&open.full, &open.restricted));
        let allowed = |name: &str| name == "Account" || name == "Contact";
        let view = SchemaView::new(Arc::clone(&full), Some(&allowed));
        assert!(Arc::ptr_eq(&view.full, &full));
        assert!(view.restricted.entity("Account").is_some());
        assert!(view.restricted.entity("Opportunity").is_none());
        assert!(view.restricted.is_excluded("opportunity"));
        // An entity type outside the restriction has no slot: rendered, never kept.
        let renders = Cell::new(0);
        for _ in 0..2 {
            view.answer("Opportunity", || {
                renders.set(renders.get() + 1);
                json!({})
            });
        }
        assert_eq!(renders.get(), 2);
    }
}
