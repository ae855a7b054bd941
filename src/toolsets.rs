//! What a deployment lets the agent do: which tool families are served (`--toolsets`,
//! `SERVER_TOOLSETS`), read-only mode (`--read-only`, `SERVER_READ_ONLY`), and which entity
//! types any tool may touch (`--entities`, `SERVER_ENTITY_TYPES`).
//!
//! Both are filters applied once, not checks spread over the tools:
//! - [`ToolFilter`] decides per tool name; `tools/list` leaves hidden tools out and a call to
//!   one is refused with `TOOL_DISABLED` before it reaches the tool. Read-only mode keeps only
//!   the tools whose own annotation says `readOnlyHint: true`, and wins over the toolsets.
//! - [`EntityFilter`] restricts the schema every tool reads (`ToolContext::schema`; the metadata
//!   actor builds the restricted copy once per fetch, from [`EntityFilter::restriction`]): the
//!   entity types outside the list are not in it, so each tool's ordinary entity-type check
//!   refuses them with `INVALID_ENTITY_TYPE`, and the lists (`list_entity_types`, `whoami`,
//!   global search hits) only show the allowed ones.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use espomcp_actors::{Restriction, Schema};
use rmcp::model::Tool;

/// A family of tools, switched on and off together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Toolset {
    /// Discovering and reading: the five read tools and the read-only power tools.
    Read,
    /// Changing records: create, update, delete, link, unlink.
    Write,
    /// `add_note`.
    Notes,
    /// `update_kanban`.
    Kanban,
    /// `draft_email`.
    Email,
}

impl Toolset {
    pub const ALL: [Toolset; 5] = [
        Toolset::Read,
        Toolset::Write,
        Toolset::Notes,
        Toolset::Kanban,
        Toolset::Email,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Toolset::Read => "read",
            Toolset::Write => "write",
            Toolset::Notes => "notes",
            Toolset::Kanban => "kanban",
            Toolset::Email => "email",
        }
    }

    /// The toolset named so, whatever the case.
    pub fn parse(name: &str) -> Option<Toolset> {
        Toolset::ALL
            .into_iter()
            .find(|toolset| toolset.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// The tools of this family, by name, as each tool declares its own (`tools/catalog.rs`).
    pub fn tools(self) -> &'static [&'static str] {
        crate::tools::catalog::tools_of(self)
    }

    /// The family a tool belongs to; `None` for a name no tool has (every tool declares one).
    pub fn of(tool: &str) -> Option<Toolset> {
        crate::tools::catalog::toolset_of(tool)
    }
}

impl fmt::Display for Toolset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which tools are served. The default serves every tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolFilter {
    /// Only tools annotated `readOnlyHint: true`, whatever the toolsets say.
    pub read_only: bool,
    /// The families served.
    pub toolsets: BTreeSet<Toolset>,
}

impl Default for ToolFilter {
    fn default() -> Self {
        ToolFilter {
            read_only: false,
            toolsets: Toolset::ALL.into_iter().collect(),
        }
    }
}

/// Why a tool is not served, for the `TOOL_DISABLED` error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hidden {
    /// Read-only mode and the tool changes data.
    ReadOnly,
    /// Its family is not among the served toolsets.
    Toolset(Toolset),
}

impl ToolFilter {
    /// Whether `tool` is served, and if not why. A tool is read-only when its own annotation
    /// says so (`readOnlyHint: true`); one without annotations counts as writing.
    pub fn check(&self, tool: &Tool) -> Result<(), Hidden> {
        let read_only = tool
            .annotations
            .as_ref()
            .and_then(|a| a.read_only_hint)
            .unwrap_or(false);
        if self.read_only && !read_only {
            return Err(Hidden::ReadOnly);
        }
        match Toolset::of(&tool.name) {
            Some(toolset) if !self.toolsets.contains(&toolset) => Err(Hidden::Toolset(toolset)),
            // A tool of no family cannot be switched off by name; read-only mode still applies.
            Some(_) | None => Ok(()),
        }
    }

    /// The served toolsets, comma-separated, for messages.
    pub fn toolset_names(&self) -> String {
        let names: Vec<&str> = self.toolsets.iter().map(|t| t.as_str()).collect();
        names.join(",")
    }
}

/// The entity types tools may touch: all of them, or only those listed.
#[derive(Debug, Clone, Default)]
pub struct EntityFilter {
    allowed: Option<Arc<BTreeSet<String>>>,
}

impl EntityFilter {
    /// Every entity type (the default).
    pub fn all() -> EntityFilter {
        EntityFilter::default()
    }

    /// Only these entity types (names as EspoCRM spells them; compared ignoring case).
    pub fn only(names: impl IntoIterator<Item = impl Into<String>>) -> EntityFilter {
        EntityFilter {
            allowed: Some(Arc::new(names.into_iter().map(Into::into).collect())),
        }
    }

    pub fn is_restricted(&self) -> bool {
        self.allowed.is_some()
    }

    /// The listed names, when restricted.
    pub fn names(&self) -> Option<&BTreeSet<String>> {
        self.allowed.as_deref()
    }

    /// Whether tools may touch `entity_type`.
    pub fn allows(&self, entity_type: &str) -> bool {
        match &self.allowed {
            None => true,
            Some(allowed) => allowed
                .iter()
                .any(|name| name.eq_ignore_ascii_case(entity_type)),
        }
    }

    /// What the metadata actor restricts the schema to ([`espomcp_actors::SchemaView`]), when
    /// the list is given.
    pub fn restriction(&self) -> Option<Restriction> {
        let filter = self.clone();
        self.allowed
            .as_ref()
            .map(|_| -> Restriction { Arc::new(move |name: &str| filter.allows(name)) })
    }

    /// The listed names EspoCRM does not know, for the check at start.
    pub fn unknown_in(&self, schema: &Schema) -> Vec<String> {
        self.allowed
            .iter()
            .flat_map(|allowed| allowed.iter())
            .filter(|name| schema.entity_ignoring_case(name).is_none())
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_name_every_tool_in_exactly_one_toolset() {
        let mut seen = BTreeSet::new();
        for toolset in Toolset::ALL {
            for tool in toolset.tools() {
                assert!(seen.insert(*tool), "{tool} is in two toolsets");
                assert_eq!(Toolset::of(tool), Some(toolset));
            }
        }
        assert_eq!(Toolset::parse(" Kanban "), Some(Toolset::Kanban));
        assert_eq!(Toolset::parse("notes"), Some(Toolset::Notes));
        assert_eq!(Toolset::parse("writes"), None);
    }

    #[test]
    fn should_compare_entity_types_ignoring_case() {
        let filter = EntityFilter::only(["Account", "contact"]);
        assert!(filter.allows("account"));
        assert!(filter.allows("Contact"));
        assert!(!filter.allows("Lead"));
        assert!(EntityFilter::all().allows("Lead"));
        assert!(!EntityFilter::all().is_restricted());
    }
}
