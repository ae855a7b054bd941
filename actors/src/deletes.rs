//! DeleteConfirmations: the one holder of pending delete previews.
//!
//! `delete` works in two steps. With `confirm: false` the tool fetches the record, shows it, and
//! registers a preview of (owner, entity type, id) here, with an expiry. With `confirm: true` it
//! must first claim that preview: the claim succeeds once, for exactly the record previewed, by
//! the caller who previewed it, before the expiry. The actor's mailbox serialises claims, so of any
//! number of concurrent confirmations of one preview exactly one is told `Claimed` and deletes;
//! the others are told `NotPending`. A claim whose DELETE request then failed (a timeout, a
//! refused connection) can be released, which makes the same preview claimable again until its
//! original expiry, so the agent can retry without previewing again.
//!
//! A preview can also be looked at without claiming it ([`DeleteConfirmations::status`]): a
//! confirmation that must first ask a person (human mode, 2026-07-28) checks that there is
//! something to confirm before asking, and claims only once the answer is in.
//!
//! A preview is bound to what it showed: the record's [`RecordState`] (its `modifiedAt`,
//! `versionNumber` and shown fields) is kept with it and handed back to whoever claims it, who
//! reads the record again and deletes only if nothing changed. Each registration has its own
//! token, so a person's answer given about one preview (sealed with its token) can only claim
//! that registration, never a later one; and a preview the person refused is forgotten at once
//! ([`DeleteConfirmations::refuse`]), so nothing can give it back.
//!
//! Memory is bounded twice over: a periodic sweep forgets previews some time after they expired,
//! and at most `capacity` previews are held; registering one more evicts the oldest. Losing a
//! preview is always safe: the agent is told to preview again, never allowed to delete without.
//! Time is tokio's, so tests drive expiry with `tokio::time::pause()` instead of sleeping.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::error::{SpawnError, UpstreamError};
use crate::plumbing;

const ACTOR_NAME: &str = "delete confirmations";

/// Every handler answers at once, without I/O; a reply this late means the actor is stuck.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Longer TTLs are shortened to this, so that no deadline computed from one can overflow.
const MAX_TTL: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The sweep runs every TTL, but at least this seldom (a zero TTL) and this often (a long one).
const MIN_SWEEP_PERIOD: Duration = Duration::from_secs(1);
const MAX_SWEEP_PERIOD: Duration = Duration::from_secs(60);

/// What the tool shows with a preview: until when `confirm: true` will be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PendingDelete {
    /// Names this registration (each one, renewals included, gets a new number), so a preview and
    /// the log lines of its confirmation can be matched up. Not a secret, and not needed to claim.
    pub token: u64,
    /// The TTL the actor was started with: how long the agent has to confirm.
    pub expires_in: Duration,
    /// From then on a claim is answered `Expired`.
    pub expires_at: Instant,
}

/// What a preview saw of the record. A confirmation reads the record again and compares: a
/// record that changed since it was shown is not deleted on the strength of the old preview.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordState {
    /// `modifiedAt`, as EspoCRM wrote it (to the second).
    pub modified_at: Option<String>,
    /// `versionNumber`, on EspoCRM versions and entity types that keep one.
    pub version_number: Option<String>,
    /// The fields the preview showed, as the tool encodes them: a change made within the same
    /// second as the preview leaves `modifiedAt` as it was, but shows here.
    pub shown: String,
}

/// A registered preview as a claim or a status check finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldPreview {
    /// The registration's token ([`PendingDelete::token`]).
    pub token: u64,
    /// The record as the preview showed it.
    pub state: RecordState,
}

/// The answer to a claim. Exhaustive on purpose: a new answer must make the tool decide what it
/// means for a delete, not fall into a wildcard arm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The preview was pending and is now used: go ahead and delete, once, if the record is
    /// still as the preview showed it.
    Claimed(HeldPreview),
    /// No preview of this record by this owner is waiting: none was registered, it was already
    /// claimed (a second or concurrent confirmation), or it was forgotten or evicted. Preview first.
    NotPending,
    /// There was a preview, but its time ran out. It is forgotten now; preview again.
    Expired,
    /// The claim named a registration (by its token) that is no longer the current one: the
    /// record was previewed again since. Nothing was claimed.
    Superseded,
}

impl ClaimOutcome {
    /// Whether the claim succeeded.
    pub fn is_claimed(&self) -> bool {
        matches!(self, Self::Claimed(_))
    }
}

/// Whether a preview could be claimed now, as seen by [`DeleteConfirmations::status`], which
/// changes nothing. Exhaustive for the same reason as [`ClaimOutcome`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreviewStatus {
    /// A claim now would succeed.
    Pending(HeldPreview),
    /// No claimable preview: none registered, already claimed, forgotten or evicted.
    NotPending,
    /// There is a preview, but its time has run out.
    Expired,
}

/// The callers' handle to the delete confirmations actor.
#[derive(Debug, Clone)]
pub struct DeleteConfirmations {
    actor: ActorRef<ConfirmationsMsg>,
}

impl DeleteConfirmations {
    /// How many previews are held at most when started with [`spawn`](Self::spawn).
    pub const DEFAULT_CAPACITY: NonZeroUsize = NonZeroUsize::new(1_000).expect("1000 is not zero");

    /// Starts the actor; previews can be claimed for `ttl` after they were registered. The join
    /// handle completes when the actor has stopped.
    pub async fn spawn(ttl: Duration) -> Result<(Self, JoinHandle<()>), SpawnError> {
        Self::spawn_with_capacity(ttl, Self::DEFAULT_CAPACITY).await
    }

    /// Like [`spawn`](Self::spawn), holding at most `capacity` previews.
    pub async fn spawn_with_capacity(
        ttl: Duration,
        capacity: NonZeroUsize,
    ) -> Result<(Self, JoinHandle<()>), SpawnError> {
        let args = ConfirmationsArgs {
            ttl: ttl.min(MAX_TTL),
            capacity: capacity.get(),
        };
        let (actor, join) = plumbing::spawn(ACTOR_NAME, ConfirmationsActor, args).await?;
        Ok((Self { actor }, join))
    }

    /// Records a pending preview of (`entity_type`, `id`) by `owner`, or renews it: a new token
    /// and a full TTL from now, claimable again even if a confirmation had claimed it before.
    ///
    /// `owner` is whoever may confirm: the MCP session, or one fixed string over stdio, where
    /// there is a single client. `entity_type` is compared exactly; the tool normalises it first.
    /// `state` is the record as the preview shows it; a claim hands it back.
    pub async fn register(
        &self,
        entity_type: &str,
        id: &str,
        owner: &str,
        state: RecordState,
    ) -> Result<PendingDelete, UpstreamError> {
        let key = PreviewKey::new(entity_type, id, owner);
        self.call(|reply| ConfirmationsMsg::Register(key, state, reply))
            .await
    }

    /// Claims `owner`'s pending preview of exactly (`entity_type`, `id`). `Claimed` is answered
    /// once per registration, however many confirmations race for it.
    pub async fn claim(
        &self,
        entity_type: &str,
        id: &str,
        owner: &str,
    ) -> Result<ClaimOutcome, UpstreamError> {
        self.claim_registration(entity_type, id, owner, None).await
    }

    /// Like [`claim`](Self::claim), but only the registration `token` names: after the record
    /// was previewed again, a confirmation made for the earlier preview is told `Superseded`.
    pub async fn claim_token(
        &self,
        entity_type: &str,
        id: &str,
        owner: &str,
        token: u64,
    ) -> Result<ClaimOutcome, UpstreamError> {
        self.claim_registration(entity_type, id, owner, Some(token))
            .await
    }

    async fn claim_registration(
        &self,
        entity_type: &str,
        id: &str,
        owner: &str,
        token: Option<u64>,
    ) -> Result<ClaimOutcome, UpstreamError> {
        let key = PreviewKey::new(entity_type, id, owner);
        self.call(|reply| ConfirmationsMsg::Claim(key, token, reply))
            .await
    }

    /// Forgets `owner`'s preview of (`entity_type`, `id`), claimed or not, because the person
    /// refused the delete or the record changed since it was shown: no release gives it back,
    /// and no answer about it can claim a later one. Answers whether there was one.
    pub async fn refuse(
        &self,
        entity_type: &str,
        id: &str,
        owner: &str,
    ) -> Result<bool, UpstreamError> {
        let key = PreviewKey::new(entity_type, id, owner);
        self.call(|reply| ConfirmationsMsg::Refuse(key, reply))
            .await
    }

    /// Whether `owner`'s preview of (`entity_type`, `id`) could be claimed now, without claiming
    /// it or forgetting an expired one. Only a hint: a claim may still lose a race afterwards.
    pub async fn status(
        &self,
        entity_type: &str,
        id: &str,
        owner: &str,
    ) -> Result<PreviewStatus, UpstreamError> {
        let key = PreviewKey::new(entity_type, id, owner);
        self.call(|reply| ConfirmationsMsg::Status(key, reply))
            .await
    }

    /// Gives a claimed preview back after its DELETE request failed, so the agent can confirm
    /// again without a new preview. Answers whether the preview is claimable now: `false` when it
    /// has expired meanwhile (the next claim is told `Expired`), or when there was nothing to give
    /// back — a release never creates a preview that was not registered.
    pub async fn release(
        &self,
        entity_type: &str,
        id: &str,
        owner: &str,
    ) -> Result<bool, UpstreamError> {
        let key = PreviewKey::new(entity_type, id, owner);
        self.call(|reply| ConfirmationsMsg::Release(key, reply))
            .await
    }

    /// How many previews could be claimed right now, all owners together.
    pub async fn pending_count(&self) -> Result<usize, UpstreamError> {
        self.call(ConfirmationsMsg::PendingCount).await
    }

    /// Stops the actor; every preview is forgotten and later calls get `Unavailable`.
    pub fn stop(&self) {
        self.actor.stop(None);
    }

    /// Asks the actor and waits for its answer; its silence is `Unavailable`.
    async fn call<T: Send + 'static>(
        &self,
        request: impl FnOnce(RpcReplyPort<T>) -> ConfirmationsMsg,
    ) -> Result<T, UpstreamError> {
        plumbing::call(&self.actor, request, REPLY_TIMEOUT)
            .await
            .map_err(|silence| silence.unavailable(ACTOR_NAME))
    }
}

/// Whose preview of which record. All three must match for a claim.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PreviewKey {
    owner: String,
    entity_type: String,
    id: String,
}

impl PreviewKey {
    fn new(entity_type: &str, id: &str, owner: &str) -> Self {
        Self {
            owner: owner.to_owned(),
            entity_type: entity_type.to_owned(),
            id: id.to_owned(),
        }
    }
}

pub(crate) struct ConfirmationsActor;

pub(crate) struct ConfirmationsArgs {
    ttl: Duration,
    capacity: usize,
}

pub(crate) enum ConfirmationsMsg {
    Register(PreviewKey, RecordState, RpcReplyPort<PendingDelete>),
    /// With a token, only that registration may be claimed.
    Claim(PreviewKey, Option<u64>, RpcReplyPort<ClaimOutcome>),
    Status(PreviewKey, RpcReplyPort<PreviewStatus>),
    Release(PreviewKey, RpcReplyPort<bool>),
    Refuse(PreviewKey, RpcReplyPort<bool>),
    PendingCount(RpcReplyPort<usize>),
    /// From the sweep timer: forget previews that expired long enough ago.
    Sweep,
}

pub(crate) struct ConfirmationsState {
    ttl: Duration,
    capacity: usize,
    previews: HashMap<PreviewKey, Preview>,
    /// The token of the next registration; tokens also order previews from oldest to newest.
    next_token: u64,
    /// The task that sends `Sweep`; aborted when the actor stops.
    sweeper: JoinHandle<()>,
}

struct Preview {
    token: u64,
    /// The record as the preview showed it; handed to the claimer, who compares.
    state: RecordState,
    expires_at: Instant,
    /// Set by a claim, cleared by a release. A claimed preview is kept until it is forgotten, only
    /// so that a release can give it back with its original expiry.
    claimed: bool,
}

impl Actor for ConfirmationsActor {
    type Msg = ConfirmationsMsg;
    type State = ConfirmationsState;
    type Arguments = ConfirmationsArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: ConfirmationsArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let period = args.ttl.clamp(MIN_SWEEP_PERIOD, MAX_SWEEP_PERIOD);
        let sweeper = myself.send_interval(period, || ConfirmationsMsg::Sweep);
        Ok(ConfirmationsState {
            ttl: args.ttl,
            capacity: args.capacity,
            previews: HashMap::new(),
            next_token: 1,
            sweeper,
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        state.sweeper.abort();
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let now = Instant::now();
        match message {
            ConfirmationsMsg::Register(key, record, reply) => {
                let pending = state.register(key, record, now);
                let _ = reply.send(pending);
            }
            ConfirmationsMsg::Claim(key, token, reply) => {
                let outcome = state.claim(&key, token, now);
                let claimed = outcome.is_claimed();
                if reply.send(outcome).is_err() && claimed {
                    // The caller gave up waiting and will not delete: the claim was never used.
                    state.release(&key, now);
                }
            }
            ConfirmationsMsg::Refuse(key, reply) => {
                let forgotten = state.previews.remove(&key).is_some();
                if forgotten {
                    tracing::debug!(entity_type = %key.entity_type, id = %key.id, "delete preview refused");
                }
                let _ = reply.send(forgotten);
            }
            ConfirmationsMsg::Status(key, reply) => {
                let _ = reply.send(state.status(&key, now));
            }
            ConfirmationsMsg::Release(key, reply) => {
                let _ = reply.send(state.release(&key, now));
            }
            ConfirmationsMsg::PendingCount(reply) => {
                let count = state
                    .previews
                    .values()
                    .filter(|preview| !preview.claimed && now < preview.expires_at)
                    .count();
                let _ = reply.send(count);
            }
            ConfirmationsMsg::Sweep => state.sweep(now),
        }
        Ok(())
    }
}

impl ConfirmationsState {
    fn register(&mut self, key: PreviewKey, record: RecordState, now: Instant) -> PendingDelete {
        if !self.previews.contains_key(&key) && self.previews.len() >= self.capacity {
            self.sweep(now);
            if self.previews.len() >= self.capacity {
                self.evict_oldest();
            }
        }
        let token = self.next_token;
        self.next_token += 1;
        let expires_at = now + self.ttl;
        tracing::debug!(
            entity_type = %key.entity_type,
            id = %key.id,
            token,
            "delete preview registered"
        );
        self.previews.insert(
            key,
            Preview {
                token,
                state: record,
                expires_at,
                claimed: false,
            },
        );
        PendingDelete {
            token,
            expires_in: self.ttl,
            expires_at,
        }
    }

    fn claim(&mut self, key: &PreviewKey, token: Option<u64>, now: Instant) -> ClaimOutcome {
        let Some(preview) = self.previews.get_mut(key) else {
            return ClaimOutcome::NotPending;
        };
        if token.is_some_and(|token| token != preview.token) {
            return ClaimOutcome::Superseded;
        }
        if preview.claimed {
            return ClaimOutcome::NotPending;
        }
        if now >= preview.expires_at {
            self.previews.remove(key);
            return ClaimOutcome::Expired;
        }
        preview.claimed = true;
        tracing::debug!(
            entity_type = %key.entity_type,
            id = %key.id,
            token = preview.token,
            "delete preview claimed"
        );
        ClaimOutcome::Claimed(HeldPreview {
            token: preview.token,
            state: preview.state.clone(),
        })
    }

    fn status(&self, key: &PreviewKey, now: Instant) -> PreviewStatus {
        match self.previews.get(key) {
            None => PreviewStatus::NotPending,
            Some(preview) if preview.claimed => PreviewStatus::NotPending,
            Some(preview) if now >= preview.expires_at => PreviewStatus::Expired,
            Some(preview) => PreviewStatus::Pending(HeldPreview {
                token: preview.token,
                state: preview.state.clone(),
            }),
        }
    }

    /// Makes a claimed preview pending again; whether it can now be claimed.
    fn release(&mut self, key: &PreviewKey, now: Instant) -> bool {
        let Some(preview) = self.previews.get_mut(key) else {
            return false;
        };
        // An expired preview goes back too, so that the next claim hears `Expired`, not
        // `NotPending`; it cannot be claimed either way.
        preview.claimed = false;
        now < preview.expires_at
    }

    /// Forgets previews that expired at least one TTL ago, claimed ones included. Until then an
    /// expired preview is kept so that a late confirmation is told `Expired` ("preview again")
    /// rather than `NotPending` ("there was no preview").
    fn sweep(&mut self, now: Instant) {
        let ttl = self.ttl;
        self.previews
            .retain(|_, preview| now < preview.expires_at + ttl);
    }

    /// Makes room for one more. Linear, but only when full, and over at most `capacity` entries.
    fn evict_oldest(&mut self) {
        let oldest = self
            .previews
            .iter()
            .min_by_key(|(_, preview)| preview.token)
            .map(|(key, _)| key.clone());
        if let Some(key) = oldest {
            tracing::debug!(
                entity_type = %key.entity_type,
                id = %key.id,
                capacity = self.capacity,
                "delete preview evicted: too many pending"
            );
            self.previews.remove(&key);
        }
    }
}
