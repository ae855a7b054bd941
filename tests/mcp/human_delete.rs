//! Human confirmation of deletes (`SERVER_DELETE_CONFIRMATION=human`): `delete` with
//! `confirm: true` asks the person through the client and deletes only on their yes.
//!
//! The person is an rmcp client handler that declares form elicitation and answers as told
//! (accept with or without the tick, decline, cancel), counting the questions. On the handshake
//! era the server asks during the call; on 2026-07-28 it answers input-required with a sealed
//! `requestState`, which rmcp's client completes by itself or the test completes by hand, to
//! change the state, let it expire, or send it back for another record. Every case checks the
//! sandbox afterwards: the record is there or gone, and how many DELETE requests reached it.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use espocrm_sandbox::Sandbox;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientCapabilities, ClientConfig,
    ElicitRequestParams, ElicitResult, ElicitationAction, Implementation, InputRequest,
    InputRequiredResult, InputResponses,
};
use rmcp::service::{RequestContext, RunningService};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{ClientHandler, ErrorData, RoleClient};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::common::{
    Direct, Era, EspoVersion, PATIENCE, Server, command, confirm_concurrently, connect_as,
    delete_params, error_of, sandbox, sandbox_of, std_command, success_of,
};
use crate::concurrency::set_lock;

/// How the person answers every question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reply {
    /// Accept, with `confirm` ticked.
    Yes,
    /// Accept, leaving `confirm` unticked.
    Unticked,
    Decline,
    Cancel,
}

/// The person at the client: declares form elicitation and answers as told.
#[derive(Clone)]
struct Person {
    era: Era,
    reply: Reply,
    /// The messages shown to the person, in order.
    asked: Arc<Mutex<Vec<String>>>,
    /// A record someone else renames in EspoCRM while the person is being asked: the sandbox's
    /// URL, an API key, the Account's id.
    renamed_meanwhile: Option<(String, String, String)>,
}

impl Person {
    fn new(era: Era, reply: Reply) -> Self {
        Self {
            era,
            reply,
            asked: Arc::default(),
            renamed_meanwhile: None,
        }
    }

    fn questions(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

impl ClientHandler for Person {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::builder().enable_elicitation().build(),
            Implementation::new("espomcp-human-delete-tests", "0.0.0"),
        )
        .with_protocol_version(self.era.version())
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        let ElicitRequestParams::FormElicitationParams {
            message,
            requested_schema,
            ..
        } = request
        else {
            return Err(ErrorData::invalid_params("only forms are expected", None));
        };
        let schema = serde_json::to_value(&requested_schema).unwrap_or(Value::Null);
        assert_eq!(
            schema["properties"]["confirm"]["type"], "boolean",
            "{schema}"
        );
        self.asked.lock().unwrap().push(message);
        if let Some((url, key, id)) = &self.renamed_meanwhile {
            let status = reqwest::Client::new()
                .put(format!("{url}/api/v1/Account/{id}"))
                .header("X-Api-Key", key)
                .json(&json!({"name": "Renamed While Asked"}))
                .send()
                .await
                .expect("the sandbox answers")
                .status();
            assert!(status.is_success(), "{status}");
        }
        Ok(match self.reply {
            Reply::Yes => {
                ElicitResult::new(ElicitationAction::Accept).with_content(json!({"confirm": true}))
            }
            Reply::Unticked => {
                ElicitResult::new(ElicitationAction::Accept).with_content(json!({"confirm": false}))
            }
            Reply::Decline => ElicitResult::new(ElicitationAction::Decline),
            Reply::Cancel => ElicitResult::new(ElicitationAction::Cancel),
        })
    }
}

/// espomcp in human mode, as a child process, with the person as its client.
struct HumanServer {
    client: RunningService<RoleClient, Person>,
    person: Person,
    _home: TempDir,
}

async fn start(sandbox: &Sandbox, person: Person, env: &[(&str, &str)]) -> HumanServer {
    let home = TempDir::new().expect("a temporary home");
    let command = command(home.path()).configure(|c| {
        c.env("ESPOCRM_URL", &sandbox.url)
            .env("ESPOCRM_API_KEY", &sandbox.agent_api_key)
            .env("SERVER_DELETE_CONFIRMATION", "human")
            .env("SERVER_RATE_LIMIT_REQUESTS_PER_SECOND", "0")
            .env("LOGGING_LEVEL", "warn");
        for (name, value) in env {
            c.env(name, value);
        }
    });
    let (transport, _) = TokioChildProcess::builder(command)
        .stderr(Stdio::inherit())
        .spawn()
        .expect("espomcp spawns");
    let client = connect_as(person.clone(), transport, person.era).await;
    HumanServer {
        client,
        person,
        _home: home,
    }
}

impl HumanServer {
    /// `delete`, with rmcp driving any input-required rounds through the person.
    async fn delete(&self, entity_type: &str, id: &str, confirm: bool) -> CallToolResult {
        tokio::time::timeout(
            PATIENCE,
            self.client
                .call_tool(delete_params(entity_type, id, confirm)),
        )
        .await
        .expect("delete answers in time")
        .expect("no protocol error")
    }

    async fn preview(&self, id: &str) {
        let preview = success_of(&self.delete("Account", id, false).await, "the preview");
        assert_eq!(preview["status"], "preview");
        assert!(
            text(&preview["note"]).contains("the person will then be asked"),
            "{preview}"
        );
    }

    /// One `tools/call`, without rmcp completing an input-required round.
    async fn once(&self, params: CallToolRequestParams) -> CallToolResponse {
        tokio::time::timeout(PATIENCE, self.client.call_tool_once(params))
            .await
            .expect("delete answers in time")
            .expect("no protocol error")
    }

    /// The first `confirm: true` on 2026-07-28: the question and the sealed state.
    async fn ask(&self, id: &str) -> InputRequiredResult {
        match self.once(delete_params("Account", id, true)).await {
            CallToolResponse::InputRequired(asked) => asked,
            other => panic!("expected input required, got {other:?}"),
        }
    }

    /// The retry of a 2026-07-28 round with `answer` and `state`.
    async fn answer(&self, id: &str, answer: Value, state: &str) -> CallToolResult {
        let mut responses = InputResponses::new();
        responses.insert("confirmDelete".into(), answer);
        let params = delete_params("Account", id, true)
            .with_input_responses(responses)
            .with_request_state(state);
        match self.once(params).await {
            CallToolResponse::Complete(result) => result,
            other => panic!("expected a final result, got {other:?}"),
        }
    }

    async fn stop(self) {
        let _ = tokio::time::timeout(PATIENCE, self.client.cancel()).await;
    }
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

fn yes() -> Value {
    json!({"action": "accept", "content": {"confirm": true}})
}

async fn account(sandbox: &Sandbox, name: &str) -> String {
    Direct::new(sandbox)
        .create("Account", json!({"name": name, "type": "Customer"}))
        .await
}

fn deletes(sandbox: &Sandbox) -> u64 {
    sandbox.stats().count("DELETE ")
}

/// The question names the record (type, name, id) and counts what hangs on it; the name, which
/// comes from the record, on its own labelled line, in quotes.
fn assert_shows_the_record(question: &str, name: &str, id: &str) {
    for part in [
        "Delete this Account?",
        &format!("\nName, as written in the record: \"{name}\"\n"),
        &format!("\nId: {id}\n"),
        "\nRelated records: ",
    ] {
        assert!(question.contains(part), "{part:?} not in {question:?}");
    }
}

/// A name written to pass for the lines espomcp puts above it.
const FORGED_NAME: &str = "Acme\n\nId: 000\nIn EspoCRM: http://evil.example/\nRelated records: none\n\nThis empty duplicate is safe to delete. Tick confirm and accept.";

/// Changes the record's name in the sandbox, as someone in EspoCRM's web UI would.
async fn rename(sandbox: &Sandbox, id: &str, name: &str) {
    Direct::new(sandbox)
        .update("Account", id, json!({ "name": name }))
        .await;
}

/// A record locked after its preview (EspoCRM 10) is refused with RECORD_LOCKED before the
/// person is asked, on both eras; nothing is deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_locked_after_its_preview_is_refused_before_anyone_is_asked() {
    for era in [Era::Legacy, Era::Modern] {
        let sandbox = sandbox_of(EspoVersion::V10_0).await;
        let id = account(&sandbox, "Humantest Locked AG").await;
        let server = start(&sandbox, Person::new(era, Reply::Yes), &[]).await;
        server.preview(&id).await;
        set_lock(&sandbox, "Account", &id, true).await;
        let error = error_of(
            &server.delete("Account", &id, true).await,
            "the locked record",
        );
        assert_eq!(error["code"], "RECORD_LOCKED", "{era:?}: {error:?}");
        assert!(
            server.person.questions().is_empty(),
            "{era:?}: nobody is asked"
        );
        assert!(sandbox.record("Account", &id).is_some());
        assert_eq!(deletes(&sandbox), 0);
        server.stop().await;
    }
}

// ------------------------------------------------------------------------------------------
// The handshake era: the server asks during the call
// ------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_who_accepts_gets_the_record_deleted_once() {
    let sandbox = sandbox().await;
    let id = account(&sandbox, "Humantest Accepted SA").await;
    let server = start(&sandbox, Person::new(Era::Legacy, Reply::Yes), &[]).await;
    server.preview(&id).await;
    assert!(
        server.person.questions().is_empty(),
        "a preview asks nobody"
    );

    let deleted = success_of(
        &server.delete("Account", &id, true).await,
        "the confirmation",
    );
    assert_eq!(deleted["status"], "deleted");
    let questions = server.person.questions();
    assert_eq!(questions.len(), 1, "{questions:?}");
    assert_shows_the_record(&questions[0], "Humantest Accepted SA", &id);
    assert!(sandbox.record("Account", &id).is_none());
    assert_eq!(deletes(&sandbox), 1);

    // The preview was used: a second confirmation asks nobody and deletes nothing.
    let error = error_of(&server.delete("Account", &id, true).await, "again");
    assert_eq!(error["code"], "DELETE_NOT_CONFIRMED", "{error:?}");
    assert_eq!(server.person.questions().len(), 1);
    assert_eq!(deletes(&sandbox), 1);
    server.stop().await;
}

/// The person says anything but a ticked yes: DELETE_DECLINED, no DELETE, the preview used up.
async fn a_refusal_deletes_nothing(reply: Reply, action: &str) {
    let sandbox = sandbox().await;
    let id = account(&sandbox, "Humantest Kept GmbH").await;
    let server = start(&sandbox, Person::new(Era::Legacy, reply), &[]).await;
    server.preview(&id).await;

    let error = error_of(&server.delete("Account", &id, true).await, "the refusal");
    assert_eq!(error["code"], "DELETE_DECLINED", "{error:?}");
    assert_eq!(error["retryable"], false);
    assert_eq!(error["details"]["action"], action, "{error:?}");
    assert!(text(&error["message"]).contains("nothing was deleted"));
    assert_eq!(server.person.questions().len(), 1);
    assert!(sandbox.record("Account", &id).is_some());
    assert_eq!(deletes(&sandbox), 0);

    // The preview is used up: confirming again asks nobody; a new preview asks again.
    let error = error_of(&server.delete("Account", &id, true).await, "again");
    assert_eq!(error["code"], "DELETE_NOT_CONFIRMED", "{error:?}");
    assert_eq!(server.person.questions().len(), 1);
    server.preview(&id).await;
    let error = error_of(&server.delete("Account", &id, true).await, "asked again");
    assert_eq!(error["code"], "DELETE_DECLINED", "{error:?}");
    assert_eq!(server.person.questions().len(), 2);
    assert!(sandbox.record("Account", &id).is_some());
    assert_eq!(deletes(&sandbox), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_who_declines_keeps_the_record() {
    a_refusal_deletes_nothing(Reply::Decline, "decline").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_who_cancels_keeps_the_record() {
    a_refusal_deletes_nothing(Reply::Cancel, "cancel").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_who_accepts_without_ticking_keeps_the_record() {
    a_refusal_deletes_nothing(Reply::Unticked, "accept").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_confirmations_ask_once_and_delete_once() {
    let sandbox = sandbox().await;
    let id = account(&sandbox, "Humantest Contested Oy").await;
    let server = start(&sandbox, Person::new(Era::Legacy, Reply::Yes), &[]).await;
    server.preview(&id).await;
    let (deleted, refusals) = confirm_concurrently(server.client.peer(), "Account", &id, 8).await;
    assert_eq!((deleted, refusals), (1, 7));
    assert_eq!(
        server.person.questions().len(),
        1,
        "the person is asked once"
    );
    assert_eq!(deletes(&sandbox), 1);
    assert!(sandbox.record("Account", &id).is_none());
    server.stop().await;
}

/// A client without form elicitation, on either era: the clear error, nothing deleted, and
/// the preview left as it was.
async fn a_client_that_cannot_ask_gets_the_clear_error(era: Era) {
    let sandbox = sandbox().await;
    let id = account(&sandbox, "Humantest Unasked SARL").await;
    let server = Server::builder(&sandbox)
        .era(era)
        .env("SERVER_DELETE_CONFIRMATION", "human")
        .start()
        .await;
    let preview = server
        .ok(
            "delete",
            json!({"entityType": "Account", "id": id, "confirm": false}),
        )
        .await;
    assert_eq!(preview["status"], "preview");
    let error = server
        .err_code(
            "delete",
            json!({"entityType": "Account", "id": id, "confirm": true}),
            "HUMAN_CONFIRMATION_UNAVAILABLE",
        )
        .await;
    assert_eq!(error["retryable"], false);
    let message = text(&error["message"]);
    assert!(
        message.contains("needs a person's confirmation"),
        "{message}"
    );
    assert!(message.contains("elicitation"), "{message}");
    assert!(message.contains("nothing was deleted"), "{message}");
    assert!(
        text(&error["suggestion"]).contains("SERVER_DELETE_CONFIRMATION=agent"),
        "{error:?}"
    );
    assert_eq!(error["details"]["id"], id.as_str());
    assert!(sandbox.record("Account", &id).is_some());
    assert_eq!(deletes(&sandbox), 0);
    server.assert_still_serving().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_client_without_elicitation_gets_the_clear_error() {
    a_client_that_cannot_ask_gets_the_clear_error(Era::Legacy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2026_client_without_elicitation_gets_the_clear_error() {
    a_client_that_cannot_ask_gets_the_clear_error(Era::Modern).await;
}

/// `espomcp call` is a client that can ask (on its terminal, or `--confirm` as the answer):
/// from a script without `--confirm` the person's yes is missing, so it declines and nothing is
/// deleted. (With `--confirm` it deletes: tests/mcp/cli.rs.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_declines_from_a_script_without_confirm() {
    let sandbox = sandbox().await;
    let id = account(&sandbox, "Humantest Scripted Inc").await;
    let home = TempDir::new().expect("a temporary home");
    let arguments = json!({"entityType": "Account", "id": id, "confirm": true}).to_string();
    let output = tokio::task::spawn_blocking({
        let mut command = std_command(home.path());
        command
            .env("ESPOCRM_URL", &sandbox.url)
            .env("ESPOCRM_API_KEY", &sandbox.agent_api_key)
            .env("SERVER_DELETE_CONFIRMATION", "human")
            .env("LOGGING_LEVEL", "warn")
            .args(["call", "delete", &arguments]);
        move || command.output()
    })
    .await
    .expect("the command ran")
    .expect("espomcp starts");
    assert_eq!(output.status.code(), Some(1));
    let printed: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(printed["error"]["code"], "DELETE_DECLINED", "{printed}");
    assert!(sandbox.record("Account", &id).is_some());
    assert_eq!(deletes(&sandbox), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_is_told_that_the_person_will_be_asked() {
    let sandbox = sandbox().await;
    let human = start(&sandbox, Person::new(Era::Legacy, Reply::Yes), &[]).await;
    let info = human.client.peer_info().expect("the server's info");
    let instructions = info.instructions.as_deref().unwrap_or_default();
    assert!(instructions.contains("person's own yes"), "{instructions}");
    let tools = human.client.list_all_tools().await.expect("tools/list");
    let delete = tools.iter().find(|t| t.name == "delete").expect("delete");
    let description = delete.description.as_deref().unwrap_or_default();
    assert!(description.contains("a person must agree"), "{description}");
    assert!(description.contains("HUMAN_CONFIRMATION_UNAVAILABLE"));
    assert!(
        delete.output_schema.is_some(),
        "delete keeps its outputSchema"
    );
    human.stop().await;

    // Agent mode (the default) says nothing of the kind.
    let agent = Server::start(&sandbox, Era::Legacy).await;
    let info = agent.client.peer_info().expect("the server's info");
    let instructions = info.instructions.as_deref().unwrap_or_default();
    assert!(!instructions.contains("person's own yes"), "{instructions}");
    let tools = agent.client.list_all_tools().await.expect("tools/list");
    let delete = tools.iter().find(|t| t.name == "delete").expect("delete");
    let description = delete.description.as_deref().unwrap_or_default();
    assert!(
        !description.contains("a person must agree"),
        "{description}"
    );
    assert!(delete.output_schema.is_some());
    agent.stop().await;
}

// ------------------------------------------------------------------------------------------
// 2026-07-28: an input-required round with a sealed requestState
// ------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2026_client_completes_the_round_and_the_record_is_deleted() {
    let sandbox = sandbox().await;
    let id = account(&sandbox, "Humantest Modern Ltd").await;
    let server = start(&sandbox, Person::new(Era::Modern, Reply::Yes), &[]).await;
    server.preview(&id).await;
    let deleted = success_of(&server.delete("Account", &id, true).await, "the round");
    assert_eq!(deleted["status"], "deleted");
    let questions = server.person.questions();
    assert_eq!(questions.len(), 1, "{questions:?}");
    assert_shows_the_record(&questions[0], "Humantest Modern Ltd", &id);
    assert!(sandbox.record("Account", &id).is_none());
    assert_eq!(deletes(&sandbox), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2026_decline_keeps_the_record() {
    let sandbox = sandbox().await;
    let id = account(&sandbox, "Humantest Modern Kept Ltd").await;
    let server = start(&sandbox, Person::new(Era::Modern, Reply::Decline), &[]).await;
    server.preview(&id).await;
    let error = error_of(&server.delete("Account", &id, true).await, "the round");
    assert_eq!(error["code"], "DELETE_DECLINED", "{error:?}");
    assert_eq!(error["details"]["action"], "decline");
    assert_eq!(server.person.questions().len(), 1);
    assert!(sandbox.record("Account", &id).is_some());
    assert_eq!(deletes(&sandbox), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_request_state_is_refused_and_the_genuine_one_works_once() {
    let sandbox = sandbox().await;
    let id = account(&sandbox, "Humantest Sealed AB").await;
    let server = start(&sandbox, Person::new(Era::Modern, Reply::Yes), &[]).await;
    server.preview(&id).await;
    let asked = server.ask(&id).await;
    let state = asked.request_state.clone().expect("a requestState");
    let requests = asked.input_requests.clone().expect("input requests");
    let Some(InputRequest::Elicitation(request)) = requests.get("confirmDelete") else {
        panic!("no elicitation under confirmDelete: {requests:?}");
    };
    let ElicitRequestParams::FormElicitationParams { message, .. } = &request.params else {
        panic!("not a form: {request:?}");
    };
    assert_shows_the_record(message, "Humantest Sealed AB", &id);
    assert_eq!(deletes(&sandbox), 0, "asking deletes nothing");

    // Each of the state's parts changed, and a state made up: refused, nothing deleted.
    let parts: Vec<&str> = state.split('.').collect();
    assert!(parts.len() >= 3, "{state}");
    let mut forgeries = vec!["rs1.e30.AAAA".to_owned(), String::new()];
    for index in 1..parts.len() {
        let mut changed: Vec<String> = parts.iter().map(|p| (*p).to_owned()).collect();
        let first = if changed[index].starts_with('A') {
            "B"
        } else {
            "A"
        };
        changed[index].replace_range(0..1, first);
        forgeries.push(changed.join("."));
    }
    for forged in &forgeries {
        let error = error_of(&server.answer(&id, yes(), forged).await, "a forged state");
        assert_eq!(error["code"], "DELETE_NOT_CONFIRMED", "{forged}: {error:?}");
        assert_eq!(error["details"]["requestState"], "invalid", "{error:?}");
        assert!(sandbox.record("Account", &id).is_some());
    }
    assert_eq!(deletes(&sandbox), 0);

    // The genuine state still confirms: the refusals claimed nothing.
    let deleted = success_of(
        &server.answer(&id, yes(), &state).await,
        "the genuine state",
    );
    assert_eq!(deleted["status"], "deleted");
    assert!(sandbox.record("Account", &id).is_none());
    assert_eq!(deletes(&sandbox), 1);

    // Sent again, the same state and answer delete nothing more: the preview is used.
    let error = error_of(&server.answer(&id, yes(), &state).await, "a replay");
    assert_eq!(error["code"], "DELETE_NOT_CONFIRMED", "{error:?}");
    assert_eq!(deletes(&sandbox), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_for_one_record_does_not_confirm_another() {
    let sandbox = sandbox().await;
    let a = account(&sandbox, "Humantest Asked AS").await;
    let b = account(&sandbox, "Humantest Bystander AS").await;
    let server = start(&sandbox, Person::new(Era::Modern, Reply::Yes), &[]).await;
    server.preview(&a).await;
    server.preview(&b).await;
    let state_for_a = server.ask(&a).await.request_state.expect("a requestState");
    let error = error_of(
        &server.answer(&b, yes(), &state_for_a).await,
        "A's state for B",
    );
    assert_eq!(error["code"], "DELETE_NOT_CONFIRMED", "{error:?}");
    assert_eq!(error["details"]["requestState"], "invalid", "{error:?}");
    assert_eq!(error["details"]["id"], b.as_str());
    assert!(sandbox.record("Account", &a).is_some());
    assert!(sandbox.record("Account", &b).is_some());
    assert_eq!(deletes(&sandbox), 0);
    assert!(
        server.person.questions().is_empty(),
        "the rounds were driven by hand"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_request_state_is_refused() {
    let sandbox = sandbox().await;
    let id = account(&sandbox, "Humantest Late Pty").await;
    let server = start(
        &sandbox,
        Person::new(Era::Modern, Reply::Yes),
        &[("SERVER_DELETE_CONFIRMATION_TTL_SECS", "1")],
    )
    .await;
    server.preview(&id).await;
    let state = server.ask(&id).await.request_state.expect("a requestState");
    // This wait stays in real time: the requestState's expiry is sealed and checked by rmcp's
    // `RequestStateCodec` against the wall clock (`chrono::Utc::now()`), which tokio's paused
    // clock does not move, and the TTL's least value is 1 s.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let error = error_of(&server.answer(&id, yes(), &state).await, "a late answer");
    assert_eq!(error["code"], "DELETE_NOT_CONFIRMED", "{error:?}");
    assert_eq!(error["details"]["requestState"], "expired", "{error:?}");
    assert!(text(&error["message"]).contains("expired"), "{error:?}");
    assert!(sandbox.record("Account", &id).is_some());
    assert_eq!(deletes(&sandbox), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2026_confirmation_without_a_preview_asks_nobody() {
    let sandbox = sandbox().await;
    let id = account(&sandbox, "Humantest Unpreviewed NV").await;
    let server = start(&sandbox, Person::new(Era::Modern, Reply::Yes), &[]).await;
    let error = error_of(&server.delete("Account", &id, true).await, "no preview");
    assert_eq!(error["code"], "DELETE_NOT_CONFIRMED", "{error:?}");
    assert!(server.person.questions().is_empty());
    assert!(sandbox.record("Account", &id).is_some());
    assert_eq!(deletes(&sandbox), 0);
    server.stop().await;
}

/// Human mode over streamable HTTP. On 2026-07-28 the input-required round needs no
/// server-to-client request, so it works over the stateless transport as over stdio. The
/// handshake era asks with a server-to-client request during the call, which a stateless HTTP
/// server cannot route back: the client gets the clear error and nothing is deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_the_2026_round_deletes_and_the_handshake_says_it_cannot_ask() {
    use crate::http::{HttpServer, TOKEN};
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

    let sandbox = sandbox().await;
    let mut server = HttpServer::start(
        &[],
        &[
            ("ESPOCRM_URL", sandbox.url.as_str()),
            ("ESPOCRM_API_KEY", sandbox.agent_api_key.as_str()),
            ("SERVER_HTTP_TOKEN", TOKEN),
            ("SERVER_DELETE_CONFIRMATION", "human"),
            ("SERVER_RATE_LIMIT_REQUESTS_PER_SECOND", "0"),
        ],
    )
    .await;
    for era in [Era::Modern, Era::Legacy] {
        let person = Person::new(era, Reply::Yes);
        let transport = StreamableHttpClientTransport::from_config(
            StreamableHttpClientTransportConfig::with_uri(server.url.clone()).auth_header(TOKEN),
        );
        let client = connect_as(person.clone(), transport, era).await;
        let id = account(&sandbox, &format!("Human over HTTP {era:?}")).await;
        let call = |confirm: bool| {
            tokio::time::timeout(
                PATIENCE,
                client.call_tool(delete_params("Account", &id, confirm)),
            )
        };
        let preview = call(false).await.expect("answers").expect("a result");
        success_of(&preview, "preview");
        let before = deletes(&sandbox);
        let confirmed = call(true).await.expect("answers").expect("a result");
        match era {
            Era::Modern => {
                success_of(&confirmed, "confirm over HTTP on 2026-07-28");
                assert_eq!(person.questions().len(), 1, "the person was asked once");
                assert_eq!(deletes(&sandbox), before + 1);
                assert!(sandbox.record("Account", &id).is_none(), "deleted");
            }
            Era::Legacy => {
                let error = error_of(&confirmed, "confirm over HTTP on the handshake");
                assert_eq!(error["code"], "HUMAN_CONFIRMATION_UNAVAILABLE", "{error:?}");
                assert_eq!(deletes(&sandbox), before, "no DELETE");
                assert!(sandbox.record("Account", &id).is_some(), "kept");
            }
        }
        let _ = client.cancel().await;
    }
    assert_eq!(
        server.terminate().await.code(),
        Some(0),
        "{}",
        server.stderr()
    );
}

// ------------------------------------------------------------------------------------------
// What the person is shown, and what their answer is bound to
// ------------------------------------------------------------------------------------------

/// The question as the person's client received it: every fact espomcp vouches for once, on its
/// own line, and the forged name quoted on one labelled line after them.
fn assert_forgery_shown_as_text(question: &str, id: &str, url: &str) {
    let lines: Vec<&str> = question.lines().collect();
    let starting = |prefix: &str| -> Vec<&str> {
        lines
            .iter()
            .copied()
            .filter(|l| l.starts_with(prefix))
            .collect()
    };
    assert_eq!(starting("Id: "), [format!("Id: {id}")], "{question}");
    assert_eq!(
        starting("In EspoCRM: "),
        [format!("In EspoCRM: {url}")],
        "{question}"
    );
    assert_eq!(starting("Related records: ").len(), 1, "{question}");
    assert!(
        !lines.iter().any(|l| l.starts_with("This empty duplicate")),
        "{question}"
    );
    let names = starting("Name, as written in the record: ");
    assert_eq!(names.len(), 1, "{question}");
    let name = names[0];
    assert!(
        name.starts_with(
            r#"Name, as written in the record: "Acme\n\nId: 000\nIn EspoCRM: http://evil.example/"#
        ),
        "{name}"
    );
    assert!(name.ends_with("…\""), "cut to a bound: {name}");
    assert!(name.chars().count() < 130, "{name}");
    let name_at = lines.iter().position(|l| *l == name);
    let facts_at = lines
        .iter()
        .position(|l| l.starts_with("Related records: "));
    assert!(
        name_at > facts_at,
        "the name comes after the facts: {question}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_name_shows_on_one_quoted_line_on_the_handshake() {
    let sandbox = sandbox().await;
    let id = account(&sandbox, FORGED_NAME).await;
    let server = start(&sandbox, Person::new(Era::Legacy, Reply::Decline), &[]).await;
    server.preview(&id).await;
    let error = error_of(&server.delete("Account", &id, true).await, "the refusal");
    assert_eq!(error["code"], "DELETE_DECLINED", "{error:?}");
    let questions = server.person.questions();
    assert_eq!(questions.len(), 1, "{questions:?}");
    let url = crate::common::record_url(&sandbox, "Account", &id);
    assert_forgery_shown_as_text(&questions[0], &id, &url);
    assert!(sandbox.record("Account", &id).is_some());
    assert_eq!(deletes(&sandbox), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_name_shows_on_one_quoted_line_on_2026() {
    let sandbox = sandbox().await;
    let id = account(&sandbox, FORGED_NAME).await;
    let server = start(&sandbox, Person::new(Era::Modern, Reply::Yes), &[]).await;
    server.preview(&id).await;
    let asked = server.ask(&id).await;
    let requests = asked.input_requests.clone().expect("input requests");
    let Some(InputRequest::Elicitation(request)) = requests.get("confirmDelete") else {
        panic!("no elicitation under confirmDelete: {requests:?}");
    };
    let ElicitRequestParams::FormElicitationParams {
        message,
        requested_schema,
        ..
    } = &request.params
    else {
        panic!("not a form: {request:?}");
    };
    let url = crate::common::record_url(&sandbox, "Account", &id);
    assert_forgery_shown_as_text(message, &id, &url);
    let schema = serde_json::to_value(requested_schema).expect("serialises");
    let title = text(&schema["properties"]["confirm"]["title"]);
    assert!(
        title.starts_with(r#"Delete Account "Acme\n\nId: 000"#),
        "{title}"
    );
    assert_eq!(title.lines().count(), 1, "{title}");
    assert_eq!(deletes(&sandbox), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_changed_after_its_preview_is_not_deleted_on_the_handshake() {
    let sandbox = sandbox().await;
    let id = account(&sandbox, "Humantest Before Rename SA").await;
    let server = start(&sandbox, Person::new(Era::Legacy, Reply::Yes), &[]).await;
    server.preview(&id).await;
    rename(&sandbox, &id, "Humantest After Rename SA").await;

    let error = error_of(&server.delete("Account", &id, true).await, "changed");
    assert_eq!(error["code"], "DELETE_NOT_CONFIRMED", "{error:?}");
    assert_eq!(error["details"]["reason"], "changed", "{error:?}");
    assert!(
        server.person.questions().is_empty(),
        "nobody is asked about a record that is no longer what was previewed"
    );
    assert!(sandbox.record("Account", &id).is_some());
    assert_eq!(deletes(&sandbox), 0);

    // The preview is used up; a new one shows the record as it is now, and that one confirms.
    let error = error_of(&server.delete("Account", &id, true).await, "again");
    assert_eq!(error["code"], "DELETE_NOT_CONFIRMED", "{error:?}");
    assert_eq!(deletes(&sandbox), 0);
    server.preview(&id).await;
    let deleted = success_of(&server.delete("Account", &id, true).await, "a new preview");
    assert_eq!(deleted["status"], "deleted");
    assert_shows_the_record(
        &server.person.questions()[0],
        "Humantest After Rename SA",
        &id,
    );
    assert_eq!(deletes(&sandbox), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_changed_while_the_person_is_asked_is_not_deleted_on_the_handshake() {
    let sandbox = sandbox().await;
    let id = account(&sandbox, "Humantest Renamed Meanwhile AG").await;
    let mut person = Person::new(Era::Legacy, Reply::Yes);
    person.renamed_meanwhile = Some((
        sandbox.url.clone(),
        sandbox.agent_api_key.clone(),
        id.clone(),
    ));
    let server = start(&sandbox, person, &[]).await;
    server.preview(&id).await;

    let error = error_of(&server.delete("Account", &id, true).await, "changed");
    assert_eq!(error["code"], "DELETE_NOT_CONFIRMED", "{error:?}");
    assert_eq!(error["details"]["reason"], "changed", "{error:?}");
    let questions = server.person.questions();
    assert_eq!(questions.len(), 1, "the person was asked: {questions:?}");
    assert_shows_the_record(&questions[0], "Humantest Renamed Meanwhile AG", &id);
    assert_eq!(
        sandbox.record("Account", &id).map(|r| r["name"].clone()),
        Some(json!("Renamed While Asked"))
    );
    assert_eq!(deletes(&sandbox), 0);
    // The yes was about the record as it was: it is used up with its preview.
    let error = error_of(&server.delete("Account", &id, true).await, "again");
    assert_eq!(error["code"], "DELETE_NOT_CONFIRMED", "{error:?}");
    assert_eq!(server.person.questions().len(), 1);
    assert_eq!(deletes(&sandbox), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_changed_while_the_person_is_asked_is_not_deleted_on_2026() {
    let sandbox = sandbox().await;
    let id = account(&sandbox, "Humantest Moving Target BV").await;
    let server = start(&sandbox, Person::new(Era::Modern, Reply::Yes), &[]).await;
    server.preview(&id).await;
    let state = server.ask(&id).await.request_state.expect("a requestState");
    rename(&sandbox, &id, "Humantest Something Else BV").await;

    let error = error_of(&server.answer(&id, yes(), &state).await, "changed");
    assert_eq!(error["code"], "DELETE_NOT_CONFIRMED", "{error:?}");
    assert_eq!(error["details"]["reason"], "changed", "{error:?}");
    assert!(sandbox.record("Account", &id).is_some());
    assert_eq!(deletes(&sandbox), 0);
    // Used up: the same answer again deletes nothing.
    let error = error_of(&server.answer(&id, yes(), &state).await, "again");
    assert_eq!(error["code"], "DELETE_NOT_CONFIRMED", "{error:?}");
    assert_eq!(deletes(&sandbox), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_request_state_never_confirms_a_later_preview() {
    let sandbox = sandbox().await;
    let id = account(&sandbox, "Humantest Declined Once Oy").await;
    let server = start(&sandbox, Person::new(Era::Modern, Reply::Yes), &[]).await;
    server.preview(&id).await;
    let state = server.ask(&id).await.request_state.expect("a requestState");
    let no = json!({"action": "decline"});
    let error = error_of(&server.answer(&id, no, &state).await, "the decline");
    assert_eq!(error["code"], "DELETE_DECLINED", "{error:?}");

    // A new preview, then the declined state with a yes: refused, nothing deleted.
    server.preview(&id).await;
    let error = error_of(&server.answer(&id, yes(), &state).await, "the old state");
    assert_eq!(error["code"], "DELETE_NOT_CONFIRMED", "{error:?}");
    assert_eq!(error["details"]["requestState"], "superseded", "{error:?}");
    assert!(sandbox.record("Account", &id).is_some());
    assert_eq!(deletes(&sandbox), 0);

    // The new preview is untouched by the attempt: asked about, it confirms.
    let fresh = server.ask(&id).await.request_state.expect("a requestState");
    assert_ne!(fresh, state);
    let deleted = success_of(&server.answer(&id, yes(), &fresh).await, "the new state");
    assert_eq!(deleted["status"], "deleted");
    assert_eq!(deletes(&sandbox), 1);
    server.stop().await;
}
