# Aurora PostgreSQL: private subnets only, encrypted at rest with its own KMS key, TLS
# required for every connection, credentials in Secrets Manager, deletion protected.

resource "aws_kms_key" "database" {
  description         = "${var.name} database encryption"
  enable_key_rotation = true
}

resource "aws_db_subnet_group" "database" {
  name       = var.name
  subnet_ids = var.private_subnet_ids
}

resource "aws_security_group" "database" {
  name        = "${var.name}-database"
  description = "Aurora: reachable only from the services' security group (rules added there)"
  vpc_id      = var.vpc_id
}

resource "aws_rds_cluster_parameter_group" "database" {
  name   = "${var.name}-postgres16"
  family = "aurora-postgresql16"
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
}

resource "random_password" "database" {
  length  = 40
  special = false
}

resource "aws_rds_cluster" "database" {
  cluster_identifier              = var.name
  engine                          = "aurora-postgresql"
  engine_version                  = "16.4"
  database_name                   = "diagnosis"
  master_username                 = "diagnosis"
  master_password                 = random_password.database.result
  db_subnet_group_name            = aws_db_subnet_group.database.name
  vpc_security_group_ids          = [aws_security_group.database.id]
  db_cluster_parameter_group_name = aws_rds_cluster_parameter_group.database.name
  storage_encrypted               = true
  kms_key_id                      = aws_kms_key.database.arn
  deletion_protection             = true
  backup_retention_period         = 7
  copy_tags_to_snapshot           = true
  final_snapshot_identifier       = "${var.name}-final"
}

resource "aws_rds_cluster_instance" "database" {
  count                = var.instance_count
  identifier           = "${var.name}-${count.index}"
  cluster_identifier   = aws_rds_cluster.database.id
  instance_class       = var.instance_class
  engine               = aws_rds_cluster.database.engine
  engine_version       = aws_rds_cluster.database.engine_version
  db_subnet_group_name = aws_db_subnet_group.database.name
  publicly_accessible  = false
}

# The URLs the servers read as DATABASE_URL: submission writes, retrieval reads from a replica.
locals {
  urls = {
    DATABASE_URL        = aws_rds_cluster.database.endpoint
    DATABASE_READER_URL = aws_rds_cluster.database.reader_endpoint
  }
}

resource "aws_secretsmanager_secret" "url" {
  for_each   = local.urls
  name       = "${var.name}/${each.key}"
  kms_key_id = aws_kms_key.database.arn
}

resource "aws_secretsmanager_secret_version" "url" {
  for_each      = local.urls
  secret_id     = aws_secretsmanager_secret.url[each.key].id
  secret_string = "postgres://diagnosis:${random_password.database.result}@${each.value}:5432/diagnosis?sslmode=verify-full"
}
