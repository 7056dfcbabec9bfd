#!/usr/bin/env bash
# Regenerates terraform-provider/docs with tfplugindocs from the provider's
# schema and terraform-provider/examples. tfplugindocs would download
# Terraform to read the schema; instead the schema comes from the test
# environment's OpenTofu, with the freshly built provider as a dev override.
#
# usage: hack/provider-docs.sh TOFU TFPLUGINDOCS
set -euo pipefail
tofu=$1
tfplugindocs=$2
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$root/terraform-provider" && go build -o "$work/bin/terraform-provider-kbackup" .)

# tfplugindocs finds the schema under registry.terraform.io/hashicorp/<name>.
cat > "$work/tofurc" <<RC
provider_installation {
  dev_overrides {
    "registry.terraform.io/hashicorp/kbackup" = "$work/bin"
  }
  direct {}
}
RC
cat > "$work/main.tf" <<'TF'
terraform {
  required_providers {
    kbackup = { source = "registry.terraform.io/hashicorp/kbackup" }
  }
}
TF
(cd "$work" && TF_CLI_CONFIG_FILE="$work/tofurc" "$tofu" providers schema -json > "$work/schema.json")
cd "$root/terraform-provider"
"$tfplugindocs" generate --provider-name kbackup --providers-schema "$work/schema.json" >/dev/null
echo "regenerated terraform-provider/docs"
