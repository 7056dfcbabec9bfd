package clean

import (
	"fmt"
	"reflect"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Default is a field the API server sets to a known value when the user
// leaves it out. Declared removes it where it holds exactly that value: the
// server would set it again, so the object means the same without it.
type Default struct {
	// Kind is the object's kind (built-in kinds only: a custom resource's
	// defaults are its definition's, which a backup need not hold).
	Kind string
	// Path is the field, dotted, with [] for every item of a list
	// (spec.template.spec.containers[].terminationMessagePath).
	Path string
	// Value is the default; a field holding anything else is kept.
	Value any
}

// podSpecDefaults are the defaults of a PodSpec, relative to it.
var podSpecDefaults = []struct {
	path  string
	value any
}{
	{"dnsPolicy", "ClusterFirst"},
	{"schedulerName", "default-scheduler"},
	{"securityContext", map[string]any{}},
	{"terminationGracePeriodSeconds", int64(30)},
	{"containers[].terminationMessagePath", "/dev/termination-log"},
	{"containers[].terminationMessagePolicy", "File"},
	{"containers[].resources", map[string]any{}},
	{"containers[].ports[].protocol", "TCP"},
	{"initContainers[].terminationMessagePath", "/dev/termination-log"},
	{"initContainers[].terminationMessagePolicy", "File"},
	{"initContainers[].resources", map[string]any{}},
	{"initContainers[].ports[].protocol", "TCP"},
	{"volumes[].configMap.defaultMode", int64(420)},
	{"volumes[].secret.defaultMode", int64(420)},
	{"volumes[].projected.defaultMode", int64(420)},
	{"volumes[].downwardAPI.defaultMode", int64(420)},
	{"volumes[].downwardAPI.items[].fieldRef.apiVersion", "v1"},
	{"containers[].env[].valueFrom.fieldRef.apiVersion", "v1"},
}

// probeDefaults are the defaults of a container's probes, relative to the
// probe.
var probeDefaults = []struct {
	path  string
	value any
}{
	{"timeoutSeconds", int64(1)},
	{"periodSeconds", int64(10)},
	{"successThreshold", int64(1)},
	{"failureThreshold", int64(3)},
	{"httpGet.scheme", "HTTP"},
	{"httpGet.path", "/"},
}

// podTemplates are where each built-in kind holds a PodSpec, and whether
// its restartPolicy defaults to Always (Jobs have no default).
var podTemplates = []struct {
	kind, prefix  string
	restartAlways bool
}{
	{"Pod", "spec", true},
	{"Deployment", "spec.template.spec", true},
	{"ReplicaSet", "spec.template.spec", true},
	{"StatefulSet", "spec.template.spec", true},
	{"DaemonSet", "spec.template.spec", true},
	{"ReplicationController", "spec.template.spec", true},
	{"Job", "spec.template.spec", false},
	{"CronJob", "spec.jobTemplate.spec.template.spec", false},
}

// Defaults are the fields Declared removes where they hold the value the
// API server would give them. Each is checked against a real API server
// (TestDefaultsAreTheServers): an object without the field, created and
// read back, has it with this value.
var Defaults = buildDefaults()

func buildDefaults() []Default {
	d := []Default{
		{"Deployment", "spec.replicas", int64(1)},
		{"ReplicaSet", "spec.replicas", int64(1)},
		{"StatefulSet", "spec.replicas", int64(1)},
		{"ReplicationController", "spec.replicas", int64(1)},
		{"Pod", "spec.enableServiceLinks", true},
		{"Pod", "spec.preemptionPolicy", "PreemptLowerPriority"},
		{"Deployment", "spec.progressDeadlineSeconds", int64(600)},
		{"Deployment", "spec.revisionHistoryLimit", int64(10)},
		{"Deployment", "spec.strategy", map[string]any{"type": "RollingUpdate",
			"rollingUpdate": map[string]any{"maxSurge": "25%", "maxUnavailable": "25%"}}},
		{"StatefulSet", "spec.podManagementPolicy", "OrderedReady"},
		{"StatefulSet", "spec.revisionHistoryLimit", int64(10)},
		// Two defaults: with and without the MaxUnavailableStatefulSet
		// feature, whichever the server has.
		{"StatefulSet", "spec.updateStrategy", map[string]any{"type": "RollingUpdate",
			"rollingUpdate": map[string]any{"partition": int64(0)}}},
		{"StatefulSet", "spec.updateStrategy", map[string]any{"type": "RollingUpdate",
			"rollingUpdate": map[string]any{"partition": int64(0), "maxUnavailable": int64(1)}}},
		{"StatefulSet", "spec.persistentVolumeClaimRetentionPolicy", map[string]any{"whenDeleted": "Retain", "whenScaled": "Retain"}},
		{"StatefulSet", "spec.volumeClaimTemplates[].apiVersion", "v1"},
		{"StatefulSet", "spec.volumeClaimTemplates[].kind", "PersistentVolumeClaim"},
		{"StatefulSet", "spec.volumeClaimTemplates[].spec.volumeMode", "Filesystem"},
		{"StatefulSet", "spec.volumeClaimTemplates[].status", map[string]any{"phase": "Pending"}},
		{"DaemonSet", "spec.revisionHistoryLimit", int64(10)},
		{"DaemonSet", "spec.updateStrategy", map[string]any{"type": "RollingUpdate",
			"rollingUpdate": map[string]any{"maxSurge": int64(0), "maxUnavailable": int64(1)}}},
		{"CronJob", "spec.concurrencyPolicy", "Allow"},
		{"CronJob", "spec.failedJobsHistoryLimit", int64(1)},
		{"CronJob", "spec.successfulJobsHistoryLimit", int64(3)},
		{"CronJob", "spec.suspend", false},
		{"Job", "spec.backoffLimit", int64(6)},
		{"Job", "spec.completionMode", "NonIndexed"},
		{"Job", "spec.completions", int64(1)},
		{"Job", "spec.parallelism", int64(1)},
		{"Job", "spec.suspend", false},
		{"Job", "spec.podReplacementPolicy", "TerminatingOrFailed"},
		{"Job", "spec.manualSelector", false},
		{"Service", "spec.sessionAffinity", "None"},
		{"Service", "spec.type", "ClusterIP"},
		{"Service", "spec.internalTrafficPolicy", "Cluster"},
		{"Service", "spec.externalTrafficPolicy", "Cluster"},
		{"Service", "spec.ipFamilyPolicy", "SingleStack"},
		{"Service", "spec.ports[].protocol", "TCP"},
		{"PersistentVolumeClaim", "spec.volumeMode", "Filesystem"},
		{"PersistentVolume", "spec.volumeMode", "Filesystem"},
		{"PersistentVolume", "spec.persistentVolumeReclaimPolicy", "Retain"},
		{"PersistentVolume", "spec.hostPath.type", ""},
		{"Namespace", "spec", map[string]any{"finalizers": []any{"kubernetes"}}},
		{"PriorityClass", "preemptionPolicy", "PreemptLowerPriority"},
		{"StorageClass", "reclaimPolicy", "Delete"},
		{"StorageClass", "volumeBindingMode", "Immediate"},
		{"CustomResourceDefinition", "spec.conversion", map[string]any{"strategy": "None"}},
		{"NetworkPolicy", "spec.ingress[].ports[].protocol", "TCP"},
		{"NetworkPolicy", "spec.egress[].ports[].protocol", "TCP"},
	}
	for _, t := range podTemplates {
		for _, p := range podSpecDefaults {
			d = append(d, Default{t.kind, t.prefix + "." + p.path, p.value})
		}
		for _, c := range []string{"containers[]", "initContainers[]"} {
			for _, probe := range []string{"livenessProbe", "readinessProbe", "startupProbe"} {
				for _, p := range probeDefaults {
					d = append(d, Default{t.kind, t.prefix + "." + c + "." + probe + "." + p.path, p.value})
				}
			}
		}
		if t.restartAlways {
			d = append(d, Default{t.kind, t.prefix + ".restartPolicy", "Always"})
		}
	}
	return d
}

// defaultsByKind indexes Defaults.
var defaultsByKind = func() map[string][]Default {
	m := map[string][]Default{}
	for _, d := range Defaults {
		m[d.Kind] = append(m[d.Kind], d)
	}
	return m
}()

// DeclaredRules are what Declared removes beyond Rules, with their reasons;
// docs/export.md lists them.
var DeclaredRules = []Rule{
	{
		Name: "last-applied",
		What: "the annotation " + AnnotationLastApplied + ", and the annotation deprecated.daemonset.template.generation",
		Why:  "the first is kubectl's copy of the object itself, the second the API server's counter; a file in Git is the object as declared",
	},
	{
		Name: "owner-references",
		What: "metadata.ownerReferences",
		Why:  "an owner reference names its owner by UID, which Git cannot know; objects a controller owns are left out altogether",
	},
	{
		Name: "namespace-name-label",
		What: "the label kubernetes.io/metadata.name of Namespaces",
		Why:  "the API server sets it to the namespace's name",
	},
	{
		Name: "cluster-specific",
		What: "Service spec.ipFamilies, PersistentVolumeClaim spec.volumeName, Pod template metadata.creationTimestamp",
		Why:  "the target chooses its IP families and binds its own volumes; an empty creationTimestamp is an artefact of serialisation",
	},
	{
		Name: "status-always",
		What: ".status, whatever KeepStatus says",
		Why:  "status is observed, never declared",
	},
	{
		Name: "defaults",
		What: "fields holding the value the API server would give them (Defaults, per built-in kind), and a Service port's targetPort equal to its port",
		Why:  "the server sets them again; left out, the file says only what its author chose",
	},
	{
		Name: "image-pull-policy",
		What: "a container's imagePullPolicy when it is the default for its image (Always for :latest or no tag, else IfNotPresent)",
		Why:  "the server sets it from the image reference",
	},
}

// Declared cleans obj in place as a person would write it for Git: every
// rule of Object, then DeclaredRules. What a restore needs to keep (the
// last-applied annotation, owner references it re-links) goes too.
func Declared(obj *unstructured.Unstructured, opts Options) *unstructured.Unstructured {
	opts.KeepStatus = false
	Object(obj, opts)
	o := obj.Object
	kind := obj.GetKind()
	ann := mapAt(o, "metadata", "annotations")
	delete(ann, AnnotationLastApplied)
	delete(ann, "deprecated.daemonset.template.generation")
	delete(mapAt(o, "metadata"), "ownerReferences")
	switch kind {
	case "Namespace":
		labels := mapAt(o, "metadata", "labels")
		if labels["kubernetes.io/metadata.name"] == obj.GetName() {
			delete(labels, "kubernetes.io/metadata.name")
		}
	case "Service":
		spec := mapAt(o, "spec")
		delete(spec, "ipFamilies")
		for _, p := range sliceAt(o, "spec", "ports") {
			if port, ok := p.(map[string]any); ok && port["targetPort"] != nil && equalValues(port["targetPort"], port["port"]) {
				delete(port, "targetPort")
			}
		}
	case "PersistentVolumeClaim":
		delete(mapAt(o, "spec"), "volumeName")
		removeFinalizer(o, "kubernetes.io/pvc-protection")
	case "PersistentVolume":
		removeFinalizer(o, "kubernetes.io/pv-protection")
	case "Pod":
		// Admission sets the priority from the PriorityClass, and the
		// not-ready and unreachable tolerations of DefaultTolerationSeconds.
		spec := mapAt(o, "spec")
		delete(spec, "priority")
		if tolerations, ok := spec["tolerations"].([]any); ok {
			kept := tolerations[:0]
			for _, t := range tolerations {
				if !isDefaultToleration(t) {
					kept = append(kept, t)
				}
			}
			if len(kept) == 0 {
				delete(spec, "tolerations")
			} else {
				spec["tolerations"] = kept
			}
		}
	case "Job":
		// The API server labels a Job and its template with its name.
		for _, m := range []map[string]any{mapAt(o, "metadata", "labels"), mapAt(o, "spec", "template", "metadata", "labels")} {
			for _, l := range []string{"job-name", "batch.kubernetes.io/job-name"} {
				if m[l] == obj.GetName() {
					delete(m, l)
				}
			}
		}
	case "ReplicationController":
		// Without labels, a ReplicationController gets its template's.
		if equalValues(mapAt(o, "metadata", "labels"), mapAt(o, "spec", "template", "metadata", "labels")) {
			delete(mapAt(o, "metadata"), "labels")
		}
	case "NetworkPolicy":
		spec := mapAt(o, "spec")
		want := []any{"Ingress"}
		if _, ok := spec["egress"]; ok {
			want = append(want, "Egress")
		}
		if equalValues(spec["policyTypes"], want) {
			delete(spec, "policyTypes")
		}
	case "CustomResourceDefinition":
		names := mapAt(o, "spec", "names")
		if kind, _ := names["kind"].(string); kind != "" && names["listKind"] == kind+"List" {
			delete(names, "listKind")
		}
	}
	for _, t := range podTemplates {
		if t.kind != kind {
			continue
		}
		path := strings.Split(t.prefix, ".")
		if len(path) > 1 {
			tmeta := mapAt(o, append(path[:len(path)-1:len(path)-1], "metadata")...)
			if v, ok := tmeta["creationTimestamp"]; ok && v == nil {
				delete(tmeta, "creationTimestamp")
			}
			if kind == "CronJob" {
				jmeta := mapAt(o, "spec", "jobTemplate", "metadata")
				if v, ok := jmeta["creationTimestamp"]; ok && v == nil {
					delete(jmeta, "creationTimestamp")
				}
			}
		}
		spec := mapAt(o, path...)
		if spec["serviceAccount"] != nil && spec["serviceAccount"] == spec["serviceAccountName"] {
			delete(spec, "serviceAccount") // the deprecated alias, which the server copies
		}
		for _, list := range []string{"containers", "initContainers"} {
			for _, c := range sliceAt(spec, list) {
				if container, ok := c.(map[string]any); ok {
					image, _ := container["image"].(string)
					if container["imagePullPolicy"] == defaultPullPolicy(image) {
						delete(container, "imagePullPolicy")
					}
				}
			}
		}
	}
	for _, d := range defaultsByKind[kind] {
		removeDefault(o, strings.Split(d.Path, "."), d.Value)
	}
	for _, m := range []map[string]any{mapAt(o, "metadata"), mapAt(o, "spec", "template", "metadata"),
		mapAt(o, "spec", "jobTemplate", "metadata"), mapAt(o, "spec", "jobTemplate", "spec", "template", "metadata")} {
		for _, f := range []string{"labels", "annotations", "finalizers"} {
			if v, ok := m[f].(map[string]any); ok && len(v) == 0 {
				delete(m, f)
			}
			if v, ok := m[f].([]any); ok && len(v) == 0 {
				delete(m, f)
			}
		}
	}
	for _, path := range [][]string{{"spec", "template"}, {"spec", "jobTemplate"}, {"spec", "jobTemplate", "spec", "template"}} {
		if m, ok := mapAt(o, path...)["metadata"].(map[string]any); ok && len(m) == 0 {
			delete(mapAt(o, path...), "metadata")
		}
	}
	return obj
}

func removeFinalizer(o map[string]any, name string) {
	meta := mapAt(o, "metadata")
	list, ok := meta["finalizers"].([]any)
	if !ok {
		return
	}
	kept := make([]any, 0, len(list))
	for _, f := range list {
		if f != name {
			kept = append(kept, f)
		}
	}
	meta["finalizers"] = kept
}

// isDefaultToleration reports whether t is one DefaultTolerationSeconds adds.
func isDefaultToleration(t any) bool {
	m, _ := t.(map[string]any)
	key, _ := m["key"].(string)
	return len(m) == 4 && (key == "node.kubernetes.io/not-ready" || key == "node.kubernetes.io/unreachable") &&
		m["operator"] == "Exists" && m["effect"] == "NoExecute" && equalValues(m["tolerationSeconds"], int64(300))
}

// defaultPullPolicy is the API server's default for an image reference.
func defaultPullPolicy(image string) string {
	name := image
	if i := strings.Index(name, "@"); i >= 0 {
		return "IfNotPresent"
	}
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	_, tag, ok := strings.Cut(name, ":")
	if !ok || tag == "latest" {
		return "Always"
	}
	return "IfNotPresent"
}

// removeDefault deletes the field at path from every place it occurs when
// it equals value.
func removeDefault(cur map[string]any, path []string, value any) {
	head := path[0]
	list := strings.HasSuffix(head, "[]")
	head = strings.TrimSuffix(head, "[]")
	if len(path) == 1 {
		if v, ok := cur[head]; ok && equalValues(v, value) {
			delete(cur, head)
		}
		return
	}
	if !list {
		if next, ok := cur[head].(map[string]any); ok {
			removeDefault(next, path[1:], value)
		}
		return
	}
	items, _ := cur[head].([]any)
	for _, item := range items {
		if next, ok := item.(map[string]any); ok {
			removeDefault(next, path[1:], value)
		}
	}
}

// equalValues compares decoded JSON values, counting numbers equal by
// value whatever their Go type.
func equalValues(a, b any) bool {
	if na, ok := number(a); ok {
		nb, ok := number(b)
		return ok && na == nb
	}
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for k, v := range av {
			w, ok := bv[k]
			if !ok || !equalValues(v, w) {
				return false
			}
		}
		return true
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for i := range av {
			if !equalValues(av[i], bv[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

func number(v any) (string, bool) {
	switch n := v.(type) {
	case int, int32, int64, float64, float32:
		return fmt.Sprint(n), true
	}
	return "", false
}
