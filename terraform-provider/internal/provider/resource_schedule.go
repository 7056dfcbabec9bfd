package provider

import (
	"context"
	"errors"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/install"
	"github.com/kbackup/kbackup/core/selection"
	"github.com/kbackup/kbackup/core/storage"
	"github.com/kbackup/kbackup/terraform-provider/internal/validators"
)

var (
	_ resource.Resource                   = (*scheduleResource)(nil)
	_ resource.ResourceWithConfigure      = (*scheduleResource)(nil)
	_ resource.ResourceWithImportState    = (*scheduleResource)(nil)
	_ resource.ResourceWithValidateConfig = (*scheduleResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*scheduleResource)(nil)
)

// NewScheduleResource returns kbackup_schedule.
func NewScheduleResource() resource.Resource { return &scheduleResource{} }

type scheduleResource struct{ client *client }

type scheduleModel struct {
	ID                types.String     `tfsdk:"id"`
	Name              types.String     `tfsdk:"name"`
	Cluster           types.String     `tfsdk:"cluster"`
	Cron              types.String     `tfsdk:"cron"`
	TimeZone          types.String     `tfsdk:"time_zone"`
	IncludeNamespaces types.List       `tfsdk:"include_namespaces"`
	ExcludeNamespaces types.List       `tfsdk:"exclude_namespaces"`
	IncludeResources  types.List       `tfsdk:"include_resources"`
	ExcludeResources  types.List       `tfsdk:"exclude_resources"`
	LabelSelector     types.String     `tfsdk:"label_selector"`
	ClusterResources  types.String     `tfsdk:"cluster_resources"`
	RetentionPolicy   types.String     `tfsdk:"retention_policy"`
	Suspend           types.Bool       `tfsdk:"suspend"`
	Image             types.String     `tfsdk:"image"`
	MemoryLimit       types.String     `tfsdk:"memory_limit"`
	CPULimit          types.String     `tfsdk:"cpu_limit"`
	CronJob           types.String     `tfsdk:"cron_job"`
	Kubernetes        *kubernetesModel `tfsdk:"kubernetes"`
}

func (r *scheduleResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_schedule"
}

func stringList(description string) schema.ListAttribute {
	return schema.ListAttribute{Description: description, Optional: true, ElementType: types.StringType}
}

func (r *scheduleResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		Description: "A cron schedule of backups of one cluster, recorded in `_fleet/schedules/<name>.json` so that `kubectl kbackup clusters` knows how fresh the cluster must be. " +
			"With a `kubernetes` block it creates, in the `" + install.Namespace + "` namespace of the cluster, a CronJob that runs the kubectl-kbackup image with " +
			"`backup create --schedule NAME --prune` as the ServiceAccount `kbackup` that `kbackup_cluster` installs (read-only), with `concurrencyPolicy: Forbid`, " +
			"a non-root read-only security context, and the provider's repository credentials in a Secret. A CronJob deleted or changed outside Terraform shows in the next plan and is put back by the apply. " +
			"Import it by its name.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Description: "The schedule's name.", Computed: true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"name": schema.StringAttribute{
				Description: "The schedule's name: letters, digits, '-' and '_'. Changing it replaces the schedule.",
				Required:    true, Validators: []validator.String{validators.Name()}, PlanModifiers: replace,
			},
			"cluster": schema.StringAttribute{
				Description: "The registered cluster the schedule backs up (the name of a kbackup_cluster). Changing it replaces the schedule.",
				Required:    true, Validators: []validator.String{validators.ClusterName()}, PlanModifiers: replace,
			},
			"cron": schema.StringAttribute{
				Description: "When backups run: " + fleet.CronHint + ".",
				Required:    true, Validators: []validator.String{validators.Cron()},
			},
			"time_zone": schema.StringAttribute{
				Description: "The IANA time zone cron is read in, like Europe/Paris; default UTC.",
				Optional:    true, Validators: []validator.String{validators.TimeZone()},
			},
			"include_namespaces": stringList("Namespaces to back up: names or patterns like shop-* (default: all)."),
			"exclude_namespaces": stringList("Namespaces to leave out: names or patterns."),
			"include_resources":  stringList("Resource types to back up, as resource.group, plural, kind or short name (default: all but events and leases)."),
			"exclude_resources":  stringList("Resource types to leave out, in the same forms."),
			"label_selector":     schema.StringAttribute{Description: "Back up only objects matching this label selector (app=web,tier!=cache).", Optional: true},
			"cluster_resources": schema.StringAttribute{
				Description: "Cluster-scoped resources: on, off, or auto (taken when no namespace filter is given). Default auto.",
				Optional:    true, Validators: []validator.String{stringvalidator.OneOf(string(selection.ClusterResourcesAuto), string(selection.ClusterResourcesOn), string(selection.ClusterResourcesOff))},
			},
			"retention_policy": schema.StringAttribute{
				Description: "The name of the kbackup_retention_policy that prunes the schedule's backups after each run; without it the cluster's own, environment's or repository's policy does.",
				Optional:    true, Validators: []validator.String{validators.Name()},
			},
			"suspend": schema.BoolAttribute{
				Description: "Stop new runs without removing the schedule. Default false.",
				Optional:    true, Computed: true, Default: booldefault.StaticBool(false),
			},
			"image": schema.StringAttribute{
				Description: "The kubectl-kbackup image the CronJob runs; default " + install.ImageRepository + ":<provider version>.",
				Optional:    true, Computed: true,
			},
			"memory_limit": schema.StringAttribute{
				Description: "The job's memory limit, a Kubernetes quantity. Default " + install.DefaultMemoryLimit + " (the seed's memory_limit).",
				Optional:    true, Computed: true, Default: stringdefault.StaticString(install.DefaultMemoryLimit),
				Validators: []validator.String{validators.Quantity()},
			},
			"cpu_limit": schema.StringAttribute{
				Description: "The job's CPU limit, a Kubernetes quantity. Default " + install.DefaultCPULimit + " (the seed's cpu_limit).",
				Optional:    true, Computed: true, Default: stringdefault.StaticString(install.DefaultCPULimit),
				Validators: []validator.String{validators.Quantity()},
			},
			"cron_job": schema.StringAttribute{
				Description: "The CronJob, namespace/name; empty without a kubernetes block.",
				Computed:    true,
			},
		},
		Blocks: map[string]schema.Block{"kubernetes": kubernetesBlock("to create the CronJob in",
			"a refresh then checks the schedule's record in the repository but not the CronJob (deleted or changed outside Terraform, it is not put back), "+
				"and a destroy removes the record and leaves the CronJob and its Secret in the cluster, saying so in a warning (the CronJob's runs then fail: the schedule is gone).")},
	}
}

// ModifyPlan plans the provider's image when none is configured (a schema
// default cannot know the provider's version), and the CronJob's name.
func (r *scheduleResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan, cfg scheduleModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if cfg.Image.IsNull() && r.client != nil {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("image"), r.client.DefaultImage())...)
	}
	cronJob := ""
	if plan.Kubernetes != nil && !plan.Name.IsUnknown() {
		cronJob = install.Namespace + "/" + install.ObjectName(plan.Name.ValueString())
	}
	if plan.Kubernetes == nil || !plan.Name.IsUnknown() {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("cron_job"), cronJob)...)
	}
}

func (r *scheduleResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = configureResource(req, resp)
}

// schedule is the stored schedule the model declares.
func (m *scheduleModel) schedule(ctx context.Context, diags *diag.Diagnostics) *fleet.Schedule {
	list := func(l types.List) []string {
		if l.IsNull() || l.IsUnknown() {
			return nil
		}
		var out []string
		diags.Append(l.ElementsAs(ctx, &out, false)...)
		return out
	}
	return &fleet.Schedule{
		Name:     m.Name.ValueString(),
		Cron:     m.Cron.ValueString(),
		TimeZone: m.TimeZone.ValueString(),
		Cluster:  m.Cluster.ValueString(),
		Spec: fleet.BackupSpec{Selection: selection.Selection{
			IncludeNamespaces: list(m.IncludeNamespaces),
			ExcludeNamespaces: list(m.ExcludeNamespaces),
			IncludeResources:  list(m.IncludeResources),
			ExcludeResources:  list(m.ExcludeResources),
			LabelSelector:     m.LabelSelector.ValueString(),
			ClusterResources:  selection.ClusterResources(m.ClusterResources.ValueString()),
		}},
		Retention: fleet.RetentionRef{Policy: m.RetentionPolicy.ValueString()},
		Suspend:   m.Suspend.ValueBool(),
	}
}

// ValidateConfig checks the schedule with core's rules, each error on the
// attribute it names (name, cron and time zone have validators of their
// own).
func (r *scheduleResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var cfg scheduleModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	for _, v := range []interface{ IsUnknown() bool }{cfg.Name, cfg.Cron, cfg.TimeZone, cfg.Cluster, cfg.IncludeNamespaces, cfg.ExcludeNamespaces,
		cfg.IncludeResources, cfg.ExcludeResources, cfg.LabelSelector, cfg.ClusterResources, cfg.RetentionPolicy} {
		if v.IsUnknown() {
			return
		}
	}
	s := cfg.schedule(ctx, &resp.Diagnostics)
	for _, e := range s.Validate(field.NewPath("schedule")) {
		attr := attributeOf(e.Field)
		switch attr {
		case "name", "cron", "cluster", "retention_policy":
			continue
		case "time_zone":
			if !strings.Contains(e.Detail, "in one place") {
				continue
			}
		}
		if attr == "" {
			resp.Diagnostics.AddError("Invalid schedule", e.Error())
			continue
		}
		resp.Diagnostics.AddAttributeError(path.Root(attr), "Invalid "+attr, e.ErrorBody())
	}
}

// attributeOf maps a core field path (schedule.spec.include_namespaces[2])
// to the attribute (include_namespaces).
func attributeOf(fieldPath string) string {
	p := strings.TrimPrefix(fieldPath, "schedule.")
	p = strings.TrimPrefix(p, "spec.")
	p = strings.TrimPrefix(p, "retention.")
	if i := strings.IndexAny(p, ".["); i >= 0 {
		p = p[:i]
	}
	switch p {
	case "name", "cron", "time_zone", "cluster", "include_namespaces", "exclude_namespaces", "include_resources",
		"exclude_resources", "label_selector", "cluster_resources":
		return p
	case "policy":
		return "retention_policy"
	}
	return ""
}

func (m *scheduleModel) job(c *client, s *fleet.Schedule) *install.Job {
	return &install.Job{
		Schedule:    s,
		Image:       m.Image.ValueString(),
		Storage:     c.StorageURL(),
		Credentials: c.opts.Credentials,
		MemoryLimit: m.MemoryLimit.ValueString(),
		CPULimit:    m.CPULimit.ValueString(),
	}
}

func (r *scheduleResource) write(ctx context.Context, plan *scheduleModel, create bool, diags *diag.Diagnostics) {
	rp := r.client.repository(ctx, diags)
	if rp == nil {
		return
	}
	if plan.Image.IsUnknown() || plan.Image.IsNull() {
		plan.Image = types.StringValue(r.client.DefaultImage())
	}
	s := plan.schedule(ctx, diags)
	if diags.HasError() {
		return
	}
	var err error
	if create {
		err = rp.CreateSchedule(ctx, s)
	} else {
		err = rp.PutSchedule(ctx, s)
	}
	switch {
	case errors.Is(err, storage.ErrAlreadyExists):
		diags.AddAttributeError(path.Root("name"), "Schedule exists",
			"The repository has a schedule "+s.Name+" already; import it (tofu import) rather than create it.")
		return
	case err != nil:
		addFieldErrors(diags, "Writing schedule "+s.Name, err)
		return
	}
	plan.ID = types.StringValue(s.Name)
	plan.CronJob = types.StringValue("")
	if plan.Kubernetes == nil {
		return
	}
	kc, err := plan.Kubernetes.connect()
	if err != nil {
		diags.AddAttributeError(path.Root("kubernetes"), "Cannot reach the cluster", err.Error())
		return
	}
	cj, err := install.ApplyJob(ctx, kc.Kube, plan.job(r.client, s))
	if err != nil {
		diags.AddError("Creating the CronJob of schedule "+s.Name, err.Error())
		return
	}
	plan.CronJob = types.StringValue(cj.Namespace + "/" + cj.Name)
}

func (r *scheduleResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan scheduleModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	plan.Kubernetes.withConfiguredToken(ctx, req.Config, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	r.write(ctx, &plan, true, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.Kubernetes.forgetToken()
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *scheduleResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan scheduleModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	plan.Kubernetes.withConfiguredToken(ctx, req.Config, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	r.write(ctx, &plan, false, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.Kubernetes.forgetToken()
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func listValue(ctx context.Context, prior types.List, v []string, diags *diag.Diagnostics) types.List {
	if len(v) == 0 && (prior.IsNull() || prior.IsUnknown()) {
		return types.ListNull(types.StringType)
	}
	if v == nil {
		v = []string{}
	}
	l, d := types.ListValueFrom(ctx, types.StringType, v)
	diags.Append(d...)
	return l
}

func (r *scheduleResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state scheduleModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	rp := r.client.repository(ctx, &resp.Diagnostics)
	if rp == nil {
		return
	}
	name := state.ID.ValueString()
	s, err := rp.GetSchedule(ctx, name)
	if errors.Is(err, storage.ErrNotFound) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Reading schedule "+name, err.Error())
		return
	}
	state.ID = types.StringValue(s.Name)
	state.Name = types.StringValue(s.Name)
	state.Cluster = types.StringValue(s.Cluster)
	state.Cron = types.StringValue(s.Cron)
	state.TimeZone = optional(state.TimeZone, s.TimeZone)
	state.IncludeNamespaces = listValue(ctx, state.IncludeNamespaces, s.Spec.IncludeNamespaces, &resp.Diagnostics)
	state.ExcludeNamespaces = listValue(ctx, state.ExcludeNamespaces, s.Spec.ExcludeNamespaces, &resp.Diagnostics)
	state.IncludeResources = listValue(ctx, state.IncludeResources, s.Spec.IncludeResources, &resp.Diagnostics)
	state.ExcludeResources = listValue(ctx, state.ExcludeResources, s.Spec.ExcludeResources, &resp.Diagnostics)
	state.LabelSelector = optional(state.LabelSelector, s.Spec.LabelSelector)
	state.ClusterResources = optional(state.ClusterResources, string(s.Spec.ClusterResources))
	state.RetentionPolicy = optional(state.RetentionPolicy, s.Retention.Policy)
	state.Suspend = types.BoolValue(s.Suspend)
	if state.CronJob.IsNull() {
		state.CronJob = types.StringValue("")
	}
	// Without a kubeconfig the token is not at hand (write-only): the
	// record above is all a refresh checks.
	if state.Kubernetes.reachableFromState() {
		r.readJob(ctx, &state, &resp.Diagnostics)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// readJob reads the CronJob into the state, so that a CronJob deleted or
// changed outside Terraform shows in the plan: a missing one leaves image,
// memory_limit and cpu_limit empty, which the configuration then sets
// again.
func (r *scheduleResource) readJob(ctx context.Context, state *scheduleModel, diags *diag.Diagnostics) {
	kc, err := state.Kubernetes.connect()
	if err != nil {
		diags.AddWarning("Cannot reach the cluster of schedule "+state.Name.ValueString(), err.Error())
		return
	}
	cj, err := install.GetJob(ctx, kc.Kube, state.Name.ValueString())
	if err != nil {
		diags.AddWarning("Cannot read the CronJob of schedule "+state.Name.ValueString(), err.Error())
		return
	}
	if cj == nil || len(cj.Spec.JobTemplate.Spec.Template.Spec.Containers) == 0 {
		state.Image = types.StringValue("")
		state.MemoryLimit = types.StringValue("")
		state.CPULimit = types.StringValue("")
		state.CronJob = types.StringValue("")
		return
	}
	c := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0]
	state.Image = types.StringValue(c.Image)
	if q, ok := c.Resources.Limits["memory"]; ok {
		state.MemoryLimit = types.StringValue(q.String())
	} else {
		state.MemoryLimit = types.StringValue("")
	}
	if q, ok := c.Resources.Limits["cpu"]; ok {
		state.CPULimit = types.StringValue(q.String())
	} else {
		state.CPULimit = types.StringValue("")
	}
	state.Cron = types.StringValue(cj.Spec.Schedule)
	if cj.Spec.Suspend != nil {
		state.Suspend = types.BoolValue(*cj.Spec.Suspend)
	}
	state.CronJob = types.StringValue(cj.Namespace + "/" + cj.Name)
}

func (r *scheduleResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state scheduleModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	rp := r.client.repository(ctx, &resp.Diagnostics)
	if rp == nil {
		return
	}
	switch {
	case state.Kubernetes == nil:
	case !state.Kubernetes.reachableFromState():
		name := install.ObjectName(state.Name.ValueString())
		resp.Diagnostics.AddWarning("Left the CronJob of schedule "+state.Name.ValueString()+" in the cluster",
			"The kubernetes block gives its token write-only, which a destroy does not get, so the CronJob "+install.Namespace+"/"+name+
				" and its Secret (the repository's credentials) are still in the cluster; their runs fail, the schedule being gone. Remove them with: kubectl -n "+
				install.Namespace+" delete cronjob,secret "+name+"; or give the block config_path, apply, then destroy.")
	default:
		kc, err := state.Kubernetes.connect()
		if err == nil {
			err = install.DeleteJob(ctx, kc.Kube, state.Name.ValueString())
		}
		if err != nil {
			resp.Diagnostics.AddError("Deleting the CronJob of schedule "+state.Name.ValueString(), err.Error())
			return
		}
	}
	if err := rp.DeleteSchedule(ctx, state.Name.ValueString()); err != nil {
		resp.Diagnostics.AddError("Deleting schedule "+state.Name.ValueString(), err.Error())
	}
}

func (r *scheduleResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
}
