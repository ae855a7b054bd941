//! The catalogue of tools: what each tool declares beside its `#[tool]` attribute, and what is
//! derived from those declarations instead of being listed again elsewhere.
//!
//! A tool is declared in its own file, in two places next to each other: its `#[tool]`
//! attribute (name, description, schemas, annotations) and a [`ToolSpec`] in that file's
//! `TOOLS` list (its [`Toolset`] and, for a tool that changes data, the [`Audited`] type whose
//! declaration says what the audit log records of a call). From these come:
//! - the order of `tools/list` ([`listing_position`]): the read toolset first, in the order its
//!   tools are declared (discover, then read), then the tools that change data, by name;
//! - the tools of each toolset ([`Toolset::tools`], [`Toolset::of`]);
//! - the audit log's view of a call ([`audit_of`]): a tool without an [`Audited`] declaration
//!   is not audited, and the test below fails when a tool that changes data has none.
//!
//! The tests here fail when a routed tool has no declaration (or a declaration no route), when a
//! tool lacks any annotation, or when its toolset, its `readOnlyHint` and its audit declaration
//! disagree.

use std::borrow::Cow;
use std::sync::LazyLock;

use rmcp::model::Tool;

use crate::audit::{AuditSubject, Audited};
use crate::toolsets::Toolset;

/// What a tool declares beside its `#[tool]` attribute.
#[derive(Clone, Copy)]
pub struct ToolSpec {
    /// The `<tool>_tool_attr` function `#[tool]` generates: the tool as listed, name included,
    /// so the name is written once, in the attribute.
    pub tool: fn() -> Tool,
    /// The family the tool is switched on and off with (`SERVER_TOOLSETS`).
    pub toolset: Toolset,
    /// What the audit log records of a call; `None` for a tool that only reads.
    pub audit: Option<AuditSubject>,
}

impl ToolSpec {
    /// A tool that only reads: not audited.
    pub const fn reads(tool: fn() -> Tool, toolset: Toolset) -> ToolSpec {
        ToolSpec {
            tool,
            toolset,
            audit: None,
        }
    }

    /// A tool that changes data, audited as its argument type `A` declares.
    pub const fn writes<A: Audited>(tool: fn() -> Tool, toolset: Toolset) -> ToolSpec {
        ToolSpec {
            tool,
            toolset,
            audit: Some(A::subject),
        }
    }
}

impl std::fmt::Debug for ToolSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolSpec")
            .field("toolset", &self.toolset)
            .field("audited", &self.audit.is_some())
            .finish_non_exhaustive()
    }
}

/// Every file's declarations, read tools first in the order they are listed.
fn declared() -> impl Iterator<Item = &'static ToolSpec> {
    [
        super::read::TOOLS,
        super::read::power::TOOLS,
        super::write::TOOLS,
        super::delete::TOOLS,
        super::notes::TOOLS,
        super::kanban::TOOLS,
        super::email::TOOLS,
    ]
    .into_iter()
    .flatten()
}

/// One declared tool, by name.
#[derive(Debug)]
struct Entry {
    name: &'static str,
    toolset: Toolset,
    audit: Option<AuditSubject>,
}

/// The declarations, read once: in declaration order, and per toolset (in [`Toolset::ALL`]'s
/// order) the names of its tools.
struct Catalog {
    entries: Vec<Entry>,
    by_toolset: Vec<Vec<&'static str>>,
}

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
    let entries: Vec<Entry> = declared()
        .map(|spec| Entry {
            name: static_name((spec.tool)().name),
            toolset: spec.toolset,
            audit: spec.audit,
        })
        .collect();
    let by_toolset = Toolset::ALL
        .iter()
        .map(|toolset| {
            entries
                .iter()
                .filter(|entry| entry.toolset == *toolset)
                .map(|entry| entry.name)
                .collect()
        })
        .collect();
    Catalog {
        entries,
        by_toolset,
    }
});

/// A tool's name as `#[tool]` writes it: a literal, so borrowed for good. (A name built at run
/// time would be kept for the life of the process, once: the catalogue is read once.)
fn static_name(name: Cow<'static, str>) -> &'static str {
    match name {
        Cow::Borrowed(name) => name,
        Cow::Owned(name) => Box::leak(name.into_boxed_str()),
    }
}

fn entry(tool: &str) -> Option<&'static Entry> {
    CATALOG.entries.iter().find(|entry| entry.name == tool)
}

/// The tools of `toolset`, by name, in declaration order.
pub fn tools_of(toolset: Toolset) -> &'static [&'static str] {
    Toolset::ALL
        .iter()
        .position(|t| *t == toolset)
        .and_then(|at| CATALOG.by_toolset.get(at))
        .map_or(&[], Vec::as_slice)
}

/// The toolset `tool` is declared in; `None` for a name no tool has.
pub fn toolset_of(tool: &str) -> Option<Toolset> {
    entry(tool).map(|entry| entry.toolset)
}

/// A tool's place in `tools/list`: the read toolset's tools in the order they are declared;
/// every other tool after them (the router lists those by name, and the sort keeps that).
pub fn listing_position(tool: &str) -> usize {
    let read = tools_of(Toolset::Read);
    read.iter().position(|n| *n == tool).unwrap_or(read.len())
}

/// The name and audit declaration of `tool`, if it changes data (see [`Audited`]).
pub fn audit_of(tool: &str) -> Option<(&'static str, AuditSubject)> {
    entry(tool).and_then(|entry| Some((entry.name, entry.audit?)))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The tools the server routes, whatever the declarations say.
    fn routed() -> Vec<Tool> {
        super::super::router(false).list_all()
    }

    #[test]
    fn should_declare_every_routed_tool_once() {
        let routed: BTreeSet<String> = routed().iter().map(|t| t.name.to_string()).collect();
        let mut declared = BTreeSet::new();
        for spec in super::declared() {
            let name = (spec.tool)().name.into_owned();
            assert!(declared.insert(name.clone()), "{name} is declared twice");
        }
        assert_eq!(
            routed, declared,
            "a routed tool without a ToolSpec in its file's TOOLS, or a ToolSpec of no route"
        );
    }

    #[test]
    fn should_give_every_tool_its_annotations() {
        for tool in routed() {
            let name = &tool.name;
            let annotations = tool
                .annotations
                .as_ref()
                .unwrap_or_else(|| panic!("{name} declares no annotations"));
            assert!(
                annotations.title.as_deref().is_some_and(|t| !t.is_empty()),
                "{name} has no title"
            );
            assert!(annotations.read_only_hint.is_some(), "{name}: readOnlyHint");
            assert!(
                annotations.destructive_hint.is_some(),
                "{name}: destructiveHint"
            );
            assert!(
                annotations.idempotent_hint.is_some(),
                "{name}: idempotentHint"
            );
            assert!(
                annotations.open_world_hint.is_some(),
                "{name}: openWorldHint"
            );
        }
    }

    #[test]
    fn should_audit_exactly_the_tools_that_change_data() {
        for tool in routed() {
            let name = &tool.name;
            let read_only = tool.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(true);
            let toolset = toolset_of(name).unwrap_or_else(|| panic!("{name} has no toolset"));
            assert_eq!(
                toolset == Toolset::Read,
                read_only,
                "{name}: the read toolset is the read-only tools"
            );
            assert_eq!(
                audit_of(name).is_some(),
                !read_only,
                "{name}: a tool that changes data declares what the audit log records (Audited)"
            );
        }
    }

    #[test]
    fn should_list_the_read_tools_first_in_their_declared_order() {
        assert_eq!(
            tools_of(Toolset::Read),
            [
                "list_entity_types",
                "get_schema",
                "search",
                "get",
                "get_related",
                "get_many",
                "global_search",
                "aggregate",
                "upcoming_activities",
                "whoami",
            ]
        );
        assert_eq!(listing_position("list_entity_types"), 0);
        assert_eq!(listing_position("whoami"), 9);
        assert_eq!(listing_position("create"), 10);
        assert_eq!(listing_position("no_such_tool"), 10);
        assert_eq!(tools_of(Toolset::Notes), ["add_note"]);
        assert_eq!(toolset_of("update_kanban"), Some(Toolset::Kanban));
        assert_eq!(toolset_of("no_such_tool"), None);
    }
}
