output "application_secret_arns" {
  description = "The application secrets, by variable name, to fill before the first deploy."
  value       = { for name, secret in aws_secretsmanager_secret.application : name => secret.arn }
}

output "cluster_name" {
  description = "The ECS cluster."
  value       = aws_ecs_cluster.main.name
}

output "tasks_security_group_id" {
  description = "Security group of every task."
  value       = aws_security_group.tasks.id
}
