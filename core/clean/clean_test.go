package clean_test

import (
	"os"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/kbackup/kbackup/core/clean"
)

func object(t *testing.T, text string) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(text), &obj.Object); err != nil {
		t.Fatal(err)
	}
	return obj
}

func show(obj *unstructured.Unstructured) string {
	data, _ := yaml.Marshal(obj.Object)
	return string(data)
}

// Each rule, on an object that has what it removes, gives the object
// without it; the rest of the object is kept.
func TestRules(t *testing.T) {
	tests := []struct {
		rule     string
		opts     clean.Options
		in, want string
	}{
		{rule: "server-metadata", in: `
apiVersion: v1
kind: ConfigMap
metadata:
  name: a
  namespace: ns
  uid: 1234
  resourceVersion: "99"
  generation: 3
  creationTimestamp: "2026-01-01T00:00:00Z"
  selfLink: /api/v1/namespaces/ns/configmaps/a
  deletionTimestamp: "2026-01-02T00:00:00Z"
  deletionGracePeriodSeconds: 30
  managedFields: [{manager: kubectl}]
  finalizers: [example.com/keep]
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"kind":"ConfigMap"}'
data: {k: v}`, want: `
apiVersion: v1
kind: ConfigMap
metadata:
  name: a
  namespace: ns
  finalizers: [example.com/keep]
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"kind":"ConfigMap"}'
data: {k: v}`},
		{rule: "owner-reference-uids", in: `
apiVersion: v1
kind: ConfigMap
metadata:
  name: a
  ownerReferences: [{apiVersion: example.com/v1, kind: Thing, name: t, uid: abc, controller: true}]`, want: `
apiVersion: v1
kind: ConfigMap
metadata:
  name: a
  ownerReferences: [{apiVersion: example.com/v1, kind: Thing, name: t, controller: true}]`},
		{rule: "status", in: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: a}
spec: {replicas: 2}
status: {replicas: 2}`, want: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: a}
spec: {replicas: 2}`},
		{rule: "status kept", opts: clean.Options{KeepStatus: true}, in: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: a}
status: {replicas: 2}`, want: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: a}
status: {replicas: 2}`},
		{rule: "controller-annotations", in: `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: a
  annotations: {deployment.kubernetes.io/revision: "4", team: shop}`, want: `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: a
  annotations: {team: shop}`},
		{rule: "service-cluster-ip and service-node-ports", in: `
apiVersion: v1
kind: Service
metadata: {name: a}
spec:
  type: LoadBalancer
  clusterIP: 10.0.0.7
  clusterIPs: [10.0.0.7]
  healthCheckNodePort: 31000
  externalTrafficPolicy: Local
  ports: [{port: 80, nodePort: 30080}]`, want: `
apiVersion: v1
kind: Service
metadata: {name: a}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  ports: [{port: 80}]`},
		{rule: "service-cluster-ip None is kept", in: `
apiVersion: v1
kind: Service
metadata: {name: a}
spec: {clusterIP: None, clusterIPs: [None], ports: [{port: 5432}]}`, want: `
apiVersion: v1
kind: Service
metadata: {name: a}
spec: {clusterIP: None, clusterIPs: [None], ports: [{port: 5432}]}`},
		{rule: "service-node-ports preserved", opts: clean.Options{PreserveNodePorts: true}, in: `
apiVersion: v1
kind: Service
metadata: {name: a}
spec: {type: NodePort, clusterIP: 10.0.0.7, ports: [{port: 80, nodePort: 30080}]}`, want: `
apiVersion: v1
kind: Service
metadata: {name: a}
spec: {type: NodePort, ports: [{port: 80, nodePort: 30080}]}`},
		{rule: "pod-node-name", in: `
apiVersion: v1
kind: Pod
metadata: {name: a}
spec: {nodeName: node-1, containers: [{name: c, image: i}]}`, want: `
apiVersion: v1
kind: Pod
metadata: {name: a}
spec: {containers: [{name: c, image: i}]}`},
		{rule: "job-controller-uid", in: `
apiVersion: batch/v1
kind: Job
metadata:
  name: a
  labels: {controller-uid: u1, batch.kubernetes.io/controller-uid: u1, job-name: a}
spec:
  selector: {matchLabels: {batch.kubernetes.io/controller-uid: u1}}
  template:
    metadata:
      labels: {controller-uid: u1, batch.kubernetes.io/controller-uid: u1, job-name: a}
    spec: {containers: [{name: c, image: i}]}`, want: `
apiVersion: batch/v1
kind: Job
metadata:
  name: a
  labels: {job-name: a}
spec:
  template:
    metadata:
      labels: {job-name: a}
    spec: {containers: [{name: c, image: i}]}`},
		{rule: "job-controller-uid keeps a manual selector", in: `
apiVersion: batch/v1
kind: Job
metadata: {name: a}
spec:
  manualSelector: true
  selector: {matchLabels: {app: x}}`, want: `
apiVersion: batch/v1
kind: Job
metadata: {name: a}
spec:
  manualSelector: true
  selector: {matchLabels: {app: x}}`},
		{rule: "service-account-token-references", opts: clean.Options{TokenSecrets: map[string]bool{"ns/odd-name": true}}, in: `
apiVersion: v1
kind: ServiceAccount
metadata: {name: api, namespace: ns}
secrets: [{name: api-token-x7k2p}, {name: odd-name}, {name: api-extra}]
imagePullSecrets: [{name: registry}]`, want: `
apiVersion: v1
kind: ServiceAccount
metadata: {name: api, namespace: ns}
secrets: [{name: api-extra}]
imagePullSecrets: [{name: registry}]`},
		{rule: "volume-binding-annotations", in: `
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: a
  annotations:
    pv.kubernetes.io/bind-completed: "yes"
    pv.kubernetes.io/bound-by-controller: "yes"
    volume.beta.kubernetes.io/storage-provisioner: ebs.csi.aws.com
    volume.kubernetes.io/storage-provisioner: ebs.csi.aws.com
    volume.kubernetes.io/selected-node: node-1
spec: {volumeName: pv-1}`, want: `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: a}
spec: {volumeName: pv-1}`},
		{rule: "volume-claim-ref", in: `
apiVersion: v1
kind: PersistentVolume
metadata:
  name: pv-1
  annotations: {pv.kubernetes.io/provisioned-by: ebs.csi.aws.com, pv.kubernetes.io/bound-by-controller: "yes"}
spec:
  claimRef: {kind: PersistentVolumeClaim, namespace: ns, name: a, uid: u1, resourceVersion: "5"}`, want: `
apiVersion: v1
kind: PersistentVolume
metadata:
  name: pv-1
  annotations: {pv.kubernetes.io/provisioned-by: ebs.csi.aws.com}
spec:
  claimRef: {kind: PersistentVolumeClaim, namespace: ns, name: a}`},
	}
	names := map[string]bool{}
	for _, r := range clean.Rules {
		names[r.Name] = true
		if r.What == "" || r.Why == "" {
			t.Errorf("rule %s is not documented", r.Name)
		}
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			rule, _, _ := strings.Cut(tt.rule, " ")
			if !names[rule] {
				t.Fatalf("no rule %s", rule)
			}
			in := object(t, tt.in)
			got := clean.Copy(in, tt.opts)
			want := object(t, tt.want)
			if !equality.Semantic.DeepEqual(got.Object, want.Object) {
				t.Errorf("got:\n%s\nwant:\n%s", show(got), show(want))
			}
			if equality.Semantic.DeepEqual(in.Object, got.Object) && tt.in != tt.want && !strings.Contains(tt.rule, "kept") &&
				!strings.Contains(tt.rule, "preserved") && !strings.Contains(tt.rule, "keeps") {
				t.Errorf("Copy changed nothing")
			}
			if again := clean.Copy(got, tt.opts); !equality.Semantic.DeepEqual(again.Object, got.Object) {
				t.Errorf("cleaning twice differs from cleaning once")
			}
		})
	}
}

// Copy leaves its input alone; Object changes it.
func TestCopyLeavesInput(t *testing.T) {
	in := object(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, uid: u}\n")
	clean.Copy(in, clean.Options{})
	if in.GetUID() != "u" {
		t.Error("Copy changed its input")
	}
	clean.Object(in, clean.Options{})
	if in.GetUID() != "" {
		t.Error("Object did not clean in place")
	}
}

func TestExclusions(t *testing.T) {
	tests := []struct {
		gr       schema.GroupResource
		obj      string
		excluded bool
	}{
		{schema.GroupResource{Resource: "nodes"}, "kind: Node\nmetadata: {name: n}", true},
		{schema.GroupResource{Resource: "events"}, "kind: Event\nmetadata: {name: e, namespace: ns}", true},
		{schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}, "kind: Lease\nmetadata: {name: l}", true},
		{schema.GroupResource{Resource: "secrets"}, "kind: Secret\nmetadata: {name: t, namespace: ns}\ntype: kubernetes.io/service-account-token", true},
		{schema.GroupResource{Resource: "secrets"}, "kind: Secret\nmetadata: {name: s, namespace: ns}\ntype: Opaque", false},
		{schema.GroupResource{Resource: "configmaps"}, "kind: ConfigMap\nmetadata: {name: kube-root-ca.crt, namespace: ns}", true},
		{schema.GroupResource{Resource: "configmaps"}, "kind: ConfigMap\nmetadata: {name: app, namespace: ns}", false},
		{schema.GroupResource{Resource: "pods"}, "kind: Pod\nmetadata: {name: p, namespace: kube-system, annotations: {kubernetes.io/config.mirror: abc}}", true},
		{schema.GroupResource{Resource: "services"}, "kind: Service\nmetadata: {name: kubernetes, namespace: default}", true},
		{schema.GroupResource{Resource: "services"}, "kind: Service\nmetadata: {name: kubernetes, namespace: shop}", false},
		{schema.GroupResource{Group: "apiregistration.k8s.io", Resource: "apiservices"}, "kind: APIService\nmetadata: {name: v1.apps, labels: {kube-aggregator.kubernetes.io/automanaged: onstart}}", true},
		{schema.GroupResource{Group: "apiregistration.k8s.io", Resource: "apiservices"}, "kind: APIService\nmetadata: {name: v1beta1.metrics.k8s.io}", false},
		{schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}, "kind: ClusterRole\nmetadata: {name: admin, annotations: {rbac.authorization.kubernetes.io/autoupdate: \"true\"}}", true},
		{schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}, "kind: ClusterRole\nmetadata: {name: mine}", false},
		{schema.GroupResource{Group: "scheduling.k8s.io", Resource: "priorityclasses"}, "kind: PriorityClass\nmetadata: {name: system-node-critical}", true},
		{schema.GroupResource{Group: "networking.k8s.io", Resource: "ipaddresses"}, "kind: IPAddress\nmetadata: {name: 10.0.0.1}", true},
		{schema.GroupResource{Group: "flowcontrol.apiserver.k8s.io", Resource: "flowschemas"}, "kind: FlowSchema\nmetadata: {name: exempt, annotations: {apf.kubernetes.io/autoupdate-spec: \"true\"}}", true},
	}
	for _, tt := range tests {
		obj := object(t, tt.obj)
		reason := clean.ExcludedObject(tt.gr, obj)
		if (reason != "") != tt.excluded {
			t.Errorf("%s %s: excluded %v (%q), want %v", tt.gr, obj.GetName(), reason != "", reason, tt.excluded)
		}
	}
}

func TestParseNamespaceMapping(t *testing.T) {
	m, err := clean.ParseNamespaceMapping(" shop:shop-restored , db:db2")
	if err != nil {
		t.Fatal(err)
	}
	if m.Map("shop") != "shop-restored" || m.Map("db") != "db2" || m.Map("other") != "other" || m.Map("") != "" {
		t.Errorf("mapping %v", m)
	}
	if m.String() != "db:db2,shop:shop-restored" {
		t.Errorf("String() = %q", m.String())
	}
	if m, err := clean.ParseNamespaceMapping(""); err != nil || len(m) != 0 {
		t.Errorf("empty mapping: %v %v", m, err)
	}
	for _, bad := range []string{"shop", "shop:", "Shop:x", "a:b,a:c", "a:c,b:c", "a:b:c"} {
		if _, err := clean.ParseNamespaceMapping(bad); err == nil {
			t.Errorf("ParseNamespaceMapping(%q) accepted it", bad)
		}
	}
	if err := (clean.NamespaceMapping{"a": "c", "b": "c"}).Validate(); err == nil {
		t.Error("Validate accepted two namespaces onto one")
	}
}

// Every documented reference follows the mapping; other namespaces stay.
func TestNamespaceMappingReferences(t *testing.T) {
	m := clean.NamespaceMapping{"shop": "shop2"}
	tests := []struct{ name, in, want string }{
		{"namespace", `
kind: Namespace
metadata: {name: shop, labels: {kubernetes.io/metadata.name: shop, team: a}}`, `
kind: Namespace
metadata: {name: shop2, labels: {kubernetes.io/metadata.name: shop2, team: a}}`},
		{"namespaced object", `
kind: ConfigMap
metadata: {name: a, namespace: shop}`, `
kind: ConfigMap
metadata: {name: a, namespace: shop2}`},
		{"object in an unmapped namespace", `
kind: ConfigMap
metadata: {name: a, namespace: other}`, `
kind: ConfigMap
metadata: {name: a, namespace: other}`},
		{"role binding", `
kind: RoleBinding
metadata: {name: a, namespace: shop}
subjects: [{kind: ServiceAccount, name: api, namespace: shop}, {kind: ServiceAccount, name: x, namespace: other}, {kind: User, name: jane}]`, `
kind: RoleBinding
metadata: {name: a, namespace: shop2}
subjects: [{kind: ServiceAccount, name: api, namespace: shop2}, {kind: ServiceAccount, name: x, namespace: other}, {kind: User, name: jane}]`},
		{"cluster role binding", `
kind: ClusterRoleBinding
metadata: {name: a}
subjects: [{kind: ServiceAccount, name: api, namespace: shop}]`, `
kind: ClusterRoleBinding
metadata: {name: a}
subjects: [{kind: ServiceAccount, name: api, namespace: shop2}]`},
		{"persistent volume", `
kind: PersistentVolume
metadata: {name: pv}
spec:
  claimRef: {name: data, namespace: shop}
  csi: {driver: d, volumeHandle: h, nodePublishSecretRef: {name: s, namespace: shop}}`, `
kind: PersistentVolume
metadata: {name: pv}
spec:
  claimRef: {name: data, namespace: shop2}
  csi: {driver: d, volumeHandle: h, nodePublishSecretRef: {name: s, namespace: shop2}}`},
		{"storage class", `
kind: StorageClass
metadata: {name: fast}
parameters: {csi.storage.k8s.io/provisioner-secret-namespace: shop, type: ssd}`, `
kind: StorageClass
metadata: {name: fast}
parameters: {csi.storage.k8s.io/provisioner-secret-namespace: shop2, type: ssd}`},
		{"network policy", `
kind: NetworkPolicy
metadata: {name: a, namespace: shop}
spec:
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop}}
    - namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [shop, other]}]}
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop, team: a}}`, `
kind: NetworkPolicy
metadata: {name: a, namespace: shop2}
spec:
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop2}}
    - namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [shop2, other]}]}
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop2, team: a}}`},
		{"deployment affinity", `
kind: Deployment
metadata: {name: a, namespace: shop}
spec:
  template:
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution: [{topologyKey: zone, namespaces: [shop, other]}]
          preferredDuringSchedulingIgnoredDuringExecution: [{weight: 1, podAffinityTerm: {topologyKey: zone, namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop}}}}]`, `
kind: Deployment
metadata: {name: a, namespace: shop2}
spec:
  template:
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution: [{topologyKey: zone, namespaces: [shop2, other]}]
          preferredDuringSchedulingIgnoredDuringExecution: [{weight: 1, podAffinityTerm: {topologyKey: zone, namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop2}}}}]`},
		{"cron job affinity", `
kind: CronJob
metadata: {name: a, namespace: shop}
spec: {jobTemplate: {spec: {template: {spec: {affinity: {podAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [{topologyKey: z, namespaces: [shop]}]}}}}}}}`, `
kind: CronJob
metadata: {name: a, namespace: shop2}
spec: {jobTemplate: {spec: {template: {spec: {affinity: {podAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [{topologyKey: z, namespaces: [shop2]}]}}}}}}}`},
		{"external name service", `
kind: Service
metadata: {name: a, namespace: other}
spec: {type: ExternalName, externalName: api.shop.svc.cluster.local}`, `
kind: Service
metadata: {name: a, namespace: other}
spec: {type: ExternalName, externalName: api.shop2.svc.cluster.local}`},
		{"external name outside the cluster", `
kind: Service
metadata: {name: a, namespace: other}
spec: {type: ExternalName, externalName: db.shop.example.com}`, `
kind: Service
metadata: {name: a, namespace: other}
spec: {type: ExternalName, externalName: db.shop.example.com}`},
		{"endpoint slice", `
kind: EndpointSlice
metadata: {name: a, namespace: shop}
endpoints: [{addresses: [10.0.0.1], targetRef: {kind: Pod, name: p, namespace: shop}}]`, `
kind: EndpointSlice
metadata: {name: a, namespace: shop2}
endpoints: [{addresses: [10.0.0.1], targetRef: {kind: Pod, name: p, namespace: shop2}}]`},
		{"endpoints", `
kind: Endpoints
metadata: {name: a, namespace: shop}
subsets: [{addresses: [{ip: 10.0.0.1, targetRef: {kind: Pod, name: p, namespace: shop}}]}]`, `
kind: Endpoints
metadata: {name: a, namespace: shop2}
subsets: [{addresses: [{ip: 10.0.0.1, targetRef: {kind: Pod, name: p, namespace: shop2}}]}]`},
		{"webhook", `
kind: ValidatingWebhookConfiguration
metadata: {name: a}
webhooks: [{name: w.example.com, clientConfig: {service: {name: hook, namespace: shop}}}]`, `
kind: ValidatingWebhookConfiguration
metadata: {name: a}
webhooks: [{name: w.example.com, clientConfig: {service: {name: hook, namespace: shop2}}}]`},
		{"api service", `
kind: APIService
metadata: {name: v1.example.com}
spec: {service: {name: api, namespace: shop}}`, `
kind: APIService
metadata: {name: v1.example.com}
spec: {service: {name: api, namespace: shop2}}`},
		{"crd conversion webhook", `
kind: CustomResourceDefinition
metadata: {name: things.example.com}
spec: {conversion: {strategy: Webhook, webhook: {clientConfig: {service: {name: conv, namespace: shop}}}}}`, `
kind: CustomResourceDefinition
metadata: {name: things.example.com}
spec: {conversion: {strategy: Webhook, webhook: {clientConfig: {service: {name: conv, namespace: shop2}}}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := object(t, tt.in)
			m.Apply(obj)
			if want := object(t, tt.want); !equality.Semantic.DeepEqual(obj.Object, want.Object) {
				t.Errorf("got:\n%s\nwant:\n%s", show(obj), show(want))
			}
		})
	}
}

// docs/restore.md names every rule and every excluded type.
func TestRulesAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/restore.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range clean.Rules {
		if !strings.Contains(string(doc), "`"+r.Name+"`") {
			t.Errorf("docs/restore.md does not describe rule %s", r.Name)
		}
	}
	for _, e := range clean.ExcludedTypes {
		if !strings.Contains(string(doc), "`"+e.GroupResource.String()+"`") && !strings.Contains(string(doc), e.GroupResource.String()+"`") {
			t.Errorf("docs/restore.md does not name excluded type %s", e.GroupResource)
		}
	}
}
