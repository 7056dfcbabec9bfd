package kube

import (
	"context"
	"errors"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
)

// QuietCancellations returns ctx with a client-go logger that leaves out
// errors caused by a cancelled or expired context, and passes everything
// else to the logger ctx already had (klog's, by default).
//
// client-go logs, to stderr, every response body it fails to read, also when
// the caller cancelled the request on purpose: a backup whose name claim
// fails stops its LISTs in flight, and without this the user sees a klog
// line per LIST above the error that says what happened. The same error is
// returned to the caller, so nothing is lost by leaving the line out.
func QuietCancellations(ctx context.Context) context.Context {
	base := klog.FromContext(ctx)
	if _, ok := base.GetSink().(quietCancellationSink); ok {
		return ctx
	}
	// One frame more (quietCancellationSink.Error) between the caller and
	// the sink, so that klog still names the caller's file and line.
	base = base.WithCallDepth(1)
	if base.GetSink() == nil {
		return ctx
	}
	return klog.NewContext(ctx, base.WithSink(quietCancellationSink{base.GetSink()}))
}

// quietCancellationSink drops errors that are context cancellations.
type quietCancellationSink struct{ logr.LogSink }

// Init does nothing: the wrapped sink was initialised by its own logger.
func (quietCancellationSink) Init(logr.RuntimeInfo) {}

func (s quietCancellationSink) Error(err error, msg string, keysAndValues ...any) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return
	}
	s.LogSink.Error(err, msg, keysAndValues...)
}

func (s quietCancellationSink) WithValues(keysAndValues ...any) logr.LogSink {
	return quietCancellationSink{s.LogSink.WithValues(keysAndValues...)}
}

func (s quietCancellationSink) WithName(name string) logr.LogSink {
	return quietCancellationSink{s.LogSink.WithName(name)}
}

func (s quietCancellationSink) WithCallDepth(depth int) logr.LogSink {
	if sink, ok := s.LogSink.(logr.CallDepthLogSink); ok {
		return quietCancellationSink{sink.WithCallDepth(depth)}
	}
	return s
}
