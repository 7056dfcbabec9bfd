package kube_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"

	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/core/testenv"
)

// A LIST cancelled after the API server's response headers arrived fails
// reading the body, as the LISTs in flight of a backup do when its name
// claim fails. client-go logs that failure; under QuietCancellations it does
// not, and the caller still gets the error.
func TestQuietCancellationsLeavesOutCancelledRequests(t *testing.T) {
	configMaps := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	listCancelled := func(t *testing.T, wrap func(context.Context) context.Context) (error, string) {
		t.Helper()
		out := testenv.CaptureKlog(t)
		ctx, cancel := context.WithCancel(testContext(t))
		defer cancel()
		held := make(chan *http.Request, 1)
		go func() {
			<-held
			cancel()
		}()
		cfg := plain.Config()
		cfg.WrapTransport = testenv.HoldUntilCancelled(func(*http.Request) bool { return true }, held)
		c := newClient(t, cfg, "plain")
		err := c.ListObjects(wrap(ctx), configMaps, "kube-system", "", func([]unstructured.Unstructured) error { return nil })
		return err, out.String()
	}

	t.Run("client-go logs a cancelled read", func(t *testing.T) {
		err, logged := listCancelled(t, func(ctx context.Context) context.Context { return ctx })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the LIST returned %v, want context.Canceled", err)
		}
		// Without this, the test below would prove nothing.
		if !strings.Contains(logged, "Unexpected error when reading response body") {
			t.Fatalf("client-go logged %q; the test no longer reproduces the line it leaves out", logged)
		}
	})
	t.Run("QuietCancellations leaves it out", func(t *testing.T) {
		err, logged := listCancelled(t, kube.QuietCancellations)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the LIST returned %v, want context.Canceled", err)
		}
		if logged != "" {
			t.Fatalf("logged %q, want nothing", logged)
		}
	})
}

// Other errors, values and names pass through to the logger the context
// had, which stays the one to log them.
func TestQuietCancellationsPassesOtherLogs(t *testing.T) {
	var lines []string
	base := funcr.New(func(prefix, args string) { lines = append(lines, prefix+" "+args) }, funcr.Options{Verbosity: 1, LogCaller: funcr.Error})
	ctx := kube.QuietCancellations(klog.NewContext(context.Background(), base))
	if again := kube.QuietCancellations(ctx); again != ctx {
		t.Error("wrapping twice added a second logger")
	}
	logger := klog.FromContext(ctx).WithName("rest").WithValues("verb", "LIST")
	logger.Error(context.Canceled, "dropped")
	logger.Error(errors.Join(errors.New("read"), context.DeadlineExceeded), "dropped too")
	logger.Error(errors.New("connection reset by peer"), "kept")
	_, _, keptLine, _ := runtime.Caller(0)
	keptLine--
	logger.V(1).Info("kept too")
	logger.V(2).Info("below the verbosity")
	// The caller is the line that logged, not the wrapper in between.
	want := []string{
		fmt.Sprintf(`rest "caller"={"file"="logging_test.go" "line"=%d} "msg"="kept" "error"="connection reset by peer" "verb"="LIST"`, keptLine),
		`rest "level"=1 "msg"="kept too" "verb"="LIST"`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("logged:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
