package cmd

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// flagErrors rewrites the field errors in err (found through errors.Join,
// utilerrors.Aggregate and wrapping) so that each names the flag that sets
// its field instead of core's field path: with flags
// {"spec.include_namespaces": "--include-namespaces"}, the error
// `spec.include_namespaces[2]: Invalid value: "Shop": ...` reads
// `--include-namespaces value 3: Invalid value: "Shop": ...` (indices count
// from 1; map keys follow the flag: `--labels team`). A path with no flag
// is left as it is. The result keeps err's text around the field errors and
// wraps err, so errors.Is and errors.As see what they saw before. Several
// field errors at the top of err are printed one a line.
func flagErrors(err error, flags map[string]string) error {
	if err == nil {
		return nil
	}
	fieldErrs := fieldErrorsIn(err)
	if len(fieldErrs) == 0 {
		return err
	}
	if agg, ok := err.(utilerrors.Aggregate); ok && len(agg.Errors()) > 1 {
		lines := make([]string, 0, len(agg.Errors()))
		for _, e := range agg.Errors() {
			lines = append(lines, flagErrors(e, flags).Error())
		}
		return &flagRewrite{msg: strings.Join(lines, "\n"), err: err}
	}
	msg := err.Error()
	// Longer paths first, so that spec.labels[a] is not taken for
	// spec.labels.
	slices.SortFunc(fieldErrs, func(a, b *field.Error) int { return len(b.Field) - len(a.Field) })
	for _, fe := range fieldErrs {
		if flag, ok := flagFor(fe.Field, flags); ok {
			msg = strings.ReplaceAll(msg, fe.Field+": ", flag+": ")
		}
	}
	return &flagRewrite{msg: msg, err: err}
}

type flagRewrite struct {
	msg string
	err error
}

func (e *flagRewrite) Error() string { return e.msg }
func (e *flagRewrite) Unwrap() error { return e.err }

// fieldErrorsIn finds every *field.Error in err's tree.
func fieldErrorsIn(err error) []*field.Error {
	switch e := err.(type) {
	case nil:
		return nil
	case *field.Error:
		return []*field.Error{e}
	case utilerrors.Aggregate:
		var out []*field.Error
		for _, child := range e.Errors() {
			out = append(out, fieldErrorsIn(child)...)
		}
		return out
	case interface{ Unwrap() []error }:
		var out []*field.Error
		for _, child := range e.Unwrap() {
			out = append(out, fieldErrorsIn(child)...)
		}
		return out
	case interface{ Unwrap() error }:
		return fieldErrorsIn(e.Unwrap())
	}
	return nil
}

var subscript = regexp.MustCompile(`\[([^\]]*)\]`)

// flagFor turns a field path into the flag that sets it, or says there is
// none: spec.include_namespaces[2] → "--include-namespaces value 3",
// spec.labels[team] → "--labels team".
func flagFor(path string, flags map[string]string) (string, bool) {
	base := subscript.ReplaceAllString(path, "")
	flag, ok := flags[base]
	if !ok {
		return "", false
	}
	for _, m := range subscript.FindAllStringSubmatch(path, -1) {
		if i, err := strconv.Atoi(m[1]); err == nil {
			flag += " value " + strconv.Itoa(i+1)
		} else {
			flag += " " + m[1]
		}
	}
	return flag, true
}

// isFieldError says whether err holds a field error.
func isFieldError(err error) bool { return len(fieldErrorsIn(err)) > 0 }

// Flags of the selection fields (selection.Selection), which restore and
// diff share; their paths are at the top level of the options.
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
