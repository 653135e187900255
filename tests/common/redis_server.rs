//! Throwaway `redis-server` processes for the Redis test suites.
//!
//! Included with `#[path = "common/redis_server.rs"] mod redis_server;`, so every
//! suite compiles its own copy; not every suite uses every helper.
//!
//! Each [`RedisServer`] is a `redis-server` child of the test process, listening
//! only on 127.0.0.1 on a port of its own (never the machine's shared 6379),
//! with persistence off and its working directory, log and any certificates in
//! a tempdir. Dropping it kills that child (by its pid) and removes the tempdir.
//! Tests can kill, restart, pause and resume it to stage outages.
//!
//! `redis-server` and `redis-cli` must be on `PATH` (Debian: `apt-get install
//! redis-server`, which pulls in `redis-tools` with `redis-cli`; `scripts/test.sh`
//! installs it when missing). Without them the harness panics: a Redis test is
//! never skipped silently.
//!
//! # TLS with redis-rs and rustls
//!
//! [`RedisServerBuilder::tls`] makes a CA and a server certificate for
//! `127.0.0.1` and `localhost` with `rcgen` at test time. A client trusts that CA
//! by passing its PEM as `root_cert` to [`redis::Client::build_with_tls`] with a
//! `rediss://` URL ([`RedisServer::tls_certificates`] builds the argument;
//! [`RedisServer::client`] does all of it).
//!
//! redis-rs 1.8 builds its rustls `ClientConfig` with `ClientConfig::builder()`,
//! which uses the process-wide rustls `CryptoProvider`. rustls installs one by
//! itself only when exactly one of its `ring` / `aws-lc-rs` features is enabled
//! in the build, and panics otherwise ("no process-level CryptoProvider
//! available"). As dependencies may enable the other one, the harness installs
//! ring's provider itself before any TLS client is built:
//! `rustls::crypto::ring::default_provider().install_default()` (see
//! [`install_rustls_crypto_provider`]); a provider installed earlier is kept.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::io::Read;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use redis::{Client, ConnectionInfo, IntoConnectionInfo, TlsCertificates};
use tempfile::TempDir;

/// The loopback address every server listens on and every client dials.
pub const HOST: &str = "127.0.0.1";

/// How long a starting server has to answer PING before the harness gives up.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a `redis-cli` run may take before the harness kills it and panics.
pub const CLI_TIMEOUT: Duration = Duration::from_secs(10);

/// How long to wait for a signalled server to show as stopped or running again.
const SIGNAL_TIMEOUT: Duration = Duration::from_secs(5);

/// Pause between two readiness probes of a starting server.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Fresh ports tried by [`RedisServerBuilder::start`] when another process takes
/// the chosen one between the probe and the server's bind.
const FRESH_PORT_ATTEMPTS: usize = 5;

/// Tries by [`RedisServer::restart`] to bind the same port again.
const RESTART_ATTEMPTS: usize = 20;

/// Pause between two of [`RedisServer::restart`]'s tries.
const RESTART_RETRY_DELAY: Duration = Duration::from_millis(100);

/// What `redis-server` writes to its log when its port is taken.
const PORT_TAKEN_LOG_LINE: &str = "Address already in use";

/// The port of the machine's shared Redis, which no test may touch.
const SHARED_REDIS_PORT: u16 = 6379;

/// Ports held by the servers of this test process, so that two servers started
/// by tests on parallel threads never get the same one.
static PORTS_IN_USE: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// An ACL user written to the server's aclfile by [`RedisServerBuilder::acl_user`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AclUser {
    /// The user name (no whitespace; not `default`, see [`RedisServerBuilder::password`]).
    pub name: String,
    /// The user's password (no whitespace).
    pub password: String,
    /// ACL rules after `on >password`, e.g. `~*`, `+@all`, `-@all`.
    pub rules: Vec<String>,
}

impl AclUser {
    /// A user with every command on every key and channel: `~* &* +@all`.
    pub fn full_access(name: &str, password: &str) -> Self {
        Self::with_rules(name, password, &["~*", "&*", "+@all"])
    }

    /// A user who can log in but run no command on no key or channel:
    /// `resetkeys resetchannels -@all`. Anything it sends gets `NOPERM`.
    pub fn no_access(name: &str, password: &str) -> Self {
        Self::with_rules(name, password, &["resetkeys", "resetchannels", "-@all"])
    }

    /// A user with the given ACL rules (see the Redis `ACL SETUSER` syntax).
    pub fn with_rules(name: &str, password: &str, rules: &[&str]) -> Self {
        Self {
            name: name.to_owned(),
            password: password.to_owned(),
            rules: rules.iter().map(|rule| (*rule).to_owned()).collect(),
        }
    }

    /// This user's line of an aclfile.
    fn acl_line(&self) -> String {
        assert_ne!(
            self.name, "default",
            "the harness writes the default user itself: set its password with RedisServerBuilder::password"
        );
        for word in [&self.name, &self.password].into_iter().chain(&self.rules) {
            assert!(
                !word.is_empty() && !word.contains(char::is_whitespace),
                "ACL user {:?}: name, password and rules must be single non-empty words, got {word:?}",
                self.name
            );
        }
        format!(
            "user {} on >{} {}",
            self.name,
            self.password,
            self.rules.join(" ")
        )
    }
}

/// How to start a [`RedisServer`]: password, ACL users, TLS, extra config.
///
/// From [`RedisServer::builder`]; [`RedisServer::start`],
/// [`RedisServer::start_with_password`], [`RedisServer::start_with_acl`] and
/// [`RedisServer::start_tls`] are shortcuts for the common cases.
#[derive(Clone, Debug, Default)]
#[must_use = "a builder starts nothing until `start` is called"]
pub struct RedisServerBuilder {
    /// The `default` user's password; `None` leaves it open (`nopass`).
    password: Option<String>,
    /// Users written to an aclfile besides `default`; empty means no aclfile.
    acl_users: Vec<AclUser>,
    /// Whether the server listens with TLS only, on a generated certificate.
    tls: bool,
    /// Further `redis-server` arguments, after the harness's own.
    extra_args: Vec<String>,
    /// Whether the server is a node of a Redis Cluster (see [`RedisCluster`]).
    cluster_node: bool,
}

impl RedisServerBuilder {
    /// Requires this password of the `default` user (`requirepass`, or the
    /// default user's line of the aclfile when there are ACL users). The harness's
    /// own client, [`RedisServer::client`] and [`RedisServer::cli`] log in with it.
    pub fn password(mut self, password: &str) -> Self {
        self.password = Some(password.to_owned());
        self
    }

    /// Adds an ACL user, written with the `default` user to an aclfile in the
    /// server's tempdir (`--aclfile`). The `default` user keeps every right, with
    /// [`Self::password`] if one is set, or none.
    pub fn acl_user(mut self, user: AclUser) -> Self {
        self.acl_users.push(user);
        self
    }

    /// Serves TLS only (`--tls-port N --port 0`) with a CA and a server certificate
    /// for `127.0.0.1` and `localhost` generated now; clients need not present a
    /// certificate. [`RedisServer::url`] becomes `rediss://…`.
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// Makes the server a Redis Cluster node (`--cluster-enabled yes`, its
    /// nodes file in its tempdir) on a port whose cluster bus port (+10000)
    /// is free too. [`RedisCluster::start`] starts and joins such nodes.
    pub fn cluster_node(mut self) -> Self {
        self.cluster_node = true;
        self
    }

    /// Appends a raw `redis-server` argument, e.g. `"--maxmemory"` then `"1mb"`.
    pub fn arg(mut self, arg: &str) -> Self {
        self.extra_args.push(arg.to_owned());
        self
    }

    /// Starts the server on a free loopback port and waits until it answers PING.
    ///
    /// # Panics
    ///
    /// If `redis-server` is not on `PATH`, or no server came up within
    /// [`START_TIMEOUT`] on any of a few fresh ports; the message carries the log.
    pub fn start(self) -> RedisServer {
        ensure_redis_server_installed();
        let dir = tempfile::Builder::new()
            .prefix("memocache-redis-")
            .tempdir()
            .unwrap_or_else(|err| panic!("cannot create a tempdir for redis-server: {err}"));
        let tls = self.tls.then(|| {
            install_rustls_crypto_provider();
            TlsFiles::generate(dir.path())
        });
        if !self.acl_users.is_empty() {
            write_aclfile(dir.path(), self.password.as_deref(), &self.acl_users);
        }
        let mut server = RedisServer {
            port: 0,
            child: None,
            options: self,
            tls,
            dir,
        };
        let mut failures = Vec::new();
        for _ in 0..FRESH_PORT_ATTEMPTS {
            server.port = if server.options.cluster_node {
                reserve_free_cluster_port()
            } else {
                reserve_free_port()
            };
            match server.spawn_and_wait() {
                Ok(()) => return server,
                Err(failure) => {
                    // Unreserved here, once: the panic's drop of `server` then sees port 0.
                    let port = std::mem::take(&mut server.port);
                    server.release_ports(port);
                    match failure {
                        StartFailure::PortTaken(log) => {
                            failures.push(format!("port {port} was taken: {log}"));
                        }
                        StartFailure::Other(why) => {
                            panic!("redis-server did not start on port {port}: {why}")
                        }
                    }
                }
            }
        }
        panic!(
            "redis-server found no free port in {FRESH_PORT_ATTEMPTS} tries:\n{}",
            failures.join("\n")
        );
    }
}

/// A `redis-server` child process on its own loopback port, killed on drop.
///
/// Data is never persisted: a restarted server starts empty.
#[derive(Debug)]
pub struct RedisServer {
    /// The loopback port it listens on (TLS only when started with TLS); kept
    /// across [`Self::restart`].
    port: u16,
    /// The running child; `None` after [`Self::kill`].
    child: Option<Child>,
    /// What it was started with, to start it again the same way.
    options: RedisServerBuilder,
    /// The generated certificates when started with TLS.
    tls: Option<TlsFiles>,
    /// Working directory, log, aclfile and certificates; removed on drop.
    dir: TempDir,
}

impl RedisServer {
    /// A builder for a server with a password, ACL users, TLS or extra config.
    pub fn builder() -> RedisServerBuilder {
        RedisServerBuilder::default()
    }

    /// Starts a plain server: no password, no TLS. See [`RedisServerBuilder::start`].
    pub fn start() -> Self {
        Self::builder().start()
    }

    /// Starts a server whose `default` user requires `password`.
    pub fn start_with_password(password: &str) -> Self {
        Self::builder().password(password).start()
    }

    /// Starts a server with these ACL users besides an open `default` user, e.g.
    /// `[AclUser::full_access("app", "pw1"), AclUser::no_access("guest", "pw2")]`.
    pub fn start_with_acl(users: &[AclUser]) -> Self {
        users
            .iter()
            .cloned()
            .fold(Self::builder(), RedisServerBuilder::acl_user)
            .start()
    }

    /// Starts a TLS-only server on a certificate signed by a CA generated now;
    /// see [`Self::tls_certificates`] and [`Self::ca_cert_pem`] to trust it.
    pub fn start_tls() -> Self {
        Self::builder().tls().start()
    }

    /// The loopback port it listens on, the same after [`Self::restart`].
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT`, or `rediss://127.0.0.1:PORT` with TLS; no credentials.
    pub fn url(&self) -> String {
        format!("{}://{HOST}:{}", self.scheme(), self.port)
    }

    /// [`Self::url`] with the `default` user's password in it when it has one.
    pub fn authenticated_url(&self) -> String {
        match &self.options.password {
            Some(password) => self.url_with_credentials("", password),
            None => self.url(),
        }
    }

    /// [`Self::url`] logging in as `user` with `password` (percent-encoded).
    pub fn url_for_user(&self, user: &str, password: &str) -> String {
        self.url_with_credentials(user, password)
    }

    /// The `default` user's password, if the server requires one.
    pub fn password(&self) -> Option<&str> {
        self.options.password.as_deref()
    }

    /// Whether it serves TLS only.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The process id of the running server.
    ///
    /// # Panics
    ///
    /// After [`Self::kill`], until [`Self::restart`].
    pub fn pid(&self) -> u32 {
        self.running_child().id()
    }

    /// The tempdir holding its working directory, log, aclfile and certificates.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The path of the server's log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    /// What the server has logged so far (and written to stderr), for messages.
    pub fn log(&self) -> String {
        let log = fs::read_to_string(self.log_path()).unwrap_or_default();
        let stderr = fs::read_to_string(self.stderr_path()).unwrap_or_default();
        format!("{log}{stderr}")
    }

    /// The generated CA certificate, PEM, when started with TLS.
    pub fn ca_cert_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|tls| tls.ca_cert_pem.as_str())
    }

    /// The path of the generated CA certificate (PEM), when started with TLS.
    pub fn ca_cert_path(&self) -> Option<&Path> {
        self.tls.as_ref().map(|tls| tls.ca_cert_path.as_path())
    }

    /// What [`redis::Client::build_with_tls`] needs to trust this server's CA
    /// (no client certificate), when started with TLS.
    pub fn tls_certificates(&self) -> Option<TlsCertificates> {
        self.tls.as_ref().map(|tls| TlsCertificates {
            client_tls: None,
            root_cert: Some(tls.ca_cert_pem.clone().into_bytes()),
        })
    }

    /// A client logged in as the `default` user (with its password if any) that
    /// trusts the generated CA when the server serves TLS.
    pub fn client(&self) -> Client {
        self.client_with(None, self.options.password.as_deref())
    }

    /// A client sending no credentials at all (trusting the CA under TLS).
    pub fn anonymous_client(&self) -> Client {
        self.client_with(None, None)
    }

    /// A client logged in as ACL user `user` with `password` (trusting the CA under TLS).
    pub fn client_as(&self, user: &str, password: &str) -> Client {
        self.client_with(Some(user), Some(password))
    }

    /// Runs `redis-cli` against this server as the `default` user (TLS and
    /// password included) and returns its stdout without the final newline.
    /// Server errors come back as text (`ERR …`), as redis-cli prints them.
    ///
    /// # Panics
    ///
    /// If redis-cli cannot run, exits with failure (e.g. connection refused), or
    /// takes longer than [`CLI_TIMEOUT`] (e.g. a paused server).
    pub fn cli(&self, args: &[&str]) -> String {
        self.try_cli(args)
            .unwrap_or_else(|failure| panic!("redis-cli {args:?} on port {}: {failure}", self.port))
    }

    /// [`Self::cli`], with a redis-cli that exits with failure returned as
    /// `Err(stderr)` instead of a panic (e.g. to assert that the port is closed).
    pub fn try_cli(&self, args: &[&str]) -> Result<String, String> {
        let mut command = Command::new("redis-cli");
        command.args(["-h", HOST, "-p", &self.port.to_string()]);
        if let Some(ca_cert_path) = self.ca_cert_path() {
            command.arg("--tls").arg("--cacert").arg(ca_cert_path);
        }
        match &self.options.password {
            // From the environment: `-a` would make redis-cli print a warning.
            Some(password) => command.env("REDISCLI_AUTH", password),
            None => command.env_remove("REDISCLI_AUTH"),
        };
        command.args(args);
        run_with_deadline(command, CLI_TIMEOUT)
    }

    /// Kills the server with SIGKILL (its own pid only) and reaps it, so its port
    /// refuses connections when this returns. Does nothing if already killed.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // `Child::kill` sends SIGKILL to this child on Unix; it also ends a stopped one.
            if let Err(err) = child.kill() {
                panic!("cannot kill redis-server pid {}: {err}", child.id());
            }
            child
                .wait()
                .unwrap_or_else(|err| panic!("cannot reap redis-server pid {}: {err}", child.id()));
        }
    }

    /// Freezes the server with SIGSTOP and waits until the kernel shows it
    /// stopped: connections stay open, requests get no answer until
    /// [`Self::resume`]. Connecting may still succeed (the kernel accepts).
    pub fn pause(&mut self) {
        self.signal(libc::SIGSTOP);
        self.wait_for_process_state(true);
    }

    /// Lets a [`Self::pause`]d server run again (SIGCONT) and waits until it does.
    pub fn resume(&mut self) {
        self.signal(libc::SIGCONT);
        self.wait_for_process_state(false);
    }

    /// Starts a new, empty server on the same port with the same options and
    /// waits until it answers PING. Kills the old one first if it still runs.
    /// Retries for a while if the port cannot be bound yet.
    ///
    /// # Panics
    ///
    /// If the port stays unavailable for all [`RESTART_ATTEMPTS`], or the server
    /// fails otherwise.
    pub fn restart(&mut self) {
        self.kill();
        let mut last_log = String::new();
        for attempt in 0..RESTART_ATTEMPTS {
            if attempt > 0 {
                thread::sleep(RESTART_RETRY_DELAY);
            }
            match self.spawn_and_wait() {
                Ok(()) => return,
                Err(StartFailure::PortTaken(log)) => last_log = log,
                Err(StartFailure::Other(why)) => {
                    panic!("redis-server did not restart on port {}: {why}", self.port)
                }
            }
        }
        panic!(
            "redis-server could not bind port {} again in {RESTART_ATTEMPTS} tries; last log:\n{last_log}",
            self.port
        );
    }

    /// The running child, or a panic naming the port.
    fn running_child(&self) -> &Child {
        self.child.as_ref().unwrap_or_else(|| {
            panic!(
                "redis-server on port {} is not running (killed, not restarted)",
                self.port
            )
        })
    }

    /// Where the server's stderr goes (startup errors before the log is opened).
    fn stderr_path(&self) -> PathBuf {
        self.dir.path().join("stderr.log")
    }

    /// The `redis-server` arguments for the current port and options.
    fn server_args(&self) -> Vec<String> {
        let dir = self.dir.path();
        let path = |name: &str| dir.join(name).display().to_string();
        let mut args: Vec<String> = vec![
            "--bind".into(),
            HOST.into(),
            "--save".into(),
            String::new(),
            "--appendonly".into(),
            "no".into(),
            "--daemonize".into(),
            "no".into(),
            "--dir".into(),
            dir.display().to_string(),
            "--logfile".into(),
            path("redis.log"),
        ];
        match &self.tls {
            Some(tls) => args.extend([
                "--port".into(),
                "0".into(),
                "--tls-port".into(),
                self.port.to_string(),
                "--tls-cert-file".into(),
                tls.server_cert_path.display().to_string(),
                "--tls-key-file".into(),
                tls.server_key_path.display().to_string(),
                "--tls-ca-cert-file".into(),
                tls.ca_cert_path.display().to_string(),
                "--tls-auth-clients".into(),
                "no".into(),
            ]),
            None => args.extend(["--port".into(), self.port.to_string()]),
        }
        if self.options.cluster_node {
            args.extend([
                "--cluster-enabled".into(),
                "yes".into(),
                "--cluster-config-file".into(),
                path("nodes.conf"),
                "--cluster-node-timeout".into(),
                CLUSTER_NODE_TIMEOUT_MS.to_string(),
            ]);
        }
        if !self.options.acl_users.is_empty() {
            // The aclfile sets the default user's password too.
            args.extend(["--aclfile".into(), path(ACLFILE_NAME)]);
        } else if let Some(password) = &self.options.password {
            args.extend(["--requirepass".into(), password.clone()]);
        }
        args.extend(self.options.extra_args.iter().cloned());
        args
    }

    /// Spawns `redis-server` on `self.port` and waits until it answers PING.
    fn spawn_and_wait(&mut self) -> Result<(), StartFailure> {
        assert_ne!(
            self.port, SHARED_REDIS_PORT,
            "never start on the shared Redis port"
        );
        let stderr = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.stderr_path())
            .unwrap_or_else(|err| panic!("cannot open redis-server's stderr file: {err}"));
        let child = Command::new("redis-server")
            .args(self.server_args())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot run redis-server: {err}"));
        self.child = Some(child);
        let outcome = self.wait_until_ready();
        if outcome.is_err() {
            self.kill();
        }
        outcome
    }

    /// Polls until this server's own process answers PING, it exits, or
    /// [`START_TIMEOUT`] passes.
    fn wait_until_ready(&mut self) -> Result<(), StartFailure> {
        let deadline = Instant::now() + START_TIMEOUT;
        let client = self.client();
        loop {
            let child = self.child.as_mut().expect("a server was just spawned");
            let pid = child.id();
            match child.try_wait() {
                Ok(None) => {}
                Ok(Some(status)) => {
                    let log = self.log();
                    return Err(if log.contains(PORT_TAKEN_LOG_LINE) {
                        StartFailure::PortTaken(log)
                    } else {
                        StartFailure::Other(format!("it exited with {status}; log:\n{log}"))
                    });
                }
                Err(err) => return Err(StartFailure::Other(format!("cannot poll it: {err}"))),
            }
            let last_error = match probe(&client) {
                // Another process's server on this port would answer too: check it is ours.
                Ok(answering_pid) if answering_pid == pid => return Ok(()),
                Ok(answering_pid) => format!("pid {answering_pid} answered, not ours ({pid})"),
                Err(err) => err.to_string(),
            };
            if Instant::now() >= deadline {
                return Err(StartFailure::Other(format!(
                    "no answer to PING within {START_TIMEOUT:?} (last: {last_error}); log:\n{}",
                    self.log()
                )));
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// Sends `signal` to this server's own pid.
    fn signal(&self, signal: libc::c_int) {
        let pid = self.pid();
        let pid = libc::pid_t::try_from(pid).expect("a pid fits pid_t");
        // SAFETY: kill(2) takes plain integers and touches no memory of ours; the
        // pid is our own unreaped child, so it cannot name another process.
        let result = unsafe { libc::kill(pid, signal) };
        assert_eq!(
            result,
            0,
            "cannot send signal {signal} to redis-server pid {pid}: {}",
            std::io::Error::last_os_error()
        );
    }

    /// Waits until `/proc` shows the server stopped (`T`) or not, as `stopped` says.
    fn wait_for_process_state(&self, stopped: bool) {
        let pid = self.pid();
        let deadline = Instant::now() + SIGNAL_TIMEOUT;
        loop {
            let state = process_state(pid);
            if (state == 'T') == stopped {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server pid {pid} still in state {state:?} after {SIGNAL_TIMEOUT:?}"
            );
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// A client for this server's address with these credentials.
    fn client_with(&self, user: Option<&str>, password: Option<&str>) -> Client {
        let info: ConnectionInfo = self
            .url()
            .into_connection_info()
            .expect("the harness's URL parses");
        let mut settings = info.redis_settings().clone();
        if let Some(user) = user {
            settings = settings.set_username(user);
        }
        if let Some(password) = password {
            settings = settings.set_password(password);
        }
        let info = info.set_redis_settings(settings);
        let client = match self.tls_certificates() {
            Some(certificates) => {
                install_rustls_crypto_provider();
                Client::build_with_tls(info, certificates)
            }
            None => Client::open(info),
        };
        client.unwrap_or_else(|err| panic!("cannot build a client for {}: {err}", self.url()))
    }

    /// The URL scheme: `rediss` with TLS, else `redis`.
    fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        }
    }

    /// [`Self::url`] with `user:password@` (percent-encoded) before the host.
    fn url_with_credentials(&self, user: &str, password: &str) -> String {
        format!(
            "{}://{}:{}@{HOST}:{}",
            self.scheme(),
            percent_encode(user),
            percent_encode(password),
            self.port
        )
    }
}

impl Drop for RedisServer {
    /// Kills the child by its own pid, frees the port for this process's other
    /// servers; the tempdir is removed afterwards by its own drop.
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Errors are ignored: a panic in drop during a failing test would abort.
            let _ = child.kill();
            let _ = child.wait();
        }
        if self.port != 0 {
            self.release_ports(self.port);
        }
    }
}

impl RedisServer {
    /// Unreserves `port`, and its cluster bus port for a cluster node.
    fn release_ports(&self, port: u16) {
        release_port(port);
        if self.options.cluster_node {
            release_port(port + CLUSTER_BUS_OFFSET);
        }
    }
}

/// How far above its port a cluster node listens for the cluster bus.
const CLUSTER_BUS_OFFSET: u16 = 10_000;

/// How long a cluster node may be unreachable before the others mark it failed.
pub const CLUSTER_NODE_TIMEOUT_MS: u64 = 1_000;

/// How long `redis-cli --cluster create` and the cluster's agreement may take.
const CLUSTER_START_TIMEOUT: Duration = Duration::from_secs(30);

/// A Redis Cluster of throwaway masters on loopback (no replicas), made with
/// `redis-cli --cluster create`; every node is killed, by its pid, on drop.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts `masters` cluster nodes (at least 3, as `redis-cli --cluster
    /// create` requires), spreads the slots over them and waits until every
    /// node reports `cluster_state:ok`.
    ///
    /// # Panics
    ///
    /// If a node does not start, the cluster cannot be created, or it does not
    /// agree within [`CLUSTER_START_TIMEOUT`].
    pub fn start(masters: usize) -> Self {
        let nodes: Vec<RedisServer> = (0..masters)
            .map(|_| RedisServer::builder().cluster_node().start())
            .collect();
        let cluster = Self { nodes };
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for node in &cluster.nodes {
            create.arg(format!("{HOST}:{}", node.port()));
        }
        create.args(["--cluster-replicas", "0", "--cluster-yes"]);
        if let Err(failure) = run_with_deadline(create, CLUSTER_START_TIMEOUT) {
            panic!("redis-cli --cluster create failed: {failure}");
        }
        cluster.wait_until_ok();
        cluster
    }

    /// Waits until every running node reports `cluster_state:ok`.
    pub fn wait_until_ok(&self) {
        let deadline = Instant::now() + CLUSTER_START_TIMEOUT;
        for node in self.nodes.iter().filter(|node| node.child.is_some()) {
            loop {
                let info = node.cli(&["CLUSTER", "INFO"]);
                if info.lines().any(|line| line.trim() == "cluster_state:ok") {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "node {} did not reach cluster_state:ok:\n{info}",
                    node.port()
                );
                thread::sleep(POLL_INTERVAL);
            }
        }
    }

    /// The nodes, in the order they were started.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// The node at `index`, to kill or pause it.
    pub fn node_mut(&mut self, index: usize) -> &mut RedisServer {
        &mut self.nodes[index]
    }

    /// Every node's URL (`redis://127.0.0.1:PORT`).
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// The node serving `key`'s slot (`CLUSTER KEYSLOT` then `CLUSTER SLOTS`).
    pub fn node_of(&self, key: &str) -> usize {
        let first = self
            .nodes
            .iter()
            .find(|node| node.child.is_some())
            .expect("a running node");
        let slot: u16 = first
            .cli(&["CLUSTER", "KEYSLOT", key])
            .trim()
            .parse()
            .expect("a slot number");
        self.nodes
            .iter()
            .position(|node| {
                node.child.is_some() && owns_slot(&node.cli(&["CLUSTER", "NODES"]), slot)
            })
            .unwrap_or_else(|| panic!("no running node serves slot {slot} of {key:?}"))
    }

    /// A cluster client of every node, speaking RESP2 (a plain other client).
    pub fn client(&self) -> redis::cluster::ClusterClient {
        redis::cluster::ClusterClient::new(self.urls())
            .unwrap_or_else(|err| panic!("cannot build a cluster client: {err}"))
    }

    /// Runs `redis-cli -c` (following redirections) on the first running node.
    pub fn cli(&self, args: &[&str]) -> String {
        let node = self
            .nodes
            .iter()
            .find(|node| node.child.is_some())
            .expect("a running node");
        let mut command = Command::new("redis-cli");
        command.args(["-c", "-h", HOST, "-p", &node.port().to_string()]);
        command.args(args);
        run_with_deadline(command, CLI_TIMEOUT)
            .unwrap_or_else(|failure| panic!("redis-cli -c {args:?}: {failure}"))
    }
}

/// Whether the `myself` line of a `CLUSTER NODES` answer lists `slot`.
fn owns_slot(nodes: &str, slot: u16) -> bool {
    let Some(line) = nodes.lines().find(|line| line.contains("myself")) else {
        return false;
    };
    // Fields 9.. are slots and ranges (`0-5460`); `[...]` are migrations.
    line.split_whitespace().skip(8).any(|range| {
        let bounds = range.split_once('-').unwrap_or((range, range));
        match (bounds.0.parse::<u16>(), bounds.1.parse::<u16>()) {
            (Ok(start), Ok(end)) => (start..=end).contains(&slot),
            _ => false,
        }
    })
}

/// Why a spawned server did not come up.
enum StartFailure {
    /// Another process holds the port; carries the server's log.
    PortTaken(String),
    /// Anything else, described with the log.
    Other(String),
}

/// The PEM files of a TLS server, in its tempdir.
#[derive(Debug)]
struct TlsFiles {
    /// The CA certificate, PEM, for clients to trust.
    ca_cert_pem: String,
    /// Where the CA certificate is written.
    ca_cert_path: PathBuf,
    /// Where the server certificate (signed by the CA) is written.
    server_cert_path: PathBuf,
    /// Where the server's private key is written.
    server_key_path: PathBuf,
}

impl TlsFiles {
    /// Generates a CA and a server certificate for `127.0.0.1` and `localhost`
    /// signed by it, and writes both and the server key into `dir`.
    fn generate(dir: &Path) -> Self {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
            KeyPair, KeyUsagePurpose,
        };

        let ca_key = KeyPair::generate().expect("rcgen generates a CA key");
        let mut ca_params =
            CertificateParams::new(Vec::<String>::new()).expect("no names is a valid CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "memocache test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params
            .self_signed(&ca_key)
            .expect("rcgen self-signs the CA");
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().expect("rcgen generates a server key");
        let mut server_params =
            CertificateParams::new(vec![HOST.to_owned(), "localhost".to_owned()])
                .expect("127.0.0.1 and localhost are valid names");
        server_params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        server_params.use_authority_key_identifier_extension = true;
        server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server_params
            .signed_by(&server_key, &issuer)
            .expect("rcgen signs the server certificate");

        let files = Self {
            ca_cert_pem: ca_cert.pem(),
            ca_cert_path: dir.join("ca.crt"),
            server_cert_path: dir.join("server.crt"),
            server_key_path: dir.join("server.key"),
        };
        write_file(&files.ca_cert_path, &files.ca_cert_pem);
        write_file(&files.server_cert_path, &server_cert.pem());
        write_file(&files.server_key_path, &server_key.serialize_pem());
        files
    }
}

/// Installs ring's rustls `CryptoProvider` for the process unless one already is.
///
/// Needed by redis-rs 1.8's rustls TLS whenever the build enables more than one
/// rustls provider feature (or none): `ClientConfig::builder()` panics then.
/// Harmless otherwise; called by the harness before it builds any TLS client.
pub fn install_rustls_crypto_provider() {
    // `Err` means a provider was installed already (by us or anyone): keep it.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The aclfile's name in the server's tempdir.
const ACLFILE_NAME: &str = "users.acl";

/// Writes the aclfile: the `default` user with every right (and `password`, if
/// any), then `users`.
fn write_aclfile(dir: &Path, password: Option<&str>, users: &[AclUser]) {
    let default_password = match password {
        Some(password) => {
            assert!(
                !password.is_empty() && !password.contains(char::is_whitespace),
                "the default user's password must be one non-empty word with ACL users"
            );
            format!(">{password}")
        }
        None => "nopass".to_owned(),
    };
    let mut text = format!("user default on {default_password} ~* &* +@all\n");
    for user in users {
        text.push_str(&user.acl_line());
        text.push('\n');
    }
    write_file(&dir.join(ACLFILE_NAME), &text);
}

/// Writes `contents` to `path`, panicking with the path on failure.
fn write_file(path: &Path, contents: &str) {
    fs::write(path, contents)
        .unwrap_or_else(|err| panic!("cannot write {}: {err}", path.display()));
}

/// Panics with instructions unless `redis-server` runs.
fn ensure_redis_server_installed() {
    let found = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        found,
        "redis-server is not on PATH: the Redis tests need it (Debian: `apt-get install redis-server`; scripts/test.sh installs it)"
    );
}

/// A loopback port that was free a moment ago and that no other server of this
/// process holds; reserved until [`release_port`].
fn reserve_free_port() -> u16 {
    loop {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap_or_else(|err| panic!("cannot bind a loopback port: {err}"));
        let port = listener
            .local_addr()
            .expect("a bound listener has an address")
            .port();
        // The listener is dropped on return, before redis-server binds the port.
        if port != SHARED_REDIS_PORT && lock_ports().insert(port) {
            return port;
        }
    }
}

/// A free loopback port for a cluster node: its bus port (+10000) was free a
/// moment ago too; both are reserved until [`release_port`].
fn reserve_free_cluster_port() -> u16 {
    loop {
        let port = reserve_free_port();
        let bus = port.checked_add(CLUSTER_BUS_OFFSET);
        let bus_free = bus.is_some_and(|bus| {
            bus != SHARED_REDIS_PORT
                && TcpListener::bind((Ipv4Addr::LOCALHOST, bus)).is_ok()
                && lock_ports().insert(bus)
        });
        if bus_free {
            return port;
        }
        release_port(port);
    }
}

/// Lets other servers of this process use `port` again.
fn release_port(port: u16) {
    lock_ports().remove(&port);
}

/// The set of reserved ports; a test that panicked holding it does not poison it.
fn lock_ports() -> std::sync::MutexGuard<'static, BTreeSet<u16>> {
    PORTS_IN_USE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Connects, PINGs and returns the answering server's `process_id`.
fn probe(client: &Client) -> redis::RedisResult<u32> {
    let mut connection = client.get_connection_with_timeout(Duration::from_millis(500))?;
    connection.set_read_timeout(Some(Duration::from_secs(1)))?;
    let pong: String = redis::cmd("PING").query(&mut connection)?;
    if pong != "PONG" {
        return Err(redis::RedisError::from((
            redis::ErrorKind::UnexpectedReturnType,
            "PING answered",
            pong,
        )));
    }
    let info: String = redis::cmd("INFO").arg("server").query(&mut connection)?;
    info.lines()
        .find_map(|line| line.strip_prefix("process_id:"))
        .and_then(|pid| pid.trim().parse().ok())
        .ok_or_else(|| {
            redis::RedisError::from((
                redis::ErrorKind::UnexpectedReturnType,
                "INFO server has no process_id",
            ))
        })
}

/// The state letter of process `pid` from `/proc/PID/stat` (`T` when stopped).
fn process_state(pid: u32) -> char {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|err| panic!("cannot read /proc/{pid}/stat: {err}"));
    // "PID (COMM) STATE …": COMM may hold spaces and parentheses, so split at the last ')'.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next())
        .unwrap_or_else(|| panic!("unexpected /proc/{pid}/stat: {stat:?}"))
}

/// Percent-encodes everything but RFC 3986 unreserved characters, for URL userinfo.
fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            write!(encoded, "%{byte:02X}").expect("writing to a String cannot fail");
        }
    }
    encoded
}

/// Runs `command` with piped output; kills it (its own pid) after `timeout`.
/// `Ok(stdout)` without the final newline on success, `Err` describing a failure.
fn run_with_deadline(mut command: Command, timeout: Duration) -> Result<String, String> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| {
            panic!("cannot run {command:?}: {err} (Debian: redis-cli comes with redis-tools)")
        });
    // Read both pipes on their own threads so a full pipe cannot stall the child.
    let stdout = read_on_thread(child.stdout.take().expect("stdout is piped"));
    let stderr = read_on_thread(child.stderr.take().expect("stderr is piped"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("cannot poll redis-cli") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} took longer than {timeout:?}; killed");
        }
        thread::sleep(Duration::from_millis(5));
    };
    let stdout = stdout.join().expect("stdout reader panicked");
    let stderr = stderr.join().expect("stderr reader panicked");
    if status.success() {
        Ok(stdout.strip_suffix('\n').unwrap_or(&stdout).to_owned())
    } else {
        Err(format!(
            "{status}: {}{}",
            stderr.trim_end(),
            stdout.trim_end()
        ))
    }
}

/// Reads `pipe` to its end on a new thread.
fn read_on_thread(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}
