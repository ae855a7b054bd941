//! `espomcp seed` against the sandbox, as a person runs it: the real binary with the admin's
//! credentials in its environment. The first run creates the role (when missing), the API user,
//! the demo users and the demo data; the second creates nothing; `--reset` deletes exactly what
//! carries seed's mark, and the sandbox's own demo data is untouched throughout. stdout holds
//! the API key line and nothing else.

use std::collections::BTreeSet;

use espocrm_sandbox::Sandbox;
use espomcp::seed::{self, API_USER, DESCRIPTION_MARK, ROLE_NAME, TEMPLATE_SUFFIX, USER_PREFIX};
use serde_json::{Map, Value, json};
use tempfile::TempDir;

use crate::common::{Direct, command, empty_sandbox};

/// What one run of `espomcp seed` left.
pub struct SeedRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl SeedRun {
    /// The key of the `ESPOCRM_API_KEY=` line, the only line allowed on stdout.
    pub fn api_key(&self) -> Option<String> {
        let lines: Vec<&str> = self.stdout.lines().collect();
        assert!(
            lines.len() <= 1,
            "stdout holds only the key: {:?}",
            self.stdout
        );
        lines.first().map(|line| {
            line.strip_prefix("ESPOCRM_API_KEY=")
                .unwrap_or_else(|| panic!("not a key line: {line:?}"))
                .to_owned()
        })
    }
}

/// Runs `espomcp seed ARGS` against the sandbox with its administrator's credentials.
pub async fn run_seed(sandbox: &Sandbox, args: &[&str]) -> SeedRun {
    run_seed_as(sandbox, &sandbox.admin_user, &sandbox.admin_password, args).await
}

async fn run_seed_as(sandbox: &Sandbox, user: &str, password: &str, args: &[&str]) -> SeedRun {
    let home = TempDir::new().expect("a temporary home");
    let output = command(home.path())
        .arg("seed")
        .args(args)
        .env("ESPOCRM_URL", &sandbox.url)
        .env("ESPOCRM_ADMIN_USER", user)
        .env("ESPOCRM_ADMIN_PASSWORD", password)
        .output()
        .await
        .expect("espomcp seed runs");
    SeedRun {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The administrator's own requests (the roles are not records the agent can read).
async fn admin_get(sandbox: &Sandbox, path: &str) -> Value {
    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/{path}", sandbox.url))
        .basic_auth(&sandbox.admin_user, Some(&sandbox.admin_password))
        .send()
        .await
        .expect("the sandbox answers");
    assert!(
        response.status().is_success(),
        "GET {path}: {}",
        response.status()
    );
    response.json().await.expect("JSON")
}

async fn roles_named(sandbox: &Sandbox, name: &str) -> Vec<Map<String, Value>> {
    let roles = admin_get(sandbox, "Role").await;
    roles["list"]
        .as_array()
        .expect("a list of roles")
        .iter()
        .filter_map(|r| r.as_object().cloned())
        .filter(|r| r["name"] == json!(name))
        .collect()
}

/// The ids of every record of each type seed fills, as the sandbox holds them.
async fn snapshot(sandbox: &Sandbox) -> Vec<(&'static str, BTreeSet<String>)> {
    let direct = Direct::new(sandbox);
    let mut all = Vec::new();
    for entity in seed::RECORD_TYPES {
        let ids = direct
            .all(entity)
            .await
            .iter()
            .map(|r| r["id"].as_str().expect("an id").to_owned())
            .collect();
        all.push((entity, ids));
    }
    all
}

fn expected_count(entity: &str) -> usize {
    match entity {
        "Account" => seed::ACCOUNTS.len(),
        "Contact" => seed::CONTACTS.len(),
        "Lead" => seed::LEADS.len(),
        "Opportunity" => seed::OPPORTUNITIES.len(),
        "Task" => seed::TASKS.len(),
        "Meeting" => seed::MEETINGS.len(),
        "Call" => seed::CALLS.len(),
        "Case" => seed::CASES.len(),
        "EmailTemplate" => seed::TEMPLATES.len(),
        other => panic!("no demo data of {other}"),
    }
}

fn seed_users(sandbox: &Sandbox) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for name in ["alice", "bruno", "chiara", "deepak", "emma", "agent"] {
        let user_name = format!("{USER_PREFIX}{name}");
        if !sandbox
            .find("User", "userName", &json!(user_name))
            .is_empty()
        {
            names.insert(user_name);
        }
    }
    names
}

#[tokio::test]
async fn should_seed_once_find_everything_again_and_reset_only_its_own() {
    let sandbox = crate::common::sandbox().await;
    let before = snapshot(&sandbox).await;
    let users_before = sandbox.count("User");
    assert_eq!(
        roles_named(&sandbox, ROLE_NAME).await.len(),
        1,
        "the recorded role"
    );

    // First run: everything is created, except the role the sandbox already has.
    let first = run_seed(&sandbox, &[]).await;
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    let key = first.api_key().expect("the first run prints the new key");
    assert_eq!(key.len(), 32, "{key}");
    assert!(
        first
            .stderr
            .contains("Account        8 created, 0 already there"),
        "{}",
        first.stderr
    );
    assert!(
        first
            .stderr
            .contains("Role           0 created, 1 already there"),
        "{}",
        first.stderr
    );
    assert!(!first.stderr.contains(&key), "the key is on stdout only");
    let after_first = snapshot(&sandbox).await;
    for ((entity, old), (_, new)) in before.iter().zip(&after_first) {
        assert!(old.is_subset(new), "{entity}: demo data kept");
        assert_eq!(new.len() - old.len(), expected_count(entity), "{entity}");
        for id in new.difference(old) {
            let record = sandbox.record(entity, id).expect("the new record");
            if *entity == "EmailTemplate" {
                let name = record["name"].as_str().expect("a name");
                assert!(name.ends_with(TEMPLATE_SUFFIX), "{name}");
            } else {
                let description = record["description"].as_str().expect("a description");
                assert!(description.starts_with(DESCRIPTION_MARK), "{description}");
                assert!(
                    record["assignedUserId"].as_str().is_some(),
                    "{entity} {id} is assigned"
                );
            }
        }
    }
    assert_eq!(
        sandbox.count("User"),
        users_before + 4,
        "three users and the API user"
    );
    assert_eq!(seed_users(&sandbox).len(), 4);
    assert_eq!(
        roles_named(&sandbox, ROLE_NAME).await.len(),
        1,
        "no second role"
    );

    // Contacts hang on their accounts, opportunities span every stage.
    let direct = Direct::new(&sandbox);
    let brightwater = sandbox.find("Account", "name", &json!("Brightwater Analytics"));
    assert_eq!(brightwater.len(), 1);
    let contacts = direct
        .all_related("Account", &brightwater[0], "contacts")
        .await;
    let names: BTreeSet<String> = contacts
        .iter()
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["Hannah Okoro".into(), "Marcus Feld".into()])
    );
    let new_opportunities: Vec<String> =
        after_first[3].1.difference(&before[3].1).cloned().collect();
    let stages: BTreeSet<String> = new_opportunities
        .iter()
        .filter_map(|id| sandbox.record("Opportunity", id))
        .filter_map(|o| o["stage"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(stages.len(), 6, "{stages:?}");

    // The printed key is an API key with the role's access.
    let me = reqwest::Client::new()
        .get(format!("{}/api/v1/App/user", sandbox.url))
        .header("X-Api-Key", &key)
        .send()
        .await
        .expect("the sandbox answers");
    assert!(me.status().is_success(), "{}", me.status());
    let me: Value = me.json().await.expect("JSON");
    assert_eq!(me["user"]["userName"], json!(API_USER));
    assert_eq!(me["user"]["type"], json!("api"));
    assert_eq!(me["acl"]["table"]["Account"]["create"], json!("yes"));
    assert_eq!(me["acl"]["table"]["Email"]["read"], json!("own"));

    // Second run: everything is found, nothing is created, no key is printed.
    let second = run_seed(&sandbox, &[]).await;
    assert_eq!(second.code, Some(0), "{}", second.stderr);
    assert_eq!(second.stdout, "", "nothing on stdout");
    // … but it says where the key is.
    assert!(
        second.stderr.contains(&format!(
            "the API user {API_USER} already exists, so no key is printed"
        )) && second.stderr.contains("Administration > API Users"),
        "{}",
        second.stderr
    );
    assert!(
        second
            .stderr
            .contains("Account        0 created, 8 already there"),
        "{}",
        second.stderr
    );
    assert!(
        second
            .stderr
            .contains("User           0 created, 4 already there"),
        "{}",
        second.stderr
    );
    assert_eq!(snapshot(&sandbox).await, after_first, "no new record");
    assert_eq!(sandbox.count("User"), users_before + 4);

    // A record of the agent's made in between is not seed's, whatever its name.
    let lookalike = direct
        .create(
            "Account",
            json!({"name": "Brightwater Analytics (real)", "description": "a real one"}),
        )
        .await;

    // Reset: exactly the marked records and users go; the sandbox's data and the role stay.
    let reset = run_seed(&sandbox, &["--reset"]).await;
    assert_eq!(reset.code, Some(0), "{}", reset.stderr);
    assert_eq!(reset.stdout, "");
    assert!(
        reset.stderr.contains("Account        8 deleted"),
        "{}",
        reset.stderr
    );
    assert!(
        reset.stderr.contains("User           4 deleted"),
        "{}",
        reset.stderr
    );
    let after_reset = snapshot(&sandbox).await;
    for ((entity, old), (_, now)) in before.iter().zip(&after_reset) {
        let mut expected = old.clone();
        if *entity == "Account" {
            expected.insert(lookalike.clone());
        }
        assert_eq!(now, &expected, "{entity}: only seed's records are gone");
    }
    assert_eq!(sandbox.count("User"), users_before);
    assert!(seed_users(&sandbox).is_empty());
    assert_eq!(
        roles_named(&sandbox, ROLE_NAME).await.len(),
        1,
        "the role is kept"
    );
    let gone = reqwest::Client::new()
        .get(format!("{}/api/v1/App/user", sandbox.url))
        .header("X-Api-Key", &key)
        .send()
        .await
        .expect("the sandbox answers");
    assert_eq!(gone.status().as_u16(), 401, "the API user is gone");

    // And a reset with nothing left deletes nothing.
    let again = run_seed(&sandbox, &["--reset"]).await;
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert!(
        again.stderr.contains("nothing to delete"),
        "{}",
        again.stderr
    );
}

#[tokio::test]
async fn should_create_the_role_when_missing_with_the_recommended_permissions() {
    let sandbox = empty_sandbox().await;
    let recorded = roles_named(&sandbox, ROLE_NAME).await;
    let response = reqwest::Client::new()
        .delete(format!(
            "{}/api/v1/Role/{}",
            sandbox.url,
            recorded[0]["id"].as_str().expect("an id")
        ))
        .basic_auth(&sandbox.admin_user, Some(&sandbox.admin_password))
        .send()
        .await
        .expect("the sandbox answers");
    assert!(response.status().is_success());
    assert!(roles_named(&sandbox, ROLE_NAME).await.is_empty());

    let run = run_seed(&sandbox, &["--users", "2"]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("Role           1 created, 0 already there"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("User           3 created"),
        "{}",
        run.stderr
    );
    let roles = roles_named(&sandbox, ROLE_NAME).await;
    assert_eq!(roles.len(), 1);
    let data = roles[0]["data"].as_object().expect("the role's data");
    for (scope, levels) in seed::role_scopes() {
        assert_eq!(data.get(&scope), Some(&levels), "{scope}");
    }
    for (permission, level) in seed::ROLE_PERMISSIONS {
        assert_eq!(data.get(permission), Some(&json!(level)), "{permission}");
    }
    for scope in ["MassEmail", "Campaign", "EmailAccount", "InboundEmail"] {
        assert!(data.get(scope).is_none(), "{scope} is not granted");
    }
    let key = run.api_key().expect("a key");
    let me = reqwest::Client::new()
        .get(format!("{}/api/v1/Opportunity?maxSize=1", sandbox.url))
        .header("X-Api-Key", &key)
        .send()
        .await
        .expect("the sandbox answers");
    assert!(me.status().is_success(), "the new role grants Opportunity");
}

#[tokio::test]
async fn should_refuse_bad_credentials_and_missing_settings_clearly() {
    let sandbox = crate::common::sandbox().await;
    let users = sandbox.count("User");

    let wrong = run_seed_as(&sandbox, &sandbox.admin_user, "not-the-password", &[]).await;
    assert_eq!(wrong.code, Some(1));
    assert_eq!(wrong.stdout, "");
    assert!(
        wrong
            .stderr
            .contains("rejected the administrator's user name or password (401)"),
        "{}",
        wrong.stderr
    );

    let not_admin = run_seed_as(&sandbox, "sarah.chen", "sarah.chen-password", &[]).await;
    assert_eq!(not_admin.code, Some(1));
    assert!(
        not_admin.stderr.contains("must be an administrator"),
        "{}",
        not_admin.stderr
    );
    assert_eq!(sandbox.count("User"), users, "nothing was created");

    let home = TempDir::new().expect("a temporary home");
    let missing = command(home.path())
        .arg("seed")
        .env("ESPOCRM_URL", &sandbox.url)
        .output()
        .await
        .expect("espomcp seed runs");
    assert_eq!(missing.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("ESPOCRM_ADMIN_USER, ESPOCRM_ADMIN_PASSWORD must be set"),
        "{stderr}"
    );
    assert!(missing.stdout.is_empty());
}

#[tokio::test]
async fn should_use_an_existing_role_as_it_is_and_name_where_it_differs() {
    let sandbox = empty_sandbox().await;
    let role = roles_named(&sandbox, ROLE_NAME).await.remove(0);
    let id = role["id"].as_str().expect("an id").to_owned();
    let mut data = role["data"].as_object().cloned().expect("data");
    data.insert(
        "Email".into(),
        json!({"create": "yes", "read": "all", "edit": "all", "delete": "all", "stream": "no"}),
    );
    let response = reqwest::Client::new()
        .put(format!("{}/api/v1/Role/{id}", sandbox.url))
        .basic_auth(&sandbox.admin_user, Some(&sandbox.admin_password))
        .json(&json!({ "data": data }))
        .send()
        .await
        .expect("the sandbox answers");
    assert!(response.status().is_success());

    let run = run_seed(&sandbox, &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let warning = run
        .stderr
        .lines()
        .find(|l| l.starts_with("warning: the existing role"))
        .unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(warning.contains("Email (recommended"), "{warning}");
    assert!(
        !warning.contains("Account"),
        "only the differences: {warning}"
    );
    let after = admin_get(&sandbox, &format!("Role/{id}")).await;
    assert_eq!(
        after["data"]["Email"]["read"],
        json!("all"),
        "the role is left as it was"
    );
    assert_eq!(roles_named(&sandbox, ROLE_NAME).await.len(), 1);
}
