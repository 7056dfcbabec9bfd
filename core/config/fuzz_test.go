package config

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, that every error it
// returns names the file, that what it accepts either validates or fails
// with a field path, and that it can be redacted and printed.
func FuzzParse(f *testing.F) {
	if example, err := os.ReadFile("../../examples/kbackup.yaml"); err == nil {
		f.Add(string(example), "prod")
	}
	seeds := []string{
		"",
		"cluster: {name: prod-eu}\n",
		"backup:\n  behavior:\n    batch_size: \"${BATCH_SIZE:-50}\"\n",
		"storage:\n  url: s3://b/p?endpoint=https://h:9000\n  bucket: c\n",
		"environments:\n  - name: prod\n    overrides:\n      storage: {bucket: x}\n",
		"x-a: &a {port: 1}\nobservability:\n  metrics:\n    <<: *a\n",
		"a: &a [*a]\n",
		"storage:\n  bucket: ${A:-${B:-$${C}}}\n",
		"retention_policies: {prod: 90}\nbackup_schedules: {prod: \"0 2 * * *\"}\n",
		"- a\n",
		"---\n---\n",
	}
	for _, s := range seeds {
		f.Add(s, "")
		f.Add(s, "prod")
	}
	env := envMap(map[string]string{"A": "a", "BATCH_SIZE": "7", "EMPTY": "", "CLUSTER_NAME": "fuzz"})
	f.Fuzz(func(t *testing.T, data, environment string) {
		const name = "fuzz.yaml"
		c, err := Parse(name, []byte(data), LoadOptions{Environment: environment, LookupEnv: env})
		if err != nil {
			if c != nil {
				t.Errorf("Parse returned a configuration with an error")
			}
			var es ValidationErrors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error %v (%T) is not a non-empty ValidationErrors", err, err)
			}
			for _, e := range es {
				if e.File != name || !strings.HasPrefix(e.Error(), name) {
					t.Errorf("error %q does not name %s", e, name)
				}
			}
			return
		}
		if environment != "" && c.ActiveEnvironment != environment {
			t.Errorf("ActiveEnvironment = %q, want %q", c.ActiveEnvironment, environment)
		}
		// What parses either validates or fails naming the field: a
		// dotted key under a top-level key of the schema, and the file
		// (or the variable or flag) the value came from.
		if err := c.Validate(); err != nil {
			var es ValidationErrors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("Validate: %v (%T) is not a non-empty ValidationErrors", err, err)
			}
			for _, e := range es {
				top, _, _ := strings.Cut(e.Key, ".")
				top, _, _ = strings.Cut(top, "[")
				if !topLevelKeys[top] {
					t.Errorf("Validate: error %q has no field path (key %q)", e, e.Key)
				}
				if e.File != name && e.Source == "" {
					t.Errorf("Validate: error %q names neither the file nor the source of the value", e)
				}
			}
		}
		r := c.Redacted()
		if _, err := json.Marshal(r); err != nil {
			t.Errorf("json.Marshal(Redacted()): %v", err)
		}
		if err := c.Set("cluster.name", "set-by-flag", "flag --cluster"); err != nil || c.Cluster.Name != "set-by-flag" {
			t.Errorf("Set after Parse: %v", err)
		}
	})
}

// topLevelKeys are the keys of kbackup.yaml's top level, from the schema.
var topLevelKeys = func() map[string]bool {
	keys := map[string]bool{}
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
			keys[name] = true
		}
	}
	return keys
}()
