//! Secrets: the EspoCRM API key in a type that never shows it, and the [`Scrubber`] that takes
//! every configured secret out of what EspoCRM (or a proxy in front of it) sends back.
//!
//! `Debug` of [`ApiKey`] and [`Secret`] prints a placeholder and there is no `Display`, so a key
//! cannot reach a log line, an error message or a tool result by accident. Only the gateway reads
//! the API key, once, to build the `X-Api-Key` header, which it marks sensitive.
//!
//! Keeping our own copies quiet is not enough: an upstream that echoes the key (a proxy's error
//! page, a debugging `X-Status-Reason`, a record whose text holds it) would have it copied into
//! results. So the gateway puts every string of every answer — body, reason, headers it quotes —
//! through one [`Scrubber`] before anyone sees it. The scrubber finds each secret as written, and
//! also percent-encoded (as a URL or a form would carry it) and base64-encoded at any alignment
//! (as inside `Authorization: Basic base64(user:password)`), and the plain forms also all in
//! lower or all in upper case, and replaces it with [`MASK`]. The search is one Aho-Corasick
//! automaton whose SIMD prefilter (Teddy) needs case-sensitive patterns, so the case variants
//! are patterns of their own rather than a case-insensitive search: an answer without a secret
//! costs a fast scan of its bytes.

use std::borrow::Cow;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value};

/// What a secret found in an answer is replaced with (the same mask as the logs' redaction).
pub const MASK: &str = "[redacted]";

/// Secrets shorter than this are not searched for: they would match ordinary words and mangle
/// answers, and a key that short is guessable anyway. EspoCRM's API keys have 32 characters.
pub const MIN_SCRUBBED_LEN: usize = 8;

/// The shortest base64 run that is searched for: shorter ones match ordinary text by chance.
const MIN_ENCODED_LEN: usize = 12;

/// Unreserved characters (RFC 3986) stay; everything else is encoded, as `endpoint.rs` does.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// As `application/x-www-form-urlencoded` writes it (`*` kept, space as `+` after encoding).
const FORM: &AsciiSet = &UNRESERVED.remove(b'*').add(b'~');

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

/// Any other configured credential that must never come back in an answer (the HTTP bearer
/// token, an administrator's password): only ever handed to a [`Scrubber`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Finds the configured secrets, in all the forms listed in the module docs, in text that came
/// from upstream, and masks them. Cheap to clone (one shared automaton).
#[derive(Clone, Default)]
pub struct Scrubber {
    /// `None` when there is nothing long enough to look for.
    finder: Option<Arc<AhoCorasick>>,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrubber")
            .field(
                "patterns",
                &self.finder.as_ref().map_or(0, |f| f.patterns_len()),
            )
            .finish()
    }
}

impl Scrubber {
    /// A scrubber for the API key and any other secrets.
    pub fn new(api_key: &ApiKey, others: &[Secret]) -> Self {
        Self::from_texts(
            std::iter::once(api_key.expose()).chain(others.iter().map(|s| s.0.as_str())),
        )
    }

    /// A scrubber for these secrets only (e.g. `espomcp seed`'s administrator password).
    pub fn for_secrets(secrets: &[Secret]) -> Self {
        Self::from_texts(secrets.iter().map(|s| s.0.as_str()))
    }

    fn from_texts<'a>(secrets: impl Iterator<Item = &'a str>) -> Self {
        let mut patterns: Vec<String> = Vec::new();
        for secret in secrets.filter(|s| s.len() >= MIN_SCRUBBED_LEN) {
            let encoded = utf8_percent_encode(secret, UNRESERVED).to_string();
            let form = utf8_percent_encode(secret, FORM)
                .to_string()
                .replace("%20", "+");
            for plain in [secret.to_owned(), encoded, form] {
                patterns.push(plain.to_ascii_lowercase());
                patterns.push(plain.to_ascii_uppercase());
                patterns.push(plain);
            }
            patterns.extend(base64_runs(secret.as_bytes()));
        }
        patterns.sort();
        patterns.dedup();
        if patterns.is_empty() {
            return Self::default();
        }
        // Built from a few short, non-empty patterns: the builder's limits are far away.
        match AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
        {
            Ok(finder) => Self {
                finder: Some(Arc::new(finder)),
            },
            Err(error) => {
                tracing::error!(%error, "cannot search answers for the configured secrets");
                Self::default()
            }
        }
    }

    /// Whether `bytes` hold a secret in any of its forms.
    pub fn finds(&self, bytes: &[u8]) -> bool {
        self.finder
            .as_ref()
            .is_some_and(|finder| finder.is_match(bytes))
    }

    /// `text` with every secret masked; borrowed when there was none.
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match &self.finder {
            Some(finder) if finder.is_match(text) => {
                Cow::Owned(finder.replace_all(text, &vec![MASK; finder.patterns_len()]))
            }
            _ => Cow::Borrowed(text),
        }
    }

    /// [`Self::scrub`] for an owned string, which is kept when there was nothing to mask.
    pub fn scrub_string(&self, text: String) -> String {
        match self.scrub(&text) {
            Cow::Borrowed(_) => text,
            Cow::Owned(scrubbed) => scrubbed,
        }
    }

    /// Masks the secrets in every string and every key of a parsed answer, in place.
    pub fn scrub_value(&self, value: &mut Value) {
        if self.finder.is_none() {
            return;
        }
        match value {
            Value::String(text) => {
                if let Cow::Owned(scrubbed) = self.scrub(text) {
                    *text = scrubbed;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.scrub_value(item)),
            Value::Object(map) => {
                if map.keys().any(|key| self.finds(key.as_bytes())) {
                    let entries = std::mem::take(map);
                    *map = entries
                        .into_iter()
                        .map(|(key, value)| (self.scrub_string(key), value))
                        .collect::<Map<String, Value>>();
                }
                map.values_mut().for_each(|item| self.scrub_value(item));
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// Masks the secrets in an answer parsed from `raw`. A JSON text without a backslash holds
    /// each string byte for byte, so when `raw` has neither a backslash nor a secret, no string
    /// in it can, and the walk over the value is skipped.
    pub fn scrub_parsed(&self, raw: &[u8], value: &mut Value) {
        if self.finder.is_some() && (raw.contains(&b'\\') || self.finds(raw)) {
            self.scrub_value(value);
        }
    }
}

/// The runs of base64 text that the secret's bytes always produce, wherever it starts in the
/// encoded input (its offset modulo 3), in both alphabets. The characters at the edges also
/// depend on the neighbouring bytes, so they are left out.
fn base64_runs(secret: &[u8]) -> Vec<String> {
    let mut runs = Vec::new();
    for offset in 0..3 {
        let mut input = vec![0u8; offset];
        input.extend_from_slice(secret);
        // The first character that depends only on the secret's bytes.
        let skip = [0, 2, 3][offset];
        // The last character is shared with the byte after the secret unless the input fills
        // whole groups of three.
        let drop_last = usize::from(input.len() % 3 != 0);
        for engine in [STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
            let encoded = engine.encode(&input);
            let end = encoded.len().saturating_sub(drop_last);
            if let Some(run) = encoded.get(skip..end)
                && run.len() >= MIN_ENCODED_LEN
            {
                runs.push(run.to_owned());
            }
        }
    }
    runs
}

/// `text` cut to at most `max` characters (on a character boundary), with `…` when cut: how much
/// of an upstream explanation an error may quote.
pub fn bounded(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        Some((end, _)) => Cow::Owned(format!("{}…", &text[..end])),
        None => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const KEY: &str = "7f3c9a1b5e2d4f60a8b7c6d5e4f3a2b1";

    fn scrubber() -> Scrubber {
        Scrubber::new(&ApiKey::new(KEY), &[Secret::new("hunter2 & co/pw")])
    }

    #[test]
    fn should_never_show_the_key_in_debug() {
        let key = ApiKey::new("s3cret-key-value");
        assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");
        assert!(!format!("{:?}", Some(&key)).contains("s3cret"));
        assert!(!format!("{:?}", Secret::new("s3cret-value")).contains("s3cret"));
        assert!(!format!("{:?}", scrubber()).contains(KEY));
    }

    #[test]
    fn should_mask_a_secret_as_written_and_in_lower_or_upper_case() {
        let s = scrubber();
        assert_eq!(
            s.scrub(&format!("bad key {KEY}!")),
            "bad key [redacted]!".to_owned()
        );
        assert_eq!(
            s.scrub(&format!("KEY={}", KEY.to_uppercase())),
            "KEY=[redacted]"
        );
        assert_eq!(s.scrub("pw: HUNTER2 & CO/PW"), "pw: [redacted]");
        assert_eq!(s.scrub("pw: hunter2 & co/pw."), "pw: [redacted].");
        assert!(matches!(s.scrub("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn should_mask_a_percent_encoded_or_form_encoded_secret() {
        let s = scrubber();
        for echoed in [
            "?p=hunter2%20%26%20co%2Fpw",
            "?p=hunter2%20%26%20co%2fpw",
            "?p=hunter2+%26+co%2Fpw",
        ] {
            assert_eq!(s.scrub(echoed), "?p=[redacted]", "{echoed}");
        }
    }

    #[test]
    fn should_mask_a_base64_encoded_secret_at_any_alignment() {
        let s = scrubber();
        for prefix in ["", "a", "ab", "abc", "user:", "admin:"] {
            for engine in [STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
                let encoded = engine.encode(format!("{prefix}{KEY}"));
                let header = format!("Basic {encoded}==");
                let scrubbed = s.scrub(&header);
                assert!(scrubbed.contains(MASK), "{prefix:?}: {scrubbed}");
                // What is left is too short to recover the key from.
                let rest = scrubbed.replace(MASK, "");
                assert!(rest.len() < "Basic ".len() + 12, "{prefix:?}: {scrubbed}");
            }
        }
    }

    #[test]
    fn should_mask_strings_and_keys_of_a_parsed_answer() {
        let s = scrubber();
        let raw = format!(r#"{{"name":"a {KEY}","list":[{{"{KEY}":"x\/y"}}],"n":1}}"#);
        let mut value: Value = serde_json::from_str(&raw).expect("JSON");
        s.scrub_parsed(raw.as_bytes(), &mut value);
        assert_eq!(
            value,
            json!({"name": "a [redacted]", "list": [{"[redacted]": "x/y"}], "n": 1})
        );
        // Hidden behind JSON escapes: only the parsed strings show it.
        let escaped = KEY.replace('7', "\\u0037");
        let raw = format!(r#"{{"reason":"{escaped}"}}"#);
        let mut value: Value = serde_json::from_str(&raw).expect("JSON");
        assert!(!s.finds(raw.as_bytes()));
        s.scrub_parsed(raw.as_bytes(), &mut value);
        assert_eq!(value, json!({"reason": MASK}));
    }

    #[test]
    fn should_not_look_for_secrets_too_short_to_be_told_from_words() {
        let s = Scrubber::new(&ApiKey::new("demo"), &[]);
        assert_eq!(s.scrub("demo data"), "demo data");
        let mut value = json!({"name": "demo"});
        s.scrub_value(&mut value);
        assert_eq!(value, json!({"name": "demo"}));
    }

    #[test]
    fn should_bound_text_on_a_character_boundary() {
        assert_eq!(bounded("short", 10), "short");
        assert_eq!(bounded("ééééé", 3), "ééé…");
        assert_eq!(bounded(&"x".repeat(600), 500).chars().count(), 501);
    }
}
