//! Tests of the Redis test harness (`tests/common/redis_server.rs`) itself: the
//! throwaway servers it starts answer, die, come back, freeze, check passwords
//! and ACLs and speak TLS the way the Redis suites will rely on.

#[path = "common/redis_server.rs"]
mod redis_server;

use std::collections::HashSet;
use std::io::ErrorKind as IoErrorKind;
use std::net::TcpStream;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisResult};

use redis_server::{AclUser, RedisServer, HOST};

/// How long a request to a paused server waits before the client gives up.
const SHORT_RESPONSE_TIMEOUT: Duration = Duration::from_millis(200);

/// Bounds every connection attempt and request, so a broken server fails a test
/// instead of hanging it.
fn bounded_config(response_timeout: Duration) -> AsyncConnectionConfig {
    AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_response_timeout(Some(response_timeout))
}

/// Opens a multiplexed connection with bounded waits.
async fn try_connect(client: &Client) -> RedisResult<MultiplexedConnection> {
    client
        .get_multiplexed_async_connection_with_config(&bounded_config(Duration::from_secs(5)))
        .await
}

/// Opens a multiplexed connection with bounded waits, or panics.
async fn connect(client: &Client) -> MultiplexedConnection {
    try_connect(client)
        .await
        .unwrap_or_else(|err| panic!("cannot connect to {:?}: {err}", client))
}

/// `PING`s over `connection`.
async fn ping(connection: &mut MultiplexedConnection) -> RedisResult<String> {
    redis::cmd("PING").query_async(connection).await
}

/// `SET key value`.
async fn set(connection: &mut MultiplexedConnection, key: &str, value: &str) -> RedisResult<()> {
    redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query_async(connection)
        .await
}

/// `GET key`.
async fn get(connection: &mut MultiplexedConnection, key: &str) -> RedisResult<Option<String>> {
    redis::cmd("GET").arg(key).query_async(connection).await
}

/// Connects with `client` and runs `GET key`: the first error, from either step.
async fn connect_and_get(client: &Client, key: &str) -> RedisResult<Option<String>> {
    let mut connection = try_connect(client).await?;
    get(&mut connection, key).await
}

#[tokio::test]
async fn a_started_server_answers_ping_and_keeps_what_is_set() {
    let server = RedisServer::start();
    assert_ne!(server.port(), 6379, "never the machine's shared Redis");
    assert_eq!(server.url(), format!("redis://{HOST}:{}", server.port()));

    let mut connection = connect(&server.client()).await;
    assert_eq!(ping(&mut connection).await.unwrap(), "PONG");
    set(&mut connection, "greeting", "hello").await.unwrap();
    assert_eq!(
        get(&mut connection, "greeting").await.unwrap().as_deref(),
        Some("hello")
    );

    // redis-cli, another client, talks to the same process and sees the same data.
    assert_eq!(server.cli(&["GET", "greeting"]), "hello");
    let info = server.cli(&["INFO", "server"]);
    assert!(
        info.contains(&format!("process_id:{}", server.pid())),
        "INFO of another process: {info}"
    );
}

#[test]
fn servers_started_in_parallel_get_their_own_ports_processes_and_data() {
    const SERVERS: usize = 4;
    let servers: Vec<RedisServer> = std::thread::scope(|scope| {
        let starting: Vec<_> = (0..SERVERS)
            .map(|_| scope.spawn(RedisServer::start))
            .collect();
        starting
            .into_iter()
            .map(|thread| thread.join().expect("a server failed to start"))
            .collect()
    });

    let ports: HashSet<u16> = servers.iter().map(RedisServer::port).collect();
    let pids: HashSet<u32> = servers.iter().map(RedisServer::pid).collect();
    assert_eq!(ports.len(), SERVERS, "ports: {ports:?}");
    assert_eq!(pids.len(), SERVERS, "pids: {pids:?}");

    for (index, server) in servers.iter().enumerate() {
        assert_eq!(server.cli(&["SET", "owner", &index.to_string()]), "OK");
    }
    for (index, server) in servers.iter().enumerate() {
        assert_eq!(server.cli(&["GET", "owner"]), index.to_string());
    }
}

#[tokio::test]
async fn a_killed_server_refuses_connections_and_drops_open_ones() {
    let mut server = RedisServer::start();
    let port = server.port();
    let mut open_connection = connect(&server.client()).await;
    set(&mut open_connection, "key", "value").await.unwrap();

    server.kill();

    let refused = TcpStream::connect((HOST, port)).expect_err("a killed server's port accepted");
    assert_eq!(refused.kind(), IoErrorKind::ConnectionRefused);
    let err = get(&mut open_connection, "key")
        .await
        .expect_err("an open connection to a killed server still answered");
    assert!(err.is_io_error(), "not an I/O error: {err:?}");
    let cli_failure = server
        .try_cli(&["PING"])
        .expect_err("redis-cli reached a killed server");
    assert!(
        cli_failure.contains("Connection refused"),
        "redis-cli said: {cli_failure}"
    );
}

#[test]
fn dropping_a_server_kills_it_and_removes_its_tempdir() {
    let mut server = RedisServer::start();
    let (pid, dir) = (server.pid(), server.dir().to_owned());
    assert!(
        dir.join("redis.log").exists(),
        "no log in {}",
        dir.display()
    );
    server.pause();

    drop(server);

    // The child was reaped, so its /proc entry is gone (a paused one too).
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "redis-server pid {pid} outlived its RedisServer"
    );
    assert!(!dir.exists(), "{} outlived its RedisServer", dir.display());
    // Not checked: that the port refuses. Dropping frees it for this process's
    // other tests, so a parallel test may already listen on it.
}

#[tokio::test]
async fn a_restarted_server_answers_on_the_same_port_and_starts_empty() {
    let mut server = RedisServer::start();
    let port = server.port();
    let first_pid = server.pid();
    assert_eq!(server.cli(&["SET", "before", "restart"]), "OK");

    server.kill();
    server.restart();

    assert_eq!(server.port(), port);
    assert_ne!(server.pid(), first_pid, "the old process answered");
    let mut connection = connect(&server.client()).await;
    assert_eq!(ping(&mut connection).await.unwrap(), "PONG");
    assert_eq!(
        get(&mut connection, "before").await.unwrap(),
        None,
        "nothing is persisted across a restart"
    );
}

#[test]
fn restart_retries_until_another_process_lets_go_of_the_port() {
    let mut server = RedisServer::start();
    let port = server.port();
    let log_path = server.log_path();
    server.kill();
    let squatter = std::net::TcpListener::bind((HOST, port)).expect("the killed server's port");
    let log_before = std::fs::read_to_string(&log_path).unwrap();

    std::thread::scope(|scope| {
        let restarting = scope.spawn(|| server.restart());
        // Let go only once a restart attempt has failed on the held port.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let log = std::fs::read_to_string(&log_path).unwrap();
            if log[log_before.len()..].contains("Address already in use") {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no failed attempt logged"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(squatter);
        restarting.join().expect("restart gave up");
    });

    assert_eq!(server.port(), port);
    assert_eq!(server.cli(&["PING"]), "PONG");
}

#[tokio::test]
async fn restart_kills_a_running_server_first() {
    let mut server = RedisServer::start();
    let first_pid = server.pid();

    server.restart();

    assert_ne!(server.pid(), first_pid);
    assert_eq!(server.cli(&["PING"]), "PONG");
}

#[tokio::test]
async fn a_paused_server_times_out_requests_until_resumed() {
    let mut server = RedisServer::start();
    let mut connection = server
        .client()
        .get_multiplexed_async_connection_with_config(&bounded_config(SHORT_RESPONSE_TIMEOUT))
        .await
        .unwrap();
    set(&mut connection, "key", "value").await.unwrap();

    server.pause();
    let err = get(&mut connection, "key")
        .await
        .expect_err("a paused server answered");
    assert!(err.is_timeout(), "not a timeout: {err:?}");

    server.resume();
    assert_eq!(
        get(&mut connection, "key").await.unwrap().as_deref(),
        Some("value"),
        "the connection that timed out works again"
    );
    let mut fresh = connect(&server.client()).await;
    assert_eq!(
        get(&mut fresh, "key").await.unwrap().as_deref(),
        Some("value")
    );
}

#[tokio::test]
async fn a_password_server_refuses_clients_without_the_password() {
    let server = RedisServer::start_with_password("s3cret pass/word");
    assert_eq!(server.password(), Some("s3cret pass/word"));

    let err = connect_and_get(&server.anonymous_client(), "key")
        .await
        .expect_err("a client without the password was served");
    assert_eq!(err.code(), Some("NOAUTH"), "{err:?}");

    let err = connect_and_get(&server.client_as("default", "not it"), "key")
        .await
        .expect_err("a client with a wrong password was served");
    assert_eq!(
        err.kind(),
        redis::ErrorKind::AuthenticationFailed,
        "{err:?}"
    );

    let mut connection = connect(&server.client()).await;
    set(&mut connection, "key", "value").await.unwrap();
    assert_eq!(
        get(&mut connection, "key").await.unwrap().as_deref(),
        Some("value")
    );
    // The URL form carries the password percent-encoded.
    let by_url = Client::open(server.authenticated_url()).unwrap();
    assert_eq!(
        connect_and_get(&by_url, "key").await.unwrap().as_deref(),
        Some("value")
    );
    assert_eq!(server.cli(&["GET", "key"]), "value");
}

#[tokio::test]
async fn an_acl_user_without_rights_gets_noperm() {
    let server = RedisServer::start_with_acl(&[
        AclUser::full_access("app", "app-pw"),
        AclUser::no_access("guest", "guest-pw"),
    ]);

    let mut app = connect(&server.client_as("app", "app-pw")).await;
    set(&mut app, "key", "value").await.unwrap();
    assert_eq!(
        get(&mut app, "key").await.unwrap().as_deref(),
        Some("value")
    );
    let by_url = Client::open(server.url_for_user("app", "app-pw")).unwrap();
    assert_eq!(
        connect_and_get(&by_url, "key").await.unwrap().as_deref(),
        Some("value")
    );

    let err = connect_and_get(&server.client_as("guest", "guest-pw"), "key")
        .await
        .expect_err("a user without rights read a key");
    assert_eq!(err.code(), Some("NOPERM"), "{err:?}");

    let err = connect_and_get(&server.client_as("app", "not it"), "key")
        .await
        .expect_err("a wrong password was accepted");
    assert_eq!(
        err.kind(),
        redis::ErrorKind::AuthenticationFailed,
        "{err:?}"
    );
}

#[tokio::test]
async fn a_tls_server_serves_clients_trusting_its_ca_and_no_others() {
    let server = RedisServer::start_tls();
    assert!(server.url().starts_with("rediss://127.0.0.1:"));
    assert!(server.ca_cert_pem().unwrap().contains("BEGIN CERTIFICATE"));
    assert!(
        rustls::crypto::CryptoProvider::get_default().is_some(),
        "the harness installs a rustls crypto provider"
    );

    let mut connection = connect(&server.client()).await;
    set(&mut connection, "key", "over tls").await.unwrap();
    assert_eq!(
        get(&mut connection, "key").await.unwrap().as_deref(),
        Some("over tls")
    );
    assert_eq!(server.cli(&["GET", "key"]), "over tls");

    // Plain RESP to the TLS port: the server never answers it as Redis.
    let plain = Client::open(format!("redis://{HOST}:{}", server.port())).unwrap();
    let plain_result = connect_and_get(&plain, "key").await;
    assert!(
        plain_result.is_err(),
        "a plain client was served: {plain_result:?}"
    );

    // TLS without the generated CA: the system roots do not vouch for it.
    let untrusting = Client::open(server.url()).unwrap();
    let err = connect_and_get(&untrusting, "key")
        .await
        .expect_err("a client not trusting the CA was served");
    assert!(
        format!("{err:?}").contains("UnknownIssuer"),
        "not a certificate error: {err:?}"
    );
}

#[test]
#[should_panic(expected = "Bad directive or wrong number of arguments")]
fn a_server_that_cannot_start_panics_with_its_log() {
    let _never = RedisServer::builder()
        .arg("--no-such-directive")
        .arg("1")
        .start();
}
