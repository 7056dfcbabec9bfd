// Command dev-env starts local Kubernetes clusters and an S3 server in the
// foreground for trying kbackup without a cluster of one's own (`make
// dev-env`). It writes a kubeconfig and a file of shell exports into -dir and
// stops everything on Ctrl-C or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/kbackup/kbackup/core/testenv"
)

func main() {
	clusters := flag.Int("clusters", 2, "number of clusters to start (contexts kbackup-1 … kbackup-N)")
	dir := flag.String("dir", ".dev-env", "directory for the kubeconfig and the env file")
	flag.Parse()
	if err := run(*clusters, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "dev-env:", err)
		os.Exit(1)
	}
}

func run(clusters int, dir string) error {
	if clusters < 1 || clusters > 10 {
		return fmt.Errorf("-clusters %d: give a number from 1 to 10", clusters)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// When our parent (make, a shell script) is killed, stop cleanly rather
	// than leave clusters running with nobody to stop them.
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0); errno != 0 {
		return fmt.Errorf("asking to be stopped with the parent process: %w", errno)
	}

	fmt.Fprintf(os.Stderr, "starting %d clusters and an S3 server…\n", clusters)
	env, err := testenv.New(ctx, testenv.Options{Clusters: clusters, S3: true})
	if err != nil {
		return err
	}
	defer env.Stop()

	bucket, err := env.S3.CreateBucket(ctx, "kbackup")
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		return err
	}
	envFile := filepath.Join(dir, "env")
	exports := append([]string{
		"KUBECONFIG=" + kubeconfig,
		"KBACKUP_STORAGE=" + env.S3.RepositoryURL(bucket),
	}, env.S3.Env()...)
	var b strings.Builder
	b.WriteString("# Written by `make dev-env`; valid while it runs.\n")
	for _, kv := range exports {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "export %s='%s'\n", k, v)
	}
	if err := os.WriteFile(envFile, []byte(b.String()), 0o600); err != nil {
		return err
	}
	defer os.Remove(envFile)
	defer os.Remove(kubeconfig)

	fmt.Printf("\nkbackup dev environment is up (started in %s).\n\n", env.StartupTime.Round(100*time.Millisecond))
	for _, c := range env.Clusters {
		fmt.Printf("  cluster %-10s %s   (context %s)\n", c.Name, c.Server, c.Name)
	}
	fmt.Printf("  S3 server          %s   (bucket %s)\n\n", env.S3.Endpoint, bucket)
	fmt.Printf("In another shell:\n\n  source %s\n", envFile)
	fmt.Printf("  kubectl --kubeconfig %s --context %s get ns\n", kubeconfig, env.Clusters[len(env.Clusters)-1].Name)
	fmt.Printf("  ./bin/kubectl-kbackup --context %s backup create\n\n", env.Clusters[0].Name)
	if kubectl, err := testenv.BinaryPath(testenv.BinKubectl); err == nil {
		fmt.Printf("No kubectl of your own? This one matches the clusters:\n  %s\n\n", kubectl)
	}
	fmt.Println("Press Ctrl-C (or send SIGTERM) to stop everything.")

	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "\nstopping…")
	return nil
}
