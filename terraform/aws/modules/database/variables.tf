variable "name" {
  description = "Prefix of resource names."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the cluster."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets, one per zone: the cluster is never in a public subnet."
  type        = list(string)
}

variable "instance_class" {
  description = "Aurora instance class."
  type        = string
}

variable "instance_count" {
  description = "Instances in the cluster: a writer and readers."
  type        = number
}
