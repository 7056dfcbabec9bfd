# The provider reads and writes a kbackup repository. Credentials for S3 come
# from the usual AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY variables.
provider "kbackup" {
  storage = "s3://cluster-backups?endpoint=https://minio.example.com:9000&region=eu-west-1"
}
