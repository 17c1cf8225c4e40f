variable "name" {
  description = "Name of the image repository."
  type        = string
}
