//! A real server on a free port over a fresh database (SQLite, or a new PostgreSQL
//! database on `GUANXI_TEST_POSTGRES`), with two teams and a user per role the tests use.

#![allow(dead_code)]

use guanxi_app::notify::Notifier;
use guanxi_app::search::Feed;
use guanxi_domain::entities::{Locale, Team, User};
use guanxi_domain::{Actor, Email, NewRecord};
use guanxi_store::Store;
use guanxi_store::follow::Follower;

pub const PASSWORD: &str = "a password long enough";

pub struct Server {
    /// The API's base URL (`http://127.0.0.1:port/api/v1`).
    pub base: String,
    /// The site's root (`http://127.0.0.1:port`).
    pub root: String,
    pub store: Store,
    /// The database's URL, for a server started again on it.
    pub url: String,
    pub index: guanxi_search::Index,
    /// The folder of an index on disk ([`start_on_disk`]); `None` for one in memory.
    pub index_dir: Option<std::path::PathBuf>,
    /// Keeps the index up to date: wait on it rather than on time.
    pub follower: Follower<Feed>,
    /// Sends the system's notifications, as `guanxi serve` does.
    pub notifier: Follower<Notifier>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    dir: tempfile::TempDir,
}

/// A fresh database: a SQLite file, or a new database on `GUANXI_TEST_POSTGRES`.
pub async fn database(postgres: bool, dir: &std::path::Path) -> Option<String> {
    if !postgres {
        return Some(format!("sqlite:{}", dir.join("api.db").display()));
    }
    guanxi_store::testing::fresh_postgres("gx_api").await
}

/// reqwest is built workspace-wide with rustls and no crypto provider of its own (the
/// outbound crate chooses ring, to spare aws-lc-rs's C build), so a client needs one
/// installed in the process before it is made; every test starts a server first.
fn tls_for_clients() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Deprecated for lacking post-quantum key exchange; the tests speak plain HTTP.
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// A server with its search index in memory.
pub async fn start(postgres: bool) -> Option<Server> {
    start_with(postgres, false).await
}

/// A server with its search index in a folder, as deployed: see [`Server::restart`].
pub async fn start_on_disk(postgres: bool) -> Option<Server> {
    start_with(postgres, true).await
}

async fn open(url: &str) -> Store {
    // Sign-in delays that cannot run out while a test looks at them.
    let throttle = guanxi_store::throttle::ThrottlePolicy {
        first_delay: chrono::Duration::minutes(10),
        max_delay: chrono::Duration::hours(1),
        ..Default::default()
    };
    Store::open(url).await.unwrap().with_throttle(throttle)
}

async fn start_with(postgres: bool, on_disk: bool) -> Option<Server> {
    tls_for_clients();
    let dir = tempfile::tempdir().unwrap();
    let url = database(postgres, dir.path()).await?;
    let store = open(&url).await;
    let sys = Actor::system();
    let team = |name: &str| {
        NewRecord::new(Team {
            name: name.into(),
            parent_id: None,
        })
    };
    let east = store.create(&sys, team("East")).await.unwrap().meta.id;
    let west = store.create(&sys, team("West")).await.unwrap().meta.id;
    for (email, role, team) in [
        ("admin@t.cn", "admin", None),
        ("a@t.cn", "sales", Some(east)),
        ("b@t.cn", "sales", Some(west)),
    ] {
        let u = User {
            email: Email::parse(email).unwrap(),
            name: email.into(),
            role: role.into(),
            team_id: team,
            partner_id: None,
            locale: Locale::ZhCn,
            active: true,
        };
        let u = store.create(&sys, NewRecord::new(u)).await.unwrap();
        store.set_password(&sys, u.meta.id, PASSWORD).await.unwrap();
    }
    let index_dir = on_disk.then(|| dir.path().join("index"));
    Some(launch(store, url, index_dir, dir).await)
}

/// Open the index, build it if need be, follow the log and serve, as `guanxi serve` does.
async fn launch(
    store: Store,
    url: String,
    index_dir: Option<std::path::PathBuf>,
    dir: tempfile::TempDir,
) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let root = format!("http://{}", listener.local_addr().unwrap());
    let base = format!("{root}/api/v1");
    let index = match &index_dir {
        Some(d) => guanxi_search::Index::open(d).unwrap(),
        None => guanxi_search::Index::in_memory().unwrap(),
    };
    let follower = Feed::open(store.clone(), index.clone())
        .await
        .unwrap()
        .follow();
    let notifier = Notifier::open(store.clone()).await.unwrap().follow();
    // The tests stand in for a proxy on loopback: X-Forwarded-For names the client.
    let deployment = guanxi_server::Deployment {
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        ..Default::default()
    };
    let task = tokio::spawn(guanxi_server::serve(
        store.clone(),
        Some(index.clone()),
        deployment,
        listener,
    ));
    Server {
        base,
        root,
        store,
        url,
        index,
        index_dir,
        follower,
        notifier,
        task,
        dir,
    }
}

impl Server {
    /// Stop this server (its follower after the batch in hand) and start another on the same
    /// database and index folder, as a restarted process would; `between` runs while no
    /// server is up.
    pub async fn restart<F: std::future::Future<Output = ()>>(
        self,
        between: impl FnOnce(Store) -> F,
    ) -> Server {
        let Server {
            store,
            url,
            index_dir,
            follower,
            notifier,
            task,
            dir,
            ..
        } = self;
        // The feed, and with it the index's writer, goes with the follower.
        drop(follower.stop().await.unwrap());
        drop(notifier.stop().await.unwrap());
        task.abort();
        let _ = task.await;
        between(store.clone()).await;
        store.close().await;
        launch(open(&url).await, url, index_dir, dir).await
    }

    /// Resolves once the notifier has followed the log to its current end.
    pub async fn notified(&self) {
        let last = self.store.last_change().await.unwrap();
        assert!(self.notifier.caught_up(last).await, "the notifier ended");
    }

    /// Resolves once the index has followed the log to its current end.
    pub async fn indexed(&self) {
        let last = self.store.last_change().await.unwrap();
        assert!(self.follower.caught_up(last).await, "the follower ended");
    }
}

/// Each journey runs on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both {
    ($name:ident, $journey:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$journey($crate::common::start(false).await.unwrap()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(s) = $crate::common::start(true).await {
                    super::$journey(s).await;
                }
            }
        }
    };
}

/// A user of the test company and an `Authorization` header with a new API token of theirs.
pub async fn bearer(s: &Server, email: &str) -> (Actor, String) {
    let u = s
        .store
        .find_one::<User>(&Actor::system(), "email", email)
        .await
        .unwrap()
        .unwrap();
    let actor = s.store.actor_for(u.meta.id).await.unwrap();
    let (_, secret) = s.store.issue_token(&actor, "test", None).await.unwrap();
    (actor, format!("Bearer {secret}"))
}
