package repo

import (
	"fmt"
	"path"
	"strings"
)

// The fixed names of the format (docs/repository-format.md).
const (
	configName       = "_kbackup.json"
	fleetDir         = "_fleet"
	clusterEntryDir  = "clusters"
	scheduleDir      = "schedules"
	retentionDir     = "retention"
	summaryDir       = "summaries"
	pendingExt       = ".pending"
	claimDir         = "claims"
	probeDir         = "_probes"
	backupsDir       = "_backups"
	restoresDir      = "_restores"
	inProgressDir    = "_inprogress"
	collectingDir    = "_collecting"
	clusterScopedDir = "_cluster"
	jsonExt          = ".json"
	packExt          = ".yaml.zst"
)

// Layout builds every key of a repository and parses keys back. It is the
// one place that knows where things are in the bucket (or directory):
//
//	<prefix>/_kbackup.json
//	<prefix>/_probes/<name>                       transient write probes
//	<prefix>/_fleet/clusters/<cluster>.json
//	<prefix>/_fleet/schedules/<name>.json
//	<prefix>/_fleet/retention/<name>.json
//	<prefix>/_fleet/summaries/<cluster>.json      a cache of the cluster's manifests
//	<prefix>/_fleet/summaries/<cluster>.<id>.pending  a change of the cluster's manifests not yet in its summary
//	<prefix>/_fleet/claims/<schedule>/<slot>/<cluster>.json  a scheduled slot, claimed once
//	<prefix>/<cluster>/_backups/<backup-id>.json
//	<prefix>/<cluster>/_restores/<restore-id>.json
//	<prefix>/<cluster>/_inprogress/<backup-id>.json
//	<prefix>/<cluster>/_collecting/<collection-id>.json
//	<prefix>/<cluster>/_cluster/<resource.group>/<sha256>.yaml.zst
//	<prefix>/<cluster>/<namespace>/<resource.group>/<sha256>.yaml.zst
//
// The methods do not validate their arguments; the Repository does, before
// building a key.
type Layout struct {
	// prefix is "" or ends with "/".
	prefix string
}

// NewLayout returns the layout of a repository under prefix ("" for the
// root of a bucket or directory).
func NewLayout(prefix string) Layout {
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return Layout{prefix: prefix}
}

// Prefix is the key prefix of the whole repository: "" or "a/b/".
func (l Layout) Prefix() string { return l.prefix }

// Config is the key of _kbackup.json.
func (l Layout) Config() string { return l.prefix + configName }

// Probe is the key of a transient object written to test that the
// location accepts writes.
func (l Layout) Probe(name string) string { return l.prefix + probeDir + "/" + name }

// ClusterEntries is the key prefix of the cluster registry.
func (l Layout) ClusterEntries() string { return l.prefix + fleetDir + "/" + clusterEntryDir + "/" }

// ClusterEntry is the key of a cluster's registry entry.
func (l Layout) ClusterEntry(cluster string) string { return l.ClusterEntries() + cluster + jsonExt }

// Schedules is the key prefix of the schedules.
func (l Layout) Schedules() string { return l.prefix + fleetDir + "/" + scheduleDir + "/" }

// Schedule is the key of a named schedule.
func (l Layout) Schedule(name string) string { return l.Schedules() + name + jsonExt }

// RetentionPolicies is the key prefix of the retention policies.
func (l Layout) RetentionPolicies() string { return l.prefix + fleetDir + "/" + retentionDir + "/" }

// RetentionPolicy is the key of a named retention policy.
func (l Layout) RetentionPolicy(name string) string { return l.RetentionPolicies() + name + jsonExt }

// Summaries is the key prefix of the clusters' backup summaries.
func (l Layout) Summaries() string { return l.prefix + fleetDir + "/" + summaryDir + "/" }

// Summary is the key of a cluster's backup summary.
func (l Layout) Summary(cluster string) string { return l.Summaries() + cluster + jsonExt }

// PendingChanges is the key prefix of every cluster's pending summary
// changes: they are beside the summaries, so that one listing finds both,
// and flat, since an S3 server on a file system (versitygw) removes a
// directory its last object leaves, racing a write into it.
func (l Layout) PendingChanges() string { return l.Summaries() }

// PendingChange is the key of one pending change of a cluster's manifests.
// Neither cluster names nor change IDs have a '.'.
func (l Layout) PendingChange(cluster, id string) string {
	return l.Summaries() + cluster + "." + id + pendingExt
}

// Claims is the key prefix of a schedule's slot claims.
func (l Layout) Claims(schedule string) string {
	return l.prefix + fleetDir + "/" + claimDir + "/" + schedule + "/"
}

// Claim is the key of the claim of one cluster's backup in one slot of a
// schedule.
func (l Layout) Claim(schedule, slot, cluster string) string {
	return l.Claims(schedule) + slot + "/" + cluster + jsonExt
}

// Cluster is the key prefix of everything a cluster wrote.
func (l Layout) Cluster(cluster string) string { return l.prefix + cluster + "/" }

// Backups is the key prefix of a cluster's backup manifests.
func (l Layout) Backups(cluster string) string { return l.Cluster(cluster) + backupsDir + "/" }

// Manifest is the key of a backup manifest.
func (l Layout) Manifest(cluster, backupID string) string {
	return l.Backups(cluster) + backupID + jsonExt
}

// Restores is the key prefix of a cluster's restore records.
func (l Layout) Restores(cluster string) string { return l.Cluster(cluster) + restoresDir + "/" }

// RestoreRecord is the key of a restore record.
func (l Layout) RestoreRecord(cluster, restoreID string) string {
	return l.Restores(cluster) + restoreID + jsonExt
}

// InProgressMarkers is the key prefix of a cluster's in-progress markers.
func (l Layout) InProgressMarkers(cluster string) string {
	return l.Cluster(cluster) + inProgressDir + "/"
}

// InProgressMarker is the key of the marker of a running backup.
func (l Layout) InProgressMarker(cluster, backupID string) string {
	return l.InProgressMarkers(cluster) + backupID + jsonExt
}

// CollectionMarkers is the key prefix of a cluster's collection markers.
func (l Layout) CollectionMarkers(cluster string) string {
	return l.Cluster(cluster) + collectingDir + "/"
}

// CollectionMarker is the key of the marker of a running garbage
// collection.
func (l Layout) CollectionMarker(cluster, collectionID string) string {
	return l.CollectionMarkers(cluster) + collectionID + jsonExt
}

// Pack is the key of a pack. namespace is "" for cluster-scoped objects;
// resource is resource.group as schema.GroupResource.String() writes it
// ("configmaps", "deployments.apps").
func (l Layout) Pack(cluster, namespace, resource, sha256 string) string {
	return l.prefix + packPath(cluster, namespace, resource, sha256)
}

// packPath is a pack's key relative to the repository, as manifests record
// it.
func packPath(cluster, namespace, resource, sha256 string) string {
	scope := namespace
	if scope == "" {
		scope = clusterScopedDir
	}
	return cluster + "/" + scope + "/" + resource + "/" + sha256 + packExt
}

// KeyKind says what a key holds.
type KeyKind string

// Kinds of keys.
const (
	KindConfig          KeyKind = "config"
	KindProbe           KeyKind = "probe"
	KindClusterEntry    KeyKind = "cluster-entry"
	KindSchedule        KeyKind = "schedule"
	KindRetentionPolicy KeyKind = "retention-policy"
	KindSummary         KeyKind = "summary"
	KindManifest        KeyKind = "manifest"
	KindRestoreRecord   KeyKind = "restore-record"
	KindInProgress      KeyKind = "in-progress-marker"
	KindCollecting      KeyKind = "collection-marker"
	KindPack            KeyKind = "pack"
	KindClaim           KeyKind = "slot-claim"
	KindPendingChange   KeyKind = "pending-summary-change"
)

// KeyInfo is what a key says about itself.
type KeyInfo struct {
	Kind KeyKind
	// Cluster is set for everything under <cluster>/, for registry
	// entries and for summaries.
	Cluster string
	// Namespace is set for packs of namespaced objects.
	Namespace string
	// Resource (resource.group) and SHA256 are set for packs.
	Resource string
	SHA256   string
	// Slot is the time of a scheduled slot (claims), as FormatSlot writes it.
	Slot string
	// Name is the backup ID (manifests, in-progress markers), the restore
	// ID, the collection ID, the schedule (also of claims), retention
	// policy or probe name.
	Name string
}

// Parse says what a key of this repository is. It fails, wrapping
// storage.ErrInvalid, for keys outside the prefix and keys that the format does not
// define; it validates every name in the key.
func (l Layout) Parse(key string) (KeyInfo, error) {
	rel, ok := strings.CutPrefix(key, l.prefix)
	if !ok {
		return KeyInfo{}, invalidf("key %q is outside the repository prefix %q", key, l.prefix)
	}
	info, err := parseRelativeKey(rel)
	if err != nil {
		return KeyInfo{}, invalidf("key %q: %v", key, err)
	}
	return info, nil
}

func parseRelativeKey(rel string) (KeyInfo, error) {
	segs := strings.Split(rel, "/")
	jsonName := func(s string) (string, error) {
		name, ok := strings.CutSuffix(s, jsonExt)
		if !ok {
			return "", fmt.Errorf("%q does not end in %s", s, jsonExt)
		}
		return name, nil
	}
	switch {
	case len(segs) == 1 && segs[0] == configName:
		return KeyInfo{Kind: KindConfig}, nil
	case len(segs) == 2 && segs[0] == probeDir:
		return KeyInfo{Kind: KindProbe, Name: segs[1]}, validateID("probe name", segs[1])
	case len(segs) == 3 && segs[0] == fleetDir && segs[1] == summaryDir && strings.HasSuffix(segs[2], pendingExt):
		name := strings.TrimSuffix(segs[2], pendingExt)
		dot := strings.LastIndexByte(name, '.')
		if dot < 0 {
			return KeyInfo{}, fmt.Errorf("pending summary change %q is not <cluster>.<id>%s", segs[2], pendingExt)
		}
		info := KeyInfo{Kind: KindPendingChange, Cluster: name[:dot], Name: name[dot+1:]}
		if err := ValidateClusterName(info.Cluster); err != nil {
			return KeyInfo{}, err
		}
		return info, validateID("change ID", info.Name)
	case len(segs) == 3 && segs[0] == fleetDir:
		name, err := jsonName(segs[2])
		if err != nil {
			return KeyInfo{}, err
		}
		switch segs[1] {
		case clusterEntryDir:
			return KeyInfo{Kind: KindClusterEntry, Cluster: name}, ValidateClusterName(name)
		case scheduleDir:
			return KeyInfo{Kind: KindSchedule, Name: name}, validateID("schedule name", name)
		case retentionDir:
			return KeyInfo{Kind: KindRetentionPolicy, Name: name}, validateID("retention policy name", name)
		case summaryDir:
			return KeyInfo{Kind: KindSummary, Cluster: name}, ValidateClusterName(name)
		}
		return KeyInfo{}, fmt.Errorf("unknown fleet directory %q", segs[1])
	case len(segs) == 5 && segs[0] == fleetDir && segs[1] == claimDir:
		name, err := jsonName(segs[4])
		if err != nil {
			return KeyInfo{}, err
		}
		info := KeyInfo{Kind: KindClaim, Name: segs[2], Slot: segs[3], Cluster: name}
		if err := validateID("schedule name", info.Name); err != nil {
			return KeyInfo{}, err
		}
		if _, err := ParseSlot(info.Slot); err != nil {
			return KeyInfo{}, err
		}
		return info, ValidateClusterName(name)
	case len(segs) == 3 && !strings.HasPrefix(segs[0], "_") && strings.HasPrefix(segs[1], "_"):
		cluster := segs[0]
		if err := ValidateClusterName(cluster); err != nil {
			return KeyInfo{}, err
		}
		name, err := jsonName(segs[2])
		if err != nil {
			return KeyInfo{}, err
		}
		switch segs[1] {
		case backupsDir:
			return KeyInfo{Kind: KindManifest, Cluster: cluster, Name: name}, validateID("backup ID", name)
		case restoresDir:
			return KeyInfo{Kind: KindRestoreRecord, Cluster: cluster, Name: name}, validateID("restore ID", name)
		case inProgressDir:
			return KeyInfo{Kind: KindInProgress, Cluster: cluster, Name: name}, validateID("backup ID", name)
		case collectingDir:
			return KeyInfo{Kind: KindCollecting, Cluster: cluster, Name: name}, validateID("collection ID", name)
		}
		return KeyInfo{}, fmt.Errorf("unknown cluster directory %q", segs[1])
	case len(segs) == 4 && !strings.HasPrefix(segs[0], "_"):
		info := KeyInfo{Kind: KindPack, Cluster: segs[0], Resource: segs[2]}
		if err := ValidateClusterName(info.Cluster); err != nil {
			return KeyInfo{}, err
		}
		if segs[1] != clusterScopedDir {
			info.Namespace = segs[1]
			if err := ValidateNamespace(info.Namespace); err != nil {
				return KeyInfo{}, err
			}
		}
		if err := ValidateResource(info.Resource); err != nil {
			return KeyInfo{}, err
		}
		hash, ok := strings.CutSuffix(segs[3], packExt)
		if !ok {
			return KeyInfo{}, fmt.Errorf("pack file %q does not end in %s", segs[3], packExt)
		}
		info.SHA256 = hash
		return info, validateSHA256(hash)
	}
	return KeyInfo{}, fmt.Errorf("not a key of the kbackup repository format")
}

// describeKey names what a key holds, for messages. It looks only at the
// end of the key, since an storage.OpError does not know the repository prefix.
func describeKey(key string) string {
	base := path.Base(key)
	parent := path.Base(path.Dir(key))
	switch {
	case strings.HasSuffix(key, packExt):
		return "pack"
	case base == configName:
		return "repository config"
	case parent == backupsDir:
		return "manifest"
	case parent == restoresDir:
		return "restore record"
	case parent == inProgressDir:
		return "in-progress marker"
	case parent == collectingDir:
		return "collection marker"
	case parent == probeDir:
		return "write probe"
	case parent == clusterEntryDir:
		return "cluster entry"
	case parent == scheduleDir:
		return "schedule"
	case parent == retentionDir:
		return "retention policy"
	case parent == summaryDir && strings.HasSuffix(key, pendingExt):
		return "pending summary change"
	case parent == summaryDir:
		return "cluster summary"
	}
	return "object"
}
