//! The roles of the sandbox's two API users, defined once. "MCP Agent" is also the role that
//! `espomcp seed` creates on a real EspoCRM, from these same definitions, so the sandbox and a
//! seeded EspoCRM grant espomcp the same access.

use serde_json::{Map, Value, json};

/// The role of the full-access API user `mcp-agent` (and of the demo users).
pub const AGENT_ROLE_NAME: &str = "MCP Agent";

/// The role of the read-only API user `mcp-readonly`.
pub const LIMITED_ROLE_NAME: &str = "MCP Read Only";

/// The entity types the "MCP Agent" role may fully use (create, read, edit, delete, stream).
const AGENT_FULL_SCOPES: [&str; 8] = [
    "Account",
    "Contact",
    "Lead",
    "Opportunity",
    "Task",
    "Meeting",
    "Call",
    "Case",
];

/// The Email levels of the "MCP Agent" role: create (drafts; espomcp never sends), and read and
/// edit "own", i.e. the e-mails the user is one of the users of (a recipient, the author, an
/// assignee) and no one else's; never delete. This is the role as both labs hold it now (the
/// 10.0 recording's `App/user` shows it; API-NOTES-10 §0); the original 8.4.2 recording was made
/// with Email create only, and the sandbox imitates that recording's two answers in 8.4 mode
/// (see `api::email`), not through a second role.
pub const AGENT_EMAIL_LEVELS: [(&str, &str); 5] = [
    ("create", "yes"),
    ("read", "own"),
    ("edit", "own"),
    ("delete", "no"),
    ("stream", "own"),
];

/// The scope levels of the "MCP Agent" role (Administration > Roles): the CRM types in full,
/// Email as [`AGENT_EMAIL_LEVELS`], EmailTemplate and User read only. Nothing else: no mass
/// email, campaigns, email accounts, export or mass update.
pub fn agent_role_scopes() -> Map<String, Value> {
    let full =
        json!({"create": "yes", "read": "all", "edit": "all", "delete": "all", "stream": "all"});
    let mut scopes = Map::new();
    for scope in AGENT_FULL_SCOPES {
        scopes.insert(scope.into(), full.clone());
    }
    let email: Map<String, Value> = AGENT_EMAIL_LEVELS
        .iter()
        .map(|(action, level)| ((*action).to_owned(), json!(level)))
        .collect();
    scopes.insert("Email".into(), Value::Object(email));
    scopes.insert(
        "EmailTemplate".into(),
        json!({"create": "no", "read": "all", "edit": "no", "delete": "no", "stream": "all"}),
    );
    scopes.insert(
        "User".into(),
        json!({"create": "no", "read": "all", "edit": "no", "delete": "no", "stream": "no"}),
    );
    scopes
}

/// The "MCP Agent" role's other permissions: assign records to and mention the users, nothing
/// more. Export and mass update are refused explicitly in what seed sends; the sandbox's
/// recorded role leaves them out, and an absent permission is "no" there too.
pub const AGENT_ROLE_PERMISSIONS: [(&str, &str); 6] = [
    ("assignmentPermission", "all"),
    ("userPermission", "all"),
    ("messagePermission", "all"),
    ("mentionPermission", "all"),
    ("exportPermission", "no"),
    ("massUpdatePermission", "no"),
];

/// The recorded "MCP Agent" role's `data` as the sandbox holds it: the scope levels, then the
/// permissions it grants (those at "no" are not listed).
pub fn agent_role_data() -> Map<String, Value> {
    let mut data = agent_role_scopes();
    for (permission, level) in AGENT_ROLE_PERMISSIONS {
        if level != "no" {
            data.insert(permission.into(), json!(level));
        }
    }
    data
}

/// The recorded "MCP Read Only" role's `data`: Account and Contact, read only.
pub fn limited_role_data() -> Map<String, Value> {
    let read = json!({"create": "no", "read": "all", "edit": "no", "delete": "no", "stream": "no"});
    let mut data = Map::new();
    data.insert("Account".into(), read.clone());
    data.insert("Contact".into(), read);
    data
}

/// The entity types a user without any role may fully use (recorded for the lab's
/// `james.wong`, who holds no role: EspoCRM's defaults, every record scope at `all`). Some are
/// types the sandbox does not serve (Campaign, Document, …); the access table lists them anyway,
/// as EspoCRM's does.
const NO_ROLE_FULL_SCOPES: [&str; 16] = [
    "Account",
    "Call",
    "Campaign",
    "CampaignLogRecord",
    "CampaignTrackingUrl",
    "Case",
    "Contact",
    "Document",
    "EmailQueueItem",
    "KnowledgeBaseArticle",
    "Lead",
    "MassEmail",
    "Meeting",
    "Opportunity",
    "TargetList",
    "Task",
];

/// What a regular user (a person) holding no role is granted, in the shape of a role's `data` (scope
/// levels and permissions), as recorded in `22-token-login-password` on 8.4.2 and 10.0.0: the
/// record scopes in full, Activities and Calendar, their own e-mails, every e-mail template,
/// export and mass update. The system scopes every user has come on top ([`crate::acl`]).
pub fn no_role_data() -> Map<String, Value> {
    let full =
        json!({"create": "yes", "read": "all", "edit": "all", "delete": "all", "stream": "all"});
    let mut data = Map::new();
    for scope in NO_ROLE_FULL_SCOPES {
        data.insert(scope.into(), full.clone());
    }
    data.insert("Activities".into(), json!(true));
    data.insert("Calendar".into(), json!(true));
    data.insert(
        "Email".into(),
        json!({"create": "yes", "read": "own", "edit": "own", "delete": "own", "stream": "own"}),
    );
    data.insert(
        "EmailTemplate".into(),
        json!({"create": "yes", "read": "all", "edit": "own", "delete": "own", "stream": "all"}),
    );
    data.insert(
        "User".into(),
        json!({"create": "no", "read": "all", "edit": "no", "delete": "no", "stream": "no"}),
    );
    for (permission, level) in [
        ("assignmentPermission", "all"),
        ("userPermission", "all"),
        ("messagePermission", "all"),
        ("mentionPermission", "all"),
        ("exportPermission", "yes"),
        ("massUpdatePermission", "yes"),
    ] {
        data.insert(permission.into(), json!(level));
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_hold_the_recorded_agent_role_data() {
        let full = json!({"create": "yes", "read": "all", "edit": "all", "delete": "all", "stream": "all"});
        let expected = json!({
            "Account": full, "Contact": full, "Lead": full, "Opportunity": full,
            "Task": full, "Meeting": full, "Call": full, "Case": full,
            "Email": {"create": "yes", "read": "own", "edit": "own", "delete": "no", "stream": "own"},
            "EmailTemplate":
                {"create": "no", "read": "all", "edit": "no", "delete": "no", "stream": "all"},
            "User": {"create": "no", "read": "all", "edit": "no", "delete": "no", "stream": "no"},
            "assignmentPermission": "all",
            "userPermission": "all",
            "messagePermission": "all",
            "mentionPermission": "all",
        });
        let data = Value::Object(agent_role_data());
        // In order too: `GET Role` serves the data as it is held.
        assert_eq!(data.to_string(), expected.to_string());
    }
}
