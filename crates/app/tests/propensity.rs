//! Target selection by a response-propensity model, over a real store (a SQLite file, and
//! PostgreSQL when `GUANXI_TEST_POSTGRES` names a server) and a real SMTP server (aiosmtpd
//! on loopback) with the job runner running: too thin a campaign history is refused; past
//! campaigns where decision makers responded far more often than users fit a model whose
//! hold-out AUC is well above chance and that ranks a segment's decision makers first; a
//! campaign targeting the top N mails exactly those N, the highest-ranked, and keeps the
//! model that chose them; a least score nobody reaches is refused, naming the field.

mod common;
#[path = "../../outbound/tests/support/mod.rs"]
mod support;

use common::{quick, stores};
use guanxi_app::campaigns::{self, targeting};
use guanxi_app::mail::Outbox;
use guanxi_app::{AppError, jobs, records};
use guanxi_domain::entities::{Account, Campaign, Contact, EmailTemplate, Segment};
use guanxi_domain::{Actor, Entity, Id, Record};
use guanxi_outbound::Security;
use guanxi_store::{MemberMark, MemberResponse, Store, member_state};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;
use support::Sink;

const CONTACTS: usize = 200;
const PAST_CAMPAIGNS: usize = 3;
const TOP_N: usize = 40;

async fn create<T: Entity>(s: &Store, actor: &Actor, body: Value) -> Record<T> {
    records::create::<T>(s, actor, body)
        .await
        .unwrap_or_else(|e| panic!("creating a {}: {e}", T::DEF.name))
}

fn refusal(e: &AppError) -> (String, &'static str) {
    let f = e.fields().unwrap_or_else(|| panic!("not a refusal: {e}"));
    (f.0[0].field.clone(), f.0[0].code)
}

/// Whether contact `i` responded to past campaign `k`: decision makers (even `i`) 60 % of
/// the time, users 10 %, by a fixed hash so every run sees the same history.
fn responds(i: usize, k: usize) -> bool {
    let h = (i as u64 * 2_654_435_761 + k as u64 * 40_503).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let u = (h >> 33) % 100;
    u < if i.is_multiple_of(2) { 60 } else { 10 }
}

/// A past campaign of the marketer's that mailed `contacts` and saw the responses
/// `responds` gives; `who` picks the contacts it reached.
async fn past_campaign(
    s: &Store,
    marketer: &Actor,
    k: usize,
    contacts: &[Id],
    who: impl Fn(usize) -> bool,
) {
    let c = create::<Campaign>(
        s,
        marketer,
        json!({ "name": format!("往期活动{k}"), "channel": "email", "status": "completed",
                "budget": { "minor": 0, "currency": "CNY" } }),
    )
    .await;
    let reached: Vec<(usize, Id)> = contacts
        .iter()
        .copied()
        .enumerate()
        .filter(|(i, _)| who(*i))
        .collect();
    let members: Vec<(Id, Option<usize>)> = reached.iter().map(|(_, id)| (*id, Some(0))).collect();
    s.add_campaign_members(c.meta.id, &members).await.unwrap();
    let marks: Vec<MemberMark> = reached
        .iter()
        .map(|(_, id)| MemberMark {
            contact: *id,
            state: member_state::SENT,
            detail: None,
            interaction: None,
        })
        .collect();
    s.mark_members(c.meta.id, &marks).await.unwrap();
    for (i, id) in &reached {
        if responds(*i, k) {
            s.member_responded(c.meta.id, *id, MemberResponse::Clicked)
                .await
                .unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_targets_the_top_of_its_segment_by_response_propensity() {
    let sink = Sink::start(&[]);
    let (stores, _dir) = stores("gx_propensity").await;
    for (n, s) in stores.into_iter().enumerate() {
        let system = Actor::system();
        let at = |who: String| format!("{who}.{n}@example.cn");
        // The contacts' owner: their mail goes out in the owner's name.
        let rep = common::user(&s, &at("rep".into()), "马丽", "sales").await;
        let marketer = common::user(&s, &at("ma".into()), "马丽", "marketing").await;
        let account = create::<Account>(
            &s,
            &rep,
            json!({ "name": "杭州远望科技有限公司", "kind": "organisation", "relationship": "customer", "city": "杭州市" }),
        )
        .await;
        let mut ids = vec![];
        let mut address: HashMap<Id, String> = HashMap::new();
        for i in 0..CONTACTS {
            let email = at(format!("p{i:03}"));
            let c = create::<Contact>(
                &s,
                &rep,
                json!({
                    "name": format!("联系人{i:03}"), "account_id": account.meta.id,
                    "email": email, "consent_email": true,
                    "buying_role": if i % 2 == 0 { "decision_maker" } else { "user" },
                }),
            )
            .await;
            address.insert(c.meta.id, email);
            ids.push(c.meta.id);
        }
        let segment = create::<Segment>(
            &s,
            &marketer,
            json!({ "name": "杭州客户联系人", "entity": "contact",
                    "conditions": [{ "field": "account.city", "op": "eq", "value": "杭州市" }] }),
        )
        .await;
        let template = create::<EmailTemplate>(
            &s,
            &system,
            json!({
                "name": "精选推荐", "locale": "zh-CN", "category": "marketing",
                "subject": "{{contact.name}}，为您精选",
                "html": "<p>{{contact.name}} 您好</p><a href=\"{{unsubscribe_url}}\">退订</a>",
                "text": "{{contact.name}} 您好\n退订：{{unsubscribe_url}}",
            }),
        )
        .await;
        let targeted = |name: &str, control: i64, targeting: Value| {
            let mut body = json!({
                "name": name, "channel": "email", "status": "planned",
                "budget": { "minor": 0, "currency": "CNY" },
                "segment_id": segment.meta.id, "control_percent": control,
                "variants": [{ "name": "A", "template_id": template.meta.id, "percent": 100 }],
            });
            body.as_object_mut()
                .unwrap()
                .extend(targeting.as_object().unwrap().clone());
            body
        };
        let top = create::<Campaign>(
            &s,
            &marketer,
            targeted(
                "高意向客户",
                0,
                json!({ "targeting": "top_n", "target_top_n": TOP_N }),
            ),
        )
        .await;

        // One small campaign: too thin a history to score by, whether ranking or launching.
        past_campaign(&s, &marketer, 0, &ids, |i| i < 30).await;
        let e = targeting::rank(&s, &marketer, segment.meta.id, 10)
            .await
            .unwrap_err();
        assert_eq!(refusal(&e), ("history".into(), "too_thin"), "{e}");
        let e = campaigns::launch(&s, &marketer, top.meta.id, top.meta.version)
            .await
            .unwrap_err();
        assert_eq!(refusal(&e), ("targeting".into(), "too_thin"), "{e}");
        let p = campaigns::progress(&s, &marketer, top.meta.id)
            .await
            .unwrap();
        assert_eq!(p.members, 0, "a refused launch takes nobody");

        // Past campaigns to everyone: decision makers responded far more often.
        for k in 1..=PAST_CAMPAIGNS {
            past_campaign(&s, &marketer, k, &ids, |_| true).await;
        }
        let ranking = targeting::rank(&s, &marketer, segment.meta.id, TOP_N)
            .await
            .unwrap();
        let m = &ranking.model;
        eprintln!(
            "store {n}: hold-out AUC {:.3} on {} messages ({} responders); fitted on {} ({} responders); coefficients {:?}",
            m.auc,
            m.held_out_rows,
            m.held_out_responders,
            m.training_rows,
            m.training_responders,
            m.features
                .iter()
                .map(|c| format!("{} {:+.2}", c.feature, c.coefficient))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            m.training_rows + m.held_out_rows,
            30 + PAST_CAMPAIGNS * CONTACTS
        );
        assert!(
            m.held_out_rows > 100 && m.training_rows > 300,
            "about 30 % held out: {m:?}"
        );
        assert!(m.auc > 0.65, "well above chance: {m:?}");
        let role = m
            .features
            .iter()
            .find(|c| c.feature == "contact.buying_role=decision_maker")
            .expect("the buying role is a feature");
        assert!(role.coefficient > 0.0, "{m:?}");
        assert_eq!(ranking.contacts, CONTACTS);
        assert_eq!(ranking.top.len(), TOP_N);
        assert!(
            ranking.top.windows(2).all(|w| w[0].score >= w[1].score),
            "highest first"
        );
        let dms = ranking
            .top
            .iter()
            .filter(|r| {
                ids.iter()
                    .position(|i| *i == r.contact_id)
                    .unwrap()
                    .is_multiple_of(2)
            })
            .count();
        assert!(
            dms >= TOP_N * 9 / 10,
            "decision makers first: {dms} of {TOP_N}"
        );

        // The top N launched: exactly those N are mailed, and the model is kept.
        let sink_config = sink.config(Security::None);
        let outbox = Outbox::new(Some(&sink_config), Some("https://crm.example.cn/")).unwrap();
        let runner = jobs::start(s.clone(), jobs::served(&s, &outbox), quick());
        let launched = campaigns::launch(&s, &marketer, top.meta.id, top.meta.version)
            .await
            .unwrap();
        assert_eq!(
            launched.data.model_auc,
            Some(m.auc),
            "the same history, the same model"
        );
        assert!(launched.data.model_trained_at.is_some());
        let mut sent = 0;
        for _ in 0..3_000 {
            let p = campaigns::progress(&s, &marketer, top.meta.id)
                .await
                .unwrap();
            if p.variants.iter().all(|v| v.queued == 0) {
                assert_eq!((p.members, p.control), (TOP_N as i64, 0), "{p:?}");
                assert_eq!(p.variants[0].sent, TOP_N as i64, "{p:?}");
                sent = p.variants[0].sent;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        runner.stop().await;
        assert_eq!(sent, TOP_N as i64);
        let received: BTreeSet<String> = sink
            .received()
            .into_iter()
            .filter_map(|m| m["rcpt_tos"][0].as_str().map(str::to_string))
            .filter(|to| to.ends_with(&format!(".{n}@example.cn")))
            .collect();
        let expected: BTreeSet<String> = ranking
            .top
            .iter()
            .map(|r| address[&r.contact_id].clone())
            .collect();
        assert_eq!(received, expected, "the N ranked highest, each once");

        // A least score nobody reaches is refused, naming it; a reachable one takes those
        // at or above it, the control group drawn from them. (The top N's messages are
        // history now: ranked again.)
        let ranking = targeting::rank(&s, &marketer, segment.meta.id, TOP_N)
            .await
            .unwrap();
        let best = ranking.top[0].score;
        let high = create::<Campaign>(
            &s,
            &marketer,
            targeted(
                "极高意向",
                0,
                json!({ "targeting": "min_score", "target_min_score": (best + 1.0) / 2.0 }),
            ),
        )
        .await;
        let e = campaigns::launch(&s, &marketer, high.meta.id, high.meta.version)
            .await
            .unwrap_err();
        assert_eq!(
            refusal(&e),
            ("target_min_score".into(), "none_selected"),
            "{e}"
        );
        let threshold = ranking.top[TOP_N - 1].score;
        let above = create::<Campaign>(
            &s,
            &marketer,
            targeted(
                "意向客户",
                20,
                json!({ "targeting": "min_score", "target_min_score": threshold }),
            ),
        )
        .await;
        campaigns::launch(&s, &marketer, above.meta.id, above.meta.version)
            .await
            .unwrap();
        let p = campaigns::progress(&s, &marketer, above.meta.id)
            .await
            .unwrap();
        assert!(p.members >= TOP_N as i64, "{p:?}");
        assert!(p.control > 0 && p.control < p.members, "{p:?}");
    }
}
