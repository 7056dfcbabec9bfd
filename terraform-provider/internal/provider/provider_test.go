package provider_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/kbackup/kbackup/core/testenv"
	kbprovider "github.com/kbackup/kbackup/terraform-provider/internal/provider"
)

// Every attribute carries a description: tfplugindocs renders them, and
// `terraform plan` users read them.
func TestSchemaDescribesEveryAttribute(t *testing.T) {
	p := kbprovider.New("v1.2.3")()
	var meta provider.MetadataResponse
	p.Metadata(context.Background(), provider.MetadataRequest{}, &meta)
	if meta.TypeName != "kbackup" || meta.Version != "v1.2.3" {
		t.Errorf("metadata = %+v, want type kbackup at v1.2.3", meta)
	}
	var resp provider.SchemaResponse
	p.Schema(context.Background(), provider.SchemaRequest{}, &resp)
	if resp.Diagnostics.HasError() {
		t.Fatal(resp.Diagnostics)
	}
	if resp.Schema.Description == "" {
		t.Error("provider schema has no description")
	}
	for name, attr := range resp.Schema.Attributes {
		if strings.TrimSpace(attr.GetDescription()) == "" {
			t.Errorf("attribute %s has no description", name)
		}
	}
}

// The provider is served to a real OpenTofu through terraform-plugin-testing,
// which is how every resource of the provider will be tested.
func TestProviderServesThroughOpenTofu(t *testing.T) {
	env := testenv.Start(t, testenv.Options{OpenTofu: true})
	env.Tofu.Setenv(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: map[string]func() (tfprotov6.ProviderServer, error){
			"kbackup": providerserver.NewProtocol6WithError(kbprovider.New("test")()),
		},
		Steps: []resource.TestStep{{
			Config: `provider "kbackup" {
  storage = "file:///tmp/kbackup-provider-test"
}

output "ok" {
  value = "configured"
}`,
			Check: resource.TestCheckOutput("ok", "configured"),
		}},
	})
}
