package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// OpenTofu is an OpenTofu binary and the environment terraform-plugin-testing
// needs to run acceptance tests with it instead of Terraform.
type OpenTofu struct {
	// Path is the tofu binary.
	Path string
	// CLIConfigFile is an empty CLI configuration: terraform-plugin-testing
	// requires one to exist, and an empty one keeps the user's out.
	CLIConfigFile string
}

func newOpenTofu(dir string) (*OpenTofu, error) {
	bin, err := BinaryPath(BinTofu)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cliConfig := filepath.Join(dir, "tofurc")
	if err := os.WriteFile(cliConfig, nil, 0o600); err != nil {
		return nil, err
	}
	return &OpenTofu{Path: bin, CLIConfigFile: cliConfig}, nil
}

// Env returns the variables that make terraform-plugin-testing run this
// OpenTofu against providers served in-process.
func (o *OpenTofu) Env() []string {
	return []string{
		"TF_ACC=1",
		"TF_ACC_TERRAFORM_PATH=" + o.Path,
		"TF_ACC_PROVIDER_NAMESPACE=hashicorp",
		"TF_ACC_PROVIDER_HOST=registry.opentofu.org",
		"TF_CLI_CONFIG_FILE=" + o.CLIConfigFile,
	}
}

// Setenv sets Env for the duration of the test (not for parallel tests,
// like t.Setenv).
func (o *OpenTofu) Setenv(t testing.TB) {
	t.Helper()
	for _, kv := range o.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}
