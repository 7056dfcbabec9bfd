// Command demo shows kbackup at work on local clusters (`make demo`): it
// starts test clusters, installs realistic applications into the first,
// backs that cluster up with the built kubectl-kbackup into a local
// repository, lists, describes and verifies the backup, restores a
// namespace of it into the second cluster under another name, compares the
// restored copy with the backup, registers both clusters in the fleet
// registry, backs up the whole fleet in one run, shows the fleet at a
// glance, prunes by a retention policy, says where to look next, and stops
// the clusters. The repository stays on disk.
//
// The demo is a list of steps (see steps below), so that later features add
// theirs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/kbackup/kbackup/core/testenv"
	"github.com/kbackup/kbackup/core/testenv/workload"
)

// clusterNames name the demo's clusters: the source of the backup first,
// then the cluster a restore goes to.
var clusterNames = []string{"prod-eu", "dr-us", "staging-eu", "dev-eu"}

// applications are installed into the first cluster, each into its
// namespace.
var applications = []workload.Options{
	{Namespace: "shop", Team: "commerce", Environment: "prod", OwnedObjects: true},
	{Namespace: "payments", Team: "payments", Environment: "prod", OwnedObjects: true},
	{Namespace: "monitoring", Team: "observability", Environment: "prod"},
}

// bulk fills two namespaces with ConfigMaps, as real clusters have many
// small objects.
var bulk = workload.ConfigMaps{Namespaces: []string{"batch-reports", "feature-flags"}, Total: 2000, Prefix: "config"}

func main() {
	clusters := flag.Int("clusters", 2, "number of clusters to start (1 to 4): prod-eu is backed up; dr-us is restored into")
	dir := flag.String("dir", ".demo", "directory for the kubeconfig and the repository; its previous content is replaced")
	kbackup := flag.String("kbackup", "bin/kubectl-kbackup", "the built kubectl-kbackup binary")
	keep := flag.Bool("keep", false, "keep the clusters running after the demo, until Ctrl-C, to follow docs/disaster-recovery.md")
	flag.Parse()
	if err := run(*clusters, *dir, *kbackup, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "\ndemo:", err)
		os.Exit(1)
	}
}

// demo is what the steps share.
type demo struct {
	env        *testenv.Env
	dir        string // as given, for the commands printed
	kbackup    string // as given, for the commands printed
	kubeconfig string
	repository string
	source     string // the cluster backed up
	started    time.Time
}

// step is one stage of the demo.
type step struct {
	title string
	do    func(ctx context.Context, d *demo) error
	// clusters is how many clusters the step needs (default 1).
	clusters int
}

// The namespace the demo restores into the second cluster, and the name it
// gets there.
const (
	restoredNamespace = "shop"
	restoredAs        = "shop-restored"
)

// ownedTypes are the objects a restore leaves to the controllers of the
// objects it restores; the demo's clusters run no controllers, so nothing
// makes them again, and the diff after the restore leaves them out.
const ownedTypes = "pods,replicasets,jobs,endpointslices"

// steps are run in order.
var steps = []step{
	{title: "Install applications", do: installApplications},
	{title: "Back up " + clusterNames[0], do: backUp},
	{title: "List the backups", do: listBackups},
	{title: "Describe the backup", do: describeBackup},
	{title: "Verify the backup: every pack is there and matches its SHA-256", do: verifyBackup},
	{title: fmt.Sprintf("Restore namespace %s of %s into %s as %s", restoredNamespace, clusterNames[0], clusterNames[1], restoredAs), do: restoreNamespace, clusters: 2},
	{title: fmt.Sprintf("Compare the restored copy in %s with the backup", clusterNames[1]), do: diffRestored, clusters: 2},
	{title: fmt.Sprintf("List the restores into %s", clusterNames[1]), do: listRestores, clusters: 2},
	{title: "Register the clusters in the repository's fleet registry", do: registerClusters, clusters: 2},
	{title: "Back up the whole fleet in one run", do: backUpFleet, clusters: 2},
	{title: "The fleet at a glance", do: fleetAtAGlance, clusters: 2},
	{title: fmt.Sprintf("Prune %s's backups by a retention policy", clusterNames[0]), do: pruneSource, clusters: 2},
	{title: "Verify every backup of every cluster after the prune", do: verifyAll, clusters: 2},
	{title: "Run the fleet's schedules: serve --scheduler for one slot", do: runScheduler, clusters: 2},
	{title: fmt.Sprintf("Export namespace %s of %s as a GitOps repository (Kustomize and Argo CD)", restoredNamespace, clusterNames[0]), do: exportGitOps},
}

// gitopsConfig is the demo's kbackup.yaml for the export: the
// environments the GitOps repository deploys to, and a namespace of its
// own cluster in prod.
const gitopsConfig = `environments:
  - name: dev
    cluster_url: https://dev.k8s.example.com:6443
    auto_sync: true
    replicas: 1
  - name: prod
    cluster_url: https://prod.k8s.example.com:6443
    replicas: 3
clusters:
  shop:
    prod: https://critical-prod.k8s.example.com:6443
`

// exportGitOps exports the shop namespace into .demo/gitops, shows the
// tree, then exports again: nothing changes, and --check agrees.
func exportGitOps(ctx context.Context, d *demo) error {
	// Paths as given (relative to where make runs), so that the files the
	// export names read as the user would see them.
	config := filepath.Join(d.dir, "kbackup-gitops.yaml")
	if err := os.WriteFile(config, []byte(gitopsConfig), 0o600); err != nil {
		return err
	}
	out := filepath.Join(d.dir, "gitops")
	args := []string{"export", "latest", "--from-cluster", d.source, "-n", restoredNamespace, "--output", out,
		"--repo-url", "https://git.example.com/platform/" + d.source + "-gitops.git", "--config", config}
	if err := d.kubectlKbackup(ctx, args...); err != nil {
		return err
	}
	fmt.Printf("\n%s:\n", out)
	if err := printTree(out); err != nil {
		return err
	}
	fmt.Println("\nExported again from the same backup, nothing changes; --check says so (exit 0, 3 on drift):")
	fmt.Println()
	if err := d.kubectlKbackup(ctx, args...); err != nil {
		return err
	}
	return d.kubectlKbackup(ctx, append(args, "--check")...)
}

// printTree lists a directory as tree(1) does, files under their
// directories.
func printTree(root string) error {
	var walk func(dir, indent string) error
	walk = func(dir, indent string) error {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for i, e := range entries {
			branch, next := "├── ", "│   "
			if i == len(entries)-1 {
				branch, next = "└── ", "    "
			}
			fmt.Printf("%s%s%s\n", indent, branch, e.Name())
			if e.IsDir() {
				if err := walk(filepath.Join(dir, e.Name()), indent+next); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(root, "")
}

// fleetConfig is the demo's kbackup.yaml for the fleet steps: the
// environments the clusters are registered in, their schedules (which
// `clusters` judges freshness by) and how long each keeps its backups.
const fleetConfig = `environments:
  - name: prod
  - name: dr
backup_schedules:
  prod: "0 2 * * *"
  dr: "0 4 * * *"
retention_policies:
  prod: 90
  dr: 7
`

// withFleetConfig runs kubectl-kbackup with the demo's kbackup.yaml.
func (d *demo) withFleetConfig(ctx context.Context, args ...string) error {
	path := filepath.Join(filepath.Dir(d.kubeconfig), "kbackup.yaml")
	if err := os.WriteFile(path, []byte(fleetConfig), 0o600); err != nil {
		return err
	}
	return d.kubectlKbackup(ctx, append(args, "--config", path)...)
}

func registerClusters(ctx context.Context, d *demo) error {
	if err := d.withFleetConfig(ctx, "cluster", "register", "--context", clusterNames[0], "--environment", "prod",
		"--region", "eu-west-1", "--priority", "10", "--label", "team=platform"); err != nil {
		return err
	}
	if err := d.withFleetConfig(ctx, "cluster", "register", "--context", clusterNames[1], "--environment", "dr",
		"--region", "us-east-1", "--priority", "1", "--label", "team=platform"); err != nil {
		return err
	}
	return d.withFleetConfig(ctx, "cluster", "list")
}

// backUpFleet backs up every registered cluster that the kubeconfig
// reaches, found by identity, the higher priority first.
func backUpFleet(ctx context.Context, d *demo) error {
	return d.withFleetConfig(ctx, "backup", "create", "--fleet")
}

func fleetAtAGlance(ctx context.Context, d *demo) error {
	return d.withFleetConfig(ctx, "clusters")
}

// pruneSource keeps the newest backup of the source: the first backup
// goes, and with it the packs only it named (once they are older than
// the collection's grace period; the demo's are minutes old, so they
// stay for a later prune).
func pruneSource(ctx context.Context, d *demo) error {
	if err := d.withFleetConfig(ctx, "prune", "--cluster", d.source, "--keep-last", "1", "--dry-run"); err != nil {
		return err
	}
	return d.withFleetConfig(ctx, "prune", "--cluster", d.source, "--keep-last", "1", "--yes")
}

func verifyAll(ctx context.Context, d *demo) error {
	return d.kubectlKbackup(ctx, "verify", "--all-clusters")
}

func run(clusters int, dir, kbackup string, keep bool) error {
	if clusters < 1 || clusters > len(clusterNames) {
		return fmt.Errorf("-clusters %d: give a number from 1 to %d", clusters, len(clusterNames))
	}
	if _, err := os.Stat(kbackup); err != nil {
		return fmt.Errorf("the kubectl-kbackup binary: %w (`make demo` builds it)", err)
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	// A fresh repository each time: the new clusters have new kube-system
	// UIDs, and kbackup would rightly refuse to write them under names that
	// the previous run's clusters own.
	if err := os.RemoveAll(absDir); err != nil {
		return err
	}
	if err := os.MkdirAll(absDir, 0o700); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// When make is interrupted, stop the clusters rather than leave them.
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0); errno != 0 {
		return fmt.Errorf("asking to be stopped with the parent process: %w", errno)
	}

	d := &demo{dir: dir, kbackup: kbackup, source: clusterNames[0], started: time.Now(),
		kubeconfig: filepath.Join(absDir, "kubeconfig"), repository: filepath.Join(absDir, "repository")}
	noun := "clusters"
	if clusters == 1 {
		noun = "cluster"
	}
	heading("Start %d local Kubernetes %s", clusters, noun)
	d.env, err = testenv.New(ctx, testenv.Options{ClusterNames: clusterNames[:clusters]})
	if err != nil {
		return err
	}
	defer func() {
		heading("Stop the clusters")
		d.env.Stop()
		fmt.Println("Stopped. The repository stays in", filepath.Join(d.dir, "repository"))
	}()
	if err := d.env.WriteKubeconfig(d.kubeconfig); err != nil {
		return err
	}
	fmt.Printf("Started in %s. Kubeconfig %s, with a context per cluster:\n", d.env.StartupTime.Round(100*time.Millisecond), filepath.Join(dir, "kubeconfig"))
	for i, c := range d.env.Clusters {
		role := "backed up"
		if i > 0 {
			role = "left empty, for a restore"
		}
		fmt.Printf("  %-10s %s   (%s)\n", c.Name, c.Server, role)
	}

	for _, s := range steps {
		if s.clusters > clusters {
			heading("%s: skipped, it needs %d clusters (CLUSTERS=%d)", s.title, s.clusters, clusters)
			continue
		}
		heading("%s", s.title)
		if err := s.do(ctx, d); err != nil {
			return fmt.Errorf("%s: %w", s.title, err)
		}
	}
	whereNext(d, clusters)
	if keep {
		heading("The clusters keep running; Ctrl-C stops them")
		fmt.Printf(`In another shell, from this directory:

  export KUBECONFIG=$PWD/%s/kubeconfig KBACKUP_STORAGE=$PWD/%s/repository
  %s restore latest --from-cluster %s -n payments --context %s --dry-run

docs/disaster-recovery.md goes on from there.
`, d.dir, d.dir, d.kbackup, d.source, clusterNames[min(1, clusters-1)])
		<-ctx.Done()
	}
	return nil
}

func installApplications(ctx context.Context, d *demo) error {
	cluster := d.env.Cluster(d.source)
	total := 0
	for _, app := range applications {
		installed, err := workload.Install(ctx, cluster.Config(), app)
		if err != nil {
			return err
		}
		total += len(installed.Objects)
		fmt.Printf("  namespace %-11s %d objects of %d types (team %s), a CRD and its Widgets among them\n",
			app.Namespace, len(installed.Objects), len(installed.Kinds()), app.Team)
	}
	cs, err := cluster.Clientset()
	if err != nil {
		return err
	}
	if err := workload.CreateConfigMaps(ctx, cs, bulk); err != nil {
		return err
	}
	fmt.Printf("  namespaces %s: %d ConfigMaps\n", strings.Join(bulk.Namespaces, " and "), bulk.Total)
	return nil
}

func backUp(ctx context.Context, d *demo) error {
	return d.kubectlKbackup(ctx, "backup", "create", "--context", d.source)
}

func listBackups(ctx context.Context, d *demo) error {
	return d.kubectlKbackup(ctx, "backup", "list", "--context", d.source)
}

func describeBackup(ctx context.Context, d *demo) error {
	return d.kubectlKbackup(ctx, "backup", "describe", "latest", "--context", d.source)
}

func verifyBackup(ctx context.Context, d *demo) error {
	return d.kubectlKbackup(ctx, "verify", "latest", "--context", d.source)
}

// restoreNamespace restores one application into the empty second cluster,
// under another name: the plan first, then the outcome of every object.
func restoreNamespace(ctx context.Context, d *demo) error {
	return d.kubectlKbackup(ctx, "restore", "latest", "--from-cluster", d.source, "-n", restoredNamespace,
		"--namespace-mapping", restoredNamespace+":"+restoredAs, "--context", clusterNames[1], "--yes")
}

// diffRestored compares the backup with the restored copy, namespace
// mapped, leaving out what controllers would make.
func diffRestored(ctx context.Context, d *demo) error {
	fmt.Printf("These local clusters run no controllers, so the %s that the restore left to them are\nnot made again; the comparison leaves them out.\n\n", ownedTypes)
	return d.kubectlKbackup(ctx, "diff", "latest", "--from-cluster", d.source, "-n", restoredNamespace,
		"--namespace-mapping", restoredNamespace+":"+restoredAs, "--exclude-resources", ownedTypes, "--context", clusterNames[1])
}

func listRestores(ctx context.Context, d *demo) error {
	return d.kubectlKbackup(ctx, "restore", "list", "--context", clusterNames[1])
}

// kubectlKbackup runs the built binary against the demo's clusters and
// repository, showing the command and its output as they come.
func (d *demo) kubectlKbackup(ctx context.Context, args ...string) error {
	args = append(args, "--kubeconfig", d.kubeconfig, "--storage", d.repository)
	fmt.Printf("$ %s %s\n\n", d.kbackup, strings.Join(d.shorten(args), " "))
	cmd := exec.CommandContext(ctx, d.kbackup, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// The demo's repository and clusters only: none of the user's
	// configuration, which could narrow the backup or rename the cluster.
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "KBACKUP_"), name == "CLUSTER_NAME", name == "CLUSTER_DOMAIN", name == "KUBECONFIG":
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, "KBACKUP_CONFIG="+os.DevNull)
	var exit *exec.ExitError
	if err := cmd.Run(); errors.As(err, &exit) {
		return fmt.Errorf("kubectl-kbackup exited with code %d", exit.ExitCode())
	} else if err != nil {
		return err
	}
	return nil
}

// shorten writes the demo's paths relative to where make runs.
func (d *demo) shorten(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		a = strings.Replace(a, d.repository, filepath.Join(d.dir, "repository"), 1)
		out[i] = strings.Replace(a, d.kubeconfig, filepath.Join(d.dir, "kubeconfig"), 1)
	}
	return out
}

func whereNext(d *demo, clusters int) {
	repo := filepath.Join(d.dir, "repository")
	kb := d.kbackup + " --storage " + repo
	heading("Where to look next")
	fmt.Printf(`The backup is in %s, laid out as {cluster}/{namespace}/{type}/ (docs/repository-format.md):

  ls %s/%s/
  ls %s/%s/shop/
  ls %s/%s/_backups/          # one manifest per backup: JSON, for people and jq

These read it without a cluster (they name the cluster with --cluster):

  %s backup list --cluster %s
  %s backup describe latest --cluster %s --details
  %s backup get latest deployments.apps/shop-api -n shop --cluster %s
  %s backup get latest widgets/checkout-widget -n shop --cluster %s -o json
  %s verify --all-clusters
`, repo, repo, d.source, repo, d.source, repo, d.source,
		kb, d.source, kb, d.source, kb, d.source, kb, d.source, kb)
	if clusters > 1 {
		target := clusterNames[1]
		records, _ := filepath.Glob(filepath.Join(d.repository, target, "_restores", "*.json"))
		fmt.Printf(`
What the restore did, object by object, is recorded in %s/%s/_restores/:

  %s restore list --cluster %s
`, repo, target, kb, target)
		if len(records) > 0 {
			id := strings.TrimSuffix(filepath.Base(records[len(records)-1]), ".json")
			fmt.Printf("  %s restore describe %s\n", kb, id)
		}
	}
	fmt.Printf(`
docs/disaster-recovery.md is the runbook: restoring a namespace, a whole cluster into a new one, or
one object; checking first (--dry-run, diff, verify); reading the record; what to do when objects fail.
To back up a cluster of your own, and to use S3 (make dev-env), read docs/getting-started.md; every
command and flag is in docs/cli.md.

The demo took %s.
`, time.Since(d.started).Round(time.Second))
}

func heading(format string, args ...any) {
	fmt.Printf("\n==> %s\n", fmt.Sprintf(format, args...))
}
