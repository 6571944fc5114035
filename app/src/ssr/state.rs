//! The state every request shares: config, store, clouds, metrics, the audit key.

use super::audit::{AuditRecord, NewAuditEntry};
use super::cloud::aws::SdkCloud;
use super::cloud::demo::{DEMO_ENVS, DemoCloud};
use super::cloud::{Cloud, SeverityRules};
use super::config::{AuthMode, Config};
use super::prometheus::Metrics;
use super::store::Store;
use crate::error::AppError;
use crate::model::{EnvDetail, EnvSummary, Health, Tier, health_of};
use std::path::Path;
use std::sync::Arc;

/// An environment the console knows, from config or from the demo set.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvMeta {
    pub name: String,
    pub tier: Tier,
    pub region: String,
    pub account_id: Option<String>,
    pub demo: bool,
    pub description: String,
}

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub metrics: Arc<Metrics>,
    pub severity: Arc<SeverityRules>,
    demo: DemoCloud,
    sdk: SdkCloud,
    audit_key: Vec<u8>,
    envs: Vec<EnvMeta>,
    /// True once the replica is shutting down (SIGTERM): `/readyz` answers 503 and the jobs give
    /// their leases back.
    pub stopping: tokio::sync::watch::Sender<bool>,
    /// The status check per environment, shared by every viewer for `STATUS_REUSE`.
    pub status_memo: super::kernel::memo::Memo<crate::model::StatusReport>,
    /// An incident's "changed in the hour before" and log links, shared by every viewer of it for
    /// `CONTEXT_REUSE` (its page refreshes every 5 s).
    pub context_memo: super::kernel::memo::Memo<Result<crate::model::IncidentContext, AppError>>,
}

/// How long one status check answers every viewer of the environment page (its fastest refresh
/// is 5 s); `ops-console status` always checks afresh.
pub const STATUS_REUSE: std::time::Duration = std::time::Duration::from_secs(5);
pub const CONTEXT_REUSE: std::time::Duration = std::time::Duration::from_secs(30);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the audit key.
        f.debug_struct("AppState")
            .field("environments", &self.envs.len())
            .finish()
    }
}

impl AppState {
    pub fn new(config: Config, store: Arc<dyn Store>, audit_key: Vec<u8>) -> AppState {
        let rules: Vec<(String, u8)> = config.severity.iter().map(|r| (r.pattern.clone(), r.sev)).collect();
        let severity = Arc::new(SeverityRules::new(&rules));
        let mut envs: Vec<EnvMeta> = config
            .environments
            .iter()
            .map(|e| EnvMeta {
                name: e.name.clone(),
                tier: e.tier,
                region: e.region.clone(),
                account_id: e.account_id.clone(),
                demo: false,
                description: String::new(),
            })
            .collect();
        if config.demo_enabled() {
            for d in &DEMO_ENVS {
                // A configured environment of the same name wins over the demo one.
                if !envs.iter().any(|e| e.name == d.name) {
                    envs.push(EnvMeta {
                        name: d.name.to_string(),
                        tier: d.tier,
                        region: d.region.to_string(),
                        account_id: d.account_id.map(str::to_string),
                        demo: true,
                        description: d.description.to_string(),
                    });
                }
            }
        }
        let metrics = Arc::new(Metrics::default());
        AppState(Arc::new(Inner {
            demo: DemoCloud::new(severity.clone()),
            sdk: SdkCloud::new(&config.environments, metrics.clone(), severity.clone()),
            severity,
            config,
            store,
            metrics,
            audit_key,
            envs,
            stopping: tokio::sync::watch::Sender::new(false),
            status_memo: super::kernel::memo::Memo::new(STATUS_REUSE),
            context_memo: super::kernel::memo::Memo::new(CONTEXT_REUSE),
        }))
    }

    pub fn environments(&self) -> &[EnvMeta] {
        &self.envs
    }

    pub fn environment(&self, name: &str) -> Option<&EnvMeta> {
        self.envs.iter().find(|e| e.name == name)
    }

    /// The cloud an environment is read from.
    pub fn cloud(&self, meta: &EnvMeta) -> &dyn Cloud {
        if meta.demo { &self.demo } else { &self.sdk }
    }

    /// The recovery point objective of an environment (config, or the demo environment's, docs/DEMO.md).
    pub fn rpo_hours(&self, meta: &EnvMeta) -> Option<u32> {
        if meta.demo {
            super::cloud::demo::demo_env(&meta.name).and_then(|d| d.rpo_hours)
        } else {
            self.config
                .environments
                .iter()
                .find(|e| e.name == meta.name)
                .and_then(|e| e.rpo_hours)
        }
    }

    /// Reads one environment; a read that fails is reported in the summary, never as an error.
    pub async fn detail(&self, meta: &EnvMeta) -> EnvDetail {
        let now = crate::ssr::clock::now();
        let read = self
            .cloud(meta)
            .inventory(&meta.name, now)
            .await
            .map_err(|e| e.to_string());
        let mut summary = EnvSummary {
            name: meta.name.clone(),
            tier: meta.tier,
            region: meta.region.clone(),
            account_id: meta.account_id.clone(),
            demo: meta.demo,
            description: meta.description.clone(),
            health: Health::Unknown,
            services: 0,
            tasks_running: 0,
            tasks_desired: 0,
            alarms_firing: 0,
            resources: 0,
            error: None,
            data_notes: 0,
        };
        match read {
            Ok(inv) => {
                summary.health = health_of(&inv);
                let counts: Vec<_> = inv.resources.iter().filter_map(|r| r.tasks).collect();
                summary.services = counts.len() as u32;
                summary.tasks_running = counts.iter().map(|t| t.running).sum();
                summary.tasks_desired = counts.iter().map(|t| t.desired).sum();
                summary.alarms_firing = inv
                    .alarms
                    .iter()
                    .filter(|a| a.state == crate::model::AlarmState::Alarm)
                    .count() as u32;
                summary.resources = inv.resources.len() as u32;
                summary.data_notes = inv.notes.len() as u32;
                if inv.resources.is_empty() && !inv.notes.is_empty() {
                    // Nothing could be read at all: say why instead of showing an empty estate.
                    summary.health = Health::Unknown;
                    summary.error = Some(
                        inv.notes
                            .iter()
                            .map(|n| format!("{}: {}", n.part, n.message))
                            .collect::<Vec<_>>()
                            .join("; "),
                    );
                }
                EnvDetail {
                    summary,
                    inventory: Some(inv),
                }
            }
            Err(e) => {
                summary.error = Some(e);
                EnvDetail {
                    summary,
                    inventory: None,
                }
            }
        }
    }

    /// Writes an audit entry. Fails closed: the caller must refuse its action on error.
    pub async fn audit(&self, entry: NewAuditEntry) -> Result<AuditRecord, AppError> {
        match self.store.audit_append(entry).await {
            Ok(r) => {
                self.metrics.audit(true);
                Ok(r)
            }
            Err(e) => {
                self.metrics.audit(false);
                tracing::error!(error = %e, "audit entry could not be written; action refused");
                Err(AppError::Unavailable(
                    "the audit log cannot be written, so the action was refused".into(),
                ))
            }
        }
    }

    /// Records a login: the user row, the `login` audit entry and, when the roles differ from the
    /// last login's, a `role.change` entry. Fails closed: no audit entry, no login.
    pub async fn record_login(
        &self,
        subject: &str,
        email: &str,
        name: &str,
        roles: &[crate::model::Role],
        detail: serde_json::Value,
        request_id: &str,
    ) -> Result<(), AppError> {
        let now = crate::ssr::clock::now();
        let joined = roles.iter().map(|r| r.label()).collect::<Vec<_>>().join(",");
        let before = self.store.upsert_user(subject, email, name, &joined, now).await?;
        self.audit(NewAuditEntry::new(subject, "login", "console", "ok", detail).with_request_id(request_id))
            .await?;
        if let Some(prev) = before.filter(|b| b.roles != joined) {
            let change = serde_json::json!({"from": prev.roles, "to": joined});
            self.audit(NewAuditEntry::new(subject, "role.change", subject, "ok", change).with_request_id(request_id))
                .await?;
        }
        Ok(())
    }

    /// The Slack incoming webhook of an environment: its own variable, else `[slack]`'s. Read
    /// when a message is sent, never stored.
    pub fn slack_webhook(&self, env: &str) -> Option<String> {
        let own = self.config.environments.iter().find(|e| e.name == env);
        if let Some(e) = own
            && (e.slack_webhook_url_env.is_some() || e.slack_webhook_url_file.is_some())
        {
            return Config::secret(
                e.slack_webhook_url_env.as_deref().unwrap_or_default(),
                e.slack_webhook_url_file.as_deref(),
            );
        }
        Config::secret(
            &self.config.slack.webhook_url_env,
            self.config.slack.webhook_url_file.as_deref(),
        )
    }

    /// The access profiles of an environment: from config, or the demo's.
    pub fn access_profiles(&self, env: &str) -> Vec<super::config::AccessProfile> {
        match self.environment(env) {
            Some(m) if m.demo => super::cloud::demo::demo_profiles(env),
            Some(_) => self
                .config
                .environments
                .iter()
                .find(|e| e.name == env)
                .map(|e| e.access_profiles.clone())
                .unwrap_or_default(),
            None => vec![],
        }
    }

    /// The key approval links are signed with: `[slack] link_signing_key_env` / `_file`, else
    /// one derived from the audit key (so a console always has one, and it survives restarts).
    pub fn link_key(&self) -> Vec<u8> {
        if let Some(k) = Config::secret(
            &self.config.slack.link_signing_key_env,
            self.config.slack.link_signing_key_file.as_deref(),
        ) {
            return k.into_bytes();
        }
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.audit_key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(b"ops-console approval links");
        mac.finalize().into_bytes().to_vec()
    }

    pub fn audit_key(&self) -> &[u8] {
        &self.audit_key
    }
}

/// The HMAC key of the audit chain, from the variable or file named in `[audit]`. In `dev` mode
/// without one, a development key is kept in `data/audit-dev.key` (created on first start); in
/// `oidc` mode a missing key stops the start.
pub fn load_audit_key(config: &Config, data_dir: &Path) -> Result<Vec<u8>, String> {
    if let Some(k) = Config::secret(&config.audit.key_env, config.audit.key_file.as_deref()) {
        if k.len() < 16 {
            return Err(format!(
                "the audit key (from {}) must be at least 16 characters",
                config.audit.key_env
            ));
        }
        return Ok(k.into_bytes());
    }
    if config.auth.mode == AuthMode::Oidc {
        return Err(format!(
            "audit: no key: set the variable {} (or audit.key_file); the audit chain needs it",
            config.audit.key_env
        ));
    }
    let path = data_dir.join("audit-dev.key");
    if let Ok(k) = std::fs::read_to_string(&path)
        && k.trim().len() >= 16
    {
        return Ok(k.trim().as_bytes().to_vec());
    }
    std::fs::create_dir_all(data_dir).map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
    let key: [u8; 32] = rand::random();
    let text = hex::encode(key);
    write_private(&path, &text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    tracing::warn!(path = %path.display(), "dev mode: created a development audit key; set {} in production", config.audit.key_env);
    Ok(text.into_bytes())
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(text.as_bytes())
}
