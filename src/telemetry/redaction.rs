//! What is taken out of a body before it is logged.
//!
//! At `trace`, request and response bodies are logged, and they are full of personal data. They
//! go through [`redact`] (or, lazily, [`Redacted`]) first: names, email addresses, phone numbers,
//! street addresses and free text are masked, and credentials never get through at all. Email
//! addresses and phone numbers inside text are found by their rules, [`crate::rules::email`]
//! and [`crate::rules::phone`].

use std::fmt;
use std::ops::Range;

use serde_json::{Map, Value};

use crate::rules::{email, phone};

/// What a masked value is replaced with.
pub const MASK: &str = "[redacted]";

/// A body to log, redacted only if the event is actually written:
/// `tracing::trace!(body = %Redacted(&body), "EspoCRM answered")`.
pub struct Redacted<'a>(pub &'a Value);

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", redact(self.0))
    }
}

/// A copy of an EspoCRM body that is safe to log.
///
/// By key, wherever it occurs (case and `_`/`-` ignored):
/// - credentials (`apiKey`, `X-Api-Key`, `password*`, `*token*`, `*secret*`, `authorization`,
///   `cookie`) are replaced whole, whatever they hold;
/// - personal data keeps its shape but every string and number in it is masked: person names
///   (`firstName`, `lastName`, `middleName`, `salutationName`, `userName`, the `*UserName` /
///   `*ByName` / `contactName` / `contactsNames`… of links, `nameHash`), `name` of a person
///   (Contact, Lead, User: told by `_scope`/`entityType`, by name parts beside it, or by the link
///   it was listed under) and of an Email (its subject), `parentName` when the parent is a
///   person, email addresses and phone numbers (`emailAddress*`, `phoneNumber*`, but not the
///   `*Data` lists, whose other entries are not personal), street addresses (`*address*` ending
///   in `Street`, `City`, `PostalCode`, `State` or `Country`) and free text (`description`,
///   `post`, `body`, `bodyPlain`, `text`, `subject`, `fromString`, `replyToString`).
///
/// By value, everywhere else: email addresses inside any string (object keys included) are
/// replaced by `[email]`, and a string that is a phone number is masked. Ids, dates, amounts,
/// booleans, enum values and company names are kept: they are what a log is read for.
pub fn redact(value: &Value) -> Value {
    redact_value(value, Kind::Unknown)
}

/// What a JSON object is a record of, as far as redaction cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Person,
    Email,
    Unknown,
}

const PERSON_TYPES: [&str; 3] = ["Contact", "Lead", "User"];

impl Kind {
    fn of(record: &Map<String, Value>, hint: Kind) -> Kind {
        let scope = ["_scope", "entityType"]
            .iter()
            .find_map(|key| record.get(*key).and_then(Value::as_str));
        match scope {
            Some(scope) if PERSON_TYPES.contains(&scope) => return Kind::Person,
            Some("Email") => return Kind::Email,
            Some(_) => return Kind::Unknown,
            None => {}
        }
        let has = |keys: &[&str]| keys.iter().any(|key| record.contains_key(*key));
        if has(&["firstName", "lastName", "middleName", "salutationName"]) {
            Kind::Person
        } else if has(&["bodyPlain", "fromString", "isHtml"]) {
            Kind::Email
        } else {
            hint
        }
    }

    /// What the records listed under a link are: `contacts` of an Account are persons.
    fn of_link(key: &str) -> Kind {
        match normalize(key).as_str() {
            "contacts" | "leads" | "users" | "assignedusers" | "followers" | "attendees" => {
                Kind::Person
            }
            "emails" => Kind::Email,
            _ => Kind::Unknown,
        }
    }
}

/// How a key's value is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Replaced whole.
    Credential,
    /// Every string and number in it masked.
    Personal,
    /// Looked into.
    Other,
}

fn redact_value(value: &Value, hint: Kind) -> Value {
    match value {
        Value::Object(record) => redact_record(record, hint),
        Value::Array(items) => {
            Value::Array(items.iter().map(|item| redact_value(item, hint)).collect())
        }
        Value::String(text) => Value::String(redact_text(text)),
        Value::Null | Value::Bool(_) | Value::Number(_) => value.clone(),
    }
}

fn redact_record(record: &Map<String, Value>, hint: Kind) -> Value {
    let kind = Kind::of(record, hint);
    let mut redacted = Map::with_capacity(record.len());
    for (key, value) in record {
        let value = match classify(key, kind, record) {
            Class::Credential if value.is_null() => Value::Null,
            Class::Credential => Value::from(MASK),
            Class::Personal => mask(value),
            Class::Other => redact_value(value, Kind::of_link(key)),
        };
        redacted.insert(mask_emails(key), value);
    }
    Value::Object(redacted)
}

fn classify(key: &str, kind: Kind, record: &Map<String, Value>) -> Class {
    let key = normalize(key);
    let key = key.as_str();
    let credential = ["password", "secret", "token"]
        .iter()
        .any(|part| key.contains(part))
        || key.ends_with("apikey")
        || matches!(
            key,
            "authorization"
                | "espoauthorization"
                | "xhmacauthorization"
                | "proxyauthorization"
                | "cookie"
                | "setcookie"
        );
    if credential {
        return Class::Credential;
    }
    let person_name = matches!(
        key,
        "firstname"
            | "lastname"
            | "middlename"
            | "salutationname"
            | "username"
            | "fromname"
            | "replytoname"
            | "contactname"
            | "leadname"
            | "contactsnames"
            | "leadsnames"
            | "usersnames"
            | "assignedusersnames"
            | "namehash"
    ) || key.ends_with("username")
        || key.ends_with("byname");
    let contact_point = (key.starts_with("emailaddress") || key.starts_with("phonenumber"))
        && !key.ends_with("data");
    let street_address = key.contains("address")
        && ["street", "city", "postalcode", "state", "country"]
            .iter()
            .any(|part| key.ends_with(part));
    let free_text = matches!(
        key,
        "description"
            | "post"
            | "body"
            | "bodyplain"
            | "text"
            | "subject"
            | "fromstring"
            | "replytostring"
    );
    let own_name = key == "name" && matches!(kind, Kind::Person | Kind::Email);
    let parent_name = key == "parentname"
        && record
            .get("parentType")
            .and_then(Value::as_str)
            .is_some_and(|parent| PERSON_TYPES.contains(&parent));
    if person_name || contact_point || street_address || free_text || own_name || parent_name {
        Class::Personal
    } else {
        Class::Other
    }
}

/// `X-Api-Key`, `api_key`, `apiKey` → `xapikey`, `apikey`, `apikey`.
fn normalize(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_' && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Keeps the shape (keys, nulls, booleans) and masks every string and number.
fn mask(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (mask_emails(key), mask(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(mask).collect()),
        Value::String(text) if text.is_empty() => value.clone(),
        Value::String(_) | Value::Number(_) => Value::from(MASK),
        Value::Null | Value::Bool(_) => value.clone(),
    }
}

fn redact_text(text: &str) -> String {
    if phone::looks_like(text) {
        MASK.to_owned()
    } else {
        mask_international_phones(&mask_emails(text))
    }
}

/// Replaces every `+49 30 1234567` inside a text by `[phone]` (see
/// [`phone::find_international`]).
fn mask_international_phones(text: &str) -> String {
    replace_all(text, &phone::find_international(text), "[phone]")
}

/// Replaces every `local@domain.tld` in the text by `[email]` (see [`email::find_all`]).
fn mask_emails(text: &str) -> String {
    replace_all(text, &email::find_all(text), "[email]")
}

/// `text` with each of `ranges` (in order, not overlapping) replaced by `with`.
fn replace_all(text: &str, ranges: &[Range<usize>], with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for range in ranges {
        out.push_str(&text[copied..range.start]);
        out.push_str(with);
        copied = range.end;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// An API key, to show that credentials never get through.
    const KEY: &str = "7f3c9a1e5b2d4f60a8c1e3b5d7f9a2c4";

    fn contact() -> Value {
        json!({
            "id": "6571a3c2e4b1f0d2a",
            "_scope": "Contact",
            "name": "Ms. Jane Q. Doe",
            "salutationName": "Ms.",
            "firstName": "Jane",
            "middleName": "Quinn",
            "lastName": "Doe",
            "title": "Head of Procurement",
            "accountId": "6571a3c2e4b1f0d2b",
            "accountName": "Acme Corporation",
            "emailAddress": "jane.doe@acme.example",
            "emailAddressIsOptedOut": false,
            "emailAddressData": [
                {"emailAddress": "jane.doe@acme.example", "lower": "jane.doe@acme.example",
                 "primary": true, "optOut": false, "invalid": false},
                {"emailAddress": "jq@home.example", "lower": "jq@home.example",
                 "primary": false, "optOut": false, "invalid": false}
            ],
            "phoneNumber": "+1 415 555 0123",
            "phoneNumberData": [
                {"phoneNumber": "+1 415 555 0123", "type": "Office", "primary": true},
                {"phoneNumber": "+1 415 555 0199", "type": "Mobile", "primary": false}
            ],
            "addressStreet": "42 Market Street",
            "addressCity": "San Francisco",
            "addressState": "CA",
            "addressPostalCode": "94105",
            "addressCountry": "USA",
            "description": "Met Jane at the expo; her assistant is Bob (bob@acme.example).",
            "assignedUserId": "6571a3c2e4b1f0d2c",
            "assignedUserName": "Sam Seller",
            "createdByName": "Admin Person",
            "teamsNames": {"6571a3c2e4b1f0d2d": "Sales"},
            "createdAt": "2024-01-15 10:30:00",
            "doNotCall": false
        })
    }

    #[test]
    fn should_redact_the_personal_data_of_a_contact_and_keep_the_rest() {
        let redacted = redact(&contact());
        let text = redacted.to_string();
        for personal in [
            "Jane",
            "Quinn",
            "Doe",
            "Ms.",
            "jane.doe",
            "acme.example",
            "home.example",
            "415",
            "Market",
            "San Francisco",
            "94105",
            "USA",
            "expo",
            "bob",
            "Sam Seller",
            "Admin Person",
        ] {
            assert!(!text.contains(personal), "{personal:?} left in {text}");
        }
        assert_eq!(redacted["id"], "6571a3c2e4b1f0d2a");
        assert_eq!(redacted["accountName"], "Acme Corporation");
        assert_eq!(redacted["title"], "Head of Procurement");
        assert_eq!(redacted["createdAt"], "2024-01-15 10:30:00");
        assert_eq!(
            redacted["teamsNames"],
            json!({"6571a3c2e4b1f0d2d": "Sales"})
        );
        assert_eq!(redacted["emailAddressIsOptedOut"], false);
        assert_eq!(redacted["name"], MASK);
        assert_eq!(redacted["addressState"], MASK);
        assert_eq!(redacted["phoneNumberData"][1]["type"], "Mobile");
        assert_eq!(redacted["phoneNumberData"][1]["primary"], false);
        assert_eq!(redacted["emailAddressData"][0]["lower"], "[email]");
    }

    #[test]
    fn should_never_let_a_credential_through() {
        let redacted = redact(&json!({
            "apiKey": KEY,
            "headers": {"X-Api-Key": KEY, "Authorization": format!("Basic {KEY}")},
            "user": {"password": KEY, "passwordConfirm": KEY, "api_key": {"nested": KEY}},
            "authToken": KEY,
            "secretKey": null,
        }));
        assert!(!redacted.to_string().contains(KEY), "{redacted}");
        assert_eq!(redacted["headers"]["X-Api-Key"], MASK);
        assert_eq!(redacted["secretKey"], Value::Null);
    }

    #[test]
    fn should_mask_emails_and_phone_numbers_wherever_they_are() {
        let redacted = redact(&json!({
            "list": [{"customField": "call +49 30 1234567 or write to ann@example.org."}],
            "cPhone": "(415) 555-0123",
            "cMobile": "0301234567",
            "to": "a@example.com;b@example.net",
            "nameHash": {"ann@example.org": "Ann"},
            "other": {"ann@example.org": true},
            "amount": "1500000",
            "price": "12.50",
            "closeDate": "2024-01-15",
            "stage": "Proposal",
            "handle": "@acme",
            "note": "2 + 2 = 4, from 2024-01-15 10:30 to 2024-01-16",
        }));
        assert_eq!(
            redacted["note"],
            "2 + 2 = 4, from 2024-01-15 10:30 to 2024-01-16"
        );
        assert_eq!(
            redacted["list"][0]["customField"],
            "call [phone] or write to [email]."
        );
        assert_eq!(redacted["cPhone"], MASK);
        assert_eq!(redacted["cMobile"], MASK);
        assert_eq!(redacted["to"], "[email];[email]");
        assert_eq!(redacted["nameHash"], json!({"[email]": MASK}));
        assert_eq!(redacted["other"], json!({"[email]": true}));
        for kept in ["amount", "price", "closeDate", "stage", "handle"] {
            assert_eq!(
                redacted[kept],
                json!({
                    "amount": "1500000", "price": "12.50", "closeDate": "2024-01-15",
                    "stage": "Proposal", "handle": "@acme",
                })[kept]
            );
        }
    }

    /// Addresses are found as `rules::email` reads them: every character a local part may hold
    /// is masked with it, and punycode top-level domains count. Before, `bob#` and `to=` were
    /// left in front of `[email]`, and `x@example.xn--p1ai` was not masked at all.
    #[test]
    fn should_mask_addresses_whole_as_the_email_rule_reads_them() {
        let redacted = redact(&json!({
            "hash": "bob#1@example.com",
            "query": "to=bob@example.com",
            "braced": "{ann@example.org}",
            "punycode": "x@example.xn--p1ai",
            "typo": "ann@-example.org",
            "kept": "1 @ 2.com, @acme, a@b",
        }));
        assert_eq!(redacted["hash"], "[email]");
        assert_eq!(redacted["query"], "[email]");
        assert_eq!(redacted["braced"], "[email]}");
        assert_eq!(redacted["punycode"], "[email]");
        assert_eq!(redacted["typo"], "[email]");
        assert_eq!(redacted["kept"], "1 @ 2.com, @acme, a@b");
    }

    #[test]
    fn should_mask_the_name_of_persons_and_emails_but_not_of_companies() {
        let redacted = redact(&json!({
            "account": {"id": "a1", "name": "Acme Corporation", "_scope": "Account"},
            "contacts": [{"id": "c1", "name": "Jane Doe"}],
            "email": {"entityType": "Email", "name": "Re: your divorce papers", "status": "Draft"},
            "call": {"name": "Follow up", "parentType": "Lead", "parentName": "John Roe"},
        }));
        assert_eq!(redacted["account"]["name"], "Acme Corporation");
        assert_eq!(redacted["contacts"][0]["name"], MASK);
        assert_eq!(redacted["contacts"][0]["id"], "c1");
        assert_eq!(redacted["email"]["name"], MASK);
        assert_eq!(redacted["email"]["status"], "Draft");
        assert_eq!(redacted["call"]["name"], "Follow up");
        assert_eq!(redacted["call"]["parentName"], MASK);
    }
}
