package cmd

import (
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/core/scheduler"
)

func validServe() *ServeOptions {
	return &ServeOptions{MetricsAddress: ":8080", ShutdownTimeout: time.Minute, CatchUpWindow: time.Hour, ReloadInterval: 30 * time.Second,
		ConnectTimeout: 10 * time.Second, MaxAge: 24 * time.Hour, Grace: time.Hour, MetricsRefresh: 30 * time.Second}
}

func TestServeValidateNamesTheFlag(t *testing.T) {
	if err := validServe().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		change func(*ServeOptions)
		want   string
	}{
		{func(o *ServeOptions) { o.MetricsAddress = "8080" }, `--metrics-address "8080": want host:port`},
		{func(o *ServeOptions) { o.ShutdownTimeout = 0 }, "--shutdown-timeout 0s: want a positive duration"},
		{func(o *ServeOptions) { o.ReloadInterval = -time.Second }, "--reload-interval -1s"},
		{func(o *ServeOptions) { o.Grace = -time.Second }, "--grace -1s must not be negative"},
		{func(o *ServeOptions) { o.CatchUpWindow = scheduler.DefaultClaimRetention }, "--catch-up-window 168h0m0s: want less than"},
	} {
		o := validServe()
		c.change(o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
}
