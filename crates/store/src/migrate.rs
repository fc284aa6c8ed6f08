//! Versioned migrations, one folder per backend, embedded in the binary and applied at
//! start. Each runs in its own transaction with its row in `schema_migrations`.

use crate::db::{Backend, Db, Kind, Result, Val};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sqlite: include_str!("../migrations/sqlite/0001_init.sql"),
        postgres: include_str!("../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "auth",
        sqlite: include_str!("../migrations/sqlite/0002_auth.sql"),
        postgres: include_str!("../migrations/postgres/0002_auth.sql"),
    },
    Migration {
        version: 3,
        name: "related_order",
        sqlite: include_str!("../migrations/sqlite/0003_related_order.sql"),
        postgres: include_str!("../migrations/postgres/0003_related_order.sql"),
    },
    Migration {
        version: 4,
        name: "customer_analytics",
        sqlite: include_str!("../migrations/sqlite/0004_customer_analytics.sql"),
        postgres: include_str!("../migrations/postgres/0004_customer_analytics.sql"),
    },
    Migration {
        version: 5,
        name: "settings",
        sqlite: include_str!("../migrations/sqlite/0005_settings.sql"),
        postgres: include_str!("../migrations/postgres/0005_settings.sql"),
    },
    Migration {
        version: 6,
        name: "saved_views",
        sqlite: include_str!("../migrations/sqlite/0006_saved_views.sql"),
        postgres: include_str!("../migrations/postgres/0006_saved_views.sql"),
    },
    Migration {
        version: 7,
        name: "page_indexes",
        sqlite: include_str!("../migrations/sqlite/0007_page_indexes.sql"),
        postgres: include_str!("../migrations/postgres/0007_page_indexes.sql"),
    },
    Migration {
        version: 8,
        name: "open_cases",
        sqlite: include_str!("../migrations/sqlite/0008_open_cases.sql"),
        postgres: include_str!("../migrations/postgres/0008_open_cases.sql"),
    },
    Migration {
        version: 9,
        name: "imports",
        sqlite: include_str!("../migrations/sqlite/0009_imports.sql"),
        postgres: include_str!("../migrations/postgres/0009_imports.sql"),
    },
    Migration {
        version: 10,
        name: "duplicates",
        sqlite: include_str!("../migrations/sqlite/0010_duplicates.sql"),
        postgres: include_str!("../migrations/postgres/0010_duplicates.sql"),
    },
    Migration {
        version: 11,
        name: "import_templates",
        sqlite: include_str!("../migrations/sqlite/0011_import_templates.sql"),
        postgres: include_str!("../migrations/postgres/0011_import_templates.sql"),
    },
    Migration {
        version: 12,
        name: "sign_in_throttle",
        sqlite: include_str!("../migrations/sqlite/0012_sign_in_throttle.sql"),
        postgres: include_str!("../migrations/postgres/0012_sign_in_throttle.sql"),
    },
    Migration {
        version: 13,
        name: "subscriber_positions",
        sqlite: include_str!("../migrations/sqlite/0013_subscriber_positions.sql"),
        postgres: include_str!("../migrations/postgres/0013_subscriber_positions.sql"),
    },
    Migration {
        version: 14,
        name: "jobs",
        sqlite: include_str!("../migrations/sqlite/0014_jobs.sql"),
        postgres: include_str!("../migrations/postgres/0014_jobs.sql"),
    },
    Migration {
        version: 15,
        name: "notifications",
        sqlite: include_str!("../migrations/sqlite/0015_notifications.sql"),
        postgres: include_str!("../migrations/postgres/0015_notifications.sql"),
    },
    Migration {
        version: 16,
        name: "rules",
        sqlite: include_str!("../migrations/sqlite/0016_rules.sql"),
        postgres: include_str!("../migrations/postgres/0016_rules.sql"),
    },
    Migration {
        version: 17,
        name: "webhooks",
        sqlite: include_str!("../migrations/sqlite/0017_webhooks.sql"),
        postgres: include_str!("../migrations/postgres/0017_webhooks.sql"),
    },
    Migration {
        version: 18,
        name: "email",
        sqlite: include_str!("../migrations/sqlite/0018_email.sql"),
        postgres: include_str!("../migrations/postgres/0018_email.sql"),
    },
    Migration {
        version: 19,
        name: "robots",
        sqlite: include_str!("../migrations/sqlite/0019_robots.sql"),
        postgres: include_str!("../migrations/postgres/0019_robots.sql"),
    },
    Migration {
        version: 20,
        name: "job_claims",
        sqlite: include_str!("../migrations/sqlite/0020_job_claims.sql"),
        postgres: include_str!("../migrations/postgres/0020_job_claims.sql"),
    },
    Migration {
        version: 21,
        name: "service",
        sqlite: include_str!("../migrations/sqlite/0021_service.sql"),
        postgres: include_str!("../migrations/postgres/0021_service.sql"),
    },
    Migration {
        version: 22,
        name: "kb_surveys",
        sqlite: include_str!("../migrations/sqlite/0022_kb_surveys.sql"),
        postgres: include_str!("../migrations/postgres/0022_kb_surveys.sql"),
    },
    Migration {
        version: 23,
        name: "parts",
        sqlite: include_str!("../migrations/sqlite/0023_parts.sql"),
        postgres: include_str!("../migrations/postgres/0023_parts.sql"),
    },
    Migration {
        version: 24,
        name: "portal",
        sqlite: include_str!("../migrations/sqlite/0024_portal.sql"),
        postgres: include_str!("../migrations/postgres/0024_portal.sql"),
    },
    Migration {
        version: 25,
        name: "marketing",
        sqlite: include_str!("../migrations/sqlite/0025_marketing.sql"),
        postgres: include_str!("../migrations/postgres/0025_marketing.sql"),
    },
    Migration {
        version: 26,
        name: "consent and responses",
        sqlite: include_str!("../migrations/sqlite/0026_consent_and_responses.sql"),
        postgres: include_str!("../migrations/postgres/0026_consent_and_responses.sql"),
    },
    Migration {
        version: 27,
        name: "propensity",
        sqlite: include_str!("../migrations/sqlite/0027_propensity.sql"),
        postgres: include_str!("../migrations/postgres/0027_propensity.sql"),
    },
    Migration {
        version: 28,
        name: "sending rules",
        sqlite: include_str!("../migrations/sqlite/0028_sending_rules.sql"),
        postgres: include_str!("../migrations/postgres/0028_sending_rules.sql"),
    },
    Migration {
        version: 29,
        name: "journeys",
        sqlite: include_str!("../migrations/sqlite/0029_journeys.sql"),
        postgres: include_str!("../migrations/postgres/0029_journeys.sql"),
    },
];

/// Apply every migration not applied yet; returns how many ran.
pub(crate) async fn run(db: &Db) -> Result<usize> {
    let ts = match db.backend() {
        Backend::Sqlite => "INTEGER",
        Backend::Postgres => "TIMESTAMPTZ",
    };
    db.exec_raw(&format!(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at {ts} NOT NULL)"
    ))
    .await?;
    let mut ran = 0;
    for m in MIGRATIONS {
        let mut tx = db.begin().await?;
        if tx.backend() == Backend::Postgres {
            // Two instances starting together: the second waits, then sees the migration applied.
            tx.exec_raw("LOCK TABLE schema_migrations IN EXCLUSIVE MODE")
                .await?;
        }
        let done = tx
            .fetch(
                "SELECT version FROM schema_migrations WHERE version = $1",
                vec![Val::Int(m.version)],
                &[Kind::Int],
            )
            .await?;
        if !done.is_empty() {
            continue;
        }
        let sql = match tx.backend() {
            Backend::Sqlite => m.sqlite,
            Backend::Postgres => m.postgres,
        };
        tx.exec_raw(sql).await?;
        tx.exec(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            vec![
                Val::Int(m.version),
                Val::Text(m.name.into()),
                Val::Ts(chrono::Utc::now()),
            ],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
        ran += 1;
    }
    Ok(ran)
}
