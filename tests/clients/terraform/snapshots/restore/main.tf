# Terraform configuration driven by test_terraform_snapshots.py against elasticache-local: a
# new group restored from the final snapshot the `source` configuration left on destroy.

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

resource "aws_elasticache_replication_group" "restored" {
  replication_group_id       = "tf-snaprst-${var.suffix}"
  description                = "Managed by Terraform tests"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = "cache.t3.micro"
  num_cache_clusters         = 2
  automatic_failover_enabled = true
  port                       = 6379
  apply_immediately          = true
  snapshot_name              = "tf-final-${var.suffix}"
}

output "primary_address" { value = aws_elasticache_replication_group.restored.primary_endpoint_address }
