# Terraform configuration driven by test_terraform_global_datastores.py against
# elasticache-local: a primary replication group in us-east-1, a global datastore over it, and
# a secondary replication group in us-west-2 (two provider aliases, one emulator endpoint).

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
  replication_group_id       = "tf-gp-${var.suffix}"
  description                = "global primary"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = "cache.m5.large"
  num_cache_clusters         = 2
  automatic_failover_enabled = true
  apply_immediately          = true
}

resource "aws_elasticache_global_replication_group" "global" {
  provider                           = aws.east
  global_replication_group_id_suffix = "tf-${var.suffix}"
  primary_replication_group_id       = aws_elasticache_replication_group.primary.id
}

resource "aws_elasticache_replication_group" "secondary" {
  provider                    = aws.west
  replication_group_id        = "tf-gs-${var.suffix}"
  description                 = "global secondary"
  global_replication_group_id = aws_elasticache_global_replication_group.global.global_replication_group_id
  num_cache_clusters          = 2
  # A secondary inherits the primary's automatic failover (AWS reads it back as enabled).
  automatic_failover_enabled = true
  apply_immediately          = true
}

output "global_id" {
  value = aws_elasticache_global_replication_group.global.global_replication_group_id
}

output "primary_address" {
  value = aws_elasticache_replication_group.primary.primary_endpoint_address
}

output "secondary_reader" {
  value = aws_elasticache_replication_group.secondary.reader_endpoint_address
}
