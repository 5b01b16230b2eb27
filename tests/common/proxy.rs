//! A TCP forwarder on a fixed local port that can be started later: until then, connections to
//! the port are refused, exactly like a service that is down.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A port reserved now and forwarded to `target` once [`Proxy::start`] is called.
pub struct Proxy {
    addr: SocketAddr,
    target: SocketAddr,
    task: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Reserves a free port (and releases it, so connecting is refused until `start`).
    pub fn reserve(target: SocketAddr) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let addr = listener.local_addr().unwrap();
        drop(listener);
        Self {
            addr,
            target,
            task: None,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Starts forwarding.
    pub async fn start(&mut self) {
        let listener = TcpListener::bind(self.addr)
            .await
            .expect("bind the reserved port");
        let target = self.target;
        self.task = Some(tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Resolves `http://host:port` to a socket address.
pub fn socket_addr(url: &str) -> SocketAddr {
    let hostport = url.trim_start_matches("http://").trim_end_matches('/');
    std::net::ToSocketAddrs::to_socket_addrs(hostport)
        .expect("resolve endpoint")
        .next()
        .expect("endpoint has an address")
}
