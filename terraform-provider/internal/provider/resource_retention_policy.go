package provider

import (
	"context"
	"errors"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/retention"
	"github.com/kbackup/kbackup/core/storage"
	"github.com/kbackup/kbackup/terraform-provider/internal/validators"
)

var (
	_ resource.Resource                   = (*retentionPolicyResource)(nil)
	_ resource.ResourceWithConfigure      = (*retentionPolicyResource)(nil)
	_ resource.ResourceWithImportState    = (*retentionPolicyResource)(nil)
	_ resource.ResourceWithValidateConfig = (*retentionPolicyResource)(nil)
)

// NewRetentionPolicyResource returns kbackup_retention_policy.
func NewRetentionPolicyResource() resource.Resource { return &retentionPolicyResource{} }

type retentionPolicyResource struct{ client *client }

type retentionPolicyModel struct {
	ID                types.String `tfsdk:"id"`
	Name              types.String `tfsdk:"name"`
	KeepLast          types.Int64  `tfsdk:"keep_last"`
	KeepHourly        types.Int64  `tfsdk:"keep_hourly"`
	KeepDaily         types.Int64  `tfsdk:"keep_daily"`
	KeepWeekly        types.Int64  `tfsdk:"keep_weekly"`
	KeepMonthly       types.Int64  `tfsdk:"keep_monthly"`
	KeepWithin        types.String `tfsdk:"keep_within"`
	DaysByEnvironment types.Map    `tfsdk:"days_by_environment"`
	Clusters          types.Set    `tfsdk:"clusters"`
}

func (r *retentionPolicyResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_retention_policy"
}

func keepCount(what string) schema.Int64Attribute {
	return schema.Int64Attribute{
		Description: "Keep " + what + ". Not negative.",
		Optional:    true,
		Validators:  []validator.Int64{int64validator.AtLeast(0)},
	}
}

func (r *retentionPolicyResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A named retention policy, `_fleet/retention/<name>.json`, applied by `kubectl kbackup prune` and by scheduled backups (`backup create --schedule NAME --prune`). " +
			"A backup is kept when any rule keeps it. Scope, the narrowest winning: a policy with `clusters` governs those clusters; " +
			"the policy named `" + retention.DefaultPolicyName + "` governs the whole repository (every cluster without a narrower policy), " +
			"its `days_by_environment` each environment's clusters; a `kbackup_schedule` names the policy of its cluster's scheduled backups. " +
			"So a cluster's backups are pruned by its `clusters` policy, else by its environment's days, else by the repository's rules. Import it by its name.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Description: "The policy's name.", Computed: true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"name": schema.StringAttribute{
				Description: "The policy's name: letters, digits, '-' and '_'. `" + retention.DefaultPolicyName + "` is the repository's policy. Changing it replaces the policy.",
				Required:    true, Validators: []validator.String{validators.Name()},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"keep_last":    keepCount("the newest n backups"),
			"keep_hourly":  keepCount("the newest backup of each of the last n hours that have one"),
			"keep_daily":   keepCount("the newest backup of each of the last n days that have one"),
			"keep_weekly":  keepCount("the newest backup of each of the last n weeks that have one"),
			"keep_monthly": keepCount("the newest backup of each of the last n months that have one"),
			"keep_within": schema.StringAttribute{
				Description: "Keep every backup younger than this duration: 90d, 36h, 1d12h.",
				Optional:    true, Validators: []validator.String{validators.Within()},
			},
			"days_by_environment": schema.MapAttribute{
				Description: "Days to keep the backups of each environment's clusters (dev = 7, prod = 90); for those clusters they replace keep_within.",
				Optional:    true, ElementType: types.Int64Type,
				Validators: []validator.Map{
					mapvalidator.KeysAre(validators.Environment()),
					mapvalidator.ValueInt64sAre(int64validator.Between(1, fleet.MaxRetentionDays)),
				},
			},
			"clusters": schema.SetAttribute{
				Description: "Scope the policy to these clusters (names of kbackup_cluster): its rules prune their backups, before their environment's days and the repository's policy. " +
					"A cluster is named by one policy at most; a policy with clusters sets rules, not days_by_environment, and is not the `" + retention.DefaultPolicyName + "` one.",
				Optional: true, ElementType: types.StringType,
				Validators: []validator.Set{setvalidator.SizeAtLeast(1), setvalidator.ValueStringsAre(validators.ClusterName())},
			},
		},
	}
}

func (r *retentionPolicyResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = configureResource(req, resp)
}

func (r *retentionPolicyResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var cfg retentionPolicyModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	for _, v := range []interface{ IsUnknown() bool }{cfg.Name, cfg.KeepLast, cfg.KeepHourly, cfg.KeepDaily, cfg.KeepWeekly, cfg.KeepMonthly, cfg.KeepWithin, cfg.DaysByEnvironment, cfg.Clusters} {
		if v.IsUnknown() {
			return
		}
	}
	for _, c := range cfg.Clusters.Elements() {
		if c.IsUnknown() {
			return
		}
	}
	p := cfg.policy(ctx, &resp.Diagnostics)
	if p.RetentionRules.Empty() && len(p.DaysByEnvironment) == 0 {
		resp.Diagnostics.AddAttributeError(path.Root("keep_within"), "Retention policy keeps nothing",
			"A policy keeps something: set keep_last, keep_daily, keep_within or days_by_environment.")
	}
	// The scope's rules are core's; the attributes' own validators check
	// the names.
	for _, e := range p.Validate(field.NewPath("retention")) {
		if e.Field == "retention.clusters" {
			resp.Diagnostics.AddAttributeError(path.Root("clusters"), "Invalid clusters", e.ErrorBody())
		}
	}
}

func (m *retentionPolicyModel) policy(ctx context.Context, diags *diag.Diagnostics) *fleet.RetentionPolicy {
	p := &fleet.RetentionPolicy{
		Name: m.Name.ValueString(),
		RetentionRules: fleet.RetentionRules{
			KeepLast: int(m.KeepLast.ValueInt64()), KeepHourly: int(m.KeepHourly.ValueInt64()), KeepDaily: int(m.KeepDaily.ValueInt64()),
			KeepWeekly: int(m.KeepWeekly.ValueInt64()), KeepMonthly: int(m.KeepMonthly.ValueInt64()), KeepWithin: m.KeepWithin.ValueString(),
		},
	}
	if !m.DaysByEnvironment.IsNull() && !m.DaysByEnvironment.IsUnknown() {
		days := map[string]int64{}
		diags.Append(m.DaysByEnvironment.ElementsAs(ctx, &days, false)...)
		p.DaysByEnvironment = map[string]int{}
		for k, v := range days {
			p.DaysByEnvironment[k] = int(v)
		}
	}
	if !m.Clusters.IsNull() && !m.Clusters.IsUnknown() {
		diags.Append(m.Clusters.ElementsAs(ctx, &p.Clusters, false)...)
		slices.Sort(p.Clusters)
	}
	return p
}

// optionalInt is n as an optional attribute: null when 0 and the prior
// value was null.
func optionalInt(prior types.Int64, n int) types.Int64 {
	if n == 0 && prior.IsNull() {
		return types.Int64Null()
	}
	return types.Int64Value(int64(n))
}

func (m *retentionPolicyModel) set(ctx context.Context, p *fleet.RetentionPolicy, diags *diag.Diagnostics) {
	m.ID = types.StringValue(p.Name)
	m.Name = types.StringValue(p.Name)
	m.KeepLast = optionalInt(m.KeepLast, p.KeepLast)
	m.KeepHourly = optionalInt(m.KeepHourly, p.KeepHourly)
	m.KeepDaily = optionalInt(m.KeepDaily, p.KeepDaily)
	m.KeepWeekly = optionalInt(m.KeepWeekly, p.KeepWeekly)
	m.KeepMonthly = optionalInt(m.KeepMonthly, p.KeepMonthly)
	m.KeepWithin = optional(m.KeepWithin, p.KeepWithin)
	if len(p.DaysByEnvironment) > 0 || !m.DaysByEnvironment.IsNull() {
		v, d := types.MapValueFrom(ctx, types.Int64Type, p.DaysByEnvironment)
		diags.Append(d...)
		m.DaysByEnvironment = v
	}
	if len(p.Clusters) > 0 {
		v, d := types.SetValueFrom(ctx, types.StringType, p.Clusters)
		diags.Append(d...)
		m.Clusters = v
	} else {
		m.Clusters = types.SetNull(types.StringType)
	}
}

// addFieldErrors reports a core validation error.
func addFieldErrors(diags *diag.Diagnostics, summary string, err error) {
	var agg interface{ Errors() []error }
	if errors.As(err, &agg) {
		for _, e := range agg.Errors() {
			var fe *field.Error
			if errors.As(e, &fe) {
				diags.AddError(summary, fe.Error())
				continue
			}
			diags.AddError(summary, e.Error())
		}
		return
	}
	diags.AddError(summary, err.Error())
}

func (r *retentionPolicyResource) put(ctx context.Context, m *retentionPolicyModel, create bool, diags *diag.Diagnostics) {
	rp := r.client.repository(ctx, diags)
	if rp == nil {
		return
	}
	p := m.policy(ctx, diags)
	if diags.HasError() {
		return
	}
	var err error
	if create {
		err = rp.CreateRetentionPolicy(ctx, p)
	} else {
		err = rp.PutRetentionPolicy(ctx, p)
	}
	switch {
	case errors.Is(err, storage.ErrAlreadyExists):
		diags.AddAttributeError(path.Root("name"), "Retention policy exists",
			"The repository has a retention policy "+p.Name+" already; import it (tofu import) rather than create it.")
		return
	case err != nil:
		addFieldErrors(diags, "Writing retention policy "+p.Name, err)
		return
	}
	m.ID = types.StringValue(p.Name)
}

func (r *retentionPolicyResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan retentionPolicyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	r.put(ctx, &plan, true, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *retentionPolicyResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state retentionPolicyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	rp := r.client.repository(ctx, &resp.Diagnostics)
	if rp == nil {
		return
	}
	name := state.ID.ValueString()
	p, err := rp.GetRetentionPolicy(ctx, name)
	if errors.Is(err, storage.ErrNotFound) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Reading retention policy "+name, err.Error())
		return
	}
	state.set(ctx, p, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *retentionPolicyResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan retentionPolicyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	r.put(ctx, &plan, false, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *retentionPolicyResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state retentionPolicyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	rp := r.client.repository(ctx, &resp.Diagnostics)
	if rp == nil {
		return
	}
	if err := rp.DeleteRetentionPolicy(ctx, state.Name.ValueString()); err != nil {
		resp.Diagnostics.AddError("Deleting retention policy "+state.Name.ValueString(), err.Error())
	}
}

func (r *retentionPolicyResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
}
