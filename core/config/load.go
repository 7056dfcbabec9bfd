package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// EnvEnvironment names the environment variable that selects an environment
// when LoadOptions.Environment is empty.
const EnvEnvironment = "KBACKUP_ENVIRONMENT"

// LoadOptions tunes Load and Parse.
type LoadOptions struct {
	// Environment selects the environment whose overrides block is merged
	// over the base. "" falls back to $KBACKUP_ENVIRONMENT, then to none.
	Environment string
	// LookupEnv reads environment variables, for ${VAR} and for the
	// variables that override the file. nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

func (o LoadOptions) lookup() func(string) (string, bool) {
	if o.LookupEnv != nil {
		return o.LookupEnv
	}
	return os.LookupEnv
}

// Load reads the configuration file at path; "" means there is no file, and
// gives Default() with the environment variables applied.
//
// Load does not call Validate: a front end first applies its flags with Set,
// then validates the result, so that a flag can fix a bad value in the file.
func Load(path string, opts LoadOptions) (*Config, error) {
	if path == "" {
		return Parse("", nil, opts)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading configuration: %w", err)
	}
	return Parse(path, data, opts)
}

// Parse reads a configuration from data; filename names it in errors and
// Sources. Errors are ValidationErrors, each naming the file, line and key.
// Like Load, it does not call Validate.
func Parse(filename string, data []byte, opts LoadOptions) (*Config, error) {
	lookup := opts.lookup()
	envName, selectedBy := opts.Environment, ""
	if envName == "" {
		if v, ok := lookup(EnvEnvironment); ok && v != "" {
			envName, selectedBy = v, EnvEnvironment
		}
	}
	root, err := parseDocument(filename, data)
	if err != nil {
		return nil, err
	}
	c := Default()
	d := &decoder{
		file:      filename,
		lookup:    lookup,
		level:     levelFile,
		origins:   c.origins,
		overrides: map[string]*yaml.Node{},
	}
	if root != nil {
		d.decodeStruct(root, reflect.ValueOf(c).Elem(), "", topLevelFilter)
	}
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	if envName != "" {
		if err := c.applyEnvironment(envName, selectedBy, d); err != nil {
			return nil, err
		}
	}
	if err := c.applyEnvVars(lookup); err != nil {
		return nil, err
	}
	c.reconcileLocation()
	c.refreshSources()
	return c, nil
}

// topLevelFilter ignores keys starting with x-, the place for anchors that
// other keys refer to (x-common: &common ...), as in Compose files.
func topLevelFilter(name string) (skip bool, refuse string) {
	return strings.HasPrefix(name, "x-"), ""
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseDocument parses data into the root mapping; nil for an empty file.
func parseDocument(filename string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(filename, err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, ValidationErrors{{File: filename, Line: extra.Line, Column: extra.Column,
			Message: "a second YAML document; the configuration is one document, without ---"}}
	case !errors.Is(err, io.EOF):
		return nil, syntaxError(filename, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, nil
		}
		root = root.Content[0]
	}
	if isNull(root) {
		return nil, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, ValidationErrors{{File: filename, Line: root.Line, Column: root.Column,
			Message: fmt.Sprintf("want a mapping with keys like cluster, storage and backup, got %s", describe(root))}}
	}
	return root, nil
}

func syntaxError(filename string, err error) error {
	e := &FieldError{File: filename, Message: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Message = "invalid YAML: " + m[2]
	}
	return ValidationErrors{e}
}

// envOverride maps an environment variable onto a key.
type envOverride struct {
	env, key string
	// ifEmpty applies the variable only when nothing else set the key: the
	// AWS variables are ambient defaults, not choices made for kbackup.
	ifEmpty bool
}

// envOverrides are applied after the file, in this order.
var envOverrides = []envOverride{
	{env: "CLUSTER_NAME", key: "cluster.name"},
	{env: "CLUSTER_DOMAIN", key: "cluster.domain"},
	{env: "KBACKUP_STORAGE", key: "storage.url"},
	{env: "AWS_ACCESS_KEY_ID", key: "storage.access_key_id", ifEmpty: true},
	{env: "AWS_SECRET_ACCESS_KEY", key: "storage.secret_access_key", ifEmpty: true},
	{env: "AWS_REGION", key: "storage.region", ifEmpty: true},
	{env: "KBACKUP_SSE", key: "storage.encryption.mode"},
	{env: "KBACKUP_SSE_KMS_KEY_ID", key: "storage.encryption.kms_key_id"},
	{env: "KBACKUP_SSE_CUSTOMER_KEY", key: "storage.encryption.customer_key"},
	{env: "LOG_LEVEL", key: "observability.logging.level"},
	{env: "LOG_FORMAT", key: "observability.logging.format"},
}

// applyEnvVars applies envOverrides; a variable that is empty counts as
// unset.
func (c *Config) applyEnvVars(lookup func(string) (string, bool)) error {
	// The credentials are a pair: a key ID from the file and a secret from
	// the environment would never work together.
	credentialsEmpty := c.Storage.AccessKeyID == "" && c.Storage.SecretAccessKey == ""
	var errs ValidationErrors
	for _, o := range envOverrides {
		value, ok := lookup(o.env)
		if !ok || value == "" {
			continue
		}
		switch o.key {
		case "storage.access_key_id", "storage.secret_access_key":
			if !credentialsEmpty {
				continue
			}
		case "storage.region":
			// A region in storage.url wins over the ambient one, and a
			// local repository has no region: AWS_REGION, set for other
			// tools, must not make it invalid.
			if loc := splitLocation(c.Storage.URL); c.Storage.Region != "" || loc.region != "" || loc.local {
				continue
			}
		}
		if err := c.set(o.key, value, origin{level: levelEnvVar, source: "env " + o.env}); err != nil {
			errs = append(errs, err...)
		}
		c.reconcileLocation() // before AWS_REGION looks at storage.region
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// Set sets the value at a dotted key, as a flag does: source says where it
// came from ("flag --storage") in Sources and in errors, and the value wins
// over the file and environment variables. A list takes a comma-separated
// value. The value is not interpolated. Call Validate afterwards.
func (c *Config) Set(key, value, source string) error {
	if err := c.set(key, value, origin{level: levelFlag, source: source}); err != nil {
		return err
	}
	c.reconcileLocation()
	c.refreshSources()
	return nil
}

func (c *Config) set(key, value string, o origin) ValidationErrors {
	if c.origins == nil {
		c.origins = map[string]origin{}
	}
	node := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}
	parts := strings.Split(key, ".")
	for i := len(parts) - 1; i >= 0; i-- {
		k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: parts[i]}
		node = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{k, node}}
	}
	// The mappings built above are not places anyone wrote: keep the
	// origins the enclosing blocks had, so errors still point into the file.
	saved := map[string]origin{}
	for i := range parts[:len(parts)-1] {
		k := strings.Join(parts[:i+1], ".")
		if old, ok := c.origins[k]; ok {
			saved[k] = old
		}
	}
	d := &decoder{source: o.source, level: o.level, splitLists: true, origins: c.origins}
	d.decodeStruct(node, reflect.ValueOf(c).Elem(), "", nil)
	for i := range parts[:len(parts)-1] {
		k := strings.Join(parts[:i+1], ".")
		if old, ok := saved[k]; ok {
			c.origins[k] = old
		} else {
			delete(c.origins, k)
		}
	}
	return d.errs
}
