package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/sony/gobreaker/v2"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/core/pack"
)

// listedObject is one object of a LIST page, encoded for its pack.
type listedObject struct {
	namespace string
	doc       pack.Document
	// size is the size of the object's document, which max_resource_size
	// limits.
	size int
	// err is set when the object could not be encoded (an invalid object).
	err error
}

// page is one LIST response, its objects encoded, in the server's order.
type page struct {
	objects []listedObject
}

// rawPage is one LIST response as decoded: typed objects of a built-in type
// or unstructured ones of a custom resource.
type rawPage struct {
	typed        []runtime.Object
	unstructured []unstructured.Unstructured
}

// pagesInFlight bounds the pages of one type fetched and being encoded ahead
// of the one being stored: the API server serves the next pages while
// earlier ones are encoded, on other cores, in parallel.
const pagesInFlight = 4

// lister reads every object of one resource type, one page at a time.
type lister struct {
	client   *kube.Client
	pageSize int64
	selector string
	breaker  *gobreaker.CircuitBreaker[any]
}

// NewAPIBreaker returns the circuit breaker of the API server at server. It
// trips after consecutive requests that got no answer from the API server at
// all (refused, timed out), so that a cluster that went away mid-backup fails its
// remaining types at once instead of retrying each. Answers, even refusals
// such as 403, are successes: the server is there.
func NewAPIBreaker(server string) *gobreaker.CircuitBreaker[any] {
	return gobreaker.NewCircuitBreaker[any](gobreaker.Settings{
		Name:    "API server " + server,
		Timeout: 10 * time.Second,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= 5
		},
		IsSuccessful: func(err error) bool {
			var status apierrors.APIStatus
			return err == nil || errors.As(err, &status) || errors.Is(err, context.Canceled)
		},
	})
}

// list calls fn for each page of res, in order, in the namespace given (""
// for all namespaces or a cluster-scoped type). Built-in types are read as
// protobuf, custom resources as JSON. While fn stores one page, the next
// pages are fetched and encoded (up to pagesInFlight), each page encoded in
// a goroutine of its own.
func (l *lister) list(ctx context.Context, res kube.Resource, namespace string, fn func(page) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type slot struct {
		done chan struct{}
		page page
	}
	slots := make(chan *slot, pagesInFlight)
	fetched := make(chan error, 1)
	gvk := res.GroupVersionKind()
	go func() {
		defer close(slots)
		fetched <- l.fetch(ctx, res, namespace, func(raw rawPage) bool {
			s := &slot{done: make(chan struct{})}
			select {
			case slots <- s:
			case <-ctx.Done():
				return false
			}
			go func() {
				s.page = encodePage(raw, gvk)
				close(s.done)
			}()
			return true
		})
	}()
	var err error
	for s := range slots {
		<-s.done
		if err == nil {
			if err = fn(s.page); err != nil {
				cancel() // stop the fetcher; drain what it queued
			}
		}
	}
	if fetchErr := <-fetched; err == nil {
		err = fetchErr
	}
	return err
}

func (l *lister) fetch(ctx context.Context, res kube.Resource, namespace string, emit func(rawPage) bool) error {
	opts := metav1.ListOptions{Limit: l.pageSize, LabelSelector: l.selector}
	for {
		var (
			raw       rawPage
			continued string
		)
		_, err := l.breaker.Execute(func() (any, error) {
			var err error
			if res.Builtin {
				raw, continued, err = l.fetchTyped(ctx, res, namespace, opts)
			} else {
				raw, continued, err = l.fetchDynamic(ctx, res, namespace, opts)
			}
			return nil, err
		})
		if errors.Is(err, gobreaker.ErrOpenState) {
			return fmt.Errorf("the API server at %s stopped answering; not reading %s: %w", l.client.Server, res, err)
		}
		if err != nil {
			return err
		}
		if !emit(raw) {
			return ctx.Err()
		}
		if continued == "" {
			return nil
		}
		opts.Continue = continued
	}
}

// fetchTyped reads one page of a built-in type as protobuf through the typed
// client's REST client, which decodes every built-in kind.
func (l *lister) fetchTyped(ctx context.Context, res kube.Resource, namespace string, opts metav1.ListOptions) (rawPage, string, error) {
	req := l.client.Kube.CoreV1().RESTClient().Get().
		AbsPath(resourcePath(res, namespace)).
		Param("limit", fmt.Sprint(opts.Limit))
	if opts.Continue != "" {
		req = req.Param("continue", opts.Continue)
	}
	if opts.LabelSelector != "" {
		req = req.Param("labelSelector", opts.LabelSelector)
	}
	obj, err := req.Do(ctx).Get()
	if err != nil {
		return rawPage{}, "", err
	}
	listMeta, err := meta.ListAccessor(obj)
	if err != nil {
		return rawPage{}, "", fmt.Errorf("reading list metadata: %w", err)
	}
	items, err := meta.ExtractList(obj)
	if err != nil {
		return rawPage{}, "", fmt.Errorf("reading list items: %w", err)
	}
	return rawPage{typed: items}, listMeta.GetContinue(), nil
}

// encodePage encodes the objects of one page for their packs.
func encodePage(raw rawPage, gvk schema.GroupVersionKind) page {
	p := page{objects: make([]listedObject, 0, len(raw.typed)+len(raw.unstructured))}
	for _, item := range raw.typed {
		p.objects = append(p.objects, encodeTyped(item, gvk))
	}
	for i := range raw.unstructured {
		p.objects = append(p.objects, encodeUnstructured(&raw.unstructured[i]))
	}
	return p
}

func encodeTyped(item runtime.Object, gvk schema.GroupVersionKind) listedObject {
	accessor, err := meta.Accessor(item)
	if err != nil {
		return listedObject{err: err}
	}
	obj := listedObject{namespace: accessor.GetNamespace(), doc: pack.Document{Name: accessor.GetName()}}
	accessor.SetManagedFields(nil)
	// Items of a typed list carry no apiVersion and kind; the pack's
	// documents must, to be read without the manifest.
	item.GetObjectKind().SetGroupVersionKind(gvk)
	restoreEmbeddedTypeMeta(item)
	// encoding/json gives exactly the JSON the API server serves for the
	// object (the same types, tags and marshalers).
	data, err := json.Marshal(item)
	if err != nil {
		obj.err = err
		return obj
	}
	doc, err := pack.Encode(obj.doc.Name, data)
	return finishEncoding(obj, doc, err)
}

func encodeUnstructured(item *unstructured.Unstructured) listedObject {
	obj := listedObject{namespace: item.GetNamespace(), doc: pack.Document{Name: item.GetName()}}
	doc, err := pack.EncodeMap(item.Object)
	return finishEncoding(obj, doc, err)
}

func finishEncoding(obj listedObject, doc pack.Document, err error) listedObject {
	if err != nil {
		obj.err = err
		return obj
	}
	obj.doc, obj.size = doc, len(doc.YAML)
	return obj
}

// restoreEmbeddedTypeMeta puts back the apiVersion and kind that protobuf
// cannot carry for objects embedded in others, and that the API server sets
// when it answers in JSON: the PersistentVolumeClaim templates of a
// StatefulSet. Without it, a type read as protobuf would differ from the
// same object read as JSON.
func restoreEmbeddedTypeMeta(item runtime.Object) {
	if sts, ok := item.(*appsv1.StatefulSet); ok {
		for i := range sts.Spec.VolumeClaimTemplates {
			tm := &sts.Spec.VolumeClaimTemplates[i].TypeMeta
			if tm.APIVersion == "" && tm.Kind == "" {
				tm.APIVersion, tm.Kind = "v1", "PersistentVolumeClaim"
			}
		}
	}
}

// fetchDynamic reads one page of a custom resource (or any type client-go's
// scheme does not know) as JSON.
func (l *lister) fetchDynamic(ctx context.Context, res kube.Resource, namespace string, opts metav1.ListOptions) (rawPage, string, error) {
	list, err := l.client.Dynamic.Resource(res.GroupVersionResource()).Namespace(namespace).List(ctx, opts)
	if err != nil {
		return rawPage{}, "", err
	}
	return rawPage{unstructured: list.Items}, list.GetContinue(), nil
}

// resourcePath is the REST path of a resource type, in a namespace or across
// all of them.
func resourcePath(res kube.Resource, namespace string) string {
	prefix := "/apis/" + res.Group + "/" + res.Version
	if res.Group == "" {
		prefix = "/api/" + res.Version
	}
	if namespace != "" && res.Namespaced {
		return path.Join(prefix, "namespaces", namespace, res.Resource)
	}
	return path.Join(prefix, res.Resource)
}
