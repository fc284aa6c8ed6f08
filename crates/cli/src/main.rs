//! `guanxi`: the one binary. See `guanxi --help`, and [`config`] for where settings come from;
//! [`analytics`] holds the analytics commands on files.

mod analytics;
mod config;

use anyhow::{Context, bail};
use clap::Parser;
use config::{Action, AnalyticsCommand, Cli, Config};
use guanxi::seed;
use guanxi_domain::Actor;
use guanxi_domain::entities::User;
use guanxi_domain::filter::ListQuery;
use guanxi_store::{Backend, Store};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

/// The server allocates and frees many small values per request on several threads at
/// once; glibc's malloc spent a sixth of the CPU of a loaded 360 view in its own locks and
/// bookkeeping (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `println!` that returns the error instead of panicking: output piped into `head`
/// ends with the pipe closed, and that is a normal end, not a crash.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if closed_stdout(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the cause chain: "what we were doing: why it failed: …".
            eprintln!("error: {e:#}");
            exit_code(&e)
        }
    }
}

/// The exit status of a failed command, from the use case's error where there is one:
/// 2 when the input was refused (as for a wrong flag), 3 when the acting user may not do
/// it, 1 for anything else.
fn exit_code(e: &anyhow::Error) -> ExitCode {
    use guanxi_app::AppError;
    use guanxi_store::StoreError;
    let refused = |s: &StoreError| match s {
        StoreError::Invalid(_)
        | StoreError::NotFound { .. }
        | StoreError::Duplicate { .. }
        | StoreError::Conflict { .. } => Some(2),
        StoreError::Forbidden { .. } | StoreError::Unauthorized | StoreError::Throttled { .. } => {
            Some(3)
        }
        _ => None,
    };
    let code = e.chain().find_map(|c| {
        if let Some(a) = c.downcast_ref::<AppError>() {
            return match a {
                AppError::Store(s) => refused(s),
                AppError::BadRequest(_) | AppError::Invalid(_) | AppError::NeedsMapping { .. } => {
                    Some(2)
                }
                AppError::Forbidden(_) => Some(3),
                AppError::Unavailable(_) | AppError::Failed { .. } => None,
            };
        }
        c.downcast_ref::<StoreError>().and_then(refused)
    });
    ExitCode::from(code.unwrap_or(1))
}

/// Whether `e` is a write to a standard output whose reader has gone (`| head`).
fn closed_stdout(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Logs go to stderr, filtered by `GUANXI_LOG` (e.g. `debug`, `guanxi_store=debug`);
/// command output goes to stdout.
fn init_logging() {
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .with_env_var("GUANXI_LOG")
        .from_env_lossy();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let env = |key: &str| std::env::var(key).ok();
    // The analytics commands on files read no config file and open no database.
    let file = if cli.command.uses_configuration() {
        config::load_file(cli.config.as_deref(), env, Path::new("."))?
    } else {
        None
    };
    let Config {
        database,
        action,
        analytics_every,
        index,
        deployment,
    } = config::resolve(cli, env, file)?;
    let index = index.or_else(|| index_dir(&database));
    let index = index.as_deref();
    match action {
        Action::Serve { bind } => serve(&database, index, &bind, analytics_every, deployment).await,
        Action::Migrate => migrate(&database).await,
        Action::Seed { customers, seed } => run_seed(&database, customers, seed).await,
        Action::Demo { bind } => demo(&database, index, &bind, analytics_every, deployment).await,
        Action::AuditVerify => audit_verify(&database).await,
        Action::Reindex => reindex(&database, index).await,
        Action::Import(args) => import(&database, args).await,
        Action::ImportTemplates(command) => import_templates(&database, command).await,
        Action::Search(args) => search(&database, index, args).await,
        Action::Export(args) => export(&database, args).await,
        Action::Duplicates(command) => duplicates(&database, command).await,
        Action::UserAdd(args) => user_add(&database, args).await,
        Action::UserToken(args) => user_token(&database, args).await,
        Action::Analytics(command) => match command {
            AnalyticsCommand::Fit(args) => analytics::fit(&args),
            AnalyticsCommand::Predict(args) => analytics::predict(&args),
            AnalyticsCommand::Rfm(args) => analytics::rfm(&args),
            AnalyticsCommand::Run(args) => analytics_run(&database, args.as_of).await,
        },
    }
}

async fn open(url: &str) -> anyhow::Result<Store> {
    tracing::debug!("opening {}", redact(url));
    Store::open(url)
        .await
        .with_context(|| format!("cannot open database {}", redact(url)))
}

async fn bind(addr: &str) -> anyhow::Result<(tokio::net::TcpListener, String)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let url = url_for(listener.local_addr()?);
    Ok((listener, url))
}

async fn serve(
    database: &str,
    index: Option<&Path>,
    addr: &str,
    analytics_every: u64,
    deployment: guanxi_server::Deployment,
) -> anyhow::Result<()> {
    let store = open(database).await?;
    let server = Server::bind(addr, analytics_every, deployment).await?;
    run_server(store, index, server, database).await
}

/// The search index's default folder: beside a SQLite file, in memory for an in-memory
/// database, `./guanxi-search` for PostgreSQL.
fn index_dir(database: &str) -> Option<PathBuf> {
    if database.starts_with("postgres") {
        return Some(PathBuf::from("guanxi-search"));
    }
    sqlite_file(database).map(|p| {
        let mut dir = p.into_os_string();
        dir.push(".search");
        PathBuf::from(dir)
    })
}

fn open_index(dir: Option<&Path>) -> anyhow::Result<guanxi_search::Index> {
    match dir {
        Some(dir) => guanxi_search::Index::open(dir)
            .with_context(|| format!("cannot open the search index {}", dir.display())),
        None => guanxi_search::Index::in_memory().context("cannot create the search index"),
    }
}

/// Open the index and keep it up to date with the change log in the background: a new
/// index (or one for another database) is built first, while the server already answers
/// (searches then see the index as it was until the build is done). The task gives the
/// follower once it runs.
fn start_search(
    store: &Store,
    dir: Option<&Path>,
) -> anyhow::Result<(
    guanxi_search::Index,
    tokio::task::JoinHandle<Option<Follower>>,
)> {
    let index = open_index(dir)?;
    let (store, handle) = (store.clone(), index.clone());
    let task = tokio::spawn(async move {
        match guanxi_app::search::Feed::open(store, handle).await {
            Ok(feed) => Some(feed.follow()),
            Err(e) => {
                tracing::error!("search index: {e}");
                None
            }
        }
    });
    Ok((index, task))
}

type Follower = guanxi_store::follow::Follower<guanxi_app::search::Feed>;

async fn reindex(database: &str, dir: Option<&Path>) -> anyhow::Result<()> {
    let store = open(database).await?;
    let index = open_index(dir)?;
    let mut feed = guanxi_app::search::Feed::new(store.clone(), index.clone())
        .map_err(|e| anyhow::anyhow!("search index: {e}"))?;
    let started = std::time::Instant::now();
    let bar = progress_bar(std::io::stderr().is_terminal());
    let n = feed
        .rebuild(&|kind, n| bar.set_message(format!("{kind}: {}", thousands(n))))
        .await
        .map_err(|e| anyhow::anyhow!("rebuilding the search index: {e}"))?;
    feed.catch_up()
        .await
        .map_err(|e| anyhow::anyhow!("search index: {e}"))?;
    bar.finish_and_clear();
    drop(feed);
    store.close().await;
    let secs = started.elapsed().as_secs_f64();
    out!(
        "indexed {} records in {secs:.1} s ({} records/s)",
        thousands(n),
        thousands(per_second(n, secs))
    );
    Ok(())
}

/// The user named by `--as`, or the first administrator.
async fn acting_user(store: &Store, email: Option<&str>) -> anyhow::Result<Actor> {
    let system = Actor::system();
    let user = match email {
        Some(e) => {
            let email = guanxi_domain::Email::parse(e).with_context(|| format!("'{e}'"))?;
            store
                .find_one::<User>(&system, "email", &email.as_str().to_lowercase())
                .await?
                .with_context(|| format!("there is no user {email}"))?
        }
        None => store
            .find_one::<User>(&system, "role", "admin")
            .await?
            .context("there is no administrator to act as: name a user with --as")?,
    };
    store
        .actor_for(user.meta.id)
        .await
        .with_context(|| format!("{} cannot sign in", user.data.email))
}

async fn import(database: &str, args: config::ImportArgs) -> anyhow::Result<()> {
    use guanxi_app::import as ingest;
    let store = open(database).await?;
    let actor = acting_user(&store, args.as_user.as_deref()).await?;
    let started = std::time::Instant::now();
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {percent:>3}% {msg} ({elapsed}, {eta} left)",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let opts = ingest::Options {
        mapping: args.mapping.clone(),
        template: args.template.clone(),
        save_template: args.save_template.clone(),
        dry_run: args.dry_run,
    };
    let report = ingest::import(
        &store,
        &actor,
        &args.kind,
        ingest::Source::Path(args.file.clone()),
        &opts,
        &|p| {
            if let Some(t) = p.bytes_total {
                bar.set_length(t);
            }
            bar.set_position(p.bytes_read);
            bar.set_message(format!("{} rows", thousands(p.rows)));
        },
    )
    .await;
    bar.finish_and_clear();
    store.close().await;
    let report = report.with_context(|| args.file.display().to_string())?;
    if args.json {
        out!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let secs = started.elapsed().as_secs_f64();
    let j = &report.job;
    out!(
        "{}{}: {} rows in {secs:.1} s ({} rows/s): {} created, {} updated, {} unchanged, {} failed",
        if report.dry_run { "dry run of " } else { "" },
        args.file.display(),
        thousands(report.rows),
        thousands(per_second(report.rows, secs)),
        thousands(j.created as u64),
        thousands(j.updated as u64),
        thousands(j.unchanged as u64),
        thousands(report.failed),
    );
    if let Some(row) = report.resumed_at_row {
        out!("resumed an interrupted import at row {row}");
    }
    if let Some(t) = &report.saved_template {
        out!(
            "saved the mapping as the {} import template “{}” (use it with --template)",
            t.entity,
            t.name
        );
    }
    for c in &report.mapping {
        out!(
            "  {} → {}",
            c.column,
            c.field.as_deref().unwrap_or("(ignored)")
        );
    }
    for p in &report.problems {
        let column = p
            .column
            .as_deref()
            .map(|c| format!(" “{c}”"))
            .unwrap_or_default();
        out!("  row {}{column}: {}", p.row, p.message);
    }
    if report.failed as usize > report.problems.len() {
        out!(
            "  … and more; --json lists the first {}",
            ingest::MAX_PROBLEMS
        );
    }
    Ok(())
}

async fn search(
    database: &str,
    dir: Option<&Path>,
    args: config::SearchArgs,
) -> anyhow::Result<()> {
    let store = open(database).await?;
    let actor = acting_user(&store, args.as_user.as_deref()).await?;
    let index = open_index(dir)?;
    // Bring the index up to date first when no server holds it (a server keeps it so).
    let fed = match guanxi_app::search::Feed::open(store.clone(), index.clone()).await {
        Ok(mut feed) => feed.catch_up().await.map(drop),
        Err(e) => Err(e),
    };
    if let Err(e) = fed {
        tracing::info!("searching the index as it is: {e}");
    }
    let kinds: Vec<&str> = match &args.types {
        Some(t) => t.split(',').map(str::trim).collect(),
        None => guanxi_app::search::kinds(),
    };
    let found =
        guanxi_app::search::find(&store, &index, &actor, &args.query, &kinds, args.limit).await?;
    for f in &found {
        out!(
            "{:<12} {}  {}  [{}]",
            f.kind,
            f.id,
            f.title,
            f.matched.join(",")
        );
    }
    store.close().await;
    Ok(())
}

/// `guanxi export`: the API's export ([`guanxi_app::export`]) into a file or stdout.
async fn export(database: &str, args: config::ExportArgs) -> anyhow::Result<()> {
    use guanxi_app::export::{ExportRequest, Format, export_kind};
    let request = ExportRequest::from_pairs(args.request_pairs())?;
    if request.format == Format::Xlsx && args.output.is_none() && std::io::stdout().is_terminal() {
        bail!("an .xlsx export is binary: name a file with --output, or redirect the output");
    }
    let store = open(database).await?;
    let actor = acting_user(&store, args.as_user.as_deref()).await?;
    let kind = args.kind.as_str();
    let summary = match &args.output {
        // Written beside the file and renamed at the end: a failed export leaves no file
        // behind, and an earlier one in its place untouched.
        Some(path) => {
            let mut partial = path.clone().into_os_string();
            partial.push(".partial");
            let partial = PathBuf::from(partial);
            let file = std::fs::File::create(&partial)
                .with_context(|| format!("cannot create {}", partial.display()))?;
            let done = export_kind(&store, &actor, kind, request, file)
                .await
                .map_err(anyhow::Error::from)
                .and_then(|s| {
                    std::fs::rename(&partial, path)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    Ok(s)
                });
            if done.is_err() {
                let _ = std::fs::remove_file(&partial);
            }
            done
        }
        None => export_kind(&store, &actor, kind, request, std::io::stdout())
            .await
            .map_err(anyhow::Error::from),
    };
    store.close().await;
    let s = summary.with_context(|| format!("exporting {kind}"))?;
    let what = format!(
        "exported {} {} rows ({}; change log #{})",
        thousands(s.rows),
        s.entity,
        s.format.ext(),
        s.log_seq
    );
    match &args.output {
        Some(path) => out!("{what} to {}", path.display()),
        None => eprintln!("{what}"),
    }
    Ok(())
}

async fn import_templates(
    database: &str,
    command: config::ImportTemplatesCommand,
) -> anyhow::Result<()> {
    use config::ImportTemplatesCommand as T;
    let store = open(database).await?;
    match command {
        T::List { kind, as_user } => {
            let actor = acting_user(&store, as_user.as_deref()).await?;
            for t in store.import_templates(&actor, kind.as_deref()).await? {
                out!("{}\t{}\t{}", t.entity, t.name, t.spec);
            }
        }
        T::Delete {
            kind,
            name,
            as_user,
        } => {
            let actor = acting_user(&store, as_user.as_deref()).await?;
            let t = store.import_template(&actor, &kind, &name).await?;
            store.delete_import_template(&actor, t.id).await?;
            out!("deleted the {kind} import template “{}”", t.name);
        }
    }
    store.close().await;
    Ok(())
}

async fn duplicates(database: &str, command: config::DuplicatesCommand) -> anyhow::Result<()> {
    use config::DuplicatesCommand as D;
    let store = open(database).await?;
    let id = |raw: &str| {
        guanxi_domain::Id::parse(raw).map_err(|_| anyhow::anyhow!("{raw:?} is not a record id"))
    };
    match command {
        D::Scan { entity, as_user } => {
            let actor = acting_user(&store, as_user.as_deref()).await?;
            let r = store.scan_duplicates(&actor, &entity).await?;
            out!(
                "{} pairs found, {} new to review",
                thousands(r.pairs_found),
                thousands(r.new)
            );
        }
        D::List {
            entity,
            limit,
            as_user,
        } => {
            let actor = acting_user(&store, as_user.as_deref()).await?;
            for pair in store.duplicate_queue(&actor, &entity, limit).await? {
                out!("{}", serde_json::to_string(&pair)?);
            }
        }
        D::Merge {
            entity,
            survivor,
            merged,
            take,
            as_user,
        } => {
            let actor = acting_user(&store, as_user.as_deref()).await?;
            let out = store
                .merge(&actor, &entity, id(&survivor)?, id(&merged)?, &take)
                .await?;
            let moved: usize = out.relinked.values().map(Vec::len).sum();
            out!(
                "merged {merged} into {survivor}: {moved} related records moved (undo: guanxi duplicates undo {merged})"
            );
        }
        D::Undo { merged, as_user } => {
            let actor = acting_user(&store, as_user.as_deref()).await?;
            store.undo_merge(&actor, id(&merged)?).await?;
            out!("the merge of {merged} was undone");
        }
    }
    store.close().await;
    Ok(())
}

/// A spinner with a message on stderr when it is a terminal; hidden otherwise.
fn progress_bar(visible: bool) -> indicatif::ProgressBar {
    if !visible {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// A server about to run: where it listens and how it is deployed.
struct Server {
    listener: tokio::net::TcpListener,
    url: String,
    analytics_every: u64,
    deployment: guanxi_server::Deployment,
}

impl Server {
    /// Listen on `addr`: a busy port fails here, before any work is done.
    async fn bind(
        addr: &str,
        analytics_every: u64,
        deployment: guanxi_server::Deployment,
    ) -> anyhow::Result<Server> {
        let (listener, url) = bind(addr).await?;
        Ok(Server {
            listener,
            url,
            analytics_every,
            deployment,
        })
    }
}

async fn run_server(
    store: Store,
    index: Option<&Path>,
    server: Server,
    database: &str,
) -> anyhow::Result<()> {
    let Server {
        listener,
        url,
        analytics_every,
        deployment,
    } = server;
    tracing::info!(database = %redact(database), "Guanxi is listening on {url}");
    let analytics = (analytics_every > 0)
        .then(|| guanxi_app::analytics::schedule(store.clone(), analytics_every));
    // `--index off`: no full-text search (it answers 503), nothing to build or follow.
    let search = match index {
        Some(dir) if dir == Path::new("off") => None,
        dir => Some(start_search(&store, dir)?),
    };
    let mut outbox =
        guanxi_app::mail::Outbox::new(deployment.smtp.as_ref(), deployment.public_url.as_deref())
            .context("the mail settings")?;
    use guanxi_app::mail::Channel;
    for (channel, config) in [
        (Channel::Sms, &deployment.sms),
        (Channel::Wechat, &deployment.wechat),
    ] {
        if let Some(config) = config {
            outbox = outbox
                .with_http_provider(channel, config)
                .context("the text provider settings")?;
        }
    }
    let bounces = match deployment.bounce_listen {
        Some(addr) => {
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("the bounce listener on {addr}"))?;
            tracing::info!("receiving bounces on {addr}");
            Some((l, bounce_domain(&deployment)))
        }
        None => None,
    };
    let background = guanxi_app::background::start(&store, &outbox, bounces);
    let served = guanxi_server::serve(
        store.clone(),
        search.as_ref().map(|s| s.0.clone()),
        deployment,
        listener,
    )
    .await;
    if let Some((_, task)) = search {
        // Let the follower finish the batch in hand; a build still running is dropped
        // uncommitted and done again at the next start.
        if task.is_finished() {
            if let Ok(Some(follower)) = task.await {
                let _ = follower.stop().await;
            }
        } else {
            task.abort();
        }
    }
    if let Some(job) = analytics {
        job.abort();
    }
    background.stop().await;
    store.close().await;
    served.context("HTTP server failed")?;
    tracing::info!("stopped");
    Ok(())
}

/// The name the bounce listener greets with: the bounce address's domain.
fn bounce_domain(d: &guanxi_server::Deployment) -> String {
    d.smtp
        .as_ref()
        .and_then(|s| s.bounce_address.as_deref())
        .and_then(|a| {
            a.rsplit_once('@')
                .map(|(_, domain)| domain.trim().to_string())
        })
        .unwrap_or_else(|| "localhost".into())
}

async fn migrate(database: &str) -> anyhow::Result<()> {
    let store = open(database).await?;
    let counts = store.table_counts().await.context("counting rows")?;
    out!(
        "{} ({}): schema up to date",
        redact(database),
        backend_name(store.backend())
    );
    print_table(counts.iter().map(|(t, n)| (*t, *n as u64)))?;
    store.close().await;
    Ok(())
}

async fn run_seed(database: &str, customers: u64, seed: u64) -> anyhow::Result<()> {
    let store = open(database).await?;
    let report = seed_store(&store, customers, seed).await;
    store.close().await;
    let report = report?;
    let total: u64 = report.rows.iter().map(|(_, n)| n).sum();
    out!(
        "seeded {} with {} customers (seed {seed}): {} rows in {:.1} s, {} rows/s",
        redact(database),
        thousands(customers),
        thousands(total),
        report.seconds,
        thousands(per_second(total, report.seconds)),
    );
    print_table(report.rows.iter().copied())?;
    Ok(())
}

async fn seed_store(store: &Store, customers: u64, seed: u64) -> anyhow::Result<seed::SeedReport> {
    let opts = seed::SeedOptions {
        customers,
        seed,
        progress: std::io::stderr().is_terminal(),
        as_of: None,
    };
    seed::run(store, &opts)
        .await
        .context("generating demo data")
}

/// A login to print: (email, role, name).
type Login = (String, String, String);

async fn demo(
    database: &str,
    index: Option<&Path>,
    addr: &str,
    analytics_every: u64,
    deployment: guanxi_server::Deployment,
) -> anyhow::Result<()> {
    // A SQLite file we are about to create is removed again if seeding it fails, so the
    // next `guanxi demo` starts over instead of serving half a data set.
    let new_file = sqlite_file(database).filter(|p| !p.exists());
    let store = open(database).await?;
    let server = Server::bind(addr, analytics_every, deployment).await?;
    let mut logins = users(&store).await?;
    let created = logins.is_empty();
    if created {
        out!(
            "Creating the demo database {} with {} customers…",
            redact(database),
            thousands(config::DEMO_CUSTOMERS)
        );
        match seed_store(&store, config::DEMO_CUSTOMERS, config::DEFAULT_SEED).await {
            Ok(report) => {
                set_demo_passwords(&store).await?;
                // So the demo shows every account's figures from the start.
                guanxi_app::analytics::run(&store, chrono::Utc::now().date_naive())
                    .await
                    .context("analysing the demo customers")?;
                logins = report
                    .users
                    .into_iter()
                    .map(|u| (u.email, u.role, u.name))
                    .collect();
            }
            Err(e) => {
                store.close().await;
                if let Some(path) = new_file {
                    remove_sqlite_file(&path);
                }
                return Err(e);
            }
        }
    }
    out!();
    out!("Guanxi demo: {}", server.url);
    out!(
        "Database: {} ({})",
        redact(database),
        if created { "new" } else { "existing" }
    );
    out!();
    out!(
        "Demo logins (password for each: {}):",
        config::DEMO_PASSWORD
    );
    let width = logins.iter().map(|l| l.0.len()).max().unwrap_or(0);
    for (email, role, name) in &logins {
        out!("  {email:<width$}  {role:<12}  {name}");
    }
    if let Some(c) = demo_customer(&store).await?
        && let Some(email) = &c.data.email
    {
        out!();
        out!(
            "Customer portal ({}/portal): {}  ({}, same password)",
            server.url,
            email.as_str(),
            c.data.name
        );
    }
    out!();
    run_server(store, index, server, database).await
}

/// Give every demo user the demo password, so each role can sign in.
async fn set_demo_passwords(store: &Store) -> anyhow::Result<()> {
    // Demo set-up, not a person's doing: logged as the system.
    let system = Actor::system();
    let q = ListQuery::default().limit(guanxi_domain::filter::MAX_LIMIT);
    for user in store.list::<User>(&system, &q).await?.items {
        store
            .set_password(&system, user.meta.id, config::DEMO_PASSWORD)
            .await
            .with_context(|| format!("setting the demo password of {}", user.data.email))?;
    }
    if let Some(customer) = demo_customer(store).await? {
        store
            .portal_set_password(customer.meta.id, config::DEMO_PASSWORD)
            .await
            .context("setting the demo customer's portal password")?;
    }
    Ok(())
}

/// The customer the demo offers for the portal: one with an e-mail whose account lies in
/// the city of a service station with a partner login, so that a case it opens is offered
/// to a station that can sign in (else the first customer with an e-mail).
async fn demo_customer(
    store: &Store,
) -> anyhow::Result<Option<guanxi_domain::Record<guanxi_domain::entities::Contact>>> {
    use guanxi_domain::entities::{Account, Contact, Relationship, User};
    use guanxi_domain::filter::{Filter, Op};
    let system = Actor::system();
    let with_email = || Filter::new("email", Op::IsNull, false);
    let stations = ListQuery::default()
        .filter(Filter::new("partner_id", Op::IsNull, false))
        .sort_by("email", false)
        .limit(10);
    for user in store.list::<User>(&system, &stations).await?.items {
        let Some(station) = user.data.partner_id else {
            continue;
        };
        let station = store.get::<Account>(&system, station).await?;
        let Some(city) = station.data.city.filter(|_| station.data.takes_cases) else {
            continue;
        };
        let near = ListQuery::default()
            .filter(Filter::new("city", Op::Eq, city))
            .filter(Filter::new(
                "relationship",
                Op::Eq,
                Relationship::Customer.as_str(),
            ))
            .sort_by("created_at", false)
            .limit(50);
        for account in store.list::<Account>(&system, &near).await?.items {
            let q = ListQuery::default()
                .filter(with_email())
                .filter(Filter::new(
                    "account_id",
                    Op::Eq,
                    account.meta.id.to_string(),
                ))
                .sort_by("created_at", false)
                .limit(1);
            if let Some(c) = store.list::<Contact>(&system, &q).await?.items.pop() {
                return Ok(Some(c));
            }
        }
    }
    let q = ListQuery::default()
        .filter(with_email())
        .sort_by("created_at", false)
        .limit(1);
    Ok(store.list::<Contact>(&system, &q).await?.items.pop())
}

/// `guanxi user add`: the first administrator, and users for scripts.
async fn user_add(database: &str, args: config::UserAddArgs) -> anyhow::Result<()> {
    use guanxi_domain::entities::{Locale, Role, Team};
    let store = open(database).await?;
    // The operator at the console has no account (this may make the first one), so the
    // new user and their password are logged as the system's work.
    let system = Actor::system();
    if store
        .find_one::<Role>(&system, "key", &args.role)
        .await?
        .is_none()
    {
        bail!("there is no role '{}'", args.role);
    }
    let team_id = match &args.team {
        None => None,
        Some(t) => {
            let by_id = match guanxi_domain::Id::parse(t) {
                Ok(id) => store.get::<Team>(&system, id).await.ok(),
                Err(_) => None,
            };
            let team = match by_id {
                Some(team) => Some(team),
                None => store.find_one::<Team>(&system, "name", t).await?,
            };
            Some(
                team.with_context(|| format!("there is no team '{t}'"))?
                    .meta
                    .id,
            )
        }
    };
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        guanxi_store::check_password_strength(&line)?;
        Some(line)
    } else {
        None
    };
    let email =
        guanxi_domain::Email::parse(&args.email).with_context(|| format!("'{}'", args.email))?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| email.local_part().to_string());
    let user = User {
        email,
        name,
        role: args.role.clone(),
        team_id,
        partner_id: None,
        locale: Locale::ZhCn,
        active: true,
    };
    let created = store
        .create(&system, guanxi_domain::NewRecord::new(user))
        .await?;
    let generated = password.is_none();
    let password = password.unwrap_or_else(generate_password);
    store
        .set_password(&system, created.meta.id, &password)
        .await?;
    out!(
        "added {} ({}) as {}",
        created.data.email,
        created.meta.id,
        created.data.role
    );
    if generated {
        out!("password (shown once): {password}");
    }
    Ok(())
}

/// `guanxi analytics run`: every account's figures, stored on the accounts.
async fn analytics_run(database: &str, as_of: Option<chrono::NaiveDate>) -> anyhow::Result<()> {
    let store = open(database).await?;
    let as_of = as_of.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let outcome = guanxi_app::analytics::run(&store, as_of).await;
    store.close().await;
    let o = outcome?;
    out!(
        "analysed {} accounts ({} with purchases) as of {as_of}: read {:.1} s, computed {:.1} s, stored {:.1} s",
        thousands(o.accounts as u64),
        thousands(o.report.buyers as u64),
        o.read_secs,
        o.compute_secs,
        o.write_secs
    );
    if let Some(f) = &o.report.bgnbd {
        let p = &f.params;
        out!(
            "BG/NBD r={:.4} alpha={:.4} a={:.4} b={:.4}",
            p.r,
            p.alpha,
            p.a,
            p.b
        );
    }
    if let Some(auc) = o.report.churn_auc {
        out!(
            "churn model: hold-out AUC {auc:.3} on {} customers",
            thousands(o.report.churn_holdout as u64)
        );
    }
    Ok(())
}

/// `guanxi user token`: a personal API token for scripts; only the secret goes to stdout.
async fn user_token(database: &str, args: config::UserTokenArgs) -> anyhow::Result<()> {
    let store = open(database).await?;
    let system = Actor::system();
    let email =
        guanxi_domain::Email::parse(&args.email).with_context(|| format!("'{}'", args.email))?;
    let user = store
        // Stored lowercased (see `User::normalize`).
        .find_one::<User>(&system, "email", &email.as_str().to_lowercase())
        .await?
        .with_context(|| format!("there is no user {email}"))?;
    let actor = store
        .actor_for(user.meta.id)
        .await
        .with_context(|| format!("{email} cannot sign in"))?;
    let expires = chrono::Utc::now() + chrono::Duration::days(args.days);
    let (token, secret) = store.issue_token(&actor, &args.name, Some(expires)).await?;
    eprintln!(
        "token {} for {email}, expires {}",
        token.id,
        expires.format("%Y-%m-%d")
    );
    out!("{secret}");
    store.close().await;
    Ok(())
}

/// 20 characters from an alphabet without look-alikes: about 115 bits.
fn generate_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..20)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The first hundred users, oldest first (the order the generator created them in).
async fn users(store: &Store) -> anyhow::Result<Vec<Login>> {
    let q = ListQuery::default().sort_by("created_at", false).limit(100);
    let page = store
        .list::<User>(&Actor::system(), &q)
        .await
        .context("listing users")?;
    Ok(page
        .items
        .into_iter()
        .map(|r| (r.data.email.to_string(), r.data.role, r.data.name))
        .collect())
}

async fn audit_verify(database: &str) -> anyhow::Result<()> {
    let store = open(database).await?;
    let report = store.verify_chain().await;
    store.close().await;
    let report = report.context("reading the change log")?;
    match report.first_broken {
        None => {
            out!(
                "change log: {} entries, hash chain intact",
                thousands(report.entries as u64)
            );
            Ok(())
        }
        Some(seq) => {
            let reason = report.reason.as_deref().unwrap_or("hash mismatch");
            out!(
                "change log: {} entries, hash chain BROKEN at entry #{seq}: {reason}",
                thousands(report.entries as u64)
            );
            bail!("the change log was altered: the first broken entry is #{seq} ({reason})")
        }
    }
}

fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

fn print_table<'a>(rows: impl Iterator<Item = (&'a str, u64)>) -> anyhow::Result<()> {
    let rows: Vec<_> = rows.collect();
    let width = rows.iter().map(|(t, _)| t.len()).max().unwrap_or(0);
    for (table, n) in rows {
        out!("  {table:<width$}  {:>12}", thousands(n));
    }
    Ok(())
}

fn per_second(n: u64, seconds: f64) -> u64 {
    if seconds > 0.0 {
        (n as f64 / seconds).round() as u64
    } else {
        n
    }
}

/// `1234567` → `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The URL a person can open: a wildcard bind address is reachable on loopback.
fn url_for(addr: SocketAddr) -> String {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("http://{addr}")
}

/// A database URL fit for logs: any password replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
        None => url.to_string(),
    }
}

/// The file behind a `sqlite:PATH` URL; `None` for other backends and in-memory databases.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    // As the store reads it.
    let path = url.strip_prefix("sqlite:")?.trim_start_matches("//");
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

fn remove_sqlite_file(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://gx:s3cret@db.example:5432/crm?sslmode=require"),
            "postgres://gx:***@db.example:5432/crm?sslmode=require"
        );
        assert_eq!(redact("postgres://gx@db/crm"), "postgres://gx@db/crm");
        assert_eq!(redact("postgres://db/crm"), "postgres://db/crm");
        assert_eq!(redact("sqlite:guanxi.db"), "sqlite:guanxi.db");
        assert_eq!(redact("nonsense://x"), "nonsense://x");
    }

    #[test]
    fn numbers_get_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn wildcard_binds_print_a_loopback_url() {
        assert_eq!(
            url_for("0.0.0.0:8080".parse().unwrap()),
            "http://127.0.0.1:8080"
        );
        assert_eq!(url_for("[::]:80".parse().unwrap()), "http://[::1]:80");
        assert_eq!(
            url_for("192.0.2.1:8080".parse().unwrap()),
            "http://192.0.2.1:8080"
        );
    }

    #[test]
    fn sqlite_files_are_recognised() {
        assert_eq!(sqlite_file("sqlite:a.db"), Some(PathBuf::from("a.db")));
        assert_eq!(
            sqlite_file("sqlite:///tmp/a.db"),
            Some(PathBuf::from("/tmp/a.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://h/db"), None);
    }
}
