# Terraform configuration driven by test_terraform_replication_groups.py against
# elasticache-local: a cluster mode disabled group (primary + replicas, automatic failover,
# port 6379) and a cluster mode enabled group (3 shards).

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
variable "stage" { type = string }
variable "cmd_clusters" { type = number }
variable "cme_replicas" { type = number }

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

resource "aws_elasticache_replication_group" "cmd" {
  replication_group_id       = "tf-cmd-${var.suffix}"
  description                = "Managed by Terraform tests"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = "cache.t3.micro"
  num_cache_clusters         = var.cmd_clusters
  automatic_failover_enabled = true
  port                       = 6379
  apply_immediately          = true

  tags = {
    suite = "terraform"
    stage = var.stage
  }
}

resource "aws_elasticache_replication_group" "cme" {
  replication_group_id       = "tf-cme-${var.suffix}"
  description                = "Managed by Terraform tests"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = "cache.t3.micro"
  parameter_group_name       = "default.redis7.cluster.on"
  num_node_groups            = 3
  replicas_per_node_group    = var.cme_replicas
  automatic_failover_enabled = true
  apply_immediately          = true

  tags = {
    suite = "terraform"
    stage = var.stage
  }
}

output "primary_address" { value = aws_elasticache_replication_group.cmd.primary_endpoint_address }
output "reader_address" { value = aws_elasticache_replication_group.cmd.reader_endpoint_address }
output "configuration_address" { value = aws_elasticache_replication_group.cme.configuration_endpoint_address }
