//! Tasks belong to the client that created them: `tasks/*` naming another
//! client's task (or one the gateway did not see created) is answered as if
//! the task did not exist, and task lists show a client its own tasks only.

use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
};

use serde_json::Value;

use crate::wire::{Message, raw};

/// Tasks remembered at most (the oldest are forgotten first).
const KEEP: usize = 10_000;

#[derive(Default)]
struct Owners {
    by_task: HashMap<(String, String), String>,
    order: VecDeque<(String, String)>,
}

/// Who created which task, per server.
#[derive(Default)]
pub(crate) struct Tasks {
    owners: Mutex<Owners>,
}

/// The task id an answer creates: a 2026-07-28 `CreateTaskResult` names it
/// at the top, the 2025-11-25 extension under `task`.
fn created_task(answer: &Message) -> Option<String> {
    let result = answer.result_value()?;
    let flat = (result.get("resultType").and_then(Value::as_str) == Some("task"))
        .then(|| result.get("taskId"))
        .flatten();
    let nested = result.get("task").and_then(|t| t.get("taskId"));
    flat.or(nested)?.as_str().map(str::to_owned)
}

impl Tasks {
    fn lock(&self) -> std::sync::MutexGuard<'_, Owners> {
        self.owners.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers the task an answer of `server` to `client` created, if any.
    pub fn created(&self, server: &str, client: &str, answer: &Message) {
        let Some(task) = created_task(answer) else {
            return;
        };
        let key = (server.to_owned(), task);
        let mut owners = self.lock();
        if owners.order.len() >= KEEP
            && let Some(oldest) = owners.order.pop_front()
        {
            owners.by_task.remove(&oldest);
        }
        owners.order.push_back(key.clone());
        owners.by_task.insert(key, client.to_owned());
    }

    /// Whether `client` created `task` on `server`.
    pub fn owns(&self, server: &str, task: &str, client: &str) -> bool {
        self.lock()
            .by_task
            .get(&(server.to_owned(), task.to_owned()))
            .is_some_and(|owner| owner == client)
    }

    /// Leaves only `client`'s own tasks in a `tasks/list` answer.
    pub fn keep_own(&self, server: &str, client: &str, answer: &mut Message) {
        let Some(mut result) = answer.result_value() else {
            return;
        };
        let Some(tasks) = result.get_mut("tasks").and_then(Value::as_array_mut) else {
            return;
        };
        tasks.retain(|task| {
            task.get("taskId")
                .and_then(Value::as_str)
                .is_some_and(|id| self.owns(server, id, client))
        });
        answer.result = Some(raw(&result));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::int_id;
    use serde_json::json;

    #[test]
    fn a_task_is_its_creator_s() {
        let tasks = Tasks::default();
        let created = Message::response(
            int_id(1),
            raw(&json!({"resultType":"task","taskId":"t1","status":"working"})),
        );
        tasks.created("ev", "alice", &created);
        assert!(tasks.owns("ev", "t1", "alice"));
        assert!(!tasks.owns("ev", "t1", "mallory"));
        assert!(!tasks.owns("other", "t1", "alice"));
        let legacy = Message::response(int_id(2), raw(&json!({"task":{"taskId":"t2"}})));
        tasks.created("ev", "bob", &legacy);
        let mut listed = Message::response(
            int_id(3),
            raw(&json!({"tasks":[{"taskId":"t1"},{"taskId":"t2"},{"taskId":"t3"}]})),
        );
        tasks.keep_own("ev", "alice", &mut listed);
        assert_eq!(
            listed.result_value().unwrap()["tasks"],
            json!([{"taskId":"t1"}])
        );
    }
}
