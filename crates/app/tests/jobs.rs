//! The job runner over a real store (a SQLite file, and PostgreSQL when
//! `GUANXI_TEST_POSTGRES` names a server): retries until success, permanent failures,
//! takeover of a dead worker's job, leases kept while a long job runs, waking on enqueue.

mod common;

use common::{quick, stores};
use guanxi_app::jobs::{self, Handler, Handlers, JobError, Options};
use guanxi_domain::Id;
use guanxi_store::{Job, JobState, NewJob, Store};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// The job once it has left `queued` and `running`; panics if it never does.
async fn settled(s: &Store, id: Id) -> Job {
    for _ in 0..6_000 {
        let job = s.job(id).await.unwrap();
        if !matches!(job.state, JobState::Queued | JobState::Running) {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("job {id} never finished");
}

/// Fails with a passing error until it has been called `fail_first` times.
struct Flaky {
    fail_first: u32,
    calls: Arc<AtomicU32>,
}

impl Handler for Flaky {
    fn kind(&self) -> &str {
        "test.flaky"
    }

    async fn run(&self, _job: &Job) -> Result<(), JobError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n <= self.fail_first {
            return Err(JobError::retry(format!("receiver down (call {n})")));
        }
        Ok(())
    }
}

struct Refuses;

impl Handler for Refuses {
    fn kind(&self) -> &str {
        "test.refuses"
    }

    async fn run(&self, job: &Job) -> Result<(), JobError> {
        Err(JobError::permanent(format!(
            "cannot read payload {}",
            job.payload
        )))
    }
}

/// Counts its calls, and finishes only when `release` is notified.
struct Slow {
    calls: Arc<AtomicU32>,
    release: Arc<Notify>,
}

impl Handler for Slow {
    fn kind(&self) -> &str {
        "test.slow"
    }

    async fn run(&self, _job: &Job) -> Result<(), JobError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.release.notified().await;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_failing_twice_then_succeeding_is_done_after_three_attempts() {
    let (stores, _dir) = stores("gx_jobs_app").await;
    for s in stores {
        let calls = Arc::new(AtomicU32::new(0));
        let handlers = Handlers::new().with(Flaky {
            fail_first: 2,
            calls: calls.clone(),
        });
        let runner = jobs::start(s.clone(), handlers, quick());
        let id = s
            .enqueue(&[NewJob::new("test.flaky", json!({}))])
            .await
            .unwrap()[0]
            .id;
        let job = settled(&s, id).await;
        assert_eq!((job.state, job.attempts), (JobState::Done, 3));
        assert_eq!(job.last_error.as_deref(), Some("receiver down (call 2)"));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        runner.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_permanent_failure_is_dead_at_once_and_retries_run_out() {
    let (stores, _dir) = stores("gx_jobs_app").await;
    for s in stores {
        let calls = Arc::new(AtomicU32::new(0));
        let handlers = Handlers::new().with(Refuses).with(Flaky {
            fail_first: u32::MAX,
            calls: calls.clone(),
        });
        let runner = jobs::start(s.clone(), handlers, quick());
        let made = s
            .enqueue(&[
                NewJob::new("test.refuses", json!({"x": 1})),
                NewJob::new("test.flaky", json!({})).max_attempts(4),
            ])
            .await
            .unwrap();
        let refused = settled(&s, made[0].id).await;
        assert_eq!((refused.state, refused.attempts), (JobState::Dead, 1));
        assert_eq!(
            refused.last_error.as_deref(),
            Some(r#"cannot read payload {"x":1}"#)
        );
        let flaky = settled(&s, made[1].id).await;
        assert_eq!((flaky.state, flaky.attempts), (JobState::Dead, 4));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        runner.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_workers_job_is_taken_over_when_its_lease_runs_out() {
    let (stores, _dir) = stores("gx_jobs_app").await;
    for s in stores {
        let id = s
            .enqueue(&[NewJob::new("test.flaky", json!({}))])
            .await
            .unwrap()[0]
            .id;
        // A worker that claims the job and dies: it never completes, fails or renews.
        let claimed = s
            .claim("killed", None, 1, Duration::from_millis(200))
            .await
            .unwrap();
        assert_eq!(claimed[0].id, id);
        let calls = Arc::new(AtomicU32::new(0));
        let runner = jobs::start(
            s.clone(),
            Handlers::new().with(Flaky {
                fail_first: 0,
                calls: calls.clone(),
            }),
            quick(),
        );
        let job = settled(&s, id).await;
        assert_eq!((job.state, job.attempts), (JobState::Done, 2));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(!s.complete(id, "killed").await.unwrap(), "too late");
        runner.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_long_job_keeps_its_lease_while_another_runner_looks() {
    let (stores, _dir) = stores("gx_jobs_app").await;
    for s in stores {
        let calls = Arc::new(AtomicU32::new(0));
        let release = Arc::new(Notify::new());
        let slow = || Slow {
            calls: calls.clone(),
            release: release.clone(),
        };
        let options = Options {
            lease: Duration::from_millis(150),
            ..quick()
        };
        let first = jobs::start(s.clone(), Handlers::new().with(slow()), options.clone());
        let id = s
            .enqueue(&[NewJob::new("test.slow", json!({}))])
            .await
            .unwrap()[0]
            .id;
        let mut leases = vec![];
        for _ in 0..6_000 {
            if let Some(until) = s.job(id).await.unwrap().lease_until
                && leases.last() != Some(&until)
            {
                leases.push(until);
            }
            if leases.len() == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // A second runner polls throughout several more renewals.
        let second = jobs::start(s.clone(), Handlers::new().with(slow()), options);
        for _ in 0..6_000 {
            if let Some(until) = s.job(id).await.unwrap().lease_until
                && leases.last() != Some(&until)
            {
                leases.push(until);
            }
            if leases.len() == 6 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(leases.len(), 6, "the lease was renewed");
        let job = s.job(id).await.unwrap();
        assert_eq!(job.lease_owner.as_deref(), Some(first.owner()));
        assert_eq!((job.state, job.attempts), (JobState::Running, 1));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "never taken over");
        release.notify_one();
        let job = settled(&s, id).await;
        assert_eq!((job.state, job.attempts), (JobState::Done, 1));
        first.stop().await;
        second.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_enqueue_wakes_a_runner_of_the_same_process() {
    let (stores, _dir) = stores("gx_jobs_app").await;
    for s in stores {
        let calls = Arc::new(AtomicU32::new(0));
        // It would look again only after an hour: only the wake-up can start the job.
        let options = Options {
            poll: Duration::from_secs(3600),
            ..quick()
        };
        let handlers = Handlers::new().with(Flaky {
            fail_first: 0,
            calls: calls.clone(),
        });
        let runner = jobs::start(s.clone(), handlers, options);
        // A first job, then a pause: the runner has claimed at start and is waiting.
        for _ in 0..2 {
            let id = s
                .enqueue(&[NewJob::new("test.flaky", json!({}))])
                .await
                .unwrap()[0]
                .id;
            assert_eq!(settled(&s, id).await.state, JobState::Done);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        let id = s
            .enqueue(&[NewJob::new("test.flaky", json!({}))])
            .await
            .unwrap()[0]
            .id;
        assert_eq!(settled(&s, id).await.state, JobState::Done);
        runner.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stopping_lets_the_job_in_hand_finish() {
    let (stores, _dir) = stores("gx_jobs_app").await;
    for s in stores {
        let calls = Arc::new(AtomicU32::new(0));
        let release = Arc::new(Notify::new());
        let runner = jobs::start(
            s.clone(),
            Handlers::new().with(Slow {
                calls: calls.clone(),
                release: release.clone(),
            }),
            quick(),
        );
        let id = s
            .enqueue(&[NewJob::new("test.slow", json!({}))])
            .await
            .unwrap()[0]
            .id;
        for _ in 0..6_000 {
            if calls.load(Ordering::SeqCst) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let stopping = tokio::spawn(runner.stop());
        release.notify_one();
        stopping.await.unwrap();
        assert_eq!(s.job(id).await.unwrap().state, JobState::Done);
    }
}
