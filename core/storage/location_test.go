package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestParseURL(t *testing.T) {
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in   string
		want Location
		// canonical is String() of the result, when it differs from in.
		canonical string
	}{
		{in: "s3://backups", want: Location{Scheme: SchemeS3, Bucket: "backups"}},
		{in: "s3://backups/", want: Location{Scheme: SchemeS3, Bucket: "backups"}, canonical: "s3://backups"},
		{in: "s3://backups/team/prod", want: Location{Scheme: SchemeS3, Bucket: "backups", Prefix: "team/prod"}},
		{in: "S3://backups//", want: Location{Scheme: SchemeS3, Bucket: "backups"}, canonical: "s3://backups"},
		{
			in:   "s3://backups/p?endpoint=http://127.0.0.1:9000&region=eu-west-1",
			want: Location{Scheme: SchemeS3, Bucket: "backups", Prefix: "p", Endpoint: "http://127.0.0.1:9000", Region: "eu-west-1"},
		},
		{
			in:        "s3://backups?region=eu-west-1&endpoint=HTTPS://Minio.Example.com:9443/",
			want:      Location{Scheme: SchemeS3, Bucket: "backups", Endpoint: "https://minio.example.com:9443", Region: "eu-west-1"},
			canonical: "s3://backups?endpoint=https://minio.example.com:9443&region=eu-west-1",
		},
		{
			in:        "s3://backups?endpoint=https%3A%2F%2Fs3.local&bucket-lookup=path&ca-file=/etc/ca.pem&insecure-skip-tls-verify=false",
			want:      Location{Scheme: SchemeS3, Bucket: "backups", Endpoint: "https://s3.local", BucketLookup: BucketLookupPath, CAFile: "/etc/ca.pem"},
			canonical: "s3://backups?endpoint=https://s3.local&bucket-lookup=path&ca-file=/etc/ca.pem",
		},
		{
			in:   "s3://my.bucket-1?endpoint=https://s3.local&bucket-lookup=dns&insecure-skip-tls-verify=true",
			want: Location{Scheme: SchemeS3, Bucket: "my.bucket-1", Endpoint: "https://s3.local", BucketLookup: BucketLookupDNS, InsecureSkipTLSVerify: true},
		},
		{in: "s3://backups?bucket-lookup=auto", want: Location{Scheme: SchemeS3, Bucket: "backups"}, canonical: "s3://backups"},
		{in: "file:///var/lib/kbackup", want: Location{Scheme: SchemeFile, Path: "/var/lib/kbackup"}},
		{in: "file://localhost/var/lib/kbackup/", want: Location{Scheme: SchemeFile, Path: "/var/lib/kbackup"}, canonical: "file:///var/lib/kbackup"},
		{in: "/var/lib/kbackup", want: Location{Scheme: SchemeFile, Path: "/var/lib/kbackup"}, canonical: "file:///var/lib/kbackup"},
		{in: "backups/here", want: Location{Scheme: SchemeFile, Path: filepath.Join(cwd, "backups/here")}, canonical: "file://" + filepath.Join(cwd, "backups/here")},
		{in: "~/kb", want: Location{Scheme: SchemeFile, Path: filepath.Join(home, "kb")}, canonical: "file://" + filepath.Join(home, "kb")},
		{in: "/with space", want: Location{Scheme: SchemeFile, Path: "/with space"}, canonical: "file:///with%20space"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseURL(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("ParseURL(%q) =\n %#v; want\n %#v", tt.in, got, tt.want)
			}
			canonical := tt.canonical
			if canonical == "" {
				canonical = tt.in
			}
			if got.String() != canonical {
				t.Errorf("String() = %q; want %q", got.String(), canonical)
			}
			again, err := ParseURL(got.String())
			if err != nil || again != got {
				t.Errorf("ParseURL(String()) = %#v, %v; want the same location", again, err)
			}
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	tests := []struct {
		in string
		// want are parts of the message, which always starts by naming
		// the input.
		want []string
	}{
		{"", []string{"storage URL is empty", "s3://bucket"}},
		{"s4://x", []string{`storage URL "s4://x": unsupported scheme "s4"`, "s3://bucket[/prefix]?endpoint=", "file:///path", "a directory path"}},
		{"gs://bucket", []string{`unsupported scheme "gs"`}},
		{"s3://", []string{"names no bucket"}},
		{"s3:///prefix", []string{"names no bucket"}},
		{"s3://ab", []string{`bucket name "ab" is too short`, "3 to 63 characters"}},
		{"s3://" + strings.Repeat("a", 64), []string{"is too long"}},
		{"s3://Backups", []string{"upper-case"}},
		{"s3://back_ups", []string{`the character '_'`}},
		{"s3://-backups", []string{"start and end with a letter or digit"}},
		{"s3://back..ups", []string{"'..'"}},
		{"s3://192.168.1.1", []string{"IP address"}},
		{"s3://xn--backups", []string{"reserved xn--"}},
		{"s3://backups:9000", []string{"has a port", "?endpoint="}},
		{"s3://backups/a//b", []string{"empty path segment"}},
		{"s3://backups/a/../b", []string{`segment ".."`}},
		{"s3://backups/a b", []string{"character ' '"}},
		{"s3://backups?endpoint=minio:9000", []string{`endpoint "minio:9000" has no scheme`, "https://minio:9000"}},
		{"s3://backups?endpoint=ftp://minio:9000", []string{`scheme "ftp"`, "want http://host:port or https://host:port"}},
		{"s3://backups?endpoint=https://minio:9000/backups", []string{"has a path or query", "s3://bucket/prefix"}},
		{"s3://backups?endpoint=https://minio:99999", []string{"not a port number"}},
		{"s3://backups?endpoint=http://", []string{"names no host"}},
		{"s3://backups?region=EU_WEST", []string{`region "EU_WEST"`}},
		{"s3://backups?bucket-lookup=virtual", []string{`bucket-lookup "virtual": want path, dns or auto`}},
		{"s3://backups?insecure-skip-tls-verify=yes", []string{`insecure-skip-tls-verify="yes": want true or false`}},
		{"s3://backups?endpoint=http://h:1&insecure-skip-tls-verify=true", []string{"https endpoints only"}},
		{"s3://backups?endpoint=http://h:1&ca-file=/ca.pem", []string{"https endpoints only"}},
		{"s3://backups?region=a&region=b", []string{"parameter region is given 2 times"}},
		{"s3://backups?colour=x", []string{`unknown parameter "colour"`, "accepted: endpoint, region"}},
		{"s3://backups#frag", []string{"fragment"}},
		{"file://server/share", []string{"three slashes"}},
		{"file:///a?x=1", []string{"takes no parameters"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseURL(tt.in)
			if err == nil {
				t.Fatalf("ParseURL(%q) succeeded", tt.in)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			if tt.in != "" && !strings.HasPrefix(err.Error(), fmt.Sprintf("storage URL %q: ", tt.in)) {
				t.Errorf("error %q does not start by naming the input", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// Credentials in a URL are refused, with a message that says where they
// go, and the message does not repeat them.
func TestParseURLRefusesCredentials(t *testing.T) {
	const secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYSECRET"
	for _, in := range []string{
		"s3://AKIAEXAMPLE:" + secret + "@backups/prefix",
		"s3://AKIAEXAMPLE:" + secret + "@backups",
		"s3://backups?endpoint=https://AKIAEXAMPLE:" + secret + "@minio:9000",
		"s3://backups?secret-key=" + secret,
		"file://user:" + secret + "@/var/lib",
	} {
		_, err := ParseURL(in)
		if err == nil {
			t.Fatalf("ParseURL(%q) succeeded", in)
		}
		msg := err.Error()
		if strings.Contains(msg, secret) || strings.Contains(msg, "K7MDENG") {
			t.Errorf("error repeats the secret: %s", msg)
		}
		if !strings.Contains(in, "secret-key") && !strings.Contains(msg, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") {
			t.Errorf("error does not say where credentials go: %s", msg)
		}
	}
}

func TestLocationValidate(t *testing.T) {
	if err := (Location{Scheme: SchemeS3, Bucket: "backups", Endpoint: "http://h:9000"}).Validate(); err != nil {
		t.Error(err)
	}
	for _, l := range []Location{
		{},
		{Scheme: SchemeFile, Path: "relative"},
		{Scheme: SchemeS3},
		{Scheme: SchemeS3, Bucket: "b"},
		{Scheme: SchemeS3, Bucket: "backups", Endpoint: "h:9000"},
	} {
		if err := l.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("Validate(%#v) = %v; want ErrInvalid", l, err)
		}
	}
}

func TestDefaultLocation(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", "/xdg/data")
	l, err := DefaultLocation()
	if err != nil || l != (Location{Scheme: SchemeFile, Path: "/xdg/data/kbackup"}) {
		t.Errorf("with XDG_DATA_HOME: %#v, %v", l, err)
	}
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("HOME", "/home/someone")
	l, err = DefaultLocation()
	if err != nil || l != (Location{Scheme: SchemeFile, Path: "/home/someone/.local/share/kbackup"}) {
		t.Errorf("without XDG_DATA_HOME: %#v, %v", l, err)
	}
}

// Whatever way Credentials are printed, the values do not show.
func TestCredentialsNeverPrinted(t *testing.T) {
	const id, secret, token = "AKIAMARKERID0001", "marker-secret-0001", "marker-token-0001"
	c := Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: token}
	// A struct that carries credentials beside a location, as a caller's
	// options do.
	opts := struct {
		Location    Location
		Credentials Credentials
	}{Location{Scheme: SchemeS3, Bucket: "backups"}, c}
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		outputs = append(outputs, fmt.Sprintf(verb, c), fmt.Sprintf(verb, opts), fmt.Sprintf(verb, &opts))
	}
	j, err := json.Marshal(opts)
	if err != nil {
		t.Fatal(err)
	}
	y, err := yaml.Marshal(opts)
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("opening", "credentials", c, "options", opts)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("opening", "credentials", c)
	outputs = append(outputs, string(j), string(y), logged.String())
	for _, out := range outputs {
		for _, s := range []string{id, secret, token} {
			if strings.Contains(out, s) {
				t.Errorf("output shows %q: %s", s, out)
			}
		}
	}
	if !strings.Contains(fmt.Sprint(c), "REDACTED") || !strings.Contains(string(j), `"secretAccessKey":"REDACTED"`) {
		t.Errorf("redacted output does not say the values are set: %v, %s", c, j)
	}
	if got := fmt.Sprint(Credentials{}); strings.Contains(got, "REDACTED") {
		t.Errorf("empty credentials print as set: %s", got)
	}
}
