package config

import (
	"slices"
	"strings"
	"testing"
)

// envMap is a LookupEnv over a fixed map.
func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestInterpolate(t *testing.T) {
	env := envMap(map[string]string{
		"BATCH_SIZE": "50",
		"EMPTY":      "",
		"HOST":       "minio.local",
		"PORT":       "9000",
		"DOLLAR":     "a$b", // values are not interpolated again
		"REF":        "${HOST}",
	})
	tests := []struct {
		name, in, want string
		wantVars       []string
	}{
		{"no dollar", "plain text", "plain text", nil},
		{"variable", "${BATCH_SIZE}", "50", []string{"BATCH_SIZE"}},
		{"variable inside text", "https://${HOST}:${PORT}/x", "https://minio.local:9000/x", []string{"HOST", "PORT"}},
		{"default unused", "${BATCH_SIZE:-500}", "50", []string{"BATCH_SIZE"}},
		{"default for unset", "${UNSET:-500}", "500", nil},
		{"default for empty", "${EMPTY:-500}", "500", nil},
		{"empty variable without default is empty", "${EMPTY}", "", []string{"EMPTY"}},
		{"empty default", "${UNSET:-}", "", nil},
		{"default with colon and dash", "${UNSET:-https://h:9000/a-b}", "https://h:9000/a-b", nil},
		{"default starting with dash", "${UNSET:--1}", "-1", nil},
		{"default with :-", "${UNSET:-a:-b}", "a:-b", nil},
		{"nested default used", "${UNSET:-${HOST}}", "minio.local", []string{"HOST"}},
		{"nested default twice", "${UNSET:-${ALSO_UNSET:-x}}", "x", nil},
		{"nested default not evaluated when unused", "${HOST:-${UNSET}}", "minio.local", []string{"HOST"}},
		{"braces in default", `${UNSET:-{"a":{"b":1}}}`, `{"a":{"b":1}}`, nil},
		{"text after reference", "${UNSET:-a}b}", "ab}", nil},
		{"double dollar", "$$", "$", nil},
		{"escaped reference", "$${HOST}", "${HOST}", nil},
		{"escaped reference in default", "${UNSET:-$${HOST}}", "${HOST}", nil},
		{"lone dollar kept", "pa$word $ $1 end$", "pa$word $ $1 end$", nil},
		{"value not re-interpolated", "${DOLLAR}-${REF}", "a$b-${HOST}", []string{"DOLLAR", "REF"}},
		{"lower-case name", "${UNSET_lower:-ok}", "ok", nil},
		{"three dollars", "$$${HOST}", "$minio.local", []string{"HOST"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, vars, err := interpolate(tt.in, env)
			if err != nil {
				t.Fatalf("interpolate(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("interpolate(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if !slices.Equal(vars, tt.wantVars) {
				t.Errorf("interpolate(%q) used %v, want %v", tt.in, vars, tt.wantVars)
			}
		})
	}
}

func TestInterpolateErrors(t *testing.T) {
	env := envMap(map[string]string{"SET": "x"})
	tests := []struct {
		name, in string
		want     []string // substrings of the message
	}{
		{"unset without default", "${BATCH_SIZE}", []string{"${BATCH_SIZE} is not set", "set BATCH_SIZE or write ${BATCH_SIZE:-value}"}},
		{"unset inside text", "https://${HOST}/", []string{"${HOST} is not set"}},
		{"unset in used default", "${UNSET:-${ALSO}}", []string{"${ALSO} is not set"}},
		{"unterminated", "${BATCH_SIZE", []string{"is not closed with }"}},
		{"bare open", "${", []string{"${ is not closed"}},
		{"unterminated default", "${X:-abc", []string{"is not closed with }"}},
		{"unbalanced nested default", "${X:-${Y}", []string{"is not closed with }"}},
		{"empty name", "${}", []string{"${} names no variable"}},
		{"name starting with digit", "${1X}", []string{"a variable name starts with a letter or _"}},
		{"unsupported dash form", "${X-default}", []string{"${X-default} is not supported", "${VAR:-default}"}},
		{"unsupported question form", "${X:?required}", []string{"is not supported"}},
		{"space in name", "${MY VAR}", []string{"is not supported"}},
		{"nesting too deep", strings.Repeat("${U:-", 10) + "x" + strings.Repeat("}", 10), []string{"nested more than 8 deep"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := interpolate(tt.in, env)
			if err == nil {
				t.Fatalf("interpolate(%q) = %q, want an error", tt.in, got)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("interpolate(%q) error %q does not contain %q", tt.in, err, w)
				}
			}
		})
	}
}
