package guides

import (
	"fmt"
	"regexp"
	"strings"
)

// What varies from run to run in a command's output, and how the
// comparison treats it. Nothing else is normalised: names, counts, phases,
// messages and the order of lines must be as the page shows them.
var (
	// A backup or restore ID: its time and random suffix differ. The
	// first time the page shows an example ID where the command printed a
	// real one, the example stands for that real one in every later
	// command and output of the page (see session.bind).
	idRE = regexp.MustCompile(`\b\d{8}T\d{6}Z-[0-9a-f]{6}\b`)

	normalisations = []struct {
		re   *regexp.Regexp
		with string
		why  string
	}{
		{regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`), "", "terminal escapes (a command run on a terminal colours its output)"},
		{regexp.MustCompile(`\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`), "<uid>", "UIDs: every cluster's kube-system UID is new"},
		{regexp.MustCompile(`\b[0-9a-f]{64}\b`), "<sha256>", "digests: packs hold the objects' UIDs and times"},
		{regexp.MustCompile(`\b\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?\b( UTC)?`), "<time>", "times"},
		{regexp.MustCompile(`127\.0\.0\.1:\d+`), "127.0.0.1:<port>", "ports: the test's servers listen on free ports"},
		{regexp.MustCompile(`\b\d+(\.\d+)? ?(B|KiB|MiB|GiB|kB|MB|GB)\b`), "<size>", "sizes: packs hold UIDs and times, which compress differently"},
		{regexp.MustCompile(`\b\d+(\.\d+)? objects/s\b`), "<rate>", "rates"},
		{regexp.MustCompile(`\b(\d+(\.\d+)?(ns|µs|ms|s|m|h|d))+\b`), "<duration>", "durations and ages"},
		{regexp.MustCompile(`─+`), "─", "a table's rule on a terminal, as wide as the table"},
		{regexp.MustCompile(`\s+`), " ", "runs of spaces: table columns are as wide as their widest value, which the above vary"},
	}
)

// normalise turns a line into what the comparison compares: every ID
// becomes <id> (paired separately, see idsOf).
func normalise(line string) string {
	line = idRE.ReplaceAllString(line, "<id>")
	for _, n := range normalisations {
		line = n.re.ReplaceAllString(line, n.with)
	}
	return strings.TrimSpace(line)
}

// isGap is a line of the page's output standing for any number of lines
// (none included) that the page leaves out.
func isGap(line string) bool {
	t := strings.TrimSpace(line)
	return t == "..." || t == "…"
}

// match compares the page's output with the command's, line by line after
// normalising, "..." lines matching any run of lines. It returns, for each
// line of want that is not a gap, the line of got it matched, or an error
// showing both.
func match(want, got []string) (map[int]int, error) {
	for len(want) > 0 && strings.TrimSpace(want[len(want)-1]) == "" {
		want = want[:len(want)-1]
	}
	var w, g []string
	for _, l := range want {
		w = append(w, normalise(l))
	}
	for _, l := range got {
		g = append(g, normalise(l))
	}
	// Blank lines of the command's output are not compared: the page
	// leaves some out between blocks of output.
	var gi []int
	for j, l := range g {
		if l != "" {
			gi = append(gi, j)
		}
	}
	var wi []int
	for i, l := range w {
		if l != "" {
			wi = append(wi, i)
		}
	}
	pairs := map[int]int{}
	memo := map[[2]int]bool{}
	var walk func(a, b int) bool
	walk = func(a, b int) bool {
		if a == len(wi) {
			return b == len(gi)
		}
		key := [2]int{a, b}
		if done, ok := memo[key]; ok && !done {
			return false
		}
		ok := false
		if isGap(want[wi[a]]) {
			for k := b; k <= len(gi) && !ok; k++ {
				ok = walk(a+1, k)
			}
		} else if b < len(gi) && w[wi[a]] == g[gi[b]] {
			if ok = walk(a+1, b+1); ok {
				pairs[wi[a]] = gi[b]
			}
		}
		memo[key] = ok
		return ok
	}
	if walk(0, 0) {
		return pairs, nil
	}
	// The first line of want that has no match, to point at.
	var b strings.Builder
	fmt.Fprintf(&b, "the output differs from the page's.\n--- the page shows:\n%s\n--- the command printed:\n%s\n--- compared as (page | command), after normalising:\n",
		strings.Join(want, "\n"), strings.Join(got, "\n"))
	for k := 0; k < max(len(wi), len(gi)); k++ {
		var l, r string
		if k < len(wi) {
			l = w[wi[k]]
		}
		if k < len(gi) {
			r = g[gi[k]]
		}
		mark := "  "
		if l != r && !isGap(l) {
			mark = "≠ "
		}
		fmt.Fprintf(&b, "%s%s | %s\n", mark, l, r)
	}
	return nil, fmt.Errorf("%s", b.String())
}
