package cmd

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/core/backup"
	"github.com/kbackup/kbackup/core/config"
)

// Every log line of a command carries its run's ID, and the lines about a
// backup its ID too.
func TestLogLinesCarryTheRunAndBackupIDs(t *testing.T) {
	cfg, err := config.Load("", config.LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Set("observability.logging.level", "debug", "test"); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := newLogger(&buf, cfg, "run", "run-1")
	log.Info("fleet run started")
	logEvent(log, backup.Event{Kind: backup.EventTypeDone, BackupID: "b-1", Resource: "configmaps", Objects: 3})
	logEvent(log, backup.Event{Kind: backup.EventStorageSwitched, BackupID: "b-1", Message: "primary failed"})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	for i, l := range lines {
		var entry map[string]any
		if err := json.Unmarshal([]byte(l), &entry); err != nil {
			t.Fatal(err)
		}
		if entry["run"] != "run-1" || (i > 0 && entry["backup"] != "b-1") {
			t.Errorf("line %d lacks its IDs: %s", i, l)
		}
	}
}
