//! The change-log follower on both backends: events with what subscribers need (imports
//! expanded per record), positions kept in the database, resumption, retries.

mod common;

use common::*;
use guanxi_domain::entities::*;
use guanxi_domain::{Actor, Id, NewRecord};
use guanxi_store::follow::{Failed, Follower, Options, Subscriber, catch_up, follow};
use guanxi_store::{ChangeEvent, Store};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Keeps every batch it handled; fails while `failures` is above zero, telling `failed`.
#[derive(Clone)]
struct Recorder {
    name: &'static str,
    seen: Arc<Mutex<Vec<ChangeEvent>>>,
    failures: Arc<Mutex<u32>>,
    failed: Option<mpsc::UnboundedSender<Vec<i64>>>,
}

impl Recorder {
    fn new(name: &'static str) -> Recorder {
        Recorder {
            name,
            seen: Default::default(),
            failures: Default::default(),
            failed: None,
        }
    }

    fn seqs(&self) -> Vec<i64> {
        self.seen.lock().unwrap().iter().map(|e| e.seq).collect()
    }
}

impl Subscriber for Recorder {
    type Error = String;

    fn name(&self) -> &str {
        self.name
    }

    async fn handle(&mut self, events: &[ChangeEvent]) -> Result<(), String> {
        {
            let mut left = self.failures.lock().unwrap();
            if *left > 0 {
                *left -= 1;
                if let Some(tx) = &self.failed {
                    let _ = tx.send(events.iter().map(|e| e.seq).collect());
                }
                return Err("refused on purpose".into());
            }
        }
        self.seen.lock().unwrap().extend_from_slice(events);
        Ok(())
    }
}

fn quick() -> Options {
    Options {
        batch: 4,
        retry: Duration::from_millis(1),
        ..Options::default()
    }
}

async fn caught_up<S>(s: &Store, f: &Follower<S>) -> i64 {
    let last = s.last_change().await.unwrap();
    assert!(f.caught_up(last).await, "the follower ended early");
    last
}

async fn accounts(s: &Store, w: &World, names: &[&str]) {
    for n in names {
        w.account(s, &w.rep_a, n).await;
    }
}

conformance!(
    imports_arrive_as_one_create_per_record,
    |s: Store| async move {
        let w = World::build(&s).await;
        let sys = Actor::system();
        let before = s.last_change().await.unwrap();
        let single = w.account(&s, &w.rep_a, "单独").await;
        // Ids chosen out of order, as demo data may: all of them still come back.
        let ids: Vec<Id> = (0..3).map(|_| Id::new()).rev().collect();
        let rows = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                NewRecord::new(Contact::new(format!("导入 {i}")))
                    .with_id(*id)
                    .owned_by(w.rep_a.user_id, w.rep_a.team_id)
            })
            .collect();
        s.import(&sys, rows).await.unwrap();
        let import_seq = s.last_change().await.unwrap();
        s.update::<Contact, _>(&w.rep_a, ids[0], 1, |r| {
            r.data.title = Some("经理".into());
            Ok(())
        })
        .await
        .unwrap();

        let all = s.events_after(before, 100).await.unwrap();
        assert_eq!(all.through, Some(import_seq + 1));
        let kinds: Vec<(&str, &str)> = all
            .events
            .iter()
            .map(|e| (e.entity.as_str(), e.action.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("account", "create"),
                ("contact", "create"),
                ("contact", "create"),
                ("contact", "create"),
                ("contact", "update"),
            ]
        );
        assert_eq!(all.events[0].record_id, single.meta.id);
        assert_eq!(all.events[0].after, Some(single.to_json()));
        assert_eq!(all.events[0].import, None);
        let imported = &all.events[1..4];
        let mut got: Vec<Id> = imported.iter().map(|e| e.record_id).collect();
        got.sort();
        let mut want = ids.clone();
        want.sort();
        assert_eq!(got, want);
        for e in imported {
            assert_eq!(e.seq, import_seq);
            assert_eq!(e.actor_id, Id::SYSTEM);
            assert_eq!(e.before, None);
            let batch = e.import.as_ref().expect("marked as imported");
            assert_eq!((batch.count, batch.job), (3, None));
            // The record as stored now, later edits included.
            let now = s.get::<Contact>(&sys, e.record_id).await.unwrap();
            assert_eq!(e.after, Some(now.to_json()));
            assert_eq!(e.at, now.meta.created_at);
        }
        let first = s.get::<Contact>(&sys, ids[0]).await.unwrap();
        assert_eq!(first.data.title.as_deref(), Some("经理"));

        // Batches hold whole entries: an import larger than the batch comes whole and alone,
        // and does not join a batch it would overflow.
        let one = s.events_after(import_seq - 1, 1).await.unwrap();
        assert_eq!(one.events.len(), 3);
        assert_eq!(one.through, Some(import_seq));
        let two = s.events_after(before, 2).await.unwrap();
        assert_eq!(two.events.len(), 1);
        assert_eq!(two.through, Some(import_seq - 1));
        let none = s.events_after(import_seq + 1, 10).await.unwrap();
        assert_eq!((none.events.len(), none.through), (0, None));
    }
);

conformance!(a_follower_resumes_where_it_stopped, |s: Store| async move {
    let w = World::build(&s).await;
    let first = Recorder::new("resume");
    let f = follow(s.clone(), first.clone(), quick());
    accounts(&s, &w, &["一", "二", "三"]).await;
    let mid = caught_up(&s, &f).await;
    f.stop().await.unwrap();
    assert_eq!(s.subscriber_position("resume").await.unwrap(), mid);
    let seqs = first.seqs();
    assert_eq!(
        seqs,
        (1..=mid).collect::<Vec<_>>(),
        "each entry once, in order"
    );

    // Written while no follower runs: the next one starts where the last one stopped.
    accounts(&s, &w, &["四", "五"]).await;
    let second = Recorder::new("resume");
    let f = follow(s.clone(), second.clone(), quick());
    let end = caught_up(&s, &f).await;
    f.stop().await.unwrap();
    assert_eq!(second.seqs(), (mid + 1..=end).collect::<Vec<_>>());
    let names: Vec<String> = second
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|e| {
            e.after.as_ref().unwrap()["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(names, ["四", "五"]);
    assert_eq!(s.subscriber_position("resume").await.unwrap(), end);
});

conformance!(
    a_failing_handler_is_retried_never_skipped,
    |s: Store| async move {
        let w = World::build(&s).await;
        let (tx, mut failed) = mpsc::unbounded_channel();
        let mut sub = Recorder::new("flaky");
        sub.failed = Some(tx);
        let f = follow(s.clone(), sub.clone(), quick());
        let start = caught_up(&s, &f).await;

        *sub.failures.lock().unwrap() = 2;
        accounts(&s, &w, &["失败"]).await;
        let target = s.last_change().await.unwrap();
        for _ in 0..2 {
            assert_eq!(
                failed.recv().await.unwrap(),
                [target],
                "the same event again"
            );
        }
        assert!(f.caught_up(target).await);
        f.stop().await.unwrap();
        assert_eq!(*sub.failures.lock().unwrap(), 0);
        assert_eq!(sub.seqs(), (1..=target).collect::<Vec<_>>());
        assert_eq!(start + 1, target);

        // While it keeps failing, the stored position stays before the failing entry.
        *sub.failures.lock().unwrap() = u32::MAX;
        accounts(&s, &w, &["又失败"]).await;
        let f = follow(s.clone(), sub.clone(), quick());
        let next = s.last_change().await.unwrap();
        assert_eq!(failed.recv().await.unwrap(), [next]);
        assert_eq!(failed.recv().await.unwrap(), [next]);
        assert_eq!(s.subscriber_position("flaky").await.unwrap(), target);
        assert_eq!(f.position(), target);
        f.stop().await.unwrap();
        assert_eq!(s.subscriber_position("flaky").await.unwrap(), target);
    }
);

conformance!(
    subscribers_keep_their_own_positions,
    |s: Store| async move {
        let w = World::build(&s).await;
        let a = Recorder::new("a");
        let f = follow(s.clone(), a.clone(), quick());
        accounts(&s, &w, &["甲"]).await;
        let end = caught_up(&s, &f).await;
        f.stop().await.unwrap();
        assert_eq!(s.subscriber_position("a").await.unwrap(), end);
        assert_eq!(s.subscriber_position("b").await.unwrap(), 0);

        // Another subscriber starts at the beginning of the log, whatever "a" has done.
        let b = Recorder::new("b");
        let f = follow(s.clone(), b.clone(), quick());
        caught_up(&s, &f).await;
        f.stop().await.unwrap();
        assert_eq!(b.seqs(), a.seqs());

        // Positions only move forward, even when instances race with stale positions.
        assert_eq!(s.advance_subscriber("a", end - 1).await.unwrap(), end);
        let racing: Vec<_> = (1..=end)
            .map(|p| {
                let s = s.clone();
                tokio::spawn(async move { s.advance_subscriber("c", p).await.unwrap() })
            })
            .collect();
        for r in racing {
            r.await.unwrap();
        }
        assert_eq!(s.subscriber_position("c").await.unwrap(), end);
        // Going back is a deliberate reset, e.g. for a derived store that was lost.
        s.reset_subscriber("a", 0).await.unwrap();
        assert_eq!(s.subscriber_position("a").await.unwrap(), 0);
    }
);

conformance!(
    catch_up_runs_to_the_end_once_and_returns_failures,
    |s: Store| async move {
        let w = World::build(&s).await;
        accounts(&s, &w, &["一", "二", "三"]).await;
        let end = s.last_change().await.unwrap();
        let mut sub = Recorder::new("once");
        // Batches of 2 events: several rounds, all run before it returns.
        assert_eq!(catch_up(&s, &mut sub, 2).await.unwrap(), end);
        assert_eq!(sub.seqs(), (1..=end).collect::<Vec<_>>());
        assert_eq!(s.subscriber_position("once").await.unwrap(), end);
        assert_eq!(catch_up(&s, &mut sub, 2).await.unwrap(), end, "nothing new");

        // A failure comes back at once, the position left before the failing entry.
        accounts(&s, &w, &["四"]).await;
        *sub.failures.lock().unwrap() = 1;
        assert!(matches!(
            catch_up(&s, &mut sub, 2).await,
            Err(Failed::Subscriber(_))
        ));
        assert_eq!(s.subscriber_position("once").await.unwrap(), end);
        assert_eq!(catch_up(&s, &mut sub, 2).await.unwrap(), end + 1);
    }
);
