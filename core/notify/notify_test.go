package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/fleetrun"
	"github.com/kbackup/kbackup/core/scheduler"
)

func sampleRun() *scheduler.Run {
	slot := time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)
	return &scheduler.Run{
		ID: "run-20261129T020000Z-abcdef", Schedule: &fleet.Schedule{Name: "nightly"}, Slot: slot,
		StartedAt: slot.Add(time.Second), EndedAt: slot.Add(time.Minute),
		Result: &fleetrun.Result{Clusters: []fleetrun.ClusterResult{
			{Cluster: "prod-eu", Environment: "prod", Result: fleetrun.Completed, BackupID: "20261129T020001Z-111111", Objects: 120, BytesUploaded: 4096, Duration: 3 * time.Second},
			{Cluster: "prod-us", Environment: "prod", Result: fleetrun.NotBackedUp, Error: "registered cluster prod-us did not answer", Duration: 10 * time.Second},
		}},
	}
}

// receiver is a webhook that records what it is sent, answering with the
// statuses given in turn (then 200).
type receiver struct {
	mu       sync.Mutex
	bodies   [][]byte
	statuses []int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.bodies = append(rc.bodies, body)
	if len(rc.statuses) > 0 {
		w.WriteHeader(rc.statuses[0])
		rc.statuses = rc.statuses[1:]
	}
}

func (rc *receiver) received() [][]byte {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([][]byte(nil), rc.bodies...)
}

func fastOptions(o Options) Options {
	o.RetryWaitMin, o.RetryWaitMax = time.Millisecond, 10*time.Millisecond
	return o
}

// The webhook receives the documented payload, after a 500 that is
// retried; Slack receives the same summary as text.
func TestWebhookReceivesThePayloadAndA500IsRetried(t *testing.T) {
	hook := &receiver{statuses: []int{http.StatusInternalServerError}}
	slack := &receiver{}
	hookSrv, slackSrv := httptest.NewServer(hook), httptest.NewServer(slack)
	defer hookSrv.Close()
	defer slackSrv.Close()
	n := New(fastOptions(Options{WebhookURL: hookSrv.URL + "/hooks/secret-token", SlackURL: slackSrv.URL + "/services/T0/B0/xyz", SlackChannel: "#backups", OnSuccess: true, OnFailure: true}))
	n.Notify(sampleRun())
	n.Close(context.Background())

	bodies := hook.received()
	if len(bodies) != 2 || string(bodies[0]) != string(bodies[1]) {
		t.Fatalf("webhook received %d requests, want the payload twice (a 500, then retried): %q", len(bodies), bodies)
	}
	var p Payload
	if err := json.Unmarshal(bodies[1], &p); err != nil {
		t.Fatal(err)
	}
	if p.Version != PayloadVersion || p.Event != "run.failed" || p.Result != "partially_failed" || p.RunID != "run-20261129T020000Z-abcdef" ||
		p.Schedule != "nightly" || len(p.Clusters) != 2 {
		t.Errorf("payload: %+v", p)
	}
	if c := p.Clusters[0]; c.Name != "prod-eu" || c.Result != "completed" || c.BackupID == "" || c.Objects != 120 || c.BytesUploaded != 4096 || c.DurationSeconds != 3 {
		t.Errorf("first cluster: %+v", c)
	}
	if c := p.Clusters[1]; c.Result != "not_backed_up" || !strings.Contains(c.Error, "did not answer") {
		t.Errorf("second cluster: %+v", c)
	}
	// The documented fields, and no others.
	var fields map[string]any
	_ = json.Unmarshal(bodies[1], &fields)
	for k := range fields {
		if !strings.Contains("version event runId schedule slot startedAt completedAt result clusters error text", k) {
			t.Errorf("undocumented field %q", k)
		}
	}
	if strings.Contains(string(bodies[1]), "secret-token") {
		t.Error("the payload carries the webhook's URL")
	}
	sl := slack.received()
	if len(sl) != 1 || !strings.Contains(string(sl[0]), `"channel":"#backups"`) || !strings.Contains(string(sl[0]), "1 of 2 clusters backed up; not completed: prod-us (not_backed_up)") {
		t.Errorf("slack received %q", sl)
	}
}

// Per cluster, and only failures: one notification, for the failed cluster.
func TestPerClusterFailuresOnly(t *testing.T) {
	hook := &receiver{}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	n := New(fastOptions(Options{WebhookURL: srv.URL, PerCluster: true, OnFailure: true}))
	n.Notify(sampleRun())
	n.Close(context.Background())
	bodies := hook.received()
	if len(bodies) != 1 {
		t.Fatalf("received %d notifications, want 1", len(bodies))
	}
	var p Payload
	_ = json.Unmarshal(bodies[0], &p)
	if p.Event != "cluster.failed" || len(p.Clusters) != 1 || p.Clusters[0].Name != "prod-us" {
		t.Errorf("payload: %+v", p)
	}
}

// A webhook that never answers does not hold up the caller: Notify
// returns while the webhook holds the request, and Close gives up at its
// deadline, logging no URL.
func TestHangingWebhookDoesNotBlock(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	var log strings.Builder
	var mu sync.Mutex
	n := New(fastOptions(Options{WebhookURL: srv.URL + "/hook/token123", OnSuccess: true, OnFailure: true, AttemptTimeout: time.Hour, Log: newLogger(&log, &mu)}))
	n.Notify(sampleRun())
	<-arrived // the webhook holds the first request
	for range 3 {
		n.Notify(sampleRun()) // returns although the worker is stuck
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n.Close(ctx)
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(log.String(), "notification not sent") {
		t.Errorf("the abandoned notification is not logged:\n%s", log.String())
	}
	if strings.Contains(log.String(), "token123") {
		t.Errorf("the log carries the webhook's token:\n%s", log.String())
	}
}

func TestRedactURLs(t *testing.T) {
	got := redactURLs(errors.New(`Post "https://hooks.example.com/services/T0/B0/secret?x=1": dial tcp: refused`))
	if strings.Contains(got, "secret") || !strings.Contains(got, "https://hooks.example.com/REDACTED") {
		t.Errorf("redacted: %s", got)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func newLogger(w io.Writer, mu *sync.Mutex) *slog.Logger {
	return slog.New(slog.NewJSONHandler(lockedWriter{mu: mu, w: w}, nil))
}
