//! Wiring of the whole emulator: builds the supervisor, the control plane and the HTTP router,
//! binds the API listener (served by `api_listener` under its timeouts and connection cap), and
//! tears everything down on shutdown.
//!
//! `main` calls [`run_until_shutdown`]; integration tests call [`start`] to get a running
//! emulator on an ephemeral port and a [`RunningServer`] handle to stop it.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::api_listener::{self, ServeOptions};
use crate::ci;
use crate::config::{Addressing, Config};
use crate::control::context::ContextDefaults;
use crate::control::handlers::Service;
use crate::control::http;
use crate::control::protocol::Limits;
use crate::health::{self, Health};
use crate::persistence::Persistence;
use crate::status::{self, Status};
use crate::supervisor::Supervisor;
use crate::tls::LocalCa;

/// How long in-flight API requests may take to finish after a shutdown signal before their
/// connections are dropped (keep-alive connections would otherwise hold shutdown open).
const HTTP_DRAIN: Duration = Duration::from_millis(300);

/// How long stopping every engine node may take before the process exits anyway.
const NODES_DRAIN: Duration = Duration::from_millis(500);

/// A running emulator: its API address, its supervisor, and the means to stop it.
pub struct RunningServer {
    addr: SocketAddr,
    supervisor: Arc<Supervisor>,
    /// State kept in `--data-dir`, if any.
    persistence: Option<Arc<Persistence>>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
}

impl RunningServer {
    /// Address the ElastiCache Query API listens on (the real port when `--listen` asked for 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL of the API, for `--endpoint-url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The supervisor owning every engine node.
    pub fn supervisor(&self) -> &Arc<Supervisor> {
        &self.supervisor
    }

    /// Stops accepting API requests, lets in-flight ones finish (briefly), saves the state and
    /// the nodes' data (with `--data-dir`), then stops every engine node. Returns within about a
    /// second, plus the time saving takes.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match tokio::time::timeout(HTTP_DRAIN, &mut self.task).await {
            Ok(Ok(Err(err))) => tracing::warn!(%err, "API server ended with an error"),
            Ok(_) => {}
            Err(_) => {
                tracing::debug!("API connections still open after drain time; closing them");
                self.task.abort();
            }
        }
        if let Some(persistence) = &self.persistence {
            persistence.save_on_shutdown().await;
        }
        if tokio::time::timeout(NODES_DRAIN, self.supervisor.shutdown_all())
            .await
            .is_err()
        {
            tracing::warn!("some engine nodes did not stop in time");
        }
    }
}

/// Builds everything and starts serving the API; returns once the listener is bound. With a
/// data directory, the saved state is restored (every node running again) first; a state file
/// that cannot be loaded is an error and nothing is served.
pub async fn start(config: Config) -> io::Result<RunningServer> {
    let ca = open_ca(&config)?;
    let supervisor = Arc::new(Supervisor::with_ca(&config, ca.clone()));
    let service = Arc::new(Service::new(&config, supervisor.clone()));
    let persistence = match &config.data_dir {
        Some(dir) => match Persistence::open(dir, service.clone()).await {
            Ok(p) => Some(p),
            Err(err) => {
                supervisor.shutdown_all().await;
                return Err(err);
            }
        },
        None => None,
    };
    // Automatic snapshots: a pass a minute is precise enough for daily windows.
    service.spawn_snapshot_scheduler(std::time::Duration::from_secs(60));
    let readiness = match &config.init_dir {
        Some(dir) => ci::Readiness::pending(dir),
        None => ci::Readiness::ready(),
    };
    let app = build_app(
        &config,
        &service,
        &supervisor,
        ca,
        persistence.as_ref(),
        &readiness,
    );
    let listener = TcpListener::bind(config.listen).await.map_err(|err| {
        io::Error::new(
            err.kind(),
            format!("cannot listen on {}: {err}", config.listen),
        )
    })?;
    let addr = listener.local_addr()?;
    if let Some(p) = &persistence {
        p.spawn_writer();
    }
    if let Some(dir) = &config.init_dir {
        spawn_init(&config, dir, addr, persistence.as_ref(), service, readiness);
    }
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let options = ServeOptions {
        header_timeout: config.api_header_timeout,
        max_connections: config.api_max_connections as usize,
    };
    let task = tokio::spawn(api_listener::serve(listener, app, options, async move {
        let _ = stop_rx.await;
    }));
    Ok(RunningServer {
        addr,
        supervisor,
        persistence,
        stop: Some(stop_tx),
        task,
    })
}

/// The local certificate authority every TLS endpoint's certificate comes from: kept in the
/// data directory when there is one (clients trust it once), in memory otherwise.
fn open_ca(config: &Config) -> io::Result<Arc<LocalCa>> {
    let ca = match &config.data_dir {
        Some(dir) => LocalCa::in_dir(dir),
        None => LocalCa::ephemeral(),
    }
    .map(Arc::new)
    .map_err(|e| io::Error::other(format!("TLS certificate authority: {e}")))?;
    match ca.path() {
        Some(path) => tracing::info!(ca = %path.display(), url = health::CA_PATH, "TLS CA"),
        None => tracing::info!(
            url = health::CA_PATH,
            "TLS CA in memory (set --data-dir to keep it)"
        ),
    }
    tracing::info!(
        s3_dir = %config.effective_s3_dir().display(),
        "S3 stand-in for snapshot exports and SnapshotArns"
    );
    Ok(ca)
}

/// Every HTTP route on the API port: /health, the status page, the CI and fault-injection
/// JSON APIs, and the Query API.
fn build_app(
    config: &Config,
    service: &Arc<Service>,
    supervisor: &Arc<Supervisor>,
    ca: Arc<LocalCa>,
    persistence: Option<&Arc<Persistence>>,
    readiness: &Arc<ci::Readiness>,
) -> Router {
    let addressing = match config.addressing {
        Addressing::Loopback => "loopback",
        Addressing::Ports => "ports",
    };
    let counted = service.clone();
    let resources: health::ResourceCounts = Arc::new(move || {
        let mut counts = counted.resource_counts();
        counts["regions"] = counted.region_summaries();
        counts
    });
    let defaults = ContextDefaults {
        account: config.account_id.clone(),
        region: config.region.clone(),
    };
    let faults = crate::faults::Faults::new(service.clone(), defaults.clone());
    let (viewed, shown) = (service.clone(), faults.clone());
    let status = Status::new(
        supervisor.clone(),
        Arc::new(move || {
            let mut overview = viewed.overview();
            overview["faults"] = shown.health();
            overview
        }),
    );
    let listed = faults.clone();
    let mut health = Health::new(addressing, supervisor.clone(), resources, ca)
        .with_faults(Arc::new(move || listed.health()))
        .with_readiness(readiness.clone());
    if let Some(p) = persistence {
        health = health.with_persistence(p.report());
    }
    let app = Router::new()
        .merge(health::router(health))
        .merge(status::router(status.clone()))
        .merge(ci::router(
            service.clone(),
            persistence.cloned(),
            faults.clone(),
        ))
        .merge(http::router_with(
            service.clone(),
            defaults,
            Limits::default(),
            config.api_body_timeout,
        ));
    // The status page answers `GET /` without an `Action`; the Query API keeps the rest.
    let app = status::page_layer(app, status);
    // Fault injection's JSON API beside the Query API (its paths are more specific).
    app.merge(crate::faults::router(faults))
}

/// Runs the `--init-dir` files against the API once it listens (on loopback when it listens
/// on every interface); files are skipped when a saved state was restored.
fn spawn_init(
    config: &Config,
    dir: &std::path::Path,
    addr: std::net::SocketAddr,
    persistence: Option<&Arc<Persistence>>,
    service: Arc<Service>,
    readiness: Arc<ci::Readiness>,
) {
    let mut reach = addr;
    if reach.ip().is_unspecified() {
        reach.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let restored = persistence.is_some_and(|p| p.report()["restored"] == true);
    tokio::spawn(ci::init::run(ci::init::InitRun {
        dir: dir.to_path_buf(),
        endpoint: format!("http://{reach}"),
        skip_files: restored,
        region: config.region.clone(),
        service,
        readiness,
    }));
}

/// Runs the emulator until Ctrl-C or SIGTERM, then stops every engine node.
pub async fn run_until_shutdown(config: Config) -> io::Result<()> {
    let addressing = match config.addressing {
        Addressing::Loopback => format!("loopback (node addresses from {})", config.loopback_base),
        Addressing::Ports => format!(
            "ports (node ports {} advertised as {})",
            config.port_range,
            config.advertised_host()
        ),
    };
    let mut signals = crate::shutdown::Signals::install();
    if config.addressing == Addressing::Loopback {
        warn_if_loopback_unusable(&config);
    }
    let server = start(config).await?;
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        addressing = %addressing,
        "elasticache-local listening on {}",
        server.url()
    );
    signals.recv().await;
    server.shutdown().await;
    tracing::info!("elasticache-local stopped");
    Ok(())
}

/// Loopback addressing needs every 127.x address to be bindable (true on Linux, not on macOS
/// without aliases); say so at startup rather than at the first CreateCacheCluster.
fn warn_if_loopback_unusable(config: &Config) {
    let probe = SocketAddr::new(config.loopback_base, 0);
    if let Err(err) = std::net::TcpListener::bind(probe) {
        tracing::warn!(
            %err,
            "cannot bind {} for loopback addressing; nodes will fail to start \
             (use --addressing ports, or add the loopback aliases)",
            config.loopback_base
        );
    }
}
