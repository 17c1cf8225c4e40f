output "repository_url" {
  description = "Repository URL for docker push."
  value       = aws_ecr_repository.server.repository_url
}
