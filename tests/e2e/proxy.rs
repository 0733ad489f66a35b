//! A fault-injecting HTTP/1.1 proxy between the real SDK clients and moto (tokio TCP, one
//! request per connection). It names each request's AWS operation (S3 by method and
//! sub-resource, KMS by `X-Amz-Target`), counts the calls per operation, and applies the first
//! matching rule: an AWS error response (S3 XML or KMS JSON), a delay past the client's attempt
//! timeout, a connection closed before any response, a response cut off mid-body, or an action
//! run against moto right before (or right after) forwarding — the concurrent writer. Every
//! request is logged (operation, call number, fault, timestamps), so tests count the retries
//! the SDK really made.
//!
//! Responses always carry `Connection: close`, so the client never reuses a connection the
//! proxy is about to close: every retry the log shows is one the SDK decided to make.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// An async action run by the proxy (once).
pub type Action = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// What to do to a matching request.
pub enum Fault {
    /// Answer with this S3 error (XML body), without forwarding.
    S3Error { status: u16, code: &'static str },
    /// Answer with this KMS error (`x-amz-json-1.1` body with `__type`), without forwarding.
    KmsError { status: u16, code: &'static str },
    /// Answer with a bare status and an empty body (a load balancer's 429 / 503).
    Status(u16),
    /// Hold the request this long, then close without answering (longer than the client's
    /// attempt timeout: the client gives up first).
    Delay(Duration),
    /// Close the connection before sending anything (request not forwarded).
    Reset,
    /// Forward the request (moto applies it), then send the status line, the headers and half
    /// the body, and close: the client never sees a complete response.
    CutResponse,
    /// Run the action against moto, then forward the request.
    Before(Mutex<Option<Action>>),
    /// Forward the request, then run the action before answering.
    After(Mutex<Option<Action>>),
    /// Forward the request and answer with moto's response body rewritten (a field moto
    /// drops, a per-entry failure moto never reports).
    Rewrite(Rewriter),
}

/// Rewrites a response body (the request body is given too).
pub type Rewriter = Box<dyn Fn(&str, &str) -> String + Send + Sync>;

impl Fault {
    pub fn before(a: Action) -> Fault {
        Fault::Before(Mutex::new(Some(a)))
    }

    pub fn after(a: Action) -> Fault {
        Fault::After(Mutex::new(Some(a)))
    }

    fn name(&self) -> String {
        match self {
            Fault::S3Error { status, code } | Fault::KmsError { status, code } => {
                format!("{status} {code}")
            }
            Fault::Status(s) => format!("{s}"),
            Fault::Delay(d) => format!("delay {d:?}"),
            Fault::Reset => "reset".into(),
            Fault::CutResponse => "cut response".into(),
            Fault::Before(_) => "action before".into(),
            Fault::After(_) => "action after".into(),
            Fault::Rewrite(_) => "rewritten response".into(),
        }
    }
}

/// Applies `fault` to calls `first..=last` (1-based, counted per operation) of `operation`
/// (`s3:GetBucketPolicy`, `kms:PutKeyPolicy`, …).
pub struct Rule {
    pub operation: &'static str,
    pub first: usize,
    pub last: usize,
    pub fault: Fault,
}

impl Rule {
    /// The first `n` calls.
    pub fn times(operation: &'static str, n: usize, fault: Fault) -> Rule {
        Rule {
            operation,
            first: 1,
            last: n,
            fault,
        }
    }

    /// Every call.
    pub fn always(operation: &'static str, fault: Fault) -> Rule {
        Rule::times(operation, usize::MAX, fault)
    }

    /// Only call number `n`.
    pub fn nth(operation: &'static str, n: usize, fault: Fault) -> Rule {
        Rule {
            operation,
            first: n,
            last: n,
            fault,
        }
    }
}

/// One request the proxy saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub operation: String,
    /// 1-based, per operation.
    pub call: usize,
    /// The fault applied, if any.
    pub fault: Option<String>,
    /// Whether the request reached moto (known once the proxy is done with it).
    pub forwarded: bool,
    pub received: Instant,
    /// When the proxy finished answering (or gave up on) the request.
    pub done: Instant,
    /// The request body as sent by the SDK.
    pub body: String,
}

#[derive(Default)]
struct State {
    rules: Vec<Arc<Rule>>,
    /// Calls received so far per operation: numbers are taken on receipt, so concurrent
    /// requests for one operation get distinct numbers.
    counters: HashMap<String, usize>,
    seen: Vec<Seen>,
}

pub struct Proxy {
    pub url: String,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream` (moto's `http://host:port`).
    pub async fn start(upstream: &str) -> Proxy {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("upstream host:port");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let _ = serve(conn, upstream, state).await;
                });
            }
        });
        Proxy { url, state, task }
    }

    /// Replaces the rules and clears the log.
    pub fn set(&self, rules: Vec<Rule>) {
        let mut s = self.state.lock().expect("proxy state");
        s.rules = rules.into_iter().map(Arc::new).collect();
        s.counters.clear();
        s.seen.clear();
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().expect("proxy state").seen.clone()
    }

    /// How many requests for `operation` the proxy received (first attempts and retries).
    pub fn calls(&self, operation: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.operation == operation)
            .count()
    }

    /// How many requests for `operation` reached moto.
    pub fn forwarded(&self, operation: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.operation == operation && s.forwarded)
            .count()
    }

    /// Requests that reached moto and write something.
    pub fn writes_forwarded(&self) -> Vec<String> {
        self.seen()
            .iter()
            .filter(|s| s.forwarded && is_write(&s.operation))
            .map(|s| s.operation.clone())
            .collect()
    }
}

pub fn is_write(operation: &str) -> bool {
    let verb = operation.split(':').nth(1).unwrap_or_default();
    !(verb.starts_with("Get") || verb.starts_with("Describe") || verb.starts_with("List"))
}

/// A request as read off the wire.
struct Request {
    head: String,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// `s3:GetBucketPolicy`, `kms:DescribeKey`, `sns:Publish`, `events:PutEvents`,
    /// `securityhub:BatchImportFindings`, … (`?:METHOD path` when unknown).
    fn operation(&self) -> String {
        if let Some(target) = self.header("x-amz-target") {
            let op = target.rsplit('.').next().unwrap_or(target);
            let service = if target.starts_with("AWSEvents") {
                "events"
            } else {
                "kms"
            };
            return format!("{service}:{op}");
        }
        let mut first = self.head.lines().next().unwrap_or_default().split(' ');
        let method = first.next().unwrap_or_default();
        let target = first.next().unwrap_or_default();
        let body = String::from_utf8_lossy(&self.body);
        // Query protocol (SNS, STS): the action is in the form body.
        if let Some(action) = body
            .split('&')
            .find_map(|p| p.strip_prefix("Action="))
            .filter(|_| method == "POST")
        {
            let service = if ["Publish", "CreateTopic", "ListTopics"].contains(&action) {
                "sns"
            } else {
                "sts"
            };
            return format!("{service}:{action}");
        }
        let path = target.split('?').next().unwrap_or_default();
        match (method, path) {
            ("POST", "/findings/import") => return "securityhub:BatchImportFindings".into(),
            ("POST", "/findings") => return "securityhub:GetFindings".into(),
            _ => {}
        }
        let query = target.split_once('?').map(|(_, q)| q).unwrap_or_default();
        let sub = query
            .split('&')
            .map(|p| p.split('=').next().unwrap_or_default())
            .find(|k| ["policy", "encryption", "acl", "tagging"].contains(k));
        let op = match (method, sub) {
            ("GET", Some("policy")) => "GetBucketPolicy",
            ("PUT", Some("policy")) => "PutBucketPolicy",
            ("GET", Some("encryption")) => "GetBucketEncryption",
            ("PUT", Some("encryption")) => "PutBucketEncryption",
            ("GET", Some("acl")) => "GetBucketAcl",
            ("GET", Some("tagging")) => "GetBucketTagging",
            _ => return format!("?:{method} {target}"),
        };
        format!("s3:{op}")
    }
}

async fn read_request(conn: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut req = Request {
        head,
        body: buf[head_end..].to_vec(),
    };
    assert!(
        req.header("transfer-encoding").is_none(),
        "the proxy reads Content-Length bodies only: {}",
        req.head
    );
    let len: usize = req
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while req.body.len() < len {
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        req.body.extend_from_slice(&chunk[..n]);
    }
    Ok(Some(req))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The request with `Connection: close` (so moto ends its response with EOF).
fn upstream_bytes(req: &Request) -> Vec<u8> {
    let mut head: Vec<&str> = req
        .head
        .trim_end()
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    head.push("Connection: close");
    let mut out = format!("{}\r\n\r\n", head.join("\r\n")).into_bytes();
    out.extend_from_slice(&req.body);
    out
}

/// Sends the request to moto and returns its response, re-framed: the body with an exact
/// `Content-Length` and `Connection: close`.
async fn forward(req: &Request, upstream: SocketAddr) -> std::io::Result<(String, Vec<u8>)> {
    let mut up = TcpStream::connect(upstream).await?;
    up.write_all(&upstream_bytes(req)).await?;
    let mut raw = Vec::new();
    up.read_to_end(&mut raw).await?;
    let end = find(&raw, b"\r\n\r\n").map(|i| i + 4).unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let mut body = raw[end..].to_vec();
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    let mut lines: Vec<String> = head
        .trim_end()
        .lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            !(l.starts_with("connection:")
                || l.starts_with("content-length:")
                || l.starts_with("transfer-encoding:"))
        })
        .map(str::to_string)
        .collect();
    lines.push(format!("Content-Length: {}", body.len()));
    lines.push("Connection: close".into());
    Ok((format!("{}\r\n\r\n", lines.join("\r\n")), body))
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = find(b, b"\r\n") {
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&b[..i])
                .split(';')
                .next()
                .unwrap_or("0")
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = i + 2;
        let end = (start + size).min(b.len());
        out.extend_from_slice(&b[start..end]);
        b = &b[(end + 2).min(b.len())..];
    }
    out
}

fn error_response(status: u16, content_type: &str, body: &str) -> Vec<u8> {
    let reason = match status {
        400 => "Bad Request",
        403 => "Forbidden",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nx-amz-request-id: PROXY\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn serve(
    mut conn: TcpStream,
    upstream: SocketAddr,
    state: Arc<Mutex<State>>,
) -> std::io::Result<()> {
    let Some(req) = read_request(&mut conn).await? else {
        return Ok(());
    };
    let received = Instant::now();
    let operation = req.operation();
    let (call, rule) = {
        let mut s = state.lock().expect("proxy state");
        let n = s.counters.entry(operation.clone()).or_insert(0);
        *n += 1;
        let call = *n;
        let rule = s
            .rules
            .iter()
            .find(|r| r.operation == operation && (r.first..=r.last).contains(&call))
            .cloned();
        (call, rule)
    };
    // Logged on receipt: a request the client gave up on (timeout) counts at once.
    {
        let mut s = state.lock().expect("proxy state");
        s.seen.push(Seen {
            operation: operation.clone(),
            call,
            fault: rule.as_ref().map(|r| r.fault.name()),
            forwarded: false,
            received,
            done: received,
            body: String::from_utf8_lossy(&req.body).to_string(),
        });
    }
    let record = |forwarded: bool| {
        let mut s = state.lock().expect("proxy state");
        if let Some(seen) = s
            .seen
            .iter_mut()
            .find(|x| x.operation == operation && x.call == call)
        {
            seen.forwarded = forwarded;
            seen.done = Instant::now();
        }
    };
    let fault = rule.as_ref().map(|r| &r.fault);
    let result = match fault {
        Some(Fault::S3Error { status, code }) => {
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>injected by the proxy</Message><RequestId>PROXY</RequestId></Error>"
            );
            conn.write_all(&error_response(*status, "application/xml", &body))
                .await
                .map(|_| false)
        }
        Some(Fault::KmsError { status, code }) => {
            let body = format!("{{\"__type\":\"{code}\",\"message\":\"injected by the proxy\"}}");
            conn.write_all(&error_response(
                *status,
                "application/x-amz-json-1.1",
                &body,
            ))
            .await
            .map(|_| false)
        }
        Some(Fault::Status(status)) => conn
            .write_all(&error_response(*status, "text/plain", ""))
            .await
            .map(|_| false),
        Some(Fault::Delay(d)) => {
            tokio::time::sleep(*d).await;
            Ok(false)
        }
        Some(Fault::Reset) => Ok(false),
        Some(Fault::CutResponse) => match forward(&req, upstream).await {
            Ok((head, body)) => {
                let mut out = head.into_bytes();
                // Never the whole body: at least one byte short of the announced length.
                out.extend_from_slice(&body[..body.len() / 2]);
                conn.write_all(&out).await.map(|_| true)
            }
            Err(e) => Err(e),
        },
        Some(Fault::Before(action)) => {
            let a = action.lock().ok().and_then(|mut a| a.take());
            if let Some(a) = a {
                a().await;
            }
            relay(&mut conn, &req, upstream, None).await
        }
        Some(Fault::After(action)) => {
            let a = action.lock().ok().and_then(|mut a| a.take());
            relay(&mut conn, &req, upstream, a).await
        }
        Some(Fault::Rewrite(rewrite)) => match forward(&req, upstream).await {
            Ok((head, body)) => {
                let new = rewrite(
                    &String::from_utf8_lossy(&req.body),
                    &String::from_utf8_lossy(&body),
                );
                let head: Vec<String> = head
                    .trim_end()
                    .lines()
                    .filter(|l| !l.to_ascii_lowercase().starts_with("content-length:"))
                    .map(str::to_string)
                    .chain([format!("Content-Length: {}", new.len())])
                    .collect();
                let mut out = format!("{}\r\n\r\n", head.join("\r\n")).into_bytes();
                out.extend_from_slice(new.as_bytes());
                conn.write_all(&out).await.map(|_| true)
            }
            Err(e) => Err(e),
        },
        None => relay(&mut conn, &req, upstream, None).await,
    };
    record(*result.as_ref().unwrap_or(&false));
    // Dropping the stream closes it (a reset / cut / timed-out request ends here).
    let _ = conn.shutdown().await;
    result.map(|_| ())
}

/// Forwards and answers; runs `after` between moto's answer and ours. True: forwarded.
async fn relay(
    conn: &mut TcpStream,
    req: &Request,
    upstream: SocketAddr,
    after: Option<Action>,
) -> std::io::Result<bool> {
    let (head, body) = forward(req, upstream).await?;
    if let Some(a) = after {
        a().await;
    }
    let mut out = head.into_bytes();
    out.extend_from_slice(&body);
    conn.write_all(&out).await?;
    Ok(true)
}
