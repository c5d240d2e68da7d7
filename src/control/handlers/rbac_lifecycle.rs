//! Background completion of RBAC transitions: a user's `modifying` → `active` and
//! `deleting` → gone, a user group's `creating`/`modifying` → `active` and `deleting` → gone.
//!
//! Place in the flow: the `users` and `user_groups` handlers switch a record's status under
//! the region lock, bump its generation, answer, and spawn one of these tasks. A task waits
//! `Config.create_delay` (as cluster transitions do), applies what was pending, has the
//! replication groups that use the changed users run their new user lists
//! ([`Service::push_users`]), then completes the transition — unless a later operation moved
//! the record's generation on.

use crate::state::{
    CacheClusterRecord, PreviousAuth, Region, ResourceKind, UserAuth, UserGroupRecord,
    UserGroupStatus, UserRecord, UserStatus, lock,
};
use crate::supervisor::{IamTarget, NodeUser};

use super::Service;

/// The node keys of one cluster with the AUTH token and ACL users they should run.
type NodeAuthWork = (Vec<String>, Option<String>, Option<Vec<NodeUser>>);

/// Identifies the user or user group (and the operation) a task works for.
#[derive(Clone, Debug)]
pub struct RbacRef {
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// User or user group id.
    pub id: String,
    /// The generation the task was started with.
    pub generation: u64,
}

impl RbacRef {
    /// A reference to a user at its current generation.
    pub fn user(r: &Region, u: &UserRecord) -> RbacRef {
        RbacRef {
            account: r.account.clone(),
            region: r.region.clone(),
            id: u.user_id.clone(),
            generation: u.generation,
        }
    }

    /// A reference to a user group at its current generation.
    pub fn group(r: &Region, g: &UserGroupRecord) -> RbacRef {
        RbacRef {
            account: r.account.clone(),
            region: r.region.clone(),
            id: g.id.clone(),
            generation: g.generation,
        }
    }
}

impl Service {
    /// Runs `f` on the region if `pick` finds the record still at the task's generation.
    fn with_rbac<T>(
        &self,
        rref: &RbacRef,
        pick: impl Fn(&Region) -> Option<u64>,
        f: impl FnOnce(&mut Region) -> T,
    ) -> Option<T> {
        let region = self.inner.store.region(&rref.account, &rref.region);
        let mut r = lock(&region);
        (pick(&r) == Some(rref.generation)).then(|| f(&mut r))
    }

    /// Waits the configured transition delay.
    async fn rbac_delay(&self) {
        if !self.inner.create_delay.is_zero() {
            tokio::time::sleep(self.inner.create_delay).await;
        }
    }

    /// Completes ModifyUser: the groups holding the user run its new rules, then `active`.
    pub(crate) fn spawn_user_modify(&self, rref: RbacRef, affected: Vec<String>) {
        let svc = self.clone();
        tokio::spawn(async move {
            svc.rbac_delay().await;
            svc.push_users(&rref.account, &rref.region, &affected).await;
            let user_gen = |r: &Region| r.users.get(&rref.id).map(|u| u.generation);
            svc.with_rbac(&rref, user_gen, |r| {
                if let Some(u) = r.users.get_mut(&rref.id) {
                    u.complete(UserStatus::Active);
                }
            });
        });
    }

    /// Completes DeleteUser: the record and its tags go, then the groups that held the user
    /// run their remaining users.
    pub(crate) fn spawn_user_delete(&self, rref: RbacRef, affected: Vec<String>) {
        let svc = self.clone();
        tokio::spawn(async move {
            svc.rbac_delay().await;
            let user_gen = |r: &Region| r.users.get(&rref.id).map(|u| u.generation);
            svc.with_rbac(&rref, user_gen, |r| {
                r.users.remove(&rref.id);
                r.tags.remove(&(ResourceKind::User, rref.id.clone()));
            });
            svc.push_users(&rref.account, &rref.region, &affected).await;
        });
    }

    /// Completes CreateUserGroup: `creating` → `active`.
    pub(crate) fn spawn_user_group_create(&self, rref: RbacRef) {
        let svc = self.clone();
        tokio::spawn(async move {
            svc.rbac_delay().await;
            let group_gen = |r: &Region| r.user_groups.get(&rref.id).map(|g| g.generation);
            svc.with_rbac(&rref, group_gen, |r| {
                if let Some(g) = r.user_groups.get_mut(&rref.id) {
                    g.complete(UserGroupStatus::Active);
                }
            });
        });
    }

    /// Completes ModifyUserGroup: the pending membership change is applied, the replication
    /// groups using the group run the new user list, then `active`.
    pub(crate) fn spawn_user_group_modify(&self, rref: RbacRef) {
        let svc = self.clone();
        tokio::spawn(async move {
            svc.rbac_delay().await;
            let group_gen = |r: &Region| r.user_groups.get(&rref.id).map(|g| g.generation);
            let affected = svc.with_rbac(&rref, group_gen, |r| {
                // A user deleted while the change was pending must not come back.
                let live = |id: &String| {
                    r.users
                        .get(id)
                        .is_some_and(|u| u.status != UserStatus::Deleting)
                };
                if let Some(g) = r.user_groups.get_mut(&rref.id)
                    && let Some((add, remove)) = g.pending.take()
                {
                    g.user_ids.retain(|u| !remove.contains(u));
                    g.user_ids.extend(add.into_iter().filter(live));
                }
                r.groups_using_user_group(&rref.id)
            });
            let Some(affected) = affected else { return };
            svc.push_users(&rref.account, &rref.region, &affected).await;
            svc.with_rbac(&rref, group_gen, |r| {
                if let Some(g) = r.user_groups.get_mut(&rref.id) {
                    g.complete(UserGroupStatus::Active);
                }
            });
        });
    }

    /// Completes DeleteUserGroup: the record and its tags go.
    pub(crate) fn spawn_user_group_delete(&self, rref: RbacRef) {
        let svc = self.clone();
        tokio::spawn(async move {
            svc.rbac_delay().await;
            let group_gen = |r: &Region| r.user_groups.get(&rref.id).map(|g| g.generation);
            svc.with_rbac(&rref, group_gen, |r| {
                r.user_groups.remove(&rref.id);
                r.tags.remove(&(ResourceKind::UserGroup, rref.id.clone()));
            });
        });
    }

    /// Has every node of the listed replication groups run the users its attached user
    /// groups hold now (or its AUTH token when none is attached); serverless caches too.
    pub(crate) async fn push_users(&self, account: &str, region: &str, groups: &[String]) {
        self.push_serverless_users(account, region).await;
        let members: Vec<String> = {
            let state = self.inner.store.region(account, region);
            let r = lock(&state);
            groups
                .iter()
                .filter_map(|g| r.replication_groups.get(g))
                .flat_map(|g| g.member_ids())
                .collect()
        };
        self.push_auth(account, region, &members).await;
    }

    /// Has the nodes of the listed clusters run their record's AUTH token and ACL users, live.
    pub(crate) async fn push_auth(&self, account: &str, region: &str, clusters: &[String]) {
        let work: Vec<NodeAuthWork> = {
            let state = self.inner.store.region(account, region);
            let r = lock(&state);
            clusters
                .iter()
                .filter_map(|id| r.clusters.get(id))
                .map(|c| {
                    let keys = c
                        .nodes
                        .iter()
                        .map(|n| format!("{account}/{region}/{}/{}", c.id, n.id))
                        .collect();
                    (keys, c.auth_token.clone(), node_users(&r, c))
                })
                .collect()
        };
        let sup = &self.inner.supervisor;
        for (keys, token, users) in work {
            let result = match sup.set_auth_token(&keys, token).await {
                Ok(()) => sup.set_users(&keys, users).await,
                Err(e) => Err(e),
            };
            if let Err(err) = result {
                tracing::warn!(nodes = ?keys, %err, "authentication not applied");
            }
        }
    }
}

/// The ACL users a cluster's nodes run: the members of the user group attached to its
/// replication group (the `default`-named member replaces the engine's `default` user), or,
/// during an AUTH token rotation, the `default` user with both valid credentials. `None`:
/// the plain `default` user of the AUTH token (or of no AUTH at all).
pub fn node_users(r: &Region, c: &CacheClusterRecord) -> Option<Vec<NodeUser>> {
    let group = c
        .replication_group_id
        .as_ref()
        .and_then(|g| r.replication_groups.get(g));
    let user_groups = group.map(|g| g.user_group_ids.as_slice()).unwrap_or(&[]);
    if !user_groups.is_empty() {
        let mut users: Vec<NodeUser> = Vec::new();
        let members = user_groups
            .iter()
            .filter_map(|id| r.user_groups.get(id))
            .flat_map(|ug| ug.user_ids.iter())
            .filter_map(|id| r.users.get(id));
        for u in members {
            if !users.iter().any(|x| x.name == u.user_name) {
                users.push(engine_user(u, r, c));
            }
        }
        return Some(users);
    }
    let previous = c.auth_token_previous.as_ref()?;
    Some(vec![rotation_user(c.auth_token.clone()?, previous)])
}

/// The `default` user while an AUTH token rotates: the new token and what stays valid.
pub fn rotation_user(current: String, previous: &PreviousAuth) -> NodeUser {
    let (nopass, passwords) = match previous {
        // `nopass` accepts any password, the new token included (and clears password lists).
        PreviousAuth::Open => (true, Vec::new()),
        PreviousAuth::Token(old) => (false, vec![old.clone(), current]),
    };
    NodeUser {
        name: "default".to_string(),
        enabled: true,
        passwords,
        nopass,
        access: "on ~* +@all".to_string(),
        iam: None,
    }
}

/// A user record in the supervisor's terms, on a node of `c`. IAM users get no password but
/// an IAM token check naming the node's replication group, region and user id.
fn engine_user(u: &UserRecord, r: &Region, c: &CacheClusterRecord) -> NodeUser {
    let (passwords, nopass) = match &u.auth {
        UserAuth::Password(p) => (p.clone(), false),
        UserAuth::NoPassword => (Vec::new(), true),
        UserAuth::Iam => (Vec::new(), false),
    };
    let iam = match (&u.auth, &c.replication_group_id) {
        (UserAuth::Iam, Some(group)) => Some(IamTarget {
            cache_name: group.clone(),
            region: r.region.clone(),
            user_id: u.user_id.clone(),
            serverless: false,
        }),
        _ => None,
    };
    NodeUser {
        name: u.user_name.clone(),
        enabled: u.status != UserStatus::Deleting,
        passwords,
        nopass,
        access: u.access_string.clone(),
        iam,
    }
}
