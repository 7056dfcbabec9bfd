// Package tracing sends OpenTelemetry spans of scheduled runs over OTLP
// (HTTP, protobuf): one trace per run, with a span per cluster, and within
// it a span per phase (connect: reaching the API server; backup: reading
// the resource types and uploading packs up to the manifest's commit).
// Retries and storage switches are events on the cluster's span.
package tracing

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/kbackup/kbackup/core/backup"
	"github.com/kbackup/kbackup/core/fleetrun"
	"github.com/kbackup/kbackup/core/scheduler"
)

// Tracer is a scheduler.Observer that records spans.
type Tracer struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer

	mu       sync.Mutex
	clusters map[string]*clusterSpans // by run ID and cluster index
}

type clusterSpans struct {
	ctx     context.Context
	cluster trace.Span
	phase   trace.Span
	name    string
}

var _ scheduler.Observer = (*Tracer)(nil)

// ValidateEndpoint checks an OTLP HTTP endpoint: http(s)://host:port, with
// an optional path (default /v1/traces).
func ValidateEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an OTLP HTTP endpoint; want one like http://otel-collector:4318", endpoint)
	}
	return nil
}

// New returns a tracer exporting to endpoint (an OTLP HTTP endpoint,
// http://collector:4318, to which /v1/traces is added unless it has a
// path). version names the service's version.
func New(endpoint, version string) (*Tracer, error) {
	if err := ValidateEndpoint(endpoint); err != nil {
		return nil, err
	}
	u, _ := url.Parse(endpoint)
	path := u.Path
	if path == "" || path == "/" {
		path = "/v1/traces"
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(u.Host), otlptracehttp.WithURLPath(path)}
	if u.Scheme == "http" {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	exporter, err := otlptracehttp.New(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing to %s: %w", u.Host, err)
	}
	res := resource.NewSchemaless(semconv.ServiceName("kbackup"), semconv.ServiceVersion(version))
	provider := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter, sdktrace.WithBatchTimeout(time.Second)), sdktrace.WithResource(res))
	return &Tracer{provider: provider, tracer: provider.Tracer("github.com/kbackup/kbackup/core/tracing"), clusters: map[string]*clusterSpans{}}, nil
}

// Shutdown sends the spans not sent yet, until ctx is done.
func (t *Tracer) Shutdown(ctx context.Context) error { return t.provider.Shutdown(ctx) }

// RunStarted starts the run's trace.
func (t *Tracer) RunStarted(ctx context.Context, run *scheduler.Run) context.Context {
	ctx, _ = t.tracer.Start(ctx, "kbackup.run", trace.WithNewRoot(), trace.WithAttributes(
		attribute.String("kbackup.run_id", run.ID),
		attribute.String("kbackup.schedule", run.Schedule.Name),
		attribute.String("kbackup.slot", run.Slot.Format(time.RFC3339))))
	return ctx
}

func key(run *scheduler.Run, index int) string { return fmt.Sprintf("%s/%d", run.ID, index) }

// ClusterEvent starts and ends the cluster's spans.
func (t *Tracer) ClusterEvent(ctx context.Context, run *scheduler.Run, e fleetrun.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := key(run, e.Index)
	cs := t.clusters[k]
	switch e.Kind {
	case fleetrun.EventConnecting:
		if cs != nil {
			return
		}
		cctx, span := t.tracer.Start(ctx, "kbackup.cluster", trace.WithAttributes(
			attribute.String("kbackup.cluster", clusterName(e)), attribute.String("kbackup.context", e.Context)))
		_, phase := t.tracer.Start(cctx, "connect")
		t.clusters[k] = &clusterSpans{ctx: cctx, cluster: span, phase: phase, name: clusterName(e)}
	case fleetrun.EventRetrying:
		if cs != nil {
			cs.cluster.AddEvent("retry", trace.WithAttributes(attribute.Int("kbackup.attempt", e.Attempt), attribute.String("error", e.Err.Error())))
		}
	case fleetrun.EventBackup:
		if cs == nil {
			return
		}
		switch e.Backup.Kind {
		case backup.EventStarted:
			cs.phase.End()
			_, cs.phase = t.tracer.Start(cs.ctx, "backup", trace.WithAttributes(attribute.Int("kbackup.resource_types", e.Backup.TypesTotal)))
		case backup.EventStorageSwitched:
			cs.cluster.AddEvent("storage switched", trace.WithAttributes(attribute.String("message", e.Backup.Message)))
		case backup.EventCommitted:
			cs.phase.SetAttributes(attribute.String("kbackup.backup_id", e.Backup.BackupID), attribute.Int("kbackup.objects", e.Backup.ObjectsDone),
				attribute.Int64("kbackup.bytes_uploaded", e.Backup.BytesUploaded))
		}
	case fleetrun.EventDone:
		r := e.Result
		if cs == nil { // never started (interrupted, or could not be tried)
			_, span := t.tracer.Start(ctx, "kbackup.cluster", trace.WithAttributes(attribute.String("kbackup.cluster", r.Cluster), attribute.String("kbackup.context", e.Context)))
			cs = &clusterSpans{cluster: span, name: r.Cluster}
		}
		if cs.phase != nil {
			cs.phase.End()
		}
		cs.cluster.SetAttributes(attribute.String("kbackup.result", string(r.Result)), attribute.String("kbackup.backup_id", r.BackupID),
			attribute.Int("kbackup.attempts", r.Attempts))
		if r.Result != fleetrun.Completed {
			cs.cluster.SetStatus(codes.Error, strings.TrimSpace(string(r.Result)+": "+r.Error))
		}
		cs.cluster.End()
		delete(t.clusters, k)
	}
}

func clusterName(e fleetrun.Event) string {
	if e.Cluster != "" {
		return e.Cluster
	}
	return e.Context
}

// RunEnded ends the run's span.
func (t *Tracer) RunEnded(ctx context.Context, run *scheduler.Run) {
	span := trace.SpanFromContext(ctx)
	if run.Result != nil {
		span.SetAttributes(attribute.Int("kbackup.clusters", len(run.Result.Clusters)), attribute.Int("kbackup.completed", run.Result.Count(fleetrun.Completed)))
	}
	if run.Err != nil {
		span.SetStatus(codes.Error, run.Err.Error())
	}
	span.End()
}
