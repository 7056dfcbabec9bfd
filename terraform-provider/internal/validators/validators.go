// Package validators checks attributes at plan time with core's rules, so
// that OpenTofu, the plugin and the repository accept the same values. Each
// core field error becomes a diagnostic on the attribute being checked.
package validators

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/storage"
)

// String runs check on a known, non-null value and reports what it finds
// on the attribute.
func String(description string, check func(p *field.Path, v string) field.ErrorList) validator.String {
	return stringCheck{description: description, check: check}
}

type stringCheck struct {
	description string
	check       func(p *field.Path, v string) field.ErrorList
}

func (c stringCheck) Description(context.Context) string         { return c.description }
func (c stringCheck) MarkdownDescription(context.Context) string { return c.description }

func (c stringCheck) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	for _, e := range c.check(field.NewPath("value"), req.ConfigValue.ValueString()) {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid "+req.Path.String(), errorText(e))
	}
}

// errorText is a field error without its path: the diagnostic is on the
// attribute already.
func errorText(e *field.Error) string {
	switch e.Type {
	case field.ErrorTypeRequired:
		return "required: " + e.Detail
	case field.ErrorTypeNotSupported:
		return e.ErrorBody()
	}
	if s, ok := e.BadValue.(string); ok && s == "" {
		return e.Detail
	}
	if e.BadValue != nil && !strings.Contains(e.Detail, fmt.Sprint(e.BadValue)) {
		return fmt.Sprintf("%v %s", quote(e.BadValue), e.Detail)
	}
	if strings.HasPrefix(e.Detail, "is ") || strings.HasPrefix(e.Detail, "has ") {
		return "The value " + e.Detail
	}
	return e.Detail
}

func quote(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v)
}

// ClusterName is a DNS-1123 label that does not start with '_'.
func ClusterName() validator.String {
	return String("a DNS-1123 label (lower-case letters, digits and '-', at most 63 characters), like prod-eu", fleet.ValidateClusterName)
}

// Name is a schedule's or retention policy's name.
func Name() validator.String {
	return String("1 to 128 letters, digits, '-' and '_', starting with a letter or digit", fleet.ValidateName)
}

// Environment is an environment name such as dev or prod.
func Environment() validator.String {
	return String("an environment name, a DNS-1123 label like dev or prod", func(p *field.Path, v string) field.ErrorList {
		e := fleet.ClusterEntry{Name: "probe", UID: "-", Environment: v}
		return e.Validate(field.NewPath("cluster"))
	})
}

// Region is a region such as eu-west-1.
func Region() validator.String {
	return String("a region, a DNS-1123 label like eu-west-1", func(p *field.Path, v string) field.ErrorList {
		e := fleet.ClusterEntry{Name: "probe", UID: "-", Region: v}
		return e.Validate(field.NewPath("cluster"))
	})
}

// Cron is a cron expression as fleet.ValidateCron takes it.
func Cron() validator.String {
	return String(fleet.CronHint, func(p *field.Path, v string) field.ErrorList {
		return fleet.ValidateCron(p, field.NewPath("time_zone"), v, "")
	})
}

// TimeZone is an IANA time zone.
func TimeZone() validator.String {
	return String("an IANA time zone like Europe/Paris or UTC", func(p *field.Path, v string) field.ErrorList {
		return fleet.ValidateCron(field.NewPath("cron"), p, "@daily", v)
	})
}

// Within is a keep_within duration (90d, 36h, 1d12h).
func Within() validator.String {
	return String("a duration like 90d, 36h or 1d12h", func(p *field.Path, v string) field.ErrorList {
		if _, err := fleet.ParseWithin(v); err != nil {
			return field.ErrorList{field.Invalid(p, v, err.Error())}
		}
		return nil
	})
}

// StorageURL is a repository URL as storage.ParseURL takes it.
func StorageURL() validator.String {
	return String("a repository URL: s3://bucket/prefix?endpoint=https://host:port, file:///path or a path", func(p *field.Path, v string) field.ErrorList {
		if _, err := storage.ParseURL(v); err != nil {
			return field.ErrorList{field.Invalid(p, "", err.Error())}
		}
		return nil
	})
}

// Quantity is a Kubernetes quantity such as 2Gi or 500m.
func Quantity() validator.String {
	return String("a Kubernetes quantity like 2Gi or 500m", func(p *field.Path, v string) field.ErrorList {
		if _, err := resource.ParseQuantity(v); err != nil {
			return field.ErrorList{field.Invalid(p, v, "is not a Kubernetes quantity; want one like 2Gi or 500m")}
		}
		return nil
	})
}
