package cmd

import (
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func TestReplicateValidate(t *testing.T) {
	streams, _, _, _ := genericiooptions.NewTestIOStreams()
	tests := []struct {
		name    string
		set     func(o *ReplicateOptions)
		wantErr string
	}{
		{"no target", func(o *ReplicateOptions) {}, "--to is required"},
		{"one cluster", func(o *ReplicateOptions) { o.To = "s3://dr"; o.Cluster = "prod-eu" }, ""},
		{"the fleet", func(o *ReplicateOptions) { o.To = "s3://dr"; o.Fleet = true }, ""},
		{"both", func(o *ReplicateOptions) { o.To = "s3://dr"; o.Fleet = true; o.Cluster = "prod-eu" }, "exclude each other"},
		{"bad cluster name", func(o *ReplicateOptions) { o.To = "s3://dr"; o.Cluster = "Prod_EU" }, "--cluster"},
		{"no concurrency", func(o *ReplicateOptions) { o.To = "s3://dr"; o.Concurrency = 0 }, "--concurrency 0"},
		{"bad output", func(o *ReplicateOptions) { o.To = "s3://dr"; o.Output = "wide" }, "wide"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := NewReplicateOptions(NewGlobalOptions(), streams)
			tc.set(o)
			err := o.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}
