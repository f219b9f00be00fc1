//! Request/reply to an actor with a deadline, errors mapped for the API.

use std::time::Duration;

use ractor::rpc::CallResult;
use ractor::{ActorRef, Message, RpcReplyPort};

use crate::error::{ActorError, ActorResult};
use crate::topology::ObjectKind;

/// Control requests answer in microseconds; five seconds means the actor is
/// stuck, and the caller gets an error instead of waiting forever.
pub const CALL_DEADLINE: Duration = Duration::from_secs(5);

pub async fn ask<M, T>(
    actor: &ActorRef<M>,
    kind: ObjectKind,
    id: &str,
    build: impl FnOnce(RpcReplyPort<T>) -> M,
) -> ActorResult<T>
where
    M: Message,
    T: Send + 'static,
{
    match actor.call(build, Some(CALL_DEADLINE)).await {
        Ok(CallResult::Success(value)) => Ok(value),
        Ok(CallResult::Timeout) => Err(ActorError::Internal(format!(
            "{kind} {id} did not answer within {} s",
            CALL_DEADLINE.as_secs()
        ))),
        // The actor stopped between lookup and call: it was closed.
        Ok(CallResult::SenderError) | Err(_) => Err(ActorError::not_found(kind, id)),
    }
}

/// `ask` for requests whose reply is itself a result.
pub async fn ask_result<M, T>(
    actor: &ActorRef<M>,
    kind: ObjectKind,
    id: &str,
    build: impl FnOnce(RpcReplyPort<ActorResult<T>>) -> M,
) -> ActorResult<T>
where
    M: Message,
    T: Send + 'static,
{
    ask(actor, kind, id, build).await?
}
