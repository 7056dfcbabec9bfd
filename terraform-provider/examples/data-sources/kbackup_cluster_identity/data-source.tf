# Who the cluster is, without registering it.
data "kbackup_cluster_identity" "candidate" {
  kubernetes {
    config_path    = "~/.kube/config"
    config_context = "staging"
  }
}

output "kube_system_uid" {
  value = data.kbackup_cluster_identity.candidate.uid
}
