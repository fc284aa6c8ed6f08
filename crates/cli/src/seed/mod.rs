//! The demo data generator: a realistic, bilingual company with customers, partners,
//! products and years of history. Deterministic for a seed and an as-of date.
//!
//! Purchases follow a buy-till-you-die process, so the analytics have real structure to
//! find: each customer buys at their own Poisson rate while alive and drops out with their
//! own probability after each purchase; their spend level is gamma-distributed.

mod customers;
mod names;
mod org;
mod regions;

use anyhow::Context;
use chrono::NaiveDate;
use guanxi_domain::Actor;
use guanxi_store::Store;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct SeedOptions {
    /// Customer accounts to create (partners and the sales organisation come on top).
    pub customers: u64,
    /// The random seed: the same seed, size and as-of date give the same data.
    pub seed: u64,
    /// Draw a progress bar (when stderr is a terminal).
    pub progress: bool,
    /// The day the history runs up to; today when not given.
    pub as_of: Option<NaiveDate>,
}

/// A user the generator created, for `guanxi demo` to print.
#[derive(Debug, Clone)]
pub struct DemoUser {
    pub email: String,
    pub role: String,
    pub name: String,
}

#[derive(Debug, Clone, Default)]
pub struct SeedReport {
    pub users: Vec<DemoUser>,
    /// (table, rows written).
    pub rows: Vec<(&'static str, u64)>,
    pub seconds: f64,
}

/// Customers generated and written per transaction.
const BATCH: u64 = 2_000;

pub async fn run(store: &Store, opts: &SeedOptions) -> anyhow::Result<SeedReport> {
    let started = Instant::now();
    let as_of = opts
        .as_of
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    let system = Actor::system();
    let org = org::build(store, &system, opts.seed, opts.customers)
        .await
        .context("creating the organisation")?;
    let ctx = std::sync::Arc::new(customers::Context::new(org.clone(), opts.seed, as_of));

    let bar = if opts.progress {
        let bar = indicatif::ProgressBar::new(opts.customers);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {pos}/{len} customers ({per_sec}, ETA {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };

    // Generate on a thread of its own while the previous batch is written.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<customers::Batch>(2);
    let total = opts.customers;
    let gen_ctx = ctx.clone();
    let generator = std::thread::spawn(move || {
        let mut start = 0;
        while start < total {
            let n = BATCH.min(total - start);
            if tx.blocking_send(gen_ctx.batch(start, n)).is_err() {
                break;
            }
            start += n;
        }
    });
    let mut counts = customers::Counts::default();
    while let Some(batch) = rx.recv().await {
        let n = batch.customers;
        counts.add(&batch);
        batch
            .write(store, &system)
            .await
            .context("writing customers")?;
        bar.inc(n);
    }
    generator
        .join()
        .map_err(|_| anyhow::anyhow!("the generator thread panicked"))?;
    bar.finish_and_clear();
    store.optimize().await.context("analysing the new data")?;

    let mut rows = org.rows.clone();
    rows.extend(counts.rows());
    Ok(SeedReport {
        users: org.users.clone(),
        rows,
        seconds: started.elapsed().as_secs_f64(),
    })
}
