//! The sandbox's error answers, shaped as EspoCRM shapes them: a status code, the
//! `X-Status-Reason` header (present but empty when EspoCRM's exception had no message), and a
//! body that is usually empty, JSON for validation, relation and duplicate failures.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// How the error body is typed: generic record routes answer `application/json`, EspoCRM's
/// single-action routes (Kanban, EmailTemplate prepare, Activities) and 401s `text/html`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorFlavour {
    Json,
    Html,
}

/// One failed request.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    /// `None`: no X-Status-Reason header at all; `Some("")`: the header, empty.
    pub reason: Option<String>,
    pub body: Option<Value>,
    pub flavour: ErrorFlavour,
}

impl ApiError {
    pub fn new(status: StatusCode, reason: impl Into<String>) -> ApiError {
        ApiError {
            status,
            reason: Some(reason.into()),
            body: None,
            flavour: ErrorFlavour::Json,
        }
    }

    /// An unhandled server error: 500, no reason, empty body.
    pub fn internal() -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            reason: None,
            body: None,
            flavour: ErrorFlavour::Json,
        }
    }

    pub fn bad_request(reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, reason)
    }

    pub fn forbidden(reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, reason)
    }

    pub fn not_found(reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, reason)
    }

    pub fn unknown_controller(name: &str) -> ApiError {
        ApiError::not_found(format!("Controller '{name}' does not exist."))
    }

    pub fn validation(entity: &str, field: &str, check: &str) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            reason: Some(format!(
                "Field validation failure; entityType: {entity}, field: {field}, type: {check}."
            )),
            body: Some(
                json!({"messageTranslation": {"label": "validationFailure", "scope": null, "data": {"field": field, "type": check}}}),
            ),
            flavour: ErrorFlavour::Json,
        }
    }

    pub fn cannot_relate(entity: &str, link: &str, foreign: &str) -> ApiError {
        ApiError {
            status: StatusCode::FORBIDDEN,
            reason: Some(format!(
                "Can't relate with non-existing record. entity type: {entity}, link: {link}."
            )),
            body: Some(
                json!({"messageTranslation": {"label": "cannotRelateNonExisting", "scope": null, "data": {"foreignEntityType": foreign}}}),
            ),
            flavour: ErrorFlavour::Json,
        }
    }

    pub fn with_body(mut self, body: Value) -> ApiError {
        self.body = Some(body);
        self
    }

    pub fn html(mut self) -> ApiError {
        self.flavour = ErrorFlavour::Html;
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = match &self.body {
            Some(body) => (self.status, body.to_string()).into_response(),
            None => (self.status, String::new()).into_response(),
        };
        let content_type = match self.flavour {
            ErrorFlavour::Json => "application/json",
            ErrorFlavour::Html => "text/html; charset=UTF-8",
        };
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Some(reason) = self.reason {
            // Header values must be visible ASCII; EspoCRM's reasons are, but stay safe.
            let clean: String = reason
                .chars()
                .map(|c| {
                    if c.is_ascii() && !c.is_ascii_control() {
                        c
                    } else {
                        '?'
                    }
                })
                .collect();
            if let Ok(v) = HeaderValue::from_str(&clean) {
                response.headers_mut().insert("X-Status-Reason", v);
            }
        }
        response
    }
}
