//! The docker runtime's teardown, registry of live runs, label sweeps
//! (`gc`, the panic/interrupt hooks' removal) and those hooks.
//!
//! It must never remove anything not labelled as the lab's, and never a
//! live run's containers from `gc`.

use super::*;

static LIVE: Mutex<Vec<String>> = Mutex::new(Vec::new());
static HOOKS: std::sync::OnceLock<()> = std::sync::OnceLock::new();

pub(super) fn register(run_id: &str) {
    install_docker_hooks();
    lock(&LIVE).push(run_id.to_string());
}
pub(super) fn unregister(run_id: &str) {
    lock(&LIVE).retain(|r| r != run_id);
}
pub(super) fn is_live(run_id: &str) -> bool {
    lock(&LIVE).iter().any(|r| r == run_id)
}

/// How long to let the engine settle between two removals of containers
/// with their own network endpoint. Docker 20.10's libnetwork deadlocks
/// when one container leaves a network while another's endpoint deletion
/// is processed (moby/moby#46661: `getSvcRecords` vs
/// `processEndpointDelete`); seen here with `docker.io` 20.10.24 when a
/// run's two pause containers and HAProxy were killed at once: every later
/// network call of the engine hung. One at a time, with a pause, avoids it.
const ENDPOINT_GAP: Duration = Duration::from_millis(150);

/// SIGTERM every running container that joined a pod (they own no network
/// endpoint), 2 s, SIGKILL them; then remove the endpoint owners (HAProxy,
/// pause containers) one at a time, newest first; then everything else of
/// the run and the network.
pub(super) async fn teardown(inner: &Inner) {
    let procs: Vec<(Proc, Handle)> = lock(&inner.procs).clone();
    let endpoints: Vec<String> = lock(&inner.endpoints).clone();
    let rt_kill = |id: String, sig: Signal| {
        let docker = inner.docker.clone();
        async move {
            if let Err(e) = super::signal::kill(&docker, &id, sig).await {
                tracing::debug!("teardown: docker kill {id} with {}: {e}", sig.name());
            }
        }
    };
    let joined: Vec<(Proc, String)> = procs
        .iter()
        .filter_map(|(p, h)| match h {
            Handle::Container(id) if !endpoints.contains(id) => Some((p.clone(), id.clone())),
            _ => None,
        })
        .collect();
    futures::future::join_all(
        joined
            .iter()
            .filter(|(p, _)| p.is_running())
            .map(|(_, id)| rt_kill(id.clone(), Signal::Term)),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline && joined.iter().any(|(p, _)| p.is_running()) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    futures::future::join_all(
        joined
            .iter()
            .filter(|(p, _)| p.is_running())
            .map(|(_, id)| rt_kill(id.clone(), Signal::Kill)),
    )
    .await;
    for id in endpoints.iter().rev() {
        remove_one(&inner.docker, id).await;
        tokio::time::sleep(ENDPOINT_GAP).await;
    }
    remove_run(&inner.docker, &inner.run_id).await;
    unregister(&inner.run_id);
}

/// Force-removes one container (killing it first) with its anonymous volumes.
async fn remove_one(docker: &Docker, id: &str) -> bool {
    let o = RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build();
    docker.remove_container(id, Some(o)).await.is_ok()
}

fn filters(key: &str, value: &str) -> HashMap<String, Vec<String>> {
    [("label".to_string(), vec![format!("{key}={value}")])].into()
}

/// Removes every container, network and volume labelled with `run_id`.
pub(super) async fn remove_run(docker: &Docker, run_id: &str) -> usize {
    remove_matching(docker, &filters(RUN_LABEL, run_id), |_| true).await
}

/// Removes the containers, networks and volumes matching `f` whose
/// labels pass `keep_if`... (true: remove). Returns how many went.
async fn remove_matching(
    docker: &Docker,
    f: &HashMap<String, Vec<String>>,
    select: impl Fn(&HashMap<String, String>) -> bool,
) -> usize {
    let mut n = 0;
    let opts = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(f)
        .build();
    if let Ok(cs) = docker.list_containers(Some(opts)).await {
        let picked: Vec<_> = cs
            .into_iter()
            .filter(|c| select(&c.labels.clone().unwrap_or_default()))
            .collect();
        // Containers that joined another's namespace own no endpoint: at
        // once. Endpoint owners: one at a time (see ENDPOINT_GAP).
        let (joined, owners): (Vec<_>, Vec<_>) = picked.into_iter().partition(|c| {
            c.host_config
                .as_ref()
                .and_then(|h| h.network_mode.as_deref())
                .is_some_and(|m| m.starts_with("container:"))
        });
        let rm = joined
            .into_iter()
            .filter_map(|c| c.id)
            .map(|id| async move { remove_one(docker, &id).await });
        n += futures::future::join_all(rm)
            .await
            .into_iter()
            .filter(|ok| *ok)
            .count();
        for id in owners.into_iter().filter_map(|c| c.id) {
            n += usize::from(remove_one(docker, &id).await);
            tokio::time::sleep(ENDPOINT_GAP).await;
        }
    }
    let nopts = ListNetworksOptionsBuilder::new().filters(f).build();
    if let Ok(nets) = docker.list_networks(Some(nopts)).await {
        for net in nets {
            if !select(&net.labels.clone().unwrap_or_default()) {
                continue;
            }
            if let Some(id) = net.id {
                n += usize::from(docker.remove_network(&id).await.is_ok());
            }
        }
    }
    let vopts = bollard::query_parameters::ListVolumesOptionsBuilder::new()
        .filters(f)
        .build();
    if let Ok(v) = docker.list_volumes(Some(vopts)).await {
        for vol in v.volumes.unwrap_or_default() {
            if select(&vol.labels) {
                n += usize::from(
                    docker
                        .remove_volume(
                            &vol.name,
                            None::<bollard::query_parameters::RemoveVolumeOptions>,
                        )
                        .await
                        .is_ok(),
                );
            }
        }
    }
    n
}

/// Runs the future `make` returns to its end on a new thread named `name`
/// with a tokio runtime of its own (usable from a panic hook, a sync
/// context, or outside any runtime).
fn on_own_thread<F: std::future::Future<Output = ()> + 'static>(
    name: &str,
    make: impl FnOnce() -> F + Send + 'static,
) {
    let spawned = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(make());
        });
    if let Err(e) = spawned {
        eprintln!("harness: cannot start thread {name}: {e}");
    }
}

/// Runs `f` on a fresh thread with its own engine connection (usable from
/// a panic hook or a sync context), bounded by 15 s.
fn blocking<T: Send + 'static>(
    f: impl FnOnce(Docker) -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>
        + Send
        + 'static,
) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    on_own_thread("lab-docker-sweep", move || async move {
        let out = match connect().await {
            Ok(d) => Some(f(d).await),
            Err(_) => None,
        };
        // The caller may have stopped waiting (15 s): then nobody wants it.
        let _ = tx.send(out);
    });
    rx.recv_timeout(Duration::from_secs(15)).ok().flatten()
}

/// Removes everything of `run_id` from a sync context (Drop, hooks).
pub fn remove_run_blocking(run_id: &str) {
    let id = run_id.to_string();
    let _ = blocking(move |d| Box::pin(async move { remove_run(&d, &id).await }));
    unregister(run_id);
}

pub(super) fn remove_live_runs() {
    let runs = LIVE.try_lock().map(|l| l.clone()).unwrap_or_default();
    for r in runs {
        remove_run_blocking(&r);
    }
}

/// What `gc` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DockerSwept {
    /// Containers, networks and volumes removed.
    pub removed: usize,
    /// Whether an engine answered at all.
    pub engine: bool,
}

/// Removes every lab container/network/volume whose harness is gone
/// (its owner label names a dead process) and whose run is not live here.
/// Without an engine it does nothing.
pub fn gc() -> DockerSwept {
    let live = lock(&LIVE).clone();
    let out = blocking(move |d| {
        Box::pin(async move {
            let f = filters(LAB_LABEL, "1");
            remove_matching(&d, &f, |labels| {
                let run = labels.get(RUN_LABEL).cloned().unwrap_or_default();
                let owner_alive = labels
                    .get(OWNER_LABEL)
                    .is_some_and(|o| super::super::procscan::owner_alive(o));
                !live.contains(&run) && !owner_alive
            })
            .await
        })
    });
    DockerSwept {
        removed: out.unwrap_or(0),
        engine: out.is_some(),
    }
}

/// Once per process: a panic hook removing every live docker run, and a
/// thread that does the same when the harness is interrupted (Ctrl-C/SIGTERM,
/// via `install_cleanup_hooks`'s `Interrupts`).
pub fn install_docker_hooks() {
    HOOKS.get_or_init(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            remove_live_runs();
            prev(info);
        }));
        let interrupts = crate::runtime::install_cleanup_hooks();
        on_own_thread("lab-docker-interrupts", move || async move {
            interrupts.recv().await;
            remove_live_runs();
        });
    });
}
