package clean_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/kbackup/kbackup/core/clean"
	"github.com/kbackup/kbackup/core/testenv"
)

// Declared removes defaults only where they hold the default, and what
// the server or a controller set; what the author chose stays.
func TestDeclared(t *testing.T) {
	in := object(t, `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  uid: u-1
  resourceVersion: "7"
  ownerReferences: [{apiVersion: v1, kind: Thing, name: t, uid: x}]
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{}'
    deployment.kubernetes.io/revision: "4"
    team: payments
spec:
  replicas: 2
  progressDeadlineSeconds: 600
  revisionHistoryLimit: 5
  strategy: {type: Recreate}
  template:
    metadata:
      creationTimestamp: null
      labels: {app: web}
    spec:
      dnsPolicy: ClusterFirst
      restartPolicy: Always
      terminationGracePeriodSeconds: 60
      containers:
      - name: web
        image: nginx:1.27
        imagePullPolicy: IfNotPresent
        terminationMessagePath: /dev/termination-log
        ports: [{containerPort: 80, protocol: TCP}, {containerPort: 53, protocol: UDP}]
        readinessProbe: {httpGet: {path: /, port: 80, scheme: HTTP}, periodSeconds: 10, timeoutSeconds: 5}
      - name: side
        image: busybox
        imagePullPolicy: IfNotPresent
status: {replicas: 2}`)
	want := object(t, `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  annotations: {team: payments}
spec:
  replicas: 2
  revisionHistoryLimit: 5
  strategy: {type: Recreate}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 60
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 80}, {containerPort: 53, protocol: UDP}]
        readinessProbe: {httpGet: {port: 80}, timeoutSeconds: 5}
      - name: side
        image: busybox
        imagePullPolicy: IfNotPresent`)
	got := clean.Declared(in, clean.Options{KeepStatus: true})
	if !equality.Semantic.DeepEqual(got.Object, want.Object) {
		t.Errorf("got:\n%s\nwant:\n%s", show(got), show(want))
	}

	svc := clean.Declared(object(t, `
apiVersion: v1
kind: Service
metadata: {name: s, namespace: shop}
spec:
  type: NodePort
  clusterIP: 10.0.0.7
  clusterIPs: [10.0.0.7]
  ipFamilies: [IPv4]
  ipFamilyPolicy: SingleStack
  sessionAffinity: None
  externalTrafficPolicy: Local
  ports: [{port: 80, targetPort: 80, nodePort: 30001, protocol: TCP}, {port: 81, targetPort: http}]`), clean.Options{})
	wantSvc := object(t, `
apiVersion: v1
kind: Service
metadata: {name: s, namespace: shop}
spec:
  type: NodePort
  externalTrafficPolicy: Local
  ports: [{port: 80}, {port: 81, targetPort: http}]`)
	if !equality.Semantic.DeepEqual(svc.Object, wantSvc.Object) {
		t.Errorf("Service: got:\n%s\nwant:\n%s", show(svc), show(wantSvc))
	}
}

// serverFixtures are objects that leave out every field of clean.Defaults:
// created in a real API server and read back, each has its defaults.
const serverFixtures = `
apiVersion: v1
kind: Namespace
metadata: {name: defaults}
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: defaults}
spec:
  serviceAccountName: default
  automountServiceAccountToken: false
  initContainers: [{name: init, image: busybox:1.36, restartPolicy: Always, ports: [{containerPort: 1}],
    livenessProbe: {httpGet: {port: 1}}, readinessProbe: {httpGet: {port: 1}}, startupProbe: {httpGet: {port: 1}}}]
  containers: [{name: c, image: nginx, ports: [{containerPort: 80}], env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}],
    livenessProbe: {httpGet: {port: 80}}, readinessProbe: {httpGet: {port: 80}}, startupProbe: {httpGet: {port: 80}}}]
  volumes:
  - {name: a, configMap: {name: a}}
  - {name: b, secret: {secretName: b}}
  - {name: c, projected: {sources: [{configMap: {name: a}}]}}
  - {name: d, downwardAPI: {items: [{path: name, fieldRef: {fieldPath: metadata.name}}]}}
`

// templated are the kinds holding a Pod template, each given the Pod's spec.
var templated = map[string]string{
	"Deployment": `
apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: defaults}
spec: {selector: {matchLabels: {app: x}}, template: {metadata: {labels: {app: x}}, spec: POD}}`,
	"ReplicaSet": `
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs, namespace: defaults}
spec: {selector: {matchLabels: {app: x}}, template: {metadata: {labels: {app: x}}, spec: POD}}`,
	"ReplicationController": `
apiVersion: v1
kind: ReplicationController
metadata: {name: rc, namespace: defaults}
spec: {selector: {app: x}, template: {metadata: {labels: {app: x}}, spec: POD}}`,
	"StatefulSet": `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: s, namespace: defaults}
spec: {serviceName: s, selector: {matchLabels: {app: x}}, template: {metadata: {labels: {app: x}}, spec: POD},
  volumeClaimTemplates: [{metadata: {name: data}, spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}]}`,
	"DaemonSet": `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ds, namespace: defaults}
spec: {selector: {matchLabels: {app: x}}, template: {metadata: {labels: {app: x}}, spec: POD}}`,
	"Job": `
apiVersion: batch/v1
kind: Job
metadata: {name: j, namespace: defaults}
spec: {template: {spec: POD_NEVER}}`,
	"CronJob": `
apiVersion: batch/v1
kind: CronJob
metadata: {name: cj, namespace: defaults}
spec: {schedule: "0 1 * * *", jobTemplate: {spec: {template: {spec: POD_NEVER}}}}`,
}

// serviceAccount stands in for the controller that makes it.
const serviceAccount = `
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: defaults}`

const otherFixtures = `
apiVersion: v1
kind: Service
metadata: {name: svc, namespace: defaults}
spec: {type: NodePort, selector: {app: x}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: svc-internal, namespace: defaults}
spec: {selector: {app: x}, ports: [{port: 80}]}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: pvc, namespace: defaults}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: defaults-pv}
spec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce], hostPath: {path: /tmp/pv}}
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: defaults-pc}
value: 10
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: defaults-sc}
provisioner: example.com/none
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np, namespace: defaults}
spec: {podSelector: {}, ingress: [{ports: [{port: 80}]}], egress: [{ports: [{port: 53}]}]}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.defaults.kbackup.io}
spec:
  group: defaults.kbackup.io
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
`

// Every listed default is what a real API server sets: objects that leave
// the fields out are created and read back, every Default is found with
// its value, and the read-back object cleaned with Declared equals what was
// sent cleaned with Declared (nothing the server adds is left over, nothing
// the author wrote is lost).
func TestDefaultsAreTheServers(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Clusters: 1})
	cluster := env.Cluster("kbackup-1")
	dyn, err := dynamic.NewForConfig(cluster.Config())
	if err != nil {
		t.Fatal(err)
	}
	var docs []string
	docs = append(docs, strings.Split(serverFixtures, "\n---\n")[0], serviceAccount)
	docs = append(docs, strings.Split(serverFixtures, "\n---\n")[1:]...)
	podSpec := podSpecOf(t)
	for _, text := range templated {
		docs = append(docs, strings.NewReplacer("POD_NEVER", podSpec("Never"), "POD", podSpec("")).Replace(text))
	}
	docs = append(docs, strings.Split(otherFixtures, "\n---\n")...)

	confirmed := map[int]bool{}
	ctx := context.Background()
	for _, text := range docs {
		sent := object(t, text)
		gvr := resourceOf(sent)
		var ri dynamic.ResourceInterface = dyn.Resource(gvr)
		if ns := sent.GetNamespace(); ns != "" {
			ri = dyn.Resource(gvr).Namespace(ns)
		}
		got, err := ri.Create(ctx, sent.DeepCopy(), metav1.CreateOptions{FieldValidation: "Strict"})
		if err != nil {
			t.Fatalf("creating %s %s: %v", sent.GetKind(), sent.GetName(), err)
		}
		for i, d := range clean.Defaults {
			if d.Kind == got.GetKind() && holdsDefault(got.Object, strings.Split(d.Path, "."), d.Value) {
				confirmed[i] = true
			}
		}
		want := clean.Declared(sent.DeepCopy(), clean.Options{})
		back := clean.Declared(got, clean.Options{})
		if !equality.Semantic.DeepEqual(normalize(back.Object), normalize(want.Object)) {
			t.Errorf("%s %s read back and cleaned:\n%s\nwant, as sent and cleaned:\n%s", sent.GetKind(), sent.GetName(), show(back), show(want))
		}
	}
	// Entries of one kind and path are alternatives (a feature gate
	// changes the default): one of them must be the server's.
	alternatives := map[string]bool{}
	for i, d := range clean.Defaults {
		alternatives[d.Kind+" "+d.Path] = alternatives[d.Kind+" "+d.Path] || confirmed[i]
	}
	for i, d := range clean.Defaults {
		if !confirmed[i] && !alternatives[d.Kind+" "+d.Path] {
			t.Errorf("the server did not set %s %s to %v", d.Kind, d.Path, d.Value)
		}
	}
}

func podSpecOf(t *testing.T) func(restart string) string {
	pod := object(t, strings.Split(serverFixtures, "\n---\n")[1])
	spec, _, _ := unstructured.NestedMap(pod.Object, "spec")
	return func(restart string) string {
		s := map[string]any{}
		for k, v := range spec {
			s[k] = v
		}
		if restart != "" {
			s["restartPolicy"] = restart
		}
		return flowJSON(t, s)
	}
}

// flowJSON writes v as JSON, which is YAML flow style.
func flowJSON(t *testing.T, v any) string {
	data, err := (&unstructured.Unstructured{Object: map[string]any{"v": v}}).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSpace(string(data))
	return strings.TrimSuffix(strings.TrimPrefix(s, `{"v":`), "}")
}

func resourceOf(obj *unstructured.Unstructured) schema.GroupVersionResource {
	gv, _ := schema.ParseGroupVersion(obj.GetAPIVersion())
	resource := strings.ToLower(obj.GetKind()) + "s"
	switch obj.GetKind() {
	case "ServiceAccount":
		resource = "serviceaccounts"
	case "NetworkPolicy":
		resource = "networkpolicies"
	case "PriorityClass", "StorageClass":
		resource = strings.ToLower(obj.GetKind()) + "es"
	case "CustomResourceDefinition":
		resource = "customresourcedefinitions"
	}
	return gv.WithResource(resource)
}

// holdsDefault reports whether the field at path, anywhere it occurs,
// holds value.
func holdsDefault(cur map[string]any, path []string, value any) bool {
	head, list := strings.CutSuffix(path[0], "[]")
	if len(path) == 1 {
		v, ok := cur[head]
		return ok && equality.Semantic.DeepEqual(normalize(v), normalize(value))
	}
	if !list {
		next, ok := cur[head].(map[string]any)
		return ok && holdsDefault(next, path[1:], value)
	}
	items, _ := cur[head].([]any)
	for _, item := range items {
		if next, ok := item.(map[string]any); ok && holdsDefault(next, path[1:], value) {
			return true
		}
	}
	return false
}

// normalize turns numbers into int64, as a read from the server gives them.
func normalize(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case float64:
		return int64(x)
	case map[string]any:
		out := map[string]any{}
		for k, w := range x {
			out[k] = normalize(w)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, w := range x {
			out[i] = normalize(w)
		}
		return out
	}
	return v
}

// docs/export.md describes every rule of Declared and names every kind
// whose defaults it removes.
func TestDeclaredRulesAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/export.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range clean.DeclaredRules {
		if !strings.Contains(string(doc), "`"+r.Name+"`") {
			t.Errorf("docs/export.md does not describe rule %s", r.Name)
		}
	}
	for _, d := range clean.Defaults {
		if !strings.Contains(string(doc), d.Kind) {
			t.Errorf("docs/export.md does not name %s, whose defaults Declared removes", d.Kind)
		}
	}
}
