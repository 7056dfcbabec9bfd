package tracing

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/kbackup/kbackup/core/backup"
	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/fleetrun"
	"github.com/kbackup/kbackup/core/scheduler"
)

// otlpReceiver is an OTLP/HTTP trace receiver: it decodes each export
// request (protobuf) as a collector does, and keeps the spans.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracev1.Span
	errs  []error
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req collectortrace.ExportTraceServiceRequest
	o.mu.Lock()
	defer o.mu.Unlock()
	if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		o.errs = append(o.errs, errors.New("unexpected request "+r.URL.Path+" "+r.Header.Get("Content-Type")))
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if err := proto.Unmarshal(body, &req); err != nil {
		o.errs = append(o.errs, err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func attr(s *tracev1.Span, key string) string {
	for _, a := range s.Attributes {
		if a.Key == key {
			return a.Value.GetStringValue()
		}
	}
	return ""
}

// One run of two clusters, one completed and one that did not answer:
// one trace, a span for the run, one per cluster under it, and the
// completed cluster's connect and backup phases under its span; the
// failed cluster's span has an error status.
func TestRunTraceReachesAnOTLPReceiver(t *testing.T) {
	recv := &otlpReceiver{}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	tr, err := New(srv.URL, "test")
	if err != nil {
		t.Fatal(err)
	}
	run := &scheduler.Run{ID: "run-1", Schedule: &fleet.Schedule{Name: "nightly"}, Slot: time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)}
	ctx := tr.RunStarted(context.Background(), run)
	ok := &fleetrun.ClusterResult{Cluster: "prod-eu", Result: fleetrun.Completed, BackupID: "b1", Attempts: 1}
	down := &fleetrun.ClusterResult{Cluster: "prod-us", Result: fleetrun.NotBackedUp, Error: "connection refused", Attempts: 2}
	for _, e := range []fleetrun.Event{
		{Kind: fleetrun.EventConnecting, Index: 0, Context: "prod-eu", Cluster: "prod-eu"},
		{Kind: fleetrun.EventConnecting, Index: 1, Context: "prod-us", Cluster: "prod-us"},
		{Kind: fleetrun.EventBackup, Index: 0, Context: "prod-eu", Backup: backup.Event{Kind: backup.EventStarted, TypesTotal: 12}},
		{Kind: fleetrun.EventRetrying, Index: 1, Context: "prod-us", Attempt: 1, Err: errors.New("connection refused")},
		{Kind: fleetrun.EventBackup, Index: 0, Context: "prod-eu", Backup: backup.Event{Kind: backup.EventCommitted, BackupID: "b1", ObjectsDone: 40}},
		{Kind: fleetrun.EventDone, Index: 0, Context: "prod-eu", Cluster: "prod-eu", Result: ok},
		{Kind: fleetrun.EventDone, Index: 1, Context: "prod-us", Cluster: "prod-us", Result: down},
	} {
		tr.ClusterEvent(ctx, run, e)
	}
	run.Result = &fleetrun.Result{Clusters: []fleetrun.ClusterResult{*ok, *down}}
	tr.RunEnded(ctx, run)
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	recv.mu.Lock()
	defer recv.mu.Unlock()
	if len(recv.errs) > 0 {
		t.Fatal(recv.errs)
	}
	byName := map[string][]*tracev1.Span{}
	traces := map[string]bool{}
	for _, s := range recv.spans {
		byName[s.Name] = append(byName[s.Name], s)
		traces[string(s.TraceId)] = true
	}
	if len(traces) != 1 || len(byName["kbackup.run"]) != 1 || len(byName["kbackup.cluster"]) != 2 || len(byName["connect"]) != 2 || len(byName["backup"]) != 1 {
		t.Fatalf("spans: %v in %d traces", recv.spans, len(traces))
	}
	runSpan := byName["kbackup.run"][0]
	if attr(runSpan, "kbackup.run_id") != "run-1" || attr(runSpan, "kbackup.schedule") != "nightly" {
		t.Errorf("run span: %v", runSpan)
	}
	clusters := map[string]*tracev1.Span{}
	for _, c := range byName["kbackup.cluster"] {
		if string(c.ParentSpanId) != string(runSpan.SpanId) {
			t.Errorf("cluster span %s is not under the run's", attr(c, "kbackup.cluster"))
		}
		clusters[attr(c, "kbackup.cluster")] = c
	}
	if clusters["prod-us"].Status.GetCode() != tracev1.Status_STATUS_CODE_ERROR || clusters["prod-eu"].Status.GetCode() == tracev1.Status_STATUS_CODE_ERROR {
		t.Errorf("statuses: prod-eu %v, prod-us %v", clusters["prod-eu"].Status, clusters["prod-us"].Status)
	}
	if len(clusters["prod-us"].Events) != 1 || clusters["prod-us"].Events[0].Name != "retry" {
		t.Errorf("prod-us's events: %v", clusters["prod-us"].Events)
	}
	if b := byName["backup"][0]; string(b.ParentSpanId) != string(clusters["prod-eu"].SpanId) || attr(b, "kbackup.backup_id") != "b1" {
		t.Errorf("backup phase: %v", b)
	}
}

func TestEndpointIsChecked(t *testing.T) {
	for _, bad := range []string{"otel:4317", "grpc://otel:4317", ""} {
		if ValidateEndpoint(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if err := ValidateEndpoint("http://otel-collector:4318"); err != nil {
		t.Error(err)
	}
}
