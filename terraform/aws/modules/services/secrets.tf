# Application secrets. Terraform makes the containers; their values come from
# `diagnosis-server keys` (aws secretsmanager put-secret-value), never from Terraform
# state. Each role's execution role may read only the secrets that role uses.

locals {
  application_secrets = ["KEY_CLAIM_TOKEN", "RETRIEVE_HMAC_KEY", "ECDSA_KEY", "METRICS_USERNAME", "METRICS_PASSWORD"]
}

resource "aws_kms_key" "secrets" {
  description         = "${var.name} application secrets"
  enable_key_rotation = true
}

resource "aws_secretsmanager_secret" "application" {
  for_each   = toset(local.application_secrets)
  name       = "${var.name}/${each.key}"
  kms_key_id = aws_kms_key.secrets.arn
}

locals {
  secret_arns = merge(
    { for name, secret in aws_secretsmanager_secret.application : name => secret.arn },
    { DATABASE_URL = var.database_url_secret_arn, DATABASE_READER_URL = var.database_reader_url_secret_arn },
  )
  # Which secrets each role reads, and under which variable name.
  role_secrets = {
    submission = { DATABASE_URL = "DATABASE_URL", KEY_CLAIM_TOKEN = "KEY_CLAIM_TOKEN" }
    retrieval = {
      DATABASE_URL      = "DATABASE_READER_URL"
      RETRIEVE_HMAC_KEY = "RETRIEVE_HMAC_KEY"
      ECDSA_KEY         = "ECDSA_KEY"
      METRICS_USERNAME  = "METRICS_USERNAME"
      METRICS_PASSWORD  = "METRICS_PASSWORD"
    }
    purge = { DATABASE_URL = "DATABASE_URL" }
  }
}
