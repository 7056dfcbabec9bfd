package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	dsschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"k8s.io/client-go/rest"

	"github.com/kbackup/kbackup/core/kube"
)

// kubernetesModel is the `kubernetes` block of kbackup_cluster and
// kbackup_schedule: a kubeconfig (and context), or a host with a token.
type kubernetesModel struct {
	ConfigPath           types.String `tfsdk:"config_path"`
	ConfigContext        types.String `tfsdk:"config_context"`
	Host                 types.String `tfsdk:"host"`
	Token                types.String `tfsdk:"token"`
	ClusterCACertificate types.String `tfsdk:"cluster_ca_certificate"`
	Insecure             types.Bool   `tfsdk:"insecure"`
}

func kubernetesBlock(what string) schema.SingleNestedBlock {
	conflictsWithHost := []validator.String{stringvalidator.ConflictsWith(path.MatchRelative().AtParent().AtName("host"))}
	return schema.SingleNestedBlock{
		Description: "How to reach the cluster, " + what + ": `config_path` (and `config_context`) of a kubeconfig, or `host` with `token` and `cluster_ca_certificate`.",
		Validators:  []validator.Object{connectionGiven{}},
		Attributes: map[string]schema.Attribute{
			"config_path": schema.StringAttribute{
				Description: "A kubeconfig file.", Optional: true, Validators: conflictsWithHost,
			},
			"config_context": schema.StringAttribute{
				Description: "The kubeconfig context; default its current context.", Optional: true,
				Validators: []validator.String{stringvalidator.AlsoRequires(path.MatchRelative().AtParent().AtName("config_path"))},
			},
			"host": schema.StringAttribute{
				Description: "The API server URL, https://host:port.", Optional: true,
			},
			"token": schema.StringAttribute{
				Description: "A bearer token for host. Sensitive: never shown in plans or logs.", Optional: true, Sensitive: true,
				Validators: []validator.String{stringvalidator.AlsoRequires(path.MatchRelative().AtParent().AtName("host"))},
			},
			"cluster_ca_certificate": schema.StringAttribute{
				Description: "The PEM CA bundle that verifies host.", Optional: true,
				Validators: []validator.String{stringvalidator.AlsoRequires(path.MatchRelative().AtParent().AtName("host"))},
			},
			"insecure": schema.BoolAttribute{
				Description: "Skip verification of host's TLS certificate. Only for tests.", Optional: true,
			},
		},
	}
}

// dataSourceAttribute is a resource attribute of the kubernetes block as
// a data source's.
func dataSourceAttribute(a schema.Attribute) dsschema.Attribute {
	switch a := a.(type) {
	case schema.StringAttribute:
		return dsschema.StringAttribute{Description: a.Description, Optional: a.Optional, Sensitive: a.Sensitive, Validators: a.Validators}
	case schema.BoolAttribute:
		return dsschema.BoolAttribute{Description: a.Description, Optional: a.Optional, Validators: a.Validators}
	}
	panic(fmt.Sprintf("kubernetes block: attribute of type %T", a))
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
			"The kubernetes block names no cluster: give config_path (a kubeconfig, with config_context) or host (with token and cluster_ca_certificate).")
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
	default:
		return nil, fmt.Errorf("the kubernetes block names no cluster: give config_path or host")
	}
	return kube.NewClient(cfg, kube.ClientOptions{ContextName: contextName})
}
