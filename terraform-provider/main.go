// Command terraform-provider-kbackup declares kbackup's fleet (buckets,
// clusters, schedules, retention) as Terraform/OpenTofu resources.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/kbackup/kbackup/core/version"
	"github.com/kbackup/kbackup/terraform-provider/internal/provider"
)

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()

	err := providerserver.Serve(context.Background(), provider.New(version.Get().Version), providerserver.ServeOpts{
		Address: "registry.opentofu.org/kbackup/kbackup",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err)
	}
}
