resource "kbackup_cluster" "prod_eu" {
  name        = "prod-eu"
  environment = "prod"
  region      = "eu-west-1"
  priority    = 100
  labels = {
    team = "payments"
  }

  kubernetes {
    config_path    = "~/.kube/config"
    config_context = "prod-eu"
  }

  depends_on = [kbackup_repository.fleet]
}

# A cluster reached by host and token: the token is write-only, given
# through an ephemeral variable, and is in no state or plan. Bump
# token_wo_version when the token changes. Without a kubeconfig a refresh
# checks the registry entry only, not the RBAC installed in the cluster.
variable "prod_us_token" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "kbackup_cluster" "prod_us" {
  name        = "prod-us"
  environment = "prod"

  kubernetes {
    host                   = "https://prod-us.example.com:6443"
    cluster_ca_certificate = file("prod-us-ca.pem")
    token_wo               = var.prod_us_token
    token_wo_version       = 1
  }

  depends_on = [kbackup_repository.fleet]
}
