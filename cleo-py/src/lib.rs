//! Python bindings: `import cleo`.
//!
//! One tokio runtime per process serves every client. Blocking calls run the fetch on
//! that runtime and wait for it with the GIL released, waking every 100 ms to let
//! Python deliver signals, so Ctrl-C interrupts a slow call.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::{ArcSwap, ArcSwapOption};
use std::sync::mpsc::{RecvTimeoutError, sync_channel};
use std::time::{Duration, SystemTime};

use cleo_core::{Config, ErrorKind, Registry};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

create_exception!(
    cleo,
    CleoError,
    PyException,
    "Base class of every error cleo raises."
);
create_exception!(
    cleo,
    NotFoundError,
    CleoError,
    "The secret, field, version or logical name does not exist."
);
create_exception!(
    cleo,
    PermissionDeniedError,
    CleoError,
    "The credentials are valid but may not read this secret."
);
create_exception!(
    cleo,
    UnauthenticatedError,
    CleoError,
    "No usable credentials: missing, expired, revoked or rejected."
);
create_exception!(
    cleo,
    InvalidReferenceError,
    CleoError,
    "The reference is malformed or names an unknown scheme."
);
create_exception!(
    cleo,
    ConfigError,
    CleoError,
    "cleo.toml or the environment is missing something or is wrong."
);
create_exception!(
    cleo,
    UnsupportedError,
    CleoError,
    "The backend does not support this reference form or operation."
);
create_exception!(
    cleo,
    UnavailableError,
    CleoError,
    "The backend cannot be reached or answered with a server error; a retry may help."
);
create_exception!(
    cleo,
    RateLimitedError,
    UnavailableError,
    "The backend asked cleo to slow down; a retry later may help."
);
create_exception!(
    cleo,
    InvalidDataError,
    CleoError,
    "The value is not in the asked form (for example not UTF-8 text)."
);

fn to_py_err(e: cleo_core::Error) -> PyErr {
    let msg = e.to_string();
    match e.kind() {
        ErrorKind::NotFound => NotFoundError::new_err(msg),
        ErrorKind::PermissionDenied => PermissionDeniedError::new_err(msg),
        ErrorKind::Unauthenticated => UnauthenticatedError::new_err(msg),
        ErrorKind::InvalidReference => InvalidReferenceError::new_err(msg),
        ErrorKind::ConfigInvalid => ConfigError::new_err(msg),
        ErrorKind::Unsupported => UnsupportedError::new_err(msg),
        ErrorKind::Unavailable => UnavailableError::new_err(msg),
        ErrorKind::RateLimited => RateLimitedError::new_err(msg),
        ErrorKind::InvalidData => InvalidDataError::new_err(msg),
        _ => CleoError::new_err(msg),
    }
}

/// Bumped in a child process right after `fork()` (registered with
/// `os.register_at_fork`). A runtime or client made under an older generation
/// belongs to the parent: its threads and connections do not exist in the child.
static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);

/// Called by Python in the child after `os.fork()`.
#[pyfunction]
fn _after_fork_in_child() {
    FORK_GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// Something that belongs to one process generation.
struct Owned<T> {
    generation: u64,
    value: T,
}

/// One runtime per process: the parent's, or after a fork a new one for the child
/// (the parent's is left alone, since its worker threads are not in the child).
/// Lock-free, so a lock held by a parent thread at fork time cannot block the child.
fn runtime() -> PyResult<&'static tokio::runtime::Runtime> {
    static RUNTIME: ArcSwapOption<Owned<&'static tokio::runtime::Runtime>> =
        ArcSwapOption::const_empty();
    let generation = FORK_GENERATION.load(Ordering::SeqCst);
    if let Some(rt) = RUNTIME
        .load()
        .as_ref()
        .filter(|r| r.generation == generation)
    {
        return Ok(rt.value);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("cleo-runtime")
        .enable_all()
        .build()
        .map_err(|e| CleoError::new_err(format!("cannot start cleo's runtime: {e}")))?;
    let rt: &'static tokio::runtime::Runtime = Box::leak(Box::new(rt));
    let new = Arc::new(Owned {
        generation,
        value: rt,
    });
    let prev = RUNTIME.compare_and_swap(&RUNTIME.load_full(), Some(Arc::clone(&new)));
    match prev.as_ref() {
        // Another thread won the race for this generation: use its runtime (ours
        // is leaked, unused; this happens at most once per process).
        Some(p) if p.generation == generation => Ok(p.value),
        _ => Ok(rt),
    }
}

/// Runs `fut` on the shared runtime and waits with the GIL released, checking for
/// signals every 100 ms. An interrupted call is cancelled on the runtime.
fn wait<T: Send + 'static>(
    py: Python<'_>,
    fut: impl Future<Output = cleo_core::Result<T>> + Send + 'static,
) -> PyResult<T> {
    let rt = runtime()?;
    let (tx, rx) = sync_channel(1);
    let handle = rt.spawn(async move {
        let _ = tx.send(fut.await);
    });
    let mut rx = rx;
    loop {
        // The receiver is Send but not Sync, so it moves into the GIL-free closure and back.
        let (outcome, back) = py.detach(move || (rx.recv_timeout(Duration::from_millis(100)), rx));
        rx = back;
        match outcome {
            Ok(result) => return result.map_err(to_py_err),
            Err(RecvTimeoutError::Timeout) => {
                if let Err(interrupt) = py.check_signals() {
                    handle.abort();
                    return Err(interrupt);
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(CleoError::new_err(
                    "the request was cancelled before it finished",
                ));
            }
        }
    }
}

fn epoch_seconds(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A secret value with its metadata.
///
/// ``repr``, ``str``, ``format`` and f-strings never show the value, and it cannot
/// be pickled or copied. ``expose()`` and ``expose_bytes()`` are the only ways out;
/// the ``str`` or ``bytes`` they return is a Python object cleo cannot wipe.
#[pyclass(frozen, module = "cleo", name = "Secret")]
struct PySecret {
    inner: cleo_core::Secret,
}

#[pymethods]
impl PySecret {
    /// The value as text. Raises ``InvalidDataError`` if it is not UTF-8.
    fn expose(&self) -> PyResult<String> {
        self.inner
            .expose_str()
            .map(str::to_owned)
            .map_err(to_py_err)
    }

    /// The value as bytes, exactly as the backend stores it.
    fn expose_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.expose_secret())
    }

    /// The reference the secret was fetched by.
    #[getter]
    fn reference(&self) -> String {
        self.inner.meta().reference.clone()
    }

    /// The backend that served it (``vault``, ``env``, ``file``).
    #[getter]
    fn backend(&self) -> &'static str {
        self.inner.meta().backend
    }

    /// The backend's version of the value, or ``None``.
    #[getter]
    fn version(&self) -> Option<String> {
        self.inner.meta().version.clone()
    }

    /// When it was fetched, in seconds since the epoch.
    #[getter]
    fn fetched_at(&self) -> f64 {
        epoch_seconds(self.inner.meta().fetched_at)
    }

    /// When the backend says it expires, in seconds since the epoch, or ``None``.
    #[getter]
    fn expires_at(&self) -> Option<f64> {
        self.inner.meta().expires_at.map(epoch_seconds)
    }

    /// Whether the backend can renew it.
    #[getter]
    fn renewable(&self) -> bool {
        self.inner.meta().renewable
    }

    fn __repr__(&self) -> String {
        let m = self.inner.meta();
        format!(
            "Secret(reference={:?}, backend={:?}, version={}, value=<redacted>)",
            m.reference,
            m.backend,
            m.version
                .as_deref()
                .map_or("None".to_owned(), |v| format!("{v:?}"))
        )
    }

    fn __str__(&self) -> &'static str {
        "<redacted>"
    }

    fn __format__(&self, _spec: &str) -> &'static str {
        "<redacted>"
    }

    fn __reduce__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err(
            "cleo.Secret cannot be pickled or copied: pass the reference and fetch it where it is needed",
        ))
    }

    fn __copy__(&self) -> PyResult<()> {
        self.__reduce__()
    }

    fn __deepcopy__(&self, _memo: Bound<'_, PyAny>) -> PyResult<()> {
        self.__reduce__()
    }
}

/// Temporary AWS credentials from an assumed role.
///
/// ``repr`` shows the access key id and expiry only. ``expose()`` returns the keyword
/// arguments boto3 takes (``boto3.client("s3", **creds.expose())``); the strings in it
/// are Python objects cleo cannot wipe. Cannot be pickled or copied.
#[pyclass(frozen, module = "cleo", name = "AwsCredentials")]
struct PyAwsCredentials {
    inner: Arc<cleo_aws::AwsCredentials>,
}

#[pymethods]
impl PyAwsCredentials {
    /// The access key id (an identifier, not a secret).
    #[getter]
    fn access_key_id(&self) -> &str {
        self.inner.access_key_id()
    }

    /// When the credentials expire, in seconds since the Unix epoch.
    #[getter]
    fn expires_at(&self) -> Option<f64> {
        self.inner.expiry().map(epoch_seconds)
    }

    /// ``aws_access_key_id``, ``aws_secret_access_key`` and ``aws_session_token``, as
    /// boto3 clients and sessions take them.
    fn expose<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        let d = pyo3::types::PyDict::new(py);
        d.set_item("aws_access_key_id", self.inner.access_key_id())?;
        d.set_item("aws_secret_access_key", self.inner.secret_access_key())?;
        d.set_item("aws_session_token", self.inner.session_token())?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!(
            "AwsCredentials(access_key_id=\"{}\", expires_at={}, secret_access_key=<redacted>, session_token=<redacted>)",
            self.inner.access_key_id(),
            self.expires_at()
                .map_or("None".to_owned(), |t| format!("{t:.0}")),
        )
    }

    fn __str__(&self) -> String {
        self.__repr__()
    }

    fn __reduce__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err(
            "cleo.AwsCredentials cannot be pickled or copied: call aws_credentials() where they are needed",
        ))
    }

    fn __copy__(&self) -> PyResult<()> {
        self.__reduce__()
    }

    fn __deepcopy__(&self, _memo: Bound<'_, PyAny>) -> PyResult<()> {
        self.__reduce__()
    }
}

/// Reads secrets by reference or logical name.
///
/// ``config`` is the path of a ``cleo.toml``; without it cleo uses ``$CLEO_CONFIG``,
/// then ``./cleo.toml``, then no config at all.
#[pyclass(frozen, module = "cleo", name = "Client")]
struct PyClient {
    config: Option<PathBuf>,
    current: ArcSwap<Owned<cleo_core::Client>>,
    /// AWS roles asked for by name, each cached and refreshed ahead of expiry; made
    /// on first use and again in a child after a fork.
    aws: std::sync::Mutex<Option<Owned<AwsRoles>>>,
}

type RoleProvider = cleo_core::CachedCredentialProvider<cleo_aws::AssumeRoleProvider>;

struct AwsRoles {
    context: Arc<cleo_aws::AwsContext>,
    roles: std::collections::HashMap<String, Arc<RoleProvider>>,
}

impl PyClient {
    /// The cached provider of `role` (an ARN, or a name under `[aws.roles]`).
    fn role_provider(&self, py: Python<'_>, role: &str) -> PyResult<Arc<RoleProvider>> {
        let generation = FORK_GENERATION.load(Ordering::Relaxed);
        let context = {
            let mut slot = self.aws.lock().unwrap_or_else(|e| e.into_inner());
            if slot.as_ref().is_none_or(|o| o.generation != generation) {
                let client = self.client()?;
                let config = client.config();
                let section: cleo_aws::AwsConfig = config.section("aws").map_err(to_py_err)?;
                let cache = config.cache_settings().map_err(to_py_err)?;
                let context = cleo_aws::AwsContext::new(section, cache).map_err(to_py_err)?;
                *slot = Some(Owned {
                    generation,
                    value: AwsRoles {
                        context: Arc::new(context),
                        roles: Default::default(),
                    },
                });
            }
            let owned = slot.as_ref().expect("set above");
            if let Some(p) = owned.value.roles.get(role) {
                return Ok(Arc::clone(p));
            }
            Arc::clone(&owned.value.context)
        };
        let name = role.to_owned();
        let provider = wait(py, async move {
            if name.starts_with("arn:") {
                context.assume(cleo_aws::RoleOptions::new(&name)).await
            } else {
                context.role(&name).await
            }
        })?;
        let provider = Arc::new(provider);
        let mut slot = self.aws.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(owned) = slot.as_mut().filter(|o| o.generation == generation) {
            return Ok(Arc::clone(
                owned.value.roles.entry(role.to_owned()).or_insert(provider),
            ));
        }
        Ok(provider)
    }

    /// The client for this process: after a fork, the child gets a fresh one (new
    /// connections, empty cache) built from the same configuration.
    fn client(&self) -> PyResult<cleo_core::Client> {
        let generation = FORK_GENERATION.load(Ordering::Relaxed);
        let current = self.current.load();
        if current.generation == generation {
            return Ok(current.value.clone());
        }
        let fresh = build_client(self.config.clone()).map_err(to_py_err)?;
        self.current.store(Arc::new(Owned {
            generation,
            value: fresh.clone(),
        }));
        Ok(fresh)
    }
}

fn build_client(config: Option<PathBuf>) -> cleo_core::Result<cleo_core::Client> {
    let config = Config::discover(config.as_deref())?;
    let mut registry = Registry::with_builtin();
    cleo_vault::register(&mut registry, &config)?;
    cleo_aws::register(&mut registry, &config)?;
    cleo_core::Client::new(config, registry)
}

#[pymethods]
impl PyClient {
    #[new]
    #[pyo3(signature = (config = None))]
    fn new(config: Option<PathBuf>) -> PyResult<Self> {
        let client = build_client(config.clone()).map_err(to_py_err)?;
        Ok(PyClient {
            config,
            current: ArcSwap::from_pointee(Owned {
                generation: FORK_GENERATION.load(Ordering::SeqCst),
                value: client,
            }),
            aws: std::sync::Mutex::new(None),
        })
    }

    /// Temporary AWS credentials for ``role``: a role ARN, or a name under
    /// ``[aws.roles]`` in ``cleo.toml`` (default: ``[aws] role``). Cached per role and
    /// refreshed ahead of expiry, so calling this before each use is cheap::
    ///
    ///     creds = client.aws_credentials("artifacts")
    ///     s3 = boto3.client("s3", **creds.expose())
    #[pyo3(signature = (role = None))]
    fn aws_credentials(&self, py: Python<'_>, role: Option<String>) -> PyResult<PyAwsCredentials> {
        let role = match role {
            Some(r) => r,
            None => {
                let client = self.client()?;
                let section: cleo_aws::AwsConfig =
                    client.config().section("aws").map_err(to_py_err)?;
                section.role.ok_or_else(|| {
                    ConfigError::new_err(
                        "which role? pass aws_credentials(role=...) with an ARN or a name \
                         under [aws.roles], or set [aws] role in cleo.toml",
                    )
                })?
            }
        };
        let provider = self.role_provider(py, &role)?;
        let inner = wait(py, async move {
            cleo_core::CredentialProvider::credential(&*provider).await
        })?;
        Ok(PyAwsCredentials { inner })
    }

    /// Whether ``name`` is a logical name in the ``[secrets]`` table of ``cleo.toml``.
    fn has_name(&self, name: &str) -> PyResult<bool> {
        Ok(self.client()?.config().secret(name).is_some())
    }

    /// Fetches a secret by reference (``vault://...``, ``env://...``, ``file:///...``)
    /// or logical name from ``cleo.toml``. Releases the GIL while it waits.
    fn get(&self, py: Python<'_>, reference: &str) -> PyResult<PySecret> {
        // The hot path borrows the current client instead of cloning it.
        let current = self.current.load();
        if current.generation == FORK_GENERATION.load(Ordering::Relaxed) {
            return get_with(py, &current.value, reference);
        }
        drop(current);
        get_with(py, &self.client()?, reference)
    }

    /// Drops the cached value for ``reference`` so the next ``get`` fetches it again
    /// (for example after a server answered 401 to a cached token). A logical name and
    /// its reference share one entry; a reference that names nothing raises.
    fn invalidate(&self, reference: &str) -> PyResult<()> {
        self.client()?.invalidate(reference).map_err(to_py_err)
    }

    /// An awaitable ``get`` for asyncio code: the fetch runs on cleo's runtime and the
    /// event loop is not blocked. A cache hit completes at once.
    fn get_async<'py>(&self, py: Python<'py>, reference: String) -> PyResult<Bound<'py, PyAny>> {
        let asyncio = py.import("asyncio")?;
        let event_loop = asyncio.call_method0("get_running_loop")?;
        let future = event_loop.call_method0("create_future")?;
        let client = self.client()?;
        if let Some(inner) = client.get_cached(&reference) {
            future.call_method1("set_result", (PySecret { inner },))?;
            return Ok(future);
        }
        let loop_ref = event_loop.unbind();
        let future_ref = future.clone().unbind();
        runtime()?.spawn(async move {
            let result = client.get(&reference).await;
            Python::attach(|py| {
                let future = future_ref.bind(py);
                // The awaiting task may have been cancelled meanwhile.
                if future
                    .call_method0("done")
                    .and_then(|d| d.extract::<bool>())
                    .unwrap_or(true)
                {
                    return;
                }
                let (setter, value): (&str, Py<PyAny>) = match result {
                    Ok(inner) => match Py::new(py, PySecret { inner }) {
                        Ok(v) => ("set_result", v.into_any()),
                        Err(e) => ("set_exception", e.into_value(py).into_any()),
                    },
                    Err(e) => ("set_exception", to_py_err(e).into_value(py).into_any()),
                };
                if let Ok(f) = future.getattr(setter) {
                    let _ = loop_ref
                        .bind(py)
                        .call_method1("call_soon_threadsafe", (f, value));
                }
            });
        });
        Ok(future)
    }

    /// Sets environment variables from references for the ``with`` block and restores
    /// the previous values (or their absence) on exit::
    ///
    ///     with client.env({"MLFLOW_TRACKING_TOKEN": "mlflow/api_token"}):
    ///         run_training()
    ///
    /// The values are Python strings in ``os.environ`` while the block runs.
    fn env(&self, mapping: std::collections::BTreeMap<String, String>) -> PyResult<EnvBlock> {
        Ok(EnvBlock {
            client: self.client()?,
            mapping,
            saved: std::sync::Mutex::new(None),
        })
    }

    /// Drops cached values and revokes the leases this client's sources handed out.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let client = self.client()?;
        wait(py, async move { client.close().await })
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Bound<'_, PyAny>,
        _exc: Bound<'_, PyAny>,
        _tb: Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    /// The path of the config file in use, or ``None``.
    #[getter]
    fn config_path(&self) -> Option<PathBuf> {
        self.current.load().value.config().path().map(PathBuf::from)
    }

    fn __repr__(&self) -> String {
        let current = self.current.load();
        let config = current
            .value
            .config()
            .path()
            .map_or("None".to_owned(), |p| format!("'{}'", p.display()));
        format!(
            "Client(config={config}, schemes={:?})",
            current.value.registry().schemes()
        )
    }
}

/// Each variable set by an `EnvBlock`, with the value it had before (if any).
type SavedEnv = Vec<(String, Option<Py<PyAny>>)>;

/// The context manager returned by ``Client.env``.
#[pyclass(module = "cleo", name = "EnvBlock")]
struct EnvBlock {
    client: cleo_core::Client,
    mapping: std::collections::BTreeMap<String, String>,
    saved: std::sync::Mutex<Option<SavedEnv>>,
}

#[pymethods]
impl EnvBlock {
    fn __enter__(slf: Py<Self>, py: Python<'_>) -> PyResult<Py<Self>> {
        let this = slf.borrow(py);
        // Fetch everything first: a failure leaves the environment untouched.
        let mut values = Vec::new();
        for (name, reference) in &this.mapping {
            let client = this.client.clone();
            let reference = reference.clone();
            let secret = match client.get_cached(&reference) {
                Some(s) => s,
                None => wait(py, async move { client.get(&reference).await })?,
            };
            values.push((
                name.clone(),
                secret.expose_str().map_err(to_py_err)?.to_owned(),
            ));
        }
        let environ = py.import("os")?.getattr("environ")?;
        let mut saved = Vec::new();
        for (name, value) in values {
            let previous = environ.call_method1("get", (&name,))?;
            saved.push((
                name.clone(),
                (!previous.is_none()).then(|| previous.unbind()),
            ));
            environ.set_item(&name, value)?;
        }
        *this.saved.lock().unwrap_or_else(|e| e.into_inner()) = Some(saved);
        drop(this);
        Ok(slf)
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Bound<'_, PyAny>,
        _exc: Bound<'_, PyAny>,
        _tb: Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let environ = py.import("os")?.getattr("environ")?;
        if let Some(saved) = self.saved.lock().unwrap_or_else(|e| e.into_inner()).take() {
            for (name, previous) in saved {
                match previous {
                    Some(v) => environ.set_item(&name, v)?,
                    None => {
                        environ.del_item(&name)?;
                    }
                }
            }
        }
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!(
            "EnvBlock(names={:?})",
            self.mapping.keys().collect::<Vec<_>>()
        )
    }
}

/// Fetches a secret with the process-wide default client (created on first use).
#[pyfunction]
fn get(py: Python<'_>, reference: &str) -> PyResult<PySecret> {
    static DEFAULT: ArcSwapOption<Owned<cleo_core::Client>> = ArcSwapOption::const_empty();
    let generation = FORK_GENERATION.load(Ordering::Relaxed);
    if let Some(current) = DEFAULT
        .load()
        .as_ref()
        .filter(|c| c.generation == generation)
    {
        return get_with(py, &current.value, reference);
    }
    // First use in this process (or in a child after fork).
    let client = build_client(None).map_err(to_py_err)?;
    DEFAULT.store(Some(Arc::new(Owned {
        generation,
        value: client.clone(),
    })));
    get_with(py, &client, reference)
}

/// A cache hit is answered here, without the runtime or releasing the GIL: it costs
/// less than a thread hand-off would. Anything else goes to the runtime.
fn get_with(py: Python<'_>, client: &cleo_core::Client, reference: &str) -> PyResult<PySecret> {
    if let Some(inner) = client.get_cached(reference) {
        return Ok(PySecret { inner });
    }
    let client = client.clone();
    let reference = reference.to_owned();
    wait(py, async move { client.get(&reference).await }).map(|inner| PySecret { inner })
}

/// The compiled core of the ``cleo`` package.
#[pymodule]
fn _cleo(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    // CLEO_LOG (a tracing filter such as `debug`) sends cleo's logs to stderr, as in
    // the CLI. Only CLEO_LOG: RUST_LOG is often set for other programs.
    if let Some(filter) = std::env::var("CLEO_LOG").ok().filter(|f| !f.is_empty())
        && let Ok(filter) = tracing_subscriber::EnvFilter::try_new(filter)
    {
        use std::io::IsTerminal;
        use tracing_subscriber::layer::SubscriberExt;
        // TRACE from the AWS SDK carries session tokens: never recorded (cleo_core::logging).
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .finish()
            .with(tracing_subscriber::filter::filter_fn(
                cleo_core::logging::is_safe,
            ));
        let _ = tracing_subscriber::util::SubscriberInitExt::try_init(subscriber);
    }
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<PySecret>()?;
    m.add_class::<PyClient>()?;
    m.add_class::<PyAwsCredentials>()?;
    m.add_class::<EnvBlock>()?;
    m.add_function(wrap_pyfunction!(get, m)?)?;
    let after_fork = wrap_pyfunction!(_after_fork_in_child, m)?;
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("after_in_child", after_fork)?;
    py.import("os")?
        .call_method("register_at_fork", (), Some(&kwargs))?;
    m.add("CleoError", py.get_type::<CleoError>())?;
    m.add("NotFoundError", py.get_type::<NotFoundError>())?;
    m.add(
        "PermissionDeniedError",
        py.get_type::<PermissionDeniedError>(),
    )?;
    m.add(
        "UnauthenticatedError",
        py.get_type::<UnauthenticatedError>(),
    )?;
    m.add(
        "InvalidReferenceError",
        py.get_type::<InvalidReferenceError>(),
    )?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("UnsupportedError", py.get_type::<UnsupportedError>())?;
    m.add("UnavailableError", py.get_type::<UnavailableError>())?;
    m.add("RateLimitedError", py.get_type::<RateLimitedError>())?;
    m.add("InvalidDataError", py.get_type::<InvalidDataError>())?;
    Ok(())
}
