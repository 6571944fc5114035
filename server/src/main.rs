//! `ops-console`: serve the console (default), check an environment, verify or export the audit
//! log, migrate the database. Logs go to stderr; stdout carries only a command's output.

use app::ssr::audit;
use app::ssr::config::Config;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "ops-console",
    version,
    about = "A console for the AWS environments the team runs"
)]
struct Cli {
    /// Configuration file (else OPS_CONSOLE_CONFIG, else the embedded defaults).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the console (the default).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
    /// One health check of an environment. Exit 0 healthy, 1 degraded, 2 unhealthy, 3 could not
    /// check at all.
    Status {
        /// The environment's name.
        #[arg(long)]
        env: String,
        /// Print exactly one JSON document (schema in docs/STATUS.md).
        #[arg(long)]
        json: bool,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Check the whole HMAC chain; prints the head (sequence number and MAC).
    Verify,
    /// Print the log.
    Export {
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
        /// Only entries at or after this time (RFC 3339, e.g. 2026-11-28T00:00:00Z).
        #[arg(long)]
        since: Option<String>,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum ExportFormat {
    Jsonl,
    Csv,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs();
    // `status` promises 3 for "could not check at all"; the other commands fail with 2.
    let failure = if matches!(cli.command, Some(Command::Status { .. })) {
        3
    } else {
        2
    };
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ops-console: {e}");
            return ExitCode::from(failure);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ops-console: cannot start the runtime: {e}");
            return ExitCode::from(failure);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => server::serve(config)
                .await
                .map(|()| ExitCode::SUCCESS)
                .map_err(|e| e.to_string()),
            Command::Migrate => {
                server::open_store(&config, Vec::new())
                    .await
                    .map_err(|e| e.to_string())?;
                eprintln!("ops-console: migrations applied");
                Ok(ExitCode::SUCCESS)
            }
            Command::Audit { command } => audit_command(config, command).await,
            Command::Status { env, json } => status_command(config, &env, json).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ops-console: {e}");
            ExitCode::from(failure)
        }
    }
}

/// The same checks as the environment page. Reads AWS (or the demo) only: the console's database
/// is not needed, so a database outage does not turn into "could not check".
async fn status_command(config: Config, env: &str, json: bool) -> Result<ExitCode, String> {
    let state = server::status_state(config).await.map_err(|e| e.to_string())?;
    let meta = state.environment(env).cloned().ok_or_else(|| {
        let known: Vec<&str> = state.environments().iter().map(|e| e.name.as_str()).collect();
        format!("no environment named \"{env}\" (known: {})", known.join(", "))
    })?;
    let report = app::ssr::status::run(&state, &meta).await;
    if json {
        println!("{}", serde_json::to_string(&report).map_err(|e| e.to_string())?);
    } else {
        let demo = if report.demo {
            " (DEMO: simulated, not read from AWS)"
        } else {
            ""
        };
        println!("{}: {}{demo}", report.environment, report.level.label().to_uppercase());
        for c in &report.checks {
            let level = if c.available { c.level.label() } else { "not available" };
            println!("  {:<28} {:<14} {}", c.name, level, c.detail);
        }
    }
    Ok(ExitCode::from(report.exit_code))
}

/// Logs go to stderr: readable lines on a terminal, one JSON object per line otherwise (for log
/// shippers). `RUST_LOG` sets the filter.
fn init_logs() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    if std::io::stderr().is_terminal() {
        builder.init();
    } else {
        builder.json().flatten_event(true).init();
    }
}

async fn audit_command(config: Config, command: AuditCommand) -> Result<ExitCode, String> {
    let state = server::build_state(config).await.map_err(|e| e.to_string())?;
    match command {
        AuditCommand::Verify => {
            let entries = state.store.audit_all(None).await.map_err(|e| e.to_string())?;
            match audit::verify(state.audit_key(), &entries) {
                Ok(head) => {
                    println!("ok: {} entries; head seq={} mac={}", head.seq, head.seq, head.mac);
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    println!("TAMPERED: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        AuditCommand::Export { format, since } => {
            let since_ms = match since {
                None => None,
                Some(s) => Some(
                    chrono::DateTime::parse_from_rfc3339(&s)
                        .map_err(|e| format!("--since \"{s}\": {e} (expected RFC 3339, e.g. 2026-11-28T00:00:00Z)"))?
                        .timestamp_millis(),
                ),
            };
            let entries = state.store.audit_all(since_ms).await.map_err(|e| e.to_string())?;
            let text = match format {
                ExportFormat::Jsonl => audit::to_jsonl(&entries),
                ExportFormat::Csv => audit::to_csv(&entries),
            };
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
