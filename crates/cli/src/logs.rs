//! `switchboard logs`: read, follow, export and verify the audit log. Reads
//! the audit database directly, so it works whether or not a gateway runs;
//! `--follow` streams from a running gateway.

use std::{io::Write as _, path::Path, sync::Arc};

use clap::{Args, Subcommand, ValueEnum};
use futures::StreamExt as _;
use switchboard_audit::{AuditDb, AuditEvent, Filter, KeyState};

use crate::{error::CliError, remote::Remote};

/// `switchboard logs …`
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct LogsArgs {
    #[command(subcommand)]
    action: Option<LogsAction>,
    #[command(flatten)]
    filter: FilterArgs,
    /// Keep printing new records as they arrive (needs a running gateway).
    #[arg(long, short)]
    follow: bool,
    /// One JSON object per line (also for `show` and `stats`).
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum LogsAction {
    /// Show one record with its full request and response.
    Show {
        /// Record id.
        id: i64,
    },
    /// Write the matching records to a file or stdout.
    Export {
        /// Output format.
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
        /// File to write (default: stdout).
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
        #[command(flatten)]
        filter: Box<FilterArgs>,
    },
    /// Check the hash chain; names the first record that was changed or removed.
    Verify,
    /// Calls, errors and latency per server and tool.
    Stats {
        /// Period to cover, e.g. 24h or 7d.
        #[arg(long, default_value = "7d")]
        since: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ExportFormat {
    Jsonl,
    Csv,
}

#[derive(Debug, Args, Default)]
struct FilterArgs {
    /// Only this server.
    #[arg(long)]
    server: Option<String>,
    /// Only this tool (or prompt / resource).
    #[arg(long)]
    tool: Option<String>,
    /// Only this client.
    #[arg(long)]
    client: Option<String>,
    /// Only this JSON-RPC method (e.g. tools/call).
    #[arg(long)]
    method: Option<String>,
    /// Only this status: ok, error, cancelled, denied.
    #[arg(long)]
    status: Option<String>,
    /// Only this decision: allowed, denied, asked, rate_limited.
    #[arg(long)]
    decision: Option<String>,
    /// Full-text search in names, arguments and results.
    #[arg(long)]
    search: Option<String>,
    /// Only records newer than this: 30m, 12h, 7d, or unix milliseconds.
    #[arg(long)]
    since: Option<String>,
    /// Only records older than this id (paging).
    #[arg(long)]
    before: Option<i64>,
    /// At most this many records.
    #[arg(long, default_value_t = 50)]
    limit: u32,
}

fn parse_since(text: &str) -> Result<i64, CliError> {
    let now = switchboard_audit::now_ms();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: i64 = number.parse().map_err(|_| {
        CliError::Usage(format!(
            "--since: expected e.g. 30m, 12h, 7d or unix ms, got {text:?}"
        ))
    })?;
    let unit_ms = match unit {
        "" => return Ok(n),
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => {
            return Err(CliError::Usage(format!(
                "--since: unknown unit {unit:?} (use s, m, h or d)"
            )));
        }
    };
    Ok(now - n * unit_ms)
}

impl FilterArgs {
    fn to_filter(&self) -> Result<Filter, CliError> {
        Ok(Filter {
            since: self.since.as_deref().map(parse_since).transpose()?,
            until: None,
            client: self.client.clone(),
            server: self.server.clone(),
            name: self.tool.clone(),
            method: self.method.clone(),
            status: self.status.clone(),
            decision: self.decision.clone(),
            search: self.search.clone(),
            before_id: self.before,
            limit: self.limit,
        })
    }

    /// Whether a live record passes the filters (the search term is matched
    /// as plain text, since live records do not go through the index).
    fn admits(&self, e: &AuditEvent) -> bool {
        let eq = |want: &Option<String>, have: &Option<String>| want.is_none() || want == have;
        eq(&self.server, &e.server)
            && eq(&self.tool, &e.name)
            && eq(&self.client, &e.client)
            && self.method.as_ref().is_none_or(|m| m == &e.method)
            && self.status.as_ref().is_none_or(|s| s == &e.status)
            && self
                .decision
                .as_ref()
                .is_none_or(|d| e.decision == *d || e.decision.starts_with(&format!("{d}:")))
            && self.search.as_ref().is_none_or(|text| {
                let text = text.to_lowercase();
                [&e.name, &e.request, &e.response, &e.error_message]
                    .iter()
                    .any(|f| {
                        f.as_deref()
                            .is_some_and(|v| v.to_lowercase().contains(&text))
                    })
            })
    }
}

pub async fn run(data_dir: &Path, args: LogsArgs) -> Result<(), CliError> {
    let db = crate::database::open_audit(data_dir).await?;
    match args.action {
        Some(LogsAction::Show { id }) => show(&db, id, args.json).await,
        Some(LogsAction::Export {
            format,
            output,
            filter,
        }) => export(&db, format, output.as_deref(), &filter).await,
        Some(LogsAction::Verify) => verify(data_dir, &db).await,
        Some(LogsAction::Stats { since }) => stats(&db, &since, args.json).await,
        None => list(data_dir, &db, &args.filter, args.follow, args.json).await,
    }
}

async fn list(
    data_dir: &Path,
    db: &AuditDb,
    filter: &FilterArgs,
    follow: bool,
    json: bool,
) -> Result<(), CliError> {
    // Subscribe before reading the backlog, so nothing committed in between
    // is lost; records seen in both are printed once.
    let live = if follow {
        let (remote, _) = Remote::find(data_dir)
            .await
            .ok_or_else(|| CliError::NotRunning(data_dir.to_owned()))?;
        Some(remote.stream("audit/stream").await?)
    } else {
        None
    };
    let mut events = db.query(&filter.to_filter()?).await?;
    events.reverse();
    let mut out = std::io::stdout().lock();
    if events.is_empty() && !follow {
        eprintln!("No matching records.");
    }
    for e in &events {
        print_event(&mut out, e, json)?;
    }
    drop(out);
    let Some(response) = live else {
        return Ok(());
    };
    let mut last = events.last().map_or(0, |e| e.id);
    let mut stream = sse_stream::SseStream::from_bytes_stream(response.bytes_stream());
    while let Some(item) = stream.next().await {
        let event = item.map_err(|e| CliError::Remote(e.to_string()))?;
        let Some(data) = event.data else { continue };
        if event.event.as_deref() == Some("lagged") {
            eprintln!("(missed {data} batches; `switchboard logs` shows them)");
            continue;
        }
        let batch: Vec<AuditEvent> =
            serde_json::from_str(&data).map_err(|e| CliError::Remote(format!("bad event: {e}")))?;
        let mut out = std::io::stdout().lock();
        for e in batch.iter().filter(|e| e.id > last && filter.admits(e)) {
            print_event(&mut out, e, json)?;
        }
        last = batch.iter().map(|e| e.id).fold(last, i64::max);
        out.flush()?;
    }
    Ok(())
}

fn print_event(out: &mut impl std::io::Write, e: &AuditEvent, json: bool) -> Result<(), CliError> {
    if json {
        let line = serde_json::to_string(e).map_err(|err| CliError::Remote(err.to_string()))?;
        writeln!(out, "{line}")?;
        return Ok(());
    }
    let latency = e
        .latency_us
        .map(|us| format!("{:.1}ms", us as f64 / 1000.0))
        .unwrap_or_else(|| "-".into());
    let arrow = if e.direction == "client_to_server" {
        "→"
    } else {
        "←"
    };
    let mut detail = e.error_message.clone().unwrap_or_default();
    if detail.is_empty() {
        detail = e.request.clone().unwrap_or_default();
    }
    let detail: String = detail.chars().take(100).collect();
    writeln!(
        out,
        "{:>7} {} {:<14} {} {:<12} {:<26} {:<22} {:<9} {:>8} {:<9} {}",
        e.id,
        format_ts(e.ts),
        e.client.as_deref().unwrap_or("-"),
        arrow,
        e.server.as_deref().unwrap_or("-"),
        e.method,
        e.name.as_deref().unwrap_or("-"),
        e.status,
        latency,
        e.decision,
        detail
    )?;
    Ok(())
}

/// `YYYY-MM-DD HH:MM:SS.mmm` in UTC.
fn format_ts(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:03}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

async fn show(db: &AuditDb, id: i64, json: bool) -> Result<(), CliError> {
    let event = db
        .get(id)
        .await?
        .ok_or_else(|| CliError::Usage(format!("no audit record {id}")))?;
    let mut out = std::io::stdout().lock();
    if json {
        print_event(&mut out, &event, true)?;
        return Ok(());
    }
    let pretty = |text: &Option<String>| -> String {
        text.as_deref()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| "-".into())
    };
    writeln!(out, "record     {}", event.id)?;
    writeln!(out, "time       {} UTC", format_ts(event.ts))?;
    writeln!(out, "client     {}", event.client.as_deref().unwrap_or("-"))?;
    writeln!(
        out,
        "session    {}",
        event.session.as_deref().unwrap_or("-")
    )?;
    writeln!(out, "server     {}", event.server.as_deref().unwrap_or("-"))?;
    writeln!(out, "direction  {}", event.direction)?;
    writeln!(out, "method     {}", event.method)?;
    writeln!(out, "name       {}", event.name.as_deref().unwrap_or("-"))?;
    writeln!(out, "status     {}", event.status)?;
    if let Some(code) = event.error_code {
        writeln!(
            out,
            "error      {code}: {}",
            event.error_message.as_deref().unwrap_or("")
        )?;
    }
    writeln!(
        out,
        "latency    {}",
        event
            .latency_us
            .map(|us| format!("{us} µs"))
            .unwrap_or_else(|| "-".into())
    )?;
    writeln!(
        out,
        "decision   {}{}",
        event.decision,
        event
            .rule
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    )?;
    writeln!(out, "hash       {}", event.hash)?;
    writeln!(
        out,
        "request    ({} bytes)\n{}",
        event.request_size,
        pretty(&event.request)
    )?;
    writeln!(
        out,
        "response   ({} bytes)\n{}",
        event.response_size,
        pretty(&event.response)
    )?;
    Ok(())
}

async fn export(
    db: &AuditDb,
    format: ExportFormat,
    output: Option<&Path>,
    args: &FilterArgs,
) -> Result<(), CliError> {
    let mut filter = args.to_filter()?;
    let mut sink: Box<dyn std::io::Write> = match output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|source| CliError::Read {
                path: path.to_owned(),
                source,
            })?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    if matches!(format, ExportFormat::Csv) {
        writeln!(sink, "{}", switchboard_audit::csv_header())?;
    }
    // Page through newest-first; `--limit` caps the whole export.
    let mut left = args.limit;
    let mut written = 0u64;
    while left > 0 {
        filter.limit = left.min(1000);
        let page = db.query(&filter).await?;
        let Some(last) = page.last() else { break };
        filter.before_id = Some(last.id);
        left = left.saturating_sub(u32::try_from(page.len()).unwrap_or(u32::MAX));
        for e in &page {
            match format {
                ExportFormat::Jsonl => {
                    let line = serde_json::to_string(e)
                        .map_err(|err| CliError::Remote(err.to_string()))?;
                    writeln!(sink, "{line}")?;
                }
                ExportFormat::Csv => writeln!(sink, "{}", switchboard_audit::csv_row(e))?,
            }
            written += 1;
        }
    }
    sink.flush()?;
    eprintln!("exported {written} records");
    Ok(())
}

async fn verify(data_dir: &Path, db: &AuditDb) -> Result<(), CliError> {
    let secrets = switchboard_auth::SecretStore::from_env(data_dir)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let vault: Arc<dyn switchboard_audit::Vault> =
        Arc::new(switchboard_gateway::KeyringVault(secrets));
    let result = db.verify(Some(vault)).await?;
    let key = match &result.key {
        KeyState::Keyed(since) if *since <= 1 => "keyed".to_owned(),
        KeyState::Keyed(since) => format!("keyed from record {since} on"),
        KeyState::Unkeyed(why) => format!("not keyed: {why}"),
    };
    match result.broken {
        None => {
            println!(
                "audit log intact: {} records verified (chain {key}{})",
                result.checked,
                match result.anchor {
                    Some(id) => format!("; reaches record {id}, the newest kept in the keyring"),
                    None => String::new(),
                }
            );
            if let KeyState::Unkeyed(_) = result.key {
                eprintln!(
                    "warning: without the key, someone who can write the database could rebuild the chain unnoticed"
                );
            }
            Ok(())
        }
        Some(broken) => Err(CliError::Usage(format!(
            "audit log tampered: record {} does not verify: {} ({} records before it verified; chain {key})",
            broken.id, broken.problem, result.checked
        ))),
    }
}

async fn stats(db: &AuditDb, since: &str, json: bool) -> Result<(), CliError> {
    let usage = switchboard_audit::usage(db, parse_since(since)?).await?;
    let mut out = std::io::stdout().lock();
    if json {
        let text =
            serde_json::to_string_pretty(&usage).map_err(|e| CliError::Remote(e.to_string()))?;
        writeln!(out, "{text}")?;
        return Ok(());
    }
    if usage.is_empty() {
        writeln!(out, "No tool calls in that period.")?;
    }
    writeln!(
        out,
        "{:<20} {:<32} {:>7} {:>7} {:>9} {:>9}  LAST USED",
        "SERVER", "TOOL", "CALLS", "ERRORS", "P50", "P95"
    )?;
    let ms = |us: Option<i64>| {
        us.map(|u| format!("{:.1}ms", u as f64 / 1000.0))
            .unwrap_or_else(|| "-".into())
    };
    for u in usage {
        writeln!(
            out,
            "{:<20} {:<32} {:>7} {:>7} {:>9} {:>9}  {}",
            u.server,
            u.name.as_deref().unwrap_or("(all tools)"),
            u.calls,
            u.errors,
            ms(u.p50_us),
            ms(u.p95_us),
            format_ts(u.last_used)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_timestamps() {
        assert_eq!(format_ts(0), "1970-01-01 00:00:00.000");
        assert_eq!(format_ts(1_795_000_000_123), "2026-11-18 11:06:40.123");
    }

    #[test]
    fn parses_since() {
        let now = switchboard_audit::now_ms();
        assert!((now - parse_since("1h").unwrap() - 3_600_000).abs() < 5_000);
        assert_eq!(parse_since("12345").unwrap(), 12345);
        assert!(parse_since("5y").is_err());
        assert!(parse_since("abc").is_err());
    }
}
