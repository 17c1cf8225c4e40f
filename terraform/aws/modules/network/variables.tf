variable "name" {
  description = "Prefix of resource names."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC."
  type        = string
}

variable "availability_zone_count" {
  description = "Zones to use; one public and one private subnet, and one NAT gateway, in each."
  type        = number
}
