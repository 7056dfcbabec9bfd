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
