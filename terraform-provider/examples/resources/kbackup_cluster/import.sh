# A cluster is imported by its name in the registry.
tofu import kbackup_cluster.prod_eu prod-eu
