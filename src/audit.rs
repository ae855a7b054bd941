//! The audit log: one JSON line per write tool call (`SERVER_AUDIT_LOG`, off by default).
//!
//! Every call of a tool that changes data (`create`, `update`, `delete`, `link`, `unlink`,
//! `add_note`, `update_kanban` and `draft_email`) — successful, refused or failed — is appended
//! to the file as
//!
//! ```json
//! {"time":"2026-03-02T10:15:04.512Z","tool":"update","entityType":"Opportunity","id":"65f0c3e2a1b2c3d4e",
//!  "fields":["stage","amount"],"outcome":"OK","latencyMs":41,"upstreamStatus":200}
//! ```
//!
//! What a line says the call was about is the tool's own declaration ([`Audited`], implemented
//! by its argument type in the tool's file). It says who was changed and how it ended, never
//! with what: field *names* only, no values, no note text, no email addresses, and never the
//! API key. `outcome` is `OK`, a stable error
//! code (`PERMISSION_DENIED`, …), `PROTOCOL_ERROR` or `CANCELLED`; `upstreamStatus` is the HTTP
//! status of the last write request sent to EspoCRM during the call (of the last read when no
//! write was sent, `null` when nothing reached EspoCRM).
//!
//! Lines go through tracing-appender's non-blocking writer (a dedicated thread does the disk
//! I/O, so a slow disk never holds up a tool call, and no line is dropped); the [`AuditGuard`]
//! flushes what is buffered when it is dropped, at shutdown. An audit file that cannot be opened
//! or written is logged as an error, loudly and every time, and never fails the tool call.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rmcp::ErrorData;
use rmcp::model::{CallToolRequestParams, CallToolResponse};
use serde::Serialize;
use serde_json::{Map, Value};
use tracing_appender::non_blocking::{NonBlocking, NonBlockingBuilder, WorkerGuard};

/// The longest name (entity type, field, id) written as given; longer ones are cut.
const MAX_NAME: usize = 64;
/// The most field names written for one call.
const MAX_FIELDS: usize = 100;

/// Where audit lines go. Cheap to clone; every clone writes to the same file.
#[derive(Debug, Clone, Default)]
pub struct AuditLog {
    sink: Sink,
}

#[derive(Debug, Clone, Default)]
enum Sink {
    /// `SERVER_AUDIT_LOG` is not set.
    #[default]
    Off,
    /// Lines go to the writer thread.
    File { path: PathBuf, writer: NonBlocking },
    /// The file could not be opened: every write tool call says so in the log.
    Broken { path: PathBuf, reason: String },
}

/// Keeps the audit writer's thread running; dropping it writes out what is buffered.
#[must_use = "dropping the guard stops the audit log"]
#[derive(Debug, Default)]
pub struct AuditGuard {
    _worker: Option<WorkerGuard>,
}

impl AuditLog {
    /// Opens (creates, appends to) the audit file, or returns a log that is off. A file that
    /// cannot be opened is logged as an error now and at every write tool call; espomcp serves on.
    pub fn open(path: Option<&Path>) -> (AuditLog, AuditGuard) {
        let Some(path) = path else {
            return (AuditLog::default(), AuditGuard::default());
        };
        match open_append(path) {
            Ok(file) => {
                let (writer, guard) = NonBlockingBuilder::default()
                    .lossy(false)
                    .thread_name("espomcp-audit")
                    .finish(ReportingFile {
                        file,
                        path: path.to_owned(),
                    });
                tracing::info!(path = %path.display(), "write tool calls are audited");
                let sink = Sink::File {
                    path: path.to_owned(),
                    writer,
                };
                (
                    AuditLog { sink },
                    AuditGuard {
                        _worker: Some(guard),
                    },
                )
            }
            Err(error) => {
                let reason = error.to_string();
                tracing::error!(
                    "SERVER_AUDIT_LOG {}: cannot open it for appending ({reason}); write tool \
                     calls are NOT being audited: check that its directory exists and is writable",
                    path.display()
                );
                let sink = Sink::Broken {
                    path: path.to_owned(),
                    reason,
                };
                (AuditLog { sink }, AuditGuard::default())
            }
        }
    }

    pub fn is_on(&self) -> bool {
        !matches!(self.sink, Sink::Off)
    }

    /// Why the configured file could not be opened, if it could not: `espomcp check` fails on
    /// it, since every write would then go unaudited.
    pub fn broken(&self) -> Option<(&Path, &str)> {
        match &self.sink {
            Sink::Broken { path, reason } => Some((path, reason)),
            Sink::Off | Sink::File { .. } => None,
        }
    }

    /// Appends one entry; a failure is logged, never returned.
    pub fn write(&self, entry: &AuditEntry) {
        match &self.sink {
            Sink::Off => {}
            Sink::Broken { path, reason } => tracing::error!(
                tool = entry.tool,
                "the audit line of this {} call was not written: SERVER_AUDIT_LOG {} cannot be \
                 opened ({reason})",
                entry.tool,
                path.display()
            ),
            Sink::File { path, writer } => {
                let mut line = match serde_json::to_vec(entry) {
                    Ok(line) => line,
                    Err(error) => {
                        tracing::error!("an audit line could not be encoded: {error}");
                        return;
                    }
                };
                line.push(b'\n');
                // One write is one line for the writer thread, so lines never interleave.
                if let Err(error) = writer.clone().write_all(&line) {
                    tracing::error!(
                        "the audit line of this {} call was not written to {}: {error}",
                        entry.tool,
                        path.display()
                    );
                }
            }
        }
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// The audit file, as the writer thread sees it: a failed write is logged loudly (the
/// non-blocking writer itself would drop the error silently).
struct ReportingFile {
    file: File,
    path: PathBuf,
}

impl Write for ReportingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf).inspect_err(|error| {
            tracing::error!(
                "SERVER_AUDIT_LOG {}: an audit line could not be written: {error}",
                self.path.display()
            );
        })
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// One audit line.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// When the call finished, UTC, RFC 3339 with milliseconds.
    pub time: String,
    pub tool: &'static str,
    pub entity_type: Option<String>,
    pub id: Option<String>,
    /// The names of the fields the call set (create, update, update_kanban, draft_email), or
    /// the link (link, unlink); never their values.
    pub fields: Vec<String>,
    /// delete only: `preview` (confirm=false) or `confirm`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<&'static str>,
    /// `OK`, an error code, `PROTOCOL_ERROR` or `CANCELLED`.
    pub outcome: String,
    pub latency_ms: u64,
    pub upstream_status: Option<u16>,
}

tokio::task_local! {
    /// The upstream statuses seen by the tool call running in this task.
    static STATUSES: Arc<Mutex<Statuses>>;
}

#[derive(Debug, Default, Clone, Copy)]
struct Statuses {
    last_write: Option<u16>,
    last_read: Option<u16>,
}

/// Notes the status of an answer from EspoCRM for the tool call in progress (a no-op outside
/// an audited call). `None` when no answer came (timeout, connection failure).
pub fn note_upstream_status(read: bool, status: Option<u16>) {
    let _ = STATUSES.try_with(|statuses| {
        if let (Some(status), Ok(mut seen)) = (status, statuses.lock()) {
            if read {
                seen.last_read = Some(status);
            } else {
                seen.last_write = Some(status);
            }
        }
    });
}

/// One tool call being watched: started before it is routed, finished with its result.
#[derive(Debug)]
pub struct Watch {
    log: AuditLog,
    /// `None` when the call is not audited (not a write tool, or the log is off).
    call: Option<Call>,
    statuses: Arc<Mutex<Statuses>>,
}

#[derive(Debug)]
struct Call {
    tool: &'static str,
    /// The tool's declaration of what the line records.
    subject: AuditSubject,
    arguments: Map<String, Value>,
    started: Instant,
}

impl Watch {
    pub fn start(log: &AuditLog, request: &CallToolRequestParams) -> Watch {
        // A tool that changes something declares what its audit line records (tools/catalog.rs).
        let declared = crate::tools::catalog::audit_of(&request.name);
        let call = declared
            .filter(|_| log.is_on())
            .map(|(tool, subject)| Call {
                tool,
                subject,
                arguments: request.arguments.clone().unwrap_or_default(),
                started: Instant::now(),
            });
        Watch {
            log: log.clone(),
            call,
            statuses: Arc::default(),
        }
    }

    /// Runs the call with its upstream statuses collected for the audit line.
    pub async fn scope<F: Future>(&self, call: F) -> F::Output {
        STATUSES.scope(self.statuses.clone(), call).await
    }

    /// Writes the line of a call that ended.
    pub fn finish(self, result: &Result<CallToolResponse, ErrorData>) {
        // Not audited (a read tool, or no SERVER_AUDIT_LOG): nothing to copy out of the result.
        if self.call.is_none() {
            return;
        }
        let outcome = match result {
            // A failed call carries its error object in the text only (tools/mod.rs).
            Ok(CallToolResponse::Complete(result)) if result.is_error == Some(true) => {
                let error = crate::tools::error_of(result);
                match error.as_ref().and_then(|e| e["code"].as_str()) {
                    Some(code) => Outcome::Failed(code.into()),
                    None => Outcome::Failed("TOOL_ERROR".into()),
                }
            }
            Ok(CallToolResponse::Complete(result)) => {
                Outcome::Done(result.structured_content.clone().unwrap_or(Value::Null))
            }
            Ok(_) => Outcome::Done(Value::Null),
            Err(_) => Outcome::Failed("PROTOCOL_ERROR".into()),
        };
        self.write(outcome);
    }

    /// Writes the line of a call the client cancelled (it may have reached EspoCRM).
    pub fn cancelled(self) {
        self.write(Outcome::Failed("CANCELLED".into()));
    }

    fn write(self, outcome: Outcome) {
        let Some(call) = self.call else {
            return;
        };
        let statuses = self.statuses.lock().map(|s| *s).unwrap_or_default();
        let entry = entry(&call, &outcome, statuses.last_write.or(statuses.last_read));
        self.log.write(&entry);
    }
}

/// How a call ended: its structured result, or an error code.
enum Outcome {
    Done(Value),
    Failed(String),
}

fn entry(call: &Call, outcome: &Outcome, upstream_status: Option<u16>) -> AuditEntry {
    let result = match outcome {
        Outcome::Done(value) => value.as_object().cloned().unwrap_or_default(),
        Outcome::Failed(_) => Map::new(),
    };
    let recorded = Recorded {
        arguments: &call.arguments,
        result: &result,
    };
    let subject = (call.subject)(&recorded);
    AuditEntry {
        time: chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string(),
        tool: call.tool,
        entity_type: recorded.answered("entityType").or(subject.entity_type),
        id: subject.id,
        fields: subject.fields,
        step: subject.step,
        outcome: match outcome {
            Outcome::Done(_) => "OK".to_owned(),
            Outcome::Failed(code) => code.clone(),
        },
        latency_ms: u64::try_from(call.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        upstream_status,
    }
}

/// How a tool that changes data is recorded in the audit log: implemented by its argument
/// type, in the tool's own file, and named in its declaration (`ToolSpec::writes`). It reads
/// the arguments as they were given, not as parsed, since a call refused for its arguments is
/// recorded too.
pub trait Audited {
    /// What the line says the call was about.
    fn subject(call: &Recorded<'_>) -> Subject;
}

/// [`Audited::subject`] of one tool's argument type.
pub type AuditSubject = fn(&Recorded<'_>) -> Subject;

/// What an audit line says a call was about: names, never values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Subject {
    /// The entity type (a result's own `entityType`, when it has one, is written instead).
    pub entity_type: Option<String>,
    pub id: Option<String>,
    /// The names of the fields the call set, or the link it changed.
    pub fields: Vec<String>,
    /// The step of a two-step tool (`delete`): `preview` or `confirm`.
    pub step: Option<&'static str>,
}

/// A finished call as an [`Audited`] declaration reads it: its arguments as given, and its
/// structured result (empty when the call failed). Every name read through here is cut to
/// `MAX_NAME` characters, and lists of names to `MAX_FIELDS`.
#[derive(Debug, Clone, Copy)]
pub struct Recorded<'a> {
    arguments: &'a Map<String, Value>,
    result: &'a Map<String, Value>,
}

impl Recorded<'_> {
    /// A text argument.
    pub fn argument(&self, key: &str) -> Option<String> {
        self.arguments.get(key).and_then(Value::as_str).map(short)
    }

    /// Whether a boolean argument is given as `true`.
    pub fn is_true(&self, key: &str) -> bool {
        self.arguments.get(key).and_then(Value::as_bool) == Some(true)
    }

    /// The keys of an object argument (e.g. `data`), never its values.
    pub fn keys_of(&self, key: &str) -> Vec<String> {
        self.arguments
            .get(key)
            .and_then(Value::as_object)
            .map(|data| data.keys().take(MAX_FIELDS).map(|k| short(k)).collect())
            .unwrap_or_default()
    }

    /// The names of the arguments given.
    pub fn argument_names(&self) -> Vec<String> {
        self.arguments
            .keys()
            .take(MAX_FIELDS)
            .map(|k| short(k))
            .collect()
    }

    /// A text field of the result, when the call succeeded.
    pub fn answered(&self, key: &str) -> Option<String> {
        self.result.get(key).and_then(Value::as_str).map(short)
    }
}

/// A name as the caller gave it, cut to [`MAX_NAME`] characters.
fn short(name: &str) -> String {
    name.chars().take(MAX_NAME).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A call of `tool`, audited as the tool declares (tools/catalog.rs).
    fn call(tool: &str, arguments: Value) -> Call {
        let (tool, subject) = crate::tools::catalog::audit_of(tool).expect("an audited tool");
        Call {
            tool,
            subject,
            arguments: arguments.as_object().cloned().unwrap_or_default(),
            started: Instant::now(),
        }
    }

    #[test]
    fn should_name_fields_without_values() {
        let update = call(
            "update",
            json!({"entityType": "Account", "id": "abc", "data": {"name": "Secret Corp", "industry": "Banking"}}),
        );
        let line = entry(&update, &Outcome::Done(json!({"id": "abc"})), Some(200));
        assert_eq!(line.entity_type.as_deref(), Some("Account"));
        assert_eq!(line.id.as_deref(), Some("abc"));
        assert_eq!(line.fields, ["name", "industry"]);
        assert_eq!(line.outcome, "OK");
        let text = serde_json::to_string(&line).expect("encodes");
        assert!(
            !text.contains("Secret Corp") && !text.contains("Banking"),
            "{text}"
        );
    }

    #[test]
    fn should_take_new_ids_from_the_result_and_codes_from_errors() {
        let create = call(
            "create",
            json!({"entityType": "Lead", "data": {"lastName": "X"}}),
        );
        let line = entry(&create, &Outcome::Done(json!({"id": "new1"})), Some(200));
        assert_eq!(line.id.as_deref(), Some("new1"));
        let line = entry(
            &create,
            &Outcome::Failed("DUPLICATE_DETECTED".into()),
            Some(409),
        );
        assert_eq!(line.id, None);
        assert_eq!(line.outcome, "DUPLICATE_DETECTED");
        assert_eq!(line.upstream_status, Some(409));
    }

    #[test]
    fn should_cut_long_names() {
        let long = "x".repeat(500);
        let update = call("update", json!({"entityType": long, "id": "a", "data": {}}));
        let line = entry(
            &update,
            &Outcome::Failed("INVALID_ENTITY_TYPE".into()),
            None,
        );
        assert_eq!(line.entity_type.map(|t| t.len()), Some(MAX_NAME));
    }
}
