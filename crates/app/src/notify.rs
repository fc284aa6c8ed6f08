//! The system's own notifications, derived from the change log by a [`Subscriber`]: a record
//! assigned to someone by someone else, and a note that mentions a user by `@name`.
//!
//! Every notification is keyed by the entry that caused it and its recipient
//! (`assigned:<seq>:<user>`, `mention:<seq>:<user>`), so a batch delivered again after a
//! crash, or the whole log replayed, notifies nobody twice. Texts are written in the
//! recipient's language when sent. The morning reminders of tasks due are sent by a job
//! ([`crate::reminders`]) through the same [`crate::robots::send`], keyed the same way,
//! which also passes each on to the group robots that forward its kind.

use crate::i18n::{Lang, Tr};
use guanxi_domain::entities::{Interaction, User};
use guanxi_domain::filter::{ListQuery, MAX_LIMIT};
use guanxi_domain::{Actor, Entity, Id, Record};
use guanxi_store::follow::{self, Follower, Subscriber};
use guanxi_store::{ChangeEvent, NewNotification, Store, StoreError};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

/// The subscriber's name, which keys its position: keep it stable.
pub const SUBSCRIBER: &str = "notify";

/// How much of a note a mention's notification quotes.
const EXCERPT_CHARS: usize = 140;

/// Sends the system's notifications as the change log grows.
pub struct Notifier {
    store: Store,
}

impl Notifier {
    pub fn new(store: Store) -> Notifier {
        Notifier { store }
    }

    /// The notifier of `store`; the first time ever, positioned at the log's end, so that
    /// turning notifications on does not announce every assignment made before.
    pub async fn open(store: Store) -> Result<Notifier, StoreError> {
        if store.subscriber_position(SUBSCRIBER).await? == 0 {
            let end = store.last_change().await?;
            store.advance_subscriber(SUBSCRIBER, end).await?;
        }
        Ok(Notifier::new(store))
    }

    /// Follow the log on the store's follower, for as long as the process runs.
    pub fn follow(self) -> Follower<Notifier> {
        let store = self.store.clone();
        follow::follow(store, self, follow::Options::default())
    }

    /// The notifications `events` call for.
    pub async fn notifications(
        &self,
        events: &[ChangeEvent],
    ) -> Result<Vec<NewNotification>, StoreError> {
        let relevant: Vec<&ChangeEvent> = events
            .iter()
            .filter(|e| assigned_to(e).is_some() || is_note(e))
            .collect();
        if relevant.is_empty() {
            return Ok(vec![]);
        }
        let users = Users::load(&self.store).await?;
        let mut out = vec![];
        for e in relevant {
            if let Some(owner) = assigned_to(e)
                && let Some(n) = assignment(&users, e, owner)
            {
                out.push(n);
            }
            if is_note(e) {
                out.extend(self.mentions(&users, e).await?);
            }
        }
        Ok(out)
    }

    /// The users a note newly mentions who may read it, except its author.
    async fn mentions(
        &self,
        users: &Users,
        e: &ChangeEvent,
    ) -> Result<Vec<NewNotification>, StoreError> {
        let Some(after) = &e.after else {
            return Ok(vec![]);
        };
        let before = e
            .before
            .as_ref()
            .map(|b| users.mentioned(&note_text(b)))
            .unwrap_or_default();
        let mut out = vec![];
        for id in users.mentioned(&note_text(after)).difference(&before) {
            let Some(user) = users.by_id.get(id) else {
                continue;
            };
            if *id == e.actor_id || !self.may_read_note(*id, e.record_id).await? {
                continue;
            }
            let t = Tr::new(Lang::from_locale(user.data.locale));
            let subject = after["subject"].as_str().unwrap_or_default();
            let title = t.f(
                "notify.mention",
                &[("actor", &users.name(t, e.actor_id)), ("subject", subject)],
            );
            let mut n = NewNotification::new(*id, "mention", title)
                .about(Interaction::DEF.name, e.record_id)
                .key(format!("mention:{}:{}", e.seq, id.0));
            if let Some(body) = after["body"].as_str().filter(|b| !b.trim().is_empty()) {
                n = n.body(excerpt(body));
            }
            out.push(n);
        }
        Ok(out)
    }

    /// Whether the user may read the note now (a mention never shows a note to someone
    /// outside its scope); `false` also when it has been deleted since.
    async fn may_read_note(&self, user: Id, note: Id) -> Result<bool, StoreError> {
        let actor = match self.store.actor_for(user).await {
            Ok(a) => a,
            Err(StoreError::Forbidden { .. } | StoreError::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        match self.store.get::<Interaction>(&actor, note).await {
            Ok(_) => Ok(true),
            Err(StoreError::Forbidden { .. } | StoreError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl Subscriber for Notifier {
    type Error = String;

    fn name(&self) -> &str {
        SUBSCRIBER
    }

    async fn handle(&mut self, events: &[ChangeEvent]) -> Result<(), String> {
        let notes = self
            .notifications(events)
            .await
            .map_err(|e| e.to_string())?;
        crate::robots::send(&self.store, &notes)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// The new owner of a scoped record created or updated one at a time (a bulk import is
/// not announced record by record), when the owner changed to someone else than the one
/// who made the change.
fn assigned_to(e: &ChangeEvent) -> Option<Id> {
    if e.import.is_some() || !matches!(e.action.as_str(), "create" | "update") {
        return None;
    }
    if !guanxi_domain::entity::def_by_name(&e.entity).is_some_and(|d| d.scoped) {
        return None;
    }
    let owner = |v: &Option<Value>| {
        v.as_ref()
            .and_then(|v| v["owner_id"].as_str())
            .and_then(|s| Id::parse(s).ok())
    };
    let now = owner(&e.after)?;
    (now != e.actor_id && owner(&e.before) != Some(now)).then_some(now)
}

/// A note written or edited one at a time.
fn is_note(e: &ChangeEvent) -> bool {
    e.entity == Interaction::DEF.name
        && e.import.is_none()
        && matches!(e.action.as_str(), "create" | "update")
}

fn assignment(users: &Users, e: &ChangeEvent, owner: Id) -> Option<NewNotification> {
    let user = users.by_id.get(&owner)?;
    let after = e.after.as_ref()?;
    let def = guanxi_domain::entity::def_by_name(&e.entity)?;
    let t = Tr::new(Lang::from_locale(user.data.locale));
    let entity = match t.lang {
        Lang::En => t.entity_one(def.name).to_lowercase(),
        Lang::Zh => t.entity_one(def.name).to_string(),
    };
    let title = t.f(
        "notify.assigned",
        &[
            ("actor", &users.name(t, e.actor_id)),
            ("entity", &entity),
            ("name", &def.title_of(after)),
        ],
    );
    Some(
        NewNotification::new(owner, "assigned", title)
            .about(def.name, e.record_id)
            .key(format!("assigned:{}:{}", e.seq, owner.0)),
    )
}

/// The text of a note in which mentions are looked for.
fn note_text(v: &Value) -> String {
    ["subject", "body"]
        .iter()
        .filter_map(|f| v[*f].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn excerpt(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// The users, by id, and the handles active users are mentioned by.
struct Users {
    by_id: HashMap<Id, Record<User>>,
    /// (handle, user): each active user's display name and the local part of their
    /// e-mail address.
    handles: Vec<(String, Id)>,
}

impl Users {
    async fn load(store: &Store) -> Result<Users, StoreError> {
        let system = Actor::system();
        let mut q = ListQuery::default().limit(MAX_LIMIT);
        let mut by_id = HashMap::new();
        loop {
            let page = store.list::<User>(&system, &q).await?;
            by_id.extend(page.items.into_iter().map(|u| (u.meta.id, u)));
            match page.next_cursor {
                Some(c) => q.cursor = Some(c),
                None => break,
            }
        }
        let mut handles = vec![];
        for u in by_id.values().filter(|u| u.data.active) {
            let local = u.data.email.as_str().split('@').next().unwrap_or("");
            for h in [u.data.name.trim(), local] {
                if !h.is_empty() {
                    handles.push((h.to_string(), u.meta.id));
                }
            }
        }
        Ok(Users { by_id, handles })
    }

    /// Who made a change, as the recipient reads it.
    fn name(&self, t: Tr, id: Id) -> String {
        self.by_id
            .get(&id)
            .map_or_else(|| t.s("common.system").to_string(), |u| u.data.name.clone())
    }

    /// The users `text` mentions: each `@` followed by a handle, the longest that fits
    /// (`@张伟明` is 张伟明, not 张伟). An `@` inside an e-mail address is not a mention,
    /// and a handle ending in a letter or digit must end there (`@wang` is not `@wangfang`).
    fn mentioned(&self, text: &str) -> BTreeSet<Id> {
        let mut out = BTreeSet::new();
        for (at, _) in text.match_indices('@') {
            if text[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || "._-+".contains(c))
            {
                continue;
            }
            let rest = &text[at + 1..];
            let fits: Vec<(usize, Id)> = self
                .handles
                .iter()
                .filter_map(|(h, id)| Some((handle_len(rest, h)?, *id)))
                .collect();
            let Some(longest) = fits.iter().map(|(n, _)| *n).max() else {
                continue;
            };
            out.extend(
                fits.iter()
                    .filter(|(n, _)| *n == longest)
                    .map(|(_, id)| *id),
            );
        }
        out
    }
}

/// The length in bytes of `handle` at the start of `text` (ASCII letters in any case), if
/// it is there and ends there.
fn handle_len(text: &str, handle: &str) -> Option<usize> {
    let mut chars = text.char_indices();
    let mut end = 0;
    for h in handle.chars() {
        let (i, c) = chars.next()?;
        if !c.eq_ignore_ascii_case(&h) {
            return None;
        }
        end = i + c.len_utf8();
    }
    let last = handle.chars().next_back()?;
    let next = text[end..].chars().next();
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if word(last) && next.is_some_and(word) {
        return None;
    }
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(list: &[(&str, &str, bool)]) -> (Users, Vec<Id>) {
        let mut handles = vec![];
        let mut ids = vec![];
        for (name, local, active) in list {
            let id = Id::new();
            ids.push(id);
            if *active {
                handles.push((name.to_string(), id));
                handles.push((local.to_string(), id));
            }
        }
        (
            Users {
                by_id: HashMap::new(),
                handles,
            },
            ids,
        )
    }

    #[test]
    fn mentions_by_name_and_mail_name_longest_first() {
        let (u, ids) = users(&[
            ("张伟", "zhang.wei", true),
            ("张伟明", "zwm", true),
            ("Wang Fang", "wang", true),
            ("李娜", "lina", false),
        ]);
        let set = |v: &[usize]| v.iter().map(|i| ids[*i]).collect::<BTreeSet<_>>();
        assert_eq!(u.mentioned("请@张伟看一下"), set(&[0]));
        assert_eq!(u.mentioned("@张伟明，明天开会"), set(&[1]));
        assert_eq!(u.mentioned("cc @Zhang.Wei and @wang."), set(&[0, 2]));
        assert_eq!(u.mentioned("@Wang Fang: call back"), set(&[2]));
        assert_eq!(u.mentioned("@wangfang is nobody"), set(&[]));
        assert_eq!(u.mentioned("mail zhang@zwm.cn"), set(&[]), "an address");
        assert_eq!(u.mentioned("@李娜 left"), set(&[]), "inactive");
        assert_eq!(u.mentioned("@张伟 @张伟 again"), set(&[0]));
    }

    #[test]
    fn excerpts_end_on_a_character() {
        let long = "好".repeat(EXCERPT_CHARS + 5);
        let e = excerpt(&long);
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 1);
        assert!(e.ends_with('…'));
        assert_eq!(excerpt(" short "), "short");
    }
}
