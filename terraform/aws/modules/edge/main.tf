# What faces the internet: an ALB with TLS for key-submission behind a regional WAF,
# CloudFront caching key files in front of the retrieval ALB behind a global WAF,
# optional Shield Advanced, and the DNS names.

terraform {
  required_providers {
    aws = {
      source                = "hashicorp/aws"
      configuration_aliases = [aws.us_east_1]
    }
  }
}

data "aws_ec2_managed_prefix_list" "cloudfront" {
  name = "com.amazonaws.global.cloudfront.origin-facing"
}

resource "aws_security_group" "load_balancers" {
  name        = "${var.name}-load-balancers"
  description = "Submission ALB: HTTPS from anywhere. Retrieval ALB: HTTP from CloudFront only."
  vpc_id      = var.vpc_id
  ingress {
    description = "HTTPS to key-submission"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  ingress {
    description     = "CloudFront to the retrieval origin"
    from_port       = 80
    to_port         = 80
    protocol        = "tcp"
    prefix_list_ids = [data.aws_ec2_managed_prefix_list.cloudfront.id]
  }
  egress {
    description = "to the tasks"
    from_port   = 8000
    to_port     = 8001
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

# --- key-submission -----------------------------------------------------------------

# One load balancer per server: submission faces phones and portals over TLS, retrieval
# is CloudFront's origin.
locals {
  load_balanced = {
    submission = { port = 8000 }
    retrieval  = { port = 8001 }
  }
}

resource "aws_lb" "role" {
  for_each                   = local.load_balanced
  name                       = "${var.name}-${each.key}"
  load_balancer_type         = "application"
  subnets                    = var.public_subnet_ids
  security_groups            = [aws_security_group.load_balancers.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = true
}

resource "aws_lb_target_group" "role" {
  for_each    = local.load_balanced
  name        = "${var.name}-${each.key}"
  port        = each.value.port
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = var.vpc_id
  health_check {
    path    = "/services/ping"
    matcher = "200"
  }
  deregistration_delay = 10
}

resource "aws_lb_listener" "submission" {
  load_balancer_arn = aws_lb.role["submission"].arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.submission_certificate_arn
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.role["submission"].arn
  }
}

resource "aws_wafv2_ip_set" "portals" {
  name               = "${var.name}-portals"
  scope              = "REGIONAL"
  ip_address_version = "IPV4"
  addresses          = var.portal_allowed_cidrs
}

resource "aws_wafv2_web_acl" "submission" {
  name  = "${var.name}-submission"
  scope = "REGIONAL"
  default_action {
    allow {}
  }

  # Only the health portals may ask for one-time codes.
  rule {
    name     = "new-key-claim-portals-only"
    priority = 0
    action {
      block {}
    }
    statement {
      and_statement {
        statement {
          byte_match_statement {
            search_string         = "/new-key-claim"
            positional_constraint = "STARTS_WITH"
            field_to_match {
              uri_path {}
            }
            text_transformation {
              priority = 0
              type     = "NONE"
            }
          }
        }
        statement {
          not_statement {
            statement {
              ip_set_reference_statement {
                arn = aws_wafv2_ip_set.portals.arn
              }
            }
          }
        }
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "new-key-claim-portals-only"
      sampled_requests_enabled   = false
    }
  }

  # Guessing one-time codes: the server bans after 50 failures; WAF stops floods earlier.
  rule {
    name     = "claim-key-rate"
    priority = 1
    action {
      block {}
    }
    statement {
      rate_based_statement {
        limit              = var.claim_key_rate_limit
        aggregate_key_type = "IP"
        scope_down_statement {
          byte_match_statement {
            search_string         = "/claim-key"
            positional_constraint = "STARTS_WITH"
            field_to_match {
              uri_path {}
            }
            text_transformation {
              priority = 0
              type     = "NONE"
            }
          }
        }
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "claim-key-rate"
      sampled_requests_enabled   = false
    }
  }

  rule {
    name     = "aws-common"
    priority = 10
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesCommonRuleSet"
        # Uploads and claims are binary protobuf bodies, which the body rules misread.
        rule_action_override {
          name = "SizeRestrictions_BODY"
          action_to_use {
            count {}
          }
        }
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "aws-common"
      sampled_requests_enabled   = false
    }
  }

  rule {
    name     = "aws-ip-reputation"
    priority = 11
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesAmazonIpReputationList"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "aws-ip-reputation"
      sampled_requests_enabled   = false
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${var.name}-submission"
    sampled_requests_enabled   = false
  }
}

resource "aws_wafv2_web_acl_association" "submission" {
  resource_arn = aws_lb.role["submission"].arn
  web_acl_arn  = aws_wafv2_web_acl.submission.arn
}

# --- key retrieval --------------------------------------------------------------------

resource "aws_lb_listener" "retrieval" {
  load_balancer_arn = aws_lb.role["retrieval"].arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.role["retrieval"].arn
  }
}

# Key files are cached by path, for as long as the origin's Cache-Control says; nothing
# else (no query string, header or cookie) is part of the key or sent to the origin.
resource "aws_cloudfront_cache_policy" "by_path" {
  name        = "${var.name}-by-path"
  min_ttl     = 0
  default_ttl = 0
  max_ttl     = 86400
  parameters_in_cache_key_and_forwarded_to_origin {
    enable_accept_encoding_gzip   = false
    enable_accept_encoding_brotli = false
    cookies_config {
      cookie_behavior = "none"
    }
    headers_config {
      header_behavior = "none"
    }
    query_strings_config {
      query_string_behavior = "none"
    }
  }
}

resource "aws_wafv2_web_acl" "retrieval" {
  provider = aws.us_east_1
  name     = "${var.name}-retrieval"
  scope    = "CLOUDFRONT"
  default_action {
    allow {}
  }
  rule {
    name     = "aws-common"
    priority = 10
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesCommonRuleSet"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "aws-common"
      sampled_requests_enabled   = false
    }
  }
  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${var.name}-retrieval"
    sampled_requests_enabled   = false
  }
}

resource "aws_cloudfront_distribution" "retrieval" {
  enabled         = true
  is_ipv6_enabled = true
  aliases         = [var.retrieval_hostname]
  web_acl_id      = aws_wafv2_web_acl.retrieval.arn
  price_class     = "PriceClass_100"
  origin {
    origin_id   = "key-retrieval"
    domain_name = aws_lb.role["retrieval"].dns_name
    custom_origin_config {
      http_port              = 80
      https_port             = 443
      origin_protocol_policy = "http-only"
      origin_ssl_protocols   = ["TLSv1.2"]
    }
  }
  default_cache_behavior {
    target_origin_id       = "key-retrieval"
    viewer_protocol_policy = "redirect-to-https"
    allowed_methods        = ["GET", "HEAD"]
    cached_methods         = ["GET", "HEAD"]
    cache_policy_id        = aws_cloudfront_cache_policy.by_path.id
    compress               = false
  }
  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }
  viewer_certificate {
    acm_certificate_arn      = var.retrieval_certificate_arn
    ssl_support_method       = "sni-only"
    minimum_protocol_version = "TLSv1.2_2021"
  }
}

# --- Shield Advanced and DNS ----------------------------------------------------------

resource "aws_shield_protection" "edge" {
  for_each = var.enable_shield_advanced ? {
    submission = aws_lb.role["submission"].arn
    retrieval  = aws_lb.role["retrieval"].arn
    cloudfront = aws_cloudfront_distribution.retrieval.arn
  } : {}
  name         = "${var.name}-${each.key}"
  resource_arn = each.value
}

resource "aws_route53_record" "submission" {
  for_each = toset(["A", "AAAA"])
  zone_id  = var.hosted_zone_id
  name     = var.submission_hostname
  type     = each.key
  alias {
    name                   = aws_lb.role["submission"].dns_name
    zone_id                = aws_lb.role["submission"].zone_id
    evaluate_target_health = true
  }
}

resource "aws_route53_record" "retrieval" {
  for_each = toset(["A", "AAAA"])
  zone_id  = var.hosted_zone_id
  name     = var.retrieval_hostname
  type     = each.key
  alias {
    name                   = aws_cloudfront_distribution.retrieval.domain_name
    zone_id                = aws_cloudfront_distribution.retrieval.hosted_zone_id
    evaluate_target_health = false
  }
}
