//! Durable jobs on both backends: idempotent enqueueing, exclusive claims under
//! concurrency, leases taken over after they expire, timers, retries and dead letters,
//! administration, and enqueueing atomically with a subscriber's position.

mod common;

use guanxi_domain::Id;
use guanxi_store::{
    Job, JobFailure, JobFilter, JobState, NewJob, NewRuleRun, Retry, RuleRun, RunsOf, Store,
    StoreError,
};
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(60);

fn job(i: usize) -> NewJob {
    NewJob::new("test.work", json!({ "n": i }))
}

/// Claim one job for `owner`, polling until there is one (a lease that must run out first).
async fn claim_one(s: &Store, owner: &str, lease: Duration) -> Job {
    for _ in 0..2_000 {
        if let Some(j) = s.claim(owner, None, 1, lease).await.unwrap().pop() {
            return j;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{owner} found no job to claim");
}

fn refused_field(e: StoreError) -> (String, String) {
    match e {
        StoreError::Invalid(errors) => {
            let f = &errors.0[0];
            (f.field.clone(), f.message.clone())
        }
        other => panic!("expected a refusal naming a field, got {other:?}"),
    }
}

conformance!(enqueue_is_idempotent_by_key, |s: Store| async move {
    let first = s
        .enqueue(&[job(1).key("rule:r1:7:0"), job(2)])
        .await
        .unwrap();
    assert!(first.iter().all(|e| e.created));
    let again = s
        .enqueue(&[job(3).key("rule:r1:7:0"), job(4).key("rule:r1:7:1")])
        .await
        .unwrap();
    assert_eq!(again[0].id, first[0].id, "the existing job's id");
    assert!(!again[0].created);
    assert!(again[1].created);
    let same_batch = s
        .enqueue(&[job(5).key("k"), job(6).key("k")])
        .await
        .unwrap();
    assert_eq!(same_batch[0].id, same_batch[1].id);
    assert_eq!(
        (same_batch[0].created, same_batch[1].created),
        (true, false)
    );

    let all = s.list_jobs(&JobFilter::default(), 100, None).await.unwrap();
    assert_eq!(all.items.len(), 4, "no second row for a key");
    let kept = s.job(first[0].id).await.unwrap();
    assert_eq!(kept.payload, json!({ "n": 1 }), "the first payload stays");
    assert_eq!((kept.state, kept.attempts), (JobState::Queued, 0));

    let bad = s
        .enqueue(&[NewJob::new(" ", json!(null))])
        .await
        .unwrap_err();
    assert_eq!(refused_field(bad).0, "kind");
    let bad = s.enqueue(&[job(0).max_attempts(0)]).await.unwrap_err();
    assert_eq!(refused_field(bad).0, "max_attempts");
});

/// Every job is claimed by exactly one of `claimers` working concurrently until the queue
/// is empty; returns how many each claimed.
async fn drain(claimers: Vec<(Store, String)>, jobs: usize) -> Vec<usize> {
    let tasks: Vec<_> = claimers
        .into_iter()
        .map(|(s, owner)| {
            tokio::spawn(async move {
                let mut mine = vec![];
                loop {
                    let got = s.claim(&owner, None, 7, LEASE).await.unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    for j in got {
                        assert_eq!(j.lease_owner.as_deref(), Some(owner.as_str()));
                        assert!(s.complete(j.id, &owner).await.unwrap());
                        mine.push(j.id);
                    }
                }
            })
        })
        .collect();
    let mut seen: HashMap<Id, usize> = HashMap::new();
    let mut per = vec![];
    for t in tasks {
        let mine = t.await.unwrap();
        per.push(mine.len());
        for id in mine {
            *seen.entry(id).or_default() += 1;
        }
    }
    assert_eq!(seen.len(), jobs, "every job claimed");
    assert!(
        seen.values().all(|&n| n == 1),
        "no job claimed twice: {:?}",
        seen.values().filter(|&&n| n > 1).count()
    );
    per
}

conformance!(
    concurrent_claims_take_each_job_once,
    |s: Store| async move {
        let jobs: Vec<NewJob> = (0..500).map(job).collect();
        s.enqueue(&jobs).await.unwrap();
        let claimers = (0..4).map(|i| (s.clone(), format!("worker-{i}"))).collect();
        drain(claimers, 500).await;
        let counts: HashMap<_, _> = s.job_counts().await.unwrap().into_iter().collect();
        assert_eq!(counts[&JobState::Done], 500);
        assert_eq!(counts[&JobState::Queued] + counts[&JobState::Running], 0);
    }
);

/// Two `Store`s (two pools, as two `guanxi serve` processes have) on one PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_on_one_postgres_never_share_a_job() {
    let Some(url) = guanxi_store::testing::fresh_postgres("gx_jobs").await else {
        return;
    };
    let a = Store::open(&url).await.unwrap();
    let b = Store::open(&url).await.unwrap();
    let jobs: Vec<NewJob> = (0..500).map(job).collect();
    a.enqueue(&jobs).await.unwrap();
    let claimers = (0..4)
        .map(|i| {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            (s, format!("process-{}-worker-{i}", i % 2))
        })
        .collect();
    drain(claimers, 500).await;
}

conformance!(an_expired_lease_is_taken_over, |s: Store| async move {
    s.enqueue(&[job(1)]).await.unwrap();
    let old = claim_one(&s, "old", Duration::from_millis(1)).await;
    assert_eq!((old.state, old.attempts), (JobState::Running, 1));
    let new = claim_one(&s, "new", LEASE).await;
    assert_eq!(new.id, old.id);
    assert_eq!(new.attempts, 2, "the takeover is another attempt");
    assert_eq!(new.lease_owner.as_deref(), Some("new"));

    assert!(!s.complete(old.id, "old").await.unwrap(), "refused");
    assert_eq!(
        s.fail(old.id, "old", "late", Retry::Never).await.unwrap(),
        JobFailure::LeaseLost
    );
    assert!(!s.extend_lease(old.id, "old", LEASE).await.unwrap());
    let now = s.job(old.id).await.unwrap();
    assert_eq!(now.state, JobState::Running, "the new owner's still");
    assert_eq!(now.lease_owner.as_deref(), Some("new"));

    assert!(s.extend_lease(new.id, "new", LEASE).await.unwrap());
    assert!(s.claim("third", None, 10, LEASE).await.unwrap().is_empty());
    assert!(s.complete(new.id, "new").await.unwrap());
    let done = s.job(new.id).await.unwrap();
    assert_eq!(done.state, JobState::Done);
    assert!(done.finished_at.is_some() && done.lease_owner.is_none());
});

conformance!(
    a_job_whose_worker_dies_on_its_last_attempt_is_dead,
    |s: Store| async move {
        s.enqueue(&[job(1).max_attempts(1)]).await.unwrap();
        let j = claim_one(&s, "dies", Duration::from_millis(1)).await;
        // Wait for the lease to run out, then let another worker look.
        for _ in 0..2_000 {
            assert!(s.claim("other", None, 10, LEASE).await.unwrap().is_empty());
            if s.job(j.id).await.unwrap().state != JobState::Running {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let dead = s.job(j.id).await.unwrap();
        assert_eq!((dead.state, dead.attempts), (JobState::Dead, 1));
        assert!(dead.last_error.unwrap().contains("lease"));
    }
);

conformance!(timers_wait_for_their_time, |s: Store| async move {
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    let past = chrono::Utc::now() - chrono::Duration::seconds(1);
    let timer = s.enqueue(&[job(1).at(later)]).await.unwrap()[0].id;
    let due = s.enqueue(&[job(2).at(past)]).await.unwrap()[0].id;
    let got = s.claim("w", None, 10, LEASE).await.unwrap();
    assert_eq!(got.iter().map(|j| j.id).collect::<Vec<_>>(), [due]);
    let t = s.job(timer).await.unwrap();
    assert_eq!(
        (t.state, t.run_at.timestamp()),
        (JobState::Queued, later.timestamp())
    );
});

conformance!(claims_only_the_kinds_asked_for, |s: Store| async move {
    s.enqueue(&[
        NewJob::new("email.send", json!({})),
        NewJob::new("webhook.deliver", json!({})),
    ])
    .await
    .unwrap();
    let got = s
        .claim("w", Some(&["webhook.deliver"]), 10, LEASE)
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].kind, "webhook.deliver");
    assert!(s.claim("w", Some(&[]), 10, LEASE).await.unwrap().is_empty());
});

conformance!(failures_back_off_then_go_dead, |s: Store| async move {
    let id = s.enqueue(&[job(1).max_attempts(3)]).await.unwrap()[0].id;
    for attempt in 1..=2 {
        let j = claim_one(&s, "w", LEASE).await;
        assert_eq!(j.attempts, attempt);
        let before = chrono::Utc::now();
        let JobFailure::Retrying(at) = s
            .fail(
                id,
                "w",
                &format!("boom {attempt}"),
                Retry::After(Duration::ZERO),
            )
            .await
            .unwrap()
        else {
            panic!("attempt {attempt} of 3 is retried");
        };
        assert!(at >= before - chrono::Duration::seconds(1));
        let q = s.job(id).await.unwrap();
        assert_eq!(q.state, JobState::Queued);
        assert_eq!(
            q.last_error.as_deref(),
            Some(format!("boom {attempt}").as_str())
        );
        assert!(q.lease_owner.is_none());
    }
    claim_one(&s, "w", LEASE).await;
    assert_eq!(
        s.fail(id, "w", "boom 3", Retry::After(Duration::ZERO))
            .await
            .unwrap(),
        JobFailure::Dead
    );
    let dead = s.job(id).await.unwrap();
    assert_eq!((dead.state, dead.attempts), (JobState::Dead, 3));
    assert!(dead.finished_at.is_some());
    assert!(s.claim("w", None, 10, LEASE).await.unwrap().is_empty());

    // A wait puts the job's next run ahead of now: it is not claimed meanwhile.
    let later = s.enqueue(&[job(2)]).await.unwrap()[0].id;
    claim_one(&s, "w", LEASE).await;
    let JobFailure::Retrying(at) = s
        .fail(later, "w", "busy", Retry::After(Duration::from_secs(3600)))
        .await
        .unwrap()
    else {
        panic!("retried");
    };
    assert!(at > chrono::Utc::now() + chrono::Duration::minutes(59));
    assert!(s.claim("w", None, 10, LEASE).await.unwrap().is_empty());

    // A permanent failure is dead at once, attempts left or not.
    let permanent = s.enqueue(&[job(3)]).await.unwrap()[0].id;
    claim_one(&s, "w", LEASE).await;
    assert_eq!(
        s.fail(permanent, "w", "bad payload", Retry::Never)
            .await
            .unwrap(),
        JobFailure::Dead
    );
    assert_eq!(s.job(permanent).await.unwrap().attempts, 1);
});

conformance!(administrators_retry_and_cancel, |s: Store| async move {
    let id = s.enqueue(&[job(1).max_attempts(1)]).await.unwrap()[0].id;
    let (field, message) = refused_field(s.retry_job(id).await.unwrap_err());
    assert_eq!(field, "state");
    assert!(message.contains("queued"), "{message}");

    claim_one(&s, "w", LEASE).await;
    let (field, message) = refused_field(s.cancel_job(id).await.unwrap_err());
    assert_eq!(field, "state");
    assert!(message.contains("running"), "{message}");
    assert_eq!(
        s.fail(id, "w", "boom", Retry::After(Duration::ZERO))
            .await
            .unwrap(),
        JobFailure::Dead
    );

    let retried = s.retry_job(id).await.unwrap();
    assert_eq!((retried.state, retried.attempts), (JobState::Queued, 0));
    assert!(retried.finished_at.is_none());
    assert!(retried.run_at <= chrono::Utc::now());
    assert_eq!(claim_one(&s, "w", LEASE).await.id, id, "claimable again");
    assert!(s.complete(id, "w").await.unwrap());
    let (_, message) = refused_field(s.retry_job(id).await.unwrap_err());
    assert!(message.contains("done"), "{message}");

    let queued = s.enqueue(&[job(2)]).await.unwrap()[0].id;
    let cancelled = s.cancel_job(queued).await.unwrap();
    assert_eq!(cancelled.state, JobState::Cancelled);
    assert!(s.claim("w", None, 10, LEASE).await.unwrap().is_empty());
    assert!(s.cancel_job(queued).await.is_err(), "already cancelled");
    assert_eq!(s.retry_job(queued).await.unwrap().state, JobState::Queued);

    let unknown = Id::new();
    assert!(matches!(
        s.cancel_job(unknown).await,
        Err(StoreError::NotFound { entity: "job", .. })
    ));
    assert!(matches!(
        s.retry_job(unknown).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.job(unknown).await,
        Err(StoreError::NotFound { .. })
    ));
});

conformance!(timers_are_cancelled_by_key_prefix, |s: Store| async move {
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    let ids: Vec<Id> = s
        .enqueue(&[
            job(1).key("sla:case1:due"),
            job(2).key("sla:case1:warn").at(later),
            job(3).key("sla:case10:due").at(later),
            job(4).key("sla:case2:due").at(later),
        ])
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    let running = claim_one(&s, "w", LEASE).await;
    assert_eq!(running.id, ids[0]);
    assert_eq!(s.cancel_jobs_by_key_prefix("sla:case1:").await.unwrap(), 1);
    let states: Vec<JobState> = {
        let mut v = vec![];
        for id in &ids {
            v.push(s.job(*id).await.unwrap().state);
        }
        v
    };
    assert_eq!(
        states,
        [
            JobState::Running,
            JobState::Cancelled,
            JobState::Queued,
            JobState::Queued
        ]
    );
    assert!(s.cancel_jobs_by_key_prefix("").await.is_err());
    assert_eq!(
        s.cancel_jobs_by_key_prefix("%").await.unwrap(),
        0,
        "no pattern"
    );
});

conformance!(
    enqueue_and_advance_is_one_transaction,
    |s: Store| async move {
        let sub = "rules:test";
        let made = s
            .enqueue_and_advance(sub, 12, &[job(1).key("rule:a:12:0")])
            .await
            .unwrap();
        assert!(made[0].created);
        assert_eq!(s.subscriber_position(sub).await.unwrap(), 12);

        // A batch that fails enqueues nothing and leaves the position.
        let bad = s
            .enqueue_and_advance(
                sub,
                20,
                &[job(2).key("rule:a:20:0"), job(3).max_attempts(0)],
            )
            .await;
        assert!(bad.is_err());
        assert_eq!(s.subscriber_position(sub).await.unwrap(), 12);
        let all = s.list_jobs(&JobFilter::default(), 100, None).await.unwrap();
        assert_eq!(
            all.items.len(),
            1,
            "the first job of the failed batch is gone too"
        );

        // Delivered again (another instance behind): the same job, the position not moved back.
        let again = s
            .enqueue_and_advance(sub, 5, &[job(1).key("rule:a:12:0")])
            .await
            .unwrap();
        assert_eq!((again[0].id, again[0].created), (made[0].id, false));
        assert_eq!(s.subscriber_position(sub).await.unwrap(), 12);
    }
);

conformance!(
    jobs_are_listed_newest_first_by_page,
    |s: Store| async move {
        for i in 0..5 {
            s.enqueue(&[job(i)]).await.unwrap();
        }
        s.enqueue(&[NewJob::new("email.send", json!({}))])
            .await
            .unwrap();
        claim_one(&s, "w", LEASE).await;

        let first = s.list_jobs(&JobFilter::default(), 4, None).await.unwrap();
        assert_eq!(first.items.len(), 4);
        let rest = s
            .list_jobs(&JobFilter::default(), 4, first.next_cursor.as_deref())
            .await
            .unwrap();
        assert_eq!(rest.items.len(), 2);
        assert!(rest.next_cursor.is_none());
        let ids: Vec<Id> = first
            .items
            .iter()
            .chain(&rest.items)
            .map(|j| j.id)
            .collect();
        let mut sorted = ids.clone();
        sorted.sort_by_key(|id| std::cmp::Reverse(id.0));
        assert_eq!(ids, sorted, "newest first, no row twice");
        assert_eq!(rest.items.last().unwrap().payload, json!({ "n": 0 }));

        let by_kind = JobFilter {
            kind: Some("email.send".into()),
            ..Default::default()
        };
        assert_eq!(
            s.list_jobs(&by_kind, 50, None).await.unwrap().items.len(),
            1
        );
        let running = JobFilter {
            state: Some(JobState::Running),
            ..Default::default()
        };
        let r = s.list_jobs(&running, 50, None).await.unwrap();
        assert_eq!(r.items.len(), 1);
        assert_eq!(
            r.items[0].payload,
            json!({ "n": 0 }),
            "the oldest due is claimed first"
        );

        let counts = s.job_counts().await.unwrap();
        assert_eq!(counts.len(), 5, "every state named");
        let counts: HashMap<_, _> = counts.into_iter().collect();
        assert_eq!(
            (counts[&JobState::Queued], counts[&JobState::Running]),
            (5, 1)
        );
        assert_eq!(counts[&JobState::Dead], 0);

        let bad = s.list_jobs(&JobFilter::default(), 4, Some("nope")).await;
        assert_eq!(refused_field(bad.unwrap_err()).0, "cursor");
    }
);

conformance!(
    rule_runs_their_jobs_and_the_position_commit_together,
    |s: Store| async move {
        let sub = "rules:together";
        let run = |rule: Id, seq: i64, refused: Option<&str>| NewRuleRun {
            rule_id: rule,
            entity: "case".into(),
            record_id: Id::new(),
            seq,
            depth: 1,
            refused: refused.map(String::from),
        };
        let keyed = |r: &RuleRun| job(0).key(format!("rule:{}", r.id));
        let (a, b) = (Id::new(), Id::new());
        let fired = vec![run(a, 7, None), run(b, 7, Some("too deep"))];
        let runs = s
            .record_rule_runs_and_advance(sub, 9, &fired, keyed)
            .await
            .unwrap();
        assert_eq!(
            runs.iter().map(|r| r.status.as_str()).collect::<Vec<_>>(),
            ["queued", "refused"]
        );
        assert_eq!(s.subscriber_position(sub).await.unwrap(), 9);
        let jobs = s.list_jobs(&JobFilter::default(), 100, None).await.unwrap();
        assert_eq!(jobs.items.len(), 1, "a job for the queued run only");
        assert_eq!(
            jobs.items[0].key.as_deref(),
            Some(format!("rule:{}", runs[0].id).as_str())
        );

        // Offered again (after a crash, or by another instance behind): the same runs, no
        // second job, the position not moved back.
        let again = s
            .record_rule_runs_and_advance(sub, 8, &fired, keyed)
            .await
            .unwrap();
        assert_eq!(again, runs);
        assert_eq!(s.subscriber_position(sub).await.unwrap(), 9);
        let jobs = s.list_jobs(&JobFilter::default(), 100, None).await.unwrap();
        assert_eq!(jobs.items.len(), 1);

        // A batch whose job is refused records no run and keeps the position.
        let bad = s
            .record_rule_runs_and_advance(sub, 12, &[run(a, 12, None)], |_| job(0).max_attempts(0))
            .await;
        assert!(bad.is_err());
        assert_eq!(s.subscriber_position(sub).await.unwrap(), 9);
        let runs_of_a = s
            .rule_runs(&guanxi_domain::Actor::system(), RunsOf::Rule(a), 10)
            .await
            .unwrap();
        assert_eq!(runs_of_a.len(), 1, "the failed batch's run is gone too");
    }
);

conformance!(
    jobs_done_and_the_next_claim_share_a_transaction,
    |s: Store| async move {
        s.enqueue(&[job(1), job(2), job(3)]).await.unwrap();
        let first = s.claim("w", None, 2, LEASE).await.unwrap();
        assert_eq!(first.len(), 2);
        let ids: Vec<Id> = first.iter().map(|j| j.id).collect();
        let (next, lost) = s
            .complete_and_claim(&ids, "w", None, 5, LEASE)
            .await
            .unwrap();
        assert!(lost.is_empty());
        assert_eq!(next.len(), 1, "the third, and nothing of the two done");
        assert!(!ids.contains(&next[0].id));
        for id in &ids {
            assert_eq!(s.job(*id).await.unwrap().state, JobState::Done);
        }
        // Done already, or another's: left alone and said so; nothing more to claim.
        let (none, lost) = s
            .complete_and_claim(&[ids[0], next[0].id], "other", None, 5, LEASE)
            .await
            .unwrap();
        assert!(none.is_empty());
        assert_eq!(lost, [ids[0], next[0].id]);
        assert_eq!(s.job(next[0].id).await.unwrap().state, JobState::Running);
        // Only finishing: no claim.
        s.enqueue(&[job(4)]).await.unwrap();
        let (none, lost) = s
            .complete_and_claim(&[next[0].id], "w", None, 0, LEASE)
            .await
            .unwrap();
        assert!(none.is_empty() && lost.is_empty());
        assert_eq!(s.job(next[0].id).await.unwrap().state, JobState::Done);
        assert_eq!(s.claim("w", None, 5, LEASE).await.unwrap().len(), 1);
    }
);
