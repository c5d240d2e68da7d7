//! Unit tests of the XML encoder on representative shapes of the real model.

use serde_json::json;

use super::*;
use crate::control::api::Operation;
use crate::control::error::ErrorCode;

fn encode(op: Operation, output: Value) -> String {
    encode_success(op.def(), &output, "rid-1").unwrap()
}

#[test]
fn envelope_result_and_metadata() {
    let xml = encode(
        Operation::DescribeCacheClusters,
        json!({"Marker": "m&<>", "CacheClusters": [{"CacheClusterId": "c1", "NumCacheNodes": 2,
               "AutoMinorVersionUpgrade": true, "CacheClusterCreateTime": "2016-12-21T21:59:43.794Z",
               "SecurityGroups": [{"SecurityGroupId": "sg-1", "Status": "active"}],
               "CacheSecurityGroups": []}]}),
    );
    assert_eq!(
        xml,
        "<DescribeCacheClustersResponse xmlns=\"http://elasticache.amazonaws.com/doc/2015-02-02/\">\
         <DescribeCacheClustersResult><CacheClusters><CacheCluster>\
         <AutoMinorVersionUpgrade>true</AutoMinorVersionUpgrade>\
         <CacheClusterCreateTime>2016-12-21T21:59:43.794Z</CacheClusterCreateTime>\
         <CacheClusterId>c1</CacheClusterId><CacheSecurityGroups></CacheSecurityGroups>\
         <NumCacheNodes>2</NumCacheNodes>\
         <SecurityGroups><member><SecurityGroupId>sg-1</SecurityGroupId><Status>active</Status></member></SecurityGroups>\
         </CacheCluster></CacheClusters><Marker>m&amp;&lt;&gt;</Marker></DescribeCacheClustersResult>\
         <ResponseMetadata><RequestId>rid-1</RequestId></ResponseMetadata></DescribeCacheClustersResponse>"
    );
}

#[test]
fn operations_without_output_have_no_result_element() {
    let xml = encode(Operation::DeleteCacheSubnetGroup, Value::Null);
    assert_eq!(
        xml,
        "<DeleteCacheSubnetGroupResponse xmlns=\"http://elasticache.amazonaws.com/doc/2015-02-02/\">\
         <ResponseMetadata><RequestId>rid-1</RequestId></ResponseMetadata></DeleteCacheSubnetGroupResponse>"
    );
}

#[test]
fn user_fields_are_inline_and_doubles_format() {
    let xml = encode(
        Operation::CreateUser,
        json!({"UserId": "u1", "UserGroupIds": ["g1", "g2"]}),
    );
    assert!(xml.contains("<CreateUserResult><UserGroupIds><member>g1</member><member>g2</member></UserGroupIds><UserId>u1</UserId></CreateUserResult>"), "{xml}");
    let xml = encode(
        Operation::ModifyReplicationGroupShardConfiguration,
        json!({"ReplicationGroup": {"PendingModifiedValues": {"Resharding": {"SlotMigration": {"ProgressPercentage": 12.5}}}}}),
    );
    assert!(
        xml.contains("<ProgressPercentage>12.5</ProgressPercentage>"),
        "{xml}"
    );
}

#[test]
fn timestamps_are_rendered_in_aws_form_and_control_chars_replaced() {
    let xml = encode(
        Operation::DescribeEvents,
        json!({"Events": [{"Date": "2024-01-02T03:04:05Z", "Message": "a\u{1}b"}]}),
    );
    assert!(
        xml.contains("<Date>2024-01-02T03:04:05.000Z</Date>"),
        "{xml}"
    );
    assert!(xml.contains("<Message>a\u{fffd}b</Message>"), "{xml}");
}

#[test]
fn error_envelope() {
    let err = ApiError::new(
        ErrorCode::CacheClusterNotFound,
        "CacheCluster not found: <x>",
    );
    assert_eq!(
        encode_error(&err, "rid-2"),
        "<ErrorResponse xmlns=\"http://elasticache.amazonaws.com/doc/2015-02-02/\"><Error>\
         <Type>Sender</Type><Code>CacheClusterNotFound</Code><Message>CacheCluster not found: &lt;x&gt;</Message>\
         </Error><RequestId>rid-2</RequestId></ErrorResponse>"
    );
    let err = ApiError::internal_failure("boom");
    assert!(encode_error(&err, "r").contains("<Type>Receiver</Type>"));
}

#[test]
fn unexpected_json_shapes_do_not_panic() {
    for op in Operation::ALL {
        for v in [
            json!(null),
            json!(1),
            json!("x"),
            json!([1, 2]),
            json!({"Marker": {"a": 1}}),
        ] {
            let _ = encode_success(op.def(), &v, "r");
        }
    }
}

#[test]
fn pending_log_delivery_configurations_are_written_under_both_sdk_names() {
    let xml = encode(
        Operation::ModifyCacheCluster,
        json!({"CacheCluster": {"PendingModifiedValues": {"LogDeliveryConfigurations": [{"LogType": "slow-log"}]}}}),
    );
    let item = "<member><LogType>slow-log</LogType></member>";
    assert!(
        xml.contains(&format!(
            "<LogDeliveryConfigurations>{item}</LogDeliveryConfigurations>"
        )),
        "{xml}"
    );
    assert!(
        xml.contains(&format!(
            "<PendingLogDeliveryConfiguration>{item}</PendingLogDeliveryConfiguration>"
        )),
        "{xml}"
    );
}
