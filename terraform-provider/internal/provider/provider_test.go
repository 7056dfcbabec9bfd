package provider_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
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
// which is how every resource of the provider will be tested. What the test
// checks comes from the provider: OpenTofu refuses an attribute its schema
// lacks, and the value of storage reaches the provider's ConfigureProvider
// through OpenTofu's protocol.
func TestProviderServesThroughOpenTofu(t *testing.T) {
	env := testenv.Start(t, testenv.Options{OpenTofu: true})
	env.Tofu.Setenv(t)
	const storage = "file:///tmp/kbackup-provider-test"
	var mu sync.Mutex
	var configured []string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: map[string]func() (tfprotov6.ProviderServer, error){
			"kbackup": func() (tfprotov6.ProviderServer, error) {
				server, err := providerserver.NewProtocol6WithError(kbprovider.New("test")())()
				return &recordingServer{ProviderServer: server, record: func(v string) {
					mu.Lock()
					defer mu.Unlock()
					configured = append(configured, v)
				}}, err
			},
		},
		Steps: []resource.TestStep{
			{
				Config:      `provider "kbackup" { storag = "` + storage + `" }`,
				ExpectError: regexp.MustCompile(`An argument named "storag" is not expected here`),
			},
			{
				Config: `provider "kbackup" {
  storage = "` + storage + `"
}

output "ok" {
  value = "configured"
}`,
			},
		},
	})
	mu.Lock()
	defer mu.Unlock()
	if !slices.Contains(configured, storage) {
		t.Errorf("the provider was configured with storage %q, want %q", configured, storage)
	}
}

// recordingServer passes every call to the provider and records the storage
// attribute of each ConfigureProvider call.
type recordingServer struct {
	tfprotov6.ProviderServer
	record func(storage string)
}

func (s *recordingServer) ConfigureProvider(ctx context.Context, req *tfprotov6.ConfigureProviderRequest) (*tfprotov6.ConfigureProviderResponse, error) {
	if req.Config != nil {
		v, err := req.Config.Unmarshal(tftypes.Object{AttributeTypes: map[string]tftypes.Type{"storage": tftypes.String}})
		if err != nil {
			return nil, err
		}
		var attrs map[string]tftypes.Value
		if err := v.As(&attrs); err != nil {
			return nil, err
		}
		var storage string
		if attrs["storage"].IsKnown() && !attrs["storage"].IsNull() {
			if err := attrs["storage"].As(&storage); err != nil {
				return nil, err
			}
		}
		s.record(storage)
	}
	return s.ProviderServer.ConfigureProvider(ctx, req)
}
