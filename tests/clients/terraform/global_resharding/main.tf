# Terraform configuration driven by test_terraform_global_datastores.py against
# elasticache-local: a cluster mode enabled global datastore (primary in us-east-1, secondary in
# us-west-2) whose `num_node_groups` changes (IncreaseNodeGroupsInGlobalReplicationGroup, then
# DecreaseNodeGroupsInGlobalReplicationGroup).

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

variable "endpoint" { type = string }
variable "suffix" { type = string }
variable "shards" { type = number }

provider "aws" {
  alias                       = "east"
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  endpoints {
    elasticache = var.endpoint
  }
}

provider "aws" {
  alias                       = "west"
  region                      = "us-west-2"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  endpoints {
    elasticache = var.endpoint
  }
}

resource "aws_elasticache_replication_group" "primary" {
  provider                   = aws.east
  replication_group_id       = "tf-gsp-${var.suffix}"
  description                = "global primary, sharded"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = "cache.m5.large"
  parameter_group_name       = "default.redis7.cluster.on"
  num_node_groups            = 2
  replicas_per_node_group    = 1
  automatic_failover_enabled = true
  apply_immediately          = true
  # The datastore owns the shard count and the members' parameter group once created.
  lifecycle {
    ignore_changes = [num_node_groups, parameter_group_name]
  }
}

resource "aws_elasticache_global_replication_group" "global" {
  provider                           = aws.east
  global_replication_group_id_suffix = "tfs-${var.suffix}"
  primary_replication_group_id       = aws_elasticache_replication_group.primary.id
  num_node_groups                    = var.shards
}

resource "aws_elasticache_replication_group" "secondary" {
  provider                    = aws.west
  replication_group_id        = "tf-gss-${var.suffix}"
  description                 = "global secondary, sharded"
  global_replication_group_id = aws_elasticache_global_replication_group.global.global_replication_group_id
  replicas_per_node_group     = 1
  automatic_failover_enabled  = true
  apply_immediately           = true
  lifecycle {
    ignore_changes = [num_node_groups]
  }
}

output "global_id" {
  value = aws_elasticache_global_replication_group.global.global_replication_group_id
}

output "primary_configuration" {
  value = aws_elasticache_replication_group.primary.configuration_endpoint_address
}

output "secondary_configuration" {
  value = aws_elasticache_replication_group.secondary.configuration_endpoint_address
}
