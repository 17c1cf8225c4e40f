variable "region" {
  description = "AWS region of the VPC, database and services."
  type        = string
  default     = "ca-central-1"
}

variable "name" {
  description = "Prefix of every resource name."
  type        = string
  default     = "diagnosis-server"
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC."
  type        = string
  default     = "10.20.0.0/16"
}

variable "availability_zone_count" {
  description = "Availability zones to spread subnets, NAT gateways and tasks over (at least 2)."
  type        = number
  default     = 2
  validation {
    condition     = var.availability_zone_count >= 2
    error_message = "Use at least two availability zones."
  }
}

variable "hosted_zone_id" {
  description = "Route 53 hosted zone of the two hostnames."
  type        = string
}

variable "submission_hostname" {
  description = "Public name of key-submission (the app and the health portals)."
  type        = string
}

variable "retrieval_hostname" {
  description = "Public name of key retrieval, served by CloudFront."
  type        = string
}

variable "submission_certificate_arn" {
  description = "ACM certificate for submission_hostname, in var.region."
  type        = string
}

variable "retrieval_certificate_arn" {
  description = "ACM certificate for retrieval_hostname, in us-east-1 (CloudFront)."
  type        = string
}

variable "image_tag" {
  description = "Tag of the diagnosis-server image in the ECR repository."
  type        = string
}

variable "portal_allowed_cidrs" {
  description = "Addresses of the health portals: the only sources allowed to call /new-key-claim."
  type        = list(string)
}

variable "claim_key_rate_limit" {
  description = "Requests per 5 minutes one address may make to /claim-key before WAF blocks it."
  type        = number
  default     = 100
}

variable "enable_shield_advanced" {
  description = "Protect the ALBs and the CloudFront distribution with AWS Shield Advanced (a subscription)."
  type        = bool
  default     = false
}

variable "database_instance_class" {
  description = "Aurora PostgreSQL instance class."
  type        = string
  default     = "db.r6g.large"
}

variable "database_instance_count" {
  description = "Aurora instances: one writer, the rest readers (retrieval reads from them)."
  type        = number
  default     = 2
}

variable "submission_task_count" {
  description = "Minimum and maximum key-submission tasks."
  type        = object({ min = number, max = number })
  default     = { min = 2, max = 10 }
}

variable "retrieval_task_count" {
  description = "Minimum and maximum key-retrieval tasks."
  type        = object({ min = number, max = number })
  default     = { min = 2, max = 6 }
}

variable "log_retention_days" {
  description = "CloudWatch log retention (logs carry no personal data, but keep them short)."
  type        = number
  default     = 14
}
