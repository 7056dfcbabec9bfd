# The repository at the provider's location. Resources that write into it
# depend on it.
resource "kbackup_repository" "fleet" {
  depends_on = [kbackup_bucket.backups]
}
