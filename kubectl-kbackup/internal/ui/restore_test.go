package ui

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/core/diff"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/restore"
	"github.com/kbackup/kbackup/core/verify"
)

func TestPickBackup(t *testing.T) {
	now := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	var ms []*repo.Manifest
	for i, phase := range []repo.Phase{repo.PhaseCompleted, repo.PhasePartiallyFailed, repo.PhaseFailed} {
		ms = append(ms, &repo.Manifest{ID: []string{"old", "middle", "failed"}[i], Phase: phase, StartedAt: now.Add(time.Duration(i-3) * time.Hour)})
	}
	for input, want := range map[string]string{"\n": "middle", "1\n": "middle", "2\n": "old", "9\nold\n": "old", "x\n\n": "middle"} {
		var out bytes.Buffer
		m, err := PickBackup(bufio.NewReader(strings.NewReader(input)), &out, NewStyles(&out), "prod-eu", ms, now)
		if err != nil || m.ID != want {
			t.Errorf("answer %q: got %v, %v; want %s\n%s", input, m, err, want, out.String())
		}
		if strings.Contains(out.String(), "failed") || !strings.Contains(out.String(), "Recent backups of cluster prod-eu") {
			t.Errorf("the list offers a failed backup or has no title:\n%s", out.String())
		}
	}
	if _, err := PickBackup(bufio.NewReader(strings.NewReader("")), &bytes.Buffer{}, NewStyles(&bytes.Buffer{}), "prod-eu", ms, now); err == nil {
		t.Error("no answer should be an error")
	}
	if _, err := PickBackup(bufio.NewReader(strings.NewReader("1\n")), &bytes.Buffer{}, NewStyles(&bytes.Buffer{}), "prod-eu", ms[2:], now); err == nil {
		t.Error("only failed backups: want an error")
	}
}

// The result lists every failed object with its error and every skipped
// one with its reason, in plain text on a pipe.
func TestRenderRestoreResult(t *testing.T) {
	started := time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)
	res := &restore.Result{
		ID: "r1", Backup: restore.BackupRef{Cluster: "prod-eu", ID: "b1"}, Target: restore.TargetRef{Name: "dr-us"},
		Phase: restore.PhasePartiallyFailed, StartedAt: started, CompletedAt: started.Add(2 * time.Second),
		Objects: []restore.ObjectResult{
			{Resource: "configmaps", Namespace: "shop-restored", SourceNamespace: "shop", Name: "a", Outcome: restore.Created},
			{Resource: "widgets.example.kbackup.io", Namespace: "shop-restored", Name: "w", Outcome: restore.Failed, Error: "the target serves no widgets"},
			{Resource: "pods", Namespace: "shop-restored", Name: "p", Outcome: restore.Skipped, Reason: "controlled by ReplicaSet rs"},
			{Resource: "apiservices.apiregistration.k8s.io", Name: "v1.", Outcome: restore.Skipped, Reason: "made by the API server"},
			{Resource: "apiservices.apiregistration.k8s.io", Name: "v1.apps", Outcome: restore.Skipped, Reason: "made by the API server"},
		},
	}
	res.Totals = restore.Counts{Total: 5, Created: 1, Skipped: 3, Failed: 1}
	res.Counts = []restore.GroupCounts{{Namespace: "shop-restored", Resource: "configmaps", Counts: restore.Counts{Total: 1, Created: 1}}}
	var buf bytes.Buffer
	if err := RenderRestoreResult(&buf, NewStyles(&buf), res, "/repo/dr-us/_restores/r1.json", false); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"Restore r1 of backup b1 (cluster prod-eu) into cluster dr-us: PartiallyFailed", "shop-restored   configmaps   1",
		"TOTAL", "5 objects: 1 created, 0 updated, 0 unchanged, 3 skipped, 1 failed, in 2.0s", "Failed (1):",
		"widgets.example.kbackup.io shop-restored/w: the target serves no widgets", "Skipped (3):", "pods shop-restored/p: controlled by ReplicaSet rs",
		"  made by the API server (2):\n    apiservices.apiregistration.k8s.io v1.\n    apiservices.apiregistration.k8s.io v1.apps\n",
		"Record:  /repo/dr-us/_restores/r1.json"} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("escape sequences on a pipe:\n%q", out)
	}
	if got := RecordLocation("s3://b?endpoint=http://h:9000", "dr-us/_restores/r1.json"); got != "s3://b/dr-us/_restores/r1.json?endpoint=http://h:9000" {
		t.Errorf("RecordLocation = %s", got)
	}
}

func TestRenderDiffAndVerify(t *testing.T) {
	rep := &diff.Report{
		From:    diff.Side{Kind: "backup", Cluster: "prod-eu", BackupID: "b1"},
		To:      diff.Side{Kind: "live", Cluster: "prod-eu", Server: "https://k"},
		Entries: []diff.Entry{{Change: diff.Changed, Resource: "configmaps", Namespace: "shop", Name: "a", Diff: "--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n"}},
		Counts:  []diff.Count{{Namespace: "shop", Resource: "configmaps", Changed: 1, Unchanged: 2}, {Namespace: "shop", Resource: "secrets", Unchanged: 1}},
		Totals:  diff.Count{Changed: 1, Unchanged: 3},
	}
	var buf bytes.Buffer
	if err := RenderDiff(&buf, NewStyles(&buf), rep, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Changed configmaps shop/a\n--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n", "shop        configmaps   -       -         1         2",
		"(1 more namespace/type pair has no differences"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("diff lacks %q:\n%s", want, buf.String())
		}
	}
	buf.Reset()
	vr := &verify.Report{Packs: 2, OK: 1, Missing: 1, Backups: []verify.BackupResult{{Cluster: "prod-eu", ID: "b1", Packs: 2, Missing: 1}},
		Problems: []verify.Problem{{Key: "prod-eu/shop/configmaps/abc.yaml.zst", Status: verify.Missing, Error: "not found", Backups: []verify.BackupRef{{Cluster: "prod-eu", ID: "b1"}}}}}
	if err := RenderVerifyReport(&buf, NewStyles(&buf), vr); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"prod-eu/shop/configmaps/abc.yaml.zst   Missing   prod-eu/b1", "cannot be fully restored", "1 OK, 1 missing, 0 corrupt, 0 unreadable: problems found"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("verify lacks %q:\n%s", want, buf.String())
		}
	}
}
