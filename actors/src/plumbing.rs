//! How every handle starts its actor and waits for its answers, written once.
//!
//! Each handle in this crate ([`Gateway`](crate::Gateway), [`MetadataCache`](crate::MetadataCache),
//! [`DeleteConfirmations`](crate::DeleteConfirmations), [`PromptStore`](crate::PromptStore))
//! starts its actor with [`spawn`] and asks it things with [`call`]. A failure to start is a
//! [`SpawnError::Actor`] naming the actor; a call that got no answer is a [`NoAnswer`], which
//! each handle turns into its own error type (`Unavailable`), naming the actor the same way.
//!
//! [`call`] is ractor's [`ActorRef::call`] with the outcome sorted once. ractor's `call_t!` macro
//! would hand each handle a `RactorErr` to sort again (a `SendErr` carrying the message, a
//! `ChannelClosed` for a dropped reply port, `Timeout`); here the three ways of getting no
//! answer are [`NoAnswer`], worded in one place.

use std::fmt;
use std::time::Duration;

use ractor::rpc::CallResult;
use ractor::{Actor, ActorRef, RpcReplyPort};
use tokio::task::JoinHandle;

use crate::error::{SpawnError, UpstreamError};

/// Starts `actor` with `args`, unsupervised and unnamed; `name` is the actor's name in errors
/// ("HTTP gateway"). The join handle completes when the actor has stopped.
pub(crate) async fn spawn<A: Actor>(
    name: &'static str,
    actor: A,
    args: A::Arguments,
) -> Result<(ActorRef<A::Msg>, JoinHandle<()>), SpawnError> {
    Actor::spawn(None, actor, args)
        .await
        .map_err(|error| SpawnError::Actor {
            actor: name,
            message: error.to_string(),
        })
}

/// Sends the message `request` builds around a reply port and waits at most `timeout` for the
/// answer. Only the actor's silence is an error here; a failed request is a value inside `T`.
pub(crate) async fn call<M, T>(
    actor: &ActorRef<M>,
    request: impl FnOnce(RpcReplyPort<T>) -> M,
    timeout: Duration,
) -> Result<T, NoAnswer>
where
    M: ractor::Message,
    T: Send + 'static,
{
    match actor.call(request, Some(timeout)).await {
        Ok(CallResult::Success(value)) => Ok(value),
        Ok(CallResult::Timeout) => Err(NoAnswer::Timeout(timeout)),
        Ok(CallResult::SenderError) => Err(NoAnswer::Stopped),
        Err(_) => Err(NoAnswer::NotRunning),
    }
}

/// Why a [`call`] got no answer. Its text is the `message` of the caller's `Unavailable` error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoAnswer {
    /// The actor took the message but did not answer within the timeout: it is stuck or busy.
    Timeout(Duration),
    /// The actor took the message but dropped the reply port: it stopped while handling it.
    Stopped,
    /// The message could not be delivered: the actor had already stopped.
    NotRunning,
}

impl NoAnswer {
    /// The error a caller of the actor called `actor` gets.
    pub(crate) fn unavailable(self, actor: &'static str) -> UpstreamError {
        UpstreamError::Unavailable {
            actor,
            message: self.to_string(),
        }
    }
}

impl fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout(timeout) => write!(f, "no answer within {} s", timeout.as_secs()),
            Self::Stopped => f.write_str("it stopped before answering"),
            Self::NotRunning => f.write_str("it is not running"),
        }
    }
}

#[cfg(test)]
mod tests {
    use ractor::ActorProcessingErr;

    use super::*;

    /// Answers `Ask` with its number; drops the port of `Drop`; never answers `Ignore`.
    struct Echo;

    enum EchoMsg {
        Ask(u32, RpcReplyPort<u32>),
        Drop(RpcReplyPort<u32>),
        Ignore(RpcReplyPort<u32>),
    }

    impl Actor for Echo {
        type Msg = EchoMsg;
        type State = Vec<RpcReplyPort<u32>>;
        type Arguments = ();

        async fn pre_start(
            &self,
            _myself: ActorRef<Self::Msg>,
            _args: (),
        ) -> Result<Self::State, ActorProcessingErr> {
            Ok(Vec::new())
        }

        async fn handle(
            &self,
            _myself: ActorRef<Self::Msg>,
            message: Self::Msg,
            ignored: &mut Self::State,
        ) -> Result<(), ActorProcessingErr> {
            match message {
                EchoMsg::Ask(number, reply) => {
                    let _ = reply.send(number);
                }
                EchoMsg::Drop(reply) => drop(reply),
                EchoMsg::Ignore(reply) => ignored.push(reply),
            }
            Ok(())
        }
    }

    const TIMEOUT: Duration = Duration::from_secs(5);

    #[tokio::test(start_paused = true)]
    async fn should_tell_each_kind_of_silence_apart() {
        let (echo, join) = spawn("echo", Echo, ()).await.expect("the actor starts");

        assert_eq!(
            call(&echo, |reply| EchoMsg::Ask(7, reply), TIMEOUT).await,
            Ok(7)
        );
        let stopped = call(&echo, EchoMsg::Drop, TIMEOUT).await;
        assert_eq!(stopped, Err(NoAnswer::Stopped));
        let timeout = call(&echo, EchoMsg::Ignore, TIMEOUT).await;
        assert_eq!(timeout, Err(NoAnswer::Timeout(TIMEOUT)));

        echo.stop(None);
        join.await.expect("the actor stopped");
        let not_running = call(&echo, |reply| EchoMsg::Ask(7, reply), TIMEOUT).await;
        assert_eq!(not_running, Err(NoAnswer::NotRunning));
    }

    #[test]
    fn should_word_each_kind_of_silence_as_callers_see_it() {
        assert_eq!(
            NoAnswer::Timeout(Duration::from_millis(5_900)).unavailable("echo"),
            UpstreamError::Unavailable {
                actor: "echo",
                message: "no answer within 5 s".to_owned()
            }
        );
        assert_eq!(NoAnswer::Stopped.to_string(), "it stopped before answering");
        assert_eq!(NoAnswer::NotRunning.to_string(), "it is not running");
    }
}
