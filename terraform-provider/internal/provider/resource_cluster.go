package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/install"
	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/storage"
	"github.com/kbackup/kbackup/terraform-provider/internal/validators"
)

var (
	_ resource.Resource                   = (*clusterResource)(nil)
	_ resource.ResourceWithConfigure      = (*clusterResource)(nil)
	_ resource.ResourceWithImportState    = (*clusterResource)(nil)
	_ resource.ResourceWithValidateConfig = (*clusterResource)(nil)
)

// NewClusterResource returns kbackup_cluster.
func NewClusterResource() resource.Resource { return &clusterResource{} }

type clusterResource struct{ client *client }

type clusterModel struct {
	ID                types.String     `tfsdk:"id"`
	Name              types.String     `tfsdk:"name"`
	Environment       types.String     `tfsdk:"environment"`
	Region            types.String     `tfsdk:"region"`
	Labels            types.Map        `tfsdk:"labels"`
	Priority          types.Int64      `tfsdk:"priority"`
	UID               types.String     `tfsdk:"uid"`
	CloudProvider     types.String     `tfsdk:"cloud_provider"`
	Distribution      types.String     `tfsdk:"distribution"`
	KubernetesVersion types.String     `tfsdk:"kubernetes_version"`
	Server            types.String     `tfsdk:"server"`
	InstallRBAC       types.Bool       `tfsdk:"install_rbac"`
	Kubernetes        *kubernetesModel `tfsdk:"kubernetes"`
}

func (r *clusterResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_cluster"
}

func (r *clusterResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		Description: "A cluster's entry in the repository's fleet registry (`_fleet/clusters/<name>.json`): its name, claimed by the cluster's " +
			"kube-system UID, and the fleet's settings for it. With a `kubernetes` block the provider reads the cluster's identity through it and " +
			"installs what scheduled backups need: the `" + install.Namespace + "` namespace, the ServiceAccount `" + install.ServiceAccount +
			"`, the read-only ClusterRole `" + install.ClusterRole + "` (get, list and watch) and its binding. Import it by its name.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Description: "The cluster's name.", Computed: true, PlanModifiers: keep},
			"name": schema.StringAttribute{
				Description:   "The cluster's name in the repository, a DNS-1123 label like prod-eu. Changing it replaces the entry.",
				Required:      true,
				Validators:    []validator.String{validators.ClusterName()},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"environment": schema.StringAttribute{
				Description: "The cluster's environment (dev, test, preprod, prod), which picks its retention days and schedules.",
				Optional:    true, Validators: []validator.String{validators.Environment()},
			},
			"region": schema.StringAttribute{
				Description: "The cluster's region, like eu-west-1.", Optional: true, Validators: []validator.String{validators.Region()},
			},
			"labels": schema.MapAttribute{
				Description: "Labels of the cluster, which fleet operations select by.", Optional: true, ElementType: types.StringType,
			},
			"priority": schema.Int64Attribute{
				Description: "The cluster's priority in fleet runs; higher first. Default 0.",
				Optional:    true, Computed: true, Default: int64default.StaticInt64(0),
				Validators: []validator.Int64{int64validator.Between(-1000000, 1000000)},
			},
			"uid": schema.StringAttribute{
				Description: "The kube-system namespace UID that owns the name. Read through the kubernetes block; give it without one. Changing it replaces the entry.",
				Optional:    true, Computed: true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown(), stringplanmodifier.RequiresReplaceIfConfigured()},
			},
			"cloud_provider":     schema.StringAttribute{Description: "The cloud provider detection saw (aws, azure, gcp, ..., unknown).", Computed: true, PlanModifiers: keep},
			"distribution":       schema.StringAttribute{Description: "The distribution detection saw (eks, aks, gke, openshift, k3s, kubernetes, ...).", Computed: true, PlanModifiers: keep},
			"kubernetes_version": schema.StringAttribute{Description: "The API server's version when the entry was last written.", Computed: true, PlanModifiers: keep},
			"server":             schema.StringAttribute{Description: "The API server URL when the entry was last written.", Computed: true, PlanModifiers: keep},
			"install_rbac": schema.BoolAttribute{
				Description: "Install the namespace, ServiceAccount, read-only ClusterRole and binding that scheduled backups run as (needs the kubernetes block). Default true. " +
					"When any of them is missing or changed, the next plan shows this as false and the apply puts them back.",
				Optional: true, Computed: true, Default: booldefault.StaticBool(true),
			},
		},
		Blocks: map[string]schema.Block{"kubernetes": kubernetesBlock("to read its identity and install what scheduled backups need",
			"a refresh then checks the registry entry (which needs only the repository) but not that the namespace, ServiceAccount, ClusterRole and binding are still installed, "+
				"and a destroy removes the registry entry and leaves them in the cluster, saying so in a warning.")},
	}
}

func (r *clusterResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var cfg clusterModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if cfg.Kubernetes == nil && cfg.UID.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("uid"), "Missing cluster identity",
			"Without a kubernetes block the provider cannot read the cluster's kube-system UID: give a kubernetes block, or uid.")
	}
}

func (r *clusterResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = configureResource(req, resp)
}

// identity is who the cluster is: detected through the kubernetes block,
// or the uid given.
func (m *clusterModel) identity(ctx context.Context) (repo.ClusterIdentity, *kube.Client, error) {
	id := repo.ClusterIdentity{Name: m.Name.ValueString(), UID: m.UID.ValueString()}
	if m.Kubernetes == nil {
		return id, nil, nil
	}
	c, err := m.Kubernetes.connect()
	if err != nil {
		return id, nil, err
	}
	det, err := kube.DetectIdentity(ctx, c, kube.DetectOptions{Name: id.Name})
	if err != nil {
		return id, nil, err
	}
	if !m.UID.IsNull() && !m.UID.IsUnknown() && m.UID.ValueString() != det.UID {
		return id, nil, fmt.Errorf("the kubernetes block reaches the cluster whose kube-system UID is %s, and uid says %s", det.UID, m.UID.ValueString())
	}
	return repo.ClusterIdentity{Name: id.Name, UID: det.UID, Provider: det.Provider, Distribution: det.Distribution,
		KubernetesVersion: det.KubernetesVersion, Server: det.Server, NameSource: "terraform"}, c, nil
}

func (m *clusterModel) settings(ctx context.Context, diags *diag.Diagnostics) repo.ClusterSettings {
	env, region := m.Environment.ValueString(), m.Region.ValueString()
	priority := int(m.Priority.ValueInt64())
	labels := map[string]string{}
	if !m.Labels.IsNull() && !m.Labels.IsUnknown() {
		diags.Append(m.Labels.ElementsAs(ctx, &labels, false)...)
	}
	return repo.ClusterSettings{Environment: &env, Region: &region, Labels: labels, Priority: &priority}
}

// optional is v as an optional attribute: null when empty and the prior
// value was null.
func optional(prior types.String, v string) types.String {
	if v == "" && prior.IsNull() {
		return types.StringNull()
	}
	return types.StringValue(v)
}

func (m *clusterModel) set(ctx context.Context, e *fleet.ClusterEntry, diags *diag.Diagnostics) {
	m.ID = types.StringValue(e.Name)
	m.Name = types.StringValue(e.Name)
	m.Environment = optional(m.Environment, e.Environment)
	m.Region = optional(m.Region, e.Region)
	if len(e.Labels) == 0 && (m.Labels.IsNull() || len(m.Labels.Elements()) == 0) {
		// keep null or {} as written
		if m.Labels.IsUnknown() {
			m.Labels = types.MapNull(types.StringType)
		}
	} else {
		v, d := types.MapValueFrom(ctx, types.StringType, e.Labels)
		diags.Append(d...)
		m.Labels = v
	}
	m.Priority = types.Int64Value(int64(e.Priority))
	m.UID = types.StringValue(e.UID)
	m.CloudProvider = types.StringValue(e.Provider)
	m.Distribution = types.StringValue(e.Distribution)
	m.KubernetesVersion = types.StringValue(e.KubernetesVersion)
	m.Server = types.StringValue(e.Server)
}

// write registers the cluster and installs the RBAC; Create and Update.
func (r *clusterResource) write(ctx context.Context, plan *clusterModel, diags *diag.Diagnostics) {
	rp := r.client.repository(ctx, diags)
	if rp == nil {
		return
	}
	id, kc, err := plan.identity(ctx)
	if err != nil {
		diags.AddAttributeError(path.Root("kubernetes"), "Cannot read the cluster's identity", err.Error())
		return
	}
	settings := plan.settings(ctx, diags)
	if diags.HasError() {
		return
	}
	entry, err := rp.RegisterCluster(ctx, id, settings, repo.ClaimOptions{})
	if err != nil {
		addRegistryError(diags, err)
		return
	}
	if plan.InstallRBAC.ValueBool() && kc != nil {
		if err := install.InstallRBAC(ctx, kc.Kube); err != nil {
			diags.AddAttributeError(path.Root("install_rbac"), "Installing what scheduled backups need", err.Error())
			return
		}
	}
	plan.set(ctx, entry, diags)
}

// addRegistryError puts core's field errors on the attributes they name.
func addRegistryError(diags *diag.Diagnostics, err error) {
	switch {
	case errors.Is(err, repo.ErrClusterNameTaken):
		diags.AddAttributeError(path.Root("name"), "Cluster name taken", err.Error())
	case errors.Is(err, storage.ErrInvalid):
		diags.AddError("Invalid cluster entry", err.Error())
	default:
		diags.AddError("Writing the registry entry", err.Error())
	}
}

func (r *clusterResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan clusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	plan.Kubernetes.withConfiguredToken(ctx, req.Config, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	r.write(ctx, &plan, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.Kubernetes.forgetToken()
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *clusterResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state clusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	rp := r.client.repository(ctx, &resp.Diagnostics)
	if rp == nil {
		return
	}
	name := state.Name.ValueString()
	if name == "" {
		name = state.ID.ValueString()
	}
	entry, err := rp.GetCluster(ctx, name)
	if errors.Is(err, storage.ErrNotFound) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Reading the registry entry of cluster "+name, err.Error())
		return
	}
	state.set(ctx, entry, &resp.Diagnostics)
	if state.InstallRBAC.IsNull() {
		state.InstallRBAC = types.BoolValue(true)
	}
	// Without a kubeconfig the token is not at hand (write-only): the
	// registry entry above is all a refresh checks.
	if state.Kubernetes.reachableFromState() && state.InstallRBAC.ValueBool() {
		if kc, err := state.Kubernetes.connect(); err != nil {
			resp.Diagnostics.AddWarning("Cannot check what is installed in cluster "+name, err.Error())
		} else if missing, err := install.RBACInstalled(ctx, kc.Kube); err != nil {
			resp.Diagnostics.AddWarning("Cannot check what is installed in cluster "+name, err.Error())
		} else if len(missing) > 0 {
			state.InstallRBAC = types.BoolValue(false)
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *clusterResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state clusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	plan.Kubernetes.withConfiguredToken(ctx, req.Config, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	if plan.UID.IsUnknown() {
		plan.UID = state.UID
	}
	r.write(ctx, &plan, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	if !plan.InstallRBAC.ValueBool() && state.InstallRBAC.ValueBool() && plan.Kubernetes != nil {
		if kc, err := plan.Kubernetes.connect(); err == nil {
			if err := install.UninstallRBAC(ctx, kc.Kube); err != nil {
				resp.Diagnostics.AddWarning("Removing what scheduled backups needed", err.Error())
			}
		}
	}
	plan.Kubernetes.forgetToken()
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *clusterResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state clusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	rp := r.client.repository(ctx, &resp.Diagnostics)
	if rp == nil {
		return
	}
	if _, _, err := rp.UnregisterCluster(ctx, state.Name.ValueString()); err != nil && !errors.Is(err, storage.ErrNotFound) {
		resp.Diagnostics.AddError("Removing the registry entry of cluster "+state.Name.ValueString(), err.Error())
		return
	}
	if state.Kubernetes == nil || !state.InstallRBAC.ValueBool() {
		return
	}
	if !state.Kubernetes.reachableFromState() {
		resp.Diagnostics.AddWarning("Left what scheduled backups needed in cluster "+state.Name.ValueString(),
			"The kubernetes block gives its token write-only, which a destroy does not get, so the namespace "+install.Namespace+
				", the ServiceAccount "+install.ServiceAccount+", the ClusterRole "+install.ClusterRole+" and its binding "+install.ClusterRoleBinding+
				" are still in the cluster. Remove them with: kubectl delete clusterrolebinding "+install.ClusterRoleBinding+
				" && kubectl delete clusterrole "+install.ClusterRole+" && kubectl delete namespace "+install.Namespace+
				"; or give the block config_path, apply, then destroy.")
		return
	}
	kc, err := state.Kubernetes.connect()
	if err == nil {
		err = install.UninstallRBAC(ctx, kc.Kube)
	}
	if err != nil {
		resp.Diagnostics.AddWarning("Removing what scheduled backups needed from cluster "+state.Name.ValueString(), err.Error())
	}
}

func (r *clusterResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), req.ID)...)
}
