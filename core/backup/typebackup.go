package backup

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
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
// namespace's pack as its objects arrive, compressed on the way, and stores
// it as soon as the LIST moves past that namespace, which etcd-backed types
// allow as they return objects in key order (<namespace>/<name>, see
// keyOrdered): it holds a namespace's compressed pack and the pages in
// flight, not the namespace's objects. Otherwise it holds every namespace's
// objects until the LIST ends.
func (t *typeBackup) once(ctx context.Context, streaming bool) error {
	b := t.backup
	l := &lister{client: b.client, pageSize: b.opts.PageSize, selector: b.opts.LabelSelector, breaker: b.breaker}
	buffers := map[string][]pack.Document{} // when not streaming
	var order []string                      // namespaces in the order first seen
	written := map[string]bool{}
	current := ""
	var open *packWriter // the pack of current, when streaming
	defer func() {
		if open != nil {
			open.discard()
		}
	}()

	add := func(o listedObject) error {
		if !streaming {
			if _, ok := buffers[o.namespace]; !ok {
				order = append(order, o.namespace)
			}
			buffers[o.namespace] = append(buffers[o.namespace], o.doc)
			return nil
		}
		if open == nil || o.namespace != current {
			if open != nil {
				if written[o.namespace] || !keyOrdered(current, o.namespace) {
					return errOutOfOrder
				}
				err := t.storePack(ctx, current, open)
				open = nil
				if err != nil {
					return err
				}
				written[current] = true
			}
			current, open = o.namespace, newPackWriter()
		}
		return open.add(o.namespace, o.doc)
	}

	for _, namespace := range t.listNamespaces() {
		err := l.list(ctx, t.res, namespace, func(p page) error {
			for _, o := range p.objects {
				if !t.selected(o) {
					continue
				}
				if o.leftOut != "" {
					t.skipped = append(t.skipped, repo.SkippedObject{Resource: t.res.String(), Namespace: o.namespace, Name: o.doc.Name, Reason: o.leftOut, ByPolicy: true})
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
	if open != nil {
		err := t.storePack(ctx, current, open)
		open = nil
		return err
	}
	for _, ns := range order {
		if err := t.writePack(ctx, ns, buffers[ns]); err != nil {
			return err
		}
		delete(buffers, ns)
	}
	return nil
}

// packWriter is the pack of one namespace being written: documents in name
// order, compressed as they come.
type packWriter struct {
	builder *repo.PackBuilder
	names   []string
}

func newPackWriter() *packWriter { return &packWriter{builder: repo.NewPackBuilder()} }

// add writes the next document. One out of name order (or a second of one
// name) fails with errOutOfOrder: the type is then read again, held whole
// and sorted.
func (w *packWriter) add(namespace string, d pack.Document) error {
	if n := len(w.names); n > 0 && d.Name <= w.names[n-1] {
		return errOutOfOrder
	}
	if err := pack.WriteDocument(w.builder, d); err != nil {
		return fmt.Errorf("%s: %w", where(namespace), err)
	}
	w.names = append(w.names, d.Name)
	return nil
}

func (w *packWriter) discard() { w.builder.Discard() }

func where(namespace string) string {
	if namespace == "" {
		return "cluster-scoped objects"
	}
	return "namespace " + namespace
}

// keyOrdered reports whether etcd returns the objects of namespace a before
// those of namespace b. Its keys are <namespace>/<name>, compared byte by
// byte, so the separator takes part: shop-dev/x comes before shop/x, since
// '-' sorts before '/', although "shop" < "shop-dev".
func keyOrdered(a, b string) bool { return compareKeyOrder(a, b) < 0 }

func compareKeyOrder(a, b string) int { return strings.Compare(a+"/", b+"/") }

// listNamespaces says which LISTs read the type: one across the cluster
// (""), or one per namespace when a few namespaces are named exactly.
func (t *typeBackup) listNamespaces() []string {
	if t.res.Namespaced {
		if names, ok := t.backup.sel.namespaces.Exact(exactNamespaceLimit); ok {
			// In the order a cluster-wide LIST would return them, which
			// once checks.
			slices.SortFunc(names, compareKeyOrder)
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
	// Readers refuse a manifest naming an object they could not restore
	// or print safely; such an object is left out as invalid.
	if err := repo.ValidateObjectName(o.doc.Name); err != nil {
		return "invalid: " + err.Error()
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

// writePack stores the objects of one namespace, in any order, as a pack.
func (t *typeBackup) writePack(ctx context.Context, namespace string, docs []pack.Document) error {
	if len(docs) == 0 {
		return nil
	}
	slices.SortFunc(docs, func(a, b pack.Document) int { return strings.Compare(a.Name, b.Name) })
	w := newPackWriter()
	for i, d := range docs {
		if i > 0 && docs[i-1].Name == d.Name {
			w.discard()
			return fmt.Errorf("namespace %q: two objects named %q in one pack", namespace, d.Name)
		}
		if err := w.add(namespace, d); err != nil {
			w.discard()
			return err
		}
		docs[i] = pack.Document{} // written: let it go
	}
	return t.storePack(ctx, namespace, w)
}

// storePack stores a namespace's written pack.
func (t *typeBackup) storePack(ctx context.Context, namespace string, w *packWriter) error {
	if len(w.names) == 0 {
		w.discard()
		return nil
	}
	b := t.backup
	if err := b.waitPrepared(ctx); err != nil {
		w.discard()
		return err
	}
	spec := repo.PackSpec{Cluster: b.identity.Name, Namespace: namespace, Resource: t.res.String()}
	ref, uploaded, err := b.repo.StorePack(ctx, spec, w.builder, b.known)
	if err != nil {
		return err
	}
	t.packs = append(t.packs, repo.NewPackEntry(ref, t.res.GroupVersionKind(), w.names))
	t.objects += len(w.names)
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
