output "submission_target_group_arn" {
  description = "Target group of key-submission tasks."
  value       = aws_lb_target_group.role["submission"].arn
}

output "retrieval_target_group_arn" {
  description = "Target group of key-retrieval tasks."
  value       = aws_lb_target_group.role["retrieval"].arn
}

output "load_balancer_security_group_id" {
  description = "Security group of both load balancers."
  value       = aws_security_group.load_balancers.id
}

output "cloudfront_distribution_id" {
  description = "The distribution in front of key retrieval."
  value       = aws_cloudfront_distribution.retrieval.id
}
