package repo

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kbackup/kbackup/core/selection"
	"github.com/kbackup/kbackup/core/storage"
)

// Phase is how a backup ended.
type Phase string

// Phases of a committed backup.
const (
	// PhaseCompleted: every selected object was stored.
	PhaseCompleted Phase = "Completed"
	// PhasePartiallyFailed: some resource types failed or objects were
	// skipped; Errors and Skipped say which. The rest is restorable.
	PhasePartiallyFailed Phase = "PartiallyFailed"
	// PhaseFailed: the backup is recorded for its errors, and is not
	// chosen as "latest".
	PhaseFailed Phase = "Failed"
)

// Manifest is the commit point of a backup: the backup exists once its
// manifest is written, after all its packs. It says everything needed to
// list, describe and restore the backup.
type Manifest struct {
	FormatVersion int `json:"formatVersion"`
	// ID is the backup's key segment (see NewID).
	ID string `json:"id"`
	// Name is a name for people, such as the schedule that made it.
	Name string `json:"name,omitempty"`
	// RunID is the ID of the run that made the backup: the command, or
	// the fleet run that backed up several clusters at once (their
	// manifests share it). Manifests written before it existed have none.
	RunID   string          `json:"runId,omitempty"`
	Cluster ClusterIdentity `json:"cluster"`
	Phase   Phase           `json:"phase"`
	Options BackupOptions   `json:"options"`

	StartedAt   time.Time `json:"startedAt"`
	CompletedAt time.Time `json:"completedAt"`

	Stats    Stats           `json:"stats"`
	Errors   []ResourceError `json:"errors,omitempty"`
	Warnings []string        `json:"warnings,omitempty"`
	Skipped  []SkippedObject `json:"skipped,omitempty"`
	Packs    []PackEntry     `json:"packs"`

	// StorageLocation is where the backup was written (a storage.Location's
	// String()); it shows when a fallback location was used.
	StorageLocation string            `json:"storageLocation,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
}

// ClusterIdentity says which cluster a backup came from.
type ClusterIdentity struct {
	// Name is the cluster's name in the repository.
	Name string `json:"name"`
	// UID is the UID of the cluster's kube-system namespace: the stable
	// identity.
	UID               string `json:"uid"`
	Provider          string `json:"provider,omitempty"`
	Distribution      string `json:"distribution,omitempty"`
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	// Server is the API server URL, without credentials.
	Server string `json:"server,omitempty"`
	// NameSource says where Name came from: flag, config, env,
	// openshift, label, hostname, context, uid.
	NameSource string `json:"nameSource,omitempty"`
}

// BackupOptions is the selection a backup used.
type BackupOptions struct {
	// Selection is what the backup was asked to take; ClusterResources is
	// "auto", "on" or "off" as configured, or "".
	selection.Selection
	// IncludedClusterResources says whether cluster-scoped objects were
	// taken, after "auto" was resolved.
	IncludedClusterResources bool `json:"includedClusterResources"`
	// MaxResourceSize in bytes; 0 for no limit.
	MaxResourceSize int64 `json:"maxResourceSize,omitempty"`
	SkipInvalid     bool  `json:"skipInvalid,omitempty"`
	BatchSize       int   `json:"batchSize,omitempty"`
}

// Stats are a backup's counts and sizes.
type Stats struct {
	Objects       int `json:"objects"`
	Namespaces    int `json:"namespaces"`
	ResourceTypes int `json:"resourceTypes"`
	Packs         int `json:"packs"`
	PacksUploaded int `json:"packsUploaded"`
	PacksReused   int `json:"packsReused"`
	// BytesStored is the stored size of every pack the backup references.
	BytesStored int64 `json:"bytesStored"`
	// BytesUploaded is the stored size of the packs this backup uploaded.
	BytesUploaded int64 `json:"bytesUploaded"`
	// RawBytes is the uncompressed size of every referenced pack.
	RawBytes       int64 `json:"rawBytes"`
	SkippedObjects int   `json:"skippedObjects"`
}

// ResourceError is a resource type that could not be backed up (in one
// namespace, or "" for all or cluster-scoped).
type ResourceError struct {
	Resource  string `json:"resource"`
	Namespace string `json:"namespace,omitempty"`
	Message   string `json:"message"`
}

// SkippedObject is an object left out, and why (too large, invalid).
type SkippedObject struct {
	Resource  string `json:"resource"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Reason    string `json:"reason"`
	// ByPolicy says kbackup leaves such objects out on purpose (the
	// token Secrets of ServiceAccounts): they do not make the backup
	// PartiallyFailed.
	ByPolicy bool `json:"byPolicy,omitempty"`
}

// PackEntry is a pack of a backup: where it is and what it holds.
type PackEntry struct {
	PackRef
	// Key is PackRef.Key(): the pack's key relative to the repository.
	Key        string `json:"key"`
	Group      string `json:"group"`
	Version    string `json:"version"`
	Kind       string `json:"kind"`
	Namespaced bool   `json:"namespaced"`
	// Objects are the names of the pack's objects, sorted.
	Objects []string `json:"objects"`
}

// NewPackEntry describes a stored pack for a manifest.
func NewPackEntry(ref PackRef, gvk schema.GroupVersionKind, objects []string) PackEntry {
	names := slices.Clone(objects)
	slices.Sort(names)
	return PackEntry{
		PackRef:    ref,
		Key:        ref.Key(),
		Group:      gvk.Group,
		Version:    gvk.Version,
		Kind:       gvk.Kind,
		Namespaced: ref.Namespace != "",
		Objects:    names,
	}
}

// Validate checks a manifest against the format's rules: the format
// version, names usable as keys, the phase, and for every pack a valid hash
// and a key that matches its fields. Errors wrap storage.ErrInvalid.
func (m *Manifest) Validate() error {
	if m.FormatVersion != FormatVersion {
		return invalidf("manifest: formatVersion %d; this kbackup writes and reads version %d", m.FormatVersion, FormatVersion)
	}
	fail := func(format string, args ...any) error {
		return invalidf("manifest %s: %s", m.ID, fmt.Sprintf(format, args...))
	}
	if err := ValidateBackupID(m.ID); err != nil {
		return invalidf("manifest: %v", err)
	}
	if err := ValidateClusterName(m.Cluster.Name); err != nil {
		return fail("%v", err)
	}
	if m.RunID != "" {
		if err := ValidateRunID(m.RunID); err != nil {
			return fail("%v", err)
		}
	}
	switch m.Phase {
	case PhaseCompleted, PhasePartiallyFailed, PhaseFailed:
	default:
		return fail("phase %q; want Completed, PartiallyFailed or Failed", m.Phase)
	}
	if m.StartedAt.IsZero() {
		return fail("startedAt is not set")
	}
	if !m.CompletedAt.IsZero() && m.CompletedAt.Before(m.StartedAt) {
		return fail("completedAt %s is before startedAt %s", m.CompletedAt.Format(time.RFC3339), m.StartedAt.Format(time.RFC3339))
	}
	for _, n := range []int64{int64(m.Stats.Objects), int64(m.Stats.Namespaces), int64(m.Stats.ResourceTypes), int64(m.Stats.Packs),
		int64(m.Stats.PacksUploaded), int64(m.Stats.PacksReused), m.Stats.BytesStored, m.Stats.BytesUploaded, m.Stats.RawBytes,
		int64(m.Stats.SkippedObjects), m.Options.MaxResourceSize, int64(m.Options.BatchSize)} {
		if n < 0 {
			return fail("a count or size is negative")
		}
	}
	seen := make(map[string]bool, len(m.Packs))
	for i, p := range m.Packs {
		if err := p.validate(m.Cluster.Name); err != nil {
			return fail("packs[%d]: %v", i, err)
		}
		if seen[p.Key] {
			return fail("packs[%d]: pack %s is listed twice", i, p.Key)
		}
		seen[p.Key] = true
	}
	return nil
}

func (p PackEntry) validate(cluster string) error {
	if p.Cluster != cluster {
		return fmt.Errorf("cluster %q is not the manifest's cluster %q", p.Cluster, cluster)
	}
	if err := p.PackRef.validate(); err != nil {
		return err
	}
	if p.Key != p.PackRef.Key() {
		return fmt.Errorf("key %q does not match its fields, which give %q", p.Key, p.PackRef.Key())
	}
	if p.Namespaced != (p.Namespace != "") {
		return fmt.Errorf("pack %s: namespaced is %v but namespace is %q", p.Key, p.Namespaced, p.Namespace)
	}
	if gr := schema.ParseGroupResource(p.Resource); gr.Group != p.Group {
		return fmt.Errorf("pack %s: group %q is not the group of resource %q", p.Key, p.Group, p.Resource)
	}
	if p.Version == "" || p.Kind == "" {
		return fmt.Errorf("pack %s: version and kind must be set", p.Key)
	}
	for i, name := range p.Objects {
		if err := ValidateObjectName(name); err != nil {
			return fmt.Errorf("pack %s: objects[%d]: %w", p.Key, i, err)
		}
		if i > 0 && p.Objects[i-1] >= name {
			return fmt.Errorf("pack %s: objects are not sorted and unique at %q", p.Key, name)
		}
	}
	return nil
}

// ParseManifest decodes and validates a manifest. Unknown fields, trailing
// data and anything Validate refuses fail with ErrCorrupt; a newer format
// version fails with ErrUnsupportedFormat.
func ParseManifest(data []byte) (*Manifest, error) {
	v, err := formatVersionOf(data)
	if err != nil {
		return nil, fmt.Errorf("%w: not a JSON manifest: %v", ErrCorrupt, err)
	}
	if v > FormatVersion {
		return nil, fmt.Errorf("%w: manifest format version %d; this kbackup reads version %d, upgrade it",
			ErrUnsupportedFormat, v, FormatVersion)
	}
	m := new(Manifest)
	if err := decodeStrict(data, m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return m, nil
}

// MarshalManifest encodes a manifest as it is stored: indented JSON with each
// pack entry on one line. The object names of the packs are most of a
// manifest, and every backup writes them all again; indenting each name on a
// line of its own made manifests half again as large, and a manifest is
// what an incremental backup of an unchanged cluster uploads.
func MarshalManifest(m *Manifest) ([]byte, error) {
	head := *m
	head.Packs = nil
	data, err := json.MarshalIndent(&head, "", "  ")
	if err != nil {
		return nil, err
	}
	var packs bytes.Buffer
	packs.WriteString(`"packs": [`)
	for i := range m.Packs {
		line, err := json.Marshal(&m.Packs[i])
		if err != nil {
			return nil, err
		}
		if i > 0 {
			packs.WriteByte(',')
		}
		packs.WriteString("\n    ")
		packs.Write(line)
	}
	if len(m.Packs) > 0 {
		packs.WriteString("\n  ")
	}
	packs.WriteByte(']')
	// The key appears once, unescaped, at the top level: inside a string
	// value its quotes would be escaped.
	const placeholder = `"packs": null`
	if bytes.Count(data, []byte(placeholder)) != 1 {
		return nil, errors.New("internal error: manifest JSON without its packs field")
	}
	data = bytes.Replace(data, []byte(placeholder), packs.Bytes(), 1)
	return append(data, '\n'), nil
}

// CommitBackup writes the manifest, which makes the backup visible. Call it
// after every pack is written. The write is conditional: a backup ID is
// written once, and a second writer fails with storage.ErrAlreadyExists. The
// cluster's registry entry must hold the manifest's cluster UID; a cluster
// with no entry is claimed (see ClaimCluster). A backup begun with
// BeginBackup is refused, with ErrMarkerExpired, once its in-progress marker
// may have been taken for dead: a garbage collection may have removed packs
// it names.
func (r *Repository) CommitBackup(ctx context.Context, m *Manifest) error {
	if m.FormatVersion == 0 {
		m.FormatVersion = FormatVersion
	}
	if err := m.Validate(); err != nil {
		return fmt.Errorf("committing backup to %s: %w", r.backend, err)
	}
	if err := r.backupLeaseHeld(m.Cluster.Name, m.ID); err != nil {
		return fmt.Errorf("not committing backup %s of cluster %s, since a garbage collection may have removed packs it names; run the backup again: %w",
			m.ID, m.Cluster.Name, err)
	}
	if _, err := r.ClaimCluster(ctx, m.Cluster, ClaimOptions{}); err != nil {
		return fmt.Errorf("committing backup %s: %w", m.ID, err)
	}
	data, err := MarshalManifest(m)
	if err != nil {
		return err
	}
	key := r.layout.Manifest(m.Cluster.Name, m.ID)
	// The name claim took a request: look at the marker once more.
	if err := r.backupLeaseHeld(m.Cluster.Name, m.ID); err != nil {
		return fmt.Errorf("not committing backup %s of cluster %s, since a garbage collection may have removed packs it names; run the backup again: %w",
			m.ID, m.Cluster.Name, err)
	}
	session, _ := r.sessions.Load(sessionKey(m.Cluster.Name, m.ID))
	var fresh time.Time
	if session != nil {
		fresh = session.(*lease).refreshedAt()
	}
	// Announce the manifest to readers of the cluster's summary before it
	// exists (RecordBackup settles it): a backup that dies after its
	// manifest leaves the pending change, and readers check the summary.
	pendingKey, err := r.putPendingChange(ctx, m.Cluster.Name, m.ID)
	if err != nil {
		return fmt.Errorf("committing backup %s: %w", m.ID, err)
	}
	err = r.backend.PutIfAbsent(ctx, key, data)
	if err == nil || errors.Is(err, storage.ErrAlreadyExists) {
		// Whether the manifest landed is known: the change is done. After
		// another error, a retry of the write may still land, and the
		// pending change stays for readers.
		defer r.pending.add(m.Cluster.Name, pendingKey, true)
	}
	if errors.Is(err, storage.ErrAlreadyExists) {
		return fmt.Errorf("backup %s of cluster %s is already committed; a backup ID is written once (another kbackup used the same ID?): %w",
			m.ID, m.Cluster.Name, err)
	}
	if err != nil || session == nil || time.Since(fresh) < r.markerSafeAge() {
		return err
	}
	// The write took so long that the marker may have looked dead before
	// it landed, and a collection may have listed the packs as garbage.
	return r.checkCommittedPacks(ctx, m, key)
}

// checkCommittedPacks waits until no collection of the cluster runs, then
// checks that every pack of a just committed manifest is stored. A
// manifest naming a missing pack is deleted again: the backup failed.
func (r *Repository) checkCommittedPacks(ctx context.Context, m *Manifest, key string) error {
	if err := r.waitForCollections(ctx, m.Cluster.Name); err != nil {
		return fmt.Errorf("backup %s of cluster %s is committed, but its packs could not be checked after its marker expired: %w", m.ID, m.Cluster.Name, err)
	}
	var missing []string
	for _, p := range m.Packs {
		_, err := r.backend.Stat(ctx, r.layout.prefix+p.Key)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			missing = append(missing, p.Key)
		case err != nil:
			return fmt.Errorf("backup %s of cluster %s is committed, but its packs could not be checked after its marker expired: %w", m.ID, m.Cluster.Name, err)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := r.backend.Delete(ctx, key); err != nil {
		return fmt.Errorf("backup %s of cluster %s names %d packs that a garbage collection removed while its marker was expired (%s), and its manifest could not be deleted again: %w",
			m.ID, m.Cluster.Name, len(missing), strings.Join(missing, ", "), err)
	}
	return fmt.Errorf("backup %s of cluster %s is not committed: a garbage collection removed %d of its packs while its marker was expired (%s); run the backup again: %w",
		m.ID, m.Cluster.Name, len(missing), strings.Join(missing, ", "), ErrMarkerExpired)
}

// ReadManifest reads and validates a backup's manifest; storage.ErrNotFound when
// there is none, ErrCorrupt when it is not valid or does not belong at its
// key.
func (r *Repository) ReadManifest(ctx context.Context, cluster, id string) (*Manifest, error) {
	if err := ValidateClusterName(cluster); err != nil {
		return nil, err
	}
	if err := ValidateBackupID(id); err != nil {
		return nil, err
	}
	return r.readManifestKey(ctx, r.layout.Manifest(cluster, id), cluster, id)
}

// MaxManifestSize is the largest manifest readers take: about ten million
// objects' names. Every command reads manifests whole, and a repository is
// untrusted input.
const MaxManifestSize = 512 << 20

func (r *Repository) readManifestKey(ctx context.Context, key, cluster, id string) (*Manifest, error) {
	data, err := storage.GetAtMost(ctx, r.backend, key, MaxManifestSize)
	if errors.Is(err, storage.ErrTooLarge) {
		return nil, fmt.Errorf("manifest %s in %s: %w: larger than the %d bytes readers accept", key, r.backend, ErrCorrupt, MaxManifestSize)
	}
	if err != nil {
		return nil, err
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("manifest %s in %s: %w", key, r.backend, err)
	}
	if m.Cluster.Name != cluster || m.ID != id {
		return nil, fmt.Errorf("manifest %s in %s: %w: it is the manifest of backup %s of cluster %s",
			key, r.backend, ErrCorrupt, m.ID, m.Cluster.Name)
	}
	return m, nil
}

// manifestKeys lists a cluster's manifests: the parsed key and the stored
// object of each.
func (r *Repository) manifestKeys(ctx context.Context, cluster string) ([]KeyInfo, []storage.ObjectInfo, error) {
	var infos []KeyInfo
	var objects []storage.ObjectInfo
	for obj, err := range r.backend.List(ctx, r.layout.Backups(cluster)) {
		if err != nil {
			return nil, nil, err
		}
		info, err := r.layout.Parse(obj.Key)
		if err != nil || info.Kind != KindManifest {
			continue // not ours; the format keeps nothing else there
		}
		infos = append(infos, info)
		objects = append(objects, obj)
	}
	return infos, objects, nil
}

// UnreadableManifest is a listed manifest that could not be parsed: it is
// corrupt, or of a newer format.
type UnreadableManifest struct {
	// ID is the backup ID its key names.
	ID  string
	Key string
	// ModTime is when the storage says it was written.
	ModTime time.Time
	Err     error
}

// UnreadableManifestsError reports the manifests of a listing that could
// not be parsed; errors.Is finds ErrCorrupt or ErrUnsupportedFormat in it.
type UnreadableManifestsError struct {
	Manifests []UnreadableManifest
}

func (e *UnreadableManifestsError) Error() string {
	msgs := make([]string, len(e.Manifests))
	for i, m := range e.Manifests {
		msgs[i] = m.Err.Error()
	}
	return strings.Join(msgs, "\n")
}

func (e *UnreadableManifestsError) Unwrap() []error {
	errs := make([]error, len(e.Manifests))
	for i, m := range e.Manifests {
		errs[i] = m.Err
	}
	return errs
}

// readManifests reads a cluster's manifests concurrently. Storage errors
// stop it; manifests that fail to parse are returned as one error wrapping
// ErrCorrupt that names each, alongside the good ones.
func (r *Repository) readManifests(ctx context.Context, cluster string) ([]*Manifest, error) {
	infos, objects, err := r.manifestKeys(ctx, cluster)
	if err != nil {
		return nil, err
	}
	manifests := make([]*Manifest, len(objects))
	var (
		mu      sync.Mutex
		corrupt []UnreadableManifest
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.opts.Concurrency)
	for i, obj := range objects {
		g.Go(func() error {
			m, err := r.readManifestKey(gctx, obj.Key, cluster, infos[i].Name)
			switch {
			case err == nil:
				manifests[i] = m
			case errors.Is(err, storage.ErrNotFound):
				// Deleted since the listing.
			case errors.Is(err, ErrCorrupt), errors.Is(err, ErrUnsupportedFormat):
				mu.Lock()
				corrupt = append(corrupt, UnreadableManifest{ID: infos[i].Name, Key: obj.Key, ModTime: obj.ModTime, Err: err})
				mu.Unlock()
			default:
				return err
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	manifests = slices.DeleteFunc(manifests, func(m *Manifest) bool { return m == nil })
	if len(corrupt) == 0 {
		return manifests, nil
	}
	slices.SortFunc(corrupt, func(a, b UnreadableManifest) int { return strings.Compare(a.Key, b.Key) })
	return manifests, &UnreadableManifestsError{Manifests: corrupt}
}

// unreadableManifests says whether err, from readManifests, only reports
// manifests that could not be parsed, the others having been read.
func unreadableManifests(err error) bool {
	return errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnsupportedFormat)
}

// ListBackups returns a cluster's backups, oldest first (by StartedAt, then
// ID). Manifests are read concurrently. When some manifests cannot be
// parsed, it returns the others together with an error wrapping
// ErrCorrupt that names each bad one; any other error returns no list.
func (r *Repository) ListBackups(ctx context.Context, cluster string) ([]*Manifest, error) {
	if err := ValidateClusterName(cluster); err != nil {
		return nil, err
	}
	manifests, err := r.readManifests(ctx, cluster)
	slices.SortFunc(manifests, func(a, b *Manifest) int {
		return cmp.Or(a.StartedAt.Compare(b.StartedAt), strings.Compare(a.ID, b.ID))
	})
	return manifests, err
}

// Clusters returns the names of the clusters in the repository's registry,
// sorted. Every cluster that committed a backup has an entry (CommitBackup
// claims it).
func (r *Repository) Clusters(ctx context.Context) ([]string, error) {
	var names []string
	for obj, err := range r.backend.List(ctx, r.layout.ClusterEntries()) {
		if err != nil {
			return nil, err
		}
		if info, err := r.layout.Parse(obj.Key); err == nil && info.Kind == KindClusterEntry {
			names = append(names, info.Cluster)
		}
	}
	return names, nil
}

// KnownPacks returns the packs named by a cluster's manifests that the
// storage lists, so that a backup uploads only packs that are not stored
// yet. Manifests are read concurrently with one listing of the cluster's
// keys; unreadable manifests are left out (their packs are uploaded again,
// which is safe), and so is a pack that a manifest names but the storage
// does not hold, so that the next backup of the same content stores it
// again rather than naming a missing pack once more.
func (r *Repository) KnownPacks(ctx context.Context, cluster string) (*PackSet, error) {
	if err := ValidateClusterName(cluster); err != nil {
		return nil, err
	}
	var (
		manifests []*Manifest
		readErr   error
		stored    = map[string]int64{}
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		manifests, readErr = r.readManifests(gctx, cluster)
		if readErr != nil && !unreadableManifests(readErr) {
			return readErr
		}
		return nil
	})
	g.Go(func() error {
		for obj, err := range r.backend.List(gctx, r.layout.Cluster(cluster)) {
			if err != nil {
				return err
			}
			if rel, ok := strings.CutPrefix(obj.Key, r.layout.prefix); ok && strings.HasSuffix(rel, packExt) {
				stored[rel] = obj.Size
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	set := NewPackSet()
	for _, m := range manifests {
		for _, p := range m.Packs {
			if size, ok := stored[p.Key]; ok && size == p.Size {
				set.Add(p.PackRef)
			}
		}
	}
	return set, nil
}
