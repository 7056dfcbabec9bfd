output "cluster_uids" {
  description = "The kube-system UID of each cluster, which owns its name in the registry."
  value = {
    dev     = kbackup_cluster.dev.uid
    test    = kbackup_cluster.test.uid
    preprod = kbackup_cluster.preprod.uid
    prod    = kbackup_cluster.prod.uid
  }
}

output "cron_jobs" {
  description = "The CronJob of each schedule."
  value = {
    dev  = kbackup_schedule.dev.cron_job
    test = kbackup_schedule.test.cron_job
    prod = kbackup_schedule.prod.cron_job
  }
}
