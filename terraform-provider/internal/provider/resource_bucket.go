package provider

import (
	"context"
	"errors"
	"regexp"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/kbackup/kbackup/core/storage"
)

var (
	_ resource.Resource                   = (*bucketResource)(nil)
	_ resource.ResourceWithConfigure      = (*bucketResource)(nil)
	_ resource.ResourceWithImportState    = (*bucketResource)(nil)
	_ resource.ResourceWithValidateConfig = (*bucketResource)(nil)
)

// NewBucketResource returns kbackup_bucket.
func NewBucketResource() resource.Resource { return &bucketResource{} }

type bucketResource struct{ client *client }

type lifecycleRuleModel struct {
	ID                       types.String `tfsdk:"id"`
	Prefix                   types.String `tfsdk:"prefix"`
	ExpirationDays           types.Int64  `tfsdk:"expiration_days"`
	NoncurrentExpirationDays types.Int64  `tfsdk:"noncurrent_expiration_days"`
}

type bucketModel struct {
	ID                   types.String         `tfsdk:"id"`
	Bucket               types.String         `tfsdk:"bucket"`
	ObjectLock           types.Bool           `tfsdk:"object_lock"`
	Versioning           types.Bool           `tfsdk:"versioning"`
	Tags                 types.Map            `tfsdk:"tags"`
	ServerSideEncryption types.String         `tfsdk:"server_side_encryption"`
	KMSKeyID             types.String         `tfsdk:"kms_key_id"`
	ForceDestroy         types.Bool           `tfsdk:"force_destroy"`
	LifecycleRules       []lifecycleRuleModel `tfsdk:"lifecycle_rule"`
}

func (r *bucketResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_bucket"
}

func (r *bucketResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "An S3 bucket on the provider's endpoint, with the provider's credentials: versioning, object lock, tags, default server-side encryption and optional lifecycle rules. " +
			"kbackup enforces retention itself (`prune`), so lifecycle rules are optional; a server that does not implement them is reported on `lifecycle_rule`. Import it by its name.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Description: "The bucket's name.", Computed: true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"bucket": schema.StringAttribute{
				Description: "The bucket's name (3 to 63 lower-case letters, digits, '.' and '-'). Changing it replaces the bucket.",
				Required:    true, PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators: []validator.String{stringvalidator.LengthBetween(3, 63), stringvalidator.RegexMatches(bucketNamePattern, "want 3 to 63 lower-case letters, digits, '.' and '-', starting and ending with a letter or digit")},
			},
			"object_lock": schema.BoolAttribute{
				Description: "Create the bucket with object lock (WORM), which needs versioning. Chosen at creation: changing it replaces the bucket. Default false.",
				Optional:    true, Computed: true, Default: booldefault.StaticBool(false),
				PlanModifiers: []planmodifier.Bool{boolplanmodifier.RequiresReplace()},
			},
			"versioning": schema.BoolAttribute{
				Description: "Keep every version of every object. Default false; must be true with object_lock.",
				Optional:    true, Computed: true, Default: booldefault.StaticBool(false),
			},
			"tags": schema.MapAttribute{Description: "The bucket's tags.", Optional: true, ElementType: types.StringType},
			"server_side_encryption": schema.StringAttribute{
				Description: "The bucket's default encryption: AES256 (SSE-S3) or aws:kms (SSE-KMS, with kms_key_id).",
				Optional:    true, Validators: []validator.String{stringvalidator.OneOf(storage.BucketEncryptionSSES3, storage.BucketEncryptionSSEKMS)},
			},
			"kms_key_id": schema.StringAttribute{
				Description: "The KMS key of aws:kms encryption.", Optional: true,
				Validators: []validator.String{stringvalidator.AlsoRequires(path.MatchRoot("server_side_encryption"))},
			},
			"force_destroy": schema.BoolAttribute{
				Description: "Destroy the bucket even though it holds objects, deleting them (every version). Default false.",
				Optional:    true, Computed: true, Default: booldefault.StaticBool(false),
			},
		},
		Blocks: map[string]schema.Block{
			"lifecycle_rule": schema.ListNestedBlock{
				Description: "A rule that expires objects under a prefix. Not every S3 server implements lifecycle rules (versitygw does not): such a server is reported on this block.",
				NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
					"id":                         schema.StringAttribute{Description: "The rule's ID.", Required: true},
					"prefix":                     schema.StringAttribute{Description: "The key prefix the rule applies to; empty for every object.", Optional: true},
					"expiration_days":            schema.Int64Attribute{Description: "Expire objects this many days after creation.", Optional: true, Validators: []validator.Int64{int64validator.AtLeast(1)}},
					"noncurrent_expiration_days": schema.Int64Attribute{Description: "Expire noncurrent versions this many days after they became noncurrent.", Optional: true, Validators: []validator.Int64{int64validator.AtLeast(1)}},
				}},
			},
		},
	}
}

func (r *bucketResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = configureResource(req, resp)
}

func (r *bucketResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var cfg bucketModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if cfg.ObjectLock.ValueBool() && !cfg.Versioning.IsUnknown() && !cfg.Versioning.ValueBool() {
		resp.Diagnostics.AddAttributeError(path.Root("versioning"), "Object lock needs versioning", "object_lock = true turns versioning on: set versioning = true.")
	}
}

// backend opens the bucket on the provider's endpoint.
func (r *bucketResource) backend(name string, diags *diag.Diagnostics) storage.Backend {
	if r.client == nil {
		diags.AddError("Provider not configured", "The kbackup provider has no repository configured.")
		return nil
	}
	loc := r.client.opts.Location
	if loc.Scheme != storage.SchemeS3 {
		diags.AddError("Not an S3 repository", "kbackup_bucket needs the provider configured on an S3 server; its repository is "+loc.Display())
		return nil
	}
	loc.Bucket, loc.Prefix = name, ""
	b, err := storage.Open(loc, r.client.opts.Credentials, storage.Options{})
	if err != nil {
		diags.AddAttributeError(path.Root("bucket"), "Cannot open the bucket", err.Error())
		return nil
	}
	return b
}

func (m *bucketModel) settings(ctx context.Context, diags *diag.Diagnostics) storage.BucketSettings {
	s := storage.BucketSettings{
		ObjectLock: m.ObjectLock.ValueBool(), Versioning: m.Versioning.ValueBool(),
		Encryption: m.ServerSideEncryption.ValueString(), KMSKeyID: m.KMSKeyID.ValueString(),
	}
	if !m.Tags.IsNull() && !m.Tags.IsUnknown() {
		s.Tags = map[string]string{}
		diags.Append(m.Tags.ElementsAs(ctx, &s.Tags, false)...)
	}
	for _, l := range m.LifecycleRules {
		s.Lifecycle = append(s.Lifecycle, storage.LifecycleRule{ID: l.ID.ValueString(), Prefix: l.Prefix.ValueString(),
			ExpirationDays: int(l.ExpirationDays.ValueInt64()), NoncurrentExpirationDays: int(l.NoncurrentExpirationDays.ValueInt64())})
	}
	return s
}

func addBucketError(diags *diag.Diagnostics, err error) {
	if errors.Is(err, storage.ErrNotImplemented) {
		attr := "lifecycle_rule"
		for _, a := range []string{"versioning", "tags", "server_side_encryption"} {
			if len(err.Error()) > len(a) && err.Error()[:len(a)] == a {
				attr = a
			}
		}
		diags.AddAttributeError(path.Root(attr), "Not supported by the storage server", err.Error())
		return
	}
	diags.AddError("Writing the bucket", err.Error())
}

func (r *bucketResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan bucketModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	b := r.backend(plan.Bucket.ValueString(), &resp.Diagnostics)
	if b == nil || resp.Diagnostics.HasError() {
		return
	}
	s := plan.settings(ctx, &resp.Diagnostics)
	if err := storage.CreateBucketWith(ctx, b, r.client.opts.Location.Region, s); err != nil {
		// The bucket may exist now; keep it in the state so that a
		// corrected configuration updates it rather than failing to
		// create it again.
		if _, readErr := storage.ReadBucket(ctx, b); readErr == nil {
			plan.ID = plan.Bucket
			plan.LifecycleRules = nil
			resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		}
		addBucketError(&resp.Diagnostics, err)
		return
	}
	plan.ID = plan.Bucket
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *bucketResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state bucketModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	name := state.ID.ValueString()
	b := r.backend(name, &resp.Diagnostics)
	if b == nil || resp.Diagnostics.HasError() {
		return
	}
	s, err := storage.ReadBucket(ctx, b)
	if errors.Is(err, storage.ErrBucketNotFound) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Reading bucket "+name, err.Error())
		return
	}
	state.ID, state.Bucket = types.StringValue(name), types.StringValue(name)
	state.ObjectLock = types.BoolValue(s.ObjectLock)
	state.Versioning = types.BoolValue(s.Versioning)
	if len(s.Tags) > 0 || !state.Tags.IsNull() {
		v, d := types.MapValueFrom(ctx, types.StringType, s.Tags)
		resp.Diagnostics.Append(d...)
		state.Tags = v
	}
	state.ServerSideEncryption = optional(state.ServerSideEncryption, s.Encryption)
	state.KMSKeyID = optional(state.KMSKeyID, s.KMSKeyID)
	if state.ForceDestroy.IsNull() {
		state.ForceDestroy = types.BoolValue(false)
	}
	state.LifecycleRules = nil
	for _, l := range s.Lifecycle {
		m := lifecycleRuleModel{ID: types.StringValue(l.ID), Prefix: optional(types.StringNull(), l.Prefix),
			ExpirationDays: types.Int64Null(), NoncurrentExpirationDays: types.Int64Null()}
		if l.ExpirationDays > 0 {
			m.ExpirationDays = types.Int64Value(int64(l.ExpirationDays))
		}
		if l.NoncurrentExpirationDays > 0 {
			m.NoncurrentExpirationDays = types.Int64Value(int64(l.NoncurrentExpirationDays))
		}
		state.LifecycleRules = append(state.LifecycleRules, m)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *bucketResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan bucketModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	b := r.backend(plan.Bucket.ValueString(), &resp.Diagnostics)
	if b == nil || resp.Diagnostics.HasError() {
		return
	}
	if err := storage.ConfigureBucket(ctx, b, plan.settings(ctx, &resp.Diagnostics)); err != nil {
		addBucketError(&resp.Diagnostics, err)
		return
	}
	plan.ID = plan.Bucket
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *bucketResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state bucketModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	b := r.backend(state.ID.ValueString(), &resp.Diagnostics)
	if b == nil || resp.Diagnostics.HasError() {
		return
	}
	if err := storage.DeleteBucket(ctx, b, state.ForceDestroy.ValueBool()); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("force_destroy"), "Deleting bucket "+state.ID.ValueString(), err.Error())
	}
}

func (r *bucketResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
}

var bucketNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
