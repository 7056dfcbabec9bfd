package ui

import (
	"io"
	"os"

	"github.com/charmbracelet/lipgloss"
	"golang.org/x/term"
)

// Styles renders text for one output stream: coloured on a terminal, plain
// when the stream is a pipe or a file, or when NO_COLOR is set.
type Styles struct {
	// Plain is true when no colour or decoration may be written.
	Plain bool

	Header  lipgloss.Style
	Good    lipgloss.Style
	Warn    lipgloss.Style
	Bad     lipgloss.Style
	Muted   lipgloss.Style
	Strong  lipgloss.Style
	renderR *lipgloss.Renderer

	// DiffAdd, DiffDel and DiffHunk colour the lines of a unified diff.
	DiffAdd, DiffDel, DiffHunk lipgloss.Style
}

// IsTerminal reports whether a stream (stdin, stdout or stderr) is a
// terminal.
func IsTerminal(stream any) bool {
	f, ok := stream.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// NewStyles returns the styles for w.
func NewStyles(w io.Writer) *Styles {
	return newStyles(w, !IsTerminal(w) || os.Getenv("NO_COLOR") != "")
}

func newStyles(w io.Writer, plain bool) *Styles {
	r := lipgloss.NewRenderer(w)
	s := &Styles{Plain: plain, renderR: r}
	if plain {
		none := r.NewStyle()
		s.Header, s.Good, s.Warn, s.Bad, s.Muted, s.Strong = none, none, none, none, none, none
		s.DiffAdd, s.DiffDel, s.DiffHunk = none, none, none
		return s
	}
	// The 16 basic ANSI colours follow the user's terminal theme, light or
	// dark. Adaptive colours would make termenv ask the terminal for its
	// background, which a terminal that does not answer makes wait seconds.
	s.Header = r.NewStyle().Bold(true).Foreground(lipgloss.ANSIColor(4))
	s.Good = r.NewStyle().Foreground(lipgloss.ANSIColor(2))
	s.Warn = r.NewStyle().Foreground(lipgloss.ANSIColor(3))
	s.Bad = r.NewStyle().Bold(true).Foreground(lipgloss.ANSIColor(1))
	s.Muted = r.NewStyle().Faint(true)
	s.Strong = r.NewStyle().Bold(true)
	s.DiffAdd = r.NewStyle().Foreground(lipgloss.ANSIColor(2))
	s.DiffDel = r.NewStyle().Foreground(lipgloss.ANSIColor(1))
	s.DiffHunk = r.NewStyle().Foreground(lipgloss.ANSIColor(6))
	return s
}

// Status colours a phase or outcome word by what it means.
func (s *Styles) Status(status string) string {
	switch status {
	case "Completed", "Created", "Updated", "Unchanged", "Ready", "OK", "ok":
		return s.Good.Render(status)
	case "PartiallyFailed", "Skipped", "Warning", "Changed", "InProgress", "Added", "Removed", "Unreadable":
		return s.Warn.Render(status)
	case "Failed", "Error", "Missing", "Corrupt", "NotBackedUp":
		return s.Bad.Render(status)
	}
	return status
}
