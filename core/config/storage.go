package config

import (
	"fmt"
	"net/url"
	"strings"
)

// location is what storage.url says that the spelled-out storage fields can
// also say. It is read only deeply enough to compare the two; core/repo
// owns the repository URL.
type location struct {
	local                            bool // file:///path or a bare path
	bucket, prefix, endpoint, region string
	problem                          string // why the URL is not a repository URL
}

func splitLocation(raw string) location {
	if raw == "" {
		return location{}
	}
	if !strings.Contains(raw, "://") {
		return location{local: true}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return location{problem: "is not a URL: " + strings.TrimPrefix(err.Error(), "parse ")}
	}
	switch u.Scheme {
	case "file":
		return location{local: true}
	case "s3":
		q := u.Query()
		loc := location{bucket: u.Host, prefix: strings.Trim(u.Path, "/"), endpoint: q.Get("endpoint"), region: q.Get("region")}
		if loc.bucket == "" {
			loc.problem = "names no bucket; want s3://bucket/prefix"
		}
		return loc
	}
	return location{problem: fmt.Sprintf("has scheme %q; want s3://bucket/prefix?endpoint=https://host:port&region=r, file:///path or a directory path", u.Scheme)}
}

// locationFields are the spelled-out form of storage.url.
var locationFields = []struct {
	key string
	get func(*Storage) *string
	// fromURL picks the same part out of storage.url.
	fromURL func(location) string
}{
	{"storage.bucket", func(s *Storage) *string { return &s.Bucket }, func(l location) string { return l.bucket }},
	{"storage.prefix", func(s *Storage) *string { return &s.Prefix }, func(l location) string { return l.prefix }},
	{"storage.endpoint", func(s *Storage) *string { return &s.Endpoint }, func(l location) string { return l.endpoint }},
	{"storage.region", func(s *Storage) *string { return &s.Region }, func(l location) string { return l.region }},
}

// reconcileLocation lets storage.url win over the spelled-out fields set
// below it: the default bucket, the base under an environment's url, the file
// under KBACKUP_STORAGE or a flag. Those describe a location that the url
// replaced, so they are cleared. Fields set at the url's level or above stay,
// and Validate checks that they agree with it.
func (c *Config) reconcileLocation() {
	if c.Storage.URL == "" {
		return
	}
	if c.origins == nil {
		c.origins = map[string]origin{}
	}
	urlOrigin := c.origins["storage.url"]
	for _, f := range locationFields {
		p := f.get(&c.Storage)
		if *p == "" || c.origins[f.key].level >= urlOrigin.level {
			continue
		}
		*p = ""
		c.origins[f.key] = origin{level: urlOrigin.level, source: "cleared by storage.url from " + urlOrigin.String()}
	}
}
