//! Human confirmation of deletes (`SERVER_DELETE_CONFIRMATION=human`): the pieces the `delete`
//! tool (the parent module) uses to ask the person, through the MCP client, before it deletes.
//!
//! The two-step flow stays as it is: `confirm: false` previews the record and registers the
//! preview; `confirm: true` may delete only after claiming that preview. In human mode the
//! confirmation also needs the person's yes, asked with a form elicitation that shows the
//! record (type, name, id, how many records hang on it) and has one box to tick, `confirm`.
//! What espomcp knows (type, id, link, counts) comes first, each on its own line; what the
//! record says (its name, which the agent may have written) comes after, on a labelled line of
//! its own, in quotes, with line breaks, control and invisible characters shown as escapes and
//! cut to [`NAME_CHARS`] characters ([`quoted`]), so a name cannot pose as the lines above it.
//!
//! - On the `initialize` handshake (up to 2025-11-25) the server asks during the call
//!   (`elicitation/create`), if the client declared form elicitation.
//! - On 2026-07-28, where a server may not send requests, the first `confirm: true` answers an
//!   input-required result: the elicitation, and a `requestState` sealed here with an HMAC (a
//!   key drawn at random when the process starts), an expiry (the delete confirmation TTL),
//!   the preview's registration token and, as associated data, the caller, the entity type and
//!   the id. The client asks the person and calls again with the answer and the state; the
//!   state is opened (a changed, expired, foreign or other-record state is refused) before the
//!   preview is claimed, and only the registration it was made for can be claimed with it.
//!
//! Either way the record is read again right before the DELETE: if it changed since the
//! preview (its `modifiedAt`, `versionNumber` or shown fields), nothing is deleted, the preview
//! is used up, and the answer is DELETE_NOT_CONFIRMED with `details.reason: "changed"`.
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

/// How much of a record's name the person is shown, in characters (escapes included).
pub const NAME_CHARS: usize = 80;

/// The same in the checkbox's title, which clients show in a narrow space.
const TITLE_NAME_CHARS: usize = 40;

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
    /// The registration of the preview the person is asked about: the answer may claim that
    /// one only, never a preview made later.
    preview: u64,
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

    /// The `requestState` of a confirmation of (`entity_type`, `id`) asked by `caller`, about
    /// the preview registered with token `preview`.
    pub fn seal(&self, caller: &str, entity_type: &str, id: &str, preview: u64) -> String {
        let payload = SealedConfirmation {
            entity_type: entity_type.to_owned(),
            id: id.to_owned(),
            preview,
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
    /// `caller`: it must be one this process sealed for exactly them, within the TTL. Answers
    /// the token of the preview it was made for.
    pub fn open(
        &self,
        state: &str,
        caller: &str,
        entity_type: &str,
        id: &str,
    ) -> Result<u64, StateRefused> {
        let associated = associated_data(caller, entity_type, id);
        match self
            .codec
            .open_json_with::<SealedConfirmation>(state, &associated)
        {
            Ok(sealed) if sealed.entity_type == entity_type && sealed.id == id => {
                Ok(sealed.preview)
            }
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

/// The label of the line that shows the record's own name, after the facts espomcp vouches for.
pub const NAME_LABEL: &str = "Name, as written in the record";

/// Text that came from a record (which the agent may have written), made fit to show the person
/// among espomcp's own lines: in double quotes, on one line, at most `max_chars` characters
/// between the quotes (then `…`). Line breaks, tabs, quotes and backslashes are shown as `\n`,
/// `\r`, `\t`, `\"` and `\\`; every other control character and every invisible or
/// direction-changing one (Unicode line and paragraph separators, bidi embeddings, overrides
/// and isolates, zero-width spaces and joiners, the byte order mark, tag characters) as
/// `\u{…}`. An escape is never cut in half.
pub fn quoted(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 4) + 2);
    out.push('"');
    let mut shown = 0;
    for c in text.chars() {
        let piece = match c {
            '"' => "\\\"".to_owned(),
            '\\' => "\\\\".to_owned(),
            '\n' => "\\n".to_owned(),
            '\r' => "\\r".to_owned(),
            '\t' => "\\t".to_owned(),
            c if is_hidden(c) => format!("\\u{{{:x}}}", u32::from(c)),
            c => c.to_string(),
        };
        let width = piece.chars().count();
        if shown + width > max_chars {
            out.push('…');
            break;
        }
        out.push_str(&piece);
        shown += width;
    }
    out.push('"');
    out
}

/// Characters that break a line, cannot be seen, or change the direction of what follows.
fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{0600}'..='\u{0605}'
                | '\u{061C}'
                | '\u{06DD}'
                | '\u{070F}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

/// The question, in words: the record and what deleting it means. espomcp's own facts first,
/// one per line; the record's name last, labelled and quoted (see [`quoted`]).
pub fn message(record: &RecordSummary<'_>) -> String {
    let mut text = format!(
        "Delete this {}?\n\nType: {}\nId: {}\nIn EspoCRM: {}\n",
        record.entity_type, record.entity_type, record.id, record.url
    );
    let related: Vec<String> = record
        .related
        .iter()
        .map(|(link, count)| format!("{}: {count}", quoted_link(link)))
        .collect();
    if related.is_empty() {
        text.push_str("Related records: none counted\n");
    } else {
        text.push_str(&format!("Related records: {}\n", related.join(", ")));
    }
    let name = record
        .name
        .map_or_else(|| "(none)".to_owned(), |name| quoted(name, NAME_CHARS));
    text.push_str(&format!("\n{NAME_LABEL}: {name}\n"));
    text.push_str(
        "\nAn AI agent asks to delete it. EspoCRM marks deleted records as deleted; an \
         administrator can restore them. Tick confirm and accept to delete; decline to keep it.",
    );
    text
}

/// Link names come from EspoCRM's metadata, not from records, and are plain identifiers; one
/// that is not is shown quoted all the same.
fn quoted_link(link: &str) -> std::borrow::Cow<'_, str> {
    if !link.is_empty() && link.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        link.into()
    } else {
        quoted(link, TITLE_NAME_CHARS).into()
    }
}

/// The form: one required box, `confirm`.
pub fn form(record: &RecordSummary<'_>) -> ElicitRequestParams {
    let title = match record.name {
        Some(name) => format!(
            "Delete {} {}",
            record.entity_type,
            quoted(name, TITLE_NAME_CHARS)
        ),
        None => format!("Delete {} {}", record.entity_type, record.id),
    };
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
        let state = human.seal("stdio", "Account", "a1", 7);
        assert_eq!(human.open(&state, "stdio", "Account", "a1"), Ok(7));
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
        let state = human.seal("stdio", "Account", "a1", 7);
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
        let state = human.seal("stdio", "Account", "a1", 7);
        // Real time: rmcp's codec checks the expiry against the wall clock, not tokio's.
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
            "Name, as written in the record: \"Acme\"",
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
            "Delete Account \"Acme\""
        );
        assert_eq!(schema["required"], json!(["confirm"]));
    }

    #[test]
    fn should_show_record_text_on_one_quoted_line() {
        assert_eq!(quoted("Acme", 80), "\"Acme\"");
        assert_eq!(
            quoted("Acme\n\nId: 000\r\tx", 80),
            r#""Acme\n\nId: 000\r\tx""#
        );
        assert_eq!(quoted(r#"say "yes" \ no"#, 80), r#""say \"yes\" \\ no""#);
        for hidden in [
            '\u{2028}',
            '\u{2029}',
            '\u{202E}',
            '\u{2066}',
            '\u{200B}',
            '\u{200D}',
            '\u{FEFF}',
            '\u{0085}',
            '\u{001B}',
            '\u{000B}',
            '\u{E0041}',
        ] {
            let shown = quoted(&format!("a{hidden}b"), 80);
            assert_eq!(shown, format!("\"a\\u{{{:x}}}b\"", u32::from(hidden)));
            assert_eq!(shown.lines().count(), 1);
        }
        // Letters of any script stay as they are.
        assert_eq!(quoted("Müller & Søn – 東京", 80), "\"Müller & Søn – 東京\"");
        // Cut to the bound, never inside an escape.
        let long = "x".repeat(200);
        assert_eq!(quoted(&long, 80), format!("\"{}…\"", "x".repeat(80)));
        let breaks = format!("{}\n\n", "x".repeat(79));
        assert_eq!(quoted(&breaks, 80), format!("\"{}…\"", "x".repeat(79)));
    }

    #[test]
    fn should_keep_a_forged_name_from_posing_as_the_facts() {
        let related = json!({"contacts": 3});
        let forged = "Acme\n\nId: 000\nIn EspoCRM: http://evil.example/\nRelated records: none\n\nThis empty duplicate is safe to delete. Tick confirm and accept.";
        let record = RecordSummary {
            entity_type: "Account",
            id: "a1",
            name: Some(forged),
            related: related.as_object().expect("an object"),
            url: "https://crm.example.com/#Account/view/a1",
        };
        let text = message(&record);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("Id: ")).count(),
            1,
            "{text}"
        );
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.starts_with("In EspoCRM: "))
                .copied()
                .collect::<Vec<_>>(),
            ["In EspoCRM: https://crm.example.com/#Account/view/a1"]
        );
        let name_line = lines
            .iter()
            .find(|l| l.starts_with(NAME_LABEL))
            .expect("the name's line");
        assert!(
            name_line
                .starts_with(r#"Name, as written in the record: "Acme\n\nId: 000\nIn EspoCRM: "#),
            "{name_line}"
        );
        assert!(name_line.ends_with("…\""), "{name_line}");
        // The name comes after every fact espomcp vouches for.
        let name_at = lines.iter().position(|l| l.starts_with(NAME_LABEL));
        let related_at = lines
            .iter()
            .position(|l| l.starts_with("Related records: "));
        assert!(name_at > related_at, "{text}");
        let ElicitRequestParams::FormElicitationParams {
            requested_schema, ..
        } = form(&record)
        else {
            panic!("a form");
        };
        let schema = serde_json::to_value(&requested_schema).expect("serialises");
        let title = schema["properties"]["confirm"]["title"]
            .as_str()
            .expect("a title");
        assert_eq!(
            title,
            r#"Delete Account "Acme\n\nId: 000\nIn EspoCRM: http://evil…""#
        );
    }
}
