package ui

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/lipgloss/table"
)

// Table is a list of rows under upper-case headers, as kubectl prints them.
type Table struct {
	Headers []string
	Rows    [][]string
}

// AddRow appends a row; cells beyond the headers are dropped, missing ones
// are left empty.
func (t *Table) AddRow(cells ...string) {
	row := make([]string, len(t.Headers))
	for i := range min(len(cells), len(row)) {
		row[i] = Sanitize(cells[i])
	}
	t.Rows = append(t.Rows, row)
}

// Render writes the table. On a terminal it is drawn with lipgloss, with a
// styled header rule; otherwise it is kubectl's plain aligned columns, which
// scripts can cut and awk.
func (t *Table) Render(w io.Writer, s *Styles) error {
	if s.Plain {
		tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
		fmt.Fprintln(tw, strings.Join(t.Headers, "\t"))
		for _, row := range t.Rows {
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
		return tw.Flush()
	}
	lt := table.New().
		Border(lipgloss.NormalBorder()).
		BorderTop(false).BorderBottom(false).BorderLeft(false).BorderRight(false).
		BorderColumn(false).BorderHeader(true).
		BorderStyle(s.Muted).
		Headers(t.Headers...).
		Rows(t.Rows...).
		StyleFunc(func(row, col int) lipgloss.Style {
			cell := s.renderR.NewStyle().PaddingRight(3)
			if row == table.HeaderRow {
				return s.Header.PaddingRight(3)
			}
			return cell
		})
	_, err := fmt.Fprintln(w, lt.Render())
	return err
}
