//! The aggregated endpoint `/mcp`: merged lists and name routing.

use std::{borrow::Cow, sync::Arc};

use rmcp::{ErrorData as McpError, RoleClient, ServiceError, model::*, service::Peer};

use super::{Bound, Front, Route, split_name, split_uri};
use crate::{
    names::{self, SpanningCursor},
    upstream::{Live, Upstream},
};

/// One page of some list from one upstream: items and that server's next cursor.
type Page<T> = (Vec<T>, Option<String>);

impl Front {
    /// Every ready server's tools from the cache, names qualified. The cache
    /// holds complete lists, so this is one page. The merged list is kept per
    /// client until the policy or a server's tools change.
    pub(super) async fn list_all_tools(&self, bound: &Bound) -> ListToolsResult {
        self.core.hub.settled(self.core.settle).await;
        let client = bound.caller.client.as_str();
        let generation = self.core.policy.generation();
        let sources = self.core.tool_sources();
        if let Some(tools) = self.core.tools_cache.get(client, generation, &sources) {
            return ListToolsResult::with_all_items(tools.as_ref().clone());
        }
        let mut tools = Vec::new();
        for (server, list) in &sources {
            for mut tool in self.visible_tools(bound, server, list.iter()) {
                tool.name = Cow::Owned(names::qualify(server, &tool.name));
                tools.push(tool);
            }
        }
        let tools = Arc::new(tools);
        self.core
            .tools_cache
            .put(client, generation, sources, tools.clone());
        ListToolsResult::with_all_items(tools.as_ref().clone())
    }

    pub(super) async fn list_all_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
    ) -> Result<ListPromptsResult, McpError> {
        let (items, next) = self
            .span(
                request,
                |caps| caps.prompts.is_some(),
                async |peer, cursor| {
                    let r = peer
                        .list_prompts(Some(PaginatedRequestParams::default().with_cursor(cursor)))
                        .await?;
                    Ok((r.prompts, r.next_cursor))
                },
                |server, prompt: &mut Prompt| prompt.name = names::qualify(server, &prompt.name),
            )
            .await?;
        let mut result = ListPromptsResult::with_all_items(items);
        result.next_cursor = next;
        Ok(result)
    }

    pub(super) async fn list_all_resources(
        &self,
        request: Option<PaginatedRequestParams>,
    ) -> Result<ListResourcesResult, McpError> {
        let (items, next) = self
            .span(
                request,
                |caps| caps.resources.is_some(),
                async |peer, cursor| {
                    let r = peer
                        .list_resources(Some(PaginatedRequestParams::default().with_cursor(cursor)))
                        .await?;
                    Ok((r.resources, r.next_cursor))
                },
                |server, resource: &mut Resource| {
                    resource.uri = names::qualify_uri(server, &resource.uri);
                },
            )
            .await?;
        let mut result = ListResourcesResult::with_all_items(items);
        result.next_cursor = next;
        Ok(result)
    }

    pub(super) async fn list_all_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        let (items, next) = self
            .span(
                request,
                |caps| caps.resources.is_some(),
                async |peer, cursor| {
                    let r = peer
                        .list_resource_templates(Some(
                            PaginatedRequestParams::default().with_cursor(cursor),
                        ))
                        .await?;
                    Ok((r.resource_templates, r.next_cursor))
                },
                |server, template: &mut ResourceTemplate| {
                    template.uri_template = names::qualify_uri(server, &template.uri_template);
                },
            )
            .await?;
        let mut result = ListResourceTemplatesResult::with_all_items(items);
        result.next_cursor = next;
        Ok(result)
    }

    /// Walks the servers in name order, collecting their pages until the page
    /// is full (so clients that never page still see every server's items).
    /// The cursor handed out names the server and that server's own cursor,
    /// so paging works across servers and within each one.
    async fn span<T>(
        &self,
        request: Option<PaginatedRequestParams>,
        offers: impl Fn(&ServerCapabilities) -> bool,
        fetch: impl AsyncFn(Peer<RoleClient>, Option<String>) -> Result<Page<T>, ServiceError>,
        rename: impl Fn(&str, &mut T),
    ) -> Result<Page<T>, McpError> {
        let start = match request.and_then(|r| r.cursor) {
            Some(text) => Some(
                SpanningCursor::decode(&text)
                    .ok_or_else(|| McpError::invalid_params("invalid cursor", None))?,
            ),
            None => None,
        };
        if start.is_none() {
            self.core.hub.settled(self.core.settle).await;
        }
        let servers: Vec<(Arc<Upstream>, Arc<Live>)> = self
            .core
            .hub
            .all()
            .into_iter()
            .filter(|up| {
                self.bound.get().is_none_or(|b| {
                    self.core
                        .policy
                        .server_visible(&b.caller.client, up.name())
                        .is_ok()
                })
            })
            .filter_map(|up| {
                let live = up.connection().ok()?;
                offers(&live.info.capabilities).then_some((up, live))
            })
            .collect();
        let mut index = match &start {
            Some(c) => servers
                .iter()
                .position(|(up, _)| up.name() >= c.server.as_str())
                .unwrap_or(servers.len()),
            None => 0,
        };
        let mut cursor = start
            .filter(|c| {
                servers
                    .get(index)
                    .is_some_and(|(up, _)| up.name() == c.server)
            })
            .and_then(|c| c.upstream);
        let mut collected = Vec::new();
        while let Some((up, live)) = servers.get(index) {
            let (mut items, next) = match fetch(live.peer.clone(), cursor.take()).await {
                Ok(page) => page,
                Err(e) => {
                    // One broken server must not hide every other server's items.
                    tracing::warn!(server = up.name(), error = %e, "list failed; skipping server");
                    (Vec::new(), None)
                }
            };
            for item in &mut items {
                rename(up.name(), item);
            }
            collected.append(&mut items);
            let next_cursor = match next {
                Some(upstream) => Some(SpanningCursor {
                    server: up.name().to_owned(),
                    upstream: Some(upstream),
                }),
                None => servers.get(index + 1).map(|(up, _)| SpanningCursor {
                    server: up.name().to_owned(),
                    upstream: None,
                }),
            };
            match next_cursor {
                None => break,
                Some(c) if collected.len() >= self.core.page_size => {
                    return Ok((collected, Some(c.encode())));
                }
                Some(c) if c.server == up.name() => cursor = c.upstream,
                Some(_) => index += 1,
            }
        }
        Ok((collected, None))
    }

    /// Completion refers to a prompt or resource template by its qualified name.
    pub(super) fn route_completion(
        &self,
        mut request: CompleteRequestParams,
    ) -> Result<(Arc<Upstream>, CompleteRequestParams), McpError> {
        let server = match &mut request.r#ref {
            Reference::Prompt(prompt) => {
                let (server, name) = split_name(&prompt.name, "prompt")?;
                let server = server.to_owned();
                prompt.name = name.to_owned();
                server
            }
            Reference::Resource(resource) => {
                let (server, uri) = split_uri(&resource.uri)?;
                let server = server.to_owned();
                resource.uri = uri.to_owned();
                server
            }
            _ => {
                return Err(McpError::invalid_params(
                    "unsupported completion reference",
                    None,
                ));
            }
        };
        Ok((self.upstream(&server)?, request))
    }

    /// The upstream and its own URI for a resource named on this endpoint.
    pub(super) fn resource_target(
        &self,
        bound: &Bound,
        uri: &str,
    ) -> Result<(Arc<Upstream>, String), McpError> {
        match &bound.caller.route {
            Route::Server(name) => Ok((self.upstream(name)?, uri.to_owned())),
            Route::All => {
                let (server, uri) = split_uri(uri)?;
                Ok((self.upstream(server)?, uri.to_owned()))
            }
        }
    }
}
