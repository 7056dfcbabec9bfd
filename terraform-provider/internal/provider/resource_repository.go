package provider

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/kbackup/kbackup/core/repo"
)

var (
	_ resource.Resource                = (*repositoryResource)(nil)
	_ resource.ResourceWithConfigure   = (*repositoryResource)(nil)
	_ resource.ResourceWithImportState = (*repositoryResource)(nil)
)

// NewRepositoryResource returns kbackup_repository.
func NewRepositoryResource() resource.Resource { return &repositoryResource{} }

type repositoryResource struct{ client *client }

type repositoryModel struct {
	ID                       types.String `tfsdk:"id"`
	URL                      types.String `tfsdk:"url"`
	FormatVersion            types.Int64  `tfsdk:"format_version"`
	CreatedAt                types.String `tfsdk:"created_at"`
	CreatedBy                types.String `tfsdk:"created_by"`
	Compression              types.String `tfsdk:"compression"`
	Hash                     types.String `tfsdk:"hash"`
	ForceDestroy             types.Bool   `tfsdk:"force_destroy"`
	AllowUnconditionalWrites types.Bool   `tfsdk:"allow_unconditional_writes"`
}

func (r *repositoryResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_repository"
}

func (r *repositoryResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		Description: "The kbackup repository at the provider's location: creating it writes `_kbackup.json` (format version, ID, settings), " +
			"and the bucket when it is missing. Destroying it refuses while it holds backups, unless `force_destroy` is set. " +
			"Import it by its ID (the `id` of `_kbackup.json`).",
		Attributes: map[string]schema.Attribute{
			"id":             schema.StringAttribute{Description: "The repository's ID, from `_kbackup.json`.", Computed: true, PlanModifiers: keep},
			"url":            schema.StringAttribute{Description: "The repository's URL, without credentials.", Computed: true, PlanModifiers: keep},
			"format_version": schema.Int64Attribute{Description: "The repository format version.", Computed: true, PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()}},
			"created_at":     schema.StringAttribute{Description: "When the repository was created (RFC 3339).", Computed: true, PlanModifiers: keep},
			"created_by":     schema.StringAttribute{Description: "The kbackup version that created the repository.", Computed: true, PlanModifiers: keep},
			"compression":    schema.StringAttribute{Description: "The compression of packs (zstd).", Computed: true, PlanModifiers: keep},
			"hash":           schema.StringAttribute{Description: "The hash naming packs (sha256).", Computed: true, PlanModifiers: keep},
			"force_destroy": schema.BoolAttribute{
				Description: "Destroy the repository even though it holds backups, deleting them. Default false: destroy refuses while backups exist.",
				Optional:    true, Computed: true, Default: booldefault.StaticBool(false),
			},
			"allow_unconditional_writes": schema.BoolAttribute{
				Description: "Create the repository even on an S3 server that ignores If-None-Match (conditional writes); concurrent backups and garbage collection are then no longer kept apart. Only read on creation.",
				Optional:    true, Computed: true, Default: booldefault.StaticBool(false),
			},
		},
	}
}

func (r *repositoryResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = configureResource(req, resp)
}

func (m *repositoryModel) set(rp *repo.Repository) {
	cfg := rp.Config()
	m.ID = types.StringValue(cfg.ID)
	m.URL = types.StringValue(rp.Location().String())
	m.FormatVersion = types.Int64Value(int64(cfg.FormatVersion))
	m.CreatedAt = types.StringValue(cfg.CreatedAt.UTC().Format(time.RFC3339))
	m.CreatedBy = types.StringValue(cfg.CreatedBy)
	m.Compression = types.StringValue(cfg.Settings.Compression)
	m.Hash = types.StringValue(cfg.Settings.Hash)
}

func (r *repositoryResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan repositoryModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || r.client == nil {
		return
	}
	rp, err := r.client.CreateRepository(ctx, plan.AllowUnconditionalWrites.ValueBool())
	if err != nil {
		resp.Diagnostics.AddError("Creating the kbackup repository", err.Error())
		return
	}
	plan.set(rp)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *repositoryResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state repositoryModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || r.client == nil {
		return
	}
	r.client.forget() // read _kbackup.json again: it may have changed outside
	rp, err := r.client.Repository(ctx)
	if errors.Is(err, repo.ErrNoRepository) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Reading the kbackup repository", err.Error())
		return
	}
	if id := state.ID.ValueString(); id != "" && id != rp.Config().ID {
		// Another repository is at the location now: this one is gone.
		resp.State.RemoveResource(ctx)
		return
	}
	if state.ForceDestroy.IsNull() {
		state.ForceDestroy = types.BoolValue(false)
	}
	if state.AllowUnconditionalWrites.IsNull() {
		state.AllowUnconditionalWrites = types.BoolValue(false)
	}
	state.set(rp)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update changes only force_destroy and allow_unconditional_writes, which
// live in the state alone.
func (r *repositoryResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan repositoryModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *repositoryResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state repositoryModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	rp := r.client.repository(ctx, &resp.Diagnostics)
	if rp == nil {
		return
	}
	if err := rp.Destroy(ctx, state.ForceDestroy.ValueBool()); err != nil {
		if errors.Is(err, repo.ErrNotEmpty) {
			resp.Diagnostics.AddAttributeError(path.Root("force_destroy"), "Repository holds backups", err.Error()+"; set force_destroy = true to delete them with it")
			return
		}
		resp.Diagnostics.AddError("Destroying the kbackup repository", err.Error())
		return
	}
	r.client.forget()
}

func (r *repositoryResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
}
