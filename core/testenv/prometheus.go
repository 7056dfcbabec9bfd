package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Prometheus and promtool come from Debian's packages (`make testenv`
// installs them with apt-get): a real Prometheus scrapes `serve` and
// evaluates the alert rules of examples/monitoring.

// DebianTool returns the path of a tool that `make testenv` installs from
// Debian's packages (prometheus, promtool, chromium), or fails the test
// saying how to get it.
func DebianTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed: run `make testenv`, which installs it from Debian's packages (apt-get install -y --no-install-recommends prometheus chromium)", name)
	}
	return path
}

// Prometheus is a Prometheus server started for a test.
type Prometheus struct {
	// URL is its HTTP API's base, http://127.0.0.1:<port>.
	URL  string
	proc *process
}

// StartPrometheus starts Prometheus with the given configuration (YAML;
// rule files named in it are read from where it says), on a loopback port,
// with its data in a temporary directory; it is stopped when t ends.
func StartPrometheus(t testing.TB, configYAML string) *Prometheus {
	t.Helper()
	bin := DebianTool(t, "prometheus")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(configYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		logPath := filepath.Join(dir, fmt.Sprintf("prometheus-%d.log", attempt))
		proc, err := startProcess("prometheus", logPath, nil, bin,
			"--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
			"--web.listen-address="+hostPort(port), "--log.level=warn")
		if err != nil {
			t.Fatal(err)
		}
		p := &Prometheus{URL: "http://" + hostPort(port), proc: proc}
		err = proc.waitReady(context.Background(), time.Minute, func(ctx context.Context) error {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/-/ready", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("/-/ready answered %s", resp.Status)
			}
			return nil
		})
		if err != nil && attempt < 3 && logMentions(logPath, "address already in use") {
			proc.stop()
			continue
		}
		if err != nil {
			proc.stop()
			t.Fatal(err)
		}
		t.Cleanup(proc.stop)
		return p
	}
}

// Sample is one series of an instant query's result.
type Sample struct {
	Metric map[string]string
	Value  float64
}

// Query runs an instant PromQL query and returns its vector.
func (p *Prometheus) Query(ctx context.Context, query string) ([]Sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/api/v1/query?query="+url.QueryEscape(query), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var doc struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return nil, fmt.Errorf("query %q: %s: %w", query, resp.Status, err)
	}
	if doc.Status != "success" {
		return nil, fmt.Errorf("query %q: %s", query, doc.Error)
	}
	if doc.Data.ResultType != "vector" {
		return nil, fmt.Errorf("query %q: a %s, not a vector", query, doc.Data.ResultType)
	}
	out := make([]Sample, len(doc.Data.Result))
	for i, r := range doc.Data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query %q: value %q: %w", query, s, err)
		}
		out[i] = Sample{Metric: r.Metric, Value: v}
	}
	return out, nil
}

// LogTail is the end of the server's log, for failure messages.
func (p *Prometheus) LogTail() string { return tailFile(p.proc.logPath, 30) }
