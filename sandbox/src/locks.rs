//! Locked records, as EspoCRM 10 has them for the entity types whose `scopes.{E}.lockable` is on
//! (Account in 10.0; none in 8.4).
//!
//! A record is locked and unlocked through `POST Action` (see `api::action`), by a user with
//! `lockPermission` (administrators always), and shows it in its read-only `isLocked` attribute.
//! While it is locked nobody, administrators included, may change a field of it (409
//! `cannotModifyLockedRecord`, naming the field's label) or delete it (409
//! `cannotRemoveLockedRecord`); fields marked `notLockable` may still change, a save that changes
//! nothing goes through, and relating other records or posting to its stream is not a change of
//! the record. The rules follow EspoCRM 10's `Tools\Lock` (`LockService`, `LockValidationHelper`).

use axum::http::StatusCode;
use chrono::NaiveDateTime;
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::model::{EntityDef, Metadata};
use crate::store::{Actor, DATETIME_FORMAT, Store};

/// The read-only attribute that says whether a record is locked.
pub const ATTRIBUTE: &str = "isLocked";

/// The permission (`acl.lockPermission`) a user needs to lock and unlock.
pub const PERMISSION: &str = "lockPermission";

/// Whether records of `entity` can be locked: the scope says so and the type has the
/// `isLocked` field (EspoCRM's `LockMetadataProvider`).
pub fn is_lockable(entity: &EntityDef) -> bool {
    entity.scope_bool("lockable") && entity.field(ATTRIBUTE).is_some()
}

/// Whether `entity/id` is locked now.
pub fn is_locked(store: &Store, entity: &EntityDef, id: &str) -> bool {
    store
        .get(&entity.name, id)
        .and_then(|r| r.get(ATTRIBUTE))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Locks or unlocks a record: a save like any other (modifiedAt and modifiedBy stamped, the
/// version counted). The caller has checked the permission and access.
pub fn set_locked(
    store: &mut Store,
    meta: &Metadata,
    entity: &EntityDef,
    id: &str,
    locked: bool,
    actor: &Actor,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    if is_locked(store, entity, id) == locked {
        let reason = if locked {
            "Already locked."
        } else {
            "Already unlocked."
        };
        return Err(ApiError::bad_request(reason).html());
    }
    let Some(record) = store.record_mut_public(&entity.name, id) else {
        return Err(ApiError::not_found("").html());
    };
    record.insert(ATTRIBUTE.into(), json!(locked));
    record.insert(
        "modifiedAt".into(),
        json!(now.format(DATETIME_FORMAT).to_string()),
    );
    record.insert("modifiedById".into(), json!(actor.user_id));
    crate::concurrency::count_save(store, meta, entity, id);
    Ok(())
}

/// The check before a save of an existing record (after validation, as EspoCRM's
/// `LockValidationHelper` runs): 409 `cannotModifyLockedRecord` when the record is locked and
/// `values` change a field the lock covers, naming the first such field in definition order.
/// Saves that change nothing, or only fields the lock leaves alone, go through.
pub fn before_save(
    store: &Store,
    meta: &Metadata,
    entity: &EntityDef,
    id: &str,
    values: &Map<String, Value>,
    viewer: &str,
) -> Result<(), ApiError> {
    if !is_lockable(entity) || !is_locked(store, entity, id) {
        return Ok(());
    }
    let param =
        |field: &str, name: &str| crate::concurrency::field_param(meta, &entity.name, field, name);
    // Collaborators may change while the assigning field may (EspoCRM's ignore list).
    let collaborators_free = ["assignedUsers", "assignedUser"]
        .into_iter()
        .find(|f| entity.field(f).is_some())
        .is_some_and(|f| param(f, NOT_LOCKABLE));
    let changed =
        crate::concurrency::changed_fields(store, entity, id, values, viewer, &|field, def| {
            def.read_only
                || param(field, "readOnlyAfterCreate")
                || param(field, NOT_LOCKABLE)
                || IGNORED_FIELDS.contains(&field)
                || (field == "collaborators" && collaborators_free)
        });
    match changed.first() {
        Some(field) => Err(
            ApiError::new(StatusCode::CONFLICT, "cannotModifyLockedRecord").with_body(
                json!({"messageTranslation": {
                    "label": "cannotModifyLockedRecord",
                    "scope": null,
                    "data": {"field": field_label(field)},
                }}),
            ),
        ),
        None => Ok(()),
    }
}

/// The check before a delete: 409 `cannotRemoveLockedRecord` while the record is locked.
pub fn before_delete(store: &Store, entity: &EntityDef, id: &str) -> Result<(), ApiError> {
    if !is_lockable(entity) || !is_locked(store, entity, id) {
        return Ok(());
    }
    let label = "cannotRemoveLockedRecord";
    Err(ApiError::new(StatusCode::CONFLICT, label)
        .with_body(json!({"messageTranslation": {"label": label, "scope": null, "data": {}}})))
}

/// Fields the system maintains on every save; a lock does not freeze them.
const IGNORED_FIELDS: &[&str] = &["modifiedAt", "modifiedBy", ATTRIBUTE, "streamUpdatedAt"];

/// The field parameter that exempts a field from the lock.
const NOT_LOCKABLE: &str = "notLockable";

/// A field's label as EspoCRM's English translation gives it: the global labels of the
/// address fields, otherwise the name in words (`website` → `Website`, `billingAddress` →
/// `Billing Address`, `sicCode` → `Sic Code`).
pub fn field_label(field: &str) -> String {
    match field {
        "emailAddress" => return "Email".into(),
        "phoneNumber" => return "Phone".into(),
        _ => {}
    }
    let mut label = String::new();
    for (i, c) in field.chars().enumerate() {
        if i == 0 {
            label.extend(c.to_uppercase());
        } else if c.is_ascii_uppercase() {
            label.push(' ');
            label.push(c);
        } else {
            label.push(c);
        }
    }
    label
}

#[cfg(test)]
mod tests {
    use super::field_label;

    #[test]
    fn labels_are_the_english_ones() {
        assert_eq!(field_label("website"), "Website");
        assert_eq!(field_label("description"), "Description");
        assert_eq!(field_label("billingAddress"), "Billing Address");
        assert_eq!(field_label("emailAddress"), "Email");
        assert_eq!(field_label("phoneNumber"), "Phone");
    }
}
