package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/kbackup/kbackup/core/config"
)

// ConfigView is the configuration in force, with secrets redacted, as
// `config view -o json` prints it.
type ConfigView struct {
	// File is the kbackup.yaml read; empty when none.
	File        string `json:"file,omitempty"`
	Environment string `json:"environment,omitempty"`
	// Config is the redacted configuration, keyed as in kbackup.yaml.
	Config *config.Config `json:"config"`
	// Sources says where each value came from, by dotted key.
	Sources map[string]string `json:"sources"`
	// Values are the configuration's values by dotted key, in the order of
	// the schema, with their sources: what the table shows.
	Values []ConfigValue `json:"-"`
}

// ConfigValue is one value of the configuration.
type ConfigValue struct {
	Key, Value, Source string
}

// NewConfigView redacts cfg and lists its values with their sources.
func NewConfigView(file string, cfg *config.Config) (*ConfigView, error) {
	redacted := cfg.Redacted()
	data, err := json.Marshal(redacted)
	if err != nil {
		return nil, err
	}
	values, err := flattenJSON(data)
	if err != nil {
		return nil, err
	}
	for i := range values {
		values[i].Source = sourceOf(cfg.Sources, values[i].Key)
	}
	return &ConfigView{File: file, Environment: cfg.ActiveEnvironment, Config: redacted, Sources: cfg.Sources, Values: values}, nil
}

// sourceOf finds the source of key, or of its nearest parent that has one
// (values inside an environment's overrides block are sourced by the block).
func sourceOf(sources map[string]string, key string) string {
	for k := key; k != ""; {
		if s, ok := sources[k]; ok {
			return s
		}
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return "default"
}

// flattenJSON lists the leaves of a JSON object as dotted keys, in the
// order the object has them: lists of scalars as one comma-separated value,
// lists of objects by index (environments[0].name).
func flattenJSON(data []byte) ([]ConfigValue, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out []ConfigValue
	var walk func(key string) error
	walk = func(key string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				for dec.More() {
					name, err := dec.Token()
					if err != nil {
						return err
					}
					if err := walk(joinKey(key, fmt.Sprint(name))); err != nil {
						return err
					}
				}
				_, err = dec.Token() // }
				return err
			case '[':
				var scalars []string
				for i := 0; dec.More(); i++ {
					var raw json.RawMessage
					if err := dec.Decode(&raw); err != nil {
						return err
					}
					if len(raw) > 0 && (raw[0] == '{' || raw[0] == '[') {
						nested, err := flattenJSON(raw)
						if err != nil {
							return err
						}
						for _, n := range nested {
							n.Key = fmt.Sprintf("%s[%d].%s", key, i, n.Key)
							out = append(out, n)
						}
						continue
					}
					var v any
					_ = json.Unmarshal(raw, &v)
					scalars = append(scalars, fmt.Sprint(v))
				}
				if _, err := dec.Token(); err != nil { // ]
					return err
				}
				if len(scalars) > 0 {
					out = append(out, ConfigValue{Key: key, Value: strings.Join(scalars, ",")})
				}
				return nil
			}
		case nil:
			return nil
		}
		out = append(out, ConfigValue{Key: key, Value: fmt.Sprint(tok)})
		return nil
	}
	if err := walk(""); err != nil {
		return nil, err
	}
	return out, nil
}

func joinKey(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// RenderConfigView writes the configuration as a table of keys, values and
// sources.
func RenderConfigView(w io.Writer, s *Styles, v *ConfigView) error {
	p := &printer{w: w}
	file := "none (defaults, environment variables and flags)"
	if v.File != "" {
		file = v.File
	}
	p.line("File:         %s", file)
	p.line("Environment:  %s", orDash(v.Environment))
	if p.err != nil {
		return p.err
	}
	t := &Table{Headers: []string{"KEY", "VALUE", "SOURCE"}}
	for _, value := range v.Values {
		t.AddRow(value.Key, value.Value, value.Source)
	}
	return t.Render(w, s)
}
