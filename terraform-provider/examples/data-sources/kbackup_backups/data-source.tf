data "kbackup_backups" "prod_eu" {
  cluster = "prod-eu"
}

output "last_good_backup" {
  value = data.kbackup_backups.prod_eu.latest_successful.id
}
