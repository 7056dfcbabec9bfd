package provider

import (
	"context"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/kbackup/kbackup/core/fleetview"
	"github.com/kbackup/kbackup/core/repo"
)

var (
	_ datasource.DataSource              = (*clustersDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*clustersDataSource)(nil)
)

// NewClustersDataSource returns kbackup_clusters.
func NewClustersDataSource() datasource.DataSource { return &clustersDataSource{} }

type clustersDataSource struct{ client *client }

type clusterStatusModel struct {
	Name               types.String `tfsdk:"name"`
	Registered         types.Bool   `tfsdk:"registered"`
	Environment        types.String `tfsdk:"environment"`
	Region             types.String `tfsdk:"region"`
	Priority           types.Int64  `tfsdk:"priority"`
	Backups            types.Int64  `tfsdk:"backups"`
	LastBackupID       types.String `tfsdk:"last_backup_id"`
	LastBackupTime     types.String `tfsdk:"last_backup_time"`
	LastSuccessfulID   types.String `tfsdk:"last_successful_backup_id"`
	LastSuccessfulTime types.String `tfsdk:"last_successful_backup_time"`
	BytesStored        types.Int64  `tfsdk:"bytes_stored"`
	Freshness          types.String `tfsdk:"freshness"`
	Stale              types.Bool   `tfsdk:"stale"`
	StaleReason        types.String `tfsdk:"stale_reason"`
}

type clustersModel struct {
	Clusters []clusterStatusModel `tfsdk:"clusters"`
	Stale    []string             `tfsdk:"stale"`
}

func (d *clustersDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_clusters"
}

func (d *clustersDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	s := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Description: desc, Computed: true}
	}
	resp.Schema = schema.Schema{
		Description: "The fleet as `kubectl kbackup clusters` shows it: every cluster of the repository (registered or seen in backups), its last backups, and whether it is stale by its schedules.",
		Attributes: map[string]schema.Attribute{
			"clusters": schema.ListNestedAttribute{Description: "Every cluster, sorted by name.", Computed: true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name":                        s("The cluster's name."),
					"registered":                  schema.BoolAttribute{Description: "Whether the cluster has a registry entry.", Computed: true},
					"environment":                 s("The cluster's environment."),
					"region":                      s("The cluster's region."),
					"priority":                    schema.Int64Attribute{Description: "The cluster's priority.", Computed: true},
					"backups":                     schema.Int64Attribute{Description: "How many backups the cluster has, of every phase.", Computed: true},
					"last_backup_id":              s("The newest backup's ID; empty when none."),
					"last_backup_time":            s("When the newest backup started (RFC 3339); empty when none."),
					"last_successful_backup_id":   s("The newest backup that did not fail; empty when none."),
					"last_successful_backup_time": s("When it started (RFC 3339); empty when none."),
					"bytes_stored":                schema.Int64Attribute{Description: "What the cluster's packs take, each once.", Computed: true},
					"freshness":                   s("What the cluster is held to: its schedules, or the maximum age when none covers it."),
					"stale":                       schema.BoolAttribute{Description: "Whether the last good backup is older than the cluster's freshness allows.", Computed: true},
					"stale_reason":                s("Why the cluster is stale; empty when it is not."),
				}}},
			"stale": schema.ListAttribute{Description: "The names of the stale clusters.", Computed: true, ElementType: types.StringType},
		},
	}
}

func (d *clustersDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func summaryID(b *repo.BackupSummary) (string, string) {
	if b == nil {
		return "", ""
	}
	return b.ID, b.StartedAt.UTC().Format(time.RFC3339)
}

func (d *clustersDataSource) Read(ctx context.Context, _ datasource.ReadRequest, resp *datasource.ReadResponse) {
	rp := d.client.repository(ctx, &resp.Diagnostics)
	if rp == nil {
		return
	}
	statuses, err := fleetview.Status(ctx, rp, fleetview.Options{})
	if err != nil {
		resp.Diagnostics.AddError("Reading the fleet", err.Error())
		return
	}
	out := clustersModel{Clusters: []clusterStatusModel{}, Stale: []string{}}
	for _, st := range statuses {
		lastID, lastTime := summaryID(st.LastBackup)
		goodID, goodTime := summaryID(st.LastGood)
		out.Clusters = append(out.Clusters, clusterStatusModel{
			Name: types.StringValue(st.Name), Registered: types.BoolValue(st.Registered),
			Environment: types.StringValue(st.Environment), Region: types.StringValue(st.Region),
			Priority: types.Int64Value(int64(st.Priority)), Backups: types.Int64Value(int64(st.Backups)),
			LastBackupID: types.StringValue(lastID), LastBackupTime: types.StringValue(lastTime),
			LastSuccessfulID: types.StringValue(goodID), LastSuccessfulTime: types.StringValue(goodTime),
			BytesStored: types.Int64Value(st.BytesStored), Freshness: types.StringValue(st.Freshness),
			Stale: types.BoolValue(st.Stale), StaleReason: types.StringValue(st.StaleReason),
		})
		if st.Stale {
			out.Stale = append(out.Stale, st.Name)
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &out)...)
}
