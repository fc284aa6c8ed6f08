//! Running durable jobs (see `guanxi_store`'s jobs): a [`Runner`] claims due jobs of the
//! kinds it has a [`Handler`] for, runs them concurrently, keeps their leases while they
//! run, and records each outcome: done, queued again after a backoff with jitter, or dead.
//!
//! A job runs at least once: a process killed mid-job leaves it `running` until its lease
//! runs out, when another runner takes it over. Handlers make their effect idempotent (by
//! the job's id where the effect is ours).
//!
//! Registering a handler is one line in [`served`], the set `guanxi serve` runs:
//! `.with(MyHandler)`. A follower of the change log that turns events into
//! jobs calls `Store::enqueue_and_advance(name, last_seq, &jobs)` in its `handle`, so each
//! event's jobs are enqueued exactly once (keys make a batch delivered again harmless).
//!
//! Administrators see, retry and cancel jobs through [`list`], [`retry`] and [`cancel`].

mod admin;
mod runner;

pub use admin::{cancel, counts, get, list, retry};
pub use runner::{Handler, Handlers, JobError, Options, Runner, owner_name, served, start};
