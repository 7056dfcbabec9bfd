package provider

import (
	"context"
	"fmt"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"

	"github.com/kbackup/kbackup/core/install"
	"github.com/kbackup/kbackup/core/repo"
)

// client is what Configure hands every resource and data source: the
// repository's options and one repository handle, opened once.
type client struct {
	opts    repo.Options
	version string

	mu   sync.Mutex
	repo *repo.Repository
}

func newClient(opts repo.Options, version string) *client {
	return &client{opts: opts, version: version}
}

// Repository opens the repository, once; it fails with
// repo.ErrNoRepository while there is none.
func (c *client) Repository(ctx context.Context) (*repo.Repository, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.repo != nil {
		return c.repo, nil
	}
	r, err := repo.Open(ctx, c.opts)
	if err != nil {
		return nil, err
	}
	c.repo = r
	return r, nil
}

// CreateRepository opens the repository, creating it (and its bucket) when
// the location is empty.
func (c *client) CreateRepository(ctx context.Context, allowUnconditionalWrites bool) (*repo.Repository, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	opts := c.opts
	opts.Create = true
	opts.AutoCreateBucket = true
	opts.AllowUnconditionalWrites = allowUnconditionalWrites
	r, err := repo.Open(ctx, opts)
	if err != nil {
		return nil, err
	}
	c.repo = r
	return r, nil
}

// forget drops the handle, after the repository was destroyed.
func (c *client) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.repo = nil
}

// StorageURL is the repository's URL, without credentials, for the jobs
// that write to it.
func (c *client) StorageURL() string { return c.opts.Location.String() }

// DefaultImage is the plugin's image of the provider's version.
func (c *client) DefaultImage() string { return install.ImageRepository + ":" + c.version }

// clientFrom takes the provider's client out of ProviderData; nil before
// the provider is configured, which is not an error (OpenTofu validates
// resources before it configures providers).
func clientFrom(data any, diags *diag.Diagnostics) *client {
	if data == nil {
		return nil
	}
	c, ok := data.(*client)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("want *provider.client, got %T; this is a bug in the provider", data))
	}
	return c
}

// repository returns the open repository, or adds a diagnostic saying why
// there is none.
func (c *client) repository(ctx context.Context, diags *diag.Diagnostics) *repo.Repository {
	if c == nil {
		diags.AddError("Provider not configured", "The kbackup provider has no repository configured.")
		return nil
	}
	r, err := c.Repository(ctx)
	if err != nil {
		diags.AddError("Cannot open the kbackup repository", err.Error()+"; a kbackup_repository resource creates one")
		return nil
	}
	return r
}

// configureResource is every resource's Configure.
func configureResource(req resource.ConfigureRequest, resp *resource.ConfigureResponse) *client {
	return clientFrom(req.ProviderData, &resp.Diagnostics)
}

var _ = path.Root
