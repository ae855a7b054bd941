//! Starting espomcp: the actors (gateway, metadata cache) and the MCP server over them, pointed
//! at the configured EspoCRM or, in demo mode, at an in-process sandbox with demo data.
//!
//! Nothing here talks to EspoCRM: the first request goes out when a tool needs it, so the server
//! answers `initialize` at once.

use espocrm_sandbox::Sandbox;
use espomcp_actors::{
    ApiKey, DeleteConfirmations, Gateway, MetadataCache, PromptStore, SpawnError,
};

use crate::config::Config;
use crate::server::EspoMcp;
use crate::tools::ToolContext;

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

impl Runtime {
    pub async fn start(config: &Config) -> Result<Runtime, StartError> {
        let (url, gateway_config, sandbox) = if config.demo {
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
        let (gateway, _) = Gateway::spawn(gateway_config).await?;
        let (metadata, _) =
            MetadataCache::spawn(gateway.clone(), config.server.metadata_ttl).await?;
        let (deletes, _) =
            DeleteConfirmations::spawn(config.server.delete_confirmation_ttl).await?;
        let (prompts, _) = PromptStore::spawn(config.server.prompts_dir.clone()).await?;
        let (audit, audit_guard) = crate::audit::AuditLog::open(config.server.audit_log.as_deref());
        let ctx = ToolContext {
            gateway: gateway.clone(),
            metadata: metadata.clone(),
            max_limit: config.server.max_limit,
            site_url: site_url(&url),
            deletes: deletes.clone(),
            caller: "stdio".into(),
            email_from: config.espocrm.email_from.clone(),
            aggregate_max_records: config.server.aggregate_max_records,
            audit,
        };
        Ok(Runtime {
            server: EspoMcp::new(ctx, prompts.clone()),
            prompts,
            gateway,
            metadata,
            deletes,
            sandbox,
            audit_guard,
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
