# Terraform configuration driven by test_terraform_rbac.py against elasticache-local: three
# RBAC users (one named "default" that replaces the built-in user, one authenticating with IAM
# tokens), a user group holding them, and a TLS replication group using that user group.

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
variable "app_access" { type = string }

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

resource "aws_elasticache_user" "default" {
  user_id       = "tf-def-${var.suffix}"
  user_name     = "default"
  access_string = "on ~* +@all"
  engine        = "redis"
  passwords     = ["default-password-0001"]
}

resource "aws_elasticache_user" "app" {
  user_id       = "tf-app-${var.suffix}"
  user_name     = "app-${var.suffix}"
  access_string = var.app_access
  engine        = "redis"
  passwords     = ["app-password-00000001"]

  tags = {
    suite = "terraform"
    stage = var.stage
  }
}

# IAM authentication: ElastiCache requires user_name == user_id.
resource "aws_elasticache_user" "iam" {
  user_id       = "tf-iam-${var.suffix}"
  user_name     = "tf-iam-${var.suffix}"
  access_string = "on ~* +@all"
  engine        = "redis"

  authentication_mode {
    type = "iam"
  }
}

resource "aws_elasticache_user_group" "group" {
  user_group_id = "tf-ug-${var.suffix}"
  engine        = "redis"
  user_ids = [
    aws_elasticache_user.default.user_id,
    aws_elasticache_user.app.user_id,
    aws_elasticache_user.iam.user_id,
  ]
}

resource "aws_elasticache_replication_group" "rbac" {
  replication_group_id       = "tf-rbac-${var.suffix}"
  description                = "Managed by Terraform tests"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = "cache.t3.micro"
  num_cache_clusters         = 1
  port                       = 6379
  transit_encryption_enabled = true
  user_group_ids             = [aws_elasticache_user_group.group.user_group_id]
  apply_immediately          = true
}

output "primary_address" { value = aws_elasticache_replication_group.rbac.primary_endpoint_address }
output "port" { value = aws_elasticache_replication_group.rbac.port }
