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
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/core/pack"
)

// listedObject is one object of a LIST page, encoded for its pack.
type listedObject struct {
	namespace string
	doc       pack.Document
	// size is the object's size as JSON, which max_resource_size limits.
	size int
	// err is set when the object could not be encoded (an invalid object).
	err error
}

// page is one LIST response, its objects in the server's order.
type page struct {
	objects []listedObject
}

// lister reads every object of one resource type, one page at a time.
type lister struct {
	client   *kube.Client
	pageSize int64
	selector string
	breaker  *gobreaker.CircuitBreaker[any]
}

// newAPIBreaker trips after consecutive requests that got no answer from the
// API server at all, so that a cluster that went away mid-backup fails its
// remaining types at once instead of retrying each. Answers, even refusals
// such as 403, are successes: the server is there.
func newAPIBreaker(server string) *gobreaker.CircuitBreaker[any] {
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

// list calls fn for each page of res, in the namespace given ("" for all
// namespaces or a cluster-scoped type). Built-in types are read as protobuf,
// custom resources as JSON. Pages are fetched one ahead of fn, so that the
// API server works on the next page while fn encodes and stores this one.
func (l *lister) list(ctx context.Context, res kube.Resource, namespace string, fn func(page) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan page, 1)
	errc := make(chan error, 1)
	go func() {
		defer close(pages)
		errc <- l.fetch(ctx, res, namespace, func(p page) bool {
			select {
			case pages <- p:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
	for p := range pages {
		if err := fn(p); err != nil {
			cancel()
			for range pages { // let the fetcher finish
			}
			<-errc
			return err
		}
	}
	return <-errc
}

func (l *lister) fetch(ctx context.Context, res kube.Resource, namespace string, emit func(page) bool) error {
	opts := metav1.ListOptions{Limit: l.pageSize, LabelSelector: l.selector}
	for {
		var (
			p         page
			continued string
			err       error
		)
		_, err = l.breaker.Execute(func() (any, error) {
			var err error
			if res.Builtin {
				p, continued, err = l.fetchTyped(ctx, res, namespace, opts)
			} else {
				p, continued, err = l.fetchDynamic(ctx, res, namespace, opts)
			}
			return nil, err
		})
		if errors.Is(err, gobreaker.ErrOpenState) {
			return fmt.Errorf("the API server at %s stopped answering; not reading %s: %w", l.client.Server, res, err)
		}
		if err != nil {
			return err
		}
		if !emit(p) {
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
func (l *lister) fetchTyped(ctx context.Context, res kube.Resource, namespace string, opts metav1.ListOptions) (page, string, error) {
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
		return page{}, "", err
	}
	listMeta, err := meta.ListAccessor(obj)
	if err != nil {
		return page{}, "", fmt.Errorf("reading list metadata: %w", err)
	}
	items, err := meta.ExtractList(obj)
	if err != nil {
		return page{}, "", fmt.Errorf("reading list items: %w", err)
	}
	gvk := res.GroupVersionKind()
	p := page{objects: make([]listedObject, 0, len(items))}
	for _, item := range items {
		p.objects = append(p.objects, encodeTyped(item, gvk))
	}
	return p, listMeta.GetContinue(), nil
}

func encodeTyped(item runtime.Object, gvk schema.GroupVersionKind) listedObject {
	accessor, err := meta.Accessor(item)
	if err != nil {
		return listedObject{err: err}
	}
	accessor.SetManagedFields(nil)
	// Items of a typed list carry no apiVersion and kind; the pack's
	// documents must, to be read without the manifest.
	item.GetObjectKind().SetGroupVersionKind(gvk)
	restoreEmbeddedTypeMeta(item)
	data, err := json.Marshal(item)
	if err != nil {
		return listedObject{namespace: accessor.GetNamespace(), doc: pack.Document{Name: accessor.GetName()}, err: err}
	}
	doc, err := pack.EncodeJSON(data)
	if err != nil {
		doc.Name = accessor.GetName()
	}
	return listedObject{namespace: accessor.GetNamespace(), doc: doc, size: len(data), err: err}
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
func (l *lister) fetchDynamic(ctx context.Context, res kube.Resource, namespace string, opts metav1.ListOptions) (page, string, error) {
	list, err := l.client.Dynamic.Resource(res.GroupVersionResource()).Namespace(namespace).List(ctx, opts)
	if err != nil {
		return page{}, "", err
	}
	p := page{objects: make([]listedObject, 0, len(list.Items))}
	for i := range list.Items {
		item := &list.Items[i]
		obj := listedObject{namespace: item.GetNamespace()}
		data, err := item.MarshalJSON()
		if err == nil {
			obj.size = len(data)
			obj.doc, err = pack.EncodeMap(item.Object)
		}
		if err != nil {
			obj.doc.Name = item.GetName()
			obj.err = err
		}
		p.objects = append(p.objects, obj)
	}
	return p, list.GetContinue(), nil
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
