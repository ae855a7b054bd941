//! Uploaded files: their bytes (EspoCRM's `data/upload/` directory, here in memory and capped)
//! and the rules that tie an Attachment record to the record that owns it.
//!
//! An Attachment is an ordinary record of the store (name, type, size, role, `parentType`,
//! `parentId`, `field`, `createdById`); [`Files`] keeps its contents beside it, by id. An upload
//! names the type and the `attachmentMultiple` (or `file`/`image`) field that will own it; a
//! later save of that type with `{field}Ids` adopts it, which sets its `parentId` — exactly
//! what EspoCRM's `hasChildren` relation does. The owner's `{field}Ids`, `{field}Names` and
//! `{field}Types` are then derived from the attachments that point at it, never stored.
//!
//! Reading an attachment follows EspoCRM's `Acl\Attachment\AccessChecker`: through its parent
//! (a Note through the record the note is posted on), else only the uploader ("own").

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::acl::{Access, Action};
use crate::error::ApiError;
use crate::model::EntityDef;
use crate::store::{Record, Store};

/// Largest file one upload may carry: 1 MiB. EspoCRM's own limit (`attachmentUploadMaxSize`,
/// 256 MB in the recorded settings) is far above what an in-memory test double should hold;
/// the request body (a data URI, 4/3 of the file) then stays under the HTTP layer's 2 MB limit.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;

/// The limit in EspoCRM's unit (MB) for its refusal, ``File size should not exceed 1 Mb.``.
const MAX_FILE_MB: usize = MAX_FILE_BYTES / (1024 * 1024);

/// Bytes all uploads of one sandbox may hold together: 64 MiB. Beyond it an upload fails as a
/// full upload directory does in EspoCRM (500, no reason); deleting attachments frees room.
pub const MAX_TOTAL_BYTES: usize = 64 * 1024 * 1024;

/// Field types that hold attachments (role `Attachment`), and those that hold inline images
/// (role `Inline Attachment`), as EspoCRM's `Tools\Attachment\AccessChecker` lists them.
const ATTACHMENT_FIELD_TYPES: &[&str] = &["file", "image", "attachmentMultiple"];
const INLINE_FIELD_TYPES: &[&str] = &["wysiwyg"];

/// The contents of the uploaded files, by Attachment id.
#[derive(Debug, Default)]
pub struct Files {
    bytes: HashMap<String, Vec<u8>>,
    /// Sum of the lengths in `bytes`, kept under [`MAX_TOTAL_BYTES`].
    total: usize,
}

impl Files {
    /// Keeps a file's contents; `false` (nothing kept) when the sandbox's total would pass
    /// [`MAX_TOTAL_BYTES`].
    pub fn put(&mut self, id: &str, contents: Vec<u8>) -> bool {
        let replaced = self.bytes.get(id).map_or(0, Vec::len);
        if self.total - replaced + contents.len() > MAX_TOTAL_BYTES {
            return false;
        }
        self.total = self.total - replaced + contents.len();
        self.bytes.insert(id.to_owned(), contents);
        true
    }

    /// Whether a new file of `len` bytes would stay within [`MAX_TOTAL_BYTES`].
    pub fn fits(&self, len: usize) -> bool {
        self.total + len <= MAX_TOTAL_BYTES
    }

    pub fn get(&self, id: &str) -> Option<&[u8]> {
        self.bytes.get(id).map(Vec::as_slice)
    }

    pub fn remove(&mut self, id: &str) {
        if let Some(old) = self.bytes.remove(id) {
            self.total -= old.len();
        }
    }

    /// Bytes held by all files.
    pub fn total(&self) -> usize {
        self.total
    }
}

/// What an upload request names: the owning type and field, and the role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `parentType`, or `relatedType` when no parentType is given (the UI's file/image fields).
    pub entity_type: String,
    pub field: String,
    pub role: String,
}

/// The upload's contents from its `file` data URI (`data:text/plain;base64,…`), decoded as
/// PHP's `base64_decode` does: characters outside the alphabet are skipped.
pub fn decode_data_uri(file: Option<&Value>) -> Result<Vec<u8>, ApiError> {
    let Some(file) = file else {
        return Err(ApiError::bad_request("No file contents."));
    };
    let Some(file) = file.as_str() else {
        return Err(ApiError::bad_request("Non-string file contents."));
    };
    // EspoCRM takes the part after the first comma (and before a second one, if any).
    let Some(encoded) = file.split(',').nth(1) else {
        return Err(ApiError::bad_request("Bad file contents."));
    };
    decode_base64_lenient(encoded)
        .ok_or_else(|| ApiError::bad_request("Could not decode file contents."))
}

fn decode_base64_lenient(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let clean: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '+' || *c == '/')
        .collect();
    LENIENT.decode(clean).ok()
}

/// EspoCRM's checks of an upload's target (`Tools\Attachment\AccessChecker::check`), in its
/// order: the role, that the field exists, that its type holds files, then create or edit
/// access to the type. A type the sandbox does not describe (Document) is refused for lack of
/// access when the caller has none, as on EspoCRM, where its fields exist.
pub fn check_target(
    meta: &crate::model::Metadata,
    access: &Access,
    body: &Map<String, Value>,
) -> Result<Target, ApiError> {
    let text = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let entity_type = text("parentType").or_else(|| text("relatedType"));
    let field = text("field");
    let (Some(entity_type), Some(field)) = (entity_type, field) else {
        return Err(ApiError::bad_request("No `field` and `parentType`."));
    };
    let role = text("role").unwrap_or_else(|| "Attachment".to_owned());
    let allowed_types = match role.as_str() {
        "Attachment" => ATTACHMENT_FIELD_TYPES,
        "Inline Attachment" => INLINE_FIELD_TYPES,
        _ => return Err(ApiError::forbidden("Role not allowed.")),
    };
    let may_write =
        access.allows(&entity_type, Action::Create) || access.allows(&entity_type, Action::Edit);
    let no_access = || ApiError::forbidden(format!("No access to {entity_type}."));
    let Some(entity) = meta.entity(&entity_type) else {
        if meta.is_known_scope(&entity_type) && !may_write {
            return Err(no_access());
        }
        return Err(ApiError::forbidden(format!(
            "Field '{field}' does not exist."
        )));
    };
    let Some(def) = entity.field(&field) else {
        return Err(ApiError::forbidden(format!(
            "Field '{field}' does not exist."
        )));
    };
    if !allowed_types.contains(&def.kind.as_str()) {
        return Err(ApiError::forbidden(format!(
            "Field type '{}' is not allowed for {role}.",
            def.kind
        )));
    }
    if !may_write {
        return Err(no_access());
    }
    Ok(Target {
        entity_type: entity.name.clone(),
        field,
        role,
    })
}

/// An upload larger than [`MAX_FILE_BYTES`] is refused as EspoCRM refuses one over its limit.
pub fn check_size(contents: &[u8]) -> Result<(), ApiError> {
    if contents.len() > MAX_FILE_BYTES {
        return Err(ApiError::bad_request(format!(
            "File size should not exceed {MAX_FILE_MB} Mb."
        )));
    }
    Ok(())
}

/// Whether `access`'s user may read this attachment: through its parent (or related) record
/// when there is one the user can read, otherwise when the user uploaded it.
pub fn readable(store: &Store, access: &Access, attachment: &Record) -> bool {
    let text = |k: &str| attachment.get(k).and_then(Value::as_str);
    let parent = match (text("parentType"), text("parentId")) {
        (Some(t), Some(i)) => Some((t, i)),
        _ => text("relatedType").zip(text("relatedId")),
    };
    if let Some((parent_type, parent_id)) = parent
        && let Some(parent) = store.get(parent_type, parent_id)
    {
        let through_parent = if parent_type == "Note" {
            note_readable(store, access, parent)
        } else {
            access.covers(parent_type, Action::Read, parent)
        };
        if through_parent {
            return true;
        }
    }
    access.covers("Attachment", Action::Read, attachment)
}

/// A note lends its attachments to whoever can read the record it is posted on (or to all,
/// for a post to everyone).
fn note_readable(store: &Store, access: &Access, note: &Record) -> bool {
    let text = |k: &str| note.get(k).and_then(Value::as_str);
    if text("targetType") == Some("all") {
        return true;
    }
    match (text("parentType"), text("parentId")) {
        (Some(t), Some(i)) => store
            .get(t, i)
            .is_some_and(|p| access.covers(t, Action::Read, p)),
        _ => false,
    }
}

/// The `attachmentMultiple` fields of `entity` whose `{field}Ids` a save sets, with the ids.
pub fn requested(entity: &EntityDef, values: &Map<String, Value>) -> Vec<(String, Vec<String>)> {
    entity
        .fields
        .iter()
        .filter(|(_, def)| def.kind == "attachmentMultiple")
        .filter_map(|(field, _)| {
            let ids = values.get(&format!("{field}Ids"))?;
            let ids = ids
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            Some((field.clone(), ids))
        })
        .collect()
}

/// Before a save that sets `{field}Ids`: each newly named attachment must exist and be
/// readable by the caller (EspoCRM's `Record\Access\LinkCheck`, 403 with its reasons).
pub fn check_adoptable(
    store: &Store,
    access: &Access,
    entity: &EntityDef,
    id: Option<&str>,
    values: &Map<String, Value>,
) -> Result<(), ApiError> {
    for (field, ids) in requested(entity, values) {
        let current = id.map(|i| owned(store, &entity.name, i, &field));
        for attachment_id in &ids {
            if current.as_ref().is_some_and(|c| c.contains(attachment_id)) {
                continue;
            }
            let Some(attachment) = store.get("Attachment", attachment_id) else {
                return Err(ApiError::cannot_relate(&entity.name, &field, "Attachment"));
            };
            if !readable(store, access, attachment) {
                return Err(ApiError::forbidden(format!(
                    "No foreign record access for link operation ({}:{field}).",
                    entity.name
                ))
                .with_body(
                    json!({"messageTranslation": {"label": "cannotRelateForbidden",
                    "scope": null, "data": {"foreignEntityType": "Attachment", "action": "read"}}}),
                ));
            }
        }
    }
    Ok(())
}

/// Makes `ids` the attachments of `entity_type/id`'s `field`: each becomes the record's child
/// (`parentType`, `parentId`, `field`); those no longer named lose their parent (none on a
/// create). A type with a `hasAttachment` flag (Email) gets it set from the result.
pub fn adopt(store: &mut Store, entity_type: &str, id: &str, field: &str, ids: &[String]) {
    for old in owned(store, entity_type, id, field) {
        if !ids.contains(&old)
            && let Some(a) = store.record_mut_public("Attachment", &old)
        {
            a.insert("parentId".into(), Value::Null);
        }
    }
    for attachment_id in ids {
        if let Some(a) = store.record_mut_public("Attachment", attachment_id) {
            a.insert("parentType".into(), json!(entity_type));
            a.insert("parentId".into(), json!(id));
            a.insert("field".into(), json!(field));
        }
    }
    let has_any = !owned(store, entity_type, id, "attachments").is_empty();
    if let Some(record) = store.record_mut_public(entity_type, id)
        && record.contains_key("hasAttachment")
    {
        record.insert("hasAttachment".into(), json!(has_any));
    }
}

/// Ids of the attachments `entity_type/id` holds in `field`, oldest first.
pub fn owned(store: &Store, entity_type: &str, id: &str, field: &str) -> Vec<String> {
    let mut found: Vec<(String, String)> = store
        .all("Attachment")
        .filter(|(_, a)| {
            let text = |k: &str| a.get(k).and_then(Value::as_str);
            text("parentType") == Some(entity_type)
                && text("parentId") == Some(id)
                && text("field").is_none_or(|f| f == field)
        })
        .map(|(i, a)| {
            let created = a
                .get("createdAt")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            (created, i.clone())
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, i)| i).collect()
}

/// `{field}Ids`, `{field}Names` or `{field}Types` of an `attachmentMultiple` field.
pub fn field_value(store: &Store, entity_type: &str, id: &str, field: &str, suffix: &str) -> Value {
    let ids = owned(store, entity_type, id, field);
    let of = |attribute: &str| -> Value {
        Value::Object(
            ids.iter()
                .map(|i| {
                    let v = store
                        .get("Attachment", i)
                        .and_then(|a| a.get(attribute))
                        .cloned()
                        .unwrap_or(Value::Null);
                    (i.clone(), v)
                })
                .collect(),
        )
    };
    match suffix {
        "Ids" => json!(ids),
        "Names" => of("name"),
        "Types" => of("type"),
        _ => Value::Null,
    }
}

/// The `Content-Type` of a download: the upload's type; PHP adds the charset to text types.
pub fn content_type(kind: Option<&str>) -> String {
    match kind.filter(|k| !k.is_empty()) {
        Some(k) if k.starts_with("text/") && !k.contains("charset") => {
            format!("{k};charset=UTF-8")
        }
        Some(k) => k.to_owned(),
        None => "application/octet-stream".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_uris_decode_like_php() {
        let ok = json!("data:text/plain;base64,YWJj");
        assert_eq!(decode_data_uri(Some(&ok)).unwrap(), b"abc");
        // Unpadded and with line breaks, as PHP's lenient decoder accepts.
        let loose = json!("data:text/plain;base64,YW\nJjZA");
        assert_eq!(decode_data_uri(Some(&loose)).unwrap(), b"abcd");
        let reason = |v: Option<&Value>| decode_data_uri(v).unwrap_err().reason;
        assert_eq!(reason(None).as_deref(), Some("No file contents."));
        assert_eq!(
            reason(Some(&json!(5))).as_deref(),
            Some("Non-string file contents.")
        );
        assert_eq!(
            reason(Some(&json!("no comma"))).as_deref(),
            Some("Bad file contents.")
        );
    }

    #[test]
    fn files_keep_a_running_total_under_the_cap() {
        let mut files = Files::default();
        assert!(files.put("a", vec![0; 10]));
        assert!(files.put("b", vec![0; 5]));
        assert_eq!(files.total(), 15);
        assert!(files.put("a", vec![0; 3]));
        assert_eq!(files.total(), 8);
        assert!(!files.put("c", vec![0; MAX_TOTAL_BYTES]));
        assert_eq!(files.get("c"), None);
        files.remove("b");
        assert_eq!(files.total(), 3);
        assert_eq!(files.get("a"), Some(&[0u8, 0, 0][..]));
    }

    #[test]
    fn text_downloads_carry_the_charset() {
        assert_eq!(content_type(Some("text/plain")), "text/plain;charset=UTF-8");
        assert_eq!(content_type(Some("application/pdf")), "application/pdf");
        assert_eq!(content_type(None), "application/octet-stream");
    }
}
