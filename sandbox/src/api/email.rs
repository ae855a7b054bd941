//! E-mails (`Email`): drafts an API user writes (`POST Email`, the addresses it may send from,
//! the failure of sending without SMTP), archived e-mails stored on records, and what one user
//! sees of them: its own e-mails only under an "own" role, per-user folder state (`isRead` is
//! set by the first read), and the attribute sets EspoCRM's Email detail, list and related-list
//! views carry (`GET Email/{id}`, `GET Email`, `GET {E}/{id}/emails`).
//!
//! Who is a user of an e-mail (EspoCRM's `email_user` rows, kept on the record as `usersIds`
//! with one `usersColumns` entry per user): the author of a non-admin draft, every user whose
//! address is in `to` (also an assigned user), `cc` or `bcc`. "Own" reading is through them.
//!
//! # The 8.4 role conflict (API-NOTES-10 §0)
//! The agent's role has Email read/edit "own" in both versions. The original 8.4.2 recording
//! was made while the role had Email create only, and two of its exchanges answer the
//! scope-level 403 `No read access.`: `10-email-list-forbidden` (`GET Email` with no `where`)
//! and `10-email-read-forbidden` (the administrator's draft). The later 8.4.2 exchanges (group
//! 21) need "own": 200 for the agent's e-mails and the record-level `No 'read' access.` for one
//! it is not a user of. In 8.4 mode the sandbox deliberately imitates both recordings: an
//! unfiltered `GET Email` by a user without Email read "all", and a denied read of a Draft,
//! answer `No read access.`; everything else follows "own". 10.0 mode is plain "own".

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::{ApiState, Request, entity_for, now, ok, render_ok};
use crate::acl::Action;
use crate::error::ApiError;
use crate::list::{self, ListContext, ListParams};
use crate::model::EntityDef;
use crate::store::{AttributeSet, Record, Store};
use crate::version::EspoVersion;
use crate::where_clause;

/// The addresses a user may pick as an Email's `from` (own first, then the system address).
pub fn email_address_list(store: &Store, state: &ApiState, user_id: &str) -> Vec<String> {
    let mut out: Vec<String> = store
        .get("User", user_id)
        .and_then(|u| u.get("emailAddress"))
        .and_then(Value::as_str)
        .map(|s| vec![s.to_owned()])
        .unwrap_or_default();
    out.push(state.system_email.clone());
    out
}

/// Whether the sandbox answers as EspoCRM 10.0 (otherwise 8.4).
fn is_10(req: &Request<'_>) -> bool {
    req.version.at_least(EspoVersion::V10_0)
}

/// `POST Email`: drafts and archived e-mails are stored; `status: Sending` fails as EspoCRM
/// without SMTP does (8.4: 500 `sendingFail` with the id; 10.0: 500 with neither reason nor
/// body), keeping the email as a Draft. Non-admins may only send from their own addresses.
pub fn create_email(state: &ApiState, req: &Request<'_>) -> Result<Response, ApiError> {
    req.access.require("Email", Action::Create)?;
    let v10 = is_10(req);
    let meta = req.meta();
    let entity = meta.entity("Email").ok_or_else(ApiError::internal)?;
    let mut data = req.json_object()?;
    let sending = data.get("status").and_then(Value::as_str) == Some("Sending");
    if sending || data.get("status").is_none() {
        data.insert("status".into(), json!("Draft"));
    }
    let mut store = state.store();
    let from = data
        .get("from")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_lowercase();
    if !from.is_empty() && !req.caller.is_admin {
        let own: Vec<String> = email_address_list(&store, state, &req.caller.user_id)
            .into_iter()
            .filter(|a| *a != state.system_email)
            .map(|a| a.to_lowercase())
            .collect();
        if !own.contains(&from) {
            return Err(ApiError::forbidden("Not allowed 'from' address."));
        }
    }
    let subject = data.get("subject").cloned().unwrap_or(Value::Null);
    data.insert("name".into(), subject);
    crate::attachments::check_adoptable(&store, &req.access, entity, None, &data)?;
    let id = store.create(entity, &data, &req.actor(), now(), false)?;
    fill_email_addresses(&mut store, &id, req);
    if v10 {
        fill_v10_attributes(&mut store, &id);
    }
    if sending {
        if v10 {
            return Err(ApiError::internal());
        }
        return Err(
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "sendingFail")
                .with_body(json!({"id": id, "message": "No system SMTP settings."})),
        );
    }
    let mut echoed: Vec<String> = data
        .keys()
        .filter(|k| entity.has_attribute(k))
        .cloned()
        .collect();
    for k in ["to", "cc", "isHtml"] {
        echoed.push(k.to_owned());
    }
    if !req.caller.is_admin {
        echoed.extend(["inArchive", "inTrash", "isImportant"].map(str::to_owned));
        if !v10 {
            echoed.push("sentById".to_owned());
        }
    }
    let stored = store.get("Email", &id);
    for k in ["accountId", "bodyPlain", "isAutoReply"] {
        if stored.and_then(|r| r.get(k)).is_some_and(|v| !v.is_null()) {
            echoed.push(k.to_owned());
        }
    }
    render_ok(
        &store,
        entity,
        &id,
        AttributeSet::Create(&echoed),
        &req.caller.user_id,
    )
}

/// The addresses of one address attribute (`to`, `cc`, …: `;`-separated).
fn addresses(record: &Record, attribute: &str) -> Vec<String> {
    record
        .get(attribute)
        .and_then(Value::as_str)
        .map(|s| {
            s.split(';')
                .map(|a| a.trim().to_owned())
                .filter(|a| !a.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// The user whose address this is, if any.
fn user_of_address(store: &Store, address: &str) -> Option<String> {
    store
        .all("User")
        .find(|(_, u)| {
            u.get("emailAddress")
                .and_then(Value::as_str)
                .is_some_and(|e| e.eq_ignore_ascii_case(address))
        })
        .map(|(id, _)| id.clone())
}

/// The person (User, Contact, Lead, Account) an address belongs to: type, id, name.
fn person_of_address(store: &Store, address: &str) -> Option<(&'static str, String, Value)> {
    ["User", "Contact", "Lead", "Account"]
        .into_iter()
        .find_map(|scope| {
            store.all(scope).find_map(|(pid, r)| {
                r.get("emailAddress")
                    .and_then(Value::as_str)
                    .is_some_and(|e| e.eq_ignore_ascii_case(address))
                    .then(|| {
                        (
                            scope,
                            pid.clone(),
                            r.get("name").cloned().unwrap_or(Value::Null),
                        )
                    })
            })
        })
}

/// A user's folder state of an e-mail as EspoCRM creates its `email_user` row.
fn new_user_columns() -> Value {
    json!({"isRead": false, "isImportant": false, "inTrash": false, "inArchive": false,
           "folderId": null})
}

/// The address bookkeeping EspoCRM does for an Email: ids of the addresses, the person each
/// address belongs to, its users (the non-admin author; users in `to`, who are also assigned;
/// users in `cc` and `bcc`), and the account of its parent.
fn fill_email_addresses(store: &mut Store, id: &str, req: &Request<'_>) {
    let Some(email) = store.get("Email", id).cloned() else {
        return;
    };
    let mut name_hash = Map::new();
    let mut type_hash = Map::new();
    let mut id_hash = Map::new();
    let mut address_ids =
        |store: &mut Store, addresses: &[String]| -> (Vec<Value>, Map<String, Value>) {
            let mut ids = Vec::new();
            let mut names = Map::new();
            for a in addresses {
                let aid = store.email_address_id(a);
                ids.push(json!(aid));
                names.insert(aid, json!(a));
                if let Some((scope, pid, name)) = person_of_address(store, a) {
                    name_hash.insert(a.clone(), name);
                    type_hash.insert(a.clone(), json!(scope));
                    id_hash.insert(a.clone(), json!(pid));
                }
            }
            (ids, names)
        };
    let from = addresses(&email, "from");
    let to = addresses(&email, "to");
    let copies: Vec<String> = addresses(&email, "cc")
        .into_iter()
        .chain(addresses(&email, "bcc"))
        .collect();
    let (from_ids, _) = address_ids(store, &from);
    let (to_ids, to_names) = address_ids(store, &to);
    let (cc_ids, cc_names) = address_ids(store, &addresses(&email, "cc"));
    let (bcc_ids, bcc_names) = address_ids(store, &addresses(&email, "bcc"));
    let me = req.caller.user_id.clone();
    // A non-admin's draft belongs to its author (EspoCRM puts it in the author's folders);
    // an administrator's is nobody's.
    let owned = !req.caller.is_admin;
    let mut users: Vec<String> = Vec::new();
    let mut assigned: Vec<String> = Vec::new();
    if owned {
        users.push(me.clone());
        assigned.push(me.clone());
    }
    for address in &to {
        if let Some(user) = user_of_address(store, address) {
            if !users.contains(&user) {
                users.push(user.clone());
            }
            if !assigned.contains(&user) {
                assigned.push(user);
            }
        }
    }
    for address in &copies {
        if let Some(user) = user_of_address(store, address)
            && !users.contains(&user)
        {
            users.push(user);
        }
    }
    let assigned_names: Map<String, Value> = assigned
        .iter()
        .map(|u| {
            let name = store
                .name_of("User", u)
                .map(Value::String)
                .unwrap_or(Value::Null);
            (u.clone(), name)
        })
        .collect();
    let columns: Map<String, Value> = users
        .iter()
        .map(|u| (u.clone(), new_user_columns()))
        .collect();
    let account = parent_account(store, &email);
    let Some(record) = store.record_mut_public("Email", id) else {
        return;
    };
    record.insert(
        "fromEmailAddressId".into(),
        from_ids.first().cloned().unwrap_or(Value::Null),
    );
    record.insert(
        "fromEmailAddressName".into(),
        from.first().map(|a| json!(a)).unwrap_or(Value::Null),
    );
    record.insert("toEmailAddressesIds".into(), json!(to_ids));
    record.insert("toEmailAddressesNames".into(), Value::Object(to_names));
    record.insert("ccEmailAddressesIds".into(), json!(cc_ids));
    record.insert("ccEmailAddressesNames".into(), Value::Object(cc_names));
    record.insert("bccEmailAddressesIds".into(), json!(bcc_ids));
    record.insert("bccEmailAddressesNames".into(), Value::Object(bcc_names));
    record.insert("nameHash".into(), Value::Object(name_hash));
    record.insert("typeHash".into(), Value::Object(type_hash));
    record.insert("idHash".into(), Value::Object(id_hash));
    record.insert("usersIds".into(), json!(users));
    record.insert("usersColumns".into(), Value::Object(columns));
    // The create answer's `usersNames` is empty, as recorded; reads name them.
    record.insert("usersNames".into(), json!({}));
    record.insert("assignedUsersIds".into(), json!(assigned));
    record.insert("assignedUsersNames".into(), Value::Object(assigned_names));
    record.insert("isUsers".into(), json!(owned));
    record.insert("isUsersSent".into(), json!(owned));
    record.insert(
        "sentById".into(),
        if owned {
            json!(me.clone())
        } else {
            Value::Null
        },
    );
    if let Some(account) = account {
        record.insert("accountId".into(), json!(account));
    }
    record.insert("messageId".into(), json!(format!("dummy:{id}")));
    record.entry("isRead").or_insert(json!(true));
    record.entry("isNotRead").or_insert(json!(false));
    record.entry("isReplied").or_insert(json!(false));
    record.entry("isNotReplied").or_insert(json!(true));
    record.entry("isImportant").or_insert(json!(false));
    record.entry("inTrash").or_insert(json!(false));
    record.entry("inArchive").or_insert(json!(false));
    record.entry("hasAttachment").or_insert(json!(false));
    record.entry("isSystem").or_insert(json!(false));
    record.entry("isJustSent").or_insert(json!(false));
    record.entry("isBeingImported").or_insert(json!(false));
    record.entry("isHtml").or_insert(json!(true));
    record.entry("to").or_insert(Value::Null);
    record.entry("cc").or_insert(Value::Null);
    record.entry("bcc").or_insert(Value::Null);
}

/// The account an e-mail belongs to through its parent: the Account itself, or the parent's
/// account (a Case's, a Contact's, an Opportunity's).
fn parent_account(store: &Store, email: &Record) -> Option<String> {
    let parent_type = email.get("parentType").and_then(Value::as_str)?;
    let parent_id = email.get("parentId").and_then(Value::as_str)?;
    if parent_type == "Account" {
        return store
            .exists("Account", parent_id)
            .then(|| parent_id.to_owned());
    }
    store
        .get(parent_type, parent_id)?
        .get("accountId")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// What 10.0 stores besides: the plain-text body of an HTML e-mail (Markdown-like), and the
/// auto-reply flag.
fn fill_v10_attributes(store: &mut Store, id: &str) {
    let Some(record) = store.record_mut_public("Email", id) else {
        return;
    };
    let html = record.get("isHtml").and_then(Value::as_bool) != Some(false);
    if html && let Some(body) = record.get("body").and_then(Value::as_str) {
        let plain = html_to_markdown(body);
        record.insert("bodyPlain".into(), json!(plain));
    }
    record.insert("isAutoReply".into(), json!(false));
}

// ------------------------------------------------------------------ what one user sees

/// The attributes of an Email's detail view (`GET Email/{id}`), 8.4.2's order. `users*` are
/// listed only to a viewer who is not among the assigned users (as recorded:
/// `21-email-read-plain` has them, `21-email-read-html` not).
const DETAIL: &[&str] = &[
    "id",
    "name",
    "deleted",
    "subject",
    "fromName",
    "fromAddress",
    "fromString",
    "replyToString",
    "replyToName",
    "replyToAddress",
    "addressNameMap",
    "from",
    "to",
    "cc",
    "bcc",
    "replyTo",
    "isRead",
    "isReplied",
    "isImportant",
    "inTrash",
    "inArchive",
    "folderId",
    "isUsers",
    "isUsersSent",
    "nameHash",
    "typeHash",
    "idHash",
    "messageId",
    "messageIdInternal",
    "bodyPlain",
    "body",
    "isHtml",
    "status",
    "hasAttachment",
    "dateSent",
    "deliveryDate",
    "sendAt",
    "isAutoReply",
    "createdAt",
    "modifiedAt",
    "isSystem",
    "icsContents",
    "icsEventUid",
    "groupStatusFolder",
    "fromEmailAddressId",
    "fromEmailAddressName",
    "toEmailAddressesIds",
    "toEmailAddressesNames",
    "ccEmailAddressesIds",
    "ccEmailAddressesNames",
    "bccEmailAddressesIds",
    "bccEmailAddressesNames",
    "replyToEmailAddressesIds",
    "replyToEmailAddressesNames",
    "attachmentsIds",
    "attachmentsNames",
    "parentId",
    "parentType",
    "parentName",
    "createdById",
    "createdByName",
    "sentById",
    "sentByName",
    "modifiedById",
    "modifiedByName",
    "assignedUserId",
    "assignedUserName",
    "repliedId",
    "repliedName",
    "repliesIds",
    "repliesNames",
    "repliesColumns",
    "teamsIds",
    "teamsNames",
    "usersIds",
    "usersNames",
    "assignedUsersIds",
    "assignedUsersNames",
    "createdEventId",
    "createdEventType",
    "createdEventName",
    "groupFolderId",
    "groupFolderName",
    "accountId",
    "accountName",
    "tasksIds",
    "tasksNames",
    "tasksColumns",
    "attachmentsTypes",
];

/// Attributes 10.0 added (`sendAt`, `isAutoReply`, `groupStatusFolder`).
const ONLY_10: &[&str] = &["sendAt", "isAutoReply", "groupStatusFolder"];

/// A list row without `select` (`GET {E}/{id}/emails`, `GET Email`): the detail attributes
/// without the address texts and hashes and without the multiple links.
const LIST: &[&str] = &[
    "id",
    "name",
    "deleted",
    "subject",
    "fromName",
    "fromAddress",
    "fromString",
    "replyToString",
    "replyToName",
    "replyToAddress",
    "addressNameMap",
    "personStringData",
    "isRead",
    "isReplied",
    "isImportant",
    "inTrash",
    "inArchive",
    "folderId",
    "isUsers",
    "messageId",
    "messageIdInternal",
    "bodyPlain",
    "body",
    "isHtml",
    "status",
    "hasAttachment",
    "dateSent",
    "deliveryDate",
    "sendAt",
    "isAutoReply",
    "createdAt",
    "modifiedAt",
    "isSystem",
    "icsContents",
    "icsEventUid",
    "groupStatusFolder",
    "fromEmailAddressId",
    "fromEmailAddressName",
    "parentId",
    "parentType",
    "parentName",
    "createdById",
    "createdByName",
    "sentById",
    "sentByName",
    "modifiedById",
    "modifiedByName",
    "assignedUserId",
    "assignedUserName",
    "repliedId",
    "repliedName",
    "createdEventId",
    "createdEventType",
    "createdEventName",
    "groupFolderId",
    "groupFolderName",
    "accountId",
    "accountName",
];

/// What a list row carries besides the selected attributes when `select` is given (EspoCRM's
/// Email list view needs them); 10.0 adds `isAutoReply` and `groupStatusFolder`.
const SELECT_DEPENDENCIES: &[&str] = &[
    "id",
    "name",
    "fromName",
    "fromAddress",
    "fromString",
    "replyToString",
    "replyToName",
    "replyToAddress",
    "personStringData",
    "isRead",
    "isReplied",
    "isImportant",
    "inTrash",
    "inArchive",
    "folderId",
    "isUsers",
    "messageId",
    "isHtml",
    "status",
    "hasAttachment",
    "dateSent",
    "isAutoReply",
    "groupStatusFolder",
    "fromEmailAddressId",
    "fromEmailAddressName",
    "parentId",
    "parentType",
    "parentName",
    "createdById",
    "sentById",
    "assignedUserId",
    "createdEventName",
    "groupFolderId",
    "accountId",
];

/// Which of the Email views a rendering is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    Detail,
    /// `GET {E}/{id}/emails` without `select`.
    RelatedList,
    /// `GET Email` without `select`: the recipients instead of `personStringData` (10.0 recording).
    List,
}

/// The attribute names of one view, in order, for this version and viewer.
fn view_attributes(view: View, v10: bool, with_users: bool) -> Vec<String> {
    let base: &[&str] = match view {
        View::Detail => DETAIL,
        View::RelatedList | View::List => LIST,
    };
    let mut out = Vec::new();
    for name in base {
        if !v10 && ONLY_10.contains(name) {
            continue;
        }
        if view == View::Detail && !with_users && matches!(*name, "usersIds" | "usersNames") {
            continue;
        }
        if view == View::List && *name == "personStringData" {
            continue;
        }
        out.push((*name).to_owned());
        if view == View::List && *name == "fromEmailAddressName" {
            out.extend(["toEmailAddressesIds", "toEmailAddressesNames"].map(str::to_owned));
        }
    }
    out
}

/// A row's attributes for a `select`: the selected ones and the dependencies, in the detail
/// view's order (`personStringData` after the reply-to attributes, as recorded); selected names
/// the detail view lacks come last, unknown ones and another version's are dropped.
fn select_attributes(entity: &EntityDef, select: &[String], v10: bool) -> Vec<String> {
    let known = |name: &str| v10 || !ONLY_10.contains(&name);
    let wanted =
        |name: &str| SELECT_DEPENDENCIES.contains(&name) || select.iter().any(|s| s == name);
    let mut out: Vec<String> = Vec::new();
    for name in DETAIL {
        if wanted(name) && known(name) {
            out.push((*name).to_owned());
        }
        if *name == "replyToAddress" && wanted("personStringData") {
            out.push("personStringData".to_owned());
        }
    }
    for name in select {
        if !out.contains(name) && entity.has_attribute(name) && known(name) {
            out.push(name.clone());
        }
    }
    out
}

/// The user's own address(es), lower-cased.
fn addresses_of_user(store: &Store, user_id: &str) -> Vec<String> {
    store
        .get("User", user_id)
        .and_then(|u| u.get("emailAddress"))
        .and_then(Value::as_str)
        .map(|a| vec![a.to_lowercase()])
        .unwrap_or_default()
}

/// The e-mail as `viewer` sees it: the stored record with the viewer's folder state
/// (`isRead`, `isImportant`, `inTrash`, `inArchive`, `folderId`, `isUsers`), the values EspoCRM
/// computes on load (`personStringData`, `bodyPlain`, names of the users) and the version's
/// constants (8.4 `fromAddress` `""`, 10.0 null; 10.0's `isAutoReply`, `sendAt`,
/// `groupStatusFolder`).
fn as_seen_by(store: &Store, record: &Record, viewer: &str, v10: bool) -> Record {
    let mut seen = record.clone();
    let users = ids_of(record, "usersIds");
    let is_user = users.iter().any(|u| u == viewer);
    let columns = record
        .get("usersColumns")
        .and_then(|c| c.get(viewer))
        .cloned()
        .unwrap_or(Value::Null);
    let column = |k: &str| columns.get(k).cloned().unwrap_or(Value::Null);
    if is_user {
        let read = column("isRead").as_bool().unwrap_or(false);
        seen.insert("isRead".into(), json!(read));
        seen.insert("isNotRead".into(), json!(!read));
        for k in ["isImportant", "inTrash", "inArchive", "folderId"] {
            seen.insert(k.into(), column(k));
        }
    } else {
        // No folder of the viewer holds it: read, and no folder flags.
        seen.insert("isRead".into(), json!(true));
        seen.insert("isNotRead".into(), json!(false));
        for k in ["isImportant", "inTrash", "inArchive", "folderId"] {
            seen.insert(k.into(), Value::Null);
        }
    }
    seen.insert("isUsers".into(), json!(is_user));
    let own_addresses = addresses_of_user(store, viewer);
    let from = record
        .get("fromEmailAddressName")
        .and_then(Value::as_str)
        .map(str::to_lowercase);
    let sent_by_viewer = from.as_ref().is_some_and(|f| own_addresses.contains(f))
        || record.get("sentById").and_then(Value::as_str) == Some(viewer);
    seen.insert("isUsersSent".into(), json!(sent_by_viewer));
    seen.insert(
        "personStringData".into(),
        person_string(store, record, viewer, &own_addresses),
    );
    if record.get("bodyPlain").is_none_or(Value::is_null) {
        let body = record.get("body").and_then(Value::as_str).unwrap_or("");
        let html = record.get("isHtml").and_then(Value::as_bool) != Some(false);
        let plain = match (html, v10) {
            (false, _) => body.to_owned(),
            (true, false) => strip_tags(body),
            (true, true) => html_to_markdown(body),
        };
        seen.insert("bodyPlain".into(), json!(plain));
    }
    seen.insert(
        "fromAddress".into(),
        if v10 { Value::Null } else { json!("") },
    );
    for k in ["fromName", "fromString"] {
        seen.entry(k).or_insert(Value::Null);
    }
    let names = |ids: &[String]| -> Value {
        Value::Object(
            ids.iter()
                .map(|u| {
                    let name = store
                        .name_of("User", u)
                        .map(Value::String)
                        .unwrap_or(Value::Null);
                    (u.clone(), name)
                })
                .collect(),
        )
    };
    seen.insert("usersNames".into(), names(&users));
    seen.insert(
        "assignedUsersNames".into(),
        names(&ids_of(record, "assignedUsersIds")),
    );
    if v10 {
        seen.entry("isAutoReply").or_insert(json!(false));
        seen.entry("sendAt").or_insert(Value::Null);
        seen.entry("groupStatusFolder").or_insert(Value::Null);
    }
    seen
}

fn ids_of(record: &Record, attribute: &str) -> Vec<String> {
    record
        .get(attribute)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The "person" column of EspoCRM's e-mail lists: for what the viewer sent, `To: ` and the
/// recipients (their names where known); otherwise the sender's name, or its address.
fn person_string(store: &Store, record: &Record, viewer: &str, own: &[String]) -> Value {
    let from = record
        .get("fromEmailAddressName")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let from_viewer = from
        .as_ref()
        .is_some_and(|f| own.contains(&f.to_lowercase()))
        || (record.get("createdById").and_then(Value::as_str) == Some(viewer)
            && record.get("status").and_then(Value::as_str) == Some("Sent"));
    let name_of = |address: &str| -> String {
        person_of_address(store, address)
            .and_then(|(_, _, name)| name.as_str().map(str::to_owned))
            .unwrap_or_else(|| address.to_owned())
    };
    if from_viewer {
        let to = addresses(record, "to");
        if to.is_empty() {
            return Value::Null;
        }
        let names: Vec<String> = to.iter().map(|a| name_of(a)).collect();
        return json!(format!("To: {}", names.join(", ")));
    }
    match from {
        Some(address) => json!(name_of(&address)),
        None => Value::Null,
    }
}

/// Renders one e-mail for `viewer` with the given attribute names.
fn render_email(
    store: &Store,
    entity: &EntityDef,
    id: &str,
    names: &[String],
    viewer: &str,
    v10: bool,
) -> Option<Map<String, Value>> {
    let record = store.get("Email", id)?;
    let seen = as_seen_by(store, record, viewer, v10);
    Some(
        names
            .iter()
            .map(|n| {
                (
                    n.clone(),
                    store.attribute_value(entity, id, &seen, n, viewer),
                )
            })
            .collect(),
    )
}

/// The 403 of a denied e-mail read: record-level, except for a Draft in 8.4 mode (see the
/// module documentation).
fn read_denied(record: &Record, v10: bool) -> ApiError {
    let draft = record.get("status").and_then(Value::as_str) == Some("Draft");
    if draft && !v10 {
        Action::Read.denied()
    } else {
        ApiError::forbidden("No 'read' access.")
    }
}

/// `GET Email/{id}`: the detail view for the caller; the first read by one of the e-mail's
/// users marks it read for that user (the answer still says unread).
pub fn read_email(state: &ApiState, req: &Request<'_>, id: &str) -> Result<Response, ApiError> {
    let entity = entity_for(req, "Email", Action::Read)?;
    let v10 = is_10(req);
    let viewer = req.caller.user_id.as_str();
    let mut store = state.store();
    let Some(record) = store.get("Email", id) else {
        return Err(ApiError::not_found(format!("Record {id} does not exist.")));
    };
    if !req.access.covers("Email", Action::Read, record) {
        return Err(read_denied(record, v10));
    }
    let assigned = ids_of(record, "assignedUsersIds")
        .iter()
        .any(|u| u == viewer);
    let names = view_attributes(View::Detail, v10, !assigned);
    let body = render_email(&store, entity, id, &names, viewer, v10)
        .ok_or_else(|| ApiError::not_found(format!("Record {id} does not exist.")))?;
    if let Some(columns) = store
        .record_mut_public("Email", id)
        .and_then(|r| r.get_mut("usersColumns"))
        .and_then(|c| c.get_mut(viewer))
        .and_then(Value::as_object_mut)
    {
        columns.insert("isRead".into(), json!(true));
    }
    Ok(ok(Value::Object(body)))
}

/// One e-mail as the `where` engine sees it: the viewer's own folder state (`isRead`, …),
/// so `where isRead = false` finds what this user has not read.
struct Seen<'a> {
    store: &'a Store,
    entity: &'a EntityDef,
    id: &'a str,
    record: Record,
    viewer: &'a str,
}

impl where_clause::Target for Seen<'_> {
    fn attribute(&self, attribute: &str) -> Option<Value> {
        Some(
            self.store
                .attribute_value(self.entity, self.id, &self.record, attribute, self.viewer),
        )
    }

    fn linked_ids(&self, link: &str) -> Vec<String> {
        self.store
            .linked(&self.entity.name, self.id, link)
            .into_iter()
            .map(|(i, _)| i)
            .collect()
    }
}

/// Filters (the `where` per viewer), orders and pages `candidates`, then renders each row as
/// the caller sees it.
fn email_page(
    store: &Store,
    req: &Request<'_>,
    entity: &EntityDef,
    candidates: Vec<String>,
    mut params: ListParams,
    view: View,
    v10: bool,
) -> Result<Value, ApiError> {
    let viewer = req.caller.user_id.as_str();
    let items = std::mem::take(&mut params.where_items);
    let clock = where_clause::Clock { now: now() };
    let candidates: Vec<String> = candidates
        .into_iter()
        .filter(|id| {
            store.get("Email", id).is_some_and(|record| {
                let seen = Seen {
                    store,
                    entity,
                    id,
                    record: as_seen_by(store, record, viewer, v10),
                    viewer,
                };
                where_clause::matches_all(&items, &seen, &clock)
            })
        })
        .collect();
    let page = list::run(
        store,
        entity,
        candidates,
        &params,
        &req.access,
        now(),
        ListContext::Records,
        &|_| Map::new(),
    )?;
    let names = match &params.select {
        Some(select) => select_attributes(entity, select, v10),
        None => view_attributes(view, v10, false),
    };
    let rows: Vec<Value> = page
        .rows
        .iter()
        .filter_map(|row| row.get("id").and_then(Value::as_str))
        .filter_map(|id| render_email(store, entity, id, &names, viewer, v10))
        .map(Value::Object)
        .collect();
    Ok(json!({"total": page.total, "list": rows}))
}

/// Whether the query filters at all (`where`, directly or in `searchParams`).
fn has_where(req: &Request<'_>) -> bool {
    req.query.contains_key("where")
        || req
            .query
            .get("searchParams")
            .and_then(Value::as_str)
            .and_then(|s| serde_json::from_str::<Value>(s).ok())
            .is_some_and(|p| p.get("where").is_some())
}

/// `GET Email`: the caller's e-mails (under "own": those in its folders, EspoCRM's
/// `email_user`), newest first, counted no-total style (`-1` more follow, `-2` last page).
pub fn list_emails(state: &ApiState, req: &Request<'_>) -> Result<Response, ApiError> {
    let entity = entity_for(req, "Email", Action::Read)?;
    let v10 = is_10(req);
    let level = req.access.level("Email", Action::Read).to_owned();
    if !v10 && level != "all" && !has_where(req) {
        // 8.4 mode: the original recording's scope-level answer (module documentation).
        return Err(Action::Read.denied());
    }
    let params = ListParams::from_query(entity, &req.query, true)?;
    let store = state.store();
    let viewer = req.caller.user_id.as_str();
    let candidates: Vec<String> = store
        .all("Email")
        .filter(|(_, r)| level == "all" || ids_of(r, "usersIds").iter().any(|u| u == viewer))
        .map(|(id, _)| id.clone())
        .collect();
    let body = email_page(&store, req, entity, candidates, params, View::List, v10)?;
    Ok(ok(body))
}

/// Whether `GET {segment}/{id}/{link}` lists e-mails (`Case/{id}/emails`, …).
pub fn is_email_link(req: &Request<'_>, segment: &str, link: &str) -> bool {
    req.meta()
        .resolve(segment)
        .and_then(|e| e.link(link))
        .is_some_and(|l| l.entity.as_deref() == Some("Email"))
}

/// `GET {E}/{id}/{link}` of a link to e-mails: those whose parent is the record (the link is
/// the parent link, not the account: a Case's e-mails are not the Account's), as many as the
/// caller may read, counted, newest first.
pub fn list_related_emails(
    state: &ApiState,
    req: &Request<'_>,
    segment: &str,
    id: &str,
    link: &str,
) -> Result<Response, ApiError> {
    let parent = entity_for(req, segment, Action::Read)?;
    let meta = req.meta();
    let entity = meta.entity("Email").ok_or_else(ApiError::internal)?;
    if !req.access.allows("Email", Action::Read) {
        return Err(ApiError::forbidden(""));
    }
    let v10 = is_10(req);
    let params = ListParams::from_query(entity, &req.query, no_total(req))?;
    let store = state.store();
    let Some(record) = store.get(&parent.name, id) else {
        return Err(ApiError::not_found(format!("Record {id} does not exist.")));
    };
    if !req.access.covers(&parent.name, Action::Read, record) {
        return Err(Action::Read.denied());
    }
    let candidates: Vec<String> = store
        .linked(&parent.name, id, link)
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    let body = email_page(
        &store,
        req,
        entity,
        candidates,
        params,
        View::RelatedList,
        v10,
    )?;
    Ok(ok(body))
}

fn no_total(req: &Request<'_>) -> bool {
    req.header("X-No-Total")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

// ------------------------------------------------------------------ plain-text bodies

/// 8.4's plain text of an HTML body: the tags removed, nothing put in their place
/// (`<p>Hi,</p><p>it…` → `Hi,it…`, as recorded), entities decoded.
fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    decode_entities(&out).trim().to_owned()
}

/// 10.0's plain text of an HTML body, Markdown-like with `\r\n`: paragraphs and lists are
/// blocks separated by an empty line, list items start with `- `, `<b>`/`<strong>` become
/// `**…**`, `<i>`/`<em>` `*…*`, `<br>` a line break; other tags are dropped.
fn html_to_markdown(html: &str) -> String {
    let mut blocks: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut rest = html;
    let flush = |current: &mut String, blocks: &mut Vec<String>| {
        let text = decode_entities(current.trim());
        if !text.is_empty() {
            blocks.push(text);
        }
        current.clear();
    };
    let mut in_list = false;
    while let Some(start) = rest.find('<') {
        current.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            current.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let tag = rest[start + 1..start + end].trim().to_lowercase();
        rest = &rest[start + end + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        match name.as_str() {
            "b" | "strong" => current.push_str("**"),
            "i" | "em" => current.push('*'),
            "br" => current.push_str("\r\n"),
            "li" if !closing => {
                if !current.trim().is_empty() && !in_list {
                    flush(&mut current, &mut blocks);
                }
                if in_list && !current.is_empty() {
                    current.push_str("\r\n");
                }
                current.push_str("- ");
            }
            "ul" | "ol" => {
                flush(&mut current, &mut blocks);
                in_list = !closing;
            }
            "p" | "div" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "blockquote" | "table"
            | "tr"
                if !in_list =>
            {
                flush(&mut current, &mut blocks);
            }
            _ => {}
        }
    }
    current.push_str(rest);
    flush(&mut current, &mut blocks);
    blocks.join("\r\n\r\n")
}

fn decode_entities(text: &str) -> String {
    text.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORDED_HTML: &str = "<p>Hi,</p><p>it happens on <i>every</i> login since version 5.2.</p><ul><li>Browser: Firefox</li><li>OS: Windows 11</li></ul>";

    #[test]
    fn should_strip_tags_as_8_4_does() {
        assert_eq!(
            strip_tags(RECORDED_HTML),
            "Hi,it happens on every login since version 5.2.Browser: FirefoxOS: Windows 11"
        );
        assert_eq!(strip_tags("a &amp; b"), "a & b");
    }

    #[test]
    fn should_write_markdown_as_10_0_does() {
        assert_eq!(
            html_to_markdown(RECORDED_HTML),
            "Hi,\r\n\r\nit happens on *every* login since version 5.2.\r\n\r\n- Browser: Firefox\r\n- OS: Windows 11"
        );
        assert_eq!(
            html_to_markdown(
                "<p>Hello,</p><p>since the update the <b>login fails</b> with error 42.</p>"
            ),
            "Hello,\r\n\r\nsince the update the **login fails** with error 42."
        );
        assert_eq!(html_to_markdown("x"), "x");
        assert_eq!(
            html_to_markdown("<p>Please find the quote attached.</p>"),
            "Please find the quote attached."
        );
    }

    #[test]
    fn should_list_users_in_the_detail_only_for_viewers_not_assigned() {
        let with = view_attributes(View::Detail, false, true);
        let without = view_attributes(View::Detail, false, false);
        assert!(with.iter().any(|n| n == "usersIds"));
        assert!(!without.iter().any(|n| n == "usersIds"));
        assert_eq!(with.len(), without.len() + 2);
        assert!(!with.iter().any(|n| ONLY_10.contains(&n.as_str())));
        let v10 = view_attributes(View::Detail, true, true);
        assert_eq!(v10.len(), with.len() + ONLY_10.len());
    }
}
