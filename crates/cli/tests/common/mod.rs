//! What the command-line tests share.

/// The URL of a new, empty database on the PostgreSQL server `GUANXI_TEST_POSTGRES` names,
/// called `{prefix}_{unique}`; `None` when the variable is unset, which CI does not allow.
pub async fn fresh_postgres(prefix: &str) -> Option<String> {
    let Ok(admin) = std::env::var("GUANXI_TEST_POSTGRES") else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must run the PostgreSQL half: set GUANXI_TEST_POSTGRES"
        );
        return None;
    };
    let name = format!("{prefix}_{}", guanxi_domain::Id::new().0.simple());
    let pool = sqlx::PgPool::connect(&admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    Some(format!("{}/{name}", admin.rsplit_once('/').unwrap().0))
}
