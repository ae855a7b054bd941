//! Email drafts (`POST Email`): the addresses a user may send from, the address bookkeeping
//! EspoCRM does for an email, and the failure of sending without SMTP.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::{ApiState, Request, now, render_ok};
use crate::acl::Action;
use crate::error::ApiError;
use crate::model::EntityDef;
use crate::store::{AttributeSet, Store};

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

/// `POST Email`: drafts are stored; `status: Sending` fails as EspoCRM without SMTP does
/// (500 `sendingFail`), keeping the email as a Draft. Non-admins may only send from their own
/// addresses.
pub fn create_email(state: &ApiState, req: &Request<'_>) -> Result<Response, ApiError> {
    req.access.require("Email", Action::Create)?;
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
    fill_email_addresses(&mut store, entity, &id, req);
    if sending {
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
        echoed.extend(["inArchive", "inTrash", "isImportant", "sentById"].map(str::to_owned));
    }
    if store
        .get("Email", &id)
        .and_then(|r| r.get("accountId"))
        .is_some_and(|v| !v.is_null())
    {
        echoed.push("accountId".to_owned());
    }
    render_ok(
        &store,
        entity,
        &id,
        AttributeSet::Create(&echoed),
        &req.caller.user_id,
    )
}

/// The address bookkeeping EspoCRM does for an Email: ids of the addresses, the person each
/// address belongs to, the creating user as the owner.
fn fill_email_addresses(store: &mut Store, _entity: &EntityDef, id: &str, req: &Request<'_>) {
    let Some(email) = store.get("Email", id).cloned() else {
        return;
    };
    let split = |k: &str| -> Vec<String> {
        email
            .get(k)
            .and_then(Value::as_str)
            .map(|s| {
                s.split(';')
                    .map(|a| a.trim().to_owned())
                    .filter(|a| !a.is_empty())
                    .collect()
            })
            .unwrap_or_default()
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
                for scope in ["User", "Contact", "Lead", "Account"] {
                    if let Some((pid, r)) = store.all(scope).find(|(_, r)| {
                        r.get("emailAddress")
                            .and_then(Value::as_str)
                            .is_some_and(|e| e.eq_ignore_ascii_case(a))
                    }) {
                        name_hash.insert(a.clone(), r.get("name").cloned().unwrap_or(Value::Null));
                        type_hash.insert(a.clone(), json!(scope));
                        id_hash.insert(a.clone(), json!(pid));
                        break;
                    }
                }
            }
            (ids, names)
        };
    let from = split("from");
    let (from_ids, _) = address_ids(store, &from);
    let (to_ids, to_names) = address_ids(store, &split("to"));
    let (cc_ids, cc_names) = address_ids(store, &split("cc"));
    let (bcc_ids, bcc_names) = address_ids(store, &split("bcc"));
    let me = req.caller.user_id.clone();
    let my_name = store
        .name_of("User", &me)
        .map(Value::String)
        .unwrap_or(Value::Null);
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
    // A non-admin's draft belongs to its author (EspoCRM puts it in the author's folders);
    // an administrator's is nobody's.
    let owned = !req.caller.is_admin;
    record.insert(
        "usersIds".into(),
        if owned {
            json!([me.clone()])
        } else {
            json!([])
        },
    );
    record.insert("usersNames".into(), json!({}));
    record.insert(
        "assignedUsersIds".into(),
        if owned {
            json!([me.clone()])
        } else {
            json!([])
        },
    );
    record.insert(
        "assignedUsersNames".into(),
        if owned {
            json!({ me.clone(): my_name })
        } else {
            json!({})
        },
    );
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
