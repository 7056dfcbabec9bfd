# A backup fleet under policy: a bucket, the kbackup repository in it, four
# clusters (dev, test, preprod, prod), the seed's nightly schedules and its
# retention days. `tofu plan` shows a reviewer exactly what changes.

# Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
provider "kbackup" {
  endpoint = var.endpoint
  bucket   = var.bucket
  region   = var.region
}

resource "kbackup_bucket" "fleet" {
  bucket        = var.bucket
  versioning    = true
  force_destroy = var.force_destroy
  tags = {
    purpose = "kubernetes-backups"
  }
}

resource "kbackup_repository" "fleet" {
  depends_on = [kbackup_bucket.fleet]
}

# The seed's retention_policies: 7, 14 and 90 days; every other cluster
# (preprod) keeps its last 7 backups.
resource "kbackup_retention_policy" "default" {
  name      = "default"
  keep_last = 7
  days_by_environment = {
    dev  = 7
    test = 14
    prod = 90
  }
  depends_on = [kbackup_repository.fleet]
}

resource "kbackup_cluster" "dev" {
  name        = "dev"
  environment = "dev"
  region      = var.region
  priority    = 10

  kubernetes {
    config_path    = var.kubeconfig
    config_context = var.contexts["dev"]
  }

  depends_on = [kbackup_repository.fleet]
}

resource "kbackup_cluster" "test" {
  name        = "test"
  environment = "test"
  region      = var.region
  priority    = 20

  kubernetes {
    config_path    = var.kubeconfig
    config_context = var.contexts["test"]
  }

  depends_on = [kbackup_repository.fleet]
}

resource "kbackup_cluster" "preprod" {
  name        = "preprod"
  environment = "preprod"
  region      = var.region
  priority    = 50

  kubernetes {
    config_path    = var.kubeconfig
    config_context = var.contexts["preprod"]
  }

  depends_on = [kbackup_repository.fleet]
}

resource "kbackup_cluster" "prod" {
  name        = "prod"
  environment = "prod"
  region      = var.region
  priority    = 100

  kubernetes {
    config_path    = var.kubeconfig
    config_context = var.contexts["prod"]
  }

  depends_on = [kbackup_repository.fleet]
}

# The seed's backup_schedules: dev at 4 AM, test at 3 AM, prod at 2 AM.
# preprod has none of its own: `kubectl kbackup clusters` holds it to a
# backup a day.
resource "kbackup_schedule" "dev" {
  name             = "dev-nightly"
  cluster          = kbackup_cluster.dev.name
  cron             = "0 4 * * *"
  time_zone        = var.time_zone
  retention_policy = kbackup_retention_policy.default.name
  image            = var.image

  kubernetes {
    config_path    = var.kubeconfig
    config_context = var.contexts["dev"]
  }
}

resource "kbackup_schedule" "test" {
  name             = "test-nightly"
  cluster          = kbackup_cluster.test.name
  cron             = "0 3 * * *"
  time_zone        = var.time_zone
  retention_policy = kbackup_retention_policy.default.name
  image            = var.image

  kubernetes {
    config_path    = var.kubeconfig
    config_context = var.contexts["test"]
  }
}

resource "kbackup_schedule" "prod" {
  name             = "prod-nightly"
  cluster          = kbackup_cluster.prod.name
  cron             = "0 2 * * *"
  time_zone        = var.time_zone
  retention_policy = kbackup_retention_policy.default.name
  image            = var.image

  kubernetes {
    config_path    = var.kubeconfig
    config_context = var.contexts["prod"]
  }
}
