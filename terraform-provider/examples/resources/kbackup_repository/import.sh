# A repository is imported by the id of its _kbackup.json.
tofu import kbackup_repository.fleet 4f1c2a9e-5b7d-4c1e-9a3f-2d8b6e0c7a15
