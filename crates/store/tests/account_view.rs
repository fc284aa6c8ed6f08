//! The 360 view carries the first page of the timeline and the newest changes, so the
//! account page reads once. Runs on SQLite and PostgreSQL like the conformance suite.

mod common;

use common::*;
use guanxi_domain::NewRecord;
use guanxi_domain::entities::*;
use guanxi_store::{FIRST_TIMELINE_PAGE, RECENT_CHANGES, Store, StoreError};

conformance!(
    account_360_carries_the_first_timeline_page_and_newest_changes,
    |s: Store| async move {
        let w = World::build(&s).await;
        let a = w.account(&s, &w.rep_a, "One Read Co.").await;
        let id = a.meta.id;
        // More changes than the view carries, and so more timeline items than its page.
        let updates = RECENT_CHANGES as i64 + 2;
        for v in 1..=updates {
            s.update::<Account, _>(&w.rep_a, id, v, move |r| {
                r.data.industry = Some(format!("行业{v}"));
                Ok(())
            })
            .await
            .unwrap();
        }
        // A contact's changes are its own, not the account's.
        let mut c = Contact::new("王芳");
        c.account_id = Some(id);
        s.create(&w.rep_a, NewRecord::new(c)).await.unwrap();
        // Someone else's newest interaction stays out of rep A's view.
        let mut hidden = interaction(id, InteractionKind::Note);
        hidden.subject = "hidden".into();
        hidden.at = chrono::Utc::now() + chrono::Duration::hours(1);
        s.create(&w.manager, NewRecord::new(hidden)).await.unwrap();

        let v = s.account_360(&w.rep_a, id).await.unwrap();
        assert_eq!(
            v.timeline,
            s.timeline(&w.rep_a, id, None, FIRST_TIMELINE_PAGE)
                .await
                .unwrap(),
            "the same first page as Store::timeline"
        );
        assert!(v.timeline.items.len() >= FIRST_TIMELINE_PAGE as usize);
        assert!(v.timeline.next_before.is_some());
        assert!(
            !v.timeline
                .items
                .iter()
                .any(|i| i.record["subject"] == "hidden")
        );
        let admin = s.account_360(&w.admin, id).await.unwrap();
        assert_eq!(
            admin.timeline.items[0].record["subject"], "hidden",
            "in scope for the admin, and newest"
        );

        // The newest changes, bounded, newest first: the whole log's tail.
        let log = s.changes_for::<Account>(&w.rep_a, id).await.unwrap();
        assert_eq!(log.len() as i64, updates + 1, "create and every update");
        let newest: Vec<_> = log
            .iter()
            .rev()
            .take(RECENT_CHANGES as usize)
            .cloned()
            .collect();
        assert_eq!(v.changes.items, newest);
        assert!(v.changes.more);
        assert!(v.changes.items.windows(2).all(|p| p[0].seq > p[1].seq));
        assert_eq!(
            v.changes.items[0].after.as_ref().unwrap()["industry"],
            format!("行业{updates}")
        );

        // A short history comes whole, with nothing more.
        let b = w.account(&s, &w.rep_a, "Short Co.").await;
        let short = s.account_360(&w.rep_a, b.meta.id).await.unwrap();
        assert_eq!((short.changes.items.len(), short.changes.more), (1, false));
        assert_eq!(short.changes.items[0].action, "create");
        assert_eq!(short.timeline.next_before, None);

        // Out of scope: nothing at all.
        assert!(matches!(
            s.account_360(&w.rep_b, id).await,
            Err(StoreError::NotFound { .. })
        ));
    }
);
