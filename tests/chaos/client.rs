//! An HTTP client of several API replicas, like a load balancer's health-checked pool: a
//! request that cannot reach one replica (refused, cut off mid-answer) or that it sheds
//! (429, 502, 503, 504) is sent again, unchanged, to the next one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

/// How long a request keeps being retried across replicas before the test gives up.
const RETRY_FOR: Duration = Duration::from_secs(120);

/// An answer: status and JSON body (`Null` when not JSON), and which replica gave it.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    /// Index of the replica that answered.
    pub api: usize,
    /// Sends it took (1 when the first replica answered).
    pub attempts: u32,
    /// Marked `Idempotent-Replayed: true`: the stored answer to an earlier send of the key.
    pub replayed: bool,
}

impl Answer {
    /// The body, asserting the status.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status, status, "unexpected answer: {}", self.body);
        self.body
    }
}

/// One request: what is sent again, byte for byte, on a retry.
pub struct Request<'a> {
    pub method: Method,
    pub path: String,
    pub token: Option<&'a str>,
    /// The JSON body, already serialised so that every retry carries the same bytes.
    pub body: Option<String>,
    pub idempotency_key: Option<&'a str>,
}

impl<'a> Request<'a> {
    pub fn get(path: impl Into<String>, token: &'a str) -> Self {
        Self {
            method: Method::GET,
            path: path.into(),
            token: Some(token),
            body: None,
            idempotency_key: None,
        }
    }

    pub fn with_body(
        method: Method,
        path: impl Into<String>,
        token: Option<&'a str>,
        body: &Value,
    ) -> Self {
        Self {
            method,
            path: path.into(),
            token,
            body: Some(body.to_string()),
            idempotency_key: None,
        }
    }
}

/// The API replicas.
pub struct Apis {
    bases: Vec<String>,
    http: reqwest::Client,
    /// Requests with an `Idempotency-Key` (ticket creates) being answered, per replica.
    keyed_in_flight: Vec<AtomicUsize>,
    /// Sends that failed on one replica and went to another.
    pub failovers: AtomicUsize,
    /// Of those, sends that carried an `Idempotency-Key`.
    pub keyed_failovers: AtomicUsize,
}

impl Apis {
    pub fn new(bases: Vec<String>) -> Self {
        let keyed_in_flight = bases.iter().map(|_| AtomicUsize::new(0)).collect();
        Self {
            bases,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .connect_timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
            keyed_in_flight,
            failovers: AtomicUsize::new(0),
            keyed_failovers: AtomicUsize::new(0),
        }
    }

    /// Requests with an `Idempotency-Key` being answered by replica `api` right now.
    pub fn keyed_in_flight(&self, api: usize) -> usize {
        self.keyed_in_flight[api].load(Ordering::SeqCst)
    }

    /// Sends `request` to replica `prefer`, then to the others in turn while the answer is a
    /// transport failure or a shed (429, 502, 503, 504).
    pub async fn send(&self, prefer: usize, request: &Request<'_>) -> Answer {
        let until = Instant::now() + RETRY_FOR;
        let mut attempts = 0u32;
        let mut api = prefer % self.bases.len();
        loop {
            attempts += 1;
            let last_failure = match self.once(api, request).await {
                Ok((status, body, replayed)) if !matches!(status, 429 | 502 | 503 | 504) => {
                    return Answer {
                        status,
                        body,
                        api,
                        attempts,
                        replayed,
                    };
                }
                Ok((status, body, _)) => format!("{status} {body}"),
                Err(e) => format!("{e:?}"),
            };
            assert!(
                Instant::now() < until,
                "{} {} found no replica to answer within {RETRY_FOR:?}; last failure: {last_failure}",
                request.method,
                request.path
            );
            self.failovers.fetch_add(1, Ordering::SeqCst);
            if request.idempotency_key.is_some() {
                self.keyed_failovers.fetch_add(1, Ordering::SeqCst);
            }
            api = (api + 1) % self.bases.len();
            // Every replica tried once: give them a moment before the next round.
            if attempts.is_multiple_of(self.bases.len() as u32) {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    async fn once(
        &self,
        api: usize,
        request: &Request<'_>,
    ) -> Result<(u16, Value, bool), reqwest::Error> {
        let url = format!("{}{}", self.bases[api], request.path);
        let mut builder = self.http.request(request.method.clone(), url);
        if let Some(token) = request.token {
            builder = builder.bearer_auth(token);
        }
        if let Some(key) = request.idempotency_key {
            builder = builder.header("Idempotency-Key", key);
        }
        if let Some(body) = &request.body {
            builder = builder
                .header("content-type", "application/json")
                .body(body.clone());
        }
        let keyed = request.idempotency_key.is_some();
        if keyed {
            self.keyed_in_flight[api].fetch_add(1, Ordering::SeqCst);
        }
        let result = async {
            let res = builder.send().await?;
            let status = res.status().as_u16();
            let replayed = res
                .headers()
                .get("idempotent-replayed")
                .is_some_and(|v| v == "true");
            let text = res.text().await?;
            Ok((
                status,
                serde_json::from_str(&text).unwrap_or(Value::Null),
                replayed,
            ))
        }
        .await;
        if keyed {
            self.keyed_in_flight[api].fetch_sub(1, Ordering::SeqCst);
        }
        result
    }

    /// Signs in; returns the token and the user id.
    pub async fn login(&self, email: &str, password: &str) -> (String, String) {
        let body = serde_json::json!({"email": email, "password": password});
        let session = self
            .send(
                0,
                &Request::with_body(Method::POST, "/api/auth/login", None, &body),
            )
            .await
            .expect(200);
        (
            session["token"].as_str().unwrap().to_owned(),
            session["user"]["id"].as_str().unwrap().to_owned(),
        )
    }
}
