//! Delete confirmations: a preview is claimed once, for exactly the record previewed, by whoever
//! previewed it, before it expires; concurrent confirmations delete once; memory stays bounded.
//!
//! Expiry is tested on tokio's paused clock (`start_paused`): `sleep` there moves virtual time
//! forward, firing the sweep timer on the way, and takes no real time. The races run on a real
//! multi-threaded runtime, released together by a barrier.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use espomcp_actors::{
    ClaimOutcome, DeleteConfirmations, PreviewStatus, RecordState, UpstreamError,
};
use tokio::sync::Barrier;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep};

const TTL: Duration = Duration::from_secs(300);
const OWNER: &str = "stdio";

async fn confirmations(ttl: Duration) -> DeleteConfirmations {
    let (confirmations, _join) = DeleteConfirmations::spawn(ttl)
        .await
        .expect("the actor starts");
    confirmations
}

async fn with_capacity(capacity: usize) -> DeleteConfirmations {
    let capacity = NonZeroUsize::new(capacity).expect("a capacity above zero");
    let (confirmations, _join) = DeleteConfirmations::spawn_with_capacity(TTL, capacity)
        .await
        .expect("the actor starts");
    confirmations
}

/// A claim's answer without what a successful one carries, so that tests can compare it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Claimed,
    NotPending,
    Expired,
    Superseded,
}

impl From<ClaimOutcome> for Outcome {
    fn from(outcome: ClaimOutcome) -> Self {
        match outcome {
            ClaimOutcome::Claimed(_) => Self::Claimed,
            ClaimOutcome::NotPending => Self::NotPending,
            ClaimOutcome::Expired => Self::Expired,
            ClaimOutcome::Superseded => Self::Superseded,
        }
    }
}

/// A status without what a pending one carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Pending,
    NotPending,
    Expired,
}

impl From<PreviewStatus> for Status {
    fn from(status: PreviewStatus) -> Self {
        match status {
            PreviewStatus::Pending(_) => Self::Pending,
            PreviewStatus::NotPending => Self::NotPending,
            PreviewStatus::Expired => Self::Expired,
        }
    }
}

/// The record as a preview of it at `modified_at` shows it.
fn state(modified_at: &str) -> RecordState {
    RecordState {
        modified_at: Some(modified_at.to_owned()),
        version_number: None,
        shown: format!(r#"{{"name":"Acme","modifiedAt":"{modified_at}"}}"#),
    }
}

async fn register(confirmations: &DeleteConfirmations, entity_type: &str, id: &str) -> u64 {
    confirmations
        .register(entity_type, id, OWNER, state("2026-12-02 04:13:40"))
        .await
        .expect("registered")
        .token
}

async fn claim(confirmations: &DeleteConfirmations, entity_type: &str, id: &str) -> Outcome {
    confirmations
        .claim(entity_type, id, OWNER)
        .await
        .expect("an answer")
        .into()
}

async fn release(confirmations: &DeleteConfirmations, entity_type: &str, id: &str) -> bool {
    confirmations
        .release(entity_type, id, OWNER)
        .await
        .expect("an answer")
}

async fn pending(confirmations: &DeleteConfirmations) -> usize {
    confirmations.pending_count().await.expect("an answer")
}

#[tokio::test]
async fn should_claim_a_registered_preview_once() {
    let confirmations = confirmations(TTL).await;
    register(&confirmations, "Account", "a1").await;

    assert_eq!(
        claim(&confirmations, "Account", "a1").await,
        Outcome::Claimed
    );
    assert_eq!(
        claim(&confirmations, "Account", "a1").await,
        Outcome::NotPending
    );
}

#[tokio::test]
async fn should_not_claim_without_a_preview() {
    let confirmations = confirmations(TTL).await;

    assert_eq!(
        claim(&confirmations, "Account", "a1").await,
        Outcome::NotPending
    );
    assert_eq!(pending(&confirmations).await, 0);
}

#[tokio::test]
async fn should_claim_only_the_record_previewed() {
    let confirmations = confirmations(TTL).await;
    register(&confirmations, "Account", "a1").await;

    for (entity_type, id) in [
        ("Account", "b2"),
        ("Contact", "a1"),
        ("account", "a1"),
        ("Account", "A1"),
        ("Account", "a1 "),
    ] {
        assert_eq!(
            claim(&confirmations, entity_type, id).await,
            Outcome::NotPending,
            "{entity_type} {id:?}"
        );
    }
    assert_eq!(
        claim(&confirmations, "Account", "a1").await,
        Outcome::Claimed
    );
}

#[tokio::test]
async fn should_keep_owners_apart() {
    let confirmations = confirmations(TTL).await;
    confirmations
        .register("Account", "a1", "session-x", RecordState::default())
        .await
        .expect("registered");

    let by_y = confirmations.claim("Account", "a1", "session-y").await;
    assert_eq!(Outcome::from(by_y.expect("an answer")), Outcome::NotPending);
    let released_by_y = confirmations.release("Account", "a1", "session-y").await;
    assert!(!released_by_y.expect("an answer"));

    let by_x = confirmations.claim("Account", "a1", "session-x").await;
    assert_eq!(Outcome::from(by_x.expect("an answer")), Outcome::Claimed);
}

#[tokio::test]
async fn should_let_each_owner_claim_its_own_preview_of_one_record() {
    let confirmations = confirmations(TTL).await;
    for owner in ["session-x", "session-y"] {
        confirmations
            .register("Account", "a1", owner, RecordState::default())
            .await
            .expect("registered");
    }
    assert_eq!(pending(&confirmations).await, 2);

    for owner in ["session-x", "session-y"] {
        let first = confirmations.claim("Account", "a1", owner).await;
        assert_eq!(
            Outcome::from(first.expect("an answer")),
            Outcome::Claimed,
            "{owner}"
        );
        let second = confirmations.claim("Account", "a1", owner).await;
        assert_eq!(
            Outcome::from(second.expect("an answer")),
            Outcome::NotPending,
            "{owner}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn should_report_when_a_preview_expires() {
    let confirmations = confirmations(TTL).await;
    let before = Instant::now();
    let preview = confirmations
        .register("Account", "a1", OWNER, RecordState::default())
        .await
        .expect("registered");
    assert_eq!(preview.expires_in, TTL);
    assert_eq!(preview.expires_at, before + TTL);

    sleep(TTL + Duration::from_secs(1)).await;

    assert_eq!(pending(&confirmations).await, 0);
    assert_eq!(
        claim(&confirmations, "Account", "a1").await,
        Outcome::Expired
    );
    // Told once, then forgotten.
    assert_eq!(
        claim(&confirmations, "Account", "a1").await,
        Outcome::NotPending
    );
}

#[tokio::test(start_paused = true)]
async fn should_claim_until_the_last_moment() {
    let confirmations = confirmations(TTL).await;
    register(&confirmations, "Account", "a1").await;

    sleep(TTL - Duration::from_millis(1)).await;

    assert_eq!(
        claim(&confirmations, "Account", "a1").await,
        Outcome::Claimed
    );
}

#[tokio::test(start_paused = true)]
async fn should_renew_a_preview_registered_again() {
    let confirmations = confirmations(TTL).await;
    let first = confirmations
        .register("Account", "a1", OWNER, RecordState::default())
        .await
        .expect("registered");

    sleep(Duration::from_secs(200)).await;
    let renewed = confirmations
        .register("Account", "a1", OWNER, RecordState::default())
        .await
        .expect("registered");
    assert_ne!(renewed.token, first.token);
    assert!(renewed.expires_at > first.expires_at);
    assert_eq!(pending(&confirmations).await, 1);

    // Past the first expiry, within the second.
    sleep(Duration::from_secs(200)).await;
    assert_eq!(
        claim(&confirmations, "Account", "a1").await,
        Outcome::Claimed
    );
}

#[tokio::test(start_paused = true)]
async fn should_forget_long_expired_previews_in_the_sweep() {
    let confirmations = confirmations(TTL).await;
    register(&confirmations, "Account", "a1").await;
    register(&confirmations, "Account", "a2").await;
    assert_eq!(
        claim(&confirmations, "Account", "a2").await,
        Outcome::Claimed
    );

    // Nothing touches the previews meanwhile: only the sweep can forget them.
    sleep(3 * TTL).await;

    assert_eq!(
        claim(&confirmations, "Account", "a1").await,
        Outcome::NotPending
    );
    assert!(!release(&confirmations, "Account", "a2").await);
    assert_eq!(
        claim(&confirmations, "Account", "a2").await,
        Outcome::NotPending
    );
}

#[tokio::test(start_paused = true)]
async fn should_expire_at_once_with_a_zero_ttl() {
    let confirmations = confirmations(Duration::ZERO).await;
    register(&confirmations, "Account", "a1").await;

    assert_eq!(
        claim(&confirmations, "Account", "a1").await,
        Outcome::Expired
    );
}

#[tokio::test]
async fn should_give_back_a_released_claim_once() {
    let confirmations = confirmations(TTL).await;
    register(&confirmations, "Account", "a1").await;
    assert_eq!(
        claim(&confirmations, "Account", "a1").await,
        Outcome::Claimed
    );

    // The DELETE request failed: the agent may confirm again without a new preview.
    assert!(release(&confirmations, "Account", "a1").await);
    assert_eq!(pending(&confirmations).await, 1);

    assert_eq!(
        claim(&confirmations, "Account", "a1").await,
        Outcome::Claimed
    );
    assert_eq!(
        claim(&confirmations, "Account", "a1").await,
        Outcome::NotPending
    );
}

async fn status(confirmations: &DeleteConfirmations, entity_type: &str, id: &str) -> Status {
    confirmations
        .status(entity_type, id, OWNER)
        .await
        .expect("an answer")
        .into()
}

#[tokio::test(start_paused = true)]
async fn should_report_the_status_of_a_preview_without_claiming_it() {
    let confirmations = confirmations(TTL).await;
    assert_eq!(
        status(&confirmations, "Account", "a1").await,
        Status::NotPending
    );
    register(&confirmations, "Account", "a1").await;
    // Looking, however often, claims nothing.
    for _ in 0..3 {
        assert_eq!(
            status(&confirmations, "Account", "a1").await,
            Status::Pending
        );
    }
    assert_eq!(
        Status::from(
            confirmations
                .status("Account", "a1", "another owner")
                .await
                .expect("an answer")
        ),
        Status::NotPending
    );
    assert_eq!(
        status(&confirmations, "Contact", "a1").await,
        Status::NotPending
    );
    assert_eq!(
        claim(&confirmations, "Account", "a1").await,
        Outcome::Claimed
    );
    assert_eq!(
        status(&confirmations, "Account", "a1").await,
        Status::NotPending
    );

    // An expired preview is reported as such, and stays so: only a claim forgets it.
    register(&confirmations, "Account", "a2").await;
    sleep(TTL).await;
    for _ in 0..2 {
        assert_eq!(
            status(&confirmations, "Account", "a2").await,
            Status::Expired
        );
    }
    assert_eq!(
        claim(&confirmations, "Account", "a2").await,
        Outcome::Expired
    );
    assert_eq!(
        status(&confirmations, "Account", "a2").await,
        Status::NotPending
    );
}

#[tokio::test]
async fn should_not_create_a_preview_by_releasing() {
    let confirmations = confirmations(TTL).await;

    assert!(!release(&confirmations, "Account", "a1").await);
    assert_eq!(
        claim(&confirmations, "Account", "a1").await,
        Outcome::NotPending
    );
}

#[tokio::test(start_paused = true)]
async fn should_not_give_back_an_expired_claim() {
    let confirmations = confirmations(TTL).await;
    register(&confirmations, "Account", "a1").await;
    assert_eq!(
        claim(&confirmations, "Account", "a1").await,
        Outcome::Claimed
    );

    // The DELETE request took longer than what was left of the preview, then failed.
    sleep(TTL).await;

    assert!(!release(&confirmations, "Account", "a1").await);
    assert_eq!(
        claim(&confirmations, "Account", "a1").await,
        Outcome::Expired
    );
}

/// `racers` confirmations of one preview, released together; the outcomes in any order.
async fn race(racers: usize) -> Vec<Outcome> {
    let confirmations = confirmations(TTL).await;
    register(&confirmations, "Account", "a1").await;
    let start = Arc::new(Barrier::new(racers));
    let mut claims = JoinSet::new();
    for _ in 0..racers {
        let confirmations = confirmations.clone();
        let start = Arc::clone(&start);
        claims.spawn(async move {
            start.wait().await;
            confirmations.claim("Account", "a1", OWNER).await
        });
    }
    let mut outcomes = Vec::with_capacity(racers);
    while let Some(outcome) = claims.join_next().await {
        outcomes.push(
            outcome
                .expect("the claim task finished")
                .expect("an answer")
                .into(),
        );
    }
    outcomes
}

fn count(outcomes: &[Outcome], wanted: Outcome) -> usize {
    outcomes
        .iter()
        .filter(|outcome| **outcome == wanted)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn should_claim_once_for_16_concurrent_confirmations() {
    let outcomes = race(16).await;

    assert_eq!(count(&outcomes, Outcome::Claimed), 1, "{outcomes:?}");
    assert_eq!(count(&outcomes, Outcome::NotPending), 15, "{outcomes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn should_claim_once_for_100_concurrent_confirmations() {
    let outcomes = race(100).await;

    assert_eq!(count(&outcomes, Outcome::Claimed), 1, "{outcomes:?}");
    assert_eq!(count(&outcomes, Outcome::NotPending), 99, "{outcomes:?}");
}

#[tokio::test]
async fn should_evict_the_oldest_preview_when_full() {
    let confirmations = with_capacity(3).await;
    for id in ["a1", "a2", "a3", "a4"] {
        register(&confirmations, "Account", id).await;
    }

    assert_eq!(pending(&confirmations).await, 3);
    assert_eq!(
        claim(&confirmations, "Account", "a1").await,
        Outcome::NotPending
    );
    for id in ["a2", "a3", "a4"] {
        assert_eq!(
            claim(&confirmations, "Account", id).await,
            Outcome::Claimed,
            "{id}"
        );
    }
}

#[tokio::test]
async fn should_count_a_renewal_as_the_newest_preview() {
    let confirmations = with_capacity(3).await;
    for id in ["a1", "a2", "a3"] {
        register(&confirmations, "Account", id).await;
    }
    // Renewing does not take a place of its own, and makes a1 the newest.
    register(&confirmations, "Account", "a1").await;
    assert_eq!(pending(&confirmations).await, 3);

    register(&confirmations, "Account", "a4").await;

    assert_eq!(
        claim(&confirmations, "Account", "a2").await,
        Outcome::NotPending
    );
    for id in ["a1", "a3", "a4"] {
        assert_eq!(
            claim(&confirmations, "Account", id).await,
            Outcome::Claimed,
            "{id}"
        );
    }
}

#[tokio::test]
async fn should_hold_at_most_the_default_capacity() {
    let confirmations = confirmations(TTL).await;
    let capacity = DeleteConfirmations::DEFAULT_CAPACITY.get();
    for index in 0..=capacity {
        register(&confirmations, "Account", &format!("id{index}")).await;
    }

    assert_eq!(pending(&confirmations).await, capacity);
    assert_eq!(
        claim(&confirmations, "Account", "id0").await,
        Outcome::NotPending
    );
    assert_eq!(
        claim(&confirmations, "Account", "id1").await,
        Outcome::Claimed
    );
    let newest = format!("id{capacity}");
    assert_eq!(
        claim(&confirmations, "Account", &newest).await,
        Outcome::Claimed
    );
}

#[tokio::test]
async fn should_answer_unavailable_once_stopped() {
    let (confirmations, join) = DeleteConfirmations::spawn(TTL)
        .await
        .expect("the actor starts");
    register(&confirmations, "Account", "a1").await;

    confirmations.stop();
    join.await.expect("the actor stopped");

    let outcome = confirmations.claim("Account", "a1", OWNER).await;
    assert!(
        matches!(outcome, Err(UpstreamError::Unavailable { .. })),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn should_hand_the_previewed_state_to_the_claimer() {
    let confirmations = confirmations(TTL).await;
    let pending = confirmations
        .register("Account", "a1", OWNER, state("2026-12-02 04:13:40"))
        .await
        .expect("registered");
    let PreviewStatus::Pending(looked) = confirmations
        .status("Account", "a1", OWNER)
        .await
        .expect("an answer")
    else {
        panic!("pending");
    };
    assert_eq!(looked.token, pending.token);
    assert_eq!(looked.state, state("2026-12-02 04:13:40"));
    let ClaimOutcome::Claimed(claimed) = confirmations
        .claim("Account", "a1", OWNER)
        .await
        .expect("an answer")
    else {
        panic!("claimed");
    };
    assert_eq!(claimed.token, pending.token);
    assert_eq!(claimed.state, state("2026-12-02 04:13:40"));
}

#[tokio::test]
async fn should_claim_by_token_only_the_registration_it_names() {
    let confirmations = confirmations(TTL).await;
    let first = register(&confirmations, "Account", "a1").await;
    let second = register(&confirmations, "Account", "a1").await;
    assert_ne!(first, second);

    // An answer about the first preview cannot claim the second, and claims nothing.
    let stale = confirmations
        .claim_token("Account", "a1", OWNER, first)
        .await
        .expect("an answer");
    assert_eq!(Outcome::from(stale), Outcome::Superseded);
    assert_eq!(pending(&confirmations).await, 1);
    let current = confirmations
        .claim_token("Account", "a1", OWNER, second)
        .await
        .expect("an answer");
    assert_eq!(Outcome::from(current), Outcome::Claimed);
}

#[tokio::test]
async fn should_forget_a_refused_preview_for_good() {
    let confirmations = confirmations(TTL).await;
    let declined = register(&confirmations, "Account", "a1").await;
    assert!(
        confirmations
            .refuse("Account", "a1", OWNER)
            .await
            .expect("an answer")
    );
    // Nothing gives it back, and its token claims nothing, now or after a new preview.
    assert!(!release(&confirmations, "Account", "a1").await);
    let again = confirmations
        .claim_token("Account", "a1", OWNER, declined)
        .await
        .expect("an answer");
    assert_eq!(Outcome::from(again), Outcome::NotPending);
    let renewed = register(&confirmations, "Account", "a1").await;
    let replayed = confirmations
        .claim_token("Account", "a1", OWNER, declined)
        .await
        .expect("an answer");
    assert_eq!(Outcome::from(replayed), Outcome::Superseded);
    assert_eq!(
        status(&confirmations, "Account", "a1").await,
        Status::Pending
    );
    let current = confirmations
        .claim_token("Account", "a1", OWNER, renewed)
        .await
        .expect("an answer");
    assert_eq!(Outcome::from(current), Outcome::Claimed);

    // A refused claim cannot be released either.
    register(&confirmations, "Account", "a2").await;
    assert_eq!(
        claim(&confirmations, "Account", "a2").await,
        Outcome::Claimed
    );
    assert!(
        confirmations
            .refuse("Account", "a2", OWNER)
            .await
            .expect("an answer")
    );
    assert!(!release(&confirmations, "Account", "a2").await);
    assert_eq!(
        claim(&confirmations, "Account", "a2").await,
        Outcome::NotPending
    );
}
