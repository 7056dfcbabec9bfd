package config

import (
	"fmt"
	"strings"
)

// level orders the places a value can come from; a higher level wins.
type level int

const (
	levelDefault     level = iota
	levelFile              // the base of kbackup.yaml
	levelEnvironment       // the overrides block of the selected environment
	levelEnvVar            // CLUSTER_NAME, KBACKUP_STORAGE, ...
	levelFlag              // Config.Set, called by front ends for their flags
)

// origin is where one value came from.
type origin struct {
	level        level
	file         string
	line, column int
	// vars are the environment variables interpolated into a file value.
	vars []string
	// source names a place other than a file: "env CLUSTER_NAME".
	source string
}

func (o origin) String() string {
	if o.file == "" {
		if o.source == "" {
			return "default"
		}
		return o.source
	}
	s := fmt.Sprintf("%s:%d", o.file, o.line)
	if len(o.vars) > 0 {
		s += " via env " + strings.Join(o.vars, ", ")
	}
	return s
}

// originOf returns the origin of key, or of its nearest ancestor that has
// one, so that an error about a missing key points at the enclosing block.
func (c *Config) originOf(key string) (origin, bool) {
	for key != "" {
		if o, ok := c.origins[key]; ok {
			return o, true
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return origin{}, false
}

// fillDefaultSources marks every key that nothing has set as "default".
func (c *Config) fillDefaultSources() {
	if c.Sources == nil {
		c.Sources = map[string]string{}
	}
	for _, k := range defaultSourceKeys() {
		if _, ok := c.Sources[k]; !ok {
			c.Sources[k] = "default"
		}
	}
}

// refreshSources rebuilds Sources from the recorded origins.
func (c *Config) refreshSources() {
	c.Sources = make(map[string]string, len(c.origins)+len(defaultSourceKeys()))
	for k, o := range c.origins {
		c.Sources[k] = o.String()
	}
	c.fillDefaultSources()
}
