//! Where espomcp's logs go.
//!
//! Logs are written to stderr, always: over stdio, stdout carries the MCP protocol and a single
//! stray line there breaks the client. With `LOGGING_FILE` they are also appended to that file
//! through tracing-appender's non-blocking writer, so a slow disk never holds up a request; the
//! [`TelemetryGuard`] flushes what is still buffered when it is dropped, so `main` keeps it
//! alive until the end. `LOGGING_LEVEL` applies to espomcp's own crates; its dependencies
//! (HTTP, TLS, the actor runtime) are held at `warn` unless the level is stricter still, because
//! their `trace` output drowns ours and says nothing about EspoCRM.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use tracing::Subscriber;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogLevel, LoggingConfig};

/// The crates whose logs follow `LOGGING_LEVEL`; the others are held at `warn`.
const OWN_CRATES: [&str; 3] = ["espomcp", "espomcp_actors", "espocrm_sandbox"];

/// Keeps the log file's writer running; dropping it flushes the file.
#[must_use = "dropping the guard stops writing to the log file"]
pub struct TelemetryGuard {
    _file_writer: Option<WorkerGuard>,
}

impl fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryGuard")
            .field("writes_file", &self._file_writer.is_some())
            .finish()
    }
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    #[error(
        "LOGGING_FILE {}: cannot open it for appending ({message}): check that its directory \
         exists and is writable",
        .path.display()
    )]
    OpenFile { path: PathBuf, message: String },

    #[error("logging was already set up in this process")]
    AlreadySet,
}

/// Installs the process's logger. Call once, early in `main`, and keep the guard.
pub fn init(config: &LoggingConfig) -> Result<TelemetryGuard, TelemetryError> {
    let (file_writer, guard) = match &config.file {
        Some(path) => {
            let (writer, guard) = tracing_appender::non_blocking(open_log_file(path)?);
            (Some(writer), Some(guard))
        }
        None => (None, None),
    };
    let ansi = std::io::stderr().is_terminal();
    subscriber(config, std::io::stderr, ansi, file_writer)
        .try_init()
        .map_err(|_| TelemetryError::AlreadySet)?;
    Ok(TelemetryGuard {
        _file_writer: guard,
    })
}

/// Appends, creating the file readable by its owner only: it may hold (redacted) bodies.
fn open_log_file(path: &Path) -> Result<File, TelemetryError> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .map_err(|error| TelemetryError::OpenFile {
            path: path.to_owned(),
            message: error.to_string(),
        })
}

/// The whole logger, with its writers passed in so tests can capture what it writes.
fn subscriber<E, F>(
    config: &LoggingConfig,
    stderr: E,
    ansi: bool,
    file: Option<F>,
) -> impl Subscriber + Send + Sync + 'static
where
    E: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
    F: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    tracing_subscriber::registry()
        .with(filter(config.level))
        .with(tracing_subscriber::filter::filter_fn(|metadata| {
            !is_rmcp_response_error(metadata)
        }))
        .with(output(config.json, stderr, ansi))
        .with(file.map(|writer| output(config.json, writer, false)))
}

/// rmcp's "response error" event, which logs every JSON-RPC error answer at `warn` in its
/// `Debug` form (`ErrorData { code: ErrorCode(-32602), … }`): `server.rs` logs the same answers
/// in one readable line instead. Told by its target and fields (`id` and `error`), which no
/// other rmcp event has together.
fn is_rmcp_response_error(metadata: &tracing::Metadata<'_>) -> bool {
    metadata.is_event()
        && metadata.target().starts_with("rmcp::service")
        && metadata.fields().field("error").is_some()
        && metadata.fields().field("id").is_some()
}

/// `LOGGING_LEVEL` for our crates, and at most `warn` for everything else.
fn filter(level: LogLevel) -> EnvFilter {
    let others = level.max(LogLevel::Warn);
    let mut directives = vec![others.as_str().to_owned()];
    directives.extend(OWN_CRATES.iter().map(|name| format!("{name}={level}")));
    EnvFilter::new(directives.join(","))
}

fn output<S, W>(json: bool, writer: W, ansi: bool) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let layer = tracing_subscriber::fmt::layer().with_writer(writer);
    if json {
        layer.json().boxed()
    } else {
        layer.with_ansi(ansi).boxed()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use espomcp_actors::ApiKey;
    use serde_json::{Value, json};

    use super::*;
    use crate::config::{Config, Environment, LoadOptions};
    use crate::telemetry::Redacted;

    const KEY: &str = "7f3c9a1e5b2d4f60a8c1e3b5d7f9a2c4";

    /// Collects everything written, for assertions.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Buffer {
        fn text(&self) -> String {
            let bytes = self.0.lock().expect("not poisoned").clone();
            String::from_utf8(bytes).expect("utf-8")
        }
    }

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .expect("not poisoned")
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;

        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    fn logging(level: LogLevel, json: bool) -> LoggingConfig {
        LoggingConfig {
            level,
            json,
            file: None,
        }
    }

    /// Runs `log` with the logger writing into a buffer, and returns what it wrote.
    fn captured(config: &LoggingConfig, log: impl FnOnce()) -> String {
        let buffer = Buffer::default();
        let subscriber = subscriber(config, buffer.clone(), false, None::<Buffer>);
        tracing::subscriber::with_default(subscriber, log);
        buffer.text()
    }

    /// Everything espomcp might log about its configuration, at the most verbose level, in
    /// both formats: the key must not appear anywhere in the output.
    #[test]
    fn should_never_write_the_api_key_to_the_log() {
        let env: Environment = [
            ("ESPOCRM_URL", "https://crm.example.com"),
            ("ESPOCRM_API_KEY", KEY),
        ]
        .into_iter()
        .collect();
        let options = LoadOptions {
            config_path: None,
            demo: false,
            env,
            flags: Vec::new(),
        };
        let loaded = Config::load(options.clone()).expect("valid");
        let config = loaded.config;
        let gateway = config.gateway_config().expect("URL and key are set");
        let key = ApiKey::new(KEY);
        let body = json!({"apiKey": KEY, "headers": {"X-Api-Key": KEY}});

        for json in [false, true] {
            let output = captured(&logging(LogLevel::Trace, json), || {
                tracing::trace!(?config, "loaded");
                tracing::trace!(%config, "loaded");
                tracing::trace!("config {config:?} / {config}");
                tracing::debug!(?key, ?options, ?gateway, "starting");
                tracing::info!(api_key = ?key, "key");
                tracing::trace!(body = %Redacted(&body), "EspoCRM answered");
                tracing::warn!(config = ?config.espocrm, "espocrm");
                let span = tracing::trace_span!("request", ?key);
                let _entered = span.enter();
                tracing::trace!("inside the span");
            });
            assert!(output.contains("EspoCRM answered"), "{output}");
            assert!(output.contains("ApiKey(<redacted>)"), "{output}");
            assert!(!output.contains(KEY), "the key was logged:\n{output}");
        }
    }

    #[test]
    fn should_hold_dependencies_at_warn_and_our_crates_at_the_level() {
        let output = captured(&logging(LogLevel::Trace, false), || {
            tracing::trace!(target: "espomcp::server", "ours at trace");
            tracing::trace!(target: "espomcp_actors::gateway", "actors at trace");
            tracing::debug!(target: "hyper_util::client", "theirs at debug");
            tracing::warn!(target: "hyper_util::client", "theirs at warn");
        });
        assert!(output.contains("ours at trace"), "{output}");
        assert!(output.contains("actors at trace"), "{output}");
        assert!(!output.contains("theirs at debug"), "{output}");
        assert!(output.contains("theirs at warn"), "{output}");

        let quiet = captured(&logging(LogLevel::Error, false), || {
            tracing::warn!(target: "espomcp::server", "ours at warn");
            tracing::warn!(target: "hyper_util::client", "theirs at warn");
            tracing::error!(target: "espomcp::server", "ours at error");
        });
        assert_eq!(quiet.lines().count(), 1, "{quiet}");
        assert!(quiet.contains("ours at error"), "{quiet}");
    }

    #[test]
    fn should_write_one_json_object_per_line_when_asked() {
        let output = captured(&logging(LogLevel::Info, true), || {
            tracing::info!(target: "espomcp::server", entity = "Account", "listed");
        });
        let line: Value = serde_json::from_str(output.trim()).expect("one JSON line");
        assert_eq!(line["fields"]["message"], "listed");
        assert_eq!(line["fields"]["entity"], "Account");
        assert_eq!(line["level"], "INFO");
    }

    #[test]
    fn should_write_to_the_log_file_too_and_flush_it_when_the_guard_drops() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("espomcp.log");
        let stderr = Buffer::default();
        let (writer, guard) = tracing_appender::non_blocking(open_log_file(&path).expect("opened"));
        let subscriber = subscriber(
            &logging(LogLevel::Info, false),
            stderr.clone(),
            false,
            Some(writer),
        );
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "espomcp::server", "to both");
        });
        drop(guard);
        let file = std::fs::read_to_string(&path).expect("read back");
        assert!(file.contains("to both"), "{file:?}");
        assert!(stderr.text().contains("to both"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .expect("exists")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "others must not read the log");
        }
    }

    #[test]
    fn should_say_which_log_file_cannot_be_opened() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("missing-dir").join("espomcp.log");
        let error = open_log_file(&path).expect_err("no such directory");
        let message = error.to_string();
        assert!(message.starts_with("LOGGING_FILE "), "{message}");
        assert!(message.contains("missing-dir"), "{message}");
    }

    #[test]
    fn should_install_once_per_process() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let config = LoggingConfig {
            level: LogLevel::Warn,
            json: false,
            file: Some(dir.path().join("espomcp.log")),
        };
        let guard = init(&config).expect("the first install works");
        tracing::warn!(target: "espomcp::telemetry", "installed");
        assert!(matches!(init(&config), Err(TelemetryError::AlreadySet)));
        // The worker thread writes in the background; dropping the guard waits for it.
        drop(guard);
        let file = std::fs::read_to_string(dir.path().join("espomcp.log")).expect("read back");
        assert!(file.contains("installed"), "{file:?}");
    }
}
