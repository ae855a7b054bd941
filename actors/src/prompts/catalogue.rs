//! The prompts espomcp offers: their names, titles, descriptions and arguments, fixed here in
//! code because they are the public contract, and the default template of each, compiled in from
//! `actors/prompts/NAME.md`. A render's arguments are checked against the prompt's declaration
//! here, before any file is touched.

use std::collections::BTreeMap;

use super::PromptError;

/// A prompt the server offers, as listed to MCP clients.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PromptInfo {
    /// The name clients ask for, e.g. `process-call-transcript`; also the template's file name.
    pub name: &'static str,
    /// A short human-readable name for menus.
    pub title: &'static str,
    /// What the workflow does, in a sentence.
    pub description: &'static str,
    /// Required arguments first.
    pub arguments: Vec<PromptArgumentInfo>,
}

/// One argument of a prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PromptArgumentInfo {
    pub name: &'static str,
    /// What to pass, for the client's form.
    pub description: &'static str,
    /// Whether a render without it (or with it blank) is refused.
    pub required: bool,
}

/// A prompt as defined in code: the metadata, and the default template compiled in.
#[derive(Debug)]
pub(crate) struct Prompt {
    pub(super) name: &'static str,
    pub(super) title: &'static str,
    pub(super) description: &'static str,
    pub(super) arguments: &'static [Argument],
    pub(super) default_template: &'static str,
}

#[derive(Debug)]
pub(crate) struct Argument {
    pub(super) name: &'static str,
    pub(super) description: &'static str,
    pub(super) required: bool,
}

const fn required(name: &'static str, description: &'static str) -> Argument {
    Argument {
        name,
        description,
        required: true,
    }
}

const fn optional(name: &'static str, description: &'static str) -> Argument {
    Argument {
        name,
        description,
        required: false,
    }
}

/// Every prompt, in the order they are listed.
pub(super) static PROMPTS: &[Prompt] = &[
    Prompt {
        name: "process-call-transcript",
        title: "Process a call transcript",
        description: "Turn a call transcript into CRM updates: identify the account and \
                      contacts, create tasks for the action items, update the pipeline and draft \
                      a follow-up email (never sent).",
        arguments: &[
            required("transcript", "The call transcript or call notes, as text."),
            optional(
                "account_hint",
                "The account the call was with, if known: a company name or record id.",
            ),
            optional(
                "contact_hint",
                "Who was on the call, if known: names or email addresses.",
            ),
        ],
        default_template: include_str!("../../prompts/process-call-transcript.md"),
    },
    Prompt {
        name: "log-meeting",
        title: "Log a meeting",
        description: "Create a Meeting record from meeting notes, link the attendees and create \
                      tasks for the action items.",
        arguments: &[
            required(
                "notes",
                "The meeting notes, decisions and action items included.",
            ),
            optional(
                "attendees",
                "Who attended: names or email addresses, separated by commas.",
            ),
            optional(
                "date",
                "When the meeting started, e.g. 2025-03-14 15:00 Europe/Berlin.",
            ),
            optional("duration", "How long it lasted, e.g. 45 minutes."),
        ],
        default_template: include_str!("../../prompts/log-meeting.md"),
    },
    Prompt {
        name: "process-inbound-lead",
        title: "Process an inbound lead",
        description: "Check an inbound lead against existing records, create the Lead if it is \
                      new, and assign a follow-up task.",
        arguments: &[
            required(
                "details",
                "The lead as received: name, company, email address, phone, what they asked for.",
            ),
            optional(
                "source",
                "Where the lead came from, e.g. Web Site, Call, Email, Partner, Campaign.",
            ),
        ],
        default_template: include_str!("../../prompts/process-inbound-lead.md"),
    },
    Prompt {
        name: "draft-followup",
        title: "Draft a follow-up email",
        description: "Draft a follow-up email for a CRM record, based on its history; stored as \
                      a Draft for a person to review and send.",
        arguments: &[
            required(
                "context",
                "What to follow up on: the record (an opportunity, account, contact or case) \
                 and what happened.",
            ),
            optional(
                "recipient",
                "Who to write to: a contact's name or email address.",
            ),
            optional(
                "template_name",
                "The name of an EspoCRM email template to start from.",
            ),
        ],
        default_template: include_str!("../../prompts/draft-followup.md"),
    },
    Prompt {
        name: "pipeline-update",
        title: "Update the pipeline",
        description: "Apply a batch of opportunity stage changes, verifying each record first, \
                      and report what changed.",
        arguments: &[required(
            "changes",
            "The changes, one per line, e.g. \"Acme renewal -> Negotiation, amount 12000\".",
        )],
        default_template: include_str!("../../prompts/pipeline-update.md"),
    },
    Prompt {
        name: "email-triage",
        title: "Triage emails",
        description: "Go through received emails: identify the senders in the CRM, create tasks \
                      for what needs doing and draft responses (never sent).",
        arguments: &[required(
            "emails",
            "The emails, pasted as text: sender, subject, date and body of each.",
        )],
        default_template: include_str!("../../prompts/email-triage.md"),
    },
];

pub(super) fn find_prompt(name: &str) -> Option<&'static Prompt> {
    PROMPTS.iter().find(|prompt| prompt.name == name)
}

impl Prompt {
    pub(super) fn info(&self) -> PromptInfo {
        PromptInfo {
            name: self.name,
            title: self.title,
            description: self.description,
            arguments: self
                .arguments
                .iter()
                .map(|argument| PromptArgumentInfo {
                    name: argument.name,
                    description: argument.description,
                    required: argument.required,
                })
                .collect(),
        }
    }

    pub(super) fn declares(&self, name: &str) -> bool {
        self.arguments.iter().any(|argument| argument.name == name)
    }

    /// Refuses undeclared arguments and missing required ones; drops blank optional ones, so
    /// that "given" means the same thing in sections and placeholders.
    pub(super) fn check_arguments(
        &self,
        mut args: BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, PromptError> {
        if let Some(unknown) = args.keys().find(|name| !self.declares(name)) {
            return Err(PromptError::UnknownArgument(unknown.clone()));
        }
        args.retain(|_, value| !value.trim().is_empty());
        if let Some(missing) = self
            .arguments
            .iter()
            .find(|argument| argument.required && !args.contains_key(argument.name))
        {
            return Err(PromptError::MissingArgument(missing.name.to_owned()));
        }
        Ok(args)
    }

    pub(super) fn file_name(&self) -> String {
        format!("{}.md", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompts::template::parse;

    #[test]
    fn every_default_template_parses_and_uses_every_argument() {
        for prompt in PROMPTS {
            let nodes = parse(prompt.default_template, prompt);
            assert!(nodes.is_ok(), "{}: {nodes:?}", prompt.name);
            for argument in prompt.arguments {
                let placeholder = format!("{{{{{}}}}}", argument.name);
                let body = prompt
                    .default_template
                    .rsplit_once("--}}")
                    .map_or(prompt.default_template, |(_, body)| body);
                assert!(
                    body.contains(&placeholder),
                    "{} does not use {placeholder}",
                    prompt.name
                );
            }
        }
    }
}
