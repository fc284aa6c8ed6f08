//! Who may see and do what. The store turns an [`Actor`]'s scope into a predicate inside
//! every query; this module holds the rules themselves.

use crate::entities::Role;
use crate::record::Id;
use std::collections::BTreeMap;

str_enum! {
    /// Which records of scoped entities a role sees.
    pub enum Scope {
        /// Records the user owns.
        Own = "own",
        /// Records owned by anyone in the user's team or the teams below it.
        Team = "team",
        /// Records assigned to the user's partner account (dealers, service stations).
        Partner = "partner",
        All = "all",
    }
}

str_enum! {
    pub enum Right { Read = "read", Create = "create", Update = "update", Delete = "delete", Export = "export" }
}

/// The acting user, resolved once per request: everything a query needs to apply scope.
#[derive(Debug, Clone, PartialEq)]
pub struct Actor {
    pub user_id: Id,
    pub role: Role,
    pub team_id: Option<Id>,
    /// The user's team and every team below it.
    pub teams: Vec<Id>,
    pub partner_id: Option<Id>,
}

impl Actor {
    /// The system itself (migrations, demo data, scheduled jobs): sees and may do everything.
    ///
    /// The change log names the actor of every write, so write as the system only for work
    /// no person asked for, or done by an operator with no account (`guanxi user add`). A
    /// write a user asked for carries that user's actor, even when the store lets it past
    /// their role (see `Store::set_own_locale`). Reading as the system is fine for what
    /// everyone may see anyway (people's and pipelines' names, one's own user record).
    pub fn system() -> Self {
        let role = default_roles()
            .into_iter()
            .find(|r| r.key == "admin")
            .expect("admin role");
        Actor {
            user_id: Id::SYSTEM,
            role,
            team_id: None,
            teams: vec![],
            partner_id: None,
        }
    }

    /// A workflow rule doing its actions: sees and may do what the system may, and the
    /// change log names the rule (its id) as the author of every write it makes.
    pub fn rule(rule_id: Id) -> Self {
        Actor {
            user_id: rule_id,
            ..Actor::system()
        }
    }

    /// A campaign sending its messages: as a rule, the change log names the campaign (its
    /// id) as the author of the interactions its sends record.
    pub fn campaign(campaign_id: Id) -> Self {
        Actor {
            user_id: campaign_id,
            ..Actor::system()
        }
    }

    pub fn scope(&self) -> Scope {
        self.role.scope
    }

    pub fn may(&self, entity: &str, right: Right) -> bool {
        self.role.allows(entity, right)
    }

    /// The scope rule for one record, as the store applies it in SQL. `partner` is the
    /// partner account the record is assigned to, if any.
    pub fn sees(&self, owner: Option<Id>, team: Option<Id>, partner: Option<Id>) -> bool {
        match self.scope() {
            Scope::All => true,
            Scope::Own => owner == Some(self.user_id),
            Scope::Team => {
                owner == Some(self.user_id) || team.is_some_and(|t| self.teams.contains(&t))
            }
            Scope::Partner => partner.is_some() && partner == self.partner_id,
        }
    }
}

/// Every team id in the subtree under `root` (inclusive), given (id, parent) pairs.
pub fn team_subtree(root: Id, teams: &[(Id, Option<Id>)]) -> Vec<Id> {
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        for (id, p) in teams {
            if *p == Some(parent) && !out.contains(id) {
                out.push(*id);
            }
        }
        i += 1;
    }
    out
}

/// The roles a new installation starts with.
pub fn default_roles() -> Vec<Role> {
    use Right::*;
    let all = vec![Read, Create, Update, Delete, Export];
    let rw = vec![Read, Create, Update];
    let ro = vec![Read];
    let map = |pairs: &[(&str, &Vec<Right>)]| -> BTreeMap<String, Vec<Right>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), (*v).clone()))
            .collect()
    };
    let role = |key: &str, name: &str, zh: &str, scope, rights, see_sensitive| Role {
        key: key.into(),
        name: name.into(),
        name_zh: Some(zh.into()),
        scope,
        rights,
        see_sensitive,
    };
    let crm = [
        "segment",
        "account",
        "contact",
        "interaction",
        "lead",
        "opportunity",
        "order",
        "case",
    ];
    let with = |base: &[(&str, &Vec<Right>)], extra: &[&str], r: &Vec<Right>| {
        let mut m = map(base);
        for e in extra {
            m.insert(e.to_string(), r.clone());
        }
        m
    };
    vec![
        role(
            "admin",
            "Administrator",
            "管理员",
            Scope::All,
            map(&[("*", &all)]),
            true,
        ),
        role(
            "manager",
            "Sales manager",
            "销售经理",
            Scope::Team,
            with(&[("*", &ro)], &crm, &all),
            true,
        ),
        role(
            "sales",
            "Sales rep",
            "销售代表",
            Scope::Own,
            with(&[("*", &ro)], &crm, &rw),
            false,
        ),
        role(
            "marketing",
            "Marketer",
            "市场专员",
            Scope::All,
            with(&[("*", &ro)], &["campaign", "lead", "segment"], &all),
            false,
        ),
        role(
            "service",
            "Service agent",
            "客服专员",
            Scope::All,
            with(
                &[("*", &ro)],
                &["case", "interaction", "contact", "article", "survey"],
                &rw,
            ),
            false,
        ),
        role(
            "analyst",
            "Analyst",
            "数据分析师",
            Scope::All,
            map(&[("*", &vec![Read, Export])]),
            false,
        ),
        role(
            "readonly",
            "Read-only",
            "只读",
            Scope::All,
            map(&[("*", &ro)]),
            false,
        ),
        role(
            "partner",
            "Partner",
            "合作伙伴",
            Scope::Partner,
            map(&[
                ("account", &ro),
                ("contact", &ro),
                ("case", &vec![Read, Update]),
                ("interaction", &rw),
                // The answers about the cases they served.
                ("survey", &ro),
            ]),
            false,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtree_follows_parents_only_downward() {
        let (a, b, c, d) = (Id::new(), Id::new(), Id::new(), Id::new());
        let teams = [(a, None), (b, Some(a)), (c, Some(b)), (d, None)];
        let mut sub = team_subtree(b, &teams);
        sub.sort();
        let mut want = vec![b, c];
        want.sort();
        assert_eq!(sub, want);
        assert_eq!(team_subtree(a, &teams).len(), 3);
    }

    #[test]
    fn scope_rules() {
        let roles = default_roles();
        let get = |k: &str| roles.iter().find(|r| r.key == k).unwrap().clone();
        let (me, other, my_team, sub_team, other_team) =
            (Id::new(), Id::new(), Id::new(), Id::new(), Id::new());
        let actor = |role| Actor {
            user_id: me,
            role,
            team_id: Some(my_team),
            teams: vec![my_team, sub_team],
            partner_id: None,
        };
        let sales = actor(get("sales"));
        assert!(sales.sees(Some(me), Some(other_team), None));
        assert!(!sales.sees(Some(other), Some(my_team), None));
        let mgr = actor(get("manager"));
        assert!(mgr.sees(Some(other), Some(sub_team), None));
        assert!(!mgr.sees(Some(other), Some(other_team), None));
        assert!(mgr.may("account", Right::Delete) && !sales.may("account", Right::Delete));
        assert!(sales.may("product", Right::Read) && !sales.may("product", Right::Create));
        for r in &roles {
            crate::Entity::validate(r).unwrap();
        }
    }
}
