//! The value formats espomcp checks, each ruled once: email addresses, host names, web
//! addresses, phone numbers, dates and date-times.
//!
//! Every place that judges one of these formats asks the module here: the write validator
//! ([`crate::validate::write`]) for the values it sends to EspoCRM, the `where` validator for
//! filter values, the configuration for the sender address, `draft_email` for its recipients, the
//! log redaction for addresses and numbers inside free text, and `aggregate` for the dates it
//! groups by. A rule changed here changes for all of them, so they cannot disagree.
//!
//! The rules follow what EspoCRM stores and accepts where that is known (dates in
//! `YYYY-MM-DD`, date-times in `YYYY-MM-DD HH:MM:SS` UTC, addresses as PHP's email filter reads
//! them), and are stricter where EspoCRM would store something a person did not mean
//! (`2026-02-30`, `anna@example`).
//!
//! # Layout
//!
//! - `email.rs` — an email address, and finding the addresses inside a text.
//! - `host.rs` — a domain name or an IPv4 address, as email addresses and web addresses use them.
//! - `url.rs` — a web address as EspoCRM's `url` field takes it.
//! - `phone.rs` — a phone number as the caller may write one, and the numbers to mask in logs.
//! - `date.rs` — a calendar date, `YYYY-MM-DD`, on chrono.
//! - `date_time.rs` — a UTC date-time, `YYYY-MM-DD HH:MM:SS`, on chrono.

pub mod date;
pub mod date_time;
pub mod email;
pub mod host;
pub mod phone;
pub mod url;

/// The number written by ASCII `digits`, `None` if any is not a digit (or there are none).
fn digits_value(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u32, |value, digit| {
        digit
            .is_ascii_digit()
            .then(|| value * 10 + u32::from(digit - b'0'))
    })
}
