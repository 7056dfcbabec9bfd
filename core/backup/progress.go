package backup

// EventKind says what happened.
type EventKind string

const (
	// EventStarted: the selection is known; TypesTotal is set.
	EventStarted EventKind = "Started"
	// EventTypeDone: one resource type is stored (or failed: Err).
	EventTypeDone EventKind = "TypeDone"
	// EventStorageSwitched: the backup starts again at a fallback location
	// (Message says which and why).
	EventStorageSwitched EventKind = "StorageSwitched"
	// EventCommitted: the manifest is written; the backup exists.
	EventCommitted EventKind = "Committed"
)

// Event is progress for the front ends to draw.
type Event struct {
	Kind EventKind
	// BackupID is the ID of the backup the event is about, so that every
	// log line of a backup names it.
	BackupID string
	// Resource is the type the event is about (resource.group).
	Resource string
	// Objects is the number of objects the type held (TypeDone), or stored
	// so far in total (other kinds).
	Objects int
	// TypesDone and TypesTotal count resource types.
	TypesDone, TypesTotal int
	// ObjectsDone and BytesUploaded are the totals so far.
	ObjectsDone   int
	BytesUploaded int64
	Err           error
	Message       string
}
