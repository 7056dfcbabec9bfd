package ui

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Sanitize makes text from a repository, a cluster or an API error safe to
// write to a terminal (kubectl's CVE-2021-25743): every control character
// other than newline and tab is shown in caret or \u notation, so that a
// crafted object name or error cannot move the cursor, rewrite a line, set
// the window title or reach the clipboard. SGR sequences (ESC [ ... m) are
// the one thing kept, because they are what Styles writes, and all they can
// do is colour text.
func Sanitize(s string) string {
	if isClean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		if n := sgrLength(s[i:]); n > 0 {
			b.WriteString(s[i : i+n])
			i += n
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r < 0x20:
			b.WriteByte('^')
			b.WriteByte(byte(r) + '@')
		case r == 0x7f:
			b.WriteString("^?")
		case r >= 0x80 && r <= 0x9f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// isClean reports whether s has nothing Sanitize would change other than
// SGR sequences, the common case, so that it costs one pass and no copy.
func isClean(s string) bool {
	nonASCII := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == 0x1b:
			n := sgrLength(s[i:])
			if n == 0 {
				return false
			}
			i += n - 1
		case c < 0x20 && c != '\n' && c != '\t', c == 0x7f:
			return false
		case c >= 0x80:
			nonASCII = true
		}
	}
	return !nonASCII || (utf8.ValidString(s) && !strings.ContainsFunc(s, isC1))
}

func isC1(r rune) bool { return r >= 0x80 && r <= 0x9f }

// sgrLength returns the length of the SGR sequence s starts with (ESC [,
// digits, semicolons and colons, then m), or 0 when it does not start with
// one.
func sgrLength(s string) int {
	if len(s) < 3 || s[0] != 0x1b || s[1] != '[' {
		return 0
	}
	for i := 2; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c == ';', c == ':':
		case c == 'm':
			return i + 1
		default:
			return 0
		}
	}
	return 0
}
