package restore

// EventKind says what happened.
type EventKind string

const (
	// EventStarted: Apply begins; Total is the number of objects.
	EventStarted EventKind = "Started"
	// EventStageStarted: a stage begins; StageTotal is its objects.
	EventStageStarted EventKind = "StageStarted"
	// EventObjectDone: one object is done; Object says how.
	EventObjectDone EventKind = "ObjectDone"
	// EventWaiting: the stage waits (Message says for what).
	EventWaiting EventKind = "Waiting"
	// EventStageDone: every object of the stage is done.
	EventStageDone EventKind = "StageDone"
	// EventFinished: every stage is done; the record is not written yet.
	EventFinished EventKind = "Finished"
	// EventRecorded: the restore record is written (Message is its key).
	EventRecorded EventKind = "Recorded"
)

// Event is progress for a front end to draw.
type Event struct {
	Kind  EventKind
	Stage Stage
	// Object is set for EventObjectDone.
	Object *ObjectResult
	// Done and Total count objects over the whole restore; StageDone and
	// StageTotal within the stage.
	Done, Total           int
	StageDone, StageTotal int
	// Counts are the outcomes so far.
	Counts  Counts
	Message string
}
