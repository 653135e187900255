//! The HTTP cache layer behind a real server on a loopback port, asked by a
//! real HTTP/1.1 client (hyper) over one kept-alive connection: what goes
//! over the wire is what the oneshot tests check.
#![cfg(feature = "http")]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use memocache::http::HttpCache;
use tokio::net::{TcpListener, TcpStream};

struct Client {
    sender: SendRequest<Empty<Bytes>>,
    host: String,
}

impl Client {
    /// Serves `app` on 127.0.0.1 on a free port and connects to it.
    async fn serving(app: Router) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let stream = TcpStream::connect(address).await.unwrap();
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        Self {
            sender,
            host: address.to_string(),
        }
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, Bytes) {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.sender.ready().await.unwrap();
        let response = self
            .sender
            .send_request(request.body(Empty::new()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, body)
    }
}

#[tokio::test]
async fn over_the_wire_a_miss_a_hit_a_304_and_a_head() {
    let cache = HttpCache::builder("test:http:wire")
        .ttl(Duration::from_secs(300))
        .build();
    let runs = Arc::new(AtomicUsize::new(0));
    let app = {
        let runs = runs.clone();
        Router::new().route(
            "/weather/{city}",
            get(move |Path(city): Path<String>| async move {
                runs.fetch_add(1, SeqCst);
                (
                    [("content-type", "application/json")],
                    format!("{{\"city\":\"{city}\",\"sky\":\"clear\"}}"),
                )
            })
            .route_layer(cache.clone()),
        )
    };
    let mut client = Client::serving(app).await;

    let (status, miss, body) = client.send(Method::GET, "/weather/paris", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(miss["x-cache"], "MISS");
    assert_eq!(body, "{\"city\":\"paris\",\"sky\":\"clear\"}");
    assert_eq!(miss["content-length"], body.len().to_string().as_str());
    assert!(miss.contains_key("date"), "the server's own Date");

    let (_, hit, body_again) = client.send(Method::GET, "/weather/paris", &[]).await;
    assert_eq!(hit["x-cache"], "HIT");
    assert_eq!(body_again, body);
    assert_eq!(hit["etag"], miss["etag"]);
    assert_eq!(hit["cache-control"], "max-age=300");
    assert_eq!(hit["content-type"], "application/json");
    assert!(hit.contains_key("age"));
    assert_eq!(
        hit.get_all("date").iter().count(),
        1,
        "no stored Date next to the server's"
    );

    let etag = miss["etag"].to_str().unwrap().to_owned();
    let (status, not_modified, empty) = client
        .send(Method::GET, "/weather/paris", &[("if-none-match", &etag)])
        .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(empty.is_empty());
    assert_eq!(not_modified["etag"], etag.as_str());
    assert_eq!(not_modified["x-cache"], "HIT");

    let (status, head, empty) = client.send(Method::HEAD, "/weather/paris", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(head["x-cache"], "HIT");
    assert_eq!(head["content-length"], body.len().to_string().as_str());
    assert!(empty.is_empty());

    let (_, bypass, _) = client
        .send(
            Method::GET,
            "/weather/paris",
            &[("cache-control", "no-store")],
        )
        .await;
    assert_eq!(bypass["x-cache"], "BYPASS");
    assert_eq!(
        runs.load(SeqCst),
        2,
        "the bypass ran the handler; nothing else did"
    );
}
