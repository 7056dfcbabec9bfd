data "kbackup_clusters" "fleet" {}

output "stale_clusters" {
  value = data.kbackup_clusters.fleet.stale
}
