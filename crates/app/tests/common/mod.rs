//! What the app's integration tests share: the stores a test runs on, and a job runner
//! that polls and backs off in milliseconds.

use guanxi_app::jobs::Options;
use guanxi_domain::backoff::Backoff;
use guanxi_domain::entities::User;
use guanxi_domain::{Actor, Email, Locale, NewRecord};
use guanxi_store::Store;
use std::time::Duration;

/// A SQLite file, and a fresh PostgreSQL database named from `prefix` when
/// `GUANXI_TEST_POSTGRES` names a server; the temporary directory lives as long as they do.
pub async fn stores(prefix: &str) -> (Vec<Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite:{}",
        dir.path().join(format!("{prefix}.db")).display()
    );
    let mut out = vec![Store::open(&url).await.unwrap()];
    if let Some(pg) = guanxi_store::testing::fresh_postgres(prefix).await {
        out.push(Store::open(&pg).await.unwrap());
    }
    (out, dir)
}

#[allow(dead_code)] // Not every test file runs jobs.
pub fn quick() -> Options {
    Options {
        concurrency: 4,
        poll: Duration::from_millis(20),
        lease: Duration::from_secs(30),
        backoff: Backoff {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(10),
        },
    }
}

/// A user the system makes (active, Chinese locale, no team), as the actor who signs in.
#[allow(dead_code)] // Not every test file makes users this way.
pub async fn user(s: &Store, email: &str, name: &str, role: &str) -> Actor {
    let u = User {
        email: Email::parse(email).unwrap(),
        name: name.into(),
        role: role.into(),
        team_id: None,
        partner_id: None,
        locale: Locale::ZhCn,
        active: true,
    };
    let u = s.create(&Actor::system(), NewRecord::new(u)).await.unwrap();
    s.actor_for(u.meta.id).await.unwrap()
}
