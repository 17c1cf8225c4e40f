# The seed architecture: Route 53 → CloudFront (retrieval, cached) and an ALB
# (submission), WAF in front of both, Fargate services in private subnets across zones,
# Aurora PostgreSQL encrypted at rest and in transit, images in ECR.

module "network" {
  source                  = "./modules/network"
  name                    = var.name
  vpc_cidr                = var.vpc_cidr
  availability_zone_count = var.availability_zone_count
}

module "ecr" {
  source = "./modules/ecr"
  name   = var.name
}

module "database" {
  source             = "./modules/database"
  name               = var.name
  vpc_id             = module.network.vpc_id
  private_subnet_ids = module.network.private_subnet_ids
  instance_class     = var.database_instance_class
  instance_count     = var.database_instance_count
}

module "services" {
  source                   = "./modules/services"
  name                     = var.name
  region                   = var.region
  vpc_id                   = module.network.vpc_id
  private_subnet_ids       = module.network.private_subnet_ids
  image                    = "${module.ecr.repository_url}:${var.image_tag}"
  database_security_group  = module.database.security_group_id
  database_url_secret_arn  = module.database.database_url_secret_arn
  database_reader_url_secret_arn = module.database.database_reader_url_secret_arn
  submission_target_group  = module.edge.submission_target_group_arn
  retrieval_target_group   = module.edge.retrieval_target_group_arn
  load_balancer_security_group = module.edge.load_balancer_security_group_id
  submission_task_count    = var.submission_task_count
  retrieval_task_count     = var.retrieval_task_count
  log_retention_days       = var.log_retention_days
}

module "edge" {
  source = "./modules/edge"
  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }
  name                       = var.name
  vpc_id                     = module.network.vpc_id
  public_subnet_ids          = module.network.public_subnet_ids
  hosted_zone_id             = var.hosted_zone_id
  submission_hostname        = var.submission_hostname
  retrieval_hostname         = var.retrieval_hostname
  submission_certificate_arn = var.submission_certificate_arn
  retrieval_certificate_arn  = var.retrieval_certificate_arn
  portal_allowed_cidrs       = var.portal_allowed_cidrs
  claim_key_rate_limit       = var.claim_key_rate_limit
  enable_shield_advanced     = var.enable_shield_advanced
}
