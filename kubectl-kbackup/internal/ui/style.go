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
}

// IsTerminal reports whether a stream (stdin, stdout or stderr) is a
// terminal.
func IsTerminal(stream any) bool {
	f, ok := stream.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// NewStyles returns the styles for w.
func NewStyles(w io.Writer) *Styles {
	plain := !IsTerminal(w) || os.Getenv("NO_COLOR") != ""
	r := lipgloss.NewRenderer(w)
	s := &Styles{Plain: plain, renderR: r}
	if plain {
		none := r.NewStyle()
		s.Header, s.Good, s.Warn, s.Bad, s.Muted, s.Strong = none, none, none, none, none, none
		return s
	}
	s.Header = r.NewStyle().Bold(true).Foreground(lipgloss.AdaptiveColor{Light: "#1f4e8c", Dark: "#7aa2f7"})
	s.Good = r.NewStyle().Foreground(lipgloss.AdaptiveColor{Light: "#1a7f37", Dark: "#9ece6a"})
	s.Warn = r.NewStyle().Foreground(lipgloss.AdaptiveColor{Light: "#9a6700", Dark: "#e0af68"})
	s.Bad = r.NewStyle().Bold(true).Foreground(lipgloss.AdaptiveColor{Light: "#cf222e", Dark: "#f7768e"})
	s.Muted = r.NewStyle().Foreground(lipgloss.AdaptiveColor{Light: "#6e7781", Dark: "#737aa2"})
	s.Strong = r.NewStyle().Bold(true)
	return s
}

// Status colours a phase or outcome word by what it means.
func (s *Styles) Status(status string) string {
	switch status {
	case "Completed", "Created", "Updated", "Unchanged", "Ready", "OK", "ok":
		return s.Good.Render(status)
	case "PartiallyFailed", "Skipped", "Warning", "Changed", "InProgress":
		return s.Warn.Render(status)
	case "Failed", "Error", "Missing", "Corrupt":
		return s.Bad.Render(status)
	}
	return status
}
