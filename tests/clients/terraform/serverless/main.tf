# Terraform configuration driven by test_terraform_serverless.py against elasticache-local: a
# Valkey serverless cache with usage limits, snapshot settings and tags, and a Memcached one.
# `stage` changes the description, the data limit and a tag (an in-place update).

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
variable "data_max" { type = number }

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

resource "aws_elasticache_serverless_cache" "valkey" {
  name                     = "tf-sls-${var.suffix}"
  engine                   = "valkey"
  major_engine_version     = "8"
  description              = "serverless ${var.stage}"
  daily_snapshot_time      = "04:00"
  snapshot_retention_limit = 2

  cache_usage_limits {
    data_storage {
      maximum = var.data_max
      unit    = "GB"
    }
    ecpu_per_second {
      maximum = 5000
    }
  }

  tags = {
    suite = "terraform"
    stage = var.stage
  }
}

resource "aws_elasticache_serverless_cache" "memcached" {
  name   = "tf-slsmc-${var.suffix}"
  engine = "memcached"
}

output "address" {
  value = aws_elasticache_serverless_cache.valkey.endpoint[0].address
}

output "port" {
  value = aws_elasticache_serverless_cache.valkey.endpoint[0].port
}

output "reader_port" {
  value = aws_elasticache_serverless_cache.valkey.reader_endpoint[0].port
}

output "memcached_address" {
  value = aws_elasticache_serverless_cache.memcached.endpoint[0].address
}
