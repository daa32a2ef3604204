//! A fake Bot API for the shop bot, on the same recording loopback server as the alert fake
//! ([`FakeHttp`]): scripted `getUpdates` (every queued update with `update_id >= offset`, as
//! Telegram does), and recorded `sendMessage`, `editMessageText`, `answerCallbackQuery`,
//! `setMyCommands` (and `deleteWebhook`/`setWebhook`). Queued special answers (a 429 with
//! `retry_after`) come from [`FakeHttp::script`]. It keeps a transcript of the conversation as
//! it saw it.

use crate::fakes::{FakeHttp, Recorded, Reply};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct State {
    updates: Vec<Value>,
    next_update: i64,
    next_message: i64,
    next_user_message: i64,
    next_callback: i64,
    /// Offsets the bot asked `getUpdates` for, in order.
    offsets: Vec<i64>,
    /// Update ids already shown in the transcript.
    shown: i64,
    transcript: Vec<String>,
    /// Accepted bot calls: (method, body, message id of the result when it is a message).
    calls: Vec<(String, Value, Option<i64>)>,
}

/// One accepted call of the bot.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub body: Value,
    pub message_id: Option<i64>,
}

impl Call {
    pub fn text(&self) -> String {
        self.body["text"].as_str().unwrap_or_default().to_string()
    }

    pub fn chat(&self) -> i64 {
        self.body["chat_id"].as_i64().unwrap_or_default()
    }

    /// The inline buttons as (label, callback data).
    pub fn buttons(&self) -> Vec<(String, String)> {
        let rows = self.body["reply_markup"]["inline_keyboard"].as_array().cloned().unwrap_or_default();
        rows.iter()
            .flat_map(|r| r.as_array().cloned().unwrap_or_default())
            .map(|b| {
                (
                    b["text"].as_str().unwrap_or_default().to_string(),
                    b["callback_data"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }
}

pub struct FakeBotApi {
    pub http: FakeHttp,
    state: Arc<Mutex<State>>,
}

fn message(id: i64, chat: i64, text: &str) -> Value {
    json!({ "message_id": id, "date": 1_700_000_000, "chat": { "id": chat, "type": if chat < 0 { "group" } else { "private" }, "first_name": "T", "title": "G" }, "text": text })
}

fn describe_markup(body: &Value) -> String {
    let m = &body["reply_markup"];
    if let Some(rows) = m["inline_keyboard"].as_array() {
        let labels: Vec<String> = rows
            .iter()
            .flat_map(|r| r.as_array().cloned().unwrap_or_default())
            .map(|b| {
                format!(
                    "[{} → {}]",
                    b["text"].as_str().unwrap_or(""),
                    b["callback_data"].as_str().unwrap_or("")
                )
            })
            .collect();
        if labels.is_empty() { String::new() } else { format!("\n      buttons: {}", labels.join(" ")) }
    } else if let Some(rows) = m["keyboard"].as_array() {
        let labels: Vec<String> = rows
            .iter()
            .flat_map(|r| r.as_array().cloned().unwrap_or_default())
            .map(|b| {
                let contact =
                    if b["request_contact"].as_bool() == Some(true) { " (request_contact)" } else { "" };
                format!("[{}{contact}]", b["text"].as_str().unwrap_or(""))
            })
            .collect();
        format!("\n      reply keyboard: {}", labels.join(" "))
    } else if m["remove_keyboard"].as_bool() == Some(true) {
        "\n      (reply keyboard removed)".into()
    } else {
        String::new()
    }
}

fn describe_update(u: &Value) -> String {
    let id = u["update_id"].as_i64().unwrap_or_default();
    if let Some(m) = u.get("message") {
        let from = m["from"]["id"].as_i64().unwrap_or_default();
        if let Some(c) = m.get("contact") {
            return format!(
                "update {id}: user {from} shares contact {} (contact.user_id {})",
                c["phone_number"].as_str().unwrap_or(""),
                c["user_id"].as_i64().map_or("none".into(), |v| v.to_string())
            );
        }
        if let Some(t) = m["text"].as_str() {
            return format!("update {id}: user {from} writes {t:?}");
        }
        return format!("update {id}: user {from} sends a non-text message");
    }
    if let Some(q) = u.get("callback_query") {
        return format!(
            "update {id}: user {} taps {:?} on message {}",
            q["from"]["id"].as_i64().unwrap_or_default(),
            q["data"].as_str().unwrap_or(""),
            q["message"]["message_id"].as_i64().unwrap_or_default()
        );
    }
    if u.get("edited_message").is_some() {
        return format!("update {id}: an edited message");
    }
    format!("update {id}: {u}")
}

impl FakeBotApi {
    pub fn start(token: &str) -> FakeBotApi {
        let state = Arc::new(Mutex::new(State {
            next_update: 1,
            next_message: 500,
            next_user_message: 100,
            ..State::default()
        }));
        let s = state.clone();
        let prefix = format!("/tg/bot{token}/");
        let http = FakeHttp::start(move |req: &Recorded| {
            let Some(method) = req.path.strip_prefix(prefix.as_str()).map(|m| m.to_ascii_lowercase()) else {
                return Reply::Json(
                    404,
                    json!({ "ok": false, "error_code": 404, "description": "Not Found" }),
                );
            };
            let body = req.json();
            let mut st = s.lock().expect("lock");
            let (result, message_id) = match method.as_str() {
                "getupdates" => {
                    let offset = body["offset"].as_i64().unwrap_or(0);
                    st.offsets.push(offset);
                    let out: Vec<Value> = st
                        .updates
                        .iter()
                        .filter(|u| u["update_id"].as_i64().unwrap_or(0) >= offset)
                        .cloned()
                        .collect();
                    for u in &out {
                        let id = u["update_id"].as_i64().unwrap_or(0);
                        if id > st.shown {
                            st.shown = id;
                            let line = format!("→ {}", describe_update(u));
                            st.transcript.push(line);
                        }
                    }
                    (Value::Array(out), None)
                }
                "sendmessage" => {
                    let id = st.next_message;
                    st.next_message += 1;
                    let chat = body["chat_id"].as_i64().unwrap_or(0);
                    let text = body["text"].as_str().unwrap_or("");
                    let protect = if body["protect_content"].as_bool() == Some(true) {
                        " (protect_content)"
                    } else {
                        ""
                    };
                    let line =
                        format!("← sendMessage #{id} to {chat}{protect}: {text:?}{}", describe_markup(&body));
                    st.transcript.push(line);
                    (message(id, chat, text), Some(id))
                }
                "editmessagetext" => {
                    let id = body["message_id"].as_i64().unwrap_or(0);
                    let chat = body["chat_id"].as_i64().unwrap_or(0);
                    let text = body["text"].as_str().unwrap_or("");
                    let line =
                        format!("← editMessageText #{id} in {chat}: {text:?}{}", describe_markup(&body));
                    st.transcript.push(line);
                    (message(id, chat, text), Some(id))
                }
                "answercallbackquery" => {
                    if let Some(t) = body["text"].as_str() {
                        st.transcript.push(format!("← answerCallbackQuery: {t:?}"));
                    }
                    (json!(true), None)
                }
                "setmycommands" => {
                    let names: Vec<String> = body["commands"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                        .iter()
                        .map(|c| format!("/{}", c["command"].as_str().unwrap_or("")))
                        .collect();
                    st.transcript.push(format!("← setMyCommands: {}", names.join(" ")));
                    (json!(true), None)
                }
                "deletewebhook" | "setwebhook" => (json!(true), None),
                _ => {
                    return Reply::Json(
                        404,
                        json!({ "ok": false, "error_code": 404, "description": "Not Found: method not found" }),
                    );
                }
            };
            st.calls.push((method, body, message_id));
            Reply::Json(200, json!({ "ok": true, "result": result }))
        });
        FakeBotApi { http, state }
    }

    pub fn api_url(&self) -> String {
        self.http.url("/tg")
    }

    fn push(&self, make: impl FnOnce(i64, &mut State) -> Value) -> i64 {
        let mut st = self.state.lock().expect("lock");
        let id = st.next_update;
        st.next_update += 1;
        let u = make(id, &mut st);
        st.updates.push(u);
        id
    }

    fn user(id: i64) -> Value {
        json!({ "id": id, "is_bot": false, "first_name": format!("User{id}") })
    }

    /// The user writes `text` in their private chat with the bot.
    pub fn text(&self, user: i64, text: &str) -> i64 {
        self.push(|id, st| {
            st.next_user_message += 1;
            json!({ "update_id": id, "message": {
                "message_id": st.next_user_message, "date": 1_700_000_000, "from": Self::user(user),
                "chat": { "id": user, "type": "private", "first_name": "T" }, "text": text } })
        })
    }

    /// The user shares a contact (`owner`: its `user_id`, as Telegram sets it for their own).
    pub fn contact(&self, user: i64, owner: Option<i64>, phone: &str) -> i64 {
        self.push(|id, st| {
            st.next_user_message += 1;
            let mut contact = json!({ "phone_number": phone, "first_name": "T" });
            if let Some(o) = owner {
                contact["user_id"] = json!(o);
            }
            json!({ "update_id": id, "message": {
                "message_id": st.next_user_message, "date": 1_700_000_000, "from": Self::user(user),
                "chat": { "id": user, "type": "private", "first_name": "T" }, "contact": contact } })
        })
    }

    /// The user taps a button with `data` under the bot's message `message_id` in `chat`.
    pub fn tap_in(&self, user: i64, chat: i64, message_id: i64, data: &str) -> i64 {
        self.push(|id, st| {
            st.next_callback += 1;
            json!({ "update_id": id, "callback_query": {
                "id": format!("cq{}", st.next_callback), "from": Self::user(user), "chat_instance": "ci",
                "data": data, "message": message(message_id, chat, "…") } })
        })
    }

    pub fn tap(&self, user: i64, message_id: i64, data: &str) -> i64 {
        self.tap_in(user, user, message_id, data)
    }

    /// Any raw update (stickers, edited messages, what this bot does not read).
    pub fn raw(&self, make: impl FnOnce(i64) -> Value) -> i64 {
        self.push(|id, _| make(id))
    }

    pub fn offsets(&self) -> Vec<i64> {
        self.state.lock().expect("lock").offsets.clone()
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state
            .lock()
            .expect("lock")
            .calls
            .iter()
            .map(|(m, b, id)| Call { method: m.clone(), body: b.clone(), message_id: *id })
            .collect()
    }

    /// Messages sent or edited in a chat, in order.
    pub fn messages(&self, chat: i64) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| (c.method == "sendmessage" || c.method == "editmessagetext") && c.chat() == chat)
            .collect()
    }

    pub fn last(&self, chat: i64) -> Call {
        self.messages(chat).pop().expect("the bot wrote nothing to this chat")
    }

    /// The last message in `chat` with a button whose label contains `label`: its message id and
    /// the button's data.
    pub fn button(&self, chat: i64, label: &str) -> (i64, String) {
        for c in self.messages(chat).iter().rev() {
            if let Some((_, data)) = c.buttons().into_iter().find(|(l, _)| l.contains(label)) {
                return (c.message_id.expect("message id"), data);
            }
        }
        panic!("no button {label:?} in chat {chat}: {:#?}", self.messages(chat))
    }

    pub fn answers(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == "answercallbackquery")
            .map(|c| c.body["text"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    pub fn transcript(&self) -> String {
        self.state.lock().expect("lock").transcript.join("\n")
    }
}
