//! Attachments: uploading a data URI, the bytes coming back unchanged with the upload's type,
//! a Note, Email or Case adopting uploads through `attachmentsIds`, who may read whose file,
//! and the refusals of uploads EspoCRM would not accept (recorded on 8.4.2).

use base64::Engine;
use espocrm_sandbox::EspoVersion;
use serde_json::{Value, json};

use crate::common::{Api, HTML, Who, key_set, keys};

/// Attributes of an upload's answer (recorded, 8.4.2).
const UPLOAD_ANSWER: &[&str] = &[
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

/// Attributes of `GET Attachment/{id}` (recorded, 8.4.2).
const DETAIL: &[&str] = &[
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

const CALL_NOTES: &[u8] =
    b"Call notes - MCP Attachment Test Co.\nAgreed: 25 seats, start in January.\n";

/// The stored `parentId` of an attachment (null when unset).
fn parent_of(api: &Api, id: &str) -> Value {
    let stored = api.sandbox.record("Attachment", id).expect("stored");
    stored.get("parentId").cloned().unwrap_or(Value::Null)
}

fn data_uri(kind: &str, bytes: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    format!("data:{kind};base64,{encoded}")
}

fn upload_body(name: &str, kind: &str, parent_type: &str, bytes: &[u8]) -> Value {
    json!({
        "name": name, "type": kind, "size": bytes.len(), "role": "Attachment",
        "parentType": parent_type, "field": "attachments", "file": data_uri(kind, bytes),
    })
}

/// Uploads as `who` and returns the answer (which must be a 200).
async fn upload_as(
    api: &Api,
    who: Who,
    name: &str,
    kind: &str,
    parent: &str,
    bytes: &[u8],
) -> Value {
    api.post("Attachment", &upload_body(name, kind, parent, bytes))
        .who(who)
        .send()
        .await
        .ok_json()
}

async fn upload(api: &Api, name: &str, kind: &str, parent: &str, bytes: &[u8]) -> String {
    let answer = upload_as(api, Who::Agent, name, kind, parent, bytes).await;
    answer["id"].as_str().expect("an id").to_owned()
}

/// `GET Attachment/file/{id}` as `who`: status, Content-Type, Content-Disposition and the raw bytes.
async fn download(api: &Api, who: Who, id: &str) -> (u16, String, Option<String>, Vec<u8>) {
    let response = api
        .get(&format!("Attachment/file/{id}"))
        .who(who)
        .builder()
        .send()
        .await
        .expect("the sandbox answers");
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let content_type = header("Content-Type").unwrap_or_default();
    let disposition = header("Content-Disposition");
    let bytes = response.bytes().await.expect("the body is read").to_vec();
    (status, content_type, disposition, bytes)
}

#[tokio::test]
async fn should_upload_data_uri_200() {
    let api = Api::start().await;
    let agent = api.user_id(Who::Agent).await;
    let before = api.sandbox.count("Attachment");
    let answer = upload_as(
        &api,
        Who::Agent,
        "call-notes.txt",
        "text/plain",
        "Note",
        CALL_NOTES,
    )
    .await;
    let row = answer.as_object().expect("an object");
    assert_eq!(keys(row), key_set(UPLOAD_ANSWER));
    assert_eq!(answer["name"], json!("call-notes.txt"));
    assert_eq!(answer["type"], json!("text/plain"));
    assert_eq!(answer["size"], json!(CALL_NOTES.len()));
    assert_eq!(answer["field"], json!("attachments"));
    assert_eq!(answer["role"], json!("Attachment"));
    assert_eq!(answer["storage"], json!("EspoUploadDir"));
    assert_eq!(answer["storageFilePath"], Value::Null);
    assert_eq!(answer["isBeingUploaded"], json!(false));
    assert_eq!(answer["global"], json!(false));
    assert_eq!(answer["parentType"], json!("Note"));
    assert_eq!(answer["parentName"], Value::Null);
    assert_eq!(answer["createdById"], json!(agent));
    assert_eq!(answer["createdByName"], json!("mcp-agent"));
    let id = answer["id"].as_str().expect("an id");
    assert_eq!(api.sandbox.count("Attachment"), before + 1);
    assert_eq!(
        parent_of(&api, id),
        Value::Null,
        "no owner until a save adopts it"
    );
    let stored = api.sandbox.record("Attachment", id).expect("stored");
    assert!(
        stored.get("contents").is_none(),
        "the bytes are not a record attribute"
    );

    let read = api.get(&format!("Attachment/{id}")).send().await.ok_json();
    assert_eq!(keys(read.as_object().expect("an object")), key_set(DETAIL));
    assert_eq!(read["parentId"], Value::Null);
    assert_eq!(read["size"], json!(CALL_NOTES.len()));
}

#[tokio::test]
async fn should_download_the_uploaded_bytes_200() {
    let api = Api::start().await;
    let text = upload(&api, "call-notes.txt", "text/plain", "Note", CALL_NOTES).await;
    let (status, content_type, disposition, bytes) = download(&api, Who::Agent, &text).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/plain;charset=UTF-8");
    assert_eq!(
        disposition.as_deref(),
        Some("attachment; filename=\"call-notes.txt\"")
    );
    assert_eq!(bytes, CALL_NOTES);

    // Every byte value survives the data URI and comes back unchanged.
    let binary: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    let pdf = upload(
        &api,
        "quote-Q-1042.pdf",
        "application/pdf",
        "Email",
        &binary,
    )
    .await;
    let (status, content_type, disposition, bytes) = download(&api, Who::Agent, &pdf).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/pdf");
    assert_eq!(
        disposition.as_deref(),
        Some("attachment; filename=\"quote-Q-1042.pdf\"")
    );
    assert_eq!(bytes, binary);
    assert_eq!(
        api.sandbox.record("Attachment", &pdf).expect("stored")["size"],
        json!(1000)
    );
}

#[tokio::test]
async fn should_attach_upload_to_note_200() {
    let api = Api::start().await;
    let apex = api.find_one("Account", "name", "Apex Health Co.");
    let file = upload(&api, "call-notes.txt", "text/plain", "Note", CALL_NOTES).await;
    let note = api
        .post(
            "Note",
            &json!({"type": "Post", "parentType": "Account", "parentId": apex,
                "post": "Notes from today's call attached.", "attachmentsIds": [file]}),
        )
        .send()
        .await
        .ok_json();
    assert_eq!(note["attachmentsIds"], json!([file]));
    assert_eq!(note["attachmentsNames"], json!({&file: "call-notes.txt"}));
    assert_eq!(note["attachmentsTypes"], json!({&file: "text/plain"}));
    let note_id = note["id"].as_str().expect("an id");

    let attachment = api.sandbox.record("Attachment", &file).expect("stored");
    assert_eq!(attachment["parentType"], json!("Note"));
    assert_eq!(attachment["parentId"], json!(note_id));
    let read = api
        .get(&format!("Attachment/{file}"))
        .send()
        .await
        .ok_json();
    assert_eq!(read["parentId"], json!(note_id));

    let detail = api.get(&format!("Note/{note_id}")).send().await.ok_json();
    assert_eq!(detail["attachmentsIds"], json!([file]));
    let stream = api
        .get(&format!("Account/{apex}/stream?maxSize=1"))
        .send()
        .await
        .ok_json();
    assert_eq!(stream["list"][0]["id"], json!(note_id));
    assert_eq!(
        stream["list"][0]["attachmentsNames"],
        json!({&file: "call-notes.txt"})
    );
}

#[tokio::test]
async fn should_attach_upload_to_case_and_detach_on_update_200() {
    let api = Api::start().await;
    let apex = api.find_one("Account", "name", "Apex Health Co.");
    let file = upload(
        &api,
        "error-log.txt",
        "text/plain",
        "Case",
        b"ERROR 42 at login step 3.\n",
    )
    .await;
    let case = api
        .post(
            "Case",
            &json!({"name": "Login fails after update", "accountId": apex, "attachmentsIds": [file]}),
        )
        .send()
        .await
        .ok_json();
    // The defaults the save applied are part of the answer, as on EspoCRM.
    assert_eq!(case["status"], json!("New"));
    assert_eq!(case["priority"], json!("Normal"));
    assert_eq!(case["attachmentsIds"], json!([file]));
    assert_eq!(case["attachmentsTypes"], json!({&file: "text/plain"}));
    let case_id = case["id"].as_str().expect("an id");
    assert_eq!(parent_of(&api, &file), json!(case_id));
    let stored = api.sandbox.record("Case", case_id).expect("stored");
    assert!(
        stored.get("attachmentsIds").is_none(),
        "derived, never stored"
    );

    let updated = api
        .put(&format!("Case/{case_id}"), &json!({"attachmentsIds": []}))
        .send()
        .await
        .ok_json();
    assert_eq!(updated["attachmentsIds"], json!([]));
    assert_eq!(parent_of(&api, &file), Value::Null);
}

#[tokio::test]
async fn should_mark_email_draft_with_attachment_200() {
    let api = Api::start().await;
    let apex = api.find_one("Account", "name", "Apex Health Co.");
    let file = upload(&api, "quote.pdf", "application/pdf", "Email", b"%PDF-1.4\n").await;
    let email = api
        .post(
            "Email",
            &json!({"status": "Draft", "from": "mcp-agent@example.com",
                "to": "buyer@example.com", "subject": "Quote", "body": "<p>Attached.</p>",
                "isHtml": true, "parentType": "Account", "parentId": apex,
                "attachmentsIds": [file]}),
        )
        .send()
        .await
        .ok_json();
    assert_eq!(email["hasAttachment"], json!(true));
    assert_eq!(email["attachmentsNames"], json!({&file: "quote.pdf"}));
    let email_id = email["id"].as_str().expect("an id");
    let read = api
        .get(&format!("Attachment/{file}"))
        .send()
        .await
        .ok_json();
    assert_eq!(read["parentType"], json!("Email"));
    assert_eq!(read["parentId"], json!(email_id));
    assert_eq!(read["parentName"], json!("Quote"));
}

#[tokio::test]
async fn should_refuse_uploads_espocrm_refuses() {
    let api = Api::start().await;
    let before = api.sandbox.count("Attachment");
    let abc = data_uri("text/plain", b"abc");
    let cases = [
        (
            json!({"name": "x.txt", "parentType": "Document", "field": "file", "file": abc}),
            403,
            "No access to Document.",
        ),
        (
            json!({"name": "x.txt", "parentType": "Note", "field": "bogus", "file": abc}),
            403,
            "Field 'bogus' does not exist.",
        ),
        (
            json!({"name": "x.txt", "parentType": "Note", "field": "post", "file": abc}),
            403,
            "Field type 'text' is not allowed for Attachment.",
        ),
        (
            json!({"name": "x.txt", "parentType": "Note", "field": "attachments", "role": "Export File", "file": abc}),
            403,
            "Role not allowed.",
        ),
        (
            json!({"name": "x.txt", "file": abc}),
            400,
            "No `field` and `parentType`.",
        ),
        (
            json!({"name": "x.txt", "parentType": "Note", "field": "attachments"}),
            400,
            "No file contents.",
        ),
        (
            json!({"name": "x.txt", "parentType": "Note", "field": "attachments", "file": "YWJj"}),
            400,
            "Bad file contents.",
        ),
    ];
    for (body, status, reason) in cases {
        api.post("Attachment", &body)
            .send()
            .await
            .expect_json_error(status, Some(reason));
    }
    // The read-only key may upload for a Note (every user may create Notes), not for a Case.
    upload_as(&api, Who::Limited, "ro.txt", "text/plain", "Note", b"ro\n").await;
    api.post(
        "Attachment",
        &upload_body("ro.txt", "text/plain", "Case", b"ro\n"),
    )
    .limited()
    .send()
    .await
    .expect_json_error(403, Some("No access to Case."));
    assert_eq!(api.sandbox.count("Attachment"), before + 1);
}

#[tokio::test]
async fn should_refuse_file_over_one_mebibyte_400() {
    let api = Api::start().await;
    let before = api.sandbox.count("Attachment");
    let big = vec![b'x'; espocrm_sandbox::attachments::MAX_FILE_BYTES + 1];
    api.post(
        "Attachment",
        &upload_body("big.txt", "text/plain", "Note", &big),
    )
    .send()
    .await
    .expect_json_error(400, Some("File size should not exceed 1 Mb."));
    assert_eq!(api.sandbox.count("Attachment"), before);
    let limit = vec![b'x'; espocrm_sandbox::attachments::MAX_FILE_BYTES];
    let id = upload(&api, "limit.txt", "text/plain", "Note", &limit).await;
    let (status, _, _, bytes) = download(&api, Who::Agent, &id).await;
    assert_eq!(status, 200);
    assert_eq!(bytes.len(), limit.len());
}

#[tokio::test]
async fn should_refuse_other_users_attachment_403() {
    let api = Api::start().await;
    let admins = upload_as(
        &api,
        Who::Admin,
        "admin-only.txt",
        "text/plain",
        "Email",
        b"admin only.\n",
    )
    .await;
    let id = admins["id"].as_str().expect("an id");
    api.get(&format!("Attachment/{id}"))
        .send()
        .await
        .expect_json_error(403, Some("No 'read' access."));
    let (status, content_type, _, bytes) = download(&api, Who::Agent, id).await;
    assert_eq!((status, content_type.as_str(), bytes.len()), (403, HTML, 0));
    // The administrator reads its own.
    let (status, _, _, bytes) = download(&api, Who::Admin, id).await;
    assert_eq!((status, bytes.as_slice()), (200, &b"admin only.\n"[..]));

    api.get("Attachment/doesnotexist00001")
        .send()
        .await
        .expect_json_error(404, Some("Record doesnotexist00001 does not exist."));
    api.get("Attachment/file/doesnotexist00001")
        .send()
        .await
        .expect_html_error(404, Some(""));
    api.get("Attachment?maxSize=5")
        .send()
        .await
        .expect_json_error(403, Some(""));
    let listed = api
        .get("Attachment?maxSize=5")
        .admin()
        .send()
        .await
        .ok_json();
    assert!(listed["total"].as_i64().is_some_and(|t| t >= 1), "{listed}");
}

/// An attachment posted on a record the agent can read is readable through that record, even
/// though someone else uploaded it.
#[tokio::test]
async fn should_read_attachment_through_its_parent_200() {
    let api = Api::start().await;
    let apex = api.find_one("Account", "name", "Apex Health Co.");
    let admins = upload_as(
        &api,
        Who::Admin,
        "minutes.txt",
        "text/plain",
        "Note",
        b"minutes\n",
    )
    .await;
    let id = admins["id"].as_str().expect("an id");
    api.get(&format!("Attachment/{id}"))
        .send()
        .await
        .expect_json_error(403, Some("No 'read' access."));
    api.post(
        "Note",
        &json!({"type": "Post", "parentType": "Account", "parentId": apex,
            "post": "Minutes attached.", "attachmentsIds": [id]}),
    )
    .admin()
    .send()
    .await
    .ok_json();
    let read = api.get(&format!("Attachment/{id}")).send().await.ok_json();
    assert_eq!(read["createdByName"], json!("Admin"));
    let (status, _, _, bytes) = download(&api, Who::Agent, id).await;
    assert_eq!((status, bytes.as_slice()), (200, &b"minutes\n"[..]));
}

/// A save may only adopt attachments that exist and that the caller can read.
#[tokio::test]
async fn should_refuse_adopting_unknown_or_foreign_attachment_403() {
    let api = Api::start().await;
    let before = api.sandbox.count("Case");
    let unknown = api
        .post(
            "Case",
            &json!({"name": "With a missing file", "attachmentsIds": ["doesnotexist00001"]}),
        )
        .send()
        .await;
    unknown.expect_error(
        403,
        Some("Can't relate with non-existing record. entity type: Case, link: attachments."),
    );
    assert_eq!(
        unknown.json()["messageTranslation"]["label"],
        json!("cannotRelateNonExisting")
    );
    let admins = upload_as(
        &api,
        Who::Admin,
        "secret.txt",
        "text/plain",
        "Case",
        b"secret\n",
    )
    .await;
    let id = admins["id"].as_str().expect("an id");
    let foreign = api
        .post(
            "Case",
            &json!({"name": "With someone else's file", "attachmentsIds": [id]}),
        )
        .send()
        .await;
    foreign.expect_error(
        403,
        Some("No foreign record access for link operation (Case:attachments)."),
    );
    assert_eq!(
        foreign.json()["messageTranslation"]["data"],
        json!({"foreignEntityType": "Attachment", "action": "read"})
    );
    assert_eq!(api.sandbox.count("Case"), before);
    assert_eq!(parent_of(&api, id), Value::Null);
}

/// EspoCRM 10 adds `modifiedAt` to an attachment's answers; the rest is as in 8.4.
#[tokio::test]
async fn should_answer_upload_with_modified_at_on_10_0() {
    let api = Api::start_version(EspoVersion::V10_0).await;
    let answer = upload_as(
        &api,
        Who::Agent,
        "call-notes.txt",
        "text/plain",
        "Note",
        CALL_NOTES,
    )
    .await;
    let mut expected = key_set(UPLOAD_ANSWER);
    expected.insert("modifiedAt".to_owned());
    assert_eq!(keys(answer.as_object().expect("an object")), expected);
    assert_eq!(answer["modifiedAt"], answer["createdAt"]);
    let id = answer["id"].as_str().expect("an id");
    let read = api.get(&format!("Attachment/{id}")).send().await.ok_json();
    let mut expected = key_set(DETAIL);
    expected.insert("modifiedAt".to_owned());
    assert_eq!(keys(read.as_object().expect("an object")), expected);
}

/// `GET {E}/{id}/streamAttachments` lists the files posted in a record's stream on 10.0; 8.4.2
/// has no such route and takes it for an unknown link (500).
#[tokio::test]
async fn should_list_stream_attachments_on_10_0_only() {
    for version in EspoVersion::ALL {
        let api = Api::start_version(version).await;
        let apex = api.find_one("Account", "name", "Apex Health Co.");
        let first = upload(&api, "call-notes.txt", "text/plain", "Note", CALL_NOTES).await;
        let second = upload(&api, "error-log.txt", "text/plain", "Case", b"ERROR 42\n").await;
        let note = api
            .post(
                "Note",
                &json!({"type": "Post", "parentType": "Account", "parentId": apex,
                    "post": "Files.", "attachmentsIds": [first]}),
            )
            .send()
            .await
            .ok_json();
        let path = format!("Account/{apex}/streamAttachments");
        if version == EspoVersion::V8_4 {
            api.get(&path).send().await.expect_json_error(500, None);
            continue;
        }
        let page = api.get(&path).send().await.ok_json();
        assert_eq!(
            page["total"],
            json!(1),
            "only files posted in the stream: {page}"
        );
        let item = &page["list"][0];
        assert_eq!(item["id"], json!(first));
        assert_eq!(item["parentType"], json!("Note"));
        assert_eq!(item["parentId"], note["id"]);
        assert_eq!(item["size"], json!(CALL_NOTES.len()));
        assert_eq!(
            keys(item.as_object().expect("an object")),
            key_set(&[
                "id",
                "name",
                "type",
                "size",
                "createdAt",
                "parentId",
                "parentType",
                "createdById",
                "createdByName"
            ])
        );
        assert_eq!(parent_of(&api, &second), Value::Null);
        // The read-only key has no stream access to accounts.
        api.get(&path)
            .limited()
            .send()
            .await
            .expect_json_error(403, Some("No 'stream' access."));
    }
}
