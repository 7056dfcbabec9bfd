# A bucket is imported by its name.
tofu import kbackup_bucket.backups cluster-backups
