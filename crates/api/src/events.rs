//! The event stream: audit batches as they commit, and the approval queue,
//! server statuses and OAuth sign-in statuses whenever they change.

use std::time::Duration;

use futures::Stream;
use tokio::sync::broadcast::error::RecvError;

use crate::{Api, schema::Event};

/// How often approvals and statuses are compared with what was last sent.
const POLL: Duration = Duration::from_millis(250);

struct State {
    api: Api,
    audit: tokio::sync::broadcast::Receiver<std::sync::Arc<[switchboard_audit::AuditEvent]>>,
    tick: tokio::time::Interval,
    last_servers: Option<Vec<crate::schema::ServerInfo>>,
    last_pending: Option<Vec<crate::schema::ApprovalInfo>>,
    last_oauth: Option<Vec<crate::schema::OAuthStatus>>,
    queued: Vec<Event>,
}

impl Api {
    /// Events from now on. The first poll sends the current servers and
    /// approvals, so a subscriber starts in sync.
    pub fn events(&self) -> impl Stream<Item = Event> + Send + use<> {
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let state = State {
            api: self.clone(),
            audit: self.audit.subscribe(),
            tick,
            last_servers: None,
            last_pending: None,
            last_oauth: None,
            queued: Vec::new(),
        };
        futures::stream::unfold(state, |mut s| async move {
            loop {
                if !s.queued.is_empty() {
                    let event = s.queued.remove(0);
                    return Some((event, s));
                }
                tokio::select! {
                    batch = s.audit.recv() => match batch {
                        Ok(batch) => {
                            let rows = batch.iter().map(crate::api::row_of).collect();
                            return Some((Event::Audit { rows }, s));
                        }
                        Err(RecvError::Lagged(missed)) => {
                            let missed = u32::try_from(missed).unwrap_or(u32::MAX);
                            return Some((Event::AuditLagged { missed }, s));
                        }
                        Err(RecvError::Closed) => return None,
                    },
                    _ = s.tick.tick() => s.poll().await,
                }
            }
        })
    }
}

impl State {
    async fn poll(&mut self) {
        if let Ok(servers) = self.api.servers_list(()).await
            && self.last_servers.as_ref() != Some(&servers)
        {
            self.last_servers = Some(servers.clone());
            self.queued.push(Event::Servers { servers });
        }
        let query = crate::schema::ApprovalsQuery { pending_only: true };
        if let Ok(pending) = self.api.approvals_list(query).await
            && self.last_pending.as_ref() != Some(&pending)
        {
            self.last_pending = Some(pending.clone());
            self.queued.push(Event::Approvals { pending });
        }
        if let Ok(statuses) = self.api.oauth_list(()).await
            && self.last_oauth.as_ref() != Some(&statuses)
        {
            self.last_oauth = Some(statuses.clone());
            self.queued.push(Event::Oauth { statuses });
        }
    }
}
