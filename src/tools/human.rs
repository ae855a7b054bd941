//! Human confirmation of deletes (`SERVER_DELETE_CONFIRMATION=human`): the pieces the `delete`
//! tool (`write.rs`) uses to ask the person, through the MCP client, before it deletes.
//!
//! The two-step flow stays as it is: `confirm: false` previews the record and registers the
//! preview; `confirm: true` may delete only after claiming that preview. In human mode the
//! confirmation also needs the person's yes, asked with a form elicitation that shows the
//! record (type, name, id, how many records hang on it) and has one box to tick, `confirm`:
//!
//! - On the `initialize` handshake (up to 2025-11-25) the server asks during the call
//!   (`elicitation/create`), if the client declared form elicitation.
//! - On 2026-07-28, where a server may not send requests, the first `confirm: true` answers an
//!   input-required result: the elicitation, and a `requestState` sealed here with an HMAC (a
//!   key drawn at random when the process starts), an expiry (the delete confirmation TTL) and,
//!   as associated data, the caller, the entity type and the id. The client asks the person
//!   and calls again with the answer and the state; the state is opened (a changed, expired,
//!   foreign or other-record state is refused) before the preview is claimed.
//!
//! Only an `accept` whose `confirm` is `true` deletes. A decline, a cancel, or an accept without
//! the tick deletes nothing and uses the preview up (to ask again, preview again); so does no
//! answer within the TTL, or the agent cancelling its call while the person is being asked. A
//! client that can do neither gets HUMAN_CONFIRMATION_UNAVAILABLE, and nothing is claimed or
//! deleted; a client that declared elicitation but failed to ask gets it too, and the preview
//! is given back.

use std::fmt;
use std::time::Duration;

use rmcp::model::{
    ClientCapabilities, ElicitRequest, ElicitRequestParams, ElicitResult, ElicitationAction,
    ElicitationSchema, InputRequest, InputRequests, InputRequiredResult, RequestStateCodec,
    RequestStateError, SealOptions,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The key of the one input request of the 2026-07-28 round.
pub const INPUT_KEY: &str = "confirmDelete";

/// The form's one field: the box the person ticks to delete.
pub const CONFIRM_FIELD: &str = "confirm";

/// Bytes of the per-process sealing key (the codec's minimum).
const KEY_LENGTH: usize = RequestStateCodec::MIN_KEY_LENGTH;

/// Why the sealing key could not be made. Only at start, and only if the OS has no randomness.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfirmationKeyError {
    #[error("no random bytes from the operating system: {0}")]
    Random(getrandom::Error),
    #[error("{0}")]
    Codec(#[from] RequestStateError),
}

/// Human mode's state: the sealing key, and how long a confirmation request stays valid.
#[derive(Clone)]
pub struct HumanConfirmation {
    codec: RequestStateCodec,
    ttl: Duration,
}

/// Never shows the key.
impl fmt::Debug for HumanConfirmation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HumanConfirmation")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// What the sealed `requestState` carries (signed, readable, so nothing secret). The caller,
/// entity type and id are also bound as associated data; the copy here is for the log.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
struct SealedConfirmation {
    entity_type: String,
    id: String,
}

/// Why a `requestState` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateRefused {
    /// It was genuine, but made longer ago than the TTL.
    Expired,
    /// Forged, changed, made for another record or caller, or by another server process.
    Invalid,
}

/// What the person answered, as far as deleting goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `accept` with `confirm: true`: delete.
    Confirmed,
    /// Anything else; the name of the answer, for DELETE_DECLINED's details: `decline`,
    /// `cancel`, or `accept` (accepted without ticking confirm).
    Refused(&'static str),
}

impl HumanConfirmation {
    /// With a fresh random key: states sealed by another process (or before a restart) are
    /// refused, which is what a restart should do to pending confirmations anyway.
    pub fn new(ttl: Duration) -> Result<Self, ConfirmationKeyError> {
        let mut key = vec![0u8; KEY_LENGTH];
        getrandom::fill(&mut key).map_err(ConfirmationKeyError::Random)?;
        Self::with_key(key, ttl)
    }

    /// With a given key (tests).
    pub fn with_key(key: Vec<u8>, ttl: Duration) -> Result<Self, ConfirmationKeyError> {
        Ok(Self {
            codec: RequestStateCodec::try_new(key)?,
            ttl,
        })
    }

    /// How long the person has to answer: on 2026-07-28 the sealed state's lifetime, on the
    /// handshake the longest the server waits for the answer.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The `requestState` of a confirmation of (`entity_type`, `id`) asked by `caller`.
    pub fn seal(&self, caller: &str, entity_type: &str, id: &str) -> String {
        let payload = SealedConfirmation {
            entity_type: entity_type.to_owned(),
            id: id.to_owned(),
        };
        let associated = associated_data(caller, entity_type, id);
        let options = SealOptions::new()
            .associated_data(&associated)
            .ttl(self.ttl);
        // Two strings always serialise; the fallback is unreachable and would only make the
        // state unopenable, never valid.
        self.codec
            .seal_json_with(&payload, &options)
            .unwrap_or_default()
    }

    /// Checks a `requestState` sent back for a confirmation of (`entity_type`, `id`) by
    /// `caller`: it must be one this process sealed for exactly them, within the TTL.
    pub fn open(
        &self,
        state: &str,
        caller: &str,
        entity_type: &str,
        id: &str,
    ) -> Result<(), StateRefused> {
        let associated = associated_data(caller, entity_type, id);
        match self
            .codec
            .open_json_with::<SealedConfirmation>(state, &associated)
        {
            Ok(sealed) if sealed.entity_type == entity_type && sealed.id == id => Ok(()),
            Ok(_) => Err(StateRefused::Invalid),
            Err(RequestStateError::Expired) => Err(StateRefused::Expired),
            Err(_) => Err(StateRefused::Invalid),
        }
    }
}

/// Binds a state to whom and what it confirms. Entity type names and ids never hold a NUL.
fn associated_data(caller: &str, entity_type: &str, id: &str) -> Vec<u8> {
    format!("espomcp delete confirmation\0{caller}\0{entity_type}\0{id}").into_bytes()
}

/// Whether the client can show a form: it declared elicitation, in form mode (or without a
/// mode, which means form).
pub fn can_ask(capabilities: Option<&ClientCapabilities>) -> bool {
    capabilities
        .and_then(|c| c.elicitation.as_ref())
        .is_some_and(|e| e.form.is_some() || e.url.is_none())
}

/// What the person is shown about the record.
#[derive(Debug, Clone)]
pub struct RecordSummary<'a> {
    pub entity_type: &'a str,
    pub id: &'a str,
    pub name: Option<&'a str>,
    /// Records hanging on its main links, by link.
    pub related: &'a Map<String, Value>,
    /// Its page in EspoCRM.
    pub url: &'a str,
}

/// The question, in words: the record and what deleting it means.
pub fn message(record: &RecordSummary<'_>) -> String {
    let name = record.name.unwrap_or("(no name)");
    let mut text = format!(
        "Delete this {}?\n\nName: {name}\nType: {}\nId: {}\nIn EspoCRM: {}\n",
        record.entity_type, record.entity_type, record.id, record.url
    );
    let related: Vec<String> = record
        .related
        .iter()
        .map(|(link, count)| format!("{link}: {count}"))
        .collect();
    if related.is_empty() {
        text.push_str("Related records: none counted\n");
    } else {
        text.push_str(&format!("Related records: {}\n", related.join(", ")));
    }
    text.push_str(
        "\nAn AI agent asks to delete it. EspoCRM marks deleted records as deleted; an \
         administrator can restore them. Tick confirm and accept to delete; decline to keep it.",
    );
    text
}

/// The form: one required box, `confirm`.
pub fn form(record: &RecordSummary<'_>) -> ElicitRequestParams {
    let title = format!(
        "Delete {} {}",
        record.entity_type,
        record.name.unwrap_or(record.id)
    );
    let requested_schema = ElicitationSchema::builder()
        .required_bool_with(CONFIRM_FIELD, |b| {
            b.title(title)
                .description("Tick to delete this record; leave unticked (or decline) to keep it.")
        })
        .build_unchecked();
    ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: message(record),
        requested_schema,
    }
}

/// The 2026-07-28 answer to a first `confirm: true`: ask the person, come back with the state.
pub fn input_required(record: &RecordSummary<'_>, request_state: String) -> InputRequiredResult {
    let mut requests = InputRequests::new();
    requests.insert(
        INPUT_KEY.to_owned(),
        InputRequest::Elicitation(ElicitRequest::new(form(record))),
    );
    InputRequiredResult::new(Some(requests), Some(request_state))
}

/// Reads the person's answer.
pub fn answer(result: &ElicitResult) -> Answer {
    match result.action {
        ElicitationAction::Accept => {
            let ticked = result
                .content
                .as_ref()
                .and_then(|c| c.get(CONFIRM_FIELD))
                .and_then(Value::as_bool)
                == Some(true);
            if ticked {
                Answer::Confirmed
            } else {
                Answer::Refused("accept")
            }
        }
        ElicitationAction::Decline => Answer::Refused("decline"),
        ElicitationAction::Cancel => Answer::Refused("cancel"),
        // An answer this version does not know is no yes.
        _ => Answer::Refused("decline"),
    }
}

/// Reads the answer from a 2026-07-28 retry's `inputResponses`; `None` when it is missing or
/// is not an elicitation result.
pub fn answer_in(responses: Option<&rmcp::model::InputResponses>) -> Option<Answer> {
    let response = responses?.get(INPUT_KEY)?;
    let result: ElicitResult = serde_json::from_value(response.clone()).ok()?;
    Some(answer(&result))
}

#[cfg(test)]
mod tests {
    use rmcp::model::ElicitationCapability;
    use serde_json::json;

    use super::*;

    const KEY: [u8; 32] = *b"0123456789abcdef0123456789abcdef";

    fn confirmation(ttl: Duration) -> HumanConfirmation {
        HumanConfirmation::with_key(KEY.to_vec(), ttl).expect("a 32-byte key")
    }

    #[test]
    fn should_open_a_state_only_for_its_own_caller_type_and_id() {
        let human = confirmation(Duration::from_secs(60));
        let state = human.seal("stdio", "Account", "a1");
        assert_eq!(human.open(&state, "stdio", "Account", "a1"), Ok(()));
        assert_eq!(
            human.open(&state, "stdio", "Account", "a2"),
            Err(StateRefused::Invalid)
        );
        assert_eq!(
            human.open(&state, "stdio", "Contact", "a1"),
            Err(StateRefused::Invalid)
        );
        assert_eq!(
            human.open(&state, "session-2", "Account", "a1"),
            Err(StateRefused::Invalid)
        );
    }

    #[test]
    fn should_refuse_a_changed_state_and_one_from_another_process() {
        let human = confirmation(Duration::from_secs(60));
        let state = human.seal("stdio", "Account", "a1");
        let mut changed = state.clone().into_bytes();
        let middle = changed.len() / 2;
        changed[middle] = if changed[middle] == b'A' { b'B' } else { b'A' };
        let changed = String::from_utf8(changed).expect("ASCII");
        assert_eq!(
            human.open(&changed, "stdio", "Account", "a1"),
            Err(StateRefused::Invalid)
        );
        for junk in ["", "rs1", "not a state", "rs1.AAAA.BBBB"] {
            assert_eq!(
                human.open(junk, "stdio", "Account", "a1"),
                Err(StateRefused::Invalid)
            );
        }
        let other = HumanConfirmation::new(Duration::from_secs(60)).expect("random key");
        assert_eq!(
            other.open(&state, "stdio", "Account", "a1"),
            Err(StateRefused::Invalid)
        );
        assert!(!format!("{other:?}").contains("codec"));
    }

    #[test]
    fn should_refuse_an_expired_state() {
        let human = confirmation(Duration::ZERO);
        let state = human.seal("stdio", "Account", "a1");
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(
            human.open(&state, "stdio", "Account", "a1"),
            Err(StateRefused::Expired)
        );
    }

    #[test]
    fn should_delete_only_on_accept_with_confirm_ticked() {
        let accept = |content: Value| {
            answer(&ElicitResult::new(ElicitationAction::Accept).with_content(content))
        };
        assert_eq!(accept(json!({"confirm": true})), Answer::Confirmed);
        assert_eq!(accept(json!({"confirm": false})), Answer::Refused("accept"));
        assert_eq!(
            accept(json!({"confirm": "true"})),
            Answer::Refused("accept")
        );
        assert_eq!(accept(json!({})), Answer::Refused("accept"));
        assert_eq!(
            answer(&ElicitResult::new(ElicitationAction::Accept)),
            Answer::Refused("accept")
        );
        assert_eq!(
            answer(&ElicitResult::new(ElicitationAction::Decline)),
            Answer::Refused("decline")
        );
        assert_eq!(
            answer(&ElicitResult::new(ElicitationAction::Cancel)),
            Answer::Refused("cancel")
        );

        let mut responses = rmcp::model::InputResponses::new();
        assert_eq!(answer_in(Some(&responses)), None);
        assert_eq!(answer_in(None), None);
        responses.insert(
            INPUT_KEY.into(),
            json!({"action": "accept", "content": {"confirm": true}}),
        );
        assert_eq!(answer_in(Some(&responses)), Some(Answer::Confirmed));
        responses.insert(INPUT_KEY.into(), json!({"action": "maybe"}));
        assert_eq!(answer_in(Some(&responses)), None);
    }

    #[test]
    fn should_ask_only_clients_that_declared_form_elicitation() {
        assert!(!can_ask(None));
        assert!(!can_ask(Some(&ClientCapabilities::default())));
        let declared = ClientCapabilities::builder().enable_elicitation().build();
        assert!(can_ask(Some(&declared)));
        let mut url_only = ClientCapabilities::default();
        let mut elicitation = ElicitationCapability::new();
        elicitation.url = Some(Default::default());
        url_only.elicitation = Some(elicitation);
        assert!(!can_ask(Some(&url_only)));
    }

    #[test]
    fn should_show_the_record_in_the_question() {
        let related = json!({"contacts": 3, "opportunities": 1});
        let record = RecordSummary {
            entity_type: "Account",
            id: "a1",
            name: Some("Acme"),
            related: related.as_object().expect("an object"),
            url: "https://crm.example.com/#Account/view/a1",
        };
        let ElicitRequestParams::FormElicitationParams {
            message,
            requested_schema,
            ..
        } = form(&record)
        else {
            panic!("a form");
        };
        for part in [
            "Delete this Account?",
            "Name: Acme",
            "Id: a1",
            "contacts: 3, opportunities: 1",
            "https://crm.example.com/#Account/view/a1",
        ] {
            assert!(message.contains(part), "{part:?} not in {message:?}");
        }
        let schema = serde_json::to_value(&requested_schema).expect("serialises");
        assert_eq!(schema["properties"]["confirm"]["type"], "boolean");
        assert_eq!(
            schema["properties"]["confirm"]["title"],
            "Delete Account Acme"
        );
        assert_eq!(schema["required"], json!(["confirm"]));
    }
}
