# The repository's policy: 7, 14 and 90 days by environment, and the last
# 7 backups of every other cluster.
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
