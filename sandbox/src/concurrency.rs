//! Optimistic concurrency control, as EspoCRM 10 has it for the entity types whose
//! `entityDefs.{E}.optimisticConcurrencyControl` is on (Account, Opportunity, Task, Case and
//! EmailTemplate in 10.0; none in 8.4, whose metadata has no such flag).
//!
//! Such a record carries `versionNumber` (the metadata adds it to the type's attributes and to
//! the attribute sets of a read, a list row and a create answer): 1 when created (seeded records
//! too), one more after every successful save, also a save that changes nothing (an empty `PUT`,
//! ignored read-only input, a lock or an unlock). Relating records and stream posts are not saves
//! of the record.
//!
//! A `PUT`/`PATCH` with `X-Version-Number` differing from the stored number is refused with 409
//! `modified` when the request would change a field; the body holds the stored values of every
//! attribute of the fields concerned and the current number, so a client can show what changed.
//! The header is read as PHP's `(int)` reads it (`abc` is 0); no header, no check. For other
//! entity types, and records without a number, the header is ignored. The rules follow EspoCRM's
//! `Record\ConcurrencyControl\OptimisticProcessor`.

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::model::{EntityDef, FieldDef, Metadata, expand_field};
use crate::store::{Record, Store};

/// The attribute holding a record's version.
pub const ATTRIBUTE: &str = "versionNumber";

/// The request header a client sends the version it last read in.
pub const HEADER: &str = "X-Version-Number";

/// Whether records of `entity` carry a version (the metadata flag decides).
pub fn is_enabled(meta: &Metadata, entity: &str) -> bool {
    meta.raw
        .get("entityDefs")
        .and_then(|defs| defs.get(entity))
        .and_then(|def| def.get("optimisticConcurrencyControl"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// A new record's version: 1.
pub fn on_create(meta: &Metadata, entity: &EntityDef, record: &mut Record) {
    if is_enabled(meta, &entity.name) {
        record.insert(ATTRIBUTE.into(), json!(1));
    }
}

/// Counts one successful save of `entity/id`.
pub fn count_save(store: &mut Store, meta: &Metadata, entity: &EntityDef, id: &str) {
    if !is_enabled(meta, &entity.name) {
        return;
    }
    if let Some(record) = store.record_mut_public(&entity.name, id) {
        let next = current(record) + 1;
        record.insert(ATTRIBUTE.into(), json!(next));
    }
}

/// The stored version of a record (0 for one stored before the flag was on).
fn current(record: &Record) -> i64 {
    record.get(ATTRIBUTE).and_then(Value::as_i64).unwrap_or(0)
}

/// The check before an update: 409 `modified` when `header` (the raw `X-Version-Number`) names
/// another version than the stored one and the request changes a field (EspoCRM's
/// `OptimisticProcessor`: fields neither read-only nor `optimisticConcurrencyControlIgnore`).
pub fn before_update(
    store: &Store,
    meta: &Metadata,
    entity: &EntityDef,
    id: &str,
    data: &Map<String, Value>,
    header: Option<&str>,
    viewer: &str,
) -> Result<(), ApiError> {
    let Some(header) = header else {
        return Ok(());
    };
    if !is_enabled(meta, &entity.name) {
        return Ok(());
    }
    let Some(record) = store.get(&entity.name, id) else {
        return Ok(());
    };
    let Some(stored_version) = record.get(ATTRIBUTE).and_then(Value::as_i64) else {
        return Ok(());
    };
    if php_int(header) == stored_version {
        return Ok(());
    }
    let fields = changed_fields(store, entity, id, data, viewer, &|field, def| {
        def.read_only
            || field_param(
                meta,
                &entity.name,
                field,
                "optimisticConcurrencyControlIgnore",
            )
    });
    if fields.is_empty() {
        return Ok(());
    }
    let stored = |attribute: &str| store.attribute_value(entity, id, record, attribute, viewer);
    let mut values = Map::new();
    for field in fields {
        for attribute in field_attributes(entity, field) {
            let value = stored_value(entity, &attribute, &stored);
            values.insert(attribute, value);
        }
    }
    Err(ApiError::new(StatusCode::CONFLICT, "modified")
        .with_body(json!({"values": values, ATTRIBUTE: stored_version})))
}

/// The fields, in definition order, that `data` would change on `entity/id`: one of the field's
/// own (stored, not derived) attributes is in `data` with a value other than the stored one.
/// Fields for which `skip` holds are left out. Shared with [`crate::locks`].
pub(crate) fn changed_fields<'e>(
    store: &Store,
    entity: &'e EntityDef,
    id: &str,
    data: &Map<String, Value>,
    viewer: &str,
    skip: &dyn Fn(&str, &FieldDef) -> bool,
) -> Vec<&'e str> {
    let Some(record) = store.get(&entity.name, id) else {
        return Vec::new();
    };
    entity
        .fields
        .iter()
        .filter(|(field, def)| !skip(field, def))
        .filter(|(field, def)| {
            own_attributes(field, def).iter().any(|attribute| {
                data.get(attribute).is_some_and(|value| {
                    let stored = store.attribute_value(entity, id, record, attribute, viewer);
                    !same_value(&stored, value)
                })
            })
        })
        .map(|(field, _)| field.as_str())
        .collect()
}

/// A field's own attributes (EspoCRM's "actual" ones): not the names, types and columns shown
/// beside link ids, nor the address lists beside an email address or phone number.
fn own_attributes(field: &str, def: &FieldDef) -> Vec<String> {
    let derived = match def.kind.as_str() {
        "link" | "linkOne" | "linkParent" => &["Name"][..],
        "linkMultiple" | "attachmentMultiple" => &["Names", "Types", "Columns"][..],
        "email" | "phone" => &["Data"][..],
        _ => &[][..],
    };
    expand_field(field, def)
        .into_iter()
        .map(|(attribute, _)| attribute)
        .filter(|attribute| {
            !derived
                .iter()
                .any(|suffix| attribute.strip_prefix(field) == Some(*suffix))
        })
        .collect()
}

/// A boolean parameter of a field's definition that the sandbox's `FieldDef` does not model
/// (`entityDefs.{E}.fields.{field}.{name}`).
pub(crate) fn field_param(meta: &Metadata, entity: &str, field: &str, name: &str) -> bool {
    meta.raw
        .get("entityDefs")
        .and_then(|defs| defs.get(entity))
        .and_then(|def| def.get("fields"))
        .and_then(|fields| fields.get(field))
        .and_then(|def| def.get(name))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// The attributes of a field, as EspoCRM lists them for the conflict body.
fn field_attributes(entity: &EntityDef, field: &str) -> Vec<String> {
    match entity.field(field) {
        Some(def) => expand_field(field, def)
            .into_iter()
            .map(|(attribute, _)| attribute)
            .collect(),
        None => vec![field.to_owned()],
    }
}

/// A stored attribute as the conflict body shows it: the flags of an email address or phone
/// number are columns of the primary address, so without one they are null (not `false`, as a
/// read renders them).
fn stored_value(entity: &EntityDef, attribute: &str, stored: &dyn Fn(&str) -> Value) -> Value {
    for suffix in ["IsOptedOut", "IsInvalid"] {
        if let Some(base) = attribute.strip_suffix(suffix)
            && entity
                .field(base)
                .is_some_and(|f| matches!(f.kind.as_str(), "email" | "phone"))
            && stored(base).is_null()
        {
            return Value::Null;
        }
    }
    stored(attribute)
}

/// Whether a submitted value equals the stored one: JSON equality, numbers by value
/// (`42000` equals `42000.0`).
fn same_value(stored: &Value, submitted: &Value) -> bool {
    match (stored, submitted) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => stored == submitted,
    }
}

/// A header value as PHP's `(int)` reads a string: leading whitespace, a sign and the digits
/// that follow; anything else is 0 (`"abc"` → 0, `"3.7"` → 3).
fn php_int(text: &str) -> i64 {
    let text = text.trim_start();
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    let value = digits[..end].parse::<i64>().unwrap_or(0);
    if negative { -value } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_read_as_php_int() {
        assert_eq!(php_int("3"), 3);
        assert_eq!(php_int(" 12"), 12);
        assert_eq!(php_int("abc"), 0);
        assert_eq!(php_int(""), 0);
        assert_eq!(php_int("3.7"), 3);
        assert_eq!(php_int("-2"), -2);
        assert_eq!(php_int("7abc"), 7);
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(same_value(&json!(42000.0), &json!(42000)));
        assert!(!same_value(&json!(42000), &json!(99000)));
        assert!(!same_value(&json!("42000"), &json!(42000)));
        assert!(same_value(&Value::Null, &Value::Null));
    }
}
