package clean

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
)

// NamespaceMapping renames namespaces: source name to target name.
type NamespaceMapping map[string]string

// ParseNamespaceMapping reads "a:b,c:d". Each side must be a namespace name;
// a source may appear once, and two sources may not map onto one target
// (their objects would collide).
func ParseNamespaceMapping(s string) (NamespaceMapping, error) {
	m := NamespaceMapping{}
	if strings.TrimSpace(s) == "" {
		return m, nil
	}
	for _, pair := range strings.Split(s, ",") {
		from, to, ok := strings.Cut(strings.TrimSpace(pair), ":")
		if !ok {
			return nil, fmt.Errorf("namespace mapping %q: %q is not source:target; write it as old:new,other:new-other", s, pair)
		}
		if err := m.Add(strings.TrimSpace(from), strings.TrimSpace(to)); err != nil {
			return nil, fmt.Errorf("namespace mapping %q: %w", s, err)
		}
	}
	return m, nil
}

// Add adds one mapping, with the checks of ParseNamespaceMapping.
func (m NamespaceMapping) Add(from, to string) error {
	for _, n := range []string{from, to} {
		if errs := validation.IsDNS1123Label(n); len(errs) > 0 {
			return fmt.Errorf("%q is not a namespace name: %s", n, strings.Join(errs, "; "))
		}
	}
	if prev, ok := m[from]; ok {
		return fmt.Errorf("namespace %s is mapped twice (to %s and to %s)", from, prev, to)
	}
	for src, dst := range m {
		if dst == to {
			return fmt.Errorf("namespaces %s and %s both map to %s; their objects would collide", src, from, to)
		}
	}
	m[from] = to
	return nil
}

// Validate checks a mapping built by hand.
func (m NamespaceMapping) Validate() error {
	check := NamespaceMapping{}
	var errs []error
	for _, from := range slices.Sorted(maps.Keys(m)) {
		if err := check.Add(from, m[from]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Map returns the target name of namespace ns ("" stays "").
func (m NamespaceMapping) Map(ns string) string {
	if to, ok := m[ns]; ok && ns != "" {
		return to
	}
	return ns
}

// String writes the mapping as ParseNamespaceMapping reads it, sorted.
func (m NamespaceMapping) String() string {
	var parts []string
	for _, from := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, from+":"+m[from])
	}
	return strings.Join(parts, ",")
}

// MappedReference is a place in an object that names a namespace, and is
// renamed with it.
type MappedReference struct {
	Kind string
	Path string
	Why  string
}

// MappedReferences documents what Apply renames besides metadata.namespace.
// References inside custom resources are not known, and not renamed.
var MappedReferences = []MappedReference{
	{"Namespace", "metadata.name, and the label kubernetes.io/metadata.name", "the namespace itself is renamed"},
	{"RoleBinding, ClusterRoleBinding", "subjects[].namespace", "a ServiceAccount subject names the namespace of its account"},
	{"PersistentVolume", "spec.claimRef.namespace", "a volume is bound to the claim in that namespace"},
	{"PersistentVolume", "spec.csi.*SecretRef.namespace", "the CSI driver reads its secrets from that namespace"},
	{"StorageClass", "parameters csi.storage.k8s.io/*-secret-namespace", "the same, for volumes provisioned from the class"},
	{"NetworkPolicy", "namespaceSelector on the label kubernetes.io/metadata.name (matchLabels and In/NotIn expressions)", "the usual way to allow traffic from a named namespace"},
	{"Pods and Pod templates (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob, ReplicationController)", "affinity pod(Anti)Affinity terms: namespaces[] and namespaceSelector on kubernetes.io/metadata.name", "scheduling next to (or away from) pods of a named namespace"},
	{"Service", "spec.externalName ending in .<namespace>.svc or .<namespace>.svc.<cluster domain>", "an ExternalName alias of a Service in a mapped namespace"},
	{"Endpoints, EndpointSlice", "targetRef.namespace of each address or endpoint", "they name the Pods behind a Service"},
	{"MutatingWebhookConfiguration, ValidatingWebhookConfiguration", "webhooks[].clientConfig.service.namespace", "the webhook's Service"},
	{"APIService", "spec.service.namespace", "the Service of an aggregated API"},
	{"CustomResourceDefinition", "spec.conversion.webhook.clientConfig.service.namespace", "the conversion webhook's Service"},
}

const labelNamespaceName = "kubernetes.io/metadata.name"

// Apply renames the namespace of obj and the references to namespaces that
// MappedReferences lists. It changes obj in place.
func (m NamespaceMapping) Apply(obj *unstructured.Unstructured) {
	if len(m) == 0 {
		return
	}
	o := obj.Object
	if ns := obj.GetNamespace(); ns != "" {
		obj.SetNamespace(m.Map(ns))
	}
	mapField := func(holder map[string]any, field string) {
		if ns, ok := holder[field].(string); ok && ns != "" {
			holder[field] = m.Map(ns)
		}
	}
	switch obj.GetKind() {
	case "Namespace":
		obj.SetName(m.Map(obj.GetName()))
		mapField(mapAt(o, "metadata", "labels"), labelNamespaceName)
	case "RoleBinding", "ClusterRoleBinding":
		for _, s := range sliceAt(o, "subjects") {
			if subject, ok := s.(map[string]any); ok {
				mapField(subject, "namespace")
			}
		}
	case "PersistentVolume":
		mapField(mapAt(o, "spec", "claimRef"), "namespace")
		for _, ref := range []string{"nodePublishSecretRef", "nodeStageSecretRef", "controllerPublishSecretRef",
			"controllerExpandSecretRef", "nodeExpandSecretRef"} {
			mapField(mapAt(o, "spec", "csi", ref), "namespace")
		}
	case "StorageClass":
		params := mapAt(o, "parameters")
		for key := range params {
			if strings.HasPrefix(key, "csi.storage.k8s.io/") && strings.HasSuffix(key, "-secret-namespace") {
				mapField(params, key)
			}
		}
	case "NetworkPolicy":
		for _, dir := range []struct{ rules, peers string }{{"ingress", "from"}, {"egress", "to"}} {
			for _, r := range sliceAt(o, "spec", dir.rules) {
				rule, _ := r.(map[string]any)
				for _, p := range sliceAt(rule, dir.peers) {
					peer, _ := p.(map[string]any)
					m.mapNamespaceSelector(mapAt(peer, "namespaceSelector"))
				}
			}
		}
	case "Pod":
		m.mapPodSpec(mapAt(o, "spec"))
	case "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "ReplicationController":
		m.mapPodSpec(mapAt(o, "spec", "template", "spec"))
	case "CronJob":
		m.mapPodSpec(mapAt(o, "spec", "jobTemplate", "spec", "template", "spec"))
	case "Service":
		spec := mapAt(o, "spec")
		if name, ok := spec["externalName"].(string); ok {
			spec["externalName"] = m.mapServiceDNSName(name)
		}
	case "Endpoints":
		for _, s := range sliceAt(o, "subsets") {
			subset, _ := s.(map[string]any)
			for _, list := range []string{"addresses", "notReadyAddresses"} {
				for _, a := range sliceAt(subset, list) {
					addr, _ := a.(map[string]any)
					mapField(mapAt(addr, "targetRef"), "namespace")
				}
			}
		}
	case "EndpointSlice":
		for _, e := range sliceAt(o, "endpoints") {
			endpoint, _ := e.(map[string]any)
			mapField(mapAt(endpoint, "targetRef"), "namespace")
		}
	case "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration":
		for _, w := range sliceAt(o, "webhooks") {
			webhook, _ := w.(map[string]any)
			mapField(mapAt(webhook, "clientConfig", "service"), "namespace")
		}
	case "APIService":
		mapField(mapAt(o, "spec", "service"), "namespace")
	case "CustomResourceDefinition":
		mapField(mapAt(o, "spec", "conversion", "webhook", "clientConfig", "service"), "namespace")
	}
}

// mapPodSpec renames the namespaces that pod (anti-)affinity terms name.
func (m NamespaceMapping) mapPodSpec(spec map[string]any) {
	for _, kind := range []string{"podAffinity", "podAntiAffinity"} {
		affinity := mapAt(spec, "affinity", kind)
		var terms []map[string]any
		for _, t := range sliceAt(affinity, "requiredDuringSchedulingIgnoredDuringExecution") {
			if term, ok := t.(map[string]any); ok {
				terms = append(terms, term)
			}
		}
		for _, t := range sliceAt(affinity, "preferredDuringSchedulingIgnoredDuringExecution") {
			if weighted, ok := t.(map[string]any); ok {
				terms = append(terms, mapAt(weighted, "podAffinityTerm"))
			}
		}
		for _, term := range terms {
			if names, ok := term["namespaces"].([]any); ok {
				for i, n := range names {
					if s, ok := n.(string); ok {
						names[i] = m.Map(s)
					}
				}
			}
			m.mapNamespaceSelector(mapAt(term, "namespaceSelector"))
		}
	}
}

// mapNamespaceSelector renames namespaces selected by name through the
// label every namespace carries, kubernetes.io/metadata.name.
func (m NamespaceMapping) mapNamespaceSelector(sel map[string]any) {
	labels := mapAt(sel, "matchLabels")
	if ns, ok := labels[labelNamespaceName].(string); ok {
		labels[labelNamespaceName] = m.Map(ns)
	}
	for _, e := range sliceAt(sel, "matchExpressions") {
		expr, _ := e.(map[string]any)
		if expr["key"] != labelNamespaceName {
			continue
		}
		if values, ok := expr["values"].([]any); ok {
			for i, v := range values {
				if s, ok := v.(string); ok {
					values[i] = m.Map(s)
				}
			}
		}
	}
}

// mapServiceDNSName renames the namespace in <service>.<namespace>.svc[...].
func (m NamespaceMapping) mapServiceDNSName(name string) string {
	parts := strings.Split(name, ".")
	if len(parts) >= 3 && parts[2] == "svc" {
		parts[1] = m.Map(parts[1])
	}
	return strings.Join(parts, ".")
}
