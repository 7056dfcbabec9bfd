// Package provider is the glue between Terraform/OpenTofu and kbackup's core:
// one file per resource and data source. The logic lives in core.
package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var _ provider.Provider = (*kbackupProvider)(nil)

// New returns a constructor of the provider at the given version, as
// providerserver.Serve wants.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &kbackupProvider{version: version} }
}

type kbackupProvider struct {
	version string
}

type kbackupProviderModel struct {
	Storage types.String `tfsdk:"storage"`
}

func (p *kbackupProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "kbackup"
	resp.Version = p.version
}

func (p *kbackupProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Declares kbackup's fleet (buckets, clusters, schedules and retention) so that backup policy is reviewed like any infrastructure change.",
		Attributes: map[string]schema.Attribute{
			"storage": schema.StringAttribute{
				Description: "The kbackup repository URL: s3://bucket/prefix?endpoint=https://host:port, file:///path or a path. Defaults to the KBACKUP_STORAGE environment variable.",
				Optional:    true,
			},
		},
	}
}

func (p *kbackupProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg kbackupProviderModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
}

func (p *kbackupProvider) Resources(context.Context) []func() resource.Resource { return nil }

func (p *kbackupProvider) DataSources(context.Context) []func() datasource.DataSource { return nil }
