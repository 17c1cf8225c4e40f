# ECS on Fargate in private subnets: key-submission and key-retrieval as autoscaled
# services behind the load balancers, the purge as a scheduled task.

resource "aws_ecs_cluster" "main" {
  name = var.name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_security_group" "tasks" {
  name        = "${var.name}-tasks"
  description = "Tasks: requests only from the load balancers; out to the database, ECR and logs"
  vpc_id      = var.vpc_id
  ingress {
    description     = "key-submission and key-retrieval from the load balancers"
    from_port       = 8000
    to_port         = 8001
    protocol        = "tcp"
    security_groups = [var.load_balancer_security_group]
  }
  egress {
    description = "database, and image pulls and logs through the NAT gateways"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_security_group_rule" "database_from_tasks" {
  description              = "Postgres from the tasks only"
  type                     = "ingress"
  from_port                = 5432
  to_port                  = 5432
  protocol                 = "tcp"
  security_group_id        = var.database_security_group
  source_security_group_id = aws_security_group.tasks.id
}

resource "aws_cloudwatch_log_group" "role" {
  for_each          = local.roles
  name              = "/ecs/${var.name}/${each.key}"
  retention_in_days = var.log_retention_days
}

locals {
  roles = {
    submission = { command = "key-submission", port = 8000, cpu = 512, memory = 1024 }
    retrieval  = { command = "key-retrieval", port = 8001, cpu = 1024, memory = 2048 }
    purge      = { command = "purge", port = 0, cpu = 256, memory = 512 }
  }
  containers = {
    for role, settings in local.roles : role => [{
      name      = role
      image     = var.image
      command   = [settings.command]
      essential = true
      portMappings = settings.port == 0 ? [] : [{ containerPort = settings.port, protocol = "tcp" }]
      environment = [
        { name = "LOG_LEVEL", value = "info" },
        { name = "METRIC_PROVIDER", value = "stdout" },
        { name = "ENV", value = "production" },
      ]
      secrets = [for variable, secret in local.role_secrets[role] : { name = variable, valueFrom = local.secret_arns[secret] }]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.role[role].name
          awslogs-region        = var.region
          awslogs-stream-prefix = role
        }
      }
    }]
  }
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "execution" {
  for_each           = local.roles
  name               = "${var.name}-${each.key}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy_attachment" "execution" {
  for_each   = local.roles
  role       = aws_iam_role.execution[each.key].name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

# Each role reads its own secrets and nothing else.
data "aws_iam_policy_document" "read_secrets" {
  for_each = local.roles
  statement {
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [for variable, secret in local.role_secrets[each.key] : local.secret_arns[secret]]
  }
  statement {
    actions   = ["kms:Decrypt"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${var.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "read_secrets" {
  for_each = local.roles
  name     = "read-own-secrets"
  role     = aws_iam_role.execution[each.key].id
  policy   = data.aws_iam_policy_document.read_secrets[each.key].json
}

# The servers call no AWS API: their task roles carry no permissions.
resource "aws_iam_role" "task" {
  for_each           = local.roles
  name               = "${var.name}-${each.key}-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_ecs_task_definition" "role" {
  for_each                 = local.roles
  family                   = "${var.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = aws_iam_role.execution[each.key].arn
  task_role_arn            = aws_iam_role.task[each.key].arn
  container_definitions    = jsonencode(local.containers[each.key])
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
}

locals {
  services = {
    submission = { target_group = var.submission_target_group, count = var.submission_task_count }
    retrieval  = { target_group = var.retrieval_target_group, count = var.retrieval_task_count }
  }
}

resource "aws_ecs_service" "role" {
  for_each                          = local.services
  name                              = each.key
  cluster                           = aws_ecs_cluster.main.id
  task_definition                   = aws_ecs_task_definition.role[each.key].arn
  desired_count                     = each.value.count.min
  launch_type                       = "FARGATE"
  health_check_grace_period_seconds = 30
  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }
  load_balancer {
    target_group_arn = each.value.target_group
    container_name   = each.key
    container_port   = local.roles[each.key].port
  }
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  lifecycle {
    ignore_changes = [desired_count]
  }
}

resource "aws_appautoscaling_target" "role" {
  for_each           = local.services
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.main.name}/${aws_ecs_service.role[each.key].name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = each.value.count.min
  max_capacity       = each.value.count.max
}

resource "aws_appautoscaling_policy" "cpu" {
  for_each           = local.services
  name               = "${var.name}-${each.key}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.role[each.key].service_namespace
  resource_id        = aws_appautoscaling_target.role[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.role[each.key].scalable_dimension
  target_tracking_scaling_policy_configuration {
    target_value = 60
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

# The purge as a scheduled task, on top of the pass key-submission runs every 30 s:
# retention holds even while submission is scaled to zero or failing.
data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name}-purge-scheduler"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
}

data "aws_iam_policy_document" "scheduler_run_purge" {
  statement {
    actions   = ["ecs:RunTask"]
    resources = [aws_ecs_task_definition.role["purge"].arn]
  }
  statement {
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.execution["purge"].arn, aws_iam_role.task["purge"].arn]
  }
}

resource "aws_iam_role_policy" "scheduler_run_purge" {
  name   = "run-purge"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler_run_purge.json
}

resource "aws_scheduler_schedule" "purge" {
  name                = "${var.name}-purge"
  schedule_expression = "rate(1 hour)"
  flexible_time_window {
    mode = "OFF"
  }
  target {
    arn      = aws_ecs_cluster.main.arn
    role_arn = aws_iam_role.scheduler.arn
    ecs_parameters {
      task_definition_arn = aws_ecs_task_definition.role["purge"].arn
      launch_type         = "FARGATE"
      network_configuration {
        subnets          = var.private_subnet_ids
        security_groups  = [aws_security_group.tasks.id]
        assign_public_ip = false
      }
    }
  }
}
