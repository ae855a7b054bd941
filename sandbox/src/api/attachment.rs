//! Attachments over HTTP: uploading a file as a data URI (`POST Attachment`), reading an
//! attachment's record (`GET Attachment/{id}`) and its bytes (`GET Attachment/file/{id}`), and
//! the refusals a real EspoCRM gives (listing is for administrators only; another user's file
//! is readable only through a record the caller can read), and, from EspoCRM 10 on, the files
//! posted in a record's stream (`GET {E}/{id}/streamAttachments`). The bytes and the ownership
//! rules live in [`crate::attachments`].

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::Value;

use super::{ApiState, Request, entity_for, now, ok, render_ok};
use crate::acl::Action;
use crate::attachments;
use crate::error::ApiError;
use crate::store::AttributeSet;
use crate::version::EspoVersion;

/// The attributes of an upload's answer (recorded), before those the request named
/// (`relatedType`); `modifiedAt` goes after `createdAt` where the version has it.
const UPLOAD_ATTRIBUTES: &[&str] = &[
    "id",
    "name",
    "deleted",
    "type",
    "size",
    "field",
    "isBeingUploaded",
    "createdAt",
    "role",
    "storage",
    "storageFilePath",
    "global",
    "parentType",
    "parentName",
    "relatedName",
    "createdById",
    "createdByName",
];

/// The attributes of `GET Attachment/{id}` (recorded): metadata only, never the contents.
const DETAIL_ATTRIBUTES: &[&str] = &[
    "id",
    "name",
    "deleted",
    "type",
    "size",
    "field",
    "isBeingUploaded",
    "createdAt",
    "role",
    "storage",
    "storageFilePath",
    "global",
    "parentId",
    "parentType",
    "parentName",
    "relatedId",
    "relatedType",
    "relatedName",
    "sourceId",
    "createdById",
    "createdByName",
];

/// Where EspoCRM's uploads live (`defaultFileStorage`).
const STORAGE: &str = "EspoUploadDir";

/// An attribute list, with `modifiedAt` after `createdAt` when the version answers with it.
fn attribute_list(base: &[&str], with_modified_at: bool) -> Vec<String> {
    let mut out = Vec::with_capacity(base.len() + 1);
    for a in base {
        out.push((*a).to_owned());
        if *a == "createdAt" && with_modified_at {
            out.push("modifiedAt".to_owned());
        }
    }
    out
}

/// Whether Attachment answers carry `modifiedAt` (EspoCRM 10 does).
fn has_modified_at(req: &Request<'_>) -> bool {
    req.version.at_least(EspoVersion::V10_0)
}

/// `POST Attachment`: `{name, type, role, parentType|relatedType, field, file: "data:…;base64,…"}`.
/// The answer is the new Attachment, with no parent id yet: a later save of the owning record
/// with `{field}Ids` adopts it.
pub fn upload(state: &ApiState, req: &Request<'_>) -> Result<Response, ApiError> {
    req.access.require("Attachment", Action::Create)?;
    let meta = req.meta();
    let entity = meta.entity("Attachment").ok_or_else(ApiError::internal)?;
    let mut body = req.json_object()?;
    // EspoCRM's CreateInputFilter: the parent is set only by the owner's save.
    body.remove("parentId");
    body.remove("relatedId");
    let being_uploaded = body
        .get("isBeingUploaded")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let contents = if being_uploaded {
        Vec::new()
    } else {
        attachments::decode_data_uri(body.get("file"))?
    };
    if body.get("parentType").is_some_and(|v| !v.is_null()) {
        body.remove("relatedType");
    }
    let target = attachments::check_target(meta, &req.access, &body)?;
    attachments::check_size(&contents)?;
    let mut store = state.store();
    if !store.files.fits(contents.len()) {
        return Err(ApiError::internal());
    }
    for derived in [
        "file",
        "contents",
        "size",
        "storage",
        "storageFilePath",
        "sourceId",
    ] {
        body.remove(derived);
    }
    body.insert("size".into(), contents.len().into());
    body.insert("storage".into(), STORAGE.into());
    body.insert("role".into(), target.role.clone().into());
    body.insert("field".into(), target.field.clone().into());
    let id = store.create(entity, &body, &req.actor(), now(), false)?;
    store.files.put(&id, contents);
    let mut attributes = attribute_list(UPLOAD_ATTRIBUTES, has_modified_at(req));
    if body.get("relatedType").is_some_and(|v| !v.is_null()) {
        attributes.push("relatedType".to_owned());
    }
    render_ok(
        &store,
        entity,
        &id,
        AttributeSet::Only(&attributes),
        &req.caller.user_id,
    )
}

/// `GET Attachment`: administrators list them as any record; everyone else gets EspoCRM's
/// 403 with an empty reason.
pub fn list(state: &ApiState, req: &Request<'_>) -> Result<Response, ApiError> {
    if !req.caller.is_admin {
        return Err(ApiError::forbidden(""));
    }
    super::records::list(state, req, "Attachment")
}

/// `GET Attachment/{id}`: the record without its contents.
pub fn read(state: &ApiState, req: &Request<'_>, id: &str) -> Result<Response, ApiError> {
    req.access.require("Attachment", Action::Read)?;
    let entity = req
        .meta()
        .entity("Attachment")
        .ok_or_else(ApiError::internal)?;
    let store = state.store();
    let Some(attachment) = store.get("Attachment", id) else {
        return Err(ApiError::not_found(format!("Record {id} does not exist.")));
    };
    if !attachments::readable(&store, &req.access, attachment) {
        return Err(ApiError::forbidden("No 'read' access."));
    }
    let attributes = attribute_list(DETAIL_ATTRIBUTES, has_modified_at(req));
    render_ok(
        &store,
        entity,
        id,
        AttributeSet::Only(&attributes),
        &req.caller.user_id,
    )
}

/// `GET Attachment/file/{id}`: the bytes as uploaded, with the upload's type and a download
/// disposition. Failures are EspoCRM's action errors: `text/html`, empty body.
pub fn file(state: &ApiState, req: &Request<'_>, id: &str) -> Result<Response, ApiError> {
    req.access
        .require("Attachment", Action::Read)
        .map_err(ApiError::html)?;
    let store = state.store();
    let Some(attachment) = store.get("Attachment", id) else {
        return Err(ApiError::not_found("").html());
    };
    if !attachments::readable(&store, &req.access, attachment) {
        return Err(ApiError::forbidden("No 'read' access.").html());
    }
    let name = attachment
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let content_type = attachments::content_type(attachment.get("type").and_then(Value::as_str));
    let bytes = store.files.get(id).unwrap_or_default().to_vec();
    // The JSON answer's caching headers, then the file's own.
    let mut response = ok(Value::Null);
    *response.status_mut() = StatusCode::OK;
    *response.body_mut() = Body::from(bytes);
    let headers = response.headers_mut();
    headers.remove(header::PRAGMA);
    let disposition = format!("attachment; filename=\"{}\"", name.replace('"', ""));
    let disposition = HeaderValue::from_str(&disposition)
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    headers.insert(header::CONTENT_DISPOSITION, disposition);
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    Ok(response)
}

/// The attributes of a `streamAttachments` item (EspoCRM 10's select).
const STREAM_ATTACHMENT_ATTRIBUTES: &[&str] = &[
    "id",
    "name",
    "type",
    "size",
    "createdAt",
    "parentId",
    "parentType",
    "createdById",
    "createdByName",
];

/// `GET {E}/{id}/streamAttachments` (EspoCRM 9.1 and later): the files attached to the notes
/// of the record's stream (its own and those of its children), newest first, paged. Needs
/// stream access to the record, as reading its stream does.
pub fn stream_attachments(
    state: &ApiState,
    req: &Request<'_>,
    segment: &str,
    id: &str,
) -> Result<Response, ApiError> {
    let entity = entity_for(req, segment, Action::Read)?;
    let attachment = req
        .meta()
        .entity("Attachment")
        .ok_or_else(ApiError::internal)?;
    let store = state.store();
    let Some(record) = store.get(&entity.name, id) else {
        return Err(ApiError::not_found("Record not found."));
    };
    if entity.name == "User" || !req.access.covers(&entity.name, Action::Stream, record) {
        return Err(ApiError::forbidden("No 'stream' access."));
    }
    let in_stream = |note: &crate::store::Record| {
        let text = |k: &str| note.get(k).and_then(Value::as_str);
        (text("parentType") == Some(&entity.name) && text("parentId") == Some(id))
            || (text("superParentType") == Some(&entity.name) && text("superParentId") == Some(id))
    };
    let mut found: Vec<(String, String)> = store
        .all("Attachment")
        .filter(|(_, a)| {
            a.get("parentType").and_then(Value::as_str) == Some("Note")
                && a.get("parentId")
                    .and_then(Value::as_str)
                    .and_then(|note| store.get("Note", note))
                    .is_some_and(in_stream)
        })
        .map(|(i, a)| {
            let created = a.get("createdAt").and_then(Value::as_str).unwrap_or("");
            (created.to_owned(), i.clone())
        })
        .collect();
    found.sort_by(|a, b| b.cmp(a));
    let (offset, max) = req.page();
    let attributes: Vec<String> = STREAM_ATTACHMENT_ATTRIBUTES
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
    let list: Vec<Value> = found
        .iter()
        .skip(offset)
        .take(max)
        .filter_map(|(_, i)| {
            store.render(
                attachment,
                i,
                AttributeSet::Only(&attributes),
                &req.caller.user_id,
            )
        })
        .map(Value::Object)
        .collect();
    Ok(ok(serde_json::json!({"total": found.len(), "list": list})))
}
