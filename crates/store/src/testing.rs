//! Test support for this crate's tests and the crates built on it: a fresh PostgreSQL
//! database per test.

/// The URL of a new, empty database called `{prefix}_{unique}` on the PostgreSQL server
/// that `GUANXI_TEST_POSTGRES` names. `None` when that variable is unset, so the
/// PostgreSQL half of a test is skipped; under CI (`CI` set) a skip would hide a failure,
/// so it panics instead.
pub async fn fresh_postgres(prefix: &str) -> Option<String> {
    let Ok(admin) = std::env::var("GUANXI_TEST_POSTGRES") else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must run the PostgreSQL half: set GUANXI_TEST_POSTGRES"
        );
        eprintln!("GUANXI_TEST_POSTGRES not set: PostgreSQL half skipped");
        return None;
    };
    let name = format!("{prefix}_{}", uuid::Uuid::now_v7().simple());
    let pool = sqlx::PgPool::connect(&admin)
        .await
        .expect("connect to GUANXI_TEST_POSTGRES");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .expect("create a test database");
    pool.close().await;
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    Some(format!("{base}/{name}"))
}
