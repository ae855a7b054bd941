//! Starting espomcp: the actors (gateway, metadata cache) and the MCP server over them, pointed
//! at the configured EspoCRM or, in demo mode, at an in-process sandbox with demo data.
//!
//! Nothing here talks to EspoCRM: the first request goes out when a tool needs it, so the server
//! answers `initialize` at once.

use espocrm_sandbox::Sandbox;
use std::time::Duration;

use espomcp_actors::{
    ApiKey, DeleteConfirmations, Gateway, GatewayConfig, MetadataCache, PromptStore, RetryPolicy,
    SpawnError,
};

use crate::config::{Config, DeleteConfirmation};
use crate::server::EspoMcp;
use crate::tools::ToolContext;
use crate::tools::delete::human::{ConfirmationKeyError, HumanConfirmation};
use crate::toolsets::{EntityFilter, ToolFilter};

/// Why espomcp could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    #[error(
        "ESPOCRM_URL and ESPOCRM_API_KEY must be set (or use --demo to try espomcp on built-in demo data)"
    )]
    NotConfigured,
    #[error("the demo sandbox could not start: {0}")]
    Demo(#[from] espocrm_sandbox::SandboxError),
    #[error("{0}")]
    Spawn(#[from] SpawnError),
    #[error("the key for human delete confirmations could not be made: {0}")]
    ConfirmationKey(#[from] ConfirmationKeyError),
    #[error(
        "SERVER_ENTITY_TYPES (or --entities) names entity types EspoCRM does not have: {unknown}. \
         The record types are: {known}"
    )]
    UnknownEntityTypes { unknown: String, known: String },
}

/// A running espomcp: the server and the actors (and the demo sandbox) it needs.
#[derive(Debug)]
pub struct Runtime {
    pub server: EspoMcp,
    pub gateway: Gateway,
    pub metadata: MetadataCache,
    pub deletes: DeleteConfirmations,
    pub prompts: PromptStore,
    /// The in-process EspoCRM of demo mode; kept alive as long as the runtime.
    pub sandbox: Option<Sandbox>,
    /// The audit log's writer thread; [`Runtime::stop`] drops it last, which flushes the file.
    pub audit_guard: crate::audit::AuditGuard,
}

/// The site URL for links into EspoCRM's web UI: the configured URL without `/api/v1`.
pub fn site_url(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    trimmed
        .strip_suffix("/api/v1")
        .unwrap_or(trimmed)
        .to_owned()
}

/// The longest `espomcp check` waits for EspoCRM: its one request is a small one (the
/// metadata and the user), and a person is watching.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// How long `espomcp check` gives the TCP and TLS handshake.
pub const CHECK_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl Runtime {
    pub async fn start(config: &Config) -> Result<Runtime, StartError> {
        Self::start_with(config, |_| {}).await
    }

    /// The runtime of `espomcp check`: one attempt, at most [`CHECK_TIMEOUT`] (less when
    /// ESPOCRM_TIMEOUT_SECS says less), so a host that accepts and never answers is reported
    /// in seconds, not after three full request timeouts.
    pub async fn start_for_check(config: &Config) -> Result<Runtime, StartError> {
        Self::start_with(config, |gateway| {
            gateway.retry = RetryPolicy::never();
            gateway.request_timeout = gateway.request_timeout.min(CHECK_TIMEOUT);
            gateway.connect_timeout = gateway.connect_timeout.min(CHECK_CONNECT_TIMEOUT);
        })
        .await
    }

    /// How long `check` waits for EspoCRM with this configuration.
    pub fn check_timeout(config: &Config) -> Duration {
        config.espocrm.timeout.min(CHECK_TIMEOUT)
    }

    async fn start_with(
        config: &Config,
        adjust: impl FnOnce(&mut GatewayConfig),
    ) -> Result<Runtime, StartError> {
        let (url, mut gateway_config, sandbox) = if config.demo {
            let sandbox = Sandbox::start().await?;
            let gateway_config = config.gateway_config_for(
                sandbox.url.clone(),
                ApiKey::new(sandbox.agent_api_key.clone()),
            );
            (sandbox.url.clone(), gateway_config, Some(sandbox))
        } else {
            let gateway_config = config.gateway_config().ok_or(StartError::NotConfigured)?;
            let url = config
                .espocrm
                .url
                .clone()
                .ok_or(StartError::NotConfigured)?;
            (url, gateway_config, None)
        };
        adjust(&mut gateway_config);
        let (gateway, _) = Gateway::spawn(gateway_config).await?;
        let (metadata, _) =
            MetadataCache::spawn(gateway.clone(), config.server.metadata_ttl).await?;
        let (deletes, _) =
            DeleteConfirmations::spawn(config.server.delete_confirmation_ttl).await?;
        let (prompts, _) = PromptStore::spawn(config.server.prompts_dir.clone()).await?;
        let human_confirmation = match config.server.delete_confirmation {
            DeleteConfirmation::Agent => None,
            DeleteConfirmation::Human => Some(HumanConfirmation::new(
                config.server.delete_confirmation_ttl,
            )?),
        };
        let (audit, audit_guard) = crate::audit::AuditLog::open(config.server.audit_log.as_deref());
        let entities = match &config.server.entity_types {
            Some(names) => EntityFilter::only(names.iter().cloned()),
            None => EntityFilter::all(),
        };
        // Before any lookup: the metadata actor builds every schema view with it.
        if let Some(restriction) = entities.restriction() {
            metadata.restrict(restriction);
        }
        let ctx = ToolContext {
            gateway: crate::outbound::Outbound::new(gateway.clone(), metadata.clone()),
            metadata: metadata.clone(),
            max_limit: config.server.max_limit,
            site_url: site_url(&url),
            deletes: deletes.clone(),
            caller: "stdio".into(),
            email_from: config.espocrm.email_from.clone(),
            aggregate_max_records: config.server.aggregate_max_records,
            human_confirmation,
            tools: ToolFilter {
                read_only: config.server.read_only,
                toolsets: config.server.toolsets.clone(),
            },
            entities,
            audit,
        };
        Ok(Runtime {
            server: EspoMcp::new(ctx, prompts.clone()).with_call_timeout(
                config.server.call_timeout,
                config.server.delete_confirmation == DeleteConfirmation::Human,
            ),
            prompts,
            gateway,
            metadata,
            deletes,
            sandbox,
            audit_guard,
        })
    }

    /// Checks `SERVER_ENTITY_TYPES` against EspoCRM's metadata, so a misspelt type stops
    /// espomcp at start rather than hiding that type in silence. Only when the setting is
    /// given (it is the one time espomcp asks EspoCRM before the first tool call). If EspoCRM
    /// cannot be reached now, the check is skipped with a warning: the unknown names then
    /// simply match nothing.
    pub async fn check_entity_types(&self) -> Result<(), StartError> {
        let filter = &self.server.ctx.entities;
        let Some(names) = filter.names() else {
            return Ok(());
        };
        let schema = match self.metadata.schema().await {
            Ok(schema) => schema,
            Err(e) => {
                tracing::warn!(
                    "could not check SERVER_ENTITY_TYPES against EspoCRM now: {}",
                    crate::error::ToolError::from(e).message
                );
                return Ok(());
            }
        };
        let unknown = filter.unknown_in(&schema);
        if unknown.is_empty() {
            tracing::info!(
                "tools may touch only these entity types: {}",
                names.iter().cloned().collect::<Vec<_>>().join(", ")
            );
            return Ok(());
        }
        let known: Vec<&str> = schema.record_entities().map(|e| e.name.as_str()).collect();
        Err(StartError::UnknownEntityTypes {
            unknown: unknown.join(", "),
            known: known.join(", "),
        })
    }

    /// Stops the actors (and the demo sandbox).
    pub async fn stop(self) {
        self.prompts.stop();
        self.deletes.stop();
        self.metadata.stop();
        self.gateway.stop();
        if let Some(sandbox) = self.sandbox {
            sandbox.stop().await;
        }
        // The server (and every clone of the audit writer) is gone: write out the last lines.
        drop(self.audit_guard);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_url_drops_the_api_path() {
        assert_eq!(
            site_url("https://crm.example.com/api/v1/"),
            "https://crm.example.com"
        );
        assert_eq!(
            site_url("https://crm.example.com/"),
            "https://crm.example.com"
        );
        assert_eq!(site_url("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }
}
