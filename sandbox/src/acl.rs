//! Access control as EspoCRM applies it: a user's roles grant per-scope actions
//! (`read`/`edit`/`delete`/`stream` at `all|team|own|no`, `create` as `yes|no`, or `true` for
//! boolean scopes such as Activities); scopes no role mentions fall back to EspoCRM's fixed
//! defaults for system scopes and are otherwise denied. A regular user holding no role at all
//! gets EspoCRM's defaults instead ([`crate::roles::no_role_data`]). Administrators may do
//! everything.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::store::{Record, Store};
use crate::version::{self, EspoVersion};

/// The recorded `App/user` material the sandbox serves (settings, preferences, field tables).
pub fn app_data(version: EspoVersion) -> &'static Value {
    static APP: [OnceLock<Value>; 2] = [OnceLock::new(), OnceLock::new()];
    let slot = match version {
        EspoVersion::V8_4 => &APP[0],
        EspoVersion::V10_0 => &APP[1],
    };
    slot.get_or_init(|| {
        version::patched(include_str!("../data/app.json"), version.app_patch())
            .expect("the embedded app data and its version patches are valid (checked by tests)")
    })
}

/// One action on a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Read,
    Edit,
    Delete,
    Stream,
}

impl Action {
    pub fn key(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Read => "read",
            Action::Edit => "edit",
            Action::Delete => "delete",
            Action::Stream => "stream",
        }
    }

    /// EspoCRM's 403 reason when the action is not granted.
    pub fn denied(self) -> ApiError {
        let what = match self {
            Action::Create => "create",
            Action::Read => "read",
            Action::Edit => "edit",
            Action::Delete => "delete",
            Action::Stream => "stream",
        };
        ApiError::forbidden(format!("No {what} access."))
    }
}

/// What one user may do.
#[derive(Debug, Clone)]
pub struct Access {
    pub user_id: String,
    pub is_admin: bool,
    table: Map<String, Value>,
    permissions: Map<String, Value>,
    version: EspoVersion,
}

const PERMISSIONS: &[&str] = &[
    "assignmentPermission",
    "userPermission",
    "messagePermission",
    "portalPermission",
    "groupEmailAccountPermission",
    "exportPermission",
    "massUpdatePermission",
    "followerManagementPermission",
    "dataPrivacyPermission",
    "auditPermission",
    "mentionPermission",
];

/// Levels of the system scopes every non-admin user has, whatever the roles say
/// (recorded for a user whose role grants only Account and Contact).
fn default_table(version: EspoVersion) -> Map<String, Value> {
    let mut table = app_data(version)
        .pointer("/aclLimited/table")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    table.remove("Account");
    table.remove("Contact");
    table
}

impl Access {
    pub fn for_user(store: &Store, user_id: &str) -> Access {
        let user = store.get("User", user_id);
        let is_admin = user.and_then(|u| u.get("type")).and_then(Value::as_str) == Some("admin");
        let mut table = default_table(store.version());
        let mut permissions: Map<String, Value> = PERMISSIONS
            .iter()
            .map(|p| ((*p).to_owned(), json!("no")))
            .collect();
        let roles = store.user_roles(user_id);
        // A regular user (a person) with no role at all gets EspoCRM's defaults, as recorded;
        // an API user with no role may do nothing beyond the system scopes.
        let is_regular =
            user.and_then(|u| u.get("type")).and_then(Value::as_str) == Some("regular");
        let no_role = (roles.is_empty() && is_regular).then(crate::roles::no_role_data);
        let grants = roles.iter().map(|r| &r.data).chain(no_role.as_ref());
        for data in grants {
            for (scope, grant) in data {
                if PERMISSIONS.contains(&scope.as_str()) {
                    permissions.insert(scope.clone(), grant.clone());
                    continue;
                }
                let merged = match (table.get(scope), grant) {
                    (Some(Value::Object(old)), Value::Object(new)) => {
                        let mut m = old.clone();
                        for (action, level) in new {
                            let keep = m.get(action).and_then(Value::as_str).map(rank).unwrap_or(0);
                            if level.as_str().map(rank).unwrap_or(0) >= keep {
                                m.insert(action.clone(), level.clone());
                            }
                        }
                        Value::Object(m)
                    }
                    _ => grant.clone(),
                };
                table.insert(scope.clone(), merged);
            }
        }
        Access {
            user_id: user_id.to_owned(),
            is_admin,
            table,
            permissions,
            version: store.version(),
        }
    }

    /// `all`, `team`, `own`, `no` (or `yes`/`no` for create).
    pub fn level(&self, scope: &str, action: Action) -> &str {
        if self.is_admin {
            return if action == Action::Create {
                "yes"
            } else {
                "all"
            };
        }
        match self.table.get(scope) {
            Some(Value::Object(m)) => m.get(action.key()).and_then(Value::as_str).unwrap_or("no"),
            Some(Value::Bool(true)) => {
                if action == Action::Create {
                    "yes"
                } else {
                    "all"
                }
            }
            _ => "no",
        }
    }

    pub fn allows(&self, scope: &str, action: Action) -> bool {
        !matches!(self.level(scope, action), "no")
    }

    /// 403 with EspoCRM's reason unless the action is granted at some level.
    pub fn require(&self, scope: &str, action: Action) -> Result<(), ApiError> {
        if self.allows(scope, action) {
            Ok(())
        } else {
            Err(action.denied())
        }
    }

    /// A boolean scope (Activities, Calendar, …).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.is_admin
            || matches!(self.table.get(scope), Some(Value::Bool(true)))
            || matches!(self.table.get(scope), Some(Value::Object(_)))
    }

    /// Whether the level granted for `action` covers this record (own = assigned to or created by;
    /// see [`Access::owns`]).
    pub fn covers(&self, scope: &str, action: Action, record: &Record) -> bool {
        match self.level(scope, action) {
            "all" | "yes" => true,
            "team" | "own" => self.owns(scope, action, record),
            _ => false,
        }
    }

    /// Ownership as EspoCRM's ownership checkers decide it: assigned to or created by the user.
    /// An Email is also owned through its `assignedUsers`, and for reading through its `users`
    /// (`aclDefs.Email.readOwnerUserField`: the e-mail is in the user's folders, as a recipient,
    /// in cc or as its author).
    pub fn owns(&self, scope: &str, action: Action, record: &Record) -> bool {
        let me = self.user_id.as_str();
        let mine = |k: &str| record.get(k).and_then(Value::as_str) == Some(me);
        let among = |k: &str| {
            record
                .get(k)
                .and_then(Value::as_array)
                .is_some_and(|ids| ids.iter().any(|i| i.as_str() == Some(me)))
        };
        mine("assignedUserId")
            || mine("createdById")
            || (scope == "User" && mine("id"))
            || (scope == "Email"
                && (among("assignedUsersIds") || (action == Action::Read && among("usersIds"))))
    }

    pub fn permission(&self, name: &str) -> &str {
        if self.is_admin {
            return "all";
        }
        self.permissions
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or("no")
    }

    /// Scopes this user can see at all (metadata is filtered by them).
    pub fn visible_scopes(&self) -> impl Iterator<Item = &String> {
        self.table.keys()
    }

    /// The `acl` member of `App/user`.
    pub fn to_app_user(&self) -> Value {
        let app = app_data(self.version);
        let mut out = Map::new();
        let filter = |source: &str, unrestricted: Value| -> Value {
            let all = app
                .pointer(source)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let mut tables: Map<String, Value> = all
                .into_iter()
                .filter(|(scope, _)| {
                    matches!(
                        self.table.get(scope),
                        Some(Value::Object(_) | Value::Bool(true))
                    )
                })
                .collect();
            // Scopes without recorded field restrictions have none (EspoCRM lists them empty).
            let granted =
                |scope: &&String| matches!(self.table.get(*scope), Some(Value::Object(_)));
            for scope in self.table.keys().filter(granted) {
                tables
                    .entry(scope.clone())
                    .or_insert_with(|| unrestricted.clone());
            }
            Value::Object(tables)
        };
        out.insert("table".into(), Value::Object(self.table.clone()));
        out.insert(
            "fieldTable".into(),
            filter("/aclAgent/fieldTable", json!({})),
        );
        for p in PERMISSIONS {
            out.insert((*p).into(), json!(self.permission(p)));
        }
        // Permissions a version adds (10.0: lockPermission, userCalendarPermission) and no
        // role of the sandbox grants.
        if let Some(recorded) = app.get("aclAgent").and_then(Value::as_object) {
            for name in recorded.keys().filter(|k| k.ends_with("Permission")) {
                out.entry(name.clone())
                    .or_insert_with(|| json!(self.permission(name)));
            }
        }
        out.insert(
            "fieldTableQuickAccess".into(),
            filter("/aclAgent/fieldTableQuickAccess", {
                let none = json!({"read": {"yes": [], "no": []}, "edit": {"yes": [], "no": []}});
                json!({"attributes": none, "fields": none})
            }),
        );
        Value::Object(out)
    }
}

fn rank(level: &str) -> u8 {
    match level {
        "all" | "yes" => 3,
        "team" => 2,
        "own" => 1,
        _ => 0,
    }
}
