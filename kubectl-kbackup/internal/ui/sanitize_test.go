package ui

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/muesli/termenv"

	"github.com/kbackup/kbackup/core/repo"
)

func TestSanitize(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain name", "plain name"},
		{"two\nlines\tand a tab", "two\nlines\tand a tab"},
		{"\x1b[1mbold\x1b[0m", "\x1b[1mbold\x1b[0m"},
		{"\x1b[38;5;1mred\x1b[m", "\x1b[38;5;1mred\x1b[m"},
		{"title\x1b]0;pwned\x07", "title^[]0;pwned^G"},
		{"clear\x1b[2J", "clear^[[2J"},
		{"up\x1b[1A", "up^[[1A"},
		{"over\rwrite", "over^Mwrite"},
		{"back\bspace", "back^Hspace"},
		{"del\x7f", "del^?"},
		{"c1 \u009b2J csi", `c1 \u009b2J csi`},
		{"bad \x9b byte", `bad \x9b byte`},
		{"ünïcødé ✓", "ünïcødé ✓"},
		{"\x1b[1mü\x1b[0m ✓", "\x1b[1mü\x1b[0m ✓"},
		{"\x1b[1mü\x1b[0m\r", "\x1b[1mü\x1b[0m^M"},
		{"\x1b", "^["},
		{"\x1b[", "^[["},
	}
	for _, c := range cases {
		if got := Sanitize(c.in); got != c.want {
			t.Errorf("Sanitize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// A manifest crafted to attack the terminal of whoever describes it: no
// escape sequence other than the styles' colours reaches the output.
func TestDescribeEscapesRepositoryStrings(t *testing.T) {
	evil := "shop\x1b]52;c;cHduZWQ=\x07\x1b[2J\r"
	m := &repo.Manifest{ID: "b1", Phase: repo.Phase(evil), Labels: map[string]string{"team": evil}}
	m.Cluster.Name = evil
	m.Errors = []repo.ResourceError{{Resource: "configmaps", Namespace: evil, Message: evil}}
	for _, plain := range []bool{true, false} {
		var out bytes.Buffer
		s := NewStyles(&out)
		if !plain {
			s = forcedColourStyles(&out)
		}
		if err := RenderBackupDescription(&out, s, m, nil, time.Now()); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"\x07", "\r", "\x1b]", "\x1b[2J"} {
			if strings.Contains(out.String(), bad) {
				t.Errorf("plain=%v: output holds %q:\n%q", plain, bad, out.String())
			}
		}
		if !strings.Contains(out.String(), "shop^[]52;c;cHduZWQ=^G^[[2J^M") {
			t.Errorf("plain=%v: the escaped name is not shown:\n%s", plain, out.String())
		}
	}
}

// forcedColourStyles are the styles of a terminal, whatever out is.
func forcedColourStyles(out *bytes.Buffer) *Styles {
	s := newStyles(out, false)
	s.renderR.SetColorProfile(termenv.ANSI)
	return s
}
