//! EspoCRM's answers read by their shape: a record, a page of records, an object.
//!
//! A tool that reads an answer of the wrong shape as "nothing" tells the agent something false:
//! `search` answered with `{"list": "x"}` would say "no matches", and an agent that believes
//! it creates a duplicate. So every tool reads EspoCRM's answers through these accessors, and
//! an answer of another shape (`null`, an array, a string, an object without `id` where a record
//! is due, a page without `list` or `total`) is `UPSTREAM_ERROR` naming the request and what
//! came instead, never an empty success. The answer's content is not quoted: it may be large,
//! and it is personal data.

use serde_json::{Map, Value};

use crate::error::ToolError;

/// One page of a list answer, `{"total": n, "list": [record, ...]}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage {
    /// The number of matching records, or EspoCRM's -1 (more after this page) and -2 (this is
    /// the last page) when it did not count them (`X-No-Total`, `GlobalSearch`, the stream).
    pub total: i64,
    pub list: Vec<Map<String, Value>>,
}

impl ListPage {
    /// The total, when EspoCRM counted it.
    pub fn counted_total(&self) -> Option<u64> {
        u64::try_from(self.total).ok()
    }
}

/// A record: an object with a non-empty string `id`.
pub fn record(body: Value, request: &str) -> Result<Map<String, Value>, ToolError> {
    match body {
        Value::Object(record)
            if record
                .get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| !id.is_empty()) =>
        {
            Ok(record)
        }
        Value::Object(_) => Err(wrong_shape(request, "an object without an id", "a record")),
        other => Err(wrong_shape(request, kind(&other), "a record")),
    }
}

/// Any JSON object (an answer that is not a record, e.g. a rendered email template).
pub fn object(body: Value, request: &str) -> Result<Map<String, Value>, ToolError> {
    match body {
        Value::Object(object) => Ok(object),
        other => Err(wrong_shape(request, kind(&other), "an object")),
    }
}

/// A page of records: an object whose `list` is an array of objects and whose `total` is an
/// integer. The records are moved out of the answer, not copied.
pub fn list_page(body: Value, request: &str) -> Result<ListPage, ToolError> {
    const PAGE: &str = "a list of records";
    let mut page = match body {
        Value::Object(page) => page,
        other => return Err(wrong_shape(request, kind(&other), PAGE)),
    };
    let total = match page.get("total") {
        Some(Value::Number(total)) => total.as_i64(),
        _ => None,
    }
    .ok_or_else(|| wrong_shape(request, "an object without a whole-number `total`", PAGE))?;
    let items = match page.remove("list") {
        Some(Value::Array(items)) => items,
        Some(other) => {
            let what = format!("an object whose `list` is {}", kind(&other));
            return Err(wrong_shape(request, &what, PAGE));
        }
        None => return Err(wrong_shape(request, "an object without `list`", PAGE)),
    };
    let mut list = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::Object(record) => list.push(record),
            other => {
                let what = format!("a `list` holding {}", kind(&other));
                return Err(wrong_shape(request, &what, PAGE));
            }
        }
    }
    Ok(ListPage { total, list })
}

/// What a value is, for the error: never its content.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing (null, or an empty body)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong_shape(request: &str, got: &str, expected: &str) -> ToolError {
    ToolError::upstream_error(
        format!("EspoCRM answered {request} with {got}, which is not {expected}"),
        false,
    )
    .with_suggestion(
        "Do not read this as \"nothing found\". Check that ESPOCRM_URL points at EspoCRM itself \
         (not a proxy or another service) and that EspoCRM works, then try again",
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn should_read_a_record_and_refuse_every_other_shape() {
        let record = record(json!({"id": "a1", "name": "Acme"}), "GET Account/a1");
        assert_eq!(record.map(|r| r["name"].clone()), Ok(json!("Acme")));
        for (body, what) in [
            (Value::Null, "nothing"),
            (json!([1, 2]), "an array"),
            (json!("x"), "a string"),
            (json!(7), "a number"),
            (json!({}), "without an id"),
            (json!({"id": ""}), "without an id"),
            (json!({"id": 5}), "without an id"),
        ] {
            let error = super::record(body.clone(), "GET Account/a1").expect_err("refused");
            assert_eq!(error.code, ErrorCode::UpstreamError, "{body}");
            assert!(!error.retryable, "{body}");
            assert!(
                error.message.contains("GET Account/a1") && error.message.contains(what),
                "{body}: {}",
                error.message
            );
        }
    }

    #[test]
    fn should_read_a_page_and_refuse_every_other_shape() {
        let page = list_page(
            json!({"total": -2, "list": [{"id": "a"}, {"id": "b"}]}),
            "GET Account",
        )
        .expect("a page");
        assert_eq!((page.total, page.list.len()), (-2, 2));
        assert_eq!(page.counted_total(), None);
        for (body, what) in [
            (json!({"list": "x", "total": 1}), "`list` is a string"),
            (json!({"foo": 1}), "`total`"),
            (json!({"total": 1}), "without `list`"),
            (json!({"list": []}), "`total`"),
            (json!({"total": "3", "list": []}), "`total`"),
            (json!({"total": 1, "list": [1]}), "holding a number"),
            (Value::Null, "nothing"),
            (json!([]), "an array"),
        ] {
            let error = list_page(body.clone(), "GET Account").expect_err("refused");
            assert_eq!(error.code, ErrorCode::UpstreamError, "{body}");
            assert!(error.message.contains(what), "{body}: {}", error.message);
        }
    }
}
