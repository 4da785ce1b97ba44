//! `switchboard clients flows` and `switchboard tools flow`: which clients
//! can read private data, receive untrusted content and send data out, and
//! the user's say on what a tool does.

use std::{io::Write as _, path::Path};

use clap::Args;
use switchboard_api::flows::{ClientFlows, FlowToolInfo};
use switchboard_gateway::policy::{
    FlowOverride, POLICY_SETTINGS_KEY, PolicySettings, flow_override_key,
};

use crate::{error::CliError, remote::Remote};

/// `switchboard tools flow SERVER TOOL …`
#[derive(Debug, Args)]
pub struct FlowArgs {
    /// Server.
    pub server: String,
    /// Tool as the server names it.
    pub tool: String,
    /// Whether it reads private data: yes, no or auto (as inferred).
    #[arg(long)]
    pub private_data: Option<String>,
    /// Whether its results carry untrusted content: yes, no or auto.
    #[arg(long)]
    pub untrusted_content: Option<String>,
    /// Whether it can send data out: yes, no or auto.
    #[arg(long)]
    pub outbound: Option<String>,
}

fn tri(value: Option<String>, current: Option<bool>) -> Result<Option<bool>, CliError> {
    match value.as_deref() {
        None => Ok(current),
        Some("yes" | "on" | "true") => Ok(Some(true)),
        Some("no" | "off" | "false") => Ok(Some(false)),
        Some("auto" | "inferred") => Ok(None),
        Some(other) => Err(CliError::Usage(format!(
            "expected yes, no or auto, got {other:?}"
        ))),
    }
}

fn shown(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "auto",
    }
}

/// `tools flow`: sets (or with no flags, shows) the user's labels of a tool.
pub async fn set(data_dir: &Path, args: FlowArgs) -> Result<(), CliError> {
    let store = crate::database::open_store(data_dir).await?;
    if store.get_server(&args.server).await?.is_none() {
        return Err(switchboard_store::Error::NoSuchServer(args.server).into());
    }
    let mut settings = store
        .get_setting::<PolicySettings>(POLICY_SETTINGS_KEY)
        .await?
        .unwrap_or_default();
    let key = flow_override_key(&args.server, &args.tool);
    let current = settings
        .flow_overrides
        .get(&key)
        .cloned()
        .unwrap_or_default();
    let changing =
        args.private_data.is_some() || args.untrusted_content.is_some() || args.outbound.is_some();
    let set = FlowOverride {
        private_data: tri(args.private_data, current.private_data)?,
        untrusted_content: tri(args.untrusted_content, current.untrusted_content)?,
        outbound: tri(args.outbound, current.outbound)?,
    };
    if changing {
        settings.set_flow_override(&args.server, &args.tool, set.clone());
        store.set_setting(POLICY_SETTINGS_KEY, &settings).await?;
    }
    writeln!(
        std::io::stdout(),
        "{key}: private data {}, untrusted content {}, outbound {}",
        shown(set.private_data),
        shown(set.untrusted_content),
        shown(set.outbound)
    )?;
    Ok(())
}

/// `clients flows`: each client's labelled tools, and whether its view
/// holds a toxic flow (needs a running gateway: the view is its servers'
/// live tools).
pub async fn list(data_dir: &Path, json: bool) -> Result<(), CliError> {
    let Some((remote, _)) = Remote::find(data_dir).await else {
        return Err(CliError::Usage(
            "no gateway is running: start it (switchboard serve) to see what each client's tools can reach".into(),
        ));
    };
    let flows: Vec<ClientFlows> =
        serde_json::from_value(remote.rpc("flows_list", serde_json::Value::Null).await?)
            .map_err(|e| CliError::Remote(e.to_string()))?;
    if json {
        return crate::admin::print_json(&flows);
    }
    let mut out = std::io::stdout().lock();
    for client in &flows {
        let verdict = match (client.toxic, client.guard) {
            (true, true) => "TOXIC FLOW (guard on: outbound calls ask after untrusted content)",
            (true, false) => {
                "TOXIC FLOW: private data, untrusted content and an outbound tool in one view \
                 (turn the guard on: switchboard settings set policy.flow_guard on)"
            }
            (false, _) => "no toxic flow",
        };
        writeln!(out, "{}  {verdict}", client.client)?;
        for (label, pick) in [
            (
                "private data     ",
                (|t| t.private_data) as fn(&FlowToolInfo) -> bool,
            ),
            ("untrusted content", |t| t.untrusted_content),
            ("outbound         ", |t| t.outbound),
        ] {
            let names: Vec<&str> = client
                .tools
                .iter()
                .filter(|t| pick(t))
                .map(|t| t.name.as_str())
                .collect();
            let names = match names.is_empty() {
                true => "-".to_owned(),
                false => names.join(", "),
            };
            writeln!(out, "  {label}  {names}")?;
        }
    }
    Ok(())
}
