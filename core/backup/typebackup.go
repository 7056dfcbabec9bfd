package backup

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v5"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/core/pack"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/selection"
)

// typeBackup stores every selected object of one resource type.
type typeBackup struct {
	backup *run
	res    kube.Resource

	packs         []repo.PackEntry
	skipped       []repo.SkippedObject
	objects       int
	uploaded      int
	bytesUploaded int64
}

func newTypeBackup(b *run, res kube.Resource) *typeBackup {
	return &typeBackup{backup: b, res: res}
}

// typeAttempts is how often a type is read from the start after a transient
// failure (a timeout, a dropped connection, an expired continue token).
const typeAttempts = 3

// errOutOfOrder says a LIST did not return objects grouped by namespace, so
// packs cannot be written a namespace at a time.
var errOutOfOrder = errors.New("objects not ordered by namespace")

func (t *typeBackup) run(ctx context.Context) error {
	streaming := true
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		t.reset()
		err := t.once(ctx, streaming)
		if errors.Is(err, errOutOfOrder) {
			// Servers of aggregated APIs need not sort: read the type again,
			// holding it whole.
			streaming = false
			t.reset()
			err = t.once(ctx, streaming)
		}
		switch {
		case err == nil:
			return struct{}{}, nil
		case isStorageError(err) || !Transient(err):
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, err
	}, backoff.WithBackOff(&backoff.ExponentialBackOff{
		InitialInterval: 200 * time.Millisecond, RandomizationFactor: 0.5, Multiplier: 2, MaxInterval: 2 * time.Second,
	}), backoff.WithMaxTries(typeAttempts))
	return err
}

func (t *typeBackup) reset() {
	t.packs, t.skipped = nil, nil
	t.objects, t.uploaded, t.bytesUploaded = 0, 0, 0
}

// once reads the type and writes its packs. Streaming, it writes each
// namespace's pack as soon as the LIST moves past that namespace, which
// etcd-backed types do as they return objects in key order (namespace, then
// name); otherwise it holds every namespace until the LIST ends.
func (t *typeBackup) once(ctx context.Context, streaming bool) error {
	b := t.backup
	l := &lister{client: b.client, pageSize: b.opts.PageSize, selector: b.opts.LabelSelector, breaker: b.breaker}
	buffers := map[string][]pack.Document{}
	var order []string // namespaces in the order first seen
	written := map[string]bool{}
	current := ""

	add := func(o listedObject) error {
		if _, ok := buffers[o.namespace]; !ok {
			if streaming && len(order) > 0 {
				if written[o.namespace] || o.namespace < current {
					return errOutOfOrder
				}
				if err := t.writePack(ctx, current, buffers[current]); err != nil {
					return err
				}
				written[current] = true
				delete(buffers, current)
			}
			order = append(order, o.namespace)
			current = o.namespace
			buffers[o.namespace] = nil
		}
		buffers[o.namespace] = append(buffers[o.namespace], o.doc)
		return nil
	}

	for _, namespace := range t.listNamespaces() {
		err := l.list(ctx, t.res, namespace, func(p page) error {
			for _, o := range p.objects {
				if !t.selected(o) {
					continue
				}
				if reason := t.skipReason(o); reason != "" {
					if o.err != nil && !b.opts.SkipInvalid {
						return fmt.Errorf("object %s: %w (set skip_invalid_resources to record it and go on)", objectName(o), o.err)
					}
					t.skipped = append(t.skipped, repo.SkippedObject{Resource: t.res.String(), Namespace: o.namespace, Name: o.doc.Name, Reason: reason})
					continue
				}
				if err := add(o); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, ns := range order {
		if written[ns] {
			continue
		}
		if err := t.writePack(ctx, ns, buffers[ns]); err != nil {
			return err
		}
	}
	return nil
}

// listNamespaces says which LISTs read the type: one across the cluster
// (""), or one per namespace when a few namespaces are named exactly.
func (t *typeBackup) listNamespaces() []string {
	if t.res.Namespaced {
		if names, ok := t.backup.sel.namespaces.Exact(exactNamespaceLimit); ok {
			return names
		}
	}
	return []string{""}
}

// selected applies the namespace filter: to the namespace of namespaced
// objects, and to the name of Namespace objects.
func (t *typeBackup) selected(o listedObject) bool {
	filter := t.backup.sel.namespaces
	switch {
	case t.res.Namespaced:
		return filter.Match(o.namespace)
	case t.res.GroupResource() == selection.NamespacesResource:
		return filter.Match(o.doc.Name)
	}
	return true
}

// skipReason says why an object is left out, or "".
func (t *typeBackup) skipReason(o listedObject) string {
	if o.err != nil {
		return "invalid: " + o.err.Error()
	}
	if limit := t.backup.opts.MaxResourceSize; limit > 0 && int64(o.size) > limit {
		return fmt.Sprintf("%d bytes, larger than max_resource_size (%d bytes)", o.size, limit)
	}
	return ""
}

func objectName(o listedObject) string {
	if o.namespace == "" {
		return o.doc.Name
	}
	return o.namespace + "/" + o.doc.Name
}

// writePack stores the objects of one namespace as a pack.
func (t *typeBackup) writePack(ctx context.Context, namespace string, docs []pack.Document) error {
	if len(docs) == 0 {
		return nil
	}
	content, names, err := pack.Build(docs)
	if err != nil {
		return fmt.Errorf("namespace %q: %w", namespace, err)
	}
	b := t.backup
	if err := b.waitPrepared(ctx); err != nil {
		return err
	}
	spec := repo.PackSpec{Cluster: b.identity.Name, Namespace: namespace, Resource: t.res.String()}
	ref, uploaded, err := b.repo.WritePack(ctx, spec, content, b.known)
	if err != nil {
		return err
	}
	t.packs = append(t.packs, repo.NewPackEntry(ref, t.res.GroupVersionKind(), names))
	t.objects += len(names)
	if uploaded {
		t.uploaded++
		t.bytesUploaded += ref.Size
	}
	return nil
}

// Transient reports an error of the API server worth trying again for: a
// timeout, a dropped or refused connection, an expired continue token, 429
// or 5xx. Fleet runs use it to decide whether to try a cluster again.
func Transient(err error) bool {
	switch {
	case apierrors.IsResourceExpired(err), apierrors.IsGone(err),
		apierrors.IsServerTimeout(err), apierrors.IsTimeout(err), apierrors.IsTooManyRequests(err),
		apierrors.IsInternalError(err), apierrors.IsServiceUnavailable(err), apierrors.IsUnexpectedServerError(err):
		return true
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, context.DeadlineExceeded):
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}
