resource "kbackup_schedule" "prod_eu_nightly" {
  name               = "prod-eu-nightly"
  cluster            = kbackup_cluster.prod_eu.name
  cron               = "0 2 * * *"
  time_zone          = "Europe/Paris"
  exclude_namespaces = ["kube-node-lease"]
  retention_policy   = kbackup_retention_policy.default.name
  memory_limit       = "2Gi"
  cpu_limit          = "2"

  kubernetes {
    config_path    = "~/.kube/config"
    config_context = "prod-eu"
  }
}
