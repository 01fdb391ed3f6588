//! `megaflex store copy --from sqlite:PATH --to postgres://...`: moves an
//! existing SQLite store into PostgreSQL (issue 17, moving in). Idempotent:
//! run it again and rows already copied are kept, not doubled. It claims the
//! PostgreSQL store first, so it never writes under a running daemon.

use megaflex_store::{ClaimError, OpenOptions, PgStore, SecretString, SqliteStore, Store, StoreKind};

use crate::context::Ctx;
use crate::error::{CliError, exit};
use crate::output::{print, print_json, table};

/// `megaflex store ...`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum StoreCommand {
    /// Copy a SQLite store into PostgreSQL, verifying row counts per table.
    Copy(CopyArgs),
}

/// Options of `megaflex store copy`.
#[derive(Debug, clap::Args)]
pub(crate) struct CopyArgs {
    /// The SQLite store: `sqlite:PATH` or `sqlite://PATH`.
    #[arg(long, value_name = "URL")]
    from: String,
    /// The PostgreSQL store: `postgres://USER@HOST:PORT/DATABASE` (no password).
    #[arg(long, value_name = "URL")]
    to: String,
    /// The environment variable holding the PostgreSQL password.
    #[arg(long, value_name = "VAR")]
    password_env: Option<String>,
}

pub(crate) async fn run(ctx: &Ctx, command: StoreCommand) -> anyhow::Result<u8> {
    let StoreCommand::Copy(args) = command;
    if StoreKind::of(&args.from) != Some(StoreKind::Sqlite) {
        return Err(CliError::usage("--from must be a SQLite store: sqlite:PATH").into());
    }
    if StoreKind::of(&args.to) != Some(StoreKind::Postgres) {
        return Err(CliError::usage("--to must be a PostgreSQL store: postgres://USER@HOST:PORT/DATABASE").into());
    }
    if let Some(why) = megaflex_store::postgres_url_problem(&args.to) {
        return Err(CliError::usage(format!("--to: {why}")).into());
    }
    let password = match &args.password_env {
        None => None,
        Some(var) => Some(SecretString::from(
            std::env::var(var).map_err(|_| CliError::usage(format!("--password-env names {var}, which is not set")))?,
        )),
    };
    let from_path = args.from.trim_start_matches("sqlite:").trim_start_matches("//");
    if !std::path::Path::new(from_path).is_file() {
        return Err(CliError::failure(format!("{}: no such SQLite store", args.from)).into());
    }
    let from = SqliteStore::open(&args.from).await.map_err(|e| CliError::failure(e.to_string()))?;
    let options = OpenOptions { password, ..OpenOptions::default() };
    let to = PgStore::open(&args.to, options.password.clone()).await.map_err(|e| CliError::failure(e.to_string()))?;
    match to.claim().await {
        Ok(()) => {}
        Err(e @ ClaimError::InUse { .. }) => return Err(CliError::failure(format!("not copying: {e}")).into()),
        Err(e) => return Err(CliError::failure(e.to_string()).into()),
    }
    let counts = megaflex_store::sqlite_to_postgres(&from, &to).await.map_err(|e| CliError::failure(e.to_string()))?;
    if ctx.json() {
        let rows: Vec<_> = counts
            .iter()
            .map(|c| {
                serde_json::json!({
                    "table": c.table, "sqlite_rows": c.source_rows,
                    "copied_rows": c.copied_rows, "postgres_rows": c.target_rows,
                })
            })
            .collect();
        print_json(&serde_json::json!({ "from": args.from, "to": args.to, "tables": rows }))?;
        return Ok(exit::OK);
    }
    let mut t = table(&["table", "SQLite rows", "copied now", "PostgreSQL rows"]);
    for c in &counts {
        t.add_row(vec![
            c.table.to_owned(),
            c.source_rows.to_string(),
            c.copied_rows.to_string(),
            c.target_rows.to_string(),
        ]);
    }
    print(&format!("{t}\nCopied {} into {}; every table has at least its SQLite rows.", args.from, args.to))?;
    Ok(exit::OK)
}
