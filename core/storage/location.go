package storage

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Location schemes.
const (
	SchemeS3   = "s3"
	SchemeFile = "file"
)

// Bucket lookup styles of an S3 location: how the bucket is named in
// requests. Path style (http://host/bucket/key) suits most self-hosted
// servers; DNS style (http://bucket.host/key) is what AWS prefers.
const (
	BucketLookupAuto = "auto"
	BucketLookupPath = "path"
	BucketLookupDNS  = "dns"
)

// DefaultS3Endpoint is used when an S3 location names no endpoint.
const DefaultS3Endpoint = "https://s3.amazonaws.com"

// acceptedURLs is appended to every URL error, to say what would do.
const acceptedURLs = "use s3://bucket[/prefix]?endpoint=https://host:port, file:///path or a directory path"

// Location says where a repository is: a bucket and prefix on S3-compatible
// storage, or a local directory. It never holds a credential; see
// Credentials.
type Location struct {
	// Scheme is SchemeS3 or SchemeFile.
	Scheme string

	// Bucket is the S3 bucket.
	Bucket string
	// Prefix is the key prefix of the repository inside the bucket,
	// without leading or trailing slash; "" for the whole bucket.
	Prefix string
	// Endpoint is the S3 server as scheme://host[:port]; its scheme says
	// whether TLS is used. "" means AWS S3 (DefaultS3Endpoint).
	Endpoint string
	// Region is the S3 region; "" lets the client find it.
	Region string
	// BucketLookup is BucketLookupAuto (or ""), BucketLookupPath or
	// BucketLookupDNS.
	BucketLookup string
	// CAFile is a PEM file of CA certificates trusted, besides the
	// system's, for an https endpoint.
	CAFile string
	// InsecureSkipTLSVerify turns off certificate verification. Only when
	// asked: TLS verification is on by default.
	InsecureSkipTLSVerify bool
	// Profile names a profile of the AWS shared credentials file
	// (~/.aws/credentials, or $AWS_SHARED_CREDENTIALS_FILE) whose keys this
	// location uses, so that a fallback on another server has keys of its
	// own. It is a name, never a key.
	Profile string

	// Path is the absolute directory of a file location.
	Path string
}

// IsLocal says whether the repository is a local directory.
func (l Location) IsLocal() bool { return l.Scheme == SchemeFile }

// EndpointURL is the S3 endpoint in use, DefaultS3Endpoint when none is set.
func (l Location) EndpointURL() string {
	if l.Endpoint == "" {
		return DefaultS3Endpoint
	}
	return l.Endpoint
}

// String is the canonical URL of the location: ParseURL(l.String())
// returns l. It never contains a credential, since a Location holds none.
func (l Location) String() string {
	switch l.Scheme {
	case SchemeFile:
		return (&url.URL{Scheme: SchemeFile, Path: filepath.ToSlash(l.Path)}).String()
	case SchemeS3:
		var b strings.Builder
		b.WriteString("s3://" + l.Bucket)
		if l.Prefix != "" {
			b.WriteString("/" + l.Prefix)
		}
		sep := "?"
		param := func(name, value string) {
			b.WriteString(sep + name + "=" + escapeQueryValue(value))
			sep = "&"
		}
		if l.Endpoint != "" {
			param("endpoint", l.Endpoint)
		}
		if l.Region != "" {
			param("region", l.Region)
		}
		if l.BucketLookup != "" && l.BucketLookup != BucketLookupAuto {
			param("bucket-lookup", l.BucketLookup)
		}
		if l.CAFile != "" {
			param("ca-file", filepath.ToSlash(l.CAFile))
		}
		if l.InsecureSkipTLSVerify {
			param("insecure-skip-tls-verify", "true")
		}
		if l.Profile != "" {
			param("profile", l.Profile)
		}
		return b.String()
	}
	return fmt.Sprintf("<invalid location with scheme %q>", l.Scheme)
}

// Display is how backends name the location in messages: the bucket and
// prefix, and the server when it is not AWS.
func (l Location) Display() string {
	if l.IsLocal() {
		return l.Path
	}
	s := "s3://" + l.Bucket
	if l.Prefix != "" {
		s += "/" + l.Prefix
	}
	if l.Endpoint != "" {
		s += " (" + l.Endpoint + ")"
	}
	return s
}

// escapeQueryValue escapes what must be escaped in a query value, and
// leaves ':' and '/' alone so that endpoints stay readable.
func escapeQueryValue(v string) string {
	return strings.NewReplacer("%3A", ":", "%2F", "/").Replace(url.QueryEscape(v))
}

// ParseURL parses a repository URL:
//
//	s3://bucket[/prefix][?endpoint=https://host:port&region=r&bucket-lookup=path|dns|auto
//	                      &ca-file=/path/ca.pem&insecure-skip-tls-verify=true]
//	file:///absolute/path
//	/absolute/path, relative/path or ~/path   (a local directory)
//
// Errors name the input, with any credential in it hidden, and say what is
// accepted. Credentials in the URL are refused: they belong in the
// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or in flags.
func ParseURL(s string) (Location, error) {
	if strings.TrimSpace(s) == "" {
		return Location{}, invalidf("storage URL is empty; %s", acceptedURLs)
	}
	fail := func(format string, args ...any) error {
		return invalidf("storage URL %q: %s", redactURL(s), fmt.Sprintf(format, args...))
	}
	scheme, rest, isURL := strings.Cut(s, "://")
	if !isURL || !urlSchemePattern.MatchString(scheme) {
		return parseLocalPath(s, fail)
	}
	authority, _, _ := strings.Cut(rest, "?")
	authority, _, _ = strings.Cut(authority, "#")
	if strings.Contains(authority, "@") {
		return Location{}, fail("%s", credentialsInURL)
	}
	switch strings.ToLower(scheme) {
	case SchemeS3:
		return parseS3URL(s, fail)
	case SchemeFile:
		u, err := url.Parse(s)
		if err != nil {
			return Location{}, fail("%s; %s", urlErrorText(err), acceptedURLs)
		}
		if u.Host != "" && u.Host != "localhost" {
			return Location{}, fail("a file URL has no host; write file:///absolute/path (three slashes), or the path alone")
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return Location{}, fail("a file URL takes no parameters")
		}
		if u.Path == "" || !strings.HasPrefix(u.Path, "/") {
			return Location{}, fail("a file URL needs an absolute path: file:///absolute/path")
		}
		return Location{Scheme: SchemeFile, Path: filepath.Clean(filepath.FromSlash(u.Path))}, nil
	}
	return Location{}, fail("unsupported scheme %q; %s", scheme, acceptedURLs)
}

var urlSchemePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)

const credentialsInURL = "credentials do not belong in the URL, where they would show in logs and shell history; " +
	"set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or use the access key flags or storage.access_key_id and storage.secret_access_key)"

func parseLocalPath(s string, fail func(string, ...any) error) (Location, error) {
	p := s
	if p == "~" || strings.HasPrefix(p, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return Location{}, fail("cannot expand ~: %v", err)
		}
		p = filepath.Join(home, p[1:])
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return Location{}, fail("cannot make the path absolute: %v", err)
	}
	return Location{Scheme: SchemeFile, Path: abs}, nil
}

func parseS3URL(s string, fail func(string, ...any) error) (Location, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Location{}, fail("%s; %s", urlErrorText(err), acceptedURLs)
	}
	if u.Fragment != "" {
		return Location{}, fail("unexpected fragment #%s", u.Fragment)
	}
	loc := Location{Scheme: SchemeS3, Bucket: u.Host, Prefix: strings.Trim(u.Path, "/")}
	if loc.Bucket == "" {
		return Location{}, fail("names no bucket; %s", acceptedURLs)
	}
	if strings.Contains(loc.Bucket, ":") {
		return Location{}, fail("bucket %q has a port; give the server as ?endpoint=https://host:port", loc.Bucket)
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Location{}, fail("bad query: %s", urlErrorText(err))
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range query {
			if !yield(k) {
				return
			}
		}
	})
	for _, name := range names {
		values := query[name]
		if len(values) > 1 {
			return Location{}, fail("parameter %s is given %d times", name, len(values))
		}
		v := values[0]
		switch name {
		case "endpoint":
			loc.Endpoint = v
		case "region":
			loc.Region = v
		case "bucket-lookup":
			loc.BucketLookup = v
		case "ca-file":
			if v == "" {
				return Location{}, fail("ca-file is empty")
			}
			abs, err := filepath.Abs(v)
			if err != nil {
				return Location{}, fail("ca-file: %v", err)
			}
			loc.CAFile = abs
		case "insecure-skip-tls-verify":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return Location{}, fail("insecure-skip-tls-verify=%q: want true or false", v)
			}
			loc.InsecureSkipTLSVerify = b
		case "profile":
			if v == "" {
				return Location{}, fail("profile is empty; give the name of a profile of the AWS shared credentials file")
			}
			loc.Profile = v
		default:
			return Location{}, fail("unknown parameter %q; accepted: endpoint, region, bucket-lookup, ca-file, insecure-skip-tls-verify, profile", name)
		}
	}
	loc, err = loc.normalized()
	if err != nil {
		return Location{}, fail("%s", err.Error())
	}
	return loc, nil
}

// Validate checks a Location built by hand (from configuration fields
// rather than a URL).
func (l Location) Validate() error {
	_, err := l.normalized()
	if err != nil {
		return invalidf("storage location %s: %v", l.Display(), err)
	}
	return nil
}

// Normalized checks the location and returns it in canonical form; the
// error, wrapping ErrInvalid, names the location.
func (l Location) Normalized() (Location, error) {
	n, err := l.normalized()
	if err != nil {
		return l, invalidf("storage location %s: %v", l.Display(), err)
	}
	return n, nil
}

// normalized checks the location and returns it in canonical form.
func (l Location) normalized() (Location, error) {
	switch l.Scheme {
	case SchemeFile:
		if l.Path == "" || !filepath.IsAbs(l.Path) {
			return l, fmt.Errorf("directory %q is not an absolute path", l.Path)
		}
		l.Path = filepath.Clean(l.Path)
		return l, nil
	case SchemeS3:
	default:
		return l, fmt.Errorf("unsupported scheme %q; %s", l.Scheme, acceptedURLs)
	}
	if err := validateBucketName(l.Bucket); err != nil {
		return l, err
	}
	l.Prefix = strings.Trim(l.Prefix, "/")
	if l.Prefix != "" {
		for seg := range strings.SplitSeq(l.Prefix, "/") {
			if err := validatePrefixSegment(seg); err != nil {
				return l, fmt.Errorf("prefix %q: %v", l.Prefix, err)
			}
		}
	}
	if l.Endpoint != "" {
		ep, err := canonicalEndpoint(l.Endpoint)
		if err != nil {
			return l, err
		}
		l.Endpoint = ep
	}
	switch l.BucketLookup {
	case "", BucketLookupAuto:
		l.BucketLookup = ""
	case BucketLookupPath, BucketLookupDNS:
	default:
		return l, fmt.Errorf("bucket-lookup %q: want path, dns or auto", l.BucketLookup)
	}
	if l.Region != "" && !regionPattern.MatchString(l.Region) {
		return l, fmt.Errorf("region %q: want a region name like us-east-1", l.Region)
	}
	if strings.HasPrefix(l.EndpointURL(), "http://") && (l.CAFile != "" || l.InsecureSkipTLSVerify) {
		return l, fmt.Errorf("ca-file and insecure-skip-tls-verify apply to https endpoints only, and the endpoint %s is plain http", l.Endpoint)
	}
	return l, nil
}

var regionPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

func canonicalEndpoint(raw string) (string, error) {
	want := "want http://host:port or https://host:port"
	if !strings.Contains(raw, "://") {
		return "", fmt.Errorf("endpoint %q has no scheme; write https://%s (TLS) or http://%s", raw, raw, raw)
	}
	// An endpoint has no other use for '@'; a secret may hold '/', so the
	// host part cannot be found reliably.
	if strings.Contains(raw, "@") {
		return "", errors.New(credentialsInURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("endpoint: %s; %s", urlErrorText(err), want)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", fmt.Errorf("endpoint %q: scheme %q; %s", raw, u.Scheme, want)
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("endpoint %q names no host; %s", raw, want)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("endpoint %q: port %q is not a port number", raw, port)
		}
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("endpoint %q has a path or query; the bucket and prefix go in s3://bucket/prefix, the endpoint is only %s://%s", raw, scheme, u.Host)
	}
	return scheme + "://" + strings.ToLower(u.Host), nil
}

// validateBucketName applies the S3 bucket naming rules.
func validateBucketName(b string) error {
	bad := func(why string) error {
		return fmt.Errorf("bucket name %q %s (S3 bucket names are 3 to 63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit)", b, why)
	}
	switch {
	case b == "":
		return errors.New("no bucket given; " + acceptedURLs)
	case len(b) < 3:
		return bad("is too short")
	case len(b) > 63:
		return bad("is too long")
	case strings.ToLower(b) != b:
		return bad("has upper-case letters")
	}
	for _, r := range b {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
			return bad(fmt.Sprintf("has the character %q", r))
		}
	}
	first, last := b[0], b[len(b)-1]
	if !isAlnum(first) || !isAlnum(last) {
		return bad("does not start and end with a letter or digit")
	}
	if strings.Contains(b, "..") || strings.Contains(b, ".-") || strings.Contains(b, "-.") {
		return bad("has '..', '.-' or '-.'")
	}
	if net.ParseIP(b) != nil {
		return bad("is an IP address")
	}
	for _, p := range []string{"xn--", "sthree-"} {
		if strings.HasPrefix(b, p) {
			return bad("starts with the reserved " + p)
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3"} {
		if strings.HasSuffix(b, s) {
			return bad("ends with the reserved " + s)
		}
	}
	return nil
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// validatePrefixSegment keeps prefixes to characters that need no
// escaping in any S3 tool.
func validatePrefixSegment(seg string) error {
	if seg == "" {
		return errors.New("has an empty path segment (//)")
	}
	if seg == "." || seg == ".." {
		return fmt.Errorf("has the segment %q", seg)
	}
	for _, r := range seg {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.=+", r)) {
			return fmt.Errorf("has the character %q; use letters, digits and - _ . = +", r)
		}
	}
	return nil
}

func urlErrorText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

var (
	userinfoPattern    = regexp.MustCompile(`://[^@]*@`)
	credentialLikeName = regexp.MustCompile(`(?i)secret|password|token|key|credential|signature`)
)

// redactURL hides user info and credential-like query values, so that an
// error can show what the user typed without showing a secret.
func redactURL(s string) string {
	s = userinfoPattern.ReplaceAllString(s, "://REDACTED@")
	base, query, ok := strings.Cut(s, "?")
	if !ok {
		return s
	}
	parts := strings.Split(query, "&")
	for i, p := range parts {
		name, _, hasValue := strings.Cut(p, "=")
		if hasValue && credentialLikeName.MatchString(name) {
			parts[i] = name + "=REDACTED"
		}
	}
	return base + "?" + strings.Join(parts, "&")
}

// DefaultLocation is the local repository used when none is configured:
// $XDG_DATA_HOME/kbackup, or ~/.local/share/kbackup.
func DefaultLocation() (Location, error) {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return Location{Scheme: SchemeFile, Path: filepath.Join(d, "kbackup")}, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return Location{}, fmt.Errorf("finding the default repository directory: %w; set XDG_DATA_HOME or give a storage URL", err)
	}
	return Location{Scheme: SchemeFile, Path: filepath.Join(home, ".local", "share", "kbackup")}, nil
}
