package repo

import (
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kbackup/kbackup/core/fleet"
)

// ValidateClusterName checks a cluster name with the fleet's rule
// (fleet.ValidateClusterName): a DNS-1123 label that does not start with
// '_'. Its error is a field error at cluster.name, wrapping
// storage.ErrInvalid.
func ValidateClusterName(name string) error {
	return invalidFields(fleet.ValidateClusterName(field.NewPath("cluster", "name"), name))
}

// ValidateNamespace checks a namespace name (a DNS-1123 label; the
// reserved '_' cannot occur in one).
func ValidateNamespace(name string) error {
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return invalidf("namespace %q: %s", name, strings.Join(errs, "; "))
	}
	return nil
}

// ValidateResource checks a resource.group name as
// schema.GroupResource.String() writes it: "configmaps" for the core group,
// "deployments.apps", "certificates.cert-manager.io".
func ValidateResource(resourceGroup string) error {
	gr := schema.ParseGroupResource(resourceGroup)
	if gr.Resource == "" || len(validation.IsDNS1123Label(gr.Resource)) > 0 {
		return invalidf("resource %q: want a lower-case resource name with its group, like configmaps or deployments.apps", resourceGroup)
	}
	if strings.HasSuffix(resourceGroup, ".") {
		return invalidf("resource %q ends with '.'; the core group is written without a group: configmaps", resourceGroup)
	}
	if gr.Group != "" {
		if errs := validation.IsDNS1123Subdomain(gr.Group); len(errs) > 0 {
			return invalidf("resource %q: group %q: %s", resourceGroup, gr.Group, strings.Join(errs, "; "))
		}
	}
	return nil
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

// validateID checks backup, restore, schedule and probe names, which are
// key segments: letters, digits, '-' and '_', starting with a letter or
// digit, at most 128 characters.
func validateID(what, id string) error {
	if !idPattern.MatchString(id) {
		return invalidf("%s %q: want 1 to 128 letters, digits, '-' and '_', starting with a letter or digit", what, id)
	}
	return nil
}

// ValidateRunID checks the ID of a run (a command, or a fleet run over many
// clusters), which manifests and restore records carry: the form of a
// backup ID.
func ValidateRunID(id string) error { return validateID("run ID", id) }

// ValidateBackupID checks a backup ID.
func ValidateBackupID(id string) error { return validateID("backup ID", id) }

var sha256Pattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

func validateSHA256(h string) error {
	if !sha256Pattern.MatchString(h) {
		return invalidf("sha256 %q: want 64 lower-case hexadecimal digits", h)
	}
	return nil
}

// NewRunID returns the ID of a new run (a command, or a fleet run over many
// clusters): run-20260102T030405Z-1a2b3c.
func NewRunID(t time.Time) string { return "run-" + NewID(t) }

// NewID returns an ID that sorts by time and does not collide:
// 20260102T030405Z-1a2b3c.
func NewID(t time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
