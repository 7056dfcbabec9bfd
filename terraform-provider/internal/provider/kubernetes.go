package provider

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/objectvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	dsschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kbackup/kbackup/core/kube"
)

// kubernetesModel is the `kubernetes` block of kbackup_cluster and
// kbackup_schedule: a kubeconfig (and context), or a host with a token.
// The token is write-only: OpenTofu hands it to Create and Update from the
// configuration and never stores it, so Read and Delete, which only get
// the state, reach the cluster only through a kubeconfig.
type kubernetesModel struct {
	ConfigPath           types.String `tfsdk:"config_path"`
	ConfigContext        types.String `tfsdk:"config_context"`
	Host                 types.String `tfsdk:"host"`
	Token                types.String `tfsdk:"token_wo"`
	TokenVersion         types.Int64  `tfsdk:"token_wo_version"`
	ClusterCACertificate types.String `tfsdk:"cluster_ca_certificate"`
	Insecure             types.Bool   `tfsdk:"insecure"`
	Exec                 *execModel   `tfsdk:"exec"`
}

// execModel is a client-go credential plugin (aws eks get-token,
// gke-gcloud-auth-plugin, kubelogin): a command, not a secret, so it is
// kept in the state and a refresh and a destroy can run it again.
type execModel struct {
	APIVersion types.String `tfsdk:"api_version"`
	Command    types.String `tfsdk:"command"`
	Args       types.List   `tfsdk:"args"`
	Env        types.Map    `tfsdk:"env"`
}

// tokenNotStoredNote says, in the descriptions, what a kubernetes block with
// only host and token_wo cannot do.
const tokenNotStoredNote = "token_wo is write-only: it is used by create and update and never stored, so with host and token_wo " +
	"(no config_path) the provider cannot reach the cluster when it refreshes or destroys: "

func kubernetesBlock(what, withoutStoredToken string) schema.SingleNestedBlock {
	conflictsWithHost := []validator.String{stringvalidator.ConflictsWith(path.MatchRelative().AtParent().AtName("host"))}
	return schema.SingleNestedBlock{
		Description: "How to reach the cluster, " + what + ": `config_path` (and `config_context`) of a kubeconfig, or `host` and `cluster_ca_certificate` with `token_wo` or `exec`. " +
			"No credential of the block is stored in the state. A kubeconfig and `exec` are reached again at every refresh and destroy. " + tokenNotStoredNote + withoutStoredToken,
		Validators: []validator.Object{connectionGiven{}},
		Blocks: map[string]schema.Block{
			"exec": schema.SingleNestedBlock{
				Description: "A credential plugin that prints a client.authentication.k8s.io ExecCredential (aws eks get-token, gke-gcloud-auth-plugin, kubelogin), with host. " +
					"The command is kept in the state, not what it prints, so a refresh and a destroy run it again: drift in the cluster is detected, as with config_path.",
				Validators: []validator.Object{objectvalidator.AlsoRequires(path.MatchRelative().AtParent().AtName("host")), execComplete{}},
				Attributes: map[string]schema.Attribute{
					"api_version": schema.StringAttribute{
						Description: "The ExecCredential version the command prints, like client.authentication.k8s.io/v1. Required in exec.", Optional: true,
					},
					"command": schema.StringAttribute{Description: "The command, a path or a name looked up in PATH. Required in exec.", Optional: true},
					"args":    schema.ListAttribute{Description: "Its arguments.", Optional: true, ElementType: types.StringType},
					"env": schema.MapAttribute{
						Description: "Environment variables set for it (names of profiles or files, not secrets: they are stored in the state).",
						Optional:    true, ElementType: types.StringType,
					},
				},
			},
		},
		Attributes: map[string]schema.Attribute{
			"config_path": schema.StringAttribute{
				Description: "A kubeconfig file. Its credentials stay in the file; the provider reads it again at every refresh and destroy, so drift of what is installed in the cluster is detected.",
				Optional:    true, Validators: conflictsWithHost,
			},
			"config_context": schema.StringAttribute{
				Description: "The kubeconfig context; default its current context.", Optional: true,
				Validators: []validator.String{stringvalidator.AlsoRequires(path.MatchRelative().AtParent().AtName("config_path"))},
			},
			"host": schema.StringAttribute{
				Description: "The API server URL, https://host:port.", Optional: true,
			},
			"token_wo": schema.StringAttribute{
				Description: "A bearer token for host. Write-only (OpenTofu 1.11 or later): never stored in the state or shown in plans. " +
					"A change of the token alone is not seen by OpenTofu: change token_wo_version with it, and the next apply uses it.",
				Optional: true, Sensitive: true, WriteOnly: true,
				Validators: []validator.String{stringvalidator.AlsoRequires(path.MatchRelative().AtParent().AtName("host")),
					stringvalidator.ConflictsWith(path.MatchRelative().AtParent().AtName("exec"))},
			},
			"token_wo_version": schema.Int64Attribute{
				Description: "Any number, changed when token_wo changes (a rotation), so that the plan shows an update which sends the new token.",
				Optional:    true,
				Validators:  []validator.Int64{int64validator.AlsoRequires(path.MatchRelative().AtParent().AtName("token_wo"))},
			},
			"cluster_ca_certificate": schema.StringAttribute{
				Description: "The PEM CA bundle that verifies host (public, kept in the state).", Optional: true,
				Validators: []validator.String{stringvalidator.AlsoRequires(path.MatchRelative().AtParent().AtName("host"))},
			},
			"insecure": schema.BoolAttribute{
				Description: "Skip verification of host's TLS certificate. Only for tests.", Optional: true,
			},
		},
	}
}

// reachableFromState says whether the block reaches the cluster without its
// write-only token, as Read and Delete must: through a kubeconfig or a
// credential plugin.
func (m *kubernetesModel) reachableFromState() bool {
	return m != nil && (!m.ConfigPath.IsNull() && m.ConfigPath.ValueString() != "" || m.Exec != nil)
}

// withConfiguredToken puts the write-only token of the configuration into
// the block of a plan, for Create and Update (the plan has it null).
func (m *kubernetesModel) withConfiguredToken(ctx context.Context, config tfsdk.Config, diags *diag.Diagnostics) {
	if m == nil {
		return
	}
	var token types.String
	diags.Append(config.GetAttribute(ctx, path.Root("kubernetes").AtName("token_wo"), &token)...)
	m.Token = token
}

// forgetToken nulls the token before the block is saved: the framework does
// it too, this says so where the state is set.
func (m *kubernetesModel) forgetToken() {
	if m != nil {
		m.Token = types.StringNull()
	}
}

func (e *execModel) config() (*clientcmdapi.ExecConfig, error) {
	cfg := &clientcmdapi.ExecConfig{APIVersion: e.APIVersion.ValueString(), Command: e.Command.ValueString(),
		InteractiveMode: clientcmdapi.NeverExecInteractiveMode}
	if !e.Args.IsNull() && !e.Args.IsUnknown() {
		if d := e.Args.ElementsAs(context.Background(), &cfg.Args, false); d.HasError() {
			return nil, fmt.Errorf("exec.args: %v", d)
		}
	}
	if !e.Env.IsNull() && !e.Env.IsUnknown() {
		env := map[string]string{}
		if d := e.Env.ElementsAs(context.Background(), &env, false); d.HasError() {
			return nil, fmt.Errorf("exec.env: %v", d)
		}
		for _, k := range slices.Sorted(maps.Keys(env)) {
			cfg.Env = append(cfg.Env, clientcmdapi.ExecEnvVar{Name: k, Value: env[k]})
		}
	}
	return cfg, nil
}

// kubeconfigModel is the kubernetes block of kbackup_cluster_identity: a
// data source's arguments are all stored in the state, and cannot be
// write-only, so it reaches the cluster only through a kubeconfig.
type kubeconfigModel struct {
	ConfigPath    types.String `tfsdk:"config_path"`
	ConfigContext types.String `tfsdk:"config_context"`
}

func kubeconfigBlock(what string) dsschema.SingleNestedBlock {
	return dsschema.SingleNestedBlock{
		Description: "How to reach the cluster, " + what + ": `config_path` (and `config_context`) of a kubeconfig, whose credentials stay in the file. " +
			"A data source has no write-only arguments (all it is given is stored in the state), so it takes no token: " +
			"give a token to kbackup_cluster's kubernetes block (token_wo), which detects the same identity.",
		Attributes: map[string]dsschema.Attribute{
			"config_path":    dsschema.StringAttribute{Description: "A kubeconfig file.", Required: true},
			"config_context": dsschema.StringAttribute{Description: "The kubeconfig context; default its current context.", Optional: true},
		},
	}
}

func (m *kubeconfigModel) connect() (*kube.Client, error) {
	return (&kubernetesModel{ConfigPath: m.ConfigPath, ConfigContext: m.ConfigContext}).connect()
}

// connectionGiven refuses a kubernetes block with neither config_path nor
// host.
type connectionGiven struct{}

func (connectionGiven) Description(context.Context) string {
	return "the block gives config_path or host"
}
func (v connectionGiven) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (connectionGiven) ValidateObject(ctx context.Context, req validator.ObjectRequest, resp *validator.ObjectResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	attrs := req.ConfigValue.Attributes()
	given := func(name string) bool {
		v, ok := attrs[name].(basetypes.StringValue)
		return ok && (v.IsUnknown() || !v.IsNull())
	}
	if !given("config_path") && !given("host") {
		resp.Diagnostics.AddAttributeError(req.Path, "Incomplete kubernetes block",
			"The kubernetes block names no cluster: give config_path (a kubeconfig, with config_context) or host (with token_wo and cluster_ca_certificate).")
	}
}

// execComplete refuses an exec block without api_version or command (an
// absent block's attributes cannot be Required).
type execComplete struct{}

func (execComplete) Description(context.Context) string {
	return "the exec block gives api_version and command"
}
func (v execComplete) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (execComplete) ValidateObject(ctx context.Context, req validator.ObjectRequest, resp *validator.ObjectResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	attrs := req.ConfigValue.Attributes()
	for _, name := range []string{"api_version", "command"} {
		if v, ok := attrs[name].(basetypes.StringValue); ok && v.IsNull() {
			resp.Diagnostics.AddAttributeError(req.Path.AtName(name), "Incomplete exec block",
				"The exec block runs a credential plugin: give "+name+" (api_version like client.authentication.k8s.io/v1, and command).")
		}
	}
}

// connect opens a client to the cluster of the block.
func (m *kubernetesModel) connect() (*kube.Client, error) {
	var cfg *rest.Config
	contextName := ""
	switch {
	case !m.ConfigPath.IsNull() && m.ConfigPath.ValueString() != "":
		c, name, err := kube.LoadRESTConfig(kube.LoadOptions{Kubeconfig: m.ConfigPath.ValueString(), Context: m.ConfigContext.ValueString()})
		if err != nil {
			return nil, err
		}
		cfg, contextName = c, name
	case !m.Host.IsNull() && m.Host.ValueString() != "":
		cfg = &rest.Config{
			Host:        m.Host.ValueString(),
			BearerToken: m.Token.ValueString(),
			TLSClientConfig: rest.TLSClientConfig{
				CAData:   []byte(m.ClusterCACertificate.ValueString()),
				Insecure: m.Insecure.ValueBool(),
			},
		}
		if m.Exec != nil {
			exec, err := m.Exec.config()
			if err != nil {
				return nil, err
			}
			cfg.ExecProvider = exec
		}
	default:
		return nil, fmt.Errorf("the kubernetes block names no cluster: give config_path or host")
	}
	return kube.NewClient(cfg, kube.ClientOptions{ContextName: contextName})
}
