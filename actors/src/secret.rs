//! The EspoCRM API key, in a type that never shows it.
//!
//! `Debug` prints a placeholder and there is no `Display`, so the key cannot reach a log line,
//! an error message or a tool result by accident. Only the gateway reads it, once, to build the
//! `X-Api-Key` header, which it marks sensitive.

/// The API key of an EspoCRM user of type `api` (sent as `X-Api-Key`).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_never_show_the_key_in_debug() {
        let key = ApiKey::new("s3cret-key-value");
        assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");
        assert!(!format!("{:?}", Some(&key)).contains("s3cret"));
    }
}
