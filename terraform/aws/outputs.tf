output "submission_url" {
  description = "Where the app and the health portals reach key-submission."
  value       = "https://${var.submission_hostname}"
}

output "retrieval_url" {
  description = "Where phones download key files (CloudFront)."
  value       = "https://${var.retrieval_hostname}"
}

output "ecr_repository_url" {
  description = "Push the image here, tagged var.image_tag."
  value       = module.ecr.repository_url
}

output "application_secret_arns" {
  description = "Secrets Manager secrets to fill with `diagnosis-server keys` output before the first deploy."
  value       = module.services.application_secret_arns
}

output "database_endpoint" {
  description = "Aurora writer endpoint (private)."
  value       = module.database.endpoint
}

output "cloudfront_distribution_id" {
  description = "CloudFront distribution in front of key retrieval."
  value       = module.edge.cloudfront_distribution_id
}
