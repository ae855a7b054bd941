//! The ways to install espomcp without building it, checked where CI can check them: CI has no
//! Docker and no forge runners, so these tests read the files that describe the image
//! (Dockerfile, .dockerignore), the Claude Desktop bundle (mcpb/manifest.json, against the MCPB
//! manifest schema, and its tool list against the running server), the MCP registry entry
//! (server.json, against the registry's rules), the release workflow, the crate's metadata and
//! licence, every JSON, TOML and YAML snippet in the README, and its table of settings. Where two files name the same
//! thing (version, image, bundle, environment variables), the tests hold them to one value.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Value, json};

use crate::common::{Era, Server, sandbox};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json_file(path: &str) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{path} is JSON: {e}"))
}

fn yaml_file(path: &str) -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(&read(path)).unwrap_or_else(|e| panic!("{path} is YAML: {e}"))
}

fn cargo_toml() -> toml::Table {
    read("Cargo.toml").parse().expect("Cargo.toml is TOML")
}

const VERSION: &str = env!("CARGO_PKG_VERSION");
const IMAGE: &str = "ghcr.io/espomcp/espomcp";
const REPOSITORY: &str = "https://github.com/espomcp/espomcp";
/// Where the image puts the binary: the ENTRYPOINT, the compose health check and the docs use it.
const BINARY_IN_IMAGE: &str = "/usr/local/bin/espomcp";

/// The errors of `instance` against `schema`, as readable lines (empty when valid).
fn schema_errors(schema: &Value, instance: &Value) -> Vec<String> {
    let validator = jsonschema::validator_for(schema).expect("the schema compiles");
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Dockerfile

/// One Dockerfile instruction: the keyword in upper case and the rest, continuation lines joined.
#[derive(Debug)]
struct Instruction {
    keyword: String,
    arguments: String,
}

fn dockerfile() -> Vec<Instruction> {
    let mut instructions = Vec::new();
    let mut pending = String::new();
    for line in read("Dockerfile").lines() {
        let trimmed = line.trim();
        if pending.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(trimmed);
        let (keyword, arguments) = pending
            .split_once(char::is_whitespace)
            .expect("KEYWORD args");
        instructions.push(Instruction {
            keyword: keyword.to_ascii_uppercase(),
            arguments: arguments.trim().to_owned(),
        });
        pending.clear();
    }
    assert!(
        pending.is_empty(),
        "the Dockerfile ends inside a continuation"
    );
    instructions
}

/// The instructions of each stage, by the stage's `AS` name.
fn stages(instructions: &[Instruction]) -> Vec<(String, String, Vec<&Instruction>)> {
    let mut stages: Vec<(String, String, Vec<&Instruction>)> = Vec::new();
    for instruction in instructions {
        if instruction.keyword == "FROM" {
            let words: Vec<&str> = instruction.arguments.split_whitespace().collect();
            assert_eq!(
                words.len(),
                3,
                "FROM IMAGE AS NAME: {}",
                instruction.arguments
            );
            assert!(
                words[1].eq_ignore_ascii_case("as"),
                "{}",
                instruction.arguments
            );
            stages.push((words[0].to_owned(), words[2].to_owned(), Vec::new()));
        } else if let Some((_, _, body)) = stages.last_mut() {
            body.push(instruction);
        }
    }
    stages
}

/// An exec-form (JSON array) argument list: the form that needs no shell in the image.
fn exec_form(instruction: &Instruction) -> Vec<String> {
    serde_json::from_str(&instruction.arguments).unwrap_or_else(|_| {
        panic!(
            "{} must be in exec form (a JSON array): {}",
            instruction.keyword, instruction.arguments
        )
    })
}

#[test]
fn dockerfile_builds_with_rust_and_runs_the_binary_as_non_root_in_distroless_without_a_shell() {
    let instructions = dockerfile();
    let args: BTreeMap<String, String> = instructions
        .iter()
        .filter(|i| i.keyword == "ARG")
        .filter_map(|i| i.arguments.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let workspace = cargo_toml();
    let rust_version = workspace["workspace"]["package"]["rust-version"]
        .as_str()
        .expect("rust-version");
    assert_eq!(
        args.get("RUST_VERSION").map(String::as_str),
        Some(rust_version),
        "the builder uses the toolchain Cargo.toml requires"
    );
    assert_eq!(args.get("VERSION").map(String::as_str), Some(VERSION));

    let stages = stages(&instructions);
    assert_eq!(stages.len(), 2, "a builder and a runtime stage: {stages:?}");
    let (builder_image, builder, build) = &stages[0];
    assert!(
        builder_image.starts_with("rust:${RUST_VERSION}"),
        "{builder_image}"
    );
    let cargo = build
        .iter()
        .find(|i| i.keyword == "RUN" && i.arguments.contains("cargo build"))
        .expect("the builder runs cargo build");
    for flag in ["--release", "--locked", "-p espomcp", "--bin espomcp"] {
        assert!(cargo.arguments.contains(flag), "cargo build {flag}");
    }

    let (runtime_image, _, runtime) = &stages[1];
    assert!(
        runtime_image.starts_with("gcr.io/distroless/cc-") && runtime_image.ends_with(":nonroot"),
        "a distroless runtime with glibc and its non-root user: {runtime_image}"
    );
    let only = |keyword: &str| -> &Instruction {
        let found: Vec<&&Instruction> = runtime.iter().filter(|i| i.keyword == keyword).collect();
        assert_eq!(found.len(), 1, "one {keyword} in the runtime stage");
        found[0]
    };
    assert!(
        runtime.iter().all(|i| i.keyword != "RUN"),
        "the runtime stage runs nothing: there is no shell in it"
    );
    let copy = only("COPY");
    assert_eq!(
        copy.arguments,
        format!("--from={builder} /out/espomcp {BINARY_IN_IMAGE}"),
        "the binary alone comes from the builder"
    );
    let user = only("USER");
    let uid = user.arguments.split(':').next().expect("a user");
    assert!(
        !matches!(uid, "root" | "0") && uid.parse::<u32>().is_ok_and(|n| n >= 1000),
        "a numeric non-root user: {}",
        user.arguments
    );
    assert_eq!(exec_form(only("ENTRYPOINT")), [BINARY_IN_IMAGE]);
    assert!(
        exec_form(only("CMD")).is_empty(),
        "no arguments by default: stdio"
    );
    assert_eq!(only("EXPOSE").arguments, "8765");

    let labels = only("LABEL").arguments.clone();
    let server_name = json_file("server.json")["name"]
        .as_str()
        .expect("name")
        .to_owned();
    assert!(
        labels.contains(&format!(
            "io.modelcontextprotocol.server.name=\"{server_name}\""
        )),
        "the MCP registry matches the image to server.json by this label: {labels}"
    );
    assert!(labels.contains(&format!("org.opencontainers.image.source=\"{REPOSITORY}\"")));
}

#[test]
fn dockerignore_keeps_build_output_history_and_secrets_out_of_the_image() {
    let ignored: BTreeSet<String> = read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_end_matches('/').to_owned())
        .collect();
    for entry in ["target", ".git", ".env"] {
        assert!(ignored.contains(entry), "{entry} is in .dockerignore");
    }
    // The build needs the whole workspace: every member and the bench Cargo.toml declares.
    for needed in [
        "src",
        "actors",
        "sandbox",
        "benches",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        assert!(!ignored.contains(needed), "{needed} must reach the builder");
    }
}

// ---------------------------------------------------------------------------------------------
// The Claude Desktop bundle

fn manifest() -> Value {
    json_file("mcpb/manifest.json")
}

#[test]
fn mcpb_manifest_is_valid_against_the_mcpb_schema_and_maps_url_and_key_into_the_environment() {
    let schema = json_file("tests/schemas/mcpb-manifest-v0.4.schema.json");
    let manifest = manifest();
    let errors = schema_errors(&schema, &manifest);
    assert!(errors.is_empty(), "mcpb/manifest.json: {errors:#?}");
    // The validator is real: what the MCPB tool refuses, it refuses too.
    let mut misspelt = manifest.clone();
    misspelt["user_config"]["espocrm_api_key"]["secret"] = json!(true);
    assert!(
        !schema_errors(&schema, &misspelt).is_empty(),
        "an unknown key"
    );
    let mut anonymous = manifest.clone();
    anonymous
        .as_object_mut()
        .expect("an object")
        .remove("author");
    assert!(!schema_errors(&schema, &anonymous).is_empty(), "no author");

    assert_eq!(
        manifest["manifest_version"],
        schema["properties"]["manifest_version"]["const"]
    );
    assert_eq!(manifest["name"], "espomcp");
    assert_eq!(manifest["version"], VERSION);
    assert_eq!(manifest["license"], "MIT");
    assert_eq!(manifest["repository"]["url"], REPOSITORY);

    let server = &manifest["server"];
    assert_eq!(server["type"], "binary");
    assert_eq!(server["entry_point"], "server/espomcp");
    let config = &server["mcp_config"];
    assert_eq!(config["command"], "${__dirname}/server/espomcp");
    assert_eq!(
        config["platform_overrides"]["win32"]["command"],
        "${__dirname}/server/espomcp.exe"
    );
    assert_eq!(config["args"], json!([]), "stdio, the default");

    let user_config = manifest["user_config"].as_object().expect("user_config");
    let url = &user_config["espocrm_url"];
    let key = &user_config["espocrm_api_key"];
    assert_eq!(url["type"], "string");
    assert_eq!(url["required"], true);
    assert_ne!(url["sensitive"], true, "the URL is no secret");
    assert_eq!(key["type"], "string");
    assert_eq!(key["required"], true);
    assert_eq!(
        key["sensitive"], true,
        "the key is masked and stored securely"
    );

    let env = config["env"].as_object().expect("env");
    assert_eq!(env["ESPOCRM_URL"], "${user_config.espocrm_url}");
    assert_eq!(env["ESPOCRM_API_KEY"], "${user_config.espocrm_api_key}");
    // Every field the person fills in reaches espomcp, and nothing refers to a missing field.
    let referenced: BTreeSet<&str> = env
        .values()
        .filter_map(Value::as_str)
        .filter_map(|v| v.strip_prefix("${user_config.")?.strip_suffix('}'))
        .collect();
    let declared: BTreeSet<&str> = user_config.keys().map(String::as_str).collect();
    assert_eq!(referenced, declared);
    let known = ["ESPOCRM_URL", "ESPOCRM_API_KEY", "SERVER_READ_ONLY"];
    for name in env.keys() {
        assert!(
            known.contains(&name.as_str()),
            "{name} is a setting espomcp reads"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn mcpb_manifest_lists_exactly_the_tools_the_server_serves() {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, Era::Legacy).await;
    let served: BTreeSet<String> = server
        .client
        .list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    let manifest = manifest();
    let listed: BTreeSet<String> = manifest["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t["name"].as_str().expect("a name").to_owned())
        .collect();
    assert_eq!(
        listed, served,
        "Claude Desktop shows the manifest's list before it starts us"
    );
    assert_ne!(manifest["tools_generated"], true);
}

#[test]
fn makefile_mcpb_target_builds_the_release_binary_then_validates_and_packs_the_manifest() {
    let makefile = read("Makefile");
    let recipe: Vec<&str> = makefile
        .lines()
        .skip_while(|l| !l.starts_with("mcpb:"))
        .skip(1)
        .take_while(|l| l.starts_with('\t'))
        .map(str::trim)
        .collect();
    assert!(!recipe.is_empty(), "a mcpb target");
    let position = |needle: &str| {
        recipe
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("the mcpb recipe has {needle}: {recipe:#?}"))
    };
    let build = position("build --release --locked -p espomcp");
    let manifest = position("mcpb/manifest.json");
    let validate = position("$(MCPB_CLI) validate");
    let pack = position("$(MCPB_CLI) pack");
    assert!(build < manifest && manifest < validate && validate < pack);
    assert!(recipe[pack].contains("dist/espomcp-$(VERSION)-"));
    let pinned = makefile
        .lines()
        .find_map(|l| l.strip_prefix("MCPB_CLI ?= "))
        .expect("MCPB_CLI");
    assert!(
        pinned.starts_with("@anthropic-ai/mcpb@") && pinned.rsplit('@').next() != Some("latest"),
        "a pinned MCPB tool: {pinned}"
    );
    let workflow = yaml_file(".github/workflows/release.yml");
    assert_eq!(
        workflow["env"]["MCPB_CLI"].as_str(),
        Some(pinned),
        "the release packs with the same tool"
    );
}

// ---------------------------------------------------------------------------------------------
// The MCP registry entry

#[test]
fn server_json_follows_the_registry_rules_and_names_this_image_and_bundle() {
    let rules = json_file("tests/schemas/mcp-registry-server.rules.json");
    let server = json_file("server.json");
    let errors = schema_errors(&rules, &server);
    assert!(errors.is_empty(), "server.json: {errors:#?}");

    // The rules catch what the registry refuses.
    let refused = |change: &dyn Fn(&mut Value), why: &str| {
        let mut broken = server.clone();
        change(&mut broken);
        assert!(
            !schema_errors(&rules, &broken).is_empty(),
            "{why}: {broken}"
        );
    };
    refused(
        &|s| s["description"] = json!("x".repeat(101)),
        "description over 100",
    );
    refused(
        &|s| s["name"] = json!("espomcp"),
        "name without a namespace",
    );
    refused(&|s| s["version"] = json!("latest"), "version not exact");
    refused(
        &|s| {
            s["packages"][1]
                .as_object_mut()
                .expect("a package")
                .remove("fileSha256");
        },
        "mcpb without its hash",
    );
    refused(
        &|s| s["packages"][0]["identifier"] = json!(IMAGE),
        "image without a tag",
    );
    refused(
        &|s| s["packages"][0]["transport"] = json!({"type": "carrier-pigeon"}),
        "unknown transport",
    );

    assert_eq!(server["version"], VERSION);
    assert_eq!(server["repository"]["url"], REPOSITORY);
    assert_eq!(server["repository"]["source"], "github");
    let namespace = REPOSITORY
        .strip_prefix("https://github.com/")
        .and_then(|path| path.split('/').next())
        .expect("a GitHub owner");
    assert!(
        server["name"]
            .as_str()
            .is_some_and(|n| n.starts_with(&format!("io.github.{namespace}/"))),
        "the registry proves io.github.<owner> with GitHub: {}",
        server["name"]
    );

    let packages = server["packages"].as_array().expect("packages");
    let by_type = |kind: &str| {
        packages
            .iter()
            .find(|p| p["registryType"] == kind)
            .unwrap_or_else(|| panic!("an {kind} package"))
    };
    let oci = by_type("oci");
    let image = format!("{IMAGE}:{VERSION}");
    assert_eq!(oci["identifier"], image.as_str());
    let compose = yaml_file("docker-compose.yml");
    assert_eq!(
        compose["services"]["espomcp"]["image"].as_str(),
        Some(image.as_str()),
        "compose runs the published image"
    );
    let mcpb = by_type("mcpb");
    assert_eq!(
        mcpb["identifier"],
        format!("{REPOSITORY}/releases/download/v{VERSION}/espomcp-{VERSION}.mcpb").as_str()
    );
    assert!(
        read(".github/workflows/release.yml").contains("\"dist/espomcp-$version.mcpb\""),
        "the release uploads the bundle under that name"
    );
    // The bundle's hash exists only once the release has built it: the repository holds a
    // placeholder of the right form, and the release job writes the real one before publishing.
    assert_eq!(mcpb["fileSha256"], "0".repeat(64).as_str());
    for package in packages {
        assert_eq!(package["transport"]["type"], "stdio");
    }

    // The image's variables are the bundle's, with the same secrecy.
    let manifest = manifest();
    let bundle_env = manifest["server"]["mcp_config"]["env"]
        .as_object()
        .expect("env");
    let variables = oci["environmentVariables"].as_array().expect("variables");
    let names: BTreeSet<&str> = variables
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    let bundle_names: BTreeSet<&str> = bundle_env.keys().map(String::as_str).collect();
    assert_eq!(names, bundle_names);
    for variable in variables {
        let name = variable["name"].as_str().expect("a name");
        let field = bundle_env[name]
            .as_str()
            .and_then(|v| v.strip_prefix("${user_config.")?.strip_suffix('}'))
            .expect("a user_config field");
        let user_config = &manifest["user_config"][field];
        assert_eq!(
            variable["isSecret"] == true,
            user_config["sensitive"] == true,
            "{name}"
        );
        assert_eq!(
            variable["isRequired"] == true,
            user_config["required"] == true,
            "{name}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The release workflow

#[test]
fn release_workflow_builds_the_five_targets_and_publishes_the_image_bundle_and_registry_entry() {
    let workflow = yaml_file(".github/workflows/release.yml");
    let tags: Vec<&str> = workflow["on"]["push"]["tags"]
        .as_sequence()
        .expect("on.push.tags")
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    assert_eq!(tags, ["v*"], "a version tag releases");
    let rust_version = cargo_toml()["workspace"]["package"]["rust-version"]
        .as_str()
        .expect("rust-version")
        .to_owned();
    assert_eq!(
        workflow["env"]["RUST_VERSION"].as_str(),
        Some(rust_version.as_str())
    );
    assert_eq!(workflow["env"]["IMAGE"].as_str(), Some(IMAGE));

    let jobs = &workflow["jobs"];
    let binaries = &jobs["binaries"];
    let matrix = binaries["strategy"]["matrix"]["include"]
        .as_sequence()
        .expect("a matrix of targets");
    let targets: BTreeMap<&str, &str> = matrix
        .iter()
        .map(|entry| {
            (
                entry["target"].as_str().expect("target"),
                entry["os"].as_str().expect("os"),
            )
        })
        .collect();
    assert_eq!(
        targets.keys().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from([
            "x86_64-unknown-linux-gnu",
            "aarch64-unknown-linux-gnu",
            "x86_64-apple-darwin",
            "aarch64-apple-darwin",
            "x86_64-pc-windows-msvc",
        ])
    );
    for (target, os) in &targets {
        let expected = if target.contains("linux") {
            "ubuntu-"
        } else if target.contains("apple") {
            "macos-"
        } else {
            "windows-"
        };
        assert!(os.starts_with(expected), "{target} builds on {os}");
        if target.starts_with("aarch64") && target.contains("linux") {
            assert!(
                os.ends_with("-arm"),
                "{target} builds natively on an ARM runner: {os}"
            );
        }
    }
    let steps = |job: &serde_yaml_ng::Value| -> Vec<String> {
        job["steps"]
            .as_sequence()
            .expect("steps")
            .iter()
            .map(|step| serde_yaml_ng::to_string(step).expect("a step"))
            .collect()
    };
    let build_steps = steps(binaries);
    let build = build_steps
        .iter()
        .find(|s| s.contains("cargo build"))
        .expect("a cargo build step");
    for flag in [
        "--release",
        "--locked",
        "-p espomcp",
        "--target ${{ matrix.target }}",
    ] {
        assert!(build.contains(flag), "cargo build {flag}: {build}");
    }
    assert!(
        build_steps.iter().any(|s| s.contains("upload-artifact")),
        "the binaries are kept for the release"
    );

    let image_steps = steps(&jobs["image"]).join("\n");
    for needed in [
        "docker/build-push-action",
        "file: Dockerfile",
        "linux/amd64,linux/arm64",
        "${{ env.IMAGE }}:${{ steps.version.outputs.version }}",
        "push: true",
    ] {
        assert!(image_steps.contains(needed), "the image job has {needed}");
    }
    assert_eq!(
        jobs["image"]["permissions"]["packages"].as_str(),
        Some("write")
    );

    let mcpb_steps = steps(&jobs["mcpb"]).join("\n");
    for needed in [
        "mcpb/manifest.json",
        "lipo -create",
        "espomcp.exe",
        "validate",
        "pack",
    ] {
        assert!(mcpb_steps.contains(needed), "the mcpb job has {needed}");
    }

    let registry = &jobs["mcp-registry"];
    let registry_steps = steps(registry).join("\n");
    for needed in [
        ".fileSha256) = $sha",
        "check-jsonschema",
        "mcp-publisher publish",
    ] {
        assert!(
            registry_steps.contains(needed),
            "the registry job has {needed}"
        );
    }
    assert_eq!(registry["permissions"]["id-token"].as_str(), Some("write"));
    let needs: BTreeSet<&str> = registry["needs"]
        .as_sequence()
        .expect("needs")
        .iter()
        .filter_map(|n| n.as_str())
        .collect();
    assert!(
        needs.contains("image") && needs.contains("github-release"),
        "the entry is published after what it points at: {needs:?}"
    );
    assert!(
        steps(&jobs["crates-io"])
            .join("\n")
            .contains("cargo publish --workspace --locked")
    );
}

// ---------------------------------------------------------------------------------------------
// Crate metadata and licence

#[test]
fn crate_metadata_is_publishable_and_the_licence_file_matches_it() {
    let manifest = cargo_toml();
    let workspace = &manifest["workspace"]["package"];
    assert_eq!(workspace["license"].as_str(), Some("MIT"));
    assert_eq!(workspace["repository"].as_str(), Some(REPOSITORY));
    assert!(
        workspace["homepage"]
            .as_str()
            .is_some_and(|h| h.starts_with("https://"))
    );
    let licence = read("LICENSE");
    assert!(
        licence.starts_with("MIT License\n"),
        "LICENSE is the MIT licence"
    );
    assert!(licence.contains("Permission is hereby granted, free of charge"));

    let package = &manifest["package"];
    assert_eq!(package["name"].as_str(), Some("espomcp"));
    assert_eq!(package["readme"].as_str(), Some("README.md"));
    for inherited in ["license", "repository", "homepage"] {
        assert_eq!(
            package[inherited]["workspace"].as_bool(),
            Some(true),
            "{inherited}"
        );
    }
    let keywords = package["keywords"].as_array().expect("keywords");
    assert!(
        (1..=5).contains(&keywords.len()),
        "crates.io takes at most 5 keywords"
    );
    for keyword in keywords {
        let keyword = keyword.as_str().expect("a keyword");
        assert!(
            keyword.len() <= 20
                && keyword
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "crates.io keyword rules: {keyword}"
        );
    }
    assert!(
        !package["categories"]
            .as_array()
            .expect("categories")
            .is_empty()
    );
    let include: Vec<&str> = package["include"]
        .as_array()
        .expect("include")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for file in ["/LICENSE", "/README.md", "/src/**"] {
        assert!(include.contains(&file), "the published crate has {file}");
    }

    // Path dependencies carry the version of the crate they point at, or publishing fails.
    for (name, directory) in [("espomcp-actors", "actors"), ("espocrm-sandbox", "sandbox")] {
        let dependency = &manifest["dependencies"][name];
        assert_eq!(dependency["path"].as_str(), Some(directory));
        let member: toml::Table = read(&format!("{directory}/Cargo.toml"))
            .parse()
            .expect("TOML");
        let version = member["package"]["version"].as_str().expect("a version");
        assert_eq!(
            dependency["version"].as_str(),
            Some(format!("={version}").as_str()),
            "{name}"
        );
        for inherited in ["license", "repository"] {
            assert_eq!(
                member["package"][inherited]["workspace"].as_bool(),
                Some(true),
                "{name}: {inherited}"
            );
        }
        assert!(
            member["package"]["description"].as_str().is_some(),
            "{name}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The README's snippets

/// The fenced code blocks of the README in one of `languages`, with the line each starts on.
fn readme_blocks(languages: &[&str]) -> Vec<(usize, String, String)> {
    let readme = read("README.md");
    let mut blocks = Vec::new();
    let mut open: Option<(usize, String, String)> = None;
    for (number, line) in readme.lines().enumerate() {
        match open.as_mut() {
            None => {
                if let Some(language) = line.trim_start().strip_prefix("```") {
                    open = Some((number + 1, language.trim().to_owned(), String::new()));
                }
            }
            Some((_, _, body)) => {
                if line.trim_start().starts_with("```") {
                    let block = open.take().expect("an open block");
                    if languages.contains(&block.1.as_str()) {
                        blocks.push(block);
                    }
                } else {
                    body.push_str(line);
                    body.push('\n');
                }
            }
        }
    }
    assert!(open.is_none(), "README.md ends inside a code block");
    blocks
}

/// What a client launches, wherever a snippet names a command: espomcp itself (on PATH or by
/// full path) or docker with this version's image.
fn assert_launches_espomcp(line: usize, command: &str, args: &[String]) {
    if command == "docker" {
        assert!(
            args.iter().any(|a| a == &format!("{IMAGE}:{VERSION}")),
            "README.md:{line}: docker runs {IMAGE}:{VERSION}: {args:?}"
        );
        assert!(
            args.iter().any(|a| a == "-i"),
            "README.md:{line}: stdio over docker needs -i"
        );
    } else {
        assert!(
            command == "espomcp" || command.ends_with("/espomcp"),
            "README.md:{line}: launches espomcp, not {command}"
        );
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// One server entry of any client's JSON: a command with args and env, or a URL.
fn check_server_entry(line: usize, name: &str, entry: &Value) {
    match entry.get("command") {
        Some(Value::String(command)) => {
            assert_launches_espomcp(line, command, &strings(entry.get("args")));
        }
        Some(other) => panic!(
            "README.md:{line}: {name}.command must be the program (a string), not {other}: \
             Zed's old nested form"
        ),
        None => {
            let url = ["url", "serverUrl", "httpUrl"]
                .iter()
                .find_map(|key| entry.get(*key))
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("README.md:{line}: {name} has a command or a URL"));
            assert!(
                url.ends_with("/mcp"),
                "README.md:{line}: the endpoint is /mcp: {url}"
            );
        }
    }
    if let Some(env) = entry.get("env") {
        for key in env.as_object().expect("env is an object").keys() {
            assert!(
                key.starts_with("ESPOCRM_") || key.starts_with("SERVER_"),
                "README.md:{line}: {key} is one of espomcp's variables"
            );
        }
    }
}

#[test]
fn every_json_toml_and_yaml_snippet_in_the_readme_parses_and_launches_espomcp() {
    let blocks = readme_blocks(&["json", "toml", "yaml", "yml"]);
    let mut clients = BTreeSet::new();
    for (line, language, body) in &blocks {
        match language.as_str() {
            "json" => {
                let value: Value = serde_json::from_str(body)
                    .unwrap_or_else(|e| panic!("README.md:{line}: not JSON: {e}\n{body}"));
                for key in ["mcpServers", "servers", "context_servers"] {
                    if let Some(servers) = value.get(key).and_then(Value::as_object) {
                        clients.insert(key.to_owned());
                        for (name, entry) in servers {
                            check_server_entry(*line, name, entry);
                            if entry.get("serverUrl").is_some() {
                                clients.insert("serverUrl".to_owned());
                            }
                        }
                    }
                }
            }
            "toml" => {
                let value: toml::Table = body
                    .parse()
                    .unwrap_or_else(|e| panic!("README.md:{line}: not TOML: {e}\n{body}"));
                let servers = value["mcp_servers"].as_table().expect("[mcp_servers.NAME]");
                clients.insert("mcp_servers".to_owned());
                for (name, entry) in servers {
                    let entry: Value = serde_json::to_value(entry).expect("TOML as JSON");
                    check_server_entry(*line, name, &entry);
                }
            }
            _ => {
                let value: Value = serde_yaml_ng::from_str(body)
                    .unwrap_or_else(|e| panic!("README.md:{line}: not YAML: {e}\n{body}"));
                if let Some(servers) = value.get("mcpServers").and_then(Value::as_array) {
                    clients.insert("continue".to_owned());
                    for key in ["name", "version", "schema"] {
                        assert!(
                            value.get(key).is_some(),
                            "README.md:{line}: a Continue config or block needs `{key}`"
                        );
                    }
                    assert_eq!(value["schema"], "v1", "README.md:{line}");
                    for entry in servers {
                        let name = entry["name"].as_str().expect("each server has a name");
                        check_server_entry(*line, name, entry);
                    }
                }
            }
        }
    }
    // The snippets the README promises: the common form, VS Code's, Zed's, Windsurf over HTTP,
    // Codex CLI's TOML and Continue's YAML.
    for client in [
        "mcpServers",
        "servers",
        "context_servers",
        "serverUrl",
        "mcp_servers",
        "continue",
    ] {
        assert!(
            clients.contains(client),
            "README.md has a {client} snippet: {clients:?}"
        );
    }
    let demo = blocks.iter().any(|(_, language, body)| {
        language == "json"
            && serde_json::from_str::<Value>(body).is_ok_and(|v| {
                v["mcpServers"]
                    .as_object()
                    .is_some_and(|s| s.values().any(|e| strings(e.get("args")) == ["--demo"]))
            })
    });
    assert!(demo, "README.md has a --demo snippet");
}

/// The README's table of settings is written by hand, for people; the settings, their order and
/// their defaults are those of `espomcp::config::SETTINGS`, whence `--help` takes them too.
#[test]
fn the_readme_lists_every_setting_with_its_default() {
    let readme = read("README.md");
    let (_, section) = readme
        .split_once("### Configuration\n")
        .expect("README.md has a Configuration section");
    let rows: Vec<(String, String)> = section
        .lines()
        .skip_while(|line| !line.starts_with("| Variable | Default |"))
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            // Code spans are how the README sets names apart; --help has none.
            (cells[1].replace('`', ""), cells[2].replace('`', ""))
        })
        .collect();
    let settings: Vec<(String, String)> = espomcp::config::SETTINGS
        .iter()
        .map(|setting| {
            let default = match setting.shown_default() {
                Some(default) => default,
                None if setting.is_required() => "— (required unless --demo)".to_owned(),
                None => "—".to_owned(),
            };
            (setting.env.to_owned(), default)
        })
        .collect();
    assert_eq!(
        rows, settings,
        "README.md's Configuration table: (variable, default) in the order of SETTINGS"
    );
}
