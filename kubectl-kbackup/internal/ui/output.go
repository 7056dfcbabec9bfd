// Package ui draws what core returns: tables and styles with lipgloss,
// machine output as JSON or YAML, and progress on stderr.
package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"
)

// Output formats accepted by -o.
const (
	OutputJSON = "json"
	OutputYAML = "yaml"
	OutputWide = "wide"
)

// AddOutputFlag adds kubectl's -o/--output flag.
func AddOutputFlag(flags *pflag.FlagSet, target *string) {
	flags.StringVarP(target, "output", "o", "", "Output format: json or yaml (a table for people when empty).")
}

// ValidateOutput rejects an unknown -o value, naming the ones accepted.
func ValidateOutput(format string, allowWide bool) error {
	accepted := []string{OutputJSON, OutputYAML}
	if allowWide {
		accepted = append(accepted, OutputWide)
	}
	if format == "" {
		return nil
	}
	for _, a := range accepted {
		if format == a {
			return nil
		}
	}
	return fmt.Errorf("--output %q is not supported: use one of %s, or leave it out for a table", format, strings.Join(accepted, ", "))
}

// PrintObject writes v as JSON or YAML.
func PrintObject(w io.Writer, format string, v any) error {
	switch format {
	case OutputJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case OutputYAML:
		data, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	return fmt.Errorf("internal error: PrintObject called with output %q", format)
}
