output "security_group_id" {
  description = "Security group of the cluster."
  value       = aws_security_group.database.id
}

output "endpoint" {
  description = "Writer endpoint."
  value       = aws_rds_cluster.database.endpoint
}

output "database_url_secret_arn" {
  description = "Secret holding DATABASE_URL for the writer."
  value       = aws_secretsmanager_secret.url["DATABASE_URL"].arn
}

output "database_reader_url_secret_arn" {
  description = "Secret holding DATABASE_URL for the readers (key retrieval)."
  value       = aws_secretsmanager_secret.url["DATABASE_READER_URL"].arn
}

output "kms_key_arn" {
  description = "Key encrypting the cluster and its secrets."
  value       = aws_kms_key.database.arn
}
