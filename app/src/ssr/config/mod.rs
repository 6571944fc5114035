//! The console's configuration: one TOML file, unknown keys rejected, overrides from
//! `OPS_CONSOLE__SECTION__KEY` variables, validated as a whole before anything starts.
//! Secrets are never values here: only the names of the variables or files that hold them.

mod environments;
mod sections;

pub use environments::{AccessProfile, EnvironmentConfig, Selector};
pub use sections::{
    AccessConfig, AuditConfig, AuthConfig, AuthMode, HttpConfig, JobsConfig, RolesConfig, SeverityRule, SlackConfig,
};

use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub const CONFIG_VAR: &str = "OPS_CONSOLE_CONFIG";
pub const OVERRIDE_PREFIX: &str = "OPS_CONSOLE__";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_listen")]
    pub listen: String,
    #[serde(default)]
    pub public_url: Option<String>,
    #[serde(default = "default_database_url")]
    pub database_url: String,
    /// Default: true only when no `[[environments]]` is configured.
    #[serde(default)]
    pub demo: Option<bool>,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub roles: RolesConfig,
    #[serde(default)]
    pub slack: SlackConfig,
    #[serde(default)]
    pub audit: AuditConfig,
    #[serde(default)]
    pub access: AccessConfig,
    #[serde(default)]
    pub jobs: JobsConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub severity: Vec<SeverityRule>,
    #[serde(default)]
    pub environments: Vec<EnvironmentConfig>,
}

fn default_listen() -> String {
    "127.0.0.1:3000".into()
}
fn default_database_url() -> String {
    "sqlite://data/ops-console.db".into()
}

/// A configuration problem, said in one line: what and where.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Config {
    /// The embedded defaults: SQLite under ./data/, demo environments, dev auth.
    pub fn embedded() -> Config {
        // An empty document deserializes into every default.
        toml::from_str("").unwrap_or_else(|_| unreachable!("the empty config always parses"))
    }

    /// Loads from `path` (or `OPS_CONSOLE_CONFIG`, or the embedded defaults), applies variable
    /// overrides and `LEPTOS_SITE_ADDR`, and validates.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = std::env::vars().collect();
        let from_var = std::env::var_os(CONFIG_VAR).map(PathBuf::from);
        let path = path.map(Path::to_path_buf).or(from_var);
        let (text, origin) = match &path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| ConfigError(format!("config {}: cannot read: {e}", p.display())))?;
                (text, p.display().to_string())
            }
            None => (String::new(), "embedded defaults".to_string()),
        };
        Config::from_toml_with_overrides(&text, &origin, &vars)
    }

    /// Parses `text` (named `origin` in errors), then applies the override variables in `vars`.
    pub fn from_toml_with_overrides(
        text: &str,
        origin: &str,
        vars: &[(String, String)],
    ) -> Result<Config, ConfigError> {
        // First pass on the text itself so errors carry a line and column.
        let mut config: Config = toml::from_str(text).map_err(|e| describe_toml_error(origin, text, &e))?;
        let overrides: Vec<&(String, String)> = vars.iter().filter(|(k, _)| k.starts_with(OVERRIDE_PREFIX)).collect();
        if !overrides.is_empty() {
            let mut value: toml::Value = toml::from_str(text).map_err(|e| describe_toml_error(origin, text, &e))?;
            for (name, raw) in overrides {
                apply_override(&mut value, name, raw)?;
            }
            config = value.try_into().map_err(|e: toml::de::Error| {
                ConfigError(format!(
                    "config {origin} with OPS_CONSOLE__ overrides: {}",
                    e.message().trim()
                ))
            })?;
        }
        if let Some(addr) = vars.iter().find(|(k, _)| k == "LEPTOS_SITE_ADDR").map(|(_, v)| v) {
            config.listen = addr.clone();
        }
        config
            .validate()
            .map_err(|e| ConfigError(format!("config {origin}: {}", e.0)))?;
        Ok(config)
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen.parse().map_err(|_| {
            ConfigError(format!(
                "listen: \"{}\" is not an address like 127.0.0.1:3000",
                self.listen
            ))
        })
    }

    /// Whether the demo environments are shown.
    pub fn demo_enabled(&self) -> bool {
        self.demo.unwrap_or(self.environments.is_empty())
    }

    pub fn is_postgres(&self) -> bool {
        self.database_url.starts_with("postgres://") || self.database_url.starts_with("postgresql://")
    }

    /// The groups a dev login with `role` is a member of: those `[roles]` maps to the role, or
    /// the example group names of docs/ARCHITECTURE.md (ops-readers, oncall, tech-leads,
    /// ops-admins) when `[roles]` says nothing for it.
    pub fn dev_groups(&self, role: crate::model::Role) -> Vec<String> {
        use crate::model::Role;
        let (mapped, default) = match role {
            Role::Viewer => (&self.roles.viewer, "ops-readers"),
            Role::Responder => (&self.roles.responder, "oncall"),
            Role::Approver => (&self.roles.approver, "tech-leads"),
            Role::Admin => (&self.roles.admin, "ops-admins"),
        };
        if mapped.is_empty() {
            vec![default.to_string()]
        } else {
            mapped.clone()
        }
    }

    /// Where people reach the console: `public_url`, else the listen address over http.
    pub fn base_url(&self) -> String {
        match &self.public_url {
            Some(p) => p.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.listen),
        }
    }

    /// Cookies are `Secure` and HSTS is sent when the console is reached over https.
    pub fn behind_tls(&self) -> bool {
        self.public_url.as_deref().is_some_and(|u| u.starts_with("https://"))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let err = |m: String| Err(ConfigError(m));
        let addr = self.listen_addr()?;
        if let Some(u) = &self.public_url {
            let parsed = url::Url::parse(u).map_err(|e| ConfigError(format!("public_url: \"{u}\": {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return err(format!("public_url: \"{u}\" must be http:// or https://"));
            }
        }
        let db = &self.database_url;
        if !(db.starts_with("sqlite:") || self.is_postgres()) {
            return err(format!(
                "database_url: \"{}\" must start with sqlite:// or postgres://",
                redact_url(db)
            ));
        }
        match self.auth.mode {
            AuthMode::Dev => {
                // A dev login picks any role, approver and admin included: only for one person on
                // their own machine, never where others can reach it or where it acts on AWS.
                if !addr.ip().is_loopback() {
                    return err(format!(
                        "auth.mode = \"dev\" is refused on a non-loopback address ({addr}); use 127.0.0.1 or configure [auth] mode = \"oidc\""
                    ));
                }
                if let Some(u) = self.public_url.as_deref().filter(|u| !loopback_url(u)) {
                    return err(format!(
                        "auth.mode = \"dev\" is refused with a public_url that is not loopback (\"{u}\"): behind a proxy anyone could sign in as an approver or admin; configure [auth] mode = \"oidc\""
                    ));
                }
            }
            AuthMode::Oidc => {
                for (key, v) in [
                    ("auth.issuer_url", &self.auth.issuer_url),
                    ("auth.client_id", &self.auth.client_id),
                ] {
                    if v.as_deref().is_none_or(str::is_empty) {
                        return err(format!("{key} is required when auth.mode = \"oidc\""));
                    }
                }
                if let Some(u) = &self.auth.issuer_url {
                    url::Url::parse(u).map_err(|e| ConfigError(format!("auth.issuer_url: \"{u}\": {e}")))?;
                }
            }
        }
        if !self.auth.scopes.iter().any(|s| s == "openid") {
            return err("auth.scopes must include \"openid\"".into());
        }
        for (key, v) in [
            ("auth.idle_minutes", self.auth.idle_minutes),
            ("auth.absolute_hours", self.auth.absolute_hours),
            ("auth.approver_absolute_hours", self.auth.approver_absolute_hours),
            ("auth.step_up_minutes", self.auth.step_up_minutes),
            ("access.pending_expiry_minutes", self.access.pending_expiry_minutes),
            ("access.emergency_minutes", self.access.emergency_minutes),
            ("jobs.alarm_poll_seconds", self.jobs.alarm_poll_seconds),
            ("jobs.outbox_seconds", self.jobs.outbox_seconds),
            ("jobs.rollback_timeout_minutes", self.jobs.rollback_timeout_minutes),
        ] {
            if v == 0 {
                return err(format!("{key} must be greater than 0"));
            }
        }
        if !(4096..=64 * 1024 * 1024).contains(&self.http.max_body_bytes) {
            return err(format!(
                "http.max_body_bytes = {} must be 4096 to 67108864 (64 MiB)",
                self.http.max_body_bytes
            ));
        }
        if !(1..=600).contains(&self.http.request_timeout_seconds) {
            return err(format!(
                "http.request_timeout_seconds = {} must be 1 to 600",
                self.http.request_timeout_seconds
            ));
        }
        if self.access.emergency_minutes > 60 {
            return err(
                "access.emergency_minutes must be at most 60 (production sessions are limited to 1 hour)".into(),
            );
        }
        for (i, rule) in self.severity.iter().enumerate() {
            if !(1..=4).contains(&rule.sev) {
                return err(format!("severity[{i}].sev = {} must be 1..4 (SEV1-SEV4)", rule.sev));
            }
            regex::Regex::new(&rule.pattern)
                .map_err(|e| ConfigError(format!("severity[{i}].pattern: {}", one_line(&e.to_string()))))?;
        }
        let mut names = HashSet::new();
        for env in &self.environments {
            let at = format!("environments \"{}\"", env.name);
            if env.name.is_empty()
                || !env
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return err(format!(
                    "environments: name \"{}\" must be letters, digits, - or _",
                    env.name
                ));
            }
            if !names.insert(env.name.as_str()) {
                return err(format!("{at}: the name is used twice"));
            }
            if env.region.trim().is_empty() {
                return err(format!("{at}: region is empty"));
            }
            if let Some(u) = &env.endpoint_url {
                url::Url::parse(u).map_err(|e| ConfigError(format!("{at}: endpoint_url \"{u}\": {e}")))?;
            }
            if let Some(a) = &env.account_id
                && (a.len() != 12 || !a.chars().all(|c| c.is_ascii_digit()))
            {
                return err(format!("{at}: account_id \"{a}\" must be 12 digits"));
            }
            if env.rpo_hours == Some(0) {
                return err(format!("{at}: rpo_hours must be greater than 0"));
            }
            let mut profiles = HashSet::new();
            for p in &env.access_profiles {
                let at = format!("{at}, access profile \"{}\"", p.name);
                if !profiles.insert(p.name.as_str()) {
                    return err(format!("{at}: the name is used twice"));
                }
                if !p.role_arn.starts_with("arn:") {
                    return err(format!("{at}: role_arn \"{}\" is not an ARN", p.role_arn));
                }
                if p.max_minutes == 0 || p.max_minutes > 60 {
                    return err(format!(
                        "{at}: max_minutes = {} must be 1..60 (sessions are limited to 1 hour)",
                        p.max_minutes
                    ));
                }
                if p.approvals == 0 {
                    return err(format!("{at}: approvals must be at least 1"));
                }
                if p.approver_groups.is_empty() {
                    return err(format!("{at}: approver_groups is empty, so nobody could approve"));
                }
                if let Some(pat) = &p.ticket_pattern {
                    regex::Regex::new(pat)
                        .map_err(|e| ConfigError(format!("{at}: ticket_pattern: {}", one_line(&e.to_string()))))?;
                }
            }
        }
        if self.auth.mode == AuthMode::Dev
            && let Some(e) = self.environments.iter().find(|e| e.acts_on_aws())
        {
            return err(format!(
                "auth.mode = \"dev\" is refused: environment \"{}\" has access profiles, an operator role or a grant role on real AWS (no loopback endpoint_url), and a dev login picks any role; configure [auth] mode = \"oidc\"",
                e.name
            ));
        }
        Ok(())
    }

    /// Reads a secret from the variable (or file) named in config. Never logged.
    pub fn secret(var: &str, file: Option<&Path>) -> Option<String> {
        if let Some(f) = file {
            return std::fs::read_to_string(f)
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty());
        }
        std::env::var(var).ok().filter(|s| !s.is_empty())
    }
}

/// Sets `OPS_CONSOLE__A__B=value` at path a.b of the document. The value is read as a TOML value
/// (number, boolean, array, quoted string) and taken as a plain string when it is not one.
fn apply_override(doc: &mut toml::Value, name: &str, raw: &str) -> Result<(), ConfigError> {
    let rest = &name[OVERRIDE_PREFIX.len()..];
    let path: Vec<String> = rest.split("__").map(|s| s.to_ascii_lowercase()).collect();
    if path.iter().any(String::is_empty) {
        return Err(ConfigError(format!("{name}: empty key in variable name")));
    }
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let mut cursor = doc;
    for (i, key) in path.iter().enumerate() {
        let table = cursor
            .as_table_mut()
            .ok_or_else(|| ConfigError(format!("{name}: {} is not a section", path[..i].join("."))))?;
        if i + 1 == path.len() {
            table.insert(key.clone(), value);
            return Ok(());
        }
        cursor = table
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(Default::default()));
    }
    Ok(())
}

fn describe_toml_error(origin: &str, text: &str, e: &toml::de::Error) -> ConfigError {
    let at = e
        .span()
        .map(|span| {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
            format!(" line {line}, column {col}")
        })
        .unwrap_or_default();
    ConfigError(format!("config {origin}{at}: {}", one_line(e.message())))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `u` is an http(s) URL on this machine: a loopback address or `localhost`.
pub fn loopback_url(u: &str) -> bool {
    match url::Url::parse(u).ok().as_ref().and_then(url::Url::host) {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// A database URL with any password replaced, for messages.
pub fn redact_url(u: &str) -> String {
    match url::Url::parse(u) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => u.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = vars.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        Config::from_toml_with_overrides(text, "test.toml", &vars)
    }

    #[test]
    fn embedded_defaults_are_dev_sqlite_and_demo() -> Result<(), Box<dyn std::error::Error>> {
        let c = parse("", &[])?;
        assert_eq!(c.auth.mode, AuthMode::Dev);
        assert_eq!(c.database_url, "sqlite://data/ops-console.db");
        assert!(c.demo_enabled());
        assert_eq!(c.listen, "127.0.0.1:3000");
        assert_eq!(c.auth.idle_minutes, 60);
        assert_eq!(c.auth.absolute_hours, 12);
        assert_eq!(
            (
                c.http.max_body_bytes,
                c.http.request_timeout_seconds,
                c.http.audited_refusals_per_minute
            ),
            (1_048_576, 30, 20)
        );
        let e = parse("[http]\nmax_body_bytes = 10\n", &[]).unwrap_err();
        assert!(e.0.contains("http.max_body_bytes"), "{}", e.0);
        let e = parse("[http]\nrequest_timeout_seconds = 0\n", &[]).unwrap_err();
        assert!(e.0.contains("http.request_timeout_seconds"), "{}", e.0);
        Ok(())
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let e = parse("listen = \"127.0.0.1:1\"\n[auth]\nmode = \"dev\"\nbogus_key = 1\n", &[]).unwrap_err();
        assert!(e.0.contains("bogus_key"), "{}", e.0);
        assert!(e.0.contains("line 4"), "{}", e.0);
        assert!(!e.0.contains('\n'));
    }

    #[test]
    fn dev_auth_is_refused_off_loopback() {
        let e = parse("listen = \"0.0.0.0:8080\"", &[]).unwrap_err();
        assert!(e.0.contains("loopback"), "{}", e.0);
        let e = parse("", &[("LEPTOS_SITE_ADDR", "0.0.0.0:8080")]).unwrap_err();
        assert!(e.0.contains("loopback"), "{}", e.0);
    }

    #[test]
    fn dev_auth_is_refused_behind_a_public_url_or_with_real_aws() -> Result<(), Box<dyn std::error::Error>> {
        let e = parse("public_url = \"https://ops.example.com\"", &[]).unwrap_err();
        assert!(e.0.contains("public_url"), "{}", e.0);
        parse("public_url = \"http://localhost:3000\"", &[])?;
        parse("public_url = \"http://127.0.0.1:3000\"", &[])?;
        let env =
            |extra: &str| format!("[[environments]]\nname = \"p\"\ntier = \"prod\"\nregion = \"us-east-1\"\n{extra}");
        let profile = "[[environments.access_profiles]]\nname = \"x\"\nrole_arn = \"arn:aws:iam::1:role/x\"\napprover_groups = [\"leads\"]\n";
        for real in [
            env(profile),
            env("operator_role_arn = \"arn:aws:iam::1:role/op\"\n"),
            env("grant_role_arn = \"arn:aws:iam::1:role/g\"\n"),
            env(&format!("endpoint_url = \"https://ecs.example.com\"\n{profile}")),
        ] {
            let e = parse(&real, &[]).unwrap_err();
            assert!(e.0.contains("environment \"p\"") && e.0.contains("oidc"), "{}", e.0);
            let oidc =
                format!("[auth]\nmode = \"oidc\"\nissuer_url = \"https://idp.example.com\"\nclient_id = \"c\"\n{real}");
            parse(&oidc, &[])?;
        }
        // Reading real AWS is fine; so is acting on a local emulator (moto) in tests.
        parse(&env(""), &[])?;
        parse(
            &env(&format!("endpoint_url = \"http://127.0.0.1:5055\"\n{profile}")),
            &[],
        )?;
        Ok(())
    }

    #[test]
    fn approver_sessions_are_shorter() -> Result<(), Box<dyn std::error::Error>> {
        assert_eq!(parse("", &[])?.auth.approver_absolute_hours, 4);
        let c = parse("[auth]\nabsolute_hours = 2\n", &[])?;
        assert_eq!(c.auth.session_hours(true), 2, "never longer than absolute_hours");
        assert_eq!(c.auth.session_hours(false), 2);
        let c = parse("", &[])?;
        assert_eq!((c.auth.session_hours(true), c.auth.session_hours(false)), (4, 12));
        assert!(parse("[auth]\napprover_absolute_hours = 0\n", &[]).is_err());
        Ok(())
    }

    #[test]
    fn overrides_and_site_addr_apply() -> Result<(), Box<dyn std::error::Error>> {
        let c = parse(
            "",
            &[
                ("OPS_CONSOLE__DATABASE_URL", "postgres://u@127.0.0.1/db"),
                ("OPS_CONSOLE__AUTH__IDLE_MINUTES", "15"),
                ("OPS_CONSOLE__DEMO", "false"),
                ("OPS_CONSOLE_CONFIG", "/not/a/config/key"),
                ("LEPTOS_SITE_ADDR", "127.0.0.1:4000"),
            ],
        )?;
        assert!(c.is_postgres());
        assert_eq!(c.auth.idle_minutes, 15);
        assert!(!c.demo_enabled());
        assert_eq!(c.listen, "127.0.0.1:4000");
        let e = parse("", &[("OPS_CONSOLE__AUTH__NOPE", "1")]).unwrap_err();
        assert!(e.0.contains("nope"), "{}", e.0);
        Ok(())
    }

    #[test]
    fn the_design_example_validates() -> Result<(), Box<dyn std::error::Error>> {
        let text = include_str!("../../../../docs/config.example.toml");
        let c = parse(text, &[])?;
        assert_eq!(c.environments.len(), 1);
        assert_eq!(
            c.environments[0].access_profiles[0].approver_groups,
            vec!["tech-leads".to_string()]
        );
        assert!(c.demo_enabled(), "the example says demo = true");
        Ok(())
    }

    #[test]
    fn environment_rules() -> Result<(), Box<dyn std::error::Error>> {
        let env =
            |extra: &str| format!("[[environments]]\nname = \"p\"\ntier = \"prod\"\nregion = \"us-east-1\"\n{extra}");
        let c = parse(&env(""), &[])?;
        assert!(
            !c.demo_enabled(),
            "demo defaults to off once environments are configured"
        );
        assert!(parse(&env("tier2 = 1"), &[]).unwrap_err().0.contains("tier2"));
        let e = parse(&format!("{}{}", env(""), env("")), &[]).unwrap_err();
        assert!(e.0.contains("used twice"), "{}", e.0);
        let profile = "[[environments.access_profiles]]\nname = \"x\"\nrole_arn = \"arn:aws:iam::1:role/x\"\napprover_groups = [\"leads\"]\nmax_minutes = 90\n";
        let e = parse(&env(profile), &[]).unwrap_err();
        assert!(e.0.contains("max_minutes"), "{}", e.0);
        let e = parse("[[severity]]\npattern = \"(\"\nsev = 1\n", &[]).unwrap_err();
        assert!(e.0.contains("severity[0].pattern"), "{}", e.0);
        let e = parse("database_url = \"mysql://x\"", &[]).unwrap_err();
        assert!(e.0.contains("database_url"), "{}", e.0);
        Ok(())
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact_url("postgres://u:secret@h/db"), "postgres://u:***@h/db");
    }
}
