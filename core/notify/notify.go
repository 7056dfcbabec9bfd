// Package notify tells people how scheduled backups went: a JSON document
// (Payload, versioned) to a generic webhook, and a message to a Slack
// incoming webhook, per run or per cluster.
//
// A notification never blocks or fails a backup: Notify only queues it, a
// worker sends it with retries (github.com/hashicorp/go-retryablehttp), and
// a notification that cannot be sent is logged and dropped. Payloads carry
// no secret: names, results, counts and error texts, never the webhook's
// URL, a credential or an object's content.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/kbackup/kbackup/core/fleetrun"
	"github.com/kbackup/kbackup/core/scheduler"
)

// PayloadVersion is the version of Payload; a change that removes or
// renames a field makes a new version (docs/serve.md#notifications).
const PayloadVersion = "kbackup.io/notification/v1"

// Payload is what a webhook receives, as JSON.
type Payload struct {
	Version string `json:"version"`
	// Event is run.succeeded, run.failed, cluster.succeeded or
	// cluster.failed.
	Event    string    `json:"event"`
	RunID    string    `json:"runId"`
	Schedule string    `json:"schedule"`
	Slot     time.Time `json:"slot"`
	// StartedAt and CompletedAt bound the run.
	StartedAt   time.Time `json:"startedAt"`
	CompletedAt time.Time `json:"completedAt"`
	// Result is completed, partially_failed or failed (the run's, or the
	// cluster's for a cluster event).
	Result string `json:"result"`
	// Clusters are the run's clusters (one, for a cluster event).
	Clusters []Cluster `json:"clusters"`
	// Error says why the run could not run or prune, when it could not.
	Error string `json:"error,omitempty"`
	// Text is a one-line summary for people.
	Text string `json:"text"`
}

// Cluster is one cluster's part of a run.
type Cluster struct {
	Name            string  `json:"name"`
	Environment     string  `json:"environment,omitempty"`
	Result          string  `json:"result"`
	BackupID        string  `json:"backupId,omitempty"`
	Objects         int     `json:"objects"`
	BytesUploaded   int64   `json:"bytesUploaded"`
	DurationSeconds float64 `json:"durationSeconds"`
	Error           string  `json:"error,omitempty"`
}

// Options say where notifications go and which.
type Options struct {
	// WebhookURL receives Payload as JSON; "" for none.
	WebhookURL string
	// OnSuccess and OnFailure choose the events sent (both targets).
	OnSuccess, OnFailure bool
	// SlackURL is a Slack incoming webhook; SlackChannel its channel.
	SlackURL, SlackChannel string
	// PerCluster sends one notification per cluster instead of one per
	// run.
	PerCluster bool
	// AttemptTimeout bounds each attempt (default 10s); RetryMax is the
	// number of retries after the first attempt (default 4), with
	// exponential backoff from RetryWaitMin (default 1s) to RetryWaitMax
	// (default 30s).
	AttemptTimeout             time.Duration
	RetryMax                   int
	RetryWaitMin, RetryWaitMax time.Duration
	// QueueSize bounds the notifications waiting to be sent (default 256);
	// past it, new ones are dropped and logged.
	QueueSize int
	Log       *slog.Logger
}

// Notifier sends notifications in the background.
type Notifier struct {
	opts   Options
	client *retryablehttp.Client
	queue  chan message
	done   chan struct{}
	// cancel stops a send in progress at Close's deadline.
	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once
}

type message struct {
	target, url string
	body        []byte
	event       string
	runID       string
}

// New starts a notifier; Close stops it.
func New(opts Options) *Notifier {
	if opts.AttemptTimeout <= 0 {
		opts.AttemptTimeout = 10 * time.Second
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = 4
	}
	if opts.RetryWaitMin <= 0 {
		opts.RetryWaitMin = time.Second
	}
	if opts.RetryWaitMax <= 0 {
		opts.RetryWaitMax = 30 * time.Second
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 256
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	c := retryablehttp.NewClient()
	c.HTTPClient.Timeout = opts.AttemptTimeout
	c.RetryMax = opts.RetryMax
	c.RetryWaitMin, c.RetryWaitMax = opts.RetryWaitMin, opts.RetryWaitMax
	c.Logger = nil // its lines would print the URL, whose path is often a token
	// The default error handler quotes the URL too.
	c.ErrorHandler = func(resp *http.Response, err error, attempts int) (*http.Response, error) {
		if resp != nil {
			resp.Body.Close()
			return nil, fmt.Errorf("answered %s after %d attempts", resp.Status, attempts)
		}
		return nil, fmt.Errorf("no answer after %d attempts: %s", attempts, redactURLs(err))
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Notifier{opts: opts, client: c, queue: make(chan message, opts.QueueSize), done: make(chan struct{}), ctx: ctx, cancel: cancel}
	go n.work()
	return n
}

// AfterRun is the scheduler's step that notifies of a run.
func (n *Notifier) AfterRun() scheduler.AfterRun {
	return func(_ context.Context, run *scheduler.Run) { n.Notify(run) }
}

// Notify queues the notifications of a run and returns at once.
func (n *Notifier) Notify(run *scheduler.Run) {
	for _, p := range Payloads(run, n.opts.PerCluster) {
		success := p.Result == "completed"
		if (success && !n.opts.OnSuccess) || (!success && !n.opts.OnFailure) {
			continue
		}
		if n.opts.WebhookURL != "" {
			body, _ := json.Marshal(p)
			n.enqueue(message{target: "webhook", url: n.opts.WebhookURL, body: body, event: p.Event, runID: p.RunID})
		}
		if n.opts.SlackURL != "" {
			body, _ := json.Marshal(slackMessage{Channel: n.opts.SlackChannel, Text: p.Text})
			n.enqueue(message{target: "slack", url: n.opts.SlackURL, body: body, event: p.Event, runID: p.RunID})
		}
	}
}

type slackMessage struct {
	Channel string `json:"channel,omitempty"`
	Text    string `json:"text"`
}

func (n *Notifier) enqueue(m message) {
	select {
	case n.queue <- m:
	default:
		n.opts.Log.Warn("notification dropped: too many waiting to be sent", "target", m.target, "event", m.event, "run", m.runID)
	}
}

func (n *Notifier) work() {
	defer close(n.done)
	for m := range n.queue {
		req, err := retryablehttp.NewRequestWithContext(n.ctx, http.MethodPost, m.url, bytes.NewReader(m.body))
		if err != nil {
			n.opts.Log.Error("notification not sent", "target", m.target, "event", m.event, "run", m.runID, "error", redactURLs(err))
			continue
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "kbackup")
		resp, err := n.client.Do(req)
		if err != nil {
			n.opts.Log.Error("notification not sent", "target", m.target, "event", m.event, "run", m.runID, "error", redactURLs(err))
			continue
		}
		resp.Body.Close()
		n.opts.Log.Info("notification sent", "target", m.target, "event", m.event, "run", m.runID)
	}
}

// Close sends what is queued until ctx is done, then gives up on the rest.
func (n *Notifier) Close(ctx context.Context) {
	n.once.Do(func() { close(n.queue) })
	select {
	case <-n.done:
	case <-ctx.Done():
		n.cancel()
		<-n.done
	}
	n.cancel()
}

// Payloads are the notifications of a run: one for the run, or one per
// cluster. A run that had no cluster to back up and no error has none.
func Payloads(run *scheduler.Run, perCluster bool) []Payload {
	base := Payload{Version: PayloadVersion, RunID: run.ID, Schedule: run.Schedule.Name, Slot: run.Slot, StartedAt: run.StartedAt, CompletedAt: run.EndedAt}
	if run.Err != nil {
		base.Error = redactURLs(run.Err)
	}
	var clusters []Cluster
	if run.Result != nil {
		interrupted := map[string]bool{}
		for _, c := range run.Interrupted {
			interrupted[c] = true
		}
		for _, c := range run.Result.Clusters {
			cl := Cluster{Name: c.Cluster, Environment: c.Environment, Result: clusterResult(c), BackupID: c.BackupID, Objects: c.Objects,
				BytesUploaded: c.BytesUploaded, DurationSeconds: c.Duration.Seconds(), Error: c.Error}
			if interrupted[c.Cluster] {
				cl.Result = "interrupted"
			}
			clusters = append(clusters, cl)
		}
	}
	if len(clusters) == 0 && run.Err == nil {
		return nil
	}
	if !perCluster || len(clusters) == 0 {
		p := base
		p.Clusters = clusters
		p.Result = runResult(clusters, run.Err)
		p.Event = "run." + eventOf(p.Result)
		p.Text = runText(p)
		return []Payload{p}
	}
	var out []Payload
	for _, c := range clusters {
		p := base
		p.Clusters = []Cluster{c}
		p.Result = c.Result
		if p.Result == "not_backed_up" || p.Result == "interrupted" {
			p.Result = "failed"
		}
		p.Event = "cluster." + eventOf(p.Result)
		p.Text = clusterText(p, c)
		out = append(out, p)
	}
	return out
}

func clusterResult(c fleetrun.ClusterResult) string {
	switch c.Result {
	case fleetrun.Completed:
		return "completed"
	case fleetrun.PartiallyFailed:
		return "partially_failed"
	case fleetrun.Failed:
		return "failed"
	}
	return "not_backed_up"
}

func runResult(clusters []Cluster, err error) string {
	completed, stored := 0, 0
	for _, c := range clusters {
		if c.Result == "completed" {
			completed++
		}
		if c.BackupID != "" {
			stored++
		}
	}
	switch {
	case completed == len(clusters) && err == nil:
		return "completed"
	case stored > 0:
		return "partially_failed"
	}
	return "failed"
}

func eventOf(result string) string {
	if result == "completed" {
		return "succeeded"
	}
	return "failed"
}

func runText(p Payload) string {
	completed := 0
	var failed []string
	for _, c := range p.Clusters {
		if c.Result == "completed" {
			completed++
		} else {
			failed = append(failed, c.Name+" ("+c.Result+")")
		}
	}
	text := fmt.Sprintf("kbackup: schedule %s, slot %s: %d of %d clusters backed up", p.Schedule, p.Slot.Format(time.RFC3339), completed, len(p.Clusters))
	if len(failed) > 0 {
		text += "; not completed: " + strings.Join(failed, ", ")
	}
	if p.Error != "" {
		text += "; " + p.Error
	}
	return text + " (run " + p.RunID + ")"
}

func clusterText(p Payload, c Cluster) string {
	text := fmt.Sprintf("kbackup: cluster %s, schedule %s, slot %s: %s", c.Name, p.Schedule, p.Slot.Format(time.RFC3339), c.Result)
	if c.BackupID != "" {
		text += ", backup " + c.BackupID
	}
	if c.Error != "" {
		text += ": " + c.Error
	}
	return text + " (run " + p.RunID + ")"
}

// redactURLs removes the path and query of any URL quoted in an error:
// a webhook's path is often its token.
func redactURLs(err error) string {
	var ue *url.Error
	s := err.Error()
	if e, ok := err.(*url.Error); ok {
		ue = e
	}
	if ue != nil {
		if u, perr := url.Parse(ue.URL); perr == nil {
			safe := u.Scheme + "://" + u.Host + "/REDACTED"
			s = strings.ReplaceAll(s, ue.URL, safe)
		}
	}
	fields := strings.Fields(s)
	for i, f := range fields {
		trimmed := strings.Trim(f, `"':,()`)
		if u, perr := url.Parse(trimmed); perr == nil && u.Scheme != "" && u.Host != "" && (u.Path != "" && u.Path != "/" || u.RawQuery != "") {
			fields[i] = strings.Replace(f, trimmed, u.Scheme+"://"+u.Host+"/REDACTED", 1)
		}
	}
	return strings.Join(fields, " ")
}
