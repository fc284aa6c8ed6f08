//! Prepares a database for the tracking benchmark (`bench/tracking.sh`): a launched
//! campaign with N members (contacts made for it, owned by one user), and the signed open
//! pixel and click link of every member, written one path per line to two files.
//!
//!   cargo run --release -p guanxi-app --example tracking_links -- DATABASE_URL MEMBERS OPENS_FILE CLICKS_FILE

use guanxi_app::records;
use guanxi_app::tracking::Tracker;
use guanxi_domain::entities::{Campaign, Contact, User};
use guanxi_domain::{Actor, Email, Locale, NewRecord};
use guanxi_store::Store;
use serde_json::json;
use std::io::Write;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, n, opens, clicks] = &args[..] else {
        panic!("usage: tracking_links DATABASE_URL MEMBERS OPENS_FILE CLICKS_FILE");
    };
    let n: usize = n.parse().expect("MEMBERS is a number");
    let store = Store::open(url).await.unwrap();
    let system = Actor::system();
    let owner = User {
        email: Email::parse(&format!("owner.{}@tracking.test", uuid::Uuid::now_v7())).unwrap(),
        name: "李娜".into(),
        role: "sales".into(),
        team_id: None,
        partner_id: None,
        locale: Locale::ZhCn,
        active: true,
    };
    let owner = store
        .create(&system, NewRecord::new(owner))
        .await
        .unwrap()
        .meta
        .id;
    let campaign = records::create::<Campaign>(
        &store,
        &system,
        json!({ "name": "春季焕新 · 跟踪压测", "channel": "email", "status": "active",
                "budget": { "minor": 0, "currency": "CNY" } }),
    )
    .await
    .unwrap();
    let base = url::Url::parse("http://127.0.0.1/").unwrap();
    let tracker = Tracker::new(&store, &base).await.unwrap();
    let mut opens = std::io::BufWriter::new(std::fs::File::create(opens).unwrap());
    let mut clicks = std::io::BufWriter::new(std::fs::File::create(clicks).unwrap());
    let target = "https://shop.example.cn/spring?from=mail";
    for chunk in (0..n).collect::<Vec<_>>().chunks(5_000) {
        let contacts: Vec<NewRecord<Contact>> = chunk
            .iter()
            .map(|i| {
                let mut c = Contact::new(format!("客户{i}"));
                c.consent_email = Some(true);
                let mut new = NewRecord::new(c);
                new.owner_id = Some(owner);
                new
            })
            .collect();
        let ids = store.import(&system, contacts).await.unwrap();
        let members: Vec<_> = ids.iter().map(|id| (*id, Some(0))).collect();
        store
            .add_campaign_members(campaign.meta.id, &members)
            .await
            .unwrap();
        for id in ids {
            writeln!(
                opens,
                "{}",
                tracker.open_url(campaign.meta.id.into(), id).path()
            )
            .unwrap();
            let click = tracker.click_url(campaign.meta.id.into(), id, target);
            writeln!(clicks, "{}?{}", click.path(), click.query().unwrap_or("")).unwrap();
        }
    }
    opens.flush().unwrap();
    clicks.flush().unwrap();
    eprintln!(
        "campaign {} with {n} members, links written",
        campaign.meta.id
    );
}
