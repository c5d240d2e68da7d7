# Terraform configuration driven by test_terraform.py against elasticache-local.
# The provider talks to the emulator only: dummy keys, every AWS-side check skipped.

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
variable "memcached_nodes" { type = number }
variable "maxmemory_policy" { type = string }

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

resource "aws_elasticache_parameter_group" "redis" {
  name        = "tf-pg-${var.suffix}"
  family      = "redis7"
  description = "Managed by Terraform tests"

  parameter {
    name  = "maxmemory-policy"
    value = var.maxmemory_policy
  }

  parameter {
    name  = "notify-keyspace-events"
    value = "Ex"
  }

  tags = {
    suite = "terraform"
    stage = var.stage
  }
}

resource "aws_elasticache_subnet_group" "main" {
  name        = "tf-sng-${var.suffix}"
  description = "Managed by Terraform tests"
  subnet_ids  = ["subnet-0a1b2c3d", "subnet-1a2b3c4d"]

  tags = {
    suite = "terraform"
    stage = var.stage
  }
}

resource "aws_elasticache_cluster" "redis" {
  cluster_id           = "tf-redis-${var.suffix}"
  engine               = "redis"
  engine_version       = "7.1"
  node_type            = "cache.t3.micro"
  num_cache_nodes      = 1
  parameter_group_name = aws_elasticache_parameter_group.redis.name
  subnet_group_name    = aws_elasticache_subnet_group.main.name
  apply_immediately    = true

  tags = {
    suite = "terraform"
    stage = var.stage
  }
}

resource "aws_elasticache_cluster" "memcached" {
  cluster_id        = "tf-mc-${var.suffix}"
  engine            = "memcached"
  node_type         = "cache.t3.micro"
  num_cache_nodes   = var.memcached_nodes
  subnet_group_name = aws_elasticache_subnet_group.main.name
  apply_immediately = true

  tags = {
    suite = "terraform"
    stage = var.stage
  }
}

output "redis_address" { value = aws_elasticache_cluster.redis.cache_nodes[0].address }
output "redis_port" { value = aws_elasticache_cluster.redis.cache_nodes[0].port }
output "memcached_configuration_endpoint" { value = aws_elasticache_cluster.memcached.configuration_endpoint }
