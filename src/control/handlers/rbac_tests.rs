//! Unit tests of the RBAC handlers with a transition delay, so the in-between statuses
//! (`modifying`, `creating`) can be observed and the operations they refuse checked.

use std::sync::Arc;
use std::time::Duration;

use super::*;

fn service(delay: Duration) -> Service {
    let mut cfg = Config::for_tests();
    cfg.create_delay = delay;
    Service::new(&cfg, Arc::new(Supervisor::new(&cfg)))
}

fn ctx() -> RequestContext {
    RequestContext::for_tests("Test")
}

fn user(id: &str) -> CreateUserInput {
    CreateUserInput {
        user_id: id.to_string(),
        user_name: id.to_string(),
        engine: "redis".to_string(),
        access_string: "on ~* +@all".to_string(),
        passwords: Some(vec!["a-long-password-0001".to_string()]),
        ..Default::default()
    }
}

#[tokio::test]
async fn in_flight_statuses_refuse_operations_until_they_settle() {
    let svc = service(Duration::from_millis(300));
    svc.create_user(&ctx(), user("alice")).await.expect("user");
    let m = ModifyUserInput {
        user_id: "alice".to_string(),
        access_string: Some("on ~k* +get".to_string()),
        ..Default::default()
    };
    let out = svc.modify_user(&ctx(), m.clone()).await.expect("modify");
    assert_eq!(out.status.as_deref(), Some("modifying"));
    let again = svc.modify_user(&ctx(), m.clone()).await;
    assert_eq!(
        again.map(|_| ()).map_err(|e| e.wire_code()),
        Err("InvalidUserState")
    );
    let g = CreateUserGroupInput {
        user_group_id: "g".to_string(),
        engine: "redis".to_string(),
        user_ids: Some(vec!["default".to_string(), "alice".to_string()]),
        ..Default::default()
    };
    let created = svc.create_user_group(&ctx(), g).await.expect("group");
    assert_eq!(created.status.as_deref(), Some("creating"));
    let del = svc
        .delete_user_group(
            &ctx(),
            DeleteUserGroupInput {
                user_group_id: "g".to_string(),
            },
        )
        .await;
    assert_eq!(
        del.map(|_| ()).map_err(|e| e.wire_code()),
        Err("InvalidUserGroupState")
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    let users = svc
        .describe_users(
            &ctx(),
            DescribeUsersInput {
                user_id: Some("alice".to_string()),
                ..Default::default()
            },
        )
        .await
        .expect("describe");
    let alice = &users.users.expect("users")[0];
    assert_eq!(alice.status.as_deref(), Some("active"));
    assert_eq!(
        alice.user_group_ids.as_deref(),
        Some(&["g".to_string()][..])
    );
    svc.modify_user(&ctx(), m)
        .await
        .expect("modify once active");
}

#[test]
fn token_strategies_follow_aws_rules() {
    use super::common::{TokenChange, apply_token_change, auth_token_change};
    use crate::state::PreviousAuth;
    let t = |s: &str| s.to_string();
    let (mut current, mut previous) = (None, None);
    // SET needs a token first; ROTATE on an open cluster keeps unauthenticated clients served.
    let set = apply_token_change(&mut current, &mut previous, TokenChange::Set(t("b")));
    assert_eq!(
        set.map_err(|e| e.wire_code()),
        Err("InvalidParameterCombination")
    );
    apply_token_change(&mut current, &mut previous, TokenChange::Rotate(t("a"))).expect("rotate");
    assert_eq!(
        (current.as_deref(), &previous),
        (Some("a"), &Some(PreviousAuth::Open))
    );
    apply_token_change(&mut current, &mut previous, TokenChange::Rotate(t("b"))).expect("rotate");
    assert_eq!(previous, Some(PreviousAuth::Token(t("a"))));
    apply_token_change(&mut current, &mut previous, TokenChange::Set(t("c"))).expect("set");
    assert_eq!((current.as_deref(), &previous), (Some("c"), &None));
    apply_token_change(&mut current, &mut previous, TokenChange::Delete).expect("delete");
    assert_eq!((current, previous), (None, None));
    // The default strategy is ROTATE; DELETE takes no token; tokens need TLS.
    let token = t("a-long-token-0000001");
    assert_eq!(
        auth_token_change(None, Some(&token), true).ok().flatten(),
        Some(TokenChange::Rotate(token.clone()))
    );
    let delete_with_token = auth_token_change(Some("DELETE"), Some(&token), true);
    assert!(delete_with_token.is_err());
    assert!(auth_token_change(Some("SET"), Some(&token), false).is_err());
}

#[test]
fn rotation_users_are_rules_the_engine_accepts() {
    use crate::state::PreviousAuth;
    let old = PreviousAuth::Token("old-token-0000001".to_string());
    for previous in [PreviousAuth::Open, old] {
        let user = super::rbac_lifecycle::rotation_user("new-token-0000001".into(), &previous);
        let rules = user.rules();
        assert_eq!(
            crate::supervisor::check_access_string(&rules),
            Ok(()),
            "{rules}"
        );
    }
}
