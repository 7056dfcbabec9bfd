package config

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxDefaultNesting bounds ${A:-${B:-...}}: deeper nesting is surely a
// mistake, and the bound keeps expansion linear in the input.
const maxDefaultNesting = 8

// interpolate expands a scalar value of the file:
//
//	${VAR}            the value of VAR; an error if VAR is not set
//	${VAR:-default}   the value of VAR if it is set and not empty, else default
//	                  (itself interpolated, so defaults may nest)
//	$$                a literal $
//
// Any other $ is kept as written, so "pa$word" needs no escaping. It returns
// the variables whose values were used, for Sources.
func interpolate(s string, lookup func(string) (string, bool)) (string, []string, error) {
	if !strings.Contains(s, "$") {
		return s, nil, nil
	}
	var b strings.Builder
	var used []string
	if err := expandInto(&b, s, lookup, &used, 0); err != nil {
		return "", nil, err
	}
	return b.String(), used, nil
}

const interpolationForms = "write ${VAR}, ${VAR:-default}, or $$ for a literal $"

func expandInto(b *strings.Builder, s string, lookup func(string) (string, bool), used *[]string, depth int) error {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c != '$':
			b.WriteByte(c)
			i++
			continue
		case i+1 < len(s) && s[i+1] == '$':
			b.WriteByte('$')
			i += 2
			continue
		case i+1 >= len(s) || s[i+1] != '{':
			b.WriteByte('$')
			i++
			continue
		}
		ref, err := parseReference(s, i)
		if err != nil {
			return err
		}
		value, set := lookup(ref.name)
		switch {
		case ref.hasDefault && (!set || value == ""):
			if depth >= maxDefaultNesting {
				return fmt.Errorf("defaults nested more than %d deep in %s", maxDefaultNesting, clip(s[i:ref.end]))
			}
			if err := expandInto(b, ref.defaultValue, lookup, used, depth+1); err != nil {
				return err
			}
		case !set:
			return fmt.Errorf("${%s} is not set and has no default; set %s or write ${%s:-value}", ref.name, ref.name, ref.name)
		default:
			b.WriteString(value)
			*used = append(*used, ref.name)
		}
		i = ref.end
	}
	return nil
}

// reference is one ${...} in a value.
type reference struct {
	name         string
	defaultValue string
	hasDefault   bool
	end          int // index just after the closing brace
}

// parseReference reads the ${...} that starts at s[start].
func parseReference(s string, start int) (reference, error) {
	j := start + 2
	for j < len(s) && isNameByte(s[j], j == start+2) {
		j++
	}
	name := s[start+2 : j]
	if j >= len(s) {
		return reference{}, fmt.Errorf("%s is not closed with }; %s", clip(s[start:]), interpolationForms)
	}
	if name == "" {
		if s[j] == '}' {
			return reference{}, fmt.Errorf("${} names no variable; %s", interpolationForms)
		}
		return reference{}, fmt.Errorf("%s: a variable name starts with a letter or _; %s", clip(s[start:]), interpolationForms)
	}
	if s[j] == '}' {
		return reference{name: name, end: j + 1}, nil
	}
	if !strings.HasPrefix(s[j:], ":-") {
		return reference{}, fmt.Errorf("%s is not supported; %s", clip(s[start:]), interpolationForms)
	}
	// The default runs to the brace that balances the opening one, so a
	// default may hold ${...} or {...} of its own.
	open := 1
	for k := j + 2; k < len(s); k++ {
		switch {
		case s[k] == '$' && k+1 < len(s) && s[k+1] == '$':
			k++
		case s[k] == '{':
			open++
		case s[k] == '}':
			open--
			if open == 0 {
				return reference{name: name, defaultValue: s[j+2 : k], hasDefault: true, end: k + 1}, nil
			}
		}
	}
	return reference{}, fmt.Errorf("%s is not closed with }; %s", clip(s[start:]), interpolationForms)
}

func isNameByte(c byte, first bool) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || !first && '0' <= c && c <= '9'
}

// clip shortens a value quoted in a message.
func clip(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
