package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/core/backup"
	"github.com/kbackup/kbackup/core/fleetrun"
)

func fleetResult() *fleetrun.Result {
	start := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	return &fleetrun.Result{
		RunID: "run-20260301T020000Z-1a2b3c", StartedAt: start, CompletedAt: start.Add(14300 * time.Millisecond), Concurrency: 3,
		Clusters: []fleetrun.ClusterResult{
			{Cluster: "prod-eu", Context: "prod-eu", Environment: "prod", Result: fleetrun.Completed, BackupID: "b1", Objects: 12840, BytesUploaded: 2 << 20, Duration: 4200 * time.Millisecond, Attempts: 1},
			{Cluster: "prod-us", Context: "prod-us", Result: fleetrun.Completed, BackupID: "b2", Objects: 10, BytesUploaded: 100, Duration: time.Second, Attempts: 1, FallbackUsed: true, Location: "s3://spare"},
			{Cluster: "staging", Context: "staging", Result: fleetrun.NotBackedUp, Duration: 10 * time.Second, Attempts: 6, Error: "did not answer within the connect timeout of 10s:\nconnection refused"},
		},
		StorageAttempts: []fleetrun.StorageFailure{{Location: "s3://main", Error: "storage unavailable"}},
	}
}

func TestRenderFleetRunPlain(t *testing.T) {
	var out bytes.Buffer
	doc := NewFleetRunResult(fleetResult(), &fleetrun.RegistryMatch{NotReached: []string{"ghost"}})
	if err := RenderFleetRun(&out, NewStyles(&out), doc); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	lines := strings.Split(text, "\n")
	if strings.Join(strings.Fields(lines[0]), " ") != "CLUSTER ENVIRONMENT RESULT OBJECTS UPLOADED DURATION ERROR" {
		t.Errorf("header: %q", lines[0])
	}
	for _, want := range []string{
		"prod-eu", "12840", "2.0 MiB", "4.2s",
		"staging", "NotBackedUp", "did not answer within the connect timeout of 10s: connection refused",
		"Run run-20260301T020000Z-1a2b3c: 2 of 3 clusters completed in 14.3s.",
		"Storage s3://main failed during the run (storage unavailable)",
		"Cluster prod-us was backed up to the fallback s3://spare.",
		"reached by no context of the kubeconfig, not backed up: ghost.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the table lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "\x1b") {
		t.Errorf("escape sequences in plain output:\n%q", text)
	}
	// The row of a cluster with no backup shows no objects.
	for _, l := range lines {
		if strings.HasPrefix(l, "staging") && !strings.Contains(strings.Join(strings.Fields(l), " "), "NotBackedUp - - 10s") {
			t.Errorf("staging's row: %q", l)
		}
	}
}

func TestFleetRunResultJSON(t *testing.T) {
	var out bytes.Buffer
	if err := PrintObject(&out, OutputJSON, NewFleetRunResult(fleetResult(), nil)); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	clusters := doc["clusters"].([]any)
	first := clusters[0].(map[string]any)
	if doc["runId"] != "run-20260301T020000Z-1a2b3c" || doc["completed"] != float64(2) || doc["duration"] != "14.3s" || len(clusters) != 3 ||
		first["cluster"] != "prod-eu" || first["environment"] != "prod" || first["result"] != "Completed" || first["objects"] != float64(12840) ||
		first["bytesUploaded"] != float64(2<<20) || first["duration"] != "4.2s" {
		t.Errorf("document:\n%s", out.String())
	}
}

func TestFleetProgressOnlyOnATerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	p := NewFleetProgress(f)
	p.Handle(fleetrun.Event{Kind: fleetrun.EventQueued, Context: "a"})
	p.Finish()
	if st, _ := f.Stat(); st.Size() != 0 {
		t.Errorf("a file is not a terminal, yet progress was drawn")
	}
	for _, tc := range []struct {
		e    fleetrun.Event
		want string
	}{
		{fleetrun.Event{Kind: fleetrun.EventConnecting}, "connecting"},
		{fleetrun.Event{Kind: fleetrun.EventRetrying, Attempt: 1, Err: errors.New("connection\nrefused"), Wait: 1500 * time.Millisecond}, "try 1 failed (connection refused); again in 1.5s"},
		{fleetrun.Event{Kind: fleetrun.EventBackup, Backup: backup.Event{Kind: backup.EventTypeDone, TypesDone: 3, TypesTotal: 40, ObjectsDone: 1200, BytesUploaded: 2048}}, "backing up: 3/40 types, 1200 objects, 2.0 KiB uploaded"},
		{fleetrun.Event{Kind: fleetrun.EventDone, Result: &fleetrun.ClusterResult{Result: fleetrun.NotBackedUp, Duration: 5 * time.Second, Error: "refused"}}, "NotBackedUp after 5.0s: refused"},
	} {
		if got := FleetEventText(tc.e); got != tc.want {
			t.Errorf("FleetEventText(%s) = %q, want %q", tc.e.Kind, got, tc.want)
		}
	}
	// Drawn to a terminal, the lines are rewritten in place: the cursor
	// goes back up over them before each redraw.
	var term bytes.Buffer
	tp := &FleetProgress{w: &term, enabled: true}
	tp.Handle(fleetrun.Event{Kind: fleetrun.EventQueued, Index: 0, Context: "a"})
	tp.Handle(fleetrun.Event{Kind: fleetrun.EventQueued, Index: 1, Context: "bb"})
	tp.Handle(fleetrun.Event{Kind: fleetrun.EventDone, Index: 0, Context: "a", Result: &fleetrun.ClusterResult{Result: fleetrun.Completed, BackupID: "x", Objects: 3, Duration: time.Second}})
	if !strings.Contains(term.String(), "\x1b[2A") || !strings.Contains(term.String(), "a   Completed: 3 objects") {
		t.Errorf("terminal output: %q", term.String())
	}
}
