# The provider works on one kbackup repository. Credentials come from
# AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the attributes below,
# from a secret store; they never appear in plans or state).
provider "kbackup" {
  storage = "s3://cluster-backups/fleet?endpoint=https://minio.example.com:9000&region=eu-west-1"
}

# Or the same repository by its parts:
# provider "kbackup" {
#   endpoint = "https://minio.example.com:9000"
#   bucket   = "cluster-backups"
#   prefix   = "fleet"
#   region   = "eu-west-1"
# }
