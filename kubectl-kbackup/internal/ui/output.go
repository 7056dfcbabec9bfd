// Package ui draws what core returns: tables and styles with lipgloss,
// machine output as JSON or YAML, and progress on stderr.
package ui

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
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
		// encoding/json builds the whole document, then an indented copy,
		// before writing a byte; the v2 encoder (with v1's rules) writes
		// as it goes, which keeps a restore record of 50,000 objects from
		// being the restore's peak of memory.
		bw := bufio.NewWriter(w)
		if err := jsonv2.MarshalWrite(bw, v, jsonv1.DefaultOptionsV1(), jsontext.WithIndent("  ")); err != nil {
			return err
		}
		if err := bw.WriteByte('\n'); err != nil {
			return err
		}
		return bw.Flush()
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
