package restore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"

	"github.com/kbackup/kbackup/core/catalog"
	"github.com/kbackup/kbackup/core/clean"
	"github.com/kbackup/kbackup/core/diff"
	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/core/repo"
)

// Errors Apply returns before changing anything.
var (
	// ErrExistingObjects: under PolicyFail, selected objects exist in the
	// target and differ from the backup.
	ErrExistingObjects = errors.New("objects exist in the target and differ from the backup")
	// ErrPlanApplied: a plan is applied once; make a new plan.
	ErrPlanApplied = errors.New("the plan was applied already")
)

// retryBackoff spaces the retries of a request refused for a passing
// reason (throttling, a timeout, a conflict): five tries over about three
// seconds.
var retryBackoff = wait.Backoff{Steps: 5, Duration: 200 * time.Millisecond, Factor: 2, Jitter: 0.2}

// Apply carries out a plan: stage by stage, each stage's objects
// concurrently (Options.Concurrency at a time), and never stops at an
// object that fails. It returns the Result of every object, and writes it
// as the restore record (<target>/_restores/<id>.json) unless the plan is a
// dry run. Apply spends the plan: it releases the plan's items once every
// object is done. An error with a nil Result means nothing was changed
// (ErrExistingObjects, a cluster name taken); an error with a Result means
// the restore ran but its record could not be written, or it was cancelled.
func Apply(ctx context.Context, plan *Plan) (*Result, error) {
	if plan.applied {
		return nil, ErrPlanApplied
	}
	// Cancellation stops the requests in flight; the Result says what was
	// and was not applied, without a client-go line per request.
	ctx = kube.QuietCancellations(ctx)
	opts := plan.Options
	if conflicts := plan.Conflicts(); len(conflicts) > 0 {
		names := make([]string, 0, 5)
		for _, it := range conflicts[:min(5, len(conflicts))] {
			names = append(names, it.Display())
		}
		more := ""
		if len(conflicts) > 5 {
			more = fmt.Sprintf(" and %d more", len(conflicts)-5)
		}
		return nil, fmt.Errorf("%w (policy fail): %s%s; nothing was changed. Use policy skip to keep them or update to overwrite them",
			ErrExistingObjects, strings.Join(names, ", "), more)
	}
	if !opts.DryRun {
		_, err := plan.repo.ClaimCluster(ctx, plan.clusterIdentity(), repo.ClaimOptions{Override: opts.ForceClusterName})
		if err != nil {
			return nil, fmt.Errorf("recording the restore under cluster %s: %w", plan.Target.Name, err)
		}
	}
	plan.applied = true

	a := &applier{plan: plan, opts: opts, client: plan.client, resources: plan.resources,
		uids: map[types.UID]types.UID{}, liveOwners: map[string]types.UID{},
		results: make([]itemResult, len(plan.Items)), total: len(plan.Items),
		owners: map[types.UID]int{}, ownerDone: map[int]chan struct{}{}}
	// Only objects that others name as owners are tracked by UID: their
	// new UIDs are what owner references need.
	for _, it := range plan.Items {
		for _, o := range it.owners() {
			a.owners[o.uid] = -1
		}
	}
	for i, it := range plan.Items {
		it.at = int32(i)
		if _, ok := a.owners[it.sourceUID]; ok && it.sends && it.sourceUID != "" {
			a.owners[it.sourceUID] = i
			a.ownerDone[i] = make(chan struct{})
		}
	}
	res := &Result{
		FormatVersion: RecordFormatVersion, ID: plan.ID, RunID: opts.RunID, Backup: plan.Backup, Target: plan.Target,
		DryRun: opts.DryRun, Options: opts, StartedAt: opts.Now().UTC(),
	}
	opts.Progress(Event{Kind: EventStarted, Total: a.total})

	for start := 0; start < len(plan.Items); {
		stage := plan.Items[start].Stage
		end := start
		for end < len(plan.Items) && plan.Items[end].Stage == stage {
			end++
		}
		sr := StageResult{Stage: stage, Objects: end - start, StartedAt: opts.Now().UTC()}
		began := time.Now()
		a.stageDone, a.stageTotal = 0, end-start
		opts.Progress(Event{Kind: EventStageStarted, Stage: stage, StageTotal: end - start, Done: a.done, Total: a.total})
		a.applyStage(ctx, start, end)
		if stage == StageCRDs {
			sr.Waited = a.waitForCRDs(ctx, start, end)
		}
		sr.Duration = time.Since(began)
		res.Stages = append(res.Stages, sr)
		opts.Progress(Event{Kind: EventStageDone, Stage: stage, StageDone: a.stageDone, StageTotal: a.stageTotal, Done: a.done, Total: a.total, Counts: a.counts})
		start = end
	}
	// The plan is spent: each item goes as its result is made, and the
	// rest before the record is encoded, so that a restore of many
	// objects does not hold both at its peak.
	a.owners, a.ownerDone = nil, nil
	res.Objects = make([]ObjectResult, len(plan.Items))
	for i, it := range plan.Items {
		res.Objects[i] = a.results[i].result(it)
		plan.Items[i] = nil
	}
	plan.Items, a.results = nil, nil
	res.CompletedAt = opts.Now().UTC()
	res.Warnings = plan.Warnings
	res.Totals, res.Counts = groupCounts(slices.Values(res.Objects))
	switch {
	case res.Totals.Failed == 0 && ctx.Err() == nil:
		res.Phase = PhaseCompleted
	case res.Totals.Failed == res.Totals.Total-res.Totals.Skipped-res.Totals.Unchanged || ctx.Err() != nil:
		res.Phase = PhaseFailed
	default:
		res.Phase = PhasePartiallyFailed
	}
	opts.Progress(Event{Kind: EventFinished, Done: a.done, Total: a.total, Counts: res.Totals})
	if ctx.Err() != nil {
		err := fmt.Errorf("restore %s cancelled: %w", plan.ID, ctx.Err())
		if !opts.DryRun {
			err = errors.Join(err, a.record(res))
		}
		return res, err
	}
	if opts.DryRun {
		return res, nil
	}
	return res, a.record(res)
}

// job is one item of a stage with the object Apply sends for it, read
// from the backup and prepared, or why it could not be read.
type job struct {
	index int
	obj   *unstructured.Unstructured
	// size is the object's size in the backup, what it weighs against
	// bytesInFlight.
	size int
	err  error
}

// bytesInFlight bounds the size of the objects whose requests are in
// flight at once, besides their number (Options.Concurrency): each holds
// the object, its request body and the decoded answer, a few times its
// size, and a namespace of objects of a MiB each (Helm's release history)
// would otherwise cost a few times Concurrency MiB. An object larger than
// this goes alone. Objects of a few KB, the most common, are never held
// back by it.
const bytesInFlight = 4 << 20

// applyStage applies the items [start, end) of one stage, Concurrency at a
// time, in order. A reader goroutine reads their objects from the backup
// one pack at a time, a little ahead of the requests, so that a stage holds
// a pack's content and the objects in flight, never the whole stage.
func (a *applier) applyStage(ctx context.Context, start, end int) {
	// The requests in flight are the buffer: the reader stays one object
	// ahead, so that a stage of large objects holds few of them at once.
	jobs := make(chan job, 1)
	go a.readStage(ctx, start, end, jobs)
	g := errgroup.Group{}
	g.SetLimit(a.opts.Concurrency)
	inFlight := semaphore.NewWeighted(bytesInFlight)
	for j := range jobs {
		it := a.plan.Items[j.index]
		weight := min(int64(j.size), bytesInFlight)
		// Acquire fails only when the context is done, and then every
		// request fails at once without sending.
		if err := inFlight.Acquire(ctx, weight); err != nil {
			weight = 0
		}
		// Only owners earlier in the order are waited for: they were
		// started before, so waiting cannot starve them of a slot, and
		// an ownership cycle cannot wait on itself. An owner later in
		// the order has no new UID yet, and the reference is dropped.
		var waits []chan struct{}
		for _, o := range it.owners() {
			if i, ok := a.owners[o.uid]; ok && i >= 0 && i < j.index {
				waits = append(waits, a.ownerDone[i])
			}
		}
		g.Go(func() error {
			defer inFlight.Release(weight)
			if done, ok := a.ownerDone[j.index]; ok {
				defer close(done)
			}
			for _, w := range waits {
				select {
				case <-w:
				case <-ctx.Done():
				}
			}
			if j.err != nil {
				a.finish(j.index, ObjectResult{Stage: it.Stage, Resource: it.Resource, Kind: it.Kind, Namespace: it.Namespace,
					SourceNamespace: it.SourceNamespace, Name: it.Name, Notes: it.Notes, Outcome: Failed, Error: j.err.Error()})
				return nil
			}
			a.finish(j.index, a.apply(ctx, it, j.obj))
			return nil
		})
	}
	_ = g.Wait()
}

// readStage sends a job for every item of [start, end) in order, with the
// prepared object of every item that is sent. Items of one pack are next
// to each other (order), so each run of them reads its pack once.
func (a *applier) readStage(ctx context.Context, start, end int, jobs chan<- job) {
	defer close(jobs)
	items := a.plan.Items
	for i := start; i < end; {
		j := i + 1
		for j < end && items[i].pack >= 0 && items[j].pack == items[i].pack {
			j++
		}
		needed := map[int]int{} // position in the pack to index
		for k := i; k < j; k++ {
			if a.sendsObject(items[k]) && items[k].pack >= 0 {
				needed[int(items[k].pos)] = k
			}
		}
		if len(needed) > 0 && ctx.Err() == nil {
			a.readRun(ctx, int(items[i].pack), needed, i, j, jobs)
		} else {
			for k := i; k < j; k++ {
				jb := job{index: k}
				if items[k].pack < 0 && items[k].extra != nil && items[k].extra.obj != nil {
					jb.obj = items[k].extra.obj.DeepCopy()
				}
				jobs <- jb
			}
		}
		i = j
	}
}

// readRun reads the pack of items [i, j) and sends their jobs in order as
// their objects are decoded; items that send nothing go out as they come
// up. When the pack cannot be read again, the objects not sent yet fail,
// each saying why.
func (a *applier) readRun(ctx context.Context, pack int, needed map[int]int, i, j int, jobs chan<- job) {
	items := a.plan.Items
	p := a.plan.packs[pack]
	gr := schema.ParseGroupResource(p.Resource)
	next := i
	// Items are ordered by position in the pack, so each decoded object
	// releases the items up to its own.
	flushUntil := func(limit int) {
		for ; next < limit; next++ {
			jobs <- job{index: next}
		}
	}
	err := catalog.EachSizedObject(ctx, a.plan.repo, p, func(pos int, obj *unstructured.Unstructured, size int) error {
		k, ok := needed[pos]
		if !ok {
			return nil
		}
		if k < next {
			return fmt.Errorf("pack %s: the plan's order does not follow the pack's", p.Key)
		}
		flushUntil(k)
		notes, skip := a.plan.prep.prepare(gr, obj)
		if skip != "" || !slices.Equal(notes, items[k].Notes) {
			return fmt.Errorf("pack %s: %s %s prepares otherwise than it was planned: %w", p.Key, p.Resource, obj.GetName(), repo.ErrCorrupt)
		}
		jobs <- job{index: k, obj: obj, size: size}
		next = k + 1
		return nil
	})
	for ; err != nil && next < j; next++ {
		jb := job{index: next}
		if _, ok := needed[int(items[next].pos)]; ok && ctx.Err() == nil {
			jb.err = fmt.Errorf("not restored: reading its pack from the backup again failed: %w", err)
		}
		jobs <- jb
	}
	flushUntil(j)
}

// sendsObject reports whether Apply sends, or may compare, an item's
// object: it needs it read from the backup.
func (a *applier) sendsObject(it *Item) bool {
	return it.sends && (it.Action == ActionCreate || it.Action == ActionUpdate)
}

func (p *Plan) clusterIdentity() repo.ClusterIdentity {
	id := p.identity
	return repo.ClusterIdentity{Name: id.Name, UID: id.UID, Provider: id.Provider, Distribution: id.Distribution,
		KubernetesVersion: id.KubernetesVersion, Server: id.Server, NameSource: id.NameSource}
}

// applier carries out one plan.
type applier struct {
	plan      *Plan
	opts      Options
	client    *kube.Client
	resources *kube.Resources
	// owners are the source UIDs that owner references name, with the
	// index of the item that restores each (-1: not restored here).
	owners map[types.UID]int
	// ownerDone is closed when the owner at that index is done.
	ownerDone map[int]chan struct{}

	mu         sync.Mutex
	uids       map[types.UID]types.UID // source UID to target UID
	liveOwners map[string]types.UID    // owners looked up in the target
	results    []itemResult
	done       int
	total      int
	stageDone  int
	stageTotal int
	counts     Counts
}

// itemResult is what happened to an item, kept compact while the restore
// runs (a few bytes where an ObjectResult takes 192): the fields that the
// item says already are not repeated. A result that says more (an error, a
// reason or a diff of its own, notes added) is kept whole.
type itemResult struct {
	outcome  Outcome
	duration time.Duration
	// fromItem says which of the result's fields are the item's.
	fromItem uint8
	whole    *ObjectResult
}

const (
	reasonFromItem uint8 = 1 << iota
	diffFromItem
)

// compact keeps r, the result of it.
func compact(it *Item, r ObjectResult) itemResult {
	c := itemResult{outcome: r.Outcome, duration: r.Duration}
	whole := r.Error != "" || len(r.Notes) != len(it.Notes) || len(r.Notes) > 0 && &r.Notes[0] != &it.Notes[0] ||
		r.Stage != it.Stage || r.Name != it.Name || r.Namespace != it.Namespace
	switch {
	case r.Reason == "":
	case r.Reason == it.Reason:
		c.fromItem |= reasonFromItem
	default:
		whole = true
	}
	switch {
	case r.Diff == "":
	case r.Diff == it.Diff:
		c.fromItem |= diffFromItem
	default:
		whole = true
	}
	if whole {
		c.whole = &r
	}
	return c
}

// result is the ObjectResult that c keeps of it.
func (c itemResult) result(it *Item) ObjectResult {
	if c.whole != nil {
		return *c.whole
	}
	r := ObjectResult{Stage: it.Stage, Resource: it.Resource, Kind: it.Kind, Namespace: it.Namespace,
		SourceNamespace: it.SourceNamespace, Name: it.Name, Notes: it.Notes, Outcome: c.outcome, Duration: c.duration}
	if c.fromItem&reasonFromItem != 0 {
		r.Reason = it.Reason
	}
	if c.fromItem&diffFromItem != 0 {
		r.Diff = it.Diff
	}
	return r
}

func (a *applier) finish(i int, r ObjectResult) {
	c := compact(a.plan.Items[i], r)
	a.mu.Lock()
	a.results[i] = c
	a.done++
	a.stageDone++
	a.counts.Add(r.Outcome)
	ev := Event{Kind: EventObjectDone, Stage: r.Stage, Object: &r, Done: a.done, Total: a.total,
		StageDone: a.stageDone, StageTotal: a.stageTotal, Counts: a.counts}
	a.mu.Unlock()
	a.opts.Progress(ev)
}

// record writes the result as the restore record, even when the restore
// was cancelled: what was done must be known.
func (a *applier) record(res *Result) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := a.plan.repo.WriteRestoreRecord(ctx, res.Target.Name, res.ID, res); err != nil {
		return fmt.Errorf("restore %s ran, but its record could not be written: %w", res.ID, err)
	}
	res.RecordKey = a.plan.repo.Layout().RestoreRecord(res.Target.Name, res.ID)
	a.opts.Progress(Event{Kind: EventRecorded, Message: res.RecordKey, Done: a.done, Total: a.total, Counts: res.Totals})
	return nil
}

func (a *applier) setUID(source, target types.UID) {
	if source == "" || target == "" {
		return
	}
	// Only owners' new UIDs are looked up (resolveOwners).
	if _, owner := a.owners[source]; !owner {
		return
	}
	a.mu.Lock()
	a.uids[source] = target
	a.mu.Unlock()
}

// apply restores one item and says what happened.
func (a *applier) apply(ctx context.Context, it *Item, obj *unstructured.Unstructured) (r ObjectResult) {
	r = ObjectResult{Stage: it.Stage, Resource: it.Resource, Kind: it.Kind, Namespace: it.Namespace,
		SourceNamespace: it.SourceNamespace, Name: it.Name, Notes: it.Notes}
	switch it.Action {
	case ActionSkip:
		a.setUID(it.sourceUID, it.liveUID())
		r.Outcome, r.Reason, r.Diff = Skipped, it.Reason, it.Diff
		return r
	case ActionFail:
		r.Outcome, r.Error, r.Diff = Failed, it.Reason, it.Diff
		return r
	case ActionNone:
		a.setUID(it.sourceUID, it.liveUID())
		r.Outcome, r.Reason = Unchanged, it.Reason
		return r
	}
	if err := ctx.Err(); err != nil {
		r.Outcome, r.Error = Failed, "not restored: the restore was cancelled"
		return r
	}
	if reason, failed := a.checkType(it); reason != "" {
		if failed {
			r.Outcome, r.Error = Failed, reason
		} else {
			r.Outcome, r.Reason = Skipped, reason
		}
		return r
	}
	if a.opts.DryRun && it.Namespace != "" && !a.plan.liveNamespaces[it.Namespace] {
		r.Outcome = Skipped
		r.Reason = fmt.Sprintf("dry run: namespace %s does not exist in the target yet and a dry run does not create it, so the server cannot check this object", it.Namespace)
		return r
	}
	if obj == nil {
		r.Outcome, r.Error = Failed, "not restored: its object was not read from the backup"
		return r
	}
	// The prepared object is what existing compares; owner references
	// with the target's UIDs go into a copy.
	prepared := obj
	if len(it.owners()) > 0 {
		obj = obj.DeepCopy()
	}
	r.Notes = append(slices.Clone(r.Notes), a.resolveOwners(ctx, it, obj)...)
	started := time.Now()
	defer func() { r.Duration = time.Since(started) }()

	client := a.client.Dynamic.Resource(*it.gvr).Namespace(it.Namespace)
	if it.Action == ActionUpdate {
		a.update(ctx, client, it, obj, &r)
		return r
	}
	var created *unstructured.Unstructured
	err := a.retry(ctx, func() error {
		var err error
		created, err = client.Create(ctx, obj, metav1.CreateOptions{FieldManager: FieldManager, FieldValidation: "Strict", DryRun: a.dryRun()})
		return err
	})
	switch {
	case err == nil:
		a.setUID(it.sourceUID, created.GetUID())
		r.Outcome = Created
	case apierrors.IsAlreadyExists(err):
		// It appeared since the plan was made (a controller made it, as
		// the default ServiceAccount of a new namespace): compare now.
		a.existing(ctx, client, it, prepared, obj, &r)
	default:
		r.Outcome, r.Error = Failed, err.Error()
	}
	return r
}

// existing handles an object found at create time.
func (a *applier) existing(ctx context.Context, client dynamic.ResourceInterface, it *Item, prepared, obj *unstructured.Unstructured, r *ObjectResult) {
	var live *unstructured.Unstructured
	err := a.retry(ctx, func() error {
		var err error
		live, err = client.Get(ctx, it.Name, metav1.GetOptions{})
		return err
	})
	if err != nil {
		r.Outcome, r.Error = Failed, fmt.Sprintf("it exists in the target, and reading it failed: %v", err)
		return
	}
	a.setUID(it.sourceUID, live.GetUID())
	text, differs, err := diff.Objects(prepared, clean.Copy(live, clean.Options{PreserveNodePorts: a.opts.PreserveNodePorts}),
		"backup/"+it.Display(), "live/"+it.Display(), diff.DefaultContext)
	if err != nil {
		r.Outcome, r.Error = Failed, err.Error()
		return
	}
	if !differs {
		r.Outcome, r.Reason = Unchanged, "appeared in the target after the plan was made, equal to the backup after cleaning"
		return
	}
	r.Diff = text
	switch a.opts.ExistingResourcePolicy {
	case PolicyUpdate:
		if it.ClusterScoped() && !a.opts.UpdateClusterResources {
			r.Outcome, r.Reason = Skipped, "appeared in the target after the plan was made and "+reasonClusterScopedKept[len("exists in the target and "):]
			return
		}
		a.update(ctx, client, it, obj, r)
	case PolicyFail:
		r.Outcome, r.Error = Failed, "appeared in the target after the plan was made, and differs from the backup (policy fail)"
	default:
		r.Outcome, r.Reason = Skipped, "appeared in the target after the plan was made, and differs from the backup (policy skip)"
	}
}

// update applies the backup's object with server-side apply, forcing
// conflicts: the user asked for the backup's values, so fields that other
// managers own are taken over. Fields the backup does not hold and that
// others manage are left alone.
func (a *applier) update(ctx context.Context, client dynamic.ResourceInterface, it *Item, obj *unstructured.Unstructured, r *ObjectResult) {
	var applied *unstructured.Unstructured
	err := a.retry(ctx, func() error {
		var err error
		applied, err = client.Apply(ctx, it.Name, obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: true, DryRun: a.dryRun()})
		return err
	})
	if err != nil {
		r.Outcome, r.Error = Failed, err.Error()
		return
	}
	a.setUID(it.sourceUID, applied.GetUID())
	r.Outcome, r.Diff = Updated, it.Diff+r.Diff
	r.Reason = "existed and differed; server-side applied with field manager " + FieldManager
}

func (a *applier) dryRun() []string {
	if a.opts.DryRun {
		return []string{metav1.DryRunAll}
	}
	return nil
}

// checkType says why an item of a custom resource type cannot be sent:
// its definition was restored in this restore but is not served, or this is
// a dry run, in which the definition was never created. failed says whether
// that is a failure or a skip.
func (a *applier) checkType(it *Item) (reason string, failed bool) {
	pendingCRD := it.pendingCRD()
	if pendingCRD == "" {
		return "", false
	}
	if a.opts.DryRun {
		return fmt.Sprintf("dry run: its CustomResourceDefinition %s is created only by a real restore, so the server cannot check this object", pendingCRD), false
	}
	a.mu.Lock()
	res, ok := a.resources.Lookup(schema.ParseGroupResource(it.Resource))
	a.mu.Unlock()
	if !ok {
		return fmt.Sprintf("the target does not serve %s although its CustomResourceDefinition %s was restored (see that object's outcome)", it.Resource, pendingCRD), true
	}
	if !res.HasVerb("create") {
		return fmt.Sprintf("the target does not allow creating %s", it.Resource), false
	}
	return "", false
}

// waitForCRDs waits until the restored CustomResourceDefinitions are
// Established, then discovers the target again so that their custom
// resources can be sent. It returns how long it waited.
func (a *applier) waitForCRDs(ctx context.Context, start, end int) time.Duration {
	if a.opts.DryRun {
		return 0
	}
	began := time.Now()
	var names []string
	for i := start; i < end; i++ {
		if o := a.results[i].outcome; o == Created || o == Updated || o == Unchanged {
			names = append(names, a.plan.Items[i].Name)
		}
	}
	if len(names) == 0 {
		return 0
	}
	a.opts.Progress(Event{Kind: EventWaiting, Stage: StageCRDs, Done: a.done, Total: a.total, Counts: a.counts,
		Message: fmt.Sprintf("waiting for %d CustomResourceDefinitions to be Established", len(names))})
	crds := a.client.Dynamic.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	wctx, cancel := context.WithTimeout(ctx, a.opts.CRDTimeout)
	defer cancel()
	g := errgroup.Group{}
	g.SetLimit(a.opts.Concurrency)
	var mu sync.Mutex
	var late []string
	for _, name := range names {
		g.Go(func() error {
			err := wait.PollUntilContextCancel(wctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
				crd, err := crds.Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return false, nil
				}
				return established(crd), nil
			})
			if err != nil {
				mu.Lock()
				late = append(late, name)
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait()
	if len(late) > 0 {
		a.mu.Lock()
		a.plan.Warnings = append(a.plan.Warnings, fmt.Sprintf("CustomResourceDefinitions not Established after %s: %s", a.opts.CRDTimeout, strings.Join(late, ", ")))
		a.mu.Unlock()
	}
	if found, err := a.client.Discover(ctx); err == nil {
		a.mu.Lock()
		a.resources = found
		a.mu.Unlock()
	}
	return time.Since(began)
}

func established(crd *unstructured.Unstructured) bool {
	conditions, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conditions {
		cond, _ := c.(map[string]any)
		if cond["type"] == "Established" && cond["status"] == "True" {
			return true
		}
	}
	return false
}

// resolveOwners points the owner references of obj at the owners' UIDs in
// the target: an owner restored here (or found unchanged) by its new UID,
// an owner not in the restore by the UID of the live object of that kind
// and name. A reference to an owner found nowhere is dropped, since the
// garbage collector would delete an object whose owners are all missing.
func (a *applier) resolveOwners(ctx context.Context, it *Item, obj *unstructured.Unstructured) []string {
	if len(it.owners()) == 0 {
		return nil
	}
	var refs []metav1.OwnerReference
	var notes []string
	for _, o := range it.owners() {
		a.mu.Lock()
		uid, ok := a.uids[o.uid]
		a.mu.Unlock()
		owner, known := a.owners[o.uid]
		if !known {
			owner = -1
		}
		if !ok && owner < 0 {
			uid = a.liveOwner(ctx, o, it.Namespace)
			if uid != "" {
				notes = append(notes, fmt.Sprintf("owner reference to %s %s points at the live owner in the target", o.kind, o.name))
			}
		}
		switch {
		case uid != "":
		case owner >= 0 && a.plan.Items[owner] == it:
			notes = append(notes, fmt.Sprintf("owner reference to %s %s dropped: the object owns itself, and its new UID is not known before it is created", o.kind, o.name))
			continue
		case owner >= 0 && owner > int(it.at):
			notes = append(notes, fmt.Sprintf("owner reference to %s %s dropped: ownership cycle; that owner is restored after this object, so its new UID is not known yet", o.kind, o.name))
			continue
		case owner >= 0:
			notes = append(notes, fmt.Sprintf("owner reference to %s %s dropped: that owner was not restored (see its outcome)", o.kind, o.name))
			continue
		default:
			notes = append(notes, fmt.Sprintf("owner reference to %s %s dropped: that owner is neither restored nor in the target", o.kind, o.name))
			continue
		}
		refs = append(refs, metav1.OwnerReference{APIVersion: o.apiVersion, Kind: o.kind, Name: o.name, UID: uid,
			Controller: o.controller, BlockOwnerDeletion: o.block})
	}
	if len(refs) == 0 {
		unstructured.RemoveNestedField(obj.Object, "metadata", "ownerReferences")
	} else {
		obj.SetOwnerReferences(refs)
	}
	return notes
}

// liveOwner finds the UID of an owner in the target by kind and name, in
// the namespace of its dependent (owners are in the same namespace or
// cluster-scoped). Lookups are cached.
func (a *applier) liveOwner(ctx context.Context, o ownerLink, namespace string) types.UID {
	gv, err := schema.ParseGroupVersion(o.apiVersion)
	if err != nil {
		return ""
	}
	a.mu.Lock()
	res, ok := a.resources.LookupKind(schema.GroupKind{Group: gv.Group, Kind: o.kind})
	a.mu.Unlock()
	if !ok {
		return ""
	}
	if !res.Namespaced {
		namespace = ""
	}
	key := res.String() + " " + namespace + "/" + o.name
	a.mu.Lock()
	uid, cached := a.liveOwners[key]
	a.mu.Unlock()
	if cached {
		return uid
	}
	live, err := a.client.Dynamic.Resource(res.GroupVersionResource()).Namespace(namespace).Get(ctx, o.name, metav1.GetOptions{})
	if err == nil {
		uid = live.GetUID()
	}
	a.mu.Lock()
	a.liveOwners[key] = uid
	a.mu.Unlock()
	return uid
}

// retry runs a request again after refusals that pass: throttling,
// timeouts, conflicts, an unavailable server or webhook, a dropped
// connection.
func (a *applier) retry(ctx context.Context, fn func() error) error {
	return retry.OnError(retryBackoff, func(err error) bool { return ctx.Err() == nil && retriable(err) }, fn)
}

func retriable(err error) bool {
	switch {
	case apierrors.IsTooManyRequests(err), apierrors.IsServerTimeout(err), apierrors.IsTimeout(err),
		apierrors.IsServiceUnavailable(err), apierrors.IsInternalError(err), apierrors.IsConflict(err):
		return true
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED):
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}
