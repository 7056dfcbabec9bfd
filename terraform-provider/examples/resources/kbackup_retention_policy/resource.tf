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

# prod-eu's own policy: the narrowest scope wins, so prod-eu keeps its last
# 30 backups and 14 dailies instead of prod's 90 days.
resource "kbackup_retention_policy" "prod_eu" {
  name       = "prod-eu"
  keep_last  = 30
  keep_daily = 14
  clusters   = [kbackup_cluster.prod_eu.name]
}
