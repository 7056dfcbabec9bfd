package config

import (
	"reflect"
	"strings"
	"unicode"

	"github.com/agnivade/levenshtein"
)

// closest returns the candidate nearest to name, if it is near enough to be
// the intended word: same after normalising case and separators (batchSize,
// batch-size), or a few edits away.
func closest(name string, candidates []string) (string, bool) {
	norm := normalizeKey(name)
	for _, c := range candidates {
		if normalizeKey(c) == norm {
			return c, true
		}
	}
	best, bestDist := "", -1
	for _, c := range candidates {
		if c == "" {
			continue
		}
		d := levenshtein.ComputeDistance(norm, c)
		// Two swapped letters (prdo) are one slip of the fingers, and a
		// longer spelling of a short word (warning for warn) is no typo.
		if swapped(norm, c) || len(c) >= 3 && strings.HasPrefix(norm, c) {
			d = 1
		}
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	// Short words are one edit from many others: allow fewer edits.
	limit := 1
	switch n := len(norm); {
	case n > 8:
		limit = 3
	case n > 4:
		limit = 2
	}
	if bestDist >= 0 && bestDist <= limit {
		return best, true
	}
	return "", false
}

// swapped reports whether a and b differ by two adjacent letters swapped.
func swapped(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	i := 0
	for i < len(a) && a[i] == b[i] {
		i++
	}
	return i+1 < len(a) && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:]
}

// didYouMean returns "; did you mean X?" or "".
func didYouMean(name string, candidates []string) string {
	if c, ok := closest(name, candidates); ok && c != name {
		return "; did you mean " + c + "?"
	}
	return ""
}

// normalizeKey turns batchSize, Batch-Size and BATCH_SIZE into batch_size.
func normalizeKey(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '-' || r == ' ':
			b.WriteByte('_')
		case unicode.IsUpper(r):
			if i > 0 && !unicode.IsUpper(rune(s[i-1])) && s[i-1] != '_' && s[i-1] != '-' {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// suggestKey says what an unknown key under a mapping of type t might have
// meant: a near key here, else the same key elsewhere in the schema (a key
// put at the wrong level), else the keys that are allowed here.
func suggestKey(name string, t reflect.Type) string {
	here := keyNames(t)
	if c, ok := closest(name, here); ok {
		return "did you mean " + c + "?"
	}
	norm := normalizeKey(name)
	var elsewhere []string
	for _, f := range schemaFields() {
		leaf := f.Key[strings.LastIndexAny(f.Key, ".]")+1:]
		if leaf == norm {
			elsewhere = append(elsewhere, f.Key)
		}
	}
	switch {
	case len(elsewhere) == 1:
		return "did you mean " + elsewhere[0] + "?"
	case len(elsewhere) > 1:
		if len(elsewhere) > 3 {
			elsewhere = elsewhere[:3]
		}
		return "did you mean one of " + strings.Join(elsewhere, ", ") + "?"
	}
	return "known keys here: " + strings.Join(here, ", ")
}
