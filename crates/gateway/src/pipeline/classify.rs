//! The classify stage: what a request is. A standard method's params are
//! read as rmcp's model types; params that do not read are invalid params,
//! on every route and in both eras, so nothing can reach a server as "some
//! other method" by a mistyped field.
#![expect(
    deprecated,
    reason = "logging and subscribe are still part of 2025-11-25"
)]

use rmcp::model::{
    CallToolRequestParams, CompleteRequestParams, GetPromptRequestParams, InitializeRequestParams,
    LoggingLevel, PaginatedRequestParams, ReadResourceRequestParams, SetLevelRequestParams,
    SubscribeRequestParams, SubscriptionsListenRequestParams, UnsubscribeRequestParams,
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{
    bind::{Bound, Who},
    refusal::Refusal,
};
use crate::wire::{Message, RawObject};

/// A request's `_meta`, as far as the pipeline reads it.
#[derive(Debug, Default)]
pub(crate) struct Meta {
    /// The client's progress token (a string or an integer), as sent.
    pub progress: Option<Value>,
}

/// The params of a request, read for what they are.
pub(crate) enum Params {
    Initialize(Box<InitializeRequestParams>),
    Discover,
    Ping,
    List(PaginatedRequestParams),
    CallTool(Box<CallToolRequestParams>),
    GetPrompt(Box<GetPromptRequestParams>),
    ReadResource(Box<ReadResourceRequestParams>),
    Subscribe(String),
    Unsubscribe(String),
    Complete(Box<CompleteRequestParams>),
    SetLevel(LoggingLevel),
    Listen(Box<SubscriptionsListenRequestParams>),
    /// `tasks/get`, `tasks/update`, `tasks/cancel`: the task's id.
    Task(String),
    /// A method the gateway does not read (relayed on `/mcp/{server}`).
    Other,
}

/// One classified request.
pub(crate) struct Request {
    /// The message as the client sent it.
    pub message: Message,
    pub method: String,
    /// The params' members, each still raw (for relaying with few edits).
    pub raw: RawObject,
    pub meta: Meta,
    pub params: Params,
}

fn read<T: DeserializeOwned>(message: &Message) -> Result<T, Refusal> {
    message
        .params_as::<T>()
        .map_err(|e| Refusal::InvalidParams {
            method: message.method().to_owned(),
            detail: e.to_string(),
        })
}

/// Methods that 2026-07-28 removed (the gateway answers them -32601 there).
const REMOVED_IN_2026: &[&str] = &[
    "initialize",
    "ping",
    "logging/setLevel",
    "resources/subscribe",
    "resources/unsubscribe",
];

/// Reads what `message` asks for.
pub(crate) fn classify(bound: &Bound, message: Message) -> Result<Request, Refusal> {
    let method = message.method().to_owned();
    let not_found = || Refusal::MethodNotFound(method.clone());
    match &bound.who {
        Who::Stateless(_) if REMOVED_IN_2026.contains(&method.as_str()) => return Err(not_found()),
        Who::Session(_)
            if matches!(method.as_str(), "server/discover" | "subscriptions/listen") =>
        {
            return Err(not_found());
        }
        Who::Opening if method != "initialize" => return Err(not_found()),
        Who::Session(_) if method == "initialize" => {
            return Err(Refusal::InvalidRequest(
                "session is already initialized".into(),
            ));
        }
        _ => {}
    }
    let raw = message
        .params_object()
        .ok_or_else(|| Refusal::InvalidParams {
            method: method.clone(),
            detail: "params must be an object".into(),
        })?;
    let object = match raw.get("_meta") {
        Some(meta) => serde_json::from_str::<Map<String, Value>>(meta.get()).map_err(|_| {
            Refusal::InvalidParams {
                method: method.clone(),
                detail: "_meta must be an object".into(),
            }
        })?,
        None => Map::new(),
    };
    let progress = object.get("progressToken").cloned();
    if progress
        .as_ref()
        .is_some_and(|t| !(t.is_string() || t.is_i64() || t.is_u64()))
    {
        return Err(Refusal::InvalidParams {
            method,
            detail: "progressToken must be a string or an integer".into(),
        });
    }
    let params = match method.as_str() {
        "initialize" => Params::Initialize(Box::new(read(&message)?)),
        "server/discover" => {
            if raw.keys().any(|k| k != "_meta") {
                return Err(Refusal::InvalidParams {
                    method,
                    detail: "server/discover takes no params".into(),
                });
            }
            Params::Discover
        }
        "ping" => Params::Ping,
        "tools/list" | "prompts/list" | "resources/list" | "resources/templates/list" => {
            Params::List(read(&message)?)
        }
        "tools/call" => Params::CallTool(Box::new(read(&message)?)),
        "prompts/get" => Params::GetPrompt(Box::new(read(&message)?)),
        "resources/read" => Params::ReadResource(Box::new(read(&message)?)),
        "resources/subscribe" => Params::Subscribe(read::<SubscribeRequestParams>(&message)?.uri),
        "resources/unsubscribe" => {
            Params::Unsubscribe(read::<UnsubscribeRequestParams>(&message)?.uri)
        }
        "completion/complete" => Params::Complete(Box::new(read(&message)?)),
        "logging/setLevel" => Params::SetLevel(read::<SetLevelRequestParams>(&message)?.level),
        "subscriptions/listen" => Params::Listen(Box::new(read(&message)?)),
        "tasks/get" | "tasks/update" | "tasks/cancel" | "tasks/result" => {
            #[derive(serde::Deserialize)]
            struct Task {
                #[serde(rename = "taskId")]
                id: String,
            }
            Params::Task(read::<Task>(&message)?.id)
        }
        _ => Params::Other,
    };
    Ok(Request {
        message,
        method,
        raw,
        meta: Meta { progress },
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::{Caller, Route};

    fn opening() -> Bound {
        Bound {
            caller: Caller {
                client: "c".into(),
                route: Route::All,
            },
            who: Who::Opening,
        }
    }

    fn message(text: &str) -> Message {
        Message::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn a_mistyped_field_of_a_standard_method_is_invalid_params() {
        let sessions = crate::session::Sessions::default();
        let session = sessions.open(
            Caller {
                client: "c".into(),
                route: Route::All,
            },
            "2025-11-25".into(),
            Default::default(),
        );
        let bound = Bound {
            caller: session.caller.clone(),
            who: Who::Session(session),
        };
        for bad in [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","requestState":0}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":[]}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","_meta":{"progressToken":{}}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":7}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"loud"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":5}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":"echo"}"#,
        ] {
            let refused = classify(&bound, message(bad)).err();
            assert!(
                matches!(refused, Some(Refusal::InvalidParams { .. })),
                "{bad}: {refused:?}"
            );
        }
        assert!(classify(&bound, message(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"x":1}}}"#)).is_ok());
        assert!(matches!(
            classify(
                &bound,
                message(r#"{"jsonrpc":"2.0","id":1,"method":"server/discover"}"#)
            )
            .err(),
            Some(Refusal::MethodNotFound(_))
        ));
    }

    #[test]
    fn before_a_session_only_initialize_is_served() {
        assert!(matches!(
            classify(
                &opening(),
                message(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#)
            )
            .err(),
            Some(Refusal::InvalidParams { .. })
        ));
        assert!(matches!(
            classify(
                &opening(),
                message(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
            )
            .err(),
            Some(Refusal::MethodNotFound(_))
        ));
    }
}
