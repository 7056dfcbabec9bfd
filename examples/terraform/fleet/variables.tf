variable "endpoint" {
  description = "The S3 server, https://host:port; empty for AWS S3."
  type        = string
  default     = ""
}

variable "bucket" {
  description = "The bucket of the fleet's repository."
  type        = string
  default     = "cluster-backups"
}

variable "region" {
  description = "The region of the bucket and the clusters."
  type        = string
  default     = "eu-west-1"
}

variable "kubeconfig" {
  description = "The kubeconfig that reaches the four clusters."
  type        = string
  default     = "~/.kube/config"
}

variable "contexts" {
  description = "The kubeconfig context of each cluster."
  type        = map(string)
  default = {
    dev     = "dev"
    test    = "test"
    preprod = "preprod"
    prod    = "prod"
  }
}

variable "time_zone" {
  description = "The time zone the schedules are read in."
  type        = string
  default     = "UTC"
}

variable "image" {
  description = "The kubectl-kbackup image of the CronJobs; null for the provider's version."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Let `tofu destroy` delete the bucket with every backup in it."
  type        = bool
  default     = false
}
