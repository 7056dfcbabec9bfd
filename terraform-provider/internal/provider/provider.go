// Package provider is the glue between Terraform/OpenTofu and kbackup's core:
// one file per resource and data source. The logic lives in core.
package provider

import (
	"context"
	"errors"
	"os"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/storage"
	"github.com/kbackup/kbackup/terraform-provider/internal/validators"
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
	Storage               types.String `tfsdk:"storage"`
	Endpoint              types.String `tfsdk:"endpoint"`
	Bucket                types.String `tfsdk:"bucket"`
	Prefix                types.String `tfsdk:"prefix"`
	Region                types.String `tfsdk:"region"`
	AccessKeyID           types.String `tfsdk:"access_key_id"`
	SecretAccessKey       types.String `tfsdk:"secret_access_key"`
	SessionToken          types.String `tfsdk:"session_token"`
	CAFile                types.String `tfsdk:"ca_file"`
	InsecureSkipTLSVerify types.Bool   `tfsdk:"insecure_skip_tls_verify"`
}

func (p *kbackupProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "kbackup"
	resp.Version = p.version
}

func (p *kbackupProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	byURL := []validator.String{stringvalidator.ConflictsWith(path.MatchRoot("storage"))}
	resp.Schema = schema.Schema{
		Description: "Declares kbackup's fleet (buckets, clusters, schedules and retention) so that backup policy is reviewed like any infrastructure change. " +
			"The provider works on one kbackup repository: give it as `storage` (a URL), or as `endpoint`, `bucket`, `prefix` and `region`; " +
			"without either it reads the KBACKUP_STORAGE environment variable.",
		Attributes: map[string]schema.Attribute{
			"storage": schema.StringAttribute{
				Description: "The kbackup repository URL: s3://bucket/prefix?endpoint=https://host:port, file:///path or a path. Defaults to the KBACKUP_STORAGE environment variable. Conflicts with endpoint, bucket and prefix.",
				Optional:    true,
				Validators:  []validator.String{validators.StorageURL()},
			},
			"endpoint": schema.StringAttribute{
				Description: "The S3 server as scheme://host[:port], when the repository is given by bucket; empty means AWS S3.",
				Optional:    true,
				Validators:  byURL,
			},
			"bucket": schema.StringAttribute{
				Description: "The S3 bucket of the repository (instead of storage).",
				Optional:    true,
				Validators:  byURL,
			},
			"prefix": schema.StringAttribute{
				Description: "The key prefix of the repository in the bucket; empty for the whole bucket.",
				Optional:    true,
				Validators:  append([]validator.String{stringvalidator.AlsoRequires(path.MatchRoot("bucket"))}, byURL...),
			},
			"region": schema.StringAttribute{
				Description: "The S3 region. Defaults to the AWS_REGION environment variable, then to what the server says.",
				Optional:    true,
			},
			"access_key_id": schema.StringAttribute{
				Description: "The S3 access key ID. Defaults to the AWS_ACCESS_KEY_ID environment variable. Sensitive: never shown in plans or logs.",
				Optional:    true,
				Sensitive:   true,
			},
			"secret_access_key": schema.StringAttribute{
				Description: "The S3 secret access key. Defaults to the AWS_SECRET_ACCESS_KEY environment variable. Sensitive: never shown in plans or logs.",
				Optional:    true,
				Sensitive:   true,
			},
			"session_token": schema.StringAttribute{
				Description: "The S3 session token of temporary credentials. Defaults to the AWS_SESSION_TOKEN environment variable. Sensitive.",
				Optional:    true,
				Sensitive:   true,
			},
			"ca_file": schema.StringAttribute{
				Description: "A PEM file of CA certificates trusted, besides the system's, for an https endpoint.",
				Optional:    true,
			},
			"insecure_skip_tls_verify": schema.BoolAttribute{
				Description: "Turns off verification of the endpoint's TLS certificate. Only for tests: anyone on the path can then read the backups.",
				Optional:    true,
			},
		},
	}
}

func envOr(v types.String, name string) string {
	if !v.IsNull() && !v.IsUnknown() {
		return v.ValueString()
	}
	return os.Getenv(name)
}

// Configure reads the repository's location and credentials and probes
// it, so that an unreachable repository, or one of a newer format, is
// reported on the attribute that names it. A location without a
// repository yet is fine: kbackup_repository creates it.
func (p *kbackupProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg kbackupProviderModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// A value known only after another resource is applied (a bucket's
	// name from kbackup_bucket): this plan gets no repository handle, and
	// the apply configures the provider again with the value known.
	for _, v := range []interface{ IsUnknown() bool }{cfg.Storage, cfg.Endpoint, cfg.Bucket, cfg.Prefix, cfg.Region,
		cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken, cfg.CAFile, cfg.InsecureSkipTLSVerify} {
		if v.IsUnknown() {
			return
		}
	}
	attr := path.Root("storage")
	var loc storage.Location
	var err error
	switch {
	case !cfg.Storage.IsNull():
		loc, err = storage.ParseURL(cfg.Storage.ValueString())
	case !cfg.Bucket.IsNull():
		attr = path.Root("bucket")
		loc = storage.Location{Scheme: storage.SchemeS3, Bucket: cfg.Bucket.ValueString(), Prefix: cfg.Prefix.ValueString(), Endpoint: cfg.Endpoint.ValueString()}
	case os.Getenv("KBACKUP_STORAGE") != "":
		loc, err = storage.ParseURL(os.Getenv("KBACKUP_STORAGE"))
	default:
		resp.Diagnostics.AddAttributeError(attr, "No kbackup repository",
			"Give the repository as storage (s3://bucket/prefix?endpoint=https://host:port), as bucket and endpoint, or in the KBACKUP_STORAGE environment variable.")
		return
	}
	if err != nil {
		resp.Diagnostics.AddAttributeError(attr, "Invalid repository location", err.Error())
		return
	}
	if loc.Scheme == storage.SchemeS3 {
		if r := envOr(cfg.Region, "AWS_REGION"); r != "" && loc.Region == "" {
			loc.Region = r
		}
		if !cfg.CAFile.IsNull() {
			loc.CAFile = cfg.CAFile.ValueString()
		}
		loc.InsecureSkipTLSVerify = loc.InsecureSkipTLSVerify || cfg.InsecureSkipTLSVerify.ValueBool()
	}
	if loc, err = loc.Normalized(); err != nil {
		resp.Diagnostics.AddAttributeError(attr, "Invalid repository location", err.Error())
		return
	}
	creds := storage.Credentials{
		AccessKeyID:     envOr(cfg.AccessKeyID, "AWS_ACCESS_KEY_ID"),
		SecretAccessKey: envOr(cfg.SecretAccessKey, "AWS_SECRET_ACCESS_KEY"),
		SessionToken:    envOr(cfg.SessionToken, "AWS_SESSION_TOKEN"),
	}
	c := newClient(repo.Options{Location: loc, Credentials: creds}, p.version)
	_, err = c.Repository(ctx)
	switch {
	case err == nil, errors.Is(err, repo.ErrNoRepository), errors.Is(err, storage.ErrBucketNotFound):
	case errors.Is(err, repo.ErrUnsupportedFormat):
		resp.Diagnostics.AddAttributeError(attr, "Repository of a newer format",
			"The repository at "+loc.Display()+" was written by a newer kbackup: "+err.Error()+" (here: the provider)")
		return
	default:
		resp.Diagnostics.AddAttributeError(attr, "Repository cannot be reached",
			"Reading the kbackup repository at "+loc.Display()+": "+err.Error())
		return
	}
	resp.ResourceData = c
	resp.DataSourceData = c
}

func (p *kbackupProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		NewBucketResource,
		NewRepositoryResource,
		NewClusterResource,
		NewRetentionPolicyResource,
		NewScheduleResource,
	}
}

func (p *kbackupProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		NewBackupsDataSource,
		NewClustersDataSource,
		NewClusterIdentityDataSource,
	}
}
