# A retention policy is imported by its name.
tofu import kbackup_retention_policy.default default
