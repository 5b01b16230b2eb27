//! Typed requests against a [`TestApp`]: the verbs with an optional bearer token, signing in
//! as the demo accounts, opening and assigning tickets, and the [`Reply`] they answer with its
//! assertions.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{PASSWORD, TestApp};

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: String,
    pub id: String,
}

/// A response: status and JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    /// The `error.code` of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// The `error.details.field` of an error body.
    pub fn field(&self) -> &str {
        self.body["error"]["details"]["field"]
            .as_str()
            .unwrap_or("")
    }

    /// Asserts an error answer: the status, the JSON error code, and a message.
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Self {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.code(), code, "body: {}", self.body);
        assert!(
            self.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "an error carries a message: {}",
            self.body
        );
        self
    }

    /// Asserts the status, printing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let res = req.send().await.expect("request failed");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        Reply {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            headers,
        }
    }

    fn with_token(req: reqwest::RequestBuilder, token: Option<&str>) -> reqwest::RequestBuilder {
        match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    /// The body of `GET path` as text, whatever its type.
    pub async fn text(&self, path: &str) -> String {
        let res = self.client.get(self.url(path)).send().await.expect("GET");
        res.text().await.expect("a text body")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(Self::with_token(self.client.get(self.url(path)), token))
            .await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Self::with_token(
            self.client.post(self.url(path)).json(&body),
            token,
        ))
        .await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Self::with_token(
            self.client.patch(self.url(path)).json(&body),
            token,
        ))
        .await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Self::with_token(
            self.client.put(self.url(path)).json(&body),
            token,
        ))
        .await
    }

    /// Signs in as `email` with the demo password.
    pub async fn login(&self, email: &str) -> Session {
        let reply = self
            .post(
                "/api/auth/login",
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await
            .expect(200);
        Session {
            token: reply.body["token"].as_str().unwrap().to_owned(),
            id: reply.body["user"]["id"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn admin(&self) -> Session {
        self.login("admin@quickfix.dev").await
    }

    pub async fn customer(&self, n: u8) -> Session {
        self.login(&format!("customer{n}@quickfix.dev")).await
    }

    /// Demo agent `n` (1: Technical+Account, 2: Billing+General, 3: all, senior).
    pub async fn agent(&self, n: u8) -> Session {
        self.login(&format!("agent{n}@quickfix.dev")).await
    }

    /// Opens a ticket as `session` and returns its JSON.
    pub async fn open_ticket(&self, session: &Session, title: &str, category: &str) -> Value {
        self.post(
            "/api/complaints",
            Some(&session.token),
            json!({"title": title, "description": "Something is wrong", "category": category}),
        )
        .await
        .expect(201)
        .body
    }

    /// Assigns a ticket to an agent as admin.
    pub async fn assign(&self, admin: &Session, ticket_id: &str, agent_id: &str) -> Reply {
        self.post(
            &format!("/api/complaints/{ticket_id}/assign"),
            Some(&admin.token),
            json!({"agentId": agent_id}),
        )
        .await
    }
}

/// Asserts `reply` is an error of `status` with `code` and a message.
pub fn assert_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status.as_u16(), status, "body: {}", reply.body);
    assert_eq!(reply.code(), code, "body: {}", reply.body);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}
