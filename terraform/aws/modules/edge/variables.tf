variable "name" {
  description = "Prefix of resource names."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the load balancers."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets: the load balancers are the only public resources."
  type        = list(string)
}

variable "hosted_zone_id" {
  description = "Route 53 zone for both hostnames."
  type        = string
}

variable "submission_hostname" {
  description = "Public name of key-submission."
  type        = string
}

variable "retrieval_hostname" {
  description = "Public name of key retrieval (CloudFront)."
  type        = string
}

variable "submission_certificate_arn" {
  description = "ACM certificate of the submission ALB."
  type        = string
}

variable "retrieval_certificate_arn" {
  description = "ACM certificate of the CloudFront distribution (us-east-1)."
  type        = string
}

variable "portal_allowed_cidrs" {
  description = "The only addresses that may call /new-key-claim."
  type        = list(string)
}

variable "claim_key_rate_limit" {
  description = "Requests per 5 minutes per address to /claim-key before WAF blocks."
  type        = number
}

variable "enable_shield_advanced" {
  description = "Add AWS Shield Advanced protection to the ALBs and CloudFront."
  type        = bool
}
