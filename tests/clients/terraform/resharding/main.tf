# Terraform configuration driven by test_terraform_resharding.py against elasticache-local: a
# cluster mode enabled group whose num_node_groups changes (online resharding).

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

resource "aws_elasticache_replication_group" "sharded" {
  replication_group_id       = "tf-rs-${var.suffix}"
  description                = "Managed by Terraform tests"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = "cache.t3.micro"
  parameter_group_name       = "default.redis7.cluster.on"
  num_node_groups            = var.shards
  replicas_per_node_group    = 1
  automatic_failover_enabled = true
  port                       = 6379
  apply_immediately          = true
}

output "configuration_address" { value = aws_elasticache_replication_group.sharded.configuration_endpoint_address }
output "configuration_port" { value = aws_elasticache_replication_group.sharded.port }
