//! PromptStore: the one owner of the prompt template files.
//!
//! espomcp offers six prompts (workflows such as "process a call transcript"). Their names,
//! titles and arguments are fixed in code: they are the public contract. Their text is a
//! template, `NAME.md` in the prompts directory (the caller's choice; espomcp's configuration
//! directory by default), which users may edit. The first time a prompt is asked for and its
//! file is missing, the built-in default (`actors/prompts/NAME.md`, compiled in) is written
//! there and served; a deleted file is written again the same way. An existing file is never
//! overwritten.
//!
//! The file is read again on every render, not cached. It is a few kilobytes, read in
//! microseconds, next to a language-model round trip; a cache keyed on modification time and
//! length would cost a `stat` anyway and could serve stale text after an edit that keeps the
//! length within one timestamp tick, or by an editor that restores the modification time. File
//! I/O runs on tokio's blocking pool; the actor awaits it, so renders are served one at a time
//! through its mailbox, and the store stays the only one touching the directory without
//! blocking a runtime worker. A file that cannot be read or rendered is an error naming the
//! file, in the reply; the actor keeps serving.
//!
//! # Layout
//!
//! - `mod.rs` — [`PromptStore`], its actor, and what a render answers ([`RenderedPrompt`],
//!   [`PromptError`]).
//! - `catalogue.rs` — the six prompts ([`PromptInfo`]), their arguments and default templates,
//!   and the check of a render's arguments.
//! - `files.rs` — reading a template file whole, and writing a default atomically, never over
//!   an existing file.
//! - `template.rs` — the template syntax, its parser and renderer, and the escaping that keeps
//!   each value data.

mod catalogue;
mod files;
mod template;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::task::JoinHandle;

pub use catalogue::{PromptArgumentInfo, PromptInfo};

use crate::error::SpawnError;
use crate::plumbing;
use catalogue::{PROMPTS, Prompt, find_prompt};

const ACTOR_NAME: &str = "prompt store";

/// A render reads one small local file; an answer this late means the disk or the actor is stuck.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// A prompt rendered with its arguments: the text to hand the model as its instructions.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RenderedPrompt {
    /// The prompt's description, as listed.
    pub description: &'static str,
    pub text: String,
}

/// Why a prompt could not be rendered. A value in the reply: the store keeps serving.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PromptError {
    /// No prompt has this name.
    #[error("there is no prompt named {0:?}")]
    UnknownPrompt(String),

    /// A required argument was not given, or given blank.
    #[error("the required argument {0:?} is missing")]
    MissingArgument(String),

    /// An argument the prompt does not declare.
    #[error("this prompt has no argument {0:?}")]
    UnknownArgument(String),

    /// The template file exists but cannot be read: permissions, not UTF-8, too large.
    #[error("cannot read the prompt template {}: {reason}", file.display())]
    Unreadable { file: PathBuf, reason: String },

    /// The template file does not follow the template syntax; `placeholder` is the name at
    /// fault when there is one (an unknown placeholder, a section closed under another name).
    #[error("the prompt template {} is invalid: {reason}", file.display())]
    BadTemplate {
        file: PathBuf,
        placeholder: Option<String>,
        reason: String,
    },

    /// The store's actor is gone, or did not answer within its reply timeout.
    #[error("the {ACTOR_NAME} is not available: {0}")]
    Unavailable(String),
}

/// The callers' handle to the prompt store actor.
#[derive(Debug, Clone)]
pub struct PromptStore {
    actor: ActorRef<PromptStoreMsg>,
}

impl PromptStore {
    /// A place relative to the working directory, for a caller with no better one (espomcp
    /// itself uses its configuration directory, whatever directory it was started in).
    pub const DEFAULT_DIR: &str = ".espomcp/prompts";

    /// Starts the store over `dir`. A relative `dir` is resolved against the working directory
    /// now, so a later change of directory does not move it. Nothing is read or written until
    /// the first render; the directory is created then if needed. The join handle completes
    /// when the actor has stopped.
    pub async fn spawn(dir: PathBuf) -> Result<(Self, JoinHandle<()>), SpawnError> {
        let dir = std::path::absolute(&dir).map_err(|error| SpawnError::Actor {
            actor: ACTOR_NAME,
            message: format!("invalid prompts directory {:?}: {error}", dir.display()),
        })?;
        let args = PromptStoreArgs { dir };
        let (actor, join) = plumbing::spawn(ACTOR_NAME, PromptStoreActor, args).await?;
        Ok((Self { actor }, join))
    }

    /// Every prompt with its arguments. Static: it needs neither the actor nor the files.
    pub fn list(&self) -> Vec<PromptInfo> {
        PROMPTS.iter().map(Prompt::info).collect()
    }

    /// The built-in default template of a prompt, as written to its file on first use.
    pub fn default_template(name: &str) -> Option<&'static str> {
        find_prompt(name).map(|prompt| prompt.default_template)
    }

    /// Renders prompt `name` with `args` from its template file (written from the default
    /// first if missing). The arguments are checked before the file is touched.
    pub async fn render(
        &self,
        name: &str,
        args: BTreeMap<String, String>,
    ) -> Result<RenderedPrompt, PromptError> {
        let prompt =
            find_prompt(name).ok_or_else(|| PromptError::UnknownPrompt(name.to_owned()))?;
        let args = prompt.check_arguments(args)?;
        let render = |reply| PromptStoreMsg::Render(prompt, args, reply);
        plumbing::call(&self.actor, render, REPLY_TIMEOUT)
            .await
            .map_err(|silence| PromptError::Unavailable(silence.to_string()))?
    }

    /// Stops the actor; later renders get `Unavailable`.
    pub fn stop(&self) {
        self.actor.stop(None);
    }
}

pub(crate) struct PromptStoreActor;

pub(crate) struct PromptStoreArgs {
    dir: PathBuf,
}

pub(crate) enum PromptStoreMsg {
    /// A render whose arguments the handle has already checked against the prompt.
    Render(
        &'static Prompt,
        BTreeMap<String, String>,
        RpcReplyPort<Result<RenderedPrompt, PromptError>>,
    ),
}

pub(crate) struct PromptStoreState {
    /// Absolute, fixed at spawn.
    dir: PathBuf,
}

impl Actor for PromptStoreActor {
    type Msg = PromptStoreMsg;
    type State = PromptStoreState;
    type Arguments = PromptStoreArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: PromptStoreArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(PromptStoreState { dir: args.dir })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            PromptStoreMsg::Render(prompt, args, reply) => {
                let dir = state.dir.clone();
                let file = dir.join(prompt.file_name());
                let task_file = file.clone();
                // Awaited here, not detached: the mailbox is what serialises access to the files.
                let outcome = tokio::task::spawn_blocking(move || {
                    let text = files::load(&dir, &task_file, prompt)?;
                    template::render_text(&task_file, prompt, &text, &args)
                })
                .await;
                let result = outcome.unwrap_or_else(|error| {
                    Err(PromptError::Unreadable {
                        file,
                        reason: format!("reading it failed unexpectedly: {error}"),
                    })
                });
                if let Err(error) = &result {
                    tracing::warn!(prompt = prompt.name, %error, "prompt not rendered");
                }
                let _ = reply.send(result.map(|text| RenderedPrompt {
                    description: prompt.description,
                    text,
                }));
            }
        }
        Ok(())
    }
}
