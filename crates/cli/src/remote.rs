//! Talking to a running gateway through its control API.

use std::{collections::BTreeMap, path::Path, time::Duration};

use switchboard_gateway::{RuntimeInfo, http::StatusReport};

use crate::error::CliError;

/// A running gateway found through `<data dir>/gateway.json`.
pub struct Remote {
    info: RuntimeInfo,
    http: reqwest::Client,
}

impl Remote {
    /// The gateway of `data_dir`, if one is running and answers.
    pub async fn find(data_dir: &Path) -> Option<(Self, StatusReport)> {
        let info = RuntimeInfo::read(data_dir)?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .ok()?;
        let remote = Self { info, http };
        let status = remote.get::<StatusReport>("status").await.ok()?;
        Some((remote, status))
    }

    /// The MCP endpoint URL.
    pub fn mcp_url(&self) -> &str {
        &self.info.mcp_url
    }

    /// `GET <control>/<path>` as JSON.
    pub async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        let url = format!("{}{path}", self.info.control_url);
        let response = self
            .http
            .get(&url)
            .bearer_auth(&self.info.control_token)
            .send()
            .await
            .map_err(|e| CliError::Remote(e.to_string()))?;
        if !response.status().is_success() {
            return Err(CliError::Remote(format!(
                "{url} answered {}",
                response.status()
            )));
        }
        response
            .json()
            .await
            .map_err(|e| CliError::Remote(e.to_string()))
    }

    /// `GET <control>/<path>` as a long-lived event stream.
    pub async fn stream(&self, path: &str) -> Result<reqwest::Response, CliError> {
        let url = format!("{}{path}", self.info.control_url);
        // The stream lives as long as the user watches: no overall timeout.
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| CliError::Remote(e.to_string()))?;
        let response = http
            .get(&url)
            .bearer_auth(&self.info.control_token)
            .send()
            .await
            .map_err(|e| CliError::Remote(e.to_string()))?;
        if !response.status().is_success() {
            return Err(CliError::Remote(format!(
                "{url} answered {}",
                response.status()
            )));
        }
        Ok(response)
    }

    /// Runs a control API command (`POST <control>/rpc`).
    pub async fn rpc(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, CliError> {
        let url = format!("{}rpc", self.info.control_url);
        let response = self
            .http
            .post(&url)
            .bearer_auth(&self.info.control_token)
            .header(switchboard_api::http::RPC_HEADER, "cli")
            .json(&serde_json::json!({ "method": method, "params": params }))
            .send()
            .await
            .map_err(|e| CliError::Remote(e.to_string()))?;
        let status = response.status();
        let ok = status.is_success();
        let body: serde_json::Value = response.json().await.map_err(|_| {
            CliError::Remote(format!(
                "the gateway at {url} answered HTTP {status} without a control API answer \
                 (is it an older version?)"
            ))
        })?;
        if ok {
            Ok(body)
        } else {
            Err(CliError::Remote(
                body.get("message")
                    .and_then(|m| m.as_str())
                    .unwrap_or("the command failed")
                    .to_owned(),
            ))
        }
    }

    /// Tools per server from the running gateway's cache.
    pub async fn tools(
        &self,
        server: Option<&str>,
    ) -> Result<BTreeMap<String, Vec<rmcp::model::Tool>>, CliError> {
        let path = match server {
            Some(s) => format!("tools?server={s}"),
            None => "tools".into(),
        };
        self.get(&path).await
    }
}
