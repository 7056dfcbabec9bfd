package cmd

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Flags of the selection fields (selection.Selection), which backup,
// restore and diff share.
var selectionFlags = map[string]string{
	"include_namespaces": "--include-namespaces",
	"exclude_namespaces": "--exclude-namespaces",
	"include_resources":  "--include-resources",
	"exclude_resources":  "--exclude-resources",
	"label_selector":     "-l/--selector",
	"cluster_resources":  "--cluster-resources",
}

// withFlags returns selectionFlags and more.
func withFlags(more map[string]string) map[string]string {
	out := make(map[string]string, len(selectionFlags)+len(more))
	for k, v := range selectionFlags {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// index is a list index in a field path: include_namespaces[2].
var index = regexp.MustCompile(`\[(\d+)\]`)

// flagErrors rewrites the field errors in err (core names fields, such as
// include_namespaces[1]) into the flags that set them (--include-namespaces,
// value 2), one problem per line. flags maps a field path without indices
// to a flag; a field it does not name keeps its path. An error without
// field errors passes unchanged.
func flagErrors(err error, flags map[string]string) error {
	if !hasFieldError(err) {
		return err
	}
	return &fieldFlagError{text: strings.Join(renderFlagErrors(err, flags), "\n"), err: err}
}

// renderFlagErrors gives the lines of err with field paths turned into
// flags, keeping the text that wraps a field error ("backup "x" exists for
// clusters a, b: cluster: Required value").
func renderFlagErrors(err error, flags map[string]string) []string {
	if !hasFieldError(err) {
		return []string{err.Error()}
	}
	switch v := err.(type) {
	case *field.Error:
		return []string{flagOf(v.Field, flags) + ": " + v.ErrorBody()}
	case utilerrors.Aggregate:
		var lines []string
		for _, inner := range v.Errors() {
			lines = append(lines, renderFlagErrors(inner, flags)...)
		}
		return lines
	case interface{ Unwrap() []error }:
		var lines []string
		for _, inner := range v.Unwrap() {
			lines = append(lines, renderFlagErrors(inner, flags)...)
		}
		return lines
	case interface{ Unwrap() error }:
		inner := v.Unwrap()
		lines := renderFlagErrors(inner, flags)
		if prefix, found := strings.CutSuffix(err.Error(), inner.Error()); found && len(lines) > 0 {
			lines[0] = prefix + lines[0]
		}
		return lines
	}
	return []string{err.Error()}
}

func hasFieldError(err error) bool {
	var fe *field.Error
	if errors.As(err, &fe) {
		return true
	}
	var agg utilerrors.Aggregate
	return errors.As(err, &agg) && slices.ContainsFunc(agg.Errors(), hasFieldError)
}

// flagError keeps the original error for errors.Is and errors.As.
type fieldFlagError struct {
	text string
	err  error
}

func (e *fieldFlagError) Error() string { return e.text }
func (e *fieldFlagError) Unwrap() error { return e.err }

func flagOf(path string, flags map[string]string) string {
	bare := index.ReplaceAllString(path, "")
	flag, ok := flags[bare]
	if !ok {
		return path
	}
	if m := index.FindStringSubmatch(path); m != nil {
		n, _ := strconv.Atoi(m[1])
		return fmt.Sprintf("%s (value %d)", flag, n+1)
	}
	return flag
}
