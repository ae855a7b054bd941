//! What espomcp accepts as a JSON-RPC message, and the answer to everything else. rmcp's own
//! stdio transport drops a line that is not JSON without a word (the client then waits
//! forever), answers JSON that is not a message without an `id`, and routes a known method
//! whose params do not fit to "method not found"; its HTTP service answers `415` with plain
//! text. espomcp decides here instead, once for both transports ([`crate::stdio`] and
//! [`check_http_body`]):
//!
//! - not JSON (a syntax error, invalid UTF-8, `NaN`/`Infinity`, a number out of range such as
//!   `1e400`, nesting deeper than serde_json's limit of 128): `-32700` parse error;
//! - JSON that is not a JSON-RPC message (no `"jsonrpc": "2.0"`, a non-string `method`, an
//!   array, …) or a line longer than [`MAX_LINE_BYTES`]: `-32600` invalid request;
//! - a method espomcp serves, with params that do not fit it: `-32602` invalid params, naming
//!   the parameter (`arguments`, `name`, `uri`, `argument`) in the message and in
//!   `data.parameter`;
//!
//! each with the request's `id` whenever it can be read (from the start of the text up to the
//! id, so a broken value after the id still gets its request answered), `"id": null`
//! otherwise. A well-formed notification is never answered (JSON-RPC forbids it; over HTTP it
//! gets `202 Accepted`), and blank lines are skipped (an empty HTTP body is a parse error).
//!
//! A valid message is parsed once, straight into rmcp's message type, as rmcp's transport
//! would; the diagnosis (a `Value` parse, the id scan, the params check) runs only for what
//! failed. The one check on the way of every valid message is a `match` for rmcp's
//! catch-all variant.

use std::borrow::Cow;

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::model::{
    CallToolRequestMethod, CallToolRequestParams, ClientJsonRpcMessage, ClientRequest,
    CompleteRequestMethod, CompleteRequestParams, ConstString, DiscoverRequestMethod,
    DiscoverRequestParams, ErrorCode, ErrorData, GetPromptRequestMethod, GetPromptRequestParams,
    InitializeRequestParams, InitializeResultMethod, JsonRpcMessage, ListPromptsRequestMethod,
    ListResourceTemplatesRequestMethod, ListResourcesRequestMethod, ListToolsRequestMethod,
    PaginatedRequestParams, ReadResourceRequestMethod, ReadResourceRequestParams, RequestId,
};
use serde::Serialize;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde_json::{Value, json};

use crate::validate::deserialize;

/// The longest line read from stdin (16 MiB, rmcp's own default): longer ones are refused
/// with `-32600` and skipped to their end without being buffered.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// A UTF-8 byte order mark, which RFC 8259 lets a parser ignore (rmcp's transport does).
const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// Why a message was refused; decides the JSON-RPC code and, over HTTP, the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// Not JSON: `-32700`, HTTP 400.
    Parse,
    /// JSON, but not a JSON-RPC message: `-32600`, HTTP 400.
    InvalidRequest,
    /// Longer than the transport takes: `-32600`, HTTP 413.
    TooLarge,
    /// A served method with params that do not fit it: `-32602`, answered in-band (HTTP 200)
    /// like any other error of a request.
    InvalidParams,
}

/// A refused message and the JSON-RPC error espomcp answers it with.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub kind: RefusalKind,
    /// The request's id, when it could be read; answered as `"id": null` otherwise.
    pub id: Option<RequestId>,
    pub error: ErrorData,
}

/// The answer on the wire: JSON-RPC's error response, whose `id` is `null` (not left out)
/// when the request's id could not be read.
#[derive(Serialize)]
struct ErrorResponse<'a> {
    jsonrpc: &'static str,
    id: Option<&'a RequestId>,
    error: &'a ErrorData,
}

impl Refusal {
    fn new(
        kind: RefusalKind,
        id: Option<RequestId>,
        message: String,
        data: Option<Value>,
    ) -> Refusal {
        let code = match kind {
            RefusalKind::Parse => ErrorCode::PARSE_ERROR,
            RefusalKind::InvalidRequest | RefusalKind::TooLarge => ErrorCode::INVALID_REQUEST,
            RefusalKind::InvalidParams => ErrorCode::INVALID_PARAMS,
        };
        Refusal {
            kind,
            id,
            error: ErrorData::new(code, message, data),
        }
    }

    /// The error response as one line of JSON, newline included.
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = self.to_json();
        line.push(b'\n');
        line
    }

    /// The error response as JSON.
    pub fn to_json(&self) -> Vec<u8> {
        let response = ErrorResponse {
            jsonrpc: "2.0",
            id: self.id.as_ref(),
            error: &self.error,
        };
        // An id, a message and a `Value` always serialise.
        serde_json::to_vec(&response).unwrap_or_else(|_| {
            br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"Internal error"}}"#
                .to_vec()
        })
    }

    /// The status of the HTTP answer.
    pub fn http_status(&self) -> StatusCode {
        match self.kind {
            RefusalKind::Parse | RefusalKind::InvalidRequest => StatusCode::BAD_REQUEST,
            RefusalKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            RefusalKind::InvalidParams => StatusCode::OK,
        }
    }
}

/// One line (or HTTP body) read: a message for rmcp, nothing to do, or a refusal to answer.
#[derive(Debug)]
pub enum Decoded {
    Message(Box<ClientJsonRpcMessage>),
    /// Only whitespace: skipped on stdio, a parse error as an HTTP body.
    Blank,
    /// A notification whose params do not fit: never answered (`202 Accepted` over HTTP).
    Ignored,
    Refused(Box<Refusal>),
}

/// Decides what `text` (one line without its newline, or a request body) is.
pub fn decode(text: &[u8]) -> Decoded {
    let text = text.strip_prefix(BYTE_ORDER_MARK).unwrap_or(text);
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    if text.iter().all(u8::is_ascii_whitespace) {
        return Decoded::Blank;
    }
    match serde_json::from_slice::<ClientJsonRpcMessage>(text) {
        Ok(message) => match misfit_params(&message) {
            Some(refusal) => Decoded::Refused(Box::new(refusal)),
            None => Decoded::Message(Box::new(message)),
        },
        Err(error) => diagnose(text, &error),
    }
}

/// The refusal of a line longer than `limit`, of which `start` was read: the id is looked for
/// in that start.
pub fn too_long(start: &[u8], limit: usize) -> Refusal {
    Refusal::new(
        RefusalKind::TooLarge,
        request_id(start),
        format!("Invalid Request: the message is longer than {limit} bytes"),
        Some(json!({ "limit": limit })),
    )
}

/// Why rmcp could not read `text` as a message.
fn diagnose(text: &[u8], error: &serde_json::Error) -> Decoded {
    use serde_json::error::Category;
    if matches!(error.classify(), Category::Syntax | Category::Eof) {
        let message = match std::str::from_utf8(text) {
            Err(e) => format!(
                "Parse error: the message is not valid UTF-8 (at byte {})",
                e.valid_up_to()
            ),
            Ok(_) if error.to_string().starts_with("recursion limit exceeded") => {
                format!("Parse error: nested deeper than 128 arrays and objects ({error})")
            }
            Ok(_) => format!("Parse error: {error}"),
        };
        return refused(RefusalKind::Parse, request_id(text), message);
    }
    // Valid JSON (the syntax was fine): say which part of a JSON-RPC message is wrong.
    let value: Value = match serde_json::from_slice(text) {
        Ok(value) => value,
        Err(e) => {
            return refused(
                RefusalKind::Parse,
                request_id(text),
                format!("Parse error: {e}"),
            );
        }
    };
    let invalid = |id: Option<RequestId>, why: &str| {
        refused(
            RefusalKind::InvalidRequest,
            id,
            format!("Invalid Request: {why}"),
        )
    };
    let object = match value {
        Value::Object(object) => object,
        Value::Array(_) => {
            return invalid(
                None,
                "batches (JSON arrays) are not supported: send one message per line",
            );
        }
        _ => return invalid(None, "a message is a JSON object"),
    };
    let id = object.get("id").cloned();
    let readable_id = id
        .clone()
        .and_then(|id| serde_json::from_value::<RequestId>(id).ok());
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return invalid(readable_id, "\"jsonrpc\" must be \"2.0\"");
    }
    if id.is_some() && readable_id.is_none() {
        return invalid(None, "\"id\" must be a string or an integer");
    }
    match (object.get("method"), readable_id) {
        (Some(Value::String(method)), None) => {
            // A notification: JSON-RPC forbids answering one, even a broken one.
            tracing::debug!(method, "dropped a notification that does not fit: {error}");
            Decoded::Ignored
        }
        (Some(Value::String(method)), Some(id)) => {
            if let Some(refusal) = params_refusal(method, object.get("params"), &id) {
                return Decoded::Refused(Box::new(refusal));
            }
            match object.get("params") {
                Some(Value::Object(_) | Value::Array(_)) | None => {
                    invalid(Some(id), &error.to_string())
                }
                Some(_) => invalid(Some(id), "\"params\" must be an object"),
            }
        }
        (Some(_), readable_id) => invalid(readable_id, "\"method\" must be a string"),
        (None, _) if object.contains_key("result") || object.contains_key("error") => invalid(
            None,
            &format!("a response that is not one espomcp understands: {error}"),
        ),
        (None, readable_id) => invalid(
            readable_id,
            "a message has a \"method\" (a request or a notification) or a \"result\" or \
             \"error\" (a response)",
        ),
    }
}

fn refused(kind: RefusalKind, id: Option<RequestId>, message: String) -> Decoded {
    Decoded::Refused(Box::new(Refusal::new(kind, id, message, None)))
}

/// The `id` of a JSON-RPC object, read from the start of `text` up to the id's own value:
/// whatever is broken after it (or after the cut of a line too long) does not hide it.
/// Other members are skipped without being built (serde_json's `IgnoredAny`, which neither
/// recurses nor reads numbers into floats).
fn request_id(text: &[u8]) -> Option<RequestId> {
    struct FindId<'a>(&'a mut Option<RequestId>);

    impl<'de> Visitor<'de> for FindId<'_> {
        type Value = ();

        fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
            formatter.write_str("a JSON-RPC message")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                if key == "id" {
                    let id: Value = map.next_value()?;
                    *self.0 = serde_json::from_value(id).ok();
                    return Ok(());
                }
                map.next_value::<IgnoredAny>()?;
            }
            Ok(())
        }
    }

    let mut id = None;
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    // The text is broken somewhere: the error is expected, the id is what was found first.
    let _ = serde::Deserializer::deserialize_map(&mut deserializer, FindId(&mut id));
    id
}

/// The methods espomcp serves, each with a check of its params. rmcp reads a request whose
/// params do not fit its method as a custom request, which would be answered "method not
/// found"; these are answered `-32602` instead.
const SERVED_METHODS: &[(&str, ParamsCheck)] = &[
    (
        InitializeResultMethod::VALUE,
        required::<InitializeRequestParams>,
    ),
    (
        DiscoverRequestMethod::VALUE,
        optional::<DiscoverRequestParams>,
    ),
    (
        CallToolRequestMethod::VALUE,
        required::<CallToolRequestParams>,
    ),
    (
        ListToolsRequestMethod::VALUE,
        optional::<PaginatedRequestParams>,
    ),
    (
        GetPromptRequestMethod::VALUE,
        required::<GetPromptRequestParams>,
    ),
    (
        ListPromptsRequestMethod::VALUE,
        optional::<PaginatedRequestParams>,
    ),
    (
        ReadResourceRequestMethod::VALUE,
        required::<ReadResourceRequestParams>,
    ),
    (
        ListResourcesRequestMethod::VALUE,
        optional::<PaginatedRequestParams>,
    ),
    (
        ListResourceTemplatesRequestMethod::VALUE,
        optional::<PaginatedRequestParams>,
    ),
    (
        CompleteRequestMethod::VALUE,
        required::<CompleteRequestParams>,
    ),
];

/// The parameter at fault and what is wrong with it, or `None` if the params fit.
type ParamsCheck = fn(Option<&Value>) -> Option<(String, String)>;

fn required<P: serde::de::DeserializeOwned>(params: Option<&Value>) -> Option<(String, String)> {
    match params {
        None | Some(Value::Null) => Some(("params".to_owned(), "is missing".to_owned())),
        Some(params) => fits::<P>(params),
    }
}

fn optional<P: serde::de::DeserializeOwned>(params: Option<&Value>) -> Option<(String, String)> {
    match params {
        None | Some(Value::Null) => None,
        Some(params) => fits::<P>(params),
    }
}

/// Reads the params as rmcp does: `_meta` apart (it must be an object), the rest into `P`.
fn fits<P: serde::de::DeserializeOwned>(params: &Value) -> Option<(String, String)> {
    let Value::Object(object) = params else {
        return Some(("params".to_owned(), "must be an object".to_owned()));
    };
    if object.get("_meta").is_some_and(|meta| !meta.is_object()) {
        return Some(("_meta".to_owned(), "must be an object".to_owned()));
    }
    let mut rest = object.clone();
    rest.remove("_meta");
    let misfit = deserialize::from_value::<P>(Value::Object(rest)).err()?;
    Some((
        misfit.argument.unwrap_or_else(|| "params".to_owned()),
        misfit.problem,
    ))
}

/// The `-32602` refusal of a served method whose params rmcp could not read (it reads them
/// as a custom request).
fn misfit_params(message: &ClientJsonRpcMessage) -> Option<Refusal> {
    let JsonRpcMessage::Request(request) = message else {
        return None;
    };
    let ClientRequest::CustomRequest(custom) = &request.request else {
        return None;
    };
    params_refusal(&custom.method, custom.params.as_ref(), &request.id)
}

/// `-32602` naming the parameter, if `method` is served and `params` do not fit it.
fn params_refusal(method: &str, params: Option<&Value>, id: &RequestId) -> Option<Refusal> {
    let (method, check) = SERVED_METHODS
        .iter()
        .find(|(served, _)| *served == method)?;
    let (parameter, problem) =
        check(params).unwrap_or_else(|| ("params".to_owned(), "do not fit the method".to_owned()));
    Some(Refusal::new(
        RefusalKind::InvalidParams,
        Some(id.clone()),
        format!("Invalid params of {method}: {parameter:?} {problem}"),
        Some(json!({ "method": method, "parameter": parameter })),
    ))
}

// ---------------------------------------------------------------------------------------------
// Over HTTP
// ---------------------------------------------------------------------------------------------

/// The axum middleware in front of rmcp's `StreamableHttpService`: a JSON POST body is read
/// (up to `limit` bytes) and decided on here. A valid body goes on to rmcp as it came (rmcp
/// parses it again: the one extra parse per HTTP request, small beside the HTTP work around
/// it). A refused body goes on to rmcp *without* the body, so rmcp's own checks of the
/// request's headers (Host and Origin against DNS rebinding, Accept, Content-Type) run first
/// and keep their answers; rmcp's `415` for the missing body says they passed, and the
/// refusal is answered instead: `400` (or `413`) with the JSON-RPC error, or `200` with the
/// `-32602` error of a request whose params do not fit.
pub async fn check_http_body(limit: usize, request: Request, next: Next) -> Response {
    if request.method() != Method::POST || !is_json(request.headers()) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    // `None`: a notification to acknowledge without an answer.
    let refusal = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => match decode(&bytes) {
            Decoded::Message(_) => {
                return next
                    .run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                    .await;
            }
            Decoded::Refused(refusal) => Some(refusal),
            Decoded::Blank => Some(Box::new(Refusal::new(
                RefusalKind::Parse,
                None,
                "Parse error: the request body is empty".to_owned(),
                None,
            ))),
            Decoded::Ignored => None,
        },
        Err(e) => {
            let too_large = e
                .into_inner()
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            if !too_large {
                return (
                    StatusCode::BAD_REQUEST,
                    "the request body could not be read\n",
                )
                    .into_response();
            }
            Some(Box::new(too_long(&[], limit)))
        }
    };
    if let Some(refusal) = &refusal {
        tracing::info!(
            code = refusal.error.code.0,
            "refused an HTTP request: {}",
            refusal.error.message
        );
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    let checked = next
        .run(Request::from_parts(parts, axum::body::Body::empty()))
        .await;
    if checked.status() != StatusCode::UNSUPPORTED_MEDIA_TYPE {
        return checked;
    }
    match refusal {
        Some(refusal) => (
            refusal.http_status(),
            [(header::CONTENT_TYPE, "application/json")],
            refusal.to_json(),
        )
            .into_response(),
        None => StatusCode::ACCEPTED.into_response(),
    }
}

/// `Content-Type: application/json` (parameters allowed), as rmcp checks it.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            let essence = value.split_once(';').map_or(value, |(essence, _)| essence);
            essence.trim().eq_ignore_ascii_case("application/json")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(text: &[u8]) -> Refusal {
        match decode(text) {
            Decoded::Refused(refusal) => *refusal,
            other => panic!(
                "{} was not refused: {other:?}",
                String::from_utf8_lossy(text)
            ),
        }
    }

    fn answer(text: &[u8]) -> Value {
        serde_json::from_slice(&refusal(text).to_line()).expect("the answer is JSON")
    }

    #[test]
    fn should_pass_a_valid_message_on() {
        let line = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","arguments":{"entityType":"Account"}}}"#;
        assert!(matches!(decode(line), Decoded::Message(_)));
        assert!(matches!(decode(b"  \r"), Decoded::Blank));
        let with_mark = [
            BYTE_ORDER_MARK,
            &br#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#[..],
        ]
        .concat();
        assert!(matches!(decode(&with_mark), Decoded::Message(_)));
        // A notification rmcp does not know is rmcp's to ignore; a broken one is not answered.
        assert!(matches!(
            decode(br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":5}"#),
            Decoded::Message(_) | Decoded::Ignored
        ));
        assert!(matches!(
            decode(br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":[1]}"#),
            Decoded::Ignored
        ));
    }

    #[test]
    fn should_answer_what_is_not_json_with_a_parse_error() {
        for (text, id) in [
            (&b"{this is not json"[..], Value::Null),
            (
                br#"{"jsonrpc": "2.0", "id": 3, "method": "tools/list""#,
                json!(3),
            ),
            (b"\xff\xfe{}", Value::Null),
            (
                br#"{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"x\xff"}}"#,
                json!("a"),
            ),
            (
                br#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"n":NaN}}"#,
                json!(4),
            ),
            (
                br#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"n":-Infinity}}"#,
                json!(5),
            ),
            (
                br#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"n":1e400}}"#,
                json!(6),
            ),
            // Skipping a value does not read numbers: the id after 1e400 is still found.
            (
                br#"{"jsonrpc":"2.0","method":"tools/call","params":{"n":1e400},"id":7}"#,
                json!(7),
            ),
            (
                br#"{"jsonrpc":"2.0","method":"tools/call","params":{"n":NaN},"id":8}"#,
                Value::Null,
            ),
        ] {
            let answer = answer(text);
            let shown = String::from_utf8_lossy(text);
            assert_eq!(answer["error"]["code"], -32700, "{shown}: {answer}");
            assert_eq!(answer["id"], id, "{shown}: {answer}");
            assert_eq!(answer["jsonrpc"], "2.0");
        }
        let utf8 = answer(b"\xff\xfe{}");
        assert!(
            utf8["error"]["message"].as_str().unwrap().contains("UTF-8"),
            "{utf8}"
        );
    }

    #[test]
    fn should_refuse_nesting_deeper_than_128() {
        let deep = |depth: usize| {
            format!(
                r#"{{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{{"name":"search","arguments":{{"where":{}{}}}}}}}"#,
                "[".repeat(depth),
                "]".repeat(depth)
            )
        };
        let answer = answer(deep(200).as_bytes());
        assert_eq!(answer["error"]["code"], -32700, "{answer}");
        assert_eq!(answer["id"], 9);
        assert!(
            answer["error"]["message"].as_str().unwrap().contains("128"),
            "{answer}"
        );
        assert!(matches!(decode(deep(100).as_bytes()), Decoded::Message(_)));
    }

    #[test]
    fn should_answer_json_that_is_not_a_message_with_invalid_request() {
        for (text, id, says) in [
            (
                &br#"{"jsonrpc": "2.0", "id": 9, "method": 42}"#[..],
                json!(9),
                "method",
            ),
            (b"null", Value::Null, "object"),
            (b"[1, 2]", Value::Null, "batches"),
            (br#"{"id": 3, "method": "tools/list"}"#, json!(3), "jsonrpc"),
            (
                br#"{"jsonrpc": "1.0", "id": 3, "method": "tools/list"}"#,
                json!(3),
                "jsonrpc",
            ),
            (
                br#"{"jsonrpc": "2.0", "id": {}, "method": "tools/list"}"#,
                Value::Null,
                "id",
            ),
            (br#"{"jsonrpc": "2.0", "id": 3}"#, json!(3), "method"),
        ] {
            let answer = answer(text);
            let shown = String::from_utf8_lossy(text);
            assert_eq!(answer["error"]["code"], -32600, "{shown}: {answer}");
            assert_eq!(answer["id"], id, "{shown}: {answer}");
            assert!(
                answer["error"]["message"].as_str().unwrap().contains(says),
                "{shown}: {answer}"
            );
        }
    }

    #[test]
    fn should_name_the_parameter_of_a_served_method_that_does_not_fit() {
        for (method, params, parameter) in [
            (
                "tools/call",
                json!({"name": "search", "arguments": []}),
                "arguments",
            ),
            ("tools/call", json!({"name": 7}), "name"),
            ("tools/call", json!({"arguments": {}}), "name"),
            ("tools/call", json!(5), "params"),
            ("prompts/get", json!({"name": 5}), "name"),
            ("resources/read", json!({"uri": null}), "uri"),
            (
                "completion/complete",
                json!({"ref": {"type": "ref/prompt", "name": "x"}}),
                "argument",
            ),
            ("tools/call", json!({"name": "search", "_meta": 5}), "_meta"),
        ] {
            let line = json!({"jsonrpc": "2.0", "id": 11, "method": method, "params": params});
            let answer = answer(line.to_string().as_bytes());
            assert_eq!(answer["error"]["code"], -32602, "{line}: {answer}");
            assert_eq!(answer["id"], 11);
            assert_eq!(
                answer["error"]["data"]["parameter"], parameter,
                "{line}: {answer}"
            );
            assert_eq!(answer["error"]["data"]["method"], method);
            let message = answer["error"]["message"].as_str().unwrap();
            assert!(message.contains(&format!("{parameter:?}")), "{message}");
        }
        let missing = answer(br#"{"jsonrpc":"2.0","id":"x","method":"tools/call"}"#);
        assert_eq!(missing["error"]["code"], -32602);
        assert_eq!(missing["id"], "x");
        // A method espomcp does not serve stays rmcp's "method not found".
        assert!(matches!(
            decode(br#"{"jsonrpc":"2.0","id":1,"method":"no/such","params":{"a":1}}"#),
            Decoded::Message(_)
        ));
        let positional = answer(br#"{"jsonrpc":"2.0","id":1,"method":"no/such","params":[1]}"#);
        assert_eq!(positional["error"]["code"], -32600, "{positional}");
        assert_eq!(positional["id"], 1);
    }

    #[test]
    fn should_find_the_id_at_the_start_of_a_line_too_long() {
        let start = br#"{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"search","arguments":{"entityType":"AAAA"#;
        let refusal = too_long(start, 100);
        assert_eq!(refusal.id, Some(RequestId::Number(42)));
        assert_eq!(refusal.error.code, ErrorCode::INVALID_REQUEST);
        assert_eq!(refusal.http_status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(too_long(b"", 100).id, None);
    }
}
