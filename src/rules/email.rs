//! An email address: `local@domain.tld`, as one mailbox is written, without a display name.
//!
//! EspoCRM checks addresses with PHP's email filter (`FILTER_VALIDATE_EMAIL`); this rule is
//! close to it and no looser: the local part is 1 to 64 ASCII characters among letters, digits
//! and ``!#$%&'*+/=?^_`{|}~.-``, not starting or ending with `.` and without `..`; then one `@`;
//! then a [domain](super::host::is_domain). Quoted local parts, comments, IP-literal domains
//! (`a@[1.2.3.4]`) and international characters outside punycode are refused: they are valid in
//! the RFC but not what a CRM user means, and EspoCRM refuses most of them.
//!
//! [`find_all`] finds the addresses inside a text, for the log redaction. It is looser than
//! [`is_valid`] on purpose: a redaction that misses an address leaks it, so it masks every run
//! of local-part characters before an `@` followed by something shaped like a domain, also
//! where the address would be refused as a value.

use std::ops::Range;

/// The longest local part, in characters (RFC 5321).
const MAX_LOCAL_CHARS: usize = 64;

/// Whether `byte` may stand in a local part (RFC 5322's `atext`, and the dots between atoms).
fn is_local_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&byte)
}

/// Whether `byte` may stand in a domain as [`find_all`] reads one.
fn is_domain_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'.' || byte == b'-'
}

/// `anna@example.com`, `anna.b+crm@mail.example.co.uk`, `o'brien@example.ie`.
pub fn is_valid(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    let local_ok = (1..=MAX_LOCAL_CHARS).contains(&local.len())
        && local.bytes().all(is_local_byte)
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    local_ok && super::host::is_domain(domain)
}

/// Where the addresses in `text` are, in order and not overlapping, each from the first
/// character of its local part to the last of its domain (a sentence's full stop after it is
/// not part of it).
pub fn find_all(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut taken = 0;
    let mut at = 0;
    while let Some(offset) = text[at..].find('@') {
        let sign = at + offset;
        let mut start = sign;
        while start > taken && is_local_byte(bytes[start - 1]) {
            start -= 1;
        }
        let mut end = sign + 1;
        while end < bytes.len() && is_domain_byte(bytes[end]) {
            end += 1;
        }
        while end > sign + 1 && bytes[end - 1] == b'.' {
            end -= 1;
        }
        if start < sign && looks_like_domain(&text[sign + 1..end]) {
            found.push(start..end);
            taken = end;
        }
        at = sign + 1;
    }
    found
}

/// Labels separated by dots, the last of two or more letters or in punycode; looser than
/// [`super::host::is_domain`] (labels may start or end with `-`, and be of any length), so that
/// redaction masks what a typo made invalid as well.
fn looks_like_domain(text: &str) -> bool {
    let labels: Vec<&str> = text.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| !label.is_empty())
        && labels.last().is_some_and(|top| {
            top.len() >= 2
                && (top.bytes().all(|byte| byte.is_ascii_alphabetic()) || top.starts_with("xn--"))
        })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn one_plain_mailbox_is_an_address() {
        for good in [
            "anna@example.com",
            "anna.b+crm@mail.example.co.uk",
            "o'brien@example.ie",
            "x@xn--bcher-kva.example",
            "sales@example.com",
            "a_b-c@sub.example.org",
        ] {
            assert!(is_valid(good), "{good}");
        }
    }

    #[test]
    fn names_lists_typos_and_international_characters_are_not() {
        let long_local = format!("{}@example.com", "a".repeat(65));
        for bad in [
            "",
            "not-an-email",
            "Sales Team",
            "anna@example",
            "anna@example.",
            "anna @example.com",
            "Anna <anna@example.com>",
            "anna@@example.com",
            "anna@b@example.com",
            "anna@example.com, bob@example.com",
            "anna@example.com;bob@example.com",
            ".anna@example.com",
            "anna.@example.com",
            "an..na@example.com",
            "@example.com",
            "anna@-example.com",
            "anna@example.c",
            "anna@example.123",
            "anna@[192.168.0.1]",
            "\"anna\"@example.com",
            "änna@example.com",
            "anna@exämple.com",
            long_local.as_str(),
        ] {
            assert!(!is_valid(bad), "{bad}");
        }
    }

    fn masked(text: &str) -> String {
        let mut out = String::new();
        let mut copied = 0;
        for range in find_all(text) {
            out.push_str(&text[copied..range.start]);
            out.push_str("[email]");
            copied = range.end;
        }
        out.push_str(&text[copied..]);
        out
    }

    #[test]
    fn addresses_are_found_inside_text() {
        assert_eq!(
            masked("write to ann@example.org."),
            "write to [email].",
            "the full stop ends the sentence"
        );
        assert_eq!(masked("a@example.com;b@example.net"), "[email];[email]");
        assert_eq!(masked("Bob (bob@acme.example)"), "Bob ([email])");
        assert_eq!(masked("<anna.b+crm@mail.example.co.uk>"), "<[email]>");
        assert_eq!(masked("bob#1@example.com"), "[email]");
        assert_eq!(masked("x@xn--bcher-kva.xn--p1ai"), "[email]");
        assert_eq!(masked("typo@-example.com"), "[email]");
        for kept in [
            "@acme",
            "follow @acme.",
            "a@b",
            "1@2.3",
            "mail me @ home.com",
        ] {
            assert_eq!(masked(kept), kept);
        }
    }

    /// `ESPOCRM_EMAIL_FROM` is held to this rule. Its own check took these before (anything
    /// with one `@`, no whitespace and a dot in the domain).
    #[test]
    fn the_configured_sender_address_follows_the_rule() {
        use crate::config::{Config, Environment, LoadOptions};
        let load = |address: &str| {
            let env: Environment = [
                ("HOME", "/nonexistent/espomcp-test-home"),
                ("APPDATA", "/nonexistent/espomcp-test-home"),
                ("ESPOCRM_URL", "https://crm.example.com"),
                ("ESPOCRM_API_KEY", "0123456789abcdef0123456789abcdef"),
                ("ESPOCRM_EMAIL_FROM", address),
            ]
            .into_iter()
            .collect();
            Config::load(LoadOptions {
                config_path: None,
                demo: false,
                env,
                flags: Vec::new(),
            })
        };
        assert!(load("sales@example.com").is_ok());
        for refused_now in [
            "<sales@example.com>",
            "sales@example.c",
            "sales@example..com",
            "sales@-example.com",
            ".sales@example.com",
            "jörg@example.com",
            "\"sales\"@example.com",
        ] {
            let error = load(refused_now).map(|_| ()).unwrap_err().to_string();
            assert!(
                error.contains("is not an email address"),
                "{refused_now}: {error}"
            );
        }
    }

    fn address() -> impl Strategy<Value = String> {
        (
            "[a-z0-9!#$%&'*+/=?^_`{|}~-]{1,10}(\\.[a-z0-9_-]{1,5}){0,2}",
            "[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?(\\.[a-z0-9]{1,8}){0,2}",
            "[a-z]{2,6}",
        )
            .prop_map(|(local, domain, top)| format!("{local}@{domain}.{top}"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// Every address the rule accepts is found, whole, between words.
        #[test]
        fn every_valid_address_is_valid_and_found_whole_in_text(
            address in address(),
            before in "[ (<,;:]{1,2}",
            after in "[)>,;.]{0,2}",
        ) {
            prop_assert!(is_valid(&address), "{}", address);
            let text = format!("see{before}{address}{after} here");
            let ranges = find_all(&text);
            prop_assert_eq!(ranges.len(), 1);
            prop_assert_eq!(&text[ranges[0].clone()], address.as_str());
        }

        /// Any text: what is found is in order, on character boundaries, around an `@`.
        #[test]
        fn found_ranges_are_ordered_and_cover_whole_addresses(text in any::<String>()) {
            let ranges = find_all(&text);
            for pair in ranges.windows(2) {
                prop_assert!(pair[0].end <= pair[1].start);
            }
            for range in ranges {
                prop_assert!(text.is_char_boundary(range.start));
                prop_assert!(text.is_char_boundary(range.end));
                prop_assert!(text[range].contains('@'));
            }
            let _ = is_valid(&text);
        }
    }
}
