//! MetadataCache: the one holder of the parsed EspoCRM schema.
//!
//! The actor owns the current [`Schema`] and when it expires. A lookup that finds a fresh schema
//! is answered at once. A miss starts one fetch (`GET Metadata` and `GET App/user`, through the
//! gateway and its limits) in a task of its own; misses that arrive while that fetch is under way
//! join its list of waiters instead of starting another, so twenty concurrent cold lookups make
//! one pair of upstream requests. The fetch's outcome goes to every waiter; a success is kept for
//! the TTL, a failure is not kept, so the next lookup tries again.
//!
//! The schema is one value fetched in one piece, so expiry is a single deadline kept by the actor
//! rather than a keyed cache: there is nothing to evict, and one mailbox already serialises
//! lookups, fetches and expiry.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
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

type SchemaResult = Result<Arc<Schema>, UpstreamError>;

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
}

pub(crate) struct MetadataState {
    gateway: Gateway,
    ttl: Duration,
    /// The schema and the moment it stops being served.
    cached: Option<(Arc<Schema>, Instant)>,
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
                        let report = FetchReport {
                            cache: myself,
                            result: None,
                        };
                        tokio::spawn(async move {
                            let result = fetch(&gateway).await;
                            report.deliver(result);
                        });
                    }
                }
            }
            MetadataMsg::Fetched(result) => {
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
        }
        Ok(())
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
async fn fetch(gateway: &Gateway) -> SchemaResult {
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
