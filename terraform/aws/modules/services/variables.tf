variable "name" {
  description = "Prefix of resource names."
  type        = string
}

variable "region" {
  description = "Region, for the log configuration."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the services."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets for the tasks: no task gets a public address."
  type        = list(string)
}

variable "image" {
  description = "Image of every role (repository URL and tag)."
  type        = string
}

variable "database_security_group" {
  description = "Security group of the database, which the tasks are let into."
  type        = string
}

variable "database_url_secret_arn" {
  description = "Secret with the writer DATABASE_URL (submission, purge)."
  type        = string
}

variable "database_reader_url_secret_arn" {
  description = "Secret with the reader DATABASE_URL (retrieval)."
  type        = string
}

variable "submission_target_group" {
  description = "ALB target group of key-submission."
  type        = string
}

variable "retrieval_target_group" {
  description = "ALB target group of key-retrieval (CloudFront's origin)."
  type        = string
}

variable "load_balancer_security_group" {
  description = "Security group of the load balancers, the only source of requests."
  type        = string
}

variable "submission_task_count" {
  description = "Minimum and maximum key-submission tasks."
  type        = object({ min = number, max = number })
}

variable "retrieval_task_count" {
  description = "Minimum and maximum key-retrieval tasks."
  type        = object({ min = number, max = number })
}

variable "log_retention_days" {
  description = "CloudWatch log retention."
  type        = number
}
