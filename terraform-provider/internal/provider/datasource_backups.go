package provider

import (
	"context"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/terraform-provider/internal/validators"
)

var (
	_ datasource.DataSource              = (*backupsDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*backupsDataSource)(nil)
)

// NewBackupsDataSource returns kbackup_backups.
func NewBackupsDataSource() datasource.DataSource { return &backupsDataSource{} }

type backupsDataSource struct{ client *client }

type backupModel struct {
	ID          types.String `tfsdk:"id"`
	Phase       types.String `tfsdk:"phase"`
	StartedAt   types.String `tfsdk:"started_at"`
	CompletedAt types.String `tfsdk:"completed_at"`
	Objects     types.Int64  `tfsdk:"objects"`
	BytesStored types.Int64  `tfsdk:"bytes_stored"`
}

type backupsModel struct {
	Cluster          types.String  `tfsdk:"cluster"`
	Backups          []backupModel `tfsdk:"backups"`
	Latest           *backupModel  `tfsdk:"latest"`
	LatestSuccessful *backupModel  `tfsdk:"latest_successful"`
}

func backupAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"id":           schema.StringAttribute{Description: "The backup's ID.", Computed: true},
		"phase":        schema.StringAttribute{Description: "Completed, PartiallyFailed or Failed.", Computed: true},
		"started_at":   schema.StringAttribute{Description: "When the backup started (RFC 3339).", Computed: true},
		"completed_at": schema.StringAttribute{Description: "When the backup was committed (RFC 3339).", Computed: true},
		"objects":      schema.Int64Attribute{Description: "How many objects the backup holds.", Computed: true},
		"bytes_stored": schema.Int64Attribute{Description: "The stored size of every pack the backup references.", Computed: true},
	}
}

func (d *backupsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_backups"
}

func (d *backupsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A cluster's backups in the repository, oldest first, and the latest.",
		Attributes: map[string]schema.Attribute{
			"cluster": schema.StringAttribute{Description: "The cluster's name in the repository.", Required: true,
				Validators: []validator.String{validators.ClusterName()}},
			"backups": schema.ListNestedAttribute{Description: "Every backup of the cluster, oldest first.", Computed: true,
				NestedObject: schema.NestedAttributeObject{Attributes: backupAttributes()}},
			"latest": schema.SingleNestedAttribute{Description: "The newest backup; null when there is none.", Computed: true,
				Attributes: backupAttributes()},
			"latest_successful": schema.SingleNestedAttribute{Description: "The newest backup that did not fail; null when there is none.", Computed: true,
				Attributes: backupAttributes()},
		},
	}
}

func (d *backupsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func backupOf(m *repo.Manifest) backupModel {
	return backupModel{
		ID: types.StringValue(m.ID), Phase: types.StringValue(string(m.Phase)),
		StartedAt:   types.StringValue(m.StartedAt.UTC().Format(time.RFC3339)),
		CompletedAt: types.StringValue(m.CompletedAt.UTC().Format(time.RFC3339)),
		Objects:     types.Int64Value(int64(m.Stats.Objects)), BytesStored: types.Int64Value(m.Stats.BytesStored),
	}
}

func (d *backupsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var cfg backupsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	rp := d.client.repository(ctx, &resp.Diagnostics)
	if rp == nil || resp.Diagnostics.HasError() {
		return
	}
	manifests, err := rp.ListBackups(ctx, cfg.Cluster.ValueString())
	if err != nil {
		resp.Diagnostics.AddError("Listing the backups of cluster "+cfg.Cluster.ValueString(), err.Error())
		return
	}
	cfg.Backups = []backupModel{}
	for _, m := range manifests {
		b := backupOf(m)
		cfg.Backups = append(cfg.Backups, b)
		cfg.Latest = &b
		if m.Phase != repo.PhaseFailed {
			good := b
			cfg.LatestSuccessful = &good
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &cfg)...)
}
