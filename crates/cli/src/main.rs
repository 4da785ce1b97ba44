//! `switchboard`: the headless gateway, a stdio bridge for clients that can
//! only launch commands, and the admin commands.

mod admin;
mod auth;
mod catalog;
mod connect;
mod context;
mod database;
mod doctor;
mod error;
mod flows;
mod import;
mod integrations;
mod logs;
mod policy;
mod remote;
mod sandbox;
mod serve;
mod settings;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use error::CliError;

#[derive(Debug, Parser)]
#[command(
    name = "switchboard",
    version,
    about = "A local gateway for every MCP client and server"
)]
struct Cli {
    /// Data directory (default: the OS app-data dir, e.g. ~/.local/share/switchboard).
    #[arg(long, global = true, env = "SWITCHBOARD_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Database for the configuration and the audit log: postgres://USER@HOST/DB for a
    /// team's shared PostgreSQL (several instances may use one), or sqlite (the default:
    /// files in the data directory).
    #[arg(
        long,
        global = true,
        env = "SWITCHBOARD_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    database: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway (headless) until interrupted.
    Serve(serve::ServeArgs),
    /// Manage upstream MCP servers.
    #[command(subcommand)]
    Servers(admin::ServersCommand),
    /// Manage the clients allowed to connect (each has its own token).
    #[command(subcommand)]
    Clients(admin::ClientsCommand),
    /// Show the tools of the configured servers.
    #[command(subcommand)]
    Tools(admin::ToolsCommand),
    /// Bridge stdio to the running gateway (for clients that only launch commands).
    Connect(ConnectArgs),
    /// Read, follow, export and verify the audit log.
    Logs(Box<logs::LogsArgs>),
    /// Show and change settings.
    #[command(subcommand)]
    Settings(settings::SettingsCommand),
    /// Manage profiles: named sets of servers that clients are bound to.
    #[command(subcommand)]
    Profiles(policy::ProfilesCommand),
    /// Answer calls that wait for approval.
    #[command(subcommand)]
    Approvals(policy::ApprovalsCommand),
    /// Find servers in the catalog and add them.
    #[command(subcommand)]
    Catalog(catalog::CatalogCommand),
    /// Check the setup and say how to fix what is wrong.
    Doctor(doctor::DoctorArgs),
    /// Sign in to remote servers with OAuth, sign out, show status.
    #[command(subcommand)]
    Auth(auth::AuthCommand),
}

#[derive(Debug, Args)]
struct ConnectArgs {
    /// Reach only this server (`/mcp/NAME`) instead of all of them.
    #[arg(long)]
    server: Option<String>,
    /// The client token (prefer the SWITCHBOARD_TOKEN variable: arguments are visible to other users).
    #[arg(long, env = "SWITCHBOARD_TOKEN", hide_env_values = true)]
    token: String,
}

fn main() -> std::process::ExitCode {
    // Started as the sandbox launcher of a stdio server: becomes that server.
    switchboard_sandbox::run_if_launcher();
    let cli = Cli::parse();
    let serve = matches!(cli.command, Command::Serve(_));
    // rmcp logs every message at info; keep that for RUST_LOG=rmcp=info.
    let mut telemetry = switchboard_telemetry::init(&switchboard_telemetry::Options {
        default_filter: if serve { "info,rmcp=warn" } else { "warn" }.into(),
        ansi: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        export: serve,
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&CliError::Runtime(e)),
    };
    let ran = runtime.block_on(run(cli));
    // The last spans and metrics of a stopped gateway go out before it exits.
    telemetry.shutdown();
    match ran {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(error: &CliError) -> std::process::ExitCode {
    eprintln!("error: {error}");
    std::process::ExitCode::FAILURE
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let data_dir = match cli.data_dir {
        Some(dir) => dir,
        None => switchboard_store::Store::default_data_dir().ok_or(CliError::NoDataDir)?,
    };
    database::choose(switchboard_store::Database::parse(
        cli.database.as_deref().unwrap_or_default(),
    )?);
    match cli.command {
        Command::Serve(args) => serve::run(&data_dir, args).await,
        Command::Servers(cmd) => admin::servers(&data_dir, cmd).await,
        Command::Clients(cmd) => admin::clients(&data_dir, cmd).await,
        Command::Tools(cmd) => admin::tools(&data_dir, cmd).await,
        Command::Connect(args) => {
            connect::run(&data_dir, args.server.as_deref(), &args.token).await
        }
        Command::Logs(args) => logs::run(&data_dir, *args).await,
        Command::Settings(cmd) => settings::run(&data_dir, cmd).await,
        Command::Profiles(cmd) => policy::profiles(&data_dir, cmd).await,
        Command::Approvals(cmd) => policy::approvals(&data_dir, cmd).await,
        Command::Catalog(cmd) => catalog::run(&data_dir, cmd).await,
        Command::Doctor(args) => doctor::run(&data_dir, args).await,
        Command::Auth(cmd) => auth::run(&data_dir, cmd).await,
    }
}
