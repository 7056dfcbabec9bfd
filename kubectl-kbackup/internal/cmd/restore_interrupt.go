package cmd

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// ExitInterrupted: a restore ended by a second Ctrl-C, after its record was
// written (128 + SIGINT, as shells report it).
const ExitInterrupted = 130

// restoreInterrupts watches Ctrl-C (SIGINT) and SIGTERM while a restore
// runs. The first cancels the command's context (Execute's
// signal.NotifyContext does that): no new object is sent, requests in
// flight are cancelled, and Apply writes the record of what was done. The
// second ends the process: at once before anything is applied (planning, or
// the question, which a cancelled context does not interrupt), and while
// applying as soon as Apply has written the record, so that what was
// changed is always known.
type restoreInterrupts struct {
	errOut  io.Writer
	exit    func(int)
	signals chan os.Signal
	done    chan struct{}

	mu       sync.Mutex
	count    int
	applying bool
	// endAfterApply: a second signal came while applying.
	endAfterApply bool
}

// watchRestoreInterrupts starts watching; stop ends it.
func watchRestoreInterrupts(errOut io.Writer, exit func(int)) *restoreInterrupts {
	w := &restoreInterrupts{errOut: errOut, exit: exit, signals: make(chan os.Signal, 2), done: make(chan struct{})}
	signal.Notify(w.signals, os.Interrupt, syscall.SIGTERM)
	go w.run()
	return w
}

func (w *restoreInterrupts) run() {
	for {
		select {
		case <-w.done:
			return
		case <-w.signals:
			w.received()
		}
	}
}

func (w *restoreInterrupts) received() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.count++
	switch {
	case w.count == 1 && w.applying:
		fmt.Fprintln(w.errOut, "\nInterrupted: no new object is sent and the restore record is written. Press Ctrl-C again to end as soon as the record is written.")
	case w.count == 1:
		fmt.Fprintln(w.errOut, "\nInterrupted: nothing was restored. Press Ctrl-C again to end now.")
	case w.applying:
		w.endAfterApply = true
		fmt.Fprintln(w.errOut, "Ending as soon as the restore record is written.")
	default:
		fmt.Fprintln(w.errOut, "Ended: nothing was restored.")
		w.exit(ExitInterrupted)
	}
}

// startApply marks that objects are being applied: from now on a second
// signal waits for the record.
func (w *restoreInterrupts) startApply() {
	w.mu.Lock()
	w.applying = true
	w.mu.Unlock()
}

// endApply marks that Apply returned, and reports whether a second signal
// asked to end the process.
func (w *restoreInterrupts) endApply() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.applying = false
	return w.endAfterApply
}

// stop ends the watch; signals go back to Execute's context alone.
func (w *restoreInterrupts) stop() {
	signal.Stop(w.signals)
	close(w.done)
}
