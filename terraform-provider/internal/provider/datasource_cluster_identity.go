package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/terraform-provider/internal/validators"
)

var (
	_ datasource.DataSource = (*clusterIdentityDataSource)(nil)
)

// NewClusterIdentityDataSource returns kbackup_cluster_identity.
func NewClusterIdentityDataSource() datasource.DataSource { return &clusterIdentityDataSource{} }

type clusterIdentityDataSource struct{}

type clusterIdentityModel struct {
	Name              types.String     `tfsdk:"name"`
	NameSource        types.String     `tfsdk:"name_source"`
	UID               types.String     `tfsdk:"uid"`
	CloudProvider     types.String     `tfsdk:"cloud_provider"`
	Distribution      types.String     `tfsdk:"distribution"`
	KubernetesVersion types.String     `tfsdk:"kubernetes_version"`
	Server            types.String     `tfsdk:"server"`
	Kubernetes        *kubeconfigModel `tfsdk:"kubernetes"`
}

func (d *clusterIdentityDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_cluster_identity"
}

func (d *clusterIdentityDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	s := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Description: desc, Computed: true}
	}
	resp.Schema = schema.Schema{
		Description: "Who a cluster is, detected through a connection as `kubectl kbackup cluster detect` does, without registering it: the kube-system UID, a name, the cloud provider, the distribution and the Kubernetes version.",
		Attributes: map[string]schema.Attribute{
			"name": schema.StringAttribute{Description: "An explicit name; without it the name is detected (labels, host name, context, UID).", Optional: true, Computed: true,
				Validators: []validator.String{validators.ClusterName()}},
			"name_source":        s("Where the name came from."),
			"uid":                s("The kube-system namespace UID: the cluster's stable identity."),
			"cloud_provider":     s("aws, azure, gcp, ..., or unknown."),
			"distribution":       s("eks, aks, gke, openshift, k3s, kind, kubernetes, ..."),
			"kubernetes_version": s("The API server's version."),
			"server":             s("The API server URL."),
		},
		Blocks: map[string]schema.Block{"kubernetes": kubeconfigBlock("whose identity to detect")},
	}
}

func (d *clusterIdentityDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var cfg clusterIdentityModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if cfg.Kubernetes == nil {
		resp.Diagnostics.AddAttributeError(path.Root("kubernetes"), "Missing kubernetes block", "Give the kubeconfig to detect the identity through: config_path (and config_context).")
		return
	}
	c, err := cfg.Kubernetes.connect()
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("kubernetes"), "Cannot reach the cluster", err.Error())
		return
	}
	id, err := kube.DetectIdentity(ctx, c, kube.DetectOptions{Name: cfg.Name.ValueString()})
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("kubernetes"), "Cannot detect the cluster's identity", err.Error())
		return
	}
	cfg.Name = types.StringValue(id.Name)
	cfg.NameSource = types.StringValue(id.NameSource)
	cfg.UID = types.StringValue(id.UID)
	cfg.CloudProvider = types.StringValue(id.Provider)
	cfg.Distribution = types.StringValue(id.Distribution)
	cfg.KubernetesVersion = types.StringValue(id.KubernetesVersion)
	cfg.Server = types.StringValue(id.Server)
	resp.Diagnostics.Append(resp.State.Set(ctx, &cfg)...)
}
