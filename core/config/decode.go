package config

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"
)

// maxDecodeSteps bounds the nodes visited, aliases expanded: a real
// kbackup.yaml has a few hundred, and a file of nested aliases must not make
// a small input cost exponential time.
const maxDecodeSteps = 100_000

// decoder sets Go values from a yaml.Node tree. It is written by hand rather
// than through yaml.Node.Decode so that every value is interpolated before it
// is typed, every error names its key and position, unknown keys get a
// suggestion, and the position of every value is kept for validation.
type decoder struct {
	file   string // "" for values that come from elsewhere (see source)
	source string // "env CLUSTER_NAME", "flag --storage": where values come from when not from a file
	level  level
	// lookup resolves ${VAR}; nil for values that are not interpolated
	// (environment variables and flags are taken as they are).
	lookup func(string) (string, bool)
	// splitLists lets a single value set a list, split at commas, as a flag
	// or an environment variable would give it.
	splitLists bool

	origins map[string]origin
	// overrides keeps the overrides node of each environment by key
	// (environments[2].overrides), to be applied once one is selected.
	overrides map[string]*yaml.Node

	errs      ValidationErrors
	steps     int
	expanding map[*yaml.Node]bool
}

// keyFilter decides on a key of a mapping before it is looked up: skip it
// silently, refuse it with a message, or go on.
type keyFilter func(name string) (skip bool, refuse string)

func (d *decoder) fail(n *yaml.Node, key, format string, args ...any) {
	e := &FieldError{Key: key, Message: fmt.Sprintf(format, args...)}
	if d.file != "" {
		e.File, e.Line, e.Column = d.file, n.Line, n.Column
	} else {
		e.Source = d.source
	}
	d.errs = append(d.errs, e)
}

func (d *decoder) record(key string, n *yaml.Node, vars []string) {
	if key == "" {
		return
	}
	o := origin{level: d.level, vars: vars, source: d.source}
	if d.file != "" {
		o.file, o.line, o.column = d.file, n.Line, n.Column
	}
	d.origins[key] = o
}

// budget counts one step and reports whether decoding may go on.
func (d *decoder) budget(n *yaml.Node, key string) bool {
	d.steps++
	if d.steps == maxDecodeSteps+1 {
		d.fail(n, key, "the document expands to more than %d values (through aliases?); kbackup.yaml is expected to be small", maxDecodeSteps)
	}
	return d.steps <= maxDecodeSteps
}

// resolve follows aliases to the node they name.
func (d *decoder) resolve(n *yaml.Node, key string) (*yaml.Node, bool) {
	for n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			d.fail(n, key, "alias *%s names no anchor", n.Value)
			return nil, false
		}
		if d.expanding[n.Alias] {
			d.fail(n, key, "alias *%s is used inside its own anchor", n.Value)
			return nil, false
		}
		n = n.Alias
	}
	return n, true
}

// decode sets v from n. It reports whether v was set: a null, or an empty
// value for a non-string, leaves v as it was (the default, or the base that an
// environment overrides).
func (d *decoder) decode(n *yaml.Node, v reflect.Value, key, want string) bool {
	if !d.budget(n, key) {
		return false
	}
	if n.Kind == yaml.AliasNode {
		target, ok := d.resolve(n, key)
		if !ok {
			return false
		}
		if d.expanding == nil {
			d.expanding = map[*yaml.Node]bool{}
		}
		if !fits(target, v.Type(), d.splitLists) {
			// Say where the alias was used, not where its anchor was.
			at := *target
			at.Line, at.Column = n.Line, n.Column
			target = &at
		}
		d.expanding[target] = true
		defer delete(d.expanding, target)
		return d.decode(target, v, key, want)
	}
	t := v.Type()
	switch {
	case t == quantityType:
		return d.decodeScalar(n, v, key, want)
	case t == overridesType:
		return d.decodeOverrides(n, v, key)
	case t.Kind() == reflect.Struct:
		return d.decodeStruct(n, v, key, nil)
	case t.Kind() == reflect.Slice:
		return d.decodeList(n, v, key, want)
	case t.Kind() == reflect.Map:
		return d.decodeMap(n, v, key, want)
	default:
		return d.decodeScalar(n, v, key, want)
	}
}

// fits reports whether a node has the kind that type t is decoded from.
func fits(n *yaml.Node, t reflect.Type, splitLists bool) bool {
	if isNull(n) {
		return true
	}
	switch {
	case t == quantityType:
		return n.Kind == yaml.ScalarNode
	case t.Kind() == reflect.Struct, t.Kind() == reflect.Map:
		return n.Kind == yaml.MappingNode
	case t.Kind() == reflect.Slice:
		return n.Kind == yaml.SequenceNode || splitLists && n.Kind == yaml.ScalarNode
	}
	return n.Kind == yaml.ScalarNode
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(clip(n.Value))
	default:
		return "an alias"
	}
}

// pair is one key and value of a mapping.
type pair struct {
	key, value *yaml.Node
	merged     bool // from a << merge key, so an explicit key may override it
}

// pairs returns the entries of a mapping with YAML merge keys (<<: *anchor)
// expanded: merged entries first, in the order that lets the first of
// several merged mappings win, then the mapping's own entries, which win over
// all merged ones.
func (d *decoder) pairs(n *yaml.Node, key string) []pair {
	var merged, own []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!merge" {
			own = append(own, pair{key: k, value: v})
			continue
		}
		target, ok := d.resolve(v, key)
		if !ok {
			continue
		}
		var sources []*yaml.Node
		switch target.Kind {
		case yaml.MappingNode:
			sources = []*yaml.Node{v}
		case yaml.SequenceNode:
			sources = target.Content
		default:
			d.fail(v, key, "<< wants a mapping or a list of mappings, got %s", describe(target))
			continue
		}
		for j := len(sources) - 1; j >= 0; j-- {
			src := sources[j]
			m, ok := d.resolve(src, key)
			if !ok {
				continue
			}
			if m.Kind != yaml.MappingNode {
				d.fail(src, key, "<< wants a mapping, got %s", describe(m))
				continue
			}
			if d.expanding[m] || !d.budget(m, key) {
				continue
			}
			if d.expanding == nil {
				d.expanding = map[*yaml.Node]bool{}
			}
			d.expanding[m] = true
			for _, p := range d.pairs(m, key) {
				p.merged = true
				merged = append(merged, p)
			}
			delete(d.expanding, m)
		}
	}
	return append(merged, own...)
}

// entries checks the keys of a mapping (plain scalars, each given once) and
// returns its entries.
func (d *decoder) entries(n *yaml.Node, key string) []pair {
	var out []pair
	seen := map[string]int{}
	for _, p := range d.pairs(n, key) {
		if p.key.Kind != yaml.ScalarNode {
			d.fail(p.key, key, "a key must be a plain string, got %s", describe(p.key))
			continue
		}
		if !p.merged {
			if line, dup := seen[p.key.Value]; dup {
				d.fail(p.key, joinKey(key, p.key.Value), "given twice; first on line %d", line)
				continue
			}
			seen[p.key.Value] = p.key.Line
		}
		out = append(out, p)
	}
	return out
}

func joinKey(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, key string, filter keyFilter) bool {
	if isNull(n) {
		return false
	}
	t := v.Type()
	if n.Kind != yaml.MappingNode {
		d.fail(n, key, "want a mapping with keys %s, got %s", strings.Join(keyNames(t), ", "), describe(n))
		return false
	}
	for _, p := range d.entries(n, key) {
		name := p.key.Value
		child := joinKey(key, name)
		if filter != nil {
			skip, refuse := filter(name)
			if skip {
				continue
			}
			if refuse != "" {
				d.fail(p.key, child, "%s", refuse)
				continue
			}
		}
		f, ok := fieldNamed(t, name)
		if !ok {
			d.fail(p.key, child, "unknown key; %s", suggestKey(name, t))
			continue
		}
		d.decode(p.value, v.FieldByIndex(f.Index), child, f.want)
	}
	d.record(key, n, nil)
	return true
}

func (d *decoder) decodeList(n *yaml.Node, v reflect.Value, key, want string) bool {
	if isNull(n) {
		return false
	}
	t := v.Type()
	if n.Kind == yaml.ScalarNode && d.splitLists && t.Elem().Kind() == reflect.String {
		items := []string{}
		for _, s := range strings.Split(n.Value, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		forgetBelow(d.origins, key)
		v.Set(reflect.ValueOf(items))
		d.record(key, n, nil)
		return true
	}
	if n.Kind != yaml.SequenceNode {
		if want == "" {
			want = "a list"
		}
		d.fail(n, key, "want %s, got %s", want, describe(n))
		return false
	}
	// A list replaces the one below it wholesale, positions included.
	forgetBelow(d.origins, key)
	out := reflect.MakeSlice(t, 0, len(n.Content))
	for i, item := range n.Content {
		elem := reflect.New(t.Elem()).Elem()
		if t.Elem() == reflect.TypeOf(Environment{}) {
			elem.Set(reflect.ValueOf(defaultEnvironment()))
		}
		d.decode(item, elem, fmt.Sprintf("%s[%d]", key, i), "")
		out = reflect.Append(out, elem)
	}
	v.Set(out)
	d.record(key, n, nil)
	return true
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, key, want string) bool {
	if isNull(n) {
		return false
	}
	t := v.Type()
	if n.Kind != yaml.MappingNode {
		if want == "" {
			want = "a mapping"
		}
		d.fail(n, key, "want %s, got %s", want, describe(n))
		return false
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(t))
	}
	for _, p := range d.entries(n, key) {
		name := p.key.Value
		if name == "" {
			d.fail(p.key, key, "a key must not be empty")
			continue
		}
		elem := reflect.New(t.Elem()).Elem()
		if old := v.MapIndex(reflect.ValueOf(name)); old.IsValid() {
			elem.Set(old)
		}
		if d.decode(p.value, elem, joinKey(key, name), want) {
			v.SetMapIndex(reflect.ValueOf(name), elem)
		}
	}
	d.record(key, n, nil)
	return true
}

// decodeScalar interpolates a value, then types it.
func (d *decoder) decodeScalar(n *yaml.Node, v reflect.Value, key, want string) bool {
	t := v.Type()
	if want == "" {
		want = wantOf(t)
	}
	if n.Kind != yaml.ScalarNode {
		d.fail(n, key, "want %s, got %s", want, describe(n))
		return false
	}
	if isNull(n) {
		return false
	}
	s := n.Value
	var vars []string
	if d.lookup != nil {
		var err error
		if s, vars, err = interpolate(s, d.lookup); err != nil {
			d.fail(n, key, "%v", err)
			return false
		}
	}
	if s == "" && t.Kind() != reflect.String {
		return false // an empty value keeps the default: "${PORT:-}"
	}
	switch {
	case t == quantityType:
		q, err := resource.ParseQuantity(s)
		if err != nil {
			d.fail(n, key, "%q is not a quantity; want %s", clip(s), want)
			return false
		}
		v.Set(reflect.ValueOf(q))
	case t.Kind() == reflect.String:
		v.SetString(s)
	case t.Kind() == reflect.Bool:
		b, ok := parseBool(s)
		if !ok {
			d.fail(n, key, "%q is not a boolean; want true or false", clip(s))
			return false
		}
		v.SetBool(b)
	case t.Kind() == reflect.Int:
		i, err := strconv.ParseInt(s, 10, strconv.IntSize)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				d.fail(n, key, "%s is out of range; want %s", clip(s), want)
			} else {
				d.fail(n, key, "%q is not an integer; want %s", clip(s), want)
			}
			return false
		}
		v.SetInt(i)
	default:
		// The schema has no other types; a new one needs a case here.
		panic(fmt.Sprintf("config: no decoding for %s at %s", t, key))
	}
	d.record(key, n, vars)
	return true
}

// parseBool takes what YAML 1.2 and the seed's "${X:-true}" produce, in any
// case; yes/no/on/off are refused rather than guessed.
func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

func wantOf(t reflect.Type) string {
	switch {
	case t == quantityType:
		return "a quantity like 10Mi"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() == reflect.Int:
		return "an integer"
	case t.Kind() == reflect.String:
		return "a string"
	}
	return t.String()
}

func forgetBelow(origins map[string]origin, key string) {
	for k := range origins {
		if strings.HasPrefix(k, key+"[") || strings.HasPrefix(k, key+".") {
			delete(origins, k)
		}
	}
}
