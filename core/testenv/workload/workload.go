// Package workload installs realistic applications into test clusters: the
// objects a backup must carry and a restore must bring back. Tests, the demo
// and the benchmarks share it, so they all exercise the same shapes.
package workload

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/template"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/utils/ptr"
)

//go:embed manifests/*.yaml
var manifests embed.FS

// Options says where and as whom the application is installed.
type Options struct {
	// Namespace receives the application (default "shop").
	Namespace string
	// Team and Environment label the namespace.
	Team, Environment string
	// OwnedObjects also creates what controllers would (a ReplicaSet and a
	// Pod of the Deployment, a Job of the CronJob, an EndpointSlice of the
	// Service), with owner references, since the test clusters run no
	// controllers.
	OwnedObjects bool
}

// Object names one installed object.
type Object struct {
	GroupVersionResource schema.GroupVersionResource
	Namespace, Name      string
}

// Installed is what Install created, in creation order.
type Installed struct {
	Objects []Object
}

// Kinds returns the distinct resource types installed, as resource.group.
func (in *Installed) Kinds() []string {
	var kinds []string
	for _, o := range in.Objects {
		kinds = append(kinds, o.GroupVersionResource.GroupResource().String())
	}
	slices.Sort(kinds)
	return slices.Compact(kinds)
}

// Install creates the shop application in opts.Namespace, and the
// cluster-scoped objects it needs when they do not exist yet.
func Install(ctx context.Context, cfg *rest.Config, opts Options) (*Installed, error) {
	if opts.Namespace == "" {
		opts.Namespace = "shop"
	}
	if opts.Team == "" {
		opts.Team = "commerce"
	}
	if opts.Environment == "" {
		opts.Environment = "dev"
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	in := &Installed{}
	a := &applier{dyn: dyn, disc: cs.Discovery(), installed: in}
	a.resetMapper()
	for _, file := range []string{"manifests/00-cluster.yaml", "manifests/10-namespace.yaml"} {
		objs, err := render(file, opts)
		if err != nil {
			return nil, err
		}
		for _, obj := range objs {
			if err := a.create(ctx, obj, file == "manifests/00-cluster.yaml"); err != nil {
				return nil, err
			}
		}
	}
	if opts.OwnedObjects {
		if err := createOwned(ctx, cs, opts.Namespace, in); err != nil {
			return nil, err
		}
	}
	return in, nil
}

func render(file string, opts Options) ([]*unstructured.Unstructured, error) {
	text, err := manifests.ReadFile(file)
	if err != nil {
		return nil, err
	}
	tmpl, err := template.New(file).Option("missingkey=error").Parse(string(text))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, opts); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(&buf, 4096)
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
}

type applier struct {
	dyn       dynamic.Interface
	disc      discovery.DiscoveryInterface
	mapper    meta.ResettableRESTMapper
	installed *Installed
}

func (a *applier) resetMapper() {
	a.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(a.disc))
}

// create creates obj; shared objects that exist already are left alone.
// A kind the server does not know yet (a custom resource whose CRD was just
// created) is retried until discovery serves it.
func (a *applier) create(ctx context.Context, obj *unstructured.Unstructured, shared bool) error {
	gvk := obj.GroupVersionKind()
	var mapping *meta.RESTMapping
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		mapping, err = a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if meta.IsNoMatchError(err) {
			a.mapper.Reset()
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return fmt.Errorf("finding the resource of %s: %w", gvk, err)
	}
	var client dynamic.ResourceInterface = a.dyn.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		client = a.dyn.Resource(mapping.Resource).Namespace(obj.GetNamespace())
	}
	_, err = client.Create(ctx, obj, metav1.CreateOptions{FieldValidation: "Strict"})
	if err != nil && !(shared && apierrors.IsAlreadyExists(err)) {
		return fmt.Errorf("creating %s %s/%s: %w", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	a.installed.Objects = append(a.installed.Objects, Object{mapping.Resource, obj.GetNamespace(), obj.GetName()})
	if gvk.Kind == "CustomResourceDefinition" {
		return waitEstablished(ctx, a.dyn, obj.GetName())
	}
	return nil
}

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

func waitEstablished(ctx context.Context, dyn dynamic.Interface, name string) error {
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		crd, err := dyn.Resource(crdResource).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		conditions, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, c := range conditions {
			cond, _ := c.(map[string]any)
			if cond["type"] == "Established" && cond["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	})
}

// createOwned creates the objects controllers would make from the
// application's owners, with owner references to them.
func createOwned(ctx context.Context, cs kubernetes.Interface, ns string, in *Installed) error {
	deploy, err := cs.AppsV1().Deployments(ns).Get(ctx, "shop-api", metav1.GetOptions{})
	if err != nil {
		return err
	}
	owner := func(apiVersion, kind string, m metav1.Object) []metav1.OwnerReference {
		return []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: m.GetName(), UID: m.GetUID(), Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
	}
	hash := "6d4cf56db6"
	labels := map[string]string{"app": "shop-api", "pod-template-hash": hash}
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-api-" + hash, Namespace: ns, Labels: labels, OwnerReferences: owner("apps/v1", "Deployment", deploy)},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: deploy.Spec.Replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: *deploy.Spec.Template.DeepCopy(),
		},
	}
	rs.Spec.Template.Labels = labels
	if rs, err = cs.AppsV1().ReplicaSets(ns).Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating ReplicaSet: %w", err)
	}
	in.Objects = append(in.Objects, Object{appsv1.SchemeGroupVersion.WithResource("replicasets"), ns, rs.Name})

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: rs.Name + "-x7k2p", Namespace: ns, Labels: labels, OwnerReferences: owner("apps/v1", "ReplicaSet", rs)},
		Spec:       *rs.Spec.Template.Spec.DeepCopy(),
	}
	pod.Spec.NodeName = "node-1"
	if pod, err = cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating Pod: %w", err)
	}
	in.Objects = append(in.Objects, Object{corev1.SchemeGroupVersion.WithResource("pods"), ns, pod.Name})

	cj, err := cs.BatchV1().CronJobs(ns).Get(ctx, "shop-report", metav1.GetOptions{})
	if err != nil {
		return err
	}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-report-29012345", Namespace: ns, OwnerReferences: owner("batch/v1", "CronJob", cj)},
		Spec:       *cj.Spec.JobTemplate.Spec.DeepCopy(),
	}
	if job, err = cs.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating Job: %w", err)
	}
	in.Objects = append(in.Objects, Object{batchv1.SchemeGroupVersion.WithResource("jobs"), ns, job.Name})

	svc, err := cs.CoreV1().Services(ns).Get(ctx, "shop-api", metav1.GetOptions{})
	if err != nil {
		return err
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: "shop-api-abcde", Namespace: ns,
			Labels:          map[string]string{discoveryv1.LabelServiceName: "shop-api", discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"},
			OwnerReferences: owner("v1", "Service", svc),
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.244.1.7"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}},
	}
	if slice, err = cs.DiscoveryV1().EndpointSlices(ns).Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating EndpointSlice: %w", err)
	}
	in.Objects = append(in.Objects, Object{discoveryv1.SchemeGroupVersion.WithResource("endpointslices"), ns, slice.Name})
	return nil
}

// String lists the objects, one per line, for test failure messages.
func (in *Installed) String() string {
	var b strings.Builder
	for _, o := range in.Objects {
		fmt.Fprintf(&b, "%s %s/%s\n", o.GroupVersionResource.GroupResource(), o.Namespace, o.Name)
	}
	return b.String()
}
