//! `ops-console`: serve the console (default), check an environment, verify, export or rekey the
//! audit log, migrate the database. Logs go to stderr; stdout carries only a command's output.

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
    /// Check the whole HMAC chain, each entry with the key its id names; prints the head
    /// (sequence number and MAC). Exit 0 intact, 1 tampered (or cut back), 2 could not check.
    Verify {
        /// An earlier audit key (repeatable). Not needed after `audit rekey`: the rekey entry
        /// vouches for the entries before it under the new key; given, it is checked as well.
        #[arg(long = "key-file", value_name = "PATH")]
        key_files: Vec<PathBuf>,
        /// The head recorded earlier (`audit head`): fail when that entry is gone or has another
        /// MAC, i.e. the log was cut back to an earlier head or emptied.
        #[arg(long, value_name = "SEQ:MAC")]
        expect_head: Option<String>,
    },
    /// Verify the chain, then print its head as SEQ:MAC (one line, to record for --expect-head).
    Head {
        /// An earlier audit key (repeatable), as for `verify`.
        #[arg(long = "key-file", value_name = "PATH")]
        key_files: Vec<PathBuf>,
    },
    /// Rotate the audit key: check the log with the old key, then append an `audit.rekey` entry
    /// sealed with the new key and signed by the old one. Then restart every console with the
    /// new key (until then they refuse audited actions).
    Rekey {
        /// The key in force now.
        #[arg(long, value_name = "PATH")]
        old_key_file: PathBuf,
        /// The key to use from now on.
        #[arg(long, value_name = "PATH")]
        new_key_file: PathBuf,
    },
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
    use server::audit_ops;
    let read_keys = |files: &[PathBuf]| -> Result<Vec<Vec<u8>>, String> {
        files.iter().map(|f| audit_ops::read_key_file(f)).collect()
    };
    // The outcome of a verification as the operator reads it.
    let report = |verified: audit_ops::Verified, head_only: bool| match verified {
        Ok(head) if head_only => {
            println!("{head}");
            ExitCode::SUCCESS
        }
        Ok(head) => {
            println!("ok: {} entries; head seq={} mac={}", head.seq, head.seq, head.mac);
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("TAMPERED: {e}");
            ExitCode::from(1)
        }
    };
    match command {
        AuditCommand::Verify { key_files, expect_head } => {
            let expect = expect_head
                .as_deref()
                .map(audit::ChainHead::parse)
                .transpose()
                .map_err(|e| format!("--expect-head: {e}"))?;
            let state = server::build_state(config).await.map_err(|e| e.to_string())?;
            let verified = audit_ops::verify(
                state.store.as_ref(),
                state.audit_key(),
                read_keys(&key_files)?,
                expect.as_ref(),
            )
            .await
            .map_err(|e| e.to_string())?;
            Ok(report(verified, false))
        }
        AuditCommand::Head { key_files } => {
            let state = server::build_state(config).await.map_err(|e| e.to_string())?;
            let verified = audit_ops::verify(state.store.as_ref(), state.audit_key(), read_keys(&key_files)?, None)
                .await
                .map_err(|e| e.to_string())?;
            Ok(report(verified, true))
        }
        AuditCommand::Rekey {
            old_key_file,
            new_key_file,
        } => {
            let old = audit_ops::read_key_file(&old_key_file)?;
            let new = audit_ops::read_key_file(&new_key_file)?;
            // The configured key may already be either one: open the database without it.
            let store = server::open_store(&config, Vec::new())
                .await
                .map_err(|e| e.to_string())?;
            let r = audit_ops::rekey(store.as_ref(), &old, &new, &audit_ops::cli_actor())
                .await
                .map_err(|e| format!("rekey refused: {e}"))?;
            println!(
                "ok: entry {} hands the log over from key id {} to key id {}; head {}:{}",
                r.seq,
                audit::key_id(&old),
                r.key_id,
                r.seq,
                r.mac
            );
            Ok(ExitCode::SUCCESS)
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
            let state = server::build_state(config).await.map_err(|e| e.to_string())?;
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
