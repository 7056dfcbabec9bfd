package ui

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/kbackup/kbackup/core/backup"
	"github.com/kbackup/kbackup/core/restore"
)

// BackupProgress draws a backup's progress events as a bar on a terminal:
// resource types done out of the total, objects stored and bytes uploaded so
// far. On anything but a terminal it draws nothing, so that pipes and logs
// stay clean.
type BackupProgress struct {
	w       io.Writer
	enabled bool

	mu  sync.Mutex
	bar *progressbar.ProgressBar
}

// NewBackupProgress returns the progress drawer for w (stderr).
func NewBackupProgress(w io.Writer) *BackupProgress {
	return &BackupProgress{w: w, enabled: IsTerminal(w)}
}

// Enabled says whether anything is drawn.
func (p *BackupProgress) Enabled() bool { return p.enabled }

// Handle draws one event. It is safe to call from several goroutines.
func (p *BackupProgress) Handle(e backup.Event) {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e.Kind {
	case backup.EventStarted:
		p.finishLocked()
		p.bar = progressbar.NewOptions(e.TypesTotal,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription("backing up"),
			progressbar.OptionSetItsString("types"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetPredictTime(false),
		)
	case backup.EventTypeDone:
		if p.bar == nil {
			return
		}
		p.bar.Describe(fmt.Sprintf("backing up: %d objects, %s uploaded", e.ObjectsDone, Bytes(e.BytesUploaded)))
		_ = p.bar.Set(e.TypesDone)
	case backup.EventStorageSwitched:
		// The bar starts again with the next attempt's Started event; say
		// why on its own line so that it stays on the screen.
		p.finishLocked()
		fmt.Fprintln(p.w, "storage switched:", e.Message)
	case backup.EventCommitted:
		p.finishLocked()
	}
}

// Finish removes the bar, if one is drawn.
func (p *BackupProgress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finishLocked()
}

func (p *BackupProgress) finishLocked() {
	if p.bar != nil {
		_ = p.bar.Finish()
		_ = p.bar.Clear()
		p.bar = nil
	}
}

// CountProgress draws a bar of items done out of a total on a terminal,
// with a description that can change; elsewhere it draws nothing.
type CountProgress struct {
	w       io.Writer
	enabled bool

	mu  sync.Mutex
	bar *progressbar.ProgressBar
}

// NewCountProgress returns the progress drawer for w (stderr).
func NewCountProgress(w io.Writer) *CountProgress {
	return &CountProgress{w: w, enabled: IsTerminal(w)}
}

// Start draws a new bar of total items.
func (p *CountProgress) Start(total int, description, items string) {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finishLocked()
	p.bar = progressbar.NewOptions(total,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(description),
		progressbar.OptionSetItsString(items),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetPredictTime(false),
	)
}

// Set moves the bar to done, with a new description unless it is empty.
func (p *CountProgress) Set(done int, description string) {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar == nil {
		return
	}
	if description != "" {
		p.bar.Describe(description)
	}
	_ = p.bar.Set(done)
}

// Finish removes the bar, if one is drawn.
func (p *CountProgress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finishLocked()
}

func (p *CountProgress) finishLocked() {
	if p.bar != nil {
		_ = p.bar.Finish()
		_ = p.bar.Clear()
		p.bar = nil
	}
}

// RestoreProgress draws a restore's events as a CountProgress: objects done
// out of the total, and the stage running.
func RestoreProgress(p *CountProgress, e restore.Event) {
	switch e.Kind {
	case restore.EventStarted:
		p.Start(e.Total, "restoring", "objects")
	case restore.EventStageStarted:
		p.Set(e.Done, "restoring: "+string(e.Stage))
	case restore.EventObjectDone, restore.EventStageDone:
		p.Set(e.Done, "")
	case restore.EventWaiting:
		p.Set(e.Done, e.Message)
	case restore.EventFinished:
		p.Finish()
	}
}
