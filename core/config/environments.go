package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"
)

// overrideSections are what an environment may override: how backups run and
// where they go. Which cluster and which environments exist are the base's.
var overrideSections = []string{"storage", "backup", "performance", "notifications", "observability"}

func overridesFilter(name string) (skip bool, refuse string) {
	if slices.Contains(overrideSections, name) {
		return false, ""
	}
	if _, ok := fieldNamed(configType, name); ok {
		return false, "cannot be overridden per environment; an overrides block takes " + strings.Join(overrideSections, ", ")
	}
	return false, "" // unknown: decodeStruct says so, with a suggestion
}

// decodeOverrides checks an environment's overrides block by decoding it into
// a scratch Config, so that a mistake in prod's block is reported while
// working on dev. It keeps the node for applyEnvironment and sets v to the
// values the block gives, for display.
func (d *decoder) decodeOverrides(n *yaml.Node, v reflect.Value, key string) bool {
	if isNull(n) {
		return false
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, key, "want a mapping with keys %s, got %s", strings.Join(overrideSections, ", "), describe(n))
		return false
	}
	scratch := reflect.New(configType).Elem()
	sd := *d
	sd.origins = map[string]origin{}
	before := len(d.errs)
	sd.decodeStruct(n, scratch, key, overridesFilter)
	d.errs, d.steps = sd.errs, sd.steps
	if len(d.errs) > before {
		return false
	}
	if d.overrides != nil {
		d.overrides[key] = n
	}
	v.Set(reflect.ValueOf(partialValues(n, scratch, key, sd.origins)))
	d.record(key, n, nil)
	return true
}

// partialValues returns the values that mapping n set in v, as a tree of
// maps with typed leaves: what the user wrote, interpolated.
func partialValues(n *yaml.Node, v reflect.Value, key string, set map[string]origin) map[string]any {
	out := map[string]any{}
	quiet := &decoder{origins: map[string]origin{}} // problems were reported when n was decoded
	for _, p := range quiet.pairs(n, key) {
		name := p.key.Value
		f, ok := fieldNamed(v.Type(), name)
		if !ok {
			continue
		}
		child := joinKey(key, name)
		if _, ok := set[child]; !ok {
			continue
		}
		fv := v.FieldByIndex(f.Index)
		value, ok := quiet.resolve(p.value, child)
		if !ok {
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Type != quantityType {
			if value.Kind == yaml.MappingNode {
				if m := partialValues(value, fv, child, set); len(m) > 0 {
					out[name] = m
				}
			}
			continue
		}
		out[name] = displayValue(fv)
	}
	return out
}

// displayValue returns a leaf value as a plain Go value.
func displayValue(v reflect.Value) any {
	if v.Type() == quantityType {
		q := v.Interface().(resource.Quantity)
		return q.String()
	}
	return deepCopy(v).Interface()
}

// applyEnvironment merges the overrides block of environment name over the
// base: mappings field by field, lists wholesale.
func (c *Config) applyEnvironment(name, selectedBy string, d *decoder) error {
	i := slices.IndexFunc(c.Environments, func(e Environment) bool { return e.Name == name })
	if i < 0 {
		e := &FieldError{File: d.file, Key: "environments"}
		if o, ok := c.origins["environments"]; ok {
			e.Line, e.Column = o.line, o.column
		}
		by := ""
		if selectedBy != "" {
			by = " (from " + selectedBy + ")"
		}
		// An environment without a name cannot be selected; Validate
		// reports it.
		names := slices.DeleteFunc(c.EnvironmentNames(), func(n string) bool { return n == "" })
		switch {
		case len(c.Environments) == 0:
			e.Message = fmt.Sprintf("environment %q%s is not defined: there are no environments", name, by)
		case len(names) == 0:
			e.Message = fmt.Sprintf("environment %q%s is not defined: no environment has a name", name, by)
		default:
			e.Message = fmt.Sprintf("environment %q%s is not defined; defined: %s%s",
				name, by, strings.Join(names, ", "), didYouMean(name, names))
		}
		return ValidationErrors{e}
	}
	c.ActiveEnvironment = name
	n := d.overrides[fmt.Sprintf("environments[%d].overrides", i)]
	if n == nil {
		return nil
	}
	ad := &decoder{file: d.file, lookup: d.lookup, level: levelEnvironment, origins: c.origins}
	ad.decodeStruct(n, reflect.ValueOf(c).Elem(), "", overridesFilter)
	if len(ad.errs) > 0 {
		return ad.errs
	}
	return nil
}
