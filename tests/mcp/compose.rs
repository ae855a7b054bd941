//! docker-compose.yml cannot be run in CI (no Docker); this checks what can be checked: it is
//! YAML, it has the services EspoCRM's image documents (database, web, daemon, WebSocket) with
//! pinned image tags, health checks and the shared volume, its secrets come from `.env`, and
//! `.env.example` names every variable it needs while `.env` stays out of git. The `espomcp`
//! service runs this repository's image (Dockerfile) beside EspoCRM, over HTTP, behind a profile.

use std::collections::BTreeSet;
use std::path::Path;

use serde_yaml_ng::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn compose() -> Value {
    let text = std::fs::read_to_string(root().join("docker-compose.yml"))
        .expect("docker-compose.yml exists");
    serde_yaml_ng::from_str(&text).expect("docker-compose.yml is YAML")
}

fn str_of<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

#[test]
fn compose_file_has_the_documented_services_with_pinned_images_and_health_checks() {
    let compose = compose();
    let services = compose
        .get("services")
        .and_then(Value::as_mapping)
        .expect("services");
    let names: BTreeSet<&str> = services.keys().filter_map(Value::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "espocrm-db",
            "espocrm",
            "espocrm-daemon",
            "espocrm-websocket",
            "espomcp"
        ])
    );
    for (name, service) in services {
        let name = name.as_str().expect("a name");
        let image = str_of(service, "image").unwrap_or_else(|| panic!("{name} has an image"));
        let (repository, tag) = image
            .rsplit_once(':')
            .unwrap_or_else(|| panic!("{name}: {image} has a tag"));
        assert!(
            tag.split('.').count() == 3 && tag.split('.').all(|p| p.parse::<u32>().is_ok()),
            "{name}: {image} is pinned to a full version"
        );
        if repository == "espocrm/espocrm" {
            assert!(tag.starts_with("8.") || tag.starts_with("9."), "{image}");
        } else if name == "espomcp" {
            assert_eq!(repository, "ghcr.io/espomcp/espomcp");
            assert_eq!(tag, env!("CARGO_PKG_VERSION"), "the image of this version");
        } else {
            assert_eq!(repository, "mariadb", "{name}");
        }
        let test = service
            .get("healthcheck")
            .and_then(|h| h.get("test"))
            .and_then(Value::as_sequence)
            .unwrap_or_else(|| panic!("{name} has a health check"));
        assert!(test.len() >= 2, "{name}: {test:?}");
        assert_eq!(str_of(service, "restart"), Some("always"), "{name}");
    }
    let service = |name: &str| &services[name];
    assert_eq!(
        str_of(service("espocrm-daemon"), "entrypoint"),
        Some("docker-daemon.sh")
    );
    assert_eq!(
        str_of(service("espocrm-websocket"), "entrypoint"),
        Some("docker-websocket.sh")
    );
    for name in ["espocrm", "espocrm-daemon", "espocrm-websocket"] {
        let volumes = service(name)
            .get("volumes")
            .and_then(Value::as_sequence)
            .expect("volumes");
        assert!(
            volumes
                .iter()
                .any(|v| v.as_str() == Some("espocrm:/var/www/html")),
            "{name} shares the application volume"
        );
    }
    let db_volumes = service("espocrm-db")["volumes"]
        .as_sequence()
        .expect("volumes");
    assert_eq!(db_volumes[0].as_str(), Some("espocrm-db:/var/lib/mysql"));
    let declared: BTreeSet<&str> = compose["volumes"]
        .as_mapping()
        .expect("volumes")
        .keys()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(declared, BTreeSet::from(["espocrm", "espocrm-db"]));

    let environment = &service("espocrm")["environment"];
    assert_eq!(
        str_of(environment, "ESPOCRM_DATABASE_HOST"),
        Some("espocrm-db")
    );
    for key in [
        "ESPOCRM_ADMIN_USERNAME",
        "ESPOCRM_ADMIN_PASSWORD",
        "ESPOCRM_DATABASE_PASSWORD",
    ] {
        let value = str_of(environment, key).unwrap_or_else(|| panic!("{key}"));
        assert!(
            value.starts_with("${") && value.contains(":?"),
            "{key} comes from .env: {value}"
        );
    }
    assert_eq!(
        str_of(&service("espocrm-db")["environment"], "MARIADB_DATABASE"),
        Some("espocrm")
    );
    let websocket = &service("espocrm-websocket")["environment"];
    assert_eq!(
        str_of(websocket, "ESPOCRM_CONFIG_USE_WEB_SOCKET"),
        Some("true")
    );
    for key in [
        "ESPOCRM_CONFIG_WEB_SOCKET_URL",
        "ESPOCRM_CONFIG_WEB_SOCKET_ZERO_M_Q_SUBSCRIBER_DSN",
        "ESPOCRM_CONFIG_WEB_SOCKET_ZERO_M_Q_SUBMISSION_DSN",
    ] {
        assert!(str_of(websocket, key).is_some(), "{key}");
    }
}

#[test]
fn espomcp_service_runs_this_image_over_http_on_loopback_after_espocrm_is_healthy() {
    let compose = compose();
    let service = &compose["services"]["espomcp"];
    assert_eq!(
        str_of(service, "build"),
        Some("."),
        "built from the Dockerfile"
    );
    // Behind a profile: `make compose-up` starts EspoCRM before any API key exists.
    let profiles: Vec<&str> = service["profiles"]
        .as_sequence()
        .expect("profiles")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(profiles, ["mcp"]);
    // Exec form: the image has no shell to run a command string.
    let command: Vec<&str> = service["command"]
        .as_sequence()
        .expect("command is a list (exec form)")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(command, ["serve", "--http", "0.0.0.0:8765"]);
    let environment = &service["environment"];
    assert_eq!(
        str_of(environment, "ESPOCRM_URL"),
        Some("http://espocrm"),
        "EspoCRM's service name inside the compose network"
    );
    for key in ["ESPOCRM_API_KEY", "SERVER_HTTP_TOKEN"] {
        let value = str_of(environment, key).unwrap_or_else(|| panic!("{key}"));
        assert!(
            value.starts_with(&format!("${{{key}")),
            "{key} comes from .env: {value}"
        );
    }
    assert_eq!(
        str_of(&service["depends_on"]["espocrm"], "condition"),
        Some("service_healthy")
    );
    let ports: Vec<&str> = service["ports"]
        .as_sequence()
        .expect("ports")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(ports.len(), 1);
    assert!(
        ports[0].starts_with("127.0.0.1:") && ports[0].ends_with(":8765"),
        "published on loopback only: {}",
        ports[0]
    );
    let test: Vec<&str> = service["healthcheck"]["test"]
        .as_sequence()
        .expect("a health check")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        test,
        ["CMD", "/usr/local/bin/espomcp", "check"],
        "no shell needed"
    );
}

#[test]
fn env_example_names_every_required_variable_and_env_is_ignored() {
    let text = std::fs::read_to_string(root().join("docker-compose.yml")).expect("the file");
    let required: BTreeSet<String> = text
        .split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once(":?").map(|(name, _)| name.to_owned()))
        .filter(|name| name.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .collect();
    assert!(required.contains("ESPOCRM_ADMIN_PASSWORD"), "{required:?}");
    let example = std::fs::read_to_string(root().join(".env.example")).expect(".env.example");
    let defined: BTreeSet<String> = example
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_owned()))
        .collect();
    for name in &required {
        assert!(defined.contains(name), "{name} is in .env.example");
    }
    for name in ["ESPOCRM_API_KEY", "SERVER_HTTP_TOKEN"] {
        assert!(defined.contains(name), "{name} has a slot in .env.example");
    }
    let ignored = std::fs::read_to_string(root().join(".gitignore")).expect(".gitignore");
    assert!(
        ignored.lines().any(|l| l.trim() == ".env"),
        ".env is ignored"
    );
}
