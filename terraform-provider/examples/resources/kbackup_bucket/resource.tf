resource "kbackup_bucket" "backups" {
  bucket      = "cluster-backups"
  versioning  = true
  object_lock = true
  tags = {
    team = "platform"
  }
  server_side_encryption = "AES256"
}
