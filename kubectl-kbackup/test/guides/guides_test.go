package guides

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/kbackup/kbackup/core/testenv"
	"github.com/kbackup/kbackup/core/testenv/workload"
)

// makeDemoKeep is `make demo KEEP=1`: the program the Makefile runs, with
// the Makefile's arguments, in the reader's checkout; it keeps its clusters
// running until Ctrl-C, as the page's later commands need, and the test
// sends that at its end. The program is built by TestMain (make demo
// builds it and bin/kubectl-kbackup; the checkout's bin/ has the plugin).
var makeDemoKeep = replacement{
	why: "runs core/testenv/cmd/demo -clusters 2 -dir .demo -kbackup ./bin/kubectl-kbackup -keep, as make demo KEEP=1 does, until the page is done",
	run: func(s *session) {
		demoSteps.Lock()
		defer demoSteps.Unlock()
		s.start("The clusters keep running", demo, "-clusters", "2", "-dir", ".demo", "-kbackup", "./bin/kubectl-kbackup", "-keep")
	},
}

// demoSteps lets one demo at a time run its steps: the guides run in
// parallel, and the demo's schedule step waits for a slot of its schedule
// for at most two minutes, which two demos at once on two shared cores can
// miss. The rest of the pages run side by side.
var demoSteps sync.Mutex

// yes is the answer to a restore's or a delete's question.
var yes = []string{"y"}

func TestDisasterRecovery(t *testing.T) {
	t.Parallel()
	s := newSession(t, "disaster-recovery.md")
	s.replaced["make demo KEEP=1"] = makeDemoKeep
	for _, c := range []string{
		"kb restore latest -n payments --context prod-eu",
		"kb restore latest --from-cluster prod-eu -n payments --context dr-us",
		"kb restore latest --from-cluster prod-eu -n payments --namespace-mapping payments:payments-restored --context dr-us",
		"kb restore latest --from-cluster prod-eu --context dr-us",
		"kb restore latest --from-cluster prod-eu --object deploy/shop-api -n shop --context prod-eu --show-diff",
		"kb restore latest --from-cluster prod-eu --object deploy/shop-api -n shop --context prod-eu --existing-resource-policy update",
		"kb restore latest --from-cluster prod-eu --object cm/shop-config -n shop --namespace-mapping shop:shop-restored --context dr-us --show-diff",
	} {
		s.answers[c] = yes
	}
	s.follow()
}

// makeDemo is `make demo`: the program the Makefile runs, with its
// arguments, to its end.
var makeDemo = replacement{
	why: "runs core/testenv/cmd/demo -clusters 2 -dir .demo -kbackup ./bin/kubectl-kbackup, as make demo does",
	run: func(s *session) {
		demoSteps.Lock()
		defer demoSteps.Unlock()
		s.runProgram(demo, "-clusters", "2", "-dir", ".demo", "-kbackup", "./bin/kubectl-kbackup")
	},
}

// makeDevEnv is `make dev-env`: the program the Makefile runs, in the
// foreground of its own terminal until Ctrl-C; the page goes on in another.
var makeDevEnv = replacement{
	why: "runs core/testenv/cmd/dev-env -clusters 2 -dir .dev-env, as make dev-env does, until the page is done",
	run: func(s *session) {
		s.start("Press Ctrl-C", devEnv, "-clusters", "2", "-dir", ".dev-env")
	},
}

// applications are what the reader's own cluster runs in the guide: the
// demo's (core/testenv/cmd/demo), so that the page's figures are the
// demo's too.
var applications = []workload.Options{
	{Namespace: "shop", Team: "commerce", Environment: "prod", OwnedObjects: true},
	{Namespace: "payments", Team: "payments", Environment: "prod", OwnedObjects: true},
	{Namespace: "monitoring", Team: "observability", Environment: "prod"},
}

var bulk = workload.ConfigMaps{Namespaces: []string{"batch-reports", "feature-flags"}, Total: 2000, Prefix: "config"}

func TestGettingStarted(t *testing.T) {
	t.Parallel()
	// The reader's own clusters, prod-eu with applications and an empty
	// dr-us, in ~/.kube/config; and their own S3 server.
	ctx := context.Background()
	env := testenv.Start(t, testenv.Options{ClusterNames: []string{"prod-eu", "dr-us"}, S3: true})
	for _, app := range applications {
		if _, err := workload.Install(ctx, env.Cluster("prod-eu").Config(), app); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := env.Cluster("prod-eu").Clientset()
	if err != nil {
		t.Fatal(err)
	}
	if err := workload.CreateConfigMaps(ctx, cs, bulk); err != nil {
		t.Fatal(err)
	}
	if err := env.S3.Client().MakeBucket(ctx, "cluster-backups", minio.MakeBucketOptions{Region: env.S3.Region}); err != nil {
		t.Fatal(err)
	}

	s := newSession(t, "getting-started.md")
	s.secrets = append(s.secrets, env.S3.SecretKey, env.S3.AccessKey)
	if err := env.WriteKubeconfig(filepath.Join(s.home, ".kube", "config")); err != nil {
		t.Fatal(err)
	}
	s.replaced["make demo"] = makeDemo
	s.replaced["make dev-env"] = makeDevEnv
	s.replaced["make build"] = replacement{
		why: "the test built bin/kubectl-kbackup (go build of kubectl-kbackup, as make build does; the provider it also builds is not used here)",
		run: func(*session) {},
	}
	const krew = "make dist builds archives for six platforms, minutes on two cores; kubectl-kbackup/test/krew installs this platform's with the real krew, as the page says"
	s.notRun["make dist"] = krew
	s.notRun["kubectl krew install --manifest=dist/kbackup.yaml --archive=dist/kubectl-kbackup_<version>_linux_amd64.tar.gz"] = krew
	s.notRun[`ln -sf "${KREW_ROOT:-$HOME/.krew}"/store/kbackup/<version>/kubectl_complete-kbackup "${KREW_ROOT:-$HOME/.krew}"/bin/`] = krew
	for _, c := range []string{
		"kubectl kbackup backup delete 20260301T030000Z-8e9d0f",
		"kubectl kbackup restore latest --from-cluster prod-eu -n payments --context dr-us",
		"kubectl kbackup restore latest -n payments --namespace-mapping payments:payments-copy",
		"kubectl kbackup restore latest --object deploy/shop-api -n shop --existing-resource-policy update",
	} {
		s.answers[c] = yes
	}
	// Enter takes the newest backup, then yes.
	s.answers["kubectl kbackup restore"] = []string{"", "y"}
	// The reader's credentials and S3 endpoint are their own server's here.
	endpoint := env.S3.Endpoint
	s.placeholders["AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=…"] = "AWS_ACCESS_KEY_ID=" + env.S3.AccessKey + " AWS_SECRET_ACCESS_KEY=" + env.S3.SecretKey
	s.placeholders["MINIO_ACCESS_KEY=… MINIO_SECRET_KEY=…"] = "MINIO_ACCESS_KEY=" + env.S3.AccessKey + " MINIO_SECRET_KEY=" + env.S3.SecretKey
	s.placeholders["https://minio.example.com:9000"] = endpoint
	s.follow()
}

func TestExport(t *testing.T) {
	t.Parallel()
	s := newSession(t, "export.md")
	// Installed as getting-started.md §2 says.
	copyFile(t, binary, filepath.Join(s.home, ".local", "bin", "kubectl-kbackup"))
	s.replaced["make demo KEEP=1"] = makeDemoKeep
	const argo = "needs Argo CD running; kubectl-kbackup/test/e2e's TestExportGitOps checks every generated Application and AppProject against Argo CD's CRDs in a real API server"
	s.notRun["kubectl apply -f argocd/project.yaml"] = argo
	s.notRun["kubectl apply -f argocd/apps-prod.yaml"] = argo
	s.follow()
}
