package provider_test

import (
	"context"
	"slices"
	"strings"
	"sync"
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
	// Every resource's and data source's attribute, nested ones included,
	// as the provider serves them.
	server, err := providerserver.NewProtocol6WithError(kbprovider.New("v1.2.3")())()
	if err != nil {
		t.Fatal(err)
	}
	served, err := server.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil || len(served.Diagnostics) > 0 {
		t.Fatal(err, served.Diagnostics)
	}
	for name, s := range served.ResourceSchemas {
		checkDescribed(t, name, s.Block)
	}
	for name, s := range served.DataSourceSchemas {
		checkDescribed(t, "data."+name, s.Block)
	}
	if len(served.ResourceSchemas) < 4 || len(served.DataSourceSchemas) < 3 {
		t.Errorf("served %d resources and %d data sources", len(served.ResourceSchemas), len(served.DataSourceSchemas))
	}
}

func checkDescribed(t *testing.T, where string, b *tfprotov6.SchemaBlock) {
	t.Helper()
	if strings.TrimSpace(b.Description) == "" {
		t.Errorf("%s has no description", where)
	}
	var attrs func(where string, as []*tfprotov6.SchemaAttribute)
	attrs = func(where string, as []*tfprotov6.SchemaAttribute) {
		for _, a := range as {
			if strings.TrimSpace(a.Description) == "" {
				t.Errorf("%s.%s has no description", where, a.Name)
			}
			if a.NestedType != nil {
				attrs(where+"."+a.Name, a.NestedType.Attributes)
			}
		}
	}
	attrs(where, b.Attributes)
	for _, nb := range b.BlockTypes {
		checkDescribed(t, where+"."+nb.TypeName, nb.Block)
	}
}

// The provider is served to a real OpenTofu through terraform-plugin-testing,
// as in every acceptance test (TestAcc*). What the test checks comes from the
// provider, through OpenTofu's plugin protocol: OpenTofu asked the provider
// for its schema and got the storage attribute. (The configuration uses no
// resource, so OpenTofu prunes the provider from the graph and neither
// validates nor configures it: the acceptance tests do.)
func TestProviderServesThroughOpenTofu(t *testing.T) {
	env := testenv.Start(t, testenv.Options{OpenTofu: true})
	env.Tofu.Setenv(t)
	var mu sync.Mutex
	var calls []string
	var schemaAttributes []string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: map[string]func() (tfprotov6.ProviderServer, error){
			"kbackup": func() (tfprotov6.ProviderServer, error) {
				server, err := providerserver.NewProtocol6WithError(kbprovider.New("test")())()
				return &recordingServer{ProviderServer: server, record: func(call string, attributes []string) {
					mu.Lock()
					defer mu.Unlock()
					calls = append(calls, call)
					schemaAttributes = append(schemaAttributes, attributes...)
				}}, err
			},
		},
		Steps: []resource.TestStep{{
			Config: `provider "kbackup" {
  storage = "file:///tmp/kbackup-provider-test"
}`,
		}},
	})
	mu.Lock()
	defer mu.Unlock()
	t.Logf("OpenTofu called %q", calls)
	if !slices.Contains(calls, "GetProviderSchema") {
		t.Fatalf("OpenTofu never asked the provider for its schema: calls %q", calls)
	}
	if !slices.Contains(schemaAttributes, "storage") {
		t.Errorf("the schema served to OpenTofu lacks the storage attribute: %q", schemaAttributes)
	}
}

// recordingServer passes every call to the provider and records the schema
// calls, with the provider attributes each schema served.
type recordingServer struct {
	tfprotov6.ProviderServer
	record func(call string, attributes []string)
}

func (s *recordingServer) GetProviderSchema(ctx context.Context, req *tfprotov6.GetProviderSchemaRequest) (*tfprotov6.GetProviderSchemaResponse, error) {
	resp, err := s.ProviderServer.GetProviderSchema(ctx, req)
	var attributes []string
	if err == nil && resp != nil && resp.Provider != nil && resp.Provider.Block != nil && len(resp.Diagnostics) == 0 {
		for _, a := range resp.Provider.Block.Attributes {
			attributes = append(attributes, a.Name)
		}
	}
	s.record("GetProviderSchema", attributes)
	return resp, err
}

func (s *recordingServer) ValidateProviderConfig(ctx context.Context, req *tfprotov6.ValidateProviderConfigRequest) (*tfprotov6.ValidateProviderConfigResponse, error) {
	s.record("ValidateProviderConfig", nil)
	return s.ProviderServer.ValidateProviderConfig(ctx, req)
}

func (s *recordingServer) ConfigureProvider(ctx context.Context, req *tfprotov6.ConfigureProviderRequest) (*tfprotov6.ConfigureProviderResponse, error) {
	s.record("ConfigureProvider", nil)
	return s.ProviderServer.ConfigureProvider(ctx, req)
}
