//! Unit tests of the query decoder on representative shapes of the real model.

use serde_json::json;

use super::*;
use crate::control::api::Operation;
use crate::control::error::ErrorCode;
use crate::control::protocol::form;

fn decode(op: Operation, body: &str) -> Result<Value, ApiError> {
    let limits = Limits::default();
    let params = form::parse(body.as_bytes(), &limits)?;
    decode_input(op.def(), &params, &limits)
}

#[test]
fn scalars_lists_and_tags() {
    let v = decode(
        Operation::CreateCacheCluster,
        "Action=CreateCacheCluster&Version=2015-02-02&CacheClusterId=my+cluster&NumCacheNodes=3\
         &AutoMinorVersionUpgrade=TRUE&Port=6379&SecurityGroupIds.SecurityGroupId.2=sg-b\
         &SecurityGroupIds.SecurityGroupId.1=sg-a&Tags.Tag.1.Key=env&Tags.Tag.1.Value=dev\
         &Tags.Tag.10.Key=k10&Tags.Tag.2.Key=k2&CacheSecurityGroupNames=",
    )
    .unwrap();
    assert_eq!(
        v,
        json!({
            "CacheClusterId": "my cluster",
            "NumCacheNodes": 3,
            "AutoMinorVersionUpgrade": true,
            "Port": 6379,
            "SecurityGroupIds": ["sg-a", "sg-b"],
            "Tags": [{"Key": "env", "Value": "dev"}, {"Key": "k2"}, {"Key": "k10"}],
            "CacheSecurityGroupNames": []
        })
    );
}

#[test]
fn nested_lists_inside_structures() {
    let v = decode(
        Operation::IncreaseNodeGroupsInGlobalReplicationGroup,
        "GlobalReplicationGroupId=g&NodeGroupCount=4&ApplyImmediately=false\
         &RegionalConfigurations.RegionalConfiguration.1.ReplicationGroupId=rg\
         &RegionalConfigurations.RegionalConfiguration.1.ReplicationGroupRegion=eu-west-1\
         &RegionalConfigurations.RegionalConfiguration.1.ReshardingConfiguration.ReshardingConfiguration.1.NodeGroupId=0001\
         &RegionalConfigurations.RegionalConfiguration.1.ReshardingConfiguration.ReshardingConfiguration.1.PreferredAvailabilityZones.AvailabilityZone.1=eu-west-1a",
    )
    .unwrap();
    assert_eq!(
        v["RegionalConfigurations"],
        json!([{
            "ReplicationGroupId": "rg",
            "ReplicationGroupRegion": "eu-west-1",
            "ReshardingConfiguration": [{"NodeGroupId": "0001", "PreferredAvailabilityZones": ["eu-west-1a"]}]
        }])
    );
    assert_eq!(v["ApplyImmediately"], json!(false));
}

#[test]
fn timestamps_are_normalised() {
    let v = decode(
        Operation::DescribeEvents,
        "StartTime=2024-01-02T03%3A04%3A05Z&EndTime=2024-01-02T03%3A04%3A05.123456Z&Duration=60",
    )
    .unwrap();
    assert_eq!(v["StartTime"], json!("2024-01-02T03:04:05.000Z"));
    assert_eq!(v["EndTime"], json!("2024-01-02T03:04:05.123Z"));
    let err = decode(Operation::DescribeEvents, "StartTime=yesterday").unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameterValue);
    assert!(err.message().contains("StartTime"));
}

#[test]
fn missing_required_members_name_the_parameter() {
    let err = decode(Operation::CreateCacheCluster, "NumCacheNodes=1").unwrap_err();
    assert_eq!(err.code(), ErrorCode::MissingParameter);
    assert_eq!(
        err.message(),
        "The request must contain the parameter CacheClusterId"
    );
    let err = decode(Operation::DescribeUsers, "Filters.member.1.Name=user-id").unwrap_err();
    assert_eq!(
        err.message(),
        "The request must contain the parameter Filters.member.1.Values"
    );
    let err = decode(Operation::RebootCacheCluster, "CacheClusterId=c").unwrap_err();
    assert_eq!(
        err.message(),
        "The request must contain the parameter CacheNodeIdsToReboot"
    );
}

#[test]
fn bad_scalars_are_invalid_parameter_values() {
    for body in [
        "CacheClusterId=c&NumCacheNodes=abc",
        "CacheClusterId=c&NumCacheNodes=99999999999",
        "CacheClusterId=c&AutoMinorVersionUpgrade=yes",
        "CacheClusterId=c&AZMode=both-az",
    ] {
        let err = decode(Operation::CreateCacheCluster, body).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidParameterValue, "{body}");
    }
}

#[test]
fn model_constraints_are_enforced() {
    let ok = "UserId=u1&UserName=u&Engine=redis&AccessString=on+~*+%2B%40all";
    assert!(decode(Operation::CreateUser, ok).is_ok());
    let err = decode(
        Operation::CreateUser,
        "UserId=1u&UserName=u&Engine=redis&AccessString=x",
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameterValue);
    let err = decode(
        Operation::CreateUser,
        "UserId=u&UserName=u&Engine=redis&AccessString=x&Passwords=",
    )
    .unwrap_err();
    assert!(err.message().contains("Passwords"), "{}", err.message());
    let many: String = (1..=4)
        .map(|i| format!("&ServiceUpdateStatus.member.{i}=available"))
        .collect();
    let err = decode(Operation::DescribeServiceUpdates, &many).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameterValue);
}

#[test]
fn list_indices_are_validated_and_bounded() {
    for bad in ["0", "x", "-1", "1001", "+1", "99999999999999999999"] {
        let body = format!("ResourceName=arn&TagKeys.member.{bad}=k");
        let err = decode(Operation::RemoveTagsFromResource, &body).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidQueryParameter, "{bad}");
    }
    let v = decode(
        Operation::RemoveTagsFromResource,
        "ResourceName=arn&TagKeys.member.1000=b&TagKeys.member.7=a",
    )
    .unwrap();
    assert_eq!(v["TagKeys"], json!(["a", "b"]));
}

#[test]
fn unknown_keys_and_prefix_only_keys_are_ignored() {
    let v = decode(
        Operation::DescribeCacheClusters,
        "Foo=1&CacheClusterId.x=1&MaxRecords=20",
    )
    .unwrap();
    assert_eq!(v, json!({"MaxRecords": 20}));
}

#[test]
fn garbage_bodies_never_panic() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let alphabet = b"=&.%+1aZ_-\xff0Tag.member.N";
    for _ in 0..2_000 {
        let len = (seed % 64) as usize;
        let mut body = Vec::with_capacity(len);
        for _ in 0..len {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            body.push(alphabet[(seed % alphabet.len() as u64) as usize]);
        }
        let limits = Limits::default();
        if let Ok(params) = form::parse(&body, &limits) {
            for op in Operation::ALL {
                let _ = decode_input(op.def(), &params, &limits);
            }
        }
    }
}

#[test]
fn errors_name_list_items_by_the_models_item_name() {
    // The generic `member` is read too, but errors name the item as the model writes it.
    let err = decode(
        Operation::IncreaseReplicaCount,
        "ReplicationGroupId=g&ApplyImmediately=true&ReplicaConfiguration.member.1.NodeGroupId=0001",
    )
    .unwrap_err();
    assert_eq!(
        err.message(),
        "The request must contain the parameter ReplicaConfiguration.ConfigureShard.1.NewReplicaCount"
    );
    let err = decode(
        Operation::RebootCacheCluster,
        "CacheClusterId=c&CacheNodeIdsToReboot.member.x=0001",
    )
    .unwrap_err();
    assert!(
        err.message()
            .contains("parameter CacheNodeIdsToReboot.CacheNodeId.x"),
        "{}",
        err.message()
    );
}
