package config

import (
	"maps"
	"net/url"
	"reflect"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// redactedText is what replaces a secret.
const redactedText = "REDACTED"

// Redacted returns a deep copy of c with every field tagged `secret` hidden,
// in the base and in the environments' overrides blocks, for printing:
//
//	secret:"full"      REDACTED
//	secret:"prefix"    the first 4 characters and …, to tell keys apart
//	secret:"url"       scheme and host kept, path and query (the token) REDACTED
//	secret:"userinfo"  user and password in the URL, and query parameters
//	                   named like credentials, REDACTED
func (c *Config) Redacted() *Config {
	r := c.clone()
	secrets := secretKeys()
	redactStruct(reflect.ValueOf(r).Elem())
	for i := range r.Environments {
		redactTree(r.Environments[i].Overrides, "", secrets)
	}
	return r
}

func (c *Config) clone() *Config {
	r := deepCopy(reflect.ValueOf(*c)).Interface().(Config)
	r.origins = maps.Clone(c.origins)
	return &r
}

// redactStruct applies the secret tags of a struct and of the structs and
// lists of structs it holds.
func redactStruct(v reflect.Value) {
	for _, f := range fieldsOf(v.Type()) {
		fv := v.FieldByIndex(f.Index)
		if mode, ok := f.Tag.Lookup("secret"); ok {
			fv.SetString(redactValue(mode, fv.String()))
			continue
		}
		switch {
		case f.Type.Kind() == reflect.Struct && f.Type != quantityType:
			redactStruct(fv)
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			for i := 0; i < fv.Len(); i++ {
				redactStruct(fv.Index(i))
			}
		}
	}
}

// redactTree redacts a tree of maps (an overrides block) by dotted key.
func redactTree(m map[string]any, prefix string, secrets map[string]string) {
	for k, v := range m {
		key := joinKey(prefix, k)
		switch v := v.(type) {
		case map[string]any:
			redactTree(v, key, secrets)
		case string:
			if mode, ok := secrets[key]; ok {
				m[k] = redactValue(mode, v)
			}
		}
	}
}

// redactValue hides a secret; an empty value stays empty, to show it is unset.
func redactValue(mode, s string) string {
	if s == "" {
		return ""
	}
	switch mode {
	case "prefix":
		r := []rune(s)
		// Too short to show a part of without showing most of it.
		if len(r) < 8 {
			return redactedText
		}
		return string(r[:4]) + "…"
	case "url":
		u, err := url.Parse(s)
		// Only the host of a web URL is known not to be the token itself.
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return redactedText
		}
		out := u.Scheme + "://" + u.Host
		if strings.Trim(u.EscapedPath(), "/") != "" || u.RawQuery != "" || u.Fragment != "" {
			out += "/" + redactedText
		}
		return out
	case "userinfo":
		return redactUserinfo(s)
	}
	return redactedText
}

// credentialParam says whether a URL query parameter looks like it carries
// a credential.
func credentialParam(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"secret", "password", "token", "key", "credential", "signature"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

func redactUserinfo(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		// Not a URL, so no user info to find; do not print what might be
		// a mangled credential either.
		return redactedText
	}
	changed := false
	if u.User != nil {
		u.User = url.User(redactedText)
		changed = true
	}
	q := u.Query()
	for name := range q {
		if credentialParam(name) {
			q.Set(name, redactedText)
			changed = true
		}
	}
	if !changed {
		return s
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// deepCopy copies a value of the schema so that no map, slice or quantity is
// shared with the original. Unexported fields are copied shallowly.
func deepCopy(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == quantityType {
			q := v.Interface().(resource.Quantity)
			return reflect.ValueOf(q.DeepCopy())
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(v)
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				out.Field(i).Set(deepCopy(v.Field(i)))
			}
		}
		return out
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			out.Index(i).Set(deepCopy(v.Index(i)))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			out.SetMapIndex(it.Key(), deepCopy(it.Value()))
		}
		return out
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(deepCopy(v.Elem()))
		return out
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type().Elem())
		out.Elem().Set(deepCopy(v.Elem()))
		return out
	}
	return v
}
