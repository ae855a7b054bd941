//! `completion/complete`: suggestions for the variables of the resource templates and for the
//! prompt arguments where the CRM knows the answer.
//!
//! | Reference | Argument | Suggestions |
//! |---|---|---|
//! | every resource template | `entityType` | entity types the API user can read |
//! | `espocrm://{entityType}/{id}/{link}` | `link` | the links of the chosen `entityType` |
//! | prompt `draft-followup` | `template_name` | email template names |
//! | prompt `process-call-transcript` | `account_hint` | account names |
//! | prompt `process-inbound-lead` | `source` | the options of Lead's `source` field |
//!
//! Suggestions come from the same code as the tools (so they hold the same limits), matching
//! the typed prefix without regard to case. A failure upstream gives no suggestions rather than
//! an error: completion is a convenience while typing, and the tools report failures properly.

use espomcp_actors::{Action, EspoRequest};
use rmcp::ErrorData;
use rmcp::model::{CompleteRequestParams, CompleteResult, CompletionInfo, JsonObject, Reference};
use serde_json::{Value, json};

use crate::error::ToolError;
use crate::resources::{RECORD_TEMPLATE, RELATED_TEMPLATE, SCHEMA_TEMPLATE};
use crate::server::EspoMcp;
use crate::tools::Json;

/// What one argument completes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    EntityTypes,
    Links,
    RecordNames(&'static str),
    EmailTemplateNames,
    EnumOptions(&'static str, &'static str),
    Nothing,
}

/// Which suggestions an argument of a reference gets; `None` for a reference that does not exist.
fn source_of(reference: &Reference, argument: &str) -> Option<Source> {
    let source = match reference {
        Reference::Resource(template) => {
            let uri = template.uri.as_str();
            if ![RECORD_TEMPLATE, RELATED_TEMPLATE, SCHEMA_TEMPLATE].contains(&uri) {
                return None;
            }
            match argument {
                "entityType" => Source::EntityTypes,
                "link" if uri == RELATED_TEMPLATE => Source::Links,
                _ => Source::Nothing,
            }
        }
        Reference::Prompt(prompt) => {
            espomcp_actors::PromptStore::default_template(&prompt.name)?;
            match (prompt.name.as_str(), argument) {
                ("draft-followup", "template_name") => Source::EmailTemplateNames,
                ("process-call-transcript", "account_hint") => Source::RecordNames("Account"),
                ("process-inbound-lead", "source") => Source::EnumOptions("Lead", "source"),
                _ => Source::Nothing,
            }
        }
        _ => return None,
    };
    Some(source)
}

impl EspoMcp {
    /// Answers `completion/complete`. An unknown prompt or resource template is invalid params.
    pub async fn complete_argument(
        &self,
        request: CompleteRequestParams,
    ) -> Result<CompleteResult, ErrorData> {
        let argument = &request.argument;
        let source = source_of(&request.r#ref, &argument.name).ok_or_else(|| {
            ErrorData::invalid_params(
                format!(
                    "no prompt or resource template {:?}",
                    reference_name(&request.r#ref)
                ),
                None,
            )
        })?;
        let context = request.context.as_ref().and_then(|c| c.arguments.as_ref());
        let typed = argument.value.as_str();
        let found = match source {
            Source::EntityTypes => self.entity_type_names().await,
            Source::Links => match context.and_then(|c| c.get("entityType")) {
                Some(entity_type) => self.link_names(entity_type).await,
                None => Ok(Vec::new()),
            },
            Source::RecordNames(entity_type) => self.record_names(entity_type, typed).await,
            Source::EmailTemplateNames => self.email_template_names(typed).await,
            Source::EnumOptions(entity_type, field) => self.enum_options(entity_type, field).await,
            Source::Nothing => Ok(Vec::new()),
        };
        let candidates = found.unwrap_or_else(|e| {
            tracing::debug!("no completions for {:?}: {}", argument.name, e.message);
            Vec::new()
        });
        Ok(CompleteResult::new(matching(candidates, typed)))
    }

    async fn entity_type_names(&self) -> Result<Vec<String>, ToolError> {
        let Json(list) = self.list_entity_types(JsonObject::new()).await?;
        Ok(list.entity_types.into_iter().map(|e| e.name).collect())
    }

    async fn link_names(&self, entity_type: &str) -> Result<Vec<String>, ToolError> {
        let Json(schema) = self
            .get_schema(arguments(json!({ "entityType": entity_type })))
            .await?;
        Ok(schema_items(&schema.0.value, "links")
            .filter_map(|l| l.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect())
    }

    async fn enum_options(&self, entity_type: &str, field: &str) -> Result<Vec<String>, ToolError> {
        let Json(schema) = self
            .get_schema(arguments(json!({ "entityType": entity_type })))
            .await?;
        Ok(schema_items(&schema.0.value, "fields")
            .filter(|f| f.get("name").and_then(Value::as_str) == Some(field))
            .filter_map(|f| f.get("options").and_then(Value::as_array))
            .flatten()
            .filter_map(|o| o.as_str().filter(|s| !s.is_empty()).map(str::to_owned))
            .collect())
    }

    /// Names of records starting with what was typed (EspoCRM compares without regard to case).
    async fn record_names(&self, entity_type: &str, typed: &str) -> Result<Vec<String>, ToolError> {
        let mut search = json!({
            "entityType": entity_type,
            "select": ["name"],
            "orderBy": "name",
            "limit": CompletionInfo::MAX_VALUES,
        });
        if !typed.is_empty() {
            search["where"] =
                json!([{ "type": "startsWith", "attribute": "name", "value": typed }]);
        }
        let Json(page) = self.search(arguments(search)).await?;
        Ok(page
            .list
            .into_iter()
            .filter_map(|r| r.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect())
    }
}

impl EspoMcp {
    /// Names of the email templates starting with what was typed. EmailTemplate is a system
    /// entity type (the search tool does not serve it), so this asks EspoCRM directly, when the
    /// API user may read email templates at all.
    async fn email_template_names(&self, typed: &str) -> Result<Vec<String>, ToolError> {
        let schema = self.ctx.schema().await?;
        if !schema
            .entity("EmailTemplate")
            .is_some_and(|e| e.allows(Action::Read))
        {
            return Ok(Vec::new());
        }
        let mut query = vec![
            ("select".to_owned(), "name".to_owned()),
            ("orderBy".to_owned(), "name".to_owned()),
            ("order".to_owned(), "asc".to_owned()),
            ("maxSize".to_owned(), CompletionInfo::MAX_VALUES.to_string()),
        ];
        if !typed.is_empty() {
            query.extend([
                ("where[0][type]".to_owned(), "startsWith".to_owned()),
                ("where[0][attribute]".to_owned(), "name".to_owned()),
                ("where[0][value]".to_owned(), typed.to_owned()),
            ]);
        }
        let mut request = EspoRequest::get(["EmailTemplate"]);
        request.query = query;
        let page = self.ctx.send_list(request).await?;
        Ok(page
            .list
            .iter()
            .filter_map(|r| r.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect())
    }
}

/// The items of `get_schema`'s `fields` or `links`.
fn schema_items<'a>(schema: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    schema
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn arguments(value: Value) -> JsonObject {
    match value {
        Value::Object(map) => map,
        _ => JsonObject::new(),
    }
}

fn reference_name(reference: &Reference) -> &str {
    match reference {
        Reference::Resource(template) => &template.uri,
        Reference::Prompt(prompt) => &prompt.name,
        _ => "",
    }
}

/// The candidates starting with `typed` (ignoring case), then those containing it, without
/// duplicates, at most the 100 the protocol allows, with the total and whether more exist.
fn matching(candidates: Vec<String>, typed: &str) -> CompletionInfo {
    let needle = typed.to_lowercase();
    let mut starts = Vec::new();
    let mut contains = Vec::new();
    for candidate in candidates {
        let lower = candidate.to_lowercase();
        if starts.contains(&candidate) || contains.contains(&candidate) {
            continue;
        }
        if lower.starts_with(&needle) {
            starts.push(candidate);
        } else if lower.contains(&needle) {
            contains.push(candidate);
        }
    }
    starts.extend(contains);
    let total = starts.len();
    starts.truncate(CompletionInfo::MAX_VALUES);
    let has_more = total > starts.len();
    let total = u32::try_from(total).unwrap_or(u32::MAX);
    CompletionInfo::with_pagination(starts, Some(total), has_more)
        .unwrap_or_else(|_| CompletionInfo::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::{PromptReference, ResourceTemplateReference};

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn prefix_matches_come_first_then_substring_matches_ignoring_case() {
        let info = matching(
            strings(&["Contact", "Account", "Case", "Account", "Meeting"]),
            "c",
        );
        assert_eq!(info.values, strings(&["Contact", "Case", "Account"]));
        assert_eq!(info.total, Some(3));
        assert_eq!(info.has_more, Some(false));
    }

    #[test]
    fn at_most_one_hundred_values_with_the_total() {
        let many: Vec<String> = (0..250).map(|i| format!("Name {i:03}")).collect();
        let info = matching(many, "name");
        assert_eq!(info.values.len(), 100);
        assert_eq!(info.values[0], "Name 000");
        assert_eq!(info.total, Some(250));
        assert_eq!(info.has_more, Some(true));
    }

    #[test]
    fn references_map_to_their_sources() {
        let resource = |uri: &str| Reference::Resource(ResourceTemplateReference::new(uri));
        let prompt = |name: &str| Reference::Prompt(PromptReference::new(name));
        assert_eq!(
            source_of(&resource(RECORD_TEMPLATE), "entityType"),
            Some(Source::EntityTypes)
        );
        assert_eq!(
            source_of(&resource(RELATED_TEMPLATE), "link"),
            Some(Source::Links)
        );
        assert_eq!(
            source_of(&resource(RECORD_TEMPLATE), "id"),
            Some(Source::Nothing)
        );
        assert_eq!(source_of(&resource("espocrm://other/{x}"), "x"), None);
        assert_eq!(
            source_of(&prompt("draft-followup"), "template_name"),
            Some(Source::EmailTemplateNames)
        );
        assert_eq!(
            source_of(&prompt("process-inbound-lead"), "source"),
            Some(Source::EnumOptions("Lead", "source"))
        );
        assert_eq!(source_of(&prompt("no-such-prompt"), "x"), None);
    }
}
