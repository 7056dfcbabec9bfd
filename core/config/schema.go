package config

import (
	"reflect"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/resource"
)

var (
	quantityType  = reflect.TypeOf(resource.Quantity{})
	overridesType = reflect.TypeOf(map[string]any(nil))
	configType    = reflect.TypeOf(Config{})
)

// schemaField is one key of the schema, found by walking the Go types, so
// that suggestions, redaction, default sources and the documentation test all
// follow the structs without a second list to keep in step.
type schemaField struct {
	// Key is the dotted key; items of a list of mappings are written [],
	// as in environments[].cluster_url.
	Key   string
	Field reflect.StructField
}

// isLeaf reports whether the key holds a value rather than a mapping of keys.
func (f schemaField) isLeaf() bool {
	t := f.Field.Type
	return t.Kind() != reflect.Struct || t == quantityType
}

// schemaFields lists every key of Config in declaration order.
var schemaFields = sync.OnceValue(func() []schemaField {
	var out []schemaField
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for _, f := range fieldsOf(t) {
			key := prefix + f.name
			out = append(out, schemaField{Key: key, Field: f.StructField})
			switch {
			case f.Type.Kind() == reflect.Struct && f.Type != quantityType:
				walk(f.Type, key+".")
			case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
				walk(f.Type.Elem(), key+"[].")
			}
		}
	}
	walk(configType, "")
	return out
})

// defaultSourceKeys are the keys whose source is "default" until something
// sets them: values of the base, not of list items or map entries.
var defaultSourceKeys = sync.OnceValue(func() []string {
	var keys []string
	for _, f := range schemaFields() {
		if f.isLeaf() && !strings.Contains(f.Key, "[]") {
			keys = append(keys, f.Key)
		}
	}
	return keys
})

// secretKeys maps the dotted key of each secret field to its redaction mode.
var secretKeys = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	for _, f := range schemaFields() {
		if mode, ok := f.Field.Tag.Lookup("secret"); ok {
			m[strings.ReplaceAll(f.Key, "[]", "")] = mode
		}
	}
	return m
})

// stripIndexes turns environments[2].name into environments.name.
func stripIndexes(key string) string {
	if !strings.Contains(key, "[") {
		return key
	}
	var b strings.Builder
	skip := false
	for _, r := range key {
		switch {
		case r == '[':
			skip = true
		case r == ']':
			skip = false
		case !skip:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// namedField is a struct field with the key it is written as.
type namedField struct {
	reflect.StructField
	name string
	want string
}

var fieldCache sync.Map // reflect.Type -> []namedField

// fieldsOf returns the keyed fields of a struct type, in declaration order.
func fieldsOf(t reflect.Type) []namedField {
	if cached, ok := fieldCache.Load(t); ok {
		return cached.([]namedField)
	}
	var out []namedField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || name == "" {
			continue
		}
		out = append(out, namedField{StructField: f, name: name, want: f.Tag.Get("want")})
	}
	fieldCache.Store(t, out)
	return out
}

// fieldNamed finds the field written as name.
func fieldNamed(t reflect.Type, name string) (namedField, bool) {
	for _, f := range fieldsOf(t) {
		if f.name == name {
			return f, true
		}
	}
	return namedField{}, false
}

// keyNames lists the keys of a struct type.
func keyNames(t reflect.Type) []string {
	fs := fieldsOf(t)
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.name
	}
	return names
}
