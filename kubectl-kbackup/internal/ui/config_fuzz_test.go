package ui

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/core/config"
)

// credentialPlaces are the places a credential can be given: each puts
// secret into a configuration (file text, and environment variables).
var credentialPlaces = []struct {
	name string
	put  func(secret string) (file string, env map[string]string)
}{
	{"storage.url query", literal("storage:\n  url: \"s3://backups/p?endpoint=https://h:9000&token=%s\"\n")},
	{"storage.url userinfo", literal("storage:\n  url: \"s3://AKIAEXAMPLE:%s@backups/p?endpoint=https://h:9000\"\n")},
	{"storage.access_key_id", literal("storage:\n  access_key_id: \"%s\"\n")},
	{"storage.secret_access_key", literal("storage:\n  secret_access_key: \"%s\"\n")},
	{"webhook path", literal("notifications:\n  webhook:\n    url: \"https://hooks.example.com/%s\"\n")},
	{"webhook query", literal("notifications:\n  webhook:\n    url: \"https://hooks.example.com/x?token=%s\"\n")},
	{"slack webhook", literal("notifications:\n  slack:\n    webhook_url: \"https://hooks.slack.com/services/%s\"\n")},
	{"environment override", literal("environments:\n  - name: prod\n    overrides:\n      storage:\n        secret_access_key: \"%s\"\n      notifications:\n        slack:\n          webhook_url: \"https://hooks.slack.com/services/%[1]s\"\n")},
	{"${VAR} in the file", func(s string) (string, map[string]string) {
		return "storage:\n  secret_access_key: ${KB_SECRET}\n  url: \"s3://u:${KB_SECRET}@b/p?endpoint=https://h:9000\"\nnotifications:\n  webhook:\n    url: https://h/${KB_SECRET:-x}\n",
			map[string]string{"KB_SECRET": s}
	}},
	{"AWS_SECRET_ACCESS_KEY", func(s string) (string, map[string]string) {
		return "", map[string]string{"AWS_SECRET_ACCESS_KEY": s, "AWS_ACCESS_KEY_ID": s}
	}},
	{"KBACKUP_STORAGE", func(s string) (string, map[string]string) {
		return "", map[string]string{"KBACKUP_STORAGE": "s3://u:" + s + "@b/p?endpoint=https://h:9000&secretKey=" + s}
	}},
}

func literal(format string) func(string) (string, map[string]string) {
	return func(s string) (string, map[string]string) { return fmt.Sprintf(format, s), nil }
}

// FuzzConfigViewHidesCredentials puts a credential in every place one can be
// given, selects or not the environment that overrides it, and renders the
// configuration in every format `config view` has (json, yaml and the
// table): the credential appears in none, nor in any error.
func FuzzConfigViewHidesCredentials(f *testing.F) {
	for i := range credentialPlaces {
		f.Add("wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY", uint8(i), i%2 == 0)
		f.Add("T00000000B00000000XXXXXXXXXXXXXXXXXXXXXXXX", uint8(i), i%2 == 1)
	}
	f.Add("secret-with.dots_and-dashes", uint8(0), true)
	f.Fuzz(func(t *testing.T, secret string, place uint8, selectEnvironment bool) {
		// A credential is a token of letters, digits and -._~ (what URLs
		// carry unescaped), long enough not to occur by chance.
		secret = credential(secret)
		p := credentialPlaces[int(place)%len(credentialPlaces)]
		file, env := p.put(secret)
		environment := ""
		if selectEnvironment && strings.Contains(file, "name: prod") {
			environment = "prod"
		}
		lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
		cfg, err := config.Parse("kbackup.yaml", []byte(file), config.LoadOptions{Environment: environment, LookupEnv: lookup})
		if err != nil {
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("%s: the parse error shows the credential: %v", p.name, err)
			}
			t.Fatalf("%s: a valid configuration is refused: %v\n%s", p.name, err, file)
		}
		if err := cfg.Validate(); err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the validation error shows the credential: %v", p.name, err)
		}
		view, err := NewConfigView("kbackup.yaml", cfg)
		if err != nil {
			t.Fatal(err)
		}
		outputs := map[string]*bytes.Buffer{}
		for _, format := range []string{OutputJSON, OutputYAML} {
			outputs[format] = &bytes.Buffer{}
			if err := PrintObject(outputs[format], format, view); err != nil {
				t.Fatal(err)
			}
		}
		outputs["table"] = &bytes.Buffer{}
		if err := RenderConfigView(outputs["table"], NewStyles(outputs["table"]), view); err != nil {
			t.Fatal(err)
		}
		for format, out := range outputs {
			if strings.Contains(out.String(), secret) {
				t.Errorf("%s: config view -o %s shows the credential %q:\n%s", p.name, format, secret, out)
			}
		}
	})
}

// credential makes a token out of fuzzed bytes: its letters, digits and
// -._~, padded to at least 16 characters.
func credential(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~", r)) {
			b.WriteRune(r)
		}
	}
	for b.Len() < 16 {
		b.WriteString("K7")
	}
	return b.String()
}
