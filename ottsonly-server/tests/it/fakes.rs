//! Loopback fakes of the outside HTTP APIs the server calls: the Telegram Bot API and the SMS
//! providers (Twilio, MSG91). Each is a small HTTP/1.1 server on 127.0.0.1 with its own thread
//! and runtime (so it answers even while the test thread is blocked), records every request and
//! answers as scripted: a default answer, or queued special ones (429, 500, a hang) for requests
//! whose body contains a given text.
//!
//! Only tokio and serde_json are used, so the workspace's end-to-end test includes this file too.

#![allow(dead_code)]

use serde_json::{Value, json};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Longest request accepted (headers and body).
const MAX_REQUEST: usize = 1 << 20;
/// How long a hanging answer holds the connection (the client under test times out first).
const HANG: Duration = Duration::from_secs(30);

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
    /// The status answered; `None` for a hang.
    pub status: Option<u16>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The body as `application/x-www-form-urlencoded` fields.
    pub fn form(&self) -> Vec<(String, String)> {
        self.text()
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (url_decode(k), url_decode(v))
            })
            .collect()
    }

    pub fn form_field(&self, name: &str) -> Option<String> {
        self.form().into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex =
                    std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Status and JSON body.
    Json(u16, Value),
    /// Holds the connection without answering.
    Hang,
}

type Responder = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

struct Shared {
    requests: Vec<Recorded>,
    /// (body must contain this text, answer): the first match is used once, in order.
    script: VecDeque<(String, Reply)>,
}

/// A recording HTTP server on a loopback port. Stops when dropped.
pub struct FakeHttp {
    pub addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl FakeHttp {
    /// Starts a server answering with `responder` unless a scripted reply matches.
    pub fn start(responder: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> FakeHttp {
        let responder: Responder = Arc::new(responder);
        let shared = Arc::new(Mutex::new(Shared { requests: Vec::new(), script: VecDeque::new() }));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let state = shared.clone();
        std::thread::spawn(move || {
            let rt =
                tokio::runtime::Builder::new_current_thread().enable_all().build().expect("fake runtime");
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
                addr_tx.send(listener.local_addr().expect("addr")).expect("report addr");
                loop {
                    tokio::select! {
                        _ = &mut stop_rx => break,
                        accepted = listener.accept() => {
                            let Ok((conn, _)) = accepted else { continue };
                            tokio::spawn(serve(conn, state.clone(), responder.clone()));
                        }
                    }
                }
            });
        });
        let addr = addr_rx.recv_timeout(Duration::from_secs(10)).expect("fake server did not start");
        FakeHttp { addr, shared, stop: Some(stop_tx) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().expect("lock").requests.clone()
    }

    /// The next request whose body contains `matching` ("" for any) gets `reply` instead of the
    /// default answer. Queued replies are used in order.
    pub fn script(&self, matching: &str, reply: Reply) {
        self.shared.lock().expect("lock").script.push_back((matching.to_string(), reply));
    }

    /// Scripted replies not used yet.
    pub fn script_left(&self) -> usize {
        self.shared.lock().expect("lock").script.len()
    }
}

impl Drop for FakeHttp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn serve(mut conn: TcpStream, shared: Arc<Mutex<Shared>>, responder: Responder) {
    // One request per connection (`Connection: close`).
    let Some(mut req) = read_request(&mut conn).await else { return };
    let reply = {
        let mut s = shared.lock().expect("lock");
        let body = req.text();
        let scripted = s.script.iter().position(|(m, _)| body.contains(m.as_str()));
        let reply = match scripted.and_then(|i| s.script.remove(i)) {
            Some((_, r)) => r,
            None => responder(&req),
        };
        req.status = match &reply {
            Reply::Json(status, _) => Some(*status),
            Reply::Hang => None,
        };
        s.requests.push(req);
        reply
    };
    match reply {
        Reply::Hang => tokio::time::sleep(HANG).await,
        Reply::Json(status, body) => {
            let body = body.to_string();
            let head = format!(
                "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                if status < 400 { "OK" } else { "Error" },
                body.len()
            );
            let _ = conn.write_all(head.as_bytes()).await;
            let _ = conn.write_all(body.as_bytes()).await;
            let _ = conn.shutdown().await;
        }
    }
}

async fn read_request(conn: &mut TcpStream) -> Option<Recorded> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_REQUEST {
            return None;
        }
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize =
        headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len.min(MAX_REQUEST) {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Recorded { method, path, headers, body, at: Instant::now(), status: None })
}

/// Waits (bounded, polling) until `done` holds for what `get` returns; returns the last value.
pub async fn wait_until<T>(timeout: Duration, mut get: impl FnMut() -> T, done: impl Fn(&T) -> bool) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        let v = get();
        if done(&v) || Instant::now() >= deadline {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------- Telegram Bot API ----------

/// A `sendMessage` the fake Bot API accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub chat_id: i64,
    pub text: String,
}

/// A fake Bot API at `{url}/tg`. Accepts `sendMessage` (any letter case, as teloxide writes
/// `SendMessage`) for its token; answers 404 to anything else, like Telegram.
pub struct FakeTelegram {
    pub http: FakeHttp,
    pub token: String,
}

impl FakeTelegram {
    pub fn start(token: &str) -> FakeTelegram {
        let prefix = format!("/tg/bot{token}/");
        let http = FakeHttp::start(move |req| {
            let ok_path = req.method == "POST"
                && req
                    .path
                    .strip_prefix(prefix.as_str())
                    .is_some_and(|m| m.eq_ignore_ascii_case("sendMessage"));
            let body = req.json();
            match (ok_path, body["chat_id"].as_i64(), body["text"].as_str()) {
                (true, Some(chat), Some(text)) => Reply::Json(
                    200,
                    json!({ "ok": true, "result": {
                        "message_id": 1, "date": 1_700_000_000,
                        "chat": { "id": chat, "type": if chat < 0 { "group" } else { "private" }, "first_name": "Admin", "title": "Admins" },
                        "text": text,
                    }}),
                ),
                (true, _, _) => Reply::Json(
                    400,
                    json!({ "ok": false, "error_code": 400, "description": "Bad Request: message text is empty" }),
                ),
                _ => Reply::Json(404, json!({ "ok": false, "error_code": 404, "description": "Not Found" })),
            }
        });
        FakeTelegram { http, token: token.to_string() }
    }

    /// The base URL to configure (`OTTSONLY_TELEGRAM_API_URL`).
    pub fn api_url(&self) -> String {
        self.http.url("/tg")
    }

    /// Every `sendMessage` that was accepted (answered 200), in order.
    pub fn messages(&self) -> Vec<Sent> {
        self.http
            .requests()
            .iter()
            .filter(|r| r.status == Some(200))
            .filter_map(|r| {
                let b = r.json();
                Some(Sent { chat_id: b["chat_id"].as_i64()?, text: b["text"].as_str()?.to_string() })
            })
            .collect()
    }

    /// Answers 429 with `retry_after` to the next request whose body contains `matching`.
    pub fn rate_limit_next(&self, matching: &str, retry_after_s: u64) {
        self.http.script(
            matching,
            Reply::Json(
                429,
                json!({ "ok": false, "error_code": 429,
                        "description": format!("Too Many Requests: retry after {retry_after_s}"),
                        "parameters": { "retry_after": retry_after_s } }),
            ),
        );
    }

    /// Answers 500 to the next request whose body contains `matching`.
    pub fn fail_next(&self, matching: &str) {
        self.http.script(
            matching,
            Reply::Json(
                500,
                json!({ "ok": false, "error_code": 500, "description": "Internal Server Error" }),
            ),
        );
    }

    /// Answers a chat-specific 400 to the next request whose body contains `matching`.
    pub fn reject_next(&self, matching: &str) {
        self.http.script(
            matching,
            Reply::Json(
                400,
                json!({ "ok": false, "error_code": 400, "description": "Bad Request: chat not found" }),
            ),
        );
    }

    /// Never answers the next request whose body contains `matching`.
    pub fn hang_next(&self, matching: &str) {
        self.http.script(matching, Reply::Hang);
    }

    /// Every request received, accepted or not.
    pub fn attempts(&self) -> usize {
        self.http.requests().len()
    }

    /// Waits (bounded) for accepted messages that satisfy `done`.
    pub async fn wait_for(&self, timeout: Duration, done: impl Fn(&[Sent]) -> bool) -> Vec<Sent> {
        wait_until(timeout, || self.messages(), |m| done(m)).await
    }
}

// ---------- SMS providers ----------

/// A fake SMS provider: Twilio's Messages API (`/2010-04-01/Accounts/{sid}/Messages.json`) and
/// MSG91's Flow API (`/api/v5/flow/`), each answered like the real one on success.
pub struct FakeSms {
    pub http: FakeHttp,
}

impl FakeSms {
    pub fn start() -> FakeSms {
        let http = FakeHttp::start(|req| {
            if req.path.ends_with("/Messages.json") {
                Reply::Json(
                    201,
                    json!({ "sid": "SM0123456789", "status": "queued", "to": req.form_field("To"), "body": req.form_field("Body") }),
                )
            } else if req.path.starts_with("/api/v5/flow") {
                Reply::Json(200, json!({ "type": "success", "message": "3763646c3058373530393938" }))
            } else {
                Reply::Json(
                    404,
                    json!({ "code": 20404, "message": "The requested resource was not found", "status": 404 }),
                )
            }
        });
        FakeSms { http }
    }

    pub fn base_url(&self) -> String {
        self.http.url("")
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.http.requests()
    }
}
