terraform {
  required_providers {
    kbackup = {
      source = "kbackup/kbackup"
    }
  }
}
